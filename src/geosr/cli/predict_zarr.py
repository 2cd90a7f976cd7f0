"""The out-of-core branch of ``geosr predict`` (an ``OUT`` ending in ``.zarr``): calls
:func:`geosr.predict.outofcore.predict_to_zarr` with a progress bar over chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from geosr.core.errors import ConfigError

__all__ = ["predict_zarr_command"]


def predict_zarr_command(src: Path, out: Path, loaded: Any, *, max_memory: Optional[float],
                         dtype: str, clip: Optional[List[float]], pyramid: int,
                         cluster: Optional[str], overwrite: bool, device: str,
                         trust: bool = False) -> None:
    """Predict ``src`` into the OME-Zarr ``out`` and print one summary line."""
    from geosr.core.progress import progress_bar
    from geosr.predict.outofcore import predict_to_zarr

    if trust:
        raise ConfigError("--trust maps are computed in memory, not for OME-Zarr outputs",
                          where="--trust", hint="write a .tif output, or drop --trust")

    if clip and len(clip) != 2:
        raise ConfigError(f"takes two values (--clip LOW --clip HIGH), got {clip}",
                          where="--clip")
    with progress_bar() as bar:
        task = bar.add_task("chunks", total=None)

        def on_chunks(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = predict_to_zarr(src, out, loaded, max_memory_mb=max_memory, dtype=dtype,
                                 clip=clip or None, pyramid=pyramid, cluster=cluster,
                                 overwrite=overwrite, device=device, progress=on_chunks)
    if result["status"] == "skipped":
        typer.echo(f"{src} -> {out} (skipped: already complete)")
        return
    typer.echo(f"{src} -> {out}: computed {result['computed']} of {result['chunks']} chunks "
               f"({result['resumed']} already done), blocks of {result['block']} input pixels")
