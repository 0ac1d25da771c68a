"""`ecgzoo report`: the HTML page rendered by a real browser (Debian's headless Chromium).

Chromium must be installed (``make install`` does it): this test fails, never skips, without it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def screenshot(page: Path, out: Path, tmp: Path, size: str = "1280,1400") -> np.ndarray:
    """Render ``page`` in headless Chromium; the screenshot as an RGB float array."""
    import matplotlib.image as mpimg

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium not found: install it (apt-get install -y chromium, or make install)")
    profile = tmp / "chromium-profile"
    cmd = [
        binary,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--screenshot={out}",
        f"--window-size={size}",
        page.resolve().as_uri(),
    ]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert out.is_file(), "chromium wrote no screenshot"
    return mpimg.imread(out)[..., :3]


def _ink(img: np.ndarray) -> float:
    """Fraction of pixels that are not (near) white."""
    return float(np.mean(img.min(axis=-1) < 0.9))


@pytest.mark.slow
def test_run_and_comparison_page_renders(tmp_path):
    from ecgzoo.report.html import write_report
    from ecgzoo.runs.runfolder import resolve_run

    inter, intra = resolve_run("pretrained:mitbih-inter"), resolve_run("pretrained:mitbih-intra")
    page = write_report(inter, tmp_path / "run.html", compare=[intra])
    text = page.read_text()
    assert "http://" not in text and "https://" not in text  # self-contained
    assert "What was trained" in text and "inter" in text
    assert "3x beat_cnn" in text and "n_layers=3" in text  # members, not a dict dump
    assert text.count("data:image/png;base64,") >= 1
    img = screenshot(page, tmp_path / "run.png", tmp_path)
    assert img.shape[:2] == (1400, 1280)
    assert 0.03 < _ink(img) < 0.7  # text, tables and figures, not a blank page
    # the confusion matrix's blues are drawn (the image decoded and laid out)
    blue = (img[..., 2] > 0.5) & (img[..., 0] < 0.3)
    assert blue.sum() > 5000
    # the header row of the metric tables (light blue-grey #e8eef7) is visible near the top
    header = np.all(np.abs(img[:400] - np.array([0xE8, 0xEE, 0xF7]) / 255) < 0.02, axis=-1)
    assert header.sum() > 2000


@pytest.mark.slow
def test_annotated_record_page_renders(mitdb_dir, tmp_path):
    from ecgzoo.api import annotate
    from ecgzoo.datasets.mitbih import read_record
    from ecgzoo.report.html import write_report

    rec = read_record(mitdb_dir, "208")
    path = tmp_path / "strip208.npy"
    np.save(path, rec.signal[: 120 * 360].astype(np.float32))  # 2 minutes of real ECG
    result = annotate(path, "pretrained:mitbih-inter", fs=360.0)[0]
    page = write_report(path, tmp_path / "record.html")
    text = page.read_text()
    assert "ECG strips" in text and text.count("data:image/png;base64,") >= 4
    # titled by record and model, the duration as a duration (not 120.0000)
    assert "<title>Record strip208, annotated by pretrained:mitbih-inter</title>" in text
    assert "2 min 00 s" in text and "120.0000" not in text
    img = screenshot(page, tmp_path / "record.png", tmp_path, size="1280,1800")
    assert 0.02 < _ink(img) < 0.7
    red = (img[..., 0] > 0.7) & (img[..., 1] < 0.3) & (img[..., 2] < 0.3)  # V labels (tab:red)
    assert result.summary["counts"]["V"] > 0 and red.sum() > 50


def test_record_page_says_where_the_af_gate_closed(mitdb_two, tmp_path):
    from ecgzoo.api import annotate
    from ecgzoo.datasets.mitbih import read_record
    from ecgzoo.report.html import write_report

    rec = read_record(mitdb_two, "100")
    path = tmp_path / "strip100.npy"
    np.save(path, rec.signal[: 90 * 360].astype(np.float32))
    result = annotate(path, "pretrained:mitbih-inter", fs=360.0, af_gate=True, plots=False)[0]
    gate = result.summary["af_gate"]
    assert gate["model"] == "pretrained:cinc2017" and gate["beats_in_af_windows"] == 0  # sinus
    text = write_report(path, tmp_path / "record.html").read_text()
    assert (
        f"AF gate on: 0 beats lay in 30 s windows that pretrained:cinc2017 calls atrial "
        f"fibrillation (P &ge; {gate['threshold']})" in text
    )
    plain = annotate(path, "pretrained:mitbih-inter", fs=360.0, plots=False)[0]
    assert plain.summary["af_gate"] is None
    assert "AF gate" not in write_report(path, tmp_path / "plain.html").read_text()
