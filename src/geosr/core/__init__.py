"""Core types and helpers shared by every stage: the image type, errors, seeding, atomic files.

No torch import here."""

from geosr.core.errors import ConfigError, DependencyError, GeosrError, InputError
from geosr.core.files import atomic_path, read_json, to_jsonable, write_json
from geosr.core.image import VALID_AXES, Image, as_image, default_axes, normalize_unit
from geosr.core.seeding import rng, seed_everything

__all__ = [
    "GeosrError", "InputError", "ConfigError", "DependencyError",
    "Image", "VALID_AXES", "as_image", "default_axes", "normalize_unit",
    "atomic_path", "write_json", "read_json", "to_jsonable",
    "rng", "seed_everything",
]
