"""``geosr`` command-line interface: the typer app and :func:`main`; every command lives in
its own module, listed in :data:`geosr.cli.commands.COMMANDS`.

Every command calls one public function of the library. User errors (:class:`GeosrError`, bad
options) are printed in one or two lines on stderr and exit with status 2, without a traceback;
outputs are written atomically, so a failed command leaves no partial file.
"""

from __future__ import annotations

import sys

import typer

from geosr.core.errors import GeosrError

app = typer.Typer(
    name="geosr",
    help="Super-resolution of porosity-network images (dentin, bone LCN, rock) with evidence "
         "of how far each result can be trusted.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _register_subcommands() -> None:
    """Commands that live in their own modules: the table :data:`geosr.cli.commands.COMMANDS`
    (imported lazily inside each command body)."""
    from geosr.cli.commands import attach_commands

    attach_commands(app)


_register_subcommands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (2 for any user error, without a traceback)."""
    _register_subcommands()   # commands registered since import (plugins, tests)
    try:
        result = app(args=argv, prog_name="geosr", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("geosr: aborted", err=True)
        return 130
    except typer.TyperException as exc:  # bad option, missing argument (typer's own click)
        show = getattr(exc, "show", None)
        show() if show else typer.echo(f"geosr: error: {exc}", err=True)
        return 2
    except GeosrError as exc:
        typer.echo(f"geosr: error: {exc}", err=True)
        return 2


def entry_point() -> None:  # console script
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
