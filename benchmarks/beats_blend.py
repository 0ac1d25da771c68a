"""A torch beat model and a LightGBM context model, alone and averaged (round D, issue 19).

For every record of DS2 or SVDB: the reference AAMI beats, each model's own InputSpec
(``InputSpec.prepare``: the CNN's fiducial, cut, median channel and RR ratios; the tree's
context rows), the two models' class probabilities, and their mean with weights 1/2 and 1/2
(fixed before any run; nothing is tuned). Scored on the beats both models keep, so the three
rows see the same beats. Reference peaks; with ``--e2e`` also the blend end to end, as
``ecgzoo annotate FOLDER --model CNN --model TREE --reference atr`` runs it.

    PYTHONPATH=src python benchmarks/beats_blend.py --cnn RUN --tree RUN --only svdb OUT.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from beats_eval import folders, from_annotate, from_reference, held_out_svdb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnn", required=True, help="a torch beat run (or ensemble)")
    ap.add_argument("--tree", required=True, help="a LightGBM context run")
    ap.add_argument("--only", choices=["ds2", "svdb"], required=True)
    ap.add_argument("--e2e", action="store_true", help="also the blend through annotate")
    ap.add_argument("out")
    args = ap.parse_args()
    from ecgzoo.apply.blend import ModelBlend, member_probabilities
    from ecgzoo.apply.model import load_model
    from ecgzoo.train.trees import inter_metrics

    cnn, tree = load_model(args.cnn), load_model(args.tree)
    blend = ModelBlend([cnn, tree])  # refuses differing class sets
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        held = held_out_svdb(args.cnn)
        if held != held_out_svdb(args.tree):
            raise SystemExit("--cnn and --tree: trained with different SVDB test folds")
        data = folders(Path(tmp), held)[args.only]
        y, (p_cnn, p_tree), group, _ = member_probabilities(blend, data)
        record = "232" if args.only == "ds2" else "822"
        if args.e2e:
            from ecgzoo.api import annotate
            from ecgzoo.apply.scoring import summarise_scores

            res = annotate(data, [cnn, tree], write=False, plots=False, reference="atr")
            scores = [r.score for r in res]
            scored = summarise_scores(scores, res[0].annotation.class_names)
            e2e = from_annotate(scored, scores, record)
    out: dict[str, Any] = {"cnn": args.cnn, "tree": args.tree, "only": args.only}
    for name, prob in (("cnn", p_cnn), ("tree", p_tree), ("blend", 0.5 * p_cnn + 0.5 * p_tree)):
        out[name] = from_reference(inter_metrics(y, prob, group), record)
        m = out[name]
        print(
            f"{name:6s} acc {m['accuracy']:.4f} SVEB F1 {m['sveb']['F1']} VEB F1 {m['veb']['F1']}"
        )
    if args.e2e:
        out["blend_e2e"] = e2e
        print(f"blend end to end: SVEB F1 {e2e['sveb']['F1']} VEB F1 {e2e['veb']['F1']}")
    out["beats"] = int(len(y))
    out["seconds"] = time.perf_counter() - t0
    Path(args.out).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
