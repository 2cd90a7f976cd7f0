"""napari plugin of geosr (``pip install 'geosr[napari]'`` plus a Qt binding): a thin adapter
over the public API, with no logic of its own.

- reader: every format :func:`geosr.load` reads; layers get the pixel size (``scale``) and the
  position of the first pixel centre (``translate``) in µm;
- writer: image layers to OME-TIFF or OME-Zarr with :func:`geosr.save` (pixel size kept);
- sample data: phantoms with their low-resolution version and truth mask;
- dock widgets *Predict*, *Trust*, *Assess* (:mod:`geosr.napari._widgets`).

Layer ↔ image conversion lives in :mod:`geosr.napari._layers`. The manifest is ``napari.yaml``
(entry point ``napari.manifest`` in pyproject). Importing this package imports neither napari
nor Qt.
"""

from __future__ import annotations

__all__: list[str] = []
