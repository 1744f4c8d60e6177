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

from ..diagnoses import COUNTERPART_FLOOR, COUNTERPARTS
from ..morphology import GRADE_FINDINGS

__all__ = ["interpolate_typicality", "typicality", "unresolved_counterpart", "status", "naive_bayes_status",
           "settled", "typicality_max_many", "counterpart_index", "status_many"]


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


def status(thresholds, classes, proba, typ, n_states, states=None, findings=None):
    """``"atypical"``, ``"ok"`` or ``"indeterminate"`` for one panel (``n_states`` counts the
    findings too: a case of morphology alone can be named)."""
    if n_states and max(typ) < thresholds["atypical_percentile"]:
        return "atypical"
    if n_states and max(proba) >= thresholds["ok_probability"] \
            and not unresolved_counterpart(classes, proba, states, findings):
        return "ok"
    return "indeterminate"


def naive_bayes_status(thresholds, classes, proba, states, findings=None):
    """The status rule for the literature naive Bayes (no typicality; its own ok threshold)."""
    th = thresholds.get("nb_ok_probability", thresholds["ok_probability"])
    return "ok" if (states or findings) and max(proba) >= th \
        and not unresolved_counterpart(classes, proba, states, findings) else "indeterminate"


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


def status_many(np, thresholds, counterpart, p, surprise, n_states, has_ki67, quantiles, levels):
    """``(atypical, ok)`` boolean masks of :func:`status` for n rows.

    ``p`` n x K probabilities, ``surprise`` n x K, ``n_states`` states per row, ``has_ki67``
    whether the row has a Ki-67 state, ``counterpart`` from :func:`counterpart_index`.
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
    return atypical, ok
