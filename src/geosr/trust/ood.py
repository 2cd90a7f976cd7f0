"""Out-of-distribution gate: "I don't know" for inputs unlike the calibration inputs.

1. Input statistics ``φ(x)`` (raw intensity units, so a change of gain or offset counts):
   log mean and standard deviation, robust percentiles (1, 50, 99, relative to the spread),
   log noise σ̂ (finest diagonal Haar band), log SNR, share of spectral power above half of
   Nyquist, saturated and zero pixel fractions; and statistics tied to the physics of the
   acquisition, so that a wider PSF or a larger pixel is seen: the effective resolution (the
   noise-free Gaussian correlation width from the lag-1/lag-2 autocovariances, spectral power
   in three bands over the white-noise floor, edge sharpness from the smoothed Laplacian) and
   the noise-vs-signal relation (:data:`PHYSICS_NAMES`). The pixel size itself is checked by
   the calibration card (LR pixels more than 10 % off: intervals refused, red).
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

__all__ = ["input_features", "FEATURE_NAMES", "BASIC_NAMES", "PHYSICS_NAMES", "OODGate",
           "ledoit_wolf", "DEFAULT_ALPHA_OOD"]

DEFAULT_ALPHA_OOD = 0.01
#: Intensity and noise statistics (the gate's statistics before the physics ones were added).
BASIC_NAMES = ("log_mean", "log_std", "p1_rel", "p50_rel", "p99_rel", "log_noise",
               "log_snr", "hf_power", "saturated", "zeros")
#: Radial frequency bands (cycles per pixel) of the spectral statistics.
_BANDS = ((0.2, 0.275), (0.275, 0.35), (0.35, 0.425))
#: Statistics tied to the physics of the input: effective resolution and noise relation.
PHYSICS_NAMES = ("log_corr_width", "corr_lag2", "band_0.20", "band_0.28", "band_0.35",
                 "log_lap_grad", "log_lap99", "noise_ratio")
FEATURE_NAMES = BASIC_NAMES + PHYSICS_NAMES


def _basic_features(x: np.ndarray, saturation: float | None) -> list[float]:
    tiny = 1e-12
    mean, std = float(x.mean()), float(x.std())
    p1, p50, p99 = np.percentile(x, (1, 50, 99))
    spread = max(std, tiny)
    sigma = max(noise_sigma(x), tiny)
    power = np.abs(np.fft.rfftn(x - mean)) ** 2
    radius = np.zeros(power.shape)
    for axis, n in enumerate(x.shape):
        f = np.fft.rfftfreq(n) if axis == x.ndim - 1 else np.fft.fftfreq(n)
        shape = [1] * x.ndim
        shape[axis] = f.size
        radius = radius + (2 * f.reshape(shape)) ** 2   # 1 = Nyquist
    total = float(power.sum())
    hf = float(power[radius > 0.25].sum() / total) if total > 0 else 0.0
    top = float(x.max()) if saturation is None else float(saturation)
    return [np.log(max(abs(mean), tiny)), np.log(spread), (p1 - mean) / spread,
            (p50 - mean) / spread, (p99 - mean) / spread, np.log(sigma),
            np.log(max(p99 - p50, tiny) / sigma), hf,
            float(np.mean(x >= top)) if saturation is not None else 0.0,
            float(np.mean(x == 0))]


def _lag_covariance(x: np.ndarray, lag: int) -> float:
    """Mean over axes of the autocovariance at ``lag`` pixels (noise-free for lag ≥ 1 when
    the noise is white)."""
    values = []
    for axis, n in enumerate(x.shape):
        if n > lag + 1:
            a = np.take(x, range(0, n - lag), axis)
            b = np.take(x, range(lag, n), axis)
            values.append(float((a * b).mean()))
    return float(np.mean(values)) if values else 0.0


def _band_powers(x: np.ndarray) -> list[float]:
    """log(mean power in radial bands / white-noise floor), Hann-windowed periodogram;
    frequencies in cycles per pixel (0.5 = Nyquist per axis), floor = median beyond 0.5."""
    w = np.ones(x.shape)
    radius = np.zeros(x.shape)
    for axis, n in enumerate(x.shape):
        shape = [1] * x.ndim
        shape[axis] = n
        w = w * np.hanning(n).reshape(shape) if n > 2 else w
        radius = radius + np.fft.fftfreq(n).reshape(shape) ** 2
    radius = np.sqrt(radius)
    power = np.abs(np.fft.fftn(x * w)) ** 2
    corner = power[radius >= 0.5]
    floor = max(float(np.median(corner)) if corner.size else float(np.median(power)), 1e-30)
    out = []
    for lo, hi in _BANDS:
        band = power[(radius >= lo) & (radius < hi)]
        out.append(float(np.log(max(float(band.mean()) if band.size else floor, 1e-30) / floor)))
    return out


def _noise_ratio(x: np.ndarray) -> float:
    """log(noise σ in the brighter half / noise σ in the darker half) — the noise-vs-signal
    relation (0 for pure read noise, > 0 for shot noise)."""
    from scipy import ndimage

    d = x - ndimage.uniform_filter(x, 3, mode="reflect")
    level = ndimage.uniform_filter(x, 3, mode="reflect")
    cut = np.median(level)
    hi, lo = np.abs(d[level > cut]), np.abs(d[level <= cut])
    if hi.size < 4 or lo.size < 4:
        return 0.0
    return float(np.log(max(np.median(hi), 1e-12) / max(np.median(lo), 1e-12)))


def _physics_features(x: np.ndarray) -> list[float]:
    """Effective resolution and noise: the Gaussian correlation width from the lag-1/lag-2
    autocovariances (``C(d) ∝ exp(−d²/4s²)`` → ``s² = 3 / (4 ln(C1/C2))``, noise-free), the
    lag-2 correlation, three spectral bands over the noise floor, the smoothed Laplacian-to-
    gradient ratio and the 99th percentile of the smoothed Laplacian (edge sharpness), and
    the noise-vs-signal ratio."""
    from scipy import ndimage

    c = x - x.mean()
    c0 = max(float((c * c).mean()), 1e-30)
    c1, c2 = _lag_covariance(c, 1), _lag_covariance(c, 2)
    ratio = np.log(max(c1, 1e-30) / max(c2, 1e-30)) if c1 > 0 and c2 > 0 else 10.0
    width = np.log(3.0 / (4.0 * min(max(ratio, 1e-3), 10.0)))
    smooth = ndimage.gaussian_filter(c, 0.7)
    grad = np.sqrt(sum(g ** 2 for g in np.gradient(smooth))) if min(x.shape) > 1 else smooth
    lap = np.abs(ndimage.laplace(smooth))
    return [float(width), c2 / c0, *_band_powers(c),
            float(np.log(max(lap.mean(), 1e-30) / max(grad.mean(), 1e-30))),
            float(np.log(max(np.percentile(lap, 99), 1e-30) / np.sqrt(c0))), _noise_ratio(x)]


def input_features(x: np.ndarray, saturation: float | None = None,
                   names: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
    """``φ(x)``: the statistics ``names`` (default :data:`FEATURE_NAMES`; one channel, 2D or
    3D). A gate fitted with the former ten statistics asks for those ten only."""
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise InputError("the input has NaN/Inf values", where="lr")
    values = dict(zip(BASIC_NAMES, _basic_features(x, saturation)))
    if any(n in PHYSICS_NAMES for n in names):
        values.update(zip(PHYSICS_NAMES, _physics_features(x)))
    missing = [n for n in names if n not in values]
    if missing:
        raise InputError(f"unknown OOD statistics {missing}", where="ood gate",
                         hint="recalibrate with this geosr version")
    return np.array([values[n] for n in names])


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
               np.stack([input_features(x, saturation, names) for x in inputs]))
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
        return float(self.score_features(input_features(x, self.saturation, self.names))[0])

    def pvalue(self, x: np.ndarray) -> float:
        """Conformal p-value of input ``x`` (small = unlike the ID inputs)."""
        return conformal_pvalue(self.calibration_scores, self.score(x))

    @property
    def can_flag(self) -> bool:
        """Whether the calibration set is large enough for ``p ≤ α`` to be possible."""
        return 1.0 / (len(self.calibration_scores) + 1) <= self.alpha

    def check(self, x: np.ndarray) -> dict[str, Any]:
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
