"""Morphology and clinical context beside the stains: read, weighed, explained.

Stains tell a tumour's lineage; they do not grade it. Leiomyoma and leiomyosarcoma,
schwannoma and MPNST share their panels, and a pathologist separates them by the
mitotic count, tumour necrosis and atypia, read against the site's criteria. This module
holds the findings as data (:data:`FINDINGS`), reads their values as options, batch cells
and mappings give them (:func:`morphology_from_mapping`), and weighs them:

- each finding is evidence with a few states; its contribution to diagnosis *k* is
  ``weight * log P(observed | k, site group)``, centred over the diagnoses like the stains'
  contributions, so the evidence still adds up exactly to the score;
- an observation may be coarse ("frequent mitoses", "atypia" without a grade): it is the set
  of states it allows, and its probability is the sum over that set;
- ``P(state | diagnosis, site group)`` comes from ``training_data/morphology.csv`` (every
  figure with its citation; assumptions marked), exported into the model file by
  ``ihc train``; a site group without its own figures falls back to ``any``;
- grade findings (mitoses, necrosis, atypia) are not independent given the diagnosis (a
  high-grade sarcoma has all three), so each is weighed ``grade_weight`` < 1, chosen on the
  development cases that state morphology; context findings (cell type, size, age, sex) are
  weighed ``context_weight`` with a larger probability floor, so that they shift the odds and
  never override the stains. A weight is per finding, not per panel, so a finding's
  contribution is a fixed vector per (finding, observation, site group): a table entry.

Mitotic counts keep their denominator. Counts per N HPF are converted to per 50 HPF by the
ratio of fields (no area needed). Counts per mm² are converted with the AJCC equivalence
"50 HPF at 40x = 5 mm²" (:data:`MM2_PER_50_HPF`), and a warning says so: an HPF's area
differs between microscopes.

Standard library only (this module is on the fast classify path).

>>> m = morphology_from_mapping({"mitoses": "15/10 HPF", "necrosis": "yes", "atypia": "severe"})
>>> m.mitoses.low, m.necrosis, m.atypia
(75.0, True, 'severe')
>>> observed_states(m)["mitoses"]
('m4',)
"""

from __future__ import annotations

import math
import operator
import re
import unicodedata

from .exceptions import InvalidValueError
from .record import Record

__all__ = [
    "FINDINGS", "GRADE_FINDINGS", "CONTEXT_FINDINGS", "MM2_PER_50_HPF", "MitoticCount", "Morphology",
    "parse_mitoses", "parse_necrosis", "parse_atypia", "parse_bool", "parse_cell_type", "parse_size",
    "CMP_WORDS", "CMP_PATTERN", "parse_age", "parse_sex", "morphology_from_mapping", "observed_states", "atypia_states", "site_group",
    "MorphologyModel",
    "MORPHOLOGY_COLUMNS", "case_morphology", "column_key", "finding_codes", "observation_codes",
]

#: The findings the model weighs and their states, in display order.
FINDINGS = {
    "mitoses": ("m0", "m1", "m2", "m3", "m4"),
    "necrosis": ("present", "absent"),
    "atypia": ("none", "mild", "moderate", "severe"),
    "cell_type": ("spindle", "epithelioid", "mixed", "pleomorphic"),
    "size": ("le2", "2to5", "5to10", "gt10"),
    "age": ("lt18", "18to39", "40to59", "ge60"),
    "sex": ("F", "M"),
}
GRADE_FINDINGS = ("mitoses", "necrosis", "atypia")
CONTEXT_FINDINGS = ("cell_type", "size", "age", "sex")

#: What each state means, for notes and ``ihc markers``-style listings.
STATE_WORDS = {
    "mitoses": {"m0": "<1/50 HPF", "m1": "1-5/50 HPF", "m2": "6-24/50 HPF (1-4/10 HPF)",
                "m3": "5-9/10 HPF", "m4": ">=10/10 HPF"},
    "size": {"le2": "<=2 cm", "2to5": ">2-5 cm", "5to10": ">5-10 cm", "gt10": ">10 cm"},
    "age": {"lt18": "under 18", "18to39": "18-39 years", "40to59": "40-59 years", "ge60": "60 or older"},
    "sex": {"F": "female", "M": "male"},
}

#: AJCC (7th ed., GIST chapter, as quoted by SEER's site-specific factor notes): 50 HPF at 40x
#: are equivalent to a total area of 5 mm². Used only to convert a count given per mm².
MM2_PER_50_HPF = 5.0
MM2_SOURCE = ("AJCC 7th ed. GIST chapter, as quoted by SEER Site-Specific Factor 'Mitotic Count' "
              "(staging.seer.cancer.gov/tnm/input/1.8/gist_esophagus/ssf6)")

#: The mitotic bins per 50 HPF as (low, high, low closed, high closed):
#: m0 [0,1), m1 [1,5], m2 (5,25), m3 [25,50), m4 [50,inf) -- that is m2 is >1 to <5 per 10 HPF,
#: m3 5-9 per 10 HPF and m4 >=10 per 10 HPF.
_BIN_EDGES = ((0.0, 1.0, True, False), (1.0, 5.0, True, True), (5.0, 25.0, False, False),
              (25.0, 50.0, True, False), (50.0, math.inf, True, False))

#: Words that give a mitotic activity without a count -> (low, high) per 50 HPF.
MITOSIS_WORDS = {
    "none": (0.0, 0.0), "no": (0.0, 0.0), "absent": (0.0, 0.0), "nil": (0.0, 0.0), "0": (0.0, 0.0),
    "not seen": (0.0, 0.0), "not identified": (0.0, 0.0), "inconspicuous": (0.0, 5.0),
    "rare": (1.0, 24.0), "occasional": (1.0, 24.0), "few": (1.0, 24.0), "scant": (1.0, 24.0),
    "sparse": (1.0, 24.0), "scattered": (1.0, 24.0), "low": (1.0, 24.0),
    "frequent": (25.0, math.inf), "numerous": (25.0, math.inf), "brisk": (25.0, math.inf),
    "abundant": (25.0, math.inf), "many": (25.0, math.inf), "high": (25.0, math.inf),
    "increased": (25.0, math.inf), "prominent": (25.0, math.inf), "conspicuous": (25.0, math.inf),
    "easily found": (25.0, math.inf), "active": (6.0, math.inf),
    "not increased": (0.0, 24.0),
    "present": (1.0, math.inf),
}

#: Mitotic activity in words, as reports qualify the word "mitoses" -> the word's key in
#: :data:`MITOSIS_WORDS` (read by the free-text reader and by :func:`parse_mitoses` for a phrase).
#: Tried in order: a frequent word first, so "かなり" is frequent unless a rare word follows it.
#: 散見 ("seen here and there") is occasional, so rare.
MITOSIS_QUALIFIERS = (
    (r"(?:frequent|numerous|brisk|abundant|many|increased|increase|high\b(?![- ]?power)|prominent|conspicuous|"
     r"plentiful|(?:easily|readily) (?:identif\w*|found|seen|observed|detect\w*|recogni[sz]\w*|visible|apparent|"
     r"evident)|易见|易見|多见|多見|常见|常見|活跃|活躍|增多|增加|較多|较多|丰富|豐富|"
     r"多数|多く|多い|目立(?!た[なずぬ])|かなり(?!\s*(?:少|乏|まれ|稀))|豊富|増加|増多|亢進|頻繁|"
     r"많|증가|빈번|흔히|흔하)", "frequent"),
    (r"(?:rare|occasional|scattered|few|scant|sparse|low|infrequent|isolated|sporadic|少见|少見|罕见|罕見|偶见|偶見|軽度|轻度|輕度|"
     r"极少|極少|少数|少量|稀少|不多|少な|乏し|わずか|僅か|(?<![含囲生挟包])まれ|稀|散見|드물|적(?:은|게|었|다|음)|간혹|가끔|소수)",
     "rare"),
    (r"(?:inconspicuous|目立たな|目立たず)", "inconspicuous"),
)
#: Qualifier words that say an increase: denied ("核分裂像の増加はなく", "not increased", "无明显增多"),
#: they say the mitoses are not above normal, which allows none (:data:`MITOSIS_WORDS` 'not increased').
MITOSIS_INCREASE = r"(?:increased?|elevated|high|增多|增加|増加|増多|亢進|증가)"

#: A mitoses *value* that says only that there are some ('present', 'seen', 'present (not
#: counted)'): read by :func:`parse_mitoses` alone, after the qualifiers (the free-text reader
#: does not use it: 'seen' near the word 'mitoses' in a sentence is often said of another finding).
MITOSIS_PRESENT = r"(?:present|seen|identified|observed|found|noted|evident|可见|可見)"

#: Phrases that say how mitoses were (not) counted, not whether there are any: read before the
#: negation cues, so 'present (not counted)' is present, not none.
NOT_COUNTED = r"\b(?:not|un)[- ]?(?:counted|quantified|quantitated|enumerated|stated|given|specified)\b"

#: Negation cues before a finding (same clause), per language.
NEG_BEFORE = (r"\b(?:no|not|without|absence of|absent|lack(?:ing|ed|s)?(?: of)?|free of|devoid of|nor|negative for|none|"
              r"neither|nil)\b",  # one \b and the words after it: this is searched before every finding
              r"无明显", r"無明顯", r"未见", r"未見", r"缺乏", r"缺少", r"无", r"無", r"없")
ATYPIA_WORDS = {
    "none": ("none",), "no": ("none",), "absent": ("none",), "bland": ("none",), "0": ("none",),
    "mild": ("mild",), "slight": ("mild",), "minimal": ("mild",), "low": ("mild",), "1": ("mild",),
    "moderate": ("moderate",), "2": ("moderate",), "intermediate": ("moderate",),
    "severe": ("severe",), "marked": ("severe",), "high": ("severe",), "striking": ("severe",),
    "prominent": ("severe",), "3": ("severe",),
    "present": ("mild", "moderate", "severe"), "yes": ("mild", "moderate", "severe"),
    "moderate-severe": ("moderate", "severe"), "moderate to severe": ("moderate", "severe"),
    "mild-moderate": ("mild", "moderate"), "mild to moderate": ("mild", "moderate"),
}

CELL_TYPE_WORDS = {
    "spindle": "spindle", "spindled": "spindle", "spindle cell": "spindle", "fusiform": "spindle",
    "epithelioid": "epithelioid", "epitheloid": "epithelioid", "round": "epithelioid",
    "mixed": "mixed", "spindle and epithelioid": "mixed", "epithelioid and spindle": "mixed",
    "pleomorphic": "pleomorphic",
}

_TRUE = {"yes", "y", "true", "t", "1", "present", "positive", "pos", "+", "seen", "identified"}
_FALSE = {"no", "n", "false", "f", "0", "absent", "negative", "neg", "-", "none", "not seen",
          "not identified", "nil"}
_SEX = {"f": "F", "female": "F", "woman": "F", "w": "F", "m": "M", "male": "M", "man": "M"}

#: Batch / mapping column names (canonical first) and their accepted spellings.
MORPHOLOGY_COLUMNS = {
    "mitoses": ("mitoses", "mitosis", "mitotic_count", "mitotic count", "mitotic_rate", "mitotic rate",
                "mitotic_index", "mitotic index", "mitotic_activity", "mf"),
    "necrosis": ("necrosis", "tumour_necrosis", "tumor_necrosis", "coagulative_necrosis"),
    "atypia": ("atypia", "nuclear_atypia", "cytologic_atypia", "atypia_grade"),
    "pleomorphic": ("pleomorphic", "pleomorphism"),
    "cell_type": ("cell_type", "cell type", "celltype", "histologic_type", "morphology_type"),
    "size_cm": ("size_cm", "size", "tumour_size", "tumor_size", "size (cm)", "diameter_cm", "max_size_cm"),
    "age": ("age", "age_years", "patient_age"),
    "sex": ("sex", "gender", "patient_sex"),
}
_COLUMN_KEY = {re.sub(r"[\s_()-]+", "", s.lower()): k for k, v in MORPHOLOGY_COLUMNS.items() for s in v}


def column_key(name):
    """Canonical morphology field of a column name, or None (``"Size (cm)"`` -> ``"size_cm"``)."""
    return _COLUMN_KEY.get(re.sub(r"[\s_()-]+", "", str(name).lower()))


class MitoticCount(Record):
    """A mitotic count as given, with its range per 50 HPF (``high`` is ``inf`` when open). Immutable."""

    # Plain classes with what a (frozen) dataclass would write: importing dataclasses (and building
    # the classes with it) is a measurable share of a single classify's start.
    __match_args__ = ("text", "low", "high", "converted_from_mm2")

    def __init__(self, text, low, high, converted_from_mm2=False):
        for k, v in zip(self.__match_args__, (text, low, high, converted_from_mm2)):
            object.__setattr__(self, k, v)

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise AttributeError(f"cannot delete field {name!r}")

    def __hash__(self):
        return hash(self._fields())

    def states(self):
        """The mitotic bins this count overlaps."""
        out = []
        for name, (a, b, a_closed, b_closed) in zip(FINDINGS["mitoses"], _BIN_EDGES):
            below = self.high < a or (self.high == a and not a_closed)
            above = self.low > b or (self.low == b and not b_closed)
            if not below and not above:
                out.append(name)
        return tuple(out)

    def to_dict(self):
        return {"text": self.text, "per_50_hpf_low": round(self.low, 3),
                "per_50_hpf_high": None if math.isinf(self.high) else round(self.high, 3),
                "states": list(self.states())}


class Morphology(Record):
    """Morphology and clinical context of one case; every field optional (``None`` = not given)."""

    __match_args__ = ("mitoses", "necrosis", "atypia", "pleomorphic", "cell_type", "size_cm", "age", "sex",
                      "warnings")
    __hash__ = None

    def __init__(self, mitoses=None, necrosis=None, atypia=None, pleomorphic=None, cell_type=None, size_cm=None,
                 age=None, sex=None, warnings=None):
        self.mitoses = mitoses
        self.necrosis = necrosis
        self.atypia = atypia
        self.pleomorphic = pleomorphic
        self.cell_type = cell_type
        self.size_cm = size_cm
        self.age = age
        self.sex = sex
        self.warnings = [] if warnings is None else warnings

    def __bool__(self):
        # the fields in one C call (a batch asks this of every distinct text, most with no morphology)
        values = _FIELD_VALUES(self)
        return values.count(None) < len(values)

    def to_dict(self):
        """The ``input.morphology`` object: only the fields given."""
        out = {}
        for k in _FIELDS:
            v = getattr(self, k)
            if v is None:
                continue
            out[k] = v.to_dict() if isinstance(v, MitoticCount) else v
        return out

    def merged(self, other):
        """This morphology with the fields of ``other`` filled in where this one has none."""
        if other is None:
            return self
        kw = {k: getattr(self, k) if getattr(self, k) is not None else getattr(other, k) for k in _FIELDS}
        return Morphology(**kw, warnings=list(dict.fromkeys(self.warnings + other.warnings)))


_FIELDS = ("mitoses", "necrosis", "atypia", "pleomorphic", "cell_type", "size_cm", "age", "sex")
_FIELD_VALUES = operator.attrgetter(*_FIELDS)


def _norm(text):
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return re.sub(r"\s+", " ", s)


def _bad(what, text, accepted):
    return InvalidValueError(f"{what} {str(text)[:60]!r} is not understood: accepted {accepted}")


_MITOSES_ACCEPTED = ("a count with its denominator ('15/10 HPF', '3/50 HPF', '4/mm2', '<1/50 HPF', "
                     "'2 per 10 HPF') or a word (none, rare, low, frequent)")
#: Comparators before a count, as reports write them -> the symbol they amount to, read alike by
#: :func:`parse_mitoses` and by the free-text reader (:mod:`ihc.morph_text`). "up to 4/10 HPF" is
#: the hot-spot count, the one the criteria read, so it is the count itself ("").
CMP_WORDS = {"no more than": "<=", "not more than": "<=", "at most": "<=", "fewer than": "<", "less than": "<",
             "under": "<", "below": "<", "more than": ">", "greater than": ">", "in excess of": ">", "over": ">",
             "above": ">", "exceeding": ">", "at least": ">=", "up to": "", "最大": "", "最多": ""}
#: The comparators (symbols, then words longest first) as a regular-expression alternation.
CMP_PATTERN = r"<=|>=|≤|≥|<|>|" + "|".join(sorted(CMP_WORDS, key=len, reverse=True))
_NUM = r"(\d+(?:\.\d+)?)"
_COUNT_RE = (  # compiled on first use (re's cache): a panel without a mitotic count never pays for it
    r"^(?:(?P<cmp>" + CMP_PATTERN + r")\s*)?"
    + _NUM + r"(?:\s*(?:-|–|to)\s*" + _NUM + r")?\s*(?:mitos[ie]s|mitotic figures?|mfs?|mitotic)?\s*"
    r"(?:/|per|in|every)\s*(?:(?P<den>\d+(?:\.\d+)?)\s*)?(?P<unit>hpfs?|high[- ]power fields?|"
    r"mm2|mm\^2|mm²|sq\.? ?mm|square millimet(?:er|re)s?)\s*$")


#: A denial of atypical mitoses only ('none atypical', 'no atypical forms', '无病理性核分裂'): it says
#: nothing of the mitoses' number, so :func:`parse_mitoses` drops it before reading a negation.
ATYPICAL_DENIED = (r"(?:\bno(?:ne)?\b|\bwithout\b|\bnot\b|无|無|未见|未見|なし|없)\s*(?:of them\s+)?"
                   r"(?:atypical|abnormal|病理性|异型|異型|非典型|비정형)\S*(?:\s*(?:mitos\w*|mitotic\s+figures?|forms?|"
                   r"figures?|核分裂[像象]?|分裂[像象]?))?|(?:atypical|abnormal)\s+(?:mitos\w*|mitotic\s+figures?|forms?)\s+"
                   r"(?:were\s+|are\s+)?(?:absent|not\s+(?:seen|identified|found|observed))")
_NEG_RE = re.compile("|".join(NEG_BEFORE), re.I)
_NEAR_ZERO = re.compile(r"\b(?:virtually|almost|practically|essentially)\s+(?:none|absent|no)\b")


def _mitoses_phrase(s):
    """The :data:`MITOSIS_WORDS` key a phrase such as 'high mitotic index', 'without mitoses',
    'virtually none', '极少见' or '많음' amounts to, or None when it says nothing readable.

    The phrase is a mitoses value (the field names the finding), so a negation alone means
    none, and a qualifier word gives its range; a negated qualifier ('not frequent') is rare.
    Digits that did not make a count are never guessed at.
    """
    s = re.sub(r"[()\[\]（）]", " ", s)
    s = re.sub(NOT_COUNTED, " ", s)
    s = re.sub(ATYPICAL_DENIED, " ", s, flags=re.I)
    if re.search(r"\d", s):
        return None
    if _NEAR_ZERO.search(s):
        return "none"
    q = next((m for pat, _ in MITOSIS_QUALIFIERS for m in [re.search(pat, s, re.I)] if m), None)
    word = next((w for pat, w in MITOSIS_QUALIFIERS if re.search(pat, s, re.I)), None)
    if word is None and re.search(MITOSIS_PRESENT, s, re.I):
        word = "present"
    negated = _NEG_RE.search(s) is not None
    if word is None:
        return "none" if negated else None
    if negated:
        if word == "frequent":  # 'not frequent' is rare; 'not increased' allows none
            return "not increased" if re.fullmatch(MITOSIS_INCREASE, q.group(0), re.I) else "rare"
        return "none"
    return word


def parse_mitoses(text):
    """Read a mitotic count as reports write it.

    Returns a :class:`MitoticCount`; raises :class:`~ihc.exceptions.InvalidValueError`.

    >>> parse_mitoses("3/50 HPF").low
    3.0
    >>> parse_mitoses("15/10 HPF").states()
    ('m4',)
    >>> parse_mitoses("frequent").states()
    ('m3', 'm4')
    >>> parse_mitoses("<1/50 HPF").states()
    ('m0',)
    >>> parse_mitoses("high mitotic index").states(), parse_mitoses("without mitoses").states()
    (('m3', 'm4'), ('m0',))
    """
    if isinstance(text, MitoticCount):
        return text
    if isinstance(text, bool) or text is None:
        raise _bad("mitoses", text, _MITOSES_ACCEPTED)
    if isinstance(text, (int, float)):
        raise InvalidValueError(f"mitoses {text!r} has no denominator: give it as '{text:g}/10 HPF', "
                                f"'{text:g}/50 HPF' or '{text:g}/mm2'")
    s = _norm(text).replace("hpfs", "hpf").replace("hp fs", "hpf")
    s = re.sub(r"^(mitoses|mitosis|mitotic (count|index|rate|activity|figures?))\s*[:=]?\s*", "", s).strip()
    if s in MITOSIS_WORDS:
        lo, hi = MITOSIS_WORDS[s]
        return MitoticCount(str(text).strip(), lo, hi)
    m = re.match(_COUNT_RE, s)
    if not m:
        phrase = _mitoses_phrase(s)
        if phrase is None:
            raise _bad("mitoses", text, _MITOSES_ACCEPTED)
        lo, hi = MITOSIS_WORDS[phrase]
        return MitoticCount(str(text).strip(), lo, hi)
    a = float(m.group(2))
    b = float(m.group(3)) if m.group(3) else a
    if b < a:
        a, b = b, a
    unit = m.group("unit")
    den = float(m.group("den")) if m.group("den") else 1.0
    if den <= 0:
        raise _bad("mitoses", text, _MITOSES_ACCEPTED)
    mm2 = not unit.startswith(("hpf", "high"))
    factor = (MM2_PER_50_HPF / den) if mm2 else (50.0 / den)
    lo, hi = a * factor, b * factor
    cmp = CMP_WORDS.get(m.group("cmp"), m.group("cmp"))
    if cmp == "<":
        lo, hi = 0.0, max(0.0, hi - 1e-9) if a > 0 else 0.0
    elif cmp in ("<=", "≤"):
        lo = 0.0
    elif cmp == ">":
        lo, hi = lo + 1e-9, math.inf
    elif cmp in (">=", "≥"):
        hi = math.inf
    return MitoticCount(str(text).strip(), lo, hi, mm2)


def parse_bool(text, what="value"):
    """yes/no, present/absent, true/false, 1/0, +/- (a bool passes through)."""
    if isinstance(text, bool):
        return text
    if isinstance(text, (int, float)) and text in (0, 1):
        return bool(text)
    s = _norm(text) if text is not None else ""
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise _bad(what, text, "yes/no, present/absent, true/false, 1/0")


def parse_necrosis(text):
    """Tumour (coagulative) necrosis present (True) or absent (False)."""
    return parse_bool(text, "necrosis")


def parse_atypia(text):
    """Nuclear atypia: none / mild / moderate / severe (and their usual synonyms).

    >>> parse_atypia("marked"), parse_atypia("Moderate")
    ('severe', 'moderate')
    """
    s = _norm(text) if text is not None else ""
    s = re.sub(r"\s*(nuclear|cytologic(al)?)?\s*atypia$", "", s).strip() or "present"
    if s in ATYPIA_WORDS and len(ATYPIA_WORDS[s]) == 1:
        return ATYPIA_WORDS[s][0]
    if s in ATYPIA_WORDS:
        return s if s in ("present",) else "-".join((ATYPIA_WORDS[s][0], ATYPIA_WORDS[s][-1]))
    raise _bad("atypia", text, "none, mild, moderate, severe (or marked, slight, bland...)")


def atypia_states(atypia, pleomorphic=None):
    """The atypia states an observation allows (``'moderate-severe'`` -> both)."""
    if atypia is not None:
        if atypia in FINDINGS["atypia"]:
            return (atypia,)
        return ATYPIA_WORDS.get(atypia.replace("-", " to "), ATYPIA_WORDS.get(atypia, FINDINGS["atypia"][1:]))
    if pleomorphic is True:
        return ("moderate", "severe")
    if pleomorphic is False:
        return ("none", "mild", "moderate")
    return None


def parse_cell_type(text):
    """spindle / epithelioid / mixed / pleomorphic."""
    s = _norm(text) if text is not None else ""
    s = re.sub(r"\s*(cells?|type|morphology|shaped)$", "", s).strip()
    if s in CELL_TYPE_WORDS:
        return CELL_TYPE_WORDS[s]
    raise _bad("cell type", text, "spindle, epithelioid, mixed, pleomorphic")


def _number(text, what, unit_ok=()):
    if isinstance(text, bool):
        raise _bad(what, text, "a number")
    if isinstance(text, (int, float)):
        v = float(text)
    else:
        s = _norm(text)
        for u in unit_ok:
            s = re.sub(rf"\s*{u}\.?$", "", s)
        try:
            v = float(s)
        except ValueError:
            raise _bad(what, text, "a number") from None
    if math.isnan(v) or math.isinf(v):
        raise _bad(what, text, "a finite number")
    return v


def parse_size(text):
    """Greatest tumour dimension in cm (``"6"``, ``"6 cm"``, ``"45 mm"``, ``"14 x 10 x 8 cm"``)."""
    if isinstance(text, str):
        s = _norm(text)
        mm = s.endswith("mm")
        dims = re.findall(r"\d+(?:\.\d+)?", s)
        if dims and re.fullmatch(r"[\d.\s x×*by]+(cm|mm)?\.?", s):
            v = max(float(d) for d in dims) / (10.0 if mm else 1.0)
            if v <= 0 or v > 100:
                raise _bad("size", text, "a greatest dimension in cm above 0 and at most 100")
            return v
    v = _number(text, "size", ("cm",))
    if v <= 0 or v > 100:
        raise _bad("size", text, "a greatest dimension in cm above 0 and at most 100")
    return v


def parse_age(text):
    v = _number(text, "age", ("years", "year", "yrs", "yr", "y"))
    if v < 0 or v > 120:
        raise _bad("age", text, "years from 0 to 120")
    return v


def parse_sex(text):
    s = _norm(text) if text is not None else ""
    if s in _SEX:
        return _SEX[s]
    raise _bad("sex", text, "F or M (female, male)")


_PARSERS = {"mitoses": parse_mitoses, "necrosis": parse_necrosis, "atypia": parse_atypia,
            "pleomorphic": lambda v: parse_bool(v, "pleomorphic"), "cell_type": parse_cell_type,
            "size_cm": parse_size, "age": parse_age, "sex": parse_sex}


def morphology_from_mapping(mapping):
    """A :class:`Morphology` from a mapping of field -> value (options, batch cells, JSON).

    Keys are the canonical fields or their column spellings (:data:`MORPHOLOGY_COLUMNS`);
    ``None`` and empty strings mean "not given". Unknown keys raise.

    >>> morphology_from_mapping({"Size (cm)": "6", "sex": "female"}).to_dict()
    {'size_cm': 6.0, 'sex': 'F'}
    """
    if isinstance(mapping, Morphology):
        return mapping
    out = Morphology()
    for k, v in (mapping or {}).items():
        key = column_key(k)
        if key is None:
            raise InvalidValueError(f"morphology field {str(k)[:40]!r} is not known: accepted "
                                    + ", ".join(MORPHOLOGY_COLUMNS))
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        setattr(out, key, _PARSERS[key](v))
    if out.mitoses is not None and out.mitoses.converted_from_mm2:
        out.warnings.append(f"mitoses {out.mitoses.text}: read per 50 HPF taking 5 mm2 as 50 HPF (AJCC); "
                            "an HPF's area differs between microscopes")
    return out


def case_morphology(case):
    """The morphology of a labelled real case: its ``morphology`` object plus its age and sex.

    Values that cannot be read are left out (a curated case never stops an evaluation).
    """
    m = Morphology()
    fields = dict(case.get("morphology") or {})
    for k in ("age", "sex"):
        if case.get(k) not in (None, ""):
            fields.setdefault(k, case[k])
    for k, v in fields.items():
        key = column_key(k)
        if key is None or v is None or (isinstance(v, str) and not v.strip()):
            continue
        try:
            setattr(m, key, _PARSERS[key](v))
        except InvalidValueError:
            continue
    return m


def _bin(value, edges):
    for name, hi in edges:
        if value <= hi:
            return name
    return edges[-1][0]


def observed_states(morph):
    """``{finding: tuple of states allowed}`` for the findings given."""
    if not morph:
        return {}
    out = {}
    if morph.mitoses is not None:
        out["mitoses"] = morph.mitoses.states()
    if morph.necrosis is not None:
        out["necrosis"] = ("present",) if morph.necrosis else ("absent",)
    a = atypia_states(morph.atypia, morph.pleomorphic)
    if a:
        out["atypia"] = tuple(a)
    if morph.cell_type is not None:
        out["cell_type"] = (morph.cell_type,)
    if morph.size_cm is not None:
        out["size"] = (_bin(morph.size_cm, (("le2", 2.0), ("2to5", 5.0), ("5to10", 10.0), ("gt10", math.inf))),)
    if morph.age is not None:
        out["age"] = ("lt18" if morph.age < 18 else "18to39" if morph.age < 40 else
                      "40to59" if morph.age < 60 else "ge60",)
    if morph.sex is not None:
        out["sex"] = (morph.sex,)
    return out


from .sites import SITE_GROUP_OF  # noqa: E402

SITE_GROUP_NAMES = {"gi": "GI tract", "abdomen": "retroperitoneum/abdomen", "uterus": "uterus",
                    "soft_tissue": "deep soft tissue", "skin": "skin", "any": "all sites"}


def site_group(site):
    """The site group of a canonical site (``ihc.sites.SITE_GROUP_OF``; ``any`` when none)."""
    return SITE_GROUP_OF.get(site, "any")


#: Findings whose states are ordered: an observation is a run of neighbouring states.
ORDINAL_FINDINGS = ("mitoses", "atypia", "size", "age")


def observation_codes(feature):
    """Every observation a finding can take, as the state code the tables key it by
    (``"m3|m4"`` for "frequent mitoses"): runs of neighbouring states for ordered findings,
    single states for the others."""
    sts = FINDINGS[feature]
    if feature not in ORDINAL_FINDINGS:
        return ["|".join((s,)) for s in sts]
    return ["|".join(sts[i:j]) for i in range(len(sts)) for j in range(i + 1, len(sts) + 1)]


def finding_codes(morph):
    """``{finding: state code}`` of a morphology, as the engine reads it (see :func:`observation_codes`)."""
    return {f: "|".join(v) for f, v in observed_states(morph).items()}


class MorphologyModel:
    """The morphology tables of a model file, evaluated with the standard library.

    ``data`` is the ``"morphology"`` object of ``ihc_model.json``:
    ``{"classes": [...], "weights": {...}, "tables": {group: {feature: {dx: {state: p}}}},
    "sources": {group: {feature: {dx: [citation, basis]}}}}``.
    """

    def __init__(self, data, classes):
        self.data = data
        self.classes = list(classes)
        self.tables = data["tables"]
        self.sources = data.get("sources", {})
        self.weights = data["weights"]

    def probs(self, feature, group, dx):
        """``{state: P(state | dx)}`` at the site group, falling back to ``any``."""
        t = self.tables.get(group, {}).get(feature, {}).get(dx)
        if t is None:
            t = self.tables.get("any", {}).get(feature, {}).get(dx)
            group = "any"
        if t is None:  # a diagnosis without figures for this finding: it says nothing
            t = {s: 1.0 / len(FINDINGS[feature]) for s in FINDINGS[feature]}
        return t, group

    def weight(self, feature):
        """The weight of a finding: ``grade`` for mitoses, necrosis and atypia, ``context[feature]`` else."""
        if feature in GRADE_FINDINGS:
            return self.weights["grade"]
        w = self.weights["context"]
        return w[feature] if isinstance(w, dict) else w

    #: The findings whose vectors :meth:`vector` gives (the engine's site-dependent features).
    features = frozenset(FINDINGS)

    def vector(self, feature, code, group):
        """The centred weighted log-likelihood vector of an observation ``code`` of ``feature``
        (see :func:`observation_codes`) in a site group, or None for a code or group there is none
        of: the morphology's entry ``(feature, code, group)`` in the engine's tables."""
        from .sites import SITE_GROUPS

        if feature not in FINDINGS or group not in SITE_GROUPS or code not in observation_codes(feature):
            return None
        w = self.weight(feature)
        allowed = tuple(code.split("|"))
        ll = [math.log(sum(self.probs(feature, group, dx)[0][s] for s in allowed)) for dx in self.classes]
        m = sum(ll) / len(self.classes)
        return tuple(w * (v - m) for v in ll)

    def vectors(self):
        """``{(finding, code, group): vector}`` for every observation code and site group (:meth:`vector`)."""
        from .sites import SITE_GROUPS

        return {(f, code, g): self.vector(f, code, g) for f in FINDINGS for code in observation_codes(f)
                for g in SITE_GROUPS}

    def share(self, feature, allowed, site, dx):
        t, g = self.probs(feature, site_group(site), dx)
        return sum(t[s] for s in allowed), g

    def source(self, feature, site, dx):
        group = site_group(site)
        s = self.sources.get(group, {}).get(feature, {}).get(dx)
        if s is None:
            s = self.sources.get("any", {}).get(feature, {}).get(dx)
        return s or ["", "assumed"]
