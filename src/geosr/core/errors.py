"""The error classes of geosr.

Every problem a user can fix (a missing file, a wrong axis string, a scale that does not divide
the shape, a config field with a wrong value) is raised as a :class:`GeosrError` whose message
says *what* was wrong, *where* (file or field) and *what to do*. The CLI prints these messages in
one or two lines and exits with status 2; any other exception is a bug in geosr.

Example
-------
>>> try:
...     raise InputError("scale 3 does not divide the shape (100, 100)", where="img.tif",
...                      hint="crop to (99, 99)")
... except GeosrError as err:
...     print(err)
img.tif: scale 3 does not divide the shape (100, 100); crop to (99, 99)
"""

from __future__ import annotations

__all__ = ["GeosrError", "InputError", "ConfigError", "DependencyError"]


class GeosrError(Exception):
    """Base class for every error a user can act on.

    Parameters
    ----------
    message:
        What was wrong, in one sentence.
    where:
        The file, field or argument concerned (printed first), if any.
    hint:
        What the user can do about it, if not obvious from the message.
    """

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text = f"{text}; {self.hint}"
        return text


class InputError(GeosrError, ValueError):
    """Bad input data: missing, truncated or unreadable file, wrong axes, NaN/Inf, empty array,
    impossible scale."""


class ConfigError(GeosrError, ValueError):
    """A configuration field or option with a wrong name or value."""


class DependencyError(GeosrError, ImportError):
    """An optional dependency needed by the requested feature is not installed."""
