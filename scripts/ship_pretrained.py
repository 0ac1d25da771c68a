"""Copy a finished run into the package as pretrained weights (tensors only).

Usage: python scripts/ship_pretrained.py RUN_DIR NAME --command "ecgzoo train ..."

Writes ``src/ecgzoo/pretrained/NAME/`` with the run's ``config.yaml``, ``model.json``,
``model.safetensors``, ``metrics.json`` and ``TRAINED_WITH.md`` (the exact training command),
after checking that the weights load and stay under the size limit.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from ecgzoo.train.evaluate import load_trained_model

PRETRAINED = Path(__file__).resolve().parents[1] / "src" / "ecgzoo" / "pretrained"
FILES = ("config.yaml", "model.json", "model.safetensors", "metrics.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("name")
    parser.add_argument("--command", required=True, help="the command that trained the run")
    parser.add_argument("--max-mb", type=float, default=20.0)
    args = parser.parse_args()

    if (args.run / "fold_0.txt").is_file():  # a LightGBM fold ensemble (text files, no pickle)
        ship_trees(args)
        return
    load_trained_model(args.run)  # refuses anything but a loadable tensors-only model
    size_mb = (args.run / "model.safetensors").stat().st_size / 1e6
    if size_mb > args.max_mb:
        raise SystemExit(f"{args.run}/model.safetensors is {size_mb:.1f} MB > {args.max_mb} MB")
    target = PRETRAINED / args.name
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(args.run / name, target / name)
    metrics = json.loads((args.run / "metrics.json").read_text())
    test = metrics["test"]
    (target / "TRAINED_WITH.md").write_text(
        f"# pretrained:{args.name}\n\nTrained with:\n\n```bash\n{args.command}\n```\n\n"
        f"Test split: accuracy {test['accuracy']:.4f}, macro F1 {test['macro_f1']:.4f}; "
        f"{metrics['n_parameters']:,} parameters, {size_mb:.2f} MB. "
        f"Trained {metrics['epochs_run']} epochs in {metrics['train_seconds']:.0f} s on "
        f"{metrics['device']} (best epoch {metrics['best_epoch']}); a config with "
        "`max_minutes` stops on time, so another machine may run a different number of epochs.\n"
    )
    print(f"shipped {args.run} as pretrained:{args.name} ({size_mb:.2f} MB)")


def ship_trees(args: argparse.Namespace) -> None:
    """Ship a tree run: its text models, config, spec and metrics, and the command."""
    from ecgzoo.train.trees import load_tree_model

    boosters, spec = load_tree_model(args.run)  # refuses a folder whose models do not load
    files = [f"fold_{k}.txt" for k in range(len(boosters))]
    size_mb = sum((args.run / f).stat().st_size for f in files) / 1e6
    if size_mb > args.max_mb:
        raise SystemExit(f"{args.run}: tree models are {size_mb:.1f} MB > {args.max_mb} MB")
    target = PRETRAINED / args.name
    if target.is_dir():
        shutil.rmtree(target)  # a torch model shipped before under this name
    target.mkdir(parents=True)
    for name in ("config.yaml", "model.json", "metrics.json", *files):
        shutil.copyfile(args.run / name, target / name)
    test = json.loads((args.run / "metrics.json").read_text())["test"]
    aami = {r["class"]: r for r in test["aami"]}
    (target / "TRAINED_WITH.md").write_text(
        f"# pretrained:{args.name}\n\nTrained with:\n\n```bash\n{args.command}\n```\n\n"
        f"LightGBM fold ensemble ({len(files)} text models, {size_mb:.2f} MB). Test records: "
        f"accuracy {test['accuracy']:.4f}, SVEB F1 {aami['S']['F1']:.4f}, "
        f"VEB F1 {aami['V']['F1']:.4f}; nothing chosen on the test records.\n"
    )
    print(f"shipped {args.run} as pretrained:{args.name} ({size_mb:.2f} MB)")


if __name__ == "__main__":
    main()
