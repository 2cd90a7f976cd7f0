"""Patch sampling that favours foreground structure.

For each training pair a *foreground map* is computed on the LR grid: the HR image's absolute
deviation from its median (so bright pores on a dark matrix and dark pores on a bright one both
count), averaged over each ``scale``-block, thresholded at its ``foreground_percentile``
percentile. The weight of a patch position is the fraction of foreground pixels inside the
patch (the map smoothed by the patch window). A patch is drawn as follows:

1. an image, with probability proportional to its number of patch positions;
2. with probability ``foreground_bias`` a position with probability ∝ its weight, otherwise a
   position uniformly (so every position keeps a probability >= (1 − bias)/n);
3. one augmentation (flip/rotation) uniformly from :class:`geosr.data.augment.Augmenter`.

All randomness comes from one numpy Generator (PCG64) whose state is saved in checkpoints
(:meth:`PatchSampler.state_dict`), so a resumed run draws the same patches.

Example
-------
>>> import numpy as np
>>> from geosr.data.pairs import Pair
>>> hr = np.zeros((1, 64, 64), np.float32); hr[:, 40:48, 40:48] = 1
>>> lr = hr.reshape(1, 16, 4, 16, 4).mean(axis=(2, 4))
>>> sampler = PatchSampler([Pair("a", "a", lr, hr, (0.1, 0.1))], patch=(4, 4), scale=4,
...                        foreground_bias=1.0, seed=0)
>>> x, y, info = sampler.sample(8)
>>> x.shape, y.shape, bool((y.reshape(8, -1).max(axis=1) > 0).all())
((8, 1, 4, 4), (8, 1, 16, 16), True)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from geosr.core.errors import ConfigError, InputError
from geosr.data.augment import Augmenter
from geosr.data.pairs import Pair

__all__ = ["foreground_map", "window_fraction", "PatchSampler"]


def foreground_map(hr: np.ndarray, scale: int, percentile: float = 95.0) -> np.ndarray:
    """Binary foreground on the LR grid from an HR array ``(C, *spatial)``: the
    ``scale``-block mean of ``|hr − median(hr)|`` (channels averaged) above its
    ``percentile``-th percentile. All False for a constant image."""
    dev = np.abs(hr - np.median(hr)).mean(axis=0)
    dims = dev.ndim
    lr_shape = tuple(n // scale for n in dev.shape)
    dev = dev[tuple(slice(0, n * scale) for n in lr_shape)]
    blocks = dev.reshape([v for n in lr_shape for v in (n, scale)])
    block_mean = blocks.mean(axis=tuple(range(1, 2 * dims, 2)))
    threshold = np.percentile(block_mean, percentile)
    return block_mean > threshold


def window_fraction(mask: np.ndarray, patch: Sequence[int]) -> np.ndarray:
    """Mean of ``mask`` over every window of size ``patch`` fully inside the array (a summed-area
    table); the output has shape ``n − p + 1`` per axis, indexed by the window's first corner."""
    out = mask.astype(np.float64)
    for axis, p in enumerate(patch):
        c = np.cumsum(out, axis=axis)
        pad = [(0, 0)] * out.ndim
        pad[axis] = (1, 0)
        c = np.pad(c, pad)
        n = c.shape[axis]
        out = np.take(c, np.arange(p, n), axis=axis) - np.take(c, np.arange(0, n - p), axis=axis)
    return out / float(np.prod(patch))


class PatchSampler:
    """Draw batches of aligned LR/HR patches from training pairs.

    Parameters
    ----------
    pairs:
        Training pairs (never validation ones).
    patch:
        LR patch size per spatial axis (pixels); the HR patch is ``patch × scale``.
    scale:
        Integer SR factor.
    foreground_bias:
        Probability, in 0..1, of drawing a position by its foreground weight rather than
        uniformly (0: uniform sampling).
    foreground_percentile:
        Percentile of the deviation map above which an LR pixel is foreground.
    augmenter:
        Symmetries to draw from (None: no augmentation).
    seed:
        int seed or numpy Generator.
    """

    def __init__(self, pairs: Sequence[Pair], patch: Sequence[int], scale: int, *,
                 foreground_bias: float = 0.8, foreground_percentile: float = 95.0,
                 augmenter: Augmenter | None = None, seed: int | np.random.Generator = 0):
        if not pairs:
            raise InputError("no training images", where="data",
                             hint="check the data source and the validation split")
        if not 0.0 <= foreground_bias <= 1.0:
            raise ConfigError(f"must be in 0..1, got {foreground_bias}",
                              where="patch.foreground_bias")
        self.pairs = list(pairs)
        self.patch = tuple(int(p) for p in patch)
        self.scale = int(scale)
        self.bias = float(foreground_bias)
        self.augmenter = augmenter
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.drawn = 0
        sizes, cdfs, fg_fraction = [], [], []
        for pair in self.pairs:
            spatial = pair.lr.shape[1:]
            if len(spatial) != len(self.patch) or any(n < p for n, p in zip(spatial, self.patch)):
                raise InputError(f"image {pair.name!r} of LR shape {tuple(spatial)} is smaller "
                                 f"than the LR patch {self.patch}", where="patch.size",
                                 hint="use a smaller patch size or larger images")
            weights = window_fraction(foreground_map(pair.hr, self.scale,
                                                     foreground_percentile), self.patch).ravel()
            total = weights.sum()
            sizes.append(weights.size)
            cdfs.append(np.cumsum(weights / total) if total > 0 else None)
            fg_fraction.append(float(weights.mean()))
        self._grids = [tuple(n - p + 1 for n, p in zip(pair.lr.shape[1:], self.patch))
                       for pair in self.pairs]
        self._sizes = np.asarray(sizes, dtype=np.float64)
        self._image_cdf = np.cumsum(self._sizes / self._sizes.sum())
        self._cdfs = cdfs
        self.foreground_fraction = fg_fraction

    # ----------------------------------------------------------------- drawing
    def _position(self) -> tuple[int, tuple[int, ...]]:
        u_img, u_mode, u_pos = self.rng.random(3)
        i = min(int(np.searchsorted(self._image_cdf, u_img, side="right")), len(self.pairs) - 1)
        cdf = self._cdfs[i]
        n = int(self._sizes[i])
        if cdf is not None and u_mode < self.bias:
            flat = min(int(np.searchsorted(cdf, u_pos, side="right")), n - 1)
        else:
            flat = min(int(u_pos * n), n - 1)
        return i, tuple(int(c) for c in np.unravel_index(flat, self._grids[i]))

    def sample(self, batch_size: int) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """A batch: LR ``(N, C, *patch)``, HR ``(N, C, *patch·scale)`` float32, and per patch
        ``{"pair", "name", "corner" (LR pixels), "op"}``."""
        lrs, hrs, info = [], [], []
        s = self.scale
        for _ in range(int(batch_size)):
            i, corner = self._position()
            pair = self.pairs[i]
            lr = pair.lr[(slice(None),) + tuple(slice(c, c + p)
                                                for c, p in zip(corner, self.patch))]
            hr = pair.hr[(slice(None),) + tuple(slice(c * s, (c + p) * s)
                                                for c, p in zip(corner, self.patch))]
            op = 0
            if self.augmenter is not None and len(self.augmenter) > 1:
                op = int(self.rng.integers(len(self.augmenter)))
                lr, hr = self.augmenter(lr, hr, op)
            lrs.append(lr)
            hrs.append(hr)
            info.append({"pair": i, "name": pair.name, "corner": corner, "op": op})
        self.drawn += int(batch_size)
        return (np.ascontiguousarray(np.stack(lrs), dtype=np.float32),
                np.ascontiguousarray(np.stack(hrs), dtype=np.float32), info)

    # ------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state: the generator's ``bit_generator.state`` and the number of
        patches drawn."""
        return {"bit_generator": self.rng.bit_generator.state, "drawn": self.drawn}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["bit_generator"]
        self.drawn = int(state.get("drawn", 0))
