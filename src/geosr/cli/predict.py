"""``geosr predict IN --model M --out OUT``: super-resolve a file or a folder with a trained
model (registered in :mod:`geosr.cli.main` as ``app.command()(predict)``)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

__all__ = ["predict"]


def _one_or_many(values: Optional[List[int]]) -> int | tuple[int, ...] | None:
    from geosr.core.per_axis import one_or_per_axis

    return one_or_per_axis(values, where="--tile/--overlap", kind=None)


def predict(
    src: Path = typer.Argument(..., metavar="IN", help="Low-resolution image file or folder."),
    model: Path = typer.Option(..., "--model", help="Model folder (or .zip) written by "
                               "geosr train."),
    out: Path = typer.Option(..., "--out", help="Output file, or folder for a folder input "
                             "(PNG inputs give .tif outputs)."),
    tile: Optional[List[int]] = typer.Option(None, "--tile", help="Tile size in input pixels, "
                                             "halo included (one, or one per spatial axis). "
                                             "Default: from --max-memory."),
    overlap: Optional[List[int]] = typer.Option(None, "--overlap", help="Input pixels shared "
                                                "by neighbouring tiles. Default: from the "
                                                "model's receptive field (exact tiling)."),
    max_memory: Optional[float] = typer.Option(None, "--max-memory", metavar="MB",
                                               help="Memory budget for activations in MB "
                                                    "(default: a quarter of the RAM on CPU, "
                                                    "half the free GPU memory on CUDA)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    batch_size: int = typer.Option(1, "--batch-size", help="Tiles per forward pass."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Recompute outputs that are "
                                   "already complete (by default they are skipped)."),
    trust: bool = typer.Option(False, "--trust", help="Also write the trust maps and a "
                               "verdict beside each output (OUT without extension + .trust/)."),
    card: Optional[Path] = typer.Option(None, "--card", help="With --trust: calibration card "
                                        "(default: MODEL/calibration.json if present)."),
    fwhm_um: Optional[List[float]] = typer.Option(None, "--fwhm-um", help="With --trust: PSF "
                                                  "FWHM of the input in µm (default: the "
                                                  "input's degradation metadata)."),
    wavelength_nm: Optional[float] = typer.Option(None, "--wavelength-nm", help="With --trust: "
                                                  "emission wavelength (nm)."),
    na: Optional[float] = typer.Option(None, "--na", help="With --trust: numerical aperture."),
    microscope: str = typer.Option("widefield", "--microscope", help="With --trust: widefield "
                                   "or confocal."),
    photons: Optional[float] = typer.Option(None, "--photons", help="With --trust: photons per "
                                            "intensity unit of the input (Poisson noise)."),
    read_noise: float = typer.Option(0.0, "--read-noise", help="With --trust: Gaussian read "
                                     "noise (sd, input intensity units)."),
    uncertainty: str = typer.Option("auto", "--uncertainty", help="With --trust: auto, tta, "
                                    "ensemble, constant, hetero (the variance head of a "
                                    "'hetero' model; its σ map is written as hetero_std.tif "
                                    "whenever the model has one) or none."),
    ensemble: Optional[Path] = typer.Option(None, "--ensemble", help="With --trust "
                                            "--uncertainty ensemble: ensemble.json."),
    dtype: str = typer.Option("float32", "--dtype", help="OME-Zarr output (OUT.ome.zarr): "
                              "float32, uint16 or uint8 (range in the metadata)."),
    clip: Optional[List[float]] = typer.Option(None, "--clip", help="OME-Zarr output with "
                                               "--dtype uint8/uint16: the intensity range "
                                               "(input units) mapped to the type, given "
                                               "twice: --clip LOW --clip HIGH."),
    pyramid: int = typer.Option(0, "--pyramid", help="OME-Zarr output: extra resolution "
                                "levels (mean ×2 downsampled) for viewers."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="OME-Zarr output: run the "
                                          "chunks on dask.distributed, local:N (N "
                                          "single-threaded workers) or tcp://HOST:PORT."),
) -> None:
    """Super-resolve images with a trained model, tile by tile (2D or 3D).

    Outputs have spacing = input spacing / scale and record the model's hash; complete
    outputs are skipped on a rerun, and nothing is half-written. An OUT ending in .zarr
    (e.g. sr.ome.zarr) is predicted out of core, chunk by chunk, from a Zarr, a TIFF or a
    folder of TIFF slices, in bounded memory, and resumes where an interrupted run stopped."""
    from geosr.core.progress import progress_bar
    from geosr.predict import predict_files
    from geosr.predict.core import resolve_model

    import warnings

    from geosr.models.quality import BelowBaselineWarning

    with warnings.catch_warnings(record=True) as caught:   # one line, once per model
        warnings.simplefilter("always", BelowBaselineWarning)
        loaded = resolve_model(model, device)
    for w in caught:
        if issubclass(w.category, BelowBaselineWarning):
            typer.echo(f"warning: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    typer.echo(f"model: {loaded.architecture} {loaded.dims}D x{'x'.join(map(str, loaded.scale))}"
               f" ({loaded.sha256[:12]}) on {loaded.device}")
    if out.name.lower().endswith(".zarr"):
        from geosr.cli.predict_zarr import predict_zarr_command

        predict_zarr_command(src, out, loaded, max_memory=max_memory, dtype=dtype, clip=clip,
                             pyramid=pyramid, cluster=cluster, overwrite=overwrite,
                             device=device, trust=trust)
        return
    with progress_bar() as bar:
        task = bar.add_task("predicting", total=None)

        def on_tiles(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        def on_file(source: Path, output: Path, status: str) -> None:
            bar.console.print(f"{source} -> {output} ({status})")
            bar.update(task, completed=0, total=None)

        outputs = predict_files(src, out, loaded, overwrite=overwrite, report=on_file,
                                progress=on_tiles, tile=_one_or_many(tile),
                                overlap=_one_or_many(overlap), max_memory_mb=max_memory,
                                batch_size=batch_size, device=loaded.device)
    typer.echo(f"{len(outputs)} output(s) in {out}")
    if trust:
        from geosr.cli.trust import acquisition_from_options, run_trust
        from geosr.predict.batch import list_inputs

        acq = acquisition_from_options(tuple(loaded.scale), fwhm_um, wavelength_nm, na,
                                       microscope, photons, read_noise)
        for source, output in list_inputs(src, out):
            run_trust(output, source, loaded, card=card, acquisition=acq,
                      wavelength_nm=wavelength_nm, na=na, microscope=microscope,
                      blur_fwhm_um=None, uncertainty=uncertainty, ensemble=ensemble,
                      tile=None, device=device)
