"""Choosing the torch device.

>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

import re
from typing import Any

import torch

from geosr.core.errors import ConfigError

__all__ = ["resolve_device", "DEVICE_CHOICES"]

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")


def resolve_device(device: Any = "auto") -> torch.device:
    """``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (or a
    :class:`torch.device`) → :class:`torch.device`.

    Raises :class:`ConfigError` for another spelling, or when CUDA (or GPU ``N``) is requested
    but absent, saying what is available.
    """
    if isinstance(device, torch.device):
        device = str(device)
    spec = str(device if device is not None else "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", spec)
    if not match:
        raise ConfigError(f"unknown device {device!r}", where="device",
                          hint="use one of " + ", ".join(DEVICE_CHOICES))
    if not torch.cuda.is_available():
        raise ConfigError("CUDA was requested but no CUDA GPU is available to torch "
                          f"(torch {torch.__version__}, CUDA build: "
                          f"{torch.version.cuda or 'no'})", where="device",
                          hint="use --device cpu (or auto)")
    index = int(match.group(1) or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"GPU {index} requested but only {count} CUDA device(s) exist",
                          where="device", hint=f"use cuda:0 .. cuda:{count - 1}")
    return torch.device("cuda", index)
