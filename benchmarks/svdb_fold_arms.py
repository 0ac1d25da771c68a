"""Train and score arms of the shipped beat recipe on the SVDB development folds (issue 19,
rounds P-S: DS1 + 39 SVDB patients in training, the 13 never seen scored, 4 record-wise folds),
two jobs at a time with one torch thread each, then pool the folds with ``svdb_folds.py``.

    python benchmarks/svdb_fold_arms.py OUT --seeds 0 1 2 --arm A= --arm C=model.params.positions=8
    python benchmarks/svdb_fold_arms.py OUT --seeds 3 4 5 6 7 8 --arm A= --arm C=... \\
        --ensembles 012 345 678          (trains seeds 3-8, then three-seed ensembles per fold)
    python benchmarks/svdb_fold_arms.py OUT ... --dry-run   (prints the commands only)

An arm is ``NAME=OVERRIDE,OVERRIDE`` (``A=`` is the recipe itself). Runs go to ``OUT/models``
(``NAME_fK_sS``; ensembles ``NAME_fK_eGROUP``), scores to ``OUT/eval`` (``beats_eval.py --only
svdb --adapt none``: reference peaks and end to end), timings to ``OUT/times.txt``. A run or score
already in ``OUT`` is not redone, so an interrupted call goes on where it stopped. Ensemble
groups name their members' seeds (``012``: seeds 0, 1 and 2), which must be trained already or
in the same call.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = "configs/mitbih_inter_recipe.yaml"
FOLDS = 4


def parse_arm(text: str) -> tuple[str, list[str]]:
    """``NAME=OVERRIDE,OVERRIDE`` -> ``(NAME, [OVERRIDE, ...])``; a bad arm is one line."""
    name, sep, rest = text.partition("=")
    if not sep or not name.isidentifier():
        raise SystemExit(f"--arm {text!r}: expected NAME=OVERRIDE,... (A= for the recipe itself)")
    return name, [o for o in rest.split(",") if o]


def train_command(out: Path, arm: str, overrides: list[str], fold: int, seed: str) -> list[str]:
    return [
        sys.executable, "-m", "ecgzoo", "train", RECIPE, f"name={arm}_f{fold}_s{seed}",
        f"output_dir={out / 'models'}", "data.mitbih.extra_databases=[svdb]",
        f"data.mitbih.extra_test_fold={fold}", f"train.seed={seed}", *overrides, "--quiet",
    ]  # fmt: skip


def ensemble_command(out: Path, arm: str, fold: int, group: str) -> list[str]:
    members = [str(out / "models" / f"{arm}_f{fold}_s{seed}") for seed in group]
    target = out / "models" / f"{arm}_f{fold}_e{group}"
    return [sys.executable, "-m", "ecgzoo", "ensemble", *members, "--output", str(target)]


def score_command(out: Path, run: str) -> list[str]:
    return [
        sys.executable, str(REPO / "benchmarks" / "beats_eval.py"), str(out / "models" / run),
        str(out / "eval" / f"{run}.json"), "--only", "svdb", "--adapt", "none",
    ]  # fmt: skip


Job = tuple[str, list[list[str]]]  # a run's name and its commands, run in order


def plan(
    out: Path, arms: list[tuple[str, list[str]]], seeds: list[str], groups: list[str]
) -> list[list[Job]]:
    """Two stages of jobs: every seed's training and scoring, then every ensemble's building
    and scoring (they wait for every training); what ``OUT`` already holds is left out."""
    jobs, later = [], []
    for seed in seeds:
        for fold in range(FOLDS):
            for arm, overrides in arms:
                run, steps = f"{arm}_f{fold}_s{seed}", []
                if not (out / "models" / run / "metrics.json").is_file():
                    steps.append(train_command(out, arm, overrides, fold, seed))
                if not (out / "eval" / f"{run}.json").is_file():
                    steps.append(score_command(out, run))
                if steps:
                    jobs.append((run, steps))
    for group in groups:
        for fold in range(FOLDS):
            for arm, _ in arms:
                run, steps = f"{arm}_f{fold}_e{group}", []
                if not (out / "models" / run / "metrics.json").is_file():
                    steps.append(ensemble_command(out, arm, fold, group))
                if not (out / "eval" / f"{run}.json").is_file():
                    steps.append(score_command(out, run))
                if steps:
                    later.append((run, steps))
    return [jobs, later]


def run_job(job: Job, out: Path) -> bool:
    run, steps = job
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for cmd in steps:
        started = time.monotonic()
        with (out / "logs" / f"{run}.log").open("a") as handle:
            done = subprocess.run(cmd, cwd=REPO, env=env, stdout=handle, stderr=handle)
        seconds = time.monotonic() - started
        what = "score" if cmd[1].endswith("beats_eval.py") else cmd[3]
        line = f"{run} {what} rc={done.returncode} {seconds:.0f}s"
        with (out / "times.txt").open("a") as handle:
            handle.write(f"{time.strftime('%H:%M:%S', time.gmtime())} {line}\n")
        if done.returncode != 0:
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seeds", nargs="+", default=["0", "1", "2"])
    ap.add_argument("--arm", action="append", required=True, help="NAME=OVERRIDE,...")
    ap.add_argument("--ensembles", nargs="*", default=[], help="seed groups, e.g. 012 345")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    arms = [parse_arm(a) for a in args.arm]
    stages = plan(args.out, arms, args.seeds, args.ensembles)
    if args.dry_run:
        for stage in stages:
            for _, steps in stage:
                print(" && ".join(" ".join(c) for c in steps))
        return
    for sub in ("models", "eval", "logs"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    for stage in stages:
        with ThreadPoolExecutor(args.jobs) as pool:
            ok = list(pool.map(lambda s: run_job(s, args.out), stage))
        if not all(ok):
            raise SystemExit(f"{ok.count(False)} job(s) failed: see {args.out / 'times.txt'}")
    labels = [f"{a}_f{{fold}}_s{{seed}}" for a, _ in arms]
    print(f"pool: python benchmarks/svdb_folds.py --seeds {' '.join(args.seeds)} --row "
          f"'LABEL={args.out}/eval/{labels[0]}.json:svdb_ref' ...")  # fmt: skip


if __name__ == "__main__":
    main()
