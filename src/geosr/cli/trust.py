"""``geosr calibrate --model M --pairs DIR`` and ``geosr trust PRED LR --model M``: the trust
layer on the command line (registered in :mod:`geosr.cli.main`). Also the shared options and
the helper that ``geosr predict --trust`` calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from geosr.core.errors import ConfigError
from geosr.core.per_axis import one_or_per_axis

__all__ = ["calibrate", "trust", "acquisition_from_options", "forward_acquisition", "run_trust",
           "print_verdict"]


def acquisition_from_options(scale: Any, fwhm_um: Optional[List[float]],
                             wavelength_nm: Optional[float], na: Optional[float],
                             microscope: str, photons: Optional[float], read_noise: float,
                             offset: float = 0.0):
    """An :class:`~geosr.trust.acquisition.Acquisition` from command-line options, or None
    when none of the forward-model options was given (the LR metadata or the card is used)."""
    from geosr.trust.acquisition import Acquisition

    if not fwhm_um and wavelength_nm is None and photons is None and not read_noise:
        return None
    if scale is None:
        raise ConfigError("the acquisition options need the model's scale", where="--model")
    fwhm = one_or_per_axis(fwhm_um, where="--fwhm-um", kind=None)
    return Acquisition.from_arguments(scale=scale, fwhm_um=fwhm, wavelength_nm=wavelength_nm,
                                      na=na, microscope=microscope, photons=photons,
                                      read_noise=read_noise, offset=offset)


def forward_acquisition(forward: Optional[Path], scale: Any, others_given: bool):
    """The :class:`~geosr.trust.acquisition.Acquisition` of a ``forward_model.json`` (from
    ``geosr pairs register``), or None without ``--forward``; its scale must be the model's."""
    if forward is None:
        return None
    if others_given:
        raise ConfigError("--forward already gives the acquisition", where="--forward",
                          hint="drop --fwhm-um/--wavelength-nm/--na/--photons/--read-noise")
    from geosr.pairs.forward import load_forward_model
    from geosr.trust.acquisition import Acquisition

    acq = Acquisition.from_record(load_forward_model(forward), source=str(forward))
    if scale is not None and tuple(acq.scale_per_axis(len(scale))) != tuple(scale):
        raise ConfigError(f"the forward model is for scale {acq.scale}, the model for "
                          f"{tuple(scale)}", where=str(forward),
                          hint="use the forward model of the acquisition the model super-"
                               "resolves")
    return acq


def print_verdict(summary: dict, where: Path) -> None:
    verdict = summary.get("verdict", {})
    tiles = verdict.get("tiles", {})
    typer.echo(f"trust: {verdict.get('image', '?')} (tiles: {tiles.get('green', 0)} green, "
               f"{tiles.get('amber', 0)} amber, {tiles.get('red', 0)} red) -> {where}")
    for reason in verdict.get("global_reasons", [])[:4]:
        typer.echo(f"  - {reason}")
    if summary.get("verdict_control"):
        typer.echo(f"  {summary['verdict_control']}")


def run_trust(prediction: Path, lr: Path, loaded: Any, *, card: Optional[Path],
              acquisition: Any, wavelength_nm: Optional[float], na: Optional[float],
              microscope: str, blur_fwhm_um: Optional[float], uncertainty: str,
              ensemble: Optional[Path], tile: Optional[int], device: str,
              out: Optional[Path] = None, level: float = 0.05, control: str = "holm",
              confidence: bool = False) -> Path:
    """Compute and write the trust report of one prediction; returns its folder."""
    from geosr.trust.report import trust_folder, trust_report

    folder = out or trust_folder(prediction)
    report = trust_report(prediction, lr, model=loaded, card=card if card else "auto",
                          acquisition=acquisition, wavelength_nm=wavelength_nm, na=na,
                          microscope=microscope, blur_fwhm_um=blur_fwhm_um,
                          uncertainty=None if uncertainty == "none" else uncertainty,
                          ensemble=ensemble, tile=tile, device=device, out=folder,
                          level=level, control=control, confidence=confidence)
    print_verdict(report.summary, folder)
    return folder


def calibrate(
    model: Path = typer.Option(..., "--model", help="Model folder (or .zip)."),
    pairs: Path = typer.Option(..., "--pairs", help="Held-out calibration pairs: a folder "
                               "with lr/ and hr/ (same file names), never used for training."),
    out: Optional[Path] = typer.Option(None, "--out", help="Card file (default: "
                                       "MODEL/calibration.json)."),
    alpha: float = typer.Option(0.1, "--alpha", help="Target expected fraction of missed "
                                "pixels (CRC)."),
    alpha_ood: float = typer.Option(0.01, "--alpha-ood", help="False-alarm level of the "
                                    "out-of-distribution gate."),
    uncertainty: str = typer.Option("tta", "--uncertainty", help="Size map: tta, ensemble, "
                                    "constant or hetero (a 'hetero' model's own sd)."),
    ensemble: Optional[Path] = typer.Option(None, "--ensemble", help="ensemble.json (for "
                                            "--uncertainty ensemble)."),
    tta_members: Optional[int] = typer.Option(None, "--tta-members", help="Use only the first "
                                              "N symmetries (cost)."),
    simulated: bool = typer.Option(False, "--simulated", help="The pairs are simulated: the "
                                   "guarantee holds for the simulated distribution only."),
    model_features: bool = typer.Option(False, "--model-features", help="Also gate on the "
                                        "model's own features (Mahalanobis)."),
    element_confidence: bool = typer.Option(False, "--element-confidence", help="Also "
                                            "calibrate the confidence of network elements "
                                            "(components, branches)."),
    device: str = typer.Option("cpu", "--device", help="auto, cpu, cuda or cuda:N."),
    forward: Optional[Path] = typer.Option(None, "--forward", help="forward_model.json of "
                                           "the LR instrument (geosr pairs register)."),
) -> None:
    """Calibrate a model on held-out pairs: conformal intervals, OOD gate, reference
    statistics, written as a calibration card bound to the model's hash."""
    from geosr.trust.calibration import calibrate as run_calibrate

    acq = None
    if forward is not None:
        from geosr.predict.core import resolve_model

        acq = forward_acquisition(forward, tuple(resolve_model(model, device).scale), False)
    card = run_calibrate(model, pairs, alpha=alpha, alpha_ood=alpha_ood, acquisition=acq,
                         uncertainty=uncertainty, ensemble=ensemble, tta_members=tta_members,
                         out=out, device=device, simulated=simulated,
                         model_features=model_features, element_confidence=element_confidence)
    crc = card["intervals"]["crc"]
    typer.echo(f"calibrated on {card['data']['n_images']} image(s): lambda = {crc['lambda']} "
               f"(alpha {crc['alpha']}); card -> {card['path']}")
    if card.get("ood_note"):
        typer.echo(f"  note: {card['ood_note']}")


def trust(
    prediction: Path = typer.Argument(..., metavar="PRED", help="Super-resolved image."),
    lr: Path = typer.Argument(..., metavar="LR", help="The low-resolution input it was "
                              "made from."),
    model: Optional[Path] = typer.Option(None, "--model", help="The model that made PRED "
                                         "(for uncertainty and the calibration card)."),
    card: Optional[Path] = typer.Option(None, "--card", help="Calibration card (default: "
                                        "MODEL/calibration.json if present)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the maps (default: "
                                       "PRED without extension + .trust)."),
    fwhm_um: Optional[List[float]] = typer.Option(None, "--fwhm-um", help="PSF FWHM of the LR "
                                                  "acquisition in µm (default: LR metadata)."),
    wavelength_nm: Optional[float] = typer.Option(None, "--wavelength-nm", help="Emission "
                                                  "wavelength (nm)."),
    na: Optional[float] = typer.Option(None, "--na", help="Numerical aperture."),
    microscope: str = typer.Option("widefield", "--microscope", help="widefield or confocal."),
    photons: Optional[float] = typer.Option(None, "--photons", help="Photons per intensity "
                                            "unit of the LR image (Poisson noise)."),
    read_noise: float = typer.Option(0.0, "--read-noise", help="Gaussian read noise (sd, LR "
                                     "intensity units)."),
    blur_fwhm_um: Optional[float] = typer.Option(None, "--blur-fwhm-um", help="System blur "
                                                 "FWHM in µm (CT) for the physics report."),
    uncertainty: str = typer.Option("auto", "--uncertainty", help="auto, tta, ensemble, "
                                    "constant, hetero or none."),
    ensemble: Optional[Path] = typer.Option(None, "--ensemble", help="ensemble.json."),
    tile: Optional[int] = typer.Option(None, "--tile", help="Verdict tile side in LR pixels "
                                       "(default 8 in 2D, 4 in 3D)."),
    level: float = typer.Option(0.05, "--level", help="Error level of the tile tests across "
                                "the image (family-wise with holm, false-discovery with bh)."),
    control: str = typer.Option("holm", "--control", help="holm, bh or none (each tile on its "
                                "own at --level)."),
    confidence: bool = typer.Option(False, "--confidence", help="Also a confidence per "
                                    "network element: elements.csv, element_confidence.tif "
                                    "(needs --model)."),
    device: str = typer.Option("cpu", "--device", help="auto, cpu, cuda or cuda:N."),
    forward: Optional[Path] = typer.Option(None, "--forward", help="forward_model.json of "
                                           "the LR instrument (geosr pairs register): PSF, "
                                           "binning and noise measured, not guessed."),
) -> None:
    """Evidence for an existing prediction: physics, data consistency, SQUIRREL, null space,
    uncertainty, calibrated intervals, OOD gate and a red/amber/green verdict per tile."""
    loaded = None
    scale = None
    if model is not None:
        from geosr.predict.core import resolve_model

        loaded = resolve_model(model, device)
        scale = tuple(loaded.scale)
    acq = forward_acquisition(forward, scale, bool(fwhm_um or wavelength_nm is not None or na
                                                   is not None or photons is not None
                                                   or read_noise))
    if acq is None:
        acq = acquisition_from_options(scale, fwhm_um, wavelength_nm, na, microscope, photons,
                                       read_noise)
    run_trust(prediction, lr, loaded, card=card, acquisition=acq, wavelength_nm=wavelength_nm,
              na=na, microscope=microscope, blur_fwhm_um=blur_fwhm_um,
              uncertainty=uncertainty, ensemble=ensemble, tile=tile, device=device, out=out,
              level=level, control=control, confidence=confidence)
