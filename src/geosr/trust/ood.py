"""Out-of-distribution gate: "I don't know" for inputs unlike the calibration inputs.

1. Input statistics ``φ(x)`` (raw intensity units, so a change of gain or offset counts):
   log mean and standard deviation, robust percentiles (1, 50, 99, relative to the spread),
   log noise σ̂ (finest diagonal Haar band), log SNR, share of spectral power above half of
   Nyquist, saturated and zero pixel fractions.
2. Score: Mahalanobis distance of the robustly standardised ``φ`` to the in-distribution
   (ID) mean, with a Ledoit–Wolf shrinkage covariance, fitted on one half of the ID inputs.
   Optionally, the same on model features (global-average-pooled activations, ℓ2-normalised).
3. Conformal p-value against the scores of the *other* half:
   ``p = (1 + #{s_i ≥ s}) / (n + 1)``; flag when ``p ≤ α_OOD``. For ID inputs
   ``P(flag) ≤ α_OOD`` (a controlled false-alarm rate); there is no guarantee of detecting a
   given shift.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ids = [rng.normal(10, 1, (32, 32)) for _ in range(60)]
>>> gate = OODGate.fit(ids, alpha=0.05)
>>> gate.pvalue(rng.normal(10, 1, (32, 32))) > 0.05, gate.pvalue(rng.normal(10, 5, (32, 32)))
(True, 0.03225806451612903)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from geosr.core.errors import ConfigError, InputError
from geosr.trust.conformal import conformal_pvalue
from geosr.trust.squirrel_map import noise_sigma

__all__ = ["input_features", "FEATURE_NAMES", "OODGate", "ledoit_wolf", "DEFAULT_ALPHA_OOD"]

DEFAULT_ALPHA_OOD = 0.01
FEATURE_NAMES = ("log_mean", "log_std", "p1_rel", "p50_rel", "p99_rel", "log_noise",
                 "log_snr", "hf_power", "saturated", "zeros")


def input_features(x: np.ndarray, saturation: float | None = None) -> np.ndarray:
    """``φ(x)``: the statistics named in :data:`FEATURE_NAMES` (one channel, 2D or 3D)."""
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise InputError("the input has NaN/Inf values", where="lr")
    tiny = 1e-12
    mean, std = float(x.mean()), float(x.std())
    p1, p50, p99 = np.percentile(x, (1, 50, 99))
    spread = max(std, tiny)
    sigma = max(noise_sigma(x), tiny)
    centred = x - mean
    power = np.abs(np.fft.rfftn(centred)) ** 2
    radius = np.zeros(power.shape)
    for axis, n in enumerate(x.shape):
        f = np.fft.rfftfreq(n) if axis == x.ndim - 1 else np.fft.fftfreq(n)
        shape = [1] * x.ndim
        shape[axis] = f.size
        radius = radius + (2 * f.reshape(shape)) ** 2   # 1 = Nyquist
    total = float(power.sum())
    hf = float(power[radius > 0.25].sum() / total) if total > 0 else 0.0
    top = float(x.max()) if saturation is None else float(saturation)
    return np.array([
        np.log(max(abs(mean), tiny)), np.log(spread), (p1 - mean) / spread,
        (p50 - mean) / spread, (p99 - mean) / spread, np.log(sigma),
        np.log(max(p99 - p50, tiny) / sigma), hf,
        float(np.mean(x >= top)) if saturation is not None else 0.0,
        float(np.mean(x == 0)),
    ])


def ledoit_wolf(z: np.ndarray) -> np.ndarray:
    """Ledoit–Wolf shrinkage covariance of the rows of ``z`` (n × p), towards ``μ I``."""
    n, p = z.shape
    zc = z - z.mean(0)
    s = zc.T @ zc / n
    mu = float(np.trace(s)) / p
    d2 = float(((s - mu * np.eye(p)) ** 2).sum())
    b2 = sum(float(((np.outer(r, r) - s) ** 2).sum()) for r in zc) / n ** 2
    shrink = min(1.0, b2 / d2) if d2 > 0 else 1.0
    return (1 - shrink) * s + shrink * mu * np.eye(p) + 1e-9 * np.eye(p)


@dataclasses.dataclass
class OODGate:
    """Fitted ID statistics and the conformal calibration scores (see the module)."""

    center: list[float]
    scale: list[float]
    mean: list[float]
    precision: list[list[float]]
    calibration_scores: list[float]
    alpha: float
    names: list[str]
    saturation: float | None = None

    @classmethod
    def fit(cls, inputs: Sequence[np.ndarray] | np.ndarray, *, alpha: float = DEFAULT_ALPHA_OOD,
            features: np.ndarray | None = None, saturation: float | None = None,
            names: Sequence[str] = FEATURE_NAMES, seed: int = 0) -> "OODGate":
        """Fit on ID ``inputs`` (LR images; or precomputed ``features``, n × p): a random half
        for the mean/covariance, the other half for the conformal scores."""
        if not 0 < alpha < 1:
            raise ConfigError(f"alpha must be in (0, 1), got {alpha}", where="alpha_ood")
        phi = (np.asarray(features, dtype=np.float64) if features is not None else
               np.stack([input_features(x, saturation) for x in inputs]))
        n = phi.shape[0]
        if n < 4:
            raise InputError(f"the OOD gate needs at least 4 ID inputs, got {n}",
                             where="calibration inputs")
        order = np.random.default_rng(seed).permutation(n)
        fit_idx, cal_idx = order[: n // 2], order[n // 2:]
        fit = phi[fit_idx]
        center = np.median(fit, 0)
        scale = 1.4826 * np.median(np.abs(fit - center), 0)
        fallback = fit.std(0)
        scale = np.where(scale > 1e-12, scale, np.where(fallback > 1e-12, fallback, 1.0))
        z = (fit - center) / scale
        cov = ledoit_wolf(z)
        precision = np.linalg.inv(cov)
        gate = cls(center=center.tolist(), scale=scale.tolist(), mean=z.mean(0).tolist(),
                   precision=precision.tolist(), calibration_scores=[], alpha=float(alpha),
                   names=list(names), saturation=saturation)
        gate.calibration_scores = sorted(gate.score_features(phi[cal_idx]).tolist())
        return gate

    def score_features(self, phi: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(phi) - np.asarray(self.center)) / np.asarray(self.scale)
        d = z - np.asarray(self.mean)
        return np.sqrt(np.einsum("ij,jk,ik->i", d, np.asarray(self.precision), d))

    def score(self, x: np.ndarray) -> float:
        return float(self.score_features(input_features(x, self.saturation))[0])

    def pvalue(self, x: np.ndarray) -> float:
        """Conformal p-value of input ``x`` (small = unlike the ID inputs)."""
        return conformal_pvalue(self.calibration_scores, self.score(x))

    @property
    def can_flag(self) -> bool:
        """Whether the calibration set is large enough for ``p ≤ α`` to be possible."""
        return 1.0 / (len(self.calibration_scores) + 1) <= self.alpha

    def check(self, x: np.ndarray, spacing_um: Any = None) -> dict[str, Any]:
        p = self.pvalue(x)
        return {"pvalue": p, "alpha": self.alpha, "flag": bool(p <= self.alpha),
                "score": self.score(x), "n_calibration": len(self.calibration_scores),
                "can_flag": self.can_flag, "features": self.names,
                "guarantee": "P(flag | in-distribution input) <= alpha; no guarantee of "
                             "detecting a given shift"}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OODGate":
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


#: Largest input (pixels per axis) the feature pass sees; larger inputs are centre-cropped.
FEATURE_CROP = {2: 256, 3: 64}


def feature_layer(module: Any) -> str:
    """Name of the layer whose activations serve as model features: among the convolutions
    (not the last one, which makes the image), the one with the most output channels (the
    latest on ties)."""
    import torch

    convs = [(name, m) for name, m in module.named_modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))]
    if len(convs) < 2:
        raise InputError("the model has fewer than two convolutions: no feature layer",
                         where="model", hint="use the input-statistics gate only")
    best = max(range(len(convs) - 1), key=lambda i: (convs[i][1].out_channels, i))
    return convs[best][0]


def model_features(loaded: Any, lr: Any) -> np.ndarray:
    """ℓ2-normalised, global-average-pooled activations of :func:`feature_layer` for the
    (centre-cropped) input, after the model's own normalisation (Mahalanobis++ style)."""
    import torch

    from geosr.core.image import as_image

    image = as_image(lr, "lr")
    x = np.asarray(image.numpy(), dtype=np.float32)
    if not image.has_channels:
        x = x[None]
    crop = FEATURE_CROP.get(image.dims, 64)
    sl = tuple(slice(max(0, (n - crop) // 2), max(0, (n - crop) // 2) + crop)
               for n in x.shape[1:])
    x = x[(slice(None),) + sl]
    lo, hi = loaded.normalizer.fit(x)
    x = loaded.normalizer.normalize(x, lo, hi)
    name = feature_layer(loaded.module)
    layer = dict(loaded.module.named_modules())[name]
    captured: list[Any] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
    try:
        with torch.inference_mode():
            loaded.module(torch.from_numpy(np.ascontiguousarray(x[None])).to(loaded.device))
    finally:
        handle.remove()
    act = captured[0].float()
    vec = act.mean(dim=tuple(range(2, act.ndim)))[0].cpu().numpy().astype(np.float64)
    return vec / max(float(np.linalg.norm(vec)), 1e-12)
