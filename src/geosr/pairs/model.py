"""The HR image seen through the forward model on the LR grid, with its derivatives.

``V(θ) = a · f(bin_s(B_σ(q_T(p)))) + b``: the HR image is blurred by a Gaussian PSF of widths
``σ`` (HR pixels), sampled at the fine-grid positions ``q_T`` given by the transform ``T``
(:mod:`geosr.pairs.transform`), binned by ``scale`` (area integration, as
:class:`geosr.degrade.Downsample`) and mapped through the intensity map (``f(M) = M`` affine,
``f(M) = (M / m_ref)^γ`` gamma). :class:`LRModel` evaluates ``V`` and its Jacobian in closed
form, for a Gauss–Newton fit (:func:`scipy.optimize.least_squares`): the derivative of a Gaussian
blur with respect to its width is ``∂B/∂σ_k = σ_k ∂²B/∂x_k²`` (heat equation).

>>> import numpy as np
>>> hr = np.random.default_rng(0).random((32, 32))
>>> m = LRModel(hr, scale=4, transform="translation", intensity="affine")
>>> x = m.initial(shift=(0.0, 0.0), sigma=(1.5,))
>>> m.predict(x, (0, 0), (8, 8)).shape
(8, 8)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy import ndimage

from geosr.core.per_axis import per_axis
from geosr.pairs.transform import PairTransform

__all__ = ["LRModel", "bin_blocks", "fit_standard_errors"]

_MIN_SIGMA = 0.2


def fit_standard_errors(result: Any, names: Sequence[str]) -> dict[str, float]:
    """Standard errors of a least-squares fit (``scipy.optimize.least_squares`` result):
    ``sqrt(diag(s² (JᵀJ)⁺))`` with ``s²`` the residual variance; ``{}`` when it fails."""
    dof = max(result.fun.size - len(names), 1)
    s2 = float((result.fun ** 2).sum()) / dof
    jtj = result.jac.T @ result.jac
    try:
        cov = np.linalg.pinv(jtj) * s2
    except np.linalg.LinAlgError:
        return {}
    return {n: float(np.sqrt(max(cov[i, i], 0.0))) for i, n in enumerate(names)}


def bin_blocks(values: np.ndarray, scale: Sequence[int]) -> np.ndarray:
    """Mean over non-overlapping ``scale`` blocks (trailing pixels dropped).

    >>> bin_blocks(np.arange(16.0).reshape(4, 4), (2, 2))
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    shape = [n // f for n, f in zip(values.shape, scale)]
    cut = values[tuple(slice(0, n * f) for n, f in zip(shape, scale))]
    blocked = []
    for n, f in zip(shape, scale):
        blocked += [n, f]
    return cut.reshape(blocked).mean(axis=tuple(range(1, 2 * len(shape), 2)))


class LRModel:
    """Parameter vector ``x = [shift (dims), rotation_deg?, zoom?, σ_yx, σ_z?, a, b, γ?]``
    (``rotation_deg`` for rigid/similarity, ``zoom`` for similarity, ``σ_z`` in 3D, ``γ`` for
    the gamma intensity map); σ in HR pixels, shift in LR pixels."""

    def __init__(self, hr: np.ndarray, scale: Sequence[int] | int, transform: str,
                 intensity: str, fit_psf: bool = True):
        self.hr = np.asarray(hr, dtype=np.float64)
        self.dims = self.hr.ndim
        self.scale = per_axis(scale, self.dims, where="scale", kind=int)
        self.transform, self.intensity, self.fit_psf = transform, intensity, fit_psf
        names = [f"shift_{a}" for a in "zyx"[-self.dims:]]
        if transform in ("rigid", "similarity"):
            names.append("rotation_deg")
        if transform == "similarity":
            names.append("zoom")
        names.append("sigma_yx")
        if self.dims == 3:
            names.append("sigma_z")
        names += ["a", "b"] + (["gamma"] if intensity == "gamma" else [])
        self.names = names
        self.index = {n: i for i, n in enumerate(names)}
        lo, hi = np.percentile(self.hr, [1.0, 99.5])
        self.m_ref = float(hi) if hi > 0 else 1.0
        self._cache_sigma: tuple | None = None
        self._images: dict[str, np.ndarray] = {}
        self._x_key: bytes | None = None

    # ---------------------------------------------------------------- parameters
    def initial(self, shift: Sequence[float], sigma: Sequence[float], a: float = 1.0,
                b: float = 0.0) -> np.ndarray:
        x = np.zeros(len(self.names))
        x[:self.dims] = shift
        if "zoom" in self.index:
            x[self.index["zoom"]] = 1.0
        x[self.index["sigma_yx"]] = sigma[-1]
        if self.dims == 3:
            x[self.index["sigma_z"]] = sigma[0]
        x[self.index["a"]], x[self.index["b"]] = a, b
        if "gamma" in self.index:
            x[self.index["gamma"]] = 1.0
        return x

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = np.full(len(self.names), -np.inf)
        hi = np.full(len(self.names), np.inf)
        for key in ("sigma_yx", "sigma_z"):
            if key in self.index:
                lo[self.index[key]] = _MIN_SIGMA
                hi[self.index[key]] = 8.0 * max(self.scale)
        if "zoom" in self.index:
            lo[self.index["zoom"]], hi[self.index["zoom"]] = 0.8, 1.25
        if "gamma" in self.index:
            lo[self.index["gamma"]], hi[self.index["gamma"]] = 0.2, 5.0
        return lo, hi

    def transform_of(self, x: np.ndarray) -> PairTransform:
        rot = float(x[self.index["rotation_deg"]]) if "rotation_deg" in self.index else 0.0
        zoom = float(x[self.index["zoom"]]) if "zoom" in self.index else 1.0
        return PairTransform(tuple(float(v) for v in x[:self.dims]), rot, zoom)

    def sigma_of(self, x: np.ndarray) -> tuple[float, ...]:
        """Per-axis PSF sigma in HR pixels (ZYX order)."""
        syx = float(x[self.index["sigma_yx"]])
        if self.dims == 3:
            return (float(x[self.index["sigma_z"]]), syx, syx)
        return (syx, syx)

    # ---------------------------------------------------------------- images
    def _blurred(self, sigma: tuple[float, ...], derivatives: bool) -> dict[str, np.ndarray]:
        key = (sigma, derivatives)
        if self._cache_sigma == key:
            return self._images
        if self._cache_sigma is not None and self._cache_sigma[0] == sigma and not derivatives:
            return self._images
        images = {"B": ndimage.spline_filter(ndimage.gaussian_filter(self.hr, sigma,
                                                                     mode="reflect"),
                                             mode="mirror")}
        if derivatives:
            for k in range(self.dims):
                order = [0] * self.dims
                order[k] = 1
                images[f"d{k}"] = ndimage.gaussian_filter(self.hr, sigma, order=order,
                                                          mode="reflect")
                order[k] = 2
                images[f"dd{k}"] = ndimage.gaussian_filter(self.hr, sigma, order=order,
                                                           mode="reflect")
        self._cache_sigma, self._images = key, images
        return images

    def _sample(self, image: np.ndarray, where: Any, order: int) -> np.ndarray:
        """Sample at ``where``: a coordinate array ``q`` or, for a pure shift, a
        :class:`_Grid` (separable, much faster; same spline, same boundary)."""
        if isinstance(where, _Grid):
            return where.sample(image, order)
        return ndimage.map_coordinates(image, where, order=order, mode="mirror",
                                       prefilter=False)

    def coordinates(self, x: np.ndarray, lr_start: Sequence[int], lr_shape: Sequence[int]
                    ) -> np.ndarray:
        fine_shape = [n * f for n, f in zip(lr_shape, self.scale)]
        start = [s0 * f for s0, f in zip(lr_start, self.scale)]
        return self.transform_of(x).hr_coordinates(fine_shape, self.scale, self.hr.shape,
                                                   start)

    def _where(self, x: np.ndarray, lr_start: Sequence[int], lr_shape: Sequence[int]) -> Any:
        t = self.transform_of(x)
        if self.transform != "translation":
            return self.coordinates(x, lr_start, lr_shape)
        fine_shape = [n * f for n, f in zip(lr_shape, self.scale)]
        first = [s0 * f - sh * f for s0, f, sh in zip(lr_start, self.scale, t.shift)]
        return _Grid(tuple(first), tuple(fine_shape))

    def _map(self, x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``f(M)`` and ``f'(M)``."""
        if "gamma" not in self.index:
            return m, np.ones_like(m)
        g = float(x[self.index["gamma"]])
        u = np.maximum(m / self.m_ref, 1e-6)
        f = u ** g
        return f, g * f / u / self.m_ref

    def binned(self, x: np.ndarray, lr_start: Sequence[int], lr_shape: Sequence[int]
               ) -> np.ndarray:
        """``M = bin(B_σ(q))``, the HR blurred and binned onto the LR region (HR units)."""
        images = self._blurred(self.sigma_of(x), derivatives=False)
        return bin_blocks(self._sample(images["B"], self._where(x, lr_start, lr_shape), 3),
                          self.scale)

    def predict(self, x: np.ndarray, lr_start: Sequence[int], lr_shape: Sequence[int]
                ) -> np.ndarray:
        """The modelled LR values ``V`` on the LR region (LR units)."""
        f, _ = self._map(x, self.binned(x, lr_start, lr_shape))
        return x[self.index["a"]] * f + x[self.index["b"]]

    def predict_at(self, x: np.ndarray, q: np.ndarray) -> np.ndarray:
        """``V`` for explicit fine-grid HR coordinates ``q`` (``(dims, *fine_shape)``), e.g.
        with a non-rigid field added (:mod:`geosr.pairs.deform`)."""
        images = self._blurred(self.sigma_of(x), derivatives=False)
        f, _ = self._map(x, bin_blocks(self._sample(images["B"], q, 3), self.scale))
        return x[self.index["a"]] * f + x[self.index["b"]]

    def jacobian(self, x: np.ndarray, lr_start: Sequence[int], lr_shape: Sequence[int],
                 mask: np.ndarray) -> np.ndarray:
        """``∂V/∂x`` at the masked LR pixels, shape ``(n_masked, len(x))``."""
        sigma = self.sigma_of(x)
        images = self._blurred(sigma, derivatives=True)
        q = self._where(x, lr_start, lr_shape)
        m = bin_blocks(self._sample(images["B"], q, 3), self.scale)
        f, fprime = self._map(x, m)
        a = float(x[self.index["a"]])
        grads = [self._sample(images[f"d{k}"], q, 1) for k in range(self.dims)]
        t = self.transform_of(x)
        inv = t._matrix_inverse()
        cols = np.zeros((int(mask.sum()), len(self.names)))

        def put(name: str, fine: np.ndarray) -> None:
            cols[:, self.index[name]] = (a * fprime * bin_blocks(fine, self.scale))[mask]

        d = self.dims
        for j in range(d):  # shift_j moves p by scale_j along axis j
            dq = [np.zeros(()) for _ in range(d)]
            if j == d - 2 or j == d - 1:
                jj = j - (d - 2)
                dq[d - 2] = -self.scale[j] * inv[0, jj]
                dq[d - 1] = -self.scale[j] * inv[1, jj]
            else:
                dq[0] = -self.scale[j] / t.zoom
            put(f"shift_{'zyx'[-d:][j]}", sum(g * c for g, c in zip(grads, dq)))
        centre = np.array([(n - 1) / 2.0 for n in self.hr.shape])
        if "rotation_deg" in self.index:
            # q_yx - c = R(-θ)/zoom · r, so dq_yx/dθ = J (q_yx - c) with J = [[0, 1], [-1, 0]]
            ry, rx = q[-2] - centre[-2], q[-1] - centre[-1]
            put("rotation_deg", math.pi / 180.0 * (grads[-2] * rx - grads[-1] * ry))
        if "zoom" in self.index:
            put("zoom", -sum(g * (q[k] - centre[k]) for k, g in enumerate(grads)) / t.zoom)
        lap_yx = self._sample(images[f"dd{d - 2}"], q, 1) + self._sample(images[f"dd{d - 1}"],
                                                                           q, 1)
        put("sigma_yx", sigma[-1] * lap_yx)
        if d == 3:
            put("sigma_z", sigma[0] * self._sample(images["dd0"], q, 1))
        cols[:, self.index["a"]] = f[mask]
        cols[:, self.index["b"]] = 1.0
        if "gamma" in self.index:
            u = np.maximum(m / self.m_ref, 1e-6)
            cols[:, self.index["gamma"]] = (a * f * np.log(u))[mask]
        if not self.fit_psf:
            cols[:, self.index["sigma_yx"]] = 0.0
            if d == 3:
                cols[:, self.index["sigma_z"]] = 0.0
        return cols


def _bspline3(d: np.ndarray) -> np.ndarray:
    d = np.abs(d)
    return np.where(d < 1, 2.0 / 3.0 - d ** 2 + d ** 3 / 2.0,
                    np.where(d < 2, (2.0 - d) ** 3 / 6.0, 0.0))


class _Grid:
    """A regular grid shifted by a constant: HR coordinate ``first[k] + i`` along axis ``k``,
    ``i = 0 .. shape[k] - 1``. Sampling is separable: per axis, 2 linear taps (order 1) or 4
    cubic B-spline taps on spline coefficients (order 3), boundary ``mirror`` — the same
    values as :func:`scipy.ndimage.map_coordinates` with ``prefilter=False``."""

    def __init__(self, first: tuple[float, ...], shape: tuple[int, ...]):
        self.first, self.shape = first, shape

    def sample(self, image: np.ndarray, order: int) -> np.ndarray:
        out = image
        for axis, (f0, n) in enumerate(zip(self.first, self.shape)):
            base = int(np.floor(f0))
            frac = f0 - base
            taps = (0, 1) if order == 1 else (-1, 0, 1, 2)
            weights = ([1.0 - frac, frac] if order == 1
                       else _bspline3(frac - np.array(taps, dtype=np.float64)))
            lo = base + taps[0]
            hi = base + taps[-1] + n
            size = out.shape[axis]
            pad = (max(0, -lo), max(0, hi - size))
            if pad != (0, 0):
                width = [(0, 0)] * out.ndim
                width[axis] = pad
                out = np.pad(out, width, mode="reflect" if size > 1 else "edge")
            acc = None
            for t, w in zip(taps, weights):
                start = base + t + pad[0]
                part = np.take(out, np.arange(start, start + n), axis=axis) * w
                acc = part if acc is None else acc + part
            out = acc
        return out
