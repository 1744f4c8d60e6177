"""Next stains: expected information gain by the model's own posterior (issue 4)."""

import pytest
from hypothesis import given, settings, strategies as st

import ihc
from ihc.api import load_model
from ihc.engine import panel_states


def _top(text, site=None, n=3, **kw):
    return [s["marker"] for s in ihc.recommend(text, site=site, top=n, **kw)]


def test_cd34_alone_is_indeterminate_and_asks_for_stat6():
    r = ihc.classify("CD34+")
    assert r.status == "indeterminate"
    assert "STAT6" in [s["marker"] for s in r.next_stains[:3]]


def test_smooth_muscle_in_the_stomach_asks_for_kit_or_dog1():
    assert {"CD117", "DOG1"} & set(_top("SMA+ desmin+", site="stomach"))


SITE_FIRST = "Listed first whatever its gain"


def test_the_site_majority_tumour_is_tested_first_while_nothing_tests_for_it():
    # GIST is most gastric mesenchymal tumours: KIT/DOG1 come first even though the model,
    # with desmin positive, gives GIST <1% (its gain is shown as it is)
    first = ihc.recommend("SMA+ desmin+", site="stomach")[0]
    assert first["marker"] in ("CD117", "DOG1")
    assert SITE_FIRST in first["why"] and "GIST is 74%" in first["why"]
    assert first["expected_information_gain"] < 0.2
    # melanoma is most malignant spindle-cell tumours of the skin in the chosen series; S-100 and
    # SOX10 test for it against the site's other named tumours (leiomyosarcoma, Kaposi sarcoma)
    assert ihc.recommend("SMA+ desmin+", site="skin")[0]["marker"] in ("S100", "SOX10")


@pytest.mark.parametrize("text, site, available", [
    ("SMA+ desmin+", None, None),                      # no site: no majority tumour
    ("SMA+ desmin+ CD117-", "stomach", None),          # KIT done: GIST has been tested
    ("SMA+ desmin+ DOG1+", "stomach", None),
    ("SMA+ desmin+", "retroperitoneum", None),         # no diagnosis is half of the case mix there
    ("SMA+ desmin+", "stomach", ["Ki67", "h_caldesmon"]),  # the lab has neither KIT nor DOG1
])
def test_the_site_first_stain_only_when_the_site_has_an_untested_majority_tumour(text, site, available):
    got = ihc.recommend(text, site=site, available=available)
    assert got
    assert not any(SITE_FIRST in s["why"] for s in got)
    gains = [s["expected_information_gain"] for s in got]
    assert gains == sorted(gains, reverse=True)


def test_the_shipped_model_knows_each_sites_majority_tumour_from_training_data():
    maj = load_model().site_majority
    assert maj["stomach"]["diagnosis"] == "gist" and maj["stomach"]["share_percent"] >= 50
    assert maj["small_intestine"]["diagnosis"] == "gist"
    assert "retroperitoneum" not in maj and "soft_tissue" not in maj


def test_s100_alone_asks_for_a_melanocytic_or_schwann_marker():
    assert {"SOX10", "HMB45", "melan_a"} & set(_top("S100+"))


def test_smooth_muscle_panel_without_ki67_asks_for_ki67():
    assert "Ki67" in _top("CD117- DOG1- SMA+ desmin+ S100- CD34-")


def test_a_complete_concordant_panel_needs_no_stain():
    r = ihc.classify("CD117+ DOG1+ CD34+ SMA- desmin- S100- Ki-67 3%", site="stomach")
    assert r.status == "ok"
    assert r.next_stains == []


def test_available_restricts_the_proposals():
    got = _top("CD34+", n=5, available=["Ki67", "S100", "desmin"])
    assert got and set(got) <= {"Ki67", "S100", "desmin"}


def test_why_names_the_diagnoses_and_the_expected_results():
    for s in ihc.recommend("CD34+"):
        head, _, rest = s["why"].partition(": separates ")
        assert rest, s["why"]
        assert " vs " in rest and "~" in rest and "% of " in rest


_markers = ["SMA", "desmin", "CD117", "CD34", "S100", "DOG1", "STAT6", "SOX10", "MDM2", "ALK", "HMB45", "h_caldesmon"]


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(_markers), st.sampled_from(["pos", "neg", "focal"]), min_size=1, max_size=7),
       st.sampled_from([None, "stomach", "retroperitoneum"]))
def test_gains_are_non_negative_and_never_for_a_stain_already_done(markers, site):
    model = load_model()
    r = ihc.classify(ihc.Panel(markers=dict(markers)), site=site, top=30)
    done = set(panel_states(markers, model.markers))
    for s in r.next_stains:
        assert s["marker"] not in done
        assert s["expected_information_gain"] >= 0
    gains = [s["expected_information_gain"] for s in r.next_stains]
    if gains and SITE_FIRST in r.next_stains[0]["why"]:
        assert site == "stomach" and r.next_stains[0]["marker"] in ("CD117", "DOG1")
        gains = gains[1:]
    assert gains == sorted(gains, reverse=True)
    for m in done:
        g, _ = model.information_gain(panel_states(markers, model.markers), site, m)
        assert g == 0.0


def test_information_gain_matches_its_definition():
    import math

    model = load_model()
    states = panel_states({"CD34": "pos"}, model.markers)
    p = model.proba(states)
    h0 = -sum(x * math.log2(x) for x in p if x > 0)
    gain, outcomes = model.information_gain(states, None, "STAT6")
    exp_h = 0.0
    for s, ps in outcomes.items():
        q = model.proba({**states, "STAT6": s})
        exp_h += ps * -sum(x * math.log2(x) for x in q if x > 0)
    assert gain == pytest.approx(h0 - exp_h)
    assert sum(outcomes.values()) == pytest.approx(1.0)


def test_the_site_majority_tumour_not_tested_is_a_warning_until_a_stain_tests_for_it():
    w = ihc.classify("SMA+", site="skin").warnings
    assert any(x.startswith("no S100 or SOX10: melanoma (77% of tumours at this site") for x in w), w
    # ... not once the panel has put it below 1%, as GIST's outside the GI tract (SMA+ desmin+
    # h-caldesmon+: 0.04%; SMA+ desmin+ alone is near the line: 0.6% with the 2026-12-03 model, 1.1% now)
    r = ihc.classify("SMA+ desmin+ h-caldesmon+", site="skin")
    assert {d["diagnosis"]: d["probability"] for d in r.differential}["melanoma"] < 0.01
    assert not any("melanoma" in x and "not excluded" in x for x in r.warnings)
    assert not any("melanoma" in x and "not excluded" in x for x in ihc.classify("SMA+ desmin+ SOX10-", site="skin").warnings)
    # GIST keeps its own wording, given once
    w = ihc.classify("SMA+ desmin+", site="stomach").warnings
    assert [x for x in w if "not excluded" in x] == ["no DOG1 or CD117: GIST not excluded"]


def test_next_stains_with_numpy_estimates_equal_the_exact_ones():
    """Batch shortlists candidates with numpy-estimated gains, then computes the exact ones:
    the same list, figures and reasons as computing every candidate exactly."""
    import random

    np = pytest.importorskip("numpy")
    from ihc.api import _next_stains, load_model
    from ihc.engine import marker_states
    from ihc.engine.vector import GainEstimator

    model = load_model()
    est = GainEstimator(np, model).gains
    rng = random.Random(5)
    sites = [None, "stomach", "uterus", "skin", "retroperitoneum", "soft_tissue"]
    n_listed = 0
    for _ in range(400):
        states = {m: rng.choice(marker_states(m)) for m in rng.sample(model.markers, rng.randint(0, 8))}
        site = rng.choice(sites)
        proba = model.proba(states, site)
        for top in (5, 1, 0):
            exact = _next_stains(model, states, site, proba, top=top)
            assert _next_stains(model, states, site, proba, top=top, estimate=est) == exact
            n_listed += len(exact)
    assert n_listed > 1000


def test_the_stains_that_test_for_the_site_majority_are_judged_against_the_sites_own_tumours():
    # SOX10 is positive in schwannoma, neurofibroma and granular cell tumour: against all 27 other
    # diagnoses its mean (0.150) missed the 0.15 bar by a hair in 2026-12-03's knowledge round, and
    # the skin and anus lost their melanoma-first stain; against the tumours those sites' case mixes
    # name (leiomyosarcoma and Kaposi sarcoma; leiomyosarcoma and GIST) it tests for melanoma
    from ihc.api import load_model, site_majority_tests
    from ihc.engine.rules import site_competitors as _site_competitors

    model = load_model()
    k = model.classes.index("melanoma")
    assert {model.classes[j] for j in _site_competitors(model, "anus", k)} == {"gist", "leiomyosarcoma"}
    assert "SOX10" in site_majority_tests(model, "anus") and "SOX10" in site_majority_tests(model, "skin")
    assert site_majority_tests(model, "stomach") == ["CD117", "DOG1"]
    assert _site_competitors(model, None, k) is None
