"""Model registry: name -> class, with a one-line description (drives ``ecgzoo models list``).

Every model follows one contract: ``Model(n_leads, n_samples, n_classes, n_features=0, **hparams)``;
``forward(x, features=None)`` takes ``x`` of shape ``(batch, n_leads, n_samples)`` and optional
side features ``(batch, n_features)``, and returns logits ``(batch, n_classes)``.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import functools
import importlib
import importlib.util
import inspect
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, ValidationError, create_model

from ecgzoo.errors import ConfigError

if TYPE_CHECKING:  # annotations only: validating a config must not import torch (issue 22)
    import torch.nn as nn

#: Constructor arguments every model takes from the data, never from ``model.params``.
SHAPE_ARGS = ("n_leads", "n_samples", "n_classes", "n_features")

# name -> (module, class name, one-line description); imported lazily to keep import cheap.
_MODELS: dict[str, tuple[str, str, str]] = {
    "fc": ("ecgzoo.models.fc", "FC", "two 1000-unit ReLU layers and a classifier (baseline)"),
    "cnn2d": ("ecgzoo.models.cnn2d", "CNN2D", "ConvBlocks on the beat reshaped to 16 x 12"),
    "rnn": ("ecgzoo.models.rnn", "RNN", "GRU or LSTM with multi-head attention over time"),
    "cblstm": ("ecgzoo.models.cblstm", "CBLSTM", "convolution, batch norm, ReLU, BiLSTM"),
    "hadln": ("ecgzoo.models.hadln", "HADLN", "residual CNN + BiLSTM branches with attention"),
    "resnet1d": ("ecgzoo.models.resnet1d", "ResNet1D", "1D ResNet scalable in depth/width/kernel"),
    "beat_cnn": (
        "ecgzoo.models.beat_cnn",
        "BeatCNN",
        "small position-keeping CNN + MLP head joining RR context (inter-patient beats)",
    ),
    "spectrogram_cnn": (
        "ecgzoo.models.spectrogram_cnn",
        "SpectrogramCNN",
        "EfficientNet-Lite0 on a log spectrogram, ImageNet transfer",
    ),
    "ensemble": (
        "ecgzoo.models.ensemble",
        "Ensemble",
        "mean probability of member models (built from trained runs by `ecgzoo ensemble`)",
    ),
}


# Models trained outside the torch engine (``ecgzoo.train.trees``): name -> description.
TREE_MODELS: dict[str, str] = {
    "lightgbm": "gradient-boosted trees on label-free RR + morphology features (fold ensemble)",
}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str
    kind: str = "torch"  # "torch": a zoo network; "trees": trained by ecgzoo.train.trees


def available_models() -> list[ModelInfo]:
    """The zoo's torch networks (every one follows the model contract)."""
    return [ModelInfo(name, desc) for name, (_, _, desc) in _MODELS.items()]


def available_tree_models() -> list[ModelInfo]:
    """Models trained outside the torch engine (gradient-boosted trees)."""
    return [ModelInfo(name, desc, "trees") for name, desc in TREE_MODELS.items()]


def is_tree_model(name: str) -> bool:
    """Whether ``name`` is a tree model (trained and scored by ``ecgzoo.train.trees``)."""
    return name in TREE_MODELS


def model_class(name: str) -> type[nn.Module]:
    if name not in _MODELS:
        torch_models = ", ".join(_MODELS)
        if name in TREE_MODELS:  # trained by ecgzoo.train.trees, never built as a network
            raise ConfigError(
                f"model.name: {name} is a tree model, trained by `ecgzoo train` only; this "
                f"takes a torch model ({torch_models})"
            )
        known = ", ".join([*_MODELS, *TREE_MODELS])  # a config may name a tree model too
        raise ConfigError(f"model.name: unknown model {name!r} (choose from {known})")
    module, cls, _ = _MODELS[name]
    return getattr(importlib.import_module(module), cls)


def build_model(
    name: str, n_leads: int, n_samples: int, n_classes: int, n_features: int = 0, **params
) -> nn.Module:
    """Instantiate a registered model; bad hyperparameters raise ``ConfigError``."""
    cls = model_class(name)
    try:
        return cls(n_leads, n_samples, n_classes, n_features=n_features, **params)
    except TypeError as exc:
        raise ConfigError(f"model.params for {name!r}: {exc}") from None


def rate_params(name: str, params: dict[str, Any], rate: float) -> dict[str, Any]:
    """``params`` with the data's signal ``rate`` as ``fs`` for a model that reads one (as
    braindecode's models take ``sfreq``): the rate is stated once, by the data; an ``fs`` in
    ``params`` that contradicts it is refused. The engine saves the result in ``model.json``,
    so the model is rebuilt with the rate it trained with."""
    params = dict(params)
    if "fs" not in model_params(name):
        return params
    if "fs" in params and abs(float(params["fs"]) - float(rate)) > 1e-6:
        raise ConfigError(
            f"model.params.fs: {params['fs']} Hz, but the data is at {float(rate):g} Hz "
            "(the model takes the data's rate: leave fs out)"
        )
    params["fs"] = float(rate)
    return params


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_params(name: str) -> dict[str, inspect.Parameter]:
    """The hyperparameters ``model.params`` may set for model ``name``: its constructor's
    keyword arguments beyond the shape ones, with their defaults (read from the source when it
    allows, :func:`source_signature`, so checking a config or a search space needs no torch)."""
    if name in _MODELS:
        found = source_signature(name)
        if found is not None:
            return dict(found[0])
    params = inspect.signature(model_class(name).__init__).parameters
    return _hyperparameters(params.values())


def _hyperparameters(params: typing.Iterable[inspect.Parameter]) -> dict[str, inspect.Parameter]:
    return {
        p.name: p
        for p in params
        if p.name != "self"
        and p.name not in SHAPE_ARGS
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def _init_node(name: str) -> tuple[ast.Module, ast.FunctionDef] | None:
    """The parsed module of model ``name`` and its class's own ``__init__`` (None: not found)."""
    module, cls_name, _ = _MODELS[name]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return None
    tree = ast.parse(open(spec.origin, encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    return tree, item
    return None


@functools.cache
def declared_params(name: str) -> tuple[str, ...] | None:
    """The hyperparameter names of model ``name`` read from its source, without importing it
    (and torch): a misspelt ``model.params`` key is refused in milliseconds. None when the
    constructor is not written out in the class itself (then the import decides)."""
    found = _init_node(name)
    if found is None or found[1].args.vararg or found[1].args.kwarg:
        return None
    args = found[1].args
    names = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
    return tuple(n for n in names if n != "self" and n not in SHAPE_ARGS)


@functools.cache
def source_signature(name: str) -> tuple[dict[str, inspect.Parameter], dict[str, Any]] | None:
    """Model ``name``'s hyperparameters as :func:`inspect.signature` gives them once the class
    is imported, and the names its annotations may use, read from the source without importing
    it (a model module imports torch: 2-8 s, where checking a config should take well under
    a second). None (the import decides) unless the module postpones its annotations (so they
    are the same strings), every default is a literal and every annotation names only builtins
    and what the module imports from ``typing`` or ``collections.abc``."""
    found = _init_node(name)
    if found is None:
        return None
    tree, init = found
    postponed = any(
        isinstance(n, ast.ImportFrom)
        and n.module == "__future__"
        and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )
    if not postponed:
        return None
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in ("typing", "collections.abc"):
            source = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(source, alias.name):
                    names[alias.asname or alias.name] = getattr(source, alias.name)
    args = init.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[Any] = [inspect.Parameter.empty] * (len(positional) - len(args.defaults))
    params: list[inspect.Parameter] = []
    kinds = [inspect.Parameter.POSITIONAL_ONLY] * len(args.posonlyargs)
    kinds += [inspect.Parameter.POSITIONAL_OR_KEYWORD] * len(args.args)
    pairs = list(zip(positional, [*defaults, *args.defaults], kinds, strict=True))
    pairs += [
        (a, inspect.Parameter.empty if d is None else d, inspect.Parameter.KEYWORD_ONLY)
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    if args.vararg or args.kwarg:
        return None
    allowed = set(names) | set(dir(builtins))
    for arg, default, kind in pairs:
        annotation: Any = inspect.Parameter.empty
        if arg.annotation is not None:
            annotation = ast.unparse(arg.annotation)
            nodes = list(ast.walk(arg.annotation))
            used = {n.id for n in nodes if isinstance(n, ast.Name)}
            if not used <= allowed or any(isinstance(n, ast.Attribute) for n in nodes):
                return None  # e.g. nn.Module or a module-level alias: import to resolve it
        if isinstance(default, ast.AST):
            try:
                default = ast.literal_eval(default)
            except ValueError:
                return None
        params.append(inspect.Parameter(arg.arg, kind, default=default, annotation=annotation))
    return _hyperparameters(params), names


@functools.cache  # one schema per model: tune validates many trial configs
def _params_schema(name: str) -> type:
    """A strict pydantic model of ``name``'s hyperparameters, built from its constructor (from
    its source when :func:`source_signature` can read it: the same fields, no torch)."""
    found = source_signature(name)
    if found is not None:
        params, names = found
        hints = {
            k: eval(p.annotation, {"__builtins__": builtins}, names)  # noqa: S307 (see below)
            for k, p in params.items()
            if p.annotation is not inspect.Parameter.empty
        }  # the annotations name only builtins and typing/collections.abc (checked above)
        cls_name = _MODELS[name][1]
    else:
        cls = model_class(name)
        cls_name = cls.__name__
        try:
            hints = typing.get_type_hints(cls.__init__)
        except Exception:  # an annotation that cannot be resolved: check names only
            hints = {}
        params = model_params(name)
    fields: dict[str, Any] = {
        k: (hints.get(k, Any), ... if p.default is p.empty else p.default)
        for k, p in params.items()
    }
    return create_model(f"{cls_name}Params", __config__=ConfigDict(extra="forbid"), **fields)


def model_params_problem(name: str, params: dict[str, Any], light: bool = False) -> str | None:
    """Why ``params`` are not valid hyperparameters of model ``name`` (None when they are):
    unknown or misspelt names (with the valid ones listed) and values of the wrong type.

    ``light``: the names only, from the source (no torch import); the types are left to a
    full check once everything else is valid."""
    if light:
        if is_tree_model(name):
            return None
        if name not in _MODELS:
            model_class(name)  # the one-line unknown-model error
        names = declared_params(name)
        return None if names is None else _unknown_param(name, params, names)
    if is_tree_model(name):
        from ecgzoo.models.tree_params import tree_params

        try:
            tree_params(params)
        except ConfigError as exc:
            return str(exc)
        return None
    problem = _unknown_param(name, params, list(model_params(name)))
    if problem:
        return problem
    try:
        _params_schema(name).model_validate(params)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        return f"model.params.{loc}: {err['msg']} (got {err.get('input')!r})"
    return None


def _unknown_param(name: str, params: dict[str, Any], valid: typing.Sequence[str]) -> str | None:
    for key in params:
        if key in SHAPE_ARGS:
            return f"model.params.{key}: set by the data, not by the config"
        if key not in valid:
            close = difflib.get_close_matches(key, list(valid), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            return (
                f"model.params.{key}: {name!r} has no such parameter ({hint}"
                f"valid: {', '.join(valid) or 'none'})"
            )
    return None
