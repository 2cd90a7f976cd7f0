"""Architectures, registry, summary (parameters, FLOPs, receptive field) and device choice."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from geosr.core.errors import ConfigError
from geosr.models import available_models, build_model, model_arguments, model_summary
from geosr.models.device import resolve_device
from geosr.models.layers import normalize_scale, pixel_shuffle, prime_stages
from geosr.models.summary import count_flops, receptive_field

@pytest.fixture(autouse=True)
def _native_kernels():
    """oneDNN compiles a kernel for every new tensor shape (0.1-2 s each on a busy 2-core
    machine); these tests run many tiny shapes once each, so they use torch's native CPU
    kernels."""
    from geosr.models.summary import native_kernels

    with native_kernels():
        yield


MODELS = ["care", "edsr", "espcn", "fsrcnn", "rcan", "unet_pix2pix"]
# Narrow versions (same structure, few channels) keep the shape sweep fast.
NARROW = {"care": {"features": 4}, "edsr": {"features": 4, "blocks": 2},
          "espcn": {"features": 4, "features2": 4}, "fsrcnn": {"d": 4, "s": 2, "m": 1},
          "rcan": {"features": 4, "groups": 1, "blocks": 2, "reduction": 2},
          "unet_pix2pix": {"ngf": 2}}


def test_registry_lists_every_model_and_imports_lazily():
    assert available_models() == sorted(MODELS + ["geo", "hetero"])  # wrappers: own tests
    code = ("import sys, geosr.models as m; m.available_models(); "
            "bad = [k for k in sys.modules if k == 'torch' or k.startswith('geosr.models.')"
            " and k != 'geosr.models.registry']; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_output_shape(name, dims, scale):
    torch.manual_seed(0)
    model = build_model(name, dims=dims, scale=scale, **NARROW[name]).eval()
    shape = (5, 6) if dims == 2 else (2, 3, 2)
    with torch.no_grad():
        y = model(torch.rand((2, 1) + shape))
    assert tuple(y.shape) == (2, 1) + tuple(n * scale for n in shape)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("scale", [(1, 4, 4), (4, 1, 1), (2, 3, 1)])
def test_anisotropic_3d_scale(name, scale):
    model = build_model(name, dims=3, scale=scale, **NARROW[name]).eval()
    with torch.no_grad():
        y = model(torch.rand(1, 1, 2, 3, 2))
    assert tuple(y.shape[2:]) == (2 * scale[0], 3 * scale[1], 2 * scale[2])


@pytest.mark.parametrize("name", MODELS)
def test_channels(name):
    kw = dict(NARROW[name])
    if name == "care":
        kw["residual"] = False
    model = build_model(name, dims=2, scale=2, in_channels=2, out_channels=3, **kw).eval()
    with torch.no_grad():
        assert tuple(model(torch.rand(1, 2, 4, 4)).shape) == (1, 3, 8, 8)


@pytest.mark.parametrize("name", MODELS)
def test_light_defaults_are_light(name):
    for dims, scales in ((2, (2, 3, 4, 8)), (3, (2, 3, 4))):
        for scale in scales:
            n = sum(p.numel() for p in build_model(name, dims=dims, scale=scale).parameters())
            assert n <= 500_000, (name, dims, scale, n)


def test_fsrcnn_parameter_count_matches_the_paper():
    d, s, m = 56, 12, 4
    model = build_model("fsrcnn", dims=2, scale=2, d=d, s=s, m=m)
    weights = sum(p.numel() for n, p in model.named_parameters()
                  if n.endswith("weight") and p.ndim == 4)
    # Dong et al. 2016: 25d + sd + 9ms² + ds + 81d (conv weights) = 12 464 for (56, 12, 4)
    assert weights == 25 * d + s * d + 9 * m * s * s + d * s + 81 * d == 12464
    biases = d + s + m * s + d + 1
    prelu = d + s + m * s + d
    assert sum(p.numel() for p in model.parameters()) == 12464 + biases + prelu == 12809


def test_presets_give_the_paper_configurations():
    edsr = build_model("edsr", dims=2, scale=2, in_channels=3, preset="baseline")
    assert sum(p.numel() for p in edsr.parameters()) == pytest.approx(1.37e6, rel=0.01)
    rcan = build_model("rcan", dims=2, scale=4, in_channels=3, preset="paper")
    assert sum(p.numel() for p in rcan.parameters()) == pytest.approx(15.6e6, rel=0.02)


def test_pixel_shuffle_matches_torch_in_2d_and_places_3d_subpixels():
    x = torch.rand(2, 12, 3, 5)
    assert torch.equal(pixel_shuffle(x, (2, 2)), nn.PixelShuffle(2)(x))
    # 3D: channel k = (i, j, l) in C order goes to sub-position (i, j, l)
    x = torch.arange(8.0).reshape(1, 8, 1, 1, 1)
    y = pixel_shuffle(x, (2, 2, 2))[0, 0]
    assert [float(y[i, j, k]) for i in range(2) for j in range(2) for k in range(2)] == list(
        range(8))
    assert pixel_shuffle(torch.rand(1, 4, 2, 3, 3), (1, 2, 2)).shape == (1, 1, 2, 6, 6)


def test_scale_helpers():
    assert normalize_scale(3, 2) == (3, 3)
    assert prime_stages((8, 8)) == [(2, 2)] * 3
    assert prime_stages((1, 4, 4)) == [(1, 2, 2), (1, 2, 2)]
    with pytest.raises(ConfigError, match="scale"):
        normalize_scale((2, 2), 3)
    with pytest.raises(ConfigError, match="scale"):
        build_model("edsr", dims=2, scale=0)


def test_unknown_model_or_argument_lists_allowed_values():
    with pytest.raises(ConfigError, match="available: care, edsr"):
        build_model("srgan", dims=2, scale=2)
    with pytest.raises(ConfigError, match="allowed: preset, features, blocks, res_scale"):
        build_model("edsr", dims=2, scale=2, width=3)
    with pytest.raises(ConfigError, match="JSON primitive"):
        build_model("edsr", dims=2, scale=2, features={"a": 1})
    with pytest.raises(ConfigError, match="preset"):
        build_model("rcan", dims=2, scale=2, preset="huge")
    with pytest.raises(ConfigError, match="dims"):
        build_model("espcn", dims=4, scale=2)
    with pytest.raises(ConfigError, match="cubic"):
        build_model("care", dims=3, scale=2, upsample="cubic")
    with pytest.raises(ConfigError, match="deconv_kernel"):
        build_model("fsrcnn", dims=2, scale=12)
    assert "upsampler" in model_arguments("fsrcnn")


def test_receptive_field_of_a_known_stack():
    stack = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(3, 3, 5, padding=2), nn.ReLU(),
                          nn.Conv2d(3, 1, 3, padding=2, dilation=2))
    rf = receptive_field(stack, dims=2)
    assert rf["receptive_field"] == [1 + 2 + 4 + 4] * 2 and rf["halo"] == [5, 5]
    stack3 = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.Conv3d(2, 1, (1, 3, 5),
                                                                    padding=(0, 1, 2)))
    assert receptive_field(stack3, dims=3)["receptive_field"] == [3, 5, 7]
    # ESPCN works on the LR grid: 5x5 + 3x3 + 3x3 -> 9; the 3D twin shortcut agrees
    assert receptive_field("espcn", dims=2, scale=3)["receptive_field"] == [9, 9]
    assert receptive_field("espcn", dims=3, scale=(1, 2, 2))["receptive_field"] == [9, 9, 9]
    direct = receptive_field(build_model("espcn", dims=3, scale=2, features=2, features2=2),
                             dims=3, scale=2)
    assert direct["receptive_field"] == [9, 9, 9]


def test_global_context_is_reported():
    rf = receptive_field("rcan", dims=2, scale=2, groups=1, blocks=1)
    assert rf["receptive_field"] is None and rf["global_context"]
    # head + 2 block convs + group conv + body conv + upsampler conv on LR = 6 -> reach 6,
    # plus the tail conv on the x2 grid (half a pixel) -> 7
    assert rf["halo"] == [7, 7]


def test_flops_of_a_single_conv_equal_the_hand_count():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    counted = count_flops(conv, torch.zeros(1, 3, 16, 16))
    assert counted["macs"] == 16 * 16 * 8 * 3 * 9
    summary = model_summary(conv, dims=2, scale=1, in_channels=3, input_size=16)
    assert summary["flops_per_output_pixel"] == 2 * 8 * 3 * 9 == 432
    assert summary["parameters"] == 8 * 3 * 9 + 8
    deconv = nn.ConvTranspose2d(4, 2, 9, stride=3, padding=3)
    assert count_flops(deconv, torch.zeros(1, 4, 5, 5))["macs"] == 5 * 5 * 4 * 2 * 81


def test_model_summary_of_espcn():
    s = model_summary("espcn", dims=2, scale=2)
    macs_per_lr_pixel = 25 * 64 + 9 * 64 * 32 + 9 * 32 * 4
    assert s["flops_per_output_pixel"] == pytest.approx(2 * macs_per_lr_pixel / 4)
    assert s["parameters"] == 21284 and s["receptive_field"] == [9, 9]
    assert "multiply-accumulates" in s["flops_convention"]


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ConfigError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            resolve_device("cuda")
        with pytest.raises(ConfigError, match="CUDA"):
            resolve_device("cuda:1")
