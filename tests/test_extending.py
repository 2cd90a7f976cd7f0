"""Every example of ``docs/extending.md`` runs as written, and the toy it registers is then found
by the registry of its extension point (and removed again, so other tests never see it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def _examples() -> dict[str, str]:
    """Section title → the python code block under it."""
    out: dict[str, str] = {}
    for section in re.split(r"^## ", DOC.read_text(), flags=re.M)[1:]:
        title, _, body = section.partition("\n")
        blocks = re.findall(r"```python\n(.*?)```", body, flags=re.S)
        if blocks:
            out[title.strip()] = "\n".join(blocks)
    return out


def _models():
    from geosr.models.registry import MODELS
    return MODELS, "tiny_upsampler"


def _losses():
    from geosr.losses.registry import LOSSES
    return LOSSES, "mean_bias"


def _trainers():
    from geosr.train.trainers import TRAINERS
    return TRAINERS, "supervised_quiet"


def _phantoms():
    from geosr.phantoms.kinds import PHANTOM_KINDS
    return PHANTOM_KINDS, "slab"


def _formats():
    from geosr.io.api import FORMATS
    return FORMATS, ".txt"


def _steps():
    from geosr.degrade.steps import STEPS
    return STEPS, "offset"


def _commands():
    from geosr.cli.commands import COMMANDS
    return COMMANDS, "hello"


def _evidence():
    from geosr.trust.registry import EVIDENCE
    return EVIDENCE, "mean_level"


#: section title → (registry, name the example registers)
POINTS = {
    "An architecture": _models,
    "A loss": _losses,
    "A training algorithm": _trainers,
    "A phantom kind": _phantoms,
    "An image format": _formats,
    "A degradation step": _steps,
    "A CLI command": _commands,
    "A piece of trust evidence": _evidence,
}


def test_every_extension_point_has_an_example_and_is_one_kind_of_registry():
    from geosr.core.registry import Registry

    assert sorted(_examples()) == sorted(POINTS)
    for point in POINTS:
        registry, name = POINTS[point]()
        assert isinstance(registry, Registry), point
        assert name not in registry, f"{name!r} is registered before its example ran"


@pytest.mark.parametrize("point", sorted(POINTS))
def test_the_example_runs_and_its_toy_is_found(point, capsys):
    registry, name = POINTS[point]()
    try:
        namespace: dict = {}
        exec(compile(_examples()[point], f"{DOC.name}: {point}", "exec"), namespace)
        assert name in registry
        assert registry.get(name) is not None
    finally:
        registry.remove(name)
    assert name not in registry
    if point == "A CLI command":
        assert capsys.readouterr().out.strip() == "hello dentin"
