"""Generate the training cohort from the knowledge base.

Each generated case is a tumour of a known diagnosis (and subtype), whose true
state for every marker is drawn from the pooled literature rates; a work-up of
3-9 stains (sometimes fewer or more) is then chosen as real work-ups order them,
independently of the diagnosis (so that a missing stain carries no information) except for
the added diagnoses that a stain tests for (``workup.csv``: a Kaposi sarcoma's work-up usually
includes HHV8, so a panel without it says Kaposi sarcoma was not considered),
a small rate of technical false results is applied, and Ki-67 is reported in
some cases. Every choice is read from ``training_data/cohort_recipe.json``.

>>> from ihc.knowledge import load_knowledge                  # doctest: +SKIP
>>> panels, labels = generate_cohort(load_knowledge(), n_per_class=10)  # doctest: +SKIP
>>> len(panels) == len(labels) == 140                         # doctest: +SKIP
True
"""

from __future__ import annotations

import numpy as np

from .markers import KI67_BINS, LOSS_MARKERS

__all__ = ["generate_cohort"]

_KI67_RANGES = {"low": (0.0, 5.0), "mid": (5.0, 15.0), "high": (15.0, 90.0)}


def generate_cohort(kb, n_per_class=None, seed=None):
    """Return ``(panels, labels)``: panels as dicts of canonical marker -> value.

    Parameters
    ----------
    kb : ihc.knowledge.Knowledge
    n_per_class : int, optional
        Cases per diagnosis (default: the recipe's ``cases_per_diagnosis``).
    seed : int, optional
        Random seed (default: the recipe's ``seed``). Same seed, same cohort.
    """
    rec = kb.recipe
    n_default = rec["cases_per_diagnosis"]
    n_default = n_default["value"] if isinstance(n_default, dict) else n_default
    n_per_class = int(n_per_class or n_default)
    rng = np.random.default_rng(rec["seed"] if seed is None else seed)
    stains = [m for m in kb.markers if m != "Ki67"]
    w = np.array([float(rec["marker_order_weight"].get(m, 1.0)) for m in stains])
    w = w / w.sum()
    sizes = np.array(rec["panel_size"]["sizes"])
    size_w = np.array(rec["panel_size"]["weights"], dtype=float)
    size_w = size_w / size_w.sum()
    eps = rec["technical_false_rate"]["value"]
    ki67_rate = rec["ki67_rate"]["value"]
    workup = _workup(kb, stains, w)
    # a diagnosis's work-up groups, all ordered now and then to exclude it in the work-up of
    # another diagnosis (a negative FDC panel in an inflammatory spindle-cell tumour)
    rates = {owner: max(g[3] for g in groups) for owner, groups in workup.items()}
    exclusion = [(owner, rates[owner], [(g[0], g[1]) for g in groups])
                 for owner, groups in workup.items() if rates[owner] > 0]

    panels, labels = [], []
    for dx in kb.diagnoses:
        mix = kb.mixture(dx)
        sub_names = [s for s, _ in mix]
        sub_p = np.array([p for _, p in mix])
        sub_p = sub_p / sub_p.sum()
        # per-subtype tables
        tables = {}
        for sub in sub_names:
            tables[sub] = (
                np.array([kb.rate(dx, m, sub).p for m in stains]),
                np.array([kb.rate(dx, m, sub).focal for m in stains]),
                np.array(kb.ki67_shares(dx, sub)),
            )
        subs = rng.choice(len(sub_names), size=n_per_class, p=sub_p)
        ks = rng.choice(sizes, size=n_per_class, p=size_w)
        for i in range(n_per_class):
            p_pos, p_focal, ki = tables[sub_names[subs[i]]]
            k = int(min(ks[i], len(stains)))
            chosen = rng.choice(len(stains), size=k, replace=False, p=w)
            for idx, wt, p_in, _ in workup.get(dx, ()):  # a diagnosis that its own stains test for:
                # each group of them is usually in its work-up (groups drawn independently)
                if not set(chosen.tolist()) & set(idx) and rng.random() < p_in:
                    chosen = _order(rng, chosen, idx, wt)
            for owner, rate, groups in exclusion:
                if owner != dx and rng.random() < rate:
                    for idx, wt in groups:
                        chosen = _order(rng, chosen, idx, wt)
            chosen.sort()
            panel = {}
            for j in chosen:
                positive = rng.random() < p_pos[j]
                if rng.random() < eps:
                    positive = not positive
                m = stains[j]
                if m in LOSS_MARKERS:
                    panel[m] = "lost" if positive else "retained"
                elif positive:
                    panel[m] = "focal" if rng.random() < p_focal[j] else "pos"
                else:
                    panel[m] = "neg"
            if rng.random() < ki67_rate:
                b = KI67_BINS[rng.choice(3, p=ki / ki.sum())]
                lo, hi = _KI67_RANGES[b]
                panel["Ki67"] = round(float(rng.uniform(lo, hi)), 1)
            panels.append(panel)
            labels.append(dx)
    return panels, labels


def _order(rng, chosen, idx, wt):
    """``chosen`` with one stain of a work-up group ordered (unless one is there already)."""
    if set(chosen.tolist()) & set(idx):
        return chosen
    return np.append(chosen, idx[rng.choice(len(idx), p=wt)])


def _workup(kb, stains, w):
    """``{dx: [(stain indices, their order weights normalised, p_in_workup, exclusion_rate), ...]}`` from
    ``workup.csv``: the diagnoses (candidates of the differential) that a work-up names only when
    one of their testing stains was done. For these, whether such a stain was ordered is
    informative (the pathologist suspected the diagnosis), so their generated work-ups include one
    stain of each group with the group's probability, groups drawn independently (so that the
    additive model, which weighs each stain's presence on its own, is not asked to learn that two
    stains were one order). Every other stain stays missing at random, except that a diagnosis with
    an exclusion rate has all its groups ordered, at that rate, in the other diagnoses' work-ups
    (to exclude it)."""
    out = {}
    for dx, groups in kb.workup.items():
        if dx not in kb.diagnoses:
            continue
        for names, p_in, excl in groups:
            idx = [stains.index(m) for m in names if m in stains]
            if idx:
                wt = np.array([w[i] for i in idx])
                out.setdefault(dx, []).append((idx, wt / wt.sum(), float(p_in), float(excl)))
    return out
