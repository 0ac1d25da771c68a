"""Lost or half-written output (issue 23, item 11): what a command writes is whole or absent,
and an expected mistake is one line before any work."""

from __future__ import annotations

import shutil
import signal

import pytest

from ecgzoo.errors import DataError
from tests.test_faults_outputs import run_cli

# -- item 11: lost or half-written output -------------------------------------------------------


def test_two_records_sharing_a_name_are_refused(mitdb_dir, tmp_path):
    from ecgzoo.apply.signals import find_records

    for suffix in (".hea", ".dat"):
        shutil.copy(mitdb_dir / f"100{suffix}", tmp_path / f"r100{suffix}")
    (tmp_path / "r100.hea").write_text(
        (tmp_path / "r100.hea").read_text().replace("100", "r100", 1).replace("100.dat", "r100.dat")
    )
    (tmp_path / "r100.csv").write_text("MLII\n0.1\n0.2\n")
    with pytest.raises(DataError, match="two records named 'r100'"):
        find_records(tmp_path)


def test_stale_build_folders_are_swept_live_ones_kept(tmp_path):
    import fcntl

    from ecgzoo.datasets.cache import sweep_stale_builds

    stale = tmp_path / ".abc.tmp-x1"
    live = tmp_path / ".def.tmp-y2"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "x.npy").write_bytes(b"0" * 100)
    with open(tmp_path / ".def.lock", "a+") as fh:  # a build in progress holds its lock
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        removed = sweep_stale_builds(tmp_path)
    assert removed == [stale] and not stale.exists() and live.is_dir()


def _annotation(mitdb_dir):
    import numpy as np

    from ecgzoo.apply.annotate import Annotation

    return Annotation(
        record="100",
        path=mitdb_dir / "100",
        fs=360.0,
        lead="MLII",
        n_samples=3600,
        samples=np.array([100, 400, 700]),
        labels=np.array([0, 0, 2]),
        prob=np.array([[0.9, 0.05, 0.05, 0, 0]] * 3),
        class_names=["N", "S", "V", "F", "Q"],
    )


def test_a_full_disk_leaves_none_of_annotates_outputs(mitdb_dir, tmp_path, monkeypatch):
    import errno

    from ecgzoo.apply import outputs
    from ecgzoo.apply.annotate import summarise

    ann = _annotation(mitdb_dir)
    summary = summarise(ann)

    def full(_summary):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs, "summary_png", full)  # the 4th file hits a full disk
    with pytest.raises(DataError, match="cannot write the outputs of 100 .No space left"):
        outputs.write_outputs(ann, summary, tmp_path)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    written = outputs.write_outputs(ann, summary, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written.values())


@pytest.mark.parametrize("name", ["my rec", "a$b", "a,b", 'a"b', "a[x]", "a\nb", "ab\n"])
def test_annotate_refuses_odd_record_names_before_work(tmp_path, monkeypatch, name):
    import numpy as np

    import ecgzoo.apply.annotate as annotate_mod
    from ecgzoo.api import annotate

    path = tmp_path / f"{name}.npy"
    np.save(path, np.zeros(3600, dtype=np.float32))

    def never(*args, **kwargs):
        raise AssertionError("annotated before the name was checked")

    monkeypatch.setattr(annotate_mod, "annotate_source", never)
    with pytest.raises(DataError, match="cannot name a WFDB annotation"):
        annotate(path, "pretrained:mitbih-inter", fs=360.0)


def test_annotate_output_folder_that_is_a_file_is_one_line(tmp_path):
    import numpy as np

    from ecgzoo.api import annotate

    path = tmp_path / "rec.npy"
    np.save(path, np.zeros(3600, dtype=np.float32))
    blocker = tmp_path / "out"
    blocker.write_text("a file")
    with pytest.raises(DataError, match="not a folder"):
        annotate(path, "pretrained:mitbih-inter", fs=360.0, out_dir=blocker / "sub")


def test_prepare_with_a_negative_seed_is_one_line(monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, "data", "prepare", "mitdb", "--seed", "-1")
    assert code == 2 and "seed" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ("export", "src/ecgzoo/pretrained/mitbih-inter", "--out", "{taken}"),
        ("export", "src/ecgzoo/pretrained/mitbih-inter", "--out", "{file}/model.onnx"),
        ("compare", "src/ecgzoo/pretrained/mitbih-inter", "--out", "{file}/table"),
        ("report", "src/ecgzoo/pretrained/mitbih-inter", "--out", "{file}/r.html"),
    ],
)
def test_unwritable_outputs_are_one_line(tmp_path, monkeypatch, capsys, args):
    taken = tmp_path / "taken"
    taken.mkdir()
    file = tmp_path / "a-file"
    file.write_text("x")
    argv = [a.format(taken=taken, file=file) for a in args]
    code, _, err = run_cli(monkeypatch, capsys, *argv)
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert str(tmp_path) in err


def test_a_non_utf8_csv_record_is_one_line(tmp_path):
    from ecgzoo.apply.signals import open_source

    path = tmp_path / "rec.csv"
    path.write_bytes(b"MLII\xff\xfe\n0.1\n0.2\n")
    with pytest.raises(DataError, match=r"rec\.csv: not UTF-8"):
        open_source(path, 360.0)


@pytest.mark.parametrize("text", ["", "MLII,V5\n", "\n\n"])
def test_a_csv_without_samples_is_one_line_and_no_warning(tmp_path, monkeypatch, capsys, text):
    """It printed numpy's "loadtxt: input contained no data" warning above the error."""
    import warnings

    path = tmp_path / "rec.csv"
    path.write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning on the way fails the test
        code, out, err = run_cli(monkeypatch, capsys, "annotate", str(path), "--fs", "360")
    assert code == 2 and "Warning" not in err + out
    assert err.strip() == f"error: {path}: no samples (empty file or a header alone)"


@pytest.mark.slow
def test_sigterm_during_train_is_not_success(tmp_path, mitdb_dir):
    """A scheduler's SIGTERM: exit 143 and no metrics.json (it exited 0 before)."""
    import yaml

    from tests.test_engine_faults import training_past_its_first_epoch

    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "sigterm",
                "output_dir": str(tmp_path / "runs"),
                "data": {
                    "dataset": "mitbih",
                    "mitbih": {"records": ["100", "119", "208", "209"], "max_beats_per_class": 200},
                },
                "model": {"name": "fc", "params": {"hidden": 16}},
                # Patience as long as the epochs: early stopping must not end the run before
                # the signal comes (CI saw it exit 0 first on a fast machine).
                "train": {
                    "epochs": 100000,
                    "early_stopping_patience": 100000,
                    "batch_size": 64,
                    "max_steps_per_epoch": 5,
                },
            }
        )
    )
    proc = training_past_its_first_epoch(config, tmp_path / "runs" / "sigterm")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "terminated" in err
    assert not (tmp_path / "runs" / "sigterm" / "metrics.json").exists()
