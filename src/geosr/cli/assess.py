"""``geosr assess PRED [GT]``: network and topology metrics of predictions against ground truth.

Registered in :mod:`geosr.cli.main` with ``app.command(name="assess")(assess)``. It calls
:func:`geosr.assess.network.assess` once and prints the numbers as a table per image (rich):
metric and unit, prediction, truth and error, grouped (porosity, components, topology, clDice,
skeleton, connectivity, thickness, lacunae, fabric), under lines naming the segmentation. For
"comparison" rows (F1, clDice, Betti error, ...) the truth column shows the ideal value. User
errors propagate as :class:`geosr.core.errors.GeosrError` (``main`` prints them, exit 2).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

import typer

from geosr.core.formatting import format_number

__all__ = ["assess", "SegmentMethod", "format_number"]


class SegmentMethod(str, Enum):
    otsu = "otsu"
    fixed = "fixed"
    local = "local"
    tubeness = "tubeness"
    mask = "mask"


_OPTIONS = {"segmentation.threshold": "--threshold", "segmentation.method": "--segment",
            "segmentation.min_size_um": "--min-size-um", "tile_um": "--tile-um",
            "metrics": "--metrics", "segmentation.block_um": "--block-um",
            "segmentation.scales_um": "--scale-um", "overlays": "--overlays",
            "graph": "--graph"}


def _print_item(item, console) -> None:
    from rich.table import Table
    from rich.text import Text

    shape = "x".join(str(n) for n in item.shape)
    spacing = "x".join(f"{s:g}" for s in item.spacing_um)
    table = Table(title=f"{item.name}: {item.dims}D, {shape} px of {spacing} um",
                  title_justify="left")
    table.add_column("metric", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    table.add_column("prediction", justify="right", no_wrap=True)
    table.add_column("truth" if item.has_truth else "", justify="right", no_wrap=True)
    if item.has_truth:
        table.add_column("error", justify="right", no_wrap=True)
    group = None
    for r in item.rows:
        if group is not None and r["group"] != group:
            table.add_section()
        group = r["group"]
        truth = format_number(r["truth"])
        if r["kind"] == "comparison":
            truth = f"(ideal {truth})"
        cells = [Text(r["metric"]), Text(r["unit"]), format_number(r["prediction"]), truth]
        if item.has_truth:
            cells.append(format_number(r["error"]))
        table.add_row(*cells)
    console.print(table)


def _print_summary(result, console) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{len(result)} image pairs: mean over pairs", title_justify="left")
    for name, justify in (("metric", "left"), ("unit", "left"), ("prediction", "right"),
                          ("truth", "right"), ("error mean", "right"), ("error sd", "right"),
                          ("n", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    for r in result.summary():
        truth = format_number(r["truth"])
        if r["kind"] == "comparison":
            truth = f"(ideal {truth})"
        table.add_row(Text(r["metric"]), Text(r["unit"]), format_number(r["prediction"]),
                      truth, format_number(r["error_mean"]), format_number(r["error_sd"]),
                      str(r["n"]))
    console.print(table)


def assess(
    pred: Path = typer.Argument(..., metavar="PRED", help="Prediction: an image file or a "
                                "folder of images (intensities or masks, 2D or 3D)."),
    gt: Optional[Path] = typer.Argument(None, metavar="GT", help="Ground truth: a file, or a "
                                        "folder matched to PRED by name. Omit for the metrics "
                                        "of PRED alone."),
    segment: SegmentMethod = typer.Option(SegmentMethod.otsu, "--segment", help="otsu (of the "
                                          "truth, applied to both), fixed (--threshold), local "
                                          "(gaussian local mean + offset), tubeness (Sato "
                                          "ridge filter), mask (inputs are binary)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Threshold in image "
                                              "units (fixed), or of the filter response "
                                              "(tubeness)."),
    min_size_um: Optional[float] = typer.Option(None, "--min-size-um", help="Remove objects "
                                                "smaller than this area (um^2, 2D) or volume "
                                                "(um^3, 3D)."),
    dark: bool = typer.Option(False, "--dark", help="Pores darker than the matrix (CT) "
                              "instead of brighter (fluorescence); for masks: 0 = pore."),
    out: Optional[Path] = typer.Option(None, "--out", help="CSV file: one row per image and "
                                       "metric (plus FILE_components.csv, the per-component "
                                       "match table)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="JSON file with every "
                                             "metric, the segmentation, notes and details."),
    overlays: Optional[Path] = typer.Option(None, "--overlays", help="Folder for overlays: "
                                            "missed network orange, invented blue (PNG; 3D: RGB "
                                            "TIFF + Z projection PNG)."),
    tile_um: Optional[float] = typer.Option(None, "--tile-um", help="Side of the Betti-error "
                                            "tiles in um (default 64 pixels)."),
    graph: Optional[Path] = typer.Option(None, "--graph", help="Ground-truth graph JSON (a "
                                         "phantom's graph.json): recovered and false edges, "
                                         "true lacunae."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="Comma-separated groups: "
                                          "porosity, components, topology, cldice, skeleton, "
                                          "connectivity, thickness, lacunae, fabric (default "
                                          "all that apply)."),
    split_um: float = typer.Option(1.0, "--split-um", help="Ball diameter (um) separating "
                                   "large pores from thin branches in the porosity split."),
    block_um: Optional[float] = typer.Option(None, "--block-um", help="Neighbourhood size "
                                             "(um) of the local threshold."),
    scale_um: Optional[List[float]] = typer.Option(None, "--scale-um", help="Tubeness scales "
                                                   "(um, repeat the option)."),
    spacing_um: Optional[List[float]] = typer.Option(None, "--spacing-um", help="Pixel size in "
                                                     "um (one, or one per axis) for files "
                                                     "without calibration."),
    sweep: int = typer.Option(0, "--sweep", help="Also run a threshold sweep with N "
                              "thresholds (global methods)."),
    ignore_spacing: bool = typer.Option(False, "--ignore-spacing", help="Do not refuse pairs "
                                        "whose pixel size differs on the same shape."),
    confidence: bool = typer.Option(False, "--confidence", help="A confidence per network "
                                    "element of PRED (components, branches) from the model's "
                                    "TTA members: PRED.elements/elements.csv and "
                                    "element_confidence.tif (needs --model and --lr)."),
    model: Optional[Path] = typer.Option(None, "--model", help="The model that made PRED "
                                         "(for --confidence)."),
    lr: Optional[Path] = typer.Option(None, "--lr", help="The LR input PRED was made from "
                                      "(for --confidence)."),
    chunked: bool = typer.Option(False, "--chunked", help="Read PRED/GT (Zarr, TIFF, slice "
                                 "folders) chunk by chunk, for volumes larger than memory: "
                                 "porosity, components, Euler/Conn.D, through-stack "
                                 "connectivity, clDice (segment: otsu, fixed or mask)."),
    chunk: Optional[int] = typer.Option(None, "--chunk", help="With --chunked: chunk side in "
                                        "voxels (default 1024 in 2D, 128 in 3D)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="With --chunked: run the "
                                          "chunks on dask.distributed, local:N or "
                                          "tcp://HOST:PORT."),
) -> None:
    """Network metrics: porosity, components, Betti numbers, clDice, skeleton length density,
    connectivity, thickness, lacunae, anisotropy, with the segmentation recorded."""
    from geosr.assess.network.api import assess as run_assess
    from geosr.assess.network.segment import Segmentation
    from geosr.core.errors import ConfigError
    from geosr.core.per_axis import one_or_per_axis

    if chunked:
        from geosr.cli.assess_chunked import assess_chunked_command

        assess_chunked_command(pred, gt, segment=segment.value, threshold=threshold,
                               bright=not dark, chunk=chunk, cluster=cluster,
                               json_path=json_path)
        return
    if confidence:
        from geosr.trust.element_cli import check_confidence_options

        check_confidence_options(pred, model, lr)
    try:
        seg = Segmentation.parse(segment.value, threshold=threshold, min_size_um=min_size_um,
                                 bright=not dark, block_um=block_um,
                                 scales_um=tuple(scale_um) if scale_um else None)
        spacing = one_or_per_axis(spacing_um, where="--spacing-um", kind=None)
        result = run_assess(str(pred), str(gt) if gt is not None else None, segmentation=seg,
                            tile_um=tile_um, graph=str(graph) if graph else None,
                            metrics=metrics, spacing=spacing, out_csv=out, out_json=json_path,
                            overlays_dir=overlays, split_diameter_um=split_um,
                            check_spacing=not ignore_spacing, sweep=sweep)
    except ConfigError as err:   # name the command-line option, not the keyword
        if err.where in _OPTIONS:
            raise ConfigError(err.message, where=_OPTIONS[err.where], hint=err.hint) from None
        raise
    _print_result(result, overlays)
    if confidence:
        from geosr.trust.element_cli import run_element_confidence

        run_element_confidence(pred, model, lr, echo=typer.echo)


def _print_result(result: Any, overlays: Optional[Path]) -> None:
    """The console report of ``geosr assess``: each image's metrics (a summary table beyond 3
    images), its notes and threshold sweep, then the files written."""
    from rich.console import Console

    console = Console(width=110, highlight=False, soft_wrap=False)
    for line in result.header_lines()[1:]:
        typer.echo(f"  {line}")
    if len(result) <= 3:
        for item in result.items:
            _print_item(item, console)
            for note in item.notes:
                typer.echo(f"  note: {note}")
            if item.sweep is not None:
                typer.echo("  threshold sweep (prediction vs truth at each threshold):")
                for row in item.sweep.rows:
                    typer.echo("    t=" + format_number(row["threshold"]) + "  " + "  ".join(
                        f"{m}: {format_number(row[f'{m}_prediction'])}/"
                        f"{format_number(row[f'{m}_truth'])}" for m in item.sweep.metrics))
    else:
        _print_summary(result, console)
    if result.csv_path is not None:
        typer.echo(f"table: {result.csv_path}")
    if result.components_csv_path is not None:
        typer.echo(f"components: {result.components_csv_path}")
    if result.json_path is not None:
        typer.echo(f"json: {result.json_path}")
    if result.overlays:
        typer.echo(f"overlays: {len(result.overlays)} files in {overlays} "
                   "(orange = missed, blue = invented, grey = both)")
