"""Train and score arms of the shipped beat recipe on the SVDB development folds (issue 19,
rounds P-S: DS1 + 39 SVDB patients in training, the 13 never seen scored, 4 record-wise folds),
two jobs at a time with one torch thread each, then pool the folds with ``svdb_folds.py``.

    python benchmarks/svdb_fold_arms.py OUT --seeds 0 1 2 --arm A= --arm C=model.params.positions=8
    python benchmarks/svdb_fold_arms.py OUT --seeds 3 4 5 6 7 8 --arm A= --arm C=... \\
        --ensembles 012 345 678          (trains seeds 3-8, then three-seed ensembles per fold)
    python benchmarks/svdb_fold_arms.py OUT ... --dry-run   (prints the commands only)
    python benchmarks/svdb_fold_arms.py OUT --ds2 --seeds 0 1 2 3 4 5 6 7 8 --arm C=... \\
        --ensembles 012 345 678   (the ship step: DS1 + all 52 SVDB, each ensemble scored on DS2)

An arm is ``NAME=OVERRIDE,OVERRIDE`` (``A=`` is the recipe itself). Runs go to ``OUT/models``
(``NAME_fK_sS``; ensembles ``NAME_fK_eGROUP``), scores to ``OUT/eval`` (``beats_eval.py --only
svdb --adapt none``: reference peaks and end to end), timings to ``OUT/times.txt``. A run or score
already in ``OUT`` is not redone, so an interrupted call goes on where it stopped. Ensemble
groups name their members' seeds (``012``: seeds 0, 1 and 2), which must be trained already or
in the same call. With ``--ds2`` nothing is held out of SVDB (runs ``NAME_sS``, ensembles
``NAME_eGROUP``), and only the ensembles are scored, on DS2, with and without ``self_train``
(``OUT/eval/RUN.none.json``, ``RUN.self_train.json``): the ship rule's step (notes/beats6.md).
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
DS2_ADAPTS = "none,self_train"


def run_name(arm: str, fold: int | None, member: str) -> str:
    """``A_f0_s3`` on a fold, ``A_s3`` on all of SVDB (``member``: ``s3`` or ``e345``)."""
    return f"{arm}_{member}" if fold is None else f"{arm}_f{fold}_{member}"


def parse_arm(text: str) -> tuple[str, list[str]]:
    """``NAME=OVERRIDE,OVERRIDE`` -> ``(NAME, [OVERRIDE, ...])``; a bad arm is one line. Commas
    inside ``{}`` or ``[]`` belong to their override (``model.params={"a":1,"b":2}``)."""
    name, sep, rest = text.partition("=")
    if not sep or not name.isidentifier():
        raise SystemExit(f"--arm {text!r}: expected NAME=OVERRIDE,... (A= for the recipe itself)")
    overrides, depth, start = [], 0, 0
    for i, char in enumerate(rest + ","):
        depth += (char in "{[") - (char in "}]")
        if char == "," and depth == 0:
            overrides.append(rest[start:i])
            start = i + 1
    return name, [o for o in overrides if o]


def train_command(
    out: Path, arm: str, overrides: list[str], fold: int | None, seed: str
) -> list[str]:
    held_out = [] if fold is None else [f"data.mitbih.extra_test_fold={fold}"]
    return [
        sys.executable, "-m", "ecgzoo", "train", RECIPE, f"name={run_name(arm, fold, 's' + seed)}",
        f"output_dir={out / 'models'}", "data.mitbih.extra_databases=[svdb]", *held_out,
        f"train.seed={seed}", *overrides, "--quiet",
    ]  # fmt: skip


def ensemble_command(out: Path, arm: str, fold: int | None, group: str) -> list[str]:
    members = [str(out / "models" / run_name(arm, fold, f"s{seed}")) for seed in group]
    target = out / "models" / run_name(arm, fold, f"e{group}")
    return [sys.executable, "-m", "ecgzoo", "ensemble", *members, "--output", str(target)]


def score_command(out: Path, run: str, ds2: bool = False) -> list[str]:
    test, adapts = ("ds2", DS2_ADAPTS) if ds2 else ("svdb", "none")
    return [
        sys.executable, str(REPO / "benchmarks" / "beats_eval.py"), str(out / "models" / run),
        str(out / "eval" / f"{run}.json"), "--only", test, "--adapt", adapts,
    ]  # fmt: skip


def scored(out: Path, run: str, ds2: bool) -> bool:
    if ds2:  # beats_eval writes one RUN.ADAPT.json per adaptation
        return all((out / "eval" / f"{run}.{a}.json").is_file() for a in DS2_ADAPTS.split(","))
    return (out / "eval" / f"{run}.json").is_file()


Job = tuple[str, list[list[str]]]  # a run's name and its commands, run in order


def plan(
    out: Path,
    arms: list[tuple[str, list[str]]],
    seeds: list[str],
    groups: list[str],
    ds2: bool = False,
) -> list[list[Job]]:
    """Two stages of jobs: every seed's training and scoring, then every ensemble's building
    and scoring (they wait for every training); what ``OUT`` already holds is left out.
    ``ds2``: one run per seed on all of SVDB instead of one per fold, and only the ensembles
    scored (on DS2: the ship rule reads nothing else there)."""
    folds: list[int | None] = [None] if ds2 else list(range(FOLDS))
    jobs, later = [], []
    for member in [f"s{seed}" for seed in seeds] + [f"e{group}" for group in groups]:
        for fold in folds:
            for arm, overrides in arms:
                run, steps = run_name(arm, fold, member), []
                if not (out / "models" / run / "metrics.json").is_file():
                    if member.startswith("s"):
                        steps.append(train_command(out, arm, overrides, fold, member[1:]))
                    else:
                        steps.append(ensemble_command(out, arm, fold, member[1:]))
                if not scored(out, run, ds2) and not (ds2 and member.startswith("s")):
                    steps.append(score_command(out, run, ds2))
                if steps:
                    (jobs if member.startswith("s") else later).append((run, steps))
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
    ap.add_argument("--ds2", action="store_true", help="train on all 52 SVDB, score on DS2")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    arms = [parse_arm(a) for a in args.arm]
    stages = plan(args.out, arms, args.seeds, args.ensembles, args.ds2)
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
    if args.ds2:
        print(f"tables: python benchmarks/beats_table.py --eval-mean {args.out}/eval/*.none.json")
        return
    labels = [f"{a}_f{{fold}}_s{{seed}}" for a, _ in arms]
    print(f"pool: python benchmarks/svdb_folds.py --seeds {' '.join(args.seeds)} --row "
          f"'LABEL={args.out}/eval/{labels[0]}.json:svdb_ref' ...")  # fmt: skip


if __name__ == "__main__":
    main()
