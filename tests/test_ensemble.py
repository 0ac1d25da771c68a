"""`ecgzoo ensemble`: two tiny k-fold members trained on real CinC 2017 recordings, joined into
one run that evaluate, predict, ONNX export and Grad-CAM take as they are."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ecgzoo.datasets.loading import load_data
from ecgzoo.errors import EcgzooError
from ecgzoo.experiment import build_config
from ecgzoo.models.registry import build_model
from ecgzoo.runs.runfolder import read_spec
from ecgzoo.train.evaluate import load_trained_model, predict_split, score_predictions
from tests.test_multilabel_training import smoke_config

MEMBER = {
    "max_records": 60,
    "length_s": 20.0,
    "fs": 150.0,
    "normalise": True,
    "random_crop_s": 10.0,
    "fill": "tile",
    "n_val_folds": 2,
}


def member_config(tmp: Path, val_fold: int, **cinc) -> dict:
    return {
        "name": f"member-{val_fold}",
        "output_dir": str(tmp),
        "data": {"dataset": "cinc2017", "cinc2017": {**MEMBER, "val_fold": val_fold, **cinc}},
        "model": {"name": "resnet1d", "params": {"n_blocks": 2, "width": 8, "kernel": 5}},
        "train": {"epochs": 1, "batch_size": 8, "max_steps_per_epoch": 3, "num_threads": 1},
    }


@pytest.fixture(scope="module")
def members(tmp_path_factory, cinc2017_dir) -> list[Path]:
    from ecgzoo.train.engine import train_run

    tmp = tmp_path_factory.mktemp("members")
    return [train_run(build_config(member_config(tmp, k)), progress=False).run_dir for k in (0, 1)]


@pytest.fixture(scope="module")
def joined(members, tmp_path_factory) -> tuple[Path, dict]:
    from ecgzoo.train.ensemble import join_runs

    out = tmp_path_factory.mktemp("ens") / "cinc-ensemble"
    return out, join_runs(members, out)


def test_ensemble_scores_the_mean_of_its_members(members, joined) -> None:
    out, metrics = joined
    models = [load_trained_model(m) for m in members]
    configs = [build_config(member_config(Path("unused"), k)) for k in (0, 1)]
    data = [load_data(c.data) for c in configs]
    # one test split, two validation folds that partition the rest
    assert np.array_equal(data[0].test.groups, data[1].test.groups)
    assert not set(data[0].val.groups) & set(data[1].val.groups)
    mean = np.mean([predict_split(m, s, data[0].test) for m, s in models], axis=0)
    expected = score_predictions(data[0].test.y, mean, models[0][1].class_names)
    assert metrics["test"]["challenge"] == expected["challenge"]
    assert metrics["test"]["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    # out of fold: each validation record predicted by the member that did not train on it
    keys = np.concatenate([d.val.groups for d in data])
    pairs = zip(models, data, strict=True)
    prob = np.concatenate([predict_split(m, s, d.val) for (m, s), d in pairs])
    oof = score_predictions(np.concatenate([d.val.y for d in data]), prob, ["N", "A", "O", "~"])
    assert metrics["n_val_out_of_fold"] == len(set(keys)) == 48
    assert metrics["val_out_of_fold"]["confusion_matrix"] == oof["confusion_matrix"]
    assert [r["run"] for r in metrics["members"]] == [str(m) for m in members]
    # what each member trained with, and where the ensemble was joined
    trained_with = [json.loads((m / "metrics.json").read_text())["environment"] for m in members]
    assert [r["environment"] for r in metrics["members"]] == trained_with
    assert metrics["environment"]["torch"] == torch.__version__
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test"]["challenge"]["challenge_f1"] == expected["challenge"]["challenge_f1"]
    assert read_spec(out).name == "ensemble" and (out / "confusion_matrix.png").is_file()
    assert out.stat().st_mode & 0o777 == members[0].stat().st_mode & 0o777  # like a run folder


def test_ensemble_command_prints_the_members_figures_not_their_environment(
    members, tmp_path
) -> None:
    from tests.test_cli import ecgzoo

    result = ecgzoo("ensemble", *map(str, members), "--output", str(tmp_path / "ens"))
    assert result.returncode == 0, result.stderr
    table = result.stdout[result.stdout.index("members (their own figures)") :]
    assert "member-0" in table and "val_macro_f1" in table
    assert "environment" not in result.stdout and "torch" not in result.stdout
    saved = json.loads((tmp_path / "ens" / "metrics.json").read_text())
    assert all(m["environment"] for m in saved["members"])


def test_ensemble_output_is_the_log_mean_probability() -> None:
    members = [{"name": "resnet1d", "params": {"n_blocks": 2, "width": 8}}, {"name": "fc"}]
    ens = build_model("ensemble", 1, 300, 4, members=members).eval()
    x = torch.randn(5, 1, 300)
    with torch.no_grad():
        want = torch.stack([torch.softmax(m(x), 1) for m in ens.members]).mean(0)
        assert torch.allclose(torch.softmax(ens(x), 1), want, atol=1e-6)
        assert torch.allclose(ens(x).exp(), want, atol=1e-6)
    multi = build_model("ensemble", 1, 300, 3, members=members[:1] * 2, combine="sigmoid").eval()
    with torch.no_grad():
        want = torch.stack([torch.sigmoid(m(x)) for m in multi.members]).mean(0)
        assert torch.allclose(torch.sigmoid(multi(x)), want, atol=1e-5)


def test_an_ensemble_run_is_an_ordinary_run(members, joined, cinc2017_dir, tmp_path) -> None:
    from ecgzoo.apply.model import load_model
    from ecgzoo.datasets.cinc2017 import read_reference
    from ecgzoo.explain.runner import explain_run
    from ecgzoo.export.onnx import export_run
    from ecgzoo.readers.cinc2017 import read_record

    out, _ = joined
    records = sorted(read_reference(cinc2017_dir / "REFERENCE-v3.csv"))[:3]
    signals = [read_record(cinc2017_dir / "training2017", r).signal[0] for r in records]
    ens = load_model(out).predict_recordings(signals, 300.0)
    parts = [load_model(m).predict_recordings(signals, 300.0) for m in members]
    np.testing.assert_allclose(ens, np.mean(parts, axis=0), atol=1e-5)

    exported = export_run(out, tmp_path / "ens.onnx")
    assert exported["max_abs_diff"] < 1e-4

    summary = explain_run(str(out), records[:1], tmp_path / "cam", root=cinc2017_dir)
    assert summary["n_maps"] >= 1
    assert summary["layer"].count("members.") == 2  # both members' maps are summed


def test_ensemble_refuses_what_cannot_be_averaged(
    members, joined, tmp_path, capsys, monkeypatch
) -> None:
    from ecgzoo.cli import main
    from ecgzoo.train.engine import train_run
    from ecgzoo.train.ensemble import join_runs

    out, _ = joined
    with pytest.raises(EcgzooError, match="already exists"):
        join_runs(members, out)
    with pytest.raises(EcgzooError, match="at least two"):
        join_runs(members[:1], tmp_path / "one")
    with pytest.raises(EcgzooError, match="already an ensemble; join its members instead"):
        join_runs([members[0], out], tmp_path / "nested")
    with pytest.raises(EcgzooError, match="given twice"):
        join_runs([members[0], members[0]], tmp_path / "twice")
    for change, message in (
        ({"test_fraction": 0.3}, r"data\.cinc2017\.test_fraction differs"),
        ({"length_s": 24.0}, "model.json n_samples is 3600, but"),
    ):
        cfg = member_config(tmp_path / str(len(message)), 0, **change)
        other = train_run(build_config(cfg), progress=False).run_dir
        with pytest.raises(EcgzooError, match=message) as info:
            join_runs([members[0], other], tmp_path / "mixed")
        assert "\n" not in str(info.value) and not (tmp_path / "mixed").exists()
    # the members trained on each other's validation folds: only test is scored
    for argv in (["--split", "val"], ["--operating-point", "accuracy"]):
        monkeypatch.setattr("sys.argv", ["ecgzoo", "evaluate", str(out), *argv])
        with pytest.raises(SystemExit):
            main()
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "scored on its test split only" in err[0]


@pytest.mark.slow
def test_multilabel_ensemble_chooses_its_thresholds_out_of_fold(tmp_path, cinc2021_dirs) -> None:
    """Two seeds of a smoke-scale 2021 model (same validation records): the ensemble's
    per-label thresholds are chosen on the members' validation predictions, never on test."""
    from ecgzoo.metrics.multilabel import choose_thresholds
    from ecgzoo.train.engine import train_run
    from ecgzoo.train.ensemble import join_runs

    def config(seed: int):
        return smoke_config(tmp_path, f"ml-{seed}", seed=seed)

    runs = [train_run(config(s), progress=False).run_dir for s in (0, 1)]
    metrics = join_runs(runs, tmp_path / "ml-ensemble")
    spec = read_spec(tmp_path / "ml-ensemble")
    assert spec.multilabel and spec.params["combine"] == "sigmoid"
    data = load_data(config(0).data)
    models = [load_trained_model(r) for r in runs]
    val = np.mean([predict_split(m, s, data.val) for m, s in models], axis=0)
    assert spec.thresholds == [float(t) for t in choose_thresholds(val, data.val.y)]
    assert metrics["test"]["thresholds"] == spec.thresholds
    assert metrics["n_val_out_of_fold"] == len(data.val)
    assert "val_challenge_score" in metrics["members"][0]
