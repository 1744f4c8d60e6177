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

__all__ = ["summarise", "risk_coverage", "reliability_bins", "expected_calibration_error", "brier_score"]

#: Statuses under which no diagnosis can be named, whatever the probability threshold.
NEVER_ANSWERED = ("atypical", "error")


def _ranked(proba):
    return sorted(proba, key=lambda c: (-proba[c], c))


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
    top1 = [p.get("status") != "error" and _ranked(p["proba"])[0] == p["truth"] for p in inset]
    top3 = [p.get("status") != "error" and p["truth"] in _ranked(p["proba"])[:3] for p in inset]
    conf = [max(p["proba"].values()) for p in inset]
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
