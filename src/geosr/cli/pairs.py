"""``geosr pairs register LR_DIR HR_DIR --scale S --out DIR``: register experimental LR/HR
pairs, judge them and estimate the instrument's forward model (registered in
:mod:`geosr.cli.main` as the ``pairs`` command group)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from geosr.core.errors import ConfigError
from geosr.core.per_axis import one_or_per_axis

__all__ = ["pairs_app", "register"]

pairs_app = typer.Typer(name="pairs", help="Experimentally paired data: registration, pair "
                        "quality control, the instrument's forward model.",
                        no_args_is_help=True, add_completion=False)


class TransformKind(str, Enum):
    translation = "translation"
    rigid = "rigid"
    similarity = "similarity"


class IntensityKind(str, Enum):
    affine = "affine"
    gamma = "gamma"


@pairs_app.command("register")
def register(
    lr_dir: Path = typer.Argument(..., metavar="LR_DIR", help="Folder of LR acquisitions."),
    hr_dir: Path = typer.Argument(..., metavar="HR_DIR", help="Folder of HR acquisitions "
                                  "(same file names)."),
    scale: List[int] = typer.Option(..., "--scale", help="Stated integer scale (one, or one "
                                    "per spatial axis)."),
    out: Path = typer.Option(..., "--out", help="Output folder: lr/, hr/, pairs.csv, "
                             "forward_model.json, report.html."),
    transform: TransformKind = typer.Option(TransformKind.translation, "--transform",
                                            help="translation, rigid (+ rotation) or "
                                            "similarity (+ zoom)."),
    intensity: IntensityKind = typer.Option(IntensityKind.affine, "--intensity",
                                            help="Intensity map: affine or gamma."),
    psf_fwhm_um: Optional[List[float]] = typer.Option(None, "--psf-fwhm-um", help="Starting "
                                                      "PSF FWHM in µm (default: one LR "
                                                      "pixel)."),
    deformable: bool = typer.Option(False, "--deformable", help="Add a smooth non-rigid "
                                    "residual field (3 tiles per axis), reported separately "
                                    "in pairs.csv (deformation_rms_lr_px, _max_)."),
) -> None:
    """Register LR/HR pairs through the forward model, reject bad pairs, estimate the
    forward model. A rerun skips the pairs already done with the same inputs."""
    from geosr.pairs.folders import register_folders

    if any(s < 1 for s in scale):
        raise ConfigError(f"must be a positive integer, got {scale}", where="--scale")
    factors = one_or_per_axis(scale, where="--scale", kind=int)
    psf = one_or_per_axis(psf_fwhm_um, where="--psf-fwhm-um", kind=None)

    def show(name: str, status: str) -> None:
        typer.echo(f"  {name}: {'registered' if status == 'done' else 'unchanged, skipped'}")

    result = register_folders(lr_dir, hr_dir, factors, out, transform=transform.value,
                              intensity=intensity.value, psf_fwhm_um=psf,
                              deformable=deformable, progress=show)
    c = result["counts"]
    typer.echo(f"{c['ok']} ok, {c['suspect']} suspect, {c['reject']} rejected -> {out}")
    for e in result["pairs"]:
        if e["verdict"] != "ok":
            typer.echo(f"  {e['verdict']}: {e['name']}: {e['reason']}")
    forward = result["forward_model"]
    if forward and "error" not in forward:
        est = forward["estimate"]
        fw = ", ".join(f"{v:.3g}" for v in est["fwhm_um"])
        typer.echo(f"forward model: PSF FWHM {fw} um, gain {est['noise']['gain']:.3g}, read "
                   f"noise {est['noise']['read_noise']:.3g} -> {out / 'forward_model.json'}")


def forward_for_degrade(forward: Optional[Path], others: dict) -> Optional[dict]:
    """The checked forward-model record for ``geosr degrade --forward`` (None without it);
    ``others``: the degradation options given with it (option name -> value), refused because
    the file already fixes them."""
    if forward is None:
        return None
    given = [name for name, value in others.items() if value not in (None, 0, 0.0, [], "image")]
    if given:
        raise ConfigError(f"{', '.join(given)} cannot be combined with --forward",
                          where="--forward", hint="the forward model file fixes the scale, "
                          "PSF and noise; drop the other options")
    from geosr.pairs.forward import load_forward_model

    return load_forward_model(forward)
