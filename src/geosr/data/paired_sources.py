"""The paired training sources: three of them, each a validated (pydantic) recipe whose
:meth:`build` returns a :class:`DataSet` of normalised training and validation pairs.

- :class:`FolderPairs` (``source: folders``): LR and HR files in two folders matched by name
  (the file name without its image extension); every pair is checked (shape × scale, spacing ×
  scale within a relative tolerance) and all mismatches are reported at once, file by file.
- :class:`DegradedImages` (``source: degrade``): HR images only; each training image is degraded
  ``variants`` times by :func:`geosr.degrade.degrade` with parameters drawn from ranges (see
  :mod:`geosr.data.ranges`); each validation image once. Every draw is seeded from
  ``(seed, image, variant)`` and recorded.
- :class:`PhantomPairs` (``source: phantom``): HR phantoms generated from seeds (training and
  held-out validation seeds are disjoint), degraded like :class:`DegradedImages`.

Validation is held out by image (file, phantom seed) or by field of view
(:mod:`geosr.data.split`), never by patch. Every data set carries a fingerprint
(:mod:`geosr.data.fingerprint`): the file names and contents, or the phantom recipe, seeds and
the SHA-256 of the generated HR arrays.

Example
-------
>>> recipe = PhantomPairs(source="phantom", kind="dentin", size_um=12.8, spacing_um=0.1,
...                       train_seeds=2, val_seeds=[100], degradation={"fwhm_um": [0.3, 0.6]})
>>> data = recipe.build(scale=4, seed=0)  # doctest: +SKIP
>>> len(data.train), len(data.val), data.train[0].lr.shape  # doctest: +SKIP
(8, 1, (1, 32, 32))
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import numpy as np
from pydantic import Field, model_validator

from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image
from geosr.data.files import (array_digest, check_consistent, check_dims, crop_field,
                              list_images, match_by_name, progress)
from geosr.data.fingerprint import fingerprint_files, fingerprint_recipe
from geosr.data.normalize import PercentileNormalizer
from geosr.data.pairs import Pair, check_pair, make_pair, modcrop
from geosr.data.ranges import draw, summarize
from geosr.data.specs import DegradationRanges, SplitConfig, _Strict
from geosr.data.split import field_boxes, split_by_image, split_fields

__all__ = ["DataSet", "FolderPairs", "DegradedImages", "PhantomPairs"]


@dataclasses.dataclass
class DataSet:
    """Normalised training and validation pairs with their provenance.

    ``degradation`` describes how LR images were made (ranges, every draw, a summary) or that
    they are paired files; ``description`` lists the training and validation groups.
    """

    train: list[Pair]
    val: list[Pair]
    fingerprint: str
    dims: int
    channels: int
    degradation: dict[str, Any]
    description: dict[str, Any]

    def check_disjoint(self) -> None:
        """Raise if a validation group also appears in training (a leak)."""
        leak = {p.group for p in self.train} & {p.group for p in self.val}
        if leak:
            raise InputError(f"validation images also used for training: {sorted(leak)}",
                             where="data.split")


class _Degrading:
    """Shared by the sources that degrade HR images on the fly."""

    def _degrade_all(self, degradation: DegradationRanges, train: list[tuple[str, Image]],
                     val: list[tuple[str, Image]], *, scale: int, seed: int,
                     normalizer: PercentileNormalizer, target: str, show_progress: bool
                     ) -> tuple[list[Pair], list[Pair], dict[str, Any]]:
        from geosr.degrade.ct_degrade import degrade_any  # modality: image or ct

        spec = degradation.spec()
        jobs = [("train", i, name, hr, v) for i, (name, hr) in enumerate(train)
                for v in range(degradation.variants)]
        jobs += [("val", i, name, hr, 0) for i, (name, hr) in enumerate(val)]
        out: dict[str, list[Pair]] = {"train": [], "val": []}
        draws: dict[str, list[dict[str, Any]]] = {"train": [], "val": []}
        example = None
        shared: dict[tuple[str, int], tuple[np.ndarray, float, float]] = {}
        for split, i, name, hr, v in progress(jobs, "degrading", show_progress):
            gen = np.random.default_rng([int(seed), 2 if split == "train" else 3, i, v])
            params = draw(spec, gen)
            noise_seed = int(gen.integers(2 ** 31 - 1))
            try:
                lr = (measured_degrade(degradation.forward, hr, scale, noise_seed)
                      if degradation.forward is not None
                      else degrade_any(hr, scale=scale, seed=noise_seed, **params))
            except ConfigError as err:
                where = f"data.degradation.{err.where}" if err.where else "data.degradation"
                raise ConfigError(err.message, where=where, hint=err.hint) from None
            if example is None:
                example = lr.metadata.get("degradation")
            record = {"image": name, "variant": v, "seed": noise_seed, "params": params}
            draws[split].append(record)
            pair_name = name if split == "val" else f"{name}~v{v}"
            pair = make_pair(lr, hr, name=pair_name, group=name, normalizer=normalizer,
                             target=target, meta={"degradation": record},
                             hr_normalized=shared.get((split, i)))
            if target == "own":  # the variants of one image share its normalised HR array
                info_n = pair.meta["normalization"]
                shared[(split, i)] = (pair.hr, info_n["hr_lo"], info_n["hr_hi"])
            out[split].append(pair)
        info = {
            "mode": "on_the_fly", "ranges": spec, "variants": degradation.variants,
            "seeding": "numpy default_rng([seed, 2 (train) | 3 (val), image index, variant])",
            "summary": summarize(spec, [d["params"] for d in draws["train"]]),
            "val_summary": summarize(spec, [d["params"] for d in draws["val"]]),
            "train_draws": draws["train"], "val_draws": draws["val"],
            "example_record": example,
        }
        return out["train"], out["val"], info


def measured_degrade(forward: Path, hr: Image, scale: int, seed: int) -> Image:
    """``degradation: {forward: path}``: the measured forward model, whose scale must be the
    training scale."""
    from geosr.pairs.forward import degrade_with_forward

    lr = degrade_with_forward(hr, forward, seed=seed)
    factors = lr.metadata["degradation"]["scale"]
    if any(int(f) != int(scale) for f in factors):
        raise ConfigError(f"the forward model {forward} is for scale {factors}, the training "
                          f"scale is {scale}", where="forward")
    return lr


def _fields(items: list[tuple[str, Image]], split: SplitConfig, scale: int, seed: int
            ) -> tuple[list[tuple[str, Image]], list[tuple[str, Image]]]:
    train, val = [], []
    for name, image in items:
        boxes = field_boxes(image.spatial_shape, fields=split.fields, scale=scale)
        held = set(split_fields(len(boxes), fraction=split.fraction, seed=seed, key=name))
        for k, box in enumerate(boxes):
            (val if k in held else train).append((f"{name}#f{k}", crop_field(image, box)))
    return train, val


# ----------------------------------------------------------------------------- sources
class DataSource(_Strict):
    """Base of every ``data.source`` block: a strict pydantic model whose ``recipe()`` (the
    JSON the data fingerprint and ``model.json`` record) is its own dump, and whose
    ``build(*, scale, seed, dims, normalizer, target, show_progress)`` returns the training
    and validation data (a :class:`DataSet`, or the family's own set)."""

    def recipe(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class RegistrationOptions(_Strict):
    """How ``register: true`` registers raw pairs (see :func:`geosr.pairs.register_pair`)."""

    transform: Literal["translation", "rigid", "similarity"] = "translation"
    intensity: Literal["affine", "gamma"] = "affine"


class FolderPairs(DataSource):
    """LR and HR files in two folders, matched by name.

    ``modcrop``: crop trailing HR pixels when the HR size is LR × scale plus less than one
    block (otherwise a size mismatch is an error). ``spacing_tolerance``: relative tolerance of
    ``LR spacing = HR spacing × scale``. ``register: true``: the folders hold raw experimental
    pairs, registered first by :func:`geosr.pairs.folders.registered_folders` (once, cached by
    content hash; rejected pairs are left out) with ``registration: {transform, intensity}``.
    """

    source: Literal["folders"]
    lr: Path
    hr: Path
    split: SplitConfig = SplitConfig()
    modcrop: bool = False
    spacing_tolerance: Annotated[float, Field(ge=0, le=0.5)] = 1e-3
    #: raw experimental pairs: register them first (geosr.pairs; cached by content hash)
    register_pairs: bool = Field(False, alias="register")   # "register" would shadow a
    registration: RegistrationOptions = RegistrationOptions()  # BaseModel attribute

    def recipe(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def build(self, *, scale: int, seed: int = 0, dims: Optional[int] = None,
              normalizer: Optional[PercentileNormalizer] = None, target: str = "own",
              show_progress: bool = False) -> DataSet:
        from geosr.io import load

        normalizer = normalizer or PercentileNormalizer()
        lr_dir, hr_dir, registration = self.lr, self.hr, None
        if self.register_pairs:
            from geosr.pairs.folders import registered_folders

            lr_dir, hr_dir, registration = registered_folders(
                self.lr, self.hr, scale, show_progress=show_progress,
                **self.registration.model_dump())
        lr_files, hr_files = list_images(lr_dir, "data.lr"), list_images(hr_dir, "data.hr")
        names = match_by_name(lr_files, hr_files, lr_dir, hr_dir)
        problems: list[str] = []
        loaded: list[tuple[str, Image, Image]] = []
        for name in progress(names, "loading pairs", show_progress):
            lr, hr = load(lr_files[name]), load(hr_files[name])
            dims = check_dims(dims, hr, f"HR {hr_files[name].name}")
            if self.modcrop and all(h // scale == n for h, n in
                                    zip(hr.spatial_shape, lr.spatial_shape)):
                hr = modcrop(hr, scale)
            issues = check_pair(lr, hr, scale, tolerance=self.spacing_tolerance)
            if issues:
                problems.append(f"{name}: " + "; ".join(issues))
            loaded.append((name, lr.check_finite(str(lr_files[name])),
                           hr.check_finite(str(hr_files[name]))))
        check_consistent([(n, hr) for n, _, hr in loaded], f"data.hr: {self.hr}")
        if problems:
            shown = problems[:30] + ([f"... and {len(problems) - 30} more"]
                                     if len(problems) > 30 else [])
            raise InputError(f"{len(problems)} of {len(names)} LR/HR pair(s) do not match at "
                             f"scale {scale}:\n  "
                             + "\n  ".join(shown), where=f"data ({self.lr} vs {self.hr})",
                             hint="check the scale, crop HR (data.modcrop: true) or fix the "
                                  "spacing metadata")
        train_items, val_items = self._split(loaded, scale, seed)
        pairs = {"train": [], "val": []}
        for split, items in (("train", train_items), ("val", val_items)):
            for name, group, base, lr, hr in items:
                meta = {"lr_file": lr_files[base].name, "hr_file": hr_files[base].name}
                pairs[split].append(make_pair(lr, hr, name=name, group=group,
                                              normalizer=normalizer, target=target, meta=meta))
        fingerprint = fingerprint_files([(f"lr/{p.name}", p) for p in lr_files.values()]
                                        + [(f"hr/{p.name}", p) for p in hr_files.values()])
        records = {name: lr.metadata["degradation"] for name, lr, _ in loaded
                   if "degradation" in lr.metadata}
        degradation = {"mode": "paired_files", "records": records or None}
        if registration is not None:
            degradation["registration"] = {
                "folder": str(lr_dir.parent), "counts": registration["counts"],
                "rejected": {e["name"]: e["reason"] for e in registration["pairs"]
                             if e["verdict"] == "reject"}}
        ds = DataSet(pairs["train"], pairs["val"], fingerprint, loaded[0][2].dims,
                     loaded[0][2].channels, degradation,
                     {"source": "folders", "train": sorted({p.group for p in pairs["train"]}),
                      "val": sorted({p.group for p in pairs["val"]}), "split": self.split.by})
        ds.check_disjoint()
        return ds

    def _split(self, loaded, scale, seed):
        if self.split.by == "image":
            train_n, val_n = split_by_image([n for n, _, _ in loaded],
                                            fraction=self.split.fraction,
                                            val_names=self.split.names, seed=seed)
            by_name = {n: (lr, hr) for n, lr, hr in loaded}
            return ([(n, n, n, *by_name[n]) for n in train_n],
                    [(n, n, n, *by_name[n]) for n in val_n])
        train, val = [], []
        for name, lr, hr in loaded:
            boxes = field_boxes(hr.spatial_shape, fields=self.split.fields, scale=scale)
            held = set(split_fields(len(boxes), fraction=self.split.fraction, seed=seed,
                                    key=name))
            for k, box in enumerate(boxes):
                lr_box = tuple((a // scale, b // scale) for a, b in box)
                item = (f"{name}#f{k}", f"{name}#f{k}", name, crop_field(lr, lr_box),
                        crop_field(hr, box))
                (val if k in held else train).append(item)
        return train, val


class DegradedImages(DataSource, _Degrading):
    """HR images (a folder, or one file with ``split.by: field``) degraded on the fly."""

    source: Literal["degrade"]
    hr: Path
    degradation: DegradationRanges = DegradationRanges()
    split: SplitConfig = SplitConfig()

    def build(self, *, scale: int, seed: int = 0, dims: Optional[int] = None,
              normalizer: Optional[PercentileNormalizer] = None, target: str = "own",
              show_progress: bool = False) -> DataSet:
        from geosr.io import load

        normalizer = normalizer or PercentileNormalizer()
        if self.hr.is_file() or self.hr.name.lower().endswith(".zarr"):
            files = {self.hr.name.split(".")[0]: self.hr}
        else:
            files = list_images(self.hr, "data.hr")
        items = []
        for name, path in files.items():
            image = load(path).check_finite(str(path))
            dims = check_dims(dims, image, f"HR {path.name}")
            items.append((name, modcrop(image, scale)))
        check_consistent(items, f"data.hr: {self.hr}")
        if self.split.by == "image":
            train_n, val_n = split_by_image(list(files), fraction=self.split.fraction,
                                            val_names=self.split.names, seed=seed)
            by_name = dict(items)
            train = [(n, by_name[n]) for n in train_n]
            val = [(n, by_name[n]) for n in val_n]
        else:
            train, val = _fields(items, self.split, scale, seed)
        train_p, val_p, info = self._degrade_all(
            self.degradation, train, val, scale=scale, seed=seed, normalizer=normalizer,
            target=target, show_progress=show_progress)
        fingerprint = fingerprint_files([(f"hr/{p.name}", p) for p in files.values()],
                                        extra={"degradation": self.degradation.model_dump(
                                            mode="json"), "seed": seed, "scale": scale})
        ds = DataSet(train_p, val_p, fingerprint, items[0][1].dims, items[0][1].channels,
                     info, {"source": "degrade", "train": [n for n, _ in train],
                            "val": [n for n, _ in val], "split": self.split.by})
        ds.check_disjoint()
        return ds


def _seed_list(value: Union[int, list[int]], start: int) -> list[int]:
    return list(range(start, start + value)) if isinstance(value, int) else list(value)


class PhantomPairs(DataSource, _Degrading):
    """Phantoms generated on the fly (:func:`geosr.phantoms.phantom`) and degraded.

    ``train_seeds``/``val_seeds``: explicit seed lists, or counts (seeds ``0..n−1`` for
    training, ``10000..10000+m−1`` for validation); the two sets must be disjoint.
    ``size_um``/``spacing_um``: field of view and HR pixel size in µm (None: the phantom's
    defaults). ``params``: extra keyword parameters of the phantom.
    """

    source: Literal["phantom"]
    kind: Literal["dentin", "lcn", "cortical", "porous"] = "dentin"
    dims: Literal[2, 3] = 2
    size_um: Optional[Union[Annotated[float, Field(gt=0)], list[Annotated[float, Field(gt=0)]]]] = None
    spacing_um: Optional[Union[Annotated[float, Field(gt=0)], list[Annotated[float, Field(gt=0)]]]] = None
    bright: bool = True
    params: dict[str, Any] = {}
    train_seeds: Union[Annotated[int, Field(ge=1)], list[int]] = 4
    val_seeds: Union[Annotated[int, Field(ge=1)], list[int]] = 1
    degradation: DegradationRanges = DegradationRanges()

    @model_validator(mode="after")
    def _check(self) -> "PhantomPairs":
        train, val = self.seeds()
        if not train or not val:
            raise ValueError("val_seeds: train_seeds and val_seeds must not be empty")
        common = sorted(set(train) & set(val))
        if common:
            raise ValueError(f"val_seeds: seeds {common} are also in train_seeds (a "
                             "validation phantom must never be trained on)")
        if len(set(train)) != len(train) or len(set(val)) != len(val):
            raise ValueError("train_seeds: seeds repeat within train_seeds or val_seeds")
        for name in ("size_um", "spacing_um"):
            value = getattr(self, name)
            if isinstance(value, list) and len(value) != self.dims:
                raise ValueError(f"{name}: {len(value)} entries for dims = {self.dims}")
        return self

    def seeds(self) -> tuple[list[int], list[int]]:
        return _seed_list(self.train_seeds, 0), _seed_list(self.val_seeds, 10000)

    def build(self, *, scale: int, seed: int = 0, dims: Optional[int] = None,
              normalizer: Optional[PercentileNormalizer] = None, target: str = "own",
              show_progress: bool = False) -> DataSet:
        from geosr.phantoms import phantom

        if dims is not None and dims != self.dims:
            raise ConfigError(f"the config says dims = {dims} but data.dims = {self.dims}",
                              where="dims", hint="make them agree (or drop the top-level dims)")
        normalizer = normalizer or PercentileNormalizer()
        train_seeds, val_seeds = self.seeds()

        def size(value):
            return tuple(value) if isinstance(value, list) else value

        generated: dict[str, list[tuple[str, Image]]] = {"train": [], "val": []}
        jobs = [("train", s) for s in train_seeds] + [("val", s) for s in val_seeds]
        for split, s in progress(jobs, f"{self.kind} phantoms", show_progress):
            result = phantom(self.kind, dims=self.dims, size_um=size(self.size_um),
                             spacing_um=size(self.spacing_um), seed=s, bright=self.bright,
                             **self.params)
            generated[split].append((f"{self.kind}-seed{s}", modcrop(result.image, scale)))
        train_p, val_p, info = self._degrade_all(
            self.degradation, generated["train"], generated["val"], scale=scale, seed=seed,
            normalizer=normalizer, target=target, show_progress=show_progress)
        fingerprint = fingerprint_recipe({
            "recipe": self.recipe(), "train_seeds": train_seeds, "val_seeds": val_seeds,
            "seed": seed, "scale": scale,
            "hr_sha256": array_digest(generated["train"] + generated["val"])})
        first = generated["train"][0][1]
        ds = DataSet(train_p, val_p, fingerprint, first.dims, first.channels, info,
                     {"source": "phantom", "kind": self.kind,
                      "train": [n for n, _ in generated["train"]],
                      "val": [n for n, _ in generated["val"]], "split": "seed",
                      "hr_shape": list(first.shape), "hr_spacing_um": list(first.spacing_um)})
        ds.check_disjoint()
        return ds
