"""``geosr info | phantom | degrade | downscale | upscale``: the image commands (one file or a
folder in, one file or a folder out; registered in :data:`geosr.cli.commands.COMMANDS`)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional, Tuple

import typer

from geosr.core.errors import ConfigError, InputError

__all__ = ["info", "phantom", "degrade", "downscale", "upscale"]


class PhantomKind(str, Enum):
    dentin = "dentin"
    lcn = "lcn"
    cortical = "cortical"
    porous = "porous"


class Method(str, Enum):
    nearest = "nearest"
    linear = "linear"
    bicubic = "bicubic"
    lanczos = "lanczos"


def _floats(values: Optional[List[float]], name: str) -> float | tuple[float, ...] | None:
    """A repeated float option: None, one value (all axes) or one value per spatial axis."""
    from geosr.core.per_axis import one_or_per_axis

    return one_or_per_axis(values, where=name, positive=True, unit="µm")


def _scale(values: List[int]) -> int | tuple[int, ...]:
    from geosr.core.per_axis import one_or_per_axis

    return one_or_per_axis(values, where="--scale", kind=int, minimum=1)


def _inputs(src: Path, dst: Path) -> list[tuple[Path, Path]]:
    """Pairs (input file, output file): one file, or every supported image in a folder."""
    from geosr.io.files import image_files

    if src.is_dir() and not src.name.endswith(".zarr"):
        return [(f, dst / f.name) for f in image_files(src)]
    if not src.exists():
        raise InputError("file not found", where=str(src))
    return [(src, dst)]


def _check_outputs(pairs: list[tuple[Path, Path]]) -> None:
    """Every output path is a writable file of a known format: checked before any work."""
    from geosr.io.outputs import check_output

    for _, dst_file in pairs:
        check_output(dst_file)


def _check_upscaled_size(src_file: Path, dst_file: Path, scale: int | tuple[int, ...]) -> None:
    """Refuse, before reading the pixels, an upscaled output too big for memory or disk."""
    from geosr.core.outputs import check_output_size
    from geosr.io import load

    from geosr.core.per_axis import per_axis

    img = load(src_file, lazy=True)
    if isinstance(scale, int) or len(scale) == img.dims:  # a wrong count: upscale says so
        factors = per_axis(scale, img.dims, where="--scale", kind=int, minimum=1)
        shape = [img.channels] * img.has_channels + [n * f for n, f in
                                                     zip(img.spatial_shape, factors)]
        check_output_size(shape, img.dtype, where=str(dst_file), folder=dst_file.parent)


def _params_path(out: Path) -> Path:
    return out.with_name(out.name + ".params.json")


def info(file: Path = typer.Argument(..., help="Image file (TIFF, OME-TIFF, PNG, NPY, NRRD, "
                                     "Zarr).")) -> None:
    """Print shape, axes, dtype, spacing and value range of an image."""
    import numpy as np

    from geosr.io import load

    img = load(file, lazy=True)
    values = img.numpy()
    finite = np.isfinite(values) if values.dtype.kind == "f" else None
    lo = float(values[finite].min()) if finite is not None and finite.any() else float(values.min())
    hi = float(values[finite].max()) if finite is not None and finite.any() else float(values.max())
    spacing = " x ".join(f"{s:g}" for s in img.spacing)
    typer.echo(f"file:    {file}")
    typer.echo(f"shape:   {tuple(img.shape)}  axes: {img.axes}  dtype: {img.dtype}")
    typer.echo(f"spacing: {spacing} {img.unit} ({img.spatial_axes})")
    typer.echo(f"extent:  {' x '.join(f'{e:g}' for e in img.extent_um)} um")
    typer.echo(f"range:   {lo:g} .. {hi:g}")
    if finite is not None and not finite.all():
        typer.echo(f"warning: {int((~finite).sum())} NaN/Inf values")


def phantom(
    kind: PhantomKind = typer.Argument(..., help="Network to simulate."),
    out: Path = typer.Option(..., "--out", help="Output folder (image.tif, mask.tif, "
                             "labels.tif, graph.json, params.json)."),
    dims: int = typer.Option(2, "--dims", help="2 or 3."),
    size_um: Optional[List[float]] = typer.Option(None, "--size-um", help="Field of view in "
                                                  "µm (one value, or one per axis)."),
    spacing_um: Optional[List[float]] = typer.Option(None, "--spacing-um", help="Pixel size "
                                                     "in µm (one value, or one per axis)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same bytes)."),
    dark: bool = typer.Option(False, "--dark", help="Dark pores on a bright matrix "
                              "(absorption CT) instead of bright pores (fluorescence)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing, "
                                   "non-empty output folder."),
) -> None:
    """Generate a network phantom with its ground-truth mask and graph."""
    from geosr.phantoms import phantom as make_phantom

    if dims not in (2, 3):
        raise ConfigError(f"must be 2 or 3, got {dims}", where="--dims")
    from geosr.core.outputs import check_writable

    check_writable(out)
    result = make_phantom(kind.value, dims=dims, size_um=_floats(size_um, "--size-um"),
                          spacing_um=_floats(spacing_um, "--spacing-um"), seed=seed,
                          bright=not dark)
    written = result.save(out, overwrite=overwrite)
    shape = "x".join(str(n) for n in result.image.shape)
    typer.echo(f"{kind.value} {dims}D phantom {shape} at "
               f"{'x'.join(f'{s:g}' for s in result.image.spacing)} um -> {out}")
    for path in written.values():
        typer.echo(f"  {path}")


def _ct_options(modality: str, scale: Optional[List[int]], preset: Optional[str],
                angles: Optional[int], i0: Optional[float], fwhm: Optional[float],
                ct_filter: Optional[str], intensity_range: Optional[Tuple[float, float]],
                bit_depth: Optional[int]) -> Optional[dict]:
    """The keywords of :func:`geosr.degrade.ct_degrade.degrade_ct` (None for --modality
    image), checked before any file is read."""
    ct_given = [name for name, value in (("--ct-preset", preset), ("--angles", angles),
                                         ("--i0", i0), ("--detector-fwhm-um", fwhm),
                                         ("--ct-filter", ct_filter),
                                         ("--intensity-range", intensity_range))
                if value is not None]
    if modality not in ("image", "ct"):
        raise ConfigError(f"unknown modality {modality!r}", where="--modality",
                          hint="use image or ct")
    if modality == "image":
        if ct_given:
            raise ConfigError(f"{', '.join(ct_given)} only apply to --modality ct",
                              where=ct_given[0])
        if not scale:
            raise ConfigError("missing option", where="--scale", hint="e.g. --scale 4")
        return None
    if scale and len(scale) > 1:
        raise ConfigError("CT voxels are isotropic: give one --scale", where="--scale")
    from geosr.degrade.ct_degrade import ct_arguments, ct_model

    options = {"scale": scale[0] if scale else None, "preset": preset, "n_angles": angles,
               "i0": i0, "detector_fwhm_um": fwhm, "filter": ct_filter,
               "intensity_range": ct_arguments(intensity_range), "bit_depth": bit_depth}
    ct_model(spacing_um=1.0 if preset is None else _preset_spacing(preset, scale),
             **options)  # validates the options now
    return options


def _preset_spacing(preset: str, scale: Optional[List[int]]) -> float:
    """An HR spacing compatible with ``preset`` (for validating options only)."""
    from geosr.degrade.ct_presets import get_preset

    return get_preset(preset).voxel_um / (scale[0] if scale else 4)


def degrade(
    src: Path = typer.Argument(..., metavar="IN", help="High-resolution image or folder."),
    dst: Path = typer.Argument(..., metavar="OUT", help="Output file or folder."),
    scale: Optional[List[int]] = typer.Option(None, "--scale", help="Integer factor (one, "
                                              "or one per spatial axis, e.g. --scale 4 "
                                              "--scale 1 --scale 1 for z only). Required "
                                              "unless --ct-preset gives the voxel."),
    fwhm_um: Optional[List[float]] = typer.Option(None, "--fwhm-um", help="Gaussian PSF FWHM "
                                                  "in µm (one, or one per axis). Default: "
                                                  "the output pixel size."),
    wavelength_nm: Optional[float] = typer.Option(None, "--wavelength-nm", help="Emission "
                                                  "wavelength for a microscope PSF."),
    na: Optional[float] = typer.Option(None, "--na", help="Numerical aperture for a "
                                       "microscope PSF."),
    microscope: str = typer.Option("widefield", "--microscope", help="widefield or confocal."),
    photons: Optional[float] = typer.Option(None, "--photons", help="Photons per unit "
                                            "intensity (Poisson noise); omit for none."),
    read_noise: float = typer.Option(0.0, "--read-noise", help="Gaussian read noise (sd, "
                                     "intensity units)."),
    bit_depth: Optional[int] = typer.Option(None, "--bit-depth", help="Detector bit depth "
                                            "(8, 12, 16)."),
    crop: bool = typer.Option(False, "--crop", help="Crop trailing pixels when the scale does "
                              "not divide the shape."),
    seed: int = typer.Option(0, "--seed", help="Random seed for the noise."),
    modality: str = typer.Option("image", "--modality", help="image (blur, binning, noise in "
                                 "the image) or ct (X-ray projections, Poisson noise, FBP)."),
    ct_preset: Optional[str] = typer.Option(None, "--ct-preset", help="CT acquisition: "
                                            "xtremect1, xtremect2, lab_microct, synchrotron."),
    angles: Optional[int] = typer.Option(None, "--angles", help="CT projections over 180°."),
    i0: Optional[float] = typer.Option(None, "--i0", help="CT dose: photons per detector "
                                       "pixel per projection (0 = noise free)."),
    detector_fwhm_um: Optional[float] = typer.Option(None, "--detector-fwhm-um", help="CT "
                                                     "detector/source blur FWHM, µm."),
    ct_filter: Optional[str] = typer.Option(None, "--ct-filter", help="FBP filter: ramp, "
                                            "shepp-logan, cosine, hamming, hann."),
    intensity_range: Optional[Tuple[float, float]] = typer.Option(
        None, "--intensity-range", help="CT: input intensities of pore and bone (LO HI)."),
    forward: Optional[Path] = typer.Option(None, "--forward", help="forward_model.json "
                                           "measured by `geosr pairs register` (scale, PSF, "
                                           "intensity map, noise)."),
) -> None:
    """Simulate a low-resolution acquisition (PSF blur, area downsampling, noise, detector),
    or with --modality ct an X-ray CT scan reconstructed by FBP on the coarse voxel grid.

    The parameters used are written beside each output as OUT.params.json."""
    from geosr.core.files import write_json
    from geosr.degrade import degrade as run_degrade
    from geosr.io import load, save

    from geosr.core.progress import track

    pairs = _inputs(src, dst)
    _check_outputs(pairs)
    from geosr.cli.pairs import forward_for_degrade

    measured = forward_for_degrade(forward, {
        "--scale": scale, "--fwhm-um": fwhm_um, "--wavelength-nm": wavelength_nm, "--na": na,
        "--photons": photons, "--read-noise": read_noise, "--bit-depth": bit_depth,
        "--modality": modality, "--ct-preset": ct_preset, "--angles": angles, "--i0": i0,
        "--detector-fwhm-um": detector_fwhm_um, "--ct-filter": ct_filter,
        "--intensity-range": intensity_range})
    ct = None if measured else _ct_options(modality, scale, ct_preset, angles, i0,
                                           detector_fwhm_um, ct_filter, intensity_range,
                                           bit_depth)
    for src_file, dst_file in track(pairs, "degrading"):
        image = load(src_file)
        if measured:
            from geosr.pairs.forward import degrade_with_forward

            low = degrade_with_forward(image, forward, seed=seed, crop=crop)
        elif ct is not None:
            from geosr.degrade.ct_degrade import degrade_ct

            low = degrade_ct(image, seed=seed, crop=crop, **ct)
        else:
            low = run_degrade(image, scale=_scale(scale),
                              fwhm_um=_floats(fwhm_um, "--fwhm-um"),
                              wavelength_nm=wavelength_nm, na=na, microscope=microscope,
                              photons=photons, read_noise=read_noise, bit_depth=bit_depth,
                              crop=crop, seed=seed)
        save(low, dst_file)
        write_json(_params_path(dst_file), {"input": str(src_file), **low.metadata["degradation"]})
        typer.echo(f"{src_file} {tuple(image.shape)} -> {dst_file} {tuple(low.shape)}")


def _resample_command(src: Path, dst: Path, scale: List[int], method: str, up: bool,
                      crop: bool = False) -> None:
    from geosr.io import load, save
    from geosr.resample import downscale, upscale

    from geosr.core.progress import track

    pairs = _inputs(src, dst)
    _check_outputs(pairs)
    for src_file, dst_file in pairs if up else ():
        _check_upscaled_size(src_file, dst_file, _scale(scale))
    for src_file, dst_file in track(pairs, "upscaling" if up else "downscaling"):
        image = load(src_file)
        if up:
            result = upscale(image, _scale(scale), method=method)
        else:
            result = downscale(image, _scale(scale), method=method, crop=crop)
        save(result, dst_file)
        typer.echo(f"{src_file} {tuple(image.shape)} -> {dst_file} {tuple(result.shape)}")


def downscale(
    src: Path = typer.Argument(..., metavar="IN", help="Image file or folder."),
    dst: Path = typer.Argument(..., metavar="OUT", help="Output file or folder."),
    scale: List[int] = typer.Option(..., "--scale", help="Integer factor (one, or per axis)."),
    method: Method = typer.Option(Method.bicubic, "--method", help="Interpolation kernel."),
    crop: bool = typer.Option(False, "--crop", help="Crop trailing pixels so the scale "
                              "divides the shape (the SR protocol's modcrop)."),
) -> None:
    """Downscale like MATLAB imresize (antialiased; uint8/uint16 rounded)."""
    _resample_command(src, dst, scale, method.value, up=False, crop=crop)


def upscale(
    src: Path = typer.Argument(..., metavar="IN", help="Image file or folder."),
    dst: Path = typer.Argument(..., metavar="OUT", help="Output file or folder."),
    scale: List[int] = typer.Option(..., "--scale", help="Integer factor (one, or per axis)."),
    method: Method = typer.Option(Method.bicubic, "--method", help="Interpolation kernel."),
) -> None:
    """Upscale with a classical kernel (nearest, linear, bicubic a=-0.5, Lanczos-3)."""
    _resample_command(src, dst, scale, method.value, up=True)
