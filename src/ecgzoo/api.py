"""The public Python API: everything the CLI's ``annotate`` / ``predict`` / ``export`` do.

    import ecgzoo
    model = ecgzoo.load_model("pretrained:mitbih-inter")
    beats = model.predict(signal_mV, fs=360)            # detected beats, labels, probabilities
    results = ecgzoo.annotate("path/to/record", model)  # writes NAME.ecgzoo (+ .csv, .json, .png)
    rows = ecgzoo.predict("folder_or_zip", "pretrained:cinc2017")
    data = ecgzoo.datasets.load("mitbih", split="inter")  # train/val/test beats

The CLI is a thin layer over these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgzoo.apply.model import AppliedModel, load_model
from ecgzoo.errors import ConfigError, DataError, EcgzooError
from ecgzoo.examples.detect import DEFAULT_METHOD, DETECT_LEADS

__all__ = ["AnnotateResult", "annotate", "load_model", "predict", "export_onnx"]


@dataclass
class AnnotateResult:
    """One annotated record: the beats, its summary, the files written, and (with a
    reference) its EC57-style score."""

    annotation: Any  # ecgzoo.apply.annotate.Annotation
    summary: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    score: dict[str, Any] | None = None


def _model(model: str | Path | AppliedModel, engine: str) -> AppliedModel:
    return model if isinstance(model, AppliedModel) else load_model(model, engine=engine)


def _beat_model(model: Any, engine: str) -> Any:
    """One beat model, or a list of them averaged (:class:`ecgzoo.apply.blend.ModelBlend`)."""
    if isinstance(model, list | tuple):
        if len(model) == 1:
            return _model(model[0], engine)
        from ecgzoo.apply.blend import ModelBlend

        return ModelBlend([_member(m, engine) for m in model])
    return _model(model, engine)


def _member(model: str | Path | AppliedModel, engine: str) -> AppliedModel:
    """A blend's member: under ``--engine onnx`` a tree member, which has no graph, runs as
    LightGBM and the neural members through ONNX Runtime (alone, a tree refuses onnx)."""
    if engine == "onnx" and not isinstance(model, AppliedModel):
        from ecgzoo.paths import resolve_run
        from ecgzoo.train.trees import is_tree_run

        if is_tree_run(resolve_run(model)):
            return load_model(model, engine="torch")  # the tree's own predictor
    return _model(model, engine)


def annotate(
    path: str | Path,
    model: str | Path | AppliedModel | list = "pretrained:mitbih-inter",
    *,
    lead: str | None = None,
    fs: float | None = None,
    detector: str = DEFAULT_METHOD,
    detect_leads: str = DETECT_LEADS,
    out_dir: str | Path | None = None,
    write: bool = True,
    plots: bool = True,
    reference: str | None = None,
    ec57: bool = False,
    engine: str = "torch",
    adapt: str = "none",
    quality: bool = True,
    af_gate: bool = False,
    failures: list[tuple[str, str]] | None = None,
) -> list[AnnotateResult]:
    """Annotate one record (WFDB, CSV or NumPy; ``fs`` for the last two) or every record in a
    folder. ``model``: one beat model, or a list of them whose probabilities are averaged on
    the same detected beats (:mod:`ecgzoo.apply.blend`). Outputs go beside each record unless
    ``out_dir`` is given; with ``reference``
    (a WFDB annotator such as ``atr``) each record is also scored against it, with ``ec57``
    under the standard's exclusions (first 5 minutes, ventricular flutter episodes). With
    ``quality`` (the default) noisy or flat stretches are marked unusable
    (:mod:`ecgzoo.apply.quality`) and left out of the summary's counts and burden. With
    ``af_gate`` no beat is S in a 30 s window the CinC 2017 rhythm model calls atrial
    fibrillation (:mod:`ecgzoo.models.af_gate`). ``detect_leads`` ``gaps`` (the default) fills
    the read lead's detection gaps from another lead where the read lead's own vote has a
    candidate (:func:`ecgzoo.examples.detect.fill_gaps`); ``gaps-unchecked`` fills every gap,
    ``one`` detects on the read lead alone.

    In a folder one bad record never stops the others: with a ``failures`` list each record
    that cannot be read or annotated is appended to it as ``(record, message)``; without one,
    the first failure is raised once every record was tried (a single record raises its own
    error). An option mistake (``ConfigError``) stops at once."""

    from ecgzoo.apply.signals import find_records

    applied = _beat_model(model, engine)
    gate = None
    if af_gate:
        from ecgzoo.apply.af_gate import AfGate
        from ecgzoo.models.af_gate import check_gate_classes

        check_gate_classes(applied.class_names, applied.ref)  # before the rhythm model loads
        gate = AfGate()
    path = Path(path)
    targets = find_records(path) if path.is_dir() else [path]
    if write:  # names and folders that cannot take the outputs fail before any work
        from ecgzoo.apply.outputs import check_output_folder, check_output_name

        for target in targets:
            stem = (
                target.stem
                if target.suffix.lower() in (".csv", ".npy", ".hea", ".dat")
                else target.name
            )
            check_output_name(stem, target)
            check_output_folder(Path(out_dir) if out_dir is not None else target.parent)
    results = []
    failed: list[tuple[str, str]] = [] if failures is None else failures
    options = (fs, lead, detector, detect_leads, adapt, quality, reference, ec57, write, out_dir)
    for target in targets:
        try:
            results.append(_annotate_one(target, applied, gate, *options, plots=plots))
        except ConfigError:
            raise
        except (EcgzooError, ValueError, OSError) as exc:  # this record only
            if len(targets) == 1 and failures is None:
                raise
            failed.append((target.name, str(exc).splitlines()[0] if str(exc) else repr(exc)))
    if failures is None and failed:
        raise DataError(
            f"{len(failed)} of {len(targets)} records failed ({len(results)} annotated); "
            f"the first: {failed[0][0]}: {failed[0][1]}"
        )
    return results


def _annotate_one(
    target: Path,
    applied: Any,
    gate: Any,
    fs: float | None,
    lead: str | None,
    detector: str,
    detect_leads: str,
    adapt: str,
    quality: bool,
    reference: str | None,
    ec57: bool,
    write: bool,
    out_dir: str | Path | None,
    plots: bool,
) -> AnnotateResult:
    """One record of :func:`annotate`: read, annotate, score, write."""
    from ecgzoo.apply.annotate import annotate_source, summarise
    from ecgzoo.apply.signals import open_source

    source = open_source(target, fs)
    ann = annotate_source(
        source,
        applied,
        lead=lead,
        detector=detector,
        adapt=adapt,
        quality=quality,
        af_gate=gate,
        detect_leads=detect_leads,
    )
    summary = summarise(ann)
    summary["model"] = applied.ref  # the record page names the model that annotated it
    result = AnnotateResult(ann, summary)
    if write:  # first: a missing reference must not cost the record its annotation
        import time

        from ecgzoo.apply.outputs import write_outputs

        t = time.perf_counter()
        result.files = write_outputs(
            ann, summary, None if out_dir is None else Path(out_dir), plots=plots
        )
        ann.timings["write"] = time.perf_counter() - t
    if reference:
        from ecgzoo.apply.scoring import ec57_exclusions, reference_beats, score_record

        ref_samples, ref_labels = reference_beats(source.path, reference)
        spans = ec57_exclusions(source.path, source.fs, reference) if ec57 else None
        result.score = score_record(ann, ref_samples, ref_labels, applied.class_names, spans)
    return result


def predict(
    data: str | Path,
    model: str | Path | AppliedModel = "pretrained:cinc2017",
    *,
    lead: str | None = None,
    fs: float | None = None,
    engine: str = "torch",
) -> list[dict[str, Any]]:
    """Label every record of a folder or zip (or one record) with a recording-level model:
    one dict per record (``record``, ``label``, ``p_<class>``...); ``fs`` for CSV / NumPy
    signals, which do not carry their rate."""
    from ecgzoo.apply.predict import predict_records

    return predict_records(Path(data), _model(model, engine), lead=lead, fs=fs)


def export_onnx(run: str | Path, out: str | Path | None = None) -> dict[str, Any]:
    """Export a run's model to ONNX (``model.onnx`` in the run folder unless ``out``) and check
    ONNX Runtime against PyTorch on real data; returns the parity report."""
    from ecgzoo.export.onnx import export_run

    return export_run(run, None if out is None else Path(out))
