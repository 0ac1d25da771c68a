"""Bad inputs and faults (issue 9): each gets one clear line, never a wrong result or a traceback.

Run folders here are copies of the shipped pretrained models (real weights trained on MIT-BIH),
altered the way a careless or hostile ``model.json`` would be.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from ecgzoo.errors import ConfigError, DataError
from ecgzoo.experiment import load_config
from ecgzoo.runs.runfolder import PRETRAINED_DIR

REPO = Path(__file__).resolve().parents[1]
# Absolute, so that a command run from another folder still imports this checkout.
SRC = os.pathsep.join(p for p in [str(REPO / "src"), os.environ.get("PYTHONPATH", "")] if p)


def ecgzoo(*args: str, cwd: Path | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "ecgzoo", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "160", "PYTHONPATH": SRC, **(env or {})},
        timeout=600,
    )


def one_line_error(result: subprocess.CompletedProcess, needle: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert needle in result.stderr, result.stderr


# -- config files --------------------------------------------------------------------------------


def test_empty_config_file_is_refused(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing but a comment\n")
    with pytest.raises(ConfigError, match=r"empty\.yaml: the config file is empty"):
        load_config(path)


def test_yaml_syntax_error_keeps_line_and_column(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ntrain:\n  epochs: [1, 2\n  lr: 0.1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "broken.yaml" in message and "\n" not in message
    assert "line 4, column" in message


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", "a\\b"])
def test_run_name_must_be_a_plain_folder_name(tmp_path, name):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"name": name, "output_dir": str(tmp_path / "runs")}))
    with pytest.raises(ConfigError, match="name"):
        load_config(path)
    with pytest.raises(ConfigError, match="name"):  # as an override too
        load_config(tmp_path / "c.yaml", [f"name={name}"])


@pytest.mark.slow  # the CLI in a subprocess
def test_cli_train_with_an_escaping_name_writes_nothing(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"name": "ok", "output_dir": str(tmp_path / "runs")}))
    one_line_error(ecgzoo("train", str(config), "name=../escaped", cwd=tmp_path), "name")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "runs").exists()


# -- run files: modes --------------------------------------------------------------------------


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_run_files_get_the_mode_of_normal_files(tmp_path, umask, expected):
    import torch

    from ecgzoo.datasets.kaggle_csv import write_kaggle_csv
    from ecgzoo.runs.runfolder import atomic_write_text, save_checkpoint, save_weights

    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "metrics.json", "{}\n")
        save_weights(tmp_path / "model.safetensors", {"w": torch.zeros(2)})
        save_checkpoint(tmp_path / "checkpoint.pt", {"epoch": 1})
        write_kaggle_csv(tmp_path / "k.csv", np.zeros((1, 187)), np.zeros(1, dtype=int))
        with open(tmp_path / "plain.png", "wb"):
            pass
    finally:
        os.umask(old)
    for name in ("metrics.json", "model.safetensors", "checkpoint.pt", "k.csv", "plain.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name


# -- Kaggle CSV ----------------------------------------------------------------------------------


def _kaggle_line(value: str = "5.0e-01") -> str:
    return ",".join([value] + ["5.0e-01"] * 186 + ["0.0e+00"])


def test_kaggle_csv_with_a_non_utf8_byte(tmp_path):
    from ecgzoo.datasets.kaggle_csv import read_kaggle_csv

    path = tmp_path / "bad.csv"
    path.write_bytes((_kaggle_line() + "\n").encode() + b"\xff" + _kaggle_line()[1:].encode())
    with pytest.raises(DataError, match=r"bad\.csv: line 2: not UTF-8"):
        read_kaggle_csv(path)


def test_kaggle_csv_with_a_huge_value(tmp_path):
    from ecgzoo.datasets.kaggle_csv import read_kaggle_csv

    path = tmp_path / "huge.csv"
    path.write_text("\n".join([_kaggle_line(), _kaggle_line(), _kaggle_line("1e308")]) + "\n")
    with pytest.raises(DataError, match=r"huge\.csv: line 3: column 1: .*1e308.*out of range"):
        read_kaggle_csv(path)


# -- model.json is not trusted -----------------------------------------------------------------


@pytest.fixture
def run_copy(tmp_path):
    """A copy of the pretrained intra-patient ResNet, its data cut to one record (fast)."""
    folder = tmp_path / "run"
    shutil.copytree(PRETRAINED_DIR / "mitbih-intra", folder)
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    cfg["data"]["mitbih"]["records"] = ["100", "208"]
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    return folder


def _edit_spec(folder: Path, **changes) -> None:
    spec = json.loads((folder / "model.json").read_text())
    spec.update(changes)
    (folder / "model.json").write_text(json.dumps(spec))


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"params": {"n_blocks": 4, "width": 16, "kernel": 7, "stem_stride": 2}}, "is (32,"),
        ({"params": {"n_blocks": 3, "width": 32, "kernel": 7, "stem_stride": 2}}, "weights hold"),
        ({"name": "fc"}, "model.json"),
        ({"name": "no-such-model"}, "no-such-model"),
        ({"params": {"depth": 3}}, "model.json"),
        ({"n_classes": 4, "class_names": ["N", "S", "V", "F"]}, "(5,"),
        ({"class_names": ["N", "S", "V", "F"]}, "n_classes is 5"),
        ({"n_leads": "one"}, "n_leads"),
    ],
)
def test_spec_that_does_not_match_the_weights_is_refused(run_copy, changes, needle):
    from ecgzoo.train.evaluate import load_trained_model

    _edit_spec(run_copy, **changes)
    with pytest.raises(DataError) as info:
        load_trained_model(run_copy)
    message = str(info.value)
    assert str(run_copy / "model.json") in message and "\n" not in message
    assert needle in message


def test_weights_with_an_extra_tensor_are_refused(run_copy):
    import torch
    from safetensors.torch import load_file, save_file

    from ecgzoo.train.evaluate import load_trained_model

    weights = load_file(str(run_copy / "model.safetensors"))
    weights["planted.weight"] = torch.zeros(3)
    save_file(weights, str(run_copy / "model.safetensors"))
    with pytest.raises(DataError, match="planted.weight"):
        load_trained_model(run_copy)


def test_corrupt_model_json_is_one_line(run_copy):
    from ecgzoo.train.evaluate import load_trained_model

    (run_copy / "model.json").write_text('{"name": "resnet1d", ')
    with pytest.raises(DataError, match=r"model\.json: not valid JSON"):
        load_trained_model(run_copy)


def test_evaluate_refuses_a_spec_whose_classes_are_not_the_datas(run_copy, mitdb_dir):
    # The weights fit, but metrics would be reported under the wrong class names.
    _edit_spec(run_copy, class_names=["S", "N", "V", "F", "Q"])
    one_line_error(ecgzoo("evaluate", str(run_copy), "--json"), "classes")


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"sampling_rate": 250.0}, "Hz"),
        ({"n_samples": 300}, "300 samples"),
        ({"n_leads": 2}, "2 lead(s)"),
        ({"class_names": ["N", "S", "V", "F", "X"]}, "classes"),
    ],
)
def test_spec_is_checked_against_the_data(run_copy, mitdb_dir, changes, needle):
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.runs.runfolder import read_run_config, read_spec
    from ecgzoo.train.evaluate import check_data_matches

    data = load_data(read_run_config(run_copy).data)
    spec = read_spec(run_copy)
    check_data_matches(spec, run_copy, data.test, data.class_names, data.sampling_rate)
    _edit_spec(run_copy, **changes)
    with pytest.raises(DataError, match=re.escape(needle)):
        check_data_matches(
            read_spec(run_copy), run_copy, data.test, data.class_names, data.sampling_rate
        )


# -- CLI: compare, data info, explain, Ctrl-C --------------------------------------------------


@pytest.mark.slow  # the CLI in a subprocess
def test_compare_on_a_corrupt_metrics_json(run_copy):
    (run_copy / "metrics.json").write_text('{"test": {"accuracy": 0.9')
    one_line_error(ecgzoo("compare", str(run_copy)), "metrics.json: not valid JSON (")


@pytest.mark.slow  # the CLI in a subprocess
def test_data_info_out_on_an_existing_file(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("keep me\n")
    one_line_error(ecgzoo("data", "info", "mitdb", "--out", str(target)), "is not a folder")
    assert target.read_text() == "keep me\n"


@pytest.mark.slow
def test_explain_pretrained_writes_to_the_current_folder(tmp_path, mitdb_dir):
    package_out = PRETRAINED_DIR / "mitbih-intra" / "explain"
    assert not package_out.exists()
    result = ecgzoo("explain", "pretrained:mitbih-intra", "119:5000", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "explain-mitbih-intra" / "summary.json").read_text())
    assert not package_out.exists()


def test_explain_to_an_unwritable_folder_is_one_line(tmp_path, mitdb_dir):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = blocker / "explain"
    result = ecgzoo("explain", "pretrained:mitbih-intra", "119", "--out", str(out))
    one_line_error(result, str(out))


@pytest.mark.slow  # a subprocess
def test_ctrl_c_prints_interrupted_and_exits_130(tmp_path):
    # A real SIGINT, delivered while a command is printing (inside rich), as Ctrl-C would be.
    script = (
        "import os, signal, sys, time\n"
        "import ecgzoo.cli.models as m\n"
        "from ecgzoo.cli import main\n"
        "def hit(*a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(5)\n"
        "m.console.print = hit\n"
        # a parent started in the background (`cmd &`, nohup) hands SIGINT down ignored
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "sys.argv = ['ecgzoo', 'models', 'list']\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert result.returncode == 130
    assert result.stderr.strip().splitlines()[-1] == "interrupted"
