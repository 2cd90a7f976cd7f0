"""Atomic file writing and JSON helpers.

Outputs are written to a temporary name in the destination folder and renamed into place only
when complete, so a crash or an error never leaves a partial file under the final name.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_path(d / "out.txt") as tmp:
...     _ = tmp.write_text("done")
>>> (d / "out.txt").read_text()
'done'
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

__all__ = ["atomic_path", "write_json", "read_json", "to_jsonable", "current_umask"]


def current_umask() -> int:
    """The process's umask (e.g. ``0o022``), read without changing it where the system allows
    (``/proc/self/status`` on Linux), else by setting and restoring it.

    >>> 0 <= current_umask() <= 0o777
    True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds,
    delete it otherwise. With ``is_dir=True`` the temporary path is a fresh folder (for formats
    such as Zarr that are folders); an existing folder at ``path`` is replaced. The result gets
    the mode an ordinary ``open``/``mkdir`` would give under the user's umask (0644/0755 under
    umask 022), not the private 0600/0700 of :mod:`tempfile`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        os.chmod(tmp, 0o777 & ~current_umask())   # mkdtemp gives 0700 whatever the umask
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}",
                                    dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        os.chmod(tmp, 0o666 & ~current_umask())   # mkstemp gives 0600 whatever the umask
    try:
        yield tmp
        if is_dir and path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and paths to plain JSON types, recursively."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically. Returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    return path


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, raising :class:`geosr.core.errors.InputError` if it is missing or
    malformed."""
    from geosr.core.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", where=str(path))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not valid JSON ({err})", where=str(path)) from None
