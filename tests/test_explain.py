"""Grad-CAM, padding attribution and ``explain_run`` on real MIT-BIH and challenge-2017 data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ecgzoo.datasets.cinc2017_options import Cinc2017Options
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.errors import EcgzooError
from ecgzoo.examples.transforms import log_spectrogram
from ecgzoo.experiment import build_config
from ecgzoo.explain import (
    compute_gradcam,
    explain_run,
    gradcam,
    gradcam_layer,
    padding_attribution,
)
from ecgzoo.models.registry import build_model

# Inputs of 30 s: the recordings picked below (12-27 s) end in zero padding.
CINC_LENGTH_S = 30.0


@pytest.fixture(scope="module")
def beats(mitdb_dir):
    from ecgzoo.datasets.mitbih import load_mitbih

    options = MitbihOptions(records=["119", "208"], max_beats_per_class=80, rr_features=True)
    return load_mitbih(options, seed=0, db_dir=mitdb_dir)


@pytest.fixture(scope="module")
def trained_resnet(beats):
    """A small resnet1d with RR side features, trained a few steps on real beats."""
    from ecgzoo.runs.runfolder import ModelSpec
    from ecgzoo.train.evaluate import standardise_features

    torch.manual_seed(0)
    train = beats.train
    spec = ModelSpec(
        "resnet1d", {}, 1, beats.n_samples, 5, 8, beats.class_names, beats.sampling_rate,
        train.features.mean(axis=0).tolist(), (train.features.std(axis=0) + 1e-6).tolist(),
    )  # fmt: skip
    model = build_model("resnet1d", 1, beats.n_samples, 5, 8, n_blocks=2, width=12, kernel=5)
    feats = standardise_features(train.features, spec)
    x, y = torch.from_numpy(train.x), torch.from_numpy(train.y)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(8):
        idx = torch.randperm(len(y), generator=gen)[:64]
        loss = torch.nn.functional.cross_entropy(model(x[idx], feats[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, spec


@pytest.fixture(scope="module")
def short_records(cinc2017_dir):
    """Three real challenge recordings shorter than ``CINC_LENGTH_S``, read as in training."""
    from ecgzoo.datasets import cinc2017

    ref = cinc2017.read_reference(cinc2017_dir / "REFERENCE-v3.csv")
    ids = sorted(ref)[:200]
    seconds = cinc2017.record_lengths(cinc2017_dir / "training2017", ids)
    short = [r for r, s in zip(ids, seconds, strict=True) if 12 <= s < CINC_LENGTH_S - 3][:3]
    assert len(short) == 3
    return short


def _not_constant(a: np.ndarray) -> bool:
    """Varies by more than 1% of its largest magnitude (an untrained network's maps are tiny)."""
    peak = float(np.abs(a).max())
    return peak > 0 and float(np.ptp(a)) > 1e-2 * peak


# --------------------------------------------------------------------------- Grad-CAM


def test_gradcam_1d_has_input_length_uses_features_and_eval_mode(trained_resnet, beats):
    model, spec = trained_resnet
    from ecgzoo.train.evaluate import standardise_features

    x = beats.test.x[:12]
    feats = standardise_features(beats.test.features[:12], spec)
    targets = beats.test.y[:12]
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d))
    before = bn.running_mean.clone()
    model.train()
    result = compute_gradcam(model, x, targets, features=feats)
    assert model.training  # the caller's mode is restored ...
    assert torch.equal(bn.running_mean, before)  # ... and batch-norm ran in eval mode
    assert result.grid == "time"
    assert result.layer == "blocks.1"  # the last residual block, not its 1x1 shortcut conv
    assert result.cam.shape == (12, beats.n_samples) == result.cam_time.shape
    assert result.raw.shape == (12, beats.n_samples)
    assert result.cam.min() >= 0.0 and result.cam.max() <= 1.0
    assert all(_not_constant(result.raw[i]) for i in range(12))
    lit = [i for i in range(12) if result.raw[i].max() > 0]
    assert lit and all(result.cam[i].max() == pytest.approx(1.0) for i in lit)
    assert all(_not_constant(result.cam[i]) for i in lit)
    # The side features reach forward (through captum's additional_forward_args): without them
    # this model refuses to run.
    with pytest.raises(ValueError, match="features"):
        compute_gradcam(model, x, targets)
    # The plain function returns the normalised map for one class for all.
    assert gradcam(model, x[:3], 0, features=feats[:3]).shape == (3, beats.n_samples)


def test_gradcam_spectrogram_model_on_real_recordings(tmp_path, cinc2017_dir, short_records):
    from ecgzoo.datasets import cinc2017

    options = Cinc2017Options(length_s=CINC_LENGTH_S)
    split = cinc2017.load_external(
        cinc2017_dir / "training2017", {r: "N" for r in short_records}, options
    )
    x = split.x  # (3, 1, 9000), zero padded at the end
    torch.manual_seed(0)
    model = build_model("spectrogram_cnn", 1, x.shape[-1], 4, pretrained=False)
    result = compute_gradcam(model, x, [0, 1, 2])
    spec = log_spectrogram(x, 300.0, 256, 224, fmax=60.0)[:, 0]
    assert result.grid == "spectrogram"
    assert result.layer == "backbone._conv_head"
    assert result.cam.shape == spec.shape == result.spectrogram.shape  # (3, F, T)
    assert np.allclose(result.spectrogram, spec, atol=1e-3)
    assert result.cam_time.shape == (3, x.shape[-1])
    assert all(_not_constant(result.raw[i]) for i in range(3))
    assert any(_not_constant(result.cam[i]) for i in range(3))
    lengths = np.rint(
        cinc2017.record_lengths(cinc2017_dir / "training2017", short_records) * 300
    ).astype(int)
    assert np.all(split.x[np.arange(3), 0, lengths] == 0)  # what follows is padding
    summary = padding_attribution(result.cam_time, lengths)
    for row, n in zip(summary["records"], lengths, strict=True):
        assert row["padding_share"] == pytest.approx(1 - n / x.shape[-1])
        if row["padding_fraction"] is not None:
            assert 0 <= row["padding_fraction"] <= 1
            assert row["padding_fraction"] + row["signal_fraction"] == pytest.approx(1)
    # The overlay: spectrogram with the map, signal beneath, padding shaded.
    from ecgzoo.explain.overlay import plot_spectrogram_cam

    png = plot_spectrogram_cam(
        tmp_path / "spec.png",
        x[0, 0],
        result.spectrogram[0],
        result.cam[0],
        result.cam_time[0],
        300.0,
        result.hop,
        result.nperseg,
        length=int(lengths[0]),
        title=short_records[0],
        pad_fraction=summary["records"][0]["padding_fraction"],
    )
    assert png.read_bytes()[:4] == b"\x89PNG" and not list(tmp_path.glob(".*tmp*"))


def test_layer_choice_per_model_family(beats):
    n = beats.n_samples
    assert gradcam_layer(build_model("resnet1d", 1, n, 5, n_blocks=3)) is not None
    hadln = build_model("hadln", 1, n, 5)
    assert gradcam_layer(hadln) is hadln.cnn[-1]  # last residual block of the CNN branch
    cblstm = build_model("cblstm", 1, n, 5)
    assert gradcam_layer(cblstm) is [m for m in cblstm.conv if isinstance(m, torch.nn.Conv1d)][-1]
    # cnn2d: the map on the 16 x 12 grid is unfolded back to the beat's samples.
    cnn2d = build_model("cnn2d", 1, n, 5)
    result = compute_gradcam(cnn2d, beats.test.x[:4], 0)
    assert result.grid == "beat_grid"
    assert result.cam.shape == (4, 16, 12) and result.cam_time.shape == (4, n)

    class WithLayer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv1d(1, 4, 3, padding=1)
            self.b = torch.nn.Conv1d(4, 4, 3, padding=1)

        def gradcam_layer(self):
            return self.a

        def forward(self, x, features=None):
            return self.b(self.a(x)).mean(dim=-1)

    custom = WithLayer()
    assert gradcam_layer(custom) is custom.a


def test_rnn_without_convolution_gets_a_clear_error(beats):
    model = build_model("rnn", 1, beats.n_samples, 5, hidden=16, n_heads=2)
    with pytest.raises(EcgzooError, match="needs a convolutional layer") as info:
        gradcam(model, beats.test.x[:2], 0)
    assert "rnn" in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- padding


def test_padding_attribution_on_hand_made_maps():
    flat = np.ones((1, 100))
    assert padding_attribution(flat, [50])["records"][0]["padding_fraction"] == 0.5
    maps = np.zeros((4, 100))
    maps[0, :] = 1.0  # flat, 25 padded samples
    maps[1, :60] = 2.0  # all on the signal
    maps[2, 80:] = 0.5  # all on the padding
    # maps[3]: no attribution at all
    out = padding_attribution(maps, [75, 60, 80, 90])
    rows = out["records"]
    assert rows[0]["padding_fraction"] == pytest.approx(0.25)
    assert rows[0]["padding_share"] == pytest.approx(0.25)
    assert rows[0]["padding_ratio"] == pytest.approx(1.0)
    assert rows[1]["padding_fraction"] == 0.0 and rows[1]["signal_fraction"] == 1.0
    assert rows[2]["padding_fraction"] == 1.0 and rows[2]["padding_ratio"] == pytest.approx(5.0)
    assert rows[3]["padding_fraction"] is None and rows[3]["padding_share"] == pytest.approx(0.1)
    assert out["mean"]["padding_fraction"] == pytest.approx((0.25 + 0 + 1) / 3)
    assert out["mean"]["padding_share"] == pytest.approx((0.25 + 0.4 + 0.2 + 0.1) / 4)
    no_pad = padding_attribution(np.ones((1, 10)), [10])["records"][0]
    assert no_pad["padding_fraction"] == 0.0 and no_pad["padding_ratio"] is None


# --------------------------------------------------------------------------- explain_run


def test_explain_run_on_a_tiny_cinc2017_run(tmp_path, cinc2017_dir, short_records):
    from ecgzoo.datasets.cinc2017 import load_cinc2017
    from ecgzoo.train.engine import train_run

    config = build_config(
        {
            "name": "tiny-cinc",
            "output_dir": str(tmp_path),
            "data": {
                "dataset": "cinc2017",
                "cinc2017": {"max_records": 24, "length_s": CINC_LENGTH_S},
            },
            "model": {"name": "resnet1d", "params": {"n_blocks": 2, "width": 8, "kernel": 5}},
            "train": {"epochs": 1, "batch_size": 8, "max_steps_per_epoch": 2},
        }
    )
    data = load_cinc2017(config.data.cinc2017, seed=0, root=cinc2017_dir)
    run = train_run(config, data=data, progress=False).run_dir

    out = tmp_path / "explain"
    records = short_records[:2]
    summary = explain_run(str(run), records, out, root=cinc2017_dir)
    assert [r["record"] for r in summary["records"]] == records
    pngs = sorted(p.name for p in out.glob("*.png"))
    listed = sorted(t["png"] for r in summary["records"] for t in r["targets"])
    assert pngs == listed and len(pngs) == summary["n_maps"]
    for row in summary["records"]:
        classes = [t["class"] for t in row["targets"]]
        assert classes[0] == row["predicted"]
        assert classes == (
            [row["predicted"]] + ([row["true"]] if row["true"] != row["predicted"] else [])
        )
        assert row["length_s"] < CINC_LENGTH_S and row["padding_share"] > 0.05
        for tgt in row["targets"]:
            assert tgt["padding_fraction"] is None or 0 <= tgt["padding_fraction"] <= 1
            assert (out / tgt["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "summary.json").read_text())
    assert saved["records"][0]["record"] == records[0]
    md = (out / "summary.md").read_text()
    assert "padding" in md and records[0] in md

    # Listed classes: one PNG per record and class ("~" is written "noisy").
    out2 = tmp_path / "explain2"
    summary2 = explain_run(str(run), records, out2, classes=["N", "~"], root=cinc2017_dir)
    assert summary2["n_maps"] == 4
    assert sorted(p.name for p in out2.glob("*.png")) == sorted(
        f"{r}_{c}.png" for r in records for c in ("N", "noisy")
    )

    with pytest.raises(EcgzooError, match="A99999") as info:
        explain_run(str(run), ["A99999"], tmp_path / "bad", root=cinc2017_dir)
    assert "\n" not in str(info.value)
    with pytest.raises(EcgzooError, match="unknown class"):
        explain_run(str(run), records[:1], tmp_path / "bad", classes=["X"], root=cinc2017_dir)


def test_explain_run_on_mitbih_beats(tmp_path, mitdb_dir, beats):
    from ecgzoo.train.engine import train_run

    config = build_config(
        {
            "name": "tiny-mitbih",
            "output_dir": str(tmp_path),
            "data": {
                "dataset": "mitbih",
                "mitbih": {
                    "records": ["119", "208"],
                    "max_beats_per_class": 80,
                    "rr_features": True,
                },
            },
            "model": {"name": "cblstm", "params": {"channels": 8, "hidden": 8}},
            "train": {"epochs": 1, "batch_size": 32, "max_steps_per_epoch": 2},
        }
    )
    run = train_run(config, data=beats, progress=False).run_dir
    out = tmp_path / "explain"
    summary = explain_run(str(run), ["119", "208:1000"], out, root=mitdb_dir, beats_per_class=1)
    ids = [r["record"] for r in summary["records"]]
    first = [r for r in summary["records"] if r["record"].startswith("119_s")]
    assert sorted({r["true"] for r in first}) == ["N", "V"]  # record 119: one beat per class
    assert len(first) == 2
    beat = summary["records"][-1]
    assert beat["record"] == ids[-1] and beat["record"].startswith("208_s")
    assert abs(beat["r_peak_sample_360hz"] - 1000) <= 180
    assert summary["layer"].startswith("conv.")
    assert len(list(out.glob("*.png"))) == summary["n_maps"]
    # Kachuee beats are zero-padded to 187 samples: the padding is measured.
    assert all(0 < r["padding_share"] < 1 for r in summary["records"])
    with pytest.raises(EcgzooError, match="'999'"):
        explain_run(str(run), ["999"], tmp_path / "bad", root=mitdb_dir)
    with pytest.raises(EcgzooError, match="119:5"):
        explain_run(str(run), ["119:5"], tmp_path / "bad", root=mitdb_dir)


def test_the_shipped_median_channel_ensemble_is_explained_on_its_beat(tmp_path, mitdb_dir):
    """The overlay draws the beat itself, not its mean with the beat-minus-median channel."""
    from ecgzoo.apply.model import load_model
    from ecgzoo.explain.runner import displayed_signal

    spec = load_model("pretrained:mitbih-inter").input
    assert spec.median_channel
    x = np.stack([np.linspace(0, 1, 90), np.full(90, 5.0)])
    np.testing.assert_array_equal(displayed_signal(x, spec), x[0])
    plain = load_model("pretrained:mitbih-inter-2026-11").input
    np.testing.assert_array_equal(displayed_signal(x, plain), x.mean(axis=0))
    summary = explain_run("pretrained:mitbih-inter", ["208:2000"], tmp_path, root=mitdb_dir)
    assert summary["n_maps"] >= 1 and len(list(tmp_path.glob("208_s*.png"))) == summary["n_maps"]
