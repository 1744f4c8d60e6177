"""ihc: rank the diagnoses a spindle-cell tumour's IHC panel supports, and say why.

>>> import ihc
>>> ihc.parse("SMA+ desmin+ CD117- DOG1-").markers["CD117"]
'neg'
>>> ihc.classify("CD117+ DOG1+ CD34+ SMA- desmin- S100-", site="stomach").differential[0]["diagnosis"]
'gist'
"""

import sys as _sys
import types as _types

from .api import Result, classify, recommend
from .panel import Panel
from .reading import parse


class _Package(_types.ModuleType):
    """This package's module type: ``ihc.parse`` stays the function :func:`ihc.reading.parse`.

    The stain reader's submodule :mod:`ihc.parse` is imported only when a text needs the general
    reader (a plain list does not), and importing a submodule sets the package's attribute of the
    same name to it; that assignment is ignored, as the name was rebound to the function when the
    submodule was imported before this file's last import."""

    def __setattr__(self, name, value):
        if name == "parse" and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


def __getattr__(name):
    """``__version__`` and ``classify_frame`` are looked up on first use, so that ``import ihc`` (and
    ``ihc classify``) does not pay for ``importlib.metadata`` nor the batch module."""
    if name == "classify_frame":
        from .batch import classify_frame

        globals()["classify_frame"] = classify_frame
        return classify_frame
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("ihc")
        except PackageNotFoundError:  # a source tree that is not installed
            value = "0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'ihc' has no attribute {name!r}")


__all__ = ["parse", "classify", "recommend", "classify_frame", "Result", "Panel", "__version__"]
