"""Each dataset's :class:`InputSpec` and class list, in one place.

A model trained now carries its ``InputSpec`` in ``model.json``; a run folder written before
that (``model.json`` without ``input``) gets it derived here, once, from its ``config.yaml``
(:func:`input_spec_for`). The same derivation is what training writes, so the two agree.
"""

from __future__ import annotations

from typing import Any

from ecgzoo.datasets import registry
from ecgzoo.examples.beats import LEAD_PREFERENCE, beat_settings
from ecgzoo.examples.input_spec import InputSpec
from ecgzoo.examples.windows import n_samples_for


def beat_input(
    options: Any,
    side_features: str | None = None,
    feature_mean: list[float] | tuple[float, ...] = (),
    feature_std: list[float] | tuple[float, ...] = (),
) -> InputSpec:
    """Beats cut as the beat ``options`` say (``MitbihOptions``/``SvdbOptions``)."""
    settings = beat_settings(options)
    aligned = getattr(options, "align_fiducial", "none") != "none"
    common = {
        "kind": "beats",
        "fiducial": str(options.align_fiducial) if aligned else "r_peak",
        "median_channel": bool(getattr(options, "median_beat_channel", False)),
        "median_of": str(getattr(options, "median_of", "all")),
        "beat_scale": str(getattr(options, "beat_scale", "none")),
        "leads": tuple(LEAD_PREFERENCE),
        "side_features": side_features,
        "feature_mean": tuple(float(v) for v in feature_mean),
        "feature_std": tuple(float(v) for v in feature_std),
    }
    if settings["segmentation"] == "kachuee":
        return InputSpec(
            fs=float(settings["fs"]), length=int(settings["length"]), segmentation="kachuee",
            **common,
        )  # fmt: skip
    fs = float(settings["fs"])
    before, after = float(settings["before_s"]), float(settings["after_s"])
    return InputSpec(
        fs=fs,
        length=int(round(before * fs)) + int(round(after * fs)),
        segmentation="centered",
        before_s=before,
        after_s=after,
        lowpass_hz=settings.get("lowpass_hz"),
        **common,
    )


def window_input(options: Any, crop: int | None = None) -> InputSpec:
    """One lead, resampled, padded or trimmed, transformed (``Cinc2017Options``)."""
    return InputSpec(
        kind="window",
        fs=float(options.fs),
        length=n_samples_for(options),
        length_s=float(options.length_s),
        fill=str(getattr(options, "fill", "zero")),
        normalise=bool(options.normalise),
        transform=str(options.transform),
        nperseg=int(options.nperseg),
        noverlap=int(options.noverlap),
        fmax=None if options.fmax is None else float(options.fmax),
        n_scales=int(options.n_scales),
        scalogram_step=options.scalogram_step,
        crop=crop,
    )


def multilabel_input(options: Any, crop: int | None = None) -> InputSpec:
    """Named leads, resampled, first ``length_s`` or zero-padded (``Cinc2021Options``)."""
    return InputSpec(
        kind="multilabel",
        fs=float(options.fs),
        length=max(1, int(round(options.length_s * float(options.fs)))),
        length_s=float(options.length_s),
        leads=tuple(options.leads),
        normalise=bool(options.normalise),
        crop=crop,
    )


def table_input(options: Any) -> InputSpec:
    """The context table of a tree model: centred beats at 128 Hz plus the record's context."""
    from ecgzoo.examples import beat_context as bc

    fs = bc.CONTEXT_FS
    return InputSpec(
        kind="beat_features",
        fs=fs,
        length=int(round(bc.BEFORE_S * fs)) + int(round(bc.AFTER_S * fs)),
        segmentation="centered",
        before_s=bc.BEFORE_S,
        after_s=bc.AFTER_S,
        leads=tuple(LEAD_PREFERENCE),
        feature_groups=tuple(options.context_groups),
        amplitude_normalise=bool(options.amplitude_normalise),
    )


def beats_for(options: Any, spec: Any) -> InputSpec:
    """A beat dataset's model input (its side features as ``model.json`` names them)."""
    side = None
    if spec.n_features:
        from ecgzoo.datasets.contextset import context_set

        # a run saved before model.json named its set took what its config says
        side = spec.side_features or context_set(options) or "rr_features"
    return beat_input(options, side, spec.feature_mean, spec.feature_std)


def kaggle_for(options: Any, spec: Any) -> InputSpec:
    """The Kaggle CSVs are Kachuee beats: 187 samples at 125 Hz (padded to n_samples)."""
    return InputSpec(
        kind="beats", fs=125.0, length=int(spec.n_samples), segmentation="kachuee",
        leads=tuple(LEAD_PREFERENCE),
    )  # fmt: skip


def windows_for(options: Any, spec: Any) -> InputSpec:
    return window_input(options, spec.crop_samples)


def multilabel_for(options: Any, spec: Any) -> InputSpec:
    return multilabel_input(options, spec.crop_samples)


def input_spec_for(data: Any, spec: Any, *, tree: bool = False) -> InputSpec:
    """The :class:`InputSpec` of a model (``ModelSpec`` ``spec``) trained on the data config
    ``data`` (the dataset's ``DatasetSpec.input_spec``); ``tree``: a tree model (its input is
    the context table of the beat options)."""
    if tree:
        return table_input(data.mitbih)
    return registry.get(str(data.dataset)).model_input(data, spec)


def saved_input(data: Any, spec: Any, *, tree: bool = False) -> dict[str, Any] | None:
    """What training writes into ``model.json`` as ``input`` (``None`` for datasets whose
    models cannot be applied to a recording yet)."""
    if not tree and registry.get(str(data.dataset)).input_spec is None:
        return None
    return input_spec_for(data, spec, tree=tree).to_json()


def dataset_classes(data: Any) -> list[str] | None:
    """The class list (in order) a dataset's examples are labelled with, or ``None`` where it
    depends on files not read here (the 2021 challenge's scored classes)."""
    return registry.get(str(data.dataset)).class_names(data)
