"""The training configuration: pydantic models, loadable from YAML, validated across fields.

Sections (every one has defaults except ``data``)::

    version: 1
    algorithm: supervised        # pix2pix | cyclegan | zssr | isotropic (geosr.train.TRAINERS)
    seed: 0                      # every random stream derives from it
    scale: 4                     # integer SR factor (2..16)
    dims: null                   # 2 or 3; null = from the data
    data: {source: phantom | degrade | folders, ...}     # see geosr.data.sources
    model: {name: fsrcnn, arguments: {}}                 # geosr.models.available_models()
    loss: l1                     # or [{name: l1, weight: 1}, {name: ssim, weight: 0.2}]
                                 # or {l1: 1.0, cldice: {weight: 0.2, warmup: 200}}
    patch: {size: 64, foreground_bias: 0.8, foreground_percentile: 95}   # HR pixels
    augment: {flips: true, rot90: true, in_plane_only: null}
    normalization: {p_low: 1.0, p_high: 99.8, target: input}
    train: {steps: 2000, batch_size: 16, lr: 1.0e-3, schedule: cosine, checkpoint_every: 100,
            device: auto, threads: null, ...}
    validation: {every: 100, metric: psnr, patience: 10, max_size: null, keep: best}
    logging: {every: 10, csv: true, tensorboard: false, progress: true}
    out: runs/train              # output folder (CLI --out overrides)

Paths: ``data.lr``/``data.hr`` are relative to the config file's folder; ``out`` is relative to
the working directory.

A wrong field name, value or combination raises :class:`geosr.core.ConfigError` naming the file
and the field path, and the allowed values or fields, e.g.
``cfg.yaml: train.lr: Input should be greater than 0 (got -1)``.

Example
-------
>>> cfg = TrainConfig.model_validate({"data": {"source": "phantom"}, "scale": 4})
>>> cfg.patch.size, cfg.model.name, cfg.train.schedule
(64, 'fsrcnn', 'cosine')
>>> try:
...     parse_config({"data": {"source": "phantom"}, "train": {"schedule": "linear"}})
... except ConfigError as err:
...     print(err)
config: train.schedule: Input should be 'cosine', 'step' or 'constant' (got 'linear')
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Optional, Union

import yaml
from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from geosr.core.config import StrictModel
from geosr.core.errors import ConfigError, InputError
from geosr.core.per_axis import per_axis
from geosr.data.sources import DataSource, PhantomPairs
from geosr.train.config_families import (AdversarialConfig, CycleGANConfig,
                                         IsotropicConfig, ZSSRConfig)
from geosr.train.config_errors import error_from_validation
from geosr.train.trainers import BUILTIN_TRAINERS

__all__ = ["TrainConfig", "ModelConfig", "LossTerm", "PatchConfig", "AugmentConfig",
           "NormalizationConfig", "OptimConfig", "ValidationConfig", "LoggingConfig",
           "load_config", "parse_config"]


_Strict = StrictModel   # the one definition: geosr.core.config


class ModelConfig(_Strict):
    """The architecture (``geosr.models.available_models()``) and its arguments.

    ``fsrcnn`` without arguments is the default light model: ``preset: fast`` over bicubic
    interpolation (``residual_over: bicubic``, the fsrcnn default; issue #18). Any argument
    given keeps the builder's defaults (``preset: paper``); ``{residual_over: none}`` alone is
    the default model before it (paper preset, transposed-convolution tail, no residual)."""

    name: str = "fsrcnn"
    arguments: dict[str, Any] = {}

    @model_validator(mode="after")
    def _default_model(self) -> "ModelConfig":
        if self.name == "fsrcnn" and not self.arguments:
            object.__setattr__(self, "arguments", {"preset": "fast"})
        return self

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        from geosr.models import available_models

        allowed = available_models()
        if value not in allowed:
            raise ValueError(f"unknown model {value!r}; allowed: {', '.join(allowed)}")
        return value


class LossTerm(_Strict):
    """One term of a weighted loss sum. ``start``/``warmup``: training steps with weight 0,
    then steps over which the weight ramps linearly from 0 to ``weight`` (0, 0: always full)."""

    name: str
    weight: Annotated[float, Field(ge=0)] = 1.0
    arguments: dict[str, Any] = {}
    start: Annotated[int, Field(ge=0)] = 0
    warmup: Annotated[int, Field(ge=0)] = 0

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        return _check_loss_name(value)


def _check_loss_name(value: str) -> str:
    from geosr.losses import available_losses

    allowed = available_losses()
    if value.lower() not in allowed:
        raise ValueError(f"unknown loss {value!r}; allowed: {', '.join(allowed)}")
    return value.lower()


class PatchConfig(_Strict):
    """Training patches. ``size``: HR pixels, one for every axis or one per spatial axis,
    divisible by the scale. ``foreground_bias``: probability (0..1) of drawing a patch by its
    foreground fraction rather than uniformly. ``foreground_percentile``: percentile of the
    deviation-from-median map above which a pixel is foreground."""

    size: Union[Annotated[int, Field(ge=2)], list[Annotated[int, Field(ge=2)]]] = 64
    foreground_bias: Annotated[float, Field(ge=0, le=1)] = 0.8
    foreground_percentile: Annotated[float, Field(gt=0, lt=100)] = 95.0

    def per_axis(self, dims: int) -> tuple[int, ...]:
        """``size`` per spatial axis (HR pixels)."""
        return per_axis(self.size, dims, where="patch.size", kind=int, minimum=2)


class AugmentConfig(_Strict):
    """Flips and 90° rotations; ``in_plane_only``: null = automatic (anisotropic 3D → YX only)."""

    flips: bool = True
    rot90: bool = True
    in_plane_only: Optional[bool] = None


class NormalizationConfig(_Strict):
    """Percentile normalisation (stored in the model file). ``target``: ``input`` (default: HR
    mapped with the LR image's lo/hi, so that prediction, which undoes the normalisation with the
    input's lo/hi, returns intensities in the input's units) or ``own`` (HR mapped by its own
    percentiles, the CSBDeep convention: outputs are then only defined up to an affine map)."""

    p_low: Annotated[float, Field(ge=0, lt=100)] = 1.0
    p_high: Annotated[float, Field(gt=0, le=100)] = 99.8
    target: Literal["own", "input"] = "input"

    @model_validator(mode="after")
    def _order(self) -> "NormalizationConfig":
        if self.p_low >= self.p_high:
            raise ValueError(f"p_low: {self.p_low} must be below p_high ({self.p_high})")
        return self


class OptimConfig(_Strict):
    """Optimisation: Adam, a learning-rate schedule, checkpoints, device and threads.

    ``schedule``: ``cosine`` (from ``lr`` to ``min_lr`` over ``steps``), ``step`` (× ``gamma``
    every ``step_size`` steps) or ``constant``. ``checkpoint_every``: steps between resumable
    checkpoints. ``threads``: torch CPU threads (null: torch's default; fix it for bit-identical
    reruns on another machine). ``deterministic``: ``torch.use_deterministic_algorithms``.
    """

    steps: Annotated[int, Field(ge=1)] = 2000
    batch_size: Annotated[int, Field(ge=1)] = 16
    lr: Annotated[float, Field(gt=0)] = 1e-3
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] = (0.9, 0.999)
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    min_lr: Annotated[float, Field(ge=0)] = 0.0
    step_size: Annotated[int, Field(ge=1)] = 1000
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.5
    grad_clip: Optional[Annotated[float, Field(gt=0)]] = None
    checkpoint_every: Annotated[int, Field(ge=1)] = 100
    keep_checkpoints: Annotated[int, Field(ge=1)] = 1
    device: str = "auto"
    threads: Optional[Annotated[int, Field(ge=1)]] = None
    deterministic: bool = True

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
            raise ValueError(f"Input should be 'auto', 'cpu', 'cuda' or 'cuda:N', got {value!r}")
        return value


class ValidationConfig(_Strict):
    """Validation on the held-out images every ``every`` steps (and at step 0).

    ``metric``: ``psnr`` (dB on normalised images, data range 1; higher is better) or ``loss``
    (the training loss; lower is better), or a network metric on the prediction and the target
    thresholded at 0.5 (normalised units): ``cldice`` (higher is better) or ``betti_error``
    (|Δβ0| + |Δβ1|, lower is better; see :mod:`geosr.train.validate`), decides the best step
    and early stopping.
    ``patience``: evaluations without an improvement larger than ``min_delta`` before stopping
    (null: never stop early). ``max_size``: centre-crop each validation image to at most this
    many LR pixels per axis (null: 256 in 2D, 32 in 3D). ``keep``: save the ``best`` or ``last``
    weights as the model.
    """

    every: Annotated[int, Field(ge=1)] = 100
    metric: Literal["psnr", "loss", "cldice", "betti_error"] = "psnr"
    patience: Optional[Annotated[int, Field(ge=1)]] = 10
    min_delta: Annotated[float, Field(ge=0)] = 0.0
    max_size: Optional[Annotated[int, Field(ge=4)]] = None
    keep: Literal["best", "last"] = "best"


class LoggingConfig(_Strict):
    """``every``: steps between CSV rows (training loss averaged over them); ``tensorboard``
    needs the optional ``tensorboard`` package; ``progress``: a progress bar on stderr."""

    every: Annotated[int, Field(ge=1)] = 10
    csv: bool = True
    tensorboard: bool = False
    progress: bool = True


def _loss_mapping(value: Any) -> Any:
    """The shorthand ``{l1: 1.0, cldice: 0.2}`` (or ``{cldice: {weight: 0.2, warmup: 200,
    tau: 0.05}}``: options other than weight/start/warmup/arguments are loss arguments) as
    the list form; anything else unchanged."""
    if not isinstance(value, Mapping):
        return value
    terms = []
    for name, item in value.items():
        if isinstance(item, Mapping):
            item = dict(item)
            term = {"name": name, "arguments": dict(item.pop("arguments", {}) or {})}
            for key in ("weight", "start", "warmup"):
                if key in item:
                    term[key] = item.pop(key)
            term["arguments"].update(item)
        else:
            term = {"name": name, "weight": item}
        terms.append(term)
    return terms


LossSpec = Annotated[Union[str, list[LossTerm]], BeforeValidator(_loss_mapping)]


class TrainConfig(_Strict):
    """A complete, validated training configuration (see the module docstring)."""

    version: Literal[1] = 1
    algorithm: Literal[tuple(BUILTIN_TRAINERS)] = "supervised"  # type: ignore[valid-type]
    seed: Annotated[int, Field(ge=0)] = 0
    scale: Annotated[int, Field(ge=2, le=16)] = 4
    dims: Optional[Literal[2, 3]] = None
    data: DataSource
    model: ModelConfig = ModelConfig()
    loss: LossSpec = "l1"
    patch: PatchConfig = PatchConfig()
    augment: AugmentConfig = AugmentConfig()
    normalization: NormalizationConfig = NormalizationConfig()
    train: OptimConfig = OptimConfig()
    validation: ValidationConfig = ValidationConfig()
    logging: LoggingConfig = LoggingConfig()
    adversarial: AdversarialConfig = AdversarialConfig()
    cyclegan: CycleGANConfig = CycleGANConfig()
    zssr: ZSSRConfig = ZSSRConfig()
    isotropic: IsotropicConfig = IsotropicConfig()
    out: Optional[Path] = None

    @field_validator("loss")
    @classmethod
    def _loss(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _check_loss_name(value)
        if not value:
            raise ValueError("the loss list is empty; give at least one {name, weight}")
        if not any(term.weight > 0 for term in value):
            raise ValueError("every loss weight is 0")
        return value

    @model_validator(mode="after")
    def _cross(self) -> "TrainConfig":
        dims = self.dims
        if isinstance(self.data, PhantomPairs):
            if dims is not None and dims != self.data.dims:
                raise ValueError(f"dims: {dims} but data.dims = {self.data.dims}; make them "
                                 "agree (or drop the top-level dims)")
            dims = self.data.dims
        size = self.patch.size
        sizes = size if isinstance(size, list) else [size]
        if isinstance(size, list) and dims is not None and len(size) != dims:
            raise ValueError(f"patch.size: {len(size)} entries for {dims}D data; give one "
                             f"value or {dims}")
        for s in sizes:
            if s % self.scale:
                lower, upper = s - s % self.scale, s - s % self.scale + self.scale
                raise ValueError(f"patch.size: {s} is not divisible by scale {self.scale}; use "
                                 + (f"{lower} or {upper}" if lower > 0 else f"{upper}"))
            if s // self.scale < 4:
                raise ValueError(f"patch.size: {s} gives LR patches of {s // self.scale} pixels "
                                 f"at scale {self.scale}; use at least {4 * self.scale}")
        for term in self.loss_terms():
            if term["name"] == "ssim":
                sigma = float(term.get("arguments", {}).get("sigma", 1.5))
                truncate = float(term.get("arguments", {}).get("truncate", 3.5))
                window = 2 * int(truncate * sigma + 0.5) + 1
                if min(sizes) < window:
                    raise ValueError(f"patch.size: {min(sizes)} is smaller than the ssim loss "
                                     f"window ({window} pixels); use larger patches")
        return self

    @model_validator(mode="after")
    def _families(self) -> "TrainConfig":
        """Checks of the adversarial / unpaired / zero-shot / isotropic algorithms."""
        source = getattr(self.data, "source", None)
        needs = {"zssr": ("single",), "isotropic": ("anisotropic",)}
        if self.algorithm in needs and source not in needs[self.algorithm]:
            raise ValueError(f"data.source: algorithm {self.algorithm} trains on "
                             f"source: {needs[self.algorithm][0]} (got {source!r})")
        if source in ("unpaired", "unpaired_phantom") and self.algorithm != "cyclegan":
            raise ValueError(f"data.source: unpaired data ({source}) needs algorithm: cyclegan")
        if source in ("single", "anisotropic") and self.algorithm not in ("zssr", "isotropic"):
            raise ValueError(f"data.source: {source} is the data of algorithm: "
                             + ("zssr" if source == "single" else "isotropic"))
        if self.algorithm == "pix2pix" and self.adversarial.weight == 0:
            raise ValueError("adversarial.weight: 0 turns pix2pix into supervised training; "
                             "use algorithm: supervised")
        if self.algorithm == "isotropic" and self.dims == 3:
            raise ValueError("dims: isotropic trains a 2D model on lateral planes; drop dims")
        return self

    # ------------------------------------------------------------------ helpers
    def loss_terms(self) -> list[dict[str, Any]]:
        """The loss as ``[{"name", "weight", "arguments", "start", "warmup"}]``."""
        if isinstance(self.loss, str):
            return [{"name": self.loss, "weight": 1.0, "arguments": {}, "start": 0,
                     "warmup": 0}]
        return [term.model_dump() for term in self.loss]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dump (paths as strings)."""
        return self.model_dump(mode="json")

    def resolved_dims(self) -> Optional[int]:
        return self.data.dims if isinstance(self.data, PhantomPairs) else self.dims


# ----------------------------------------------------------------------- loading
def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    section = data.get("data")
    if isinstance(section, dict):
        for key in ("lr", "hr"):
            value = section.get(key)
            if isinstance(value, (str, Path)) and not Path(value).expanduser().is_absolute():
                section[key] = str((base / Path(value).expanduser()))


def parse_config(data: Mapping[str, Any], *, where: str = "config",
                 base: Optional[Path] = None) -> TrainConfig:
    """Validate a mapping; relative ``data.lr``/``data.hr`` paths are resolved against
    ``base`` (the config file's folder) when given."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"a training config is a mapping of sections, got "
                          f"{type(data).__name__}", where=where)
    data = copy.deepcopy(dict(data))
    if base is not None:
        _resolve_paths(data, base)
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as err:
        raise error_from_validation(err, where, data, model=TrainConfig) from None


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a YAML training config (:class:`ConfigError` naming the file and the
    field on any problem; relative data paths are relative to the file's folder)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", where=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"not valid YAML{at}: {problem}", where=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("not a UTF-8 text file", where=str(path)) from None
    if data is None:
        raise ConfigError("the file is empty", where=str(path),
                          hint="see examples/train_dentin_x4.yaml")
    return parse_config(data, where=str(path), base=path.resolve().parent)
