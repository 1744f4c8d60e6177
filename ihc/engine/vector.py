"""The vector path: the compact model evaluated for a block of rows with numpy.

It reads the same :class:`~ihc.engine.tables.ScoringTables` as the scalar path
(:meth:`ihc.engine.CompactModel.proba`, ``typicality``) and applies the same rules
(:mod:`ihc.engine.rules`), so its figures are the scalar path's bit for bit:

- per column (a feature), a ``(1 + states) x K`` table of the centred contributions (row 0,
  no state: zeros) and one of the surprise terms, gathered by each row's state index;
- the sums are taken column by column in the panel's order (elementwise IEEE additions, as
  the scalar path's ``zip`` loops; ``x + 0.0 == x`` for a column without a state);
- ``exp`` and the softmax denominator use ``math.exp`` and the built-in ``sum``, as the scalar
  path does; the quotient, the typicality interpolation and the thresholds are the same
  elementwise operations.

A site-dependent feature (see the tables' extension point) gets one gather table per site
group; the row's site picks it.
"""

from __future__ import annotations

import math

from . import marker_states, rules
from .tables import SITE_GROUP_OF, SITE_GROUPS

__all__ = ["VectorEvaluator", "StatesEvaluator", "GainEstimator", "ExactGains", "ApproxGains", "decided",
           "gain_rows", "sum_kind", "estimate_many"]


class VectorEvaluator:
    """Probabilities and status masks of many rows at once.

    Parameters
    ----------
    np : module
        numpy (imported by the caller: the classify path never imports it).
    model : CompactModel
    features : list of str or None
        The feature each column holds (None: a column the model does not read).
    """

    def __init__(self, np, model, features):
        self.np = np
        self.model = model
        t = model.tables
        self.K = K = len(model.classes)
        self.features = list(features)
        self.states = []   # per column: the feature's states (index i + 1 in the gather tables)
        self.vec = []      # per column: (1 + states) x K contributions, or (groups, 1 + states, K), or None
        self.sur = []      # per column: (1 + states) x K surprise terms, or None
        self.ki67 = None   # the column of Ki-67, if any
        for j, name in enumerate(self.features):
            if name is None or name not in model.markers:
                self.vec.append(None)
                self.sur.append(None)
                self.states.append(())
                continue
            if name == "Ki67":
                self.ki67 = j
            sts = tuple(marker_states(name))
            sur = np.zeros((1 + len(sts), K))
            for i, st in enumerate(sts, 1):
                sur[i] = t.surprise[(name, st)]
            if name in t.site_dependent:
                vec = np.zeros((len(SITE_GROUPS), 1 + len(sts), K))
                for g, group in enumerate(SITE_GROUPS):
                    site = next((s for s, grp in SITE_GROUP_OF.items() if grp == group), None)
                    for i, st in enumerate(sts, 1):
                        v = t.vector(name, st, site)
                        if v is not None:
                            vec[g, i] = v
            else:
                vec = np.zeros((1 + len(sts), K))
                for i, st in enumerate(sts, 1):
                    v = t.vector(name, st)
                    if v is not None:
                        vec[i] = v
            self.vec.append(vec)
            self.sur.append(sur)
            self.states.append(sts)
        self.site_rows = {}  # canonical site -> row of self.base
        self.base = np.zeros((0, K))
        self.site_group = np.zeros(0, np.int64)  # row of self.base -> index in SITE_GROUPS
        at = model.atypical
        self.levels = list(at["levels"])
        self.quantiles = [at["quantiles"].get(dx) for dx in model.classes]
        self.thresholds = dict(model.thresholds)
        self.counterpart = rules.counterpart_index(np, model.classes)
        self._sum_kind = None  # how this Python's sum() adds floats (see _row_sums)
        #: whether the tables hold this model (else its rows go to the scalar path)
        self.ok = K >= 3 and all(not qs or len(qs) <= len(self.levels) for qs in self.quantiles)

    def _row_sums(self, e):
        """The built-in ``sum`` of each row of ``e``, bit for bit, as K column operations.

        ``sum`` adds left to right (Python 3.11 and before) or, since 3.12, with Neumaier's
        compensation; both are written here as array operations over the columns. Which one
        this Python uses is found once by comparing both with ``sum`` itself on a probe (and on
        rows of ``e``); if neither agrees, ``map(sum, ...)`` is used (the old way, slower).
        """
        np = self.np
        if self._sum_kind is None:
            K = e.shape[1]  # >= 3 (see ``ok``); the first row tells the two ways apart
            probe = np.array([[1e100, 1.0, -1e100] + [0.0] * (K - 3)] + e[:64].tolist(), dtype=float).reshape(-1, K)
            want = [sum(r) for r in probe.tolist()]
            self._sum_kind = "python"
            for kind in ("plain", "neumaier"):
                if _column_sums(np, probe, kind).tolist() == want:
                    self._sum_kind = kind
                    break
        if self._sum_kind == "python":
            return np.array(list(map(sum, e.tolist())))
        return _column_sums(np, e, self._sum_kind)

    def state_index(self, j, state):
        """The gather index of ``state`` in column ``j`` (0: no state the model reads)."""
        sts = self.states[j]
        return sts.index(state) + 1 if state in sts else 0

    def _site_rows(self, sites):
        np = self.np
        new = [s for s in dict.fromkeys(sites) if s not in self.site_rows]
        if new:
            t = self.model.tables
            rows = []
            for s in new:
                rows.append(t.base_of(s) if s else t.base[None])
                self.site_rows[s] = len(self.site_rows)
            self.base = np.concatenate((self.base, np.array(rows, dtype=float)))
            self.site_group = np.concatenate((self.site_group, np.array(
                [SITE_GROUPS.index(SITE_GROUP_OF.get(s, "any")) for s in new], np.int64)))
        return np.array([self.site_rows[s] for s in sites], np.int64)

    def evaluate(self, sidx, sites):
        """``(proba, atypical, ok)`` for ``sidx`` (n x columns state indices) and canonical ``sites``.

        ``proba`` is n x K (:meth:`CompactModel.proba`'s, bit for bit); ``atypical`` and ``ok``
        the status masks of :func:`ihc.engine.rules.status`.
        """
        np = self.np
        n, K = sidx.shape[0], self.K
        rows = self._site_rows(sites)  # (first: it may extend self.base)
        z = self.base[rows]  # a copy
        s = np.zeros((n, K))
        n_states = np.zeros(n, np.int64)
        ki67 = np.zeros(n, bool)
        groups = None
        for j, vec in enumerate(self.vec):
            if vec is None:
                continue
            ix = sidx[:, j]
            if vec.ndim == 3:
                if groups is None:
                    groups = self.site_group[rows]
                z += vec[groups, ix]
            else:
                z += vec[ix]
            s += self.sur[j][ix]
            has = ix > 0
            n_states += has
            if j == self.ki67:
                ki67 = has
        # softmax as the scalar path takes it
        mx = z.max(axis=1)
        e = np.fromiter(map(math.exp, (z - mx[:, None]).ravel().tolist()), float, n * K).reshape(n, K)
        t = self._row_sums(e)
        p = e / t[:, None]
        cols = {}
        for j, name in enumerate(self.features):
            if self.vec[j] is not None:
                cols.setdefault(name, j)

        def present(m):
            return sidx[:, cols[m]] > 0 if m in cols else np.zeros(n, bool)

        held = rules.untested_majority_many(np, self.model, p, sites, present)
        atypical, ok = rules.status_many(np, self.thresholds, self.counterpart, p, s, n_states, ki67,
                                         self.quantiles, self.levels, held)
        return p, atypical, ok


def _column_sums(np, e, kind):
    """Row sums of ``e`` (n x K), adding the columns in order: ``"plain"`` (x0 + x1 + ...) or
    ``"neumaier"`` (CPython 3.12's compensated float sum)."""
    f = e[:, 0].copy()
    if kind == "plain":
        for k in range(1, e.shape[1]):
            f += e[:, k]
        return f
    c = np.zeros_like(f)
    for k in range(1, e.shape[1]):
        x = e[:, k]
        t = f + x
        c += np.where(np.abs(f) >= np.abs(x), (f - t) + x, (x - t) + f)
        f = t
    return np.where((c != 0) & np.isfinite(c), f + c, f)


class GainEstimator:
    """Expected information gain of every candidate stain at once, with numpy (an estimate).

    The same arithmetic as :meth:`CompactModel.information_gain` (outcome probabilities from
    the tables' ``state_prob``, posteriors from the panel's scores plus each outcome's vector),
    as array operations whose floats may differ from the scalar path's in the last bits. It
    is used to pick the few candidates whose exact gain matters (see ``api._next_stains``):
    never to report a figure.
    """

    def __init__(self, np, model):
        self.np = np
        self.model = model
        t = model.tables
        self.markers = list(model.markers)
        self.index = {m: i for i, m in enumerate(self.markers)}
        S = max(len(marker_states(m)) for m in self.markers)
        K = len(model.classes)
        self.sp = np.zeros((len(self.markers), S, K))  # P(state | class); padding rows: 0 (skipped)
        for i, m in enumerate(self.markers):
            for j, s in enumerate(marker_states(m)):
                self.sp[i, j] = t.state_prob[(m, s)]
        self.S, self.K = S, K
        self._vec = {}  # site group -> (markers, S, K) outcome vectors

    def _vectors(self, site):
        from .tables import SITE_GROUP_OF

        t = self.model.tables
        key = SITE_GROUP_OF.get(site, "any") if t.site_dependent else None
        v = self._vec.get(key)
        if v is None:
            v = self.np.zeros((len(self.markers), self.S, self.K))
            for i, m in enumerate(self.markers):
                for j, s in enumerate(marker_states(m)):
                    w = t.vector(m, s, site)
                    if w is not None:
                        v[i, j] = w
            self._vec[key] = v
        return v

    def gains(self, site, proba, scores, cands):
        """Estimated gain (bits) of each marker of ``cands``, as a dict."""
        np = self.np
        if not cands:
            return {}
        ix = np.array([self.index[m] for m in cands])
        p = np.asarray(proba, dtype=float)
        ps = self.sp[ix] @ p  # (M, S)
        z = np.asarray(scores, dtype=float) + self._vectors(site)[ix]  # (M, S, K)
        z -= z.max(axis=2, keepdims=True)
        e = np.exp(z)
        q = e / e.sum(axis=2, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.where(q > 0, q * np.log2(np.where(q > 0, q, 1.0)), 0.0).sum(axis=2)  # (M, S)
        exp_h = np.where(ps > 0, ps * h, 0.0).sum(axis=1)
        h0 = -sum(x * np.log2(x) for x in proba if x > 0)
        g = np.maximum(0.0, h0 - exp_h)
        return dict(zip(cands, g.tolist()))


def sum_kind(np, K=14):
    """How this Python's built-in ``sum`` adds floats: ``"plain"`` (left to right) or
    ``"neumaier"`` (3.12's compensation), found by comparing both with ``sum`` on a probe; None
    when neither agrees (the caller then keeps the scalar path)."""
    rng = [[1e100, 1.0, -1e100] + [0.0] * (K - 3), [0.1 * (i + 1) / 7 for i in range(K)],
           [1e-3 ** (i % 5) * (-1) ** i for i in range(K)]]
    probe = np.array(rng, dtype=float)
    want = [sum(r) for r in probe.tolist()]
    for kind in ("plain", "neumaier"):
        if _column_sums(np, probe, kind).tolist() == want:
            return kind
    return None


def gain_rows(np, model, site):
    """The outcome rows every expected gain at ``site`` reads: ``(V, P, probes)``, ``V`` the outcome's
    score vector (zeros where the tables have none), ``P`` its probability per class (a stain's
    ``state_prob``, a finding's share at the site group), ``probes[name]`` the rows of one stain
    (a marker name) or finding (``("finding", f)``), in the state order the scalar path walks."""
    from . import FINDINGS, marker_states

    t = model.tables
    K = len(model.classes)
    V, P, probes = [], [], {}
    zero = (0.0,) * K
    for mk in model.markers:
        rows = []
        for s in marker_states(mk):
            v = t.vector(mk, s, site)
            rows.append(len(V))
            V.append(zero if v is None else v)
            P.append(t.state_prob[(mk, s)])
        probes[mk] = rows
    if model.morphology is not None:
        from ..api import ASKABLE_FINDINGS

        for f in ASKABLE_FINDINGS:
            rows = []
            for s, share in zip(FINDINGS[f], model.finding_shares(f, site)):
                v = t.vector(f, s, site)
                rows.append(len(V))
                V.append(zero if v is None else v)
                P.append(share)
            probes[("finding", f)] = rows
    return np.array(V, dtype=float), np.array(P, dtype=float), probes


class ExactGains:
    """Exact expected information gains (stains and morphological findings) of many panels at once.

    Every figure is :meth:`CompactModel.information_gain`'s / ``finding_gain``'s own float: the
    same operations on the same operands in the same order, as array operations — products,
    sums and quotients elementwise (IEEE, correctly rounded, so the same bits), each built-in
    ``sum`` written as column additions in its order (:func:`_column_sums`, the kind this Python
    uses), ``math.exp`` and ``math.log2`` through ``map`` over the flattened values (the same
    calls), ``max(0.0, x)`` in Python. A panel for which the scalar path would take another
    branch (an outcome's posterior with a zero or a NaN, where ``entropy_bits`` filters) gets
    None: its caller computes it the scalar way.
    """

    def __init__(self, np, model, kind):
        self.np = np
        self.model = model
        self.kind = kind
        self.K = len(model.classes)
        self._site = {}  # site -> (rows of V, rows of P, per probe name: [(row, ...)])

    def _site_tables(self, site):
        hit = self._site.get(site)
        if hit is None:
            hit = self._site[site] = gain_rows(self.np, self.model, site)
        return hit

    def gains(self, items):
        """For each ``(proba, scores, site, names)`` (names: markers, or ``("finding", f)``), a dict
        name -> exact gain, or None (compute that panel the scalar way)."""
        np = self.np
        from . import entropy_bits

        K = self.K
        item_of, vrow, pos, probe_of = [], [], [], []
        probe_names = []  # (item, name)
        tables = {}
        for i, (proba, z, site, names) in enumerate(items):
            st = tables.get(site)
            if st is None:
                st = tables[site] = self._site_tables(site)
            probes = st[2]
            for name in names:
                rows = probes[name]
                j = len(probe_names)
                probe_names.append((i, name))
                item_of.extend([i] * len(rows))
                vrow.extend(rows)
                pos.extend(range(len(rows)))
                probe_of.extend([j] * len(rows))
        out = [None] * len(items)
        if not probe_names:
            return [{} for _ in items]
        item_of = np.array(item_of)
        vrow = np.array(vrow)
        pos = np.array(pos)
        probe_of = np.array(probe_of)
        # V and P per row: one site's tables per row (gathered per site)
        V = np.empty((len(vrow), K))
        P = np.empty((len(vrow), K))
        sites = [it[2] for it in items]
        if len(tables) == 1:
            st = next(iter(tables.values()))
            V[:] = st[0][vrow]
            P[:] = st[1][vrow]
        else:
            site_of_row = np.array([list(tables).index(sites[i]) for i in range(len(items))])[item_of]
            for g, st in enumerate(tables.values()):
                sel = site_of_row == g
                V[sel] = st[0][vrow[sel]]
                P[sel] = st[1][vrow[sel]]
        p_items = np.array([it[0] for it in items], dtype=float)
        z_items = np.array([it[1] for it in items], dtype=float)
        kind = self.kind
        ps = _column_sums(np, p_items[item_of] * P, kind)  # sum(map(mul, p, share))
        z = z_items[item_of] + V
        mx = z.max(axis=1)
        n = z.size
        e = np.fromiter(map(math.exp, (z - mx[:, None]).ravel().tolist()), float, n).reshape(z.shape)
        q = e / _column_sums(np, e, kind)[:, None]
        lg = np.fromiter(map(math.log2, np.where(q > 0, q, 1.0).ravel().tolist()), float, n).reshape(z.shape)
        h = -_column_sums(np, q * lg, kind)
        live = ps > 0
        bad = live & (~np.isfinite(h) | ~(q > 0).all(axis=1))
        bad_items = set(item_of[bad].tolist())
        exp_h = np.zeros(len(probe_names))
        term = np.where(live, ps * h, 0.0)
        for j in range(int(pos.max()) + 1):
            sel = (pos == j) & live
            exp_h[probe_of[sel]] += term[sel]  # one row per probe and position: in the scalar order
        h0 = [entropy_bits(it[0]) for it in items]
        diff = (np.array(h0)[np.array([i for i, _ in probe_names])] - exp_h).tolist()
        for i in range(len(items)):
            if i not in bad_items:
                out[i] = {}
        for (i, name), d in zip(probe_names, diff):
            o = out[i]
            if o is not None:
                o[name] = d if d > 0.0 else 0.0
        return out


def estimate_many(est, site, P, Z):
    """:meth:`GainEstimator.gains` for a block of panels at one site: ``P`` and ``Z`` (n x K) their
    probabilities and scores; returns n x markers estimated gains (every marker, candidates or
    not: the caller picks). An estimate only, as the one-panel form."""
    np = est.np
    ps = np.einsum("msk,nk->nms", est.sp, P)  # (n, M, S)
    z = Z[:, None, None, :] + est._vectors(site)[None]  # (n, M, S, K)
    z -= z.max(axis=3, keepdims=True)
    e = np.exp(z)
    q = e / e.sum(axis=3, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(q > 0, q * np.log2(np.where(q > 0, q, 1.0)), 0.0).sum(axis=3)  # (n, M, S)
        h0 = -np.where(P > 0, P * np.log2(np.where(P > 0, P, 1.0)), 0.0).sum(axis=1)
    exp_h = np.where(ps > 0, ps * h, 0.0).sum(axis=2)
    return np.maximum(0.0, h0[:, None] - exp_h)


class StatesEvaluator(VectorEvaluator):
    """:class:`VectorEvaluator` for a block of panels given as states dicts (any markers, any order).

    Each panel's score is its site's base row plus the vector of each of its (marker, state)
    pairs added in the panel's own order, as :meth:`CompactModel.scores` adds them (a pair whose
    vector the tables lack adds a zero row: ``x + 0.0 == x``); the surprises likewise from zeros;
    then the same softmax and status rules as :meth:`VectorEvaluator.evaluate`. So the scores,
    probabilities and statuses are the scalar path's bit for bit.
    """

    def __init__(self, np, model):
        super().__init__(np, model, [])
        t = model.tables
        K = self.K
        self.pairs = {}  # (marker, state) -> row of self.pair_vec / self.pair_sur (0: nothing)
        vec, sur, site_dep = [None], [(0.0,) * K], []
        for m in model.markers:
            for s in marker_states(m):
                self.pairs[(m, s)] = len(vec)
                vec.append((m, s))
                sur.append(t.surprise[(m, s)])
                site_dep.append(m in t.site_dependent)
        # per site group, every pair's vector (the group's own for a site-dependent feature)
        self.pair_vec = np.zeros((len(SITE_GROUPS), len(vec), K))
        for g, group in enumerate(SITE_GROUPS):
            site = next((s for s, grp in SITE_GROUP_OF.items() if grp == group), None)
            for i, pair in enumerate(vec[1:], 1):
                v = t.vector(pair[0], pair[1], site)
                if v is not None:
                    self.pair_vec[g, i] = v
        self.pair_sur = np.array(sur, dtype=float)
        self.ki67_rows = np.array([i for (m, _), i in self.pairs.items() if m == "Ki67"], np.int64)

    def rows_of(self, states_list):
        """n x L pair rows of the panels (0 padding), or None if a pair is not the model's."""
        np = self.np
        pairs = self.pairs
        L = max((len(st) for st in states_list), default=0)
        ids = np.zeros((len(states_list), L), np.int64)
        for i, st in enumerate(states_list):
            row = [pairs.get(item, -1) for item in st.items()]
            if -1 in row:
                return None
            ids[i, :len(row)] = row
        return ids

    def evaluate_states(self, states_list, sites):
        """``(scores, proba, atypical, ok)`` (n x K, n x K, masks) of the panels ``states_list`` at
        canonical ``sites``; None when a panel holds a pair outside the model's tables."""
        np = self.np
        ids = self.rows_of(states_list)
        if ids is None:
            return None
        n, K = ids.shape[0], self.K
        rows = self._site_rows(sites)
        groups = self.site_group[rows]
        z = self.base[rows]  # a copy
        s = np.zeros((n, K))
        for j in range(ids.shape[1]):
            ix = ids[:, j]
            z += self.pair_vec[groups, ix]
            s += self.pair_sur[ix]
        n_states = (ids > 0).sum(axis=1)
        ki67 = np.isin(ids, self.ki67_rows).any(axis=1) if ids.size else np.zeros(n, bool)
        mx = z.max(axis=1)
        e = np.fromiter(map(math.exp, (z - mx[:, None]).ravel().tolist()), float, n * K).reshape(n, K)
        p = e / self._row_sums(e)[:, None]
        pairs = self.pairs

        def present(m):
            rows = [i for (mk, _), i in pairs.items() if mk == m]
            return np.isin(ids, rows).any(axis=1) if ids.size and rows else np.zeros(n, bool)

        held = rules.untested_majority_many(np, self.model, p, sites, present)
        atypical, ok = rules.status_many(np, self.thresholds, self.counterpart, p, s, n_states, ki67,
                                         self.quantiles, self.levels, held)
        return z, p, atypical, ok


_LN2 = math.log(2.0)


class ApproxGains:
    """Expected information gains of every stain and askable finding for a block of panels at
    one site, in closed form with matrix products: an estimate (within ~1e-14 of the exact
    figures on the shipped model), for the caller to certify (:func:`decided`) before use.

    After an outcome with score vector ``v``, the posterior is ``q = p * E / a`` with
    ``E = exp(v - max v)`` and ``a = p . E``, so its entropy in bits is
    ``log2 a - (sum_k p_k E_k log2 p_k + sum_k p_k E_k (v_k - max v) / ln 2) / a``: three
    products of the block's probabilities with tables of the outcomes (``P``, ``E``,
    ``E * (v - max v)``), instead of a softmax per outcome.
    """

    def __init__(self, np, model):
        self.np = np
        self.model = model
        self._site = {}
        self.names = None

    def _tables(self, site):
        hit = self._site.get(site)
        if hit is None:
            np = self.np
            V, P, probes = gain_rows(np, self.model, site)
            names = list(probes)
            if self.names is None:
                self.names = names
            Vs = V - V.max(axis=1, keepdims=True)
            E = np.exp(Vs)
            S = np.zeros((V.shape[0], len(names)))
            for j, name in enumerate(names):
                S[probes[name], j] = 1.0
            hit = self._site[site] = (np.concatenate([P, E, E * Vs]).T.copy(), E.T.copy(), S)
        return hit

    def gains(self, site, p):
        """``(G, ok)``: ``G`` n x ``names`` estimated gains (>= 0) of the panels whose probabilities
        are the rows of ``p``, at ``site``; ``ok`` False for a row the estimate cannot vouch for
        (a posterior normaliser near underflow, a figure not finite)."""
        np = self.np
        M, ET, S = self._tables(site)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            lp = np.where(p > 0, np.log2(np.where(p > 0, p, 1.0)), 0.0)
            plp = p * lp
            h0 = -plp.sum(axis=1)
            R = S.shape[0]
            X = p @ M
            ps, a, c = X[:, :R], X[:, R:2 * R], X[:, 2 * R:]
            b = plp @ ET
            H = np.log2(a) - (b + c / _LN2) / a
            term = np.where(ps > 0, ps * H, 0.0)
            G = h0[:, None] - term @ S
        ok = np.isfinite(G).all(axis=1) & (a > 1e-250).all(axis=1) & np.isfinite(p).all(axis=1)
        return np.where(G > 0, G, 0.0), ok


def decided(np, G, stains, findings, tests, *, top, floor, tol, decimals):
    """Rows of estimated gains ``G`` (n x names, as :meth:`ApproxGains.gains`) whose next-stain and
    next-finding lists come out the same from any figures within ``tol`` of these.

    Those lists compare each gain with ``floor`` (the smallest gain listed), rank the candidate
    stains (``stains``: n x names mask) by gain then name and the site majority's tests among
    them (``tests``: n x names mask) by gain, and print each gain rounded to ``decimals``;
    ``findings`` (a names mask) are the askable findings, compared with ``floor`` and rounded.
    So a row is decided when no candidate's gain is within ``tol`` of ``floor`` or of a rounding
    midpoint, no two of the ``top + 2`` largest candidate stains (from ``floor - tol`` up) are
    within ``2 tol`` of each other, nor any two tests. (A finding's comparison with the best
    stain listed is left to the caller, who has that list.)
    """
    with np.errstate(invalid="ignore"):
        return _decided(np, G, stains, findings, tests, top, floor, tol, decimals)


def _decided(np, G, stains, findings, tests, top, floor, tol, decimals):
    inf = np.inf
    live = stains | findings[None, :]
    scale = 10.0 ** decimals
    r = G * scale
    near = (np.abs(G - floor) <= tol) | (np.abs(r - np.floor(r) - 0.5) <= tol * scale)
    bad = (near & live).any(axis=1)
    g = np.where(stains, G, -inf)
    k = min(top + 2, g.shape[1])
    if k >= 2:
        s = -np.sort(-g, axis=1)[:, :k]
        gap = s[:, :-1] - s[:, 1:]
        bad |= ((gap <= 2 * tol) & (s[:, :-1] >= floor - tol) & np.isfinite(s[:, 1:])).any(axis=1)
    tt = tests & stains
    if tt.any():
        s = -np.sort(-np.where(tt, G, -inf), axis=1)
        gap = s[:, :-1] - s[:, 1:]
        bad |= ((gap <= 2 * tol) & np.isfinite(s[:, 1:])).any(axis=1)
    return ~bad
