"""Graph helpers: node-link JSON in and out, component counts of graphs and masks, summaries.

The ground-truth graph is a :class:`networkx.Graph`. Node attributes: ``pos`` (list of floats,
µm, in the image's axis order ``(z, y, x)`` or ``(y, x)``), ``kind``; lacunae also carry
``semi_axes_um``, ``axes`` (unit vectors of the semi-axes) and ``volume_um3``. Edge attributes:
``length_um`` (centreline length), ``length_outside_um`` (the part outside lacunae),
``radius_um`` (length-weighted mean), ``radii_um`` (per polyline vertex), ``kind``, ``strand``
and ``polyline`` (list of points, µm).

>>> import networkx as nx
>>> g = nx.Graph()
>>> g.add_node(0, pos=[0.0, 0.0], kind="tip"); g.add_node(1, pos=[1.0, 1.0], kind="tip")
>>> g.add_edge(0, 1, length_um=1.41); g.add_node(2, pos=[5.0, 5.0], kind="lacuna")
>>> graph_components(g)
2
>>> load_graph_data(graph_data(g)).number_of_edges()
1
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from geosr.core.errors import InputError
from geosr.core.files import read_json, to_jsonable, write_json

__all__ = ["graph_data", "load_graph_data", "save_graph", "load_graph", "graph_components",
           "mask_components", "label_components", "summarize_graph"]


def graph_data(graph: nx.Graph) -> dict[str, Any]:
    """The JSON-safe node-link dict (``nx.node_link_data(G, edges="edges")``)."""
    return to_jsonable(nx.node_link_data(graph, edges="edges"))


def load_graph_data(data: dict[str, Any]) -> nx.Graph:
    """Inverse of :func:`graph_data`."""
    try:
        return nx.node_link_graph(data, edges="edges")
    except (KeyError, TypeError, nx.NetworkXError) as err:
        raise InputError(f"not a node-link graph ({err})", where="graph",
                         hint="write it with geosr.phantoms.save_graph") from None


def save_graph(graph: nx.Graph, path: str | os.PathLike) -> Path:
    """Write ``graph`` as node-link JSON, atomically."""
    return write_json(path, graph_data(graph))


def load_graph(path: str | os.PathLike) -> nx.Graph:
    """Read a graph written by :meth:`Phantom.save` (``graph.json``) or :func:`save_graph`.
    Raises :class:`~geosr.core.errors.InputError` for a missing or malformed file."""
    data = read_json(path)
    if not isinstance(data, dict) or "nodes" not in data or "edges" not in data:
        raise InputError("not a node-link graph (needs 'nodes' and 'edges')", where=str(path))
    return load_graph_data(data)


def graph_components(graph: nx.Graph) -> int:
    """Number of connected components; isolated nodes (e.g. a lacuna without canaliculi) count
    as one component each."""
    return nx.number_connected_components(graph)


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels (0 = background) and number of the connected components of a binary mask with
    full connectivity (8 in 2D, 26 in 3D)."""
    mask = np.asarray(mask).astype(bool)
    try:
        import cc3d

        labels, n = cc3d.connected_components(mask, connectivity=8 if mask.ndim == 2 else 26,
                                              return_N=True)
        return labels, int(n)
    except ImportError:  # pragma: no cover - cc3d is installed with the test extras
        from scipy import ndimage as ndi

        labels, n = ndi.label(mask, structure=np.ones((3,) * mask.ndim, bool))
        return labels, int(n)


def mask_components(mask: np.ndarray) -> int:
    """Number of connected components of a binary mask with full connectivity (8 in 2D, 26 in
    3D), the convention the phantoms guarantee."""
    return label_components(mask)[1]


def summarize_graph(graph: nx.Graph) -> dict[str, Any]:
    """Counts and lengths of a ground-truth graph: nodes and edges per kind, total and per-kind
    edge length (µm), components β0, cycle rank β1 = E − V + β0, mean degree of junctions."""
    n_nodes, n_edges = graph.number_of_nodes(), graph.number_of_edges()
    b0 = graph_components(graph)
    node_kinds: dict[str, int] = {}
    for _, kind in graph.nodes(data="kind"):
        node_kinds[str(kind)] = node_kinds.get(str(kind), 0) + 1
    edge_lengths: dict[str, float] = {}
    edge_counts: dict[str, int] = {}
    total = outside = 0.0
    for _, _, data in graph.edges(data=True):
        kind = str(data.get("kind"))
        length = float(data.get("length_um", 0.0))
        edge_lengths[kind] = edge_lengths.get(kind, 0.0) + length
        edge_counts[kind] = edge_counts.get(kind, 0) + 1
        total += length
        outside += float(data.get("length_outside_um", length))
    degrees = [d for n, d in graph.degree() if graph.nodes[n].get("kind") == "junction"]
    lacuna_degrees = [d for n, d in graph.degree() if graph.nodes[n].get("kind") == "lacuna"]
    return {
        "n_nodes": n_nodes, "n_edges": n_edges, "n_components": b0,
        "cycle_rank": n_edges - n_nodes + b0,
        "node_counts": dict(sorted(node_kinds.items())),
        "edge_counts": dict(sorted(edge_counts.items())),
        "edge_length_um": {k: round(v, 4) for k, v in sorted(edge_lengths.items())},
        "total_length_um": round(total, 4),
        "length_outside_lacunae_um": round(outside, 4),
        "mean_junction_degree": float(np.mean(degrees)) if degrees else 0.0,
        "mean_lacuna_degree": float(np.mean(lacuna_degrees)) if lacuna_degrees else 0.0,
    }
