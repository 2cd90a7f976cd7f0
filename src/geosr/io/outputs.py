"""Check an output image path before any work: a format geosr writes (by extension), not a
folder where a file is expected, and a folder the user can write in.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> check_output(d / "sr" / "out.ome.zarr")
'.zarr'
>>> check_output(d / "out.jpg")                                 # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geosr.core.errors.ConfigError: .../out.jpg: geosr cannot write '.jpg' files; ...
"""

from __future__ import annotations

import os
from pathlib import Path

from geosr.core.errors import ConfigError, InputError
from geosr.core.outputs import check_writable
from geosr.io.api import _format_of, supported_formats

__all__ = ["check_output"]


def check_output(path: str | os.PathLike, *, where: str | None = None) -> str:
    """Raise :class:`ConfigError` unless an image can be saved at ``path`` by
    :func:`geosr.io.save`; return its format's extension (``".tif"``, ``".zarr"``, …).

    Checked: the extension names a format geosr writes; a file format does not point at an
    existing folder; the nearest existing folder above ``path`` accepts new files.
    """
    path = Path(path)
    where = where or str(path)
    try:
        ext, fmt = _format_of(path)
    except InputError:
        suffix = "".join(path.suffixes) or "(no extension)"
        raise ConfigError(f"geosr cannot write {suffix!r} files", where=where,
                          hint="use one of " + ", ".join(supported_formats())) from None
    if not fmt.folder and path.is_dir():
        raise ConfigError("a folder exists where the output file should be written",
                          where=where, hint="choose another name or remove the folder")
    check_writable(path, where=where)
    return ext
