"""FHIR R4 in and out: IHC Observations -> ranked differential -> a preliminary DiagnosticReport.

Reading (plain JSON, tolerant): a Bundle, a DiagnosticReport with contained Observations, or a
single Observation. Each DiagnosticReport is one case (its ``result`` references resolved against
its contained resources and the Bundle's entries, ``hasMember`` followed); a Bundle without a
DiagnosticReport is one case of all its Observations. An Observation is read by its
``code.coding`` (LOINC, a laboratory code in the code map, or the local system
``urn:ihc:marker`` whose codes are the canonical marker names of ``ihc markers``), else by its
``code.text`` through the free-text parser. Values: ``valueCodeableConcept`` (SNOMED CT / LOINC
answer codes, else its text), ``valueQuantity`` / ``valueInteger`` (Ki-67 %), ``valueString``.
Observations ``entered-in-error`` or ``cancelled`` are skipped. The site is the first
``bodySite`` (text or display), else the referenced Specimen's ``collection.bodySite``; the
Patient's ``gender`` and the age at ``effectiveDateTime`` go into ``context``. The report's
``conclusion`` is read as narrative (discrete results win).

Writing: a ``collection`` Bundle, valid under ``fhir.resources`` R4B models, holding per case
a DiagnosticReport (``status`` ``preliminary``, category ``PAT``, the result in
``conclusion``) and its Observations, all ``preliminary``: one per ranked diagnosis
(code in ``urn:ihc:diagnosis``, ``valueQuantity`` probability with UCUM ``1``; the leading one
carries the top evidence as ``note``), and ``status``, ``next-stain``, ``warning`` and
``model-version`` observations in ``urn:ihc:code``. A case that cannot be classified is an
OperationOutcome with the reason.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from ..exceptions import IhcError, InputError
from .codes import LOINC, UCUM, CodeMap
from .core import Case, classify_case, need, summary_lines

__all__ = ["read_cases", "run_fhir", "to_bundle", "cds_cards", "bundle_from_panel", "MARKER_SYSTEM", "DX_SYSTEM", "CODE_SYSTEM"]

MARKER_SYSTEM = "urn:ihc:marker"
DX_SYSTEM = "urn:ihc:diagnosis"
CODE_SYSTEM = "urn:ihc:code"
_SKIP = {"entered-in-error", "cancelled"}


def _load(data):
    if isinstance(data, dict):
        return data
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8-sig", errors="replace")
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise InputError(f"not FHIR JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; "
                         "give a Bundle, a DiagnosticReport or an Observation as JSON") from None
    if not isinstance(obj, dict) or "resourceType" not in obj:
        raise InputError("not a FHIR resource: the JSON has no resourceType; give a Bundle, a DiagnosticReport "
                         "with contained Observations, or an Observation")
    return obj


def _codings(cc):
    if not isinstance(cc, dict):
        return []
    return [(c.get("code"), c.get("system")) for c in cc.get("coding") or [] if isinstance(c, dict)]


def _cc_text(cc):
    if not isinstance(cc, dict):
        return ""
    if cc.get("text"):
        return str(cc["text"])
    for c in cc.get("coding") or []:
        if isinstance(c, dict) and c.get("display"):
            return str(c["display"])
    return ""


def _age(birth, when):
    try:
        b = datetime.strptime(str(birth)[:10], "%Y-%m-%d")
        w = datetime.strptime(str(when)[:10], "%Y-%m-%d")
    except ValueError:
        return None
    return w.year - b.year - ((w.month, w.day) < (b.month, b.day))


class _Index:
    def __init__(self, resources):
        self.by_ref = {}
        for full_url, r in resources:
            if not isinstance(r, dict):
                continue
            if full_url:
                self.by_ref[full_url] = r
            if r.get("id"):
                self.by_ref[f"{r.get('resourceType')}/{r['id']}"] = r

    def get(self, ref, contained=None):
        if not isinstance(ref, dict) or not isinstance(ref.get("reference"), str):
            return None
        ref = ref["reference"]
        if ref.startswith("#") and contained:
            return contained.get(ref[1:])
        return self.by_ref.get(ref) or self.by_ref.get("/".join(ref.split("/")[-2:]))


def _target(code_map, codings, parse_name):
    for code, system in codings:
        if system == MARKER_SYSTEM and code:
            return parse_name(code)
    return code_map.target(codings)


def _read_observation(obs, case, code_map, parse_name):
    if obs.get("status") in _SKIP:
        return
    codings = _codings(obs.get("code"))
    label = _cc_text(obs.get("code"))
    target = _target(code_map, codings, parse_name) or (parse_name(label) if label else None)
    coded = number = text = None
    if "valueCodeableConcept" in obs:
        coded = code_map.answer(_codings(obs["valueCodeableConcept"]))
        text = _cc_text(obs["valueCodeableConcept"])
    elif isinstance(obs.get("valueQuantity"), dict):
        v = obs["valueQuantity"].get("value")
        number = float(v) if isinstance(v, (int, float)) else None
    elif isinstance(obs.get("valueInteger"), int):
        number = float(obs["valueInteger"])
    elif isinstance(obs.get("valueString"), str):
        text = obs["valueString"]
    if not case.site:
        site = _cc_text(obs.get("bodySite"))
        case.site = site or None
    if target:
        if not case.add_value(target, value_text=text, number=number, coded=coded if coded else None):
            case.narrative.append(f"{target}: {text or ''}")
    elif label and (text or number is not None):
        shown = text if text else f"{number:g}%"
        case.narrative.append(f"{label}: {shown}")


def _members(obs, index, contained, seen):
    yield obs
    for m in obs.get("hasMember") or []:
        r = index.get(m, contained)
        if isinstance(r, dict) and id(r) not in seen:
            seen.add(id(r))
            yield from _members(r, index, contained, seen)


def _context(subject, when, index, contained):
    ctx = {}
    patient = index.get(subject, contained)
    if isinstance(patient, dict) and patient.get("resourceType") == "Patient":
        g = {"female": "F", "male": "M"}.get(patient.get("gender"))
        if g:
            ctx["sex"] = g
        if patient.get("birthDate") and when:
            age = _age(patient["birthDate"], when)
            if age is not None and 0 <= age < 130:
                ctx["age_years"] = age
    return ctx


def _case_from(observations, *, key, report, index, contained, code_map, parse_name):
    case = Case(control_id=key)
    when = None
    subject = (report or {}).get("subject")
    for obs in observations:
        if not isinstance(obs, dict) or obs.get("resourceType") != "Observation":
            continue
        when = when or obs.get("effectiveDateTime")
        subject = subject or obs.get("subject")
        _read_observation(obs, case, code_map, parse_name)
        if case.specimen is None:
            spec = index.get(obs.get("specimen"), contained)
            ref = obs.get("specimen", {}).get("reference") if isinstance(obs.get("specimen"), dict) else None
            if isinstance(spec, dict):
                ids = spec.get("accessionIdentifier") or (spec.get("identifier") or [{}])[0]
                case.specimen = (ids or {}).get("value") or ref
                if not case.site:
                    case.site = _cc_text((spec.get("collection") or {}).get("bodySite")) or None
            elif ref:
                case.specimen = ref
    if report and isinstance(report.get("conclusion"), str):
        case.narrative.append(report["conclusion"])
    when = when or (report or {}).get("effectiveDateTime")
    case.context.update(_context(subject, when, index, contained))
    case.header = {"subject": subject if isinstance(subject, dict) else None}
    return case


def read_cases(data, code_map=None):
    """The cases of a FHIR Bundle / DiagnosticReport / Observation (see the module docstring)."""
    import ihc

    code_map = code_map if isinstance(code_map, CodeMap) else CodeMap.load(code_map)
    root = _load(data)
    rtype = root.get("resourceType")

    def parse_name(code):  # a urn:ihc:marker code or a code.text naming one marker
        for probe in (f"{code}: positive", f"{code} 10%"):
            try:
                found = ihc.parse(probe, mode="lenient").markers
            except IhcError:
                continue
            if len(found) == 1:
                return next(iter(found))
        return None

    if rtype == "Bundle":
        entries = [e for e in root.get("entry") or [] if isinstance(e, dict)]
        resources = [(e.get("fullUrl"), e.get("resource")) for e in entries]
    elif rtype in ("DiagnosticReport", "Observation"):
        resources = [(None, root)]
    else:
        raise InputError(f"FHIR resourceType {rtype!r} is not read: give a Bundle, a DiagnosticReport with "
                         "contained Observations, or an Observation")
    index = _Index(resources)
    reports = [r for _, r in resources if isinstance(r, dict) and r.get("resourceType") == "DiagnosticReport"]
    cases = []
    kw = dict(index=index, code_map=code_map, parse_name=parse_name)
    if reports:
        for i, rep in enumerate(reports, start=1):
            contained = {c.get("id"): c for c in rep.get("contained") or [] if isinstance(c, dict) and c.get("id")}
            seen, observations = set(), []
            for ref in rep.get("result") or []:
                obs = index.get(ref, contained)
                if isinstance(obs, dict) and id(obs) not in seen:
                    seen.add(id(obs))
                    observations.extend(_members(obs, index, contained, seen))
            ident = (rep.get("identifier") or [{}])[0] if isinstance(rep.get("identifier"), list) else {}
            key = (ident or {}).get("value") or rep.get("id") or f"report-{i}"
            c = _case_from(observations, key=key, report=rep, contained=contained, **kw)
            if not c.specimen and isinstance(rep.get("specimen"), list) and rep["specimen"]:
                c.specimen = rep["specimen"][0].get("reference") if isinstance(rep["specimen"][0], dict) else None
            cases.append(c)
    else:
        observations = [r for _, r in resources if isinstance(r, dict) and r.get("resourceType") == "Observation"]
        if not observations:
            raise InputError("the FHIR input holds no DiagnosticReport and no Observation")
        cases.append(_case_from(observations, key=root.get("id"), report=None, contained={}, **kw))
    return cases


# ------------------------------------------------------------------- writing


def _uid():
    return f"urn:uuid:{uuid.uuid4()}"


def _code(system, code, display=None):
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return {"coding": [c], "text": display or code}


def to_bundle(records, subjects=None, *, validate=True):
    """A FHIR R4 ``collection`` Bundle (dict) for records of :func:`ihc.lis.core.classify_case`.

    Validated with the ``fhir.resources`` R4B models unless ``validate`` is false.
    """
    entries = []
    subjects = subjects or [None] * len(records)
    for rec, subject in zip(records, subjects):
        if rec.get("status") == "error":
            entries.append({"fullUrl": _uid(), "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "invalid",
                           "diagnostics": f"{rec.get('control_id') or ''} {rec.get('specimen') or ''}: "
                                          f"{rec['error']}".strip()}]}})
            continue
        subj = {"subject": subject} if subject else {}
        obs = []

        def add(code, display, value, note=None, system=CODE_SYSTEM):
            o = {"resourceType": "Observation", "status": "preliminary",
                 "category": [_code("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory")],
                 "code": _code(system, code, display), **subj, **value}
            if note:
                o["note"] = [{"text": note}]
            obs.append((_uid(), o))

        add("status", "Decision support status", {"valueString": rec["status"]})
        evidence, _ = summary_lines(rec)
        for rank, d in enumerate(rec["differential"], start=1):
            add(d["diagnosis"], f"{d['diagnosis']} probability",
                {"valueQuantity": {"value": round(float(d["probability"]), 4), "unit": "probability",
                                   "system": UCUM, "code": "1"}},
                note=(f"rank 1; top evidence: {evidence}" if rank == 1 and evidence else f"rank {rank}"),
                system=DX_SYSTEM)
        for s in rec["next_stains"]:
            add("next-stain", "Next stain", {"valueString": f"{s['marker']}: {s['why']}"},
                note=f"expected information gain {s['expected_information_gain']:.2f} bits")
        for w in rec["warnings"]:
            add("warning", "Warning", {"valueString": w})
        add("model-version", "Model version", {"valueString": rec["model"]["version"]})
        top = rec["differential"][0]
        conclusion = (f"{rec['status']}: leading {top['diagnosis']} {top['probability']:.2f}. "
                      "Decision support by ihc, preliminary: not a signed result; the pathologist decides.")
        report = {"resourceType": "DiagnosticReport", "status": "preliminary",
                  "category": [_code("http://terminology.hl7.org/CodeSystem/v2-0074", "PAT", "Pathology")],
                  "code": _code(CODE_SYSTEM, "ihc-differential", "IHC decision support differential"),
                  **subj,
                  "identifier": [{"system": CODE_SYSTEM + ":source", "value": str(rec.get("control_id") or "")}]
                  if rec.get("control_id") else [],
                  "result": [{"reference": u} for u, _ in obs],
                  "conclusion": conclusion}
        if not report["identifier"]:
            del report["identifier"]
        entries.append({"fullUrl": _uid(), "resource": report})
        entries.extend({"fullUrl": u, "resource": o} for u, o in obs)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    if validate:
        need("fhir.resources", "writing FHIR")
        from fhir.resources.R4B.bundle import Bundle

        Bundle.model_validate(bundle)
    return bundle


def cds_cards(records):
    """CDS Hooks response ``{"cards": [...]}``: one card per record (summary <= 140 characters,
    indicator ``info`` for ``ok``, ``warning`` otherwise, the differential and next stains as
    markdown ``detail``)."""
    cards = []
    for rec in records:
        if rec.get("status") == "error":
            cards.append({"summary": "IHC panel could not be classified"[:140], "indicator": "warning",
                          "detail": rec["error"], "source": {"label": "ihc decision support"}})
            continue
        top = rec["differential"][0]
        summary = (f"IHC supports {top['diagnosis']} ({top['probability']:.2f})" if rec["status"] == "ok"
                   else f"IHC {rec['status']}: leading {top['diagnosis']} ({top['probability']:.2f})")
        lines = [f"- {d['diagnosis']}: {d['probability']:.2f}" for d in rec["differential"][:5]]
        if rec["next_stains"]:
            lines.append("")
            lines.append("Next stains: " + "; ".join(f"{n['marker']} ({n['why']})" for n in rec["next_stains"]))
        lines += ["", "Preliminary decision support: the pathologist decides."]
        cards.append({"summary": summary[:140], "indicator": "info" if rec["status"] == "ok" else "warning",
                      "detail": "\n".join(lines), "source": {"label": "ihc decision support"}})
    return {"cards": cards}


def run_fhir(data, *, fmt="fhir", code_map=None, model=None):
    """Read FHIR IHC results, classify each case and render a Bundle (or JSON Lines records).

    ``fmt``: ``fhir`` (a Bundle), ``jsonl`` (records) or ``cds`` (CDS Hooks cards).
    Returns ``(text, records)``.

    Examples
    --------
    >>> text, records = run_fhir(bundle_from_panel({"CD117": "pos", "DOG1": "pos", "CD34": "pos"}, site="stomach"))
    >>> records[0]["differential"][0]["diagnosis"]
    'gist'
    """
    if fmt not in ("fhir", "jsonl", "cds"):
        raise InputError(f"unknown format {fmt!r}: use fhir, jsonl or cds")
    cases = read_cases(data, code_map)
    records = [classify_case(c, model=model) for c in cases]
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records), records
    if fmt == "cds":
        return json.dumps(cds_cards(records), ensure_ascii=False, indent=1) + "\n", records
    bundle = to_bundle(records, [c.header.get("subject") for c in cases])
    return json.dumps(bundle, ensure_ascii=False, indent=1) + "\n", records


def bundle_from_panel(markers, site=None, *, report_id="example-1"):
    """A FHIR input Bundle (dict) of one DiagnosticReport with one Observation per marker.

    LOINC where the shipped map has a confirmed code, else ``urn:ihc:marker``; ``pos``/``neg``
    as SNOMED CT, numbers (Ki-67) as ``%``, other values as ``valueString``.
    """
    loinc = CodeMap.default().codes(LOINC)
    answers = {"pos": ("10828004", "Positive"), "neg": ("260385009", "Negative")}
    entries, refs = [], []
    for i, (name, value) in enumerate(markers.items(), start=1):
        code = ({"system": LOINC, "code": loinc[name]} if name in loinc else {"system": MARKER_SYSTEM, "code": name})
        obs = {"resourceType": "Observation", "id": f"ihc-{i}", "status": "final",
               "code": {"coding": [code], "text": name}}
        if isinstance(value, (int, float)):
            obs["valueQuantity"] = {"value": value, "unit": "%", "system": UCUM, "code": "%"}
        elif value in answers:
            c, d = answers[value]
            obs["valueCodeableConcept"] = {"coding": [{"system": "http://snomed.info/sct", "code": c, "display": d}],
                                           "text": d}
        else:
            obs["valueString"] = str(value)
        if site:
            obs["bodySite"] = {"text": site}
        entries.append({"fullUrl": f"Observation/ihc-{i}", "resource": obs})
        refs.append({"reference": f"Observation/ihc-{i}"})
    report = {"resourceType": "DiagnosticReport", "id": report_id, "status": "final",
              "code": {"coding": [{"system": LOINC, "code": "55229-9", "display": "Immune stain study"}]},
              "result": refs}
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"DiagnosticReport/{report_id}", "resource": report}] + entries}
