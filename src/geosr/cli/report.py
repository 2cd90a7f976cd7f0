"""``geosr report PRED [--lr LR] [--truth GT] [--model M]``: one self-contained HTML report of
predictions on one's own data (registered in :mod:`geosr.cli.main`). It calls
:func:`geosr.report.api.report` once; inputs are checked before any work, and a user error
exits 2 without a traceback and without writing the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

__all__ = ["report"]


def _check_exists(path: Optional[Path], option: str) -> None:
    from geosr.core.errors import InputError

    if path is not None and not path.exists():
        raise InputError("not found", where=f"{option} {path}")


def report(
    pred: Path = typer.Argument(..., metavar="PRED", help="Prediction: an image file or a "
                                "folder of images (one report with an index)."),
    lr: Optional[Path] = typer.Option(None, "--lr", help="Its low-resolution input (file, or "
                                      "folder matched by name): the bicubic interpolation is "
                                      "shown beside the prediction."),
    truth: Optional[Path] = typer.Option(None, "--truth", help="Ground truth on the "
                                         "prediction's grid (file, or folder matched by name)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model folder (or .zip) that "
                                         "made the prediction: hash, training curves, config."),
    out: Optional[Path] = typer.Option(None, "--out", help="HTML file (default: "
                                       "PRED-stem.report.html beside the prediction)."),
    evaluation: Optional[Path] = typer.Option(None, "--evaluation", help="CSV written by "
                                              "geosr evaluate --out (else computed)."),
    assessment: Optional[Path] = typer.Option(None, "--assessment", help="JSON written by "
                                              "geosr assess --json (else computed)."),
    trust: Optional[Path] = typer.Option(None, "--trust", help="Folder written by geosr "
                                         "trust (default: the one beside PRED, else computed "
                                         "when --model and --lr are given)."),
    no_trust: bool = typer.Option(False, "--no-trust", help="Leave the trust section out."),
    no_compute: bool = typer.Option(False, "--no-compute", help="Compute nothing: show only "
                                    "what is given or found."),
    data_range: Optional[str] = typer.Option(None, "--data-range", help="Intensity span for "
                                             "PSNR/SSIM: a number, 'dtype' or 'gt' (default "
                                             "gt: max - min of the truth)."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="Network metric groups "
                                          "(comma-separated, as geosr assess)."),
    point_um: Optional[List[float]] = typer.Option(None, "--point-um", help="3D: the point "
                                                   "(z y x, µm from the corner) the "
                                                   "orthogonal slices go through (repeat 3 "
                                                   "times; default the centre)."),
) -> None:
    """Write one self-contained HTML report: images side by side with scale bars, error map,
    zooms, image quality, network metrics, trust evidence, plots and provenance."""
    from geosr.core.errors import ConfigError
    from geosr.report.api import report as run_report

    for path, option in ((pred, "PRED"), (lr, "--lr"), (truth, "--truth"), (model, "--model"),
                         (evaluation, "--evaluation"), (assessment, "--assessment"),
                         (trust, "--trust")):
        _check_exists(path, option)
    if point_um and len(point_um) != 3:
        raise ConfigError(f"needs 3 values (z y x), got {len(point_um)}", where="--point-um")
    if no_trust and trust is not None:
        raise ConfigError("--trust and --no-trust contradict each other", where="--no-trust")
    path = run_report(pred, lr=lr, truth=truth, model=model, out=out, evaluation=evaluation,
                      assessment=assessment, trust=None if no_trust else (trust or "auto"),
                      compute=not no_compute, data_range=_range(data_range),
                      network_metrics=metrics, point_um=tuple(point_um) if point_um else None)
    typer.echo(f"report: {path}")


def _range(value: Optional[str]):
    if value is None or value in ("dtype", "gt"):
        return value
    from geosr.core.errors import ConfigError

    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"must be a number, 'dtype' or 'gt', got {value!r}",
                          where="--data-range") from None
