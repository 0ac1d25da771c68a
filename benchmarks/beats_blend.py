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

import numpy as np
from beats_eval import folders, from_annotate, from_reference


def record_probabilities(
    folder: Path, cnn: Any, tree: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(y, p_cnn, p_tree, record)`` over the beats of every record both models keep;
    ``tree``: the fold boosters, their prior weights and the tree run's InputSpec."""
    from ecgzoo.examples.beats import aami_labels
    from ecgzoo.readers.wfdb_folder import WfdbFolderReader
    from ecgzoo.train.trees import predict_ensemble

    boosters, weights, t_spec = tree
    reader = WfdbFolderReader(folder, annotator="atr", require_annotations=True)
    ys, pcs, pts, recs = [], [], [], []
    for name in reader.list_records():
        rec = reader.read(name)
        samples, labels = aami_labels(rec.beat_samples, rec.beat_symbols)
        inside = samples < rec.n_samples
        samples, labels = samples[inside], labels[inside]
        c = cnn.input.prepare(rec.signal[cnn.input.lead_index(rec.lead_names)], rec.fs, samples)
        t = t_spec.prepare(rec.signal[t_spec.lead_index(rec.lead_names)], rec.fs, samples)
        both = c.kept & t.kept
        p_cnn = cnn.proba(c.x[both[c.kept]], c.features[both[c.kept]])
        p_tree = predict_ensemble(boosters, t.features[both[t.kept]], weights)
        ys.append(labels[both])
        pcs.append(p_cnn)
        pts.append(p_tree)
        recs.append(np.full(int(both.sum()), str(name)))
    return np.concatenate(ys), np.concatenate(pcs), np.concatenate(pts), np.concatenate(recs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnn", required=True, help="a torch beat run (or ensemble)")
    ap.add_argument("--tree", required=True, help="a LightGBM context run")
    ap.add_argument("--only", choices=["ds2", "svdb"], required=True)
    ap.add_argument("--e2e", action="store_true", help="also the blend through annotate")
    ap.add_argument("out")
    args = ap.parse_args()
    from ecgzoo.apply.model import load_model
    from ecgzoo.runs.loaded import load_run
    from ecgzoo.runs.runfolder import resolve_run
    from ecgzoo.train.trees import inter_metrics, load_tree_model

    cnn = load_model(args.cnn)
    boosters, spec = load_tree_model(resolve_run(args.tree))
    tree_input = load_run(args.tree, weights=False).input
    tree = (boosters, np.asarray(spec.params["class_weights"]), tree_input)
    if list(spec.class_names) != cnn.class_names:
        raise SystemExit(f"class sets differ: {spec.class_names} vs {cnn.class_names}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = folders(Path(tmp))[args.only]
        y, p_cnn, p_tree, group = record_probabilities(data, cnn, tree)
        record = "232" if args.only == "ds2" else "822"
        if args.e2e:
            from ecgzoo.api import annotate
            from ecgzoo.apply.scoring import summarise_scores

            tree_model = load_model(args.tree)
            res = annotate(data, [cnn, tree_model], write=False, plots=False, reference="atr")
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
