"""Predict a file or every image of a folder, resumably.

An output is *complete* when it exists, reads back, and its ``metadata["prediction"]``
records the same model (SHA-256 of the weights) and the same input file (name, size,
modification time); complete outputs are skipped on a rerun, so an interrupted batch resumes
where it stopped. Outputs are written atomically by :func:`geosr.io.save`, so none is ever
half-written; every input is checked against the model (dimensionality, channels, scale)
*before* anything is written.

PNG inputs give ``.tif`` outputs (PNG cannot hold float32 intensities).

>>> from geosr.predict import predict_files
>>> predict_files("lr/", "sr/", "runs/model")          # doctest: +SKIP
[PosixPath('sr/a.tif'), PosixPath('sr/b.tif')]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

from geosr.core.errors import ConfigError, InputError
from geosr.predict.core import check_compatible, predict_loaded, resolve_model

if TYPE_CHECKING:   # torch is imported by geosr.models only when a model is loaded
    from geosr.models.files import LoadedModel

__all__ = ["predict_files", "list_inputs", "output_name", "is_complete",
           "check_prediction_output"]


def output_name(name: str) -> str:
    """The output file name for an input name (``.png`` → ``.tif``, others unchanged)."""
    return name[:-4] + ".tif" if name.lower().endswith(".png") else name


def list_inputs(src: Path, dst: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: one file (``dst`` a file, or a folder that exists), or every
    supported image in a folder (``dst`` a folder)."""
    from geosr.io.files import image_files

    if not src.exists():
        raise InputError("file not found", where=str(src))
    if src.is_dir() and not src.name.lower().endswith(".zarr"):
        files = image_files(src)
        if dst.exists() and not dst.is_dir():
            raise ConfigError("the input is a folder, so the output must be a folder too",
                              where=str(dst))
        pairs = [(f, dst / output_name(f.name)) for f in files]
    elif dst.is_dir() and not dst.name.lower().endswith(".zarr"):
        pairs = [(src, dst / output_name(src.name))]
    else:
        pairs = [(src, dst)]
    for s, d in pairs:
        if s.resolve() == d.resolve():
            raise ConfigError("the output would overwrite the input", where=str(d),
                              hint="write to another folder")
    return pairs


def _source_record(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"name": path.name, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def is_complete(output: Path, source: Path, model_sha256: str) -> bool:
    """Whether ``output`` is a finished prediction of ``source`` by this model."""
    from geosr.io import load

    if not output.exists():
        return False
    try:
        record = load(output, lazy=True).metadata.get("prediction")
    except InputError:
        return False
    return (isinstance(record, dict) and record.get("model_sha256") == model_sha256
            and record.get("source") == _source_record(source))


def check_prediction_output(image: Any, output: Path, loaded: Any) -> None:
    """Refuse, before predicting, an output path geosr cannot write (unknown extension,
    unwritable folder) or a float32 result too big for memory (in-memory formats) or disk."""
    from geosr.core.outputs import check_output_size
    from geosr.io.outputs import check_output

    ext = check_output(output)
    # an isotropic 2D model (scale [s, 1]) on a ZYX stack refines z only: factors (s, 1, 1)
    factors = list(loaded.scale) + [1] * (image.dims - loaded.dims)
    shape = [loaded.out_channels] + [n * f for n, f in zip(image.spatial_shape, factors)]
    check_output_size(shape, "float32", where=str(output), in_memory=ext != ".zarr",
                      folder=output.parent,
                      hint="write to OUT.ome.zarr instead: it is predicted chunk by chunk")


def predict_files(src: str | os.PathLike, dst: str | os.PathLike,
                  model: Union["LoadedModel", str, os.PathLike], *,
                  overwrite: bool = False,
                  report: Callable[[Path, Path, str], None] | None = None,
                  **kwargs: Any) -> list[Path]:
    """Super-resolve a file or a folder of images into ``dst``.

    Parameters
    ----------
    src, dst:
        An image file and its output file (or an existing output folder), or a folder of
        images and an output folder (created).
    model:
        A model folder / zip path or a :class:`geosr.models.LoadedModel` (loaded once).
    overwrite:
        Recompute outputs even when they are complete.
    report:
        Called as ``report(input, output, status)`` with status ``"written"`` or
        ``"skipped"`` after each file.
    **kwargs:
        Passed to :func:`geosr.predict.predict` (``tile``, ``overlap``, ``max_memory_mb``,
        ``device``, ``batch_size``, ``scale``, ``progress``).

    Returns the output paths, in input order (skipped ones included).
    """
    from geosr.io import load, save

    loaded = resolve_model(model, kwargs.pop("device", "auto"))
    pairs = list_inputs(Path(src), Path(dst))
    for source, output in pairs:   # check everything before writing anything
        image = load(source, lazy=True)
        check_compatible(image, loaded, where=str(source), scale=kwargs.get("scale"))
        check_prediction_output(image, output, loaded)
    outputs = []
    for source, output in pairs:
        if not overwrite and is_complete(output, source, loaded.sha256):
            status = "skipped"
        else:
            image = load(source)
            result = predict_loaded(image, loaded, **kwargs)
            record = {**result.metadata["prediction"], "source": _source_record(source)}
            save(result.with_metadata(prediction=record), output)
            status = "written"
        outputs.append(output)
        if report is not None:
            report(source, output, status)
    return outputs
