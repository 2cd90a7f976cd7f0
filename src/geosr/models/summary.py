"""What a model costs and how far it sees: parameters, FLOPs per output pixel/voxel, receptive
field, and an activation-memory estimate (used by :mod:`geosr.predict` to size tiles).

Conventions
-----------
- **FLOPs** = 2 × multiply-accumulates (MACs) of the convolution, transposed-convolution and
  linear layers, measured by forward hooks on one forward pass of a ``(1, C_in, *input_size)``
  input; biases, activations, normalisation, pooling, attention products, interpolation and
  additions are not counted. A convolution costs ``out.numel() · C_in/groups · ∏kernel``
  MACs, a transposed convolution ``in.numel() · C_out/groups · ∏kernel``. Reported per
  spatial output location (pixel in 2D, voxel in 3D; all output channels included) — nearly
  independent of the input size (zero-padding borders are counted as real work).
- **Receptive field** is *measured*, in input pixels per axis: the support of the gradient,
  with respect to the input, of the ``s`` output pixels per axis that belong to one input
  pixel (for U-Nets, for each phase of the pooling grid, i.e. each of ``alignment``
  consecutive input pixels). Each axis is measured on a slab (long along it, a few pixels
  across: the extent along one axis does not depend on the others' lengths) that grows until
  the support stops touching its ends. ``halo`` is the one-sided reach: the context a tile
  needs on each side for its interior to be exact. The measurement runs on a *linearised*
  copy (activations → identity, max → average pooling), so no gradient is zeroed by an
  inactive ReLU and the support is the structural one; a registered architecture is measured
  on a fresh copy narrowed to a few channels (width does not change the field; random
  weights, so dead units of a trained model cannot shrink it). Float32 underflow bounds the
  reach of very deep stacks (e.g. RCAN's paper configuration, 400+ convolutions: measured
  ±~125 px, structurally ±412 px; the rest contributes < 1e-30). Models with global pooling
  (RCAN's channel attention) or instance normalisation see the whole input:
  ``receptive_field`` is then ``None`` and ``local_receptive_field``/``halo`` describe the
  convolutional path alone (gradients through global pooling detached).
- **Activation memory** (``activation_bytes_per_input_pixel``): an estimate of peak bytes
  during a no-grad forward pass per input pixel/voxel: 4 bytes × (6 × the widest layer
  output + the largest transposed-convolution column buffer + input + output), measured by
  hooks. Against peak resident memory on CPU (oneDNN) it is 1.0× (CARE 2D, whose skips and
  concatenations hold ~6 feature maps) to 2.5× (EDSR/RCAN) the measured value: a bound more
  than a prediction.

>>> summary = model_summary("fsrcnn", dims=2, scale=2)
>>> summary["parameters"], summary["receptive_field"], summary["halo"]
(12809, [17, 17], [8, 8])
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from geosr.core.errors import ConfigError
from geosr.core.per_axis import per_axis
from geosr.models.layers import normalize_scale
from geosr.models.registry import build_model, narrow_arguments

__all__ = ["model_summary", "receptive_field", "count_flops", "FLOPS_CONVENTION"]

FLOPS_CONVENTION = ("FLOPs = 2 x multiply-accumulates of Conv/ConvTranspose/Linear layers "
                    "(biases, activations, normalisation, pooling, attention, interpolation "
                    "not counted), per spatial output location, all channels included")

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_DECONV = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_GLOBAL = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
           nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_INSTANCE = (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)


def _macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    if isinstance(module, _DECONV):
        return (inputs[0].numel() * module.out_channels // module.groups
                * math.prod(module.kernel_size))
    if isinstance(module, _CONV):
        return output.numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def count_flops(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """One no-grad forward pass with hooks: total MACs/FLOPs, output shape and the widest
    layer output (elements)."""
    state = {"macs": 0, "widest": 0, "columns": 0}

    def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
        state["macs"] += _macs(module, inputs, output)
        if isinstance(output, torch.Tensor):
            state["widest"] = max(state["widest"], output.numel())
        if isinstance(module, _DECONV):   # col2im buffer: C_out·∏k per input location
            columns = (inputs[0].numel() // module.in_channels * module.out_channels
                       // module.groups * math.prod(module.kernel_size))
            state["columns"] = max(state["columns"], columns)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if not list(m.children())]
    try:
        with torch.no_grad():
            y = model(x)
    finally:
        for h in handles:
            h.remove()
    return {"macs": state["macs"], "flops": 2 * state["macs"], "output_shape": tuple(y.shape),
            "widest": state["widest"], "columns": state["columns"],
            "activation_bytes": 4 * (6 * state["widest"] + state["columns"] + x.numel()
                                     + y.numel())}


_NONLINEAR = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh,
              nn.Sigmoid, nn.Hardtanh, nn.Softplus, nn.Dropout, nn.Dropout2d, nn.Dropout3d)
_MAXPOOL = {nn.MaxPool1d: nn.AvgPool1d, nn.MaxPool2d: nn.AvgPool2d, nn.MaxPool3d: nn.AvgPool3d}


def _instance_norm_detached(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Instance normalisation with its statistics detached (the local path only)."""
    axes = tuple(range(2, x.ndim))
    mean = x.mean(dim=axes, keepdim=True).detach()
    var = x.var(dim=axes, keepdim=True, unbiased=False).detach()
    y = (x - mean) / torch.sqrt(var + module.eps)
    if module.affine:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        y = y * module.weight.view(shape) + module.bias.view(shape)
    return y


def _linear_probe(model: nn.Module) -> tuple[nn.Module, bool]:
    """A float32 eval copy whose pointwise non-linearities are identities and max pools are
    average pools (so no gradient is zeroed by an inactive ReLU or a non-maximal pixel: the
    gradient support is the structural one), with global pooling and instance-norm
    statistics detached. Returns the probe and whether the model had global context."""
    probe = copy.deepcopy(model).float().eval()
    has_global = False
    for parent in list(probe.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, _NONLINEAR):
                setattr(parent, name, nn.Identity())
            elif type(child) in _MAXPOOL:
                setattr(parent, name, _MAXPOOL[type(child)](
                    child.kernel_size, child.stride, child.padding))
            elif isinstance(child, _INSTANCE):
                has_global = True
                child.forward = functools.partial(_instance_norm_detached, child)
            elif isinstance(child, _GLOBAL):
                has_global = True
                child.register_forward_hook(lambda mod, i, o: o.detach())
    gen = torch.Generator().manual_seed(0)
    for p in probe.parameters():
        p.requires_grad_(False)
        if p.dim() > 1 and not bool(p.any()):   # a zero-initialised output layer (residual
            p.copy_(torch.rand(p.shape, generator=gen) + 0.5)   # models) hides the body
    return probe, has_global


def _axis_reach(model: nn.Module, scale: tuple[int, ...], channels: int,
                shape: tuple[int, ...], block: tuple[int, ...], axis: int,
                phases: int) -> tuple[int, bool]:
    """One-sided reach along ``axis`` (input pixels) of the outputs of the input pixels at
    the centre of a ``shape`` input, over the first ``phases`` phases of the alignment block
    along that axis; and whether the support stayed inside the input along that axis."""
    gen = torch.Generator().manual_seed(shape[axis])
    x = torch.rand((1, channels) + shape, generator=gen).requires_grad_(True)
    y = model(x)
    centre = [(n - b) // 2 // b * b for n, b in zip(shape, block)]   # on the pooling grid
    other = tuple(a for a in range(len(shape)) if a != axis)
    reach, inside = 0, True
    for phase in range(phases):
        pixel = list(centre)
        pixel[axis] += phase % block[axis]
        region = (slice(None), slice(None)) + tuple(
            slice(q * s, (q + 1) * s) for q, s in zip(pixel, scale))
        (grad,) = torch.autograd.grad(y[region].sum(), x, retain_graph=phase < phases - 1)
        mask = (grad != 0).any(dim=(0, 1))
        nz = torch.nonzero(mask.any(dim=other) if other else mask).flatten()
        lo, hi = (int(nz.min()), int(nz.max())) if len(nz) else (pixel[axis],) * 2
        inside = inside and 0 < lo and hi < shape[axis] - 1
        reach = max(reach, pixel[axis] - lo, hi - pixel[axis])
    return reach, inside


@contextlib.contextmanager
def native_kernels() -> Iterator[None]:
    """Run CPU convolutions without oneDNN (which compiles a kernel for every new tensor
    shape, ~0.1 s each: a loss when many small shapes are run once, as here)."""
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


def _measure_module(model: nn.Module, dims: int, scale: tuple[int, ...], channels: int,
                    max_size: int) -> dict[str, Any]:
    with native_kernels():
        return _measure_module_inner(model, dims, scale, channels, max_size)


def _measure_module_inner(model: nn.Module, dims: int, scale: tuple[int, ...], channels: int,
                          max_size: int) -> dict[str, Any]:
    block = tuple(getattr(model, "alignment", (1,) * dims))
    probe, has_global = _linear_probe(model)
    # Each axis on a slab: long along it, short (2 pooling blocks, >= 4) across it. The
    # support's extent along an axis does not depend on the other axes' lengths.
    thin = [max(4, 2 * b) for b in block]
    reach, inside = [], True
    for axis in range(dims):
        size = max(16, 2 * block[axis] + 4)
        phases = 1    # grow on the first phase, then check every phase (and grow if needed)
        while True:
            size += (-size) % block[axis]
            shape = tuple(size if a == axis else thin[a] for a in range(dims))
            r, ok = _axis_reach(probe, scale, channels, shape, block, axis, phases)
            if ok and phases < block[axis]:
                phases = block[axis]
                continue
            if ok or size >= max_size:
                break
            size = min(max(size * 3 // 2, 2 * r + 2 * block[axis] + 3), max_size)
        reach.append(r)
        inside = inside and ok
    field = [2 * r + 1 for r in reach]
    global_context = has_global or not inside
    return {
        "receptive_field": None if global_context else field,
        "local_receptive_field": field,
        "halo": reach,
        "global_context": global_context,
        "alignment": list(block),
        "method": "gradient support, along each axis, of the outputs of one input pixel "
                  "w.r.t. the input, on a copy with identity activations, average pools and "
                  "global pooling detached",
    }


@functools.lru_cache(maxsize=64)
def _cached_rf(name: str, dims: int, scale: tuple[int, ...], in_channels: int,
               out_channels: int, arguments: tuple) -> dict[str, Any]:
    torch.manual_seed(0)
    args = {**dict(arguments), **narrow_arguments(name)}
    model = build_model(name, dims=dims, scale=scale, in_channels=in_channels,
                        out_channels=out_channels, **args)
    return _measure_module(model, dims, scale, in_channels, 1024)


def receptive_field(model: nn.Module | str, *, dims: int, scale: int | Sequence[int] = 1,
                    in_channels: int = 1, out_channels: int | None = None,
                    max_size: int | None = None, **arguments: Any) -> dict[str, Any]:
    """Measured receptive field (see the module docstring), in input pixels per axis.

    Returns ``{"receptive_field": [...] | None, "local_receptive_field": [...],
    "halo": [...], "global_context": bool, "alignment": [...], "method": ...}``.

    A registered name is built narrowed (see ``register_model(narrow=...)``) with random
    weights (seed 0) and the result cached.

    >>> import torch.nn as nn
    >>> stack = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 1, 5, padding=2))
    >>> receptive_field(stack, dims=2)["receptive_field"]
    [7, 7]
    """
    scale_t = normalize_scale(list(scale) if isinstance(scale, (list, tuple)) else scale, dims)
    if not isinstance(model, str):
        return _measure_module(model, dims, scale_t, getattr(model, "in_channels", in_channels),
                               max_size or 1024)
    args = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                        for k, v in arguments.items()))
    return dict(_cached_rf(model, dims, scale_t, in_channels, out_channels or in_channels,
                           args))


def model_summary(model_or_name: nn.Module | str, *, dims: int, scale: int | Sequence[int],
                  in_channels: int = 1, out_channels: int | None = None,
                  input_size: int | Sequence[int] | None = None,
                  **arguments: Any) -> dict[str, Any]:
    """Parameters, FLOPs per output pixel/voxel, receptive field and memory estimate.

    Parameters
    ----------
    model_or_name:
        A module, or a registered name built with ``arguments`` (random weights).
    dims, scale, in_channels, out_channels:
        As for :func:`geosr.models.build_model` (a module's own attributes win when present).
    input_size:
        Low-resolution input size (pixels per axis) for the FLOP count; default 32 (2D) or
        12 (3D).

    >>> s = model_summary("espcn", dims=2, scale=4)
    >>> s["parameters"], round(s["flops_per_output_pixel"])
    (24752, 3080)
    """
    if isinstance(model_or_name, str):
        torch.manual_seed(0)
        model = build_model(model_or_name, dims=dims, scale=scale, in_channels=in_channels,
                            out_channels=out_channels, **arguments)
        name = model_or_name
    elif isinstance(model_or_name, nn.Module):
        if arguments:
            raise ConfigError("architecture arguments are only used with a model name",
                              where=", ".join(arguments))
        model, name = model_or_name, getattr(model_or_name, "geosr_config", {}).get(
            "architecture", type(model_or_name).__name__)
    else:
        raise ConfigError(f"expected a torch module or a model name, got "
                          f"{type(model_or_name).__name__}", where="model")
    scale_t = normalize_scale(list(scale) if isinstance(scale, (list, tuple)) else scale, dims)
    in_channels = getattr(model, "in_channels", in_channels)
    if input_size is None:
        input_size = 32 if dims == 2 else 12
    size = per_axis(input_size, dims, where="input_size", kind=int, minimum=1)
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        x = torch.rand((1, in_channels) + size,
                       device=param.device if param is not None else "cpu")
        counted = count_flops(model, x)
    finally:
        model.train(was_training)
    out_shape = counted["output_shape"]
    out_locations = math.prod(out_shape[2:])
    in_locations = math.prod(size)
    if isinstance(model_or_name, str):
        rf = receptive_field(model_or_name, dims=dims, scale=scale_t, in_channels=in_channels,
                             out_channels=out_channels, **arguments)
    else:
        rf = receptive_field(model, dims=dims, scale=scale_t, in_channels=in_channels)
    return {
        "architecture": name,
        "dims": dims,
        "scale": list(scale_t),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "trainable_parameters": int(sum(p.numel() for p in model.parameters()
                                        if p.requires_grad)),
        "input_size": list(size),
        "output_shape": list(out_shape),
        "macs": counted["macs"],
        "flops": counted["flops"],
        "flops_per_output_pixel": counted["flops"] / out_locations,
        "flops_convention": FLOPS_CONVENTION,
        **rf,
        "activation_bytes_per_input_pixel": counted["activation_bytes"] / in_locations,
    }
