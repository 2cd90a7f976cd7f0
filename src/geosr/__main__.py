"""``python -m geosr`` runs the command line."""

from geosr.cli.main import entry_point

entry_point()
