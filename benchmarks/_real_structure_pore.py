"""3D pore-network metrics of ``real_structure.py`` for a porous rock (issue #16): porosity,
Euler number, Conn.D, components, the largest component's share and the through-stack
connectivity of the pore phase of the contiguous test block, prediction vs truth.

All reuse :mod:`geosr.assess.network`: the Euler number χ of the 26-connected pore phase
(closed voxel cubes, :func:`~geosr.assess.network.topology.euler_characteristic`, equal to
``skimage.measure.euler_number(connectivity=3)``), BoneJ-style Conn.D (mm⁻³,
:func:`~geosr.assess.network.topology.connectivity_density`) and the connections between the
pore patches on the block's faces that survive in the prediction
(:func:`~geosr.assess.network.connectivity.stack_connectivity`, ``axis=0``: "through the stack"
= from the first to the last z slice of the block).

Example
-------
>>> g = np.zeros((6, 8, 8), bool); g[:, 3:5, 3:5] = True          # one pore tube along z
>>> p = g.copy(); p[3] = False                                      # cut at z = 3: 3 + 2 slices
>>> r = compare_pore_3d(p, g, pore_3d(g, 10.0), 10.0)
>>> r["components_3d"], r["through_preserved_3d"], r["largest_share_3d"]
(2.0, 0.0, 0.6)
"""

from __future__ import annotations

import numpy as np


def pore_3d(mask: np.ndarray, spacing_um: float) -> dict[str, float]:
    """Porosity, χ, Conn.D (mm⁻³), 26-connected components and the largest one's share of the
    pore voxels of a (Z, Y, X) pore mask with isotropic voxels of ``spacing_um``."""
    from scipy import ndimage as ndi

    from geosr.assess.network.topology import connectivity_density, euler_characteristic

    mask = np.asarray(mask, bool)
    labels, n = ndi.label(mask, np.ones((3, 3, 3), bool))
    sizes = np.bincount(labels.ravel())[1:]
    return {"porosity": float(mask.mean()),
            "euler": float(euler_characteristic(mask)),
            "connd_mm3": float(connectivity_density(mask, spacing=(spacing_um,) * 3)
                               .conn_density),
            "components": float(n),
            "largest_share": float(sizes.max() / sizes.sum()) if n else 0.0}


def compare_pore_3d(pred: np.ndarray, truth: np.ndarray, truth_stats: dict[str, float],
                    spacing_um: float) -> dict[str, float]:
    """``<key>_3d`` and ``<key>_3d_rel_error`` of :func:`pore_3d`, plus the share of the truth's
    face-to-face pore connections (all, and z-through) that one predicted component keeps and
    the false connections it makes."""
    from geosr.assess.network.connectivity import stack_connectivity

    out: dict[str, float] = {}
    for k, v in pore_3d(pred, spacing_um).items():
        t = truth_stats[k]
        out[f"{k}_3d"] = v
        out[f"{k}_3d_rel_error"] = float((v - t) / abs(t)) if t else float("nan")
    c = stack_connectivity(np.asarray(pred, bool), np.asarray(truth, bool), axis=0)
    out.update({"connections_preserved_3d": float(c.fraction_preserved),
                "through_preserved_3d": float(c.through_preserved),
                "false_connections_3d": float(c.n_false)})
    return out
