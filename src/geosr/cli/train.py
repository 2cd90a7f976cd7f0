"""``geosr train CONFIG.yaml [--resume] [--out DIR] [--set FIELD=VALUE ...]``.

Thin wrapper over :func:`geosr.train.train`: loads and validates the YAML config, applies the
command-line overrides, trains, and prints the model folder with the validation PSNR of the
model and of bicubic upsampling. Errors are :class:`geosr.core.GeosrError` (the ``geosr`` entry
point prints them in one or two lines and exits with status 2).

Register it on a Typer app with ``app.command("train")(train)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from geosr.core.errors import ConfigError

__all__ = ["train", "parse_sets"]


def parse_sets(values: Optional[List[str]]) -> dict[str, object]:
    """``["train.lr=0.01", "model.name=espcn"]`` → ``{"train.lr": 0.01, ...}`` (values parsed
    as YAML)."""
    import yaml

    out: dict[str, object] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or "." not in key and key not in (
                "seed", "scale", "dims", "loss", "out"):
            raise ConfigError(f"expected FIELD=VALUE with a dotted field path, got {item!r}",
                              where="--set", hint="e.g. --set train.steps=500")
        try:
            out[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"cannot parse the value of {item!r} as YAML",
                              where="--set") from None
    return out


def train(
    config: Path = typer.Argument(..., metavar="CONFIG.yaml",
                                  help="Training config (see examples/train_dentin_x4.yaml)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint "
                                "in the output folder."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: the "
                                       "config's 'out', else runs/train)."),
    sets: Optional[List[str]] = typer.Option(None, "--set", help="Override one field, e.g. "
                                             "--set train.steps=500 (repeatable)."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress "
                                  "bar on stderr."),
    ensemble: Optional[int] = typer.Option(None, "--ensemble", metavar="N", help="Train a deep "
                                           "ensemble of N members (seeds seed+i) into "
                                           "OUT/member-i and write OUT/ensemble.json."),
) -> None:
    """Train a super-resolution model from a YAML config; writes OUT/model (weights.safetensors
    + model.json), OUT/log.csv and resumable checkpoints."""
    from geosr.core.files import read_json
    from geosr.train import train as run_train

    overrides = parse_sets(sets)
    if out is not None:
        overrides["out"] = out
    if device is not None:
        overrides["train.device"] = device
    if ensemble is not None:
        from geosr.train.ensemble import train_ensemble

        described = train_ensemble(config, members=ensemble, resume=resume,
                                   show_progress=progress, **overrides)
        typer.echo(f"ensemble of {ensemble}: {described}")
        return
    import warnings

    from geosr.models.quality import BelowBaselineWarning, baseline_message

    with warnings.catch_warnings():   # printed below as one line, from summary.json
        warnings.simplefilter("ignore", BelowBaselineWarning)
        model_dir = run_train(config, resume=resume, show_progress=progress, **overrides)
    typer.echo(f"model: {model_dir}")
    summary_path = model_dir.parent / "summary.json"
    if summary_path.is_file():
        summary = read_json(summary_path)
        psnr = summary.get("val_psnr_norm_db", {})

        def fmt(value: object) -> str:
            return f"{value:.2f} dB" if isinstance(value, (int, float)) else "n/a"

        typer.echo(f"validation PSNR (normalised, data range 1): bicubic {fmt(psnr.get('bicubic'))}"
                   f", model {fmt(psnr.get('best'))} (step {summary.get('best_step')}"
                   f"{', stopped early' if summary.get('stopped_early') else ''})")
        message = baseline_message(summary)
        if message:
            typer.echo(f"warning: {message}", err=True)
