"""pix2pix (Isola et al., CVPR 2017) for SR, and the GAN tools shared with CycleGAN.

:class:`Pix2PixTrainer` (``algorithm: pix2pix``) trains the ``model:`` (the ``unet_pix2pix``
generator by default in the examples; any registry model works) with the content loss of
``loss:`` (L1 and any registry terms: geometry-aware ones too) plus ``adversarial.weight`` ×
the generator's adversarial loss against a conditional PatchGAN
(:class:`geosr.models.discriminator.PatchDiscriminator`) that sees the bilinearly upsampled
input next to the real or generated HR patch. Per step: one D update (on a fake from the image
pool when ``adversarial.pool_size`` > 0, with an optional R1 gradient penalty), then one G
update. D has its own Adam, learning rate and schedule; its weights and optimiser state are
in every checkpoint (``disc.*``, ``dopt.*``), so runs resume bit-identically. The saved model
folder holds the generator only (a standard geosr model).

The CSV log's ``loss`` is the generator's *content* loss; ``<out>/gan.csv`` has the
discriminator loss and the generator's adversarial loss per logging interval, and
``<out>/samples/step-NNNNNNNN.png`` grids (rows: bicubic input | output | target of a fixed
validation crop) every ``adversarial.sample_every`` steps.

Example
-------
>>> from geosr.train import train
>>> train(data="dentin", scale=4, model="unet_pix2pix", algorithm="pix2pix",
...       steps=500, out="runs/p2p")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F

from geosr.core.image import Image
from geosr.core.per_axis import per_axis
from geosr.train.checkpoint import optimizer_from_flat, optimizer_to_flat
from geosr.train.loop import Trainer, _finite
from geosr.train.schedule import Schedule

__all__ = ["Pix2PixTrainer", "gan_loss", "ImagePool", "GanParts", "save_sample_grid",
           "upsample_like"]


# ----------------------------------------------------------------------------- GAN helpers
def gan_loss(kind: str, logits: torch.Tensor, real: bool, *, for_d: bool) -> torch.Tensor:
    """The loss of PatchGAN ``logits`` labelled ``real`` (``lsgan``: ``(D−1)²``/``D²``;
    ``hinge``: ``relu(1∓D)`` for D, ``−D`` for G; ``vanilla``: binary cross-entropy)."""
    if kind == "lsgan":
        return ((logits - (1.0 if real else 0.0)) ** 2).mean()
    if kind == "hinge":
        if not for_d:
            return -logits.mean()
        return F.relu(1.0 - logits).mean() if real else F.relu(1.0 + logits).mean()
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


class ImagePool:
    """History of generated images (Shrivastava et al. 2017): with probability ½ a stored fake
    replaces the new one (which takes its slot). ``size`` 0: a pass-through. Seeded; the
    stored images are saved in checkpoints via :meth:`state`."""

    def __init__(self, size: int, seed: Any):
        self.size = int(size)
        self.rng = np.random.default_rng(seed)
        self.images: list[torch.Tensor] = []

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return batch
        out = []
        for image in batch.detach():
            image = image[None]
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self.rng.random() < 0.5:
                k = int(self.rng.integers(self.size))
                out.append(self.images[k].clone())
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state(self, prefix: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {f"{prefix}.{i}": t.cpu() for i, t in enumerate(self.images)}
        return tensors, {"count": len(self.images), "rng": self.rng.bit_generator.state}

    def restore(self, prefix: str, tensors: dict[str, torch.Tensor], info: dict[str, Any],
                device: torch.device) -> None:
        self.images = [tensors[f"{prefix}.{i}"].to(device) for i in range(info.get("count", 0))]
        if "rng" in info:
            self.rng.bit_generator.state = info["rng"]


def upsample_like(x: torch.Tensor, scale: Any) -> torch.Tensor:
    """Linear (bi-/trilinear) upsampling of ``x`` by ``scale`` (int or per axis)."""
    mode = "bilinear" if x.dim() == 4 else "trilinear"
    factors = per_axis(scale, x.dim() - 2, where="scale", positive=True)
    return F.interpolate(x, scale_factor=factors, mode=mode,
                         align_corners=False)


def save_sample_grid(path: Path, rows: list[list[np.ndarray]]) -> Path:
    """Write a PNG grid (uint8, each tile scaled to its row's 1st–99th percentile of the last
    tile, the target) of 2D arrays of equal size per row; 3D tiles show their middle plane."""
    from geosr.io import save

    tiles_rows = []
    for row in rows:
        row = [t[t.shape[0] // 2] if t.ndim == 3 else t for t in row]
        lo, hi = np.percentile(row[-1], [1, 99])
        hi = hi if hi > lo else lo + 1
        scaled = [np.clip((t - lo) / (hi - lo), 0, 1) for t in row]
        gap = np.ones((scaled[0].shape[0], 2))
        tiles_rows.append(np.concatenate(sum([[t, gap] for t in scaled], [])[:-1], axis=1))
    width = max(r.shape[1] for r in tiles_rows)
    padded = [np.pad(r, ((0, 2), (0, width - r.shape[1])), constant_values=1)
              for r in tiles_rows]
    grid = (np.concatenate(padded, axis=0) * 255).round().astype(np.uint8)
    return save(Image(grid, "YX", unit="pixel"), path)


class GanParts:
    """A discriminator with its optimiser, schedule and image pool (one per GAN side)."""

    def __init__(self, trainer: Trainer, name: str, in_channels: int, seed_key: int,
                 field_divisor: int = 1):
        """``field_divisor``: the discriminator's receptive field is
        ``adversarial.receptive_field / field_divisor`` (CycleGAN's LR-domain discriminator
        judges patches ``scale`` times smaller)."""
        from geosr.models.discriminator import PatchDiscriminator, layers_for_field

        cfg = trainer.cfg
        a, t = cfg.adversarial, cfg.train
        self.name, self.kind = name, a.loss
        field = max(16, round(a.receptive_field / field_divisor))
        self.net = PatchDiscriminator(trainer.dims, in_channels, ndf=a.ndf,
                                      layers=layers_for_field(field), norm=a.norm,
                                      spectral_norm=a.spectral_norm).to(trainer.device)
        d_lr = a.d_lr or t.lr
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=d_lr, betas=tuple(a.d_betas))
        self.schedule = Schedule(a.d_schedule or t.schedule, lr=d_lr, steps=t.steps,
                                 min_lr=t.min_lr * d_lr / t.lr, step_size=t.step_size,
                                 gamma=t.gamma)
        self.pool = ImagePool(a.pool_size, [cfg.seed, 7, seed_key])
        self.gp = a.gradient_penalty

    def d_step(self, real: torch.Tensor, fake: torch.Tensor, step: int) -> float:
        """One discriminator update; returns its loss."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule(step)
        self.optimizer.zero_grad(set_to_none=True)
        fake = self.pool.query(fake.detach())
        real = real.detach().requires_grad_(self.gp > 0)
        d_real = self.net(real)
        loss = 0.5 * (gan_loss(self.kind, d_real, True, for_d=True)
                      + gan_loss(self.kind, self.net(fake), False, for_d=True))
        if self.gp > 0:   # R1 (Mescheder et al. 2018): gamma/2 * E|grad D(real)|^2
            grad, = torch.autograd.grad(d_real.sum(), real, create_graph=True)
            loss = loss + 0.5 * self.gp * grad.pow(2).flatten(1).sum(1).mean()
        value = _finite(float(loss.detach()), step)
        loss.backward()
        self.optimizer.step()
        return value

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return gan_loss(self.kind, self.net(fake), True, for_d=False)

    def requires_grad(self, flag: bool) -> None:
        for p in self.net.parameters():
            p.requires_grad_(flag)

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        n = self.name
        tensors = {f"{n}.net.{k}": v for k, v in self.net.state_dict().items()}
        opt_t, opt_info = optimizer_to_flat(self.optimizer)
        tensors.update({f"{n}.opt.{k[len('optim.'):]}": v for k, v in opt_t.items()})
        pool_t, pool_info = self.pool.state(f"{n}.pool")
        tensors.update(pool_t)
        return tensors, {"optimizer": opt_info, "pool": pool_info}

    def restore(self, tensors: dict[str, torch.Tensor], info: dict[str, Any],
                device: torch.device) -> None:
        n = self.name
        self.net.load_state_dict({k[len(n) + 5:]: v for k, v in tensors.items()
                                  if k.startswith(f"{n}.net.")})
        opt = {f"optim.{k[len(n) + 5:]}": v for k, v in tensors.items()
               if k.startswith(f"{n}.opt.")}
        optimizer_from_flat(self.optimizer, opt, info["optimizer"])
        self.pool.restore(f"{n}.pool", tensors, info.get("pool", {}), device)


class _GanTrainerMixin:
    """Logging of GAN losses and sample grids, shared by pix2pix and CycleGAN."""

    gan_sums: dict[str, float]

    def _gan_init(self) -> None:
        self.gan_sums, self.gan_count = {}, 0

    def _gan_record(self, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.gan_sums[k] = self.gan_sums.get(k, 0.0) + v
        self.gan_count += 1
        cfg = self.cfg
        if self.step + 1 == 1 or (self.step + 1) % cfg.logging.every == 0 or \
                self.step + 1 == cfg.train.steps:
            self._gan_write()
        every = cfg.adversarial.sample_every
        every = cfg.validation.every if every is None else every
        if every and ((self.step + 1) % every == 0 or self.step + 1 == cfg.train.steps):
            self._sample(self.step + 1)

    def _gan_write(self) -> None:
        if not self.gan_count:
            return
        path = self.out / "gan.csv"
        keys = sorted(self.gan_sums)
        new = not path.exists()
        self.out.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            if new:
                fh.write(",".join(["step"] + keys) + "\n")
            fh.write(",".join([str(self.step + 1)] + [f"{self.gan_sums[k] / self.gan_count:.6g}"
                                                      for k in keys]) + "\n")
        self.gan_sums, self.gan_count = {}, 0

    @torch.no_grad()
    def _sample(self, step: int) -> Optional[Path]:
        from geosr.resample import upscale

        if not self.val_images:
            return None
        image = self.val_images[0]
        crop = tuple(slice(0, min(n, 64 if self.dims == 2 else 16)) for n in image.lr.shape[2:])
        lr = image.lr[(slice(None), slice(None)) + crop]
        scale = self._sample_scale()
        hr = image.hr[(slice(None), slice(None)) + tuple(
            slice(0, c.stop * s) for c, s in zip(crop, scale))]
        was = self.model.training
        self.model.eval()
        try:
            pred = self.model(lr.to(self.device)).float().cpu()
        finally:
            self.model.train(was)
        bicubic = upscale(lr[0, 0].double().numpy(), tuple(scale), method="bicubic")
        rows = [[bicubic, pred[0, 0].numpy(), hr[0, 0].numpy()]]
        return save_sample_grid(self.out / "samples" / f"step-{step:08d}.png", rows)

    def _sample_scale(self) -> tuple[int, ...]:
        return (self.cfg.scale,) * self.dims


class Pix2PixTrainer(_GanTrainerMixin, Trainer):
    """``algorithm: pix2pix`` (see the module docstring)."""

    def _build_extra(self) -> None:
        self.disc = GanParts(self, "disc", 2 * self.data.channels, 0)
        self._gan_init()

    def _train_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> float:
        cfg = self.cfg
        a = cfg.adversarial
        cond = upsample_like(x, cfg.scale)
        fake = self.model(x)
        d_loss = self.disc.d_step(torch.cat([cond, y], 1), torch.cat([cond, fake.detach()], 1),
                                  self.step)
        self.disc.requires_grad(False)
        self.optimizer.zero_grad(set_to_none=True)
        content = self.loss_fn(fake, y)
        total = content
        adv = torch.zeros(())
        weight = 0.01 if a.weight is None else a.weight
        if self.step >= a.warmup and weight > 0:
            adv = self.disc.g_loss(torch.cat([cond, fake], 1))
            total = content + weight * adv
        value = _finite(float(content.detach()), self.step)
        total.backward()
        if cfg.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.train.grad_clip)
        self.optimizer.step()
        self.disc.requires_grad(True)
        self._gan_record({"d_loss": d_loss, "g_adv": float(adv.detach()),
                          "g_content": value})
        return value

    def _extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors, info = self.disc.state()
        return tensors, {"disc": info}

    def _restore_extra(self, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        self.disc.restore(tensors, info["disc"], self.device)
