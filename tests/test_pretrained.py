"""Pretrained weights shipped inside the package load safely and score out of the box."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest

from ecgzoo.runs.runfolder import PRETRAINED_DIR, resolve_run
from ecgzoo.train.evaluate import load_trained_model
from tests.test_cli import ecgzoo

SIZE_LIMIT_MB = {
    "mitbih-intra": 5,
    "mitbih-inter": 2,
    "mitbih-inter-2026-11": 2,
    "mitbih-inter-lightgbm": 5,
    "cinc2017": 20,
}


@pytest.mark.parametrize("name", sorted(SIZE_LIMIT_MB))
def test_pretrained_folder_is_small_tensors_only_and_documented(name):
    folder = resolve_run(f"pretrained:{name}")
    assert "ecgzoo train" in (folder / "TRAINED_WITH.md").read_text()
    if (folder / "fold_0.txt").is_file():  # a LightGBM fold ensemble: text models, no pickle
        from ecgzoo.train.trees import load_tree_model

        size = sum(f.stat().st_size for f in folder.glob("fold_*.txt"))
        assert size < SIZE_LIMIT_MB[name] * 1e6 and not list(folder.glob("*.pkl"))
        boosters, spec = load_tree_model(folder)
        assert len(boosters) == spec.params["folds"]
        assert spec.n_classes == len(spec.class_names)
        return
    assert (folder / "model.safetensors").stat().st_size < SIZE_LIMIT_MB[name] * 1e6
    model, spec = load_trained_model(folder)
    assert spec.n_classes == len(spec.class_names)


@pytest.mark.parametrize(
    "name",
    [
        "mitbih-intra",
        "mitbih-inter",
        "mitbih-inter-2026-11",
        pytest.param("mitbih-inter-lightgbm", marks=pytest.mark.slow),
    ],
)
def test_mitbih_pretrained_reproduces_its_test_figures(name, mitdb_dir):
    result = ecgzoo("evaluate", f"pretrained:{name}", "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    shipped = json.loads((PRETRAINED_DIR / name / "metrics.json").read_text())["test"]
    assert metrics["n"] == shipped["n"]
    assert metrics["accuracy"] == pytest.approx(shipped["accuracy"], abs=1e-6)
    assert metrics["confusion_matrix"] == shipped["confusion_matrix"]
    # the shipped EC57 table is today's scorer's (re-scored 2026-12-06: notes/beats18.md)
    counts = ("class", "TP", "FN", "FP", "TN", "uncounted")
    assert [[r[k] for k in counts] for r in metrics["aami"]] == [
        [r[k] for k in counts] for r in shipped["aami"]
    ]


# Confusion matrices (rows: reference N S V F Q; columns: predicted) of the shipped beat models
# on MIT-BIH records 100 and 208 (5,224 AAMI beats), computed once (2026-12-04, before the
# issue-18 layout work) with ``evaluate_beat_folder`` (what ``ecgzoo evaluate pretrained:NAME
# --data FOLDER`` runs) on a folder holding only those two records, and written here as the
# reference. They are regression references, not quality figures: 208 is a training record of
# every one of these models (and 100 a test record of the inter-patient ones). Any change in
# reading, segmentation, side features, weights loading or inference shows as a changed count.
TWO_RECORD_CONFUSION = {
    "mitbih-intra": [
        [3811, 0, 0, 10, 1],
        [1, 34, 0, 0, 0],
        [0, 0, 983, 10, 0],
        [5, 0, 3, 364, 0],
        [0, 0, 0, 0, 2],
    ],
    # the DS1 + SVDB seed ensemble shipped on 2026-12-05 (computed that day, same way)
    "mitbih-inter": [
        [3728, 15, 6, 73, 0],
        [2, 33, 0, 0, 0],
        [0, 0, 978, 15, 0],
        [0, 0, 0, 372, 0],
        [1, 0, 1, 0, 0],
    ],
    "mitbih-inter-2026-11": [
        [3818, 1, 1, 2, 0],
        [24, 11, 0, 0, 0],
        [2, 0, 967, 24, 0],
        [48, 1, 0, 323, 0],
        [1, 0, 1, 0, 0],
    ],
    "mitbih-inter-lightgbm": [
        [3791, 14, 4, 13, 0],
        [2, 33, 0, 0, 0],
        [1, 0, 985, 7, 0],
        [0, 0, 0, 372, 0],
        [0, 0, 0, 0, 2],
    ],
}


@pytest.mark.parametrize("name", sorted(TWO_RECORD_CONFUSION))
def test_shipped_beat_models_score_two_fixed_records_exactly(name, mitdb_two):
    from ecgzoo.runs.runfolder import read_run_config
    from ecgzoo.train.external_beats import evaluate_beat_folder

    folder = resolve_run(f"pretrained:{name}")
    metrics = evaluate_beat_folder(folder, read_run_config(folder), mitdb_two)
    assert metrics["skipped"] == []
    assert metrics["confusion_matrix"] == TWO_RECORD_CONFUSION[name]
    assert metrics["n"] == 5_224 == sum(map(sum, TWO_RECORD_CONFUSION[name]))


def test_cinc2017_pretrained_scores_an_external_challenge_format_set(tmp_path, cinc2017_dir):
    reference = (cinc2017_dir / "REFERENCE-v3.csv").read_text().split()
    picked = reference[:: len(reference) // 40][:40]  # 40 records spread through the set
    archive = tmp_path / "external.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for line in picked:
            record = line.split(",")[0]
            for ext in (".hea", ".mat"):
                zf.write(cinc2017_dir / "training2017" / f"{record}{ext}", f"ext/{record}{ext}")
    ref = tmp_path / "ref.csv"
    ref.write_text("\n".join(picked) + "\n")
    result = ecgzoo(
        "evaluate", "pretrained:cinc2017", "--data", str(archive), "--reference", str(ref), "--json"
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["n"] == 40
    # Reference: this same command run once (2026-12-04, before the issue-18 layout work); the
    # records are spread through the challenge's training set, so this guards the pipeline
    # (zip reading, the recording pipeline, crop voting, scoring), it is not a quality figure.
    assert metrics["confusion_matrix"] == [[21, 0, 1, 0], [0, 3, 0, 0], [2, 1, 11, 0], [0, 0, 0, 1]]
    # F1 of N, A, O (the challenge's mean): 14/15, 6/7 and 11/13, from that matrix
    assert metrics["challenge"]["challenge_f1"] == pytest.approx((14 / 15 + 6 / 7 + 11 / 13) / 3)
    # The same records from a folder score identically.
    folder = tmp_path / "folder"
    shutil.unpack_archive(archive, folder)
    again = ecgzoo(
        "evaluate",
        "pretrained:cinc2017",
        "--data",
        str(folder / "ext"),
        "--reference",
        str(ref),
        "--json",
    )
    assert json.loads(again.stdout)["confusion_matrix"] == metrics["confusion_matrix"]


def test_cinc2017_pretrained_never_sees_padding(cinc2017_dir):
    """The shipped CinC model is the padding-free one: its short recordings are tiled, and
    neither its input nor any voting crop of it holds a run of padding zeros."""
    import numpy as np

    from ecgzoo.apply.model import load_model
    from ecgzoo.datasets.cinc2017 import load_recordings
    from ecgzoo.examples.transforms import multi_crop
    from tests.test_cinc2017_fill import zero_runs

    model = load_model("pretrained:cinc2017")
    options = model.config.data.cinc2017
    assert options.fill == "tile" and model.spec.crop_samples
    short = {"A05503": "~", "A04913": "~", "A05447": "N"}  # 10.3 s, 14.2 s, 19.8 s
    signals, _, _ = load_recordings(cinc2017_dir / "training2017", short)
    x, lengths = model.input.windows(signals, 300.0)
    assert np.all(lengths < model.spec.crop_samples)  # shorter than one crop: all filled
    crops = multi_crop(x, model.spec.crop_samples, 5, lengths)
    assert not zero_runs(x).any() and not zero_runs(crops.reshape(-1, crops.shape[-1])).any()
    prob = model.predict_recordings(signals, 300.0)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, rtol=1e-5)
