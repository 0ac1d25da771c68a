"""Issue 23, security: YAML alias bombs, crafted tree models, zip bombs, Ray clean-up, the seal."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ecgzoo.errors import ConfigError, DataError, EcgzooError

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "src" / "ecgzoo" / "pretrained"

# 9 levels of 9 aliases: 9**9 (387 million) leaves once expanded, 1 KB as text.
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


# -- item 3: YAML alias bombs, wherever YAML is read --------------------------------------------


def test_alias_bomb_config_is_refused_without_expanding(tmp_path):
    from ecgzoo.experiment import load_config

    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    assert path.stat().st_size < 2000
    with pytest.raises(ConfigError, match=r"bomb\.yaml.*alias"):
        load_config(path)


def test_alias_bomb_in_a_received_run_folder_is_refused(tmp_path):
    from ecgzoo.runs.runfolder import read_run_config

    run = tmp_path / "run"
    shutil.copytree(PRETRAINED / "mitbih-inter", run)
    (run / "config.yaml").write_text(BOMB)
    with pytest.raises(ConfigError, match="alias"):
        read_run_config(run)


@pytest.mark.parametrize(
    ("text", "needle"),
    [("- 1\n- 2\n", "mapping"), ("a: !!python/object:os.system x\n", "python"), ("a: [\n", "YAML")],
)
def test_malformed_run_config_is_one_error(tmp_path, text, needle):
    from ecgzoo.runs.runfolder import read_run_config

    run = tmp_path / "run"
    shutil.copytree(PRETRAINED / "mitbih-inter", run)
    (run / "config.yaml").write_text(text)
    with pytest.raises(EcgzooError, match=needle):
        read_run_config(run)


def test_alias_bomb_in_override_space_and_grid_is_refused(tmp_path):
    from ecgzoo.config import parse_override
    from ecgzoo.study.grid import load_grid
    from ecgzoo.tune.space import load_space

    with pytest.raises(ConfigError, match="alias"):
        parse_override("train.lr=" + "[&a [1,2], *a, *a]")
    for loader in (load_space, load_grid):
        path = tmp_path / f"{loader.__name__}.yaml"
        path.write_text(BOMB)
        with pytest.raises(ConfigError, match="alias"):
            loader(path)
    path.write_bytes(b"depth: [\xff\xfe]\n")  # not UTF-8
    with pytest.raises(ConfigError, match="UTF-8"):
        load_grid(path)


def test_no_yaml_safe_load_left_in_the_sources():
    """Every YAML read goes through ecgzoo.safe_load (the class, not only the cases)."""
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "src").rglob("*.py")
        if p.name != "safe_load.py"
        and ("yaml.safe_load(" in p.read_text() or "yaml.load(" in p.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize("text", ['["a"]', "{", "\xff"])
def test_malformed_metrics_json_is_one_error(tmp_path, text):
    from ecgzoo.runs.runfolder import read_metrics

    path = tmp_path / "metrics.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(DataError, match="metrics.json"):
        read_metrics(path)


# -- item 2: crafted LightGBM text models -------------------------------------------------------

TREES = PRETRAINED / "mitbih-inter-lightgbm"


def _tree_run(tmp_path: Path) -> Path:
    run = tmp_path / "trees"
    shutil.copytree(TREES, run)
    return run


def _edit_tree0(text: str, key: str, change) -> str:
    head, sep, rest = text.partition("\nTree=0\n")
    block, sep2, tail = rest.partition("\n\n\n")
    lines = [
        f"{key}={change(line.split('=', 1)[1])}" if line.startswith(key + "=") else line
        for line in block.split("\n")
    ]
    return head + sep + "\n".join(lines) + sep2 + tail


def _first(values: str, new: str) -> str:
    return " ".join([new, *values.split(" ")[1:]])


CRAFTED = {
    "feature out of range": lambda t: _edit_tree0(t, "split_feature", lambda v: _first(v, "9999")),
    "child out of range": lambda t: _edit_tree0(t, "left_child", lambda v: _first(v, "500")),
    "leaf out of range": lambda t: _edit_tree0(t, "left_child", lambda v: _first(v, "-500")),
    "self loop": lambda t: _edit_tree0(t, "left_child", lambda v: _first(v, "0")),
    "truncated": lambda t: t[: len(t) // 2],
    "empty": lambda t: "",
    "garbage": lambda t: "hello world\n" * 10,
    "size mismatch": lambda t: t.replace("tree_sizes=3392 ", "tree_sizes=3391 ", 1),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_tree_model_is_refused_before_lightgbm_parses_it(tmp_path, case):
    """Before the check these crashed (exit 139/134), hung or raised tracebacks."""
    from ecgzoo.train.trees import load_tree_model

    run = _tree_run(tmp_path)
    path = run / "fold_0.txt"
    path.write_text(CRAFTED[case](path.read_text()))
    with pytest.raises(DataError, match=r"fold_0\.txt"):
        load_tree_model(run)


def test_non_utf8_tree_model_and_bad_folds_are_one_line(tmp_path):
    import json

    from ecgzoo.train.trees import load_tree_model

    run = _tree_run(tmp_path)
    (run / "fold_1.txt").write_bytes(b"tree\n\xff\xfe")
    with pytest.raises(DataError, match="UTF-8"):
        load_tree_model(run)
    spec = json.loads((run / "model.json").read_text())
    for bad in ("five", -1, 10**9, True):
        spec["params"]["folds"] = bad
        (run / "model.json").write_text(json.dumps(spec))
        with pytest.raises(DataError, match="folds"):
            load_tree_model(run)


def test_shipped_tree_model_still_loads_and_predicts():
    import numpy as np

    from ecgzoo.train.trees import load_tree_model

    boosters, spec = load_tree_model(TREES)
    assert len(boosters) == spec.params["folds"] == 5
    prob = boosters[0].predict(np.zeros((3, spec.n_features)))
    assert prob.shape == (3, 5) and np.allclose(prob.sum(axis=1), 1)


# -- item 1: the tune --resume seal -------------------------------------------------------------


def _sealed_search(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """An experiment folder whose ``ray/`` this installation sealed (no Ray needed)."""
    from ecgzoo.tune.seal import install_state

    monkeypatch.setenv("ECGZOO_HOME", str(tmp_path / "home"))
    work = tmp_path / "work" / "ray"
    (work / "trial_0").mkdir(parents=True)
    (work / "tuner.pkl").write_bytes(b"the tuner, as ecgzoo's Ray wrote it")
    (work / "searcher-state-1.pkl").write_bytes(b"searcher")
    (work / "trial_0" / "result.json").write_text("{}")
    exp = tmp_path / "exp"
    exp.mkdir()
    install_state(exp, work, exp / "ray")
    return exp, exp / "ray"


def test_resume_loads_the_bytes_it_verified(tmp_path, monkeypatch):
    """The race: a pickle swapped after the check is never what Ray opens."""
    from ecgzoo.tune.seal import private_state

    exp, ray = _sealed_search(tmp_path, monkeypatch)
    copy = private_state(exp, ray)
    try:
        (ray / "searcher-state-1.pkl").write_bytes(b"attacker's pickle")  # after the check
        assert (copy / "searcher-state-1.pkl").read_bytes() == b"searcher"
        assert copy.stat().st_mode & 0o077 == 0 and not copy.is_relative_to(exp)
    finally:
        shutil.rmtree(copy.parent)


def test_install_never_seals_what_it_did_not_write(tmp_path, monkeypatch):
    from ecgzoo.tune.seal import install_state, verify_state

    exp, ray = _sealed_search(tmp_path, monkeypatch)
    work = tmp_path / "work2" / "ray"
    work.mkdir(parents=True)
    (work / "tuner.pkl").write_bytes(b"new state")
    (ray / "planted.pkl").write_bytes(b"attacker")  # written into ray/ while the search ran
    install_state(exp, work, ray)
    assert sorted(p.name for p in ray.iterdir()) == ["tuner.pkl"]
    verify_state(exp, ray)  # sealed over what this process wrote
    (ray / "tuner.pkl").write_bytes(b"changed")
    with pytest.raises(ConfigError, match="modified"):
        verify_state(exp, ray)


def test_fifo_in_ray_state_is_refused_not_waited_on(tmp_path, monkeypatch):
    import os

    from ecgzoo.tune.seal import private_state, verify_state

    exp, ray = _sealed_search(tmp_path, monkeypatch)
    (ray / "searcher-state-1.pkl").unlink()
    os.mkfifo(ray / "searcher-state-1.pkl")  # opening it for reading would block forever
    for check in (verify_state, private_state):
        with pytest.raises(ConfigError, match="FIFO"):
            check(exp, ray)


def test_symlinked_ray_state_is_refused(tmp_path, monkeypatch):
    from ecgzoo.tune.seal import private_state, verify_state

    exp, ray = _sealed_search(tmp_path, monkeypatch)
    other = tmp_path / "another-search-ray"
    ray.rename(other)
    ray.symlink_to(other)
    for check in (verify_state, private_state):
        with pytest.raises(ConfigError, match="link"):
            check(exp, ray)


# -- item 5: Ray clean-up touches only what this user's ecgzoo started --------------------------


def test_a_look_alike_ray_folder_is_never_reaped(tmp_path, monkeypatch):
    import subprocess
    import sys

    from ecgzoo.tune.cluster import reap_stale_ray

    monkeypatch.setenv("ECGZOO_HOME", str(tmp_path / "home"))
    base = tmp_path / "tmp"
    decoy = base / "ecgzoo-ray-"  # a prefix of every real folder's name
    decoy.mkdir(parents=True)
    (decoy / "ecgzoo-driver.pid").write_text("999999999\n")  # a dead driver
    real = base / "ecgzoo-ray-abc123"
    real.mkdir()
    victim = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", f"--temp-dir={real}/session"]
    )
    try:
        assert reap_stale_ray(base) == []
        assert victim.poll() is None and decoy.is_dir()
    finally:
        victim.kill()
        victim.wait(timeout=30)


def test_a_claimed_dead_ray_folder_is_reaped_exactly(tmp_path, monkeypatch):
    import subprocess
    import sys

    from ecgzoo.tune.cluster import _claim, reap_stale_ray

    monkeypatch.setenv("ECGZOO_HOME", str(tmp_path / "home"))
    base = tmp_path / "tmp"
    mine = base / "ecgzoo-ray-ab"
    sibling = base / "ecgzoo-ray-abc"  # a live search whose name starts with mine
    for folder in (mine, sibling):
        folder.mkdir(parents=True)
    (mine / "ecgzoo-driver.pid").write_text("999999999\n")
    _claim(str(mine))
    procs = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", f"{d}/x"])
        for d in (mine, sibling)
    ]
    try:
        assert reap_stale_ray(base) == [str(mine)]
        procs[0].wait(timeout=30)
        assert procs[1].poll() is None and sibling.is_dir() and not mine.exists()
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=30)
