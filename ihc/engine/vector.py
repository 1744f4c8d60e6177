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

__all__ = ["VectorEvaluator"]


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
        e = np.array(list(map(math.exp, (z - mx[:, None]).ravel().tolist()))).reshape(n, K)
        t = self._row_sums(e)
        p = e / t[:, None]
        atypical, ok = rules.status_many(np, self.thresholds, self.counterpart, p, s, n_states, ki67,
                                         self.quantiles, self.levels)
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
