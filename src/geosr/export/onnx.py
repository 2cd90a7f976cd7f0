"""ONNX export of a geosr model: the traced module (dynamic batch and spatial sizes) written
with PyTorch's ONNX exporter, then run once with onnxruntime and compared with torch.

The ONNX graph maps a *normalised* input ``(N, C, [D,] H, W)`` to the normalised output
``(N, C, [D·s,] H·s, W·s)``, like the torch module; the model's percentile normalisation
(``model.json`` → ``normalization``) is applied around it by the caller (geosr does it in
:func:`geosr.predict`; a bioimage.io package declares it as pre-processing).

Needs the ``onnx`` extra (``pip install 'geosr[onnx]'``: onnx, onnxscript, onnxruntime).

>>> from geosr.export import export_onnx                                   # doctest: +SKIP
>>> export_onnx("runs/model", "model.onnx")                                 # doctest: +SKIP
PosixPath('model.onnx')
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from geosr.core.errors import ConfigError, DependencyError
from geosr.export.api import register_exporter

__all__ = ["export_onnx", "write_onnx", "run_onnx", "OPSET"]

#: ONNX opset written (the one bioimageio.core's own converter uses).
OPSET = 18


def _require(*names: str) -> None:
    import importlib

    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise DependencyError(f"ONNX export needs {', '.join(missing)}", where="--format onnx",
                              hint="pip install 'geosr[onnx]'")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's chatter (e.g. 'torchvision is not installed' registrations)."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "onnxscript", "torch.export")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def write_onnx(program: Any, path: str | os.PathLike, opset: int = OPSET,
               where: str | None = None) -> Path:
    """Write the exported program (:func:`geosr.export.graph.trace_model`) as one ONNX file
    at ``path``, atomically (``where``: the name errors give, default ``path``)."""
    import torch

    from geosr.core.files import atomic_path

    _require("onnx", "onnxscript")
    path = Path(path)
    with atomic_path(path) as tmp, _quiet():
        try:
            onnx_program = torch.onnx.export(program, f=None, dynamo=True, opset_version=opset,
                                             verbose=False, optimize=True)
            onnx_program.save(str(tmp), external_data=False)
        except Exception as err:  # the exporter raises many error types
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip()
            first = (text.splitlines() or [type(err).__name__])[0]
            raise ConfigError(f"ONNX export failed ({type(err).__name__}: {first[:200]}); "
                              "an operator of this model has no ONNX equivalent",
                              where=where or str(path), hint="export --format bioimageio "
                              "with --weights pytorch_state_dict only") from None
    return path


def run_onnx(path: str | os.PathLike, x: np.ndarray) -> np.ndarray:
    """Run the ONNX model at ``path`` with onnxruntime (CPU, one thread) on ``x`` (float32,
    ``(N, C, *spatial)``); returns the first output."""
    _require("onnxruntime")
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]


@register_exporter("onnx", suffix=".onnx")
def export_onnx(model: Any, out: str | os.PathLike, *, opset: int = OPSET,
                check: bool = True, tolerance: float = 1e-4) -> Path:
    """Export ``model`` (a model folder / ``.zip`` path or a
    :class:`geosr.models.LoadedModel`) to an ONNX file ``out`` with dynamic batch and
    spatial sizes (multiples of the model's alignment).

    With ``check`` the file is run with onnxruntime on a random input of a size other than
    the one traced and compared with the torch module: a largest absolute difference above
    ``tolerance`` (normalised units, where the data range is about 1) raises
    :class:`ConfigError` and nothing is written.
    """
    import torch

    from geosr.export.graph import example_input, trace_model
    from geosr.predict.core import resolve_model

    _require("onnx", "onnxscript", *(("onnxruntime",) if check else ()))
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ConfigError("an ONNX file name ends with .onnx", where=str(out))
    loaded = resolve_model(model, "cpu")
    program = trace_model(loaded)
    if not check:
        return write_onnx(program, out, opset)
    tmp = out.with_name(f".{out.stem}.check.onnx")
    try:
        write_onnx(program, tmp, opset, where=str(out))
        x = example_input(loaded, batch=1)
        x = torch.nn.functional.pad(x, [0, int(loaded.module.alignment[-1])] + [0, 0] *
                                    (loaded.dims - 1), mode="replicate")
        with torch.no_grad():
            expected = loaded.module(x).numpy()
        diff = float(np.abs(run_onnx(tmp, x.numpy()) - expected).max())
        if not diff <= tolerance:
            raise ConfigError(f"onnxruntime differs from torch by {diff:.3g} (normalised "
                              f"units)", where=str(out), hint="report this model to the "
                              "geosr maintainers")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
