"""Topology-aware losses on a differentiable soft pore map: soft-clDice and Skeleton Recall,
2D and 3D.

A super-resolved image is not a segmentation, so every geometry-aware loss first turns the
prediction into a *soft pore map* ``p = sigmoid((I − t)/τ)`` (bright pores; ``dark=True``:
``sigmoid((t − I)/τ)``) and compares it with the pore mask of the HR target ``G = [I_HR > t]``
(``[I_HR < t]`` when dark). ``t`` (``threshold``) and ``τ`` (``tau``) are in the normalised
intensity units the model trains in (percentile-normalised, data range 1), so the loss keeps
the ``forward(pred, target)`` signature of every other loss.

- ``cldice`` (Shit et al., CVPR 2021): ``1 − clDice(p, G)`` with the soft skeleton of
  iterated min/max pooling, ``clDice = 2·Tprec·Tsens/(Tprec + Tsens)``,
  ``Tprec = Σ S(p)·G / Σ S(p)``, ``Tsens = Σ S(G)·p / Σ S(G)``; optionally mixed with soft Dice
  (``alpha`` < 1: ``(1 − α)·(1 − Dice) + α·(1 − clDice)``).
- ``skeleton_recall`` (Kirchhoff et al., ECCV 2024): ``1 − Σ T·p / Σ T`` with ``T`` the truth
  skeleton (``skimage.morphology.skeletonize``) dilated by ``dilation`` pixels (within the
  truth mask), computed once
  per patch on the CPU (no gradient). It only penalises *missed* centre-lines — the SR failure
  mode for branches that fade below the LR pixel size. Patches without a skeleton add 0.

Both are 0 at the truth when the truth is far from the threshold in units of ``τ`` and lie in
[0, 1]. The soft skeleton is not topology-preserving (it can break thin branches); it is a
differentiable proxy.

Example
-------
>>> import torch
>>> y = torch.full((1, 1, 32, 32), 0.1); y[..., 16, 4:28] = 0.9     # a 1-pixel tube
>>> gap = y.clone(); gap[..., 16, 12:20] = 0.1                      # a missing stretch
>>> loss = SoftClDiceLoss()
>>> float(loss(y, y)) < 1e-3 < float(loss(gap, y))
True
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from geosr.core.errors import ConfigError, InputError
from geosr.losses.pixel import check_shapes
from geosr.losses.registry import register_loss

__all__ = ["SoftPoreMap", "soft_pore_map", "truth_mask", "soft_erode", "soft_dilate",
           "soft_open", "soft_skeleton", "soft_cldice", "SoftClDiceLoss",
           "skeleton_target", "SkeletonRecallLoss"]


# ----------------------------------------------------------------------- soft pore map
def soft_pore_map(image: torch.Tensor, threshold: float = 0.5, tau: float = 0.05,
                  dark: bool = False) -> torch.Tensor:
    """``sigmoid((I − t)/τ)`` (bright pores) or ``sigmoid((t − I)/τ)`` (``dark``), in [0, 1]."""
    z = (image - threshold) / tau
    return torch.sigmoid(-z if dark else z)


def truth_mask(target: torch.Tensor, threshold: float = 0.5, dark: bool = False,
               tau: float | None = None) -> torch.Tensor:
    """The pore mask of the HR target: hard ``[I > t]`` (``[I < t]`` if dark) by default, or
    the soft map with ``tau`` when given; no gradient, same dtype as ``target``."""
    with torch.no_grad():
        if tau is not None:
            return soft_pore_map(target, threshold, tau, dark)
        return ((target < threshold) if dark else (target > threshold)).to(target.dtype)


def _check_dims(x: torch.Tensor, name: str) -> int:
    if x.dim() not in (4, 5):
        raise InputError(f"needs (N, C, H, W) or (N, C, D, H, W) tensors, got shape "
                         f"{tuple(x.shape)}", where=f"loss {name}")
    return x.dim() - 2


class SoftPoreMap(torch.nn.Module):
    """Base of the losses on a soft pore map: holds and checks ``threshold``, ``tau``,
    ``dark`` and ``soft_target`` (use the soft map of the target, with the same ``τ``, as the
    truth instead of the hard mask)."""

    name = "soft_pore_map"

    def __init__(self, threshold: float = 0.5, tau: float = 0.05, dark: bool = False,
                 soft_target: bool = False):
        super().__init__()
        if not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
            raise ConfigError(f"threshold must be a finite number, got {threshold!r}",
                              where=f"loss.{self.name}.threshold")
        if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
            raise ConfigError(f"tau must be a positive number, got {tau!r}",
                              where=f"loss.{self.name}.tau",
                              hint="about 0.05 of the data range (1) is a good start")
        self.threshold, self.tau = float(threshold), float(tau)
        self.dark, self.soft_target = bool(dark), bool(soft_target)

    def pore_map(self, pred: torch.Tensor) -> torch.Tensor:
        return soft_pore_map(pred, self.threshold, self.tau, self.dark)

    def truth(self, target: torch.Tensor) -> torch.Tensor:
        return truth_mask(target, self.threshold, self.dark,
                          self.tau if self.soft_target else None)

    def _pair(self, pred: torch.Tensor, target: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, int]:
        check_shapes(pred, target, self.name)
        dims = _check_dims(pred, self.name)
        return self.pore_map(pred), self.truth(target), dims


# ----------------------------------------------------------------------- soft skeleton
def soft_erode(x: torch.Tensor) -> torch.Tensor:
    """Soft erosion: the minimum of 3-tap min-pools along each axis (a cross element)."""
    dims = x.dim() - 2
    pool = F.max_pool2d if dims == 2 else F.max_pool3d
    out = None
    for axis in range(dims):
        k = [1] * dims
        k[axis] = 3
        pad = [0] * dims
        pad[axis] = 1
        eroded = -pool(-x, tuple(k), 1, tuple(pad))
        out = eroded if out is None else torch.minimum(out, eroded)
    return out


def soft_dilate(x: torch.Tensor) -> torch.Tensor:
    """Soft dilation: a 3×3(×3) max-pool."""
    pool = F.max_pool2d if x.dim() == 4 else F.max_pool3d
    return pool(x, 3, 1, 1)


def soft_open(x: torch.Tensor) -> torch.Tensor:
    return soft_dilate(soft_erode(x))


def soft_skeleton(x: torch.Tensor, iterations: int = 5) -> torch.Tensor:
    """The soft skeleton of a map in [0, 1] by ``iterations`` soft erosions (Shit et al.;
    the erosion inside each opening is reused as the next iteration's image)."""
    eroded = soft_erode(x)
    skel = F.relu(x - soft_dilate(eroded))
    for _ in range(iterations):
        x = eroded
        eroded = soft_erode(x)
        delta = F.relu(x - soft_dilate(eroded))
        skel = skel + F.relu(delta - skel * delta)
    return skel


def soft_cldice(p: torch.Tensor, g: torch.Tensor, iterations: int = 5,
                smooth: float = 1.0) -> torch.Tensor:
    """Soft clDice in [0, 1] of a pore map ``p`` and a truth mask ``g`` (whole batch)."""
    skel_p = soft_skeleton(p, iterations)
    with torch.no_grad():
        skel_g = soft_skeleton(g, iterations)
    tprec = ((skel_p * g).sum() + smooth) / (skel_p.sum() + smooth)
    tsens = ((skel_g * p).sum() + smooth) / (skel_g.sum() + smooth)
    return 2.0 * tprec * tsens / (tprec + tsens)


@register_loss("cldice")
class SoftClDiceLoss(SoftPoreMap):
    """``(1 − α)·(1 − Dice) + α·(1 − clDice)`` on the soft pore map (see the module docstring).

    Parameters
    ----------
    threshold, tau:
        Pore threshold and softness in normalised intensity units (0.5, 0.05).
    dark:
        Pores darker than the matrix (default False: bright pores).
    soft_target:
        Compare with the soft map of the target instead of its hard mask.
    iterations:
        Soft-skeleton erosions (5; at least the largest pore radius in pixels).
    alpha:
        Weight of clDice against soft Dice (1: pure clDice).
    smooth:
        Additive smoothing of the ratios (1 pixel).
    max_items:
        Use only the first ``max_items`` patches of a batch (None: all); the soft skeleton
        costs ~2 pooling passes per iteration and patch.
    """

    name = "cldice"

    def __init__(self, threshold: float = 0.5, tau: float = 0.05, dark: bool = False,
                 soft_target: bool = False, iterations: int = 5, alpha: float = 1.0,
                 smooth: float = 1.0, max_items: int | None = None):
        super().__init__(threshold, tau, dark, soft_target)
        if max_items is not None and (isinstance(max_items, bool) or not isinstance(
                max_items, int) or max_items < 1):
            raise ConfigError(f"max_items must be an integer >= 1 or null, got {max_items!r}",
                              where="loss.cldice.max_items")
        self.max_items = max_items
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ConfigError(f"iterations must be an integer >= 1, got {iterations!r}",
                              where="loss.cldice.iterations")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha must be in [0, 1], got {alpha!r}",
                              where="loss.cldice.alpha")
        self.iterations, self.alpha, self.smooth = iterations, float(alpha), float(smooth)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.max_items is not None:
            pred, target = pred[:self.max_items], target[:self.max_items]
        p, g, _ = self._pair(pred, target)
        loss = self.alpha * (1.0 - soft_cldice(p, g, self.iterations, self.smooth))
        if self.alpha < 1.0:
            dice = (2 * (p * g).sum() + self.smooth) / (p.sum() + g.sum() + self.smooth)
            loss = loss + (1.0 - self.alpha) * (1.0 - dice)
        return loss


# ----------------------------------------------------------------------- skeleton recall
def skeleton_target(mask: np.ndarray, dilation: int = 1) -> np.ndarray:
    """The skeleton of a binary mask (2D or 3D, skimage) dilated by ``dilation`` pixels with
    a cross (city-block) element within the mask, as float32."""
    from scipy import ndimage as ndi
    from skimage.morphology import skeletonize

    mask = np.asarray(mask, bool)
    if not mask.any():
        return np.zeros(mask.shape, np.float32)
    skel = skeletonize(mask)
    if dilation > 0:
        skel = ndi.binary_dilation(skel, ndi.generate_binary_structure(mask.ndim, 1),
                                   iterations=dilation, mask=mask)
    return skel.astype(np.float32)


@register_loss("skeleton_recall")
class SkeletonRecallLoss(SoftPoreMap):
    """``1 − Σ T·p / Σ T``: the share of the (dilated) truth skeleton ``T`` the soft pore map
    misses, averaged over the patches that have a skeleton.

    Parameters
    ----------
    threshold, tau, dark:
        As for ``cldice``.
    dilation:
        Dilation of the truth skeleton, in pixels (1; 0 = the bare skeleton).
    """

    name = "skeleton_recall"

    def __init__(self, threshold: float = 0.5, tau: float = 0.05, dark: bool = False,
                 dilation: int = 1):
        super().__init__(threshold, tau, dark, False)
        if isinstance(dilation, bool) or not isinstance(dilation, int) or dilation < 0:
            raise ConfigError(f"dilation must be an integer >= 0, got {dilation!r}",
                              where="loss.skeleton_recall.dilation")
        self.dilation = dilation

    def skeleton(self, target: torch.Tensor) -> torch.Tensor:
        """The dilated truth skeleton of every patch and channel (CPU, once per patch)."""
        g = self.truth(target).detach().cpu().numpy() > 0.5
        out = np.zeros(g.shape, np.float32)
        for i in range(g.shape[0]):
            for c in range(g.shape[1]):
                out[i, c] = skeleton_target(g[i, c], self.dilation)
        return torch.from_numpy(out).to(device=target.device, dtype=target.dtype)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_shapes(pred, target, self.name)
        _check_dims(pred, self.name)
        p = self.pore_map(pred)
        t = self.skeleton(target)
        axes = tuple(range(2, pred.dim()))
        total = t.sum(dim=axes)
        has = total > 0
        if not bool(has.any()):
            return (p * 0).sum()
        recall = (t * p).sum(dim=axes)[has] / total[has]
        return 1.0 - recall.mean()
