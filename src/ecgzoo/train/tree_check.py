"""Check a LightGBM text model's structure before LightGBM parses it.

LightGBM's text format carries no pickle, but its C++ parser trusts the file: an out-of-range
``split_feature``, leaf or child index reads outside its arrays (a segfault), a node that points
back at an ancestor makes prediction loop forever, a truncated file or a ``tree_sizes`` that
disagrees with the trees aborts the process. A received run folder's ``fold_K.txt`` is
therefore read once, as bytes, and checked here line by line; only text that passed is handed
to ``lgb.Booster(model_str=...)``. What passes: a multiclass model of numerical splits (the only
kind ecgzoo trains) whose every tree is a proper binary tree over its ``num_leaves`` leaves,
with features and sizes that agree with the run's ``model.json``. Anything else is one
:class:`~ecgzoo.errors.DataError` naming the file.
"""

from __future__ import annotations

import math
from pathlib import Path

from ecgzoo.errors import DataError

__all__ = ["MAX_MODEL_BYTES", "checked_model_text"]

#: The largest tree model read (ecgzoo's are about 0.5 MB per fold).
MAX_MODEL_BYTES = 64 << 20
_HEADER_KEYS = {
    "version",
    "num_class",
    "num_tree_per_iteration",
    "label_index",
    "max_feature_idx",
    "objective",
    "feature_names",
    "feature_infos",
    "tree_sizes",
    "average_output",
}
_TREE_KEYS = {
    "num_leaves",
    "num_cat",
    "split_feature",
    "split_gain",
    "threshold",
    "decision_type",
    "left_child",
    "right_child",
    "leaf_value",
    "leaf_weight",
    "leaf_count",
    "internal_value",
    "internal_weight",
    "internal_count",
    "is_linear",
    "shrinkage",
}


class _Bad(Exception):
    pass


def _fields(lines: list[str], allowed: set[str], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        if "=" not in line:
            if line in ("average_output",):  # a flag line
                out[line] = ""
                continue
            raise _Bad(f"{where}: unexpected line {line[:40]!r}")
        key, value = line.split("=", 1)
        if key not in allowed or key in out:
            raise _Bad(f"{where}: unexpected or repeated key {key[:40]!r}")
        out[key] = value
    return out


def _int(text: str, what: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _Bad(f"{what}: not an integer ({text[:40]!r})") from None
    if not low <= value <= high:
        raise _Bad(f"{what}: {value} outside {low} .. {high}")
    return value


def _ints(text: str, n: int, what: str, low: int, high: int) -> list[int]:
    parts = text.split(" ") if text else []
    if len(parts) != n:
        raise _Bad(f"{what}: {len(parts)} values, expected {n}")
    return [_int(p, what, low, high) for p in parts]


def _floats(text: str, n: int, what: str) -> None:
    parts = text.split(" ") if text else []
    if len(parts) != n:
        raise _Bad(f"{what}: {len(parts)} values, expected {n}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise _Bad(f"{what}: not numbers") from None
    if any(math.isnan(v) for v in values):
        raise _Bad(f"{what}: NaN")


def _check_tree(fields: dict[str, str], n_features: int, where: str) -> None:
    leaves = _int(fields.get("num_leaves", ""), f"{where} num_leaves", 1, 1 << 17)
    if fields.get("num_cat") != "0" or fields.get("is_linear", "0") != "0":
        raise _Bad(f"{where}: categorical or linear trees are not ecgzoo's")
    _floats(fields.get("shrinkage", "1"), 1, f"{where} shrinkage")
    _floats(fields.get("leaf_value", ""), leaves, f"{where} leaf_value")
    if leaves == 1:
        return
    inner = leaves - 1
    _ints(fields.get("split_feature", ""), inner, f"{where} split_feature", 0, n_features - 1)
    # decision_type bits: 1 categorical (refused), 2 default-left, 4|8 missing type (0..2)
    for d in _ints(fields.get("decision_type", ""), inner, f"{where} decision_type", 0, 10):
        if d & 1 or (d >> 2) > 2:
            raise _Bad(f"{where} decision_type: {d} is not a numerical split")
    for key in ("split_gain", "threshold", "internal_value", "internal_weight"):
        if key in fields or key == "threshold":
            _floats(fields.get(key, ""), inner, f"{where} {key}")
    for key in ("leaf_weight",):
        if key in fields:
            _floats(fields[key], leaves, f"{where} {key}")
    left = _ints(fields.get("left_child", ""), inner, f"{where} left_child", -leaves, inner - 1)
    right = _ints(fields.get("right_child", ""), inner, f"{where} right_child", -leaves, inner - 1)
    # a proper binary tree: from node 0, every inner node and every leaf reached exactly once
    seen_inner, seen_leaf, stack = {0}, set(), [0]
    while stack:
        node = stack.pop()
        for child in (left[node], right[node]):
            if child >= 0:
                if child in seen_inner:
                    raise _Bad(f"{where}: node {child} reached twice (a cycle or shared node)")
                seen_inner.add(child)
                stack.append(child)
            else:
                if ~child in seen_leaf:
                    raise _Bad(f"{where}: leaf {~child} reached twice")
                seen_leaf.add(~child)
    if len(seen_inner) != inner or len(seen_leaf) != leaves:
        raise _Bad(f"{where}: not every node is reachable from the root")


def _check(text: str, n_features: int, n_classes: int) -> None:
    if "\r" in text or "\0" in text:
        raise _Bad("unexpected control characters")
    head, sep, rest = text.partition("\nTree=")
    if not sep:
        raise _Bad("no trees")
    header_lines = head.split("\n")
    if header_lines[0] != "tree":
        raise _Bad("not a LightGBM text model (first line is not 'tree')")
    header = _fields(header_lines[1:], _HEADER_KEYS, "header")
    if header.get("version") != "v4":
        raise _Bad(f"version {header.get('version', '')[:20]!r} (expected v4)")
    _int(header.get("num_class", ""), "num_class", n_classes, n_classes)
    _int(header.get("num_tree_per_iteration", ""), "num_tree_per_iteration", n_classes, n_classes)
    _int(header.get("label_index", "0"), "label_index", 0, 0)
    _int(header.get("max_feature_idx", ""), "max_feature_idx", n_features - 1, n_features - 1)
    if header.get("objective") != f"multiclass num_class:{n_classes}":
        raise _Bad(f"objective {header.get('objective', '')[:40]!r} is not ecgzoo's multiclass")
    if len(header.get("feature_names", "").split(" ")) != n_features:
        raise _Bad("feature_names: wrong count")
    if len(header.get("feature_infos", "").split(" ")) != n_features:
        raise _Bad("feature_infos: wrong count")
    trees_text, sep, tail = ("Tree=" + rest).partition("\nend of trees\n")
    if not sep:
        raise _Bad("truncated ('end of trees' missing)")
    if "\nparameters:\n" not in tail or not tail.rstrip("\n").endswith("pandas_categorical:null"):
        raise _Bad("truncated (parameters or trailer missing)")
    blocks = trees_text.split("\n\n\n")
    blocks = [b for b in blocks if b.strip()]
    sizes = header.get("tree_sizes", "").split(" ")
    if len(sizes) != len(blocks) or len(blocks) % n_classes:
        raise _Bad(f"tree_sizes lists {len(sizes)} trees, the file holds {len(blocks)}")
    for i, (block, size) in enumerate(zip(blocks, sizes, strict=True)):
        lines = block.strip("\n").split("\n")
        if lines[0] != f"Tree={i}":
            raise _Bad(f"tree {i}: found {lines[0][:20]!r}")
        # LightGBM skips from tree to tree by these sizes: each must be the block's own length
        if _int(size, "tree_sizes", 1, MAX_MODEL_BYTES) != len(block.strip("\n")) + 3:
            raise _Bad(f"tree {i}: tree_sizes disagrees with the tree's length")
        _check_tree(_fields(lines[1:], _TREE_KEYS, f"tree {i}"), n_features, f"tree {i}")


def checked_model_text(path: Path, n_features: int, n_classes: int) -> str:
    """The text of LightGBM model ``path`` once its structure is checked (see module doc)."""
    try:
        if path.stat().st_size > MAX_MODEL_BYTES:
            raise DataError(f"{path}: tree model over {MAX_MODEL_BYTES:,} bytes")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: tree model file not found") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a LightGBM text model (not UTF-8)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the tree model ({exc.strerror})") from None
    try:
        _check(text, n_features, n_classes)
    except _Bad as exc:
        raise DataError(f"{path}: refused tree model: {exc}") from None
    return text
