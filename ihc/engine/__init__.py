"""The classify path: the trained model in a compact form, evaluated with the standard library.

``ihc train`` exports the fitted scikit-learn model (the model of record,
``models/ihc_model.joblib``) to ``models/ihc_model.json``: its coefficients,
the knowledge-base tables it was trained from, and the thresholds of the
status rules. This module evaluates that form with plain Python floats, so that
one ``ihc classify`` call does not pay for importing numpy, pandas or
scikit-learn. A test proves it gives the scikit-learn probabilities to 1e-9.

The model is a multinomial logistic regression over one-hot marker states
(``SMA=pos``, ``SMA=focal``, ``SMA=neg``, ...; a stain not done has all its
features at zero, so it is missing, never negative). Its score for diagnosis
*k* is ``(b_k + sum_j w_kj x_j) / T + log prior_k(site)``; contributions are
those terms centred over the diagnoses, so they add up exactly to the centred
score whose softmax is the probability.

One engine, two evaluators
--------------------------
- :mod:`ihc.engine.tables` — :class:`ScoringTables`, built once when the model is loaded:
  per (feature, state) the K-vector of centred contributions, per site the base row, the
  surprise terms, the outcome probabilities of a next stain, the naive-Bayes log tables.
- this module — the scalar path for one panel (:meth:`CompactModel.proba`, ``typicality``,
  ``information_gain``), standard library only, reading the tables.
- :mod:`ihc.engine.vector` — the numpy path for blocks of rows (batch), gathering the same
  tables in the same order (equal to the scalar path with ``==``, tested).
- :mod:`ihc.engine.rules` — status, typicality interpolation and the counterpart rule, each
  written once, in a scalar and a vector form side by side.

Adding a kind of evidence (e.g. morphology: mitoses, necrosis, atypia, cell type, size, age,
sex) is one entry in the exported model: its ``feature=state`` columns in ``features``/``coef``
(or, when its weight depends on the site group, ``site_group_coef[feature][state][group]``),
its per-diagnosis state probabilities in ``generative`` (typicality, next-stain outcomes)
and ``nb``. Both evaluators and the evidence read it from the tables without change; see
:mod:`ihc.engine.tables` for the details.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import operator
from collections.abc import Mapping
from pathlib import Path

from ..exceptions import ModelError, ModelIntegrityError
from ..markers import KI67_BINS, LOSS_MARKERS, LOSS_STATES
from ..morphology import FINDINGS, MorphologyModel
from . import rules
from .tables import ScoringTables, build as _build_tables, pack_floats, stored_tables as _stored_tables, unpack_floats

__all__ = ["FORMAT_VERSION", "READABLE_FORMATS", "telling_phrase", "telling_share", "feature_names", "panel_states", "CompactModel", "ScoringTables", "entropy_bits",
           "softmax"]

#: Version of the compact format and of the model card; bumped when either changes shape.
#: 2: ``coef`` and the stored ``tables`` vectors are packed (:func:`ihc.engine.tables.pack_floats`).
FORMAT_VERSION = 2

#: The formats this ihc reads (writes :data:`FORMAT_VERSION`): format 1 files hold the same
#: numbers as plain JSON lists.
READABLE_FORMATS = (1, 2)

_KI67_STATES = KI67_BINS


def marker_states(marker):
    """The observable states of a marker as the model sees them."""
    if marker == "Ki67":
        return _KI67_STATES
    if marker in LOSS_MARKERS:
        return ("lost", "retained")
    return ("pos", "focal", "neg")


def feature_names(markers):
    """One-hot feature names, ``marker=state``, in model order."""
    return [f"{m}={s}" for m in markers for s in marker_states(m)]


def ki67_state(value):
    if isinstance(value, str):
        return value if value in _KI67_STATES else None
    v = float(value)
    return "low" if v < 5 else ("mid" if v < 15 else "high")


def panel_states(markers, model_markers):
    """Map a panel's markers to the model's states; markers the model does not use are left out."""
    out = {}
    allowed = set(model_markers)
    for m, v in markers.items():
        if m not in allowed or v is None:
            continue
        if m == "Ki67":
            s = ki67_state(v)
        elif m in LOSS_MARKERS:
            s = LOSS_STATES.get(v, v)
        else:
            s = v
        if s in marker_states(m):
            out[m] = s
    return out


def entropy_bits(p):
    """``-sum(x * log2(x) for x in p if x > 0)``; when every x is positive, the same products
    in the same order through ``map`` (C loops, about twice as fast), else the filtered sum."""
    if p and min(p) > 0:
        h = -sum(map(_mul, p, map(math.log2, p)))
        if h == h:  # (a NaN among p: the filtered sum below skips it)
            return h
    return -sum([x * math.log2(x) for x in p if x > 0])


def softmax(z):
    """Softmax of a list of scores (the one used by every evaluator: ``math.exp`` and ``sum``)."""
    mx = max(z)
    e = list(map(math.exp, map(_sub, z, itertools.repeat(mx))))  # exp(v - mx), in order
    s = sum(e)
    return list(map(_truediv, e, itertools.repeat(s)))


_mul, _sub, _truediv, _add = operator.mul, operator.sub, operator.truediv, operator.add


_softmax = softmax  # the former private name, kept for callers outside ihc

#: Sections of the exported model that ``ihc classify`` does not read once the tables are stored
#: (``generative``: the subtype mixtures, ``nb``: the literature naive Bayes). The export writes
#: each as a JSON text inside the JSON (:meth:`CompactModel.stored_form`), so that loading scans it
#: as one string (covered by the same sha256 check) and parses it on first use
#: (:meth:`CompactModel.section`); a file where they are plain objects is read as before.
DEFERRED_SECTIONS = ("generative", "nb")


class ParsedOnUse(Mapping):
    """A read-only mapping whose values a file may store as JSON texts, each parsed on its first
    reading: the literature rates of one diagnosis (``rates[dx]``; a classify call reads the
    diagnoses in play, a third of them for a usual panel). Values that are not texts are given as
    they are (a model built in memory, or a file where ``rates`` holds plain objects)."""

    __slots__ = ("_raw",)

    def __init__(self, raw):
        self._raw = dict(raw)

    def __getitem__(self, key):
        v = self._raw[key]
        if isinstance(v, str):
            v = self._raw[key] = json.loads(v)
        return v

    def __iter__(self):
        return iter(self._raw)

    def __len__(self):
        return len(self._raw)


def _sha256():
    """The sha256 constructor: CPython's built-in one when there is one (the same digest as
    ``hashlib.sha256``, tested), which spares a single ``ihc classify`` the ~3 ms of loading
    OpenSSL through :mod:`hashlib`; :mod:`hashlib` otherwise."""
    try:
        from _sha256 import sha256  # CPython <= 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # CPython >= 3.12
        except ImportError:  # pragma: no cover - another interpreter
            from hashlib import sha256
    return sha256


def sha256_file(path):
    h = _sha256()()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def telling_phrase(marker):
    """The telling result of ``marker``: ``">=15%"`` for Ki-67, ``"lost"`` for a loss marker, else ``"positive"``."""
    if marker == "Ki67":
        return ">=15%"
    return "lost" if marker in LOSS_MARKERS else "positive"


def telling_share(rate, marker, typical=False):
    """``(share, phrase)`` of the telling result of ``marker`` (:func:`telling_phrase`) in one
    diagnosis's literature ``rate`` (``{"p": ..., "high": ...}``): the rate the model was built
    from (its subtypes mixed), or with ``typical`` the main entity's (``"main"``, stored when
    subtypes move the mix), which the site-majority rule reads: a stain tests for the typical
    tumour (DOG1 for a gastric GIST against a leiomyoma, though some GI leiomyomas hold
    DOG1-positive cells of Cajal)."""
    if marker == "Ki67":
        return rate["high"], telling_phrase(marker)
    return (rate.get("main", rate["p"]) if typical else rate["p"]), telling_phrase(marker)


class CompactModel:
    """The exported model, evaluated in pure Python.

    Build it with :meth:`load` (checks the file against its card) or from a dict.
    """

    def __init__(self, data, card=None):
        if data.get("format_version") not in READABLE_FORMATS:
            raise ModelIntegrityError(
                f"compact model format {data.get('format_version')!r} is not a format this ihc reads "
                f"({', '.join(map(str, READABLE_FORMATS))})")
        if isinstance(data.get("coef"), str):  # packed (format 2): K rows of F floats, row-major
            flat, F = unpack_floats(data["coef"]), len(data["features"])
            data = {**data, "coef": [flat[i:i + F] for i in range(0, len(flat), F)]}
        self.data = data
        self.version = data["model_version"]
        self.classes = list(data["classes"])
        self.markers = list(data["markers"])
        self.features = list(data["features"])
        if self.features != feature_names(self.markers):
            raise ModelIntegrityError("compact model features do not match its marker list")
        self.T = float(data["temperature"])
        self.intercept = [float(b) for b in data["intercept"]]
        self.site_log_prior = data.get("site_log_prior", {})
        self.site_majority = data.get("site_majority", {})
        #: ``{site: {"case_mix": [dx...], "restricted": [dx...]}}``: what a site's prior is made of
        #: (an older file without it: every site reads as a published case mix).
        self.site_kinds = data.get("site_kinds", {})
        #: ``{dx: {marker: rate}}``, the literature rates the notes quote (one diagnosis parsed on first use).
        self.rates = ParsedOnUse(data["rates"])
        self.thresholds = data["thresholds"]
        self.atypical = data["atypical"]
        self.sha256 = data.get("_sha256")
        self.card = card
        morph = data.get("morphology")
        #: Morphology tables (``None`` for a model without them) and the GIST risk table it quotes.
        self.morphology = MorphologyModel(morph, self.classes) if morph else None
        self.gist_risk_rows = data.get("gist_risk", [])
        #: The model as per-feature tables of per-class vectors (:mod:`ihc.engine.tables`), built once.
        #: ``state_prob`` (and from it ``surprise``) comes from the file's ``tables`` (build's own output at
        #: ``ihc train``, see :meth:`stored_form`) when it has them, else from the subtype mixtures.
        stored = data.get("tables")
        self.tables = _build_tables(
            classes=self.classes, intercept=self.intercept, temperature=self.T, features=self.features,
            coef=data["coef"], site_log_prior=self.site_log_prior,
            generative=None if stored is not None else self.generative, nb=lambda: self.section("nb"),
            site_group_coef=data.get("site_group_coef"),
            extra=self.morphology, stored=stored)
        #: Memos of panel-independent derived facts (e.g. which stains test for a diagnosis), filled on use.
        self.derived = {}

    def section(self, key):
        """``data[key]``, parsed on first use if the file stored it as JSON text (:data:`DEFERRED_SECTIONS`)."""
        v = self.data.get(key)
        if isinstance(v, str) and key in DEFERRED_SECTIONS:
            v = self.data[key] = json.loads(v)
        return v

    @property
    def generative(self):
        """``{dx: [(share, {feature: {state: p}}), ...]}``, the subtype mixtures (parsed on first use)."""
        return self.section("generative")

    def stored_form(self):
        """The dict ``ihc train`` writes to ``models/ihc_model.json``: :attr:`data` without its private keys,
        plus the built tables' ``state_prob`` (``tables``, read back at load instead of computed), the :data:`DEFERRED_SECTIONS` as JSON texts and each diagnosis's ``rates`` as one
        (:class:`ParsedOnUse`)."""
        out = {k: v for k, v in self.data.items() if not k.startswith("_")}
        out["format_version"] = FORMAT_VERSION
        out["coef"] = pack_floats([float(v) for row in self.data["coef"] for v in row])
        if out.get("generative") is not None:
            out["tables"] = _stored_tables(self.tables)
        for key in DEFERRED_SECTIONS:
            v = out.get(key)
            if v is not None and not isinstance(v, str):
                out[key] = json.dumps(v, sort_keys=True, separators=(",", ":"))
        if self.data.get("rates"):
            markers = [m for m in self.markers if all(m in self.rates[dx] for dx in self.classes)]
            out["telling_shares"] = {m: pack_floats(self.telling_shares(m)) for m in markers}
            out["typical_shares"] = {m: pack_floats(self.typical_shares(m)) for m in markers}
        rates = out.get("rates")
        if rates is not None:
            out["rates"] = {dx: r if isinstance(r, str) else json.dumps(r, sort_keys=True, separators=(",", ":"))
                            for dx, r in rates.items()}
        return out

    @classmethod
    def load(cls, path, expected_sha256=None, card=None):
        """Load a compact model JSON, refusing it if its sha256 differs from ``expected_sha256``."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None
        digest = _sha256()(raw).hexdigest()
        if expected_sha256 is not None and digest != expected_sha256:
            raise ModelIntegrityError(
                f"model file {path.name} has sha256 {digest[:12]}..., its card says {expected_sha256[:12]}...: refusing to use it")
        try:
            data = json.loads(raw)
        except ValueError:
            raise ModelIntegrityError(f"model file {path.name} is not valid JSON") from None
        data["_sha256"] = digest
        return cls(data, card=card)

    def telling_shares(self, marker):
        """``[share of diagnosis k with the telling result of marker]`` in class order
        (:func:`telling_share`): read from the file's packed ``telling_shares`` when it has them
        (so a first ``classify`` parses no diagnosis's literature rates to compare them), else
        from :attr:`rates`; memoised."""
        return self._shares("telling_shares", marker, False)

    def typical_shares(self, marker):
        """:meth:`telling_shares` of each diagnosis's main entity (``telling_share(..., typical=True)``,
        the file's ``typical_shares``): what the site-majority rule reads."""
        return self._shares("typical_shares", marker, True)

    def _shares(self, key, marker, typical):
        memo = self.derived.get(key)
        if memo is None:
            memo = self.derived[key] = {}
        v = memo.get(marker)
        if v is None:
            stored = self.data.get(key)
            if stored is not None and marker in stored:
                v = unpack_floats(stored[marker])
            else:
                v = [telling_share(self.rates[dx][marker], marker, typical)[0] for dx in self.classes]
            memo[marker] = v
        return v

    # ------------------------------------------------------------- scoring (the scalar path)
    def decompose(self, states, site=None, findings=None):
        """Per-class centred score terms, read from :attr:`tables`.

        Returns ``(base, prior, contrib)`` where ``base[k]`` is the centred
        intercept, ``prior[k]`` the centred site log prior and
        ``contrib[feature][k]`` the centred contribution of each feature state, the
        morphological ``findings`` (``{finding: state code}``,
        :func:`ihc.morphology.finding_codes`) after the markers; their sum is the
        centred score whose softmax is the probability.
        """
        t = self.tables
        base = t.base[None]
        prior = t.prior_of(site)
        contrib = {}
        for items in (states.items(), (findings or {}).items()):
            for marker, state in items:
                v = t.vector(marker, state, site)
                if v is not None:
                    contrib[marker] = v
        return base, prior, contrib

    def scores(self, states, site=None, findings=None):
        """Centred scores: the site's base row plus each state's vector, added in the panel's order
        (then the findings')."""
        t = self.tables
        z = t.base.get(site) if site else None
        z = list(z if z is not None else t.base[None])
        for items in (states.items(), (findings or {}).items()):
            for marker, state in items:
                v = t.vector(marker, state, site)
                if v is not None:
                    z = [a + b for a, b in zip(z, v)]
        return z

    @property
    def coef_by_feature(self):
        """``{feature: [w_kj for k in classes]}``, the raw coefficients (built on first use: only
        :meth:`raw_decision` reads them)."""
        by = self.derived.get("coef_by_feature")
        if by is None:
            coef = self.data["coef"]
            by = self.derived["coef_by_feature"] = {f: [float(row[j]) for row in coef]
                                                    for j, f in enumerate(self.features)}
        return by

    def raw_decision(self, states):
        """Uncentred ``b + w.x`` (no temperature, no prior), as scikit-learn's decision_function."""
        z = list(self.intercept)
        for marker, state in states.items():
            w = self.coef_by_feature.get(f"{marker}={state}")
            if w is None:
                continue
            for k, v in enumerate(w):
                z[k] += v
        return z

    def proba(self, states, site=None, findings=None):
        """Probability of each class (list in ``self.classes`` order)."""
        return softmax(self.scores(states, site, findings))

    def naive_bayes_proba(self, states, site=None, findings=None):
        """The literature naive Bayes over the same table (the comparison in evaluation), with the same
        morphology terms as the model."""
        t = self.tables
        z = t.nb_base.get(site) if site else None
        z = list(z if z is not None else t.nb_base[None])
        nb = t.nb_log
        for item in states.items():
            z = [a + b for a, b in zip(z, nb[item])]
        for f, code in (findings or {}).items():
            v = t.vector(f, code, site)
            if v is not None:
                z = [a + b for a, b in zip(z, v)]
        return softmax(z)

    # --------------------------------------------------------- generative
    def state_prob(self, dx, marker, state, subtype_index=None):
        mix = self.generative[dx]
        if subtype_index is not None:
            return mix[subtype_index][1][marker][state]
        return sum(share * tab[marker][state] for share, tab in mix)

    def loglik_of(self, states, dx):
        """log P(observed states | dx), a mixture over the diagnosis's subtypes."""
        terms = []
        for share, tab in self.generative[dx]:
            s = math.log(share) if share > 0 else -1e9
            for m, st in states.items():
                s += math.log(tab[m][st])
            terms.append(s)
        mx = max(terms)
        return mx + math.log(sum(math.exp(t - mx) for t in terms))

    def loglik(self, states):
        """log P(observed states | dx) for every class."""
        return [self.loglik_of(states, dx) for dx in self.classes]

    def surprise(self, states, dx):
        """How far the panel is from the most likely result of each stain under ``dx`` (nats).

        The sum over stains of ``log P(most likely state | dx) - log P(observed state | dx)``.
        """
        k = self.classes.index(dx)
        sur = self.tables.surprise
        s = 0.0
        for item in states.items():
            s += sur[item][k]
        return s

    def surprises(self, states):
        """:meth:`surprise` for every class (one pass over the panel)."""
        z = [0.0] * len(self.classes)
        sur = self.tables.surprise
        for item in states.items():
            z = [a + b for a, b in zip(z, sur[item])]
        return z

    def typicality(self, states):
        """For each class, the share of its generated panels at least as surprising as this one.

        A value below ``thresholds["atypical_percentile"]`` for every class makes the panel atypical.
        """
        at = self.atypical
        quantiles = [at["quantiles"].get(dx) for dx in self.classes]
        if not states or not any(quantiles):
            return [1.0] * len(self.classes)
        return rules.typicality(self.surprises(states), quantiles, at["levels"], True)

    # ------------------------------------------------------------ next stain
    def information_gain(self, states, site, marker, proba=None, scores=None):
        """Expected reduction of the posterior entropy (bits) if ``marker`` were stained.

        Outcome probabilities are the model's own predictive distribution:
        ``P(s) = sum_k P(k | panel) P(s | k)``; the posterior after each
        outcome is the model's probability with that result added (the panel's
        scores, ``scores`` if given, plus the outcome's vector).
        """
        if marker in states:
            return 0.0, {}
        p = proba if proba is not None else self.proba(states, site)
        z = scores if scores is not None else self.scores(states, site)
        t = self.tables
        h0 = entropy_bits(p)
        exp_h = 0.0
        outcome_p = {}
        for s in marker_states(marker):
            ps = sum(map(_mul, p, t.state_prob[(marker, s)]))
            if ps <= 0:
                continue
            v = t.vector(marker, s, site)
            exp_h += ps * entropy_bits(softmax(z if v is None else list(map(_add, z, v))))
            outcome_p[s] = ps
        return max(0.0, h0 - exp_h), outcome_p

    def finding_shares(self, finding, site):
        """Per state of ``finding``, ``P(state | dx)`` for every class at the site's group (the
        morphology's share, read once per finding and site group: it does not depend on the panel)."""
        from ..morphology import site_group

        key = (finding, site_group(site))
        memo = self.derived.setdefault("finding_shares", {})
        hit = memo.get(key)
        if hit is None:
            m = self.morphology
            hit = memo[key] = tuple(tuple(m.share(finding, (s,), site, dx)[0] for dx in self.classes)
                                    for s in FINDINGS[finding])
        return hit

    def finding_gain(self, states, site, finding, findings, proba, scores=None):
        """Expected information gain (bits) of learning a morphological ``finding`` not yet given.

        Outcome probabilities are the model's predictive distribution over the finding's states at
        the site group, as for a stain; each outcome adds its table vector to the scores.
        """
        if self.morphology is None or finding in (findings or {}):
            return 0.0
        z = scores if scores is not None else self.scores(states, site, findings)
        t = self.tables
        h0 = entropy_bits(proba)
        exp_h = 0.0
        for s, share in zip(FINDINGS[finding], self.finding_shares(finding, site)):
            ps = sum(map(_mul, proba, share))
            if ps <= 0:
                continue
            v = t.vector(finding, s, site)
            exp_h += ps * entropy_bits(softmax(z if v is None else list(map(_add, z, v))))
        return max(0.0, h0 - exp_h)
