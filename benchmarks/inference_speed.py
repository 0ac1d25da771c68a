"""CPU inference throughput of the model zoo on MIT-BIH-sized beats.

For every registered model at its default settings, plus the recommended fast ResNet1D
(:data:`ecgzoo.models.resnet1d.FAST`), this times ``model(x)`` under ``torch.inference_mode()``
on ``x`` of shape ``(batch, 1, 187)`` (cnn2d pads it to 192 = 16 x 12 inside ``forward``; a second
cnn2d row feeds 192 samples directly), with ``torch.set_num_threads(threads)``: warm-up, then
timed repeats until ``--repeats`` runs or ``--max-seconds`` have passed (at least one run). The
fast model (``--ort-all``: every model) is also exported with ``torch.onnx.export`` to a temporary
file and timed with ONNX Runtime on the CPU with the same thread count.

Prints a markdown table: model, parameters, median and best beats/s with torch, and with ORT.
The median is the honest number on a quiet machine; on a shared one, the best run is the closer
estimate of what the hardware can do.

    python benchmarks/inference_speed.py                 # all models, batch 1024, 2 threads
    python benchmarks/inference_speed.py --models resnet1d cnn2d --ort-all
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings

import numpy as np
import torch

from ecgzoo.models.registry import available_models, build_model, count_parameters
from ecgzoo.models.resnet1d import FAST

N_CLASSES = 5


def _time_runs(run, batch: int, repeats: int, max_seconds: float) -> tuple[float, float]:
    """(median, best) beats per second of ``run()`` over timed repeats."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - start < max_seconds):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return batch / statistics.median(times), batch / min(times)


def time_torch(model, x: torch.Tensor, repeats: int, max_seconds: float):
    model.eval()
    with torch.inference_mode():
        model(x[:64])  # warm-up: allocator, oneDNN primitives
        model(x)
        return _time_runs(lambda: model(x), len(x), repeats, max_seconds)


def time_ort(model, x: torch.Tensor, threads: int, repeats: int, max_seconds: float):
    import onnxruntime as ort

    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (x[:8],),
                path,
                input_names=["x"],
                output_names=["logits"],
                dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                dynamo=False,
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy()}
    ref = model(x[:64]).detach().numpy()
    got = session.run(None, {"x": feed["x"][:64]})[0]
    if not np.allclose(ref, got, atol=1e-3, rtol=1e-3):
        raise RuntimeError(f"ORT output differs from torch by {np.abs(ref - got).max():.2e}")
    session.run(None, feed)  # warm-up
    return _time_runs(lambda: session.run(None, feed), len(x), repeats, max_seconds)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", help="registered names (default: all)")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--n-samples", type=int, default=187)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--max-seconds", type=float, default=5.0, help="timing budget per model")
    ap.add_argument("--ort-all", action="store_true", help="ONNX Runtime for every model")
    ap.add_argument("--no-ort", action="store_true")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    names = args.models or [m.name for m in available_models()]
    fast_desc = ", ".join(f"{k}={v}" for k, v in FAST.items())
    rows: list[tuple[str, str, dict, int, bool]] = []  # label, name, params, n_samples, ort
    for name in names:
        rows.append((name, name, {}, args.n_samples, args.ort_all))
        if name == "cnn2d" and args.n_samples != 192:
            rows.append(("cnn2d (192 = 16 x 12 input)", name, {}, 192, args.ort_all))
    rows.append((f"resnet1d fast ({fast_desc})", "resnet1d", dict(FAST), args.n_samples, True))

    print(
        f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, "
        f"input (batch, 1, {args.n_samples})\n"
    )
    print("| model | params | beats/s torch (median / best) | beats/s ORT (median / best) |")
    print("|---|---:|---:|---:|")
    for label, name, params, n_samples, with_ort in rows:
        x = torch.randn(args.batch, 1, n_samples)
        try:
            model = build_model(name, 1, n_samples, N_CLASSES, **params)
            n_params = f"{count_parameters(model):,}"
            med, best = time_torch(model, x, args.repeats, args.max_seconds)
            torch_cell = f"{med:,.0f} / {best:,.0f}"
        except Exception as exc:  # a model that cannot be built or run here: say so, go on
            print(f"| {label} | - | {type(exc).__name__}: {str(exc)[:60]} | - |", flush=True)
            continue
        ort_cell = "-"
        if with_ort and not args.no_ort:
            try:
                med, best = time_ort(model, x, args.threads, args.repeats, args.max_seconds)
                ort_cell = f"{med:,.0f} / {best:,.0f}"
            except Exception as exc:
                ort_cell = f"{type(exc).__name__}: {str(exc)[:60]}"
        print(f"| {label} | {n_params} | {torch_cell} | {ort_cell} |", flush=True)


if __name__ == "__main__":
    main()
