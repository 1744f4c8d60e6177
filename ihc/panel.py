"""The validated input object: a panel of canonical marker results plus context."""

from __future__ import annotations

from .markers import UNINFORMATIVE
from .record import Record

__all__ = ["Panel"]


class Panel(Record):
    """A parsed immunohistochemistry panel.

    Attributes
    ----------
    markers : dict
        Canonical marker name -> value. Ordinary markers take ``"pos"``,
        ``"neg"`` or ``"focal"``; ``H3K27me3`` and ``SDHB`` take ``"lost"`` or
        ``"retained"``; ``Ki67`` takes a number 0-100, or ``"high"``/``"low"``
        when the report gives no figure. Markers not done are absent.
    site : str or None
        Canonical site (see :mod:`ihc.sites`), or ``None``.
    site_text : str or None
        The site as given, before normalisation.
    unknown : list of str
        Marker-like names outside the vocabulary (e.g. ``BCL2``), as written.
    unparsed : list of str
        Fragments of the text that were not understood.
    warnings : list of str
        Parser warnings (e.g. a site that could not be placed).
    morphology : Morphology or None
        Morphology and clinical context (mitoses, necrosis, atypia, cell type, size, age,
        sex), read from the text or given as options; ``None`` when none was given.

    Examples
    --------
    >>> p = Panel(markers={"SMA": "pos", "vimentin": "pos"})
    >>> p.ignored
    ['vimentin']
    """

    # A plain class with the __init__, __repr__ and __eq__ a dataclass would write: importing
    # dataclasses (and building the class with it) is a measurable share of a single classify's start.
    __match_args__ = ("markers", "site", "site_text", "unknown", "unparsed", "warnings", "morphology")
    __hash__ = None

    def __init__(self, markers=None, site=None, site_text=None, unknown=None, unparsed=None, warnings=None,
                 morphology=None):
        self.markers = {} if markers is None else markers
        self.site = site
        self.site_text = site_text
        self.unknown = [] if unknown is None else unknown
        self.unparsed = [] if unparsed is None else unparsed
        self.warnings = [] if warnings is None else warnings
        self.morphology = morphology

    @property
    def ignored(self):
        """Recognised markers the model does not use."""
        return [m for m in self.markers if m in UNINFORMATIVE]

    def to_dict(self, ignored: bool = False) -> dict:
        """Return the ``input`` object of the output contract (DESIGN section 6)."""
        d = {
            "markers": dict(self.markers),
            "site": self.site,
            "unknown": list(self.unknown),
            "unparsed": list(self.unparsed),
        }
        if ignored:
            d["ignored"] = self.ignored
        if self.morphology:
            d["morphology"] = self.morphology.to_dict()
        return d

    def to_text(self) -> str:
        """Canonical text form, which :func:`ihc.parse` reads back to the same panel.

        >>> Panel(markers={"SMA": "pos", "Ki67": 30, "CD34": "focal"}).to_text()
        'SMA=pos; Ki67=30; CD34=focal'
        """
        parts = []
        for name, value in self.markers.items():
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            parts.append(f"{name}={value}")
        return "; ".join(parts)
