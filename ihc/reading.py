"""One entry point for a case as text: the stains (:mod:`ihc.parse`) and the morphology
(:mod:`ihc.morph_text`) read from the same text, with morphology given as options on top.

>>> p = parse("Spindle cells, 18 mitoses per 10 HPF and coagulative necrosis; SMA+, desmin+, CD117-")
>>> p.markers, p.morphology.necrosis
({'SMA': 'pos', 'desmin': 'pos', 'CD117': 'neg'}, True)
"""

from __future__ import annotations

from .exceptions import NoKnownMarkerError
from .morph_text import read_morphology
from .morphology import Morphology, morphology_from_mapping
from .panel import Panel
from .plain_list import read as _read_plain_list, strict_error
from .sites import normalise_site

__all__ = ["parse", "with_morphology"]


def with_morphology(panel, morphology):
    """``panel`` with ``morphology`` (a mapping or Morphology) over what its text gave."""
    if morphology is None:
        return panel
    given = morphology_from_mapping(morphology)
    if not given:
        return panel
    panel.morphology = given.merged(panel.morphology) if panel.morphology else given
    for w in given.warnings:
        if w not in panel.warnings:
            panel.warnings.append(w)
    return panel


_NOT_UNDERSTOOD = "text not understood: "


def _drop_morphology_fragments(panel, mode):
    """Fragments the stain reader left unparsed that are morphology ("no mitoses", "no necrosis")
    are read, not "not understood"; strict mode then applies to what is left."""
    left = [u for u in panel.unparsed if not read_morphology(u)]
    if left == panel.unparsed:
        if mode == "strict" and (panel.unknown or panel.unparsed):
            _strict(panel)
        return
    panel.unparsed = left
    panel.warnings = [w for w in panel.warnings if not w.startswith(_NOT_UNDERSTOOD)]
    if mode == "default" and left:
        panel.warnings.append(_NOT_UNDERSTOOD + "; ".join(repr(u) for u in left[:5])
                              + (" ..." if len(left) > 5 else ""))
    if mode == "strict" and (panel.unknown or panel.unparsed):
        _strict(panel)


def _strict(panel):
    raise strict_error(panel.unknown, panel.unparsed)


def parse(text, site=None, *, mode="default", morphology=None):
    """Read a case's text: its stains into a :class:`~ihc.panel.Panel`, its morphology beside them.

    Parameters
    ----------
    text : str
        The report's text, stains and morphology in any order.
    site : str, optional
        Tumour site as free text.
    mode : {"default", "strict", "lenient"}
        Validation mode for the stains (see :func:`ihc.parse.parse`).
    morphology : mapping or Morphology, optional
        Findings given apart (options, batch columns); they take precedence over the text's.

    Returns
    -------
    Panel
        With ``morphology`` set when the text or the options state any finding.

    Raises
    ------
    NoKnownMarkerError
        Neither a stain result nor a morphological finding could be read.

    Examples
    --------
    >>> parse("tumour measuring 6 cm; CD117+ DOG1+", site="stomach").morphology.size_cm
    6.0
    """
    read = read_morphology(text) if isinstance(text, str) else Morphology()
    stain_mode = "default" if (read and mode == "strict") else mode
    try:
        # a plain list is read without importing the general reader (the same Panel, tested)
        panel = _read_plain_list(text, site, stain_mode)
        if panel is None:
            from .parse import parse as parse_stains

            panel = parse_stains(text, site=site, mode=stain_mode)
        if read:
            _drop_morphology_fragments(panel, mode)
    except NoKnownMarkerError:
        if not read and not morphology:
            raise
        panel = Panel()
        if site is not None:
            panel.site, warn = normalise_site(site)
            panel.site_text = str(site)
            if warn:
                panel.warnings.append(warn)
    if read:
        panel.morphology = read
        panel.warnings.extend(w for w in read.warnings if w not in panel.warnings)
    return with_morphology(panel, morphology)
