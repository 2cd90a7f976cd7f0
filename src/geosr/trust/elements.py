"""A confidence for every network element: for each connected component and each skeleton
branch of the segmented prediction, the probability that it exists in the truth.

1. **Segment** the prediction (Otsu threshold of the prediction unless one is given; bright
   structures; components smaller than ``min_size_px`` dropped) and split it into elements:
   connected components (full connectivity) and skeleton branches (the skeleton with its
   junction pixels removed, labelled).
2. **Agreement** with the model's own variability: ``members`` are other draws of the
   prediction — TTA members, ensemble members, samples of a ``hetero`` model, or predictions
   of re-noised inputs (:func:`member_predictions`). An element's raw score is the mean over
   members of the fraction of its pixels that the member segments (same threshold): 1 = every
   member has it, 0 = none does.
3. **Calibration** on held-out pairs (:func:`fit_calibration`): a logistic map (Platt
   scaling extended by the element's size and kind) from ``logit(score)``, ``log(pixels)``
   and ``is_branch`` to the probability that the element exists in the truth (≥ half of its
   pixels inside the truth mask dilated by one pixel), with its reliability diagram and
   expected calibration error (ECE, 10 equal-width bins). Without a calibration the
   confidence is the raw score and says so.

Rows of the table: ``id, kind (component | branch), z/y/x position of the centroid in µm
(origin included), size (µm² / µm³ for components, µm of length for branches), pixels,
score, confidence``. Elements the prediction may have **missed** (segmented by at least half
of the members where the prediction has nothing) are listed in the summary
(``possibly_missed``, uncalibrated).

>>> import numpy as np
>>> pred = np.zeros((20, 20)); pred[5:8, 2:18] = 1.0; pred[14, 14] = 1.0
>>> members = [pred.copy() for _ in range(4)]
>>> for m in members[1:]: m[14, 14] = 0.0
>>> t = element_table(pred, members, spacing=(0.1, 0.1), threshold=0.5)
>>> [(r["kind"], round(r["score"], 2)) for r in t.rows if r["kind"] == "component"]
[('component', 1.0), ('component', 0.25)]
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any, Callable, Sequence

import numpy as np

from geosr.core.errors import ConfigError, InputError

__all__ = ["ElementTable", "element_table", "segment_elements", "fit_calibration",
           "ElementCalibration", "expected_calibration_error", "reliability", "auroc",
           "truth_labels", "member_predictions", "row_inputs", "model_element_table",
           "write_elements", "CSV_COLUMNS"]

CSV_COLUMNS = ("id", "kind", "z_um", "y_um", "x_um", "size", "size_unit", "pixels", "score",
               "confidence")
_EPS = 1e-3


def segment_elements(mask: np.ndarray, min_size_px: int = 1
                     ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Component labels and branch labels of a binary mask (0 = background):
    ``(components, branches, n_components, n_branches)``."""
    from scipy import ndimage
    from skimage.morphology import skeletonize

    mask = np.asarray(mask, bool)
    full = np.ones((3,) * mask.ndim, bool)
    comps, n = ndimage.label(mask, structure=full)
    if min_size_px > 1 and n:
        sizes = ndimage.sum(mask, comps, index=np.arange(1, n + 1))
        mask = np.isin(comps, 1 + np.nonzero(sizes >= min_size_px)[0])
        comps, n = ndimage.label(mask, structure=full)
    skel = skeletonize(mask) if mask.any() else mask
    neighbours = ndimage.convolve(skel.astype(np.int32), full.astype(np.int32),
                                  mode="constant") - 1
    branches, nb = ndimage.label(skel & (neighbours < 3), structure=full)
    return comps, branches, int(n), int(nb)


def _design(scores: np.ndarray, pixels: np.ndarray, branch: np.ndarray) -> np.ndarray:
    """Calibration inputs: logit(agreement), log(pixels), branch indicator, 1."""
    sc = np.clip(np.asarray(scores, np.float64), _EPS, 1 - _EPS)
    return np.stack([np.log(sc / (1 - sc)), np.log(np.maximum(np.asarray(pixels, float), 1)),
                     np.asarray(branch, np.float64), np.ones_like(sc)], 1)


@dataclasses.dataclass
class ElementCalibration:
    """Logistic map ``P(exists) = σ(w · [logit(score), log(pixels), is_branch, 1])`` fitted on
    held-out elements (Platt scaling extended by the element's size and kind); ``ece``: its
    expected calibration error on those elements; ``n``: elements."""

    w: list[float]
    n: int
    ece: float | None = None

    def __call__(self, scores: np.ndarray, pixels: np.ndarray, branch: np.ndarray
                 ) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-_design(scores, pixels, branch) @ np.asarray(self.w)))

    def to_dict(self) -> dict[str, Any]:
        return {"method": "logistic on logit(member agreement), log(pixels), is_branch",
                **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ElementCalibration":
        return cls(w=[float(v) for v in data["w"]], n=int(data["n"]), ece=data.get("ece"))


@dataclasses.dataclass
class ElementTable:
    """Rows (dicts with :data:`CSV_COLUMNS`), the label image of the prediction grid (element
    id of components; 0 background) and the confidence image (component confidence per
    pixel, NaN background); ``calibrated``: whether ``confidence`` is calibrated."""

    rows: list[dict[str, Any]]
    labels: np.ndarray
    confidence_image: np.ndarray
    threshold: float
    calibrated: bool
    member_kind: str | None = None
    masks: dict[str, np.ndarray] = dataclasses.field(default_factory=dict, repr=False)
    missed: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def csv(self) -> str:
        out = io.StringIO()
        out.write(",".join(CSV_COLUMNS) + "\n")
        for r in self.rows:
            out.write(",".join(_fmt(r.get(c)) for c in CSV_COLUMNS) + "\n")
        return out.getvalue()

    def summary(self, limit: int = 10) -> dict[str, Any]:
        comps = [r for r in self.rows if r["kind"] == "component"]
        branches = [r for r in self.rows if r["kind"] == "branch"]
        doubtful = sorted(self.rows, key=lambda r: r["confidence"])[:limit]
        return {"components": len(comps), "branches": len(branches),
                "threshold": self.threshold, "members": self.member_kind,
                "calibrated": self.calibrated,
                "confidence": "P(the element exists in the truth), calibrated on held-out "
                              "pairs" if self.calibrated else
                              "uncalibrated: the members' agreement (no element calibration "
                              "in the card)",
                "least_confident": [{k: r[k] for k in ("id", "kind", "y_um", "x_um", "size",
                                                       "confidence")} for r in doubtful],
                "possibly_missed": sorted(self.missed, key=lambda r: -r["score"])[:limit],
                "files": ["elements.csv", "element_confidence.tif"]}


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _rows(labels: np.ndarray, n: int, kind: str, start: int, scores: np.ndarray,
          spacing: Sequence[float], origin: Sequence[float]) -> list[dict[str, Any]]:
    from scipy import ndimage

    if n == 0:
        return []
    idx = np.arange(1, n + 1)
    pixels = ndimage.sum(np.ones(labels.shape), labels, index=idx)
    centres = np.atleast_2d(np.array(ndimage.center_of_mass(np.ones(labels.shape), labels, idx)))
    voxel = float(np.prod(spacing))
    step = float(np.mean(spacing))
    axes = ("z_um", "y_um", "x_um")[-labels.ndim:]
    rows = []
    for i in range(n):
        pos = {a: float(origin[k] + centres[i][k] * spacing[k]) for k, a in enumerate(axes)}
        size = pixels[i] * (voxel if kind == "component" else step)
        unit = ("µm²" if labels.ndim == 2 else "µm³") if kind == "component" else "µm"
        rows.append({"id": start + i, "kind": kind, "z_um": pos.get("z_um"),
                     "y_um": pos["y_um"], "x_um": pos["x_um"], "size": float(size),
                     "size_unit": unit, "pixels": int(pixels[i]), "score": float(scores[i])})
    return rows


def _agreement(labels: np.ndarray, n: int, members: Sequence[np.ndarray],
               threshold: float) -> np.ndarray:
    from scipy import ndimage

    if n == 0:
        return np.zeros(0)
    idx = np.arange(1, n + 1)
    count = ndimage.sum(np.ones(labels.shape), labels, index=idx)
    fractions = [ndimage.sum(np.asarray(m) > threshold, labels, index=idx) / count
                 for m in members]
    return np.mean(fractions, axis=0)


def _possibly_missed(mask: np.ndarray, members: Sequence[np.ndarray], threshold: float,
                     spacing: Sequence[float], origin: Sequence[float]) -> list[dict[str, Any]]:
    """Components that at least half of the members segment where the prediction has nothing
    (``score``: the members' mean agreement there; uncalibrated)."""
    from scipy import ndimage

    votes = np.mean([np.asarray(m) > threshold for m in members], axis=0)
    absent = (votes >= 0.5) & ~ndimage.binary_dilation(mask)
    labels, n = ndimage.label(absent, structure=np.ones((3,) * mask.ndim, bool))
    rows = _rows(labels, n, "component", 1, _agreement(labels, n, members, threshold),
                 spacing, origin)
    return [{**r, "kind": "possibly missed"} for r in rows if r["pixels"] >= 2]


def element_table(prediction: np.ndarray, members: Sequence[np.ndarray], *,
                  spacing: Sequence[float], origin: Sequence[float] | None = None,
                  threshold: float | None = None, min_size_px: int = 1,
                  calibration: ElementCalibration | None = None,
                  member_kind: str | None = None) -> ElementTable:
    """The element table of ``prediction`` (spatial array) with ``members`` (other draws on
    the same grid, at least 2); ``spacing`` and ``origin`` in µm per axis."""
    from skimage.filters import threshold_otsu

    f = np.asarray(prediction, np.float64)
    if len(members) < 2:
        raise ConfigError("element confidence needs at least 2 members (TTA, ensemble or "
                          "samples)", where="members")
    if any(np.shape(m) != f.shape for m in members):
        raise InputError("members must have the prediction's shape", where="members")
    thr = float(threshold_otsu(f)) if threshold is None else float(threshold)
    comps, branches, nc, nb = segment_elements(f > thr, min_size_px)
    origin = tuple(origin) if origin is not None else (0.0,) * f.ndim
    rows = _rows(comps, nc, "component", 1, _agreement(comps, nc, members, thr), spacing,
                 origin)
    rows += _rows(branches, nb, "branch", nc + 1, _agreement(branches, nb, members, thr),
                  spacing, origin)
    scores = np.array([r["score"] for r in rows])
    conf = scores if calibration is None else calibration(*row_inputs(rows))
    for r, c in zip(rows, conf):
        r["confidence"] = float(c)
    missed = _possibly_missed(f > thr, members, thr, spacing, origin)
    image = np.full(f.shape, np.nan, np.float32)
    if nc:
        lut = np.concatenate([[np.nan], conf[:nc]]).astype(np.float32)
        image = lut[comps]
    return ElementTable(rows=rows, labels=comps.astype(np.int32), confidence_image=image,
                        threshold=thr, calibrated=calibration is not None,
                        member_kind=member_kind,
                        masks={"component": comps, "branch": branches}, missed=missed)


def truth_labels(table: ElementTable, truth_mask: np.ndarray, tolerance_px: int = 1
                 ) -> np.ndarray:
    """1 where an element exists in the truth (≥ half of its pixels inside the truth mask
    dilated by ``tolerance_px``), else 0 — one per row."""
    from scipy import ndimage

    t = np.asarray(truth_mask, bool)
    if tolerance_px > 0:
        t = ndimage.binary_dilation(t, iterations=tolerance_px)
    out = []
    for kind in ("component", "branch"):
        lab = table.masks[kind]
        n = int(lab.max())
        if n:
            idx = np.arange(1, n + 1)
            inside = ndimage.sum(t, lab, index=idx) / ndimage.sum(np.ones(lab.shape), lab, idx)
            out.extend((inside >= 0.5).astype(int).tolist())
    return np.array(out, dtype=int)


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for ``labels`` 1 vs 0 (ties count ½)."""
    y, s = np.asarray(labels, bool), np.asarray(scores, np.float64)
    pos, neg = s[y], s[~y]
    if not pos.size or not neg.size:
        return float("nan")
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def reliability(labels: np.ndarray, probs: np.ndarray, bins: int = 10
                ) -> list[dict[str, float]]:
    """Reliability diagram: per equal-width bin of predicted probability, its count, mean
    prediction and observed frequency."""
    y, p = np.asarray(labels, np.float64), np.asarray(probs, np.float64)
    which = np.minimum((p * bins).astype(int), bins - 1)
    return [{"bin_low": k / bins, "bin_high": (k + 1) / bins, "count": int((which == k).sum()),
             "mean_predicted": float(p[which == k].mean()),
             "observed": float(y[which == k].mean())}
            for k in range(bins) if (which == k).any()]


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """``Σ_bins (n_b / n) |observed_b − mean_predicted_b|`` (10 equal-width bins)."""
    rel = reliability(labels, probs, bins)
    n = sum(r["count"] for r in rel)
    return float(sum(r["count"] * abs(r["observed"] - r["mean_predicted"]) for r in rel) / n)


def row_inputs(rows: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, pixels, is_branch) of table rows: what the calibration sees."""
    return (np.array([r["score"] for r in rows], np.float64),
            np.array([r["pixels"] for r in rows], np.float64),
            np.array([r["kind"] == "branch" for r in rows], np.float64))


def fit_calibration(scores: np.ndarray, pixels: np.ndarray, branch: np.ndarray,
                    labels: np.ndarray, *, iterations: int = 100) -> ElementCalibration:
    """Logistic regression (Newton's method, a tiny ridge keeps it finite when the classes
    separate) of the truth ``labels`` on :func:`_design`."""
    y = np.asarray(labels, np.float64)
    if y.size < 10 or y.min() == y.max():
        raise InputError(f"element calibration needs >= 10 elements of both kinds, got "
                         f"{y.size} ({int(y.sum())} real)", where="calibration pairs",
                         hint="use more or larger calibration images")
    x = _design(scores, pixels, branch)
    w = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-x @ w))
        grad = x.T @ (p - y) + 1e-3 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + 1e-3 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    cal = ElementCalibration(w=[float(v) for v in w], n=int(y.size))
    cal.ece = expected_calibration_error(y, cal(scores, pixels, branch))
    return cal


def member_predictions(lr: Any, predict_fn: Callable[[Any], np.ndarray] | None, *, kind: str,
                       members: int = 8, acquisition: Any = None, seed: int = 0,
                       loaded: Any = None, ensemble: Any = None, device: str = "cpu"
                       ) -> list[np.ndarray]:
    """Other draws of the prediction of ``lr``: ``"tta"`` (the model's TTA members, needs
    ``loaded``), ``"ensemble"`` (the members of ``ensemble``), ``"hetero"`` (``members``
    samples ``mean + σ z`` of a ``hetero`` model), or ``"noise"`` (``predict_fn`` applied to
    the LR re-noised ``members`` times with the acquisition's Poisson–Gaussian noise model:
    the prediction's variability under the measurement noise)."""
    from geosr.core.image import as_image

    image = as_image(lr, "lr")
    if kind == "tta":
        from geosr.trust.uncertainty import tta

        if loaded is None:
            raise ConfigError("TTA members need the model", where="model")
        return list(tta(image, loaded, max_members=members, device=device).samples)
    if kind == "ensemble":
        from geosr.trust.uncertainty import ensemble_predict

        if ensemble is None:
            raise ConfigError("ensemble members need the ensemble description",
                              where="ensemble", hint="pass --ensemble ENSEMBLE.json")
        return list(ensemble_predict(image, ensemble, device=device).samples)
    if kind == "hetero":
        from geosr.predict import predict
        from geosr.trust.uncertainty import hetero_std

        if loaded is None:
            raise ConfigError("hetero samples need the model", where="model")
        mean = np.asarray(predict(image, loaded, device=device).numpy(), np.float64)
        sd = np.asarray(hetero_std(image, loaded, device=device).numpy(), np.float64)
        rng = np.random.default_rng(seed)
        return [mean + sd * rng.normal(size=mean.shape) for _ in range(members)]
    if kind == "noise":
        if acquisition is None or not acquisition.has_noise_model:
            raise ConfigError("re-noised members need the acquisition's noise model",
                              where="acquisition", hint="give --photons / --read-noise")
        rng = np.random.default_rng(seed)
        y = np.asarray(image.numpy(), np.float64)
        out = []
        for _ in range(members):
            noisy = y + rng.normal(size=y.shape) * np.sqrt(acquisition.noise_variance(y))
            out.append(np.asarray(predict_fn(image.replace(data=noisy)), np.float64))
        return out
    raise ConfigError(f"unknown member kind {kind!r}", where="members",
                      hint="use tta, ensemble, hetero or noise")


def model_element_table(prediction: Any, lr: Any, loaded: Any, *, kind: str = "tta",
                        members: int = 8, calibration: ElementCalibration | None = None,
                        threshold: float | None = None, min_size_px: int = 1,
                        ensemble: Any = None, device: str = "cpu") -> ElementTable:
    """The element table of a model's ``prediction`` (Image) of ``lr``, with the model's own
    variability (``kind``: ``"tta"``, ``"ensemble"`` or ``"hetero"``) as members."""
    from geosr.core.image import as_image

    pred = as_image(prediction, "prediction")
    f = np.asarray(pred.numpy(), np.float64)
    f = f[0] if pred.has_channels else f
    draws = member_predictions(lr, None, kind=kind, members=members, loaded=loaded,
                               ensemble=ensemble, device=device)
    draws = [d[0] if d.ndim == f.ndim + 1 else d for d in draws]
    return element_table(f, draws, spacing=pred.spacing_um, origin=pred.origin,
                         threshold=threshold, min_size_px=min_size_px,
                         calibration=calibration, member_kind=f"{kind} ({len(draws)} members)")


def write_elements(table: ElementTable, like: Any, folder: Any) -> Any:
    """Write ``elements.csv`` and ``element_confidence.tif`` (prediction grid, spacing of the
    Image ``like``) into ``folder``, atomically; returns the folder."""
    from pathlib import Path

    from geosr.core.files import atomic_path
    from geosr.io import save

    folder = Path(folder)
    with atomic_path(folder, is_dir=True) as tmp:
        (tmp / "elements.csv").write_text(table.csv(), encoding="utf-8")
        save(like.replace(data=table.confidence_image, metadata={}),
             tmp / "element_confidence.tif")
    return folder
