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


@pytest.mark.xfail(strict=True, reason="known shortfall (issue 4): with the dev-chosen site-prior strength (0.25) "
                   "desmin+ leaves GIST at <1% in the stomach, so Ki-67/h-caldesmon/HMB45 gain more; "
                   "the 'GIST not excluded' warning is given instead")
def test_smooth_muscle_in_the_stomach_asks_for_kit_or_dog1():
    assert {"CD117", "DOG1"} & set(_top("SMA+ desmin+", site="stomach"))


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
