"""The scikit-learn model: estimator, training from ``training_data/``, export and persistence.

Training (``ihc train``) generates the cohort from the knowledge base, fits a
multinomial logistic regression on one-hot marker states, chooses its
regularisation and temperature on the real development cases, sets the status
thresholds from their risk-coverage curve, and writes:

- ``models/ihc_model.joblib``: the fitted :class:`~sklearn.pipeline.Pipeline`
  (the model of record; a pickle: load only a trusted file);
- ``models/ihc_model.json``: the compact form the classify path evaluates
  with the standard library (:mod:`ihc.engine`);
- ``models/model_card.json``: version, classes, markers, training-data
  digest, metrics, thresholds, date and the sha256 of both files;
- ``models/ihc_model.joblib.sha256``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from .engine import FORMAT_VERSION, READABLE_FORMATS, CompactModel, feature_names, panel_states, sha256_file
from .exceptions import ModelError, ModelIntegrityError
from .markers import KI67_BINS, LOSS_MARKERS, LOSS_STATES

__all__ = ["PanelEncoder", "IHCClassifier", "train", "load_joblib"]


class PanelEncoder(TransformerMixin, BaseEstimator):
    """One-hot encode panels (dicts of canonical marker -> value) as ``marker=state`` features.

    A stain not done has all its features at 0: missing, never negative.

    Parameters
    ----------
    markers : sequence of str
        The markers the model uses, in order.

    Examples
    --------
    >>> enc = PanelEncoder(markers=("SMA", "Ki67")).fit([{}])
    >>> enc.transform([{"SMA": "pos", "Ki67": 30}]).tolist()
    [[1.0, 0.0, 0.0, 0.0, 0.0, 1.0]]
    """

    def __init__(self, *, markers=("SMA", "desmin", "CD117", "CD34", "S100", "DOG1", "Ki67")):
        self.markers = markers

    def fit(self, X, y=None):
        self.markers_ = tuple(self.markers)
        self.feature_names_out_ = np.array(feature_names(self.markers_), dtype=object)
        self.n_features_in_ = 1
        return self

    def transform(self, X):
        check_is_fitted(self, "feature_names_out_")
        index = {f: j for j, f in enumerate(self.feature_names_out_)}
        out = np.zeros((len(X), len(index)))
        for i, panel in enumerate(X):
            for m, s in panel_states(panel, self.markers_).items():
                out[i, index[f"{m}={s}"]] = 1.0
        return out

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_


class IHCClassifier(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression with a temperature on its scores.

    Parameters
    ----------
    C : float, default=0.3
        Inverse L2 regularisation strength.
    temperature : float, default=1.0
        Scores are divided by it before the softmax (>1 softens).
    max_iter : int, default=200
    class_prior : dict or None, default=None
        ``{class: prior}`` of the population the model is used on (any positive scale; classes not
        named keep 1). The cohort has as many cases of every class, so the fitted scores assume
        equal priors; given this, ``fit`` adds ``log(prior)`` to each class's intercept (the
        exact prior shift of a model fitted on balanced classes).
    tol : float, default=1e-8
        Passed to scikit-learn's ``LogisticRegression`` with the ``newton-cg`` solver: about
        ten Newton steps on the ~170 one-hot features, 2-3x faster than lbfgs at this size and
        closer to the optimum, which lets the cohort be large enough that its sampling noise
        no longer moves the choice of hyperparameters.
    warm_start : bool, default=False
        Start ``fit`` from this estimator's fitted ``coef_`` and ``intercept_`` (without the
        ``class_prior`` shift) when it has them, as scikit-learn's ``warm_start``. Started at
        the optimum of the same data, the solver takes no step (``n_iter_ == 0``):
        ``train(start_from=...)`` uses this to show that a shipped model is what its training
        data gives.

    Attributes
    ----------
    classes_ : ndarray
    coef_ : ndarray of shape (n_classes, n_features), or (1, n_features) for two classes
    intercept_ : ndarray
    n_features_in_ : int
    n_iter_ : ndarray of shape (1,)
        Newton steps the solver took.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 0], [0, 1], [1, 0], [0, 1]]); y = ["a", "b", "a", "b"]
    >>> IHCClassifier(C=1.0).fit(X, y).predict([[1, 0]]).tolist()
    ['a']
    """

    def __init__(self, *, C=0.3, temperature=1.0, max_iter=200, tol=1e-8, class_prior=None, warm_start=False):
        self.C = C
        self.temperature = temperature
        self.max_iter = max_iter
        self.tol = tol
        self.class_prior = class_prior
        self.warm_start = warm_start

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, accept_sparse="csr")
        if not (self.temperature > 0):
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        classes = unique_labels(y)
        if len(classes) < 2:
            raise ValueError(f"IHCClassifier needs samples of at least two classes; got 1 class ({classes[0]!r})")
        shift = None
        if self.class_prior:
            prior = dict(self.class_prior)
            bad = [c for c, v in prior.items() if not (v > 0)]
            if bad:
                raise ValueError(f"class_prior must be > 0; got {bad[0]!r}: {prior[bad[0]]!r}")
            shift = np.log(np.array([float(prior.get(c, 1.0)) for c in classes]))
            if len(classes) == 2:
                shift = None  # one score for two classes: the prior shift is not applied
        lr = LogisticRegression(C=self.C, solver="newton-cg", max_iter=self.max_iter, tol=self.tol,
                                warm_start=bool(self.warm_start))
        if self.warm_start and hasattr(self, "coef_"):
            if list(getattr(self, "classes_", [])) != list(classes) or self.coef_.shape[1] != X.shape[1]:
                raise ValueError("warm_start needs the same classes and features as the fitted estimator")
            lr.coef_ = np.array(self.coef_, dtype=float)
            lr.intercept_ = np.array(self.intercept_, dtype=float) - (shift if shift is not None else 0.0)
        lr.fit(X, y, sample_weight=sample_weight)
        self.classes_ = lr.classes_
        self.coef_ = lr.coef_
        self.intercept_ = lr.intercept_ if shift is None else lr.intercept_ + shift
        self.n_iter_ = lr.n_iter_
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def decision_function(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse="csr")
        d = np.asarray(X @ self.coef_.T + self.intercept_) / self.temperature
        return d.ravel() if d.shape[1] == 1 else d

    def predict_proba(self, X):
        d = self.decision_function(X)
        if d.ndim == 1:
            p1 = 1.0 / (1.0 + np.exp(-d))
            return np.column_stack([1 - p1, p1])
        d = d - d.max(axis=1, keepdims=True)
        e = np.exp(d)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


# --------------------------------------------------------------------------- helpers


def load_cases(path):
    """Read labelled real cases (JSON Lines, the ``real_cases_*.jsonl`` schema).

    Returns dicts with ``id``, ``diagnosis``, ``markers`` (canonical, model-ready),
    ``site`` (canonical or None) and ``source``.
    """
    from .sites import normalise_site

    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            c = json.loads(line)
            markers = {}
            for k, v in (c.get("markers") or {}).items():
                if k.startswith("other:"):
                    continue
                if k in LOSS_MARKERS:
                    v = LOSS_STATES.get(v, v)
                markers[k] = v
            site, _ = normalise_site(c.get("site"))
            out.append({"id": c["id"], "diagnosis": c["diagnosis"], "markers": markers,
                        "site": site, "source": c.get("source"), "ihc_text": c.get("ihc_text"),
                        "morphology": c.get("morphology"), "age": c.get("age"), "sex": c.get("sex")})
    return out


def _nb_tables(kb):
    """The plain literature naive Bayes: P(positive | dx) straight from the pooled table."""
    tables = {}
    for dx in kb.diagnoses:
        t = {}
        for m in kb.markers:
            if m == "Ki67":
                t[m] = dict(zip(KI67_BINS, kb.ki67_shares(dx)))
                continue
            p = min(max(kb.rate(dx, m).p, 0.01), 0.99)
            if m in LOSS_MARKERS:
                t[m] = {"lost": p, "retained": 1 - p}
            else:
                t[m] = {"pos": p, "focal": p, "neg": 1 - p}
        tables[dx] = t
    return tables


def _generative(kb):
    gen = {}
    for dx in kb.diagnoses:
        mix = []
        for sub, share in kb.mixture(dx):
            tab = {m: kb.state_probs(dx, m, sub) for m in kb.markers}
            mix.append([share, tab])
        gen[dx] = mix
    return gen


def _rates_for_notes(kb):
    out = {}
    for dx in kb.diagnoses:
        d = {}
        for m in kb.markers:
            if m == "Ki67":
                shares = kb.ki67_shares(dx)
                src, cit = kb.ki67_sources[(dx, "")]
                d[m] = {"low": shares[0], "mid": shares[1], "high": shares[2], "citation": cit or src, "source": src}
                continue
            # the rate the cohort is drawn with: the diagnosis's subtypes mixed by their shares
            # (leiomyoma's DOG1 is ~15%, all of it its oesophageal subtype with entrapped ICC)
            r = kb.rate(dx, m)
            mix = [(sub, share, kb.rate(dx, m, sub)) for sub, share in kb.mixture(dx)]
            p = sum(share * rs.p for _, share, rs in mix)
            focal = sum(share * rs.p * rs.focal for _, share, rs in mix) / p if p > 0 else r.focal
            d[m] = {"p": round(p, 4), "focal": round(focal, 3), "n": r.n, "basis": r.basis,
                    "citation": r.citation(), "source": "; ".join(dict.fromkeys(s for s, _ in r.sources if s))[:300]}
            subs = [[sub, round(rs.p, 4)] for sub, share, rs in mix
                    if sub and rs is not r and abs(rs.p - r.p) >= 0.1 and share * abs(rs.p - r.p) >= 0.01]
            if subs:
                d[m]["subtypes"] = subs  # the subtypes whose own rate moves the mixture
            if abs(p - r.p) >= 1e-4:
                d[m]["main"] = round(r.p, 4)  # the main entity's: what the site-majority rule reads
        out[dx] = d
    return out


def _atypical_quantiles(compact, kb, levels, n_per_class=8000):
    """Upper quantiles of each diagnosis's surprise over a dedicated generated sample."""
    from .cohort import generate_cohort

    panels, labels = generate_cohort(kb, n_per_class=n_per_class, seed=kb.recipe["seed"] + 1)
    by = {}
    for panel, dx in zip(panels, labels):
        st = panel_states(panel, compact.markers)
        by.setdefault(dx, []).append(compact.surprise(st, dx))
    q = {}
    for dx, vals in by.items():
        vals.sort(reverse=True)
        n = len(vals)
        q[dx] = [vals[min(n - 1, int(lv * n))] for lv in levels]
    return q


def _choose_grade_weight(compact, dev_in, recipe, quick):
    """The weight of the grade findings (mitoses, necrosis, atypia), chosen on dev log-loss over the
    dev cases that state at least one of them; the recipe's value when fewer than 10 do.

    Returns ``(model, selection)``: the model with the chosen weight (a new one, since a model's
    tables are built once) and the grid's figures for the card.
    """
    from .morphology import GRADE_FINDINGS, case_morphology, finding_codes

    rec = recipe["morphology"]
    cases = []
    for c in dev_in:
        f = finding_codes(case_morphology(c))
        if any(g in f for g in GRADE_FINDINGS):
            cases.append((panel_states(c["markers"], compact.markers), c["site"], f, c["diagnosis"]))
    if len(cases) < 10 or quick:
        return compact, [{"grade_weight": rec["grade_weight"], "dev_cases": len(cases), "chosen": "recipe"}]

    def with_weight(w):
        morph = dict(compact.data["morphology"])
        morph["weights"] = {**morph["weights"], "grade": w}
        return CompactModel({**compact.data, "morphology": morph})

    out = []
    best = None
    for w in rec["grade_weight_grid"]:
        cm = with_weight(w)
        nll = 0.0
        for st, site, f, dx in cases:
            p = cm.proba(st, site, f)
            nll -= math.log(max(p[cm.classes.index(dx)], 1e-12))
        nll /= len(cases)
        out.append({"grade_weight": w, "dev_cases": len(cases), "dev_log_loss": round(nll, 4)})
        if best is None or nll < best[0] - 1e-9:
            best = (nll, cm)
    return best[1], out


def distinct_rows(X, y):
    """The distinct (row, label) pairs of a one-hot cohort, as a sparse matrix, with their counts.

    Fitting the logistic regression on them with the counts as sample weights minimises the
    same objective as fitting every generated case (the loss is a sum over cases), on a
    fraction of the rows: small panels repeat many times in a generated cohort. Rows come out
    in sorted order, so the result is deterministic.

    >>> X = np.array([[1., 0.], [0., 1.], [1., 0.]]); y = np.array(["a", "b", "a"])
    >>> Xd, yd, w = distinct_rows(X, y)
    >>> Xd.toarray().tolist(), yd.tolist(), w.tolist()
    ([[0.0, 1.0], [1.0, 0.0]], ['b', 'a'], [1.0, 2.0])
    """
    from scipy import sparse

    classes, codes = np.unique(y, return_inverse=True)
    X = np.asarray(X)
    if len(classes) <= 256 and X.size and ((X == 0) | (X == 1)).all():
        # one-hot rows as packed bits plus the label byte, compared as one opaque value each: the
        # same distinct rows in the same (lexicographic) order as comparing the 0/1 columns, ~7x faster
        keyed = np.ascontiguousarray(np.hstack([np.packbits(X.astype(np.uint8), axis=1),
                                                codes.reshape(-1, 1).astype(np.uint8)]))
        _, first, counts = np.unique(keyed.view(np.dtype((np.void, keyed.shape[1]))).ravel(),
                                     return_index=True, return_counts=True)
        rows = keyed[first]
        uniq_x = np.unpackbits(rows[:, :-1], axis=1, count=X.shape[1])
        return sparse.csr_matrix(uniq_x.astype(np.float64)), classes[rows[:, -1]], counts.astype(np.float64)
    keyed = np.hstack([X.astype(np.int8, copy=False), codes.reshape(-1, 1).astype(np.int8)])
    uniq, counts = np.unique(keyed, axis=0, return_counts=True)
    return (sparse.csr_matrix(uniq[:, :-1].astype(np.float64)), classes[uniq[:, -1]],
            counts.astype(np.float64))


def train(training_dir=None, out_dir=None, *, quick=False, progress=None, start_from=None):
    """Rebuild the model from ``training_data/`` alone, deterministically.

    Parameters
    ----------
    training_dir : path, optional
        Default: the source tree's ``training_data/``.
    out_dir : path, optional
        Default: the source tree's ``models/``.
    quick : bool
        A small cohort and grid (for tests); the shipped model is never quick.
    progress : callable, optional
        Called with a short message at each step.
    start_from : path, optional
        A model directory (``model_card.json`` and ``ihc_model.joblib``, checked against each
        other): its chosen C, temperature and site-prior strength are the only grid points, and
        its fitted coefficients start the fit. Every other step runs as usual. A model that is
        the optimum of this training data is then reproduced with no solver step (the card's
        ``training.newton_steps`` is 0) in a fraction of a full ``train``; a model of other data
        is refitted to this data's optimum. The card's ``selection`` then holds that one point:
        the full grid's choice is not re-checked.

    Returns
    -------
    dict
        The model card.
    """
    from . import api  # status rules
    from .cohort import generate_cohort
    from .knowledge import (default_training_dir, gist_risk_rows, load_knowledge, morphology_tables, source_root,
                            training_data_digest)
    from .metrics import summarise

    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    training_dir = Path(training_dir or default_training_dir())
    out_dir = Path(out_dir or source_root() / "models")
    out_dir.mkdir(parents=True, exist_ok=True)
    kb = load_knowledge(training_dir)
    n_per = 300 if quick else None
    panels, labels = generate_cohort(kb, n_per_class=n_per)
    say(f"cohort: {len(panels)} generated cases, {len(kb.diagnoses)} diagnoses")
    encoder = PanelEncoder(markers=kb.markers).fit(panels)
    X, y, weight = distinct_rows(encoder.transform(panels), np.array(labels))
    say(f"cohort: {X.shape[0]} distinct (panel, diagnosis) rows, fitted with their counts as weights")
    from .knowledge import dev_case_files

    excluded = set(kb.recipe.get("selection_excludes", {}).get("files", []))
    dev = [c for path in dev_case_files(training_dir) if path.name not in excluded for c in load_cases(path)]
    dev_in = [c for c in dev if c["diagnosis"] in kb.diagnoses]

    def site_lp_for(strength):
        out = {}
        for site in kb.prior_sites:
            lp = kb.site_log_prior(site, strength=strength)
            out[site] = [lp[dx] for dx in kb.diagnoses]
        return out

    # what each site's prior is made of, for the evidence line's words: the diagnoses with a
    # published share there, and those that do not arise there
    site_kinds = {site: {"case_mix": sorted(kb.site_shares_published.get(site, {})),
                         "restricted": sorted(kb.site_restrictions.get(site, {}))}
                  for site in kb.prior_sites}

    def compact_from(clf, T, strength):
        order = [list(clf.classes_).index(dx) for dx in kb.diagnoses]
        data = {
            "format_version": FORMAT_VERSION,
            "model_version": "",
            "classes": list(kb.diagnoses),
            "markers": list(kb.markers),
            "features": list(encoder.feature_names_out_),
            "coef": [[float(v) for v in clf.coef_[i]] for i in order],
            "intercept": [float(clf.intercept_[i]) for i in order],
            "temperature": float(T),
            "site_log_prior": site_lp_for(strength),
            "site_majority": kb.site_majority(),
            "site_kinds": site_kinds,
            "generative": gen,
            "rates": rates,
            "nb": nb,
            "thresholds": {},
            "atypical": {"levels": [], "quantiles": {}},
        }
        if morph is not None:
            data["morphology"] = morph
        if risk:
            data["gist_risk"] = risk
        return CompactModel(data)

    gen = _generative(kb)
    rates = _rates_for_notes(kb)
    nb = _nb_tables(kb)
    morph = morphology_tables(training_dir, kb.diagnoses, kb.recipe)
    risk = gist_risk_rows(training_dir)

    def dev_nll(cm):
        tot = 0.0
        for c in dev_in:
            p = cm.proba(panel_states(c["markers"], cm.markers), c["site"])
            tot -= math.log(max(p[cm.classes.index(c["diagnosis"])], 1e-12))
        return tot / max(len(dev_in), 1)

    grid_C = [0.3] if quick else [0.1, 0.3, 1.0]
    grid_T = [1.0] if quick else [0.7, 0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 2.0]
    grid_S = [kb.recipe["site_prior_strength"]["value"]] if quick else kb.recipe["site_prior_strength"]["grid"]
    start = None
    if start_from is not None:
        start_dir = Path(start_from)
        start = load_joblib(start_dir / "ihc_model.joblib", start_dir / "model_card.json").named_steps["classify"]
        if list(start.classes_) != sorted(kb.diagnoses) or start.coef_.shape[1] != len(encoder.feature_names_out_):
            raise ModelError(f"{start_dir} has other classes or features than this training data: cannot start from it")
        grid_C, grid_T = [float(start.C)], [float(start.temperature)]
        grid_S = [json.loads((start_dir / "model_card.json").read_text(encoding="utf-8"))["training"]["site_prior_strength"]]
        say(f"starting from {start_dir}: C={grid_C[0]}, temperature={grid_T[0]}, site prior strength={grid_S[0]}")
    selection = []
    newton_steps = {}
    best = None
    for C in grid_C:
        # each C after the first starts from the previous C's optimum (the same optimum, fewer steps);
        # with start_from, from the given model's (its pickle may predate warm_start)
        clf = IHCClassifier(C=C, temperature=1.0, class_prior=kb.class_prior(), warm_start=start is not None)
        if start is not None:
            clf.classes_, clf.coef_, clf.intercept_ = start.classes_, start.coef_.copy(), start.intercept_.copy()
        clf.fit(X, y, sample_weight=weight)
        clf.set_params(warm_start=False)
        start = clf
        newton_steps[str(C)] = int(np.max(clf.n_iter_))
        for T in grid_T:
            for S in grid_S:
                cm = compact_from(clf, T, S)
                nll = dev_nll(cm) if dev_in else 0.0
                selection.append({"C": C, "temperature": T, "site_prior_strength": S, "dev_log_loss": round(nll, 4)})
                if best is None or nll < best[0] - 1e-9:
                    best = (nll, C, T, S, clf)
        say(f"fitted C={C} ({newton_steps[str(C)]} Newton steps)")
    _, C, T, S, clf = best
    clf.set_params(temperature=T)
    pipeline = Pipeline([("encode", encoder), ("classify", clf)])
    compact = compact_from(clf, T, S)
    say(f"chosen C={C}, temperature={T}, site prior strength={S} (dev log-loss {best[0]:.3f})")
    compact, morph_selection = _choose_grade_weight(compact, dev_in, kb.recipe, quick) \
        if morph is not None else (compact, [])
    if morph_selection:
        say(f"morphology grade weight {compact.morphology.weights['grade']} (dev cases with morphology)")

    # atypicality: how probable generated panels of each diagnosis are under it
    levels = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5]
    q = _atypical_quantiles(compact, kb, levels, n_per_class=1000 if quick else 4000)
    atypical_level = kb.recipe.get("atypical_percentile", {}).get("value", 0.005)
    compact.atypical = compact.data["atypical"] = {"levels": levels, "quantiles": q}

    # status threshold from the dev risk-coverage curve
    ok_rule = kb.recipe.get("ok_threshold", {})
    thresholds, curve = api.choose_thresholds(compact, dev, atypical_level=atypical_level,
                                              target=ok_rule.get("target", 0.95),
                                              min_answered=ok_rule.get("min_answered", 5))
    compact.thresholds = compact.data["thresholds"] = thresholds
    say(f"ok threshold {thresholds['ok_probability']}")

    # metrics on the development cases, model and naive Bayes
    metrics = {}
    if dev:
        preds = [api.predict_case(compact, c) for c in dev]
        nb_preds = [api.predict_case(compact, c, naive_bayes=True) for c in dev]
        m = summarise(preds, compact.classes)
        b = summarise(nb_preds, compact.classes)
        keep = ("n", "n_out_of_set", "top1", "top3", "ece", "brier", "log_loss", "ok_accuracy", "ok_coverage",
                "out_of_set_not_ok")
        metrics = {"dev_real_cases": {k: m[k] for k in keep}, "dev_real_cases_naive_bayes": {k: b[k] for k in keep},
                   "note": "dev cases chose C, temperature and the ok threshold: optimistic; see `ihc evaluate` for held-out cases"}

    digest = training_data_digest(training_dir)
    version = f"{_package_version()}+td.{digest[:8]}"
    compact.data["model_version"] = version
    compact.version = version
    joblib_path = out_dir / "ihc_model.joblib"
    json_path = out_dir / "ihc_model.json"
    import joblib

    joblib.dump(pipeline, joblib_path, compress=3)
    data = compact.stored_form()  # (the tables read back at load, the sections classify skips as text)
    json_path.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")), encoding="utf-8")
    sha_joblib = sha256_file(joblib_path)
    sha_json = sha256_file(json_path)
    (out_dir / "ihc_model.joblib.sha256").write_text(f"{sha_joblib}  ihc_model.joblib\n", encoding="utf-8")
    card = {
        "format_version": FORMAT_VERSION,
        "name": "ihc spindle-cell differential",
        "version": version,
        "date": _dt.date.today().isoformat(),
        "classes": list(kb.diagnoses),
        "markers": list(kb.markers),
        "features": list(encoder.feature_names_out_),
        "training_data_digest": digest,
        "training": {"cohort_cases": len(panels), "seed": kb.recipe["seed"], "C": C, "temperature": T, "site_prior_strength": S,
                     "selection": selection, "morphology_selection": morph_selection,
                     "newton_steps": newton_steps,
                     "seconds": round(time.perf_counter() - t0, 1),
                     "assumed_rates": len(kb.assumed), "defaulted_rates": len(kb.defaulted)},
        "thresholds": thresholds,
        "risk_coverage_dev": curve,
        "metrics": metrics,
        "artifact": {"file": joblib_path.name, "sha256": sha_joblib},
        "compact": {"file": json_path.name, "sha256": sha_json},
        "warning": "ihc_model.joblib is a pickle: loading it runs code. Load only a file from a trusted source.",
    }
    (out_dir / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    say(f"wrote {joblib_path}, {json_path}, model_card.json in {time.perf_counter() - t0:.1f} s")
    return card


def _package_version():
    from . import __version__

    return __version__


def load_joblib(path, card_path=None):
    """Load the joblib model of record after checking its sha256 against its card.

    Raises
    ------
    ModelIntegrityError
        No card, a card of another format, or a sha256 that does not match.
    """
    path = Path(path)
    card_path = Path(card_path) if card_path else path.with_name("model_card.json")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelIntegrityError(f"no model card next to {path.name} ({card_path.name}): refusing to load an unverified pickle") from None
    except ValueError:
        raise ModelIntegrityError(f"model card {card_path.name} is not valid JSON") from None
    if card.get("format_version") not in READABLE_FORMATS:
        raise ModelIntegrityError(f"model card format {card.get('format_version')!r} is not one this ihc reads "
                                  f"({', '.join(map(str, READABLE_FORMATS))})")
    if not path.is_file():
        raise ModelError(f"no model file at {path}")
    digest = sha256_file(path)
    if digest != card.get("artifact", {}).get("sha256"):
        raise ModelIntegrityError(f"{path.name} sha256 {digest[:12]}... does not match its card: refusing to load it")
    import joblib

    return joblib.load(path)
