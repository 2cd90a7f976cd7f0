"""What one image's report shows, gathered once: the images (LR, interpolation, prediction,
truth), the image-quality numbers, the network metrics, the trust evidence, the model and the
provenance. Each part is read from the outputs of ``geosr evaluate`` / ``assess`` / ``trust``
when given (or, for trust, found beside the prediction), else computed with the same public
functions (unless ``compute=False``; :mod:`geosr.report.build`), and records where it came
from.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import Image, as_image

__all__ = ["Case", "IQA", "Network", "Evidence", "ModelInfo", "load_image", "fingerprint",
           "read_csv_rows", "csv_rows", "stem"]


@dataclasses.dataclass
class IQA:
    """Image-quality numbers per output label (``prediction``, ``interpolation``, ...)."""

    metrics: list[str]
    units: dict[str, str]
    values: dict[str, dict[str, float]]
    convention: dict[str, Any]
    source: str


@dataclasses.dataclass
class Network:
    """Network-metric rows per output label (rows as :mod:`geosr.assess.network.result`),
    the shared segmentation, and the missed/invented overlays (RGB, on the truth's grid)."""

    rows: dict[str, list[dict[str, Any]]]
    segmentation: dict[str, Any]
    overlays: dict[str, np.ndarray]
    notes: list[str]
    source: str


@dataclasses.dataclass
class Evidence:
    """Trust evidence: ``trust.json``'s summary, the maps (loaded on demand from ``folder``
    or given), and the per-element confidence rows when ``elements.csv`` exists."""

    summary: dict[str, Any]
    folder: Path | None = None
    maps: dict[str, Image] = dataclasses.field(default_factory=dict)
    elements: list[dict[str, str]] = dataclasses.field(default_factory=list)
    source: str = ""
    #: where the reader finds the maps (shown in the page); default ``folder``
    where: str = ""

    def map(self, name: str) -> Image | None:
        if name not in self.maps and self.folder is not None and \
                (self.folder / f"{name}.tif").is_file():
            from geosr.io import load

            self.maps[name] = load(self.folder / f"{name}.tif")
        return self.maps.get(name)


@dataclasses.dataclass
class ModelInfo:
    """The model that made the prediction: its identity and its run folder (training config,
    ``log.csv``) when the model folder sits in one."""

    path: Path | None
    sha256: str
    architecture: str
    scale: list[int]
    spec: dict[str, Any]
    run_dir: Path | None = None
    #: the :class:`~geosr.models.files.LoadedModel` (for trust evidence computed here)
    loaded: Any = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass
class Case:
    """Everything one image's report shows."""

    name: str
    prediction: Image
    lr: Image | None = None
    truth: Image | None = None
    interpolation: Image | None = None
    evaluation: IQA | None = None
    network: Network | None = None
    trust: Evidence | None = None
    model: ModelInfo | None = None
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    fingerprints: dict[str, str] = dataclasses.field(default_factory=dict)
    commands: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    #: shown instead of the model's path in the page (e.g. a path relative to the report)
    model_shown: str = ""

    def outputs(self) -> dict[str, Image]:
        """The super-resolved images compared with the truth: the prediction first."""
        out = {"prediction": self.prediction}
        if self.interpolation is not None:
            out["interpolation"] = self.interpolation
        return out

    def label(self, key: str) -> str:
        return self.labels.get(key, key)


def load_image(item: Any, where: str) -> Image:
    """An Image from a path (clear error when missing), an Image or an array."""
    if isinstance(item, (str, os.PathLike)):
        from geosr.io import load

        if not Path(item).exists():
            raise InputError(f"{where} not found", where=str(item))
        return load(item)
    return as_image(item, where)


def fingerprint(item: Any, image: Image) -> str:
    """SHA-256 of a file's bytes, or of an in-memory array's bytes."""
    h = hashlib.sha256()
    if isinstance(item, (str, os.PathLike)) and Path(item).is_file():
        with open(item, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return "file sha256 " + h.hexdigest()
    h.update(np.ascontiguousarray(image.numpy()).tobytes())
    return "array sha256 " + h.hexdigest()


def stem(path: Any) -> str:
    """A file's name without its image extension (``a.ome.tif`` → ``a``)."""
    from geosr.assess.evaluation import _stem as image_stem

    return image_stem(Path(path))


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file (``#`` comment lines skipped) as dictionaries of strings."""
    return csv_rows(Path(path).read_text(encoding="utf-8"))


def csv_rows(text: str) -> list[dict[str, str]]:
    r"""Rows of CSV text (``#`` comment lines skipped) as dictionaries of strings.

    >>> csv_rows("# note\nid,kind\n1,branch\n")
    [{'id': '1', 'kind': 'branch'}]
    """
    return list(csv.DictReader([line for line in text.splitlines() if not line.startswith("#")]))
