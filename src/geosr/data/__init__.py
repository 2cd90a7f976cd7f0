"""Training data: pairs, patches, normalisation, augmentation, splits by image.

- Sources (:mod:`geosr.data.sources`): :class:`FolderPairs`, :class:`DegradedImages`,
  :class:`PhantomPairs` → :class:`DataSet` of normalised :class:`Pair` objects.
- :class:`PatchSampler` (foreground-biased patches), :class:`Augmenter` (flips/rot90, in-plane
  only for anisotropic 3D), :class:`PercentileNormalizer`.
- :func:`check_pair`, :func:`split_by_image`, :func:`field_boxes`, :func:`fingerprint_files`,
  :func:`fingerprint_recipe`, :func:`draw` (parameters from ranges).
"""

from __future__ import annotations

from geosr.core.lazy import lazy_exports


# name -> module; imported on first use so that importing one piece (e.g. the normaliser,
# needed to load a model) does not import the whole pipeline.
_EXPORTS = {
    "Augmenter": "geosr.data.augment",
    "apply_op": "geosr.data.augment",
    "file_sha256": "geosr.data.fingerprint",
    "fingerprint_files": "geosr.data.fingerprint",
    "fingerprint_recipe": "geosr.data.fingerprint",
    "PercentileNormalizer": "geosr.data.normalize",
    "Pair": "geosr.data.pairs",
    "channels_first": "geosr.data.pairs",
    "check_pair": "geosr.data.pairs",
    "make_pair": "geosr.data.pairs",
    "modcrop": "geosr.data.pairs",
    "draw": "geosr.data.ranges",
    "is_range": "geosr.data.ranges",
    "summarize": "geosr.data.ranges",
    "PatchSampler": "geosr.data.sampling",
    "foreground_map": "geosr.data.sampling",
    "window_fraction": "geosr.data.sampling",
    "crop_field": "geosr.data.files",
    "list_images": "geosr.data.files",
    "match_by_name": "geosr.data.files",
    "DataSet": "geosr.data.sources",
    "DataSource": "geosr.data.sources",
    "DegradedImages": "geosr.data.sources",
    "FolderPairs": "geosr.data.sources",
    "PhantomPairs": "geosr.data.sources",
    "DegradationRanges": "geosr.data.specs",
    "SplitConfig": "geosr.data.specs",
    "field_boxes": "geosr.data.split",
    "split_by_image": "geosr.data.split",
    "split_fields": "geosr.data.split",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
