"""Fingerprints of training data: SHA-256 digests stored with a model so that two models can be
told apart by what they were trained on.

- :func:`fingerprint_files`: over the sorted relative names and the SHA-256 of each file's bytes
  (renaming or editing any file changes it; the folder's location does not).
- :func:`fingerprint_recipe`: over a canonical JSON of a recipe (phantom kind, size, spacing,
  parameters, seeds, degradation ranges...) — for data generated on the fly.

Both return ``"sha256:<64 hex digits>"``.

Example
-------
>>> fingerprint_recipe({"kind": "dentin", "seeds": [0, 1]}) == \\
...     fingerprint_recipe({"seeds": [0, 1], "kind": "dentin"})
True
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from geosr.core.files import to_jsonable

__all__ = ["file_sha256", "fingerprint_files", "fingerprint_recipe"]


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The SHA-256 (hex) of a file's bytes; a folder (Zarr) hashes its files recursively."""
    path = Path(path)
    h = hashlib.sha256()
    if path.is_dir():
        for sub in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(sub.relative_to(path).as_posix().encode("utf-8") + b"\0")
            h.update(file_sha256(sub).encode("ascii"))
        return h.hexdigest()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def fingerprint_files(files: Iterable[tuple[str, str | os.PathLike]],
                      extra: Mapping[str, Any] | None = None) -> str:
    """Digest of ``(label, path)`` pairs — sorted by label — and their contents, plus an
    optional JSON ``extra`` (e.g. the degradation ranges applied on the fly)."""
    h = hashlib.sha256()
    for label, path in sorted((str(label), path) for label, path in files):
        h.update(label.encode("utf-8") + b"\0" + file_sha256(path).encode("ascii") + b"\n")
    if extra is not None:
        h.update(_canonical(extra))
    return "sha256:" + h.hexdigest()


def fingerprint_recipe(recipe: Mapping[str, Any]) -> str:
    """Digest of a canonical JSON (sorted keys, no spaces) of ``recipe``."""
    return "sha256:" + hashlib.sha256(_canonical(recipe)).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode("utf-8")
