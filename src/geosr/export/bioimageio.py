"""bioimage.io model packages (spec 0.5, ``ModelDescr`` built in code) from geosr models.

A package holds:

- ``pytorch_state_dict`` weights (``weights.pt``, the module's own state dict) with
  ``model.py``, a generated, pure-torch architecture (:mod:`geosr.export.source`);
- ONNX weights (``model.onnx``, dynamic sizes; :mod:`geosr.export.onnx`);
- input ``lr`` (batch, channel, [z,] y, x) with a size ``min + k·step`` per spatial axis and
  the pixel size (µm) of the test image; output ``sr`` whose spatial sizes are the input's ×
  the scale (``SizeReference`` + axis ``scale`` = input pixel size / scale) and whose halo is
  the model's receptive-field reach;
- pre-processing ``scale_range`` with the model's percentiles and eps per image (geosr's
  percentile normalisation); the output stays in those normalised units (spec 0.5 has no
  operation that maps it back with the input's percentiles — said in the documentation);
- test tensors and a cover from a real prediction, ``README.md`` from the model's provenance
  and calibration card, and the geosr model (``model.json``, ``weights.safetensors``) and card
  (``calibration.json``) as attachments, so ``geosr predict --model PACKAGE.zip`` works.

No HTTP URL is written, so the package validates offline. Needs the ``bioimageio`` and
``onnx`` extras.

>>> from geosr.export import export_bioimageio                              # doctest: +SKIP
>>> export_bioimageio("runs/model", "model.zip")                            # doctest: +SKIP
PosixPath('model.zip')
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from geosr.core.errors import ConfigError, DependencyError, InputError
from geosr.export.api import register_exporter

__all__ = ["export_bioimageio", "WEIGHT_FORMATS", "test_package"]

WEIGHT_FORMATS = ("pytorch_state_dict", "onnx")
_SPATIAL = {2: ("y", "x"), 3: ("z", "y", "x")}
_CITES = {   # architecture → (text, DOI); every DOI resolves offline as a string
    "fsrcnn": ("Dong, Loy & Tang (2016) Accelerating the super-resolution convolutional "
               "neural network. ECCV", "10.1007/978-3-319-46475-6_25"),
    "espcn": ("Shi et al. (2016) Real-time single image and video super-resolution using an "
              "efficient sub-pixel convolutional neural network. CVPR", "10.1109/CVPR.2016.207"),
    "edsr": ("Lim et al. (2017) Enhanced deep residual networks for single image "
             "super-resolution. CVPRW", "10.1109/CVPRW.2017.151"),
    "rcan": ("Zhang et al. (2018) Image super-resolution using very deep residual channel "
             "attention networks. ECCV", "10.1007/978-3-030-01234-2_18"),
    "care": ("Weigert et al. (2018) Content-aware image restoration. Nature Methods",
             "10.1038/s41592-018-0216-7"),
    "unet_pix2pix": ("Isola et al. (2017) Image-to-image translation with conditional "
                     "adversarial networks. CVPR", "10.1109/CVPR.2017.632"),
}
_STUDY = ("Anderson et al. (2025) Deep-learning super-resolution of dentin porosity networks "
          "(arXiv:2510.08407)", "10.48550/arXiv.2510.08407")


def _require(test: bool) -> None:
    missing = []
    for name in ("bioimageio.spec",) + (("bioimageio.core",) if test else ()):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if not missing:
        from geosr.export._compat import apply

        apply()
        return
    if missing:
        raise DependencyError(f"bioimage.io export needs {', '.join(missing)}",
                              where="--format bioimageio", hint="pip install 'geosr[bioimageio]'")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _geosr_files(loaded: Any, folder: Path) -> tuple[Path, Path]:
    """Copy ``model.json`` and ``weights.safetensors`` of the loaded model into ``folder``."""
    from geosr.models.files import SPEC_FILE, WEIGHTS_FILE

    src = loaded.path
    if src is None:
        raise ConfigError("the model was not loaded from a file", where="model",
                          hint="save it with geosr.models.save_model and export the folder")
    src = Path(src)
    for name in (SPEC_FILE, WEIGHTS_FILE):
        if src.is_dir():
            data = (src / name).read_bytes()
        else:
            with zipfile.ZipFile(src) as zf:
                member = next(n for n in zf.namelist() if Path(n).name == name)
                data = zf.read(member)
        (folder / name).write_bytes(data)
    return folder / SPEC_FILE, folder / WEIGHTS_FILE


def _card(card: Any, loaded: Any) -> dict[str, Any] | None:
    """The calibration card to attach (``"auto"``: ``MODEL/calibration.json`` if present),
    refused when it was made for other weights."""
    from geosr.trust.card import resolve_card

    resolved = resolve_card(card, loaded)
    if resolved is None:
        return None
    if resolved.model_sha256 not in (None, loaded.sha256):
        raise InputError("the calibration card was made for other weights (SHA-256 "
                         f"{str(resolved.model_sha256)[:12]}… != {loaded.sha256[:12]}…)",
                         where="card", hint="recalibrate this model or pass card=None")
    return dict(resolved.data)


def _sample(sample: Any, loaded: Any) -> Any:
    """The test input as a :class:`geosr.core.Image` on the model's size grid."""
    from geosr.core.image import as_image
    from geosr.export.graph import input_grid

    step, minimum = input_grid(loaded)
    if sample is None:
        image = _default_sample(loaded, minimum, step)
    elif isinstance(sample, (str, os.PathLike)):
        from geosr.io import load

        image = load(sample)
    else:
        image = as_image(sample)
    if image.dims != loaded.dims or image.channels != loaded.in_channels:
        raise InputError(f"the sample is {image.dims}D with {image.channels} channel(s); the "
                         f"model needs {loaded.dims}D with {loaded.in_channels}", where="sample")
    shape = image.spatial_shape
    cap = 96 if loaded.dims == 2 else 32
    size = [((max(min(n, cap), m) - m) // s) * s + m for n, m, s in zip(shape, minimum, step)]
    if any(z < m or z > n for z, m, n in zip(size, minimum, shape)):
        raise InputError(f"the sample ({list(shape)} pixels) is smaller than the model's least "
                         f"input {minimum}", where="sample", hint="give a larger sample image")
    start = [(n - z) // 2 for n, z in zip(shape, size)]
    return _crop(image, start, size)


def _crop(image: Any, start: Sequence[int], size: Sequence[int]) -> Any:
    from geosr.core.image import Image

    window = tuple(slice(a, a + z) for a, z in zip(start, size))
    values = image.numpy()[((slice(None),) if image.has_channels else ()) + window]
    origin = tuple(o + a * sp for o, a, sp in zip(image.origin, start, image.spacing))
    return Image(values, image.axes, spacing=image.spacing, unit=image.unit, origin=origin)


def _default_sample(loaded: Any, minimum: Sequence[int], step: Sequence[int]) -> Any:
    """A dentin phantom degraded by the model's scale (the model's own degradation when
    model.json records a PSF FWHM)."""
    from geosr.degrade import degrade
    from geosr.phantoms import phantom

    n = 64 if loaded.dims == 2 else 24
    lr_shape = [((max(n, m) - m + s - 1) // s) * s + m for m, s in zip(minimum, step)]
    spacing = 0.1 if loaded.dims == 2 else 0.2
    size_um = tuple(k * f * spacing for k, f in zip(lr_shape, loaded.scale))
    truth = phantom("dentin", dims=loaded.dims, size_um=size_um, spacing_um=spacing, seed=0)
    fwhm = (loaded.spec.get("degradation") or {}).get("fwhm_um")
    if not isinstance(fwhm, (int, float, list)):
        fwhm = 2.0 * max(loaded.scale) * spacing
    return degrade(truth.image, scale=tuple(loaded.scale), fwhm_um=fwhm, seed=0)


def _cover(lr: np.ndarray, sr: np.ndarray, scale: Sequence[int], path: Path) -> None:
    """A 2:1 PNG: nearest-upsampled input (left) beside the prediction (right); the middle
    z-plane of a volume."""
    from PIL import Image as PILImage

    def plane(a: np.ndarray) -> np.ndarray:
        return a[a.shape[0] // 2] if a.ndim == 3 else a

    up = plane(np.kron(lr, np.ones(tuple(scale), np.float32)))
    out = plane(sr)
    lo, hi = np.percentile(out, (1, 99.8))
    panels = [np.clip((p - lo) / max(hi - lo, 1e-12), 0, 1) for p in (up, out)]
    side = min(out.shape)
    panels = [p[:side, :side] for p in panels]
    img = (np.concatenate(panels, axis=1) * 255).astype(np.uint8)
    PILImage.fromarray(img).resize((512, 256), PILImage.NEAREST).save(path)


def _exact_scales(spacing: float, factor: int) -> tuple[float, float]:
    """Input and output pixel sizes within 1e-9 (relative) of ``spacing`` and
    ``spacing/factor`` such that ``n · in / out == n · factor`` exactly in floating point
    for every size ``n`` < 2^20 (the spec compares ``n · in / out`` with the output size
    exactly): the output size is rounded to a dyadic fraction of 30 significant bits.

    >>> _exact_scales(0.8, 4)[0] * 24 / _exact_scales(0.8, 4)[1]
    96.0
    """
    q = 2.0 ** (math.floor(math.log2(spacing / factor)) - 30)
    out = round(spacing / factor / q) * q
    return out * factor, out


def _axes(loaded: Any, spacing: Sequence[float], unit: str | None, step: Sequence[int],
          minimum: Sequence[int]) -> tuple[list[Any], list[Any]]:
    """Input and output axes: batch, channel and the spatial axes with their pixel sizes;
    output sizes reference the input's (× scale), with the model's halo."""
    from bioimageio.spec.model import v0_5 as bz

    halo_in = [h + h % 2 for h in ((loaded.spec.get("summary") or {}).get("halo")
                                   or [0] * loaded.dims)]
    channels = [bz.Identifier(f"c{i}") for i in range(loaded.in_channels)]
    out_channels = [bz.Identifier(f"c{i}") for i in range(loaded.out_channels)]
    inputs: list[Any] = [bz.BatchAxis(), bz.ChannelAxis(channel_names=channels)]
    outputs: list[Any] = [bz.BatchAxis(), bz.ChannelAxis(channel_names=out_channels)]
    for name, sp, f, s, m, h in zip(_SPATIAL[loaded.dims], spacing, loaded.scale, step,
                                    minimum, halo_in):
        sp, out_sp = _exact_scales(sp, f)
        inputs.append(bz.SpaceInputAxis(id=bz.AxisId(name), scale=sp, unit=unit,
                                        size=bz.ParameterizedSize(min=m, step=s)))
        ref = bz.SizeReference(tensor_id=bz.TensorId("lr"), axis_id=bz.AxisId(name))
        if h:
            outputs.append(bz.SpaceOutputAxisWithHalo(id=bz.AxisId(name), scale=out_sp,
                                                      unit=unit, size=ref, halo=h * f))
        else:
            outputs.append(bz.SpaceOutputAxis(id=bz.AxisId(name), scale=out_sp, unit=unit,
                                              size=ref))
    return inputs, outputs


def _weights(loaded: Any, folder: Path, program: Any, formats: Sequence[str]) -> Any:
    """Write the requested weight files into ``folder``; returns the ``WeightsDescr``."""
    import torch
    from bioimageio.spec.model import v0_5 as bz

    from geosr.export.graph import example_input
    from geosr.export.source import CALLABLE, architecture_source, check_source

    entries: dict[str, Any] = {}
    version = bz.Version(torch.__version__.split("+")[0])
    if "pytorch_state_dict" in formats:
        text = architecture_source(loaded, program)
        check_source(loaded, text, example_input(loaded, batch=1))
        (folder / "model.py").write_text(text, encoding="utf-8")
        state = {k: v.detach().cpu().contiguous() for k, v in
                 loaded.module.state_dict().items()}
        torch.save(state, folder / "weights.pt")
        arch = bz.ArchitectureFromFileDescr(source=folder / "model.py", callable=CALLABLE,
                                            sha256=_sha256(folder / "model.py"))
        entries["pytorch_state_dict"] = bz.PytorchStateDictWeightsDescr(
            source=folder / "weights.pt", sha256=_sha256(folder / "weights.pt"),
            architecture=arch, pytorch_version=version)
    if "onnx" in formats:
        from geosr.export.onnx import OPSET, write_onnx

        write_onnx(program, folder / "model.onnx", OPSET)
        entries["onnx"] = bz.OnnxWeightsDescr(
            source=folder / "model.onnx", sha256=_sha256(folder / "model.onnx"),
            opset_version=OPSET,
            parent="pytorch_state_dict" if "pytorch_state_dict" in entries else None)
    return bz.WeightsDescr(**entries)


def _tensors(loaded: Any, image: Any, folder: Path) -> tuple[np.ndarray, np.ndarray, Any]:
    """Test input (raw, as given) and output (a real geosr prediction, in the normalised
    units the package outputs) as ``.npy`` files; returns both arrays and the prediction."""
    from geosr.predict.core import predict

    raw = image.numpy().astype(np.float32)
    raw = raw if image.has_channels else raw[None]
    sr = predict(image, loaded, device="cpu")
    rec = sr.metadata["prediction"]["normalization"]
    out = sr.numpy().astype(np.float32)
    out = out if out.ndim == loaded.dims + 1 else out[None]
    norm = (out - np.float32(rec["lo"])) / np.float32(rec["hi"] - rec["lo"] + rec["eps"])
    np.save(folder / "test_input.npy", raw[None])
    np.save(folder / "test_output.npy", norm[None].astype(np.float32))
    return raw, norm, sr


def _describe(loaded: Any, folder: Path, image: Any, weights: Any, card: Any,
              name: str | None, authors: Sequence[str], license: str) -> Any:
    """The ``ModelDescr`` of the files in ``folder``."""
    from bioimageio.spec.model import v0_5 as bz

    from geosr.export.docs import package_readme, short_description
    from geosr.export.graph import input_grid

    step, minimum = input_grid(loaded)
    spacing = image.spacing_um if image.unit != "pixel" else image.spacing
    unit = "micrometer" if image.unit != "pixel" else None
    in_axes, out_axes = _axes(loaded, spacing, unit, step, minimum)
    norm = loaded.normalizer
    spatial = [bz.AxisId(a) for a in _SPATIAL[loaded.dims]]
    pre = [bz.ScaleRangeDescr(kwargs=bz.ScaleRangeKwargs(
        axes=spatial, min_percentile=norm.p_low, max_percentile=norm.p_high,
        eps=max(norm.eps, 1e-12)))]
    inputs = [bz.InputTensorDescr(
        id=bz.TensorId("lr"), axes=in_axes, preprocessing=pre,
        description="low-resolution image, any intensity units (percentile-normalised by the "
                    "pre-processing)",
        test_tensor=bz.FileDescr(source=folder / "test_input.npy"),
        data=bz.IntervalOrRatioDataDescr(type="float32"))]
    outputs = [bz.OutputTensorDescr(
        id=bz.TensorId("sr"), axes=out_axes,
        description="super-resolved image in the input's percentile-normalised units",
        test_tensor=bz.FileDescr(source=folder / "test_output.npy"),
        data=bz.IntervalOrRatioDataDescr(type="float32"))]
    spec = loaded.spec
    readme = folder / "README.md"
    readme.write_text(package_readme(spec, card, spacing_um=spacing,
                                     formats=[k for k in WEIGHT_FORMATS
                                              if getattr(weights, k) is not None]),
                      encoding="utf-8")
    attachments = [bz.FileDescr(source=folder / f) for f in ("model.json", "weights.safetensors")]
    if card is not None:
        attachments.append(bz.FileDescr(source=folder / "calibration.json"))
    cites = [_STUDY] + ([_CITES[loaded.architecture]] if loaded.architecture in _CITES else [])
    scale = (str(loaded.scale[0]) if len(set(loaded.scale)) == 1
             else "x".join(str(s) for s in loaded.scale))
    tolerance = bz.ReproducibilityTolerance(relative_tolerance=1e-4, absolute_tolerance=1e-4,
                                            mismatched_elements_per_million=0)
    return bz.ModelDescr(
        name=name or f"geosr {loaded.architecture} {loaded.dims}D x{scale}",
        description=short_description(spec),
        authors=[bz.Author(name=a) for a in authors],
        cite=[bz.CiteEntry(text=t, doi=bz.Doi(d)) for t, d in cites],
        license=license, documentation=bz.FileDescr(source=readme),
        covers=[bz.FileDescr(source=folder / "cover.png")], attachments=attachments,
        tags=["super-resolution", f"{loaded.dims}d", "porosity", "geosr", "pytorch", "onnx",
              loaded.architecture],
        inputs=inputs, outputs=outputs, weights=weights,
        config=bz.Config(bioimageio=bz.BioimageioConfig(reproducibility_tolerance=[tolerance]),
                         geosr={"model_sha256": loaded.sha256, "scale": list(loaded.scale),
                                "architecture": loaded.architecture,
                                "calibration_card": card is not None,
                                "output_units": "input percentile-normalised"}))


def test_package(source: Any, formats: Sequence[str] = WEIGHT_FORMATS) -> dict[str, str]:
    """Run ``bioimageio.core.test_model`` on a package (path or description) for each weight
    format on the CPU; returns ``{format: status}``. Offline: the package holds no URL."""
    from bioimageio.core import test_model

    return {f: str(test_model(source, weight_format=f, devices=["cpu"]).status)
            for f in formats}


@register_exporter("bioimageio", suffix=".zip")
def export_bioimageio(model: Any, out: str | os.PathLike, *, sample: Any = None,
                      weights: Sequence[str] = WEIGHT_FORMATS, card: Any = "auto",
                      name: str | None = None, authors: Sequence[str] = ("geosr user",),
                      license: str = "BSD-3-Clause", test: bool = True) -> Path:
    """Write a bioimage.io model package (``.zip``) of ``model`` (a model folder / ``.zip``
    path or a :class:`geosr.models.LoadedModel`). See the module docstring for its content.

    ``sample``: test image (path, array or :class:`geosr.core.Image`; default a dentin
    phantom degraded by the model's scale), centre-cropped to at most 96 (2D) / 32 (3D) pixels
    per axis on the model's size grid. ``card``: ``"auto"`` (``MODEL/calibration.json`` when
    present), a path, a dict or None. With ``test``, ``bioimageio.core.test_model`` must pass
    for every weight format before the package is written (:class:`ConfigError` otherwise).
    """
    import json

    from geosr.core.files import atomic_path
    from geosr.export.graph import trace_model
    from geosr.predict.core import resolve_model

    _require(test)
    out = Path(out)
    if out.suffix.lower() != ".zip":
        raise ConfigError("a bioimage.io package name ends with .zip", where=str(out))
    if out.is_dir():
        raise ConfigError("is a folder", where=str(out), hint="give a new .zip file name")
    bad = [w for w in weights if w not in WEIGHT_FORMATS] or ([] if weights else ["none"])
    if bad:
        raise ConfigError(f"unknown weight format(s) {bad}", where="weights",
                          hint="choose from " + ", ".join(WEIGHT_FORMATS))
    loaded = resolve_model(model, "cpu")
    card_data = _card(card, loaded)
    image = _sample(sample, loaded)
    program = trace_model(loaded)
    with tempfile.TemporaryDirectory(prefix="geosr-bmz-") as tmp:
        folder = Path(tmp)
        _geosr_files(loaded, folder)
        if card_data is not None:
            (folder / "calibration.json").write_text(json.dumps(card_data, indent=2) + "\n",
                                                     encoding="utf-8")
        raw, norm, sr = _tensors(loaded, image, folder)
        _cover(raw[0], norm[0], loaded.scale, folder / "cover.png")
        descr = _describe(loaded, folder, image, _weights(loaded, folder, program, weights),
                          card_data, name, authors, license)
        if test:
            failed = {f: s for f, s in test_package(descr, weights).items() if s != "passed"}
            if failed:
                raise ConfigError(f"bioimageio.core test_model did not pass: {failed}",
                                  where=str(out), hint="report this model to the geosr "
                                  "maintainers; rerun with test=False to inspect the package")
        from bioimageio.spec import save_bioimageio_package

        with atomic_path(out) as zpath:
            zpath.unlink()
            save_bioimageio_package(descr, output_path=zpath)
    return out
