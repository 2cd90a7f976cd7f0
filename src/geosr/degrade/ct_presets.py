"""Acquisition presets for :class:`geosr.degrade.ct.CTScan`: clinical HR-pQCT (XtremeCT I and
II), a lab micro-CT and a synchrotron micro-CT, each with the source of its numbers.

A preset fixes the *acquisition* (voxel size, projections, system blur, dose, energy and the
attenuation of bone and soft tissue at that energy); :func:`ct_scan` turns it into a
:class:`CTScan` for HR images of a given pixel size (the voxel must be an integer multiple of
the HR pixel).

Conventions and what is assumed
-------------------------------
- *System blur*: a published "spatial resolution" R is read as the FWHM of the system's line
  spread function; the voxel's box (FWHM = its width v) and a Gaussian detector/source blur
  add in quadrature, so ``detector_fwhm_um = sqrt(R² − v²)``. This is an approximation (the
  10 %-MTF definitions used by manufacturers do not map exactly onto a FWHM); the preset
  records both R and the blur derived from it.
- *Attenuation*: NIST XCOM / Hubbell & Seltzer mass attenuation coefficients
  (https://physics.nist.gov/PhysRefData/XrayMassCoef/): water 0.2683 cm²/g at 40 keV and
  0.8096 cm²/g at 20 keV (ρ = 1.00 g/cm³); cortical bone (ICRU-44, ρ = 1.92 g/cm³)
  0.6655 cm²/g at 40 keV and 4.001 cm²/g at 20 keV. Polychromatic tubes are represented by an
  *assumed* effective energy (stated per preset).
- *Dose* ``i0`` (photons per detector pixel per projection reaching the detector) is **not
  published** for these systems; the values are assumptions chosen to give a plausible noise
  level, and every study should vary them.

>>> sorted(PRESETS)
['lab_microct', 'synchrotron', 'xtremect1', 'xtremect2']
>>> step = ct_scan("xtremect2", hr_spacing_um=60.7 / 6)
>>> step.scale, step.n_angles
(6, 900)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

from geosr.core.errors import ConfigError
from geosr.degrade.ct import CTScan

__all__ = ["CTPreset", "PRESETS", "register_preset", "get_preset", "ct_scan"]

MU_WATER_40KEV = 0.2683          # 1/cm (0.2683 cm²/g × 1.00 g/cm³), NIST
MU_BONE_40KEV = 0.6655 * 1.92    # 1/cm, cortical bone ICRU-44, NIST
MU_WATER_20KEV = 0.8096
MU_BONE_20KEV = 4.001 * 1.92


@dataclasses.dataclass(frozen=True)
class CTPreset:
    """One CT acquisition: voxel (µm), projections over 180°, published spatial resolution
    (µm, None when the system blur is given directly), detector/source blur FWHM (µm, object
    plane), dose ``i0`` (photons per detector pixel per projection, assumed), FBP filter,
    ``mu_per_cm`` (soft tissue/pore, bone) at ``energy_kev`` and a description with sources."""

    name: str
    voxel_um: float
    n_angles: int
    detector_fwhm_um: float
    i0: float
    mu_per_cm: tuple[float, float]
    energy_kev: float
    resolution_um: float | None = None
    filter: str = "ramp"
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["mu_per_cm"] = list(self.mu_per_cm)
        return out


PRESETS: dict[str, CTPreset] = {}


def register_preset(func: Callable[[], CTPreset]) -> Callable[[], CTPreset]:
    """Decorator: register the preset a function returns under its ``name``."""
    preset = func()
    PRESETS[preset.name] = preset
    return func


def _blur_from_resolution(resolution_um: float, voxel_um: float) -> float:
    return math.sqrt(max(resolution_um ** 2 - voxel_um ** 2, 0.0))


@register_preset
def xtremect1() -> CTPreset:
    """Scanco XtremeCT (first-generation HR-pQCT), standard in-vivo radius/tibia protocol.

    - 82 µm isotropic voxels, "actual spatial resolution of ~130 µm": Burghardt, Link &
      Majumdar, Clin Orthop Relat Res 469:2179 (2011), doi 10.1007/s11999-010-1766-x.
    - 750 projections over 180°, 60 kVp, 900 µA, 100 ms: the standard protocol as quoted in
      the HR-pQCT literature (e.g. Boutroy et al., J Clin Endocrinol Metab 90:6508 (2005);
      MacNeil & Boyd, Med Eng Phys 29:1096 (2007)); not re-checked against the papers here.
    - Effective energy 40 keV: an assumption for a 60 kVp filtered spectrum.
    - i0 = 2e4 photons per detector pixel per projection: assumed.
    """
    return CTPreset("xtremect1", voxel_um=82.0, n_angles=750,
                    detector_fwhm_um=_blur_from_resolution(130.0, 82.0), i0=2e4,
                    mu_per_cm=(MU_WATER_40KEV, MU_BONE_40KEV), energy_kev=40.0,
                    resolution_um=130.0,
                    description="clinical HR-pQCT, XtremeCT I (82 µm voxel, ~130 µm "
                                "resolution; Burghardt et al. 2011)")


@register_preset
def xtremect2() -> CTPreset:
    """Scanco XtremeCT II (second-generation HR-pQCT).

    - 60.7 µm isotropic voxels, 900 projections, 68 kVp, 1470 µA, 43 ms: Manske et al., Bone
      79:213 (2015) and the HR-pQCT guidelines of Whittier et al., Osteoporos Int 31:1607
      (2020), as usually quoted; not re-checked here.
    - Spatial resolution ~95 µm: the figure usually quoted for the second generation
      (assumption of the same kind as for XtremeCT I; check against the manufacturer's MTF).
    - Effective energy 40 keV and i0 = 2e4: assumed.
    """
    return CTPreset("xtremect2", voxel_um=60.7, n_angles=900,
                    detector_fwhm_um=_blur_from_resolution(95.0, 60.7), i0=2e4,
                    mu_per_cm=(MU_WATER_40KEV, MU_BONE_40KEV), energy_kev=40.0,
                    resolution_um=95.0,
                    description="clinical HR-pQCT, XtremeCT II (60.7 µm voxel, ~95 µm "
                                "resolution; Manske et al. 2015, Whittier et al. 2020)")


@register_preset
def lab_microct() -> CTPreset:
    """A lab micro-CT of bone biopsies or rodent bones at 10 µm voxels (the 5–20 µm range of
    desktop systems).

    - Blur: object-plane blur ``sqrt((s_f (M − 1)/M)² + (p_d/M)²)`` (geometric unsharpness of
      the focal spot s_f plus the detector pitch p_d; reference notes iqa_trust.md §6); with
      a 5 µm focal spot at high magnification and practical resolution ~2 voxels (same notes:
      "practical resolution typically 2–3 voxels (MTF10)"), a 20 µm resolution gives
      ``sqrt(20² − 10²) ≈ 17 µm`` of blur.
    - 1000 projections over 180°, 40 keV effective energy, i0 = 1e4: assumed, typical orders
      of magnitude for a tube source.
    """
    return CTPreset("lab_microct", voxel_um=10.0, n_angles=1000,
                    detector_fwhm_um=_blur_from_resolution(20.0, 10.0), i0=1e4,
                    mu_per_cm=(MU_WATER_40KEV, MU_BONE_40KEV), energy_kev=40.0,
                    resolution_um=20.0,
                    description="lab micro-CT, 10 µm voxels, resolution ~2 voxels "
                                "(iqa_trust.md §6)")


@register_preset
def synchrotron() -> CTPreset:
    """Synchrotron micro-CT of bone (parallel, monochromatic beam) at 1.4 µm voxels, the
    scale at which lacunae but not canaliculi are seen (Yu et al., Sci Rep 10:4567 (2020),
    as summarised in geometry_topology.md).

    - Monochromatic 20 keV: NIST coefficients above (no beam hardening).
    - Resolution ~2 voxels (scintillator and optics, iqa_trust.md §6) → 2.4 µm blur;
      2000 projections and i0 = 1e5 (a bright source): assumed.
    """
    return CTPreset("synchrotron", voxel_um=1.4, n_angles=2000,
                    detector_fwhm_um=_blur_from_resolution(2.8, 1.4), i0=1e5,
                    mu_per_cm=(MU_WATER_20KEV, MU_BONE_20KEV), energy_kev=20.0,
                    resolution_um=2.8,
                    description="synchrotron micro-CT, 1.4 µm voxels, 20 keV")


def get_preset(name: str | CTPreset) -> CTPreset:
    """The preset called ``name`` (a :class:`CTPreset` is returned as is)."""
    if isinstance(name, CTPreset):
        return name
    if name not in PRESETS:
        raise ConfigError(f"unknown CT preset {name!r}", where="preset",
                          hint="use one of " + ", ".join(sorted(PRESETS)))
    return PRESETS[name]


def ct_scan(preset: str | CTPreset, *, hr_spacing_um: float, **overrides: Any) -> CTScan:
    """The :class:`CTScan` of ``preset`` for HR images with pixels of ``hr_spacing_um`` µm.

    ``overrides``: any :class:`CTScan` field (``i0``, ``n_angles``, ``detector_fwhm_um``,
    ``filter``, ``intensity_range``, ``ring_sd``...); ``voxel_um`` overrides the preset's voxel.
    The voxel must be an integer multiple (within 1 %) of ``hr_spacing_um``, else
    :class:`ConfigError` says which HR spacing would fit.

    >>> ct_scan("xtremect1", hr_spacing_um=20.5, i0=5e3).i0
    5000.0
    """
    p = get_preset(preset)
    voxel = float(overrides.pop("voxel_um", p.voxel_um))
    if not hr_spacing_um or hr_spacing_um <= 0:
        raise ConfigError(f"needs a positive HR pixel size, got {hr_spacing_um!r}",
                          where="hr_spacing_um")
    ratio = voxel / float(hr_spacing_um)
    scale = int(round(ratio))
    if scale < 1 or abs(ratio - scale) > 0.01 * ratio:
        fits = ", ".join(f"{voxel / k:.4g}" for k in (2, 4, 6, 8))
        raise ConfigError(f"the {p.name} voxel ({voxel:g} µm) is not an integer multiple of "
                          f"the HR pixel ({hr_spacing_um:g} µm)", where="hr_spacing_um",
                          hint=f"resample the HR image to e.g. {fits} µm")
    fields = dict(scale=scale, n_angles=p.n_angles, i0=p.i0,
                  detector_fwhm_um=p.detector_fwhm_um, filter=p.filter,
                  mu_per_cm=p.mu_per_cm)
    fields.update(overrides)
    return CTScan(**fields)
