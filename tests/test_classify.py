"""Classification behaviour on the panels the issues name, status rules, evidence faithfulness."""

import math
import re

import pytest
from hypothesis import given, settings, strategies as st

import ihc
from ihc.api import load_model
from ihc.diagnoses import DIAGNOSES
from ihc.engine import panel_states

LMS_REPORT_1 = "SMA(+), Des(+), CD34(-), CD117(-), S100(-), VIM(+), P53(+), Ki-67(+,30%), DOG1(-)"

# (text, site, expected top diagnosis, statuses accepted)
MUST_SHOW = [
    (LMS_REPORT_1, "retroperitoneum", "leiomyosarcoma", {"ok"}),
    ("desmin+, SMA+, c-kit-, S-100-", "retroperitoneum", "leiomyosarcoma", {"ok", "indeterminate"}),
    ("strongly positive for h-caldesmon, α-SMA, desmin and calponin; Ki-67 high", None, "leiomyosarcoma", {"ok"}),
    ("CD117+ DOG1+ CD34+ SMA- desmin- S100-", "stomach", "gist", {"ok"}),
    ("CD117- DOG1+ PDGFRA+ CD34+ desmin-", "stomach", "gist", {"ok"}),
    ("S100+ SOX10+ CD117- DOG1- SMA- desmin- CD34-", "stomach", "schwannoma", {"ok", "indeterminate"}),
    ("CD34+ STAT6+ CD117- DOG1- S100- desmin-", None, "solitary_fibrous_tumor", {"ok"}),
    ("beta-catenin nuclear+ SMA focal CD117- DOG1- CD34- S100- desmin-", "mesentery", "desmoid_fibromatosis", {"ok"}),
    ("MDM2+ CDK4+ SMA- desmin- CD117- DOG1-", "retroperitoneum", "dedifferentiated_liposarcoma", {"ok"}),
    # 0.72 against the ok threshold chosen on the 85 dev cases (0.73; it was 0.62 on 67): leads, not named
    ("ALK+ SMA+ desmin focal CD117- DOG1-", None, "inflammatory_myofibroblastic_tumor", {"ok", "indeterminate"}),
]


@pytest.mark.parametrize("text,site,expected,statuses", MUST_SHOW)
def test_named_panels_rank_the_expected_diagnosis_first(text, site, expected, statuses):
    r = ihc.classify(text, site=site)
    assert r.differential[0]["diagnosis"] == expected, r.differential[:3]
    assert r.status in statuses, (r.status, r.confidence)
    if r.status == "indeterminate":
        # the next stains named must settle it: order the first one, with its most likely result
        # under the leading diagnosis, ask again, and the answer becomes ok within three stains
        # (until 2026-12-02: the first two of the first list; with the ok threshold at 0.67, IMT's
        # ALK panel reached 0.662 after them, and beta-catenin, asked next, settles it)
        model = load_model()
        panel = dict(r.panel.markers)
        again = r
        for _ in range(3):
            m = again.next_stains[0]["marker"]
            probs = {s: model.state_prob(expected, m, s) for s in model.generative[expected][0][1][m]}
            panel[m] = max(probs, key=probs.get)
            again = ihc.classify(ihc.Panel(markers=dict(panel)), site=site)
            assert again.differential[0]["diagnosis"] == expected
            if again.status == "ok":
                break
        assert again.status == "ok", (panel, again.confidence)


@pytest.mark.parametrize("text", ["SMA+", "CD117- DOG1-", "CD34+", "S100+", "vimentin+"])
def test_small_panels_stay_open(text):
    r = ihc.classify(text)
    assert r.status != "ok"
    assert r.diagnosis is None


@pytest.mark.parametrize("text,site", [("SMA+ desmin+ h-caldesmon+ CD117- DOG1- CD34- S100-", "colon"),
                                       ("S100+ SOX10+ CD117- DOG1- SMA- desmin- CD34-", "retroperitoneum")])
def test_benign_and_malignant_counterparts_are_not_named_without_ki67(text, site):
    r = ihc.classify(text, site=site)
    assert r.status == "indeterminate"
    assert any(w.startswith("no Ki-67:") and "not by this panel" in w for w in r.warnings)
    assert "Ki67" in [s["marker"] for s in r.next_stains[:3]]
    # with a low Ki-67 the same smooth-muscle panel can be named
    if "SMA+" in text:
        again = ihc.classify(text + " Ki-67 1%", site=site)
        assert again.differential[0]["diagnosis"] == "leiomyoma"
        assert not any(w.startswith("no Ki-67:") for w in again.warnings)


def test_panel_no_diagnosis_explains_is_atypical():
    r = ihc.classify("CD117+ DOG1+ S100+ SOX10+ HMB45+ desmin+ keratin+ MDM2+ STAT6+")
    assert r.status == "atypical"
    assert r.diagnosis is None
    assert any("no supported diagnosis shows this" in w for w in r.warnings)


def test_result_object_matches_contract():
    d = ihc.classify(LMS_REPORT_1, site="retroperitoneum").to_dict()
    assert d["schema_version"] == "1"
    required = {"schema_version", "model", "input", "status", "diagnosis", "confidence",
                "differential", "evidence", "next_stains", "warnings"}
    assert required <= set(d) and set(d) - required <= {"next_findings", "gist_risk"}
    assert d["input"]["ignored"] == ["vimentin", "p53"]
    assert d["input"]["site"] == "retroperitoneum"
    probs = [x["probability"] for x in d["differential"]]
    assert probs == sorted(probs, reverse=True)
    assert len(probs) == len(DIAGNOSES) and abs(sum(probs) - 1) < 1e-9
    assert d["confidence"] == probs[0]
    for e in d["evidence"]:
        assert e["effect"] in ("for", "against")
        assert (e["weight"] > 0) == (e["effect"] == "for")
        assert e["note"] and e["source"]


def _softmax(z):
    m = max(z)
    e = [math.exp(v - m) for v in z]
    return [v / sum(e) for v in e]


@pytest.mark.parametrize("text,site", [(LMS_REPORT_1, "retroperitoneum"), ("CD117- DOG1+ PDGFRA+ CD34+ desmin-", "stomach"),
                                       ("S100+ SOX10+ H3K27me3 lost Ki-67 40%", None)])
def test_evidence_contributions_add_up_to_the_models_score(text, site):
    model = load_model()
    r = ihc.classify(text, site=site)
    states = panel_states(r.panel.markers, model.markers)
    base, prior, contrib = model.decompose(states, r.panel.site)
    scores = model.scores(states, r.panel.site)
    # the evidence listed for each diagnosis plus its intercept is exactly its centred score
    for dx in {e["diagnosis"] for e in r.evidence}:
        k = model.classes.index(dx)
        total = base[k] + sum(e["weight"] for e in r.evidence if e["diagnosis"] == dx)
        assert total == pytest.approx(scores[k], abs=1e-5)
    # and the softmax of those scores is the differential the user sees
    probs = dict(zip(model.classes, _softmax([base[k] + prior[k] + sum(c[k] for c in contrib.values())
                                               for k in range(len(model.classes))])))
    for row in r.differential:
        assert row["probability"] == pytest.approx(probs[row["diagnosis"]], abs=1e-12)


def test_missing_is_not_negative():
    model = load_model()
    p_missing = model.proba(panel_states({"SMA": "pos"}, model.markers))
    p_negative = model.proba(panel_states({"SMA": "pos", "CD117": "neg", "DOG1": "neg"}, model.markers))
    gist = model.classes.index("gist")
    assert p_missing[gist] > 5 * p_negative[gist]


def test_one_discordant_stain_does_not_zero_a_diagnosis():
    r = ihc.classify("CD117+ DOG1+ CD34+ SMA- desmin+ S100-", site="stomach")
    probs = {d["diagnosis"]: d["probability"] for d in r.differential}
    assert r.differential[0]["diagnosis"] == "gist"
    assert probs["leiomyosarcoma"] > 1e-6


def test_site_shifts_the_prior_and_unknown_site_warns():
    a = ihc.classify("SMA+ desmin+", site="retroperitoneum")
    b = ihc.classify("SMA+ desmin+", site="uterus")
    pa = {d["diagnosis"]: d["probability"] for d in a.differential}
    pb = {d["diagnosis"]: d["probability"] for d in b.differential}
    assert pb["leiomyoma"] > pa["leiomyoma"]
    c = ihc.classify("SMA+ desmin+", site="planet mars")
    assert c.panel.site is None
    assert any("mars" in w for w in c.warnings)


def test_warnings_a_careful_colleague_would_give():
    r = ihc.classify("SMA+ desmin+ S100-", site="gastric fundus")
    assert "no DOG1 or CD117: GIST not excluded" in r.warnings
    r = ihc.classify("S100+ SOX10+ HMB45+ melan-A+", site="skin")
    assert "no DOG1 or CD117: GIST not excluded" not in r.warnings
    r = ihc.classify("SMA+ desmin+ h-caldesmon+ CD117- DOG1- CD34+ Ki-67 30%")
    assert any(w.startswith("CD34 positive: seen in ~") and "leiomyosarcoma" in w for w in r.warnings)
    r = ihc.classify("SMA+ desmin+ h-caldesmon+ CD117- DOG1- Ki-67 2%", site="uterus")
    assert r.differential[0]["diagnosis"] == "leiomyoma"


def test_high_ki67_for_a_benign_top_diagnosis_is_flagged():
    r = ihc.classify("S100+ SOX10+ CD117- DOG1- SMA- desmin- Ki-67 25%", site="stomach")
    if r.differential[0]["diagnosis"] in ("schwannoma",):
        assert any("high for a benign" in w for w in r.warnings)
    else:  # the model moved away from the benign diagnosis: fine, and MPNST must be in play
        assert r.differential[0]["diagnosis"] in ("mpnst", "melanoma")


def test_classify_accepts_text_mapping_and_panel():
    a = ihc.classify("SMA+ desmin+ CD117- DOG1-")
    b = ihc.classify({"SMA": "+", "Des": "pos", "c-kit": "neg", "DOG1": "-"})
    c = ihc.classify(ihc.parse("SMA+ desmin+ CD117- DOG1-"))
    assert [d["probability"] for d in a.differential] == [d["probability"] for d in b.differential] == \
        [d["probability"] for d in c.differential]


_states = st.dictionaries(
    st.sampled_from(["SMA", "desmin", "CD117", "CD34", "S100", "DOG1", "STAT6", "SOX10", "MDM2", "ALK", "HMB45", "keratin"]),
    st.sampled_from(["pos", "neg", "focal"]), max_size=9)


@settings(max_examples=150, deadline=None)
@given(_states, st.one_of(st.none(), st.floats(0, 100)), st.sampled_from([None, "stomach", "retroperitoneum", "uterus"]))
def test_probabilities_always_sum_to_one_and_statuses_are_known(markers, ki67, site):
    panel = dict(markers)
    if ki67 is not None:
        panel["Ki67"] = ki67
    if not panel:
        panel = {"vimentin": "pos"}
    r = ihc.classify(ihc.Panel(markers=panel), site=site)
    total = sum(d["probability"] for d in r.differential)
    assert abs(total - 1) < 1e-9
    assert all(0 <= d["probability"] <= 1 for d in r.differential)
    assert r.status in ("ok", "indeterminate", "atypical")
    assert (r.diagnosis is not None) == (r.status == "ok")


def test_an_evidence_rate_is_the_rate_the_model_was_built_from():
    """The rate a line quotes is the diagnosis's subtypes mixed by their shares, as the cohort is
    drawn: leiomyoma's DOG1 is positive in its oesophageal subtype with entrapped ICC (Deshpande,
    28/28), so a positive DOG1 that counts for leiomyoma is not quoted as '<1% of leiomyoma'."""
    r = ihc.classify("CD117- CD34- DOG1+", site="stomach")
    line = next(e for e in r.evidence if e["diagnosis"] == "leiomyoma" and e["marker"] == "DOG1")
    assert line["effect"] == "for"
    pct = int(re.search(r"positive in ~(\d+)% of leiomyoma", line["note"]).group(1))
    assert 5 <= pct <= 30 and "esophageal with ICC: ~98%" in line["note"]
    # a diagnosis without subtypes quotes its pooled rate, with no subtype named
    r2 = ihc.classify("SMA+ desmin+ CD117-")
    assert all("(" not in e["note"] for e in r2.evidence if e["diagnosis"] == "desmoid_fibromatosis")


@pytest.mark.parametrize("panel,site,dx,words", [
    # a site with restrictions only (no published case mix): the others gain alike, said so
    ("MDM2+ CDK4+ SMA-", "uterus", "dedifferentiated_liposarcoma",
     "no published case mix here; GIST, IFP and plexiform fibromyxoma do not arise at this site"),
    ("CD117+ DOG1+", "stomach", "gist", "prior for GIST there (published case mix, tempered)"),
    ("CD117+ DOG1+", "thigh", "melanoma", "melanoma is not among the tumours of this site's published case mix"),
])
def test_the_site_line_says_what_the_prior_is_made_of(panel, site, dx, words):
    """'site uterus: prior for DDLPS there (published case mix ...)' read as support from a case mix
    the uterus does not have: its +0.49 came from GIST, IFP and PF being excluded there."""
    res = ihc.classify(panel, site=site)
    lines = [e for e in res.evidence if e["diagnosis"] == dx and e["marker"] == "site"]
    assert len(lines) == 1 and words in lines[0]["note"], lines


def test_doctests_of_the_api():
    import doctest

    import ihc.api

    res = doctest.testmod(ihc.api)
    assert res.failed == 0 and res.attempted > 0
