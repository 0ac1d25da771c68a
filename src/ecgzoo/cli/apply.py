"""`ecgzoo annotate`, `predict`, `export` and `report`: a trained model on new recordings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgzoo.cli.app import app, console, err_console, rich_table
from ecgzoo.errors import ConfigError, EcgzooError
from ecgzoo.paths import existing_input, resolve_run

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="run folder or pretrained:NAME")]
EngineOpt = Annotated[str, typer.Option(help="torch or onnx (after `ecgzoo export`)")]


ModelsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        help="run folder or pretrained:NAME (default pretrained:mitbih-inter); give it twice "
        "or more to average beat models (Holter recordings of new patients: -m "
        "pretrained:mitbih-inter -m pretrained:mitbih-inter-lightgbm, docs/guide.md)",
    ),
]


@app.command()
def annotate(
    target: Annotated[Path, typer.Argument(help="a WFDB record, CSV/.npy file, or a folder")],
    model: ModelsOpt = None,
    lead: Annotated[str | None, typer.Option(help="lead name (default MLII, II, V5, ...)")] = None,
    fs: Annotated[float | None, typer.Option(help="sampling rate of CSV/NumPy input (Hz)")] = None,
    out: Annotated[Path | None, typer.Option(help="write outputs here, not beside")] = None,
    detector: Annotated[
        str, typer.Option(help="QRS detector: vote (learnt, default), pantompkins1985, xqrs, ...")
    ] = "vote",
    detect_leads: Annotated[
        str,
        typer.Option(
            help="gaps (default): fill the read lead's detection gaps from another lead where "
            "its own detector has a candidate; gaps-unchecked: every gap; one: the read lead "
            "alone"
        ),
    ] = "gaps",
    reference: Annotated[
        str | None, typer.Option(help="score against this WFDB annotator (e.g. atr)")
    ] = None,
    ec57: Annotated[
        bool, typer.Option(help="score with EC57's exclusions (first 5 min, flutter episodes)")
    ] = False,
    engine: EngineOpt = "torch",
    plots: Annotated[bool, typer.Option(help="write the summary PNG")] = True,
    adapt: Annotated[
        str,
        typer.Option(
            help="label-free per-record adaptation: none, adabn, prior_em, cluster or self_train"
        ),
    ] = "none",
    quality: Annotated[
        bool, typer.Option(help="mark noisy/flat stretches unusable; leave them out of counts")
    ] = True,
    af_gate: Annotated[
        bool,
        typer.Option(
            help="no S beat where the CinC 2017 rhythm model calls a 30 s window atrial "
            "fibrillation (P >= 0.95; AAMI: beats in AF are N)"
        ),
    ] = False,
) -> None:
    """Detect and classify every heartbeat; write NAME.ecgzoo (WFDB), .csv, .json and .png."""
    existing_input(target)  # mistakes are refused before the model (and torch) loads
    models = model or ["pretrained:mitbih-inter"]
    for ref in models:
        resolve_run(ref)
    from ecgzoo.api import annotate as run_annotate

    failures: list[tuple[str, str]] = []
    results = run_annotate(
        target,
        models,
        lead=lead,
        fs=fs,
        detector=detector,
        detect_leads=detect_leads,
        out_dir=out,
        reference=reference,
        ec57=ec57,
        engine=engine,
        plots=plots,
        adapt=adapt,
        quality=quality,
        af_gate=af_gate,
        failures=failures if target.is_dir() else None,
    )
    rows = []
    for r in results:
        s = r.summary
        row = {"record": s["record"], "lead": s["lead"], "beats": s["n_beats"]}
        row.update({c: n for c, n in s["counts"].items() if c != "unclassified"})
        row["ectopic %"] = s["ectopic_burden_total_percent"]
        row["HR"] = s["mean_hr_bpm"]
        rows.append(row)
    if rows:
        console.print(rich_table(rows, title="ecgzoo annotate"))
    for r in results:
        console.print(f"{r.summary['record']}: " + ", ".join(str(p) for p in r.files.values()))
    if reference and results:
        from ecgzoo.apply.scoring import summarise_scores

        scored = summarise_scores([r.score for r in results], results[0].annotation.class_names)
        print_scores(scored)
    report_failures(failures, len(results), "annotated")


def report_failures(failures: list[tuple[str, str]], n_done: int, done: str) -> None:
    """The records of a folder that failed, one per line on stderr, then a non-zero exit (the
    others' results are already out)."""
    if not failures:
        return
    for name, message in failures:
        err_console.print(f"failed: {name}: {message}", markup=False, highlight=False)
    raise EcgzooError(
        f"{len(failures)} of {n_done + len(failures)} records failed ({n_done} {done}); "
        f"the first: {failures[0][1]}"
    )


def print_scores(scored: dict) -> None:
    """Detection and per-class tables of an EC57-style score."""
    d = scored["detection"]
    console.print(
        rich_table(
            [{"TP": d["tp"], "FN": d["fn"], "FP": d["fp"], "Se": d["Se"], "+P": d["+P"]}],
            title="QRS detection (150 ms match)",
        )
    )
    console.print(rich_table(scored["classes"], title="beat classes over matched beats (%)"))


@app.command()
def predict(
    data: Annotated[Path, typer.Argument(help="a record, a folder or a zip of records")],
    model: ModelOpt = "pretrained:cinc2017",
    out: Annotated[Path | None, typer.Option(help="CSV file to write")] = None,
    lead: Annotated[str | None, typer.Option(help="lead name")] = None,
    fs: Annotated[float | None, typer.Option(help="sampling rate of CSV/NumPy input (Hz)")] = None,
    engine: EngineOpt = "torch",
    challenge_outputs: Annotated[
        Path | None,
        typer.Option(help="multi-label 2021 run: also write one official-format file per record"),
    ] = None,
) -> None:
    """Label whole recordings with a recording-level model: one CSV row per record (a
    multi-label 2021 run: a probability and a label per class, for 12-lead .hea + .mat records)."""
    existing_input(data)  # mistakes are refused before the model (and torch) loads
    resolve_run(model)
    from ecgzoo.apply.model import load_model
    from ecgzoo.apply.multilabel import write_challenge_outputs
    from ecgzoo.apply.predict import predict_multilabel, predict_records, rows_csv
    from ecgzoo.runs.runfolder import atomic_write_text

    applied = load_model(model, engine=engine)
    failures: list[tuple[str, str]] = []
    if challenge_outputs is not None and applied.kind != "multilabel":
        raise ConfigError(
            f"--challenge-outputs: {model} is not a multi-label 2021 run (the official files "
            "hold the 26 scored classes)"
        )
    if challenge_outputs is not None:
        if lead is not None:
            raise ConfigError("--lead: a multi-label run reads the leads it was trained on")
        pred = predict_multilabel(data, applied, failures)
        written = write_challenge_outputs(pred, challenge_outputs)
        console.print(f"wrote {len(written)} challenge output files to {challenge_outputs}")
        rows = pred.rows()
    else:
        rows = predict_records(data, applied, lead=lead, fs=fs, failures=failures)
    if out is not None and (rows or not failures):
        atomic_write_text(out, rows_csv(rows))
        console.print(f"wrote {out} ({len(rows)} records)")
    else:
        shown = rows[:50]
        if applied.kind == "multilabel":  # 52 columns do not fit a terminal: list the positives
            shown = [
                {
                    "record": r["record"],
                    "labels": " ".join(k[2:] for k, v in r.items() if k[:2] == "y_" and v),
                }
                for r in shown
            ]
        if shown:
            console.print(rich_table(shown, title="ecgzoo predict"))
            legend = class_legend(applied.class_names)
            if legend:
                console.print(legend, highlight=False)
    report_failures(failures, len(rows), "labelled")


@app.command()
def export(
    run: Annotated[str, typer.Argument(help="run folder or pretrained:NAME")],
    format: Annotated[str, typer.Option("--format", help="onnx")] = "onnx",
    out: Annotated[Path | None, typer.Option(help="where to write model.onnx")] = None,
) -> None:
    """Export a trained model (ONNX), checked against PyTorch on real data within 1e-4."""
    if format != "onnx":
        raise ConfigError(f"--format: only onnx is supported (got {format!r})")
    resolve_run(run)
    from ecgzoo.api import export_onnx

    result = export_onnx(run, out)
    console.print(
        f"wrote {result['path']}: max |ONNX - PyTorch| = {result['max_abs_diff']:.2e} "
        f"over {result['n_examples']} real examples"
    )


@app.command()
def report(
    target: Annotated[Path, typer.Argument(help="a run folder, or an annotated record")],
    out: Annotated[
        Path | None,
        typer.Option(
            help="HTML file to write [RUN/report.html, RUN/compare.html, NAME.report.html "
            "beside a record]"
        ),
    ] = None,
    compare: Annotated[
        list[Path] | None, typer.Option(help="more run folders to compare with")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing file")] = False,
) -> None:
    """One self-contained HTML page (images inlined) for a run, a comparison or a record."""
    existing_input(target)
    for run in compare or []:
        resolve_run(run)
    from ecgzoo.report.html import write_report

    path = write_report(target, out, compare=compare or [], overwrite=overwrite)
    console.print(f"wrote {path}")


# What the one-letter class names of the shipped tasks mean (CinC 2017 rhythms, AAMI beats).
CLASS_MEANINGS = {
    ("N", "A", "O", "~"): {
        "N": "normal sinus rhythm",
        "A": "atrial fibrillation",
        "O": "other rhythm",
        "~": "too noisy to classify",
    },
    ("N", "S", "V", "F", "Q"): {
        "N": "normal or bundle-branch-block beat",
        "S": "supraventricular ectopic",
        "V": "ventricular ectopic",
        "F": "fusion of ventricular and normal",
        "Q": "paced or unclassifiable",
    },
}


def class_legend(class_names: list[str]) -> str:
    """``N = normal sinus rhythm, A = ...`` for a known class list ('' otherwise)."""
    meanings = CLASS_MEANINGS.get(tuple(class_names))
    if not meanings:
        return ""
    named = ", ".join(f"{c} = {meanings[c]}" for c in class_names)
    return f"classes: {named}; p_X = the model's probability of class X"
