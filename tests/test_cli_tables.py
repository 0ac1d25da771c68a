"""Every table the CLI prints fits 80 columns, and no cell is cut to nothing (issue 22); what
it says after its tables when records were left out."""

from __future__ import annotations

import importlib
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

from ecgzoo.cli.data import counts_table, how_prepared
from ecgzoo.cli.models import pretrained_rows
from ecgzoo.cli.printing import print_metrics
from ecgzoo.runs.runfolder import PRETRAINED_DIR

cli_app = importlib.import_module("ecgzoo.cli.app")  # the package's `app` is the Typer

# the 26 scored label groups of the 2021 challenge as `data info cinc2021` lists them
LABELS_2021 = (
    "AF AFL BBB Brady CLBBB|LBBB CRBBB|RBBB IAVB IRBBB LAD LAnFB LPR LQRSV LQT NSIVCB NSR "
    "PAC|SVPB PR PRWP PVC|VPB QAb RAD SA SB STach TAb TInv"
).split()


def narrow_console() -> Console:
    return Console(width=80, file=io.StringIO(), color_system=None)


def render(*tables) -> str:
    console = narrow_console()
    for table in tables:
        console.print(table)
    return console.file.getvalue()


def assert_fits(text: str, cells: list[str]) -> None:
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text  # nothing truncated with an ellipsis
    flat = text.replace("\n", "").replace(" ", "").replace("│", "")
    for cell in cells:  # every cell's text is there (folded over lines at worst)
        assert cell.replace(" ", "") in flat, cell


def fake_multilabel(rng: np.random.Generator):
    def split(name: str):
        y = rng.integers(0, 2, size=(30 if name != "train" else 90, len(LABELS_2021)))
        return SimpleNamespace(y=y, groups=np.arange(len(y)))

    return SimpleNamespace(class_names=LABELS_2021, meta={"multilabel": True}, split=split)


def test_label_counts_have_labels_as_rows(monkeypatch):
    data = fake_multilabel(np.random.default_rng(0))
    table = counts_table(data, "cinc2021: positives per label and split")
    assert [c.header for c in table.columns] == ["label", "train", "val", "test"]
    text = render(table)
    assert_fits(text, LABELS_2021)
    assert Console(width=80).measure(table).maximum <= 80


def test_a_wide_table_is_transposed_and_a_long_text_folds():
    wide = [{"split": s, **{name: 1234 for name in LABELS_2021}} for s in ("train", "val")]
    table = cli_app.rich_table(wide, corner="label")
    assert len(table.columns) == 3
    long = [{"model": "m", "description": "word " * 40}]
    assert_fits(render(cli_app.rich_table(long)), ["m", "word " * 40])


def test_metric_tables_of_the_shipped_models_fit(monkeypatch):
    for name in ("mitbih-inter", "mitbih-intra", "cinc2017"):
        metrics = json.loads((PRETRAINED_DIR / name / "metrics.json").read_text())["test"]
        console = narrow_console()
        for module in ("ecgzoo.cli.printing", "ecgzoo.cli.app"):
            monkeypatch.setattr(importlib.import_module(module), "console", console)
        print_metrics(metrics, f"{name}: test split")
        text = console.file.getvalue()
        assert text and max(len(line) for line in text.splitlines()) <= 80 and "…" not in text


def test_models_list_names_the_shipped_models():
    rows = pretrained_rows()
    names = [row["name"] for row in rows]
    assert names == [
        "pretrained:cinc2017",
        "pretrained:mitbih-inter",
        "pretrained:mitbih-inter-2026-11",
        "pretrained:mitbih-inter-lightgbm",
        "pretrained:mitbih-intra",
    ]
    assert_fits(render(cli_app.rich_table(rows)), names + ["N A O ~", "mitbih (inter)"])
    shipped = rows[names.index("pretrained:mitbih-inter")]
    assert shipped["model"] == "3x beat_cnn"
    assert shipped["trained on"] == "mitbih (inter)"


def test_data_info_says_how_the_data_was_prepared():
    from ecgzoo.experiment import build_config

    cfg = build_config({"data": {"dataset": "mitbih", "mitbih": {"split": "inter"}}}).data
    line = how_prepared(cfg)
    assert "segmentation kachuee" in line and "split inter" in line and "seed 0" in line


def test_predict_prints_what_the_class_letters_mean():
    from ecgzoo.cli.apply import class_legend

    legend = class_legend(["N", "A", "O", "~"])
    assert legend.startswith("classes: N = normal sinus rhythm, A = atrial fibrillation, ")
    assert "~ = too noisy to classify" in legend
    assert "V = ventricular ectopic" in class_legend(["N", "S", "V", "F", "Q"])
    assert class_legend(["x", "y"]) == ""


def test_fail_on_skipped_counts_scored_and_skipped_records():
    from ecgzoo.cli.printing import fail_on_skipped
    from ecgzoo.errors import EcgzooError

    fail_on_skipped({"skipped": [], "per_record": {"100": {}}})  # nothing skipped: no error
    metrics = {"skipped": ["d/119: truncated", "d/820: gain 0"], "per_record": {"100": {}}}
    with pytest.raises(EcgzooError) as info:
        fail_on_skipped(metrics)
    assert str(info.value) == (
        "2 of 3 records could not be scored (the figures are over the other 1); "
        "the first: d/119: truncated"
    )
