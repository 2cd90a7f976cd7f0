"""Shared fixtures. Tests that need the real datasets use the ``data_dir`` fixture: it finds them
through ``GEOSR_DATA`` (default ``../shared/data`` beside the checkout) and skips with a reason
when the folder is absent, except under ``CI=true``, where an absent folder is a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path:
    return Path(os.environ.get("GEOSR_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = _data_root()
    if not root.is_dir():
        message = (f"real datasets not found at {root} (set GEOSR_DATA to the folder holding "
                   "sr_benchmarks/, bone/, fluorescence/ ...)")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return root


@pytest.fixture(scope="session")
def bench():
    """``bench("name")`` imports the module ``benchmarks/name.py`` (the studies' helpers that
    tests pin), without leaving ``benchmarks/`` on ``sys.path``."""
    import importlib
    import sys

    def load(name: str):
        sys.path.insert(0, str(REPO / "benchmarks"))
        try:
            return importlib.import_module(name)
        finally:
            sys.path.remove(str(REPO / "benchmarks"))

    return load
