"""Save and load Equinox modules without pickle.

A file holds one JSON line describing the module tree (classes by import path, static values,
array shapes and dtypes), followed by the array leaves written by
:func:`equinox.tree_serialise_leaves`. Loading rebuilds a skeleton of the same structure from the
JSON (bypassing ``__init__``, which may need data to run) and fills it with
:func:`equinox.tree_deserialise_leaves`.

Loading imports the modules named in the file (as unpickling would) but executes no stored code;
only :class:`equinox.Module` subclasses and module-level functions can be named.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["save_module", "load_module"]

_FORMAT = "neurojax-module/1"


def _qualified(obj: Any) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


def _resolve(path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _describe(value: Any) -> Any:
    if isinstance(value, eqx.Module):
        fields = {f.name: _describe(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__module__": _qualified(type(value)), "fields": fields}
    if isinstance(value, (jax.Array, np.ndarray)):
        return {"__array__": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return {"__tuple__" if isinstance(value, tuple) else "__list__": [_describe(v) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("only dicts with string keys can be saved")
        return {"__dict__": {k: _describe(v) for k, v in value.items()}}
    if callable(value) and hasattr(value, "__qualname__"):
        if "<lambda>" in value.__qualname__ or "<locals>" in value.__qualname__:
            raise TypeError(f"cannot save {value!r}: use a module-level function or an eqx.Module instead of a lambda/closure")
        return {"__callable__": _qualified(value)}
    raise TypeError(f"cannot save a value of type {type(value).__name__} ({value!r})")


def _build(spec: Any) -> Any:
    if isinstance(spec, dict):
        if "__module__" in spec:
            cls = _resolve(spec["__module__"])
            if not (isinstance(cls, type) and issubclass(cls, eqx.Module)):
                raise TypeError(f"{spec['__module__']} is not an equinox.Module class")
            obj = object.__new__(cls)
            for name, field_spec in spec["fields"].items():
                object.__setattr__(obj, name, _build(field_spec))
            return obj
        if "__array__" in spec:
            return jnp.zeros(tuple(spec["__array__"]), dtype=spec["dtype"])
        if "__tuple__" in spec:
            return tuple(_build(v) for v in spec["__tuple__"])
        if "__list__" in spec:
            return [_build(v) for v in spec["__list__"]]
        if "__dict__" in spec:
            return {k: _build(v) for k, v in spec["__dict__"].items()}
        if "__callable__" in spec:
            return _resolve(spec["__callable__"])
        raise ValueError(f"unrecognised entry in saved module description: {sorted(spec)}")
    return spec


def save_module(path: str | Path, module: Any) -> None:
    """Write ``module`` (an Equinox module tree) to ``path``."""
    header = {"format": _FORMAT, "tree": _describe(module)}
    with open(path, "wb") as f:
        f.write((json.dumps(header) + "\n").encode())
        eqx.tree_serialise_leaves(f, module)


def load_module(path: str | Path) -> Any:
    """Read a module written by :func:`save_module`."""
    with open(path, "rb") as f:
        try:
            header = json.loads(f.readline().decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} is not a NeuroJAX module file (no JSON header)") from err
        if header.get("format") != _FORMAT:
            raise ValueError(f"{path} has format {header.get('format')!r}; expected {_FORMAT!r}")
        skeleton = _build(header["tree"])
        return eqx.tree_deserialise_leaves(f, skeleton)
