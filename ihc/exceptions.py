"""Typed errors raised by the ihc library.

The library never prints and never exits; the command line turns these
exceptions into one-line messages and exit codes (see ``ihc.cli``).
"""

__all__ = [
    "IhcError",
    "InputError",
    "EmptyInputError",
    "NoKnownMarkerError",
    "ConflictingValueError",
    "InvalidValueError",
    "UnknownMarkerError",
    "ModelError",
    "ModelIntegrityError",
]


class IhcError(Exception):
    """Base class of every error raised on purpose by ihc."""


class InputError(IhcError, ValueError):
    """The input (a panel, a site, a file) cannot be used as given."""


class EmptyInputError(InputError):
    """The input is empty or holds only whitespace."""


class NoKnownMarkerError(InputError):
    """The text names no marker of the vocabulary."""


class ConflictingValueError(InputError):
    """The same marker is given two different values."""


class InvalidValueError(InputError):
    """A marker value is outside what is accepted (e.g. Ki-67 above 100)."""


class UnknownMarkerError(InputError):
    """A marker-like name outside the vocabulary, raised only in strict mode."""


class ModelError(IhcError):
    """The model artifact cannot be found, read or used."""


class ModelIntegrityError(ModelError):
    """The model artifact does not match its card (sha256, format, markers)."""
