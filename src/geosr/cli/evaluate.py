"""``geosr evaluate PRED GT``: image-quality metrics of predictions against ground truth.

Registered in :mod:`geosr.cli.main` with ``app.command()(evaluate)``. It calls
:func:`geosr.assess.evaluate` once and prints the same numbers as a table (rich): one row per
image, then mean and sd, under a line that names the convention. User errors propagate as
:class:`geosr.core.errors.GeosrError` (the CLI's ``main`` prints them in one line, exit 2).
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

__all__ = ["evaluate", "Protocol", "Fit", "format_value"]


class Protocol(str, Enum):
    microscopy = "microscopy"
    classic = "classic"


class Fit(str, Enum):
    none = "none"
    affine = "affine"


class Normalization(str, Enum):
    euclidean = "euclidean"
    range = "range"
    mean = "mean"
    std = "std"


_OPTIONS = {"data_range": "--data-range", "scale": "--scale", "crop": "--crop", "fit": "--fit",
            "protocol": "--protocol"}


def format_value(value: float, metric: str) -> str:
    """Four decimals (the published tables' precision); ``inf``/``n/a`` spelled out."""
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4f}"


def _print_table(result) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    summary = result.summary()
    table = Table(title=f"geosr evaluate: {result.protocol} protocol", title_justify="left")
    table.add_column("image", no_wrap=True)
    for m in result.metrics:
        table.add_column(Text(result.column(m)), justify="right", no_wrap=True)
    has_notes = any(row["notes"] for row in result.rows)
    if has_notes:
        table.add_column("notes")
    for row in result.rows:
        cells = [Text(row["name"]), *[format_value(row[m], m) for m in result.metrics]]
        table.add_row(*cells, *([Text(row["notes"])] if has_notes else []))
    table.add_section()
    table.add_row("mean", *[format_value(summary[m]["mean"], m) for m in result.metrics],
                  *([""] if has_notes else []))
    table.add_row("sd", *[format_value(summary[m]["sd"], m) for m in result.metrics],
                  *([""] if has_notes else []))
    width = 16 + 14 * len(result.metrics) + (60 if has_notes else 0)
    console = Console(width=max(width, 100), highlight=False, soft_wrap=False)
    console.print(table)
    for line in result.header_lines()[1:]:
        typer.echo(f"  {line}")


def evaluate(
    pred: Path = typer.Argument(..., metavar="PRED", help="Prediction: an image file or a "
                                "folder of images."),
    gt: Path = typer.Argument(..., metavar="GT", help="Ground truth: a file, or a folder whose "
                              "images are matched to PRED's by name (a trailing _HR/_GT/_SR/"
                              "_LR/_pred tag may differ)."),
    protocol: Protocol = typer.Option(Protocol.microscopy, "--protocol", help="classic: 8-bit, "
                                      "Y channel (BT.601, MATLAB rounding), crop = scale, "
                                      "peak 255 (the published SR tables). microscopy: raw "
                                      "values, 2D/3D, explicit --data-range."),
    scale: Optional[int] = typer.Option(None, "--scale", help="SR factor: border crop (required "
                                        "by classic) and diagnosis of size mismatches."),
    out: Optional[Path] = typer.Option(None, "--out", help="CSV file: convention, one row per "
                                       "image, mean and sd."),
    maps: Optional[Path] = typer.Option(None, "--maps", help="Folder for absolute-error and "
                                        "SSIM maps (float32 TIFF, spacing kept)."),
    data_range: Optional[str] = typer.Option(None, "--data-range", help="Intensity span L for "
                                             "PSNR/SSIM: a number (255, 1, 65535, ...), "
                                             "'dtype' or 'gt' (max - min of the truth). "
                                             "Required by microscopy; never guessed."),
    crop: Optional[int] = typer.Option(None, "--crop", help="Border crop in pixels "
                                       "(microscopy; default: the scale, or 0)."),
    fit: Fit = typer.Option(Fit.none, "--fit", help="affine: least-squares gain and offset of "
                            "the prediction to the truth first (scale-invariant, CSBDeep)."),
    nrmse: Normalization = typer.Option(Normalization.euclidean, "--nrmse", help="NRMSE "
                                        "denominator: euclidean (RMS of truth), range, mean, "
                                        "std."),
    ignore_spacing: bool = typer.Option(False, "--ignore-spacing", help="Do not refuse pairs "
                                        "whose physical pixel size differs."),
) -> None:
    """Compare predictions with ground truth: PSNR, SSIM, ... per image, mean and sd."""
    from geosr.assess.evaluation import evaluate as run_evaluate
    from geosr.core.errors import ConfigError

    try:
        result = run_evaluate(str(pred), str(gt), protocol=protocol.value, scale=scale,
                              data_range=data_range, maps_dir=maps, out_csv=out, crop=crop,
                              fit=fit.value, nrmse_normalization=nrmse.value,
                              check_spacing=not ignore_spacing)
    except ConfigError as err:   # name the command-line option, not the keyword
        if err.where in _OPTIONS:
            hint = (err.hint or "").replace(f"{err.where}= ", f"{_OPTIONS[err.where]} ")
            raise ConfigError(err.message, where=_OPTIONS[err.where], hint=hint or None) from None
        raise
    _print_table(result)
    if result.csv_path is not None:
        typer.echo(f"table: {result.csv_path}")
    if result.maps:
        typer.echo(f"maps:  {len(result.maps)} files in {maps}")
