"""Training logs: a CSV file (always flushed, truncated to the checkpoint on resume) and
optional TensorBoard scalars.

CSV columns: ``step, loss, lr, val_loss, val_psnr_norm_db, seconds`` — ``loss`` is the mean
training loss since the previous row, ``val_*`` are empty except after a validation, and
``val_psnr_norm_db`` is the mean PSNR over the validation images in dB on percentile-normalised
intensities with data range 1 (no clipping, no border crop). ``seconds``: wall time since the
start of training (across resumes).

Example
-------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
>>> log = CsvLog(path)
>>> log.write({"step": 10, "loss": 0.5, "lr": 1e-3, "seconds": 1.25})
>>> log.close(); print(path.read_text().splitlines()[1])
10,0.5,0.001,,,1.25
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from geosr.core.errors import DependencyError

__all__ = ["CsvLog", "TensorBoardLog", "COLUMNS", "read_log"]

COLUMNS = ("step", "loss", "lr", "val_loss", "val_psnr_norm_db", "seconds")


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.9g}"
    return str(value)


class CsvLog:
    """Append rows to a CSV log. With ``resume_step`` the existing file keeps only the rows
    with ``step <= resume_step`` (rows written after the checkpoint are redone)."""

    def __init__(self, path: str | Path, resume_step: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[str] = []
        if resume_step is not None and self.path.is_file():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            for line in lines[1:]:  # complete rows up to the checkpoint
                cells = line.split(",")
                if len(cells) == len(COLUMNS) and cells[0].isdigit() and \
                        int(cells[0]) <= resume_step:
                    kept.append(line)
        self._fh = open(self.path, "w", encoding="utf-8", newline="")
        self._fh.write(",".join(COLUMNS) + "\n")
        for line in kept:
            self._fh.write(line + "\n")
        self._fh.flush()

    def write(self, row: dict[str, Any]) -> None:
        self._fh.write(",".join(_fmt(row.get(c)) for c in COLUMNS) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def read_log(path: str | Path) -> list[dict[str, float | None]]:
    """The rows of a CSV log as dictionaries of floats (None for empty cells)."""
    with open(path, encoding="utf-8", newline="") as fh:
        return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()}
                for row in csv.DictReader(fh)]


class TensorBoardLog:
    """Scalars to TensorBoard (needs the optional ``tensorboard`` package)."""

    def __init__(self, folder: str | Path, purge_step: int | None = None):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise DependencyError("TensorBoard logging needs the 'tensorboard' package",
                                  where="logging.tensorboard",
                                  hint="pip install tensorboard, or set logging.tensorboard: "
                                       "false") from None
        self.writer = SummaryWriter(str(folder), purge_step=purge_step)

    def write(self, row: dict[str, Any]) -> None:
        step = int(row["step"])
        for key in COLUMNS[1:]:
            if row.get(key) is not None:
                self.writer.add_scalar(key, float(row[key]), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
