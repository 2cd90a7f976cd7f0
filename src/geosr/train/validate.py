"""Validation on held-out images: PSNR (dB, percentile-normalised intensities, data range 1) and
the training loss, for the model and for the bicubic baseline.

Each validation pair is centre-cropped to at most ``max_size`` LR pixels per axis (the HR crop
is the same field of view), and evaluated whole: no tiling, no border crop, no clipping. The
PSNR of a set is the mean of the per-image PSNRs. The bicubic baseline upsamples the normalised
LR image with :func:`geosr.resample.upscale` (MATLAB ``imresize`` bicubic, a = −0.5, pixel
centres aligned like the models' outputs).

Example
-------
>>> import numpy as np
>>> psnr(np.zeros((4, 4)), np.full((4, 4), 0.1))
20.0
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np
import torch

from geosr.core.per_axis import per_axis
from geosr.data.pairs import Pair

__all__ = ["ValImage", "prepare_validation", "psnr", "evaluate", "bicubic_baseline",
           "CONVENTION", "default_max_size", "network_scores", "NETWORK_METRICS"]

CONVENTION = ("PSNR in dB on percentile-normalised intensities (LR by its own percentiles, HR "
              "by the normalization.target rule), data range 1, no clipping, no border crop, "
              "mean over the held-out validation images (each centre-cropped to at most "
              "validation.max_size LR pixels per axis)")


def default_max_size(dims: int) -> int:
    """Default crop of validation images, LR pixels per axis: 256 in 2D, 32 in 3D."""
    return 256 if dims == 2 else 32


@dataclasses.dataclass
class ValImage:
    """A validation image: LR ``(1, C, *n)`` and HR ``(1, C, *n·scale)`` float32 tensors."""

    name: str
    lr: torch.Tensor
    hr: torch.Tensor


def prepare_validation(pairs: Sequence[Pair], scale: int | Sequence[int], max_size: int | None
                       ) -> list[ValImage]:
    out = []
    for pair in pairs:
        lr_shape = pair.lr.shape[1:]
        box = []
        for n in lr_shape:
            m = n if max_size is None else min(n, max_size)
            start = (n - m) // 2
            box.append((start, start + m))
        lr = pair.lr[(slice(None),) + tuple(slice(a, b) for a, b in box)]
        factors = per_axis(scale, len(box), where="scale", kind=int, minimum=1)
        hr = pair.hr[(slice(None),) + tuple(slice(a * f, b * f) for (a, b), f in
                                            zip(box, factors))]
        out.append(ValImage(pair.name, torch.from_numpy(np.ascontiguousarray(lr))[None],
                            torch.from_numpy(np.ascontiguousarray(hr))[None]))
    return out


def psnr(pred: Any, target: Any, data_range: float = 1.0) -> float:
    """``10·log10(data_range² / MSE)`` in dB (inf for identical arrays)."""
    pred = pred.detach().double().cpu().numpy() if torch.is_tensor(pred) else np.asarray(pred)
    target = (target.detach().double().cpu().numpy() if torch.is_tensor(target)
              else np.asarray(target))
    mse = float(np.mean((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse)


@torch.no_grad()
def evaluate(model: torch.nn.Module, images: Sequence[ValImage], loss_fn: torch.nn.Module,
             device: torch.device, metric: str | None = None) -> dict[str, Any]:
    """``{"psnr", "loss", "per_image": {name: {"psnr", "loss"}}}`` of ``model`` in eval mode
    (restored to train mode afterwards). ``metric="cldice"``/``"betti_error"`` adds that
    network metric (:func:`network_scores`) per image and as the mean."""
    was_training = model.training
    model.eval()
    per_image = {}
    try:
        for image in images:
            pred = model(image.lr.to(device)).float()
            target = image.hr.to(device)
            per_image[image.name] = {"psnr": psnr(pred, target),
                                     "loss": float(loss_fn(pred, target))}
            if metric in NETWORK_METRICS:
                scores = network_scores(pred[0].cpu().numpy().mean(axis=0),
                                        target[0].cpu().numpy().mean(axis=0))
                per_image[image.name][metric] = scores[metric]
    finally:
        model.train(was_training)
    result = _mean(per_image)
    if metric in NETWORK_METRICS:
        result[metric] = float(np.mean([v[metric] for v in per_image.values()]))
    return result


#: Validation metrics computed on thresholded maps (higher-is-better: cldice).
NETWORK_METRICS = ("cldice", "betti_error")
#: Threshold of the network metrics, normalised intensity units.
NETWORK_THRESHOLD = 0.5


def _betti(mask: np.ndarray) -> tuple[int, int]:
    """(β0, β1) of a 2D/3D binary mask: β0 = foreground components (full connectivity); in
    2D β1 = holes = background components (face connectivity, complementary to the
    foreground's; the mask padded with background) minus the outer one; in 3D from the Euler
    characteristic, β1 = β0 + β2 − χ (β2 = enclosed cavities)."""
    from scipy import ndimage
    from skimage.measure import euler_number

    full = np.ones((3,) * mask.ndim, bool)
    b0 = int(ndimage.label(mask, structure=full)[1])
    padded = np.pad(~mask, 1, constant_values=True)
    cavities = int(ndimage.label(padded)[1]) - 1
    if mask.ndim == 2:
        return b0, cavities
    chi = int(euler_number(mask, connectivity=3))
    return b0, max(b0 + cavities - chi, 0)


def network_scores(pred: np.ndarray, target: np.ndarray,
                   threshold: float = NETWORK_THRESHOLD) -> dict[str, float]:
    """clDice (Shit et al., CVPR 2021: harmonic mean of the fraction of the predicted
    skeleton inside the target and of the target skeleton inside the prediction; 1 when both
    are empty) and the Betti error ``|Δβ0| + |Δβ1|`` of ``pred > threshold`` vs ``target >
    threshold`` (normalised intensities: bright structures are the network).

    >>> m = np.zeros((20, 20)); m[5:15, 9:11] = 1
    >>> network_scores(m, m)
    {'cldice': 1.0, 'betti_error': 0.0}
    """
    from skimage.morphology import skeletonize

    p, t = np.asarray(pred) > threshold, np.asarray(target) > threshold
    sp, st = skeletonize(p), skeletonize(t)
    prec = float((sp & t).sum() / sp.sum()) if sp.any() else float(not st.any())
    sens = float((st & p).sum() / st.sum()) if st.any() else float(not sp.any())
    cl = 0.0 if prec + sens == 0 else 2 * prec * sens / (prec + sens)
    bp, bt = _betti(p), _betti(t)
    return {"cldice": cl, "betti_error": float(abs(bp[0] - bt[0]) + abs(bp[1] - bt[1]))}


@torch.no_grad()
def bicubic_baseline(images: Sequence[ValImage], scale: int, loss_fn: torch.nn.Module
                     ) -> dict[str, Any]:
    """The same numbers for bicubic upsampling of the normalised LR images."""
    from geosr.resample import upscale

    per_image = {}
    for image in images:
        lr = image.lr[0].double().numpy()
        up = np.stack([upscale(channel, scale, method="bicubic") for channel in lr])
        pred = torch.from_numpy(up.astype(np.float32))[None]
        per_image[image.name] = {"psnr": psnr(pred, image.hr),
                                 "loss": float(loss_fn(pred, image.hr))}
    result = _mean(per_image)
    result["method"] = "bicubic (geosr.resample.upscale, MATLAB imresize, a=-0.5)"
    return result


def _mean(per_image: dict[str, dict[str, float]]) -> dict[str, Any]:
    return {"psnr": float(np.mean([v["psnr"] for v in per_image.values()])),
            "loss": float(np.mean([v["loss"] for v in per_image.values()])),
            "per_image": per_image}
