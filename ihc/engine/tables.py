"""The scoring tables: the model as per-feature tables of per-class vectors, built once at load.

This is the one definition of the model's arithmetic that every evaluator reads (the shape
of scikit-learn's ``CategoricalNB``, whose joint log-likelihood is a per-feature table
gathered by category and summed):

- the scalar path (:mod:`ihc.engine.scalar`, standard library) adds, for one panel, the
  vectors of its (feature, state) pairs one at a time;
- the vector path (:mod:`ihc.engine.vector`, numpy) gathers the same vectors for a block
  of rows, column by column, in the same order, so the floats are the same to the bit;
- the evidence (``api._evidence``) iterates the same decomposition.

Every table entry is a tuple of ``K`` floats in ``classes`` order:

``base[site]``
    centred intercept over the temperature plus the centred site log prior (``None``: no site).
``contrib[(feature, state)]``
    the centred contribution of one feature state, ``(w_k - mean w) / T``.
``surprise[(feature, state)]``
    ``log P(most likely state | k) - log P(state | k)`` (nats), the typicality terms.
``state_prob[(feature, state)]``
    ``P(state | k)``, the subtype mixture's marginal: outcome probabilities of a next stain.
``nb_log[(feature, state)]``, ``nb_base[site]``
    ``log P(state | k)`` of the literature naive Bayes (the comparison in evaluation) and its
    start, the uncentred site log prior (zeros without a site).

Extension point: a new kind of evidence
---------------------------------------
A feature is anything with a few states that adds one K-vector to the score: a marker
today; a morphology finding (mitoses, necrosis, atypia, cell type, size, age, sex) next.
Adding one is ONE entry in :func:`build`'s inputs (the exported model's ``features``/``coef``
for ``contrib``, ``generative`` for ``surprise``/``state_prob``, ``nb`` for ``nb_log``) —
no evaluator changes. A feature whose vector depends on the site as well as on its state
(e.g. mitoses per 50 HPF read differently in the GI tract, the uterus and soft tissue)
gives its raw coefficients as ``site_group_coef[feature][state][group]`` in the exported model
(``models/ihc_model.json``), with ``group`` one of :data:`SITE_GROUPS` (``"any"`` as the
fallback); :func:`build` centres them into ``contrib_by_group[(feature, state, group)]`` and
lists the feature in ``site_dependent``; :meth:`ScoringTables.vector` resolves the group from the canonical site
(:data:`SITE_GROUP_OF`), and both evaluators call it (the vector path builds one gather
table per site group). The state encoding (which cell or phrase gives which state) stays
in the parser; the rules that read the score (status, typicality, counterparts) live in
:mod:`ihc.engine.rules` and do not change.
"""

from __future__ import annotations

import binascii
import math
import sys
from array import array

__all__ = ["ScoringTables", "SITE_GROUPS", "SITE_GROUP_OF", "build", "pack_floats", "stored_tables", "unpack_floats"]

from ..sites import SITE_GROUP_OF, SITE_GROUPS  # noqa: E402  (the one site-group map)

_PACKED = "f64le:"


def pack_floats(values):
    """A list of floats as one JSON string: ``"f64le:"`` + base64 of their IEEE-754 little-endian
    bytes. Exact (every bit kept, as ``repr`` is) and read back ~20x faster than a JSON list of
    numbers, which is most of a model file's load time.

    >>> unpack_floats(pack_floats([0.1, -2.5, 1e-300])) == [0.1, -2.5, 1e-300]
    True
    """
    a = array("d", values)
    if sys.byteorder != "little":  # pragma: no cover - no big-endian machine here
        a.byteswap()
    return _PACKED + binascii.b2a_base64(a.tobytes(), newline=False).decode("ascii")


def unpack_floats(value):
    """:func:`pack_floats`' string back to a list of floats; a plain list is returned as floats."""
    if not isinstance(value, str):
        return [float(v) for v in value]
    if not value.startswith(_PACKED):
        raise ValueError(f"not a packed float vector: {value[:12]!r}")
    a = array("d")
    a.frombytes(binascii.a2b_base64(value[len(_PACKED):]))
    if sys.byteorder != "little":  # pragma: no cover
        a.byteswap()
    return a.tolist()


class ScoringTables:
    """Read-only per-feature tables of the compact model (see the module docstring)."""

    __slots__ = ("classes", "K", "base", "contrib", "contrib_by_group", "site_dependent", "surprise",
                 "state_prob", "_nb", "_nb_log", "nb_base", "site_log_prior", "extra", "_extra_memo", "_frozen")

    def __init__(self, **kw):
        for k, v in kw.items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name, value):
        raise AttributeError("ScoringTables are read-only once built")

    @property
    def nb_log(self):
        """``{(feature, state): log P(state | k) per class}`` of the literature naive Bayes, built on
        first use (only the comparison in evaluation reads it, never ``ihc classify``)."""
        t = self._nb_log
        if t is None:
            nb = self._nb() if callable(self._nb) else self._nb
            t = {}
            if nb:
                classes = self.classes
                for m, sts in nb[classes[0]].items():
                    for st in sts:
                        t[(m, st)] = tuple(math.log(nb[dx][m][st]) for dx in classes)
            object.__setattr__(self, "_nb_log", t)
        return t

    def base_of(self, site):
        """Centred intercept + centred site prior for a canonical site (or None)."""
        b = self.base.get(site)
        return b if b is not None else self.base[None]

    def prior_of(self, site):
        """The centred site log prior alone (zeros without a site or for a site without a prior)."""
        lp = self.site_log_prior.get(site) if site else None
        return lp if lp is not None else (0.0,) * self.K

    def vector(self, feature, state, site=None):
        """The centred contribution of ``feature=state`` (at ``site`` for a site-dependent feature), or None."""
        if feature in self.site_dependent:
            g = SITE_GROUP_OF.get(site, "any")
            v = self._by_group(feature, state, g)
            return v if v is not None else self._by_group(feature, state, "any")
        return self.contrib.get((feature, state))

    def _by_group(self, feature, state, group):
        """``contrib_by_group[(feature, state, group)]``, an ``extra`` source's vector first (computed
        on first use and kept: the same floats as when built eagerly, see :func:`build`)."""
        key = (feature, state, group)
        extra = self.extra
        if extra is not None and feature in extra.features:
            memo = self._extra_memo
            v = memo.get(key, memo)
            if v is memo:
                v = extra.vector(feature, state, group)
                v = memo[key] = None if v is None else tuple(v)
            if v is not None:
                return v
        return self.contrib_by_group.get(key)


def build(*, classes, intercept, temperature, features, coef, site_log_prior, generative, nb=None,
          site_group_coef=None, extra_by_group=None, extra=None, stored=None):
    """Build the tables from the exported model's parts (the floats are those the evaluators used before).

    ``features`` are ``"feature=state"`` names in the order of the columns of ``coef``
    (``K`` rows); ``generative[dx]`` a list of ``(share, {feature: {state: p}})`` subtypes;
    ``site_group_coef[feature][state][group]`` the ``K`` raw coefficients of a site-dependent
    feature state in a site group (centred and tempered here like every other coefficient);
    ``extra_by_group[(feature, state, group)]`` ready-made centred vectors of evidence that is not a
    fitted coefficient (the morphology findings' weighted literature log-likelihoods, see
    :meth:`ihc.morphology.MorphologyModel.vectors`), added as they are. ``extra`` gives such vectors
    on demand instead: an object with ``features`` (the feature names it covers) and
    ``vector(feature, state, group)`` (the vector, or None), asked once per key on first use, so that
    loading a model does not build vectors a call never reads (:meth:`ihc.morphology.MorphologyModel.vector`).
    A key it covers takes its vector over ``site_group_coef``'s, as ``extra_by_group``'s does.

    ``nb`` may be a function returning the naive-Bayes tables: it is called on the first use of
    ``nb_log``. ``stored`` is :func:`stored_tables`' form of ``state_prob`` as this function computed
    it at ``ihc train`` time (written into ``models/ihc_model.json``): given, it is read instead of
    computed from ``generative`` (the same floats: JSON keeps a float's repr exactly), which spares
    each load the mixture sums, and ``surprise`` is derived from it per feature on first reading
    (:class:`_Surprise`, the same floats as the eager loop below).
    """
    classes = tuple(classes)
    K = len(classes)
    T = float(temperature)
    b = [float(x) for x in intercept]
    mb = sum(b) / K
    base0 = tuple((x - mb) / T for x in b)
    priors = {}
    base = {None: base0}
    for site, lp in site_log_prior.items():
        m = sum(lp) / K
        prior = tuple(v - m for v in lp)
        priors[site] = prior
        base[site] = tuple(x + p for x, p in zip(base0, prior))
    contrib = {}
    for j, f in enumerate(features):
        w = [float(row[j]) for row in coef]
        mw = sum(w) / K
        feat, state = f.split("=", 1)
        contrib[(feat, state)] = tuple((x - mw) / T for x in w)
    surprise, state_prob = {}, {}
    if stored is not None:
        for m, sts in stored["state_prob"].items():
            for st, v in sts.items():
                state_prob[(m, st)] = tuple(unpack_floats(v))
        surprise = _Surprise(state_prob, {m: tuple(sts) for m, sts in stored["state_prob"].items()})
    elif generative:
        first = generative[classes[0]][0][1]
        log = math.log
        marg, top = {}, {}
        for dx in classes:
            mix = generative[dx]
            # the same sums in the same order as sum() over a generator (a list is only faster to build)
            md = marg[dx] = {m: {st: sum([share * tab[m][st] for share, tab in mix]) for st in sts}
                             for m, sts in mix[0][1].items()}
            top[dx] = {m: log(max(v.values())) for m, v in md.items()}  # log of the likeliest state, once
        for m, sts in first.items():
            cols = [(marg[dx][m], top[dx][m]) for dx in classes]
            for st in sts:
                state_prob[(m, st)] = tuple([v[st] for v, _ in cols])
                surprise[(m, st)] = tuple([t - log(v[st]) for v, t in cols])
    nb_base = {None: (0.0,) * K, **{site: tuple(lp) for site, lp in site_log_prior.items()}}
    by_group = {}
    for feat, by_state in (site_group_coef or {}).items():
        for state, groups in by_state.items():
            for group, w in groups.items():
                if group not in SITE_GROUPS:
                    raise ValueError(f"site group {group!r} of {feat}={state} is not one of {', '.join(SITE_GROUPS)}")
                w = [float(x) for x in w]
                mw = sum(w) / K
                by_group[(feat, state, group)] = tuple((x - mw) / T for x in w)
    for key, v in (extra_by_group or {}).items():
        if key[2] not in SITE_GROUPS:
            raise ValueError(f"site group {key[2]!r} of {key[0]}={key[1]} is not one of {', '.join(SITE_GROUPS)}")
        by_group[key] = tuple(v)
    site_dependent = frozenset(f for f, _, _ in by_group) | (frozenset(extra.features) if extra is not None else frozenset())
    return ScoringTables(classes=classes, K=K, base=base, contrib=contrib, contrib_by_group=by_group,
                         site_dependent=site_dependent, surprise=surprise,
                         state_prob=state_prob, _nb=nb, _nb_log=None, nb_base=nb_base, site_log_prior=priors,
                         extra=extra, _extra_memo={})


class _Surprise(dict):
    """``surprise`` computed from ``state_prob`` one feature at a time, on its first reading (a
    panel reads the few stains it has; the vector path all of them): the same operations on the same
    floats as :func:`build`'s eager loop (``log`` of the likeliest state's probability, per class,
    minus ``log`` of the state's), so the same vectors."""

    __slots__ = ("_state_prob", "_states")

    def __init__(self, state_prob, states):
        super().__init__()
        self._state_prob, self._states = state_prob, states

    def __missing__(self, key):
        sts = self._states.get(key[0])
        if sts is None:
            raise KeyError(key)
        log, sp = math.log, self._state_prob
        cols = [sp[(key[0], st)] for st in sts]
        top = [log(max(c)) for c in zip(*cols)]
        for st, v in zip(sts, cols):
            self[(key[0], st)] = tuple([t - log(x) for t, x in zip(top, v)])
        return dict.__getitem__(self, key)


def stored_tables(tables):
    """``state_prob`` of built ``tables`` as a JSON-ready nested dict, ``{"state_prob": {feature:
    {state: [K floats]}}}``: what ``build(stored=...)`` reads back (``surprise`` follows from it)."""
    d = {}
    for (m, st), v in tables.state_prob.items():
        d.setdefault(m, {})[st] = pack_floats(v)
    return {"state_prob": d}
