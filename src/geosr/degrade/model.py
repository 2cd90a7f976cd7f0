"""The forward model: composed steps, a full parameter record, and the ``degrade`` front door.

A :class:`ForwardModel` applies its steps in order with one seeded random generator and
returns the degraded :class:`geosr.core.Image` (spacing and origin updated by the resampling
steps, ``metadata["degradation"]`` set) together with the parameter record::

    {"model": "geosr.degrade.ForwardModel", "version": 1,
     "steps": [<step.params(input of that step)>, ...],
     "seed": 0, "seed_source": "int" | "drawn" | "generator",
     "input": {shape, axes, dtype, spacing, unit, origin, spacing_um},
     "output": {...same...},
     "scale": [per-axis total downsampling factor],
     "fwhm_um": [per-axis FWHM of the first blur step, µm] | None,
     "sigma_px": [the same as sigma in input pixels] | None}

:func:`degrade` adds ``"arguments"``: its keyword arguments (with the seed actually used), so
``degrade(hr, **record["arguments"])`` reproduces the output byte for byte;
:meth:`ForwardModel.from_record` rebuilds the model from the recorded steps.

Example
-------
>>> import numpy as np
>>> from geosr.core import Image
>>> hr = Image(np.random.default_rng(0).random((64, 64)), "YX", spacing=(0.1, 0.1))
>>> lr = degrade(hr, scale=4, fwhm_um=0.4, photons=100.0, seed=1)
>>> lr.shape, lr.spacing, lr.metadata["degradation"]["scale"]
((16, 16), (0.4, 0.4), [4, 4])
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from geosr.core.errors import ConfigError
from geosr.core.files import to_jsonable
from geosr.core.image import Image, as_image
from geosr.core.per_axis import per_axis
from geosr.core.seeding import resolve_seed
from geosr.degrade.operator import SeparableOperator
from geosr.degrade.psf import DEFAULT_REFRACTIVE_INDEX, MICROSCOPE_KINDS
from geosr.degrade.steps import (
    Downsample, GaussianBlur, MicroscopePSF, PoissonGaussianNoise, Quantize, Step,
    step_from_params,
)

__all__ = ["ForwardModel", "degrade", "degradation_model", "RECORD_VERSION"]

RECORD_VERSION = 1


def _resolve_seed(seed: Any) -> tuple[np.random.Generator, int | None, str]:
    """Generator, the seed to record and where it came from."""
    value, source = resolve_seed(seed)
    return (seed if source == "generator" else np.random.default_rng(value)), value, source


def _describe(image: Image) -> dict[str, Any]:
    return {**image.describe(), "spacing_um": list(image.spacing_um)}


@dataclasses.dataclass(frozen=True)
class ForwardModel:
    """A sequence of degradation steps applied in order with one random generator.

    Parameters
    ----------
    steps:
        Step objects (:class:`GaussianBlur`, :class:`MicroscopePSF`, :class:`Downsample`,
        :class:`PoissonGaussianNoise`, :class:`Quantize`, or anything with the same
        ``__call__(image, rng)`` and ``params(image=None)``).

    >>> model = ForwardModel([GaussianBlur(0.4), Downsample(4)])
    >>> import numpy as np
    >>> lr, record = model.apply(np.ones((16, 16)), seed=0)
    >>> lr.shape, [s["name"] for s in record["steps"]]
    ((4, 4), ['gaussian_blur', 'downsample'])
    """

    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        for i, step in enumerate(steps):
            if not (callable(step) and hasattr(step, "params")):
                raise ConfigError(f"step {i} ({step!r}) is not a degradation step",
                                  where="steps",
                                  hint="a step has __call__(image, rng) and params(image=None)")
        object.__setattr__(self, "steps", steps)

    # ------------------------------------------------------------------ apply
    def apply(self, image: Image | np.ndarray, seed: int | np.random.Generator | None = 0
              ) -> tuple[Image, dict[str, Any]]:
        """Degrade ``image``; returns ``(degraded image, parameter record)``.

        ``seed``: an int (reproducible), a Generator (used as is; the record cannot replay
        it) or None (a fresh seed is drawn *and recorded*, so the result is still
        reproducible from the record). Raises :class:`InputError` for NaN/Inf pixels.
        """
        image = as_image(image).check_finite(where="image")
        gen, recorded_seed, seed_source = _resolve_seed(seed)
        current = image.replace(data=np.asarray(image.numpy(), dtype=np.float64))
        step_records = []
        for step in self.steps:
            step_records.append(to_jsonable(step.params(current)))
            current = step(current, gen)
        record: dict[str, Any] = {
            "model": "geosr.degrade.ForwardModel", "version": RECORD_VERSION,
            "steps": step_records, "seed": recorded_seed, "seed_source": seed_source,
            "input": _describe(image), "output": _describe(current),
            **_summary(step_records, image.dims),
        }
        metadata = dict(image.metadata)
        if "degradation" in metadata:
            record["previous"] = metadata["degradation"]
        metadata["degradation"] = record
        return current.replace(metadata=metadata), record

    def __call__(self, image: Image | np.ndarray,
                 seed: int | np.random.Generator | None = 0) -> Image:
        """The degraded image only (see :meth:`apply`)."""
        return self.apply(image, seed)[0]

    def params(self) -> dict[str, Any]:
        """The image-independent description: ``{"steps": [step.params(), ...]}``."""
        return to_jsonable({"steps": [step.params() for step in self.steps]})

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "ForwardModel":
        """Rebuild a model from a parameter record (or a ``{"steps": [...]}`` mapping)."""
        steps = record.get("steps") if isinstance(record, Mapping) else None
        if not isinstance(steps, (list, tuple)):
            raise ConfigError("the record has no list of steps", where="steps")
        return cls(tuple(step_from_params(p) for p in steps))

    # ------------------------------------------------------- linear operator
    def linear_steps(self) -> tuple[Step, ...]:
        """The linear steps (blur, downsampling). They must all come before the first
        non-linear step (noise, quantisation), otherwise the linear part is not defined."""
        linear, seen_nonlinear = [], False
        for step in self.steps:
            is_linear = bool(getattr(step, "linear", False))
            if is_linear and seen_nonlinear:
                raise ConfigError(f"linear step {step.params()['name']!r} comes after a "
                                  "non-linear one", where="steps",
                                  hint="put blur and downsampling before noise and quantisation")
            if is_linear:
                linear.append(step)
            else:
                seen_nonlinear = True
        return tuple(linear)

    def linear_operator(self, shape: Image | Sequence[int],
                        spacing_um: float | Sequence[float] | None = None) -> SeparableOperator:
        """The linear part (all blur and downsampling steps) as an operator with an exact
        adjoint, for a spatial ``shape`` with pixels of ``spacing_um`` µm (or for an Image,
        whose spatial shape and spacing are used).

        Its ``forward(x)`` equals :meth:`apply` without the noise and quantisation steps.
        """
        if isinstance(shape, Image):
            spacing_um = shape.spacing_um
            shape = shape.spatial_shape
        shape = tuple(int(n) for n in shape)
        if spacing_um is None:
            raise ConfigError("the operator needs the pixel spacing", where="spacing_um",
                              hint="pass spacing_um= (µm per pixel, per axis) or an Image")
        spacing = per_axis(spacing_um, len(shape), where="spacing_um", positive=True, unit="µm")
        import scipy.sparse as sp

        matrices = [sp.identity(n, dtype=np.float64, format="csr") for n in shape]
        cur_shape, cur_spacing = shape, spacing
        records = []
        for step in self.linear_steps():
            if not hasattr(step, "axis_matrices"):
                raise ConfigError(f"step {step!r} has no matrix form", where="steps")
            mats, cur_shape, cur_spacing = step.axis_matrices(cur_shape, cur_spacing)
            matrices = [m @ prev for m, prev in zip(mats, matrices)]
            records.append(step.params())
        return SeparableOperator(matrices, info=to_jsonable(
            {"steps": records, "in_shape": shape, "in_spacing_um": spacing,
             "out_shape": cur_shape, "out_spacing_um": cur_spacing}))


def _summary(step_records: list[dict[str, Any]], dims: int) -> dict[str, Any]:
    scale = [1] * dims
    for rec in step_records:
        if rec.get("name") in ("downsample", "ct_scan"):  # ct_scan: geosr.degrade.ct
            scale = [s * f for s, f in zip(scale, rec["factors_per_axis"])]
    blur = next((r for r in step_records if "sigma_px" in r), None)
    return {"scale": scale,
            "fwhm_um": None if blur is None else blur["fwhm_um_per_axis"],
            "sigma_px": None if blur is None else blur["sigma_px"]}


# --------------------------------------------------------------------- front door
def degradation_model(*, scale: int | tuple[int, ...],
                      fwhm_um: float | tuple[float, ...] | None = None,
                      wavelength_nm: float | None = None, na: float | None = None,
                      microscope: str = "widefield", photons: float | None = None,
                      read_noise: float = 0.0, offset: float = 0.0,
                      bit_depth: int | None = None, saturation: float | None = None,
                      crop: bool = False,
                      refractive_index: float = DEFAULT_REFRACTIVE_INDEX,
                      pinhole_au: float | None = None) -> ForwardModel:
    """Build the :class:`ForwardModel` that :func:`degrade` applies (same keywords, without the
    image and the seed). Steps, in order:

    1. PSF blur: :class:`GaussianBlur` (``fwhm_um``) or :class:`MicroscopePSF`
       (``wavelength_nm`` + ``na`` [+ ``microscope``, ``refractive_index``, ``pinhole_au``]);
       if neither is given, the anti-alias default: a Gaussian whose FWHM equals the *output*
       pixel size (``scale × spacing``) along every downsampled axis and no blur along axes
       with factor 1 (nothing is resampled there). Expressed as ``GaussianBlur(fwhm_px=scale)``
       so the model fits any spacing.
    2. :class:`Downsample` by ``scale`` (mean binning; ``crop`` drops trailing pixels).
    3. :class:`PoissonGaussianNoise` if ``photons`` is given, ``read_noise > 0`` or
       ``offset != 0``.
    4. :class:`Quantize` if ``bit_depth`` is given (``saturation``: intensity of the top
       level; None = the maximum of its input; output uint8/uint16).

    Invalid values raise :class:`ConfigError` naming the keyword.
    """
    down = Downsample(scale, crop=crop)  # validates scale
    if microscope not in MICROSCOPE_KINDS:
        raise ConfigError(f"unknown microscope {microscope!r}", where="microscope",
                          hint="use 'widefield' or 'confocal'")
    steps: list[Step] = []
    if fwhm_um is not None and (wavelength_nm is not None or na is not None):
        raise ConfigError("give either fwhm_um or wavelength_nm + na, not both",
                          where="fwhm_um")
    if (wavelength_nm is None) != (na is None):
        raise ConfigError("wavelength_nm and na go together",
                          where="na" if na is None else "wavelength_nm",
                          hint="give both (the microscope PSF) or neither")
    if wavelength_nm is None and (microscope != "widefield" or pinhole_au is not None):
        raise ConfigError("microscope/pinhole_au need wavelength_nm and na", where="microscope",
                          hint="give wavelength_nm= and na= for a microscope PSF")
    if fwhm_um is not None:
        steps.append(GaussianBlur(fwhm_um=fwhm_um))
    elif wavelength_nm is not None:
        steps.append(MicroscopePSF(wavelength_nm=wavelength_nm, na=na,
                                   refractive_index=refractive_index, kind=microscope,
                                   pinhole_au=pinhole_au))
    else:
        factors = down.factors
        if isinstance(factors, tuple):
            if any(f > 1 for f in factors):
                steps.append(GaussianBlur(fwhm_px=tuple(float(f) if f > 1 else 0.0
                                                        for f in factors)))
        elif factors > 1:
            steps.append(GaussianBlur(fwhm_px=float(factors)))
    steps.append(down)
    if photons is not None or read_noise != 0 or offset != 0:
        steps.append(PoissonGaussianNoise(photons_per_unit=photons, read_noise=read_noise,
                                          offset=offset))
    if bit_depth is not None:
        steps.append(Quantize(bit_depth=bit_depth, saturation=saturation))
    elif saturation is not None:
        raise ConfigError("saturation only applies with bit_depth", where="saturation",
                          hint="give bit_depth= (8, 12 or 16) or drop saturation")
    return ForwardModel(tuple(steps))


def degrade(image: Image | np.ndarray, *, scale: int | tuple[int, ...],
            fwhm_um: float | tuple[float, ...] | None = None,
            wavelength_nm: float | None = None, na: float | None = None,
            microscope: str = "widefield", photons: float | None = None,
            read_noise: float = 0.0, offset: float = 0.0, bit_depth: int | None = None,
            saturation: float | None = None, crop: bool = False,
            seed: int | np.random.Generator | None = 0,
            refractive_index: float = DEFAULT_REFRACTIVE_INDEX,
            pinhole_au: float | None = None) -> Image:
    """Simulate a low-resolution acquisition of a high-resolution image.

    ``LR = quantize(noise(downsample_scale(PSF * HR)))``, 2D or 3D (a channel axis C is
    processed per channel).

    Parameters
    ----------
    image:
        The high-resolution :class:`geosr.core.Image` (or a bare 2D/3D array: axes YX/ZYX,
        spacing 1 µm). Must be finite. Physical widths use ``image.spacing_um``; for an image
        whose unit is ``"pixel"`` one pixel counts as 1 µm, so ``fwhm_um`` is then in pixels.
    scale:
        Integer downsampling factor, one or per spatial axis (``(4, 1, 1)``: z only).
    fwhm_um:
        Gaussian PSF FWHM in µm, one or per spatial axis.
    wavelength_nm, na, microscope, refractive_index, pinhole_au:
        Microscope PSF instead of ``fwhm_um`` (emission wavelength in nm, numerical aperture,
        ``"widefield"``/``"confocal"``, medium index — default 1.518 oil, use 1.33 for water —,
        confocal pinhole in Airy units, None = small pinhole); see :class:`MicroscopePSF`.
        With neither ``fwhm_um`` nor ``wavelength_nm``: a Gaussian whose FWHM equals the output
        pixel size (``scale × spacing``) on each downsampled axis (the usual anti-alias
        assumption), none on axes with factor 1.
    photons:
        Photo-electrons per unit of intensity (shot noise); None = no shot noise.
    read_noise:
        Gaussian read-noise standard deviation, in intensity units (not electrons).
    offset:
        Constant added after the noise (camera baseline), intensity units.
    bit_depth, saturation:
        Quantise to ``bit_depth`` bits (uint8 for <= 8, else uint16) with ``saturation`` the
        intensity of the top level (None: the maximum of the noisy LR image, recorded).
    crop:
        Drop trailing pixels that do not fill a block instead of raising :class:`InputError`.
    seed:
        int, numpy Generator or None (a seed is drawn and recorded).

    Returns
    -------
    Image
        The LR image (float64, or uint8/uint16 when quantised) with spacing × scale, origin
        shifted to the block centres, and ``metadata["degradation"]`` = the parameter record
        (see :mod:`geosr.degrade.model`) including ``"arguments"`` to replay it.

    Example
    -------
    >>> import numpy as np
    >>> lr = degrade(np.zeros((4, 8, 8)), scale=(4, 2, 2), seed=0)
    >>> lr.shape, lr.metadata["degradation"]["fwhm_um"]
    ((1, 4, 4), [4.0, 2.0, 2.0])
    """
    image = as_image(image)
    gen_seed = seed
    if seed is None:  # draw it here so "arguments" can replay it
        gen_seed = resolve_seed(None)[0]
    arguments = dict(scale=scale, fwhm_um=fwhm_um, wavelength_nm=wavelength_nm, na=na,
                     microscope=microscope, photons=photons, read_noise=read_noise,
                     offset=offset, bit_depth=bit_depth, saturation=saturation, crop=crop,
                     refractive_index=refractive_index, pinhole_au=pinhole_au)
    model = degradation_model(**arguments)
    # check the number of factors first: the default PSF is derived from them
    Downsample(scale, crop=crop).factors_per_axis(image.dims, image.spatial_axes)
    out, record = model.apply(image, gen_seed)
    if seed is None:
        record["seed_source"] = "drawn"
    record["arguments"] = to_jsonable({
        **arguments, "seed": record["seed"]})
    if record["seed"] is None:
        record["arguments_note"] = ("seed was a numpy Generator: the arguments cannot replay "
                                    "the random steps")
    return out.with_metadata(degradation=record)
