"""The fast path of the stain reader: a plain LIS list of markers, each with its own value.

``SMA(+), desmin(-), CD34(focal +), Ki-67 30%``, ``SMA+ desmin- CD117 focal``,
``SMA=pos desmin=neg``: :func:`read` gives the :class:`~ihc.panel.Panel` the general reader
(:func:`ihc.parse.parse`) gives such a list, or None for anything else, without importing
the general reader (a single ``ihc classify`` of a plain list does not pay for it). The
vocabulary tables both readers share (the normalised names, the other markers' keys, the
name prefixes), the validation modes and the panel's validation (:func:`finish`) are
defined here once; :mod:`ihc.parse` reads them.

Only the standard library is imported: this module is on the fast path.
"""

from __future__ import annotations

import re

from .exceptions import InputError, UnknownMarkerError
from .markers import LOSS_MARKERS, NOT_MODELLED, OTHER_MARKERS, lookup_table, normalise_name
from .panel import Panel
from .sites import normalise_site

__all__ = ["MODES", "check_mode", "finish", "strict_error", "read_markers", "read"]

#: Validation modes accepted by :func:`parse` and :func:`panel_from_mapping`.
MODES = ("strict", "default", "lenient")


_OTHER_DEFS = OTHER_MARKERS
OTHER_KEYS = {}
for _k, _syns in _OTHER_DEFS.items():
    for _s in (_k, *_syns):
        OTHER_KEYS.setdefault(normalise_name(_s), _k)

VOCAB = lookup_table()
# Short names that are ordinary words or abbreviations when written in lower case ("kit",
# "er", "syn", "nf"): read as markers only when capitalised (KIT, ER, Syn, NF).
LOWER_REFUSED = {"kit", "er", "pr", "ck"} | {
    k for k, v in VOCAB.items() if v in NOT_MODELLED and len(k) <= 4 and k.isalpha()}
# Every prefix of a normalised name (vocabulary or other marker): a key that is not one
# cannot grow into a name, so the n-gram look-up stops there.
PREFIXES = {key[:i] for key in (*VOCAB, *OTHER_KEYS) for i in range(1, len(key) + 1)}
MAX_WORD = 40


def number(x):
    x = round(float(x), 3)
    return int(x) if x.is_integer() else x


def check_mode(mode):
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")


def strict_error(unknown, unparsed):
    """The error of strict mode for names outside the vocabulary and text not understood."""
    parts = []
    if unknown:
        parts.append("unknown marker(s) " + ", ".join(unknown[:8]))
    if unparsed:
        parts.append("text not understood " + "; ".join(repr(u) for u in unparsed[:3]))
    return UnknownMarkerError("strict mode: " + " and ".join(parts)
                              + "; use marker names from `ihc markers` with values such as +, -, focal")


def finish(markers, unknown, unparsed, warnings, site, mode):
    """Apply the validation mode and the site; build the Panel."""
    panel = Panel(markers=markers, unknown=list(unknown), unparsed=list(unparsed))
    if mode == "strict" and (panel.unknown or panel.unparsed):
        raise strict_error(panel.unknown, panel.unparsed)
    if mode == "default":
        if panel.unknown:
            warnings.append("marker(s) outside the vocabulary, reported but not used: "
                            + ", ".join(panel.unknown[:12])
                            + (" ..." if len(panel.unknown) > 12 else ""))
        if panel.unparsed:
            warnings.append("text not understood: "
                            + "; ".join(repr(u) for u in panel.unparsed[:5])
                            + (" ..." if len(panel.unparsed) > 5 else ""))
    else:
        warnings = [w for w in warnings if not w.startswith("CONFLICT-OK")]
    if site is not None:
        canon, warn = normalise_site(site)
        panel.site = canon
        panel.site_text = site if isinstance(site, str) else str(site)
        if warn:
            warnings.append(warn)
    panel.warnings = warnings if mode != "lenient" else [
        w for w in warnings if w.startswith("site ")]
    return panel


# ----------------------------------------------------------------- fast path (LIS lists)
#
# Most LIS exports write a panel as a plain list of markers each followed by its own value:
# ``SMA(+), desmin(-), CD34(focal +), Ki-67 30%``, ``SMA+ desmin- CD117 focal``,
# ``SMA=pos desmin=neg``, ``SMA: pos; desmin: neg``. For that shape the general reader
# gives each marker the value written on it and nothing else (no unknown, unparsed or
# warning), so it is read here directly. Anything else - another value form, a marker
# named twice, a name outside the table below, a character outside the grammar - returns
# None and the general reader decides. tests/test_parse.py checks the two agree on every
# name of the table with every value form and separator.

# Markers the fast path reads: single words or two joined by one hyphen (SMA, desmin, CD117,
# c-kit, S-100, Ki-67, MIB-1...). Excluded: the loss markers and beta-catenin (their values
# are rewritten), the names the general reader refuses in lower case (kit, er, pr, ck), any
# key that could grow into a longer name with the word or number after it.
_FAST_VALUE_WORDS = {"positive": "pos", "pos": "pos", "negative": "neg", "neg": "neg",
                     "focal": "focal"}
_FAST_SIGNS = {"+": "pos", "-": "neg", "(+)": "pos", "(-)": "neg", "(focal +)": "focal"}


def _fast_key_ok(key, name):
    if name in LOSS_MARKERS or name == "beta_catenin" or key in LOWER_REFUSED:
        return False
    if not key.isascii() or not key.isalnum() or key.startswith("anti"):
        return False
    if any(key + w in PREFIXES for w in _FAST_VALUE_WORDS):
        return False
    if name == "Ki67" and any(key + d in PREFIXES for d in "0123456789"):
        return False
    return True


FAST_NAMES = {k: v for k, v in VOCAB.items() if _fast_key_ok(k, v)}
if any(w in PREFIXES for w in _FAST_VALUE_WORDS):  # pragma: no cover - lexicon guard
    FAST_NAMES = {}
_FAST_ITEM = re.compile(
    r"([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)?)"                       # 1 name
    r"(?:(\(\+\)|\(-\)|\(focal \+\)|\+|-)"                              # 2 sign
    r"|[=:] ?(positive|negative|pos|neg|focal)"                         # 3 =value, : value
    r"|( focal)"                                                        # 4 bare focal
    r"| (\d{1,3}(?:\.\d{1,3})?)%)"                                      # 5 Ki-67 index
    r"(?: *[,;] *| +|\Z)")


def read_markers(text):
    """Markers of a plain LIS list (see above), or None for the general reader."""
    n = len(text)
    pos = len(text) - len(text.lstrip(" "))
    if pos == n:
        return None
    markers = {}
    match = _FAST_ITEM.match
    while pos < n:
        m = match(text, pos)
        if m is None:
            return None
        written, sign, word, focal, num = m.groups()
        name = FAST_NAMES.get(written.replace("-", "").lower())
        if name is None or name in markers or len(written) > MAX_WORD or \
                written[:5].lower() == "anti-":
            return None
        if name == "Ki67":
            if num is None:
                return None
            x = float(num)
            if x > 100:
                return None
            markers[name] = number(x)
        elif num is not None:
            return None
        elif sign is not None:
            markers[name] = _FAST_SIGNS[sign]
        elif word is not None:
            markers[name] = _FAST_VALUE_WORDS[word]
        else:
            markers[name] = "focal"
        pos = m.end()
    return markers


def read(text, site=None, mode="default"):
    """The Panel :func:`ihc.parse.parse` gives a plain list (see above), or None: for anything
    else (another shape, not a non-empty string, an unknown mode) the general reader decides,
    and raises what it raises."""
    if mode not in MODES or not isinstance(text, str) or not text.strip():
        return None
    markers = read_markers(text)
    if markers is None:
        return None
    return finish(markers, [], [], [], site, mode)
