"""CycleGAN for unpaired SR (Zhu et al., ICCV 2017), with an optional physics-informed cycle.

``algorithm: cyclegan``. G — the ``model:`` — maps LR→HR (with upsampling); F maps HR→LR:
either a small learned network (``cyclegan.backward: learned``: block-mean binning plus a
strided-CNN residual, judged by an LR discriminator whose receptive field is
``adversarial.receptive_field / scale``, at least 16 LR pixels) or the known forward model
(``backward: physics``: Gaussian PSF of ``cyclegan.fwhm_um`` then block-mean binning, fixed —
the physics-informed cycle, which removes one generator and one discriminator and stabilises
training). Losses of G (and F)::

    adversarial.weight · [D_HR adversarial of G(x)  (+ D_LR of F(y))]
    + cycle_weight · [‖F(G(x)) − x‖₁ + loss(G(F(y)), y)]      loss = the ``loss:`` terms
    + identity_weight · ‖bin(G(x)) − x‖₁                        bin = block mean by scale

``x`` are LR patches and ``y`` HR patches drawn *independently* (:class:`UnpairedSampler`):
from the unmatched LR images of ``source: unpaired`` / ``unpaired_phantom``, or — with a
paired source — from independent positions of the training pairs (weakly unpaired).
Validation scores G on held-out HR images degraded by the forward model (synthetic pairs).
The CSV ``loss`` is the cycle loss; ``gan.csv`` has the rest. The model folder holds G only.

Example
-------
>>> from geosr.train import train
>>> train({"algorithm": "cyclegan", "data": {"source": "unpaired_phantom"},
...        "model": {"name": "unet_pix2pix"}, "out": "runs/cg"})  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geosr.data.sampling import PatchSampler
from geosr.train.adversarial import GanParts, _GanTrainerMixin
from geosr.train.checkpoint import optimizer_from_flat, optimizer_to_flat
from geosr.train.loop import Trainer, _finite

__all__ = ["CycleGANTrainer", "UnpairedSampler", "PhysicsForward", "LearnedForward",
           "block_mean"]

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def block_mean(y: torch.Tensor, scale: int) -> torch.Tensor:
    """Mean over non-overlapping ``scale`` blocks (area binning)."""
    pool = F.avg_pool2d if y.dim() == 4 else F.avg_pool3d
    return pool(y, scale)


class PhysicsForward(nn.Module):
    """The forward model in torch: separable Gaussian blur (``sigma_px`` HR pixels per axis,
    reflect padding, kernel truncated at 4 σ) then block-mean binning by ``scale`` — the
    operator of :class:`geosr.degrade.BlurDownsample` without noise (identical away from the
    border; torch's reflection omits the edge pixel, scipy's repeats it). No parameters."""

    def __init__(self, dims: int, scale: int, sigma_px: tuple[float, ...]):
        super().__init__()
        self.dims, self.scale = dims, scale
        self.kernels = []
        for s in sigma_px:
            r = max(1, int(4.0 * s + 0.5))
            t = torch.arange(-r, r + 1, dtype=torch.float32)
            k = torch.exp(-0.5 * (t / max(s, 1e-6)) ** 2)
            self.kernels.append(k / k.sum())

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        n, c = y.shape[:2]
        out = y
        conv = F.conv2d if self.dims == 2 else F.conv3d
        for axis, k in enumerate(self.kernels):
            r = (k.numel() - 1) // 2
            shape = [1] * self.dims
            shape[axis] = k.numel()
            weight = k.to(out).reshape(1, 1, *shape).repeat(c, 1, *([1] * self.dims))
            pad = [0, 0] * self.dims
            pad[2 * (self.dims - 1 - axis)] = pad[2 * (self.dims - 1 - axis) + 1] = r
            out = conv(F.pad(out, pad, mode="reflect"), weight, groups=c)
        return block_mean(out, self.scale)


class LearnedForward(nn.Module):
    """A learned HR→LR generator: block mean plus a strided-CNN residual."""

    def __init__(self, dims: int, scale: int, channels: int, features: int = 16):
        super().__init__()
        from geosr.models.layers import conv

        self.scale = scale
        self.net = nn.Sequential(
            conv(dims, channels, features, 3), nn.LeakyReLU(0.2, True),
            conv(dims, features, features, scale, stride=scale, padding=0),
            nn.LeakyReLU(0.2, True), conv(dims, features, channels, 3))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return block_mean(y, self.scale) + self.net(y)


class UnpairedSampler:
    """Draw LR patches and HR patches independently: ``sample`` returns
    ``(x from lr_sampler, y from hr_sampler, info)``; the state of both goes in checkpoints."""

    def __init__(self, hr_sampler: PatchSampler, lr_sampler: PatchSampler):
        self.hr, self.lr = hr_sampler, lr_sampler
        self.foreground_fraction = hr_sampler.foreground_fraction

    def sample(self, batch_size: int):
        x, _, info_lr = self.lr.sample(batch_size)
        _, y, info_hr = self.hr.sample(batch_size)
        return x, y, {"lr": info_lr, "hr": info_hr}

    def state_dict(self) -> dict[str, Any]:
        return {"hr": self.hr.state_dict(), "lr": self.lr.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.hr.load_state_dict(state["hr"])
        self.lr.load_state_dict(state["lr"])


def _mid(param: Any) -> float | None:
    """Midpoint of a degradation parameter (number, [low, high], {low, high}, {value})."""
    if param is None:
        return None
    if isinstance(param, (int, float)):
        return float(param)
    if isinstance(param, (list, tuple)):
        return float(np.mean([_mid(v) for v in param]))
    for keys in (("low", "high"), ("value",)):
        values = [getattr(param, k, None) for k in keys]
        if all(v is not None for v in values):
            return float(np.mean([_mid(v) for v in values]))
    return None


class CycleGANTrainer(_GanTrainerMixin, Trainer):
    """``algorithm: cyclegan`` (see the module docstring)."""

    def _build_extra(self) -> None:
        cfg = self.cfg
        c, s = self.data.channels, cfg.scale
        lr_pairs = getattr(self.data, "lr_only", None) or self.data.train
        lr_sampler = PatchSampler(lr_pairs, self.lr_patch, s,
                                  foreground_bias=cfg.patch.foreground_bias,
                                  foreground_percentile=cfg.patch.foreground_percentile,
                                  augmenter=self.augmenter,
                                  seed=np.random.default_rng([cfg.seed, 5]))
        self.sampler = UnpairedSampler(self.sampler, lr_sampler)
        self.disc = GanParts(self, "disc", c, 0)
        g = cfg.cyclegan
        if g.backward == "physics":
            spacing = self.data.train[0].spacing_um
            fwhm = g.fwhm_um or _mid(getattr(getattr(cfg.data, "degradation", None),
                                             "fwhm_um", None))
            if fwhm is None:  # modality: ct -> the CT model's linear equivalent (issue 17)
                from geosr.data.ct_ranges import ct_system_fwhm_um

                fwhm = ct_system_fwhm_um(getattr(cfg.data, "degradation", None))
            sigma = tuple((fwhm / sp if fwhm else s) / FWHM_PER_SIGMA for sp in spacing)
            measured = g.forward or getattr(getattr(cfg.data, "degradation", None),
                                            "forward", None)
            if measured is not None and g.fwhm_um is None:
                from geosr.pairs.forward import load_forward_model

                fwhm = load_forward_model(measured)["fwhm_um"][-len(spacing):]
                sigma = tuple(f / sp / FWHM_PER_SIGMA for f, sp in zip(fwhm, spacing))
            self.backward = PhysicsForward(self.dims, s, sigma).to(self.device)
            self.disc_lr, self.f_opt = None, None
            self.forward_info = {"kind": "physics", "fwhm_um": fwhm,
                                 "sigma_hr_px": list(sigma)}
        else:
            self.backward = LearnedForward(self.dims, s, c, g.f_features).to(self.device)
            t = cfg.train
            self.f_opt = torch.optim.Adam(self.backward.parameters(), lr=t.lr,
                                          betas=tuple(t.betas))
            self.disc_lr = GanParts(self, "disc_lr", c, 1, field_divisor=s)
            self.forward_info = {"kind": "learned", "features": g.f_features}
        self._gan_init()

    def _discs(self) -> list[GanParts]:
        return [d for d in (self.disc, self.disc_lr) if d is not None]

    def _train_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> float:
        cfg = self.cfg
        a, g, s = cfg.adversarial, cfg.cyclegan, cfg.scale
        weight = 1.0 if a.weight is None else a.weight
        for d in self._discs():
            d.requires_grad(False)
        self.optimizer.zero_grad(set_to_none=True)
        if self.f_opt is not None:
            self.f_opt.zero_grad(set_to_none=True)
            self.f_opt.param_groups[0]["lr"] = lr
        fake_hr = self.model(x)
        fake_lr = self.backward(y)
        cycle = F.l1_loss(self.backward(fake_hr), x) + self.loss_fn(self.model(fake_lr), y)
        identity = F.l1_loss(block_mean(fake_hr, s), x)
        adv = torch.zeros(())
        if self.step >= a.warmup and weight > 0:
            adv = self.disc.g_loss(fake_hr)
            if self.disc_lr is not None:
                adv = adv + self.disc_lr.g_loss(fake_lr)
        total = weight * adv + g.cycle_weight * cycle + g.identity_weight * identity
        value = _finite(float(cycle.detach()), self.step)
        _finite(float(total.detach()), self.step)
        total.backward()
        if cfg.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.train.grad_clip)
        self.optimizer.step()
        if self.f_opt is not None:
            self.f_opt.step()
        for d in self._discs():
            d.requires_grad(True)
        stats = {"d_hr": self.disc.d_step(y, fake_hr.detach(), self.step),
                 "g_adv": float(adv.detach()), "cycle": value,
                 "identity": float(identity.detach())}
        if self.disc_lr is not None:
            stats["d_lr"] = self.disc_lr.d_step(x, fake_lr.detach(), self.step)
        self._gan_record(stats)
        return value

    def _extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors, info = {}, {"forward": self.forward_info}
        for d in self._discs():
            t, i = d.state()
            tensors.update(t)
            info[d.name] = i
        if self.f_opt is not None:
            tensors.update({f"fnet.{k}": v for k, v in self.backward.state_dict().items()})
            opt_t, opt_info = optimizer_to_flat(self.f_opt)
            tensors.update({f"fopt.{k[len('optim.'):]}": v for k, v in opt_t.items()})
            info["f_optimizer"] = opt_info
        return tensors, info

    def _restore_extra(self, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        for d in self._discs():
            d.restore(tensors, info[d.name], self.device)
        if self.f_opt is not None:
            self.backward.load_state_dict({k[5:]: v for k, v in tensors.items()
                                           if k.startswith("fnet.")})
            optimizer_from_flat(self.f_opt, {f"optim.{k[5:]}": v for k, v in tensors.items()
                                             if k.startswith("fopt.")}, info["f_optimizer"])

