"""Synthetic porosity networks with exact ground truth: image, mask, part labels and graph.

Kinds: ``dentin`` (tubules + sub-micron branches), ``lcn`` (osteocyte lacunae + canaliculi,
optional Haversian canal), ``cortical`` (Haversian canals + Volkmann links), ``porous``
(porespy blobs; graph from the skeleton). Geometry is built in continuous space (µm) and
rasterised with capsule/ellipsoid signed distances, partial-volume occupancy and a centreline
topology guarantee, so the mask's connected components equal the graph's.

>>> from geosr.phantoms import phantom
>>> ph = phantom("cortical", dims=2, size_um=600, spacing_um=5, seed=0)
>>> ph.image.shape
(120, 120)
"""

from geosr.phantoms.api import KINDS, Phantom, kind_parameters, phantom
from geosr.phantoms.graph import (graph_components, load_graph, mask_components, save_graph,
                                  summarize_graph)
from geosr.phantoms.kinds import available_phantom_kinds, register_phantom_kind

__all__ = ["phantom", "Phantom", "KINDS", "kind_parameters", "load_graph", "save_graph",
           "graph_components", "mask_components", "summarize_graph", "register_phantom_kind",
           "available_phantom_kinds"]
