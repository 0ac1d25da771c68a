"""``ecgzoo scale``: train resnet1d at every point of a D x C x K x pooling grid, on Ray.

Each point is the base config with the point's scale (:class:`~ecgzoo.study.grid.GridPoint`),
trained by :func:`ecgzoo.train.engine.train_run` in its own run folder; the points run as Ray
tasks (``cpus_per_trial``/``gpus_per_trial`` each, on a local Ray or the cluster at
``address``, started and stopped as ``ecgzoo tune`` does). Per point the sweep records the
parameter count, receptive field (samples, seconds), multiply-accumulates, training time and
the val and test metrics, overall and per class or label.

Layout of a sweep folder (default ``runs/scale/<config name>``)::

    base_config.yaml  grid.yaml   what was swept (a resumed sweep must match them)
    results.json                  one entry per finished point (plain JSON, rewritten atomically)
    runs/<point id>/              run folders (config, weights, history, plots)
    table.csv  table.md           one row per point
    best.csv   best.md            best scale per class / label / group, chosen on validation
    plots/*.png                   metric vs D, C, K; vs receptive field; GAP vs flatten; best

A sweep interrupted (Ctrl-C, a crash, a lost node) is continued with ``resume=True``: points
recorded as finished are skipped; an unfinished run folder resumes from its checkpoint. Only
one sweep may run in a folder at a time (a lock file guards it).
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from ecgzoo.config import ExperimentConfig, dump_config
from ecgzoo.datasets.loading import load_data
from ecgzoo.errors import ConfigError, EcgzooError
from ecgzoo.experiment import build_config
from ecgzoo.models.scale import scale_profile
from ecgzoo.paths import atomic_write_text
from ecgzoo.safe_load import load_yaml
from ecgzoo.study.grid import GridPoint, ScaleGrid
from ecgzoo.study.report import write_report
from ecgzoo.train.engine import train_run
from ecgzoo.tune.cluster import tasks_that_fit
from ecgzoo.tune.search import start_ray, stop_ray

__all__ = ["SweepResult", "point_metrics", "run_sweep"]

RESULTS = "results.json"
RUNS = "runs"
SWEEP_TRAIN_LOSS_EXAMPLES = 2_000


@dataclass
class SweepResult:
    sweep_dir: Path
    rows: list[dict[str, Any]]
    new_points: int
    wall_seconds: float
    files: list[Path] = field(default_factory=list)


# -- metrics of one finished run ------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def point_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Flat ``val_*`` / ``test_*`` numbers of a run's ``metrics.json``.

    Scalars keep their name (``test_macro_f1``); per-class F1 become ``test_f1_<class>``,
    per-label F1 and AUROC of multi-label runs ``test_f1_<label>`` / ``test_auroc_<label>``,
    label groups ``test_<group>_macro_f1``, the 2017 challenge scores ``test_challenge_f1``.
    """
    out: dict[str, float] = {}
    for split in ("val", "test"):
        m = metrics.get(split) or {}
        for key, value in m.items():
            if (v := _number(value)) is not None:
                out[f"{split}_{key}"] = v
        for name, stats in (m.get("per_class") or {}).items():
            if (v := _number(stats.get("f1"))) is not None:
                out[f"{split}_f1_{name}"] = v
        for name, stats in (m.get("per_label") or {}).items():
            for stat in ("f1", "auroc"):
                if (v := _number(stats.get(stat))) is not None:
                    out[f"{split}_{stat}_{name}"] = v
        for group, stats in (m.get("groups") or {}).items():
            for stat in ("macro_f1", "macro_auroc"):
                if (v := _number(stats.get(stat))) is not None:
                    out[f"{split}_{group.replace(' ', '_')}_{stat}"] = v
        for key, value in (m.get("challenge") or {}).items():
            if (v := _number(value)) is not None:
                out[f"{split}_{key}"] = v
    return out


def check_sweep_metric(base: ExperimentConfig, grid: ScaleGrid) -> None:
    """Refuse a grid ``metric`` the base config's task does not report (one line)."""
    from ecgzoo.datasets.registry import fixed_classes
    from ecgzoo.metrics.names import check_monitor, minimised

    dataset = base.data.dataset
    metric = f"val_{grid.metric}"
    why = check_monitor(
        metric, "min" if minimised(metric) else "max", fixed_classes(dataset), dataset
    )
    if why is not None:
        raise ConfigError(f"grid metric: {grid.metric!r} is not reported by this task ({why})")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def train_point(config_yaml: str) -> dict[str, Any]:
    """Train one grid point (a Ray task body); returns its record, never raises.

    A run folder already holding the finished run (the sweep stopped before recording it)
    is read back from its ``metrics.json`` instead of being trained again.
    """
    t0 = time.perf_counter()
    try:
        config = build_config(load_yaml(config_yaml, "scale point"), source="scale point")
        run_dir = Path(config.output_dir) / config.name
        finished = run_dir / "metrics.json"
        saved = run_dir / "config.yaml"
        same = saved.is_file() and saved.read_text() == config_yaml
        if finished.is_file() and same:
            metrics = json.loads(finished.read_text())
        else:
            # An unfinished folder of the same config resumes from its checkpoint; one of
            # another config (resumed with other --cpus-per-trial, say) starts afresh.
            overwrite = finished.is_file() or (saved.is_file() and not same)
            metrics = train_run(config, progress=False, overwrite=overwrite).metrics
    except Exception as exc:  # a failed point is recorded, the sweep goes on
        return {"status": "error", "error": _first_line(exc)}
    record: dict[str, Any] = {
        "status": "ok",
        "wall_seconds": time.perf_counter() - t0,
        "train_seconds": _number(metrics.get("train_seconds")),
        "epochs_run": metrics.get("epochs_run"),
        "best_epoch": metrics.get("best_epoch"),
        "device": metrics.get("device"),
        # GAP "regularises": the test-minus-train loss gap of each pooling says how much
        "final_train_loss": _number(metrics.get("final_train_loss")),
        "overfit_gap": _number(metrics.get("overfit_gap")),
    }
    record.update(point_metrics(metrics))
    return record


# -- the sweep folder -------------------------------------------------------------------------


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold ``folder/.lock`` exclusively; a second sweep in the same folder is refused."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EcgzooError(f"{folder}: another sweep is running there") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_results(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise EcgzooError(f"{path}: unreadable sweep results ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("points"), dict):
        raise EcgzooError(f"{path}: not a sweep results file")
    return data["points"]


def _prepare_folder(
    folder: Path, base: ExperimentConfig, grid: ScaleGrid, resume: bool
) -> dict[str, dict[str, Any]]:
    results = folder / RESULTS
    base_yaml, grid_yaml = dump_config(base), grid.to_yaml()
    if results.is_file():
        if not resume:
            raise ConfigError(
                f"{folder}: already holds a sweep (continue it with --resume, "
                "or choose another --output)"
            )
        for name, text in (("base_config.yaml", base_yaml), ("grid.yaml", grid_yaml)):
            saved = folder / name
            if not saved.is_file() or saved.read_text() != text:
                raise ConfigError(f"{folder}: the sweep was started with another {name}")
        return _read_results(results)
    atomic_write_text(folder / "base_config.yaml", base_yaml)
    atomic_write_text(folder / "grid.yaml", grid_yaml)
    atomic_write_text(results, json.dumps({"points": {}}, indent=1))
    return {}


def _save_results(folder: Path, points: dict[str, dict[str, Any]]) -> None:
    atomic_write_text(folder / RESULTS, json.dumps({"points": points}, indent=1, sort_keys=True))


# -- running ------------------------------------------------------------------------------------


def _profiles(configs: dict[str, ExperimentConfig], points: list[GridPoint]) -> dict[str, dict]:
    """Parameters, receptive field and MACs of every point, on the dataset's input shape."""
    data = load_data(configs[points[0].id].data)
    out = {}
    for point in points:
        params = configs[point.id].model.params
        out[point.id] = scale_profile(
            data.n_leads,
            data.n_samples,
            len(data.class_names),
            data.sampling_rate,
            params,
            data.n_features,
        )
    return out


def _run_on_ray(
    todo: list[tuple[str, str]],
    on_done,
    cpus_per_trial: float,
    gpus_per_trial: float,
    address: str | None,
    max_concurrent: int | None,
    progress: bool,
) -> None:
    """Run ``(point id, config yaml)`` tasks on Ray; ``on_done(id, record)`` as each finishes."""
    import ray  # optional (tune extra): only a sweep that trains needs it

    started = start_ray(address=address)
    try:
        fits = tasks_that_fit(cpus_per_trial, gpus_per_trial, "point")
        limit = min(fits, max_concurrent or fits)
        task = ray.remote(train_point).options(
            num_cpus=cpus_per_trial, num_gpus=gpus_per_trial, max_retries=0
        )
        queue = list(todo)
        pending: dict[Any, str] = {}
        with _progress_bar(progress, len(todo)) as advance:
            while queue or pending:
                while queue and len(pending) < limit:
                    point_id, config_yaml = queue.pop(0)
                    pending[task.remote(config_yaml)] = point_id
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    point_id = pending.pop(ref)
                    try:
                        record = ray.get(ref)
                    except Exception as exc:  # the worker died (killed, out of memory)
                        record = {"status": "error", "error": _first_line(exc)}
                    on_done(point_id, record)
                    advance(point_id, record)
    finally:
        if started:
            stop_ray()


@contextmanager
def _progress_bar(enabled: bool, total: int):
    if not enabled:
        yield lambda point_id, record: None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task("scale sweep", total=total)

        def advance(point_id: str, record: dict[str, Any]) -> None:
            state = "done" if record.get("status") == "ok" else "FAILED"
            bar.advance(task)
            bar.update(task, description=f"scale sweep: {point_id} {state}")

        yield advance


def run_sweep(
    base: ExperimentConfig,
    grid: ScaleGrid,
    *,
    output: str | Path | None = None,
    resume: bool = False,
    cpus_per_trial: float = 1,
    gpus_per_trial: float = 0,
    address: str | None = None,
    max_concurrent: int | None = None,
    progress: bool = True,
    report_only: bool = False,
) -> SweepResult:
    """Sweep ``grid`` around ``base`` (or continue an interrupted sweep with ``resume``).

    Writes ``results.json``, the tables and the figures into the sweep folder and returns
    one row per point (finished or failed). ``report_only`` trains nothing: it redraws the
    tables and figures of an existing sweep from the points finished so far (the others are
    rows with status ``not run``). Raises if every point failed.
    """
    if cpus_per_trial <= 0 or gpus_per_trial < 0:
        raise ConfigError("--cpus-per-trial must be > 0 and --gpus-per-trial >= 0")
    check_sweep_metric(base, grid)  # before any point trains
    folder = Path(output if output is not None else Path("runs/scale") / base.name).resolve()
    points = grid.points()
    overrides: dict[str, Any] = {}
    if base.train.num_threads is None:  # a point uses as many threads as it has CPUs
        overrides["train.num_threads"] = max(1, int(cpus_per_trial))
    if "train_loss_examples" not in base.train.model_fields_set:
        # The overfitting gap of a point needs only an estimate of the train loss; scoring
        # 20,000 training examples (x 5 crops on CinC 2017) cost more than test + val together.
        overrides["train.train_loss_examples"] = SWEEP_TRAIN_LOSS_EXAMPLES
    grid_eff = grid.model_copy(update={"overrides": {**overrides, **grid.overrides}})
    configs = {p.id: p.config(base, grid_eff, folder / RUNS) for p in points}
    t0 = time.perf_counter()
    # A report reads results.json (replaced atomically) and may run beside a sweep in progress.
    with nullcontext() if report_only else _locked(folder):
        if report_only and not (folder / RESULTS).is_file():
            raise EcgzooError(f"{folder}: no sweep to report on ({RESULTS} not found)")
        done = _prepare_folder(folder, base, grid, resume or report_only)
        profiles = _profiles(configs, points)
        todo = [
            (p.id, dump_config(configs[p.id]))
            for p in points
            if done.get(p.id, {}).get("status") != "ok"
        ]

        def record(point_id: str, result: dict[str, Any]) -> None:
            done[point_id] = result
            _save_results(folder, done)

        if todo and not report_only:
            _run_on_ray(
                todo, record, cpus_per_trial, gpus_per_trial, address, max_concurrent, progress
            )
        rows = []
        for p in points:
            row: dict[str, Any] = {
                "point": p.id,
                "depth": p.depth,
                "width": p.width,
                "kernel": p.kernel,
                "pooling": p.pooling,
            }
            row.update(profiles[p.id])
            row.update(done.get(p.id, {"status": "not run"}))
            rows.append(row)
        files = write_report(folder, rows, grid.metric)
    wall = time.perf_counter() - t0
    if rows and all(r.get("status") != "ok" for r in rows) and not report_only:
        first = next((r.get("error") for r in rows if r.get("error")), "no point finished")
        raise EcgzooError(f"all {len(rows)} scale points failed; the first: {first}")
    return SweepResult(folder, rows, 0 if report_only else len(todo), wall, files)
