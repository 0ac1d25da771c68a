"""Hyperparameter search (Ray Tune + HyperOpt + ASHA) on real MIT-BIH beats.

Ray starts once for the module (local, 2 CPUs); one 2-trial search is shared by the tests that
check its outputs and by the resume test.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from ecgzoo.errors import ConfigError
from ecgzoo.experiment import build_config, load_config
from ecgzoo.tune import load_space, run_search

REPO = Path(__file__).resolve().parents[1]
SPACES = REPO / "configs" / "spaces"

TINY = {
    "name": "tune-tiny",
    "data": {
        "dataset": "mitbih",
        "mitbih": {"records": ["100", "119", "208", "209"], "max_beats_per_class": 200},
    },
    "model": {"name": "cnn2d", "params": {"hidden": 32}},
    "train": {"epochs": 2, "batch_size": 64, "max_steps_per_epoch": 5},
}


# -- a real search ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_local():
    from ecgzoo.tune import start_ray, stop_ray

    started = start_ray(num_cpus=2)
    yield
    if started:
        stop_ray()


@pytest.fixture(scope="module")
def search(ray_local, mitdb_dir, tmp_path_factory):
    experiment = tmp_path_factory.mktemp("tune") / "exp"
    result = run_search(
        build_config(TINY),
        load_space(SPACES / "cnn.yaml"),
        num_samples=2,
        cpus_per_trial=1,
        experiment_dir=experiment,
    )
    return result


def test_search_runs_trials_and_writes_results(search):
    assert len(search.trials) == 2
    assert all(t.status in ("completed", "stopped") for t in search.trials)
    best = search.best
    assert best is not None and best.status == "completed"
    # the trial record holds its run's test scores: recomputed from the run's confusion matrix
    cm = np.asarray(
        json.loads((best.run_dir / "metrics.json").read_text())["test"]["confusion_matrix"]
    )
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0  # the metrics' macro convention
    recall = np.diag(cm) / np.maximum(cm.sum(axis=1), 1)
    assert best.test_macro_recall == pytest.approx(recall[present].mean())
    assert best.test_accuracy == pytest.approx(np.trace(cm) / cm.sum())
    assert best.final_train_loss > 0 and best.test_loss > 0
    assert best.train_seconds > 0 and best.trial_seconds >= best.train_seconds
    for t in search.trials:  # every trial trained in its own run folder
        assert (t.run_dir / "history.csv").is_file()
        assert 40 <= t.params["model.params.hidden"] <= 150

    md = search.table_md.read_text()
    assert search.table_csv.suffix == ".csv" and search.table_csv.is_file()
    for column in (
        "trial",
        "hidden",
        "activation",
        "val_macro_recall",
        "test_macro_recall",
        "test_accuracy",
        "final_train_loss",
        "test_loss",
        "train_seconds",
    ):
        assert column in md
    assert best.trial_id in md
    assert search.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert search.overhead["n_trials"] == 2
    assert search.overhead["mean_overhead_seconds"] is not None


def test_best_config_is_loadable_and_is_the_best_trial(search):
    cfg = load_config(search.best_config)
    params = search.best.params
    assert cfg.model.name == "cnn2d"
    assert cfg.model.params["hidden"] == params["model.params.hidden"]
    assert cfg.model.params["activation"] == params["model.params.activation"]
    assert cfg.train.lr == pytest.approx(params["train.lr"])
    assert cfg.train.monitor == "val_macro_recall"
    assert cfg.data.mitbih.records == TINY["data"]["mitbih"]["records"]
    trained = load_config(search.best.run_dir / "config.yaml")  # what the trial trained
    assert cfg.model == trained.model and cfg.data == trained.data
    assert cfg.train.model_dump(exclude={"num_threads"}) == trained.train.model_dump(
        exclude={"num_threads"}
    )


def test_mlflow_sqlite_holds_one_run_per_trial(search):
    db = search.experiment_dir / "mlflow.db"
    assert search.mlflow_uri == f"sqlite:///{db}"
    with sqlite3.connect(db) as con:
        runs = con.execute("select run_uuid from runs").fetchall()
        assert len(runs) == 2
        params = {r[0] for r in con.execute("select key from params")}
        assert "model.params.hidden" in params
        steps = con.execute(
            "select count(*) from metrics where key = 'val_macro_recall'"
        ).fetchone()[0]
        assert steps >= 2  # per-epoch metrics (and the final best value)


def test_resume_of_a_finished_search_does_no_new_work(search):
    trial_dirs = sorted(p.name for p in (search.experiment_dir / "trials").iterdir())
    # no trial is trained again: every file of every trial folder keeps its mtime
    files = [p for p in (search.experiment_dir / "trials").rglob("*") if p.is_file()]
    stamps = {p: p.stat().st_mtime_ns for p in files}
    again = run_search(
        build_config(TINY),
        load_space(SPACES / "cnn.yaml"),
        num_samples=2,
        experiment_dir=search.experiment_dir,
        resume=True,
    )
    assert again.new_trials == 0
    assert sorted(p.name for p in (search.experiment_dir / "trials").iterdir()) == trial_dirs
    assert {t.trial_id: t.val_metric for t in again.trials} == {
        t.trial_id: t.val_metric for t in search.trials
    }
    assert again.best.trial_id == search.best.trial_id
    with sqlite3.connect(search.experiment_dir / "mlflow.db") as con:
        assert con.execute("select count(*) from runs").fetchone()[0] == 2
    assert any(p.name == "model.safetensors" for p in files)
    assert {p: p.stat().st_mtime_ns for p in files} == stamps


def test_existing_search_is_not_overwritten_without_resume(search):
    with pytest.raises(ConfigError, match="resume"):
        run_search(
            build_config(TINY),
            load_space(SPACES / "cnn.yaml"),
            num_samples=2,
            experiment_dir=search.experiment_dir,
        )


# -- faults and untrusted folders (issue 9) ----------------------------------------------------


class _Planted:
    """Unpickling this creates a file: what a hostile tuner.pkl could do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _copy_search(search, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "received"
    shutil.copytree(search.experiment_dir, target)
    return target


def test_resume_refuses_a_planted_pickle_before_loading_it(search, tmp_path):
    import pickle

    folder = _copy_search(search, tmp_path)
    marker = tmp_path / "pwned"
    (folder / "ray" / "tuner.pkl").write_bytes(pickle.dumps(_Planted(marker)))
    with pytest.raises(ConfigError, match=r"refusing to resume.*modified.*tuner\.pkl"):
        run_search(
            build_config(TINY),
            load_space(SPACES / "cnn.yaml"),
            num_samples=2,
            experiment_dir=folder,
            resume=True,
        )
    assert not marker.exists()


def test_resume_refuses_a_search_sealed_elsewhere(search, tmp_path, monkeypatch):
    folder = _copy_search(search, tmp_path)
    monkeypatch.setenv("ECGZOO_HOME", str(tmp_path / "another-home"))  # another key
    with pytest.raises(ConfigError, match="not sealed by this ecgzoo installation"):
        run_search(
            build_config(TINY),
            load_space(SPACES / "cnn.yaml"),
            num_samples=2,
            experiment_dir=folder,
            resume=True,
        )
    (folder / "ray.seal.json").unlink()  # a folder from an older ecgzoo or a killed driver
    with pytest.raises(ConfigError, match="has no seal"):
        run_search(
            build_config(TINY),
            load_space(SPACES / "cnn.yaml"),
            num_samples=2,
            experiment_dir=folder,
            resume=True,
        )


def test_resume_with_another_num_samples_says_so(search):
    with pytest.raises(ConfigError, match=r"--num-samples: .* started with 2 trials, not 5"):
        run_search(
            build_config(TINY),
            load_space(SPACES / "cnn.yaml"),
            num_samples=5,
            experiment_dir=search.experiment_dir,
            resume=True,
        )


def test_resume_of_a_folder_without_a_search_says_so(tmp_path):
    with pytest.raises(ConfigError, match="holds no search to resume"):
        run_search(
            build_config(TINY),
            load_space(SPACES / "cnn.yaml"),
            num_samples=2,
            experiment_dir=tmp_path / "nothing",
            resume=True,
        )
    assert not (tmp_path / "nothing").exists()


@pytest.mark.parametrize(
    ("model", "cpus", "needle"),
    [("no-such-model", 1, "no-such-model"), ("cnn2d", 512, "cpus_per_trial")],
)
def test_bad_search_options_leave_no_folder(tmp_path, model, cpus, needle):
    tree = {**TINY, "model": {"name": model, "params": {}}}
    with pytest.raises(ConfigError, match=needle):
        run_search(
            build_config(tree),
            load_space(SPACES / "cnn.yaml"),
            num_samples=2,
            cpus_per_trial=cpus,
            experiment_dir=tmp_path / "exp",
        )
    assert not (tmp_path / "exp").exists()


def _tune_process(tmp_path: Path, output: Path, *extra: str):
    import os
    import subprocess

    config = tmp_path / "base.yaml"
    # long enough that a signal sent after the first epoch finds the search still running
    config.write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "epochs": 30}}))
    src = str(REPO / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "ecgzoo", "tune", str(config), "--space"]
    cmd += [str(SPACES / "cnn.yaml"), "--num-samples", "2", "--output", str(output), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


@pytest.mark.slow
def test_ctrl_c_during_tune_is_an_incomplete_search_not_a_result(tmp_path, mitdb_dir):
    import signal

    output = tmp_path / "exp"
    proc = _tune_process(tmp_path, output)
    started = _wait_for(lambda: any((output / "trials").glob("*/history.csv")), 240)
    assert started, proc.communicate(timeout=60)
    assert proc.poll() is None, "the search ended before the signal could be sent"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert "search interrupted" in last and "--resume" in last and str(output) in last
    assert "ASHA" not in out + err
    assert not (output / "results").exists()
    assert (output / "ray.seal.json").is_file()  # sealed: resumable

    resumed = _tune_process(tmp_path, output, "--resume")  # the command it printed
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    assert (output / "results" / "top_trials.md").is_file()


@pytest.mark.slow
def test_a_killed_driver_leaves_nothing_once_the_next_search_starts(tmp_path, mitdb_dir):
    import signal

    from ecgzoo.tune.search import reap_stale_ray

    def temp_dirs() -> set[Path]:
        return {
            p
            for p in Path("/tmp").glob("ecgzoo-ray-*")
            if (p / "ecgzoo-driver.pid").is_file()
            and (p / "ecgzoo-driver.pid").read_text().strip() == str(proc.pid)
        }

    proc = _tune_process(tmp_path, tmp_path / "exp")
    assert _wait_for(lambda: any((tmp_path / "exp" / "trials").glob("*/history.csv")), 240)
    ours = temp_dirs()
    assert ours
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)

    def ray_processes() -> list[int]:
        found = []
        for p in Path("/proc").glob("[0-9]*"):
            try:
                cmdline = (p / "cmdline").read_bytes()
            except OSError:
                continue
            if any(str(d).encode() in cmdline for d in ours):
                found.append(int(p.name))
        return found

    # What a SIGKILL leaves: the temporary folder always; Ray's processes until they notice
    # (Ray ties some, not all, to the driver's life).
    assert all(d.exists() for d in ours)
    reap_stale_ray("/tmp")  # what the next start_ray does first
    assert not ray_processes()
    assert not any(d.exists() for d in ours)
