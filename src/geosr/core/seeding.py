"""Seeds and random generators.

Every random function in geosr takes ``seed``: an ``int``, ``None`` or a
``numpy.random.Generator``; :func:`rng` turns any of these into a Generator.

>>> rng(3).integers(100) == rng(3).integers(100)
True
"""

from __future__ import annotations

import random

import numpy as np

__all__ = ["SeedLike", "rng", "seed_everything"]

SeedLike = "int | np.random.Generator | None"


def rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from an int seed, an existing Generator (returned as is) or None
    (fresh entropy, not reproducible)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's legacy and (if imported) torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
