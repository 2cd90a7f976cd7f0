"""3D connectivity through a stack: the fraction of the truth's connections that survive.

Definition (mask-based, so it needs no graph)
---------------------------------------------
**Terminals** are the places where the true network leaves the volume: the fully connected
patches of the truth mask on the stack's six faces (a patch that wraps round a stack edge is
one terminal). Two terminals are **connected in the truth** when they belong to the same
26-connected truth component. A truth connection is **preserved** when one 26-connected
component of the prediction touches both terminals (has a voxel on each patch). A **false
connection** is a pair of terminals in different truth components that one prediction
component joins.

``fraction_preserved = preserved / truth connections`` over all pairs of terminals;
``through_preserved`` restricts the pairs to one terminal on the first and one on the last
slice along ``axis`` ("through the stack", the question asked of confocal stacks
super-resolved slice by slice in 2D versus as a volume — see :func:`compare_stack_connectivity`).
``axis=None`` (default) picks the axis along which the truth has the most such connections (the
main direction of the network, e.g. the tubule direction) and records it; pass ``axis=0`` for Z.
3D only: a 2D image raises :class:`~geosr.core.errors.InputError`.

Example
-------
>>> import numpy as np
>>> gt = np.zeros((12, 12, 12), bool); gt[:, 5:7, 5:7] = True     # one tube along Z
>>> broken = gt.copy(); broken[6] = False                          # cut in one slice
>>> stack_connectivity(gt, gt).through_preserved, stack_connectivity(broken, gt).through_preserved
(1.0, 0.0)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from geosr.assess.network._common import FOREGROUND, as_mask, check_dims, label, safe_ratio
from geosr.core.errors import ConfigError, InputError

__all__ = ["StackConnectivity", "stack_connectivity", "compare_stack_connectivity"]


@dataclasses.dataclass(frozen=True)
class StackConnectivity:
    """Truth connections between boundary terminals and how many the prediction keeps."""

    n_terminals: int
    n_connections: int
    n_preserved: int
    fraction_preserved: float
    n_false: int
    axis: int
    n_through: int
    n_through_preserved: int
    through_preserved: float
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _shell(shape: Sequence[int]) -> np.ndarray:
    s = np.zeros(shape, bool)
    for ax in range(len(shape)):
        for sl in (0, -1):
            index: list[Any] = [slice(None)] * len(shape)
            index[ax] = sl
            s[tuple(index)] = True
    return s


def _pairs(keys_a: np.ndarray, sets_a: list[frozenset], comp_a: np.ndarray,
           keys_b: np.ndarray | None = None, sets_b: list[frozenset] | None = None,
           comp_b: np.ndarray | None = None) -> tuple[int, int, int]:
    """(truth-connected pairs, of which preserved, false connections) among terminals (within
    one set, or between set a and set b). Terminals are grouped by (component, label set) so
    the count is exact without listing every pair."""
    def groups(comp, sets):
        out: dict[tuple[int, frozenset], int] = {}
        for c, s in zip(comp.tolist(), sets):
            out[(c, s)] = out.get((c, s), 0) + 1
        return out

    ga = groups(comp_a, sets_a)
    gb = ga if comp_b is None else groups(comp_b, sets_b)
    same_set = comp_b is None
    # truth-connected pairs
    ca = np.bincount(comp_a) if comp_a.size else np.zeros(1, int)
    if same_set:
        n_conn = int(sum(k * (k - 1) // 2 for k in ca.tolist()))
    else:
        cb = np.bincount(comp_b, minlength=ca.size) if comp_b.size else np.zeros(ca.size, int)
        ca = np.pad(ca, (0, max(0, cb.size - ca.size)))
        n_conn = int((ca[:cb.size] * cb).sum())
    # pairs joined by a prediction component: index groups by the labels they touch
    by_label_b: dict[int, list] = {}
    for key in gb:
        for lab in key[1]:
            by_label_b.setdefault(lab, []).append(key)
    # a total order on the groups, so each unordered pair within one set is counted once
    # (tuples holding frozensets compare by subset, which is not a total order)
    rank = {key: i for i, key in enumerate(gb)}
    preserved = false = 0
    for ka, na in ga.items():
        partners = set()
        for lab in ka[1]:
            partners.update(by_label_b.get(lab, ()))
        for kb in partners:
            nb = gb[kb]
            if same_set:
                n = na * (na - 1) // 2 if kb == ka else (na * nb if rank[ka] < rank[kb] else 0)
            else:
                n = na * nb
            if ka[0] == kb[0]:
                preserved += n
            else:
                false += n
    return n_conn, preserved, false


def stack_connectivity(pred: Any, gt: Any, *, axis: int | None = None) -> StackConnectivity:
    """Fraction of truth connections between boundary terminals that the prediction keeps
    (module notes). ``pred`` and ``gt``: binary 3D masks of the same shape."""
    pm, _ = as_mask(pred, name="prediction")
    gm, _ = as_mask(gt, name="truth")
    check_dims(gm, 3, "3D connectivity through a stack")
    check_dims(pm, 3, "3D connectivity through a stack")
    if pm.shape != gm.shape:
        raise InputError(f"shape mismatch: prediction {pm.shape}, truth {gm.shape}",
                         where="prediction")
    if axis is not None and axis not in (0, 1, 2):
        raise ConfigError(f"must be 0, 1 or 2, got {axis!r}", where="axis")
    g_lab, _ = label(gm, FOREGROUND[3])
    p_lab, _ = label(pm, FOREGROUND[3])
    term, n_term = label(gm & _shell(gm.shape), FOREGROUND[3])
    if n_term == 0:
        return StackConnectivity(0, 0, 0, float("nan"), 0, axis or 0, 0, 0, float("nan"),
                                 "the truth does not reach the faces of the stack")
    # truth component and touched prediction labels of each terminal
    flat_t = term.ravel()
    on = np.flatnonzero(flat_t)
    t_ids = flat_t[on].astype(np.int64)
    comp = np.zeros(n_term + 1, np.int64)
    comp[t_ids] = g_lab.ravel()[on]
    p_on = p_lab.ravel()[on].astype(np.int64)
    sets: list[set] = [set() for _ in range(n_term + 1)]
    hit = p_on > 0
    for t, lab in set(zip(t_ids[hit].tolist(), p_on[hit].tolist())):
        sets[t].add(lab)
    fsets = [frozenset(s) for s in sets]
    ids = np.arange(1, n_term + 1)
    n_conn, n_pres, n_false = _pairs(ids, fsets[1:], comp[1:])
    # through the stack along `axis`: terminals on the first and on the last slice
    def through(ax: int) -> tuple[int, int]:
        first: list[Any] = [slice(None)] * 3
        last: list[Any] = [slice(None)] * 3
        first[ax], last[ax] = 0, -1
        top = np.unique(term[tuple(first)])
        bottom = np.unique(term[tuple(last)])
        top, bottom = top[top > 0], bottom[bottom > 0]
        n, kept, _ = _pairs(top, [fsets[t] for t in top], comp[top],
                            bottom, [fsets[t] for t in bottom], comp[bottom])
        return n, kept

    if axis is None:
        results = [through(ax) for ax in range(3)]
        axis = int(np.argmax([r[0] for r in results]))
        n_thr, n_thr_pres = results[axis]
    else:
        n_thr, n_thr_pres = through(axis)
    note = None
    if n_thr == 0:
        note = f"no truth connection runs from the first to the last slice along axis {axis}"
    return StackConnectivity(
        n_terminals=int(n_term), n_connections=n_conn, n_preserved=n_pres,
        fraction_preserved=safe_ratio(n_pres, n_conn), n_false=n_false, axis=axis,
        n_through=n_thr, n_through_preserved=n_thr_pres,
        through_preserved=safe_ratio(n_thr_pres, n_thr), note=note)


def compare_stack_connectivity(gt: Any, predictions: Mapping[str, Any], *,
                               axis: int | None = 0) -> dict[str, StackConnectivity]:
    """:func:`stack_connectivity` of several predictions of the same truth, e.g.
    ``{"2D slice by slice": pred2d, "3D volume": pred3d}``.

    >>> gt = np.zeros((12, 12, 12), bool); gt[:, 5:7, 5:7] = True
    >>> cut = gt & (np.arange(12) != 4)[:, None, None]          # one slice lost
    >>> res = compare_stack_connectivity(gt, {"3D": gt, "2D": cut})
    >>> {k: v.through_preserved for k, v in res.items()}
    {'3D': 1.0, '2D': 0.0}
    """
    return {name: stack_connectivity(p, gt, axis=axis) for name, p in predictions.items()}
