"""HL7 v2 in and out: ORU^R01 messages with IHC results -> ranked differential -> ORU^R01.

Reading (tolerant, with python-hl7): one or many ER7 messages; segments may end with CR, LF or
CRLF; MLLP framing bytes (``0x0B`` ... ``0x1C 0x0D``) and batch/file header segments
(FHS, BHS, BTS, FTS) are skipped. In each ORU^R01:

- each OBX belongs to the specimen of the SPM before it (SPM-2), else of its OBR (OBR-3);
- an OBX whose code (OBX-3, the code triplet or its alternate) is in the code map is a discrete
  result: a coded answer (SNOMED CT / LOINC answer, ``result_codes.csv``), a number (Ki-67 %) or
  a result as written ("Positive, diffuse"), read by the free-text parser;
- any other TX/FT/ST/CWE observation is narrative and goes to the free-text parser
  (ST/CWE as "OBX-3 text: value"); discrete results win over narrative ones;
- OBX-11 ``D``/``W``/``X`` (deleted, wrong, cannot be obtained) are skipped;
- the site is SPM-8 or OBR-15, else the leading phrase of a final-diagnosis / nature-of-specimen
  TX ("Retroperitoneum, mass, resection: ..."); PID-8 (sex) and the age at OBR-7 from PID-7
  go into ``context`` (see :mod:`ihc.lis.core`).

One record per specimen with IHC results, in message order (one per message in the usual
feed); a message without any is one error record with the reason. Input with no MSH segment at
all is an :class:`~ihc.exceptions.InputError`.

Writing: one ORU^R01 per record, every OBX preliminary (OBX-11 ``P``, OBR-25 ``P``), under the
local code systems ``99IHCDS`` (observations of this tool) and ``99IHCDX`` (diagnosis ids of
``ihc diagnoses``):

============  ====  ============================================================
OBX-3 code    type  OBX-5
============  ====  ============================================================
SRCID         ST    MSH-10 of the message read (the key, with SPM-2 / OBR-3)
STATUS        ST    ``ok`` / ``indeterminate`` / ``atypical``
<dx>^99IHCDX  NM    probability 0-1 (OBX-4 = rank, OBX-6 ``1^probability^UCUM``)
EVIDENCE      TX    top evidence for and against the leading diagnosis
NEXT          TX    next stains, by expected information gain
WARN          TX    one per warning
MODEL         ST    model version
ERROR         ST    why the specimen could not be classified (OBX-11 ``X``)
============  ====  ============================================================
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from ..exceptions import InputError
from .codes import CodeMap
from .core import Case, narrative_markers, classify_case, need, summary_lines

__all__ = ["read_cases", "run_hl7", "to_oru", "split_messages"]

DS_SYSTEM = "99IHCDS"
DX_SYSTEM = "99IHCDX"
_SKIP_SEGMENTS = {"FHS", "BHS", "BTS", "FTS"}
_SITE_CODES = {"22637-3", "22633-2"}  # final diagnosis, nature of specimen (LOINC)
_SKIP_STATUS = {"D", "W", "X"}


def _text(data):
    if isinstance(data, (bytes, bytearray)):
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(data).decode("latin-1")
    return data


def split_messages(data):
    """Split ER7 text into messages: ``[(segments, None)]`` or ``[(None, reason)]`` for junk.

    Raises InputError when there is no MSH segment at all.
    """
    text = _text(data).replace("\x0b", "").replace("\x1c", "")
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    lines = [s for s in (ln.strip("\ufeff") for ln in text.split("\r")) if s.strip()]
    if not any(ln.startswith("MSH") for ln in lines):
        raise InputError("not HL7 v2: no MSH segment found; give ER7 messages (MSH|^~\\&|...), "
                         "one or many, segments ending CR, LF or CRLF")
    out, cur, junk = [], None, False
    for ln in lines:
        tag = ln[:3]
        if tag == "MSH":
            if cur:
                out.append((cur, None))
            cur = [ln]
        elif tag in _SKIP_SEGMENTS:
            continue
        elif cur is None:
            junk = True
        else:
            cur.append(ln)
    if cur:
        out.append((cur, None))
    if junk:
        out.insert(0, (None, "text before the first MSH segment is not an HL7 message"))
    return out


def _f(seg, i, comp=None):
    """Field i of a python-hl7 segment as text ('' when absent); comp: 0-based component."""
    try:
        fld = seg[i]
    except (IndexError, KeyError):
        return ""
    if comp is None:
        return str(fld)
    try:
        rep = fld[0] if not isinstance(fld, str) else fld
        if isinstance(rep, str):
            return rep if comp == 0 else ""
        c = rep[comp]
        return str(c)
    except (IndexError, KeyError, TypeError):
        return ""


def _codings(seg, i):
    c = [_f(seg, i, k) for k in range(6)]
    return [(c[0], c[2]), (c[3], c[5])]


def _age(birth, when):
    try:
        b = datetime.strptime(birth[:8], "%Y%m%d")
        w = datetime.strptime(when[:8], "%Y%m%d")
    except ValueError:
        return None
    return w.year - b.year - ((w.month, w.day) < (b.month, b.day))


def _site_phrase(text):
    m = re.match(r"\s*([A-Za-z][^:;.]{2,80}):", text)
    return m.group(1).strip() if m else None


def _read_message(segs, code_map, hl7):
    ctrl = None
    try:
        msh = segs[0]
        # MSH-10 by hand first, so a message python-hl7 rejects still keeps its key
        sep = msh[3] if len(msh) > 3 else "|"
        parts = msh.split(sep)
        ctrl = parts[9].split(parts[1][:1] or "^")[0] if len(parts) > 9 and len(parts[1]) else None
        if not ctrl:
            return [Case(error="MSH-10 (message control id) is missing: the MSH segment is truncated")]
        msg = hl7.parse("\r".join(segs))
    except Exception as exc:  # python-hl7 raises several types on malformed text
        return [Case(control_id=ctrl, error=f"the message cannot be read as HL7 v2 ({exc.__class__.__name__})")]
    mtype = parts[8].split(parts[1][:1] or "^") if len(parts) > 8 else [""]
    if mtype[:2] != ["ORU", "R01"]:
        return [Case(control_id=ctrl, error=f"message type {'^'.join(mtype[:2]) or 'missing'} is not ORU^R01: "
                                            "only results messages are read")]
    context, pid_seg, site_hint, obs_time = {}, None, None, ""
    cases, order = {}, []
    obr_key = obr_site = spm_key = spm_site = None
    for seg in msg:
        tag = str(seg[0])
        if tag == "PID":
            pid_seg = str(seg)
            sex = _f(seg, 8, 0).upper()
            if sex in ("F", "M"):
                context["sex"] = sex
            context["_birth"] = _f(seg, 7, 0)
        elif tag == "OBR":
            obr_key = _f(seg, 3, 0) or _f(seg, 2, 0) or None
            obr_site = _f(seg, 15, 0) or None
            obs_time = obs_time or _f(seg, 7, 0)
            spm_key = spm_site = None
        elif tag == "SPM":
            spm_key = _f(seg, 2, 0) or None  # SPM-2 (EIP): the placer's id, first component
            spm_site = (_f(seg, 8, 1) or _f(seg, 8, 0)) or None
        elif tag == "OBX":
            if _f(seg, 11, 0).upper() in _SKIP_STATUS:
                continue
            key = spm_key or obr_key
            if key not in cases:
                cases[key] = Case(control_id=ctrl, specimen=key)
                order.append(key)
            case = cases[key]
            case.site = case.site or spm_site or obr_site
            vtype = _f(seg, 2, 0).upper()
            codings = _codings(seg, 3)
            value = msg.unescape(_f(seg, 5)).replace("~", " ") if _f(seg, 5) else ""
            target = code_map.target(codings)
            if target:
                coded = code_map.answer([(_f(seg, 5, 0), _f(seg, 5, 2))]) if vtype in ("CWE", "CE", "CNE") else None
                number = None
                if vtype in ("NM", "SN"):
                    try:
                        number = float(_f(seg, 5, 0) if vtype == "NM" else _f(seg, 5, 1))
                    except ValueError:
                        number = None
                text = (msg.unescape(_f(seg, 5, 1)) or msg.unescape(_f(seg, 5, 0))) if vtype in ("CWE", "CE", "CNE") \
                    else value
                if case.add_value(target, value_text=text, number=number, coded=coded):
                    continue
                case.narrative.append(f"{target}: {text}")
            elif vtype in ("TX", "FT"):
                case.narrative.append(value)
                if site_hint is None and codings[0][0] in _SITE_CODES:
                    site_hint = _site_phrase(value)
            elif vtype in ("ST", "CWE", "CE", "NM") and value:
                label = _f(seg, 3, 1) or _f(seg, 3, 0)
                coded = code_map.answer([(_f(seg, 5, 0), _f(seg, 5, 2))]) if vtype in ("CWE", "CE") else None
                shown = {"pos": "positive", "neg": "negative"}.get(coded) or (
                    (_f(seg, 5, 1) or _f(seg, 5, 0)) if vtype in ("CWE", "CE") else value)
                case.narrative.append(f"{label}: {msg.unescape(shown)}")
    birth = context.pop("_birth", "")
    age = _age(birth, obs_time) if birth and obs_time else None
    if age is not None and 0 <= age < 130:
        context["age_years"] = age
    header = {"sending_app": _f(msg.segment("MSH"), 3) if msg else "", "pid": pid_seg,
              "sending_facility": _f(msg.segment("MSH"), 4)}
    with_ihc = [cases[k] for k in order if cases[k].markers or narrative_markers(cases[k].narrative)]
    if not with_ihc:
        return [Case(control_id=ctrl, specimen=order[0] if order else None, context=context, header=header,
                     error="no IHC results in this message: no OBX code is in the code map and no narrative "
                           "observation names a stain")]
    for c in with_ihc:
        c.site = c.site or site_hint
        c.context = {**context, **c.context}
        c.header = header
    return with_ihc


def read_cases(data, code_map=None):
    """The cases of one or many ER7 messages, in order (see the module docstring)."""
    hl7 = need("hl7", "reading HL7 v2")
    code_map = code_map if isinstance(code_map, CodeMap) else CodeMap.load(code_map)
    out = []
    for segs, reason in split_messages(data):
        if reason:
            out.append(Case(error=reason))
        else:
            out.extend(_read_message(segs, code_map, hl7))
    return out


# ------------------------------------------------------------------- writing


def _esc(text):
    text = str(text)
    for a, b in (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\")):
        text = text.replace(a, b)
    return " ".join(text.split())


def _seg(*fields):
    return "|".join("" if f is None else str(f) for f in fields).rstrip("|")


def to_oru(record, header=None, *, now=None):
    """One ORU^R01 (ER7 segments joined by CR) for a record of :func:`ihc.lis.core.classify_case`."""
    header = header or {}
    ts = (now or datetime.now(timezone.utc)).strftime("%Y%m%d%H%M%S")
    ctrl = record.get("control_id") or ""
    spec = record.get("specimen") or ""
    segs = [_seg("MSH", "^~\\&", "IHC", "IHC_CDS", header.get("sending_app", ""), header.get("sending_facility", ""),
                 ts, "", "ORU^R01^ORU_R01", _esc((ctrl + "-IHC") if ctrl else "IHC-" + ts), "P", "2.5.1")]
    if header.get("pid"):
        segs.append(header["pid"])
    segs.append(_seg("OBR", 1, "", _esc(spec), f"IHCDS^IHC decision support^{DS_SYSTEM}", *[""] * 17, ts, "", "", "P"))
    if spec:
        segs.append(_seg("SPM", 1, _esc(spec)))
    obx = []

    def add(vtype, code, text, value, sub="", units="", status="P"):
        obx.append(_seg("OBX", len(obx) + 1, vtype, f"{code}^{text}^{DS_SYSTEM}" if "^" not in code else code,
                        sub, value, units, "", "", "", "", status))

    add("ST", "SRCID", "Source message control id", _esc(ctrl))
    if record.get("status") == "error":
        add("ST", "ERROR", "Cannot classify", _esc(record.get("error", "")), status="X")
    else:
        add("ST", "STATUS", "Decision support status", record["status"])
        for rank, d in enumerate(record["differential"], start=1):
            add("NM", f"{_esc(d['diagnosis'])}^{_esc(d['diagnosis'])} probability^{DX_SYSTEM}", "", f"{d['probability']:.4f}",
                sub=rank, units="1^probability^UCUM")
        evidence, stains = summary_lines(record)
        if evidence:
            add("TX", "EVIDENCE", "Top evidence", _esc(evidence))
        add("TX", "NEXT", "Next stains", _esc(stains or "none needed to separate the supported diagnoses"))
        for i, w in enumerate(record["warnings"], start=1):
            add("TX", "WARN", "Warning", _esc(w), sub=i)
        add("ST", "MODEL", "Model version", _esc(record["model"]["version"]))
    segs.extend(obx)
    segs.append(_seg("NTE", 1, "L", "Decision support by ihc, preliminary: not a signed result; the pathologist decides."))
    return "\r".join(segs)


def run_hl7(data, *, fmt="jsonl", code_map=None, model=None, segment_end="\r"):
    """Read ER7 messages, classify every specimen, and render the records.

    Parameters
    ----------
    data : bytes or str
        One or many ER7 messages.
    fmt : {"jsonl", "hl7"}
        JSON Lines (one record per line, :mod:`ihc.lis.core`) or ORU^R01 messages.
    code_map : path or CodeMap, optional
        A laboratory's code -> marker CSV, read before the shipped map.
    segment_end : str
        Segment terminator of the HL7 output (CR by the standard; LF is easier to read).

    Returns
    -------
    (text, records) : the rendered output and the list of records.

    Examples
    --------
    >>> msg = "MSH|^~\\\\&|LIS|H|||20260101||ORU^R01|C1|P|2.5.1\\rOBR|1||S1\\rOBX|1|TX|22635-7^Micro^LN||SMA+ desmin+ CD117- DOG1- Ki-67 30%"
    >>> text, records = run_hl7(msg)
    >>> records[0]["control_id"], records[0]["differential"][0]["diagnosis"]
    ('C1', 'leiomyosarcoma')
    """
    cases = read_cases(data, code_map)
    records = [classify_case(c, model=model) for c in cases]
    if fmt == "hl7":
        msgs = [to_oru(r, c.header) for r, c in zip(records, cases)]
        text = "".join(m.replace("\r", segment_end) + segment_end + ("\n" if segment_end == "\r" else "") for m in msgs)
    elif fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
    else:
        raise InputError(f"unknown format {fmt!r}: use hl7 or jsonl")
    return text, records
