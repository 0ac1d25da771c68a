"""InputSpec: a training example and the same beat or recording through the apply path are the
same arrays, for every shipped model (and for a record at another rate than the model's)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgzoo.errors import DataError


def _apply_signal(folder, name, spec):
    """What ``annotate`` / ``predict`` read: the record opened by the apply reader, one lead
    chosen by the model's lead preference, read whole."""
    from ecgzoo.apply.signals import open_source

    source = open_source(folder / name)
    lead = source.lead_index(None, spec.leads)
    return source.read(lead, 0, source.n_samples), source.fs


def _aami_peaks(folder, name, reader_cls):
    from ecgzoo.examples.beats import aami_labels

    bs, bsym, _, _ = reader_cls(folder).read_beats(name)
    return aami_labels(bs, bsym)


@pytest.mark.parametrize("name", ["mitbih-inter", "mitbih-inter-2026-11", "mitbih-intra"])
def test_beat_models_eat_their_training_beats(name, mitdb_dir):
    from ecgzoo.apply.model import load_model
    from ecgzoo.datasets import mitbih
    from ecgzoo.datasets.contextset import median_channel_beats, side_features
    from ecgzoo.readers.mitdb import MitdbReader

    model = load_model(f"pretrained:{name}")
    options = model.config.data.mitbih.model_copy(update={"records": ["100", "119"]})
    arrays = mitbih.build_beats(mitdb_dir, options)  # the dataset's own preparation
    train_x = np.asarray(arrays["x"])[:, None, :]
    if model.input.median_channel:  # the beat and the beat minus its record's median beat
        train_x = median_channel_beats(np.asarray(arrays["x"]), arrays, model.input.median_of)
    if model.input.side_features == "rr_features":
        train_feats = np.asarray(arrays["rr"])
    else:
        train_feats = side_features(arrays, model.input.side_features)
    for record in ("100", "119"):
        rows = np.asarray(arrays["record"]) == int(record)
        signal, fs = _apply_signal(mitdb_dir, record, model.input)
        peaks, _ = _aami_peaks(mitdb_dir, record, MitdbReader)
        got = model.input.prepare(signal, fs, peaks)
        assert got.x.shape == (int(rows.sum()), model.spec.n_leads, model.spec.n_samples)
        assert np.array_equal(got.x, train_x[rows])
        assert np.array_equal(got.features, train_feats[rows])
        stored = np.asarray(arrays["sample"])[rows]
        if model.input.fiducial == "r_peak":
            assert np.array_equal(peaks[got.kept], stored)
        else:  # the dataset stores the aligned fiducial: within +-50 ms of the reference peak
            assert np.abs(peaks[got.kept] - stored).max() <= round(0.05 * 360)


def test_a_128_hz_svdb_record_through_a_360_hz_beat_model(svdb_dir):
    """wfdb_folder input at another rate: the apply path resamples exactly as the dataset
    preparation does when SVDB joins a 360 Hz MIT-BIH model's training."""
    from ecgzoo.apply.model import load_model
    from ecgzoo.datasets import beatset
    from ecgzoo.datasets.contextset import side_features
    from ecgzoo.readers.svdb import SvdbReader

    model = load_model("pretrained:mitbih-inter-2026-11")
    assert model.input.fs == 360.0
    reader = SvdbReader(svdb_dir)
    arrays = beatset.build_arrays(reader, ["802"], model.input.beat_settings())
    signal, fs = _apply_signal(svdb_dir, "802", model.input)
    assert fs == 128.0
    peaks, _ = _aami_peaks(svdb_dir, "802", SvdbReader)
    got = model.input.prepare(signal, fs, peaks)
    assert len(got.x) > 1000
    assert np.array_equal(got.x, np.asarray(arrays["x"])[:, None, :])
    assert np.array_equal(got.features, side_features(arrays, "rr_context"))
    # and the model scores them as a beat model (one probability row per beat)
    prob = model.predict_beats(signal, fs, peaks)
    assert prob.shape == (len(peaks), 5) and np.isfinite(prob[got.kept]).all()


def test_cinc2017_model_eats_its_training_windows(cinc2017_dir):
    from ecgzoo.apply.model import load_model
    from ecgzoo.datasets import cinc2017

    model = load_model("pretrained:cinc2017")
    source = cinc2017.training_source(cinc2017_dir)
    ref, _ = cinc2017.reference_for("v3", cinc2017_dir, source)
    names = sorted(ref)[:6]
    chunks = list(
        cinc2017.stream_windows(source, {r: ref[r] for r in names}, model.config.data.cinc2017, 1)
    )
    train_x = np.concatenate([c["x"] for c in chunks])
    train_len = np.concatenate([c["lengths"] for c in chunks])
    for i, name in enumerate(names):
        signal, fs = _apply_signal(source, name, model.input)
        got = model.input.prepare(signal, fs)
        assert np.array_equal(got.x, train_x[i : i + 1])
        assert np.array_equal(got.lengths, train_len[i : i + 1])


def test_tree_model_eats_its_training_feature_rows(mitdb_dir):
    from ecgzoo.datasets.contextset import feature_matrix, load_table
    from ecgzoo.readers.mitdb import MitdbReader
    from ecgzoo.runs.loaded import load_run

    run = load_run("pretrained:mitbih-inter-lightgbm")
    spec = run.input
    assert spec.kind == "beat_features"
    table = load_table("mitdb", ["208"], folder=mitdb_dir, cache=False)
    X, y, _, names = feature_matrix(table, spec.feature_groups, spec.amplitude_normalise)
    assert names == run.spec.params["feature_names"]
    signal, fs = _apply_signal(mitdb_dir, "208", spec)
    peaks, symbols, _, _ = MitdbReader(mitdb_dir).read_beats("208")
    got = spec.prepare(signal, fs, peaks)
    from ecgzoo.examples.beats import SYMBOL_TO_CLASS

    labelled = np.array([SYMBOL_TO_CLASS.get(str(s), -1) for s in symbols])[got.kept] >= 0
    assert np.array_equal(got.features[labelled], X)


def test_spec_in_model_json_round_trips_and_matches_the_config():
    from ecgzoo.datasets.input_specs import input_spec_for
    from ecgzoo.examples.input_spec import InputSpec
    from ecgzoo.runs.runfolder import PRETRAINED_DIR, read_run_config, read_spec

    for name in ("cinc2017", "mitbih-inter", "mitbih-intra", "mitbih-inter-lightgbm"):
        folder = PRETRAINED_DIR / name
        saved = json.loads((folder / "model.json").read_text())["input"]
        spec = InputSpec.from_json(saved)
        assert spec.to_json() == saved
        derived = input_spec_for(
            read_run_config(folder).data, read_spec(folder), tree=name.endswith("lightgbm")
        )
        assert derived == spec


def test_old_run_folder_without_input_gets_it_from_its_config(tmp_path):
    import shutil

    from ecgzoo.runs.loaded import load_run
    from ecgzoo.runs.runfolder import PRETRAINED_DIR

    folder = tmp_path / "old"
    shutil.copytree(PRETRAINED_DIR / "mitbih-intra", folder)
    tree = json.loads((folder / "model.json").read_text())
    saved = tree.pop("input")
    (folder / "model.json").write_text(json.dumps(tree))
    run = load_run(folder, weights=False)
    assert run.input.to_json() == saved


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("kind", "image", "kind"),
        ("fs", -1.0, "fs"),
        ("side_features", "rr_mystery", "side_features"),
        ("feature_std", [0.0] * 8, "feature_std"),
        ("bogus", 1, "unknown key"),
    ],
)
def test_malformed_input_is_refused_naming_model_json(tmp_path, key, value, message):
    import shutil

    from ecgzoo.runs.loaded import load_run
    from ecgzoo.runs.runfolder import PRETRAINED_DIR

    folder = tmp_path / "run"
    shutil.copytree(PRETRAINED_DIR / "mitbih-intra", folder)
    tree = json.loads((folder / "model.json").read_text())
    tree["input"][key] = value
    (folder / "model.json").write_text(json.dumps(tree))
    with pytest.raises(DataError, match=message) as err:
        load_run(folder, weights=False)
    assert "model.json" in str(err.value)


def test_input_disagreeing_with_config_is_refused(tmp_path):
    import shutil

    from ecgzoo.runs.loaded import load_run
    from ecgzoo.runs.runfolder import PRETRAINED_DIR

    folder = tmp_path / "run"
    shutil.copytree(PRETRAINED_DIR / "mitbih-inter", folder)
    tree = json.loads((folder / "model.json").read_text())
    tree["input"]["before_s"] = 0.3  # the beat cut moved: the config says 0.25
    (folder / "model.json").write_text(json.dumps(tree))
    with pytest.raises(DataError, match="before_s"):
        load_run(folder, weights=False)


@pytest.mark.parametrize(
    "options",
    [
        {"segmentation": "kachuee"},
        {"segmentation": "kachuee", "pad_to": 200},
        {"segmentation": "centered"},
        {"segmentation": "centered", "fs": 128.0, "before_s": 0.3, "after_s": 0.5},
    ],
)
def test_beat_cache_keys_are_unchanged(options):
    """The beat datasets now take their segmentation from the InputSpec: the settings (the
    core of the cache key) are the very dict they were before, so earlier caches still hit."""
    from ecgzoo.datasets.input_specs import beat_input
    from ecgzoo.examples.beats import beat_settings
    from ecgzoo.experiment import build_config

    opts = build_config({"data": {"dataset": "mitbih", "mitbih": options}}).data.mitbih
    assert beat_input(opts).beat_settings() == beat_settings(opts)


def test_models_take_the_sampling_rate_from_the_data():
    """A model that reads a rate (``fs``, as braindecode's ``sfreq``) gets the data's; a
    ``model.params.fs`` contradicting the data is refused instead of silently used."""
    from ecgzoo.errors import ConfigError
    from ecgzoo.models.registry import rate_params

    assert rate_params("spectrogram_cnn", {"nperseg": 128}, 150.0) == {"nperseg": 128, "fs": 150.0}
    assert rate_params("spectrogram_cnn", {"fs": 150}, 150.0)["fs"] == 150.0
    with pytest.raises(ConfigError, match="model.params.fs"):
        rate_params("spectrogram_cnn", {"fs": 300}, 150.0)
    assert rate_params("resnet1d", {}, 150.0) == {}  # a model that reads no rate gets none


def test_not_early_median_is_the_same_in_training_and_use_and_is_the_sinus_beat(mitdb_dir):
    """``median_of: not_early``: the dataset's second channel and ``InputSpec.prepare``'s agree
    beat for beat, and in record 232 (S beats the majority) the reference beats are sinus."""
    from ecgzoo.datasets import mitbih
    from ecgzoo.datasets.contextset import median_channel_beats
    from ecgzoo.datasets.input_specs import beat_input
    from ecgzoo.datasets.mitbih_options import MitbihOptions
    from ecgzoo.examples.beat_context import reference_beats
    from ecgzoo.readers.mitdb import MitdbReader

    options = MitbihOptions(
        segmentation="centered", split="inter", fs=128.0, records=["119", "232"],
        median_beat_channel=True, median_of="not_early",
    )  # fmt: skip
    arrays = mitbih.build_beats(mitdb_dir, options)
    x = median_channel_beats(np.asarray(arrays["x"]), arrays, "not_early")
    spec = beat_input(options)
    assert spec.median_of == "not_early" and spec.to_json()["median_of"] == "not_early"
    for record in ("119", "232"):
        rows = np.asarray(arrays["record"]) == int(record)
        signal, fs = _apply_signal(mitdb_dir, record, spec)
        peaks, labels = _aami_peaks(mitdb_dir, record, MitdbReader)
        got = spec.prepare(signal, fs, peaks)
        assert np.array_equal(got.x, x[rows])
        reference = reference_beats(peaks, "not_early")
        beats = x[rows, 0]
        median = np.median(beats[reference[got.kept]], axis=0)
        np.testing.assert_allclose(x[rows, 1], beats - median, atol=1e-6)
        if record == "232":  # 1,382 S of 1,780 beats; the not-early ones are 87 % sinus (N)
            assert np.mean(labels == 0) < 0.25 and np.mean(labels[reference] == 0) > 0.8
        else:  # 119: ventricular bigeminy; the not-early beats are all N
            assert np.mean(labels == 0) < 0.8 and np.all(labels[reference] == 0)


def test_slow_median_and_slow_rr_are_the_same_in_training_and_use(mitdb_dir):
    """``median_of: slow`` and ``rr_context_set: rr_log_slow``: the dataset's second channel
    and side input and ``InputSpec.prepare``'s agree beat for beat, and ``model.json`` carries
    the choices."""
    from ecgzoo.datasets import mitbih
    from ecgzoo.datasets.contextset import median_channel_beats, side_features
    from ecgzoo.datasets.input_specs import beat_input
    from ecgzoo.datasets.mitbih_options import MitbihOptions
    from ecgzoo.examples.beat_context import reference_beats
    from ecgzoo.readers.mitdb import MitdbReader

    options = MitbihOptions(
        segmentation="centered", split="inter", fs=128.0, records=["201"],
        median_beat_channel=True, median_of="slow", rr_context_set="rr_log_slow",
    )  # fmt: skip
    arrays = mitbih.build_beats(mitdb_dir, options)
    x = median_channel_beats(np.asarray(arrays["x"]), arrays, "slow")
    spec = beat_input(options, side_features="rr_log_slow")
    assert spec.to_json()["median_of"] == "slow" and spec.side_features == "rr_log_slow"
    signal, fs = _apply_signal(mitdb_dir, "201", spec)
    peaks, _ = _aami_peaks(mitdb_dir, "201", MitdbReader)
    got = spec.prepare(signal, fs, peaks)
    assert np.array_equal(got.x, x)
    assert np.array_equal(got.features, side_features(arrays, "rr_log_slow"))
    reference = reference_beats(peaks, "slow")
    assert reference.sum() == (len(peaks) + 1) // 2
    beats = x[:, 0]
    np.testing.assert_allclose(
        x[:, 1], beats - np.median(beats[reference[got.kept]], axis=0), atol=1e-6
    )


def test_a_twelve_lead_record_feeds_lead_ii_to_a_model_trained_on_mlii(physionet_mirror, tmp_path):
    """PTB-XL has II and V5, not MLII: the beat models take II (MLII is a modified lead II),
    as the guide's MLII, II, V5 order says; before, they took V5."""
    import ecgzoo

    record = physionet_mirror / "ptb-xl" / "1.0.3" / "records100" / "00000" / "00001_lr"
    result = ecgzoo.annotate(record, "pretrained:mitbih-inter", write=False)[0]
    assert result.summary["lead"] == "II"
    mit = ecgzoo.load_model("pretrained:mitbih-inter").input
    assert mit.lead_index(["V1", "MLII"]) == 1 and mit.lead_index(["V5", "ECG1"]) == 0
    assert mit.lead_index(["ECG1", "ECG2"]) == 0 and mit.lead_index(["I", "II", "V5"], "V5") == 2
