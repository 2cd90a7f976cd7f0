"""``geosr demo``: the main job on an embedded default (registered in
:data:`geosr.cli.commands.COMMANDS`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["demo"]


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Output folder."),
    scale: int = typer.Option(4, "--scale", help="Super-resolution factor (2, 4 or 8)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    train_steps: Optional[int] = typer.Option(None, "--train-steps", help="Training steps of "
                                              "the default model (0 skips training)."),
) -> None:
    """The main job on an embedded default: dentin phantom -> simulated low-resolution
    acquisition -> classical upsampling and a trained light model -> report.html."""
    from geosr.demo import run_demo

    report = run_demo(out, scale=scale, seed=seed, train_steps=train_steps)
    typer.echo(f"report: {report}")
