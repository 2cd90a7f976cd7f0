"""Reading and writing images with their physical metadata, one ``load``/``save`` pair for
TIFF (plain, ImageJ, OME), PNG, NPY, NRRD and Zarr v3 (OME-NGFF 0.5).

>>> from geosr.io import supported_formats
>>> ".zarr" in supported_formats()
True

See :mod:`geosr.io.api` for the rules, and one module per format (:mod:`~geosr.io.tiff`,
:mod:`~geosr.io.png`, :mod:`~geosr.io.npy`, :mod:`~geosr.io.nrrd_file`,
:mod:`~geosr.io.zarr_store`) for what each format keeps.
"""

from geosr.io.api import load, register_format, save, supported_formats
from geosr.io.files import image_files, images_by_name, pair_by_name, stem

__all__ = ["load", "save", "supported_formats", "register_format", "image_files",
           "images_by_name", "pair_by_name", "stem"]
