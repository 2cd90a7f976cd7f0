"""``geosr export MODEL --format bioimageio|onnx --out NAME``: a geosr model as a bioimage.io
package or an ONNX file (registered in :mod:`geosr.cli.main`)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from geosr.core.errors import ConfigError, InputError

__all__ = ["export"]


def export(
    model: Path = typer.Argument(..., metavar="MODEL", help="Model folder (or .zip) written "
                                 "by geosr train."),
    format: str = typer.Option("bioimageio", "--format", help="bioimageio (a .zip package) "
                               "or onnx (a .onnx file)."),
    out: Path = typer.Option(..., "--out", help="Output file: NAME.zip or NAME.onnx."),
    sample: Optional[Path] = typer.Option(None, "--sample", help="bioimageio: test image "
                                          "(default: a dentin phantom degraded by the "
                                          "model's scale)."),
    weights: Optional[List[str]] = typer.Option(None, "--weights", help="bioimageio: weight "
                                                "formats (repeatable; default both "
                                                "pytorch_state_dict and onnx)."),
    card: Optional[Path] = typer.Option(None, "--card", help="bioimageio: calibration card "
                                        "to attach (default: MODEL/calibration.json if "
                                        "present)."),
    no_card: bool = typer.Option(False, "--no-card", help="bioimageio: attach no card."),
    name: Optional[str] = typer.Option(None, "--name", help="bioimageio: model name."),
    author: Optional[List[str]] = typer.Option(None, "--author", help="bioimageio: author "
                                               "name (repeatable)."),
    test: bool = typer.Option(True, "--test/--no-test", help="bioimageio: run "
                              "bioimageio.core test_model before writing; onnx: compare "
                              "onnxruntime with torch."),
) -> None:
    """Export a model for bioimage.io (Fiji/deepImageJ, ilastik, napari) or ONNX runtimes."""
    from geosr.export.api import export as run_export
    from geosr.export.api import suffix as format_suffix

    try:
        suffix = format_suffix(format)
    except ConfigError as err:
        raise ConfigError(err.message, where="--format", hint=err.hint) from None
    if out.suffix.lower() != suffix:
        raise ConfigError(f"a {format} export is written to a {suffix} file", where="--out")
    if not model.exists():
        raise InputError("model not found", where=str(model),
                         hint="give the folder (or .zip) written by geosr train")
    if sample is not None and not sample.exists():
        raise InputError("file not found", where=str(sample))
    if format == "onnx":
        given = [o for o, v in (("--sample", sample), ("--weights", weights), ("--card", card),
                                ("--name", name), ("--author", author)) if v]
        if given:
            raise ConfigError("only applies to --format bioimageio", where=given[0])
        path = run_export(model, out, format="onnx", check=test)
    else:
        options = {"sample": sample, "card": None if no_card else (card or "auto"),
                   "name": name, "test": test}
        if weights:
            options["weights"] = tuple(weights)
        if author:
            options["authors"] = tuple(author)
        path = run_export(model, out, format="bioimageio", **options)
    typer.echo(f"exported {model} -> {path}")
