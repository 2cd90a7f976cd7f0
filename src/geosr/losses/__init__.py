"""Losses behind a registry that other stages extend (pixel, structural, geometry-aware).

- :func:`register_loss` — decorator registering a loss factory under a name.
- :func:`build_loss` — a name (+ options), a ``{name, weight, ...}`` mapping or a list of them
  (weighted sum); unknown names/options raise :class:`geosr.core.ConfigError` listing the
  allowed ones.
- :func:`available_losses` — the registered names (built in: ``l1``, ``mse``,
  ``charbonnier``, ``ssim``; geometry-aware: ``cldice``, ``skeleton_recall``, ``porosity``,
  ``gradient``, ``fourier``, ``persistence`` (needs ``cripser``), ``euler``).
- :func:`ssim`, :func:`ssim_map` — the differentiable SSIM (Gaussian window, 2D/3D).

>>> from geosr.losses import available_losses
>>> {"l1", "ssim", "cldice"} <= set(available_losses())
True
"""

from geosr.losses.registry import available_losses, build_loss, loss_factory, register_loss

__all__ = ["register_loss", "build_loss", "available_losses", "loss_factory",
           "ssim", "ssim_map", "WeightedSum"]


def __getattr__(name: str):
    if name in ("ssim", "ssim_map"):
        from geosr.losses import structural as _ssim_module

        return getattr(_ssim_module, name)
    if name == "WeightedSum":
        from geosr.losses.combined import WeightedSum

        return WeightedSum
    raise AttributeError(f"module 'geosr.losses' has no attribute {name!r}")
