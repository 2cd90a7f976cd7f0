"""Training data: pairs, patches, normalisation, augmentation, splits by image."""

from geosr.data.normalize import PercentileNormalizer

__all__ = ["PercentileNormalizer"]
