"""Network and topology metrics for porosity networks: the biology-driven assessment.

Segment prediction and truth with the same rule (:mod:`.segment`), then compare what matters
to the field — porosity (:mod:`.porosity`), connected components (:mod:`.components`), Betti
numbers, Euler characteristic and connectivity density (:mod:`.topology`), clDice
(:mod:`.cldice`), skeleton-graph statistics (:mod:`.skeleton`), 3D connectivity through a
stack (:mod:`.connectivity`), local thickness (:mod:`.thickness`), lacunae (:mod:`.lacunae`),
distance to the network and anisotropy (:mod:`.fabric`) — in physical units, with missed and
invented network shown in overlays (:mod:`.overlay`).

The front door is :func:`assess` (files, folders, arrays or Images; CSV/JSON/overlays);
:func:`assess_network` assesses one pair. Submodules are imported lazily.

>>> import numpy as np
>>> from geosr.assess.network import assess
>>> gt = np.zeros((32, 32)); gt[14:18, :] = 1.0
>>> res = assess(gt, gt, spacing=0.5, metrics="porosity,cldice")
>>> res.value("porosity"), res.value("clDice")
(0.125, 1.0)
"""

from __future__ import annotations

from geosr.core.lazy import lazy_exports

_EXPORTS = {
    "assess": "geosr.assess.network.api",
    "assess_network": "geosr.assess.network.api",
    "GROUPS": "geosr.assess.network.api",
    "NetworkAssessment": "geosr.assess.network.result",
    "AssessmentResult": "geosr.assess.network.result",
    "Segmentation": "geosr.assess.network.segment",
    "segment_image": "geosr.assess.network.segment",
    "segment_pair": "geosr.assess.network.segment",
    "threshold_sweep": "geosr.assess.network.segment",
    "sato_tubeness": "geosr.assess.network.segment",
    "structure_tensor_anisotropy": "geosr.assess.network.fabric",
    "measure_porosity": "geosr.assess.network.porosity",
    "large_pores": "geosr.assess.network.porosity",
    "component_stats": "geosr.assess.network.components",
    "match_components": "geosr.assess.network.components",
    "betti_numbers": "geosr.assess.network.topology",
    "betti_error": "geosr.assess.network.topology",
    "euler_characteristic": "geosr.assess.network.topology",
    "connectivity_density": "geosr.assess.network.topology",
    "cldice_score": "geosr.assess.network.cldice",
    "skeletonize": "geosr.assess.network.cldice",
    "skeleton_stats": "geosr.assess.network.skeleton",
    "compare_graph": "geosr.assess.network.skeleton",
    "stack_connectivity": "geosr.assess.network.connectivity",
    "compare_stack_connectivity": "geosr.assess.network.connectivity",
    "local_thickness": "geosr.assess.network.thickness",
    "detect_lacunae": "geosr.assess.network.lacunae",
    "match_lacunae": "geosr.assess.network.lacunae",
    "distance_to_network": "geosr.assess.network.fabric",
    "fabric_tensor": "geosr.assess.network.fabric",
    "overlay_rgb": "geosr.assess.network.overlay",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
