"""``ecgzoo tune CONFIG --space SPACE.yaml``: load both, run or resume the search, print it."""

from __future__ import annotations

from pathlib import Path

from ecgzoo.experiment import load_config
from ecgzoo.tune.results import SearchResult
from ecgzoo.tune.search import SearchInterrupted, run_search
from ecgzoo.tune.space import load_space


def tune_command(
    config_path: str | Path,
    space_path: str | Path,
    num_samples: int = 64,
    metric: str = "val_macro_recall",
    mode: str = "max",
    cpus_per_trial: float = 1,
    gpus_per_trial: float = 0,
    address: str | None = None,
    resume: bool = False,
    output: str | Path | None = None,
    overrides: list[str] | None = None,
    wandb: bool = False,
) -> SearchResult:
    """``ecgzoo tune CONFIG --space SPACE.yaml ...``: run (or resume) a search, print a summary.

    The experiment folder is ``output`` or ``runs/tune/<config name>``. ``wandb`` also logs
    every trial to W&B in offline mode (``<experiment>/wandb``, synced later with ``wandb sync``).
    """
    base = load_config(config_path, overrides)
    space = load_space(space_path)
    experiment_dir = Path(output) if output else Path("runs/tune") / base.name
    try:
        result = run_search(
            base,
            space,
            num_samples=num_samples,
            metric=metric,
            mode=mode,
            cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial,
            address=address,
            resume=resume,
            experiment_dir=experiment_dir,
            wandb=wandb,
        )
    except SearchInterrupted as exc:
        again = ["ecgzoo tune", str(config_path), *(overrides or []), "--space", str(space_path)]
        again += ["--num-samples", str(num_samples), "--output", str(experiment_dir), "--resume"]
        if wandb:
            again.append("--wandb")
        if metric != "val_macro_recall" or mode != "max":
            again += ["--metric", metric, "--mode", mode]
        raise SearchInterrupted(f"{exc}: {' '.join(again)}") from None
    print(result.summary())
    return result
