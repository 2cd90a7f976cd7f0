"""Seeds and random generators.

Every random function in geosr takes ``seed``: an ``int``, ``None`` or a
``numpy.random.Generator``; :func:`rng` turns any of these into a Generator, and
:func:`resolve_seed` says which seed to record (``None`` draws one, so that the result can still
be replayed).

>>> bool(rng(3).integers(100) == rng(3).integers(100))
True
>>> resolve_seed(7), resolve_seed(np.random.default_rng(0))
((7, 'int'), (None, 'generator'))
"""

from __future__ import annotations

import numbers
import random
from typing import Any, Optional, Union

import numpy as np

from geosr.core.errors import ConfigError

__all__ = ["SeedLike", "rng", "resolve_seed", "seed_everything"]

#: What every ``seed`` argument accepts.
SeedLike = Union[int, np.random.Generator, None]


def rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from an int seed, an existing Generator (returned as is) or None
    (fresh entropy, not reproducible)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def resolve_seed(seed: Any, *, where: str = "seed") -> tuple[Optional[int], str]:
    """The seed to record for ``seed`` and where it came from.

    Returns ``(n, "int")`` for a non-negative integer ``n``; ``(drawn, "drawn")`` for ``None``
    (a fresh seed from the operating system's entropy, below 2**63, returned so that the
    result records it and can be replayed); ``(None, "generator")`` for a
    ``numpy.random.Generator`` (used as it is; its state cannot be recorded).

    Raises
    ------
    ConfigError
        Anything else (a negative or non-integer number, a bool), naming ``where``.
    """
    if isinstance(seed, np.random.Generator):
        return None, "generator"
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2 ** 63)), "drawn"
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ConfigError(f"seed must be a non-negative int, a numpy Generator or None, got "
                          f"{seed!r}", where=where)
    return int(seed), "int"


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's legacy and (if imported) torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
