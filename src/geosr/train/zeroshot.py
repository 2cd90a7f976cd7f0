"""Zero-shot SR (ZSSR, Shocher et al., CVPR 2018): internal learning on one LR image.

``algorithm: zssr`` with ``data: {source: single, image: lr.tif, degradation: {...}}``
(:class:`geosr.data.families.SingleImage`): the image and its downscaled copies (*fathers*)
are degraded by the forward model into *sons*, and the ``model:`` learns son → father with
flips/90° rotations (``augment:``) and optional noise on the sons (``zssr.noise``). The model
is then applied to the image itself: ``<out>/sr.tif`` (``zssr.predict``), and ``<out>/model``
is a standard geosr model for ``geosr predict`` (same image, or images of the same
acquisition). A residual model over an interpolation (``care`` with ``upsample: cubic``,
``residual: true``) matches ZSSR's design and trains in minutes on a CPU.

Validation is internal (the whole image and its own son; nothing is held out).

Example
-------
>>> from geosr.train import train
>>> train({"algorithm": "zssr", "scale": 2,
...        "data": {"source": "single", "image": "lr.tif"}, "out": "runs/zssr"})  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from geosr.train.loop import Trainer

__all__ = ["ZeroShotTrainer"]


class ZeroShotTrainer(Trainer):
    """``algorithm: zssr`` (see the module docstring)."""

    def _build_extra(self) -> None:
        self.noise_gen = torch.Generator().manual_seed(int(self.cfg.seed) * 7919 + 11)

    def _train_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> float:
        noise = self.cfg.zssr.noise
        if noise > 0:
            x = x + noise * torch.randn(x.shape, generator=self.noise_gen).to(x)
        return super()._train_step(x, y, lr)

    def _extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {"zssr.noise_gen": self.noise_gen.get_state()}, {}

    def _restore_extra(self, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        if "zssr.noise_gen" in tensors:
            self.noise_gen.set_state(tensors["zssr.noise_gen"])

    def _model_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        return {**spec, "zero_shot": {"image": str(self.cfg.data.image),
                                      "noise": self.cfg.zssr.noise}}

    def _finish(self) -> Path:
        path = super()._finish()
        if self.cfg.zssr.predict:
            from geosr.io import load, save
            from geosr.predict import predict

            image = load(self.cfg.data.image)
            save(predict(image, path, device=self.cfg.train.device if
                         self.cfg.train.device != "auto" else "auto"), self.out / "sr.tif")
        return path
