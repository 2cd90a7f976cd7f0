"""The linear part of the forward model (PSF blur, then area-integrating downsampling) as an
operator ``A`` with an exact adjoint ``Aᵀ``, on float64 numpy arrays.

Both the Gaussian blur and block-mean binning are separable, so ``A`` is the tensor product of
one small sparse matrix per spatial axis, ``A = A_0 ⊗ A_1 (⊗ A_2)``, with
``A_axis = D_axis · B_axis``:

- ``B_axis`` (n × n) is the 1D correlation with the sampled Gaussian kernel of
  :func:`geosr.degrade.psf.gaussian_kernel1d` on the reflect-padded line, i.e. scipy's
  ``mode='reflect'`` (``d c b a | a b c d | d c b a``, extended periodically with period
  ``2n`` when the kernel is longer than the line). Padding is a selection matrix ``P``
  ((n + 2r) × n, padded index → source index), the 'valid' correlation a banded matrix ``W``
  (n × (n + 2r)); ``B = W P`` is assembled explicitly, so its transpose ``Pᵀ Wᵀ`` — the
  transposed correlation followed by folding the mirrored border contributions back onto the
  pixels they came from — is the exact adjoint for any kernel radius, including radii larger
  than the line.
- ``D_axis`` (m × n) is the mean over non-overlapping blocks of ``f`` pixels
  (``D[i, i f + j] = 1/f``); trailing pixels beyond ``m f`` (``crop=True``) get zero columns.
  Its adjoint repeats each low-resolution value over its block, divided by ``f``.

``forward`` applies ``A_axis`` along each spatial axis, ``adjoint`` applies ``A_axisᵀ``;
:meth:`SeparableOperator.aslinearoperator` wraps both for :mod:`scipy.sparse.linalg` solvers.
The same blur and binning as the steps in :mod:`geosr.degrade.steps`: for the same
parameters, ``forward(x)`` equals the noise-free step pipeline to rounding (~1e-15).

Example
-------
>>> import numpy as np
>>> op = BlurDownsample((32, 32), spacing_um=(0.1, 0.1), fwhm_um=0.4, factors=4)
>>> op.in_shape, op.out_shape
((32, 32), (8, 8))
>>> x, y = np.random.default_rng(0).normal(size=(32, 32)), np.ones((8, 8))
>>> bool(abs(np.vdot(op.forward(x), y) - np.vdot(x, op.adjoint(y))) < 1e-10)
True
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from geosr.core.errors import ConfigError, InputError
from geosr.core.per_axis import per_axis
from geosr.degrade.psf import FWHM_PER_SIGMA, gaussian_kernel1d

__all__ = [
    "reflect_indices", "blur_matrix", "block_mean_matrix", "SeparableOperator",
    "BlurDownsample",
]


def reflect_indices(n: int, radius: int) -> np.ndarray:
    """Source index of every sample of a line of length ``n`` padded by ``radius`` on both
    sides with scipy's ``'reflect'`` rule (``d c b a | a b c d | d c b a``), for any radius
    (the extension is periodic with period ``2n``). Returns ``n + 2 radius`` int indices.

    >>> reflect_indices(4, 5).tolist()
    [3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0]
    """
    j = np.arange(-radius, n + radius)
    m = np.mod(j, 2 * n)
    return np.where(m < n, m, 2 * n - 1 - m)


def blur_matrix(n: int, sigma_px: float, truncate: float = 4.0) -> sp.csr_matrix:
    """The n × n sparse matrix of a 1D Gaussian blur with reflect boundaries (scipy's
    ``gaussian_filter1d(mode='reflect', truncate=truncate)``); identity for ``sigma_px == 0``.
    """
    n = int(n)
    weights = gaussian_kernel1d(sigma_px, truncate)
    radius = (len(weights) - 1) // 2
    if radius == 0:
        return sp.identity(n, dtype=np.float64, format="csr")
    src = reflect_indices(n, radius)
    # output i = sum_k w[k] * padded[i + k], padded[p] = x[src[p]]
    rows = np.repeat(np.arange(n), 2 * radius + 1)
    cols = src[(np.arange(n)[:, None] + np.arange(2 * radius + 1)[None, :]).ravel()]
    data = np.tile(weights, n)
    # duplicates (folded mirror contributions) are summed by the conversion
    return sp.coo_matrix((data, (rows, cols)), shape=(n, n)).tocsr()


def block_mean_matrix(n: int, factor: int, crop: bool = False) -> sp.csr_matrix:
    """The m × n sparse matrix of mean-binning by ``factor`` (m = n // factor); with
    ``crop=True`` the trailing ``n - m factor`` pixels are dropped (zero columns), otherwise
    ``factor`` must divide ``n``."""
    n, factor = int(n), int(factor)
    if factor < 1:
        raise ConfigError(f"downsampling factor must be a positive integer, got {factor}",
                          where="scale")
    m = n // factor
    if m == 0 or (n % factor and not crop):
        raise InputError(f"factor {factor} does not divide a line of {n} pixels",
                         where="scale", hint=f"crop to {m * factor} or pass crop=True"
                         if m else "use a smaller factor")
    if factor == 1 and m == n:
        return sp.identity(n, dtype=np.float64, format="csr")
    rows = np.repeat(np.arange(m), factor)
    cols = np.arange(m * factor)
    data = np.full(m * factor, 1.0 / factor)
    return sp.csr_matrix((data, (rows, cols)), shape=(m, n))


def _apply_along(matrix: sp.spmatrix, x: np.ndarray, axis: int) -> np.ndarray:
    moved = np.moveaxis(x, axis, 0)
    rest = moved.shape[1:]
    out = matrix @ moved.reshape(moved.shape[0], -1)
    return np.moveaxis(np.asarray(out).reshape((matrix.shape[0],) + rest), 0, axis)


class SeparableOperator:
    """A linear operator that applies one sparse matrix per spatial axis.

    Parameters
    ----------
    matrices:
        One ``scipy.sparse`` matrix per spatial axis, shape (out_n, in_n).

    ``forward(x)`` accepts arrays of shape ``in_shape`` or ``(..., *in_shape)`` (e.g. a leading
    channel axis) and returns float64; ``adjoint(y)`` the same with ``out_shape``.
    """

    def __init__(self, matrices: Sequence[sp.spmatrix], *, info: dict[str, Any] | None = None):
        self.matrices = tuple(sp.csr_matrix(m, dtype=np.float64) for m in matrices)
        self._transposed = tuple(m.T.tocsr() for m in self.matrices)
        self.info = dict(info or {})

    @property
    def in_shape(self) -> tuple[int, ...]:
        return tuple(int(m.shape[1]) for m in self.matrices)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return tuple(int(m.shape[0]) for m in self.matrices)

    @property
    def dims(self) -> int:
        return len(self.matrices)

    def _check(self, x: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim < self.dims or x.shape[x.ndim - self.dims:] != shape:
            raise InputError(f"expected an array whose last axes have shape {shape}, got "
                             f"{x.shape}", where=name)
        return x

    def forward(self, x: Any) -> np.ndarray:
        """``A x``: blur and downsample (float64)."""
        x = self._check(x, self.in_shape, "x")
        lead = x.ndim - self.dims
        for axis, matrix in enumerate(self.matrices):
            x = _apply_along(matrix, x, lead + axis)
        return x

    def adjoint(self, y: Any) -> np.ndarray:
        """``Aᵀ y``: the exact adjoint of :meth:`forward` (float64)."""
        y = self._check(y, self.out_shape, "y")
        lead = y.ndim - self.dims
        for axis, matrix in enumerate(self._transposed):
            y = _apply_along(matrix, y, lead + axis)
        return y

    __call__ = forward

    def normal(self, x: Any) -> np.ndarray:
        """``Aᵀ A x``."""
        return self.adjoint(self.forward(x))

    def to_dense(self) -> np.ndarray:
        """The full matrix (prod(out_shape) × prod(in_shape)), C order; for small shapes."""
        total = int(np.prod(self.in_shape)) * int(np.prod(self.out_shape))
        if total > 5e7:
            raise InputError(f"the dense matrix would have {total} entries", where="to_dense",
                             hint="use forward/adjoint or aslinearoperator instead")
        dense = np.ones((1, 1))
        for matrix in self.matrices:
            dense = np.kron(dense, matrix.toarray())
        return dense

    def aslinearoperator(self):
        """A :class:`scipy.sparse.linalg.LinearOperator` on flattened (C order) arrays."""
        from scipy.sparse.linalg import LinearOperator

        n_in, n_out = int(np.prod(self.in_shape)), int(np.prod(self.out_shape))
        return LinearOperator(
            (n_out, n_in), dtype=np.float64,
            matvec=lambda v: self.forward(np.reshape(v, self.in_shape)).ravel(),
            rmatvec=lambda v: self.adjoint(np.reshape(v, self.out_shape)).ravel())

    def compose(self, other: "SeparableOperator") -> "SeparableOperator":
        """``self ∘ other`` (apply ``other`` first)."""
        if other.out_shape != self.in_shape:
            raise InputError(f"cannot compose: {other.out_shape} does not feed {self.in_shape}",
                             where="operator")
        return SeparableOperator([a @ b for a, b in zip(self.matrices, other.matrices)],
                                 info={**other.info, **self.info})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(in_shape={self.in_shape}, out_shape={self.out_shape})"


class BlurDownsample(SeparableOperator):
    """Gaussian PSF blur (physical FWHM) followed by mean-binning, as a linear operator.

    Parameters
    ----------
    shape:
        Spatial shape of the high-resolution input, e.g. ``(Z, Y, X)``.
    spacing_um:
        Pixel size per axis in µm (a scalar applies to every axis).
    fwhm_um:
        PSF FWHM in µm, scalar or per axis; 0 = no blur on that axis.
    factors:
        Integer downsampling factor, scalar or per axis (``(4, 1, 1)`` = z only).
    crop:
        Drop trailing pixels that do not fill a block instead of raising.
    truncate:
        Kernel half-length in sigmas (4.0, as scipy).

    ``sigma_px = fwhm_um / (2 sqrt(2 ln 2)) / spacing_um`` per axis; see :attr:`info`.
    """

    def __init__(self, shape: Sequence[int], spacing_um: float | Sequence[float],
                 fwhm_um: float | Sequence[float], factors: int | Sequence[int] = 1, *,
                 crop: bool = False, truncate: float = 4.0):
        shape = tuple(int(s) for s in shape)
        dims = len(shape)
        spacing = per_axis(spacing_um, dims, where="spacing_um", positive=True, unit="µm",
                           error=InputError)
        fwhm = per_axis(fwhm_um, dims, where="fwhm_um", minimum=0, unit="µm")
        facs = per_axis(factors, dims, where="scale", kind=int, minimum=1)
        sigma_px = tuple(f / FWHM_PER_SIGMA / s for f, s in zip(fwhm, spacing))
        matrices = [block_mean_matrix(n, f, crop) @ blur_matrix(n, sg, truncate)
                    for n, f, sg in zip(shape, facs, sigma_px)]
        super().__init__(matrices, info={"fwhm_um": list(fwhm), "sigma_px": list(sigma_px),
                                         "factors": list(facs), "spacing_um": list(spacing),
                                         "crop": bool(crop), "truncate": float(truncate)})


