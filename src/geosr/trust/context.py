"""What every piece of trust evidence sees: one prediction and its LR input, resolved once at
the edge (model, calibration card, acquisition, tiles, verdict level) by
:func:`~geosr.trust.report.trust_report`, and passed down as one typed object.

>>> import numpy as np
>>> from geosr.core import Image
>>> ctx = TrustContext(pred=Image(np.ones((8, 8)), "YX", spacing=(0.1, 0.1)),
...                    low=Image(np.ones((4, 4)), "YX", spacing=(0.2, 0.2)))
>>> ctx.scale, ctx.sizes, ctx.tile_spacing
((2, 2), (8, 8), (1.6, 1.6))
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import Image
from geosr.trust.acquisition import Acquisition
from geosr.trust.card import CalibrationCard
from geosr.trust.multiple import DEFAULT_LEVEL
from geosr.trust.tiles import tile_sizes

__all__ = ["TrustContext", "plane"]


def plane(image: Image) -> np.ndarray:
    """The (single) channel of ``image`` as float32, spatial axes only."""
    v = np.asarray(image.numpy(), dtype=np.float32)
    return v[0] if image.has_channels else v


@dataclasses.dataclass
class TrustContext:
    """One prediction ``pred`` made from ``low``, with everything resolved.

    ``loaded``: the :class:`geosr.models.LoadedModel` or None; ``card``: the
    :class:`CalibrationCard` or None; ``acquisition``: the :class:`Acquisition` or None (and
    ``acquisition_source``); optics for the physics report; ``uncertainty``: the requested
    kind (``"auto"``, a kind or None); ``tile``: tile side in LR pixels; ``level`` and
    ``control``: the verdict's error control; ``options``: switches of optional pieces
    (e.g. ``{"confidence": True}``). ``card_reasons``: why the card does not apply (pieces
    may add to it); ``results``: raw results a piece leaves for later ones.
    """

    pred: Image
    low: Image
    loaded: Any = None
    card: CalibrationCard | None = None
    acquisition: Acquisition | None = None
    acquisition_source: str | None = None
    wavelength_nm: float | None = None
    na: float | None = None
    microscope: str = "widefield"
    blur_fwhm_um: Any = None
    uncertainty: str | None = "auto"
    ensemble: Any = None
    tta_members: int | None = None
    tile: Any = None
    device: str = "cpu"
    level: float = DEFAULT_LEVEL
    control: str = "holm"
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    card_reasons: list[str] = dataclasses.field(default_factory=list)
    results: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.f, self.y = plane(self.pred), plane(self.low)
        if self.f.ndim != self.y.ndim or any(a % b for a, b in zip(self.f.shape, self.y.shape)):
            raise InputError(f"the prediction {self.f.shape} is not an integer multiple of the "
                             f"LR image {self.y.shape}", where="prediction")
        self.scale = tuple(a // b for a, b in zip(self.f.shape, self.y.shape))
        self.sizes = tile_sizes(self.tile, self.y.ndim)

    @property
    def tile_spacing(self) -> tuple[float, ...]:
        return tuple(s * t for s, t in zip(self.low.spacing, self.sizes))

    def lr_map(self, values: np.ndarray) -> Image:
        """A map on the LR grid (float32, the LR's spacing, unit and origin)."""
        return Image(np.asarray(values, np.float32), self.low.spatial_axes,
                     spacing=tuple(self.low.spacing), unit=self.low.unit,
                     origin=self.low.origin)

    def sr_map(self, values: np.ndarray, dtype: Any = np.float32) -> Image:
        """A map on the prediction grid."""
        return Image(np.asarray(values, dtype), self.low.spatial_axes,
                     spacing=tuple(self.pred.spacing), unit=self.pred.unit,
                     origin=self.pred.origin)

    def tile_map(self, values: np.ndarray, dtype: Any = np.float32) -> Image:
        """A map on the tile grid (one value per tile), its origin at the centre of the first
        tile so that it overlays the LR image in physical space."""
        origin = tuple(o + (t - 1) / 2 * s for o, t, s in
                       zip(self.low.origin, self.sizes, self.low.spacing))
        return Image(np.asarray(values, dtype), self.low.spatial_axes,
                     spacing=self.tile_spacing, unit=self.low.unit, origin=origin)

    @property
    def uncertainty_kind(self) -> str | None:
        """The uncertainty kind to compute: the requested one, or for ``"auto"`` the card's
        kind, else TTA when a model is given (None: no uncertainty)."""
        if self.uncertainty != "auto":
            return self.uncertainty
        return (self.card.uncertainty_kind if self.card else None) or (
            "tta" if self.loaded is not None else None)

    @property
    def card_applies(self) -> bool:
        return self.card is not None and not self.card_reasons
