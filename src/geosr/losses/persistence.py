"""A persistent-homology (PH) loss on crops of the soft pore map — optional, needs ``cripser``
(``pip install cripser``; LGPL-3, imported only when the loss is built).

``persistence``: for every patch (up to ``max_items`` per batch) a random ``crop`` of the soft
pore map ``p`` (see :mod:`geosr.losses.topology`) is filtered by ``f = 1 − p`` (pores enter
first; cubical V-construction: 4-/6-connected pores) with ``cripser.compute_ph_torch``, which
routes gradients to the creator/destroyer pixels. The truth's Betti numbers ``β_k`` come from
the same filtration of the hard mask ``G`` of the target crop. Per dimension ``k ≤ maxdim``,
with the persistences ``π_1 ≥ π_2 ≥ …`` of ``f`` (death clipped to 1):

    L_k = Σ_{i ≤ β_k} (1 − π_i)² + Σ_{i > β_k} π_i²

— the ``β_k`` most persistent features are pulled to full persistence and every other one to
the diagonal (the Betti-number prior of Clough et al., TPAMI 2020; a Wasserstein distance to
the truth diagram when that has ``β_k`` points at (0, 1)). The loss is the mean over crops of
``Σ_k L_k``; it is 0 when ``p`` is a binary map with the truth's Betti numbers. It matches
counts, not positions (no spatial correspondence as in Betti matching), so use it beside a
pixel loss and, being CPU-bound (~5 ms per 64² crop, ~0.1 s per 32³), with a small weight or
late in training (``warmup``).

Example
-------
>>> import torch                                                      # doctest: +SKIP
>>> y = torch.full((1, 1, 32, 32), 0.1); y[..., 16, 4:28] = 0.9       # doctest: +SKIP
>>> float(PersistenceLoss(crop=32)(y, y)) < 1e-6                       # doctest: +SKIP
True
"""

from __future__ import annotations

import torch

from geosr.core.errors import ConfigError, DependencyError
from geosr.losses.pixel import check_shapes
from geosr.losses.registry import register_loss
from geosr.losses.topology import SoftPoreMap, _check_dims

__all__ = ["PersistenceLoss", "require_cripser", "betti_prior_loss"]


def require_cripser():
    """The ``cripser`` module, or a :class:`DependencyError` naming the pip package."""
    try:
        import cripser
    except ImportError:
        raise DependencyError("the 'persistence' loss needs the optional package 'cripser'",
                              where="loss.persistence",
                              hint="pip install cripser (LGPL-3), or drop the persistence "
                                   "term") from None
    if not hasattr(cripser, "compute_ph_torch"):
        raise DependencyError("the installed cripser has no compute_ph_torch",
                              where="loss.persistence", hint="pip install -U cripser")
    return cripser


def betti_prior_loss(ph: torch.Tensor, betti: dict[int, int], maxdim: int) -> torch.Tensor:
    """``Σ_k [Σ_{i≤β_k} (1 − π_i)² + Σ_{i>β_k} π_i²]`` from cripser rows
    ``[dim, birth, death, ...]`` (deaths clipped to 1)."""
    total = ph.new_zeros(())
    for k in range(maxdim + 1):
        rows = ph[ph[:, 0] == k]
        if rows.shape[0] == 0:
            continue
        death = rows[:, 2]
        death = torch.where(torch.isfinite(death), death, torch.ones_like(death)).clamp(max=1.0)
        pers = (death - rows[:, 1]).clamp(min=0.0)
        pers, _ = torch.sort(pers, descending=True)
        b = min(betti.get(k, 0), pers.shape[0])
        total = total + ((1.0 - pers[:b]) ** 2).sum() + (pers[b:] ** 2).sum()
    return total


@register_loss("persistence")
class PersistenceLoss(SoftPoreMap):
    """Betti-number persistence loss on random crops (see the module docstring).

    Parameters
    ----------
    threshold, tau, dark:
        As for ``cldice`` (normalised intensity units).
    crop:
        Crop size in HR pixels per axis (64; 3D patches use ``min(crop, 32)``); the whole
        patch when it is smaller.
    maxdim:
        Highest homology dimension (1: components and loops; 2 adds cavities in 3D).
    max_items:
        Patches of a batch used per call (4; PH runs on the CPU).
    """

    name = "persistence"

    def __init__(self, threshold: float = 0.5, tau: float = 0.05, dark: bool = False,
                 crop: int = 64, maxdim: int = 1, max_items: int = 4):
        super().__init__(threshold, tau, dark, False)
        for key, value, lo in (("crop", crop, 4), ("maxdim", maxdim, 0),
                               ("max_items", max_items, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ConfigError(f"{key} must be an integer >= {lo}, got {value!r}",
                                  where=f"loss.persistence.{key}")
        self.crop, self.maxdim, self.max_items = crop, maxdim, max_items
        self._cripser = require_cripser()

    def _betti(self, mask: torch.Tensor) -> dict[int, int]:
        f = (1.0 - mask).detach().cpu().double().numpy()
        ph = self._cripser.compute_ph(f, filtration="V", maxdim=self.maxdim)
        out: dict[int, int] = {}
        for row in ph:
            if row[1] < 0.5 < row[2]:
                out[int(row[0])] = out.get(int(row[0]), 0) + 1
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, g, dims = self._pair(pred, target)
        crop = self.crop if dims == 2 else min(self.crop, 32)
        losses = []
        n = min(p.shape[0], self.max_items)
        for i in range(n):
            for c in range(p.shape[1]):
                region = []
                for size in p.shape[2:]:
                    c_size = min(crop, size)
                    start = int(torch.randint(0, size - c_size + 1, ())) if size > c_size else 0
                    region.append(slice(start, start + c_size))
                pi = p[(i, c, *region)]
                gi = g[(i, c, *region)]
                ph = self._cripser.compute_ph_torch((1.0 - pi).double(), filtration="V",
                                                    maxdim=self.maxdim)
                losses.append(betti_prior_loss(ph, self._betti(gi), self.maxdim))
        return torch.stack(losses).mean().to(pred.dtype)
