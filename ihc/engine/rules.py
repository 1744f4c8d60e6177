"""The rules that read the score: typicality, status, the benign/malignant counterpart rule.

Each rule is defined once here, in two forms side by side: for one panel (plain floats,
standard library; :func:`typicality`, :func:`status`) and for a block of rows (numpy arrays;
:func:`typicality_max_many`, :func:`status_many`). The vector form makes the same elementwise
comparisons and arithmetic in the same order, so its answers equal the scalar form's
exactly; ``tests/test_batch.py`` checks it against :func:`ihc.classify` with ``==``.

Inputs are the model's thresholds (``ok_probability``, ``atypical_percentile``,
``settled_probability``), its atypicality quantiles and the counterpart table of
:mod:`ihc.diagnoses`.
"""

from __future__ import annotations

from collections import Counter

from ..diagnoses import COUNTERPART_FLOOR, COUNTERPARTS
from ..morphology import GRADE_FINDINGS

__all__ = ["interpolate_typicality", "typicality", "unresolved_counterpart", "status", "naive_bayes_status",
           "settled", "typicality_max_many", "counterpart_index", "status_many", "TEST_SENSITIVITY",
           "TEST_MEAN_OTHER", "TEST_OTHER", "SITE_MAJORITY_FLOOR", "site_competitors", "sensitive_specific",
           "majority_tests", "untested_majority", "untested_majority_many"]


#: A stain tests for a diagnosis when it is positive (or lost) in at least ``TEST_SENSITIVITY`` of
#: it, in at most ``TEST_MEAN_OTHER`` of the other diagnoses on average (KIT and DOG1 for GIST, not
#: h-caldesmon, which smooth-muscle tumours share) and in at most ``TEST_OTHER`` of the leading
#: other diagnosis: a result either way moves it.
TEST_SENSITIVITY = 0.85
TEST_MEAN_OTHER = 0.15
TEST_OTHER = 0.25

#: While the site's majority tumour (``site_majority`` of the model file: GIST in the stomach,
#: melanoma at the anus) keeps at least this probability and none of the stains that test for it
#: against the leading diagnosis is in the panel, no other diagnosis is named: a careful colleague
#: excludes it first (an anal CD117-positive tumour is not called GIST before SOX10).
SITE_MAJORITY_FLOOR = 0.05


# ------------------------------------------------------------------ the site's majority tumour

def site_competitors(model, site, k):
    """Class indices the site's published case mix names besides ``k`` (their site log prior is
    above the one shared by the diagnoses it does not name), or None (all others) when it names none."""
    lp = model.site_log_prior.get(site) if site else None
    if not lp:
        return None
    cache = model.derived.setdefault("site_competitors", {})
    if (site, k) not in cache:
        base = Counter(round(v, 9) for v in lp).most_common(1)[0][0]
        cache[(site, k)] = tuple(j for j, v in enumerate(lp) if j != k and round(v, 9) > base) or None
    return cache[(site, k)]


def sensitive_specific(model, dx, site=None):
    """Markers positive (or lost) in most of ``dx`` and few of the others (model marker order), once
    per model, diagnosis and site.

    "The others" are the tumours the site's published case mix names (a careful colleague excludes
    melanoma in the skin against leiomyosarcoma and Kaposi sarcoma, not against all 27 diagnoses), or
    every other diagnosis where the site names none."""
    cache = model.derived.setdefault("sensitive_specific", {})
    k = model.classes.index(dx)
    others = site_competitors(model, site, k)
    key = (dx, others)
    if key not in cache:
        idx = others if others is not None else tuple(j for j in range(len(model.classes)) if j != k)
        out = []
        for m in model.markers:
            if m == "Ki67":
                continue
            sh = model.typical_shares(m)  # (stored in the file: no diagnosis's rates are parsed)
            if sh[k] >= TEST_SENSITIVITY and sum(sh[j] for j in idx) / len(idx) <= TEST_MEAN_OTHER:
                out.append(m)
        cache[key] = out
    return cache[key]


def majority_tests(model, site):
    """``(k, tests, against)`` for the site's majority tumour, or None when the site has none.

    ``k`` is its class index, ``tests`` the markers of :func:`sensitive_specific` and
    ``against[j]`` the tuple of those that test it against class ``j`` (positive in at most
    ``TEST_OTHER`` of ``j``). Computed once per model and site."""
    maj = model.site_majority.get(site) if site else None
    if not maj or maj["diagnosis"] not in model.classes:
        return None
    cache = model.derived.setdefault("majority_tests", {})
    if site not in cache:
        dx = maj["diagnosis"]
        tests = tuple(sensitive_specific(model, dx, site))
        shares = {m: model.typical_shares(m) for m in tests}
        against = tuple(tuple(m for m in tests if shares[m][j] <= TEST_OTHER) for j in range(len(model.classes)))
        cache[site] = (model.classes.index(dx), tests, against)
    return cache[site]


def untested_majority(proba, states, table):
    """The class index of the site's majority tumour when the panel leaves it untested against the
    leading diagnosis (another one) while it keeps at least ``SITE_MAJORITY_FLOOR``, or None.

    ``table`` is :func:`majority_tests`' (None: the site has no majority tumour)."""
    if table is None:
        return None
    k, _tests, against = table
    top = max(range(len(proba)), key=proba.__getitem__)  # the first maximum
    if top == k or proba[k] < SITE_MAJORITY_FLOOR:
        return None
    t = against[top]
    if t and not any(m in states for m in t):
        return k
    return None


# ------------------------------------------------------------------ one panel

def interpolate_typicality(s, qs, levels):
    """Share of a class's generated panels at least as surprising as surprise ``s``.

    ``qs[i]`` is the surprise exceeded by a share ``levels[i]`` of the panels (levels
    ascending, qs descending); between two quantiles the share is interpolated linearly.
    """
    if s > qs[0]:
        return 0.0
    if s <= qs[-1]:
        return 1.0
    i = next(j for j in range(1, len(qs)) if s > qs[j])
    hi, lo = qs[i - 1], qs[i]
    frac = (hi - s) / (hi - lo) if hi > lo else 0.0
    return levels[i - 1] + frac * (levels[i] - levels[i - 1])


def typicality(surprises, quantiles, levels, has_states):
    """Per class: :func:`interpolate_typicality` of its surprise (1.0 without quantiles or states)."""
    return [1.0 if not qs or not has_states else interpolate_typicality(s, qs, levels)
            for s, qs in zip(surprises, quantiles)]




def unresolved_counterpart(classes, proba, states, findings=None):
    """The benign/malignant counterpart left open by a panel without Ki-67 or a grading finding
    (mitoses, necrosis, atypia), or None."""
    if states is None or "Ki67" in states:
        return None
    if findings and any(f in findings for f in GRADE_FINDINGS):
        return None
    top = classes[max(range(len(proba)), key=lambda k: proba[k])]
    other = COUNTERPARTS.get(top)
    if other and proba[classes.index(other)] >= COUNTERPART_FLOOR:
        return other
    return None


def status(thresholds, classes, proba, typ, n_states, states=None, findings=None, majority=None):
    """``"atypical"``, ``"ok"`` or ``"indeterminate"`` for one panel (``n_states`` counts the
    findings too: a case of morphology alone can be named); ``majority`` is the site's
    :func:`majority_tests` table (None: no site rule)."""
    if n_states and max(typ) < thresholds["atypical_percentile"]:
        return "atypical"
    if n_states and max(proba) >= thresholds["ok_probability"] \
            and not unresolved_counterpart(classes, proba, states, findings) \
            and untested_majority(proba, states or {}, majority) is None:
        return "ok"
    return "indeterminate"


def naive_bayes_status(thresholds, classes, proba, states, findings=None, majority=None):
    """The status rule for the literature naive Bayes (no typicality; its own ok threshold)."""
    th = thresholds.get("nb_ok_probability", thresholds["ok_probability"])
    return "ok" if (states or findings) and max(proba) >= th \
        and not unresolved_counterpart(classes, proba, states, findings) \
        and untested_majority(proba, states or {}, majority) is None else "indeterminate"


def settled(thresholds, status_, proba):
    """Whether an ``ok`` answer is sure enough that no next stain is proposed."""
    return status_ == "ok" and max(proba) >= thresholds.get("settled_probability", 0.97)


# ------------------------------------------------------------------ a block of rows

def typicality_max_many(np, s, quantiles, levels):
    """max over classes of :func:`typicality` for the n x K surprises ``s`` (rows with states)."""
    n = s.shape[0]
    typ_max = np.full(n, -np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for k, qs in enumerate(quantiles):
            if not qs:
                typ_max = np.maximum(typ_max, 1.0)
                continue
            sk = s[:, k]
            q = np.array(qs, dtype=float)
            lv = np.array(levels[:len(qs)], dtype=float)
            last = len(qs) - 1
            if last:
                # the first j >= 1 with s > qs[j], as interpolate_typicality's next()
                gt = sk[:, None] > q[None, 1:]
                i = np.where(gt.any(axis=1), gt.argmax(axis=1) + 1, 1)
            else:
                i = np.ones(n, np.int64)
            hi, lo = q[i - 1], q[np.minimum(i, last)]
            frac = np.where(hi > lo, (hi - sk) / (hi - lo), 0.0)
            l0, l1 = lv[i - 1], lv[np.minimum(i, last)]
            mid = l0 + frac * (l1 - l0)
            typ = np.where(sk > q[0], 0.0, np.where(sk <= q[-1], 1.0, mid))
            typ_max = np.maximum(typ_max, typ)
    return typ_max


def counterpart_index(np, classes):
    """Class index -> its counterpart's index (-1: none), for :func:`status_many`."""
    classes = list(classes)
    return np.array([classes.index(COUNTERPARTS[dx]) if dx in COUNTERPARTS else -1 for dx in classes], np.int64)


def untested_majority_many(np, model, p, sites, present):
    """n mask: the rows where :func:`untested_majority` is not None.

    ``p`` n x K probabilities, ``sites`` the rows' canonical sites, ``present(m)`` the n mask of
    rows whose panel has a state of marker ``m``."""
    n = p.shape[0]
    out = np.zeros(n, bool)
    top = p.argmax(axis=1)  # the first maximum
    site_of = None
    for site in dict.fromkeys(sites):
        table = majority_tests(model, site)
        if table is None:
            continue
        k, tests, against = table
        if site_of is None:
            site_of = np.asarray(sites, dtype=object)
        rows = (site_of == site) & (top != k) & (p[:, k] >= SITE_MAJORITY_FLOOR)
        if not tests or not rows.any():
            continue
        A = np.array([[m in a for m in tests] for a in against], bool)[top]  # n x tests
        P = np.stack([np.asarray(present(m), bool) for m in tests], axis=1)
        out |= rows & A.any(axis=1) & ~(A & P).any(axis=1)
    return out


def status_many(np, thresholds, counterpart, p, surprise, n_states, has_ki67, quantiles, levels, majority_open=None):
    """``(atypical, ok)`` boolean masks of :func:`status` for n rows.

    ``p`` n x K probabilities, ``surprise`` n x K, ``n_states`` states per row, ``has_ki67``
    whether the row has a Ki-67 state, ``counterpart`` from :func:`counterpart_index`,
    ``majority_open`` the mask of :func:`untested_majority_many` (None: no site rule).
    """
    n = p.shape[0]
    th_atypical = thresholds["atypical_percentile"]
    has = n_states > 0
    # only whether the maximum typicality is below the threshold matters, so rows with a class
    # whose typicality is at least the threshold for sure skip the interpolation: a surprise at
    # most qs[j] gives at least levels[j] (levels ascending, qs descending: the interpolation
    # adds a share >= 0 to the level at its upper quantile), j the first level >= the threshold
    need = has.copy()
    if th_atypical <= 1.0:
        for k, qs in enumerate(quantiles):
            if not qs:
                need[:] = False
                break
            lv = levels[:len(qs)]
            j = len(qs) - 1
            if all(a <= b for a, b in zip(lv, lv[1:])) and all(a >= b for a, b in zip(qs, qs[1:])):
                j = next((i for i, level in enumerate(lv) if level >= th_atypical), j)
            need &= ~(surprise[:, k] <= qs[j])
    typ_max = np.full(n, np.inf)  # rows not interpolated: not atypical
    sel = np.flatnonzero(need)
    if sel.size:
        typ_max[sel] = typicality_max_many(np, surprise[sel], quantiles, levels)
    pmax = p.max(axis=1)
    top = p.argmax(axis=1)  # the first maximum, as max(range(K), key=...)
    other = counterpart[top]
    open_ = ~has_ki67 & (other >= 0) & (p[np.arange(n), np.maximum(other, 0)] >= COUNTERPART_FLOOR)
    atypical = has & (typ_max < th_atypical)
    ok = ~atypical & has & (pmax >= thresholds["ok_probability"]) & ~open_
    if majority_open is not None:
        ok &= ~majority_open
    return atypical, ok
