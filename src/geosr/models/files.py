"""Model files: a folder (or a ``.zip`` of it) holding ``weights.safetensors`` and
``model.json`` — a bioimage.io package made by :func:`geosr.export.export_bioimageio` is such a
zip too (both files are attached to it). Loading never unpickles and never runs code from the file.

``model.json`` records::

    {"format": "geosr-model", "format_version": 1,
     "architecture": "rcan", "arguments": {...JSON primitives...},
     "residual_over": "bicubic" | "linear" | "nearest" | "lanczos" | "none",
     "dims": 2, "scale": 4 | [1, 4, 4], "in_channels": 1, "out_channels": 1,
     "normalization": {"kind": "percentile", "p_low": 1.0, "p_high": 99.8, "eps": 1e-06},
     "summary": {"parameters": ..., "halo": [...], "receptive_field": [...] | null, ...},
     "geosr_version": "0.1.0", "environment": {...},
     ...whatever the caller passed in ``spec`` (degradation, data fingerprint, config, seed,
        validation metrics)...,
     "weights": {"file": "weights.safetensors", "sha256": "...", "bytes": N},
     "integrity": {"algorithm": "sha256", "sha256": "<hash of the canonical JSON of every
                   other key>"}}

On load, the weights' SHA-256 and the document's own hash are checked (a flipped byte or an
edited field → :class:`InputError` saying the file is corrupted or was altered); the
architecture must be a registered name and its arguments JSON primitives, which
:func:`geosr.models.build_model` validates; the tensors are read by ``safetensors`` (a plain
header + raw buffers), so a pickle renamed ``weights.safetensors`` is refused, never
unpickled. ``torch.load`` is not used. ``residual_over`` (see :mod:`geosr.models.residual`)
is absent from files written before it existed: they are rebuilt without the residual.

>>> from geosr.models import build_model, save_model, load_model    # doctest: +SKIP
>>> net = build_model("fsrcnn", dims=2, scale=4)                      # doctest: +SKIP
>>> path = save_model("runs/m", net, {"seed": 0})                   # doctest: +SKIP
>>> loaded = load_model(path)                                       # doctest: +SKIP
>>> loaded.architecture, loaded.scale                               # doctest: +SKIP
('fsrcnn', (4, 4))
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from geosr.core.errors import ConfigError, InputError
from geosr.core.files import atomic_path, to_jsonable
from geosr.core.provenance import environment
from geosr.core.version import __version__
from geosr.data.normalize import PercentileNormalizer
from geosr.models.layers import normalize_scale
from geosr.models.registry import available_models, build_model, check_json_primitive

__all__ = ["save_model", "load_model", "zip_model", "LoadedModel", "FORMAT",
           "FORMAT_VERSION", "WEIGHTS_FILE", "SPEC_FILE"]

FORMAT = "geosr-model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"
SPEC_FILE = "model.json"
_RESERVED = ("format", "format_version", "weights", "integrity")
_ARCH_KEYS = ("architecture", "arguments", "dims", "scale", "in_channels", "out_channels")
_MAX_JSON_BYTES = 64 * 2**20
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclasses.dataclass
class LoadedModel:
    """A model read from disk, ready for prediction.

    ``module`` is in eval mode on ``device``; ``scale`` is per spatial axis; ``spec`` is the
    whole ``model.json``; ``sha256`` the hash of ``weights.safetensors`` (the model's
    identity, recorded in every prediction)."""

    module: nn.Module
    spec: dict[str, Any]
    normalizer: PercentileNormalizer
    scale: tuple[int, ...]
    dims: int
    in_channels: int
    out_channels: int
    architecture: str
    arguments: dict[str, Any]
    sha256: str
    path: Path | None = None

    @property
    def device(self) -> torch.device:
        param = next(self.module.parameters(), None)
        return param.device if param is not None else torch.device("cpu")

    @property
    def is_isotropic(self) -> bool:
        """Trained for isotropic reconstruction (``algorithm: isotropic``): a 2D model applied
        to the XZ/YZ planes of a ZYX stack (:mod:`geosr.predict.isotropic`)."""
        return "isotropic" in self.spec

    @property
    def is_heteroscedastic(self) -> bool:
        """Predicts a per-pixel variance beside the image (architecture ``hetero``)."""
        return self.architecture == "hetero"

    @property
    def is_geometry_informed(self) -> bool:
        """A geometry-informed wrapper (architecture ``geo``)."""
        return self.architecture == "geo"


# ----------------------------------------------------------------------------- helpers
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _doc_hash(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "integrity"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return _sha256(text.encode("utf-8"))


def _normalization(value: Any) -> dict[str, Any]:
    if value is None:
        return PercentileNormalizer().to_dict()
    if isinstance(value, PercentileNormalizer):
        return value.to_dict()
    if isinstance(value, dict):
        return PercentileNormalizer.from_dict(value).to_dict()
    raise ConfigError(f"expected a PercentileNormalizer or its dict, got "
                      f"{type(value).__name__}", where="normalization")


def _arch_record(module: nn.Module, spec: dict[str, Any]) -> dict[str, Any]:
    """Architecture fields from the module's ``geosr_config``, checked against ``spec``."""
    config = dict(getattr(module, "geosr_config", None) or {})
    record: dict[str, Any] = {}
    for key in _ARCH_KEYS:
        given = spec.pop(key, None)
        known = config.get(key)
        if known is None and given is None and key != "arguments":
            raise ConfigError(f"unknown for this module: build it with geosr.models.build_model "
                              f"or pass spec[{key!r}]", where=key)
        if known is not None and given is not None:
            same = (normalize_scale(known, config["dims"]) == normalize_scale(given,
                    config["dims"])) if key == "scale" else known == given
            if not same:
                raise ConfigError(f"spec says {given!r} but the module was built with "
                                  f"{known!r}", where=key)
        record[key] = known if known is not None else given
    record["arguments"] = dict(record["arguments"] or {})
    record["residual_over"] = _residual_record(config, spec)
    if record["architecture"] not in available_models():
        raise ConfigError(f"architecture {record['architecture']!r} is not registered",
                          where="architecture", hint="available: " + ", ".join(
                              available_models()))
    for k, v in record["arguments"].items():
        check_json_primitive(f"arguments.{k}", v)
    scale = normalize_scale(record["scale"], record["dims"])
    record["scale"] = scale[0] if len(set(scale)) == 1 else list(scale)
    return record


def _residual_record(config: dict[str, Any], spec: dict[str, Any]) -> str:
    """The module's ``residual_over`` (``"none"`` for a module built without it), checked
    against ``spec``."""
    from geosr.models.residual import check_residual_method

    known = check_residual_method(config.get("residual_over", "none"))
    given = spec.pop("residual_over", None)
    if given is not None and check_residual_method(given) != known:
        raise ConfigError(f"spec says {given!r} but the module was built with {known!r}",
                          where="residual_over")
    return known


def _check_writable(path: Path) -> None:
    """Refuse to replace anything but a previous model (folder or zip)."""
    if not path.exists():
        return
    if path.is_dir():
        extra = sorted(p.name for p in path.iterdir() if p.name not in (SPEC_FILE, WEIGHTS_FILE))
        if extra:
            raise ConfigError(f"exists and holds other files ({', '.join(extra[:3])})",
                              where=str(path), hint="choose a new folder for the model")
    elif path.suffix.lower() != ".zip":
        raise ConfigError("exists and is a file", where=str(path),
                          hint="choose a folder name (or a .zip) for the model")


def _zip_bytes(zf: zipfile.ZipFile, members: dict[str, bytes]) -> None:
    for name, data in members.items():
        info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        zf.writestr(info, data)


# ----------------------------------------------------------------------------- save
def save_model(path: str | os.PathLike, module: nn.Module,
               spec: dict[str, Any] | None = None) -> Path:
    """Write ``module`` as a model folder (or a ``.zip`` when ``path`` ends with ``.zip``),
    atomically: nothing appears under ``path`` unless both files were written. An existing
    model at ``path`` is replaced; any other existing folder is refused.

    ``spec`` may hold ``normalization`` (a :class:`PercentileNormalizer` or its dict; default
    ``PercentileNormalizer()``), the architecture keys (checked against the module built by
    :func:`geosr.models.build_model`) and anything JSON-serialisable to record (degradation,
    data fingerprint, config, seed, validation metrics, ...). Returns ``path``.
    """
    from safetensors.torch import save as st_save

    from geosr.models.summary import receptive_field

    path = Path(path)
    spec = dict(spec or {})
    bad = [k for k in _RESERVED if k in spec]
    if bad:
        raise ConfigError(f"reserved key(s) {bad} are written by save_model", where="spec")
    _check_writable(path)
    record = _arch_record(module, spec)
    normalization = _normalization(spec.pop("normalization", None))
    scale_t = normalize_scale(record["scale"], record["dims"])
    rf = receptive_field(record["architecture"], dims=record["dims"], scale=scale_t,
                         in_channels=record["in_channels"],
                         out_channels=record["out_channels"],
                         residual_over=record["residual_over"], **record["arguments"])
    summary = {"parameters": int(sum(p.numel() for p in module.parameters())),
               **{k: rf[k] for k in ("receptive_field", "halo", "global_context",
                                     "alignment")}}
    state = {k: v.detach().to("cpu").contiguous().clone()
             for k, v in module.state_dict().items()}
    weights = st_save(state, metadata={"format": FORMAT})
    doc: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, **record,
        "normalization": normalization, "summary": {**summary, **spec.pop("summary", {})},
        "geosr_version": spec.pop("geosr_version", __version__),
        "environment": spec.pop("environment", None) or environment(),
        **spec,
        "weights": {"file": WEIGHTS_FILE, "sha256": _sha256(weights), "bytes": len(weights)},
    }
    doc = json.loads(json.dumps(to_jsonable(doc), ensure_ascii=False))
    doc["integrity"] = {"algorithm": "sha256", "sha256": _doc_hash(doc)}
    text = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    if path.suffix.lower() == ".zip":
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w") as zf:
                _zip_bytes(zf, {SPEC_FILE: text, WEIGHTS_FILE: weights})
    else:
        with atomic_path(path, is_dir=True) as tmp:
            (tmp / WEIGHTS_FILE).write_bytes(weights)
            (tmp / SPEC_FILE).write_bytes(text)
    return path


# ----------------------------------------------------------------------------- load
def _read_folder(path: Path) -> tuple[bytes, bytes, str, str]:
    spec_path, weights_path = path / SPEC_FILE, path / WEIGHTS_FILE
    for p in (spec_path, weights_path):
        if not p.is_file():
            raise InputError("missing file of the model", where=str(p),
                             hint="a model folder holds model.json and weights.safetensors")
    if spec_path.stat().st_size > _MAX_JSON_BYTES:
        raise InputError("is too large to be a model description", where=str(spec_path))
    return spec_path.read_bytes(), weights_path.read_bytes(), str(spec_path), str(weights_path)


def _read_zip(path: Path) -> tuple[bytes, bytes, str, str]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = {Path(n).name: n for n in zf.namelist()
                     if Path(n).name in (SPEC_FILE, WEIGHTS_FILE) and n.count("/") <= 1}
            for member in (SPEC_FILE, WEIGHTS_FILE):
                if member not in names and any(Path(n).name in ("rdf.yaml", "bioimageio.yaml")
                                               for n in zf.namelist()):
                    raise InputError(f"is a bioimage.io package without geosr's {member}: it "
                                     "was not made by geosr export", where=str(path),
                                     hint="run it with bioimageio.core (bioimageio predict)")
                if member not in names:
                    raise InputError(f"missing file of the model ({member})",
                                     where=f"{path}:{member}",
                                     hint="a model zip holds model.json and "
                                          "weights.safetensors")
            if zf.getinfo(names[SPEC_FILE]).file_size > _MAX_JSON_BYTES:
                raise InputError("is too large to be a model description",
                                 where=f"{path}:{SPEC_FILE}")
            spec, weights = zf.read(names[SPEC_FILE]), zf.read(names[WEIGHTS_FILE])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as err:
        raise InputError(f"unreadable zip ({err}): the file is corrupted", where=str(path)) \
            from None
    return spec, weights, f"{path}:{SPEC_FILE}", f"{path}:{WEIGHTS_FILE}"


def _parse_spec(data: bytes, where: str) -> dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"is not valid JSON ({err}): the file is corrupted or was altered",
                         where=where) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"is not a geosr model description (format "
                         f"{doc.get('format') if isinstance(doc, dict) else None!r})",
                         where=where, hint="give a folder written by geosr train/save_model")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InputError(f"has format version {version!r}; this geosr reads up to "
                         f"{FORMAT_VERSION}", where=where, hint="upgrade geosr")
    recorded = (doc.get("integrity") or {}).get("sha256") if isinstance(
        doc.get("integrity"), dict) else None
    if recorded != _doc_hash(doc):
        raise InputError("content does not match its recorded SHA-256: the file is corrupted "
                         "or was altered", where=where,
                         hint="restore the original model folder; never edit model.json")
    return doc


def _read_tensors(data: bytes, where: str) -> dict[str, torch.Tensor]:
    """Parse safetensors bytes after a sanity check of the header (no unpickling)."""
    from safetensors.torch import load as st_load

    header_len = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if header_len <= 0 or header_len > len(data) - 8 or data[8:9] != b"{":
        if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
            kind = "a Python pickle (torch.save) file"
        elif data[:4] == b"PK\x03\x04":
            kind = "a zip archive (torch.save format)"
        else:
            raise InputError("is not a safetensors file (bad header)", where=where)
        raise InputError(f"is {kind}, not safetensors; geosr never unpickles weights",
                         where=where, hint="export the weights with safetensors")
    try:
        return st_load(data)
    except Exception as err:  # safetensors raises its own error types
        raise InputError(f"is not a readable safetensors file ({err})", where=where) from None


def load_model(path: str | os.PathLike, device: Any = "cpu") -> LoadedModel:
    """Read and verify a model folder, ``.zip`` or ``model.json`` path; returns a
    :class:`LoadedModel` with the module in eval mode on ``device`` (``"auto"``, ``"cpu"``,
    ``"cuda"``, ``"cuda:N"``)."""
    from geosr.models.device import resolve_device

    path = Path(path)
    if path.is_file() and path.name == SPEC_FILE:
        path = path.parent
    if not path.exists():
        raise InputError("model not found", where=str(path),
                         hint="give the folder (or .zip) written by geosr train")
    if path.is_dir():
        spec_bytes, weights, spec_where, weights_where = _read_folder(path)
    elif zipfile.is_zipfile(path):
        spec_bytes, weights, spec_where, weights_where = _read_zip(path)
    else:
        raise InputError("is neither a model folder nor a model zip", where=str(path))
    doc = _parse_spec(spec_bytes, spec_where)
    record = doc.get("weights") if isinstance(doc.get("weights"), dict) else {}
    if record.get("sha256") != _sha256(weights):
        raise InputError("does not match the SHA-256 recorded in model.json: the file is "
                         "corrupted or was altered", where=weights_where,
                         hint="restore the original weights file")
    tensors = _read_tensors(weights, weights_where)
    arch = doc.get("architecture")
    if not isinstance(arch, str) or arch not in available_models():
        raise InputError(f"names architecture {arch!r}, which is not registered", where=spec_where,
                         hint="available: " + ", ".join(available_models()))
    arguments = doc.get("arguments", {})
    try:
        if not isinstance(arguments, dict):
            raise ConfigError("must be an object of JSON primitives", where="arguments")
        arguments = {k: check_json_primitive(f"arguments.{k}", v) for k, v in arguments.items()}
        dims = doc.get("dims")
        scale = normalize_scale(doc.get("scale"), dims)
        # files written before residual_over existed hold plain networks
        module = build_model(arch, dims=dims, scale=scale, in_channels=doc.get("in_channels"),
                             out_channels=doc.get("out_channels"),
                             residual_over=doc.get("residual_over", "none"), **arguments)
        normalizer = PercentileNormalizer.from_dict(doc.get("normalization") or {})
    except (ConfigError, TypeError) as err:
        raise InputError(f"describes an invalid model: {err}", where=spec_where) from None
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"do not fit architecture {arch!r} as described in model.json "
                         f"({first})", where=weights_where) from None
    module.to(resolve_device(device)).eval()
    return LoadedModel(module=module, spec=doc, normalizer=normalizer, scale=scale, dims=dims,
                       in_channels=module.geosr_config["in_channels"],
                       out_channels=module.geosr_config["out_channels"], architecture=arch,
                       arguments={k: list(v) if isinstance(v, tuple) else v
                                  for k, v in arguments.items()},
                       sha256=record["sha256"], path=path)


def zip_model(folder: str | os.PathLike, dest: str | os.PathLike | None = None) -> Path:
    """Verify a model folder and pack it into a zip (default: ``FOLDER.zip`` beside it),
    atomically and byte-reproducibly. Returns the zip path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("is not a model folder", where=str(folder))
    spec, weights, spec_where, weights_where = _read_folder(folder)
    doc = _parse_spec(spec, spec_where)
    if (doc.get("weights") or {}).get("sha256") != _sha256(weights):
        raise InputError("does not match the SHA-256 recorded in model.json: the file is "
                         "corrupted or was altered", where=weights_where)
    dest = Path(dest) if dest is not None else folder.with_name(folder.name + ".zip")
    with atomic_path(dest) as tmp:
        with zipfile.ZipFile(tmp, "w") as zf:
            _zip_bytes(zf, {SPEC_FILE: spec, WEIGHTS_FILE: weights})
    return dest
