"""A model's hyperparameters are read from its source, so checking a config or a search space
never imports torch (issue 22: a space whose model did not fit took 8.7 s to be refused). The
source reading must give exactly what the imported constructor gives."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from ecgzoo.models import registry

REPO = Path(__file__).resolve().parents[1]
MODELS = list(registry._MODELS)

SPY = """
import json, runpy, sys
sys.argv = ["ecgzoo", *json.loads(sys.argv[1])]
try:
    runpy.run_module("ecgzoo", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, **{m: m in sys.modules for m in ("torch", "hyperopt")}}))
"""


@pytest.mark.parametrize("name", MODELS)
def test_source_signature_equals_the_imported_constructor(name):
    found = registry.source_signature(name)
    assert found is not None, f"{name}: its constructor could not be read from the source"
    cls = registry.model_class(name)
    imported = registry._hyperparameters(inspect.signature(cls.__init__).parameters.values())
    assert found[0] == imported  # names, kinds, defaults and annotations
    assert registry.model_params(name) == imported
    hints = typing.get_type_hints(cls.__init__)
    fields = registry._params_schema(name).model_fields
    assert set(fields) == set(imported)
    for key, field in fields.items():
        assert field.annotation == hints.get(key, typing.Any), key
        default = imported[key].default
        assert field.is_required() == (default is inspect.Parameter.empty), key
        if default is not inspect.Parameter.empty:
            assert field.default == default, key


def test_an_annotation_the_source_cannot_resolve_falls_back_to_the_import(tmp_path, monkeypatch):
    module = tmp_path / "odd_model.py"
    module.write_text(
        "from __future__ import annotations\n"
        "WIDTH = 3\n"
        "class Odd:\n"
        "    def __init__(self, n_leads: int, n_samples: int, n_classes: int,\n"
        "                 n_features: int = 0, width: Wide = WIDTH):\n"
        "        pass\n"
        "Wide = int\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry._MODELS, "odd", ("odd_model", "Odd", "test"))
    assert registry.source_signature("odd") is None  # a non-literal default, an alias
    assert list(registry.model_params("odd")) == ["width"]  # from the import
    registry.source_signature.cache_clear()
    registry._params_schema.cache_clear()


def _spy(args: list[str]) -> tuple[dict, str]:
    proc = subprocess.run(
        [sys.executable, "-c", SPY, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src"), "COLUMNS": "200"},
        timeout=120,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.mark.parametrize(
    ("space", "needle"),
    [
        ("model: cnn2d\nparams:\n  model.params.hidden: {type: int, low: 40, high: 60}\n",
         "the space is for model 'cnn2d', not resnet1d"),
        ("params:\n  model.params.widht: {type: int, low: 8, high: 32}\n",
         "unknown parameter: model 'resnet1d' accepts"),
        ("params:\n  model.params.width: {type: choice, values: [16, wide]}\n",
         "value 'wide' does not fit model 'resnet1d': model.params.width"),
        ("params:\n  model.params.activation: {type: int, low: 1, high: 3}\n",
         "value 1 does not fit model 'resnet1d'"),
    ],
)  # fmt: skip
def test_a_space_that_does_not_fit_the_model_is_refused_without_torch(tmp_path, space, needle):
    """Refused in a fresh process before torch (and HyperOpt, for a value of the wrong type)."""
    path = tmp_path / "space.yaml"
    path.write_text(space)
    report, stderr = _spy(["tune", "configs/demo.yaml", "--space", str(path)])
    assert report["code"] == 2 and needle in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert report["torch"] is False and report["hyperopt"] is False


def test_a_full_config_check_does_not_import_torch():
    code = (
        "import sys; from ecgzoo.experiment import load_config; "
        "c = load_config('configs/demo.yaml', ['model.params.width=32']); "
        "print(c.model.params['width'], 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src")},
        timeout=120,
    )
    assert out.stdout.split() == ["32", "False"], out.stderr
