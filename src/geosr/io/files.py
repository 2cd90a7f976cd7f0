"""The image files of a folder, and matching two folders by image name — written once for every
stage (data sources, batch prediction, evaluation, calibration, the CLI).

An *image file* is a file (or ``.zarr`` folder) whose name ends with an extension of
:func:`geosr.io.supported_formats` (case-insensitive) and does not start with a dot. Its *stem*
is the name without that extension — the longest one that matches, so ``a.ome.tif`` has stem
``a`` and ``b.tif.png`` has stem ``b.tif``.

Example
-------
>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> for name in ("b.tif", "a.ome.tif", ".hidden.tif", "notes.txt"):
...     _ = (d / name).write_bytes(b"")
>>> [p.name for p in image_files(d)], stem(d / "a.ome.tif")
(['a.ome.tif', 'b.tif'], 'a')
>>> sorted(images_by_name(d))
['a', 'b']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from geosr.core.errors import InputError
from geosr.io.api import supported_formats

__all__ = ["image_extensions", "is_image_file", "stem", "image_files", "images_by_name",
           "pair_by_name"]


def image_extensions() -> list[str]:
    """The extensions geosr reads, longest first (so ``.ome.tif`` is tried before ``.tif``)."""
    return sorted((e.lower() for e in supported_formats()), key=len, reverse=True)


def _extension(name: str) -> str | None:
    lower = name.lower()
    return next((e for e in image_extensions() if lower.endswith(e)), None)


def is_image_file(path: str | os.PathLike) -> bool:
    """Whether ``path``'s name is a supported image name (not hidden)."""
    name = Path(path).name
    return not name.startswith(".") and _extension(name) is not None


def stem(path: str | os.PathLike) -> str:
    """The file name without its image extension (``Path.stem`` for an unknown extension).

    >>> stem("run/sample_07.ome.tif"), stem("x/Y.TIF"), stem("notes.txt")
    ('sample_07', 'Y', 'notes')
    """
    path = Path(path)
    ext = _extension(path.name)
    return path.name[: len(path.name) - len(ext)] if ext else path.stem


def _folder_where(folder: Path, label: str | None) -> str:
    return f"{label}: {folder}" if label else str(folder)


def image_files(folder: str | os.PathLike, *, label: str | None = None) -> list[Path]:
    """The image files of ``folder``, sorted by name (not recursive).

    ``label`` names the argument or config field that gave the folder (``"data.hr"``); errors
    then read ``data.hr: /path: …``.

    Raises
    ------
    InputError
        The folder does not exist, or holds no supported image file (the supported extensions
        are listed).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("folder not found", where=_folder_where(folder, label))
    files = sorted(p for p in folder.iterdir() if is_image_file(p))
    if not files:
        raise InputError("no supported image files in this folder",
                         where=_folder_where(folder, label),
                         hint="supported: " + ", ".join(supported_formats()))
    return files


def images_by_name(folder: str | os.PathLike, *, label: str | None = None) -> dict[str, Path]:
    """:func:`image_files` keyed by :func:`stem`; :class:`InputError` if two files share a stem
    (``a.tif`` and ``a.png``)."""
    found: dict[str, Path] = {}
    for path in image_files(folder, label=label):
        key = stem(path)
        if key in found:
            raise InputError(f"two files share the name {key!r}: {found[key].name}, {path.name}",
                             where=str(folder), hint="keep one file per image name")
        found[key] = path
    return found


def pair_by_name(first: Mapping[str, Path], second: Mapping[str, Path], *,
                 labels: tuple[str, str] = ("LR", "HR"),
                 folders: tuple[object, object] | None = None, where: str = "data"
                 ) -> list[tuple[str, Path, Path]]:
    """``[(name, first[name], second[name]), ...]`` sorted by name, for two
    :func:`images_by_name` mappings that must hold the same names.

    Raises
    ------
    InputError
        Some names are in only one mapping: up to 20 of each side are listed, with the folder
        (``folders``) and the side's label (``labels``).

    >>> pair_by_name({"a": Path("lr/a.tif")}, {"a": Path("hr/a.png")})
    [('a', PosixPath('lr/a.tif'), PosixPath('hr/a.png'))]
    """
    only = (sorted(set(first) - set(second)), sorted(set(second) - set(first)))
    if only[0] or only[1]:
        parts = []
        for names, label, folder in zip(only, labels, folders or ("", "")):
            if names:
                parts.append(f"only in {label} {folder}".rstrip() + ": " + ", ".join(names[:20])
                             + (" ..." if len(names) > 20 else ""))
        raise InputError(f"{labels[0]} and {labels[1]} files do not match by name ("
                         + "; ".join(parts) + ")", where=where,
                         hint=f"name each {labels[0]} file like its {labels[1]} file")
    return [(name, first[name], second[name]) for name in sorted(first)]
