"""Read an IHC panel as pathology reports write it into a validated :class:`~ihc.panel.Panel`.

Three entry points:

- :func:`parse` reads free text: compact LIS lists (``SMA(+), Des(+), CD34(-)``,
  ``SMA=pos desmin=pos``, ``CD117: diffuse strong; MIB-1 index 8%``) and the
  prose of papers and reports (``strongly positive for h-caldesmon, alpha-SMA and
  desmin, and negative for CD117 and DOG1; the Ki-67 index was about 40%``).
- :func:`parse_value` reads one cell of a structured export for one marker.
- :func:`panel_from_mapping` reads a ``{column: cell}`` mapping (a CSV row).

How free text is read
---------------------
The text is cut into sentences (``.``, ``!``, ``?``) and clauses (``;``, new
lines, and words such as *but*, *whereas*, *while*). Inside a clause:

- a value written on the marker wins: ``SMA(+)``, ``SMA+``, ``SMA: positive``,
  ``SMA=pos``, ``CD34 (focal +)``, ``SOX10 (weak)``, ``HMB-45-positive``;
- a polarity phrase followed by *for*/*to*/*of*/*with* or ``:`` (``positive
  for``, ``negativity for``, ``lacked expression of``, ``Negative:``) or
  directly by a marker (``expressed CD117``, ``retained H3K27me3``) carries
  over the list of markers that follows, until the list ends (a word that is
  not a marker, a connector or a filler), the next polarity phrase or the end
  of the clause;
- a polarity phrase after markers (``CD117 and S100 were negative``,
  ``CD34 positive``) applies to the markers named since the last reading;
- qualifiers grade a positive reading: *focal, weak, patchy, scattered,
  partial, variable, some, subpopulation, +/-* give ``focal``; *diffuse,
  strong, uniform, 1+ to 3+* keep ``pos``.

Ki-67 takes the first percentage after it in the same clause (``Ki-67(+,30%)``,
``MIB-1 index 8%``, ``Ki-67 labeling index was about 40%``, ``Ki67=30``); a
range gives its midpoint (``5-10%`` -> 7.5); a bound gives the bound as
written (``<1%`` -> 1, ``>50%`` -> 50); without a figure, words such as *high*,
*considerable*, *low* give ``"high"``/``"low"``, and a negative reading gives
``"low"``.

A percentage on another marker grades it: 0% -> ``neg``, 1-49% -> ``focal``,
50% or more -> ``pos``; so does a percentage of cells in prose (``positive in 30%
of tumour cells``, ``20% of the cells expressed SMA`` -> ``focal``). ``H3K27me3``/``SDHB`` read negative/loss as ``lost`` and
positive/retained as ``retained``. A nuclear marker (beta-catenin, MyoD1, STAT6...;
:data:`ihc.markers.NUCLEAR_MARKERS`) described as cytoplasmic or membranous without nuclear
staining is ``neg`` (nuclear staining is what counts).

Chinese, Japanese and Korean text is first rewritten into the words of the English lexicon
by per-language tables (:mod:`ihc.lexicon_ja`, :mod:`ihc.lexicon_zh`, :mod:`ihc.lexicon_ko`,
read by :mod:`ihc.lexicon_cjk`): ``KIT、DOG1陽性、desmin、S-100蛋白陰性`` reads as
``KIT, DOG1 positive, desmin, S-100 protein negative``, ``CD117과 DOG1은 양성`` as ``CD117
and DOG1 positive``; fragments not understood are quoted as written. The English words are
a table too (:mod:`ihc.lexicon_en`); the grammar below is the same for every language.

A marker named next to a molecular word (*mutation, amplification, FISH,
rearrangement, fusion, exon*...) is not an IHC result and is skipped.

The same marker read twice with different values is an error
(:class:`~ihc.exceptions.ConflictingValueError`), except inside one sentence that
says the tumour is heterogeneous (``some ... positive, whereas others ...
negative``): that is read as ``focal``, with a warning. Two readings are not a
conflict either when the text places one of them in other cells than the tumour
(``CD117 ... positive in mast cells``, ``SMA ... in entrapped smooth muscle``,
``CD34 highlighted the background vessels``, ``in the epithelioid component``):
the tumour reading is kept and the other dropped, with a warning; a marker read only in
such cells (``CD34は血管内皮のみ陽性``, ``CD117 stained only the mast cells``) gives no tumour
result and is left out, with a warning. A plain
``actin`` reading that disagrees with a named smooth muscle actin gives way to it.

Only the standard library is imported: this module is on the fast path.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata

from .exceptions import (
    ConflictingValueError,
    EmptyInputError,
    InputError,
    InvalidValueError,
    NoKnownMarkerError,
    UnknownMarkerError,
)
from . import lexicon_en as _EN
from .markers import LOSS_MARKERS, NUCLEAR_MARKERS, OTHER_MARKERS, canonical, info, normalise_name, nuclear_reading
from .panel import Panel
from .plain_list import (  # the tables, modes and validation both readers share, and the fast path
    FAST_NAMES as _FAST_NAMES, LOWER_REFUSED as _LOWER_REFUSED, MAX_WORD as _MAX_WORD, MODES,
    OTHER_KEYS as _OTHER, PREFIXES as _PREFIXES, VOCAB as _VOCAB, check_mode as _check_mode,
    finish as _finish, number as _num, read_markers as _fast_markers, strict_error)
from .sites import normalise_site

__all__ = ["parse", "parse_value", "panel_from_mapping", "MODES", "KNOWN_OTHER_MARKERS",
           "other_marker_key"]

# --------------------------------------------------------------------------- lexicon

# IHC markers outside the vocabulary that reports often name (ihc.markers.OTHER_MARKERS):
# reported in ``Panel.unknown`` under their display key (never used by the model).
_OTHER_DEFS = OTHER_MARKERS


def _has_cjk(text):
    """:func:`ihc.lexicon_cjk.has_cjk`, importing the CJK lexicons only for text that is not ASCII
    (every CJK character is outside ASCII), so that reading a Latin panel does not pay for them."""
    if text.isascii():
        return False
    from .lexicon_cjk import has_cjk

    return has_cjk(text)


def _cjk_rewrite(text):
    from .lexicon_cjk import rewrite

    return rewrite(text)


def other_marker_key(name):
    """Return the display key of a known IHC marker outside the vocabulary, else ``None``.

    >>> other_marker_key("factor VIII-related antigen"), other_marker_key("HepPar-1")
    ('factor VIII', 'hepatocyte')
    >>> other_marker_key("HHF-35") is None  # in the vocabulary (MSA), not "other"
    True
    """
    return _OTHER.get(normalise_name(name))


#: Known IHC markers outside the vocabulary (reported as ``unknown``).
KNOWN_OTHER_MARKERS = tuple(k for k in _OTHER_DEFS if _OTHER_DEFS[k])

_MAX_NGRAM = 7

# Word classes
POS, NEG, RET, EXPR, NEGATOR, QF, QP, PAT, ND, F, CONN, BRK, FILL, HIGH, LOW, MOLEC = (
    "POS", "NEG", "RET", "EXPR", "NEGATOR", "QF", "QP", "PAT", "ND", "F", "CONN", "BRK",
    "FILL", "HIGH", "LOW", "MOLEC")

# word -> class, from the English table (ihc/lexicon_en.py)
_WORDS = {w: cls for cls, words in _EN.WORD_CLASSES.items() for w in words.split()}
assert set(_EN.WORD_CLASSES) == {POS, NEG, RET, EXPR, NEGATOR, QF, QP, PAT, ND, F, CONN, BRK,
                                 FILL, HIGH, LOW, MOLEC}

# Words that may sit inside a polarity phrase between its words.
_PHRASE_CLASSES = {POS, NEG, RET, EXPR, NEGATOR, QF, QP, PAT, ND}
_POLAR_CLASSES = {POS, NEG, RET, EXPR, NEGATOR}
# Words that keep a forward list open ("positive for X, Y and the Z protein").
_LIST_CLASSES = {CONN, F, FILL, PAT}

_CUES = _EN.CUES
_NON_TUMOUR = _EN.NON_TUMOUR
_OTHER_CELLS = _EN.OTHER_CELLS
_CELL_WORDS = _EN.CELL_WORDS
_TUMOUR = _EN.TUMOUR
_STOP = _EN.STOP
_COPULAS = _EN.COPULAS

_TRANS = {
    0x2010: "-", 0x2011: "-", 0x2012: "-", 0x2013: "-", 0x2014: "-", 0x2015: "-",
    0x2212: "-", 0xFE63: "-", 0xFF0D: "-", 0x00B1: "+/-", 0x2213: "-/+",
    0x2264: "<", 0x2265: ">", 0x201C: '"', 0x201D: '"', 0x2018: "'", 0x2019: "'",
    0x2026: "...", 0x00A0: " ", 0x0D: "\n", 0x2028: "\n", 0x2029: "\n",
}
for _c in range(32):
    if _c != 10:
        _TRANS.setdefault(_c, " ")
_TRANS[0x7F] = " "

class _OnFirstUse:
    """A module-level expression of the general reader, compiled on first use: the first attribute
    looked up compiles it and rebinds the module's global name to the compiled pattern (so later
    uses cost nothing). A plain list that the fast path reads never compiles them."""

    __slots__ = ("_name", "_args")

    def __init__(self, name, *args):
        self._name, self._args = name, args

    def __getattr__(self, attr):
        rx = re.compile(*self._args)
        globals()[self._name] = rx
        return getattr(rx, attr)


_TOKEN = _OnFirstUse("_TOKEN", r"[^\W_]+(?:\.\d+)*|\n|\S")
_NUMBER = _OnFirstUse("_NUMBER", r"\d+(?:\.\d+)?")
_LETTER = _OnFirstUse("_LETTER", r"[^\W\d_]")
_DIGIT = _OnFirstUse("_DIGIT", r"\d")
# five digits in a row: a specimen or case number ("YC1201429-3"), never a marker's name
_SPECIMEN = _OnFirstUse("_SPECIMEN", r"\d{5}")

_MAX_UNPARSED = 50
_FRAG = 60


def _clip(s, n=_FRAG):
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3].rstrip() + "..."


# --------------------------------------------------------------------------- items


class _It:
    """One lexical item: a marker, a word, a number, a sign or a punctuation mark."""

    __slots__ = ("k", "t", "n", "s", "e", "sp", "c", "v", "cls", "skip", "hy", "pct",
                 "inten", "known", "nl_hard")

    def __init__(self, k, t, s, e, sp):
        self.k = k        # M marker, U other marker, W word, N number, S sign, P punct,
        #                   B sentence break, C clause break
        self.t = t        # text as written
        self.n = ""       # normalised
        self.s = s
        self.e = e
        self.sp = sp      # whitespace before
        self.c = None     # canonical marker / other key
        self.v = None     # sign value / number value
        self.cls = None   # word class
        self.skip = False
        self.hy = False   # joined to the previous item by a hyphen ("HMB-45-positive")
        self.pct = False  # number followed by %
        self.inten = False  # number followed by + (intensity grade)
        self.known = False  # U: a known name (not a guess)
        self.nl_hard = False

    def __repr__(self):  # pragma: no cover - debugging aid
        return f"<{self.k}:{self.t}{'/' + str(self.c) if self.c else ''}{'/' + self.cls if self.cls else ''}>"


_CONTROL = _OnFirstUse("_CONTROL", r"[\x00-\x09\x0b-\x1f\x7f]")


def _clean(text):
    if text.isascii() and not _CONTROL.search(text):
        return text  # NFKC leaves ASCII as it is and _TRANS maps only controls in it
    text = unicodedata.normalize("NFKC", text)
    return text.translate(_TRANS)


_NAME_KEYS = {}          # written word -> normalise_name(word), bounded memo
_NAME_KEYS_MAX = 50000


def _name_key(t):
    """``normalise_name(t)``, memoised: reports repeat the same few hundred words."""
    v = _NAME_KEYS.get(t)
    if v is None:
        # plain ASCII letters and digits: normalisation is only case-folding
        v = t.lower() if t.isascii() and t.isalnum() else normalise_name(t)
        if len(_NAME_KEYS) < _NAME_KEYS_MAX:
            _NAME_KEYS[t] = v
    return v


def _tokens(text):
    """(text, start, end) of words, newlines and single punctuation characters."""
    toks = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    if _GLUED_HINT.search(text):  # two names glued: two tokens, each where it was written
        toks = [part for tok in toks for part in _unglued(tok)]
    return toks


def _marker_like(t):
    """Heuristic: does a written name look like an IHC marker outside the vocabulary?"""
    if len(t) > 15 or not _LETTER.match(t) or _SPECIMEN.search(t):
        return False
    bare = t.upper().replace("-", "").replace(".", "")
    if bare in _STOP or (bare.endswith("S") and bare[:-1] in _STOP):
        return False
    if _DIGIT.search(t):
        return True
    upper = sum(1 for ch in t if ch.isupper())
    return upper >= 2 and len(t) <= 8


#: Result words a report may mistype ("immunoreative", "expressons", "negatvie"): a lower-case word
#: of at least this many letters that is no word the reader knows, one edit (a letter left out,
#: added, changed, or two swapped) from exactly one of them, is read as it.
_TYPO_MIN = 8
_TYPO_CLASSES = ("POS", "NEG", "EXPR")


@functools.lru_cache(maxsize=1)
def _typo_targets():
    return frozenset(w for cls in _TYPO_CLASSES for w in _EN.WORD_CLASSES[cls].split()
                     if len(w) >= _TYPO_MIN - 1 and w.isalpha())


def _one_edit(a, b):
    """True when ``a`` and ``b`` differ by one deletion, insertion, substitution or swap of neighbours."""
    la, lb = len(a), len(b)
    if abs(la - lb) > 1 or a == b:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        return a[i + 1:] == b[i + 1:] or (i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i]
                                            and a[i + 2:] == b[i + 2:])
    return a[i + 1:] == b[i:] if la > lb else a[i:] == b[i + 1:]


@functools.lru_cache(maxsize=4096)
def _typo_of(word):
    """The one result word ``word`` is a typing slip of, or None (none, or more than one)."""
    if word in _WORDS or word in _known_tokens():
        return None
    hits = [w for w in _typo_targets() if _one_edit(word, w)]
    return hits[0] if len(hits) == 1 else None


def _add_word(items, t, s, e, sp, cls):
    """Append a word item; a hyphen item just before it is folded into the word."""
    it = _It("W", t, s, e, sp)
    it.n = t.lower()
    it.cls = cls
    it.hy = bool(items) and items[-1].k == "HY"
    if it.hy:
        items.pop()
    items.append(it)


def _build(text):
    """Turn cleaned text into items (linear time: bounded look-ahead per token)."""
    toks = _tokens(text)
    n = len(toks)
    norms = [None] * n

    def norm(j):
        v = norms[j]
        if v is None:
            t = toks[j][0]
            v = _name_key(t) if len(t) <= _MAX_WORD else ""
            norms[j] = v
        return v

    # a token is a word when it starts with a letter or digit ("\n" never does)
    items = []
    j = 0
    while j < n:
        t, s, e = toks[j]
        sp = j == 0 or toks[j - 1][2] < s
        if t == "\n":
            if items and items[-1].k == "C" and items[-1].t == "\n":
                items[-1].nl_hard = True
            else:
                items.append(_It("C", "\n", s, e, sp))
            j += 1
            continue
        if not toks[j][0][0].isalnum():
            j = _punct(toks, j, items, text)
            continue
        # number
        if t[0].isdecimal() and _NUMBER.fullmatch(t):  # (\d is isdecimal)
            it = _It("N", t, s, e, sp)
            try:
                it.v = float(t)
            except ValueError:  # pragma: no cover
                it.v = None
            items.append(it)
            j += 1
            continue
        # "anti-HMB-45", "anti-desmin": the antibody names the marker
        if len(t) == 4 and t.lower() == "anti" and j + 2 < n and toks[j + 1][0] == "-" and \
                toks[j + 1][1] == e and toks[j + 2][1] == toks[j + 1][2] and \
                toks[j + 2][0][0].isalnum():
            j += 2
            continue
        # marker names, longest match first (words joined by spaces or - / . _); the
        # span grows only while its key can still begin a name (_PREFIXES)
        hit = None
        key = norm(j) if len(t) <= _MAX_WORD else ""
        if key:
            span = [j]
            keys = [key]
            k = j
            # (the gap between two tokens never holds a new line: "\n" is a token itself)
            while len(span) < _MAX_NGRAM and key in _PREFIXES:
                if k + 1 < n and toks[k + 1][0][0].isalnum() and toks[k + 1][1] > toks[k][2]:
                    k += 1
                elif k + 2 < n and toks[k + 1][0] in "-/._" and toks[k + 1][1] == toks[k][2] and \
                        toks[k + 2][1] == toks[k + 1][2] and toks[k + 2][0][0].isalnum():
                    k += 2
                else:
                    break
                part = norm(k)
                if not part:
                    break
                key += part
                span.append(k)
                keys.append(key)
            for L in range(len(keys), 0, -1):
                key = keys[L - 1]
                if key in _VOCAB:
                    if L == 1 and key in _LOWER_REFUSED and t.islower():
                        continue
                    hit = ("M", _VOCAB[key], span[L - 1])
                    break
                if key in _OTHER:
                    if L == 1 and t.islower() and len(key) <= 3:
                        continue
                    hit = ("U", _OTHER[key], span[L - 1])
                    break
        if hit:
            kind, c, last = hit
            e2 = toks[last][2]
            it = _It(kind, text[s:e2], s, e2, sp)
            it.c = c
            it.known = True
            items.append(it)
            j = last + 1
            continue
        wcls = _WORDS.get(t.lower()) if len(t) <= _MAX_WORD else None
        if wcls is None and len(t) >= _TYPO_MIN and t.isalpha() and t.islower():
            fixed = _typo_of(t)  # "immunoreative", "expressons": a result word mistyped
            if fixed is not None:
                _add_word(items, fixed, s, e, sp, _WORDS[fixed])
                j += 1
                continue
        if wcls is not None and not (t.isupper() and len(t) > 1 and wcls in (FILL, CONN, F)
                                     and _marker_like(t)):
            _add_word(items, t, s, e, sp, wcls)
            j += 1
            continue
        # unknown marker-like compound: Bcl-2, MUC-4, NKX3.1, Fli1
        k = j
        while k + 2 < n and toks[k + 1][0] in "-." and toks[k + 1][1] == toks[k][2] and \
                toks[k + 2][1] == toks[k + 1][2] and toks[k + 2][0][0].isalnum() and \
                (len(toks[k + 2][0]) <= 4 or toks[k + 2][0].isdigit()) and \
                toks[k + 2][0].lower() not in _WORDS and k - j < 6:
            k += 2
        e2 = toks[k][2]
        cand = text[s:e2]
        if _marker_like(cand):
            it = _It("U", cand, s, e2, sp)
            it.c = cand
            items.append(it)
            j = k + 1
            continue
        _add_word(items, t, s, e, sp, None)
        j += 1
    # drop dangling hyphen markers
    items = [it for it in items if it.k != "HY"]
    _cd_numbers(items)
    return items


_CD_NAME = _OnFirstUse("_CD_NAME", r"(?i)CD ?\d{1,3}[a-z]?")


def _cd_numbers(items):
    """Read bare numbers listed after a CD marker as CD markers ("CD10, 31, 34 and 117")."""
    n = len(items)
    chain = False
    for x, it in enumerate(items):
        if it.k in "MU":
            chain = bool(_CD_NAME.fullmatch(it.t))
            continue
        if it.k == "N" and chain and not (it.pct or it.inten) and it.t.isdigit() and \
                0 < len(it.t) <= 3 and x > 0 and (
                    (items[x - 1].k == "P" and items[x - 1].t == ",") or
                    (items[x - 1].k == "W" and items[x - 1].n in ("and", "or"))) and (
                x + 1 == n or items[x + 1].k in "BC" or
                (items[x + 1].k == "P" and items[x + 1].t in ",)") or
                (items[x + 1].k == "W" and items[x + 1].cls in (CONN, POS, NEG, FILL))):
            name = "CD" + it.t
            key = _name_key(name)
            if key in _VOCAB:
                it.k, it.c, it.known = "M", _VOCAB[key], True
            else:
                it.k, it.c, it.known = "U", _OTHER.get(key, name), key in _OTHER
            it.t = name
            it.v = None
            continue
        if not ((it.k == "P" and it.t == ",") or (it.k == "W" and it.n in ("and", "or"))):
            chain = False


def _punct(toks, j, items, text):
    """Read punctuation at token j; return the next token index."""
    n = len(toks)
    t, s, e = toks[j]
    sp = j == 0 or toks[j - 1][2] < s
    if t in ".!?":
        # a run of stops ("...") followed by space or the end is a sentence break
        k = j
        while k + 1 < n and toks[k + 1][0] in ".!?" and toks[k + 1][1] == toks[k][2]:
            k += 1
        end = toks[k][2]
        if end >= len(text) or text[end].isspace() or k > j or t != ".":
            if not (items and items[-1].k == "B"):
                items.append(_It("B", t, s, end, sp))
            return k + 1
        items.append(_It("P", t, s, e, sp))
        return j + 1
    if t == ";":
        # inside a short parenthesis ("SMA (smooth muscle actin, SMA; -)") a semicolon
        # separates the parenthesis's parts; elsewhere it ends a clause
        depth = 0
        for it in reversed(items[-5:]):
            if it.k in "BC":
                break
            if it.k == "P" and it.t == ")":
                depth -= 1
            elif it.k == "P" and it.t == "(":
                depth += 1
                if depth > 0:
                    break
        rest = text[e:e + 10]
        close = rest.find(")")
        if depth > 0 and close >= 0 and "(" not in rest[:close] and ";" not in rest[:close]:
            items.append(_It("P", ",", s, e, sp))
            return j + 1
        items.append(_It("C", t, s, e, sp))
        return j + 1
    if t in "+-":
        # a sign run: + ++ +++ - +/- -/+
        k = j
        run = t
        while k + 1 < n and toks[k + 1][1] == toks[k][2]:
            nt = toks[k + 1][0]
            if nt in "+-":
                run += nt
                k += 1
            elif nt == "/" and k + 2 < n and toks[k + 2][0] in "+-" and \
                    toks[k + 2][1] == toks[k + 1][2]:
                run += "/" + toks[k + 2][0]
                k += 2
            else:
                break
        end = toks[k][2]
        nxt = toks[k + 1] if k + 1 < n else None
        if run == "-" and sp and nxt is not None and nxt[1] > end and \
                _WORDS.get(nxt[0].lower()) in _PHRASE_CLASSES:
            # a dash set apart by spaces before a result ("SMA, desmin, h-caldesmon – diffusely
            # positive", "S100, myogenin - negative") is punctuation, not a minus sign
            return j + 1
        if run == "-" and nxt is not None and nxt[1] == end and nxt[0][0].isalnum() \
                and nxt[0] != "\n":
            # joining hyphen: "-positive", "5-10"; a minus before a number after '=' is a sign
            if _NUMBER.fullmatch(nxt[0]) and (not items or (items[-1].k == "P" and
                                                            items[-1].t in ":=(")):
                it = _It("S", "-", s, e, sp)
                it.v = "neg"
                items.append(it)
                return j + 1
            if items and items[-1].k == "N" and _NUMBER.fullmatch(nxt[0]):
                items.append(_It("P", "-", s, e, sp))
            else:
                items.append(_It("HY", "-", s, e, sp))
            return j + 1
        if run == "-" and items and items[-1].k == "N" and nxt is not None and \
                _NUMBER.fullmatch(nxt[0]):
            items.append(_It("P", "-", s, e, sp))  # "5 - 10%"
            return j + 1
        if run == "+" and items and items[-1].k == "N" and items[-1].e == s:
            if not items[-1].pct:
                items[-1].inten = True  # 1+ 2+ 3+
            return k + 1  # "Ki-67(30%+)": the share of cells positive
        it = _It("S", run, s, end, sp)
        if run in ("+/-", "-/+", "+-", "-+"):
            it.v = "focal"
        elif "-" in run:
            it.v = "neg"
        else:
            it.v = "pos"
        items.append(it)
        return k + 1
    if t == "%":
        if items and items[-1].k == "N":
            items[-1].pct = True
            items[-1].e = e
            return j + 1
    items.append(_It("P", t, s, e, sp))
    return j + 1


# --------------------------------------------------------------------------- phrases


# "cluster of differentiation (CD)117", "cluster of differentiation 34": the CD name spelled out
_CD_SPELLED = _OnFirstUse("_CD_SPELLED", r"(?i)\bcluster of differentiation\s*(?:\(\s*CD\s*\)\s*)?(\d{1,3}[a-z]?)\b")


def _cd_spelled(text):
    """Write spelled-out CD names as CD names, keeping every other character where it was."""
    if "differentiation" not in text.lower():
        return text
    return _CD_SPELLED.sub(lambda m: "CD" + m.group(1) if len(m.group(0)) < 2 + len(m.group(1))
                           else " " * (len(m.group(0)) - 2 - len(m.group(1))) + "CD" + m.group(1),
                           text)


#: Asides that say nothing of a result: "desmin (not shown)" is a stain the figures do not show,
#: not a negative one; "HMB-45 (Figure 2) and desmin", "HMB45(見圖3)", "c-Kit (Figure F)": a figure reference.
_ASIDE = re.compile(r"[(\[]\s*(?:(?:data|results?|images?|figures?)?\s*not\s+(?:shown|illustrated|presented|pictured)|"
                    r"(?:see\s+)?(?:figures?|figs?\.?|[见見]?[图圖図])\s*(?:[0-9]|(?-i:[A-Z])(?![a-z]))"
                    r"[0-9A-Za-z,\-–~ ]{0,12})\s*[)\]]", re.I)
#: A gloss before an abbreviation in parentheses ("平滑肌蛋白(smooth muscle protein,SMA)",
#: "(epithelial membrane antigen, EMA)"): the abbreviation names the stain.
_GLOSS = re.compile(r"(?<=\()\s*(?:[a-z]+[- ]){1,5}[a-z]+\s*[,，;]\s*(?=[A-Za-z][A-Za-z0-9-]*[A-Z0-9][A-Za-z0-9-]*\s*\))")
#: A keratin named with its abbreviation between the word and its number ("cytokeratin (CK) 5/6",
#: "cytokeratin (CK)7"): the keratin of that number.
_CK_GLOSS = re.compile(r"\b(?:cyto)?kerat[io]n\s*\(CK\)\s*(\d{1,2}(?:/\d{1,2})?)\b", re.I)
#: A hyphen between a name and its result word with a space after it ("desmin- negative").
_HYPHEN_RESULT = re.compile(r"(?<=[A-Za-z0-9])-(?= +(?:positive|negative|positivity|negativity|reactive|"
                            r"immunoreactive|nonreactive|staining|stained)\b)", re.I)
#: Two names glued without a space ("vimentinCD34が陽性"): a lower-case word, then a capital.
_GLUED = re.compile(r"([a-z]{3,})([A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*)")
#: A star a report glues to a name before its result ("ALK1*(-)").
_STAR = re.compile(r"(?<=[A-Za-z0-9])\*(?=\s*[(（:：+\-])")
#: An antibody clone named beside the result ("Ki67(clone: SP6; index 10%)", "ALK (clone D5F3)").
_CLONE = re.compile(r"\bclone\s*[:：]?\s*[A-Za-z0-9][A-Za-z0-9.\-/]*\s*[;；,，]?", re.I)
#: A word broken at a line end, as text copied from a PDF keeps it ("epithelial mem- brane
#: antigen"): joined when its first part is no word the reader knows.
_BROKEN = re.compile(r"\b([a-z]{2,})- ([a-z]{2,})\b")


def _tidy(text):
    """Blank asides, glosses, antibody clones and stray stars, and join words broken at a line
    end, keeping every other character where it was (the spans of unread fragments point into
    the original)."""
    if "*" in text:
        text = _STAR.sub(" ", text)
    if "(CK)" in text:
        text = _CK_GLOSS.sub(lambda m: ("CK" + m.group(1)).ljust(len(m.group(0))), text)
    if "lone" in text.lower():
        text = _CLONE.sub(lambda m: " " * len(m.group(0)), text)
    if "(" in text or "[" in text:
        text = _ASIDE.sub(lambda m: " " * len(m.group(0)), text)
        if "," in text or "，" in text or ";" in text:
            text = _GLOSS.sub(lambda m: " " * len(m.group(0)), text)
    if "- " in text:
        # "vimentin- positive, desmin- negative": a hyphen broken at a line end before the result
        # word, not a minus sign (read as one, desmin came out positive)
        text = _HYPHEN_RESULT.sub(" ", text)

        def join(m):
            a, b = m.group(1), m.group(2)
            known = _known_tokens()
            if (a + "-" + b) in _hyphened_names():  # "muscle- specific actin": the name's own hyphen
                return a + "-" + b + " "
            if a + b in known and a not in known:
                return a + b + "  "
            return m.group(0)  # "spindle- and", "collagen-iv- mart-1(+)": a sign, not a break
        text = _BROKEN.sub(join, text)
    return text


_GLUED_HINT = re.compile(r"[a-z][A-Z]")


def _unglued(tok):
    """``[tok]``, or its two names when it is two marker names glued without a space
    ("vimentinCD34"; "pan" of "panCK", "alpha" of "alphaSMA" are no marker: one token)."""
    t, s, e = tok
    m = _GLUED.fullmatch(t)
    if m is None:
        return [tok]
    a, b = m.group(1), m.group(2)

    def known(name):
        return canonical(name) is not None or other_marker_key(name) is not None
    if known(a) and known(b) and not known(t):
        return [(a, s, s + len(a)), (b, s + len(a), e)]
    return [tok]


@functools.lru_cache(maxsize=1)  # built on first use: a plain panel never needs it
def _name_words():
    """``(known, hyphened)``: the lexicon's words and the words of every marker name and synonym
    ("membrane" of "epithelial membrane antigen"), and the hyphened word pairs of those names
    ("muscle-specific" of "muscle-specific actin"); one walk over the vocabulary."""
    from .markers import vocabulary

    words, pairs = set(_WORDS), set()
    for m in vocabulary():
        for name in (m.name, m.display, *m.synonyms):
            low = name.lower()
            words.update(re.findall(r"[a-z]{2,}", low))
            pairs.update(re.findall(r"[a-z]{2,}-[a-z]{2,}", low))
    return frozenset(words), frozenset(pairs)


def _known_tokens():
    return _name_words()[0]


def _hyphened_names():
    return _name_words()[1]


# Words that say a stain was done: "not done" is no result, but "staining performed on the
# larger lesion was positive" still has one (the result comes later).
_DONE = {"done", "performed", "ordered", "requested", "attempted"}


class _Phrase:
    __slots__ = ("value", "strong", "polar", "qf", "qp", "pats", "nd", "start", "end", "negs",
                 "done")

    def __init__(self):
        self.value = None
        self.strong = False
        self.polar = False
        self.qf = False
        self.qp = False
        self.pats = set()
        self.nd = False
        self.start = 0
        self.end = 0
        self.negs = 0
        self.done = False


def _paren_end(its, i, limit=16):
    """Index of the ')' closing the '(' at i (no nesting), or -1."""
    n = len(its)
    j = i + 1
    while j < n and j - i <= limit:
        it = its[j]
        if it.k == "P" and it.t == ")":
            return j
        if it.k in "BC" or (it.k == "P" and it.t == "("):
            return -1
        j += 1
    return -1


def _read_phrase(its, i, allow_paren=True):
    """Read a polarity phrase starting at i: '(focally) positive', 'lack of staining', '+/-'."""
    ph = _Phrase()
    ph.start = i
    n = len(its)
    j = i
    count = 0
    while j < n and count < 14:
        it = its[j]
        if it.skip:
            break
        k = it.k
        if k == "W" and j > i and ph.pats and it.cls in (BRK, NEGATOR) and \
                (past := _negated_place(its, j + (it.cls == BRK))):
            j = past  # "cytoplasmic but not nuclear"
            count += 1
            continue
        if k == "W":
            c = it.cls
            if c in (POS, RET):
                ph.polar = ph.strong = True
            elif c == NEG:
                ph.polar = ph.strong = True
                ph.negs += 1
            elif c == NEGATOR:
                ph.polar = ph.strong = True
                ph.negs += 1
            elif c == EXPR:
                ph.polar = True
            elif c == QF:
                ph.qf = True
            elif c == QP:
                ph.qp = True
            elif c == PAT:
                ph.pats.add(it.n)
            elif c == ND:
                if it.n in _DONE:
                    ph.done = True
                else:
                    ph.nd = True
            elif it.n == "any" and j > i and ph.negs:
                pass  # "without any reaction for"
            elif it.n in ("cells", "cell") and j > i and ph.polar and not ph.negs and \
                    (past := _denied_cells(its, j + 1)):
                j = past  # "positive cells were not seen", "陽性細胞は認めなかった"
                ph.negs += 1
                count += 1
                continue
            elif it.n == "only" and j > i:
                pass  # "cytoplasmic only"
            elif it.n in _COPULAS and j > i and ph.polar and j + 1 < n and \
                    its[j + 1].k == "W" and its[j + 1].cls in (QF, QP, POS, NEG, RET):
                pass  # "SMA positivity was focal", "CD34 expression was negative"
            elif it.n in ("and", "of", "in", "specific", "with") and j > i and j + 1 < n \
                    and its[j + 1].k == "W" and its[j + 1].cls in _PHRASE_CLASSES \
                    and not _grades_next_marker(its, j + 1) \
                    and not (it.n == "and" and ph.polar and _polar_follows(its, j + 1)):
                pass  # "strongly and diffusely", "loss of nuclear expression"
            else:
                break
        elif k == "S":
            ph.polar = ph.strong = True
            if it.v == "neg":
                ph.negs += 1
            elif it.v == "focal":
                ph.qf = True
        elif k == "N" and it.inten:
            ph.polar = ph.strong = True
            if it.v == 0:
                ph.negs += 1
        elif k == "P" and it.t == "(" and allow_paren and j > i:
            pe = _paren_end(its, j)
            if pe < 0:
                break
            inner = _read_phrase(its, j + 1, allow_paren=False)
            if inner.end != pe or not (inner.polar or inner.qf or inner.qp or inner.pats):
                break
            ph.polar |= inner.polar
            ph.strong |= inner.strong
            ph.qf |= inner.qf
            ph.qp |= inner.qp
            ph.negs += inner.negs
            ph.pats |= inner.pats
            ph.nd |= inner.nd
            j = pe + 1
            count += 1
            continue
        elif k == "P" and it.t == "," and j > i and j + 1 < n and its[j + 1].k == "W" and \
                its[j + 1].cls in (QF, QP) and not ph.polar:
            pass  # "diffuse, strong"
        else:
            break
        j += 1
        count += 1
    ph.end = j
    if ph.done:
        if ph.negs:
            ph.nd = True     # "not done", "not performed"
        elif not ph.nd:
            # "staining performed": says nothing of the result
            ph.polar = ph.strong = ph.qf = ph.qp = False
    if ph.nd:
        ph.value = None
    elif ph.negs % 2 == 1:
        ph.value = "neg"
    elif ph.polar or ph.qf or ph.qp:
        ph.value = "focal" if ph.qf else "pos"
    return ph


def _denied_cells(its, x):
    """The index after a negator that denies the cells just named ("positive cells were not
    seen": ``were not``), else 0."""
    n = len(its)
    y = x
    while y < n and y - x < 3 and its[y].k == "W" and its[y].n in _COPULAS:
        y += 1
    return y + 1 if y < n and its[y].k == "W" and its[y].cls == NEGATOR else 0


def _negated_place(its, x):
    """The index after a negated place word at x ("not nuclear", "not in the nuclei"), else 0:
    it says where the staining is not, not that the stain is negative."""
    if not (x < len(its) and its[x].k == "W" and its[x].cls == NEGATOR):
        return 0
    x += 1
    while x < len(its) and its[x].k == "W" and its[x].n in ("in", "the", "of"):
        x += 1
    return x + 1 if x < len(its) and its[x].k == "W" and its[x].cls == PAT else 0


def _polar_follows(its, j):
    """Is there a result word at j, after any qualifiers ("and (focally) negative for ...")?

    A phrase that already has a result does not run on through "and" into a second result:
    "SMA positive and negative for CD10" is two readings, not one "positive and negative".
    """
    n = len(its)
    x = j
    while x < n and x - j < 4 and its[x].k == "W" and its[x].cls in (QF, QP, PAT):
        x += 1
    return x < n and its[x].k == "W" and its[x].cls in (POS, NEG, RET, EXPR, NEGATOR)


def _grades_next_marker(its, j):
    """Do the qualifiers from j grade the marker after them ("... with patchy SMA")?"""
    n = len(its)
    x = j
    while x < n and x - j < 4 and its[x].k == "W" and its[x].cls in (QF, QP, PAT):
        x += 1
    return x > j and x < n and its[x].k in "MU"


def _grade(value, quals):
    """Apply pending qualifiers ('QF'/'QP') to a value."""
    if value == "pos" and "QF" in quals:
        return "focal"
    return value


def _below_edge(val, before, after):
    """A Ki-67 index given as below a bin edge ("<5%", "less than 5%", "5%未満", "5% 미만",
    "小于15%"): the bin below the edge ("low", "mid"), not the edge's own; else None."""
    if val not in (5, 15):
        return None
    lt = any((b.k == "P" and b.t in ("<", "\u2264", "\u2a7d")) or
             (b.k == "W" and b.n in ("less", "under", "below", "lower", "fewer")) for b in before) or \
        any(a.k == "W" and a.n == "below" for a in after)
    return ("low" if val == 5 else "mid") if lt else None


def _pct_state(x):
    if x <= 0:
        return "neg"
    if x < 50:
        return "focal"
    return "pos"


# --------------------------------------------------------------------------- reader


class _Reader:
    def __init__(self, text, source=None, spans=None):
        self.text = text
        self.source = text if source is None else source
        self.spans = spans      # rewritten text position -> span of the source (CJK)
        self.readings = []      # (canon, value, sentence, written, pos, non-tumour word)
        self.unknown = {}       # normalised -> written
        self.unparsed = []
        self.cue = set()        # sentences with heterogeneity cues
        self.named = []         # known markers named without a value
        self.any_known = False
        self.last_pats = None

    # -- output helpers
    def frag(self, its, i, j=None):
        """Short fragment around items i..j (stopping at commas and clause ends)."""
        a = i
        steps = 0
        while a > 0 and steps < 12:
            p = its[a - 1]
            if p.k in "BCMUS" or (p.k == "P" and p.t in ",)") or (p.k == "W" and p.cls == BRK):
                break
            a -= 1
            steps += 1
        b = i if j is None else max(i, j - 1)
        steps = 0
        while b + 1 < len(its) and steps < 12:
            q = its[b + 1]
            if q.k in "BCMU" or (q.k == "P" and q.t == ","):
                break
            b += 1
            steps += 1
        return _clip(self.quote(its[a].s, its[b].e))

    def enumerated(self, its, a, b):
        """Are the markers between items a and b joined by the CJK enumeration comma (、) alone?
        ("CD34、DOG1(+)": one list, one value, even after a marker with its own value.)"""
        if self.spans is None:
            return False
        seps = [x for x in its[a:b] if x.k == "P" and x.t == ","]
        return bool(seps) and all(self.source[self.spans[x.s][0]:self.spans[x.s][1]] == "、" for x in seps) and \
            all(x.k in "MUP" or (x.k == "W" and x.n in _OTHER_CELLS) for x in its[a:b])

    def quote(self, s, e):
        """The text between rewritten positions s and e, as the user wrote it."""
        if self.spans is None or e <= s:
            return self.text[s:e]
        return self.source[self.spans[s][0]:self.spans[e - 1][1]]

    def add_unparsed(self, s):
        s = _clip(s.strip(" ,;:"))
        if s and s not in self.unparsed and len(self.unparsed) < _MAX_UNPARSED:
            self.unparsed.append(s)

    def add_unknown(self, it):
        key = normalise_name(it.t) or it.t
        if key not in self.unknown:
            self.unknown[key] = _clip(it.t, 40)

    def assign(self, its, i, value, sent, pats):
        it = its[i]
        if value is None:
            return
        if it.k == "U":
            self.add_unknown(it)
            return
        name = it.c
        if name == "Ki67":
            if value in ("neg", "focal"):
                value = "low"   # "Ki-67 (-)", "Ki-67(个别+)", "Ki-67 in scattered cells": a low index
            elif value == "pos":
                self.add_unparsed("Ki-67 " + value + " without an index")
                return
        elif name in LOSS_MARKERS:
            value = "lost" if value == "neg" else "retained"
        elif name in NUCLEAR_MARKERS and value in ("pos", "focal"):
            # "MyoD1 cytoplasmic positive": negative (the place words of its own stretch)
            value = nuclear_reading(name, value, self.places_of(its, i))
        self.readings.append((name, value, sent, it.t, it.s, self.site_of(its, i)))

    @staticmethod
    def places_of(its, i):
        """The place words (nuclear, cytoplasmic...) between the markers either side of the marker
        at i: its own, not the clause's ("SOX10 positive, STAT6 cytoplasmic positive"); a place
        word a negator governs is not one ("membranous staining only, no nuclear staining")."""
        a = i - 1
        while a >= 0 and its[a].k not in "MU":
            a -= 1
        b = i + 1
        while b < len(its) and its[b].k not in "MU":
            b += 1
        places, negated = set(), False
        for it in its[a + 1:b]:
            if it.k == "W" and it.cls == NEGATOR:
                negated = True  # "no nuclear staining", "but not nuclear"
            elif it.k == "W" and it.cls == PAT:
                if not negated:
                    places.add(it.n)
            elif not (it.k == "W" and it.cls in (FILL, QF, QP, CONN, F)):
                negated = False
        return places

    @staticmethod
    def site_of(its, i):
        """The word that places the reading of the marker at i in non-tumour cells, else None.

        The words after the marker (up to the next marker) decide ("CD117 negative in mast
        cells", up to a comma); without a place there, the words before it ("In the vessels,
        CD34 ..." - a comma does not stop this side).
        Bounded look-around: linear time."""
        n = len(its)

        def tumour(x):  # "tumour", "lesional"; "spindle cells" (not "the spindle component")
            it = its[x]
            return it.k == "W" and (it.n in _TUMOUR or it.n == "spindle" and x + 1 < n and its[x + 1].n in _CELL_WORDS)

        def scan(rng, comma):
            found = None
            for x in rng:
                it = its[x]
                if comma and found is not None and it.k == "P" and it.t == "," and any(
                        tumour(y) for y in range(x + 1, min(n, x + 4))) and any(
                        y.k == "W" and y.n in ("all", "both") for y in its[x + 2:x + 5]):
                    return False  # "血管内皮細胞,紡錘形細胞ともに": the tumour's cells too
                if it.k in "MU" or (it.k == "W" and it.cls == BRK) or \
                        (comma and it.k == "P" and it.t == ","):
                    break
                if it.k == "W":
                    if tumour(x):
                        return False
                    if found is None and it.n in _NON_TUMOUR:
                        found = it.n
            return found

        after = scan(range(i + 1, min(n, i + 21)), True)
        if after is None:
            # "CD34、FⅧ 血管(+)", "CD31、CD34、SMAは結節内の血管壁にのみ陽性": the place written after a
            # list of names (nothing else between them) is every member's
            last = i
            while last + 2 < n and last - i < 12 and its[last + 1].k == "P" and its[last + 1].t == "," \
                    and its[last + 2].k in "MU":
                last += 2
            if last > i:
                tail = scan(range(last + 1, min(n, last + 21)), True)
                if tail and tail in _OTHER_CELLS:
                    after = tail
        if after is not None:
            return after or None
        before = scan(range(i - 1, max(-1, i - 13), -1), False)
        if before:
            # a place after another reading, across a comma or a sign, is that reading's
            # ("CD34 vessels (+), CK (-)", "desmin positive in vessels, CD34 negative"), not this
            # marker's ("In the vessels, CD34 ...", "Mast cells were positive for CD117" are)
            crossed = False
            for x in range(i - 1, max(-1, i - 13), -1):
                it = its[x]
                if it.k == "W" and it.n == before:
                    break
                crossed |= it.k == "S" or (it.k == "P" and it.t == ",")
            if not crossed:
                return before
            for x in range(x - 1, max(-1, i - 13), -1):
                it = its[x]
                if it.k in "MUS" or (it.k == "W" and it.cls in (POS, NEG, RET)):
                    return None
                if it.k == "W" and it.cls == BRK:
                    break
        return before or None

    # -- the driver
    def run(self, items):
        sent = 0
        start = 0
        carry = None
        n = len(items)
        for idx in range(n + 1):
            if idx == n or items[idx].k in "BC":
                seg = items[start:idx]
                if seg:
                    carry = self.clause(seg, sent, carry)
                if idx < n:
                    it = items[idx]
                    if it.k == "B" or it.nl_hard or it.t == ";":
                        carry = None
                    if it.k == "B":
                        sent += 1
                start = idx + 1

    def clause(self, its, sent, carry):
        """Read one clause; return a header polarity to carry over a single new line."""
        n = len(its)
        pats = set()
        for it in its:
            if it.k == "W":
                if it.cls == PAT:
                    pats.add(it.n)
                if it.n in _CUES:
                    self.cue.add(sent)
        fwd = carry          # [value, weak, header, used, start, quals]
        pending = []         # markers waiting for a value: [index, quals]
        tent_f = []          # tentative values from a weak forward phrase: [index, value, quals]
        tent_b = []          # tentative values from a weak backward phrase: [index, value, quals]
        quals = []
        molecular = False
        written = False      # a marker of this clause carried its own value
        mark = len(self.readings)  # readings made since the clause start or the last comma
        pct_q = False        # "30% of the cells ...": grades the next polarity phrase (the %)
        last_end = -1        # item index just after the last marker waiting for a value
        i = 0

        def close_fwd():
            nonlocal fwd
            if fwd is not None and not fwd[3]:
                if pending and fwd[1] is False and not self.foreign_object(its, fwd[4]):
                    resolve(fwd[0], fwd[5])
                elif not fwd[1] and not molecular:
                    self.add_unparsed(self.frag(its, fwd[4]))
            fwd = None

        def resolve(value, q, weak=False):
            """A backward phrase: give its value to the markers waiting for one."""
            nonlocal pending, tent_f, tent_b
            if weak:
                for p in pending:
                    tent_b.append([p[0], _grade(value, p[1] + q) if value else None, p[1]])
                pending = []
                return
            for p in pending:
                self.assign(its, p[0], _grade(value, p[1] + q) if value else None, sent, pats)
            for t in tent_f:
                self.assign(its, t[0], _grade(value, t[2] + q) if value else None, sent, pats)
            for t in tent_b:
                self.assign(its, t[0], _grade(value, t[2] + q) if value else None, sent, pats)
            pending, tent_f, tent_b = [], [], []

        def drop_waiting():
            nonlocal pending, tent_b
            pending, tent_b = [], []

        def settle_backward():
            nonlocal tent_b
            for t in tent_b:
                self.assign(its, t[0], t[1], sent, pats)
            tent_b = []

        def settle_forward():
            nonlocal tent_f
            for t in tent_f:
                self.assign(its, t[0], t[1], sent, pats)
            tent_f = []

        def release_pending():
            """The markers still waiting get their qualifier's value, or are reported unread."""
            nonlocal pending
            for p in pending:
                v = "focal" if "QF" in p[1] else ("pos" if "QP" in p[1] else None)
                if v:
                    self.assign(its, p[0], v, sent, pats)
                else:
                    it = its[p[0]]
                    if it.k == "M":
                        self.named.append(it.t)
                        if not molecular:
                            self.add_unparsed(self.frag(its, p[0]))
                    elif it.known:
                        self.add_unknown(it)
            pending = []

        def flush():
            nonlocal quals, tent_f
            settle_backward()
            for t in tent_f:
                self.assign(its, t[0], t[1], sent, pats)
            tent_f = []
            release_pending()
            quals = []

        while i < n:
            it = its[i]
            if it.skip:
                i += 1
                continue
            k = it.k
            if k in "MU":
                if k == "M":
                    self.any_known = True
                j = self.skip_synonyms(its, i)
                if self.is_molecular(its, i, j):
                    molecular = True
                    i = j
                    continue
                if k == "M" and it.c == "Ki67":
                    r = self.ki67(its, i, j, sent)
                    if r:
                        if fwd is not None:
                            settle_forward()  # an index of its own ends the forward list too
                        i = r
                        continue
                self.last_pats = None
                att, j2 = self.attached(its, i, j)
                if att is not None:
                    if fwd is not None:
                        fwd[3] = True
                        if att != "ND" and not (pending and not written):
                            # "expressed CD34, EMA (focal), CK, SMA all negative": the markers
                            # before one with its own result keep the forward value; a closing
                            # result after it is not theirs
                            settle_forward()
                    ppats = self.last_pats or pats
                    if att != "ND":
                        # "Desmin and SMA: positive" - a written value also serves the
                        # markers listed just before it
                        # ("CD117, DOG1 (-)" too, when no marker before carried its own value:
                        # "SMA(+), Des, CD34(-)" leaves Des unread)
                        if pending and (its[j].k == "P" and its[j].t in ":=" or not written or
                                        self.enumerated(its, pending[0][0] + 1, i)) and \
                                self.only_conn(its, last_end, i):
                            resolve(att, [])
                        elif pending and not self.only_conn(its, last_end, i):
                            # a marker with its own value between them: the markers still waiting
                            # ("HMB-45強+(圖1-F)、SMA +、...、S100 個別+") are no longer a list a later
                            # result could close
                            release_pending()
                        self.assign(its, i, _grade(att, quals), sent, ppats)
                    written = True
                    quals = []
                    i = j2
                    continue
                # suspended hyphen: "CD117- and DOG1-positive"
                if j < n and its[j].k == "S" and its[j].t == "-" and self.suspended(its, j):
                    its[j].skip = True
                    pending.append([i, list(quals)])
                    last_end = j + 1
                    i = j + 1
                    continue
                direct = False
                if j < n and its[j].k == "W" and its[j].cls in _POLAR_CLASSES | {QF, QP, PAT}:
                    dph = _read_phrase(its, j)
                    if fwd is not None and not fwd[3] and not fwd[2] and fwd[0] == "neg" and \
                            dph.polar and dph.value in ("pos", "focal") and \
                            not self.is_forward(its, dph.end) and self.negator_at(its, fwd[4]):
                        # "no ALK positivity", "did not show CD34 nuclear staining": the
                        # negation covers the marker's own positive noun
                        fwd[3] = True
                        self.assign(its, i, "neg", sent, dph.pats or pats)
                        quals = []
                        i = dph.end
                        continue
                    # "SMA positivity" overrides a list's polarity; "SDHB expression" does not
                    direct = dph.strong and not self.is_forward(its, dph.end) and \
                        its[j].cls != PAT
                if fwd is not None and not direct:
                    fwd[3] = True
                    v = _grade(fwd[0], quals)
                    if fwd[6] and v in ("pos", "focal") and its[i].c == "Ki67":
                        v = _num(fwd[6])   # "30% of the tumour cells were positive for Ki-67"
                    if fwd[1]:
                        tent_f.append([i, v, list(quals)])
                        last_end = j
                    else:
                        self.assign(its, i, v, sent, pats)
                else:
                    if fwd is not None and fwd[3] and direct and not fwd[2]:
                        # "positive for CD117 and DOG1, CD34 focally positive, SMA and S100
                        # negative": a marker with its own result ends the list
                        close_fwd()
                    pending.append([i, list(quals)])
                    last_end = j
                i = j
                continue
            if k == "W":
                c = it.cls
                if c in _PHRASE_CLASSES or (c == NEGATOR):
                    ph = _read_phrase(its, i)
                    j = ph.end
                    if not ph.polar:
                        # qualifiers alone: grade what follows ("focal CD34 positive") or,
                        # right after markers and before no other marker, give their value
                        # ("SMA weak", "CD34 patchy")
                        if ph.nd:
                            drop_waiting()
                            i = max(j, i + 1)
                            continue
                        if ph.done:
                            # "CD117 staining was performed": the stain is no result; the
                            # markers wait for one ("... and was negative")
                            pending = pending + [[t[0], t[2]] for t in tent_f + tent_b]
                            tent_f, tent_b = [], []
                            i = max(j, i + 1)
                            continue
                        nm = self.next_index(its, j)
                        # a following marker that carries its own sign ("SMA focal CD117-")
                        # does not take the qualifier: it belongs to the markers before it
                        next_has_value = nm < n and its[nm].k in "MU" and \
                            self.attached(its, nm, nm + 1)[0] not in (None, "ND")
                        if pending and self.only_fill(its, last_end, i) and (
                                not (nm < n and its[nm].k in "MU") or next_has_value) and ph.value \
                                and not self.result_follows(its, j):
                            resolve(ph.value, quals)
                            quals = []
                            i = max(j, i + 1)
                            continue
                        if ph.qf:
                            quals.append("QF")
                        if ph.qp:
                            quals.append("QP")
                        i = max(j, i + 1)
                        continue
                    value = ph.value
                    q = list(quals) + (["QF"] if pct_q else [])
                    pct_v, pct_q = pct_q, False
                    quals = []
                    nxt = self.next_index(its, j)
                    waiting = pending or tent_f or tent_b
                    adjacent = waiting and self.only_fill(its, last_end, i)
                    if nxt < n and ((its[nxt].k == "W" and its[nxt].cls == F) or
                                    (its[nxt].k == "P" and its[nxt].t == ":")):
                        close_fwd()
                        header = its[nxt].k == "P"
                        if adjacent and pending and ph.strong and not header and value:
                            # "MDM2 positivity with patchy SMA": the phrase is MDM2's too
                            resolve(value, q)
                        fwd = [_grade(value, q) if value else value, not ph.strong and not header,
                               header, False, i, q, pct_v]
                        i = nxt + 1
                        continue
                    if adjacent:
                        if ph.nd:
                            drop_waiting()
                        else:
                            resolve(value, q, weak=not ph.strong)
                        i = j
                        continue
                    nm = nxt
                    while nm < n and nm - nxt < 3 and its[nm].k == "W" and (
                            its[nm].cls == FILL or its[nm].n in ("both", "either")):
                        nm += 1
                    if nm < n and its[nm].k in "MU":
                        close_fwd()
                        fwd = [_grade(value, q) if value else value, not ph.strong, False, False,
                               i, q, pct_v]
                        i = j
                        continue
                    # backward
                    close_fwd()
                    if waiting and self.foreign_object(its, j):
                        # "HHV8 infection, and there were negative tests for HIV": the result is
                        # of something the reader does not know, not of the marker waiting
                        if not molecular:
                            self.add_unparsed(self.frag(its, i, j))
                    elif waiting:
                        if ph.nd:
                            drop_waiting()
                        else:
                            resolve(value, q, weak=not ph.strong)
                    elif ph.strong and not molecular:
                        self.add_unparsed(self.frag(its, i, j))
                    i = j
                    continue
                if c == BRK and it.n in ("however", "though") and pending and (
                        self.only_fill(its, last_end, i) or (
                            its[i - 1].k == "P" and its[i - 1].t == "," and
                            self.only_fill(its, last_end, i - 1))):
                    pass  # "The CD34(,) however(,) was positive": an aside, not a new clause
                elif c == BRK:
                    close_fwd()
                    flush()
                elif c in _LIST_CLASSES:
                    pass
                elif c in (HIGH, LOW):
                    quals = []
                    if fwd is not None:
                        close_fwd()
                elif c == MOLEC:
                    molecular = True
                    close_fwd()
                else:
                    if fwd is not None:
                        nxt_item = self.name_in_list(its, i)
                        if nxt_item:
                            # "negative for CD117, creatine kinase, desmin": a name outside
                            # the vocabulary inside the list does not end it
                            i = nxt_item
                            continue
                        close_fwd()
                    quals = []
                i += 1
                continue
            if k == "S":
                ph = _read_phrase(its, i)
                close_fwd()
                if (pending or tent_b or tent_f) and self.only_fill(its, last_end, i):
                    # "CK, SMA, desmin all (-)" closes a weak forward list as "all negative" does
                    resolve(ph.value, quals)
                elif not molecular:
                    self.add_unparsed(self.frag(its, i, ph.end))
                quals = []
                i = max(ph.end, i + 1)
                continue
            if k == "N":
                if fwd is not None:
                    close_fwd()
                quals = []
                if it.pct and 0 < it.v < 50 and i + 1 < n and its[i + 1].k == "W" and \
                        its[i + 1].n == "of" and any(
                            x.k == "W" and x.n in _CELL_WORDS for x in its[i + 2:i + 6]):
                    # "positive in 30% of tumour cells" grades the readings just made;
                    # "30% of the cells were positive for desmin" grades what follows
                    if not (pending or tent_f or tent_b) and len(self.readings) > mark:
                        self.readings[mark:] = [
                            r[:1] + ("focal",) + r[2:] if r[1] == "pos" else r
                            for r in self.readings[mark:]]
                    else:
                        pct_q = it.v     # a true number: the share of cells
                i += 1
                continue
            # punctuation: transparent; a comma settles weak backward readings
            if it.t == ",":
                settle_backward()
                mark = len(self.readings)
            i += 1
        if fwd is not None and fwd[2]:
            # "Positive:" at the end of a line carries over the next lines
            carry_out = fwd
            fwd = None
        else:
            carry_out = None
            close_fwd()
        flush()
        return carry_out

    # -- helpers
    @staticmethod
    def next_index(its, j):
        n = len(its)
        while j < n and its[j].skip:
            j += 1
        return j

    @staticmethod
    def is_forward(its, j):
        return j < len(its) and ((its[j].k == "W" and its[j].cls == F) or
                                 (its[j].k == "P" and its[j].t == ":"))

    @staticmethod
    def foreign_object(its, j):
        """Does a result phrase ending (or starting) at ``j`` name its own object, one the reader
        does not know: "negative for syphilis", "negative tests for HIV" (up to two unknown words,
        then "for"/"to"/"of", then an unknown word or name)? Words of the tumour, its cells and
        the tissue around it ("positive for tumour cells", "for vessels") are no such object."""
        n = len(its)
        x, words = j, 0

        def unknown(it):
            return (it.k == "W" and it.cls is None and it.n not in _NON_TUMOUR and it.n not in _CELL_WORDS
                    and it.n not in _TUMOUR and it.n not in _CUES) or (it.k == "U" and not it.known)
        while x < n and x - j < 6 and not (its[x].k == "W" and its[x].cls == F):
            if its[x].k == "W" and its[x].cls in (POS, NEG, QF, QP, EXPR, FILL):
                x += 1
                continue
            if unknown(its[x]) and words < 2:
                words += 1
                x += 1
                continue
            return False
        if x >= n or not (its[x].k == "W" and its[x].cls == F) or its[x].n not in ("for", "to", "of"):
            return False
        x += 1
        while x < n and its[x].k == "W" and its[x].cls == FILL:
            x += 1
        return x < n and unknown(its[x])

    @staticmethod
    def result_follows(its, j):
        """Does a sign or a result word follow at j, past fillers ("BCL-2 few cells (+)": the
        qualifiers grade that result rather than give one of their own)?"""
        n = len(its)
        x = j
        while x < n and x - j < 4 and (its[x].k == "W" and its[x].cls in (FILL, PAT) or
                                       its[x].k == "P" and its[x].t == "("):
            x += 1
        return x < n and (its[x].k == "S" or its[x].k == "W" and its[x].cls in (POS, NEG, RET))

    @staticmethod
    def only_fill(its, a, b):
        if a < 0 or b - a > 8:
            return False
        for x in range(a, b):
            it = its[x]
            if it.skip:
                continue
            if it.k == "W" and it.cls in (FILL, PAT, QF, QP):
                continue
            if it.k == "P" and it.t in "()":
                continue
            return False
        return True

    @staticmethod
    def only_conn(its, a, b):
        if a < 0 or b - a > 4:
            return False
        for x in range(a, b):
            it = its[x]
            if it.k == "W" and it.cls == CONN or it.k == "P" and it.t in ",/&":
                continue
            return False
        return True

    @staticmethod
    def skip_synonyms(its, i):
        """Skip '(c-kit)' after CD117, '(SMA)' after smooth muscle actin; return next index."""
        j = i + 1
        n = len(its)
        if j < n and its[j].k == "P" and its[j].t == "(":
            pe = _paren_end(its, j, 8)
            if pe == j + 2 and its[i].c == "SMA" and its[j + 1].k == "M" and \
                    its[j + 1].c == "MSA" and normalise_name(its[i].t) == "actin":
                its[i].c = "MSA"  # "actin (HHF-35)": the clone names muscle-specific actin
                return pe + 1
            if pe > j + 1 and all(x.k in "MU" and x.c == its[i].c or
                                  (x.k == "P" and x.t in ",/") or
                                  (x.k == "W" and x.n in ("clone", "antibody"))
                                  for x in its[j + 1:pe]) and its[j + 1].k in "MU":
                return pe + 1
            # "ALK (D5F3)" style clone names written as unknown tokens
            if pe == j + 2 and its[j + 1].k == "U" and not its[j + 1].known and its[i].k == "M" \
                    and _DIGIT.search(its[j + 1].t) and len(its[j + 1].t) <= 6:
                return pe + 1
        return j

    @staticmethod
    def is_molecular(its, i, j):
        n = len(its)
        if j < n and its[j].k == "W" and its[j].cls == MOLEC:
            return True
        steps = 0
        a = i - 1
        while a >= 0 and steps < 3:
            p = its[a]
            if p.k == "W":
                if p.cls == MOLEC:
                    return True
                if p.n not in ("of", "in", "the", "for", "a", "showed", "no", "by"):
                    return False
            else:
                return False
            a -= 1
            steps += 1
        return False

    @staticmethod
    def negator_at(its, i):
        """Does the polarity phrase starting at i hold a negator (no, not, lack, without)?"""
        n = len(its)
        x = i
        while x < n and x - i < 14 and its[x].k == "W" and its[x].cls in _PHRASE_CLASSES:
            if its[x].cls == NEGATOR:
                return True
            x += 1
        return False

    @staticmethod
    def name_in_list(its, i):
        """Index of the list item after an unrecognised name at i, or 0.

        Inside a forward list, a short run of plain words is a name the vocabulary does
        not hold ("creatine kinase", "GIST markers including", "melanin-associated
        antigens") when it starts a list item (after ``,``, *and*, *for*, *of*) and the next
        list item is a marker. Clauses ("ruling out GIST", "consistent with ...") are not
        names: a verb form, a polarity or any other word class ends the list."""
        n = len(its)
        a = i - 1
        while a >= 0 and its[a].k == "W" and its[a].cls == FILL:
            a -= 1
        if a < 0 or not ((its[a].k == "P" and its[a].t == ",") or
                         (its[a].k == "W" and (its[a].cls == CONN or
                                               its[a].n in ("for", "of", "to")))):
            return 0
        words = 0
        x = i
        while x < n and x - i < 8:
            it = its[x]
            if it.k in "MU":
                return x if words else 0
            if it.k == "P" and it.t == "(" and x + 1 < n and its[x + 1].k in "MU":
                return x + 1 if words else 0  # "negative for uterine stromal markers (CD10)"
            if it.k == "W" and it.cls is None:
                if not it.hy and (it.n.endswith("ing") or it.n.endswith("ed")) or words >= 4:
                    return 0
                words += 1
            elif it.k == "W" and it.cls == FILL:
                pass
            elif (it.k == "P" and it.t == ",") or (it.k == "W" and it.cls == CONN):
                y = x + 1
                while y < n and y - x < 4 and ((its[y].k == "W" and its[y].cls in (CONN, FILL))
                                               or (its[y].k == "P" and its[y].t == ",")):
                    y += 1
                return x if y < n and its[y].k in "MU" and words else 0
            else:
                return 0
            x += 1
        return 0

    @staticmethod
    def suspended(its, j):
        n = len(its)
        if j + 2 < n and its[j + 1].k == "W" and its[j + 1].n in ("and", "or") and \
                its[j + 2].k in "MU":
            x = j + 3
            if x < n and its[x].k == "S" and its[x].t == "-" and x + 1 < n:
                x += 1
            if x < n and its[x].k == "W" and its[x].hy and its[x].cls in _POLAR_CLASSES:
                return True
        return False

    def attached(self, its, i, j):
        """Value written on the marker itself. Returns (value or 'ND' or None, next index)."""
        n = len(its)
        if j >= n:
            return None, j
        it = its[j]
        if it.k == "W" and it.n in _OTHER_CELLS:
            # "CD34血管(+)" (CD34 vessels (+)): a value written after the cells it was seen in;
            # the place is kept (site_of) and a reading only there is no tumour result
            x = j
            while x < n and x - j < 3 and its[x].k == "W" and (
                    its[x].n in _OTHER_CELLS or its[x].n in _CELL_WORDS or its[x].n == "only"):
                x += 1
            if x < n and (its[x].k == "S" or (its[x].k == "P" and its[x].t in "(:")):
                value, end = self.attached(its, i, x)
                if value is not None:
                    return value, end
            return None, j
        if it.k == "S" and (it.t != "-" or not self.suspended(its, j)):
            ph = _read_phrase(its, j)
            return ph.value, ph.end
        if it.k == "N" and it.v == 0 and not it.pct and not it.inten and (
                j + 1 >= n or its[j + 1].k in "BCMU" or (its[j + 1].k == "P" and its[j + 1].t in ",/")):
            return "neg", j + 1  # "CD117 0": intensity 0
        if it.k == "N" and (it.inten or it.pct):
            if it.inten:
                return ("neg" if it.v == 0 else "pos"), j + 1
            return _pct_state(it.v), j + 1
        if it.k == "P" and it.t == "(":
            pe = _paren_end(its, j)
            if pe > j:
                inner = [x for x in its[j + 1:pe]]
                if len(inner) == 1 and inner[0].k == "N" and inner[0].pct:
                    return _pct_state(inner[0].v), pe + 1
                x = j + 1
                # "CD34(血管+)", "CD34 (vessels +)": the cells it was seen in, then the value, in
                # the parenthesis (site_of keeps the place: a reading only there is no tumour's)
                while x < pe and x - j <= 3 and its[x].k == "W" and (
                        its[x].n in _OTHER_CELLS or (x > j + 1 and its[x].n in _CELL_WORDS)):
                    x += 1
                # "平滑肌肌动蛋白(SMA,+)", "smooth muscle actin (SMA; -)": the marker's own other
                # names, then the value
                y = x
                while y < pe and ((its[y].k in "MU" and its[y].c == its[i].c) or
                                  (y > x and its[y].k == "P" and its[y].t in ",;")):
                    y += 1
                if y > x and its[y - 1].k == "P":
                    x = y
                ph = _read_phrase(its, x, allow_paren=False)
                self.last_pats = ph.pats
                if ph.end == pe and (ph.polar or ph.qf or ph.qp or ph.pats or ph.nd):
                    if ph.nd:
                        return "ND", pe + 1
                    return (ph.value or "pos"), pe + 1
            return None, j
        if it.k == "P" and it.t in ":=":
            x = j + 1
            if x < n and its[x].k == "N":
                nx = its[x]
                if nx.inten:
                    return ("neg" if nx.v == 0 else "pos"), x + 1
                if nx.pct:
                    return _pct_state(nx.v), x + 1
            ph = _read_phrase(its, x)
            self.last_pats = ph.pats
            if ph.nd:
                return "ND", ph.end
            if ph.value is None and ph.pats:
                ph.value = "pos"
            if ph.value is not None and (ph.end >= n or not self.is_forward(its, ph.end)
                                         or ph.end == x + 1):
                return ph.value, ph.end
            if x < n and its[x].k == "W" and its[x].n in ("na",):
                return "ND", x + 1
        return None, j

    def ki67(self, its, i, j, sent):
        """Read the Ki-67 index after the mention at i; return the next index or None."""
        n = len(its)
        x = j
        steps = 0
        word = None
        word_at = None
        bare_ok = True
        while x < n and steps < 14:
            it = its[x]
            if it.k in "MU" or it.k in "BC":
                break
            if it.k == "W" and it.cls == BRK:
                break
            if it.k == "N" and not it.inten:
                # range "5-10%" / "5 to 10%"
                lo = it.v
                end = x
                val = lo
                if x + 2 < n and its[x + 2].k == "N" and (
                        (its[x + 1].k == "P" and its[x + 1].t in ("-", "~", "\u2013", "\u301c")) or
                        (its[x + 1].k == "W" and its[x + 1].n == "to")):
                    hi = its[x + 2]
                    val = (lo + hi.v) / 2
                    end = x + 2
                    pct = hi.pct or it.pct
                else:
                    pct = it.pct
                if pct or bare_ok:
                    neg = x > 0 and its[x - 1].k == "S" and its[x - 1].t == "-" and \
                        x - 1 > i and its[x - 2].k == "P" and its[x - 2].t in ":=("
                    if neg or val < 0 or val > 100:
                        shown = self.quote(its[i].s, its[end].e)
                        raise InvalidValueError(
                            f"Ki-67 value out of range in '{_clip(shown)}': "
                            f"the index is a percentage from 0 to 100 (e.g. 'Ki-67 30%')")
                    edge = _below_edge(val, its[j:x], its[end + 1:end + 3])
                    self.readings.append(("Ki67", edge or _num(val), sent, its[i].t, its[i].s, None))
                    self.any_known = True
                    # consume through the number (and a closing parenthesis)
                    for y in range(i, end + 1):
                        its[y].skip = True
                    if end + 1 < n and its[end + 1].k == "P" and its[end + 1].t == ")":
                        its[end + 1].skip = True
                    return end + 1
                bare_ok = False
            elif it.k == "W":
                if it.cls in (HIGH, LOW) and word is None:
                    word, word_at = ("high" if it.cls == HIGH else "low"), x
                elif it.cls not in (FILL, EXPR, PAT, QP, QF, F) and it.n not in (
                        "index", "li", "labeling", "labelling", "labelling", "rate",
                        "proliferative", "proliferation", "about", "approximately", "approx",
                        "around", "ca", "circa", "estimated", "at", "less", "than", "up",
                        "fraction", "activity", "mib", "ki", "value", "count", "score",
                        "hotspot", "hot", "spot", "nearly", "under", "over", "below", "above",
                        "maximum", "max", "focally", "stain", "immunostain", "very"):
                    bare_ok = False
                    if word is None and steps > 3:
                        break
            elif it.k == "S":
                pass
            steps += 1
            x += 1
        a = i - 1
        if word is None and a >= 0 and its[a].k == "N" and its[a].pct and not its[a].skip and \
                not its[a].inten and 0 <= its[a].v <= 100 and (a == 0 or its[a - 1].k not in "MUNS"):
            # "a 20% Ki-67 proliferative index": the figure before the name, nothing after it
            self.readings.append(("Ki67", _num(its[a].v), sent, its[i].t, its[i].s, None))
            self.any_known = True
            for y in range(a, i + 1):
                its[y].skip = True
            return i + 1
        if word is None:
            # "high Ki-67", "low Ki67 index"
            if a >= 0 and its[a].k == "W" and its[a].cls in (HIGH, LOW):
                word, word_at = ("high" if its[a].cls == HIGH else "low"), i
        if word is not None:
            self.readings.append(("Ki67", word, sent, its[i].t, its[i].s, None))
            self.any_known = True
            for y in range(i, max(word_at, i) + 1):
                its[y].skip = True
            return max(word_at, i) + 1
        return None


# --------------------------------------------------------------------------- public API


def _examples():
    return "SMA, desmin (Des), CD117 (c-kit), CD34, S100, DOG1, Ki-67 (MIB-1)"


def parse(text, site=None, *, mode="default"):
    """Read a free-text IHC panel into a :class:`~ihc.panel.Panel`.

    Parameters
    ----------
    text : str
        The panel as a report or a paper writes it, e.g.
        ``"SMA(+), Des(+), CD34(-), CD117(-), Ki-67(+,30%)"`` or
        ``"strongly positive for desmin and h-caldesmon, negative for CD117"``.
    site : str, optional
        Tumour site as free text (``"gastric fundus"``, ``"thigh"``); normalised
        with :func:`ihc.sites.normalise_site`. A site that cannot be placed adds
        a warning, never an error.
    mode : {"default", "strict", "lenient"}
        ``"strict"`` raises :class:`~ihc.exceptions.UnknownMarkerError` when the
        text names markers outside the vocabulary or has fragments that were not
        understood; ``"default"`` reports them in ``unknown``/``unparsed`` and
        adds a warning; ``"lenient"`` reports them without a warning.

    Returns
    -------
    Panel
        ``markers`` maps canonical names to ``"pos"``/``"neg"``/``"focal"``,
        ``"lost"``/``"retained"`` (H3K27me3, SDHB) or a Ki-67 figure 0-100 (or
        ``"high"``/``"low"``), in the order the text names them.

    Raises
    ------
    EmptyInputError
        The text is empty or whitespace.
    NoKnownMarkerError
        No marker of the vocabulary with a readable result.
    ConflictingValueError
        The same marker given two different values.
    InvalidValueError
        A Ki-67 index outside 0-100.
    UnknownMarkerError
        Strict mode only (see ``mode``).
    InputError
        An unknown ``mode``.

    Examples
    --------
    >>> p = parse("SMA(+), Des(+), CD34(-), CD117(-), Ki-67(+,30%)")
    >>> p.markers
    {'SMA': 'pos', 'desmin': 'pos', 'CD34': 'neg', 'CD117': 'neg', 'Ki67': 30}
    >>> parse("positive for SATB2 but negative for desmin").unknown
    ['SATB2']
    >>> parse("positive for NSE but negative for desmin").ignored  # known, not modelled
    ['NSE']
    >>> parse("免疫染色ではKIT、DOG1陽性、desmin、S-100蛋白陰性であった").markers
    {'CD117': 'pos', 'DOG1': 'pos', 'desmin': 'neg', 'S100': 'neg'}
    >>> parse("H3K27me3 showed loss of nuclear expression; S100 focal").markers
    {'H3K27me3': 'lost', 'S100': 'focal'}
    """
    _check_mode(mode)
    if text is None:
        raise EmptyInputError("empty panel: give marker results such as 'SMA+, desmin+, CD117-'")
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise InputError(f"panel text must be a string, not {type(text).__name__}")
    if not text.strip():
        raise EmptyInputError("empty panel: give marker results such as 'SMA+, desmin+, CD117-'")
    fast = _fast_markers(text)
    if fast is not None:
        return _finish(fast, [], [], [], site, mode)
    return _parse_full(text, site, mode)


def _parse_full(text, site, mode):
    """The general reader (``parse`` after its argument checks)."""
    clean = _clean(text)
    spans = None
    source = clean
    if _has_cjk(clean):
        # Chinese, Japanese, Korean: read with the same grammar (ihc.lexicon_cjk)
        clean, spans = _cjk_rewrite(clean)
    clean = _tidy(_cd_spelled(clean))
    items = _build(clean)
    reader = _Reader(clean, source, spans)
    reader.run(items)
    markers, warnings = _combine(reader)
    if not markers:
        if reader.any_known or reader.named:
            named = ", ".join(dict.fromkeys(reader.named)) or "markers"
            raise NoKnownMarkerError(
                f"no marker result could be read ({_clip(named, 40)} named without a readable "
                f"value); write results such as 'SMA+', 'CD117: negative', 'Ki-67 30%'")
        raise NoKnownMarkerError(
            f"no known marker found in the text; accepted names include {_examples()} "
            f"(`ihc markers` lists all)")
    unknown = list(reader.unknown.values())
    return _finish(markers, unknown, reader.unparsed, warnings, site, mode)


def _combine(reader):
    """Merge readings per marker (order of first mention); resolve or report conflicts."""
    by = {}
    for name, value, sent, written, pos, where in reader.readings:
        by.setdefault(name, []).append((value, sent, written, pos, where))
    markers = {}
    warnings = []
    # text order: a marker resolved late (a list's polarity after it) keeps its place
    for name, rs in sorted(by.items(), key=lambda kv: min(r[3] for r in kv[1])):
        if all(r[4] in _OTHER_CELLS for r in rs):
            # "CD34は血管内皮のみ陽性", "CD34血管(+)", "CD117 stained only the mast cells": no tumour
            # result; kept out of the tumour panel (issue 12), said in a warning
            warnings.append(f"{info(name).display} read only in other cells than the tumour "
                            f"('{rs[0][4]}'); not taken as a tumour result")
            continue
        values = list(dict.fromkeys(r[0] for r in rs))
        if len(values) == 1:
            markers[name] = values[0]
            continue
        sents = {r[1] for r in rs}
        if len(sents) == 1 and rs[0][1] in reader.cue and set(values) <= {"pos", "focal", "neg"}:
            markers[name] = "focal"
            warnings.append(f"{info(name).display} read as both positive and negative in one "
                            f"sentence describing parts of the tumour; taken as focal")
            continue
        if name == "SMA":
            # plain "actin" beside a named smooth muscle actin: only the SMA reading counts
            named = [r for r in rs if normalise_name(r[2]) != "actin"]
            if named and len(named) < len(rs) and len({r[0] for r in named}) == 1:
                markers[name] = named[0][0]
                warnings.append(f"SMA read from smooth muscle actin ({named[0][0]}); the plain "
                                f"'actin' reading ignored")
                continue
        if name == "keratin" and set(values) <= {"pos", "focal", "neg"} and \
                len({normalise_name(r[2]) for r in rs}) > 1:
            # pan-keratin antibodies differ ("CK(+), CAM5.2(灶+)", "AE1/AE3+, CAM5.2-"): keratin
            # is expressed if any antibody shows it; partly (focal) when another is negative
            markers[name] = "pos" if "neg" not in values and "pos" in values else "focal"
            warnings.append(f"keratin read with several antibodies ("
                            + ", ".join(f"{_clip(r[2], 20)} {r[0]}" for r in rs)
                            + f"); taken as {markers[name]}")
            continue
        tumour = [r for r in rs if r[4] is None]
        if tumour and len(tumour) < len(rs) and len({r[0] for r in tumour}) == 1:
            # one reading in the tumour, the other in named non-tumour cells
            dropped = next(r for r in rs if r[4] is not None)
            markers[name] = tumour[0][0]
            warnings.append(f"{info(name).display} read as {tumour[0][0]} in the tumour; the "
                            f"{dropped[0]} reading placed in other cells ('{dropped[4]}') ignored")
            continue
        first = rs[0]
        other = next(r for r in rs if r[0] != first[0])
        raise ConflictingValueError(
            f"{info(name).display} is given two different values: {first[0]} (as "
            f"'{_clip(first[2], 30)}') and {other[0]} (as '{_clip(other[2], 30)}'); "
            f"give each marker once")
    return markers, warnings


# --------------------------------------------------------------------------- cells

_ND_CELLS = {"", "nd", "n/d", "n.d.", "n.d", "not done", "na", "n/a", "n.a.", "not performed",
             "not tested", "none", "null", "nan", "pending", "-/-/-", ".", "?", "not available",
             "unknown", "not assessed"}

_ACCEPTED = {
    "binary": "+, -, pos, neg, positive, negative, focal, weak, patchy, +/-, 1+ to 3+, "
              "diffuse, strong, a percentage, or empty/'not done'",
    "uninformative": "+, -, pos, neg, positive, negative, focal, weak, +/-, 1+ to 3+, "
                     "or empty/'not done'",
    "loss": "lost, loss, retained, intact, -, +, negative, positive, or empty/'not done'",
    "index": "a percentage 0-100 (30, 30%, 5-10%, <1%), high, low, or empty/'not done'",
}


def _bad(name, text):
    kind = info(name).kind
    raise InvalidValueError(
        f"invalid value {_clip(str(text), 40)!r} for {info(name).display}: "
        f"accepted {_ACCEPTED[kind]}")


def parse_value(marker, text):
    """Read one cell value for a marker, as LIS CSV exports write it.

    Parameters
    ----------
    marker : str
        A marker name of the vocabulary (canonical name or synonym).
    text : str, int, float or None
        The cell: ``"+"``, ``"neg"``, ``"focal +"``, ``"3+"``, ``"diffuse
        strong"``, ``"30%"``, ``"5-10%"``, ``"lost"``, ``"not done"``...

    Returns
    -------
    str, int, float or None
        ``"pos"``/``"neg"``/``"focal"``; ``"lost"``/``"retained"`` for H3K27me3
        and SDHB; a number 0-100 (int when integral) or ``"high"``/``"low"``
        for Ki67; ``None`` when the stain was not done (empty, ``nd``, ``not
        done``, ``n/a``).

    Raises
    ------
    InvalidValueError
        The value cannot be read for this marker (the message names the marker,
        the value and what is accepted), the Ki-67 index is outside 0-100, or
        the marker is not in the vocabulary.

    Examples
    --------
    >>> parse_value("SMA", "focal +"), parse_value("Ki67", "5-10%"), parse_value("CD34", "")
    ('focal', 7.5, None)
    >>> parse_value("H3K27me3", "negative")
    'lost'
    """
    try:
        name = _VOCAB.get(normalise_name(str(marker))) if marker is not None else None
    except Exception:  # pragma: no cover - defensive: str() of odd objects
        name = None
    if name is None:
        raise InvalidValueError(
            f"unknown marker {_clip(str(marker), 40)!r}: a value can only be read for a "
            f"marker of the vocabulary (`ihc markers` lists them)")
    if text is None:
        return None
    if isinstance(text, bool):
        _bad(name, text)
    if isinstance(text, (int, float)):
        x = float(text)
        if math.isnan(x):
            return None
        if math.isinf(x) or x < 0 or x > 100:
            if name == "Ki67":
                raise InvalidValueError(
                    f"Ki-67 value {text!r} out of range: the index is a percentage from 0 to 100")
            _bad(name, text)
        if name == "Ki67":
            return _num(x)
        return _finalise_cell(name, _pct_state(x))
    s = _clean(str(text))
    if _has_cjk(s):
        s = _cjk_rewrite(s)[0]
    s = " ".join(s.split())
    if s.lower() in _ND_CELLS:
        return None
    if len(s) > 200:
        _bad(name, s)
    items = _build(s)
    items = [it for it in items if not (it.k == "P" and it.t in "(),/;:=") and it.k not in "BC"
             and not (it.k == "M" and it.c == name)]  # "Ki-67 30%" in a Ki-67 column
    if not items:
        _bad(name, s)
    if name == "Ki67":
        return _ki67_cell(s, items)
    if len(items) == 1 and items[0].k == "N" and not items[0].inten:
        x = items[0].v
        if x is None or x > 100:
            _bad(name, s)
        return _finalise_cell(name, _pct_state(x))
    # drop fillers that say nothing ("staining", "in tumour cells", "only")
    core = [it for it in items if not (it.k == "W" and it.cls in (FILL, F, CONN))]
    if not core:
        _bad(name, s)
    if len(core) == 1 and core[0].k == "N" and core[0].pct:
        return _finalise_cell(name, _pct_state(core[0].v))
    ph = _read_phrase(core, 0)
    if ph.end != len(core):
        _bad(name, s)
    if ph.nd:
        return None
    value = ph.value
    if value is None and ph.pats:
        value = "pos"
    if value is None:
        _bad(name, s)
    return _finalise_cell(name, nuclear_reading(name, value, ph.pats))


def _finalise_cell(name, value):
    if name in LOSS_MARKERS:
        return "lost" if value == "neg" else "retained"
    return value


def _ki67_cell(s, items):
    if re.match(r"\s*-\s*\d", s):
        raise InvalidValueError(
            f"Ki-67 value {s!r} out of range: the index is a percentage from 0 to 100")
    words = [it for it in items if it.k == "W" and it.cls not in (FILL, F, CONN)]
    nums = [it for it in items if it.k == "N"]
    if nums:
        lo = nums[0]
        if lo.inten:
            _bad("Ki67", s)
        val = lo.v
        rest = [it for it in items if it is not lo]
        if len(nums) == 2:
            val = (lo.v + nums[1].v) / 2
            rest = [it for it in rest if it is not nums[1] and not (it.k == "P" and it.t == "-")
                    and not (it.k == "W" and it.n == "to")]
        elif len(nums) > 2:
            _bad("Ki67", s)
        if any(it.k == "S" and it.t == "-" for it in rest) or val is None:
            raise InvalidValueError(
                f"Ki-67 value {s!r} out of range: the index is a percentage from 0 to 100")
        rest = [it for it in rest if not (it.k == "P" and it.t in "<>~=")
                and not (it.k == "W" and (it.cls in (FILL, F, CONN, EXPR) or it.n in (
                    "index", "li", "about", "approximately", "approx", "around", "ca", "less",
                    "than", "up", "to", "under", "over", "below", "above")))
                and not (it.k == "S" and it.t == "+")]
        if rest:
            _bad("Ki67", s)
        if val < 0 or val > 100:
            raise InvalidValueError(
                f"Ki-67 value {s!r} out of range: the index is a percentage from 0 to 100")
        k = items.index(lo)
        return _below_edge(val, items[:k], items[k + 1:]) or _num(val)
    if len(words) == 1 and words[0].cls in (HIGH, LOW):
        return "high" if words[0].cls == HIGH else "low"
    ph = _read_phrase(items, 0)
    if ph.end == len(items) and ph.value == "neg":
        return "low"
    if ph.end == len(items) and ph.nd:
        return None
    _bad("Ki67", s)


def panel_from_mapping(mapping, site=None, *, mode="default"):
    """Build a Panel from structured input: ``{marker name or synonym: cell value}``.

    Parameters
    ----------
    mapping : mapping
        One row of a structured export, e.g. ``{"SMA": "+", "c-kit": "neg",
        "Ki-67": "30%"}``. Cells are read with :func:`parse_value`; empty or
        ``not done`` cells are skipped. Columns that name no marker of the
        vocabulary are reported in ``unknown`` (an error in strict mode), except
        the context columns ``case_id``, ``id``, ``site``, ``age``, ``sex`` and
        ``panel``; a ``site`` column is used when ``site`` is not given.
    site : str, optional
        Tumour site as free text.
    mode : {"default", "strict", "lenient"}
        As for :func:`parse`.

    Returns
    -------
    Panel

    Raises
    ------
    EmptyInputError, NoKnownMarkerError, ConflictingValueError, InvalidValueError,
    UnknownMarkerError
        As for :func:`parse`.

    Examples
    --------
    >>> p = panel_from_mapping({"SMA": "+", "c-kit": "neg", "Ki-67": "5-10%", "SATB2": "pos"})
    >>> p.markers, p.unknown
    ({'SMA': 'pos', 'CD117': 'neg', 'Ki67': 7.5}, ['SATB2'])
    """
    _check_mode(mode)
    if mapping is None or not hasattr(mapping, "items"):
        raise InputError("structured input must be a mapping of marker name -> value")
    if not mapping:
        raise EmptyInputError("empty panel: no marker columns were given")
    markers = {}
    unknown = []
    context = {"case_id", "id", "site", "age", "sex", "panel"}
    for key, cell in mapping.items():
        k = "" if key is None else str(key).strip()
        if not k:
            continue
        if k.lower() in context:
            if k.lower() == "site" and site is None and cell is not None and str(cell).strip():
                if not (isinstance(cell, float) and math.isnan(cell)):
                    site = str(cell)
            continue
        name = _VOCAB.get(normalise_name(k))
        if name is None and _has_cjk(k):
            # a column named in the report's script: "デスミン", "结蛋白", "평활근 액틴"
            name = _VOCAB.get(normalise_name(_cjk_rewrite(_clean(k))[0]))
        if name is None:
            try:
                empty = cell is None or (isinstance(cell, float) and math.isnan(cell)) or \
                    str(cell).strip().lower() in _ND_CELLS
            except Exception:  # pragma: no cover
                empty = False
            if not empty and k not in unknown:
                unknown.append(_clip(k, 40))
            continue
        value = parse_value(name, cell)
        if value is None:
            continue
        if name in markers and markers[name] != value:
            raise ConflictingValueError(
                f"{info(name).display} is given two different values: {markers[name]} and "
                f"{value} (column '{_clip(k, 30)}'); give each marker once")
        markers[name] = value
    if not markers:
        raise NoKnownMarkerError(
            f"no marker result in the row; columns must name markers such as {_examples()} "
            f"(`ihc markers` lists all) with values such as +, -, focal, 30%")
    return _finish(markers, unknown, [], [], site, mode)


# Public names for the batch reader (ihc.batch), which codes cells the way this module reads them.
ND_CELLS = _ND_CELLS  #: cells that mean "not done" (or empty)
VOCABULARY = _VOCAB  #: normalised marker name -> canonical marker
clip = _clip  #: a fragment of text clipped for a message
finish = _finish  #: validate and build the Panel (the validation mode's rules)
