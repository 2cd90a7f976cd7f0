"""``geosr assess PRED [GT] --chunked``: the chunk-by-chunk metrics of
:func:`geosr.assess.network.chunked.assess_chunked`, printed as one table (and written as JSON
with ``--json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["assess_chunked_command"]

_ROWS = [("porosity", "fraction"), ("components", "count"),
         ("largest_component_share", "fraction"), ("euler", "χ"),
         ("conn_density", "mm^-3")]


def assess_chunked_command(pred: Path, gt: Optional[Path], *, segment: str,
                           threshold: Optional[float], bright: bool, chunk: Optional[int],
                           cluster: Optional[str], json_path: Optional[Path]) -> None:
    from geosr.assess.network.chunked import assess_chunked
    from geosr.core.formatting import format_number
    from geosr.core.files import write_json
    from geosr.core.progress import progress_bar

    with progress_bar() as bar:
        task = bar.add_task("chunks", total=None)
        result = assess_chunked(str(pred), str(gt) if gt is not None else None,
                                segmentation=segment, threshold=threshold, bright=bright,
                                chunk=chunk, cluster=cluster,
                                progress=lambda d, t: bar.update(task, completed=d, total=t))
    conv = result["convention"]
    t = conv["thresholds"][0]
    rule = "non-zero is pore" if t is None else (
        f"at {t:.6g} ({'bright' if conv['bright_pores'] else 'dark'} pores)")
    typer.echo(f"segmentation: {conv['segmentation']} {rule}, connectivity "
               f"{conv['connectivity']}, {conv['chunks']} chunks of {conv['chunk']}")
    names = [n for n in ("prediction", "truth") if n in result]
    typer.echo("metric".ljust(26) + "unit".ljust(10) + "".join(n.rjust(14) for n in names))
    for key, unit in _ROWS:
        if key in result["prediction"]:
            typer.echo(key.ljust(26) + unit.ljust(10) + "".join(
                format_number(result[n][key]).rjust(14) for n in names))
    comp = result["comparison"]
    if "stack_connectivity" in comp:
        sc = comp["stack_connectivity"]
        typer.echo(f"through-stack connectivity preserved: "
                   f"{format_number(sc['through_preserved'])} (axis {sc['axis']}, "
                   f"{sc['n_through']} truth connections)")
    if "cldice" in comp:
        typer.echo(f"clDice: {format_number(comp['cldice']['cldice'])} "
                   f"({comp['cldice']['approximate']})")
    if json_path is not None:
        write_json(json_path, result)
        typer.echo(f"json: {json_path}")
