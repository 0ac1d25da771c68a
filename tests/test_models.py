"""Model zoo: the registry contract, hyperparameter checks, and a short training run on real
MIT-BIH beats (records 100, 119 and 208 of the local PhysioNet mirror) for every model."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecgzoo.errors import ConfigError
from ecgzoo.models.registry import build_model, count_parameters, model_class

MODELS = ["fc", "cnn2d", "rnn", "cblstm", "hadln", "resnet1d"]
BEAT_LEN = 187
RHYTHM_LEN = 18_000  # 60 s at 300 Hz, as for the PhysioNet/CinC 2017 recordings
CLASSES = {"N": 0, "V": 1, "F": 2}
PER_CLASS = 64
BEFORE, AFTER = 90, BEAT_LEN - 90  # samples around the annotated R peak (360 Hz)

# Training test: default settings, except a narrower, chunked GRU (the default reads 187 steps).
TRAIN_CASES = [
    ("fc", {}),
    ("cnn2d", {}),
    ("rnn", {"hidden": 32, "chunk": 4}),
    ("cblstm", {}),
    ("hadln", {}),
    ("resnet1d", {}),
    ("resnet1d", {"n_blocks": 3, "width": 16, "kernel": 5, "stem_stride": 4}),  # FAST
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Small tensors: one thread is faster, and much faster on a busy machine (no OpenMP waits)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def beats(mitdb_dir: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Real N, V and F beats (``PER_CLASS`` each) of MLII, z-scored per beat, with RR features.

    Returns ``x`` (n, 1, 187), ``y`` (n,) and ``features`` (n, 2): the previous and next RR
    intervals in seconds, from the reference annotations.
    """
    with warnings.catch_warnings():  # wfdb's own pandas deprecation warnings
        warnings.simplefilter("ignore")
        import wfdb

    xs: list[list[np.ndarray]] = [[] for _ in CLASSES]
    rrs: list[list[tuple[float, float]]] = [[] for _ in CLASSES]
    for record in ("100", "119", "208"):
        path = str(mitdb_dir / record)
        with warnings.catch_warnings():  # wfdb's own pandas deprecation warnings
            warnings.simplefilter("ignore")
            rec = wfdb.rdrecord(path, channels=[0])
            ann = wfdb.rdann(path, "atr")
        sig, fs = rec.p_signal[:, 0], float(rec.fs)
        samples, symbols = np.asarray(ann.sample), ann.symbol
        for i in range(1, len(samples) - 1):
            label = CLASSES.get(symbols[i])
            r = int(samples[i])
            if label is None or len(xs[label]) >= PER_CLASS:
                continue
            if r < BEFORE or r + AFTER > len(sig):
                continue
            window = sig[r - BEFORE : r + AFTER]
            xs[label].append((window - window.mean()) / (window.std() + 1e-6))
            rrs[label].append(((r - samples[i - 1]) / fs, (samples[i + 1] - r) / fs))
    assert all(len(v) == PER_CLASS for v in xs), [len(v) for v in xs]
    x = torch.tensor(np.concatenate(xs), dtype=torch.float32).unsqueeze(1)
    y = torch.repeat_interleave(torch.arange(len(CLASSES)), PER_CLASS)
    features = torch.tensor(np.concatenate(rrs), dtype=torch.float32)
    return x, y, features


def _build(name: str, n_samples: int = BEAT_LEN, n_features: int = 0, **params):
    if name == "cnn2d" and n_samples > 192:
        params.setdefault("reshape", "resample")
    return build_model(name, 1, n_samples, 5, n_features=n_features, **params)


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("n_features", [0, 3])
def test_beat_output_shape(name: str, n_features: int) -> None:
    torch.manual_seed(0)
    model = _build(name, n_features=n_features).eval()
    x = torch.randn(4, 1, BEAT_LEN)
    feats = torch.randn(4, n_features) if n_features else None
    with torch.inference_mode():
        assert model(x, feats).shape == (4, 5)
        if n_features == 0:
            assert model(x).shape == (4, 5)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("n_features", [0, 2])
def test_rhythm_output_shape(name: str, n_features: int) -> None:
    torch.manual_seed(0)
    model = _build(name, RHYTHM_LEN, n_features).eval()
    x = torch.randn(2, 1, RHYTHM_LEN)
    feats = torch.randn(2, n_features) if n_features else None
    with torch.inference_mode():
        out = model(x, feats)
    assert out.shape == (2, 5)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS)
def test_side_features_change_the_output(name: str) -> None:
    torch.manual_seed(0)
    model = _build(name, n_features=2).eval()
    x = torch.randn(8, 1, BEAT_LEN)
    with torch.inference_mode():
        a = model(x, torch.zeros(8, 2))
        b = model(x, torch.full((8, 2), 3.0))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("name", MODELS)
def test_missing_side_features_is_an_error(name: str) -> None:
    model = _build(name, n_features=2).eval()
    with pytest.raises(ValueError, match="n_features=2"):
        model(torch.randn(2, 1, BEAT_LEN))


def test_multi_lead_input() -> None:
    for name in MODELS:
        model = build_model(name, 2, BEAT_LEN, 3).eval()
        with torch.inference_mode():
            assert model(torch.randn(3, 2, BEAT_LEN)).shape == (3, 3)


def test_cnn2d_grid_and_size() -> None:
    model = build_model("cnn2d", 1, BEAT_LEN, 5)
    assert 30_000 <= count_parameters(model) <= 45_000  # the study's ~37k compact CNN
    assert model.to_grid(torch.randn(2, 1, BEAT_LEN)).shape == (2, 1, 16, 12)
    with pytest.raises(ConfigError, match="cnn2d: n_samples"):
        build_model("cnn2d", 1, 252, 5)
    trimmed = build_model("cnn2d", 1, 252, 5, reshape="trim", n_blocks=3, attention=True)
    assert trimmed(torch.randn(2, 1, 252)).shape == (2, 5)


def test_resnet1d_fast_config_is_small() -> None:
    from ecgzoo.models.resnet1d import FAST

    model = build_model("resnet1d", 1, BEAT_LEN, 5, **FAST)
    assert count_parameters(model) < 20_000
    assert model(torch.randn(2, 1, BEAT_LEN)).shape == (2, 5)
    flat = build_model("resnet1d", 1, BEAT_LEN, 5, **{**FAST, "global_pool": False, "kernel": 4})
    assert flat(torch.randn(2, 1, BEAT_LEN)).shape == (2, 5)


# --------------------------------------------------------------------------- registry, checks


def test_unknown_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        build_model("nope", 1, BEAT_LEN, 5)
    with pytest.raises(ConfigError, match="unknown model .*resnet1d.*lightgbm"):
        model_class("transformer9000")
    # a tree model is known, but never built as a network (tune took it for unknown, listing it)
    with pytest.raises(ConfigError, match="lightgbm is a tree model, trained by `ecgzoo train`"):
        model_class("lightgbm")


@pytest.mark.parametrize("name", MODELS)
def test_build_model_and_unknown_parameter(name: str) -> None:
    assert count_parameters(build_model(name, 1, BEAT_LEN, 5)) > 0
    with pytest.raises(ConfigError, match=name):
        build_model(name, 1, BEAT_LEN, 5, not_a_parameter=1)


def test_rnn_hidden_must_divide_by_heads() -> None:
    with pytest.raises(ConfigError, match=r"rnn: hidden \(30\) must be divisible by n_heads \(4\)"):
        build_model("rnn", 1, BEAT_LEN, 5, hidden=30, n_heads=4)
    build_model("rnn", 1, BEAT_LEN, 5, hidden=30, n_heads=4, attention=False)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("dropout", [-0.1, 1.0])
def test_bad_dropout_is_a_config_error(name: str, dropout: float) -> None:
    with pytest.raises(ConfigError, match=rf"{name}: dropout must be in \[0, 1\)"):
        build_model(name, 1, BEAT_LEN, 5, dropout=dropout)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("cnn2d", {"activation": "swish9"}, "cnn2d: unknown activation 'swish9'"),
        ("resnet1d", {"activation": "nope"}, "resnet1d: unknown activation"),
        ("fc", {"hidden": 0}, "fc: hidden must be a positive integer"),
        ("resnet1d", {"width": -8}, "resnet1d: width must be a positive integer"),
        ("resnet1d", {"n_blocks": 2.5}, "resnet1d: n_blocks"),
        ("cnn2d", {"channels": 10, "attention": True}, r"cnn2d: channels \(10\) must be divisible"),
        ("cnn2d", {"n_blocks": 7}, "cnn2d: n_blocks must be at most 6"),
        ("rnn", {"cell": "transformer"}, "rnn: unknown cell 'transformer'"),
        ("rnn", {"attention_dropout": 1.5}, "rnn: attention_dropout"),
        ("cblstm", {"kernel": 0}, "cblstm: kernel"),
        ("hadln", {"attention": "dot"}, "hadln: unknown attention 'dot'"),
        ("hadln", {"lstm_hidden": 0}, "hadln: lstm_hidden"),
    ],
)
def test_bad_hyperparameters(name: str, params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_model(name, 1, BEAT_LEN, 5, **params)


def test_bad_contract_arguments() -> None:
    with pytest.raises(ConfigError, match="resnet1d: n_classes"):
        build_model("resnet1d", 1, BEAT_LEN, 0)
    with pytest.raises(ConfigError, match="fc: n_features"):
        build_model("fc", 1, BEAT_LEN, 5, n_features=-1)


# --------------------------------------------------------------------------- training


def _train(model, x, y, features=None, steps: int = 30, lr: float = 3e-3) -> list[float]:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(0)
    losses = []
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(y), (32,), generator=gen)
        f = None if features is None else features[idx]
        loss = F.cross_entropy(model(x[idx], f), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _eval_loss(model, x, y, features=None) -> float:
    model.eval()
    with torch.inference_mode():
        return F.cross_entropy(model(x, features), y).item()


@pytest.mark.parametrize(
    ("name", "params"), TRAIN_CASES, ids=[n + ("-custom" if p else "") for n, p in TRAIN_CASES]
)
def test_trains_on_real_beats(name: str, params: dict, beats) -> None:
    x, y, _ = beats
    torch.manual_seed(0)
    model = build_model(name, 1, BEAT_LEN, len(CLASSES), **params)
    before = _eval_loss(model, x, y)
    losses = _train(model, x, y)
    after = _eval_loss(model, x, y)
    assert all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:3]), losses
    assert after < 0.7 * before, (before, after)
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert not unused, f"parameters without gradient: {unused}"


def test_trains_with_real_rr_features(beats) -> None:
    x, y, features = beats
    torch.manual_seed(0)
    model = build_model("cnn2d", 1, BEAT_LEN, len(CLASSES), n_features=2)
    before = _eval_loss(model, x, y, features)
    _train(model, x, y, features)
    assert _eval_loss(model, x, y, features) < 0.7 * before
    assert model.head.feature_norm.weight.grad is not None


def test_batch_of_one_trains_with_side_features() -> None:
    model = build_model("resnet1d", 1, BEAT_LEN, 3, n_features=2, n_blocks=1, width=8)
    model.train()
    out = model(torch.randn(1, 1, BEAT_LEN), torch.randn(1, 2))
    out.sum().backward()
    assert out.shape == (1, 3)


@pytest.mark.parametrize("pooling", ["mean", "max", "last", "attention"])
def test_rnn_poolings(pooling: str) -> None:
    model = build_model(
        "rnn", 1, BEAT_LEN, 3, hidden=16, chunk=8, bidirectional=True, pooling=pooling
    ).eval()
    with torch.inference_mode():
        assert model(torch.randn(2, 1, BEAT_LEN)).shape == (2, 3)
