"""Parameters drawn from ranges: the degradation of HR images on the fly.

A *parameter spec* is a mapping ``name -> value`` where each value is

- a fixed value (number, string, bool, None, or a per-axis list given as ``{"value": [...]}``);
- a range ``[low, high]`` (uniform) — a two-element list is always a range;
- ``{"low": a, "high": b, "log": bool}`` (``log``: uniform in log space, e.g. photon counts);
  ``a``/``b`` may be per-axis lists, interpolated with one shared draw so their ratio is kept.

:func:`draw` resolves a spec into plain keyword values with a numpy Generator, visiting the names
in sorted order (so the same seed gives the same draw whatever the mapping's order).
:func:`summarize` describes a list of draws (min/mean/max per drawn parameter).

Example
-------
>>> import numpy as np
>>> spec = {"fwhm_um": [0.3, 0.6], "photons": {"low": 50, "high": 500, "log": True},
...         "microscope": "widefield"}
>>> values = draw(spec, np.random.default_rng(0))
>>> 0.3 <= values["fwhm_um"] <= 0.6, 50 <= values["photons"] <= 500, values["microscope"]
(True, True, 'widefield')
>>> is_range(spec["fwhm_um"]), is_range(spec["microscope"])
(True, False)
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from geosr.core.errors import ConfigError

__all__ = ["is_range", "draw", "summarize", "check_spec"]


def is_range(value: Any) -> bool:
    """True for ``[low, high]`` or ``{"low", "high"[, "log"]}``."""
    if isinstance(value, Mapping):
        return "low" in value or "high" in value
    return isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


def _bounds(name: str, value: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    if isinstance(value, Mapping):
        unknown = set(value) - {"low", "high", "log"}
        if unknown or "low" not in value or "high" not in value:
            raise ConfigError("a range is {low, high, log}" + (
                f"; unknown key(s) {sorted(unknown)}" if unknown else ""), where=name)
        low, high, log = value["low"], value["high"], bool(value.get("log", False))
    else:
        (low, high), log = value, False
    lo = np.atleast_1d(np.asarray(low, dtype=np.float64))
    hi = np.atleast_1d(np.asarray(high, dtype=np.float64))
    if lo.shape != hi.shape or not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ConfigError(f"low {low!r} and high {high!r} must be finite and of the same "
                          "length", where=name)
    if np.any(hi < lo):
        raise ConfigError(f"low {low!r} is above high {high!r}", where=name)
    if log and np.any(lo <= 0):
        raise ConfigError(f"a log range needs low > 0, got {low!r}", where=name)
    return lo, hi, log


def check_spec(spec: Mapping[str, Any], where: str = "degradation") -> None:
    """Raise :class:`ConfigError` for a malformed range (low > high, log with low <= 0...)."""
    for name, value in spec.items():
        if is_range(value):
            _bounds(f"{where}.{name}", value)


def _fixed(value: Any) -> Any:
    if isinstance(value, Mapping) and set(value) == {"value"}:
        value = value["value"]
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return value


def draw(spec: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Resolve ``spec`` into concrete values (floats, or tuples for per-axis ranges)."""
    out: dict[str, Any] = {}
    for name in sorted(spec):
        value = spec[name]
        if not is_range(value):
            out[name] = _fixed(value)
            continue
        lo, hi, log = _bounds(name, value)
        u = float(rng.random())
        if log:
            drawn = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        else:
            drawn = lo + u * (hi - lo)
        drawn = np.clip(drawn, lo, hi)  # rounding in exp/log must not leave the range
        scalar = not isinstance(value, Mapping) or np.ndim(value["low"]) == 0
        out[name] = float(drawn[0]) if scalar and drawn.size == 1 else tuple(map(float, drawn))
    return out


def summarize(spec: Mapping[str, Any], draws: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{name: {"low", "high", "log", "n", "min", "mean", "max"}}`` for every ranged parameter
    (per-axis parameters as lists, one entry per axis)."""
    summary: dict[str, Any] = {}
    for name in sorted(spec):
        if not is_range(spec[name]):
            continue
        lo, hi, log = _bounds(name, spec[name])
        values = np.array([np.atleast_1d(d[name]) for d in draws if name in d], dtype=float)
        entry: dict[str, Any] = {"low": lo.tolist() if lo.size > 1 else float(lo[0]),
                                 "high": hi.tolist() if hi.size > 1 else float(hi[0]),
                                 "log": log, "n": int(len(values))}
        if len(values):
            for key, fn in (("min", np.min), ("mean", np.mean), ("max", np.max)):
                v = fn(values, axis=0)
                entry[key] = float(v[0]) if v.size == 1 else [float(x) for x in v]
        summary[name] = entry
    return summary


