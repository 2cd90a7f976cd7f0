"""Raw tomography projections in the Data Exchange HDF5 layout (APS, TomoPy, DXchange):
``exchange/data`` (angles, rows, columns), ``exchange/data_white`` and ``exchange/data_dark``
(frames, rows, columns), ``exchange/theta`` (angles, in degrees unless the file says
otherwise).

Needs ``h5py`` (the ``ct`` extra: ``pip install geosr[ct]``), imported when called.

>>> read_data_exchange("missing.h5")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from geosr.core.errors import DependencyError, InputError

__all__ = ["read_data_exchange"]

_FIELDS = {"data": "exchange/data", "flat": "exchange/data_white",
           "dark": "exchange/data_dark", "theta": "exchange/theta"}


def read_data_exchange(path: str | Path, rows: slice | None = None) -> dict[str, Any]:
    """Read projections, flat and dark frames and angles from a Data Exchange HDF5 file.

    ``rows``: the detector rows to read (default all). Returns ``{"data", "flat", "dark"}``
    as float64 arrays ``(frames, rows, columns)`` and ``"theta_deg"`` (angles in degrees; a
    file whose angles span at most 2π with a maximum below 7 is taken to be in radians and
    converted, recorded in ``"theta_unit_in_file"``).
    """
    try:
        import h5py
    except ImportError:
        raise DependencyError("reading Data Exchange HDF5 files needs h5py", where=str(path),
                              hint="pip install 'geosr[ct]' (or pip install h5py)") from None
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", where=str(path))
    rows = rows if rows is not None else slice(None)
    out: dict[str, Any] = {}
    with h5py.File(path, "r") as handle:
        for key, name in _FIELDS.items():
            if name not in handle:
                raise InputError(f"no dataset {name!r} (not a Data Exchange file?)",
                                 where=str(path))
            ds = handle[name]
            out[key] = (np.asarray(ds[...], dtype=np.float64) if key == "theta"
                        else np.asarray(ds[:, rows, :], dtype=np.float64))
    theta = out.pop("theta")
    radians = theta.size > 1 and float(np.max(np.abs(theta))) < 7.0
    out["theta_deg"] = np.rad2deg(theta) if radians else theta
    out["theta_unit_in_file"] = "radians" if radians else "degrees"
    return out
