"""MATLAB ``imresize`` semantics in numpy: separable resampling one axis at a time.

Written from the algorithm MATLAB documents for ``imresize``:

1. **Coordinates.** With ``scale`` = output size / input size along an axis (``> 1`` enlarges),
   output pixel ``x`` (1-based) maps to input coordinate ``u = x/scale + 0.5 (1 - 1/scale)``
   (1-based, in input pixels). Pixel *centres* and the outer pixel *edges* of input and output
   line up: the output grid covers exactly the same field of view.
2. **Antialiasing.** When shrinking (``scale < 1``) with ``antialias=True`` the kernel is
   stretched to ``h(x) = scale * k(scale * x)`` and its width to ``width / scale``, so it low-pass
   filters at the output Nyquist frequency (MATLAB's default except for ``nearest``).
3. **Contributions.** Input indices ``floor(u - width/2) + (0 .. ceil(width) + 1)`` get the
   weights ``h(u - index)``; each output pixel's weights are normalised to sum to 1.
4. **Borders.** Indices outside ``1..n`` are clamped to ``1..n`` (``0 -> 1, -1 -> 1,
   n+1 -> n``), i.e. the end pixels are replicated: this is what MATLAB's ``contributions``
   does ("clamp out-of-range indices; has the effect of replicating end-points"), and it is the
   only rule that reproduces the stored Set5/Set14 LR files bit for bit (all 57 of them, ×2/×3/×4;
   mirroring ``0 -> 1, -1 -> 2`` leaves mean differences up to 0.12 grey level, all within two
   LR pixels of the border). ``boundary="symmetric"`` selects the mirror rule (the index sequence
   ``1..n, n..1`` repeated, as several Python ports do) where that is wanted.
5. **Order.** Axes are resized one at a time, the one with the smallest scale first (a stable
   sort, so for equal scales axis 0 goes first: rows before columns in 2D, as MATLAB does, and
   Z before Y before X for a ZYX volume). Axes whose scale is exactly 1 are left untouched
   (MATLAB would apply an identity-weight pass, which changes nothing except ~1e-16 noise for
   ``lanczos``).
6. **Types.** Integer inputs are computed in float64 and, after *every* pass, rounded half away
   from zero and clipped to the dtype's range (MATLAB's integer path; this reproduces the
   Set5/Set14 LR files). Float inputs stay float: float64 is computed in float64, float32 and
   float16 in float32, with no rounding; the result has the input's dtype. Boolean inputs are
   resized as 0/255 ``uint8`` and thresholded at 128 (a mask stays a mask).

Each pass is a sparse matrix product (one sparse ``out x in`` weight matrix per axis), so the cost
is proportional to output size x kernel support.

Example
-------
>>> import numpy as np
>>> a = np.arange(16, dtype=np.float64).reshape(4, 4)
>>> imresize(a, 2, method="linear").shape
(8, 8)
>>> imresize(a, 0.5).shape
(2, 2)
>>> imresize(np.zeros((3, 4, 5), np.uint8), (1, 2, 2)).dtype      # per-axis scale
dtype('uint8')
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import scipy.sparse as sparse

from geosr.core.errors import ConfigError, InputError
from geosr.resample.kernels import Kernel, get_kernel

__all__ = ["BOUNDARIES", "contributions", "weight_matrix", "resize_axis", "imresize",
           "output_length", "matlab_round", "resize_order"]

#: Boundary rules: ``replicate`` (MATLAB, the default) and ``symmetric`` (mirror).
BOUNDARIES: tuple[str, ...] = ("replicate", "symmetric")


# --------------------------------------------------------------------------- per-axis weights
def output_length(in_length: int, scale: float) -> int:
    """MATLAB's output length ``ceil(scale * in_length)``, robust to floating-point noise
    (``300 * (1/3)`` gives 100, not 101).

    >>> output_length(300, 1 / 3), output_length(5, 0.5)
    (100, 3)
    """
    value = float(in_length) * float(scale)
    nearest = round(value)
    if abs(value - nearest) <= 1e-9 * max(1.0, abs(value)):
        return max(1, int(nearest))
    return max(1, int(math.ceil(value)))


def _check_boundary(boundary: str) -> None:
    if boundary not in BOUNDARIES:
        raise ConfigError(f"unknown boundary rule {boundary!r}", where="boundary",
                          hint="use one of " + ", ".join(BOUNDARIES))


def contributions(in_length: int, out_length: int, scale: float, method: str | Kernel = "bicubic",
                  antialias: bool = True, boundary: str = "replicate",
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Weights and input indices of every output pixel along one axis (MATLAB
    ``contributions``).

    Parameters
    ----------
    in_length, out_length:
        Number of pixels along the axis before and after resizing.
    scale:
        Output/input size ratio used for the coordinate map (``> 1`` enlarges; MATLAB uses the
        requested factor, e.g. ``1/3``, not ``out_length/in_length``).
    method:
        A method name (see :data:`geosr.resample.kernels.METHODS`) or a :class:`Kernel`.
    antialias:
        Stretch the kernel by ``1/scale`` when ``scale < 1``. Never applied for ``nearest``.
    boundary:
        ``"replicate"`` (MATLAB: out-of-range indices clamped to the end pixels) or
        ``"symmetric"`` (mirrored: ``0 -> 1, -1 -> 2``, 1-based).

    Returns
    -------
    weights, indices:
        Arrays of shape ``(out_length, P)``; ``indices`` are **0-based**, already mapped into
        ``0 .. in_length-1`` by the boundary rule; each row of ``weights`` sums to 1. Columns
        that are zero for every output pixel are dropped, as MATLAB does.

    >>> w, i = contributions(4, 8, 2.0, "linear")
    >>> w[0], i[0]
    (array([0.25, 0.75]), array([0, 0]))
    """
    kernel = method if isinstance(method, Kernel) else get_kernel(method)
    _check_boundary(boundary)
    if in_length < 1 or out_length < 1:
        raise InputError(f"cannot resize an axis of length {in_length} to {out_length}")
    scale = float(scale)
    if not (np.isfinite(scale) and scale > 0):
        raise ConfigError(f"scale must be positive and finite, got {scale}", where="scale")
    width = kernel.width
    if scale < 1 and antialias and kernel.antialias_default:
        def h(x: np.ndarray) -> np.ndarray:
            return scale * kernel.function(scale * x)
        width = width / scale
    else:
        h = kernel.function
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    p = int(math.ceil(width)) + 2
    ind = left[:, None] + np.arange(p, dtype=np.float64)[None, :]
    weights = h(u[:, None] - ind)
    weights = weights / weights.sum(axis=1, keepdims=True)
    ind0 = ind.astype(np.int64) - 1  # 0-based from here on
    if boundary == "replicate":
        ind0 = np.clip(ind0, 0, in_length - 1)
    else:  # symmetric: the sequence 0..n-1, n-1..0 repeated
        period = 2 * in_length
        m = np.mod(ind0, period)
        ind0 = np.where(m < in_length, m, period - 1 - m)
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], ind0[:, keep]


def weight_matrix(in_length: int, out_length: int, scale: float,
                  method: str | Kernel = "bicubic", antialias: bool = True,
                  boundary: str = "replicate", dense: bool = False,
                  ) -> sparse.csr_matrix | np.ndarray:
    """The ``(out_length, in_length)`` matrix ``W`` with ``resized = W @ signal`` along one axis
    (weights of repeated border indices summed). Sparse CSR by default, a dense array with
    ``dense=True``.

    >>> W = weight_matrix(3, 6, 2.0, "bicubic", dense=True)
    >>> bool(np.allclose(W.sum(axis=1), 1))
    True
    """
    weights, ind = contributions(in_length, out_length, scale, method, antialias, boundary)
    rows = np.repeat(np.arange(out_length), weights.shape[1])
    mat = sparse.csr_matrix((weights.ravel(), (rows, ind.ravel())),
                            shape=(out_length, in_length))
    mat.sum_duplicates()
    return mat.toarray() if dense else mat


# --------------------------------------------------------------------------- dtype handling
def matlab_round(values: np.ndarray) -> np.ndarray:
    """Round half away from zero (MATLAB ``round``; numpy's ``round`` goes to even).

    >>> matlab_round(np.array([0.5, 1.5, 2.5, -0.5]))
    array([ 1.,  2.,  3., -1.])
    """
    return np.copysign(np.floor(np.abs(values) + 0.5), values)


def _work_dtype(dtype: np.dtype) -> np.dtype:
    if np.issubdtype(dtype, np.complexfloating):
        return np.dtype(np.complex64 if dtype == np.complex64 else np.complex128)
    if np.issubdtype(dtype, np.floating):
        return np.dtype(np.float32 if dtype.itemsize <= 4 else np.float64)
    return np.dtype(np.float64)


def _quantise(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round and clip float ``values`` to the range of integer ``dtype`` (kept as float)."""
    info = np.iinfo(dtype)
    values = matlab_round(values)
    np.clip(values, info.min, info.max, out=values)
    return values


def _apply(mat: sparse.csr_matrix, values: np.ndarray, axis: int) -> np.ndarray:
    """``mat`` applied along ``axis`` of ``values`` (a sparse matrix product)."""
    moved = np.moveaxis(values, axis, 0)
    shape = moved.shape
    flat = moved.reshape(shape[0], -1)
    real = np.finfo(values.dtype).dtype  # float32 for float32/complex64, else float64
    out = np.asarray(mat.astype(real, copy=False) @ flat)
    out = out.reshape((mat.shape[0],) + shape[1:])
    return np.moveaxis(out, 0, axis)


def _pass(values: np.ndarray, axis: int, scale: float, method: str, antialias: bool,
          n_out: int, in_dtype: np.dtype, boundary: str) -> np.ndarray:
    """One axis pass in the working float type (integer inputs re-quantised afterwards)."""
    mat = weight_matrix(values.shape[axis], n_out, scale, method, antialias, boundary)
    work = values.astype(_work_dtype(np.dtype(in_dtype)), copy=False)
    out = _apply(mat, work, axis)
    if np.issubdtype(in_dtype, np.integer):
        out = _quantise(out, np.dtype(in_dtype))
    return out


# --------------------------------------------------------------------------- the resize
def _normalise_scale(scale: float | Sequence[float], ndim: int,
                     axes: Sequence[int] | None) -> tuple[float, ...]:
    """Per-array-axis scale tuple from a scalar or a tuple (over ``axes`` or every axis)."""
    if axes is not None:
        axes = [int(a) % ndim for a in axes]
        if len(set(axes)) != len(axes):
            raise ConfigError(f"axes {tuple(axes)} repeat an axis", where="axes")
    targets = list(range(ndim)) if axes is None else list(axes)
    if np.ndim(scale) == 0:
        per = [scale] * len(targets)
    else:
        per = list(scale)  # type: ignore[arg-type]
        if len(per) != len(targets):
            raise ConfigError(
                f"scale {tuple(per)} has {len(per)} entries but {len(targets)} axes are resized",
                where="scale",
                hint="give one factor per array axis (1 for an axis to keep, e.g. a channel)")
    full = [1.0] * ndim
    for a, s in zip(targets, per):
        try:
            value = float(s)
        except (TypeError, ValueError):
            value = float("nan")
        if isinstance(s, (bool, np.bool_)) or not (np.isfinite(value) and value > 0):
            raise ConfigError(f"scale must be a positive number, got {s!r}", where="scale")
        full[a] = value
    return tuple(full)


def resize_order(scales: Sequence[float]) -> list[int]:
    """The order in which axes are resized: smallest scale first, ties by axis number (stable,
    as MATLAB's ``sort``), axes with scale 1 skipped.

    >>> resize_order((2.0, 0.5, 0.5))
    [1, 2, 0]
    """
    order = sorted(range(len(scales)), key=lambda a: (scales[a], a))
    return [a for a in order if scales[a] != 1.0]


def _check_array(array: np.ndarray) -> None:
    if array.size == 0:
        raise InputError(f"cannot resize an empty array (shape {array.shape})", where="image")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise InputError(f"cannot resize an array of dtype {array.dtype}", where="image")
    if np.issubdtype(array.dtype, np.inexact):
        bad = ~np.isfinite(array)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(
                f"{int(bad.sum())} value(s) are NaN or infinite (first at index {first})",
                where="image",
                hint="replace them (e.g. numpy.nan_to_num) or mask them before resizing")


def resize_axis(array: np.ndarray, axis: int, scale: float, method: str = "bicubic",
                antialias: bool = True, out_length: int | None = None, *,
                boundary: str = "replicate") -> np.ndarray:
    """Resize ``array`` along one ``axis`` by ``scale`` (``> 1`` enlarges), MATLAB-style.

    One pass of :func:`imresize`, with the same dtype rules (an integer input is rounded and
    clipped, the result has the input dtype). ``out_length`` defaults to
    ``ceil(scale * length)``.

    >>> resize_axis(np.ones((2, 3)), 1, 2.0).shape
    (2, 6)
    """
    array = np.asarray(array)
    get_kernel(method)
    _check_boundary(boundary)
    _check_array(array)
    axis = int(axis) % array.ndim
    n_in = array.shape[axis]
    n_out = output_length(n_in, scale) if out_length is None else int(out_length)
    if array.dtype == bool:
        grey = array.astype(np.uint8) * np.uint8(255)
        return _pass(grey, axis, float(scale), method, antialias, n_out, grey.dtype,
                     boundary) >= 128
    out = _pass(array, axis, float(scale), method, antialias, n_out, array.dtype, boundary)
    return np.ascontiguousarray(out.astype(array.dtype, copy=False))


def imresize(array: np.ndarray, scale: float | Sequence[float], method: str = "bicubic",
             antialias: bool = True, *, axes: Sequence[int] | None = None,
             output_shape: Sequence[int] | None = None,
             boundary: str = "replicate") -> np.ndarray:
    """Resize a numpy array like MATLAB ``imresize`` (2D, 3D or any rank; separable).

    Parameters
    ----------
    array:
        The values. Integer, float, complex or bool.
    scale:
        Output/input size ratio, dimensionless: ``2`` doubles, ``0.5`` halves (any positive
        number). A scalar applies to every axis of ``array`` (or to every axis in ``axes``); a
        tuple gives one factor per array axis (or per entry of ``axes``). Use 1 for an axis that
        must not be resampled, e.g. ``(2, 2, 1)`` for an ``(H, W, 3)`` RGB array. Note that a
        scalar on a 3-D array resizes all three axes (MATLAB resizes only rows and columns).
    method:
        ``"nearest"``, ``"linear"`` (MATLAB ``'bilinear'``), ``"bicubic"`` (a = -0.5) or
        ``"lanczos"`` (MATLAB ``'lanczos3'``).
    antialias:
        Widen the kernel by ``1/scale`` when shrinking (MATLAB's default). Never applied for
        ``nearest`` (MATLAB's default for that method).
    axes:
        The array axes ``scale`` refers to; the others are kept. Default: every axis.
    output_shape:
        The output size per array axis; default ``ceil(scale * size)``. The coordinate map
        still uses ``scale`` (as MATLAB does when given a scale).
    boundary:
        ``"replicate"`` (MATLAB, default) or ``"symmetric"``; see :func:`contributions`.

    Returns
    -------
    numpy.ndarray
        Same dtype as the input: integer results are rounded half away from zero and clipped
        after each axis pass (MATLAB's behaviour); float results are not rounded.

    Raises
    ------
    InputError
        NaN or infinite values in a float input, an empty array, a non-numeric dtype.
    ConfigError
        An unknown method or boundary, or a scale that is not a positive number.

    Example
    -------
    >>> rgb = np.full((8, 6, 3), 200, np.uint8)
    >>> imresize(rgb, (0.5, 0.5, 1)).shape
    (4, 3, 3)
    >>> imresize(rgb, 3, axes=(0, 1)).shape
    (24, 18, 3)
    """
    array = np.asarray(array)
    get_kernel(method)
    _check_boundary(boundary)
    _check_array(array)
    scales = _normalise_scale(scale, array.ndim, axes)
    lengths = [output_length(n, s) for n, s in zip(array.shape, scales)]
    if output_shape is not None:
        if len(output_shape) != array.ndim or any(int(n) < 1 for n in output_shape):
            raise ConfigError(f"output_shape {tuple(output_shape)} must give a positive size "
                              f"for each of the {array.ndim} axes", where="output_shape")
        lengths = [int(n) for n in output_shape]
    if array.dtype == bool:
        grey = imresize(array.astype(np.uint8) * np.uint8(255), scales, method, antialias,
                        output_shape=lengths, boundary=boundary)
        return grey >= 128
    order = resize_order(scales)
    order += [a for a in range(array.ndim) if a not in order and lengths[a] != array.shape[a]]
    out = array
    for axis in order:
        out = _pass(out, axis, scales[axis], method, antialias, lengths[axis], array.dtype,
                    boundary)
    if out is array:
        return array.copy()
    return np.ascontiguousarray(out.astype(array.dtype, copy=False))
