"""Deep ensembles (Lakshminarayanan et al., NeurIPS 2017): train ``N`` members of the same
config with seeds ``seed + i`` into ``OUT/member-i`` and describe them in
``OUT/ensemble.json``, which :func:`geosr.trust.uncertainty.ensemble_predict` and
``geosr trust --uncertainty ensemble --ensemble OUT/ensemble.json`` read. The spread of the
members' predictions is a heuristic uncertainty (no guarantee until calibrated).

``ensemble.json``::

    {"format": "geosr-ensemble", "version": 1, "base_seed": 0,
     "members": [{"model": "member-0/model", "seed": 0, "sha256": "..."}, ...]}

>>> train_ensemble(data="dentin", scale=4, steps=500, out="runs/ens", members=5)  # doctest: +SKIP
PosixPath('runs/ens/ensemble.json')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geosr.core.errors import ConfigError
from geosr.core.files import read_json, write_json

__all__ = ["train_ensemble", "ENSEMBLE_FILE", "ENSEMBLE_FORMAT"]

ENSEMBLE_FILE = "ensemble.json"
ENSEMBLE_FORMAT = "geosr-ensemble"


def train_ensemble(config: Any = None, *, members: int, resume: bool = False,
                   show_progress: bool | None = None, **overrides: Any) -> Path:
    """Train ``members`` models (seeds ``seed + i``) into ``<out>/member-i`` and write
    ``<out>/ensemble.json``; returns its path. ``config`` and ``overrides`` as for
    :func:`geosr.train.train`."""
    from geosr.train.loop import DEFAULT_OUT, train
    from geosr.train.overrides import config_from_any

    if isinstance(members, bool) or not isinstance(members, int) or members < 2:
        raise ConfigError(f"an ensemble needs at least 2 members, got {members!r}",
                          where="--ensemble")
    cfg = config_from_any(config, **overrides)
    out = Path(cfg.out) if cfg.out is not None else DEFAULT_OUT
    records = []
    for i in range(members):
        member_out = out / f"member-{i}"
        model_dir = train(cfg, resume=resume, show_progress=show_progress,
                          out=member_out, seed=cfg.seed + i)
        sha = read_json(model_dir / "model.json")["weights"]["sha256"]
        records.append({"model": str(model_dir.relative_to(out)), "seed": cfg.seed + i,
                        "sha256": sha})
    return write_json(out / ENSEMBLE_FILE, {"format": ENSEMBLE_FORMAT, "version": 1,
                                            "base_seed": cfg.seed, "members": records})
