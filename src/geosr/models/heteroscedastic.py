"""Heteroscedastic output head: any registered architecture wrapped to predict, besides the
super-resolved mean ``μ``, a per-pixel log-variance ``log σ²`` on the HR grid (Kendall & Gal
2017) — the *aleatoric* part of the error: how far, for inputs like the training data, the
target typically lies from the prediction (noise, unresolvable detail).

``hetero`` (registered model) builds ``base`` (any other registered name, with
``base_arguments``, a JSON object string as for ``geo``) with one extra output channel per image
channel. ``forward(x)`` returns the mean only, so prediction, validation, TTA, ensembles and the
model files work unchanged; :meth:`Heteroscedastic.forward_with_aux` returns ``(μ, log σ²)``
and :meth:`Heteroscedastic.predict_std` the standard deviation ``σ`` (normalised units: the
trust layer multiplies by the normalisation range ``hi − lo`` to get intensity units).

Training (the trainer adds ``aux_weight · aux_loss`` to the configured pixel loss): the
Gaussian negative log-likelihood per pixel ``½·(y − μ)²/σ² + ½·log σ²`` (constant dropped),
averaged. Choices:

- **plain NLL on a detached mean** (default, ``mean_gradient=False``): the configured pixel
  loss alone shapes the prediction; the head learns only how large the residual of *that*
  prediction is. Its optimum per pixel is ``σ² = E[(y − μ)² | x]`` whatever the weighting, so
  β-NLL's reweighting (which exists to repair the mean's fit) buys nothing here, and the
  gradient in ``log σ²``, ``½(1 − r²/σ²)``, is already scale-free across noise levels.
- ``mean_gradient=True``: the NLL also trains the mean, as β-NLL (Seitzer et al. 2022) with
  weight ``stopgrad(σ²)^β`` (``beta=0.5``; ``beta=0`` is Kendall & Gal's plain NLL, whose
  ``1/σ²`` weight lets the mean ignore the noisy pixels).
- ``log σ²`` is **soft-clamped** to ``[2 ln sd_min, 2 ln sd_max]`` (softplus walls, gradients
  never exactly zero): a pixel whose residual happens to be ≈ 0 would otherwise drive
  ``σ → 0`` and ``r²/σ²`` to overflow on the next batch. The raw output is offset by
  ``2 ln init_sd`` so an untrained head starts at ``σ ≈ init_sd`` rather than 1.

The σ is aleatoric only (it cannot know what the model never saw: known to be over-confident
on out-of-distribution inputs) and uncalibrated: use it as the size map of conformal
calibration (:mod:`geosr.trust`) before reading it as an interval.

Example
-------
>>> import torch
>>> from geosr.models import build_model
>>> net = build_model("hetero", dims=2, scale=2, base="espcn",
...                   base_arguments='{"features": 8}')
>>> x = torch.rand(2, 1, 12, 12)
>>> mean, log_var = net.forward_with_aux(x)
>>> net(x).shape, log_var.shape, bool(net.predict_std(x).min() > 0)
(torch.Size([2, 1, 24, 24]), torch.Size([2, 1, 24, 24]), True)
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from geosr.core.errors import ConfigError
from geosr.models.layers import Interpolate, SRModel, check_float, check_int
from geosr.models.registry import build_wrapped_base, register_model

__all__ = ["Heteroscedastic", "hetero", "gaussian_nll"]


def gaussian_nll(mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor,
                 beta: float = 0.0) -> torch.Tensor:
    """Mean per-pixel Gaussian NLL ``½·(y − μ)²/σ² + ½·log σ²`` (β-NLL weight
    ``stopgrad(σ²)^β`` when ``beta > 0``)."""
    nll = 0.5 * ((target - mean) ** 2 * torch.exp(-log_var) + log_var)
    if beta:
        nll = nll * torch.exp(beta * log_var.detach())
    return nll.mean()


class Heteroscedastic(SRModel):
    """The ``hetero`` wrapper (see the module docstring)."""

    has_aux = True                 # the trainer calls forward_with_aux / aux_loss
    has_variance_head = True       # the trust layer offers the σ map

    def __init__(self, dims: int, scale: Sequence[int], in_channels: int, out_channels: int,
                 base: nn.Module, aux_weight: float, sd_min: float, sd_max: float,
                 init_sd: float, mean_gradient: bool, beta: float, skip: str | None):
        super().__init__(dims, scale, in_channels, out_channels)
        self.base = base
        self.aux_weight = float(aux_weight)
        self.log_var_min, self.log_var_max = 2 * math.log(sd_min), 2 * math.log(sd_max)
        self.log_var_offset = 2 * math.log(init_sd)
        self.mean_gradient, self.beta = bool(mean_gradient), float(beta)
        self.skip = Interpolate(dims, self.scale, skip) if skip else None
        self.alignment = tuple(getattr(base, "alignment", (1,) * dims))

    def _clamp(self, raw: torch.Tensor) -> torch.Tensor:
        lv = raw + self.log_var_offset
        lv = self.log_var_min + F.softplus(lv - self.log_var_min)
        return self.log_var_max - F.softplus(self.log_var_max - lv)

    def forward_with_aux(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(μ, log σ²)`` on the HR grid, normalised units."""
        out = self.base(x)
        c = self.out_channels
        mean = out[:, :c]
        if self.skip is not None:
            mean = mean + self.skip(x)
        return mean, self._clamp(out[:, c:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_aux(x)[0]

    def predict_variance(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted ``σ²`` per pixel (normalised units squared)."""
        return torch.exp(self.forward_with_aux(x)[1])

    def predict_std(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted ``σ`` per pixel (normalised units; × ``hi − lo`` for intensities)."""
        return torch.exp(0.5 * self.forward_with_aux(x)[1])

    def aux_loss(self, log_var: torch.Tensor, target: torch.Tensor,
                 pred: torch.Tensor | None = None) -> torch.Tensor:
        """Gaussian NLL of ``target`` under ``N(pred, exp(log_var))`` (see the module
        docstring); ``pred`` is the mean from the same :meth:`forward_with_aux` call."""
        if pred is None:
            raise ConfigError("the heteroscedastic loss needs the predicted mean",
                              where="aux_loss", hint="call aux_loss(log_var, y, pred=mean)")
        mean = pred if self.mean_gradient else pred.detach()
        return gaussian_nll(mean, log_var, target, self.beta if self.mean_gradient else 0.0)


@register_model("hetero", narrow={"narrow": True})
def hetero(*, dims: int, scale: tuple[int, ...], in_channels: int, out_channels: int,
           base: str = "fsrcnn", base_arguments: str = "{}", aux_weight: float = 0.1,
           sd_min: float = 1e-3, sd_max: float = 10.0, init_sd: float = 0.1,
           mean_gradient: bool = False, beta: float = 0.5,
           narrow: bool = False) -> Heteroscedastic:
    """Heteroscedastic wrapper of ``base`` (see the module docstring).

    Parameters
    ----------
    base, base_arguments:
        The wrapped architecture and its arguments as a JSON object string
        (e.g. ``'{"preset": "light"}'``); any registered model but ``hetero``.
    aux_weight:
        Weight of the NLL added to the configured pixel loss in training.
    sd_min, sd_max, init_sd:
        Soft bounds and starting value of σ in normalised units (fractions of the input's
        percentile range ``hi − lo``).
    mean_gradient, beta:
        Let the NLL train the mean too, as β-NLL with this β (default: it does not).
    narrow:
        Internal: build the base thin (receptive-field measurement).
    """
    aux_weight = check_float("aux_weight", aux_weight, 0.0)
    sd_min = check_float("sd_min", sd_min, 1e-8)
    sd_max = check_float("sd_max", sd_max, sd_min * 10)
    init_sd = check_float("init_sd", init_sd, sd_min, sd_max)
    beta = check_float("beta", beta, 0.0, 1.0)
    check_int("out_channels", out_channels)
    # a care base loses its residual with the extra channel: the wrapper adds it to the mean
    module, skip = build_wrapped_base(
        "hetero", base, base_arguments, dims=dims, scale=scale, in_channels=in_channels,
        out_channels=out_channels, base_in=in_channels, base_out=2 * out_channels,
        narrow=narrow)
    return Heteroscedastic(dims, scale, in_channels, out_channels, module, aux_weight,
                           sd_min, sd_max, init_sd, bool(mean_gradient), beta, skip)
