"""The compact stdlib engine gives the scikit-learn model of record's probabilities (to 1e-9)."""

import math
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("sklearn")

from ihc.api import load_model  # noqa: E402
from ihc.cohort import generate_cohort  # noqa: E402
from ihc.engine import panel_states  # noqa: E402
from ihc.knowledge import load_knowledge  # noqa: E402
from ihc.model import load_cases, load_joblib  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
TOL = 1e-9


@pytest.fixture(scope="module")
def models():
    pipe = load_joblib(MODELS / "ihc_model.joblib")
    compact = load_model(MODELS)
    order = [list(pipe.classes_).index(dx) for dx in compact.classes]
    return pipe, compact, order


@pytest.fixture(scope="module")
def cohort_panels():
    panels, _ = generate_cohort(load_knowledge(ROOT / "training_data"), n_per_class=50)
    return panels


@pytest.fixture(scope="module")
def real_cases():
    return load_cases(ROOT / "training_data" / "real_cases_dev.jsonl")


def _check(pipe, compact, order, panels, sites):
    sk = pipe.predict_proba(panels)[:, order]
    dec = pipe.decision_function(panels)[:, order]
    worst = 0.0
    for i, (panel, site) in enumerate(zip(panels, sites)):
        states = panel_states(panel, compact.markers)
        got = compact.proba(states, site)
        if site is None:
            want = sk[i]
        else:
            z = dec[i] + np.array(compact.site_log_prior[site])
            z = np.exp(z - z.max())
            want = z / z.sum()
        worst = max(worst, float(np.max(np.abs(np.array(got) - want))))
    assert worst < TOL, worst
    return worst


def test_same_classes_and_features(models):
    pipe, compact, _ = models
    assert sorted(pipe.classes_) == sorted(compact.classes)
    assert list(pipe.named_steps["encode"].get_feature_names_out()) == compact.features


def test_cohort_probabilities_match_sklearn(models, cohort_panels):
    pipe, compact, order = models
    _check(pipe, compact, order, cohort_panels, [None] * len(cohort_panels))


def test_real_case_probabilities_match_sklearn(models, real_cases):
    pipe, compact, order = models
    panels = [c["markers"] for c in real_cases]
    _check(pipe, compact, order, panels, [None] * len(panels))


def test_site_prior_is_added_outside_sklearn(models, cohort_panels, real_cases):
    pipe, compact, order = models
    sites = sorted(compact.site_log_prior)
    panels = cohort_panels[::7]
    _check(pipe, compact, order, panels, [sites[i % len(sites)] for i in range(len(panels))])
    with_site = [c for c in real_cases if c["site"] in compact.site_log_prior]
    assert with_site
    _check(pipe, compact, order, [c["markers"] for c in with_site], [c["site"] for c in with_site])


def test_probabilities_sum_to_one(models, real_cases):
    _, compact, _ = models
    for c in real_cases:
        p = compact.proba(panel_states(c["markers"], compact.markers), c["site"])
        assert math.isclose(sum(p), 1.0, abs_tol=1e-12)


def test_stored_tables_are_the_ones_build_computes():
    """The shipped file stores ``state_prob`` (and gives generative, nb and each diagnosis's rates as
    JSON text, parsed on use); the same model in the plain layout (every section an object, no
    stored tables: the layout before, which this ihc still reads) builds the same tables bit for bit,
    and exporting it again gives the shipped bytes."""
    import json

    from ihc.engine import DEFERRED_SECTIONS, CompactModel, marker_states

    raw = (MODELS / "ihc_model.json").read_bytes()
    stored = json.loads(raw)
    assert "tables" in stored and all(isinstance(stored[k], str) for k in DEFERRED_SECTIONS)
    assert all(isinstance(v, str) for v in stored["rates"].values())
    plain = {k: v for k, v in stored.items() if k != "tables"}
    for k in DEFERRED_SECTIONS:
        plain[k] = json.loads(plain[k])
    plain["rates"] = {dx: json.loads(r) for dx, r in plain["rates"].items()}
    a, b = CompactModel(stored).tables, CompactModel(plain).tables
    for m in {m for m, _ in a.state_prob}:
        for s in marker_states(m):
            assert a.state_prob[(m, s)] == b.state_prob[(m, s)]
            assert a.surprise[(m, s)] == b.surprise[(m, s)]  # (derived on first reading in ``a``)
    assert dict(a.surprise) == dict(b.surprise) and a.nb_log == b.nb_log and a.contrib == b.contrib
    assert dict(CompactModel(stored).rates) == plain["rates"]
    out = json.dumps(CompactModel(plain).stored_form(), sort_keys=True, separators=(",", ":")).encode()
    assert out == raw


def test_stored_telling_shares_are_the_ones_the_rates_give():
    """The packed ``telling_shares`` a file stores (read by the first ``classify`` instead of every
    diagnosis's rates) equal what the literature rates give, for every marker."""
    import json

    from ihc.engine import CompactModel, telling_share

    stored = json.loads((MODELS / "ihc_model.json").read_bytes())
    assert "telling_shares" in stored
    m = CompactModel(stored)
    assert "typical_shares" in stored
    plain = CompactModel({k: v for k, v in stored.items() if k not in ("telling_shares", "typical_shares")})
    for marker in m.markers:
        want = [telling_share(m.rates[dx][marker], marker)[0] for dx in m.classes]
        assert m.telling_shares(marker) == plain.telling_shares(marker) == want, marker
        want = [telling_share(m.rates[dx][marker], marker, typical=True)[0] for dx in m.classes]
        assert m.typical_shares(marker) == plain.typical_shares(marker) == want, marker
