"""Data sources of the unpaired, zero-shot and isotropic trainers.

- :class:`UnpairedFolders` (``source: unpaired``): a folder of HR images and an *unmatched*
  folder of LR images (another sample, or the real LR of another instrument). CycleGAN draws
  HR patches and LR patches independently. Held-out HR images degraded by ``degradation``
  (the forward model) give synthetic validation pairs — the only way to score an unpaired
  model with a PSNR; say so when reporting it.
- :class:`UnpairedPhantoms` (``source: unpaired_phantom``): the same with HR phantoms from
  ``hr_seeds`` and LR images degraded from *other* phantoms (``lr_seeds``): truly unpaired.
- :class:`SingleImage` (``source: single``): one LR image and nothing else (zero-shot SR).
  Its *fathers* — the image and ``pyramid − 1`` downscaled copies (factors down to
  ``min_factor``, anti-aliased) — are degraded by ``degradation`` into *sons*; the model
  learns son → father and is then applied to the image itself. Validation is internal (the
  whole image and its son: not held out, ZSSR has no other data).
- :class:`AnisotropicStack` (``source: anisotropic``): a ZYX stack whose z step is ``scale``
  times its lateral pixel size. Lateral (XY) planes, blurred along one axis by the axial PSF
  (``fwhm_z_um``) and binned by ``scale`` along it, give 2D pairs in which only the first axis
  is downsampled (LR ``(C, n/scale, m)``, HR ``(C, n, m)``); planes are used as they are and
  transposed. Every 5th plane is held out for validation. Intensities are normalised with the
  percentiles of the whole stack.

Unpaired sources return a :class:`geosr.data.paired_sources.DataSet` whose ``train`` holds
synthetic pairs of the HR images (only their HR side is used for training), with the
unmatched LR images as an extra attribute ``lr_only`` (``hr`` there is the LR image repeated
``scale`` times per axis, only used to find foreground).

Example
-------
>>> src = UnpairedPhantoms(source="unpaired_phantom", size_um=12.8, spacing_um=0.1,
...                        hr_seeds=[0], lr_seeds=[50], val_seeds=[100])
>>> data = src.build(scale=4)  # doctest: +SKIP
>>> data.train[0].hr.shape, data.lr_only[0].lr.shape  # doctest: +SKIP
((1, 128, 128), (1, 32, 32))
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import numpy as np
from pydantic import Field, model_validator

from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image
from geosr.data.files import array_digest, check_dims, list_images, progress
from geosr.data.fingerprint import fingerprint_files, fingerprint_recipe
from geosr.data.normalize import PercentileNormalizer
from geosr.data.paired_sources import (DataSet, DataSource, DegradedImages, PhantomPairs,
                                      _Degrading)
from geosr.data.pairs import Pair, channels_first, modcrop
from geosr.data.ranges import draw
from geosr.data.specs import DegradationRanges, SplitConfig

__all__ = ["UnpairedFolders", "UnpairedPhantoms", "SingleImage",
           "AnisotropicStack", "lr_only_pair"]

Positive = Annotated[float, Field(gt=0)]


def lr_only_pair(lr: Image, *, name: str, scale: int,
                 normalizer: PercentileNormalizer) -> Pair:
    """An LR image without HR: normalised by its own percentiles; ``hr`` is the LR array
    repeated ``scale`` times per axis (for the foreground map of the patch sampler only)."""
    values = channels_first(lr)
    lo, hi = normalizer.fit(values)
    x = normalizer.normalize(values, lo, hi).astype(np.float32)
    hr = x
    for axis in range(1, x.ndim):
        hr = np.repeat(hr, scale, axis=axis)
    return Pair(name=name, group=name, lr=x, hr=hr,
                spacing_um=tuple(s / scale for s in lr.spacing_um),
                meta={"normalization": {"lr_lo": lo, "lr_hi": hi}, "unpaired": True})


def _unpaired(ds: Any, lr_only: list[Pair], fingerprint: str, extra: dict[str, Any]) -> Any:
    """``ds`` (a :class:`geosr.data.sources.DataSet`) with the unmatched LR images attached
    as ``ds.lr_only``."""
    if not lr_only:
        raise InputError("no unpaired LR images", where="data.lr")
    ds.fingerprint = fingerprint
    ds.description = {**ds.description, **extra}
    ds.lr_only = lr_only
    return ds


class UnpairedFolders(DataSource):
    """HR images (folder) and unmatched LR images (folder); see the module docstring.
    ``degradation``: the forward model of the synthetic validation pairs."""

    source: Literal["unpaired"]
    hr: Path
    lr: Path
    degradation: DegradationRanges = DegradationRanges()
    split: SplitConfig = SplitConfig()

    def build(self, *, scale: int, seed: int = 0, dims: Optional[int] = None,
              normalizer: Optional[PercentileNormalizer] = None, target: str = "own",
              show_progress: bool = False) -> Any:
        from geosr.io import load

        normalizer = normalizer or PercentileNormalizer()
        ds = DegradedImages(source="degrade", hr=self.hr, degradation=self.degradation,
                            split=self.split).build(scale=scale, seed=seed, dims=dims,
                                                    normalizer=normalizer, target=target,
                                                    show_progress=show_progress)
        files = list_images(self.lr, "data.lr")
        lr_only = []
        for name, path in progress(list(files.items()), "loading LR", show_progress):
            image = load(path).check_finite(str(path))
            check_dims(ds.dims, image, f"LR {path.name}")
            if image.channels != ds.channels:
                raise InputError(f"{image.channels} channel(s) but the HR images have "
                                 f"{ds.channels}", where=str(path))
            lr_only.append(lr_only_pair(image, name=f"lr/{name}", scale=scale,
                                        normalizer=normalizer))
        fingerprint = fingerprint_files([(f"lr/{p.name}", p) for p in files.values()],
                                        extra={"hr": ds.fingerprint})
        return _unpaired(ds, lr_only, fingerprint,
                         {"source": "unpaired", "lr_only": sorted(files)})


class UnpairedPhantoms(DataSource):
    """HR phantoms (``hr_seeds``) and LR images degraded from other phantoms (``lr_seeds``);
    validation phantoms (``val_seeds``) are degraded too. All three seed sets are disjoint.
    Counts mean seeds ``0..n−1`` (HR), ``20000..`` (LR), ``10000..`` (validation)."""

    source: Literal["unpaired_phantom"]
    kind: Literal["dentin", "lcn", "cortical", "porous"] = "dentin"
    dims: Literal[2, 3] = 2
    size_um: Optional[Union[Positive, list[Positive]]] = None
    spacing_um: Optional[Union[Positive, list[Positive]]] = None
    bright: bool = True
    params: dict[str, Any] = {}
    hr_seeds: Union[Annotated[int, Field(ge=1)], list[int]] = 4
    lr_seeds: Union[Annotated[int, Field(ge=1)], list[int]] = 4
    val_seeds: Union[Annotated[int, Field(ge=1)], list[int]] = 1
    degradation: DegradationRanges = DegradationRanges()

    def seeds(self) -> tuple[list[int], list[int], list[int]]:
        def expand(value, start):
            return list(range(start, start + value)) if isinstance(value, int) else list(value)

        return (expand(self.hr_seeds, 0), expand(self.lr_seeds, 20000),
                expand(self.val_seeds, 10000))

    @model_validator(mode="after")
    def _check(self) -> "UnpairedPhantoms":
        hr, lr, val = self.seeds()
        for a, b, name in ((hr, lr, "lr_seeds"), (hr, val, "val_seeds"), (lr, val, "val_seeds")):
            common = sorted(set(a) & set(b))
            if common:
                raise ValueError(f"{name}: seeds {common} are shared; HR, LR and validation "
                                 "phantoms must be different (truly unpaired)")
        return self

    def build(self, *, scale: int, seed: int = 0, dims: Optional[int] = None,
              normalizer: Optional[PercentileNormalizer] = None, target: str = "own",
              show_progress: bool = False) -> Any:
        from geosr.degrade.ct_degrade import degrade_any  # modality: image or ct
        from geosr.phantoms import phantom

        normalizer = normalizer or PercentileNormalizer()
        hr_seeds, lr_seeds, val_seeds = self.seeds()
        common = dict(kind=self.kind, dims=self.dims, size_um=self.size_um,
                      spacing_um=self.spacing_um, bright=self.bright, params=self.params,
                      degradation=self.degradation)
        ds = PhantomPairs(source="phantom", train_seeds=hr_seeds, val_seeds=val_seeds,
                          **common).build(scale=scale, seed=seed, dims=dims,
                                          normalizer=normalizer, target=target,
                                          show_progress=show_progress)

        def size(value):
            return tuple(value) if isinstance(value, list) else value

        from geosr.data.paired_sources import measured_degrade

        spec = self.degradation.spec()
        lr_only, records, digests = [], [], []
        for i, s in enumerate(progress(lr_seeds, "LR phantoms", show_progress)):
            hr = modcrop(phantom(self.kind, dims=self.dims, size_um=size(self.size_um),
                                 spacing_um=size(self.spacing_um), seed=s, bright=self.bright,
                                 **self.params).image, scale)
            digests.append((f"lr-seed{s}", hr))
            gen = np.random.default_rng([int(seed), 4, i, 0])
            params = draw(spec, gen)
            noise_seed = int(gen.integers(2 ** 31 - 1))
            try:
                lr = (measured_degrade(self.degradation.forward, hr, scale, noise_seed)
                      if self.degradation.forward is not None
                      else degrade_any(hr, scale=scale, seed=noise_seed, **params))
            except ConfigError as err:
                raise ConfigError(err.message, where=f"data.degradation.{err.where or ''}",
                                  hint=err.hint) from None
            records.append({"seed": s, "noise_seed": noise_seed, "params": params})
            lr_only.append(lr_only_pair(lr, name=f"{self.kind}-lr-seed{s}", scale=scale,
                                        normalizer=normalizer))
        fingerprint = fingerprint_recipe({"hr": ds.fingerprint, "lr_seeds": lr_seeds,
                                          "recipe": self.recipe(), "seed": seed,
                                          "lr_sha256": array_digest(digests)})
        ds.degradation = {**ds.degradation, "lr_only_draws": records}
        return _unpaired(ds, lr_only, fingerprint,
                         {"source": "unpaired_phantom",
                          "lr_only": [p.name for p in lr_only]})


class SingleImage(DataSource):
    """One LR image for zero-shot SR (see the module docstring). ``image``: the file.
    ``degradation``: the forward model that made it (the sons are made the same way).
    ``pyramid``: number of fathers; ``min_factor``: the smallest father's size relative to
    the image. ``variants`` in ``degradation``: sons drawn per father."""

    source: Literal["single"]
    image: Path
    degradation: DegradationRanges = DegradationRanges()
    pyramid: Annotated[int, Field(ge=1, le=16)] = 4
    min_factor: Annotated[float, Field(ge=0.2, le=1)] = 0.6

    def build(self, *, scale: int, seed: int = 0, dims: Optional[int] = None,
              normalizer: Optional[PercentileNormalizer] = None, target: str = "own",
              show_progress: bool = False) -> Any:
        from geosr.io import load

        image = load(self.image).check_finite(str(self.image))
        dims = check_dims(dims, image, f"image {self.image.name}")
        return build_single(image, name=self.image.name.split(".")[0],
                            degradation=self.degradation, pyramid=self.pyramid,
                            min_factor=self.min_factor, scale=scale, seed=seed,
                            normalizer=normalizer, target=target, show_progress=show_progress,
                            fingerprint=fingerprint_files([("image", self.image)], extra={
                                "recipe": {k: v for k, v in self.recipe().items()
                                           if k != "image"}, "seed": seed, "scale": scale}))


def fathers(image: Image, *, scale: int, pyramid: int, min_factor: float
            ) -> list[tuple[str, Image]]:
    """The image and ``pyramid − 1`` anti-aliased downscaled copies (factors evenly spaced
    from 1 to ``min_factor``), each cropped to a multiple of ``scale``; spacing grows as the
    image shrinks."""
    from skimage.transform import rescale

    out = []
    factors = np.linspace(1.0, min_factor, pyramid) if pyramid > 1 else np.ones(1)
    values = image.numpy().astype(np.float64)
    channel_axis = 0 if image.has_channels else None
    for k, f in enumerate(factors):
        if k == 0:
            father = image.replace(data=values)
        else:
            small = rescale(values, float(f), order=3, anti_aliasing=True, mode="reflect",
                            channel_axis=channel_axis)
            real = tuple(m / n for m, n in zip(small.shape[-image.dims:], image.spatial_shape))
            father = image.replace(data=small,
                                   spacing=tuple(s / r for s, r in zip(image.spacing, real)))
        if min(father.spatial_shape) < 4 * scale:
            break
        out.append((f"father{k}-x{f:.3f}", modcrop(father, scale)))
    if not out:
        raise InputError(f"image of shape {image.spatial_shape} is too small for scale {scale}",
                         where="data.image", hint=f"use at least {4 * scale} pixels per axis")
    return out


def build_single(image: Image, *, name: str, degradation: DegradationRanges, pyramid: int,
                 min_factor: float, scale: int, seed: int, normalizer: Optional[
                     PercentileNormalizer], target: str, show_progress: bool,
                 fingerprint: str) -> Any:
    """The :class:`DataSet` of zero-shot SR for one in-memory image (see
    :class:`SingleImage`)."""

    normalizer = normalizer or PercentileNormalizer()
    items = fathers(image, scale=scale, pyramid=pyramid, min_factor=min_factor)
    val = [(f"{name}#internal", items[0][1])]
    train_p, val_p, info = _Degrading()._degrade_all(
        degradation, items, val, scale=scale, seed=seed, normalizer=normalizer,
        target=target, show_progress=show_progress)
    info["zero_shot"] = {"fathers": [n for n, _ in items], "validation": "internal: the input "
                         "image and its own son (not held out)"}
    return DataSet(train_p, val_p, fingerprint, image.dims, image.channels, info,
                   {"source": "single", "image": name, "train": [n for n, _ in items],
                    "val": [n for n, _ in val], "split": "internal"})


class AnisotropicStack(DataSource):
    """A ZYX stack with a coarse z step (see the module docstring). ``stack``: the file.
    ``fwhm_z_um``: axial PSF FWHM in µm (null: one z step). ``planes``: at most this many
    evenly spaced z planes are used (null: all). ``tolerance``: allowed relative mismatch of
    ``scale`` and the z/xy spacing ratio (null: not checked, e.g. uncalibrated stacks)."""

    source: Literal["anisotropic"]
    stack: Path
    fwhm_z_um: Optional[Positive] = None
    planes: Optional[Annotated[int, Field(ge=2)]] = 64
    tolerance: Optional[Annotated[float, Field(gt=0)]] = 0.15

    def build(self, *, scale: int, seed: int = 0, dims: Optional[int] = None,
              normalizer: Optional[PercentileNormalizer] = None, target: str = "own",
              show_progress: bool = False) -> Any:
        from geosr.io import load

        stack = load(self.stack).check_finite(str(self.stack))
        return build_anisotropic(stack, name=self.stack.name.split(".")[0], scale=scale,
                                 fwhm_z_um=self.fwhm_z_um, planes=self.planes,
                                 tolerance=self.tolerance, normalizer=normalizer,
                                 fingerprint=fingerprint_files([("stack", self.stack)], extra={
                                     "recipe": {k: v for k, v in self.recipe().items()
                                                if k != "stack"}, "scale": scale}),
                                 show_progress=show_progress)


def build_anisotropic(stack: Image, *, name: str, scale: int, fwhm_z_um: Optional[float],
                      planes: Optional[int], tolerance: Optional[float],
                      normalizer: Optional[PercentileNormalizer], fingerprint: str,
                      show_progress: bool = False) -> Any:
    """The 2D training pairs of isotropic reconstruction from an in-memory ZYX stack."""
    from geosr.degrade import degrade

    if stack.dims != 3:
        raise InputError(f"isotropic reconstruction needs a 3D (ZYX) stack, got axes "
                         f"{stack.axes}", where="data.stack")
    sz, sy, sx = stack.spacing_um
    ratio = sz / ((sy + sx) / 2)
    if tolerance is not None and stack.unit != "pixel" and abs(ratio / scale - 1) > tolerance:
        raise ConfigError(f"the stack's z step is {ratio:.3g} x its lateral pixel size but "
                          f"scale = {scale}", where="scale",
                          hint=f"set scale: {max(2, round(ratio))} (or data.tolerance: null)")
    normalizer = normalizer or PercentileNormalizer()
    values = channels_first(stack)
    lo, hi = normalizer.fit(values)
    x = normalizer.normalize(values, lo, hi).astype(np.float32)     # (C, Z, Y, X)
    nz = x.shape[1]
    index = (np.unique(np.linspace(0, nz - 1, planes).round().astype(int))
             if planes and planes < nz else np.arange(nz))
    fwhm = fwhm_z_um if fwhm_z_um is not None else sz
    lateral = (sy + sx) / 2
    out: dict[str, list[Pair]] = {"train": [], "val": []}
    for k, z in enumerate(progress(list(index), "lateral planes", show_progress)):
        split = "val" if k % 5 == 2 else "train"
        plane = x[:, z]
        for t, arr in (("yx", plane), ("xy", np.swapaxes(plane, 1, 2))):
            n0 = arr.shape[1] - arr.shape[1] % scale
            hr = np.ascontiguousarray(arr[:, :n0])
            img = Image(hr[0] if hr.shape[0] == 1 else hr, "YX" if hr.shape[0] == 1 else "CYX",
                        spacing=(lateral, lateral))
            lr = degrade(img, scale=(scale, 1), fwhm_um=(fwhm, 0.0), seed=None)
            lr_arr = channels_first(lr).astype(np.float32)
            out[split].append(Pair(name=f"{name}-z{z}-{t}", group=f"{name}-z{z}", lr=lr_arr,
                                   hr=hr, spacing_um=(lateral, lateral),
                                   meta={"normalization": {"lo": lo, "hi": hi}}))
    if not out["val"] or not out["train"]:
        raise InputError(f"the stack has {nz} plane(s); isotropic training needs at least 3",
                         where="data.stack")
    info = {"mode": "isotropic", "axial_fwhm_um": fwhm, "factor": scale,
            "z_over_xy": ratio, "operator": "Gaussian blur along one in-plane axis, then "
            "block-mean binning by scale (geosr.degrade.degrade, scale=(s, 1))",
            "normalization": {"lo": lo, "hi": hi}}
    return DataSet(out["train"], out["val"], fingerprint, 2, x.shape[0], info,
                   {"source": "anisotropic", "stack": name, "stack_shape": list(stack.shape),
                    "stack_spacing_um": list(stack.spacing_um), "planes": [int(i) for i in index],
                    "train": sorted({p.group for p in out["train"]}),
                    "val": sorted({p.group for p in out["val"]}), "split": "z plane"})
