"""The public library API: :func:`classify`, :func:`recommend` (:func:`ihc.classify_frame` is in
:mod:`ihc.batch`).

This module and what it imports use the standard library only (the classify
path must start fast).

>>> import ihc
>>> r = ihc.classify("CD117+ DOG1+ CD34+ SMA- desmin- S100-", site="stomach")
>>> r.diagnosis, r.status
('gist', 'ok')
>>> abs(sum(d["probability"] for d in r.differential) - 1) < 1e-9
True
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

from .diagnoses import BENIGN as _BENIGN, COUNTERPART_FLOOR, COUNTERPARTS, DISPLAY_NAMES, SHORT as _SHORT
from .engine import CompactModel, marker_states, panel_states, rules, softmax, telling_phrase, telling_share
from .exceptions import InputError, ModelError, ModelIntegrityError
from .markers import LOSS_MARKERS, MARKERS, info
from .morphology import FINDINGS, SITE_GROUP_NAMES, STATE_WORDS, finding_codes
from .panel import Panel

__all__ = ["Result", "classify", "recommend", "load_model", "SCHEMA_VERSION", "classify_panel", "evidence",
           "evidence_items", "next_stains", "next_findings", "gist_risk_block", "panel_warnings", "value_word",
           "site_majority_tests", "gain_needed", "next_steps_block", "ASKABLE_FINDINGS", "MIN_GAIN_BITS",
           "GAIN_TOLERANCE"]

SCHEMA_VERSION = "1"

#: Environment variable naming a model directory (or its model_card.json) to use instead of the shipped one.
MODEL_ENV = "IHC_MODEL"

_GI_SITES = ("stomach", "small_intestine", "colorectum", "anus", "esophagus", "mesentery_omentum")

# ------------------------------------------------------------------ model loading

_CACHE = {}


def _shipped_dir():
    here = Path(__file__).resolve().parent
    for cand in (here / "models", here.parent / "models"):
        if (cand / "model_card.json").is_file():
            return cand
    raise ModelError("the shipped model is missing (no models/model_card.json); run `ihc train` in a source checkout")


def _resolve(path):
    p = Path(path)
    if p.is_dir():
        return p / "model_card.json"
    if p.name.endswith(".json") and p.name != "model_card.json":
        return p.with_name("model_card.json")
    if p.suffix == ".joblib":
        return p.with_name("model_card.json")
    return p


def load_model(path=None) -> CompactModel:
    """Load the compact model after checking it against its card.

    Parameters
    ----------
    path : str or Path, optional
        A model directory, its ``model_card.json`` or its ``ihc_model.json``.
        Default: ``$IHC_MODEL`` if set, else the shipped model.

    Raises
    ------
    ModelIntegrityError
        No card, a card of another format or marker list, or a file whose
        sha256 differs from the card's.
    """
    from .engine import READABLE_FORMATS
    from .markers import MODEL_MARKERS

    if path is None:
        path = os.environ.get(MODEL_ENV) or None
    if path and not Path(path).exists():
        raise ModelError(f"model path {path} does not exist: give a model directory or its model_card.json")
    card_path = _resolve(path) if path else _shipped_dir() / "model_card.json"
    key = str(card_path.resolve())  # one cache entry per file, however the path was written
    if key in _CACHE:
        return _CACHE[key]
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelIntegrityError(f"no model card at {card_path}: a model is used only with its card") from None
    except (OSError, ValueError, UnicodeDecodeError):
        raise ModelIntegrityError(f"model card {card_path} cannot be read as JSON") from None
    if not isinstance(card, dict) or card.get("format_version") not in READABLE_FORMATS:
        raise ModelIntegrityError(
            f"model card {card_path.name} has format {card.get('format_version') if isinstance(card, dict) else None!r}; this ihc reads formats {', '.join(map(str, READABLE_FORMATS))}")
    markers = card.get("markers")
    if not isinstance(markers, list) or markers != list(MODEL_MARKERS):
        raise ModelIntegrityError(f"model card {card_path.name} lists markers that differ from this ihc's vocabulary")
    compact = card.get("compact")
    if not isinstance(compact, dict) or not isinstance(compact.get("sha256"), str) \
            or not isinstance(compact.get("file", "ihc_model.json"), str):
        raise ModelIntegrityError(f"model card {card_path.name} does not name its compact model file and sha256")
    file_name = Path(compact.get("file", "ihc_model.json")).name  # never a path outside the model folder
    model = CompactModel.load(card_path.with_name(file_name), expected_sha256=compact["sha256"], card=card)
    if model.classes != card.get("classes"):
        raise ModelIntegrityError("model classes differ from its card")
    _CACHE[key] = model
    return model


# ------------------------------------------------------------------ results


class Result:
    """The answer for one panel: status, differential, evidence, next stains, warnings.

    ``to_dict()`` gives the JSON object of the output contract (schema version 1).
    """

    def __init__(self, *, model, panel, status, differential, evidence, next_stains, warnings, settled,
                 next_findings=(), gist_risk=None):
        self.model = model
        self.panel = panel
        self.status = status
        self.differential = differential
        self.evidence = evidence
        self.next_stains = next_stains
        self.next_findings = list(next_findings)
        self.gist_risk = gist_risk
        self.warnings = warnings
        self.settled = settled

    @property
    def diagnosis(self):
        """The named diagnosis, or ``None`` unless the status is ``ok``."""
        return self.differential[0]["diagnosis"] if self.status == "ok" else None

    @property
    def confidence(self):
        return self.differential[0]["probability"]

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "model": {"version": self.model.version, "sha256": self.model.sha256},
            "input": self.panel.to_dict(ignored=True),
            "status": self.status,
            "diagnosis": self.diagnosis,
            "confidence": self.confidence,
            "differential": [dict(d) for d in self.differential],
            "evidence": [dict(e) for e in self.evidence],
            "next_stains": [dict(n) for n in self.next_stains],
            **({"next_findings": [dict(n) for n in self.next_findings]} if self.next_findings else {}),
            **({"gist_risk": self.gist_risk} if self.gist_risk is not None else {}),
            "warnings": list(self.warnings),
        }

    def __repr__(self):
        return f"<Result {self.status} {self.differential[0]['diagnosis']} {self.confidence:.2f}>"


def _as_panel(panel_or_text, site, mode, morphology=None):
    from .reading import with_morphology

    return with_morphology(_as_stains(panel_or_text, site, mode), morphology)


def _as_stains(panel_or_text, site, mode):
    from .reading import parse

    if isinstance(panel_or_text, Panel):
        panel = panel_or_text
        if site is not None:
            from .sites import normalise_site

            panel.site, w = normalise_site(site)
            panel.site_text = site
            if w:
                panel.warnings.append(w)
        return panel
    if isinstance(panel_or_text, dict):
        from .parse import panel_from_mapping

        return panel_from_mapping(panel_or_text, site=site, mode=mode)
    if isinstance(panel_or_text, (list, tuple)):
        panel_or_text = " ".join(str(t) for t in panel_or_text)
    if not isinstance(panel_or_text, str):
        raise InputError(f"a panel is text, a dict of marker -> value or a Panel, not {type(panel_or_text).__name__}")
    return parse(panel_or_text, site=site, mode=mode)


def _pct(x):
    """'~12%', '<1%' or '>99%'."""
    v = 100 * x
    if v < 1:
        return "<1%"
    if v > 99:
        return ">99%"
    return f"~{v:.0f}%"


#: Acronyms in subtype names (training_data/subtypes.csv), written as reports write them.
_SUBTYPE_ACRONYMS = {"icc": "ICC", "gi": "GI", "kit": "KIT", "sdh": "SDH"}


def _subtype_words(sub):
    """'esophageal_with_icc' -> 'esophageal with ICC'."""
    return " ".join(_SUBTYPE_ACRONYMS.get(w, w) for w in sub.split("_"))


def _rate_phrase(model, dx, marker, state):
    """('positive in ~93% of GIST', citation, source) for an observed state."""
    r = model.rates[dx][marker]
    name = _SHORT[dx]
    if marker == "Ki67":
        words = {"low": "<5%", "mid": "5-15%", "high": ">=15%"}
        return f"Ki-67 {words[state]} in {_pct(r[state])} of {name}", r["citation"], r["source"]
    p = r["p"]
    what = "lost" if state in ("lost", "retained") else "positive"
    subs = r.get("subtypes")
    where = f" ({'; '.join(f'{_subtype_words(sub)}: {_pct(q)}' for sub, q in subs)})" if subs else ""
    return f"{what} in {_pct(p)} of {name}{where}", r["citation"], r["source"]


def _value_word(marker, value):
    if marker == "Ki67":
        return f"{value:g}%" if isinstance(value, (int, float)) else str(value)
    return {"pos": "positive", "neg": "negative", "focal": "focal", "lost": "lost", "retained": "retained"}.get(value, str(value))


def _display(marker):
    try:
        return info(marker).display
    except KeyError:
        return marker


def _state_group_prob(model, dx, marker, state):
    """Literature share of the observed result group (positive incl. focal / negative / Ki-67 bin)."""
    r = model.rates[dx][marker]
    if marker == "Ki67":
        return r[state]
    if state in ("pos", "focal", "lost"):
        return r["p"]
    return 1 - r["p"]


@functools.lru_cache(maxsize=4096)  # a pure function of a few hundred distinct citation texts
def _short_citation(text):
    """First citation of a pooled figure, with how many more stand behind it."""
    parts = [p.strip() for p in (text or "").split(";") if p.strip()]
    if len(parts) <= 1:
        return text
    more = len(parts) - 1
    m = re.search(r"\s\+(\d+) more$", parts[-1])
    if m:
        more += int(m.group(1))
    return f"{parts[0]} (+{more} more)"


def _finding_value(finding, morph):
    """The finding as given ('15/10 HPF', 'present', 'severe', '6 cm'...)."""
    if finding == "mitoses":
        return morph.mitoses.text
    if finding == "necrosis":
        return "present" if morph.necrosis else "absent"
    if finding == "atypia":
        if morph.atypia is not None:
            return morph.atypia
        return "pleomorphic" if morph.pleomorphic else "not pleomorphic"
    if finding == "size":
        return f"{morph.size_cm:g} cm"
    if finding == "age":
        return f"{morph.age:g} years"
    return str(getattr(morph, finding))


def _finding_note(model, finding, allowed, morph, site, dx):
    share, group = model.morphology.share(finding, allowed, site, dx)
    words = STATE_WORDS.get(finding, {})
    what = " or ".join(words.get(a, a) for a in allowed)
    label = {"cell_type": "cell type"}.get(finding, finding)
    value = _finding_value(finding, morph)
    where = f" ({SITE_GROUP_NAMES[group]})" if group != "any" else ""
    seen = f"{what} in {_pct(share)} of {_SHORT[dx]}{where}"
    cit, basis = model.morphology.source(finding, site, dx)
    if basis == "assumed":
        seen = "assumed: " + seen
    return f"{label} {value}: {seen}", _short_citation(cit) or "training_data/morphology.csv"


#: Evidence lines kept per model (a line: diagnosis, marker, state, value as given, weight).
_EVIDENCE_MEMO = 50_000


def _evidence(model, states, panel, site, proba, status=None, findings=None):
    """Evidence for the leading diagnosis, and for the runner-up while the answer is open
    (not ``ok``): it shows what separates them."""
    return [dict(item) for _, item in _evidence_items(model, states, panel, site, proba, status, findings)]


def _site_note(model, dx, site):
    """The evidence line's words for the site's term of ``dx``: what the prior at ``site`` is made of.

    A site's prior is a published case mix (tempered), anatomical restrictions (a diagnosis that does
    not arise there), or both; the term is centred over the diagnoses, so where only restrictions
    apply the others all gain alike, and a diagnosis outside the published mix has its floor share.

    >>> m = load_model()
    >>> _site_note(m, "leiomyosarcoma", "uterus")
    'site uterus: no published case mix here; GIST, IFP and plexiform fibromyxoma do not arise at this site, which lifts the others alike'
    >>> _site_note(m, "gist", "stomach")
    'site stomach: prior for GIST there (published case mix, tempered)'
    """
    kinds = model.site_kinds.get(site)
    short = _SHORT[dx]
    if kinds is None:
        return (f"site {site}: prior for {short} there (published case mix, tempered; "
                "anatomical restriction where it does not arise)")
    restricted, mix = kinds["restricted"], kinds["case_mix"]
    if dx in restricted:
        return f"site {site}: {short} does not arise at this site (anatomical restriction)"
    if not mix:
        names = [_SHORT[d] for d in restricted]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        verb = "does" if len(names) == 1 else "do"
        return (f"site {site}: no published case mix here; {listed} {verb} not arise at this site, "
                "which lifts the others alike")
    if dx not in mix:
        return (f"site {site}: {short} is not among the tumours of this site's published case mix "
                f"(the floor share; tempered)")
    return f"site {site}: prior for {short} there (published case mix, tempered)"


def _evidence_items(model, states, panel, site, proba, status=None, findings=None):
    """:func:`_evidence`'s lines as ``(key, line)`` pairs: a marker's or the site's line is the
    model's one shared dict for its ``key`` (the same line for every panel: read it, do not change
    it), a finding's line a new dict with key None."""
    n_dx = 1 if status == "ok" else 2
    base, prior, contrib = model.decompose(states, site, findings)
    memo = model.derived.setdefault("evidence_lines", {})
    ranked = _ranked(proba)
    out = []
    for k in ranked[:n_dx]:
        dx = model.classes[k]
        items = []
        for marker, c in contrib.items():
            if marker in FINDINGS:
                note, src = _finding_note(model, marker, tuple(findings[marker].split("|")), panel.morphology,
                                          site, dx)
                items.append((None, {"diagnosis": dx, "marker": marker,
                                     "value": _finding_value(marker, panel.morphology),
                                     "effect": "for" if c[k] > 0 else "against", "weight": round(c[k], 6),
                                     "note": note, "source": src}))
                continue
            state = states[marker]
            value = panel.markers.get(marker, state)
            # a line is a function of these alone (the same for every panel): built once per model
            mkey = (dx, marker, state, type(value), value, c[k])
            item = memo.get(mkey)
            if item is None:
                phrase, cit, src = _rate_phrase(model, dx, marker, state)
                item = {
                    "diagnosis": dx, "marker": marker,
                    "value": _value_word(marker, value) if marker == "Ki67" else state,
                    "effect": "for" if c[k] > 0 else "against", "weight": round(c[k], 6),
                    "note": f"{_display(marker)} {_value_word(marker, value)}: {phrase}",
                    "source": _short_citation(cit),
                }
                if len(memo) > _EVIDENCE_MEMO:
                    memo.clear()
                memo[mkey] = item
            items.append((mkey, item))
        if site and any(prior):
            skey = ("site", dx, site, prior[k])
            item = memo.get(skey)
            if item is None:
                item = memo[skey] = {
                    "diagnosis": dx, "marker": "site", "value": site,
                    "effect": "for" if prior[k] > 0 else "against", "weight": round(prior[k], 6),
                    "note": _site_note(model, dx, site),
                    "source": "training_data/site_priors.csv; training_data/site_restrictions.csv",
                }
            items.append((skey, item))
        items.sort(key=lambda e: -abs(e[1]["weight"]))
        out.extend(items)
    return out


def _expected_share(model, dx, marker):
    """(share, phrase) of the telling result of ``marker`` in ``dx``: positive, lost, or Ki-67 >= 15%."""
    return telling_share(model.rates[dx][marker], marker)


_LAST_RANKED = (None, None)


def _ranked(proba):
    """Class indices by decreasing probability, ties in class order: ``sorted(range(K), key=lambda
    k: -proba[k])`` (a sort with ``reverse`` keeps equal keys in their order), with the key read
    in C. The evidence, next stains, findings and warnings of one panel all ask for it: the last
    list's answer is kept (by identity; a probability list is never changed once made, and the
    answer is read, never changed)."""
    global _LAST_RANKED
    last = _LAST_RANKED
    if last[0] is proba:
        return last[1]
    r = sorted(range(len(proba)), key=proba.__getitem__, reverse=True)
    _LAST_RANKED = (proba, r)
    return r


def _in_play(model, proba):
    """The diagnoses in play (class indices, most probable first) that :func:`_why` compares."""
    ranked = _ranked(proba)
    return [k for k in ranked[:6] if proba[k] >= 0.02] or ranked[:2]


def _why(model, marker, proba, in_play=None):
    """Name the diagnoses in play that the stain tells apart, with the result expected under each
    (``in_play``: :func:`_in_play`, when the caller has it)."""
    if in_play is None:
        in_play = _in_play(model, proba)
    lead = in_play[0]
    derived = model.derived
    sh = model.telling_shares(marker)  # every diagnosis's, in class order (it does not depend on the panel)
    share_lead = sh[lead]
    # the other diagnoses in play whose expected result differs most from the leading one's
    if len(in_play) > 2:
        others = sorted(in_play[1:], key=lambda k: -proba[k] * abs(sh[k] - share_lead))
    else:
        others = in_play[1:]  # (one or none: nothing to sort)
    picked = [lead] + [k for k in others[:2] if abs(sh[k] - share_lead) >= 0.2] or [lead]
    if len(picked) == 1 and others:
        picked.append(others[0])
    # the text is a function of the marker and the diagnoses picked alone: written once per model
    texts = derived.get("why_texts")
    if texts is None:
        texts = derived["why_texts"] = {}
    key = (marker, *picked)
    text = texts.get(key)
    if text is None:
        word = telling_phrase(marker)
        parts = [f"{_pct(sh[k])} of {_SHORT[model.classes[k]]}" for k in picked]
        names = " vs ".join(_SHORT[model.classes[k]] for k in picked)
        text = f"{_display(marker)}: separates {names} ({word} in {'; '.join(parts)})"
        if len(texts) >= _EVIDENCE_MEMO:
            texts.clear()
        texts[key] = text
    return text


#: Smallest expected information gain (bits) for a stain to be proposed.
MIN_GAIN_BITS = 0.05


def _leading_other(model, dx, proba):
    """The most probable diagnosis other than ``dx`` (the first of equals, as ``max`` picks)."""
    k = model.classes.index(dx)
    return model.classes[next(j for j in _ranked(proba) if j != k)]


def _majority_tests(model, dx, proba, site=None):
    """Markers that test for the site's majority tumour ``dx`` against the leading other diagnosis
    (model marker order): the row of :func:`ihc.engine.rules.majority_tests`' table, as the status rule reads it."""
    table = rules.majority_tests(model, site)
    if table is None or model.classes[table[0]] != dx:
        return []
    return list(table[2][model.classes.index(_leading_other(model, dx, proba))])


def site_majority_tests(model, site):
    """Every marker :func:`_site_majority_stain` may weigh at ``site`` (whatever the panel): those
    that test for the site's majority tumour; empty when the site has none."""
    table = rules.majority_tests(model, site)
    return list(table[1]) if table else []


def _site_majority_stain(model, states, site, proba, cands, known=None, findings=None, scores=None):
    """The stain that tests for the site's majority tumour when the panel has none, or None.

    The site's majority tumour (at least ``site_majority_percent`` of its published case mix,
    untempered; ``site_majority`` in ``models/ihc_model.json``) is excluded first by a careful colleague whatever
    the stains so far suggest — KIT/DOG1 for a gastric spindle-cell tumour. The stains that test
    for it are those positive in >= 85% of it, <= 15% on average of the other tumours the site's
    case mix names (:func:`ihc.engine.rules.site_competitors`; every other diagnosis where it names none) and
    <= 25% of the leading other diagnosis; when none is in the panel, the one of them with the
    largest expected information gain is returned as ``(marker, gain, why)``.
    """
    maj = model.site_majority.get(site) if site else None
    if not maj or maj["diagnosis"] not in model.classes:
        return None
    dx = maj["diagnosis"]
    k = model.classes.index(dx)
    other = _leading_other(model, dx, proba)
    tests = _majority_tests(model, dx, proba, site)
    if any(m in states for m in tests):
        return None
    known = known or {}
    z = scores if scores is not None else (model.scores(states, site, findings) if findings else None)
    scored = [(known[m] if m in known else model.information_gain(states, site, m, proba=proba, scores=z)[0], m)
              for m in cands if m in tests]
    if not scored:
        return None
    scored.sort(key=lambda t: (-t[0], model.markers.index(t[1])))
    g, m = scored[0]
    share, word = _expected_share(model, dx, m)
    alt = f" ({_display(scored[1][1])} ~{100 * _expected_share(model, dx, scored[1][1])[0]:.0f}%)" \
        if len(scored) > 1 else ""
    why = (f"{_display(m)}: {_SHORT[dx]} is {maj['share_percent']:.0f}% of the tumours at this site in published "
           f"series ({_short_citation(maj['citation'])}) and nothing here tests for it; {word} in {_pct(share)} "
           f"of {_SHORT[dx]}{alt}, {_pct(_expected_share(model, other, m)[0])} of {_SHORT[other]}: a negative "
           f"result excludes it. Listed first whatever its gain (the model gives {_SHORT[dx]} {_pct(proba[k])} "
           "on this panel)")
    return m, g, why


#: Margin (bits) around an estimated gain within which the exact gain is computed (the
#: estimate's floats differ from the exact ones by ~1e-15).
GAIN_TOLERANCE = 1e-9


def gain_needed(approx, top=5):
    """The candidates of ``approx`` (marker -> estimated gain) whose exact gain can reach a list of
    ``top``: a candidate beaten by top + 1 others (the site-majority stain may take one place),
    or below the floor, by more than the tolerance cannot be listed."""
    ranked = sorted(approx.values(), reverse=True)
    bar = max(MIN_GAIN_BITS, ranked[top] if len(ranked) > top else float("-inf")) - GAIN_TOLERANCE
    return [m for m in approx if approx[m] >= bar]


def _next_stains(model, states, site, proba, top=5, available=None, settled=False, estimate=None, findings=None,
                 scores=None, gains=None):
    """The next stains; ``estimate(site, proba, scores, cands)`` (batch: numpy) may give estimated
    gains, and then only the candidates that can reach the list get their exact gain; ``gains``
    (batch: :class:`ihc.engine.vector.ExactGains`) may instead give the exact gains of the
    candidates :func:`gain_needed` picks from such an estimate (or of every candidate)."""
    if settled:
        return []
    cands = [m for m in model.markers if m not in states]
    if available is not None:
        allowed = set(available)
        cands = [m for m in cands if m in allowed]
    z = scores if scores is not None else model.scores(states, site, findings)
    if gains is not None:
        every = {m: gains[m] for m in cands if m in gains}
    elif estimate is None or not cands:
        every = {m: model.information_gain(states, site, m, proba=proba, scores=z)[0] for m in cands}
    else:
        approx = estimate(site, proba, z, cands)
        every = {m: model.information_gain(states, site, m, proba=proba, scores=z)[0]
                 for m in gain_needed(approx, top)}
    gains = [(g, m) for m, g in every.items() if g >= MIN_GAIN_BITS]
    gains.sort(key=lambda t: (-t[0], t[1]))
    first = _site_majority_stain(model, states, site, proba, cands, every, findings, z)\
        if top > 0 else None
    out = []
    if first:
        m, g, why = first
        out.append({"marker": m, "expected_information_gain": round(g, 4), "why": why})
        gains = [t for t in gains if t[1] != m]
    listed = gains[:top - len(out)]
    if listed:
        in_play = _in_play(model, proba)
        out += [{"marker": m, "expected_information_gain": round(g, 4), "why": _why(model, m, proba, in_play)}
                for g, m in listed]
    return out


#: Findings the next-step advice may ask for (age and sex are known to the requester).
ASKABLE_FINDINGS = ("mitoses", "necrosis", "atypia", "cell_type", "size")
_FINDING_ASK = {
    "mitoses": "count mitoses per 10 HPF (or 50 HPF / 5 mm2) in the most active area",
    "necrosis": "state whether there is tumour (coagulative) necrosis",
    "atypia": "grade the nuclear atypia (none / mild / moderate / severe)",
    "cell_type": "state the cell type (spindle / epithelioid / mixed / pleomorphic)",
    "size": "give the tumour's greatest dimension",
}


def _next_findings(model, states, site, proba, findings, next_stains, settled=False, top=3, scores=None,
                   gains=None):
    """Morphological findings not given, by expected information gain (bits), beside the next stains.

    The slide is already on the microscope: a finding that separates the diagnoses in play costs
    nothing to state, so every one worth ``MIN_GAIN_BITS`` is listed; its ``why`` says whether it
    would decide more than the best stain not yet done. ``gains`` (batch) may give each
    finding's exact gain, keyed ``("finding", f)``.
    """
    if settled or model.morphology is None:
        return []
    z = scores if scores is not None else model.scores(states, site, findings)
    best = max(next_stains, key=lambda n: n["expected_information_gain"], default=None)
    best_g = best["expected_information_gain"] if best else 0.0
    ranked = _ranked(proba)[:2]
    names = " vs ".join(_SHORT[model.classes[k]] for k in ranked)
    out = []
    for f in ASKABLE_FINDINGS:
        if f in (findings or {}):
            continue
        g = gains[("finding", f)] if gains is not None else model.finding_gain(states, site, f, findings, proba, z)
        if g < MIN_GAIN_BITS:
            continue
        out.append({"finding": f, "expected_information_gain": round(g, 4),
                    "why": _finding_why(f, names, best["marker"] if best else None,
                                        f"{best_g:.2f}", best is None or g >= best_g)})
    out.sort(key=lambda d: -d["expected_information_gain"])
    return out[:top]


def _finding_why(finding, names, best, best_g, more):
    """A next finding's "why": ``names`` the two leading diagnoses, ``best`` the best stain listed
    (or None) and ``best_g`` its gain as written, ``more`` whether the finding's gain is not below it."""
    if more:
        cmp = "more than any stain not yet done" + (f" ({best} {best_g} bits)" if best else "")
    else:
        cmp = f"less than {best} ({best_g} bits) but at no cost"
    return f"{_FINDING_ASK[finding]}: it separates {names}, {cmp}"


def next_steps_block(model, np, site, names, G, stains, rows, top=5):
    """The next stains and findings of a block of panels at ``site``, as :func:`next_stains` and
    :func:`next_findings` give them (``settled`` False, no findings given, ``available`` None) from
    the gains ``G`` (n x ``names``: the stains' names and ``("finding", f)``; batch: estimates that
    :func:`ihc.engine.vector.decided` vouches for, so no two of the leading gains are near equal).
    ``stains``: n x names mask of the stains not in the panel; ``rows``: per row ``(states, proba,
    order)``, ``order`` the class indices by probability (:func:`_ranked`'s list).

    Returns per row ``(stains, findings)``, each a list of ``(name, rounded gain, why)``. The stains'
    ranking and the diagnoses each "why" names (:func:`_why`'s picks) are array operations over the
    block; the texts are :func:`_why`'s, :func:`_site_majority_stain`'s and :func:`_next_findings`'
    own (written by them on a memo miss, so each text is made in one place)."""
    n = len(rows)
    if not n:
        return []
    classes = model.classes
    markers = model.markers
    col = {nm: j for j, nm in enumerate(names)}
    stain_cols = [j for j, nm in enumerate(names) if not isinstance(nm, tuple)]
    name_rank = np.zeros(len(names), dtype=np.int64)
    for r, j in enumerate(sorted(stain_cols, key=names.__getitem__)):
        name_rank[j] = r
    derived = model.derived
    why_texts = derived.get("why_texts")
    if why_texts is None:
        why_texts = derived["why_texts"] = {}
    # the stains listed by gain (then name), from the floor up: the first ``top`` of each row
    listable = stains & (G >= MIN_GAIN_BITS)
    neg = np.where(listable, -G, np.inf)
    ranked_cols = np.lexsort((np.broadcast_to(name_rank, G.shape), neg), axis=1)[:, :top]
    n_list = listable.sum(axis=1).tolist()
    lead_cols = ranked_cols.tolist()
    lead_gains = np.take_along_axis(G, ranked_cols, axis=1).tolist()
    # the site majority's tests (model marker order), per leading other diagnosis
    maj = model.site_majority.get(site) if site else None
    maj_k = classes.index(maj["diagnosis"]) if maj and maj["diagnosis"] in classes else None
    maj_memo = derived.setdefault("majority_why", {})
    tests_for = {}
    idx = {m: i for i, m in enumerate(markers)}
    P = np.array([r[1] for r in rows])
    picked_lists = []  # per row: [(col, gain)] listed after the majority stain
    firsts = []
    for r, (states, proba, order) in enumerate(rows):
        first = None
        if maj_k is not None:
            other = order[0] if order[0] != maj_k else order[1]
            tests = tests_for.get(other)
            if tests is None:
                tests = tests_for[other] = _majority_tests(model, maj["diagnosis"], proba, site)
            if tests and not any(m in states for m in tests):
                Gr = G[r]
                scored = sorted(((float(Gr[col[m]]), m) for m in tests), key=lambda t: (-t[0], idx[t[1]]))
                g, m = scored[0]
                mkey = (site, m, scored[1][1] if len(scored) > 1 else None, other, _pct(proba[maj_k]))
                why = maj_memo.get(mkey)
                if why is None:
                    cands = [x for x in markers if x not in states]
                    every = {x: float(Gr[col[x]]) for x in cands if x in col}
                    why = _site_majority_stain(model, states, site, proba, cands, every)[2]
                    if len(maj_memo) >= _EVIDENCE_MEMO:
                        maj_memo.clear()
                    maj_memo[mkey] = why
                first = (m, g, why)
        listed = list(zip(lead_cols[r][:n_list[r]], lead_gains[r]))
        if first is not None:
            listed = [t for t in listed if names[t[0]] != first[0]]
        picked_lists.append(listed[:top - (first is not None)])
        firsts.append(first)
    # _why's picks for every (row, stain listed): the diagnoses in play (_in_play: a prefix of
    # the order, those >= 0.02, else the first two), the others by -p * |share - lead's share|
    pr = [r for r, lst in enumerate(picked_lists) for _ in lst]
    picks = {}
    if pr:
        K = min(6, len(classes))
        O = np.array([rows[r][2][:K] for r in range(n)])
        live = np.take_along_axis(P, O, axis=1) >= 0.02
        n_ip = np.where(live.all(axis=1), K, live.argmin(axis=1))
        n_ip = np.where(n_ip == 0, min(2, len(classes)), n_ip)
        T = np.array([model.telling_shares(m) for m in markers])
        mi = np.array([idx[names[c]] for lst in picked_lists for c, _ in lst])
        pr_a = np.array(pr)
        ip = O[pr_a]
        lead = ip[:, 0]
        oth = ip[:, 1:]
        valid = np.arange(1, K)[None, :] < n_ip[pr_a][:, None]
        sh_lead = T[mi, lead]
        d = np.abs(T[mi[:, None], oth] - sh_lead[:, None])
        score = np.where(valid, -P[pr_a[:, None], oth] * d, np.inf)
        so = np.argsort(score, axis=1, kind="stable")
        o_sorted = np.take_along_axis(oth, so, axis=1)
        d_sorted = np.take_along_axis(d, so, axis=1)
        v_sorted = np.take_along_axis(valid, so, axis=1)
        take = v_sorted[:, :2] & (d_sorted[:, :2] >= 0.2)
        lead_l, o_l, take_l, nv = lead.tolist(), o_sorted[:, :2].tolist(), take.tolist(), v_sorted.sum(axis=1).tolist()
        mi_l = mi.tolist()
        if o_sorted.shape[1] >= 2:  # (the keys written out: two others at most, the first if none is taken)
            for r, m, ld, (o0, o1), (t0, t1), v in zip(pr, mi_l, lead_l, o_l, take_l, nv):
                if t0:
                    key = (markers[m], ld, o0, o1) if t1 else (markers[m], ld, o0)
                elif t1:
                    key = (markers[m], ld, o1)
                else:
                    key = (markers[m], ld, o0) if v else (markers[m], ld)
                picks.setdefault(r, []).append(key)
        else:
            for q, r in enumerate(pr):
                m = markers[mi_l[q]]
                key = (m, lead_l[q]) + tuple(k for k, t in zip(o_l[q], take_l[q]) if t)
                if len(key) == 2 and nv[q]:
                    key = key + (o_l[q][0],)
                picks.setdefault(r, []).append(key)
    out = []
    askable = [col.get(("finding", f)) for f in ASKABLE_FINDINGS] if model.morphology is not None else []
    finding_memo = derived.setdefault("finding_why", {})
    # the findings' gains per row, read from the block at once (a row's whole list per row otherwise)
    FG = G[:, askable].tolist() if askable and None not in askable else None
    for r, (states, proba, order) in enumerate(rows):
        nxt = []
        first = firsts[r]
        if first is not None:
            nxt.append((first[0], round(first[1], 4), first[2]))
        keys = picks.get(r, ())
        for (c, g), key in zip(picked_lists[r], keys):
            text = why_texts.get(key)
            if text is None:  # (_why writes it, under the same key)
                text = _why(model, key[0], proba)
            nxt.append((key[0], round(g, 4), text))
        nfind = []
        if askable:
            best = max(nxt, key=lambda t: t[1], default=None)
            bm, b2 = (best[0], f"{best[1]:.2f}") if best else (None, "0.00")
            o2 = (order[0], order[1]) if len(order) > 1 else tuple(order)
            if FG is not None:
                fgs = FG[r]
            else:
                Gr = G[r].tolist()
                fgs = [Gr[c] for c in askable]
            for f, g in zip(ASKABLE_FINDINGS, fgs):
                if g < MIN_GAIN_BITS:
                    continue
                more = best is None or g >= best[1]
                fkey = (f, o2, bm, b2, more)
                why = finding_memo.get(fkey)
                if why is None:
                    names2 = " vs ".join(_SHORT[classes[k]] for k in o2)
                    why = _finding_why(f, names2, bm, b2, more)
                    if len(finding_memo) >= _EVIDENCE_MEMO:
                        finding_memo.clear()
                    finding_memo[fkey] = why
                nfind.append((f, round(g, 4), why))
            nfind.sort(key=lambda t: -t[1])
            nfind = nfind[:3]  # (next_findings' own top)
        out.append((nxt, nfind))
    return out


def _discordant(model, states, typ):
    sur = model.surprises(states)
    dx = model.classes[min(range(len(sur)), key=sur.__getitem__)]
    bad = []
    for m, s in states.items():
        if _state_group_prob(model, dx, m, s) < 0.1:
            bad.append(f"{_display(m)} {_value_word(m, s)}")
    return dx, bad


def _unresolved_counterpart(model, proba, states, findings=None):
    """The benign/malignant counterpart left open by a panel without Ki-67 or a grading finding, or None
    (:mod:`ihc.engine.rules`)."""
    return rules.unresolved_counterpart(model.classes, proba, states, findings)


def _status(model, proba, typ, n_states, states=None, findings=None, site=None):
    return rules.status(model.thresholds, model.classes, proba, typ, n_states, states, findings,
                        rules.majority_tests(model, site))


def _warnings(model, panel, states, proba, status, typ, findings=None):
    w = list(panel.warnings)
    classes = model.classes
    k0 = _ranked(proba)[0]  # the first maximum, as max(range(K), key=proba.__getitem__)
    top = classes[k0]
    if not states:
        w.append("no marker the model uses was given: the differential is the prior alone")
    if status == "atypical":
        dx, bad = _discordant(model, states, typ)
        what = " and ".join(bad) if bad else "this combination of results"
        w.append(f"{what}: no supported diagnosis shows this (closest: {_SHORT[dx]}); "
                 "consider an entity outside the model, a technical artefact, or repeat stains")
    maj = model.site_majority.get(panel.site) if panel.site else None
    # the site's majority tumour untested and still in play: no other diagnosis is named (rules.status)
    held = status != "atypical" and rules.untested_majority(proba, states, rules.majority_tests(model, panel.site)) \
        is not None
    held_word = ": no other diagnosis is named until it is" if held else ""
    if "CD117" not in states and "DOG1" not in states:
        gi = classes.index("gist")
        if proba[gi] >= 0.01 or panel.site in _GI_SITES:
            share = f" ({maj['share_percent']:.0f}% of tumours at this site in published series)" \
                if held and maj["diagnosis"] == "gist" else ""
            w.append(f"no DOG1 or CD117: GIST{share} not excluded" + (held_word if share else ""))
    if maj and maj["diagnosis"] != "gist" and maj["diagnosis"] in classes and status != "atypical":
        # the site's commonest tumour (e.g. melanoma in the skin) with none of its tests done
        # (not when it leads, and as for GIST above, not once the panel has put it below 1%, e.g.
        # leiomyoma in the oesophagus after CD117+ DOG1+)
        km = classes.index(maj["diagnosis"])
        tests = _majority_tests(model, maj["diagnosis"], proba, panel.site) if km != k0 and proba[km] >= 0.01 else ()
        if tests and not any(m in states for m in tests):
            w.append(f"no {' or '.join(_display(m) for m in tests)}: {_SHORT[maj['diagnosis']]} "
                     f"({maj['share_percent']:.0f}% of tumours at this site in published series) not excluded"
                     + held_word)
    if held and any(held_word in x for x in w):
        held = False
    if held:
        w.append(f"{_SHORT[maj['diagnosis']]} ({maj['share_percent']:.0f}% of tumours at this site in published "
                 f"series) is not excluded by this panel{held_word}")
    if states and status != "atypical":
        for m, s in states.items():
            share = _state_group_prob(model, top, m, s)
            if share < 0.15:
                word = "negative" if s in ("neg", "retained") else ("Ki-67 " + s if m == "Ki67" else "positive")
                if m == "Ki67":
                    w.append(f"Ki-67 {_value_word(m, panel.markers.get(m, s))}: seen in {_pct(share)} of {_SHORT[top]}")
                else:
                    w.append(f"{_display(m)} {word}: seen in {_pct(share)} of {_SHORT[top]}")
    ki = states.get("Ki67")
    if ki == "high" and top in _BENIGN:
        w.append(f"Ki-67 {_value_word('Ki67', panel.markers.get('Ki67'))} is high for a benign {_SHORT[top]}: "
                 "consider a malignant counterpart")
    other = _unresolved_counterpart(model, proba, states, findings)
    if other:
        w.append(f"no Ki-67: {_SHORT[top]} and {_SHORT[other]} are told apart by morphology and proliferation, "
                 "not by this panel: neither is named without Ki-67 or a mitotic count, necrosis or atypia")
    # keep order, drop repeats
    return list(dict.fromkeys(w))


def _classify_panel(model, panel, *, top=5, available=None):
    states = panel_states(panel.markers, model.markers)
    site = panel.site
    findings = finding_codes(panel.morphology) if model.morphology is not None else {}
    z = model.scores(states, site, findings)  # once: the probabilities and every expected gain start from it
    proba = softmax(z)
    typ = model.typicality(states)
    status = _status(model, proba, typ, len(states) + len(findings), states, findings, site)
    settled = rules.settled(model.thresholds, status, proba)
    order = sorted(range(len(model.classes)), key=lambda k: (-proba[k], k))
    differential = [{"diagnosis": model.classes[k], "probability": proba[k]} for k in order]
    next_stains = _next_stains(model, states, site, proba, top=top, available=available, settled=settled,
                               findings=findings, scores=z)
    return Result(
        model=model, panel=panel, status=status, differential=differential,
        evidence=_evidence(model, states, panel, site, proba, status, findings),
        next_stains=next_stains,
        next_findings=_next_findings(model, states, site, proba, findings, next_stains, settled, scores=z),
        gist_risk=_gist_risk(model, panel, differential),
        warnings=_warnings(model, panel, states, proba, status, typ, findings),
        settled=settled,
    )


def _gist_risk(model, panel, differential):
    """The GIST risk block when GIST leads (AFIP and modified NIH), else None."""
    if differential[0]["diagnosis"] != "gist" or not model.gist_risk_rows:
        return None
    from .gist_risk import gist_risk

    m = panel.morphology
    return gist_risk(model.gist_risk_rows, site=panel.site, site_text=panel.site_text,
                     size_cm=m.size_cm if m else None, mitoses=m.mitoses if m else None)


# the pieces of the assembly that batch reuses (with its memos around them)
classify_panel = _classify_panel
evidence = _evidence
evidence_items = _evidence_items
value_word = _value_word
next_stains = _next_stains
next_findings = _next_findings
gist_risk_block = _gist_risk
panel_warnings = _warnings


def classify(panel_or_text, site=None, *, morphology=None, mode="default", model=None, top=5,
             available=None) -> Result:
    """Rank the diagnoses a panel supports.

    Parameters
    ----------
    panel_or_text : str, dict or Panel
        Free text as reports write it, a mapping of marker -> value, or a parsed Panel.
    site : str, optional
        Free-text site ("gastric fundus", "retroperitoneum"...); shifts the prior.
    morphology : mapping or Morphology, optional
        Morphology and clinical context: ``mitoses`` ("15/10 HPF", "3/50 HPF", "4/mm2",
        "frequent"), ``necrosis`` (bool), ``atypia`` (none/mild/moderate/severe),
        ``pleomorphic`` (bool), ``cell_type``, ``size_cm``, ``age``, ``sex``. Findings stated
        in the text are read too; these take precedence.
    mode : {"default", "strict", "lenient"}
        Validation mode for unknown markers and unparsed text.
    model : CompactModel or path, optional
        Default: the shipped model (or ``$IHC_MODEL``).
    top : int
        How many next stains to propose.
    available : iterable of str, optional
        Restrict next stains to these canonical markers.

    Returns
    -------
    Result

    Examples
    --------
    >>> r = classify("SMA+ desmin+ CD117- DOG1- CD34- S100- Ki-67 30%", site="retroperitoneum")
    >>> r.differential[0]["diagnosis"]
    'leiomyosarcoma'
    """
    if not isinstance(model, CompactModel):
        model = load_model(model)
    panel = _as_panel(panel_or_text, site, mode, morphology)
    return _classify_panel(model, panel, top=top, available=available)


def recommend(panel_or_text, site=None, *, morphology=None, top=5, available=None, mode="default", model=None):
    """The stains not yet done, ranked by expected information gain (bits).

    Returns a list of ``{"marker", "expected_information_gain", "why"}`` dicts;
    empty when the differential is settled.

    >>> [s["marker"] for s in recommend("CD34+")][:3]  # doctest: +SKIP
    ['STAT6', ...]
    """
    return classify(panel_or_text, site, morphology=morphology, mode=mode, model=model, top=top,
                    available=available).next_stains


# ------------------------------------------------------------- training helpers


def predict_case(model, case, naive_bayes=False, morphology=False):
    """Prediction record for a labelled case (used by training and evaluation).

    With ``morphology``, the case's ``morph`` (or its ``morphology`` object, age and sex) is weighed too.
    """
    from .morphology import case_morphology

    states = panel_states(case["markers"], model.markers)
    findings = {}
    if morphology and model.morphology is not None:
        morph = case.get("morph")
        findings = finding_codes(morph if morph is not None else case_morphology(case))
    if naive_bayes:
        proba = model.naive_bayes_proba(states, case.get("site"), findings)
    else:
        proba = model.proba(states, case.get("site"), findings)
    typ = model.typicality(states) if model.atypical.get("quantiles") else [1.0] * len(proba)
    n = len(states) + len(findings)
    status = _status(model, proba, typ, n, states, findings, case.get("site")) if model.thresholds else None
    if naive_bayes and model.thresholds:
        status = rules.naive_bayes_status(model.thresholds, model.classes, proba, states, findings,
                                          rules.majority_tests(model, case.get("site")))
    k = max(range(len(proba)), key=lambda i: proba[i])
    return {"id": case.get("id"), "truth": case["diagnosis"],
            "proba": dict(zip(model.classes, proba)), "status": status,
            "diagnosis": model.classes[k] if status == "ok" else None, "typicality": max(typ),
            "counterpart_open": _unresolved_counterpart(model, proba, states, findings) is not None,
            "majority_open": rules.untested_majority(proba, states, rules.majority_tests(model, case.get("site")))
            is not None}


def naive_bayes_proba(model, states, site=None, findings=None):
    """The literature naive Bayes over the same table (the comparison): :meth:`CompactModel.naive_bayes_proba`."""
    return model.naive_bayes_proba(states, site, findings)


def _best_threshold(preds, classes, target=0.95, min_answered=5):
    """Lowest top-probability threshold whose answers (and those of every higher one) are >= target accurate."""
    grid = [round(0.5 + i / 100, 2) for i in range(0, 50)]
    curve = []
    for t in grid:
        ans = [p for p in preds if p["answerable"] and max(p["proba"].values()) >= t]
        right = sum(1 for p in ans if max(p["proba"], key=p["proba"].get) == p["truth"])
        inset = [p for p in preds if p["truth"] in classes]
        cov = sum(1 for p in ans if p["truth"] in classes) / len(inset) if inset else 0.0
        curve.append({"threshold": t, "answered": len(ans), "coverage": round(cov, 4),
                      "accuracy": round(right / len(ans), 4) if ans else None})
    chosen = 0.95
    for i, row in enumerate(curve):
        if all((r["accuracy"] is None or r["answered"] < min_answered or r["accuracy"] >= target) for r in curve[i:]):
            chosen = row["threshold"]
            break
    return chosen, curve


def choose_thresholds(model, cases, *, atypical_level=0.005, target=0.95, min_answered=5):
    """Status thresholds from the real development cases' risk-coverage curve (see
    :func:`_best_threshold`; ``ihc train`` passes the recipe's ``ok_threshold``)."""
    th = {"atypical_percentile": atypical_level, "ok_probability": 0.9, "settled_probability": 0.97}
    model.thresholds = th
    preds = []
    nb_preds = []
    for c in cases:
        p = predict_case(model, c, morphology=True)
        p["answerable"] = (p["typicality"] >= atypical_level and bool(panel_states(c["markers"], model.markers))
                           and not p["counterpart_open"] and not p["majority_open"])
        preds.append(p)
        q = predict_case(model, c, naive_bayes=True, morphology=True)
        q["answerable"] = (bool(panel_states(c["markers"], model.markers)) and not q["counterpart_open"]
                           and not q["majority_open"])
        nb_preds.append(q)
    if cases:
        th["ok_probability"], curve = _best_threshold(preds, model.classes, target, min_answered)
        th["nb_ok_probability"], nb_curve = _best_threshold(nb_preds, model.classes, target, min_answered)
    else:
        curve, nb_curve = [], []
    model.thresholds = th
    return th, {"model": curve, "naive_bayes": nb_curve}


def diagnoses(model=None):
    """The supported diagnoses with a description and their typical profile (from the knowledge base).

    Each profile lists the markers positive in at least 50% of the diagnosis, then the
    telling negatives of the core panel, with the pooled literature rate.

    >>> [d["diagnosis"] for d in diagnoses()][:2]
    ['leiomyosarcoma', 'leiomyoma']
    """
    from .diagnoses import DESCRIPTIONS

    if not isinstance(model, CompactModel):
        model = load_model(model)
    core = ("SMA", "desmin", "CD117", "DOG1", "CD34", "S100")
    out = []
    for dx in model.classes:
        rates = model.rates[dx]
        prof = [(m, r) for m, r in rates.items() if m != "Ki67" and r["p"] >= 0.5]
        prof.sort(key=lambda t: -t[1]["p"])
        negs = [(m, rates[m]) for m in core if rates[m]["p"] < 0.15]
        out.append({
            "diagnosis": dx,
            "name": DISPLAY_NAMES[dx],
            "description": DESCRIPTIONS[dx],
            "profile": [{"marker": m, "percent_positive": round(100 * r["p"], 1), "basis": r["basis"],
                         "source": r["citation"]} for m, r in prof + negs],
        })
    return out
