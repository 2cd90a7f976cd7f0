"""Resumable training checkpoints, written atomically and without pickle.

A checkpoint is a folder ``<run>/checkpoints/step-00000040/`` holding

- ``state.safetensors``: every tensor — model weights (``model.*``), the best weights so far
  (``best.*``), the optimizer's per-parameter state (``optim.<index>.<key>``), torch's CPU RNG
  state (``rng.torch_cpu``, a uint8 tensor) and each CUDA device's (``rng.cuda.<i>``);
- ``state.json``: everything else as JSON — step, optimizer hyper-parameters, schedule, the
  Python / numpy RNG states (``bit_generator.state`` dictionaries), the patch sampler's state,
  best metric, early-stopping counters, and the SHA-256 of ``state.safetensors``.

The folder is assembled under a temporary name and renamed into place
(:func:`geosr.core.atomic_path`), so a checkpoint either exists complete or not at all; older
checkpoints are deleted only after the new one is in place. :func:`latest_checkpoint` ignores
temporary folders.

Example
-------
>>> import tempfile, torch, pathlib
>>> run = pathlib.Path(tempfile.mkdtemp())
>>> path = save_checkpoint(run / "checkpoints", 10, {"w": torch.ones(2)}, {"step": 10})
>>> tensors, state = load_checkpoint(latest_checkpoint(run / "checkpoints"))
>>> state["step"], tensors["w"].tolist()
(10, [1.0, 1.0])
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geosr.core.errors import InputError
from geosr.core.files import atomic_path, to_jsonable
from geosr.data.fingerprint import file_sha256

__all__ = ["save_checkpoint", "load_checkpoint", "latest_checkpoint", "list_checkpoints",
           "optimizer_to_flat", "optimizer_from_flat", "rng_state", "set_rng_state"]

_NAME = re.compile(r"^step-(\d{8})$")
TENSORS, STATE = "state.safetensors", "state.json"


def list_checkpoints(folder: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``folder`` as ``(step, path)``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match and (path / TENSORS).is_file() and (path / STATE).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The checkpoint with the highest step, or None."""
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def save_checkpoint(folder: str | Path, step: int, tensors: dict[str, torch.Tensor],
                    state: dict[str, Any], *, keep: int = 1) -> Path:
    """Write checkpoint ``step`` atomically and keep only the ``keep`` newest. Returns its
    folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    target = folder / f"step-{int(step):08d}"
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(target, is_dir=True) as tmp:
        save_file(flat, str(tmp / TENSORS))
        record = {**to_jsonable(state), "step": int(step),
                  "tensors_sha256": file_sha256(tmp / TENSORS)}
        (tmp / STATE).write_text(json.dumps(record, separators=(",", ":")) + "\n", encoding="utf-8")
    for _, old in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, state)`` of a checkpoint folder; :class:`InputError` if a file is missing or
    the tensor file does not match its recorded hash."""
    from safetensors.torch import load_file

    path = Path(path)
    for name in (TENSORS, STATE):
        if not (path / name).is_file():
            raise InputError(f"checkpoint file {name} is missing", where=str(path),
                             hint="delete this checkpoint folder to resume from an older one")
    try:
        state = json.loads((path / STATE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{STATE} is not valid JSON ({err})", where=str(path)) from None
    digest = file_sha256(path / TENSORS)
    if state.get("tensors_sha256") not in (None, digest):
        raise InputError(f"{TENSORS} does not match the hash recorded in {STATE}",
                         where=str(path), hint="the checkpoint is corrupted; delete it")
    return load_file(str(path / TENSORS)), state


# --------------------------------------------------------------------- optimizer
def optimizer_to_flat(optimizer: torch.optim.Optimizer
                      ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors (``optim.<param>.<key>``) and JSON."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in sd["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
              for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def optimizer_from_flat(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                        info: dict[str, Any]) -> None:
    """Inverse of :func:`optimizer_to_flat`."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, entry in info.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entry)
    groups = []
    for g in info["param_groups"]:
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# --------------------------------------------------------------------------- RNG
def rng_state(cuda: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The global generators' states: torch CPU (and CUDA) as uint8 tensors, Python's
    ``random`` and numpy's legacy generator as JSON."""
    tensors = {"rng.torch_cpu": torch.get_rng_state()}
    if cuda and torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    version, internal, gauss = random.getstate()
    legacy = np.random.get_state()
    info = {"python": [version, list(internal), gauss],
            "numpy_legacy": [legacy[0], legacy[1].tolist(), int(legacy[2]), int(legacy[3]),
                             float(legacy[4])]}
    return tensors, info


def set_rng_state(tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    torch.set_rng_state(tensors["rng.torch_cpu"].to(torch.uint8))
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")),
                  key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k].to(torch.uint8) for k in cuda])
    if "python" in info:
        version, internal, gauss = info["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy_legacy" in info:
        name, keys, pos, has_gauss, cached = info["numpy_legacy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
