"""A toy dataset in one module, as ``docs/adding-a-dataset.md`` describes: 10 s windows of a
few MIT-BIH records, labelled by whether the window holds a ventricular (V) beat.

Its reader is the existing WFDB folder reader; its examples are made by its ``InputSpec``
(the same function a model trained on it will be fed through); registering it is all the rest
of ecgzoo needs (config, ``load_data``, the run loader, ``apply``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from ecgzoo.datasets import registry
from ecgzoo.datasets.arrays import ArraySplit, PreparedData
from ecgzoo.examples.input_spec import InputSpec
from ecgzoo.readers.mitdb import MitdbReader

CLASSES = ("no_V", "V")


class ToyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: list[str] = ["119", "100", "208", "203"]
    window_s: float = 10.0
    fs: float = 125.0


def input_spec(options: ToyOptions, model_spec: Any = None) -> InputSpec:
    n = int(round(options.window_s * options.fs))
    return InputSpec(
        kind="window", fs=options.fs, length=n, length_s=options.window_s, normalise=True
    )


def prepare(options: ToyOptions, seed: int) -> PreparedData:
    spec = input_spec(options)
    reader = MitdbReader(registry_folder())
    xs, ys, groups = [], [], []
    for name in options.records:
        rec = reader.read(name)
        lead = rec.signal[spec.lead_index(rec.lead_names)]
        step = int(round(options.window_s * rec.fs))
        for start in range(0, rec.n_samples - step + 1, step * 6):  # every minute
            x = spec.prepare(lead[start : start + step], rec.fs).x[0]
            beats = (rec.beat_samples >= start) & (rec.beat_samples < start + step)
            xs.append(x)
            ys.append(int(np.isin(rec.beat_symbols[beats], ["V"]).any()))
            groups.append(int(name))
    x, y, g = np.stack(xs), np.asarray(ys), np.asarray(groups)
    test, val = g == int(options.records[0]), g == int(options.records[1])
    train = ~(test | val)
    split = {
        k: ArraySplit(x[m], y[m], g[m]) for k, m in (("train", train), ("val", val), ("test", test))
    }
    return PreparedData(**split, class_names=list(CLASSES), sampling_rate=options.fs, meta={})


def registry_folder():
    from ecgzoo.readers.mitdb import default_folder

    return default_folder()


SPEC = registry.DatasetSpec(
    "toy_windows", "recordings", prepare, classes=CLASSES, options=ToyOptions,
    input_spec=input_spec, example_records=("119",),
    description="toy: 10 s MIT-BIH windows, V beat or not",
)  # fmt: skip
registry.register(SPEC, replace=True)
