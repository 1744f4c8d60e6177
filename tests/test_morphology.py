"""Morphology and clinical context: reading, weighing, explaining; GIST risk (issue 11)."""

import json
import math

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import ihc
from ihc.api import classify, load_model
from ihc.cli import cli
from ihc.exceptions import InvalidValueError
from ihc.morph_text import read_morphology
from ihc.morphology import (FINDINGS, finding_codes, morphology_from_mapping, observed_states, parse_atypia,
                            parse_mitoses, parse_size)
from ihc.reading import parse

SMOOTH = "SMA+ desmin+ h-caldesmon+ CD117- DOG1- S100-"


def run(*args):
    r = CliRunner().invoke(cli, list(args))
    return r


# ------------------------------------------------------------------ values


@pytest.mark.parametrize("text,low,high,states", [
    ("15/10 HPF", 75, 75, ("m4",)),
    ("3/50 HPF", 3, 3, ("m1",)),
    ("3/50 HPFs", 3, 3, ("m1",)),
    ("4/mm2", 20, 20, ("m2",)),
    ("4 per 5 mm2", 4, 4, ("m1",)),
    ("0/50 HPF", 0, 0, ("m0",)),
    ("2 per 10 high-power fields", 10, 10, ("m2",)),
    ("5/10 HPF", 25, 25, ("m3",)),
    ("none", 0, 0, ("m0",)),
    ("frequent", 25, math.inf, ("m3", "m4")),
    ("rare", 1, 24, ("m1", "m2")),
    (">=10/10 HPF", 50, math.inf, ("m4",)),
])
def test_mitoses_are_read_with_their_denominator(text, low, high, states):
    m = parse_mitoses(text)
    assert m.low == pytest.approx(low)
    assert m.high == pytest.approx(high) or (math.isinf(high) and math.isinf(m.high))
    assert m.states() == states


def test_fewer_than_one_per_50_hpf_is_the_none_bin():
    assert parse_mitoses("<1/50 HPF").states() == ("m0",)
    assert parse_mitoses(">5/50 HPF").states() == ("m2", "m3", "m4")


def test_mm2_conversion_is_stated():
    m = morphology_from_mapping({"mitoses": "4/mm2"})
    assert m.mitoses.converted_from_mm2
    assert any("5 mm2 as 50 HPF" in w for w in m.warnings)
    assert not morphology_from_mapping({"mitoses": "4/10 HPF"}).warnings


@pytest.mark.parametrize("bad", ["abc", "15", "3/0 HPF", "12 per cm"])
def test_bad_mitoses_is_a_one_line_error_naming_what_is_accepted(bad):
    with pytest.raises(InvalidValueError) as exc:
        parse_mitoses(int(bad) if bad.isdigit() else bad)
    msg = str(exc.value)
    assert "\n" not in msg and ("HPF" in msg)


def test_atypia_words_and_errors():
    assert parse_atypia("marked") == "severe"
    assert parse_atypia("Moderate nuclear atypia") == "moderate"
    assert parse_atypia("bland") == "none"
    with pytest.raises(InvalidValueError, match="none, mild, moderate, severe"):
        parse_atypia("purple")


def test_size_reads_dimensions_and_refuses_negative():
    assert parse_size("14 x 10 x 8 cm") == 14
    assert parse_size("45 mm") == 4.5
    with pytest.raises(InvalidValueError):
        parse_size("-3")
    with pytest.raises(InvalidValueError):
        parse_size("0")


def test_unknown_morphology_field_is_refused():
    with pytest.raises(InvalidValueError, match="accepted mitoses"):
        morphology_from_mapping({"colour": "blue"})


# ------------------------------------------------------------------ text


@pytest.mark.parametrize("text,expect", [
    ("18 mitoses per 10 HPF", {"mitoses": ("m4",)}),
    ("mitotic count 3/50 HPFs", {"mitoses": ("m1",)}),
    ("frequent mitotic figures", {"mitoses": ("m3", "m4")}),
    ("no mitoses", {"mitoses": ("m0",)}),
    ("coagulative tumour necrosis", {"necrosis": ("present",)}),
    ("without necrosis", {"necrosis": ("absent",)}),
    ("marked nuclear pleomorphism", {"atypia": ("severe",)}),
    ("bland spindle cells", {"atypia": ("none",), "cell_type": ("spindle",)}),
    ("epithelioid cells", {"cell_type": ("epithelioid",)}),
    ("a 14 x 10 x 8 cm mass", {"size": ("gt10",)}),
    ("tumour measuring 6 cm", {"size": ("5to10",)}),
    ("No atypia, mitoses or necrosis were seen.", {"mitoses": ("m0",), "necrosis": ("absent",),
                                                   "atypia": ("none",)}),
    ("腫瘍は紡錘形細胞からなり、核分裂像は10/10HPF、凝固壊死を伴っていた。",
     {"mitoses": ("m4",), "necrosis": ("present",), "cell_type": ("spindle",)}),
    ("肿瘤细胞呈梭形，核异型明显，核分裂象易见（15个/10HPF），可见坏死。",
     {"mitoses": ("m4",), "necrosis": ("present",), "atypia": ("severe",), "cell_type": ("spindle",)}),
    ("핵분열은 5/50 HPF였고 괴사는 없었다.", {"mitoses": ("m1",), "necrosis": ("absent",)}),
    ("壊死はみられなかった。核分裂像は乏しい。", {"mitoses": ("m1", "m2"), "necrosis": ("absent",)}),
    ("核分裂像は強拡大10視野あたり5個であった", {"mitoses": ("m3",)}),
    ("核分裂像を認めず、壊死もみられなかった", {"mitoses": ("m0",), "necrosis": ("absent",)}),
    ("瘤细胞无明显异型，核分裂象罕见，未见坏死", {"mitoses": ("m1", "m2"), "necrosis": ("absent",), "atypia": ("none",)}),
    ("종양의 크기는 12 cm였으며 유사분열은 10개/10 고배율시야였고 괴사가 관찰되었다",
     {"mitoses": ("m4",), "necrosis": ("present",), "size": ("gt10",)}),
    ("핵의 이형성은 경미하였고 괴사는 없었다", {"atypia": ("mild",), "necrosis": ("absent",)}),
    ("The tumor was located 5 cm from the anal verge and measured 3.5 cm.", {"size": ("2to5",)}),
    ("A 63-year-old woman presented with a 12-cm retroperitoneal mass.",
     {"size": ("gt10",), "age": ("ge60",), "sex": ("F",)}),
])
def test_findings_read_from_report_text(text, expect):
    assert observed_states(read_morphology(text)) == expect


# Real cases' sentences the reader missed (2026-12-03 morphology agreement on the real cases): "strong"
# atypia in Japanese and Chinese, 异形 (a common writing of 异型), a bare 多/少 after the mitoses, "cms",
# "mitoses for 10 HPF"; and what must stay unread.
@pytest.mark.parametrize("text,expect", [
    ("病理組織学的に紡錘形で核異型の強い腫瘍細胞よりなり", {"atypia": ("severe",), "cell_type": ("spindle",)}),
    ("強い核異型を示す", {"atypia": ("severe",)}),
    ("核分裂像は強拡大10視野あたり5個で、核異型は軽度", {"mitoses": ("m3",), "atypia": ("mild",)}),
    ("细胞核异形明显，核分裂多，局部坏死", {"mitoses": ("m3", "m4"), "necrosis": ("present",),
                                     "atypia": ("severe",)}),
    ("瘤细胞异型性强", {"atypia": ("severe",)}),
    # "little atypia" (2026-12-07): was read as atypia of any grade
    ("核異型の少ない線維芽細胞様の紡錘形細胞", {"atypia": ("mild",), "cell_type": ("spindle",)}),
    ("细胞异型性较小", {"atypia": ("mild",)}),
    ("异型小圆细胞", {"atypia": ("mild", "moderate", "severe")}),  # 小圆细胞: small round cells
    ("核分裂象少", {"mitoses": ("m1", "m2")}),
    ("核分裂象多少不等", {}),                                  # "more or less": no amount
    ("CD34强阳性", {}),                                        # strongly positive, not atypia
    ("a firm tumor measuring 3 × 3 × 2.8 cms", {"size": ("2to5",)}),
    ("more than 20 mitoses for 10 HPF", {"mitoses": ("m4",)}),
    ("a focally infiltrative spindle and pleomorphic neoplastic proliferation", {"cell_type": ("spindle",),
                                                                                "atypia": ("moderate", "severe")}),
    ("a proliferation of elongated cells of low histological aggressiveness", {"cell_type": ("spindle",)}),
    ("a spindle cell neoplasm", {"cell_type": ("spindle",)}),
    # the RD2 dev round (2026-12-03): a count over one field is a field's maximum, not a rate
    ("some mitotic activity (5/40 HPFS, up to 2/HPF)", {"mitoses": ("m2",)}),
    ("up to 2 mitoses/HPF", {"mitoses": ("m4",)}),                  # alone, it is what there is
    ("核分裂像数は5個以下/50HPF", {"mitoses": ("m0", "m1")}),
    ("核分裂像はほとんど認 められなかった", {"mitoses": ("m0",)}),     # a PDF line break inside the verb
    ("spindle, epithelioid, pleomorphic, and small blue round tumor cells",
     {"cell_type": ("mixed",), "atypia": ("moderate", "severe")}),
    ("round to spindle, epithelioid, and plasmacytoid cells", {"cell_type": ("mixed",)}),
    ("spindle cells and epitheliod cells", {"cell_type": ("mixed",)}),
    ("small spindle-cells", {"cell_type": ("spindle",)}),
    ("a 4- × 3-cm tumor", {"size": ("2to5",)}),
    ("瘤体约20cm", {"size": ("gt10",)}),
])
def test_findings_the_reader_once_missed(text, expect):
    assert observed_states(read_morphology(text)) == expect


# Sentences of real published cases the reader once misread (KE round): what each states.
@pytest.mark.parametrize("text,expect", [
    # one negation over a list of findings, before it or after it
    ("Histopathology revealed absence of cellular atypia, mitotic activity and coagulative necrosis.",
     {"mitoses": ("m0",), "necrosis": ("absent",), "atypia": ("none",)}),
    ("Epithelioid cells, Xanthoma cells, necrosis and mitotic activity are not seen",
     {"mitoses": ("m0",), "necrosis": ("absent",)}),
    ("Mitotic figures were not identified.", {"mitoses": ("m0",)}),
    # a negation does not leak into a new, affirmed item
    ("There is lack of nuclear pleomorphism and only rare mitotic figures can be identified.",
     {"mitoses": ("m1", "m2"), "atypia": ("none", "mild", "moderate")}),
    ("No necrosis, frequent mitoses.", {"mitoses": ("m3", "m4"), "necrosis": ("absent",)}),
    # ... but a denied list ("or") is still denied
    ("No atypia, frequent mitoses or necrosis were seen.", {"necrosis": ("absent",), "atypia": ("none",)}),
    # a negated grade denies the grade, not the finding
    ("There is no significant atypia, marked mitoses or necrosis seen in this case.",
     {"necrosis": ("absent",), "atypia": ("none",)}),
    ("the absence of high degrees of atypia and pleomorphism", {"atypia": ("none", "mild", "moderate")}),
    # a marker's name and atypical mitoses are not nuclear atypia
    ("Cells stained diffusely positive for SMA and anaplastic lymphoma kinase (ALK), diagnostic of an IMT.", {}),
    ("The mitoses, including atypical, were numerous.", {"mitoses": ("m3", "m4")}),
    # mitoses as reports count them
    ("Mitotic figures numbered 7 per 10 400x fields.", {"mitoses": ("m3",)}),
    ("many nuclear divisions in a single field", {"mitoses": ("m3", "m4")}),
    ("유사분열은 50배율에서 5개 이하로 관찰되었다", {"mitoses": ("m0", "m1")}),
    # grades, pleomorphism and cell types
    ("highly atypical cells with polygonal and clear cytoplasm",
     {"atypia": ("severe",), "cell_type": ("epithelioid",)}),
    ("a highly cellular tumour with mild atypia", {"atypia": ("mild",)}),
    ("核の大小不同を認めた", {"atypia": ("moderate", "severe")}),
    ("Focal giant cells formation and mild pleomorphism are also seen", {"atypia": ("mild",)}),
    ("uniform appearing, spindle-shaped fibroblasts", {"cell_type": ("spindle",)}),
    ("both cells with oval and long spindle nuclei", {"cell_type": ("spindle",)}),
])
def test_findings_read_from_real_case_sentences(text, expect):
    assert observed_states(read_morphology(text)) == expect


# Counts as reports write them (K6 round): the fields before the count, comparators in words.
@pytest.mark.parametrize("text,states", [
    # the denominator first, in Japanese, Chinese and Korean
    ("30高視野当たり8個の核分裂像を認めた", ("m2",)),
    ("核分裂像は10高倍視野あたり6個であった", ("m3",)),
    ("核分裂像は強拡大10視野に2個", ("m2",)),
    ("核分裂像は1高視野あたり2個以上みられた", ("m4",)),
    ("10HPFあたり核分裂像を7個認めた", ("m3",)),
    ("核分裂象每10个高倍视野8个", ("m3",)),
    ("每50个高倍视野可见核分裂象2个", ("m1",)),
    ("유사분열은 10고배율시야당 6개였다", ("m3",)),
    ("유사분열은 고배율 10시야당 12개였다", ("m4",)),
    # bare fields in a clause about mitoses are high-power fields
    ("核分裂像は50視野中5個で、壊死は認めなかった", ("m1",)),
    ("核分裂像は10視野に3個みられた", ("m2",)),
    ("核分裂象10个视野中8个", ("m3",)),
    ("유사분열은 10시야당 12개였다", ("m4",)),
    # comparators in words and 'high powered fields'
    ("mitotic rate of more than 15 per 10 high powered fields (HPF)", ("m4",)),
    ("greater than 12 mitoses per 10 high-power fields", ("m4",)),
    ("up to 3 mitoses per 50 HPFs", ("m1",)),
    ("mitoses numbered 2 per 10 high powered field", ("m2",)),
    ("mitotic count of no more than 1 per 10 HPF", ("m0", "m1")),
    ("at least 6 mitotic figures per 10 HPF", ("m3", "m4")),
    ("5 mitoses per 10 HPF or more", ("m3", "m4")),
])
def test_mitotic_counts_in_the_orders_and_words_reports_use(text, states):
    assert observed_states(read_morphology(text)).get("mitoses") == states


# Mitoses in words (K6 round): a qualifier belongs to the mitoses' own phrase, and a denied one
# is not the word itself.
@pytest.mark.parametrize("text,states", [
    # 散見 ("seen here and there") is occasional
    ("核分裂像も散見された", ("m1", "m2")),
    ("核分裂像を散見する", ("m1", "m2")),
    # considerable, increased, abundant
    ("核分裂像をかなり認める", ("m3", "m4")),
    ("核分裂像の増加を認めた", ("m3", "m4")),
    ("可见较多核分裂象", ("m3", "m4")),
    ("There were frequent and atypical mitoses", ("m3", "m4")),
    ("mitoses are easily identified", ("m3", "m4")),
    ("mitotic figures were readily found", ("m3", "m4")),
    # a qualifier of a neighbouring phrase is not the mitoses'
    ("細胞は異型に乏しいが,核分裂像をかなり認めた", ("m3", "m4")),
    ("細胞密度は高く、核分裂像が目立った", ("m3", "m4")),
    ("核は多形性に乏しく、核分裂像は少ない", ("m1", "m2")),
    # a denied increase allows none; a denied 'frequent' is rare
    ("核分裂像の増加はなく", ("m0", "m1", "m2")),
    ("核分裂像の増加は認めなかった", ("m0", "m1", "m2")),
    ("유사분열은 증가하지 않았다", ("m0", "m1", "m2")),
    ("核分裂象无明显增多", ("m0", "m1", "m2")),
    ("Mitotic activity was not increased", ("m0", "m1", "m2")),
    ("no increased mitotic activity", ("m0", "m1", "m2")),
    ("核分裂象不多见", ("m1", "m2")),
    ("유사분열은 많지 않았다", ("m1", "m2")),
    ("mitoses were not frequent", ("m1", "m2")),
])
def test_mitotic_words_are_read_in_the_mitoses_own_phrase(text, states):
    assert observed_states(read_morphology(text)).get("mitoses") == states


# A finding denied after it, as Japanese and Korean write it (K6 round).
@pytest.mark.parametrize("text,expect", [
    ("核分裂像は認めない", {"mitoses": ("m0",)}),
    ("核分裂像はほとんどみられなかった", {"mitoses": ("m0",)}),
    ("核分裂像はなく、壊死も観察されない", {"mitoses": ("m0",), "necrosis": ("absent",)}),
    ("壊死は見られなかった", {"necrosis": ("absent",)}),
    ("壊死は確認できなかった", {"necrosis": ("absent",)}),
    ("괴사는 동반되지 않았다", {"necrosis": ("absent",)}),
    ("유사분열은 찾아볼 수 없었다", {"mitoses": ("m0",)}),
    ("이형성은 거의 없었다", {"atypia": ("none",)}),
    ("異型は乏しい", {"atypia": ("none",)}),
    ("核異型性に乏しく", {"atypia": ("none",)}),
    ("異型の乏しい円形核を有する細胞", {"atypia": ("none",)}),
    ("核異型の目立たない細胞", {"atypia": ("none",)}),
    ("The tumour lacked mitotic activity", {"mitoses": ("m0",)}),
    # "no atypical mitoses" says nothing of how many mitoses there are
    ("No atypical mitoses were identified", {}),
])
def test_findings_denied_after_them_are_read_as_absent(text, expect):
    assert observed_states(read_morphology(text)) == expect


# A predicate that says there are mitoses, said of the mitoses themselves (K6 round).
@pytest.mark.parametrize("text,states", [
    ("spindle cells with associated mitoses", ("m1", "m2", "m3", "m4")),
    ("Mitotic figures were present.", ("m1", "m2", "m3", "m4")),
    ("mitoses were also identified", ("m1", "m2", "m3", "m4")),
    ("核分裂像を認めた", ("m1", "m2", "m3", "m4")),
    ("可见核分裂象", ("m1", "m2", "m3", "m4")),
    ("유사분열이 관찰되었다", ("m1", "m2", "m3", "m4")),
])
def test_mitoses_said_to_be_present_are_any_count(text, states):
    assert observed_states(read_morphology(text)).get("mitoses") == states


@pytest.mark.parametrize("text", [
    # 'seen' said of another finding near the word mitoses is not said of the mitoses
    "Necrosis was seen; mitotic count not given",
    "mitoses and necrosis: necrosis was seen",
    "cells with necrosis were seen near the mitotic spindle",
])
def test_a_predicate_of_another_finding_is_not_read_as_mitoses_present(text):
    assert "mitoses" not in observed_states(read_morphology(text))


# Atypical mitoses in Japanese, Chinese and Korean (K6 round): not nuclear atypia, and a denial of
# them says nothing of how many mitoses there are.
@pytest.mark.parametrize("text,expect", [
    ("核分裂像が多く、異型核分裂像も認めた", {"mitoses": ("m3", "m4")}),
    ("核分裂像は少なく、異型核分裂像はない", {"mitoses": ("m1", "m2")}),
    ("未见病理性核分裂象", {}),
    ("异型核分裂象可见", {"mitoses": ("m1", "m2", "m3", "m4")}),
    ("可见核仁及核分裂象，无病理性核分裂", {"mitoses": ("m1", "m2", "m3", "m4")}),
    ("spindle cells with mild atypia and mitoses", {"mitoses": ("m1", "m2", "m3", "m4"), "atypia": ("mild",),
                                                    "cell_type": ("spindle",)}),
])
def test_atypical_mitoses_are_mitoses_not_atypia(text, expect):
    assert observed_states(read_morphology(text)) == expect


def test_mild_pleomorphism_is_not_pleomorphic_and_anisonucleosis_is():
    assert read_morphology("mild pleomorphism").pleomorphic is False
    assert read_morphology("marked pleomorphism").pleomorphic is True
    assert read_morphology("核の大小不同や異型性も認めた").pleomorphic is True


@pytest.mark.parametrize("text,atypia", [
    ("no necrosis, mild atypia", "mild"),
    ("mitoses 3/10 HPF, no necrosis, mild atypia", "mild"),
    ("without necrosis, marked atypia", "severe"),
    ("no necrosis and moderate nuclear atypia", "moderate"),
    ("no necrosis, mitoses or atypia", "none"),          # a denied list stays denied
])
def test_a_graded_finding_after_a_denied_one_is_affirmed(text, atypia):
    m = read_morphology(text)
    assert m.necrosis is False and m.atypia == atypia


@pytest.mark.parametrize("text", [
    "pleiomorphic, large spindle cells",            # a common spelling (PMID 21361124)
    "局部可见散在奇异形核细胞",                        # bizarre nuclei (zh)
    "奇怪な核を有する細胞を認めた",                    # bizarre nuclei (ja)
    "기괴한 핵을 가진 세포가 관찰되었다",              # bizarre nuclei (ko)
])
def test_bizarre_nuclei_and_spelling_variants_are_pleomorphism(text):
    assert read_morphology(text).pleomorphic is True


def test_a_diagnosis_name_is_not_a_finding():
    assert not read_morphology("pleomorphic leiomyosarcoma of the retroperitoneum")
    assert not read_morphology("Ki-67 labeling index was 40%")


def test_the_issue_sentence_reads_every_stain_and_every_finding():
    text = ("Spindle cells with marked nuclear atypia, 18 mitoses per 10 HPF and coagulative necrosis; "
            "SMA+, desmin+, CD117-, DOG1-, S100-")
    r = run("parse", "--format", "json", text)
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["markers"] == {"SMA": "pos", "desmin": "pos", "CD117": "neg", "DOG1": "neg", "S100": "neg"}
    m = d["morphology"]
    assert m["mitoses"]["states"] == ["m4"] and m["necrosis"] is True and m["atypia"] == "severe"
    assert m["cell_type"] == "spindle"


def test_morphology_alone_is_a_case_not_an_error():
    p = parse("18 mitoses per 10 HPF and coagulative necrosis")
    assert p.markers == {} and p.morphology.necrosis is True


def test_options_take_precedence_over_the_text():
    p = parse("no necrosis; SMA+", morphology={"necrosis": True})
    assert p.morphology.necrosis is True


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_reading_morphology_never_raises(text):
    m = read_morphology(text)
    observed_states(m)


# ------------------------------------------------------------------ weighing


def _centred_sum_equals_score(res):
    model = res.model
    panel = res.panel
    from ihc.engine import panel_states

    states = panel_states(panel.markers, model.markers)
    f = finding_codes(panel.morphology)
    base, prior, contrib = model.decompose(states, panel.site, f)
    z = [base[k] + prior[k] + sum(c[k] for c in contrib.values()) for k in range(len(model.classes))]
    mx = max(z)
    e = [math.exp(v - mx) for v in z]
    p = [v / sum(e) for v in e]
    got = {d["diagnosis"]: d["probability"] for d in res.differential}
    return all(abs(p[k] - got[dx]) < 1e-9 for k, dx in enumerate(model.classes))


_morph = st.fixed_dictionaries({}, optional={
    "mitoses": st.sampled_from(["0/50 HPF", "3/50 HPF", "15/10 HPF", "frequent", "rare", "4/mm2"]),
    "necrosis": st.booleans(),
    "atypia": st.sampled_from(["none", "mild", "moderate", "severe"]),
    "pleomorphic": st.booleans(),
    "cell_type": st.sampled_from(["spindle", "epithelioid", "mixed", "pleomorphic"]),
    "size_cm": st.floats(0.5, 40),
    "age": st.integers(1, 95),
    "sex": st.sampled_from(["F", "M"]),
})


@settings(max_examples=150, deadline=None)
@given(_morph, st.sampled_from([None, "retroperitoneum", "uterus", "stomach", "thigh", "skin"]),
       st.sampled_from([SMOOTH, "S100+ SOX10+", "CD117+ DOG1+", "SMA+", "CD34+ STAT6+"]))
def test_contributions_add_up_to_the_score_with_morphology(morph, site, panel):
    res = classify(panel, site=site, morphology=morph)
    assert _centred_sum_equals_score(res)
    assert abs(sum(d["probability"] for d in res.differential) - 1) < 1e-9
    for f in observed_states(res.panel.morphology):
        assert any(e["marker"] == f for e in res.evidence)


def test_every_finding_table_is_a_distribution():
    model = load_model()
    for group, feats in model.morphology.tables.items():
        for f, by_dx in feats.items():
            for dx, probs in by_dx.items():
                assert set(probs) == set(FINDINGS[f])
                assert abs(sum(probs.values()) - 1) < 1e-4, (group, f, dx)


# ------------------------------------------------------------------ must show (issue 11)


def _json(*args):
    r = run(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_lms_with_mitoses_and_necrosis_is_named():
    d = _json("classify", SMOOTH, "--site", "retroperitoneum", "--mitoses", "15/10 HPF", "--necrosis")
    assert d["status"] == "ok" and d["diagnosis"] == "leiomyosarcoma"
    ev = {e["marker"]: e for e in d["evidence"] if e["diagnosis"] == "leiomyosarcoma"}
    assert ev["mitoses"]["effect"] == "for" and ev["mitoses"]["source"]
    assert ev["necrosis"]["effect"] == "for" and ev["necrosis"]["source"]
    assert "leiomyosarcoma" in ev["necrosis"]["note"]


def test_bland_retroperitoneal_smooth_muscle_tumour_in_a_woman_is_leiomyoma():
    d = _json("classify", SMOOTH, "--site", "retroperitoneum", "--mitoses", "0/50 HPF", "--no-necrosis",
              "--atypia", "none", "--sex", "F")
    assert d["differential"][0]["diagnosis"] == "leiomyoma"
    d0 = _json("classify", SMOOTH, "--site", "retroperitoneum")
    assert d0["status"] == "indeterminate"


def test_without_grading_the_advice_asks_for_morphology():
    d = _json("classify", SMOOTH, "--site", "retroperitoneum")
    asked = [f["finding"] for f in d.get("next_findings", [])]
    assert "mitoses" in asked or "atypia" in asked
    assert any("mitotic count" in w for w in d["warnings"])


def test_schwannoma_and_mpnst_by_morphology():
    d = _json("classify", "S100+ SOX10+ CD34 focal; bland spindle cells, no mitoses, no necrosis",
              "--site", "retroperitoneum")
    assert d["differential"][0]["diagnosis"] == "schwannoma"
    d = _json("classify", "S100 focal, SOX10-, H3K27me3 lost; 25 mitoses per 10 HPF, geographic necrosis, "
                          "marked atypia")
    assert d["differential"][0]["diagnosis"] == "mpnst"


def test_gist_risk_by_site():
    d = _json("classify", "CD117+ DOG1+ CD34+", "--site", "stomach", "--size", "6", "--mitoses", "3/50 HPF")
    assert d["status"] == "ok" and d["diagnosis"] == "gist"
    a = d["gist_risk"]["afip"]
    assert a["label"] == "low" and a["risk_percent"] == 3.6 and a["site_column"] == "stomach"
    assert d["gist_risk"]["joensuu"]["category"]
    j = _json("classify", "CD117+ DOG1+ CD34+", "--site", "jejunum", "--size", "6", "--mitoses", "3/50 HPF")
    aj = j["gist_risk"]["afip"]
    assert aj["site_column"] == "jejunum_ileum" and (aj["label"], aj["risk_percent"]) != ("low", 3.6)
    n = _json("classify", "CD117+ DOG1+ CD34+", "--site", "stomach", "--mitoses", "3/50 HPF")
    assert n["gist_risk"]["afip"] is None and "size" in n["gist_risk"]["missing"]


def test_gist_risk_in_text_output():
    r = run("classify", "CD117+ DOG1+ CD34+", "--site", "stomach", "--size", "6", "--mitoses", "3/50 HPF")
    assert "GIST risk of progression" in r.output and "3.6%" in r.output


@pytest.mark.parametrize("text", [
    # J Radiol Case Rep 2011;5(6):1-8, doi:10.3941/jrcr.v5i6.626
    "Foci of necrosis, dilated and congested blood vessels, and frequent mitosis were seen. On "
    "immunohistochemistry, the tumor cells showed positivity for desmin and smooth muscle actin, and were "
    "negative for c-kit and S-100.",
    # case report of retroperitoneal pleomorphic leiomyosarcoma (issue 11)
    "Immunohistochemical analysis revealed high-grade malignant cells strongly positive for h-caldesmon and "
    "positive for α-smooth muscle actin, desmin, and calponin. A high proliferation rate of the tumor cells was "
    "also seen on immunohistochemical analysis.",
])
def test_two_real_retroperitoneal_lms_reports_are_named(text):
    d = _json("classify", text, "--site", "retroperitoneum")
    assert d["status"] == "ok" and d["diagnosis"] == "leiomyosarcoma", d["differential"][:3]


def test_a_chinese_retroperitoneal_lms_report_is_named():
    # a real report's own line (the one of the five read on 2026-12-03 that is in Chinese)
    d = _json("classify", "免疫组化：SMA（+），Desmin（+），CD117（－），DOG1（－），S-100（－），Ki-67约30%",
              "--site", "retroperitoneum")
    assert d["status"] == "ok" and d["diagnosis"] == "leiomyosarcoma", d["differential"][:3]


@pytest.mark.parametrize("args,needle", [
    (["--mitoses", "lots"], "mitoses"),
    (["--atypia", "purple"], "atypia"),
    (["--size", "-4"], "size"),
    (["--sex", "x"], "sex"),
])
def test_bad_morphology_options_are_one_line_errors(args, needle):
    r = CliRunner().invoke(cli, ["classify", SMOOTH, *args])
    assert r.exit_code == 2
    assert needle in r.output and "Traceback" not in r.output
    assert len([ln for ln in r.output.splitlines() if ln.strip()]) == 1


def test_library_takes_morphology():
    r = ihc.classify(SMOOTH, site="uterus", morphology={"mitoses": "20/10 HPF", "necrosis": True,
                                                        "atypia": "severe"})
    assert r.differential[0]["diagnosis"] == "leiomyosarcoma"
    assert r.to_dict()["input"]["morphology"]["atypia"] == "severe"


def _reader_agreement(role):
    """Findings read from the cases' own morphology sentences against the curators' structured
    findings, over the dev case files (``role="dev"``) or the held-out ones."""
    import glob
    from pathlib import Path

    from ihc.morphology import case_morphology

    root = Path(__file__).parents[1] / "training_data"
    agree = total = 0
    for f in sorted(glob.glob(str(root / "real_cases*.jsonl"))):
        if (role == "dev") != f.endswith("dev.jsonl"):
            continue
        for line in open(f, encoding="utf-8"):
            c = json.loads(line)
            if not c.get("morphology"):
                continue
            truth = observed_states(case_morphology({"morphology": c["morphology"]}))
            got = observed_states(read_morphology(f"{c.get('morphology_text') or ''} {c.get('ihc_text') or ''}"))
            for k, v in truth.items():
                total += 1
                agree += got.get(k) == v
    return agree, total


def test_findings_read_from_real_case_sentences_agree_with_the_curators():
    # the reader's rules are written against the dev sentences: they must agree there (181/202 on
    # 2026-12-03); the held-out sentences are a measurement, guarded at a floor below their level
    # on the day the held-out sets of 2026-12-03 joined (335/413 = 0.81), so a regression shows
    agree, total = _reader_agreement("dev")
    assert total >= 80
    assert agree / total >= 0.85, (agree, total)
    agree, total = _reader_agreement("heldout")
    assert total >= 300
    assert agree / total >= 0.78, (agree, total)


def test_batch_morphology_columns_give_what_classify_gives(tmp_path):
    from ihc.batch import run_batch

    rows = [("1", "15/10 HPF", "yes", "", "", "retroperitoneum"),
            ("2", "0/50 HPF", "no", "none", "F", "retroperitoneum"),
            ("3", "", "", "", "", "retroperitoneum"),
            ("4", "3/50 HPF", "", "", "", "stomach")]
    src = tmp_path / "in.csv"
    src.write_text("case_id,SMA,desmin,h-caldesmon,CD117,DOG1,S100,mitoses,necrosis,atypia,sex,site\n" + "".join(
        f"{i},+,+,+,-,-,-,{m},{n},{a},{sx},{site}\n" for i, m, n, a, sx, site in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run_batch(str(src), str(out), fmt="jsonl")
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(got) == len(rows)
    for (i, m, n, a, sx, site), g in zip(rows, got):
        morph = {k: v for k, v in (("mitoses", m), ("necrosis", n), ("atypia", a), ("sex", sx)) if v}
        want = classify("SMA+ desmin+ h-caldesmon+ CD117- DOG1- S100-", site=site, morphology=morph).to_dict()
        assert g["status"] == want["status"] and g["differential"] == want["differential"], i
        assert g["input"].get("morphology") == want["input"].get("morphology")
    csv_out = tmp_path / "out.csv"
    run_batch(str(src), str(csv_out))
    lines = csv_out.read_text(encoding="utf-8").splitlines()[1:]
    assert [ln.split(",")[1] for ln in lines] == [g["status"] for g in got]


def test_batch_bad_morphology_cell_is_an_error_row_in_place(tmp_path):
    from ihc.batch import run_batch

    src = tmp_path / "in.csv"
    src.write_text("case_id,SMA,desmin,mitoses,size_cm\n1,+,+,lots,\n2,+,+,,-3\n3,+,+,2/10 HPF,4\n",
                   encoding="utf-8")
    out = tmp_path / "out.csv"
    summary = run_batch(str(src), str(out))
    lines = out.read_text(encoding="utf-8").splitlines()[1:]
    assert [ln.split(",")[1] for ln in lines] == ["error", "error", lines[2].split(",")[1]]
    assert "mitoses" in lines[0] and "size" in lines[1] and lines[2].split(",")[1] != "error"


@pytest.mark.parametrize("text, states", [
    ("high mitotic index", ("m3", "m4")),
    ("without mitoses", ("m0",)),
    ("virtually none", ("m0",)),
    ("极少见 (very rare)", ("m1", "m2")),
    ("few mitotic hot spots", ("m1", "m2")),
    ("not frequent", ("m1", "m2")),
    ("유사분열은 드물었다", ("m1", "m2")),
])
def test_a_mitoses_value_written_as_a_phrase_is_read_with_the_free_text_word_tables(text, states):
    assert parse_mitoses(text).states() == states


@pytest.mark.parametrize("text", ["xyz", "≥5 per ×20 field", "1 to more than 5 per 5 HPF", "many 5"])
def test_a_mitoses_phrase_with_no_readable_word_or_an_unreadable_count_is_still_an_error(text):
    with pytest.raises(InvalidValueError):
        parse_mitoses(text)


# ------------------------------------------------------------------ the reader's precheck (cold start)


def _required_literals(sub):
    """A set of strings one of which every match of the parsed expression ``sub`` holds, or None.

    A run of literal characters is required as a whole; a group, or a repeat taken at least once,
    requires what its content requires; an alternation requires one of its branches' sets;
    zero-width items (``\\b``, ``^``, look-arounds) consume nothing and leave a run whole.
    Of the candidates of a sequence, the one with the longest shortest string is kept."""
    try:
        from re import _constants as C
    except ImportError:  # pragma: no cover - Python < 3.11
        import sre_constants as C
    repeats = {C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", C.MAX_REPEAT)}
    cands, run = [], []

    def flush():
        if run:
            cands.append({"".join(run)})
            run.clear()

    for op, av in sub:
        if op is C.LITERAL:
            run.append(chr(av))
            continue
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue
        flush()
        found = None
        if op is C.SUBPATTERN:
            found = _required_literals(av[-1])
        elif op is C.BRANCH:
            parts = [_required_literals(b) for b in av[1]]
            found = None if any(p is None for p in parts) else set().union(*parts)
        elif op in repeats:
            found = _required_literals(av[2]) if av[0] >= 1 else None
        elif op is C.IN and all(o is C.LITERAL for o, _ in av):
            found = {chr(v) for _, v in av}
        if found:
            cands.append(found)
    flush()
    return max(cands, key=lambda s: (min(map(len, s)), -len(s))) if cands else None


def test_ascii_trigger_words_are_derived_from_the_reader_expressions():
    """Every ASCII match of every expression read_morphology reads through holds one of
    ASCII_TRIGGER_WORDS, so the precheck never skips a text the reader would read."""
    import re
    import string

    try:
        from re import _parser as P
    except ImportError:  # pragma: no cover - Python < 3.11
        import sre_parse as P
    from ihc import morph_text

    words = set()
    for pattern, flags in morph_text.TRIGGERS:
        req = _required_literals(P.parse(pattern, flags))
        assert req, f"no required literal in {pattern!r}: the precheck cannot skip any text"
        for w in req:
            # a non-ASCII literal that matches an ASCII letter ignoring case (K, ſ, ı, İ) would let
            # an ASCII text match a word the precheck does not hold
            assert w.isascii() or not any(re.match(re.escape(ch), a, re.I)
                                          for ch in w for a in string.ascii_letters), w
        words |= {w.lower() for w in req if w.isascii()}
    minimal = tuple(sorted(w for w in words if not any(k != w and k in w for k in words)))
    assert morph_text.ASCII_TRIGGER_WORDS == minimal, f"ASCII_TRIGGER_WORDS = {minimal!r}"


def _oracle_texts():
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).parents[1]
    texts = []
    for path in [*sorted((root / "tests" / "fixtures").glob("reports_*.jsonl")),
                 *sorted((root / "training_data").glob("real_cases_*.jsonl"))]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            strings = [v for v in rec.values() if isinstance(v, str)]
            texts += strings + [" ".join(strings)]
    # every string written in this file's tests (the reader's own cases)
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    texts += [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    pieces = [p for t in texts for p in re.split(r"[.;,\n]", t)]  # clauses and fragments, as the reader meets them
    return list(dict.fromkeys(texts + pieces))


def test_the_precheck_never_changes_a_reading(monkeypatch):
    """Oracle: read_morphology with its ASCII precheck equals the full reader (the precheck
    disabled) on the test corpora, the real cases and every string of these tests."""
    from ihc import morph_text

    texts = _oracle_texts()
    fast = [read_morphology(t) for t in texts]
    skipped = sum(1 for t in texts if morph_text._norm(t).isascii()
                  and not any(w in morph_text._norm(t) for w in morph_text.ASCII_TRIGGER_WORDS))
    monkeypatch.setattr(morph_text, "ASCII_TRIGGER_WORDS", ("",))  # "" is in every text: never skip
    full = [read_morphology(t) for t in texts]
    assert skipped > 500 and len(texts) > 2000, (skipped, len(texts))
    for t, a, b in zip(texts, fast, full):
        assert a == b, t


def test_morphology_vectors_on_demand_equal_the_eager_table():
    """The engine asks the morphology for a vector on first use (loading builds none); every key
    gives the same floats as the full table, and a site's group falls back to 'any' as before."""
    from ihc.morphology import observation_codes
    from ihc.sites import SITE_GROUP_OF, SITE_GROUPS

    model = load_model()
    eager = model.morphology.vectors()
    assert len(eager) == sum(len(observation_codes(f)) for f in FINDINGS) * len(SITE_GROUPS)
    t = model.tables
    for (f, code, g), v in eager.items():
        assert t._by_group(f, code, g) == v
    for site in [None, *SITE_GROUP_OF]:
        for f in FINDINGS:
            for code in observation_codes(f):
                assert t.vector(f, code, site) == eager[(f, code, SITE_GROUP_OF.get(site, "any"))]
            assert t.vector(f, "no-such-state", site) is None


@pytest.mark.parametrize("text, states", [
    ("present (not counted)", ("m1", "m2", "m3", "m4")),
    ("mitotic figures are seen", ("m1", "m2", "m3", "m4")),
    ("not seen", ("m0",)),
    ("no mitoses identified", ("m0",)),
    ("not present", ("m0",)),
    ("rare mitoses seen", ("m1", "m2")),
    # a denial of atypical mitoses only is not a denial of mitoses
    ("seen (none atypical)", ("m1", "m2", "m3", "m4")),
    ("frequent, without atypical forms", ("m3", "m4")),
    ("可见 (无病理性核分裂)", ("m1", "m2", "m3", "m4")),
])
def test_a_mitoses_value_that_only_says_there_are_some_is_any_count_not_none(text, states):
    # 'present (not counted)' was read as none: the 'not' of 'not counted' negated it
    assert parse_mitoses(text).states() == states


@pytest.mark.parametrize("text,expected", [
    # a grade denied after the grade word (ja/ko): the atypia stays, ungraded
    ("細胞異型は高度ではない", {"atypia": "present"}),
    ("세포의 이형성은 심하지 않았으며 괴사는 보이지 않았다.", {"atypia": "present", "necrosis": False}),
    ("세포 이형성은 심하지는 않았다", {"atypia": "present"}),
    ("핵의 이형성이 심했다", {"atypia": "severe"}),
    ("核異型は高度であり", {"atypia": "severe"}),
])
def test_grade_denied_after_the_grade_word(text, expected):
    got = read_morphology(text).to_dict()
    assert {k: got.get(k) for k in expected} == expected


@pytest.mark.parametrize("text,per50", [
    # "N개의 고배율 시야당 M개", "N個の強拡大視野あたりM個": the fields' count joined by 의/の
    ("유사분열은 10개의 고배율 시야당 12개였으며", 60.0),
    ("유사분열은 50개의 고배율 시야에서 5개였다", 5.0),
    ("核分裂像は10個の強拡大視野あたり3個", 15.0),
])
def test_fields_count_joined_by_a_genitive(text, per50):
    got = read_morphology(text).to_dict()["mitoses"]
    assert got["per_50_hpf_low"] == per50 == got["per_50_hpf_high"]


@pytest.mark.parametrize("text,expected", [
    ("肉眼观肿瘤表面光滑,无出血、坏死。", {"necrosis": False}),   # the negation governs its enumeration
    ("无出血,可见坏死", {"necrosis": True}),                      # not across a comma clause
    ("无坏死、可见核分裂象", {"necrosis": False}),
    ("高倍镜下两种梭形细胞异型性不显著,罕见核分裂像", {"atypia": "none"}),
    ("细胞核无明显异形性", {"atypia": "none"}),                 # 异形 written for 异型
    ("细胞异型性均不明显", {"atypia": "none"}),
])
def test_chinese_negation_forms(text, expected):
    got = read_morphology(text).to_dict()
    assert {k: got.get(k) for k in expected} == expected


@pytest.mark.parametrize("text,expected", [
    ("核分裂像1~2个/50高倍镜视野(HPF),浸润周围平滑肌,无坏死", {"mitoses": ("m1",), "necrosis": ("absent",)}),
    ("梭形样肿瘤细胞呈片状排列,伴有明显细胞异型性,核分裂明显", {"mitoses": ("m3", "m4"), "atypia": ("severe",)}),
    ("细胞异型明显,可见核多形性以及病理性核分裂像", {"mitoses": ("m1", "m2", "m3", "m4")}),  # atypical mitoses seen
    ("未见有病理性核分裂相", {}),                        # no atypical mitoses: nothing of their number
    ("異型性のない紡錘形の腫瘍細胞が束状に増殖していた", {"atypia": ("none",), "cell_type": ("spindle",)}),
    ("核異型,核分裂は軽度で", {"mitoses": ("m1", "m2"), "atypia": ("mild",)}),
    ("腫瘤細胞形態溫和,核分裂象不易見。", {"atypia": ("none",)}),
    ("瘤细胞圆形或多边形", {"cell_type": ("epithelioid",)}),
    ("核分裂象无明显增多", {"mitoses": ("m0", "m1", "m2")}),
    ("核分裂象易見(0-4/10HFP),未見病理性核分裂象", {"mitoses": ("m0", "m1", "m2")}),  # HFP written for HPF
    # the fields' word before their number
    ("핵분열은 고배율 시야 10개당 20개 이상이었고 광범위한 괴사가 있었다.", {"mitoses": ("m4",), "necrosis": ("present",)}),
    ("유사분열은 고배율 시야 50개당 2개였다", {"mitoses": ("m1",)}),
    ("核分裂像は強拡大視野10個あたり3個", {"mitoses": ("m2",)}),
])
def test_chinese_and_japanese_morphology_forms(text, expected):
    got = observed_states(read_morphology(text))
    assert {k: got.get(k) for k in expected} == expected
    if not expected:
        assert "mitoses" not in got


# A comparator word before a count means the same in a morphology field as in a report's sentence
# (one table, ihc.morphology.CMP_WORDS): "up to 40/10 HPF" is the hot-spot count, 40/10 HPF; a
# structured field read it as "0 to 40" (every bin), so a real MPNST's 40/10 HPF said nothing.
@pytest.mark.parametrize("cmp", ["up to", "at most", "no more than", "less than", "fewer than", "below",
                                 "more than", "over", "above", "at least", "<", "<=", ">", ">="])
@pytest.mark.parametrize("count", ["1/50 HPF", "3/10 HPF", "40/10 HPF", "4/mm2"])
def test_a_comparator_means_the_same_in_a_field_and_in_a_sentence(cmp, count):
    field = parse_mitoses(f"{cmp} {count}").states()
    sentence = observed_states(read_morphology(f"Mitoses were {cmp} {count}."))["mitoses"]
    assert field == sentence


def test_up_to_is_the_hot_spot_count():
    assert parse_mitoses("up to 40/10 HPF").states() == ("m4",)
    assert parse_mitoses("at most 3/10 HPF").states() == ("m0", "m1", "m2")
