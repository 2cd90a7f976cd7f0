"""Checks on an output *before* any computation: can its folder be written, and can the result
fit in memory and on disk?

A long run that fails at the very end because ``--out`` names a missing or read-only folder, or
that tries to allocate 149 TiB, wastes the user's time; commands call these first and refuse
with a one-line :class:`~geosr.core.errors.ConfigError` (exit status 2 in the CLI).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> check_writable(d / "new" / "out.tif") == d
True
>>> check_output_size((10**6, 10**6, 10**6), "float32", where="out.tif")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geosr.core.errors.ConfigError: out.tif: the output would be 3.47 EiB (shape 1000000x1000000x1000000, float32), more than this machine's memory ...
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from geosr.core.errors import ConfigError

__all__ = ["check_writable", "check_output_size", "format_bytes", "physical_memory"]


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units, 3 significant figures.

    >>> format_bytes(1536), format_bytes(149 * 2**40)
    ('1.5 KiB', '149 TiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"


def physical_memory() -> float | None:
    """Total RAM of this machine in bytes (None where the system does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _existing_ancestor(path: Path) -> Path:
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def check_writable(path: str | os.PathLike, *, where: str | None = None) -> Path:
    """Check that ``path`` (a file or folder to be created or replaced) can be written: its
    nearest existing ancestor must be a folder in which a file can actually be created (a probe
    file is made and removed, so read-only mounts, ``/proc`` and permissions are all caught,
    even for root). Missing folders in between are fine (outputs create them).

    Returns that existing folder. Raises :class:`ConfigError` naming the folder otherwise.
    """
    path = Path(path)
    where = where or str(path)
    folder = _existing_ancestor(path.parent)
    if not folder.is_dir():
        raise ConfigError(f"cannot create the output: {folder} is a file, not a folder",
                          where=where, hint="choose another output path")
    try:
        fd, probe = tempfile.mkstemp(prefix=".geosr-write-check.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ConfigError(f"cannot write in the folder {folder} ({reason})", where=where,
                          hint="choose an output folder you can write to") from None
    return folder


def check_output_size(shape: Sequence[int], dtype: str | np.dtype, *, where: str,
                      in_memory: bool = True, folder: str | os.PathLike | None = None,
                      hint: str | None = None) -> int:
    """Refuse an output of ``shape`` × ``dtype`` that cannot be held: more bytes than the
    machine's RAM when it is built in memory (``in_memory``), or than the free space of
    ``folder`` (uncompressed size; float outputs compress little) when ``folder`` is given.

    Returns the size in bytes. Raises :class:`ConfigError` with the size, in one line.
    """
    itemsize = np.dtype(dtype).itemsize
    size = math.prod(int(n) for n in shape) * itemsize
    text = f"shape {'x'.join(str(int(n)) for n in shape)}, {np.dtype(dtype).name}"
    ram = physical_memory()
    if in_memory and ram is not None and size > ram:
        raise ConfigError(f"the output would be {format_bytes(size)} ({text}), more than this "
                          f"machine's memory ({format_bytes(ram)})", where=where,
                          hint=hint or "use a smaller scale or crop the input")
    if folder is not None:
        free = shutil.disk_usage(_existing_ancestor(Path(folder))).free
        if size > free:
            raise ConfigError(f"the output would be {format_bytes(size)} ({text}), more than "
                              f"the {format_bytes(free)} free on disk in {folder}",
                              where=where, hint=hint or "free space or write elsewhere")
    return size
