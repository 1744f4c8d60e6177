"""ihc: rank the diagnoses a spindle-cell tumour's IHC panel supports, and say why.

>>> import ihc
>>> ihc.parse("SMA+ desmin+ CD117- DOG1-").markers["CD117"]
'neg'
>>> ihc.classify("CD117+ DOG1+ CD34+ SMA- desmin- S100-", site="stomach").differential[0]["diagnosis"]
'gist'
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("ihc")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"

from .api import Result, classify, classify_frame, recommend  # noqa: E402
from .panel import Panel  # noqa: E402
from .reading import parse  # noqa: E402

__all__ = ["parse", "classify", "recommend", "classify_frame", "Result", "Panel", "__version__"]
