"""The HTML report of ``geosr pairs register`` (built with :mod:`geosr.report.html`).

Per pair: a colour overlay of the LR image (magenta) on the forward-modelled HR (green) before
and after registration — grey where they agree, coloured fringes where they do not — the
residual map, and the numbers; then the rejected pairs with their reasons and the fitted
forward model. The figures are rendered once, when the pair is registered
(:func:`pair_figures`), and cached with its numbers, so a resumed run writes the same page.

>>> import numpy as np
>>> from geosr.core.image import Image
>>> overlay_rgb(np.zeros((4, 4)), np.ones((4, 4))).shape
(4, 4, 3)
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["pair_figures", "write_pairs_report", "overlay_rgb"]

_TARGET_PX = 256


def _middle(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[values.shape[0] // 2] if values.ndim == 3 else values


def _enlarge(values: np.ndarray) -> np.ndarray:
    k = max(1, _TARGET_PX // max(values.shape[:2]))
    return np.repeat(np.repeat(values, k, axis=0), k, axis=1)


def _norm(values: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    lo, hi = window
    return np.clip((values - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)


def overlay_rgb(lr: np.ndarray, model: np.ndarray) -> np.ndarray:
    """uint8 RGB: LR in red and blue (magenta), the modelled HR in green, one shared window."""
    from geosr.report.figures import display_range

    window = display_range(np.concatenate([lr.ravel(), model.ravel()]))
    a, b = _norm(lr, window), _norm(model, window)
    return (np.stack([a, b, a], axis=-1) * 255).round().astype(np.uint8)


def pair_figures(reg: Any) -> dict[str, str]:
    """PNG data URIs (caption -> URI) of one :class:`PairRegistration` (3D: middle z slice)."""
    from geosr.report.figures import png_data_uri

    lr = _middle(reg.lr.numpy())
    after = _middle(reg.model.numpy())
    before = _middle(reg.before.numpy()) if reg.before is not None else None
    out = {}
    if before is not None:
        out["before: LR (magenta) over the forward-modelled HR (green)"] = png_data_uri(
            _enlarge(overlay_rgb(lr, before)))
    out["after registration (same colours; grey = agreement)"] = png_data_uri(
        _enlarge(overlay_rgb(lr, after)))
    resid = lr - after
    sd = float(resid.std()) or 1.0
    grey = (_norm(resid, (-3 * sd, 3 * sd)) * 255).round().astype(np.uint8)
    out[f"residual LR - model (black -3 sd, white +3 sd; sd {sd:.3g})"] = png_data_uri(
        _enlarge(grey))
    return out


def _numbers(entry: Mapping[str, Any]) -> dict[str, Any]:
    s = entry.get("summary") or {}
    keep = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in s.items()
            if not isinstance(v, (list, dict)) and v is not None and not k.startswith("se_")}
    if entry.get("residual_noise_units") is not None:
        keep["residual (fitted noise sd units)"] = f"{entry['residual_noise_units']:.3g}"
    return {"verdict": entry["verdict"], "reason": entry["reason"] or "-", **keep}


def _forward_rows(forward: Mapping[str, Any] | None) -> dict[str, Any]:
    if not forward:
        return {"forward model": "not estimated (no good pair)"}
    if "error" in forward:
        return {"forward model": forward["error"]}
    est = forward["estimate"]
    rows = {"pairs used": est["n_pairs"]}
    for axis, (f, se) in zip("zyx"[-len(est["fwhm_um"]):], zip(est["fwhm_um"],
                                                              est["fwhm_um_se"])):
        rows[f"PSF FWHM {axis} (um)"] = f"{f:.4g} ± {se:.2g}"
    i, n = est["intensity"], est["noise"]
    rows["intensity map"] = (f"{i['kind']}: a = {i['a']:.4g} ± {i['a_se']:.2g}, b = "
                             f"{i['b']:.4g} ± {i['b_se']:.2g}"
                             + (f", gamma = {i['gamma']:.3g}" if i["kind"] == "gamma" else ""))
    rows["noise gain (LR units / e-)"] = f"{n['gain']:.4g} ± {n['gain_se']:.2g}"
    rows["read noise (LR units)"] = f"{n['read_noise']:.4g} ± {n['read_noise_se']:.2g}"
    return rows


def write_pairs_report(out: Path, entries: Sequence[Mapping[str, Any]],
                       forward: Mapping[str, Any] | None) -> Path:
    """Write ``out/report.html``; returns its path."""
    from geosr.report.html import Figure, Section, write_html_report

    counts = {k: sum(e["verdict"] == k for e in entries) for k in ("ok", "suspect", "reject")}
    sections = [Section("Summary", tables=[("pairs", counts),
                                           ("forward model (forward_model.json)",
                                            _forward_rows(forward))])]
    rejected = {e["name"]: e["reason"] for e in entries if e["verdict"] == "reject"}
    if rejected:
        sections.append(Section("Rejected pairs (left out of lr/ and hr/)",
                                tables=[("", rejected)]))
    for e in entries:
        figs = [Figure(uri, caption) for caption, uri in (e.get("figures") or {}).items()]
        sections.append(Section(f"{e['name']} — {e['verdict']}", figures=figs,
                                tables=[("", _numbers(e))]))
    footer = html.escape("Shifts move the HR content onto the LR grid, in LR pixels; "
                         "rotation counter-clockwise as displayed; NCC = Pearson correlation "
                         "of LR with the forward-modelled HR on the common field.")
    return write_html_report(Path(out) / "report.html", "Registered LR/HR pairs", sections,
                             footer=footer)
