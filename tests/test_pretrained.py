"""Pretrained weights shipped inside the package load safely and score out of the box."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest

from ecgzoo.train.evaluate import load_trained_model
from ecgzoo.train.runfolder import PRETRAINED_DIR, resolve_run
from tests.test_cli import ecgzoo

SIZE_LIMIT_MB = {"mitbih-intra": 5, "mitbih-inter": 2, "mitbih-inter-lightgbm": 5, "cinc2017": 20}


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
    ["mitbih-intra", "mitbih-inter", pytest.param("mitbih-inter-lightgbm", marks=pytest.mark.slow)],
)
def test_mitbih_pretrained_reproduces_its_test_figures(name, mitdb_dir):
    result = ecgzoo("evaluate", f"pretrained:{name}", "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    shipped = json.loads((PRETRAINED_DIR / name / "metrics.json").read_text())["test"]
    assert metrics["n"] == shipped["n"]
    assert metrics["accuracy"] == pytest.approx(shipped["accuracy"], abs=1e-6)
    assert metrics["confusion_matrix"] == shipped["confusion_matrix"]


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
    assert 0.0 <= metrics["challenge"]["challenge_f1"] <= 1.0
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
