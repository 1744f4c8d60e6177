"""Code maps: which observation code is which marker, which coded answer is which result.

Two shipped tables, both CSV beside this module:

- ``code_map.csv`` (``system,code,target,display,source``): an observation code -> a canonical
  marker (``ihc markers``) or a clinical/morphology field written ``context.<name>``
  (e.g. ``context.mitotic_count``). The shipped rows are the LOINC codes marked *confirmed* in
  the project's LOINC table and the local ``99IHC`` codes of the constructed example message.
  Most stains have no LOINC code, so a laboratory supplies its own map (``--code-map``): a CSV
  with ``code`` and ``target`` (or ``marker``) columns and, optionally, ``system``; an empty
  system matches the code in any system. Its rows are read before the shipped ones.
- ``result_codes.csv`` (``system,code,value``): a coded answer (SNOMED CT, LOINC answer list)
  -> ``pos`` / ``neg``.

Systems are compared after aliasing the HL7 v2 names to FHIR URIs (``LN`` = ``http://loinc.org``,
``SCT`` = ``http://snomed.info/sct``).

>>> m = CodeMap.default()
>>> m.target([("10476-0", "LN")])
'desmin'
>>> m.target([("10476-0", "http://loinc.org")])
'desmin'
>>> m.answer([("260385009", "SCT")])
'neg'
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..exceptions import InputError

__all__ = ["CodeMap", "canonical_system", "LOINC", "SNOMED"]

_HERE = Path(__file__).resolve().parent
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"

#: HL7 v2 coding-system names (table 0396) and their FHIR URIs.
SYSTEM_ALIASES = {"LN": LOINC, "LOINC": LOINC, "SCT": SNOMED, "SNM": SNOMED, "SNOMEDCT": SNOMED,
                  "SNOMED": SNOMED, "UCUM": UCUM}


def canonical_system(system):
    """The FHIR URI of an HL7 v2 coding-system name; other systems unchanged (stripped)."""
    s = (system or "").strip()
    return SYSTEM_ALIASES.get(s.upper(), s)


def _read(path_or_text, what):
    try:
        text = Path(path_or_text).read_text(encoding="utf-8-sig") if not isinstance(path_or_text, io.StringIO) \
            else path_or_text.getvalue()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} {path_or_text}: cannot be read ({exc.__class__.__name__}); give a UTF-8 CSV") from None
    return list(csv.DictReader(io.StringIO(text)))


class CodeMap:
    """Observation code -> marker / context field, and coded answer -> ``pos``/``neg``."""

    def __init__(self, rows, answers):
        self._targets = {}  # (system or "", code) -> target
        for r in rows:
            key = (canonical_system(r.get("system")), (r.get("code") or "").strip())
            if key[1]:
                self._targets.setdefault(key, r["target"])
        self._answers = {(canonical_system(r.get("system")), r["code"].strip()): r["value"].strip() for r in answers}

    @classmethod
    def default(cls):
        """The shipped map (LOINC confirmed codes and the example's local codes)."""
        key = "_default"
        if not hasattr(cls, key):
            setattr(cls, key, cls(_read(_HERE / "code_map.csv", "code map"),
                                  _read(_HERE / "result_codes.csv", "result codes")))
        return getattr(cls, key)

    @classmethod
    def load(cls, path=None):
        """The shipped map, with a laboratory's CSV (``code``, ``target`` or ``marker``, optional
        ``system``) read first so its rows win."""
        base = cls.default()
        if path is None:
            return base
        rows = _read(path, "code map")
        if not rows or "code" not in rows[0] or not ({"target", "marker"} & set(rows[0])):
            raise InputError(f"code map {path}: needs a header with 'code' and 'target' (or 'marker'), "
                             "and optionally 'system'")
        own = []
        for i, r in enumerate(rows, start=2):
            target = (r.get("target") or r.get("marker") or "").strip()
            if not target:
                raise InputError(f"code map {path} line {i}: empty target for code {r.get('code')!r}")
            own.append({"system": r.get("system") or "", "code": r.get("code"), "target": target})
        m = cls([], [])
        m._targets = dict(base._targets)
        for r in own:
            m._targets[(canonical_system(r["system"]), r["code"].strip())] = r["target"]
        m._answers = dict(base._answers)
        return m

    def target(self, codings):
        """The target of the first of ``[(code, system), ...]`` that the map knows, else None."""
        for code, system in codings:
            code = (code or "").strip()
            if not code:
                continue
            t = self._targets.get((canonical_system(system), code)) or self._targets.get(("", code))
            if t:
                return t
        return None

    def codes(self, system):
        """Target -> its first code in ``system`` (e.g. the LOINC code of each marker)."""
        out = {}
        for (s, code), target in self._targets.items():
            if s == canonical_system(system):
                out.setdefault(target, code)
        return out

    def answer(self, codings):
        """``pos``/``neg`` for the first known coded answer of ``[(code, system), ...]``, else None."""
        for code, system in codings:
            v = self._answers.get((canonical_system(system), (code or "").strip()))
            if v:
                return v
        return None
