"""The commands of ``geosr`` that live in their own modules: one table, one decorator.

Each entry is a typer command function (``geosr <name> ...``) or a :class:`typer.Typer` group
(``geosr <name> <sub> ...``), given as ``"module:attribute"`` and imported when the CLI starts.
A command module keeps its heavy imports inside the command body, so ``geosr --help`` stays
fast. A new command is a module ``geosr/cli/<name>.py`` plus one row in :data:`COMMANDS`; a
plugin (or a test) registers one with :func:`register_command` before :func:`geosr.cli.main.main`
runs.

>>> list(COMMANDS)[:3]
['info', 'phantom', 'degrade']
"""

from __future__ import annotations

from typing import Any, Callable

from geosr.core.registry import Registry

__all__ = ["COMMANDS", "register_command", "attach_commands"]

#: ``geosr <name>`` → ``"module:function"`` (a command) or ``"module:typer_app"`` (a group).
COMMANDS: Registry[Any] = Registry("command", where="geosr", sort_names=False, builtins={
    "info": "geosr.cli.images:info",
    "phantom": "geosr.cli.images:phantom",
    "degrade": "geosr.cli.images:degrade",
    "downscale": "geosr.cli.images:downscale",
    "upscale": "geosr.cli.images:upscale",
    "demo": "geosr.cli.demo:demo",
    "train": "geosr.cli.train:train",
    "predict": "geosr.cli.predict:predict",
    "evaluate": "geosr.cli.evaluate:evaluate",
    "assess": "geosr.cli.assess:assess",
    "calibrate": "geosr.cli.trust:calibrate",
    "trust": "geosr.cli.trust:trust",
    "export": "geosr.cli.export:export",
    "pairs": "geosr.cli.pairs:pairs_app",
    "report": "geosr.cli.report:report",
})


def register_command(name: str, *, replace: bool = False) -> Callable[[Any], Any]:
    """Decorator registering a typer command function (or a ``typer.Typer`` group) as
    ``geosr <name>``."""
    return COMMANDS.register(name, replace=replace)


def attach_commands(app: Any) -> list[str]:
    """Add every registered command not yet on ``app`` (a :class:`typer.Typer`); returns the
    names added. Safe to call again after a late :func:`register_command`."""
    import typer

    attached = getattr(app, "_geosr_attached", set())
    added = []
    for name in COMMANDS:
        if name in attached:
            continue
        entry = COMMANDS.get(name)
        if isinstance(entry, typer.Typer):
            app.add_typer(entry, name=name)
        else:
            app.command(name=name)(entry)
        attached.add(name)
        added.append(name)
    app._geosr_attached = attached
    return added
