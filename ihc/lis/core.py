"""What the HL7 and FHIR readers share: one case read from a message, and its result record.

A reader turns each message (or report) into :class:`Case` objects: the markers read from
discrete observations, the narrative texts to give the free-text parser, the site as free text,
and ``context``, a dict of clinical / morphology fields read on the way (``sex``, ``age_years``,
and any observation the code map sends to ``context.<name>``, e.g. ``mitotic_count``). The
fields the classifier reads (sex, age, mitoses with a denominator, necrosis, size...) are passed
as morphology (:func:`case_morphology`), with what the narrative texts state; ``context`` is also
carried into the record unchanged.

:func:`classify_case` gives one record, the object of ``ihc hl7 --format jsonl`` /
``ihc fhir --format jsonl``: the classify object (``ihc schema``) plus ``control_id``,
``specimen``, ``context`` and ``read`` (how many observations were read, discrete and
narrative); or, for a case that cannot be classified, ``{"control_id", "specimen",
"schema_version": "1", "status": "error", "error": reason}``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from ..exceptions import IhcError, InputError, NoKnownMarkerError

__all__ = ["Case", "classify_case", "case_morphology", "ExtraMissingError", "need", "EXTRA_HINT"]

EXTRA_HINT = 'pip install "ihc[lis]"'


class ExtraMissingError(IhcError):
    """An optional library of the ``lis`` extra is not installed."""


def need(module, what):
    """Import an optional module of the ``lis`` extra, or raise :class:`ExtraMissingError`."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExtraMissingError(f"{what} needs the optional '{module}' library: {EXTRA_HINT}") from None


@dataclass
class Case:
    """One specimen's IHC results as read from a message."""

    control_id: str | None = None
    specimen: str | None = None
    markers: dict = field(default_factory=dict)
    narrative: list = field(default_factory=list)
    site: str | None = None
    context: dict = field(default_factory=dict)
    error: str | None = None
    discrete: int = 0
    header: dict = field(default_factory=dict, repr=False)  # what an HL7 reply copies back

    def add_value(self, target, value_text=None, number=None, coded=None):
        """Record one discrete observation for ``target`` (a marker or ``context.<name>``).

        ``coded`` is ``pos``/``neg`` from a coded answer; ``number`` a numeric value;
        ``value_text`` a result as written ("Positive, diffuse"), read by the free-text parser.
        Returns True when a value was recorded.
        """
        if target.startswith("context."):
            name = target[len("context."):]
            self.context[name] = number if number is not None else (coded or value_text)
            return True
        if coded is not None:
            value = coded
        elif number is not None and target == "Ki67":
            value = number
        else:
            text = value_text if value_text is not None else (f"{number:g}%" if number is not None else "")
            value = _value_from_text(target, text)
        if value is None:
            return False
        self.markers.setdefault(target, value)
        self.discrete += 1
        return True


def _value_from_text(target, text):
    import ihc

    text = " ".join(str(text).split())
    if not text:
        return None
    try:
        markers = ihc.parse(f"{target}: {text}", mode="lenient").markers
    except IhcError:
        return None
    if len(markers) == 1:
        return next(iter(markers.values()))
    return None


def narrative_markers(texts):
    import ihc

    out = {}
    for t in texts:
        try:
            found = ihc.parse(t, mode="lenient").markers
        except NoKnownMarkerError:
            continue
        except InputError:  # e.g. a conflicting value inside one text: leave that text out
            continue
        for k, v in found.items():
            out.setdefault(k, v)
    return out


def case_morphology(case):
    """The morphology and clinical context a message gives: its discrete context fields that the
    classifier reads (sex, age, a mitotic count with its denominator, necrosis, size...), then what
    its narrative texts state ("18 mitoses per 10 HPF"). A field it cannot read (sex "U", a bare
    count without a denominator) is left out: a feed never fails on context. None when nothing."""
    from ..exceptions import InvalidValueError
    from ..morph_text import read_morphology
    from ..morphology import column_key, morphology_from_mapping

    given = {}
    for name, value in case.context.items():
        key = column_key(name)
        if key is None or value is None or key in given:
            continue
        try:
            morphology_from_mapping({key: value})
        except InvalidValueError:
            continue
        given[key] = value
    morph = morphology_from_mapping(given)
    if case.narrative:
        morph = morph.merged(read_morphology(" ".join(str(t) for t in case.narrative)))
    return morph or None


def classify_case(case, *, model=None, top=5):
    """The record of one case: the classify object plus its keys, or an error record.

    Discrete observations come first; narrative texts add markers not given discretely.
    """
    import ihc

    head = {"control_id": case.control_id, "specimen": case.specimen}
    if case.error:
        return {**head, "schema_version": "1", "status": "error", "error": case.error}
    panel = dict(case.markers)
    narrative = narrative_markers(case.narrative)
    n_narr = 0
    for k, v in narrative.items():
        if k not in panel:
            panel[k] = v
            n_narr += 1
    if not panel:
        reason = "no IHC results found: no observation code is in the code map and no narrative text names a stain"
        return {**head, "schema_version": "1", "status": "error", "error": reason}
    try:
        d = ihc.classify(panel, site=case.site, morphology=case_morphology(case), model=model, top=top).to_dict()
    except IhcError as exc:
        return {**head, "schema_version": "1", "status": "error", "error": " ".join(str(exc).split())}
    return {**head, **d, "context": dict(case.context), "read": {"discrete": case.discrete, "narrative": n_narr}}


def summary_lines(record, n_evidence=3):
    """Short texts of a record for a receiving system: evidence, next stains, warnings."""
    top = record["differential"][0]["diagnosis"]
    ev = [e for e in record["evidence"] if e["diagnosis"] == top][:n_evidence]
    evidence = "; ".join(f"{e['note']} ({e['effect']} {top}, {e['weight']:+.2f})" for e in ev)
    stains = "; ".join(f"{s['marker']} ({s['expected_information_gain']:.2f} bits): {s['why']}"
                       for s in record["next_stains"])
    return evidence, stains
