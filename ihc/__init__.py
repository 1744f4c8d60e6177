"""ihc: rank the diagnoses a spindle-cell tumour's IHC panel supports.

>>> import ihc
>>> ihc.parse("SMA+ desmin+ CD117- DOG1-").markers["CD117"]
'neg'
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("ihc")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

try:
    from .parse import parse  # noqa: E402
except ImportError:  # pragma: no cover
    pass

__all__ = ["parse", "__version__"]
