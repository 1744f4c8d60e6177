"""Accuracy and calibration measures over labelled predictions (standard library only).

A prediction is a dict with ``truth`` (a diagnosis label, possibly outside the
model's classes), ``proba`` (class -> probability) and ``status``.

>>> preds = [{"truth": "a", "proba": {"a": 0.8, "b": 0.2}, "status": "ok"},
...          {"truth": "b", "proba": {"a": 0.6, "b": 0.4}, "status": "ok"},
...          {"truth": "b", "proba": {"a": 0.3, "b": 0.7}, "status": "ok"}]
>>> round(summarise(preds, ["a", "b"])["top1"], 3)
0.667
"""

from __future__ import annotations

import math
import random

from .exceptions import InputError

__all__ = ["summarise", "risk_coverage", "reliability_bins", "expected_calibration_error", "brier_score",
           "paired_bootstrap", "BOOTSTRAP_METRICS"]

#: Statuses under which no diagnosis can be named, whatever the probability threshold.
NEVER_ANSWERED = ("atypical", "error")


def _ranked(proba):
    return sorted(proba, key=lambda c: (-proba[c], c))


def _scored(inset):
    """Per in-set case: top-1 right, truth in the top 3, top-1 confidence (as :func:`summarise` counts them).

    A case with status ``error`` (an unreadable panel) is a miss for top-1 and top-3.
    """
    top1 = [p.get("status") != "error" and _ranked(p["proba"])[0] == p["truth"] for p in inset]
    top3 = [p.get("status") != "error" and p["truth"] in _ranked(p["proba"])[:3] for p in inset]
    conf = [max(p["proba"].values()) for p in inset]
    return top1, top3, conf


def expected_calibration_error(confidences, correct, n_bins=10):
    """ECE of the top-1 confidence: the weighted gap between confidence and accuracy in 10 equal bins."""
    n = len(confidences)
    if n == 0:
        return float("nan")
    bins = [[] for _ in range(n_bins)]
    for c, ok in zip(confidences, correct):
        i = min(int(c * n_bins), n_bins - 1)
        bins[i].append((c, ok))
    ece = 0.0
    for b in bins:
        if b:
            conf = sum(c for c, _ in b) / len(b)
            acc = sum(ok for _, ok in b) / len(b)
            ece += len(b) / n * abs(conf - acc)
    return ece


def reliability_bins(confidences, correct, n_bins=10):
    """Rows ``(bin_low, bin_high, n, mean_confidence, accuracy)`` of the reliability diagram."""
    rows = []
    for i in range(n_bins):
        lo, hi = i / n_bins, (i + 1) / n_bins
        b = [(c, ok) for c, ok in zip(confidences, correct)
             if (lo <= c < hi) or (i == n_bins - 1 and c == 1.0)]
        if b:
            rows.append((lo, hi, len(b), sum(c for c, _ in b) / len(b), sum(ok for _, ok in b) / len(b)))
        else:
            rows.append((lo, hi, 0, None, None))
    return rows


def brier_score(probas, truths, classes):
    """Multi-class Brier score: mean over cases of the summed squared error over classes."""
    if not probas:
        return float("nan")
    tot = 0.0
    for p, t in zip(probas, truths):
        tot += sum((p.get(c, 0.0) - (1.0 if c == t else 0.0)) ** 2 for c in classes)
    return tot / len(probas)


def risk_coverage(preds, classes, thresholds=None):
    """Accuracy and coverage of the answers whose top probability reaches each threshold.

    Coverage is the share of in-set cases answered; accuracy counts an answer
    on an out-of-set case as wrong. A case left open between benign and malignant
    counterparts (``counterpart_open``: leiomyoma/LMS, schwannoma/MPNST without Ki-67)
    is never answered. A case whose status is ``atypical`` (or
    ``error``: an unreadable panel) is never answered, as the status rules
    never name a diagnosis for it.

    >>> preds = [{"truth": "a", "proba": {"a": 0.9, "b": 0.1}, "status": "ok"},
    ...          {"truth": "b", "proba": {"a": 0.7, "b": 0.3}, "status": "indeterminate"},
    ...          {"truth": "x", "proba": {"a": 0.95, "b": 0.05}, "status": "atypical"}]
    >>> [(r["threshold"], r["answered"], r["coverage"], r["accuracy"]) for r in risk_coverage(preds, ["a", "b"], [0.5, 0.8])]
    [(0.5, 2, 1.0, 0.5), (0.8, 1, 0.5, 1.0)]
    """
    thresholds = thresholds or [i / 20 for i in range(0, 20)] + [0.975, 0.99]
    inset = [p for p in preds if p["truth"] in classes]
    rows = []
    for t in thresholds:
        answered = [p for p in preds if p.get("status") not in NEVER_ANSWERED and not p.get("counterpart_open")
                    and max(p["proba"].values()) >= t]
        ans_in = [p for p in answered if p["truth"] in classes]
        right = sum(_ranked(p["proba"])[0] == p["truth"] for p in answered)
        rows.append({
            "threshold": t,
            "answered": len(answered),
            "coverage": len(ans_in) / len(inset) if inset else float("nan"),
            "accuracy": right / len(answered) if answered else float("nan"),
        })
    return rows


def summarise(preds, classes):
    """Top-1/top-3 accuracy, per-diagnosis sensitivity and PPV, confusion, ECE, Brier, status counts.

    Figures over in-set cases (truth among ``classes``); out-of-set cases are
    reported by how they were handled. Sensitivity counts in-set cases only;
    PPV counts every case whose top-1 is the diagnosis, so an out-of-set case
    ranked first as a diagnosis is a false positive for it. ``confusion`` is
    truth (rows) by top-1 (columns) over in-set cases; ``confusion_out_of_set``
    counts the top-1 of the out-of-set cases. A case with status ``error``
    (its panel could not be read) counts as a miss for top-1 and top-3 and is
    left out of the confusion matrix; its probabilities (uniform, as given by
    the caller) still enter calibration.
    """
    inset = [p for p in preds if p["truth"] in classes]
    outset = [p for p in preds if p["truth"] not in classes]
    n = len(inset)
    read = [p for p in inset if p.get("status") != "error"]
    top1, top3, conf = _scored(inset)
    labels = sorted({p["truth"] for p in inset} | {_ranked(p["proba"])[0] for p in read},
                    key=lambda c: classes.index(c) if c in classes else len(classes))
    confusion = {t: {c: 0 for c in labels} for t in labels}
    for p in read:
        confusion[p["truth"]][_ranked(p["proba"])[0]] += 1
    per_dx = {}
    for c in classes:
        tp = sum(1 for p in read if p["truth"] == c and _ranked(p["proba"])[0] == c)
        n_true = sum(1 for p in inset if p["truth"] == c)
        n_pred = sum(1 for p in preds if p.get("status") != "error" and _ranked(p["proba"])[0] == c)
        if n_true or n_pred:
            per_dx[c] = {
                "n": n_true,
                "sensitivity": tp / n_true if n_true else None,
                "ppv": tp / n_pred if n_pred else None,
            }
    confusion_out = {}
    for p in outset:
        if p.get("status") == "error":
            continue
        c = _ranked(p["proba"])[0]
        confusion_out[c] = confusion_out.get(c, 0) + 1
    ok = [p for p in preds if p.get("status") == "ok"]
    ok_in = [p for p in ok if p["truth"] in classes]
    ok_right = sum(1 for p in ok if p.get("diagnosis") == p["truth"])
    status_counts = {}
    for p in inset:
        status_counts[p.get("status")] = status_counts.get(p.get("status"), 0) + 1
    out_status = {}
    for p in outset:
        out_status[p.get("status")] = out_status.get(p.get("status"), 0) + 1
    return {
        "n": n,
        "n_out_of_set": len(outset),
        "top1": sum(top1) / n if n else float("nan"),
        "top1_right": sum(top1),
        "top3": sum(top3) / n if n else float("nan"),
        "ece": expected_calibration_error(conf, top1),
        "brier": brier_score([p["proba"] for p in inset], [p["truth"] for p in inset], classes),
        "log_loss": (sum(-math.log(max(p["proba"].get(p["truth"], 0.0), 1e-12)) for p in inset) / n) if n else float("nan"),
        "per_diagnosis": per_dx,
        "confusion": confusion,
        "confusion_out_of_set": confusion_out,
        "ok_accuracy": ok_right / len(ok) if ok else float("nan"),
        "ok_coverage": len(ok_in) / n if n else float("nan"),
        "ok_answered": len(ok),
        "ok_right": ok_right,
        "status_in_set": status_counts,
        "status_out_of_set": out_status,
        "out_of_set_not_ok": (sum(1 for p in outset if p.get("status") != "ok") / len(outset)) if outset else float("nan"),
    }


#: The figures :func:`paired_bootstrap` can compare (keys of :func:`summarise`).
BOOTSTRAP_METRICS = ("top1", "top3", "ece", "brier")


def _percentile(sorted_values, q):
    """Linear interpolation between closest ranks (numpy's default ``percentile`` method)."""
    h = (len(sorted_values) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def paired_bootstrap(preds_a, preds_b, classes, metrics=BOOTSTRAP_METRICS, n=2000, seed=0, level=0.95):
    """Difference ``a - b`` of top-1, top-3, ECE and Brier, with a paired bootstrap percentile interval.

    The in-set cases (truth among ``classes``, the cases :func:`summarise`
    counts) are resampled with replacement ``n`` times; on each resample
    every metric is computed for both methods on the *same* cases and the
    difference taken. The interval is the ``(1 - level) / 2`` and
    ``(1 + level) / 2`` percentiles of those differences. The estimates
    are those of :func:`summarise`; the ECE of a resample is
    :func:`expected_calibration_error` of its cases, the Brier score the mean
    of their :func:`brier_score` terms.

    Parameters
    ----------
    preds_a, preds_b : list of dict
        Predictions of two methods on the same cases, in the same order
        (``truth``, ``proba``, ``status``, as for :func:`summarise`).
    classes : list of str
        The model's diagnoses; cases whose truth is outside are left out.
    metrics : sequence of str
        Among ``"top1"``, ``"top3"``, ``"ece"``, ``"brier"``.
    n : int
        Number of resamples (0: estimates only, no interval).
    seed : int
        Seed of ``random.Random``: the same seed gives the same interval.
    level : float
        Coverage of the interval (0.95: the 2.5th and 97.5th percentiles).

    Returns
    -------
    dict
        ``{metric: {"a", "b", "difference", "low", "high"}}``; ``difference``
        is ``a - b`` on all the in-set cases, ``low`` and ``high`` the interval
        (None when ``n`` is 0; NaN everywhere when there is no in-set case).

    Raises
    ------
    InputError
        The two lists are not the same cases (length or truths differ), a
        metric is unknown, ``n`` is negative or ``level`` is outside (0, 1).

    Examples
    --------
    >>> a = [{"truth": "a", "proba": {"a": 0.9, "b": 0.1}, "status": "ok"},
    ...      {"truth": "b", "proba": {"a": 0.3, "b": 0.7}, "status": "ok"},
    ...      {"truth": "b", "proba": {"a": 0.6, "b": 0.4}, "status": "ok"}]
    >>> b = [{"truth": "a", "proba": {"a": 0.6, "b": 0.4}, "status": "ok"},
    ...      {"truth": "b", "proba": {"a": 0.6, "b": 0.4}, "status": "ok"},
    ...      {"truth": "b", "proba": {"a": 0.6, "b": 0.4}, "status": "ok"}]
    >>> r = paired_bootstrap(a, b, ["a", "b"], metrics=("top1", "brier"), n=500, seed=1)
    >>> round(r["top1"]["difference"], 3), round(r["brier"]["difference"], 3)
    (0.333, -0.28)
    >>> r["top1"]["low"] <= r["top1"]["difference"] <= r["top1"]["high"]
    True
    """
    unknown = [m for m in metrics if m not in BOOTSTRAP_METRICS]
    if unknown:
        raise InputError(f"paired_bootstrap: unknown metric {unknown[0]!r} "
                         f"(choose from {', '.join(BOOTSTRAP_METRICS)})")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InputError(f"paired_bootstrap: the number of resamples must be an integer >= 0, not {n!r}")
    if not 0 < level < 1:
        raise InputError(f"paired_bootstrap: level must be between 0 and 1, not {level!r}")
    a = [p for p in preds_a if p["truth"] in classes]
    b = [p for p in preds_b if p["truth"] in classes]
    if len(preds_a) != len(preds_b) or [p["truth"] for p in a] != [p["truth"] for p in b]:
        raise InputError("paired_bootstrap: the two prediction lists are not the same cases in the same order")
    k = len(a)
    if k == 0:
        nan = float("nan")
        return {m: {"a": nan, "b": nan, "difference": nan, "low": nan, "high": nan} for m in metrics}
    scores = []
    for preds in (a, b):
        top1, top3, conf = _scored(preds)
        brier = [brier_score([p["proba"]], [p["truth"]], classes) for p in preds]
        scores.append((top1, top3, conf, brier))

    def figures(s, idx):
        top1, top3, conf, brier = s
        out = {}
        for m in metrics:
            if m == "top1":
                out[m] = sum(top1[i] for i in idx) / k
            elif m == "top3":
                out[m] = sum(top3[i] for i in idx) / k
            elif m == "ece":
                out[m] = expected_calibration_error([conf[i] for i in idx], [top1[i] for i in idx])
            else:
                out[m] = sum(brier[i] for i in idx) / k
        return out

    every = range(k)
    fa, fb = figures(scores[0], every), figures(scores[1], every)
    diffs = {m: [] for m in metrics}
    rng = random.Random(seed)
    for _ in range(n):
        idx = rng.choices(every, k=k)
        ra, rb = figures(scores[0], idx), figures(scores[1], idx)
        for m in metrics:
            diffs[m].append(ra[m] - rb[m])
    out = {}
    for m in metrics:
        d = sorted(diffs[m])
        out[m] = {"a": fa[m], "b": fb[m], "difference": fa[m] - fb[m],
                  "low": _percentile(d, (1 - level) / 2) if n else None,
                  "high": _percentile(d, (1 + level) / 2) if n else None}
    return out
