"""Hyperparameter search with Ray Tune: HyperOpt's TPE proposes, ASHA stops poor trials early.

Each trial is the base config with the sampled values set (:func:`~ecgzoo.tune.space.
apply_values`), trained by :func:`~ecgzoo.train.engine.train_run` in its own run folder
``<experiment>/trials/<trial id>``; every epoch's validation metrics are reported to Ray (so
ASHA can stop the trial), and a completed trial finally reports its test metrics. Trials
train with ``train.monitor`` set to the search metric, so the checkpoint kept, early stopping
and the search all agree. The prepared data is loaded once in the driver and shared with the
trials through Ray's object store.

Layout of an experiment folder (default ``runs/tune/<config name>``)::

    search.json  base_config.yaml  space.yaml   what was searched (resume checks them)
    ray/                                          Ray Tune's experiment state (resumable)
    ray.seal.json                                 ecgzoo's HMAC seal over ray/ (see seal.py)
    asha_stopped.json                             the trials ASHA stopped early
    trials/<trial id>/                            run folders (config, weights, history, plots)
    results/                                      tables, figure, best_config.yaml, overhead
    mlflow.db                                     MLflow tracking store (one run per trial)

A search stopped before all its trials finished (Ctrl-C) raises :class:`SearchInterrupted`
and writes no results; ``--resume`` continues it once :mod:`ecgzoo.tune.seal` has checked that
this installation wrote ``ray/`` and nobody changed it since.

Ray, HyperOpt and MLflow are imported when a search runs, never at import time.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

from ecgzoo.config import ExperimentConfig, dump_config
from ecgzoo.errors import ConfigError, EcgzooError
from ecgzoo.metrics.names import EPOCH_METRICS  # shared with the engine and configs
from ecgzoo.tune.asha import asha_class, load_asha_stops, save_asha_stops
from ecgzoo.tune.cluster import cpu_count, reap_stale_ray, start_ray, stop_ray, tasks_that_fit
from ecgzoo.tune.results import SearchResult, best_trial, summarize, write_results
from ecgzoo.tune.seal import install_state, new_private_state, private_state, verify_state
from ecgzoo.tune.space import SearchSpace, apply_values, sample_space
from ecgzoo.tune.trials import run_trial, trial_dirname, trial_records

__all__ = [
    "EPOCH_METRICS",
    "SearchInterrupted",
    "reap_stale_ray",
    "run_search",
    "start_ray",
    "stop_ray",
]

RAY_NAME = "ray"
TRIALS_DIR = "trials"
ASHA_STOPPED = "asha_stopped.json"


class SearchInterrupted(EcgzooError):
    """A search stopped before all its trials finished (Ctrl-C, a lost cluster): resumable."""

    exit_code = 130


def _check_metric(metric: str, mode: str) -> None:
    if metric not in EPOCH_METRICS:
        raise ConfigError(
            f"metric: {metric!r} is not reported every epoch "
            f"(choose from {', '.join(EPOCH_METRICS)})"
        )
    if mode not in ("max", "min"):
        raise ConfigError(f"mode: expected 'max' or 'min', got {mode!r}")


def _check_models(base: ExperimentConfig, space: SearchSpace, data: Any) -> None:
    """Build the model of a few sampled trials on the data's shapes: fail before Ray starts."""
    from ecgzoo.models.registry import build_model

    for values in sample_space(space, 8, seed=base.train.seed + 1):
        cfg = apply_values(base, values)
        try:
            build_model(
                cfg.model.name,
                data.n_leads,
                data.n_samples,
                len(data.class_names),
                data.n_features,
                **cfg.model.params,
            )
        except ConfigError as exc:
            raise ConfigError(f"{space.source}: sampled trial {values} is invalid: {exc}") from None


def _experiment_files(experiment_dir: Path, base: ExperimentConfig, space: SearchSpace, info):
    from ecgzoo.runs.runfolder import atomic_write_text, write_json

    atomic_write_text(experiment_dir / "base_config.yaml", dump_config(base))
    atomic_write_text(experiment_dir / "space.yaml", space.to_yaml())
    write_json(experiment_dir / "search.json", info)


def _check_same(experiment_dir: Path, base: ExperimentConfig, space: SearchSpace, info) -> None:
    if not (experiment_dir / "search.json").is_file():
        return
    from ecgzoo.safe_load import read_json

    saved = read_json(experiment_dir / "search.json", "search")
    for key in ("metric", "mode"):
        if saved.get(key) != info[key]:
            raise ConfigError(
                f"{experiment_dir}: the search was started with {key} {saved.get(key)!r}, "
                f"not {info[key]!r}"
            )
    if saved.get("num_samples") != info["num_samples"]:
        # Ray resumes a search with the number of trials it was started with, whatever is
        # passed now: say so rather than silently running a different number.
        raise ConfigError(
            f"--num-samples: {experiment_dir} was started with {saved.get('num_samples')} "
            f"trials, not {info['num_samples']}; a resumed search keeps its number (pass "
            f"--num-samples {saved.get('num_samples')}, or start a new search elsewhere)"
        )
    if (experiment_dir / "base_config.yaml").read_text() != dump_config(base):
        raise ConfigError(
            f"{experiment_dir}: the search was started with another base config "
            f"(see {experiment_dir / 'base_config.yaml'})"
        )
    if (experiment_dir / "space.yaml").read_text() != space.to_yaml():
        raise ConfigError(
            f"{experiment_dir}: the search was started with another search space "
            f"(see {experiment_dir / 'space.yaml'})"
        )


def run_search(
    base_config: ExperimentConfig,
    space: SearchSpace,
    *,
    num_samples: int,
    metric: str = "val_macro_recall",
    mode: str = "max",
    cpus_per_trial: float = 1,
    gpus_per_trial: float = 0,
    address: str | None = None,
    resume: bool = False,
    experiment_dir: Path | str | None = None,
    max_concurrent: int | None = None,
    mlflow: bool = True,
    wandb: bool = False,
    grace_period: int | None = None,
    reduction_factor: int = 3,
    top_k: int = 10,
    seed: int | None = None,
) -> SearchResult:
    """Search ``space`` around ``base_config`` with HyperOpt TPE and ASHA on Ray Tune.

    ``num_samples`` trials, at most ``max_concurrent`` at a time (default: as many as the
    Ray cluster's CPUs/GPUs allow with ``cpus_per_trial``/``gpus_per_trial``). ``metric``
    (an epoch metric, see :data:`EPOCH_METRICS`) is maximised or minimised per ``mode``; ASHA
    compares trials every epoch after ``grace_period`` epochs (default a quarter of
    ``train.epochs``). ``address`` joins a running Ray cluster (``ecgzoo`` must be installed
    on its nodes); otherwise Ray starts locally for the search and stops after it, unless it
    was already running. ``resume`` continues an interrupted search in ``experiment_dir``
    (finished trials are not redone; a finished search does no new work); without it an
    existing search there is refused. Trials are logged to MLflow (sqlite, in the experiment
    folder) and optionally to W&B offline.
    """
    _check_metric(metric, mode)
    if num_samples < 1:
        raise ConfigError(f"num_samples: expected at least 1, got {num_samples}")
    if not (math.isfinite(cpus_per_trial) and cpus_per_trial > 0) or not (
        math.isfinite(gpus_per_trial) and gpus_per_trial >= 0
    ):
        raise ConfigError("cpus_per_trial must be > 0 and gpus_per_trial >= 0")
    if address is None and cpus_per_trial > cpu_count():
        raise ConfigError(
            f"cpus_per_trial: {cpus_per_trial:g} CPUs per trial, but this machine has "
            f"{cpu_count()} (join a larger cluster with --address)"
        )
    if wandb:
        from ecgzoo.tune.tracking import require_wandb

        require_wandb()
    from ecgzoo.models.registry import model_class

    model_class(base_config.model.name)  # an unknown model fails here, before any folder
    space.check(base_config)
    experiment_dir = Path(
        experiment_dir if experiment_dir is not None else Path("runs/tune") / base_config.name
    ).resolve()
    ray_dir = experiment_dir / RAY_NAME
    trials_dir = experiment_dir / TRIALS_DIR
    info = {
        "metric": metric,
        "mode": mode,
        "num_samples": num_samples,
        "cpus_per_trial": cpus_per_trial,
        "gpus_per_trial": gpus_per_trial,
    }
    existing = (experiment_dir / "search.json").is_file() or ray_dir.is_dir()
    if existing and not resume:
        raise ConfigError(
            f"{experiment_dir}: already holds a search (resume it with --resume, "
            "or choose another output folder)"
        )
    if resume and not existing:
        raise ConfigError(
            f"--resume: {experiment_dir} holds no search to resume "
            "(run without --resume to start one there)"
        )
    if existing:
        _check_same(experiment_dir, base_config, space, info)
        if not ray_dir.is_dir():
            raise ConfigError(
                f"--resume: {experiment_dir} holds no Ray state (the search stopped before Ray "
                "saved any); start a new search in another folder"
            )
        # Ray's state is pickles: check ecgzoo's seal before Ray reads a byte of it.
        verify_state(experiment_dir, ray_dir)

    # Trials monitor the search metric and use as many threads as they have CPUs; each trains on
    # one device of those Ray gives it (a GPU when gpus_per_trial > 0, via the same engine).
    train_over: dict[str, Any] = {
        "train.monitor": metric,
        "train.monitor_mode": mode,
        "train.devices": 1,
        "train.strategy": "auto",
        "train.num_nodes": 1,
    }
    if base_config.train.num_threads is None:
        train_over["train.num_threads"] = max(1, int(cpus_per_trial))
    trial_base = apply_values(base_config, train_over)
    data = None
    if not any(k.startswith("data.") for k in space.keys()):
        from ecgzoo.datasets.loading import load_data

        data = load_data(base_config.data)
        _check_models(trial_base, space, data)

    from ray import tune
    from ray.tune.search.hyperopt import HyperOptSearch

    if existing and not tune.Tuner.can_restore(ray_dir):
        raise ConfigError(
            f"--resume: {ray_dir} holds no resumable Ray state "
            "(the search stopped before Ray saved it); start a new search in another folder"
        )

    started = start_ray(address=address)
    work_ray: Path | None = None  # Ray's state lives in a private copy while the search runs
    made_dirs = False
    interrupted = False
    grid = None
    try:
        concurrency = tasks_that_fit(cpus_per_trial, gpus_per_trial, "trial")
        if max_concurrent:
            concurrency = min(concurrency, max_concurrent)
        concurrency = min(concurrency, num_samples)

        # Only now, with every check passed, does the experiment folder appear.
        experiment_dir.mkdir(parents=True, exist_ok=True)
        trials_dir.mkdir(exist_ok=True)
        made_dirs = True
        if not existing:
            _experiment_files(experiment_dir, base_config, space, info)

        params = {
            "space": space,
            "base_yaml": dump_config(trial_base),
            "metric": metric,
            "trials_dir": str(trials_dir),
        }
        if data is not None:
            params["data"] = data
        trainable = tune.with_resources(
            tune.with_parameters(run_trial, **params),
            {"cpu": cpus_per_trial, "gpu": gpus_per_trial},
        )
        n_before = sum(1 for p in trials_dir.iterdir() if p.is_dir())
        t0 = time.perf_counter()
        if existing:
            # Ray unpickles the private copy whose bytes were verified (no race with ray/)
            work_ray = private_state(experiment_dir, ray_dir)
            tuner = tune.Tuner.restore(str(work_ray), trainable, resume_errored=True)
        else:
            work_ray = new_private_state(RAY_NAME)
            epochs = max(base_config.train.epochs, 1)
            searcher = HyperOptSearch(
                space=space.to_hyperopt(),
                metric=metric,
                mode=mode,
                n_initial_points=min(20, max(1, num_samples // 3)),
                random_state_seed=base_config.train.seed if seed is None else seed,
            )
            scheduler = asha_class()(
                time_attr="training_iteration",
                max_t=epochs + 1,  # every epoch plus the final test report
                grace_period=grace_period or max(1, epochs // 4),
                reduction_factor=reduction_factor,
            )
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    metric=metric,
                    mode=mode,
                    search_alg=searcher,
                    scheduler=scheduler,
                    num_samples=num_samples,
                    max_concurrent_trials=concurrency,
                    trial_dirname_creator=trial_dirname,
                ),
                run_config=tune.RunConfig(
                    name=RAY_NAME,
                    storage_path=str(work_ray.parent),
                    verbose=0,
                    failure_config=tune.FailureConfig(max_failures=0),
                ),
            )
        try:
            # Ray catches the first Ctrl-C itself, saves its state and returns normally: the
            # trial statuses below tell an interrupted search from a finished one.
            grid = tuner.fit()
        except KeyboardInterrupt:  # a second Ctrl-C: Ray gave up saving
            interrupted = True
        wall = time.perf_counter() - t0
        save_asha_stops(experiment_dir / ASHA_STOPPED)
        asha_stopped = load_asha_stops(experiment_dir / ASHA_STOPPED)
        trials = (  # read while the private copy (the results' paths) still exists
            []
            if grid is None
            else trial_records(grid, space, metric, mode, trials_dir, asha_stopped)
        )
    finally:
        if started:
            stop_ray()
        if made_dirs:
            save_asha_stops(experiment_dir / ASHA_STOPPED)
            if work_ray is not None:  # seal only what this process wrote
                install_state(experiment_dir, work_ray, ray_dir)
        if work_ray is not None:
            shutil.rmtree(work_ray.parent, ignore_errors=True)

    finished = [t for t in trials if t.status in ("completed", "stopped", "error")]
    if interrupted or len(finished) < num_samples:
        raise SearchInterrupted(
            f"search interrupted: {len(finished)} of {num_samples} trials finished in "
            f"{experiment_dir}; results/ was not written. Resume it with the same command "
            "and --resume"
        )
    new_trials = sum(1 for p in trials_dir.iterdir() if p.is_dir()) - n_before
    from ecgzoo.tune.results import load_overhead

    previous = load_overhead(experiment_dir) if existing else None
    if previous and not new_trials:  # a finished search resumed: keep its timing
        overhead = previous
    else:  # the wall time of every session that ran trials
        total_wall = wall + (previous or {}).get("wall_seconds", 0.0)
        overhead = summarize(trials, total_wall, concurrency)
    best = best_trial(trials, mode)
    best_cfg = None
    if best is not None:
        values = {**space.fixed, **best.params, "train.num_threads": base_config.train.num_threads}
        best_cfg = apply_values(trial_base, values, name=f"{base_config.name}-best")
    paths = write_results(
        experiment_dir, trials, metric, mode, space.short_names(), best_cfg, overhead, top_k
    )
    from ecgzoo.tune.tracking import log_trials

    tags = {"space": space.source, "metric": metric, "mode": mode}
    uri = log_trials(experiment_dir, base_config.name, trials, metric, tags, mlflow, wandb)
    result = SearchResult(
        experiment_dir=experiment_dir,
        metric=metric,
        mode=mode,
        trials=trials,
        best=best,
        overhead=overhead,
        mlflow_uri=uri,
        wall_seconds=wall,
        new_trials=max(new_trials, 0),
        **paths,
    )
    if trials and all(t.status == "error" for t in trials):
        raise EcgzooError(f"all {len(trials)} trials failed; the first: {trials[0].error}")
    return result
