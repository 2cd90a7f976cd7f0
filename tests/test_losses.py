"""Losses: registry, values at identity and on hand cases, gradients, SSIM against scikit-image."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from geosr.core.errors import ConfigError, InputError
from geosr.losses import available_losses, build_loss, register_loss, ssim, ssim_map
from geosr.losses.combined import WeightedSum

BUILTIN = ["charbonnier", "l1", "mse", "ssim"]


def _rand(*shape, seed=0, dtype=torch.float32):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_registry_lists_builtins():
    assert set(BUILTIN) <= set(available_losses())
    assert available_losses() == sorted(available_losses())


def test_unknown_loss_names_allowed_ones():
    with pytest.raises(ConfigError) as err:
        build_loss("perceptual")
    message = str(err.value)
    assert "perceptual" in message
    for name in BUILTIN:
        assert name in message


def test_unknown_option_names_allowed_ones():
    with pytest.raises(ConfigError) as err:
        build_loss("ssim", window=7)
    assert "window" in str(err.value) and "sigma" in str(err.value)
    with pytest.raises(ConfigError):
        build_loss("charbonnier", eps=-1.0)


def test_register_and_build_custom_loss():
    @register_loss("test_abs_mean_diff")
    class AbsMeanDiff(torch.nn.Module):
        def __init__(self, power: float = 1.0):
            super().__init__()
            self.power = power

        def forward(self, pred, target):
            return (pred.mean() - target.mean()).abs() ** self.power

    assert "test_abs_mean_diff" in available_losses()
    loss = build_loss("test_abs_mean_diff", power=2.0)
    assert float(loss(torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))) == 1.0
    with pytest.raises(ConfigError):
        register_loss("test_abs_mean_diff")(lambda: None)


@pytest.mark.parametrize("name", BUILTIN)
@pytest.mark.parametrize("shape", [(2, 1, 24, 24), (1, 2, 14, 16, 18)])
def test_zero_at_identity_and_finite_gradients(name, shape):
    loss = build_loss(name)
    x = _rand(*shape, seed=1)
    assert float(loss(x, x.clone())) == pytest.approx(0.0, abs=1e-6)
    pred = _rand(*shape, seed=2).requires_grad_(True)
    value = loss(pred, x)
    value.backward()
    assert math.isfinite(value.item()) and value.item() > 0
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    same = x.clone().requires_grad_(True)  # gradient at identity (sqrt at 0 for Charbonnier)
    loss(same, x).backward()
    assert torch.isfinite(same.grad).all()


def test_pixel_losses_hand_values():
    pred = torch.tensor([[[[0.0, 3.0], [1.0, -1.0]]]])
    target = torch.zeros_like(pred)
    assert float(build_loss("l1")(pred, target)) == pytest.approx(5.0 / 4)
    assert float(build_loss("mse")(pred, target)) == pytest.approx(11.0 / 4)
    eps = 0.5
    expected = np.mean([math.sqrt(d * d + eps * eps) - eps for d in (0.0, 3.0, 1.0, -1.0)])
    assert float(build_loss("charbonnier", eps=eps)(pred, target)) == pytest.approx(expected)


def test_ssim_of_two_constant_images():
    a, b = 0.2, 0.6
    c1 = 0.01 ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)  # variances and covariance are 0
    for dtype, tol in ((torch.float64, 1e-9), (torch.float32, 1e-5)):
        x = torch.full((1, 1, 16, 16), a, dtype=dtype)
        y = torch.full((1, 1, 16, 16), b, dtype=dtype)
        assert float(ssim(x, y)) == pytest.approx(expected, rel=tol)
        assert float(build_loss("ssim")(x, y)) == pytest.approx(1 - expected, rel=tol * 10)


@pytest.mark.parametrize("shape", [(40, 48), (20, 24, 22)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ssim_loss_matches_skimage(shape, dtype):
    rng = np.random.default_rng(3)
    a = rng.random(shape)
    b = np.clip(a + 0.2 * rng.standard_normal(shape), 0, 1)
    reference = structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False, data_range=1.0)
    ta = torch.tensor(a, dtype=dtype)[None, None]
    tb = torch.tensor(b, dtype=dtype)[None, None]
    loss = float(build_loss("ssim")(ta, tb))
    assert abs(loss - (1.0 - reference)) < 1e-4


def test_ssim_map_is_valid_region_and_window_checked():
    x = _rand(1, 1, 30, 20)
    assert ssim_map(x, x).shape == (1, 1, 20, 10)  # 11-pixel window, valid positions
    with pytest.raises(InputError):
        ssim(_rand(1, 1, 8, 8), _rand(1, 1, 8, 8))
    with pytest.raises(InputError):
        build_loss("l1")(_rand(1, 1, 8, 8), _rand(1, 1, 8, 9))


def test_weighted_sum_of_terms():
    pred, target = _rand(2, 1, 16, 16, seed=4), _rand(2, 1, 16, 16, seed=5)
    loss = build_loss([{"name": "l1", "weight": 1.0}, {"name": "mse", "weight": 0.5},
                       {"name": "ssim", "weight": 0.2, "sigma": 1.0}])
    assert isinstance(loss, WeightedSum)
    value = float(loss(pred, target))
    l1 = float((pred - target).abs().mean())
    mse = float(((pred - target) ** 2).mean())
    s = float(ssim(pred, target, sigma=1.0))
    assert value == pytest.approx(l1 + 0.5 * mse + 0.2 * (1 - s), rel=1e-5)
    assert set(loss.last_terms) == {"l1", "mse", "ssim"}
    assert loss.describe()[1] == {"name": "mse", "weight": 0.5}


def test_weighted_sum_errors():
    with pytest.raises(ConfigError):
        build_loss([])
    with pytest.raises(ConfigError):
        build_loss([{"name": "l1", "weight": 0.0}])
    with pytest.raises(ConfigError) as err:
        build_loss([{"name": "l1"}, {"name": "nope"}])
    assert "nope" in str(err.value) and "charbonnier" in str(err.value)
