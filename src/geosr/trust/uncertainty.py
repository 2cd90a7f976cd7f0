"""Heuristic per-pixel uncertainty: test-time augmentation (TTA) over the symmetry group of the
grid, and deep ensembles. Neither comes with a guarantee by itself; both are "size maps" that
:mod:`geosr.trust.conformal` turns into calibrated intervals.

TTA: for every symmetry ``g`` of the pixel grid, ``ŷ_g = g⁻¹(f(g(x)))``; the mean and the
per-pixel standard deviation over ``g``. The group is the signed axis permutations that map
every axis onto one with the same pixel size and the same scale (the dihedral group D4, 8
elements, for square 2D pixels; 48 for isotropic 3D voxels; 16 — in-plane D4 × z-flip — for
ZYX with a different z spacing), so anisotropic data are never rotated across unlike axes.

Deep ensembles (Lakshminarayanan et al. 2017): ``M`` models trained with different seeds
(``geosr train --ensemble M``); mean and standard deviation of their predictions.

Heteroscedastic head (Kendall & Gal 2017; model ``hetero``, :mod:`geosr.models.heteroscedastic`):
the model's own predicted per-pixel standard deviation, one tiled pass, in the output's
intensity units. It is *aleatoric* (noise, unresolvable detail, as seen in training), blind to
what the model never saw, and uncalibrated until conformal calibration.

>>> len(symmetries(2)), len(symmetries(3)), len(symmetries(3, spacing=(0.5, 0.1, 0.1)))
(8, 48, 16)
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import Image, as_image

__all__ = ["Symmetry", "symmetries", "tta", "ensemble_predict", "load_ensemble",
           "UncertaintyResult", "ENSEMBLE_FILE", "hetero_predict", "hetero_std",
           "has_variance_head"]

ENSEMBLE_FILE = "ensemble.json"


@dataclasses.dataclass(frozen=True)
class Symmetry:
    """A signed axis permutation: output axis ``i`` is input axis ``perm[i]``, then flipped
    where ``flips[i]``."""

    perm: tuple[int, ...]
    flips: tuple[bool, ...]

    def apply(self, x: np.ndarray) -> np.ndarray:
        y = np.transpose(x, self.perm)
        axes = tuple(i for i, f in enumerate(self.flips) if f)
        return np.flip(y, axes) if axes else y

    def invert(self, y: np.ndarray) -> np.ndarray:
        axes = tuple(i for i, f in enumerate(self.flips) if f)
        x = np.flip(y, axes) if axes else y
        return np.transpose(x, np.argsort(self.perm))

    def apply_to(self, values: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(values[p] for p in self.perm)


def symmetries(dims: int, spacing: Sequence[float] | None = None,
               scale: Sequence[int] | None = None, rtol: float = 1e-6) -> list[Symmetry]:
    """The grid symmetries that keep pixel size and scale per axis (identity first)."""
    spacing = tuple(spacing) if spacing is not None else (1.0,) * dims
    scale = tuple(scale) if scale is not None else (1,) * dims
    out = []
    for perm in itertools.permutations(range(dims)):
        if any(abs(spacing[p] - spacing[i]) > rtol * max(spacing[i], 1e-12) or
               scale[p] != scale[i] for i, p in enumerate(perm)):
            continue
        for flips in itertools.product((False, True), repeat=dims):
            out.append(Symmetry(tuple(perm), tuple(flips)))
    return out


@dataclasses.dataclass
class UncertaintyResult:
    """``mean`` and ``std`` over ``members`` predictions (prediction grid); ``kind`` is
    ``"tta"``, ``"ensemble"`` or ``"hetero"`` (the model's predicted σ, one member)."""

    mean: np.ndarray
    std: np.ndarray
    members: int
    kind: str
    samples: np.ndarray | None = dataclasses.field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "members": self.members,
                "std_mean": float(self.std.mean()), "std_max": float(self.std.max()),
                "guarantee": "none by itself; calibrated by the conformal card"}


Predictor = Callable[[Image], Image]


def _model_predictor(model: Any, **kwargs: Any) -> Predictor:
    from geosr.predict import predict

    return lambda img: predict(img, model, **kwargs)


def tta(image: Image | np.ndarray, predictor: Predictor | Any, *,
        max_members: int | None = None, **predict_kwargs: Any) -> UncertaintyResult:
    """Test-time augmentation over the grid's symmetry group.

    ``predictor``: a function Image → Image (the prediction, one channel), or a model
    (folder/zip path or :class:`geosr.models.LoadedModel`, run with
    :func:`geosr.predict.predict` and ``predict_kwargs``). ``max_members`` keeps the first
    ``n`` symmetries (identity first) to bound the cost.
    """
    image = as_image(image)
    scale = None
    if not callable(predictor) or hasattr(predictor, "module"):
        from geosr.predict.core import resolve_model

        predictor = resolve_model(predictor, predict_kwargs.pop("device", "auto"))
        scale = tuple(predictor.scale)
        predictor = _model_predictor(predictor, device=str(predictor.device), **predict_kwargs)
    values = image.numpy()
    lead = 1 if image.has_channels else 0
    group = symmetries(image.dims, image.spacing, scale)
    if max_members is not None:
        group = group[:max(1, int(max_members))]
    outs = []
    for g in group:
        if lead:
            data = np.stack([g.apply(c) for c in values])
        else:
            data = g.apply(values)
        moved = image.replace(data=np.ascontiguousarray(data), spacing=g.apply_to(image.spacing),
                              origin=(0.0,) * image.dims)
        pred = np.asarray(predictor(moved).numpy(), dtype=np.float64)
        if pred.ndim == image.dims + 1:
            pred = pred[0]
        outs.append(g.invert(pred))
    stack = np.stack(outs)
    return UncertaintyResult(mean=stack.mean(0), std=stack.std(0, ddof=1) if len(outs) > 1
                             else np.zeros_like(stack[0]), members=len(outs), kind="tta",
                             samples=stack)


def load_ensemble(path: str | os.PathLike) -> list[Path]:
    """Member model folders of an ensemble description (``ensemble.json`` written by
    ``geosr train --ensemble N``, or the folder holding it)."""
    from geosr.core.files import read_json

    path = Path(path)
    if path.is_dir():
        path = path / ENSEMBLE_FILE
    doc = read_json(path)
    if doc.get("format") != "geosr-ensemble" or not isinstance(doc.get("members"), list):
        raise InputError("is not a geosr ensemble description", where=str(path),
                         hint="give the ensemble.json written by geosr train --ensemble N")
    members = [path.parent / m["model"] for m in doc["members"]]
    missing = [str(m) for m in members if not m.exists()]
    if missing:
        raise InputError(f"member model(s) missing: {missing}", where=str(path))
    return members


def ensemble_predict(image: Image | np.ndarray, members: Sequence[Any] | str | os.PathLike,
                     **predict_kwargs: Any) -> UncertaintyResult:
    """Mean and standard deviation of the predictions of the ensemble ``members`` (model
    paths/LoadedModels, or an ``ensemble.json``)."""
    if isinstance(members, (str, os.PathLike)):
        members = load_ensemble(members)
    if len(members) < 2:
        raise InputError("an ensemble needs at least 2 members", where="ensemble")
    image = as_image(image)
    outs = []
    for m in members:
        pred = np.asarray(_model_predictor(m, **predict_kwargs)(image).numpy(), np.float64)
        outs.append(pred[0] if pred.ndim == image.dims + 1 else pred)
    stack = np.stack(outs)
    return UncertaintyResult(mean=stack.mean(0), std=stack.std(0, ddof=1), members=len(outs),
                             kind="ensemble", samples=stack)


def has_variance_head(model: Any) -> bool:
    """Whether a :class:`geosr.models.LoadedModel` (or module) predicts a variance
    (model ``hetero``)."""
    module = getattr(model, "module", model)
    return bool(getattr(module, "has_variance_head", False))


def _hetero_images(image: Image, model: Any, **predict_kwargs: Any) -> tuple[Image, Image]:
    """The mean and σ images of a heteroscedastic model, in one tiled pass."""
    import torch

    from geosr.core.errors import ConfigError
    from geosr.predict import predict
    from geosr.predict.core import resolve_model

    loaded = resolve_model(model, predict_kwargs.pop("device", "auto"))
    if not has_variance_head(loaded):
        raise ConfigError(f"model '{loaded.architecture}' has no heteroscedastic (variance) "
                          f"head", where="uncertainty",
                          hint="train with model.name: hetero (base: your architecture), or "
                               "use --uncertainty tta")
    if image.dims == 3 and loaded.is_isotropic:
        raise ConfigError("the variance of isotropic (plane-wise) prediction is not "
                          "implemented", where="uncertainty", hint="use --uncertainty tta")
    inner = loaded.module

    class MeanAndStd(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner
            self.alignment = getattr(inner, "alignment", (1,) * loaded.dims)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([inner(x), inner.predict_std(x)], dim=1)

    c = loaded.out_channels
    # σ goes through the same tiling, blending and de-normalisation (× (hi − lo), + lo) as
    # the mean; the offset lo is taken off again below
    both = predict(image, dataclasses.replace(loaded, module=MeanAndStd().eval(),
                                              out_channels=2 * c),
                   device=str(loaded.device), **predict_kwargs)
    lo = float(both.metadata["prediction"]["normalization"]["lo"])
    values = both.numpy()
    mean, std = values[:c], np.maximum(values[c:] - np.float32(lo), 0)
    if not image.has_channels and c == 1:
        mean, std, axes = mean[0], std[0], image.axes
    else:
        axes = both.axes
    meta = dict(both.metadata)
    meta["prediction"] = {**meta["prediction"], "out_channels": c}
    mean_img = both.replace(data=np.ascontiguousarray(mean), axes=axes, metadata=meta)
    std_meta = {**meta, "uncertainty": {
        "kind": "hetero", "quantity": "predicted standard deviation (aleatoric)",
        "units": "intensity units of the prediction",
        "guarantee": "none: uncalibrated until conformal calibration"}}
    std_img = both.replace(data=np.ascontiguousarray(std), axes=axes, metadata=std_meta)
    return mean_img, std_img


def hetero_std(image: Image | np.ndarray, model: Any, **predict_kwargs: Any) -> Image:
    """The per-pixel standard deviation predicted by a heteroscedastic model (``hetero``
    model folder/zip or LoadedModel) for ``image``: tiled exactly like
    :func:`geosr.predict.predict` (``predict_kwargs``), on the prediction grid with its
    spacing, in the prediction's intensity units (σ × (hi − lo) of the normalisation).

    Aleatoric and uncalibrated: calibrate it (conformal) before reading it as an interval.

    >>> sd = hetero_std(lr, "runs/hetero/model")           # doctest: +SKIP
    >>> sd.spacing                                         # doctest: +SKIP
    (0.05, 0.05)
    """
    return _hetero_images(as_image(image), model, **predict_kwargs)[1]


def hetero_predict(image: Image | np.ndarray, model: Any,
                   **predict_kwargs: Any) -> UncertaintyResult:
    """Mean and predicted standard deviation of a heteroscedastic model as an
    :class:`UncertaintyResult` (``kind="hetero"``, ``members=1``), single channel."""
    image = as_image(image)
    mean, std = _hetero_images(image, model, **predict_kwargs)
    m, s = (np.asarray(v.numpy(), np.float64) for v in (mean, std))
    if m.ndim == image.dims + 1:
        m, s = m[0], s[0]
    return UncertaintyResult(mean=m, std=s, members=1, kind="hetero")
