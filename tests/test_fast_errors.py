"""Config and CLI mistakes are refused before the heavy imports, blamed on where the value came
from, with the closest valid option (issue 22). The spy is ``sys.modules``, not a stopwatch:
``benchmarks/error_latency.py`` times the same mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ecgzoo.errors import ConfigError
from ecgzoo.experiment import build_config

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "lightning", "ray", "sklearn", "onnxruntime")

# run the CLI in a fresh interpreter and report which heavy modules it had imported on exit
SPY = """
import json, runpy, sys
args = json.loads(sys.argv[1])
heavy_names = sys.argv[2]
sys.argv = ["ecgzoo", *args]
try:
    runpy.run_module("ecgzoo", run_name="__main__")
except SystemExit as exc:
    code = exc.code
heavy = heavy_names.split(",")
print(json.dumps({"code": code, "heavy": [m for m in heavy if m in sys.modules]}))
"""

MISTAKES = [
    (["train", "configs/demo.yaml", "train.epoch=3"], "did you mean 'train.epochs'"),
    (["train", "configs/demo.yaml", "model.params.widht=3"], "did you mean 'width'"),
    (["train", "configs/demo.yaml", "train.monitor=val_acc"], "is not logged"),
    (["train", "configs/demo.yaml", "data.mitbih.split=inta"], "data.mitbih.split"),
    (["train", "configs/demo.yaml", "model.name=resnet"], "unknown model 'resnet'"),
    (["evaluate", "no-such-run"], "not a run folder"),
    (["evaluate", "pretrained:nosuch"], "unknown pretrained model"),
    (["compare", "no-such-run"], "not a run folder"),
    (["export", "no-such-run"], "not a run folder"),
    (["explain", "no-such-run", "100"], "not a run folder"),
    (["predict", "no-such-record"], "file not found"),
    (["annotate", "no-such-record"], "file not found"),
    (["annotate", "configs", "--model", "pretrained:nosuch"], "unknown pretrained model"),
    (["report", "no-such-run"], "file not found"),
    (["tune", "configs/demo.yaml", "--space", "configs/spaces/cnn.yaml"], "for model 'cnn2d'"),
]


@pytest.mark.parametrize(("args", "needle"), MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
def test_mistakes_are_refused_before_heavy_imports(args, needle):
    proc = subprocess.run(
        [sys.executable, "-c", SPY, json.dumps(args), ",".join(HEAVY)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src"), "COLUMNS": "200"},
        timeout=120,
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["code"] == 2, proc.stderr
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert report["heavy"] == [], f"imported {report['heavy']} before refusing"


def test_a_misspelt_override_is_blamed_on_the_command_line():
    tree = {"name": "x", "train": {"epochs": 2}}
    with pytest.raises(ConfigError) as err:
        build_config(tree, ["train.epoch=3"], source="mine.yaml")
    assert str(err.value) == (
        "command-line override 'train.epoch=3': train.epoch: no such option "
        "(did you mean 'train.epochs'?)"
    )
    with pytest.raises(ConfigError) as err:  # the same mistake in the file names the file
        build_config({"train": {"epoch": 3}}, ["train.lr=0.1"], source="mine.yaml")
    assert str(err.value).startswith("mine.yaml: train.epoch: no such option (did you mean")
    with pytest.raises(ConfigError, match="^command-line override 'model.params=.*widht"):
        build_config(tree, ["model.params={widht: 3}"], source="mine.yaml")
    with pytest.raises(ConfigError, match=r"^mine.yaml: data.mitbih.segmentaton: no such option"):
        build_config({"data": {"mitbih": {"segmentaton": "x"}}}, source="mine.yaml")


def test_model_parameter_types_are_still_checked():
    with pytest.raises(ConfigError, match="model.params.width"):
        build_config({"model": {"name": "resnet1d", "params": {"width": "wide"}}})


def test_fetch_without_a_mirror_or_network_names_the_mirror_variable(tmp_path):
    from ecgzoo.fetch.catalog import UPSTREAM_ENV

    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO / "src"),
        "ECGZOO_HOME": str(tmp_path / "home"),
        UPSTREAM_ENV: "http://127.0.0.1:9/",  # the discard port: nothing listens, no network
        "COLUMNS": "400",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "ecgzoo", "data", "fetch", "cinc2017"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2 and "cannot reach" in proc.stderr, proc.stderr
    assert "set ECGZOO_PHYSIONET_MIRROR" in proc.stderr
