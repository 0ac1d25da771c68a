"""Running an exported ONNX model with ONNX Runtime (CPU): what ``--engine onnx`` uses.

``ecgzoo export`` writes the graph; this module only opens and runs it, so applying a model
never imports the exporter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.errors import ConfigError, EcgzooError
from ecgzoo.paths import PRETRAINED_DIR, ecgzoo_home

#: ONNX metadata key: the SHA-256 of the ``model.safetensors`` the graph was exported from.
WEIGHTS_KEY = "ecgzoo.weights_sha256"


def weights_digest(folder: Path) -> str:
    """SHA-256 (hex) of ``folder/model.safetensors``: which weights an exported graph holds."""
    import hashlib

    digest = hashlib.sha256()
    with open(Path(folder) / "model.safetensors", "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def onnx_path_for(folder: Path) -> Path:
    """Where the ONNX file of the model in ``folder`` lives. A shipped model's graph is cached
    under a name that holds its weights' digest, so a newer release of ``pretrained:NAME`` never
    finds the graph exported from the one before."""
    folder = Path(folder)
    if folder.resolve().parent == PRETRAINED_DIR.resolve():
        name = f"{folder.name}-{weights_digest(folder)[:12]}"
        return ecgzoo_home() / "onnx" / name / "model.onnx"
    return folder / "model.onnx"


def open_session(path: Path, folder: Path | None = None, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session for ``path`` (or the exported model of ``folder``). With
    ``folder``, a graph exported from other weights than ``folder``'s is refused."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file() and folder is not None:
        path = onnx_path_for(folder)
    if not path.is_file():
        raise ConfigError(
            f"{path}: no ONNX model; run `ecgzoo export {folder or path.parent} --format onnx`"
        )
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise EcgzooError(f"{path}: ONNX Runtime cannot load it ({exc})") from None
    if folder is not None:
        exported = session.get_modelmeta().custom_metadata_map.get(WEIGHTS_KEY)
        if exported is None or exported != weights_digest(folder):
            raise ConfigError(
                f"{path}: not exported from the weights of {folder} (stale or another model's); "
                f"run `ecgzoo export {folder} --format onnx` again"
            )
    return session


def run_session(
    session: Any,
    x: np.ndarray,
    features: np.ndarray | None,
    batch_size: int = 2048,
    workers: int | None = None,
) -> np.ndarray:
    """Probabilities from an exported model, batched. The batches are spread over ``workers``
    threads (default: the free cores, :func:`ecgzoo.apply.threads.apply_threads`) sharing the
    one session, which ONNX Runtime allows and which runs without the GIL: with a session of one
    intra-op thread this is ~2x faster on two cores than one session of two intra-op threads on
    small beat models, and the result is the same array (each batch is computed the same way)."""
    from ecgzoo.apply.threads import apply_threads

    names = [i.name for i in session.get_inputs()]
    workers = apply_threads() if workers is None else max(1, int(workers))
    if workers > 1 and len(x) <= batch_size:  # one batch: cut it so every worker has a part
        batch_size = max(1, -(-len(x) // workers))

    def one(start: int) -> np.ndarray:
        feed = {"x": np.ascontiguousarray(x[start : start + batch_size], dtype=np.float32)}
        if "features" in names:
            feed["features"] = np.ascontiguousarray(
                features[start : start + batch_size], dtype=np.float32
            )
        return session.run(None, feed)[0]

    starts = range(0, len(x), batch_size)
    if workers > 1 and len(starts) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(workers, len(starts))) as pool:
            out = list(pool.map(one, starts))  # in order
    else:
        out = [one(start) for start in starts]
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
