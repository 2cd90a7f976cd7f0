"""The result of a data-consistency test (:mod:`geosr.trust.data_consistency` for the
image-domain noise model, :mod:`geosr.trust.ct_consistency` for X-ray CT): residual maps on
the LR grid and per-tile p-values, the family of tests the verdict controls across tiles.

>>> import numpy as np
>>> r = ConsistencyResult(expected=np.zeros((2, 2)), z=np.zeros((2, 2)), tile=(2, 2),
...                       tile_chi2=np.ones((1, 1)), tile_p=np.array([[0.5]]),
...                       tile_n=np.array([[4]]), chi2_per_pixel=1.0, p_value=0.5,
...                       alpha=1e-3, excluded=0)
>>> r.summary()["tiles_flagged"]
0
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["ConsistencyResult"]


@dataclasses.dataclass
class ConsistencyResult:
    """Residual maps (LR grid) and per-tile χ² statistics.

    ``expected``: ``D f̂``; ``z``: normalised residual (NaN where excluded: saturated LR
    pixels); ``tile_chi2``: χ²/N per tile; ``tile_p``: upper-tail p-value per tile;
    ``flagged``: ``tile_p < alpha``; ``chi2_per_pixel`` and ``p_value`` for the whole image.
    ``family_p`` (CT): per-tile p-values already adjusted for the family by a max-statistic
    over ``family_draws`` noise draws (red where ``<= level``); None: control the tile_p.
    """

    expected: np.ndarray
    z: np.ndarray
    tile: tuple[int, ...]
    tile_chi2: np.ndarray
    tile_p: np.ndarray
    tile_n: np.ndarray
    chi2_per_pixel: float
    p_value: float
    alpha: float
    excluded: int
    test: str = "chi-square with N dof per tile, N = pixels in the tile"
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    family_p: np.ndarray | None = None
    family_draws: int = 0

    @property
    def flagged(self) -> np.ndarray:
        return self.tile_p < self.alpha

    def summary(self) -> dict[str, Any]:
        return {
            "chi2_per_pixel": self.chi2_per_pixel, "p_value": self.p_value,
            "alpha": self.alpha, "tile_lr_px": list(self.tile),
            "tiles": int(self.tile_p.size), "tiles_flagged": int(self.flagged.sum()),
            "excluded_saturated_px": self.excluded,
            "test": self.test, **self.details,
            "blind_spot": "changes in the null space of the forward operator (detail the "
                          "measurement cannot see) are invisible to this test",
        }
