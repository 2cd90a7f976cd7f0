"""Config sections of the adversarial, unpaired, zero-shot and isotropic trainers
(``adversarial:``, ``cyclegan:``, ``zssr:``, ``isotropic:`` of :class:`geosr.train.config.
TrainConfig`). Every section has defaults; a section is only read by its algorithm.

Example (YAML)::

    algorithm: pix2pix
    model: {name: unet_pix2pix}
    loss: l1
    adversarial: {loss: lsgan, weight: 0.01, receptive_field: 34, spectral_norm: true,
                  d_lr: 2.0e-4, sample_every: 100}
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import Field

from geosr.core.config import StrictModel

__all__ = ["AdversarialConfig", "CycleGANConfig", "ZSSRConfig", "IsotropicConfig"]


_Strict = StrictModel   # the one definition: geosr.core.config


class AdversarialConfig(_Strict):
    """The GAN part of ``pix2pix`` and ``cyclegan``.

    ``loss``: ``lsgan`` (least squares, Mao et al. 2017), ``hinge`` or ``vanilla`` (BCE).
    ``weight``: weight of the generator's adversarial term next to the content loss (``loss:``;
    null: 0.01 for pix2pix — its λ_L1 = 100 —, 1.0 for CycleGAN next to its cycle terms).
    ``receptive_field``: PatchGAN field in HR pixels (rounded to 16, 34, 70, 142...;
    CycleGAN's LR discriminator: this / scale, at least 16). ``ndf``/``norm``: width and
    normalisation of D.
    ``spectral_norm``: spectral normalisation of D. ``gradient_penalty``: weight of the R1
    penalty ``γ/2·E‖∇D(real)‖²`` (0: off). ``d_lr``/``d_schedule``/``d_betas``: D's optimiser
    (null: the generator's ``train.lr``/``train.schedule``). ``pool_size``: image-pool history
    of fakes shown to D (Shrivastava et al. 2017; 0: off). ``sample_every``: steps between PNG
    sample grids in ``<out>/samples`` (null: at every validation; 0: never). ``warmup``: first
    steps with the content loss only (D still learns).
    """

    loss: Literal["lsgan", "hinge", "vanilla"] = "lsgan"
    weight: Optional[Annotated[float, Field(ge=0)]] = None
    receptive_field: Annotated[int, Field(ge=8, le=600)] = 70
    ndf: Annotated[int, Field(ge=1)] = 32
    norm: Literal["batch", "instance", "none"] = "instance"
    spectral_norm: bool = False
    gradient_penalty: Annotated[float, Field(ge=0)] = 0.0
    d_lr: Optional[Annotated[float, Field(gt=0)]] = None
    d_schedule: Optional[Literal["cosine", "step", "constant"]] = None
    d_betas: tuple[Annotated[float, Field(ge=0, lt=1)],
                   Annotated[float, Field(ge=0, lt=1)]] = (0.5, 0.999)
    pool_size: Annotated[int, Field(ge=0)] = 0
    sample_every: Optional[Annotated[int, Field(ge=0)]] = None
    warmup: Annotated[int, Field(ge=0)] = 0


class CycleGANConfig(_Strict):
    """Unpaired SR with a cycle: G (the ``model:``) maps LR→HR, F maps HR→LR.

    ``backward``: ``learned`` (F is a small strided CNN trained with its own discriminator on
    the LR domain) or ``physics`` (F is the known forward model — Gaussian blur of FWHM
    ``fwhm_um`` then block-mean binning — fixed, a physics-informed cycle; only the HR
    discriminator is trained). ``fwhm_um``: the PSF of the physics F in µm (null: the midpoint
    of ``data.degradation.fwhm_um``, else one LR pixel). ``cycle_weight``: weight of
    ``‖F(G(x)) − x‖₁`` (+ ``‖G(F(y)) − y‖₁``). ``identity_weight``: weight of
    ``‖bin(G(x)) − x‖₁`` — the identity term adapted to a change of grid: the output binned
    back to the input grid keeps the input's intensities. ``f_features``: width of the
    learned F.
    """

    backward: Literal["learned", "physics"] = "learned"
    fwhm_um: Optional[Annotated[float, Field(gt=0)]] = None
    #: the physics F from a measured forward_model.json (geosr pairs register): its PSF per
    #: axis (default: data.degradation.forward when that is set)
    forward: Optional[Path] = None
    cycle_weight: Annotated[float, Field(ge=0)] = 10.0
    identity_weight: Annotated[float, Field(ge=0)] = 1.0
    f_features: Annotated[int, Field(ge=1)] = 16


class ZSSRConfig(_Strict):
    """Zero-shot SR (Shocher et al., CVPR 2018) on ``data: {source: single}`` (its fathers,
    sons and pyramid are set there). ``noise``: std of Gaussian noise added to the sons
    (normalised units; 0: none). ``predict``: after training, super-resolve the input image
    itself into ``<out>/sr.tif``."""

    noise: Annotated[float, Field(ge=0)] = 0.0
    predict: bool = True


class IsotropicConfig(_Strict):
    """Isotropic reconstruction (CSBDeep's idea, Weigert et al. 2017) on
    ``data: {source: anisotropic}``: ``scale`` is the z/xy sampling ratio; lateral planes
    degraded along one axis teach a 2D model (per-axis scale ``[scale, 1]``) to restore that
    axis; prediction applies it to the XZ and YZ planes and averages (``planes: both``) or
    uses one set (``xz``/``yz``). ``predict``: after training, reconstruct the training stack
    into ``<out>/isotropic.tif``. ``init``: ``interpolation`` (default) zeroes the last layer
    of a residual model (``care``, ``unet_pix2pix`` with ``residual: true``), so training
    starts from the model's own z-interpolation (``upsample: cubic`` recommended) and only
    learns a correction — short runs then no longer fall below the classical interpolation;
    ``random``: the architecture's own initialisation (no effect on non-residual models)."""

    planes: Literal["both", "xz", "yz"] = "both"
    predict: bool = True
    init: Literal["interpolation", "random"] = "interpolation"
