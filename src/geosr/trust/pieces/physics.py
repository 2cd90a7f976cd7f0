"""Physics: Nyquist, optical cut-off and the SR factor the optics support
(:func:`geosr.trust.physics.physics_report`). Amber for every tile when the scale exceeds
what the optics support."""

from __future__ import annotations

import numpy as np

from geosr.trust.context import TrustContext
from geosr.trust.registry import Evidence, register_evidence


@register_evidence("physics", order=10)
def physics_evidence(ctx: TrustContext) -> Evidence:
    from geosr.trust.physics import physics_report

    wavelength_nm, na, microscope = ctx.wavelength_nm, ctx.na, ctx.microscope
    blur = ctx.blur_fwhm_um
    acq = ctx.acquisition
    if wavelength_nm is None and acq is not None:
        wavelength_nm, na, microscope = acq.wavelength_nm, acq.na, acq.microscope
    if blur is None and wavelength_nm is None and acq is not None and acq.fwhm_um is not None:
        fw = acq.fwhm_um
        blur = [float(w) for w in fw] if np.ndim(fw) else float(fw)
    report = physics_report(lr_spacing_um=ctx.low.spacing_um, scale=ctx.scale,
                            wavelength_nm=wavelength_nm, na=na, microscope=microscope,
                            blur_fwhm_um=blur, prediction=ctx.f)
    amber = (["the scale exceeds what the optics support: finer detail is the model's"]
             if report.get("scale_exceeds_optics") else [])
    return Evidence(summary={"physics": report}, amber=amber)
