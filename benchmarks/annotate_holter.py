"""A 24-hour two-lead Holter annotated end to end, and ONNX vs PyTorch beat throughput.

``build``: the 48 MIT-BIH records (30:06 each, 360 Hz, both leads, digital values untouched)
concatenated into one WFDB record ``holter24`` (format 212, 31.2 million samples per lead,
24 h 4 min) under ``$ECGZOO_HOME/holter24/``, with their reference beats moved along as
``holter24.atr``. ``score``: annotate it with ``--model`` and score every beat against that
reference (AAMI classes, 150 ms match), with the model's record span (``examples.spans``) or
``--span`` seconds instead (``whole``: one span, as before spans existed). ``run``:
``ecgzoo.annotate`` on it (read in 30-minute chunks, detect, classify, write the four outputs)
with each stage's time and the process's peak resident memory (``ru_maxrss``; the value after
loading the model is printed too) and its CPU time (on a shared machine the wall time mostly
measures the other tenants).
``throughput``: beats per second of the shipped beat model on real beats (record 100), PyTorch
vs ONNX Runtime, same thread count, best of ``--repeats``.

    nice python benchmarks/annotate_holter.py build
    nice python benchmarks/annotate_holter.py run --engine torch
    nice python benchmarks/annotate_holter.py run --engine onnx
    nice python benchmarks/annotate_holter.py run --engine torch --af-gate   (the AF gate's cost)
    nice python benchmarks/annotate_holter.py throughput --threads 2
    nice python benchmarks/annotate_holter.py score --model pretrained:mitbih-inter --span whole
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import warnings
from pathlib import Path

import numpy as np

from ecgzoo.paths import ecgzoo_home
from ecgzoo.readers.mitdb import default_folder as mitdb_folder


def holter_path() -> Path:
    return ecgzoo_home() / "holter24" / "holter24"


def build() -> None:
    import wfdb

    folder = mitdb_folder()
    names = (folder / "RECORDS").read_text().split()
    parts, gains, baselines = [], None, None
    ref_samples, ref_symbols, offset = [], [], 0
    for name in names:
        rec = wfdb.rdrecord(str(folder / name), physical=False)
        parts.append(rec.d_signal.astype(np.int16))
        gains, baselines = rec.adc_gain, rec.baseline  # 200 and 1024 in every MIT-BIH record
        ann = wfdb.rdann(str(folder / name), "atr")
        ref_samples.append(ann.sample + offset)
        ref_symbols += list(ann.symbol)
        offset += rec.sig_len
    d = np.concatenate(parts)
    out = holter_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        out.name,
        fs=360,
        units=["mV", "mV"],
        sig_name=["MLII", "V1"],
        d_signal=d,
        fmt=["212", "212"],
        adc_gain=gains,
        baseline=baselines,
        write_dir=str(out.parent),
    )
    wfdb.wrann(
        out.name, "atr", np.concatenate(ref_samples), symbol=ref_symbols, write_dir=str(out.parent)
    )
    hours = d.shape[0] / 360 / 3600
    print(f"wrote {out}.hea/.dat/.atr: {d.shape[0]} samples x 2 leads ({hours:.2f} h)")


def mb(kib: int) -> float:
    return kib / 1024


def run(engine: str, threads: int, af_gate: bool = False) -> None:
    import torch

    import ecgzoo

    torch.set_num_threads(threads)
    model = ecgzoo.load_model("pretrained:mitbih-inter", engine=engine)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    base, cpu0 = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    t = time.perf_counter()
    result = ecgzoo.annotate(holter_path(), model, af_gate=af_gate)[0]
    total = time.perf_counter() - t
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu0
    timings = result.annotation.timings
    print(
        f"engine {engine}, {threads} threads, af_gate {af_gate}: "
        f"{result.summary['n_beats']} beats in {total:.1f} s"
    )
    for stage, sec in timings.items():
        print(f"| {stage} | {sec:.1f} s | {100 * sec / total:.0f} % |")
    print(f"peak RSS {mb(peak):.0f} MiB (after loading the model: {mb(base):.0f} MiB)")
    print(f"CPU time of the process (user + system): {cpu:.1f} s for {total:.1f} s wall")
    print(
        json.dumps(
            {
                "total_s": total,
                "timings": timings,
                "peak_mib": mb(peak),
                "base_mib": mb(base),
                "cpu_s": cpu,
                "beats": result.summary["n_beats"],
            }
        )
    )


def score(model_ref: str, span: str) -> None:
    import dataclasses

    import ecgzoo
    from ecgzoo.apply.model import load_model

    model = load_model(model_ref, engine="torch")
    if span != "model":
        seconds = 1e9 if span == "whole" else float(span)
        model = dataclasses.replace(
            model, input=dataclasses.replace(model.input, record_span_s=seconds)
        )
    t = time.perf_counter()
    result = ecgzoo.annotate(holter_path(), model, reference="atr", write=False)[0]
    total = time.perf_counter() - t
    from ecgzoo.apply.scoring import class_table

    print(f"{model_ref}, record span {span} ({model.input.record_span_s:g} s): {total:.0f} s")
    print("| class | reference beats | Se | +P | F1 |")
    score = result.score
    for row in class_table(score["confusion"], model.class_names, score["missed"], score["extra"]):
        print("| " + " | ".join(str(v) for v in row.values()) + " |")


def throughput(threads: int, repeats: int) -> None:
    import torch

    from ecgzoo.apply.model import load_model
    from ecgzoo.datasets.mitbih import read_record

    torch.set_num_threads(threads)
    rec = read_record(mitdb_folder(), "100")
    rows = []
    for engine in ("torch", "onnx"):  # onnx: after `ecgzoo export pretrained:mitbih-inter`
        model = load_model("pretrained:mitbih-inter", engine=engine)
        prepared = model.input.prepare(rec.signal, rec.fs, rec.samples)  # the one contract
        x, features = prepared.x, prepared.features
        model.proba(x[:256], None if features is None else features[:256])  # warm-up
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            model.proba(x, features)
            best = min(best, time.perf_counter() - t)
        rows.append((engine, len(x) / best))
    for engine, rate in rows:
        print(f"| {engine} | {threads} | {rate:,.0f} beats/s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["build", "run", "throughput", "score"])
    parser.add_argument("--model", default="pretrained:mitbih-inter", help="score: the model")
    parser.add_argument("--span", default="model", help="score: seconds, whole or model")
    parser.add_argument("--engine", default="torch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--af-gate", action="store_true", help="run: with the AF gate")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.what == "build":
        build()
    elif args.what == "run":
        run(args.engine, args.threads, args.af_gate)
    elif args.what == "score":
        score(args.model, args.span)
    else:
        throughput(args.threads, args.repeats)


if __name__ == "__main__":
    main()
