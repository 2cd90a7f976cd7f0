"""Isotropic reconstruction of an anisotropic ZYX stack with a model trained by
``algorithm: isotropic`` (``model.json`` has ``"isotropic": {...}``).

The model is 2D with per-axis scale ``[s, 1]``: it restores the first axis of a plane. The
stack, normalised once with the model's percentile normaliser, is cut into XZ planes (one per
y) and YZ planes (one per x); each plane ``(Z, X)``/``(Z, Y)`` becomes ``(s·Z, X)``/``(s·Z,
Y)``; the two reconstructions are averaged (``planes: both``, CSBDeep's default) and the
normalisation undone. Output spacing ``(dz/s, dy, dx)``, origin shifted like any SR output.

>>> from geosr.predict import predict
>>> iso = predict(stack, "runs/iso/model")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from geosr.core.errors import InputError
from geosr.core.image import Image
from geosr.core.version import __version__

__all__ = ["predict_isotropic", "is_isotropic"]


def is_isotropic(loaded: Any) -> bool:
    """Whether a loaded model was trained for isotropic reconstruction
    (:attr:`geosr.models.files.LoadedModel.is_isotropic`; False for anything else)."""
    return bool(getattr(loaded, "is_isotropic", False))


@torch.no_grad()
def predict_isotropic(image: Image, loaded: Any, *, planes: str | None = None,
                      batch_size: int = 8) -> Image:
    """Reconstruct ``image`` (ZYX, or CZYX) on a grid ``scale`` times finer in z."""
    if image.dims != 3:
        raise InputError(f"an isotropic model reconstructs ZYX stacks; got axes {image.axes}",
                         where="image", hint="give a 3D stack")
    info = loaded.spec["isotropic"]
    s = int(loaded.scale[0])
    planes = planes or info.get("planes", "both")
    values = image.numpy()
    lo, hi = loaded.normalizer.fit(values)
    x = loaded.normalizer.normalize(values, lo, hi).astype(np.float32)
    if not image.has_channels:
        x = x[None]
    c, nz, ny, nx = x.shape
    module, dev = loaded.module, loaded.device
    out = np.zeros((loaded.out_channels, nz * s, ny, nx), np.float32)
    count = 0

    def run(stack: np.ndarray) -> np.ndarray:   # (P, C, Z, W) -> (P, C', sZ, W)
        res = []
        for k in range(0, stack.shape[0], batch_size):
            t = torch.from_numpy(np.ascontiguousarray(stack[k:k + batch_size])).to(dev)
            res.append(module(t).float().cpu().numpy())
        return np.concatenate(res, 0)

    if planes in ("both", "xz"):     # one plane per y: (C, Z, X)
        out += run(np.transpose(x, (2, 0, 1, 3))).transpose(1, 2, 0, 3)
        count += 1
    if planes in ("both", "yz"):     # one plane per x: (C, Z, Y)
        out += run(np.transpose(x, (3, 0, 1, 2))).transpose(1, 2, 3, 0)
        count += 1
    out /= count
    out *= np.float32(hi - lo + loaded.normalizer.eps)
    out += np.float32(lo)
    if not image.has_channels and loaded.out_channels == 1:
        out, axes = out[0], image.axes
    else:
        axes = "C" + image.spatial_axes
    factors = (s, 1, 1)
    spacing = tuple(sp / f for sp, f in zip(image.spacing, factors))
    origin = tuple(o - (f - 1) * sp / (2 * f) for o, sp, f in
                   zip(image.origin, image.spacing, factors))
    record = {"model_sha256": loaded.sha256, "architecture": loaded.architecture,
              "model_path": str(loaded.path) if loaded.path else None,
              "scale": list(factors), "mode": "isotropic", "planes": planes,
              "device": str(dev), "geosr_version": __version__,
              "normalization": {**loaded.normalizer.to_dict(), "lo": lo, "hi": hi},
              "input": image.describe()}
    return Image(out, axes, spacing=spacing, unit=image.unit, origin=origin,
                 metadata={**image.metadata, "prediction": record})
