"""Reading report sentences as written: CJK, harder English, the corpus and its README figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ihc.exceptions import InputError, NoKnownMarkerError
from ihc.lexicon_cjk import PARTICLES, WORDS, has_cjk, rewrite
from ihc.markers import CORE, EXTENDED, LOSS_MARKERS, MARKERS, NOT_MODELLED, canonical, info
from ihc.panel import Panel
from ihc.parse import parse
from ihc.parse_eval import README_BEGIN, README_END, README_FILES, evaluate, load, readme_block

ROOT = Path(__file__).parents[1]
CORPUS = sorted((ROOT / "tests" / "fixtures").glob("reports_*.jsonl"))

FAST = settings(max_examples=int(os.environ.get("IHC_HYPOTHESIS_EXAMPLES", "200")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- "Must show"

MUST_SHOW = [
    ("免疫染色ではKIT、DOG1陽性、desmin、S-100蛋白陰性であった",
     {"CD117": "pos", "DOG1": "pos", "desmin": "neg", "S100": "neg"}),
    ("免疫组化：SMA（+），Desmin（+），CD117（－），DOG1（－），S-100（－），Ki-67约30%",
     {"SMA": "pos", "desmin": "pos", "CD117": "neg", "DOG1": "neg", "S100": "neg", "Ki67": 30}),
    ("면역조직화학염색에서 CD117과 DOG1은 양성, S-100과 desmin은 음성이었다",
     {"CD117": "pos", "DOG1": "pos", "S100": "neg", "desmin": "neg"}),
    ("The tumour showed positivity for CD99 and BCL2, with focal positivity for EMA; TLE1 was "
     "strongly positive.", {"CD99": "pos", "BCL2": "pos", "EMA": "focal", "TLE1": "pos"}),
]


@pytest.mark.parametrize("text,expected", MUST_SHOW)
def test_must_show(text, expected):
    p = parse(text, mode="strict")
    assert p.markers == expected
    assert list(p.markers) == list(expected)
    assert p.unknown == []


def test_must_show_cd34_only_in_vessels_is_no_tumour_result():
    p = parse("腫瘍細胞はデスミン弱陽性、αSMA陽性、CD34は血管内皮のみ陽性、Ki-67標識率は約15%")
    assert p.markers == {"desmin": "focal", "SMA": "pos", "Ki67": 15}
    assert any("CD34" in w and "other cells" in w for w in p.warnings)


def test_must_show_through_the_cli():
    for text, expected in MUST_SHOW:
        r = subprocess.run([sys.executable, "-m", "ihc.cli", "parse", "--format", "json", text],
                           capture_output=True, text=True, encoding="utf-8")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["markers"] == expected


def test_stains_outside_the_model_are_ignored_not_unknown():
    p = parse("The tumour showed positivity for NSE and p63, with focal positivity for EMA")
    assert p.ignored == ["NSE", "p63"] and p.unknown == []
    assert not set(NOT_MODELLED) & set(CORE + EXTENDED)


# --------------------------------------------------------------------------- CJK forms

@pytest.mark.parametrize("text,expected", [
    # result words and grades
    ("desmin弱陽性、SMA強陽性", {"desmin": "focal", "SMA": "pos"}),
    ("CD34部分的に陽性、S-100一部陽性", {"CD34": "focal", "S100": "focal"}),
    ("CD117びまん性に陽性", {"CD117": "pos"}),
    ("SMA局灶阳性，CD34灶状阳性，Desmin弥漫阳性", {"SMA": "focal", "CD34": "focal",
                                           "desmin": "pos"}),
    ("瘤细胞弥漫表达CD117和DOG1，不表达SMA", {"CD117": "pos", "DOG1": "pos", "SMA": "neg"}),
    ("CD117 부분적 양성, desmin 미만성 양성", {"CD117": "focal", "desmin": "pos"}),
    ("SMA ±, desmin (+)", {"SMA": "focal", "desmin": "pos"}),
    ("CD117（＋）、CD34（−）、S-100（－）", {"CD117": "pos", "CD34": "neg", "S100": "neg"}),
    # a result word closing a run of markers
    ("A, B, CD117、DOG1、CD34陽性、desmin、S-100陰性".replace("A, B, ", ""),
     {"CD117": "pos", "DOG1": "pos", "CD34": "pos", "desmin": "neg", "S100": "neg"}),
    # marker names in the script
    ("デスミン陽性、ビメンチン陽性、平滑筋アクチン陰性、カルデスモン陽性、サイトケラチン陰性",
     {"desmin": "pos", "vimentin": "pos", "SMA": "neg", "h_caldesmon": "pos", "keratin": "neg"}),
    ("β-カテニン核陽性", {"beta_catenin": "pos"}),
    ("结蛋白(+)，波形蛋白(+)，平滑肌肌动蛋白(-)，角蛋白(-)",
     {"desmin": "pos", "vimentin": "pos", "SMA": "neg", "keratin": "neg"}),
    ("평활근 액틴 양성, 데스민 음성", {"SMA": "pos", "desmin": "neg"}),
    # suffixes
    ("desmin染色陽性、S-100蛋白陰性、CD34抗体陰性", {"desmin": "pos", "S100": "neg", "CD34": "neg"}),
    # Korean particles
    ("CD117에 대해 양성이고 CD34는 음성", {"CD117": "pos", "CD34": "neg"}),
    ("종양세포는 DOG1에서 양성을 보였다", {"DOG1": "pos"}),
    # indices
    ("Ki-67陽性率は約10%", {"Ki67": 10}), ("Ki-67增殖指数约5%", {"Ki67": 5}),
    ("Ki-67 지수는 약 20%", {"Ki67": 20}), ("MIB-1標識率 3〜5%", {"Ki67": 4}),
    # traditional characters
    ("免疫組化顯示CD34陽性、STAT6陽性", {"CD34": "pos", "STAT6": "pos"}),
])
def test_cjk_forms(text, expected):
    assert parse(text).markers == expected


def test_cjk_cells_and_columns():
    from ihc.parse import panel_from_mapping, parse_value
    assert [parse_value("SMA", "陽性"), parse_value("CD117", "（－）"), parse_value("desmin", "弱陽性"),
            parse_value("Ki67", "约30%"), parse_value("S100", "음성")] == ["pos", "neg", "focal", 30,
                                                                          "neg"]
    assert panel_from_mapping({"デスミン": "陽性", "结蛋白": "", "CD117": "（－）",
                               "평활근 액틴": "양성"}).markers == {"desmin": "pos", "CD117": "neg",
                                                              "SMA": "pos"}


def test_korean_benign_is_not_positive():
    # 양성 종양 = benign tumour (良性), not a positive result
    p = parse("양성 종양으로 진단되었다. CD34 음성")
    assert p.markers == {"CD34": "neg"}


@pytest.mark.parametrize("text,expected", [
    # Korean adverbs of extent and strength before the result word: the result is read, and a
    # positive does not run on into the following negative list
    ("종양세포는 S-100 단백에 미만성으로 강하게 양성이었으며 CD117, CD34, SMA, desmin에는 음성이었다.",
     {"S100": "pos", "CD117": "neg", "CD34": "neg", "SMA": "neg", "desmin": "neg"}),
    ("종양세포는 CD117에 강하게 양성이었고 DOG1에도 양성이었다.", {"CD117": "pos", "DOG1": "pos"}),
    ("desmin에 약하게 양성이었다.", {"desmin": "focal"}),
])
def test_korean_extent_and_strength_adverbs(text, expected):
    p = parse(text)
    assert p.markers == expected and p.unparsed == []


@pytest.mark.parametrize("text,expected", [
    # a Chinese full name with the English name and the value inside its parenthesis
    ("平滑肌肌动蛋白(SMA,+),结蛋白(desmin,-),S-100(-)", {"SMA": "pos", "desmin": "neg", "S100": "neg"}),
    ("钙调理蛋白(calponin,+/-),平滑肌肌动蛋白(smooth muscle actin,SMA;-)", {"calponin": "focal", "SMA": "neg"}),
    ("CD117 (c-kit; +), CD34 (-)", {"CD117": "pos", "CD34": "neg"}),
    # few-cell grades, catenin, BCL2 and TLE1 written out in Chinese
    ("平滑肌肌动蛋白(少部+)、结蛋白(-)、β-联蛋白(核+)、Bcl-2(+)",
     {"SMA": "focal", "desmin": "neg", "beta_catenin": "pos", "BCL2": "pos"}),
    ("EMA(极少数+),CD34(少数+),SMA(个别+)", {"EMA": "focal", "CD34": "focal", "SMA": "focal"}),
    ("波形蛋白、上皮膜抗原、转导样增强子蛋白-1、B淋巴细胞瘤蛋白-2、CD99阳性",
     {"vimentin": "pos", "EMA": "pos", "TLE1": "pos", "BCL2": "pos", "CD99": "pos"}),
    # a forward list ends at a marker with its own result; 均(-) closes the list after it
    ("纤细梭形细胞表达CD34,EMA(灶+),Ki-67(+1%),CK、SMA、Desmin、CD117均(-)。",
     {"CD34": "pos", "EMA": "focal", "Ki67": 1, "keratin": "neg", "SMA": "neg", "desmin": "neg",
      "CD117": "neg"}),
    ("expressed CD34, EMA (focal), CK, SMA, desmin all negative",
     {"CD34": "pos", "EMA": "focal", "keratin": "neg", "SMA": "neg", "desmin": "neg"}),
    # 其他標記 (the other markers) start a new list
    ("瘤細胞表達vimentin、CD34、孕激素受體(PR)、Desmin,其他標記SMA、S-100、CD117均呈陰性",
     {"vimentin": "pos", "CD34": "pos", "PR": "pos", "desmin": "pos", "SMA": "neg", "S100": "neg",
      "CD117": "neg"}),
    # Korean: not stained / not expressed
    ("면역화학염색검사에서 C-kit와 S100에 염색이 되지 않아 총상 섬유점액종으로 진단하였다.",
     {"CD117": "neg", "S100": "neg"}),
    ("종양세포는 SMA에 양성이었고 CD117과 DOG1은 발현되지 않았다.", {"SMA": "pos", "CD117": "neg", "DOG1": "neg"}),
    # the enumeration comma (、) joins markers to one value even after a marker with its own
    ("CD117(+),CD34、DOG1(+),SMA(-)", {"CD117": "pos", "CD34": "pos", "DOG1": "pos", "SMA": "neg"}),
    ("PCK(-)、SMA(-)、Desmin (+)", {"keratin": "neg", "SMA": "neg", "desmin": "pos"}),
    # a marker left waiting before markers with their own values is not closed by a later result;
    # 強+ is strongly positive; S100 only in the fat cells is no tumour result
    ("上皮樣細胞彌漫性表達HMB45、Melan-A+(圖1-E) 、HMB-45強+(圖1-F)、SMA +、VIM +、CK7-、CD117-,"
     "S100 脂肪細胞個別+、Ki-67 指數1%。",
     {"HMB45": "pos", "melan_a": "pos", "SMA": "pos", "vimentin": "pos", "CK7": "neg", "CD117": "neg", "Ki67": 1}),
    ("HMB-45強+、SMA(-)", {"HMB45": "pos", "SMA": "neg"}),
    # a single keratin (CK17, CK19...) is not a pan-keratin result; CR is calretinin (zh lists);
    # a Ki-67 in a few cells is a low index
    ("CK (+/-), cytokeratin 17 (CK17) (-), cytokeratin 19 negative, SMA (-)", {"keratin": "focal", "SMA": "neg"}),
    ("CK(-)、CR(-)、S-100(+)", {"keratin": "neg", "calretinin": "neg", "S100": "pos"}),
    ("细胞核蛋白Ki-67(个别+)、结蛋白(-)", {"Ki67": "low", "desmin": "neg"}),
    ("Ki-67 positive in scattered cells, SMA+", {"Ki67": "low", "SMA": "pos"}),
])
def test_report_forms_found_on_chinese_and_korean_cases(text, expected):
    assert parse(text).markers == expected


@pytest.mark.parametrize("text,expected", [
    # an index given as below a bin edge is the bin below it ("<5%" is low, not the 5-15% bin)
    ("Ki-67 <5%", "low"), ("Ki-67 less than 5%", "low"), ("Ki-67(<5%)", "low"), ("Ki-67 ≤5%", "low"),
    ("Ki-67 양성률은 5% 미만이었다", "low"), ("Ki-67 5% 이하", "low"), ("MIB-1標識率は5%未満であった", "low"),
    ("Ki-67小于5%", "low"), ("Ki-67 <15%", "mid"),
    ("Ki-67 5%", 5), ("Ki-67 15%", 15), ("Ki-67 <1%", 1), ("Ki-67 >10%", 10),
])
def test_ki67_below_a_bin_edge(text, expected):
    assert parse(text).markers == {"Ki67": expected}


def test_cjk_fragments_are_quoted_as_written():
    p = parse("SMA陽性、desmin不明")
    assert p.markers == {"SMA": "pos"}
    assert any("不明" in u for u in p.unparsed)


def test_cjk_tables_agree_and_rewrite_keeps_spans():
    assert "陽性" in WORDS and "は" in PARTICLES and has_cjk("CD34陽性") and not has_cjk("CD34+")
    text = "CD34は血管内皮のみ陽性"
    out, spans = rewrite(text)
    assert len(out) == len(spans)
    assert all(0 <= a < b <= len(text) for a, b in spans)


# --------------------------------------------------------------------------- harder English

@pytest.mark.parametrize("text,expected", [
    ("positivity for desmin; SMA positivity was focal", {"desmin": "pos", "SMA": "focal"}),
    ("strong positivity for cluster of differentiation (CD)117 and DOG1",
     {"CD117": "pos", "DOG1": "pos"}),
    ("positive for cluster of differentiation 34 (CD34)", {"CD34": "pos"}),
    ("CD34 and S-100 showed negative results", {"CD34": "neg", "S100": "neg"}),
    ("immunoreactive for SMA and h-caldesmon", {"SMA": "pos", "h_caldesmon": "pos"}),
    ("The tumour cells stained for desmin and SMA but not for CD117 or DOG1.",
     {"desmin": "pos", "SMA": "pos", "CD117": "neg", "DOG1": "neg"}),
    ("SMA: +; desmin: \u2212; CD117: \u2013; DOG1 \u2014\nS100: \u2010; CD34: \u2011; "
     "SOX10: \ufe63; STAT6: \uff0d", {"SMA": "pos", "desmin": "neg", "CD117": "neg",
                                     "DOG1": "neg", "S100": "neg", "CD34": "neg",
                                     "SOX10": "neg", "STAT6": "neg"}),
    ("\u2022 SMA (+)\n\u2022 Desmin (+)\n\u2022 CD117 (\u2212)\n\u2022 Ki-67: 10%",
     {"SMA": "pos", "desmin": "pos", "CD117": "neg", "Ki67": 10}),
    ("Foci of necrosis were seen. On immunohistochemistry, the tumor cells showed positivity "
     "for desmin and SMA, and were negative for CD117.",
     {"desmin": "pos", "SMA": "pos", "CD117": "neg"}),
    ("actin (HHF-35) positive; smooth muscle actin positive", {"MSA": "pos", "SMA": "pos"}),
])
def test_harder_english(text, expected):
    assert parse(text).markers == expected


# --------------------------------------------------------------------------- real-case misreads

# Sentences of real published cases the reader once misread (KE round), minimal forms.
REAL_CASE_READINGS = [
    # a dash set apart by spaces after a list is punctuation, not a minus sign
    ("IHC staining for SMA, Desmin, H-Caldesmon \u2013 diffusely positive on tumor cells.",
     {"SMA": "pos", "desmin": "pos", "h_caldesmon": "pos"}),
    ("IHC staining for SMA, Desmin, H-Caldesmon - diffusely positive on tumor cells.",
     {"SMA": "pos", "desmin": "pos", "h_caldesmon": "pos"}),
    ("The reaction for S100, Myogenin - negative.", {"S100": "neg", "myogenin": "neg"}),
    ("The reaction for S100, Myogenin \u2013 negative.", {"S100": "neg", "myogenin": "neg"}),
    # ... while a sign stays a sign
    ("CD34 - , SMA +, desmin -", {"CD34": "neg", "SMA": "pos", "desmin": "neg"}),
    # a stain stated only in vessels is no tumour result, and does not take the next item
    ("SMA(+),CD34血管(+),CK(-),Desmin(-)", {"SMA": "pos", "keratin": "neg", "desmin": "neg"}),
    # a place after one reading is that reading's, not the next marker's
    ("Vimentin:血管阳性,S-100:阴性,CD34:血管阳性,CD117阴性", {"S100": "neg", "CD117": "neg"}),
    ("desmin positive in vessels, CD34 negative", {"CD34": "neg"}),
    # partial positivity is focal
    ("α-SMA和EMA部分细胞阳性", {"SMA": "focal", "EMA": "focal"}),
    ("CKpan(少量阳性)", {"keratin": "focal"}),
    ("BCL-2少量细胞(+)、CD99(部分+)、STAT6(散在胞浆弱+)", {"BCL2": "focal", "CD99": "focal", "STAT6": "neg"}),  # cytoplasmic STAT6: negative
    ("CD117、CD34以及DOG-1大部分为弥漫强阳性", {"CD117": "pos", "CD34": "pos", "DOG1": "pos"}),
    ("the tumor cells were positive for vimentin and some of them were positive for S100 protein.",
     {"vimentin": "pos", "S100": "focal"}),
    ("CD34(+), BCL-2 few cells (+), SMA(-)", {"CD34": "pos", "BCL2": "focal", "SMA": "neg"}),
    # names as reports write them
    ("positive S100b protein expression", {"S100": "pos"}),
    ("The MIB-1index was multifocally 25%", {"Ki67": 25}),
    ("TLE(+++), Ki-67(30%+)", {"TLE1": "pos", "Ki67": 30}),
    ("CD99(30%+)", {"CD99": "focal"}),
    ("SMA 2+, desmin 3+", {"SMA": "pos", "desmin": "pos"}),
    # a marker in parentheses after the name of its class
    ("strongly positive for smooth muscle markers (SMA and Desmin), but negative for uterine "
     "stromal markers (CD10).", {"SMA": "pos", "desmin": "pos", "CD10": "neg"}),
    ("the absence of typical GIST markers (CD117, DOG-1)", {"CD117": "neg", "DOG1": "neg"}),
    # 2026-12-03 round: forms written for the reader's probes, none from a held-out sentence
    ("Desmin(-)、Ck-P(-)", {"desmin": "neg", "keratin": "neg"}),
    ("Vimentin（+++），SMA（++），Desmin（灶+），CD117（－）",
     {"vimentin": "pos", "SMA": "pos", "desmin": "focal", "CD117": "neg"}),
    ("SMA局部阳性，Desmin(灶性+)", {"SMA": "focal", "desmin": "focal"}),
    ("β-catenin（核+），SMA（+）", {"beta_catenin": "pos", "SMA": "pos"}),
    ("β-catenin（胞浆+），SMA（+）", {"beta_catenin": "neg", "SMA": "pos"}),
    ("h-CD（+），CD117（-）", {"h_caldesmon": "pos", "CD117": "neg"}),
    ("종양세포는 CD117과 DOG1에 양성, CD34에 부분 양성이었고 SMA와 S-100 단백에는 음성이었다.",
     {"CD117": "pos", "DOG1": "pos", "CD34": "focal", "SMA": "neg", "S100": "neg"}),
    # pan-keratin antibodies that differ are one keratin result, not a conflict (warned)
    ("CK(+),CAM5.2(灶+),S100(-)", {"keratin": "pos", "S100": "neg"}),
    ("AE1/AE3 positive, CAM5.2 negative", {"keratin": "focal"}),
    # a Ki-67 range written with a tilde or wave dash is a range (midpoint)
    ("Ki-67(+5~10%)", {"Ki67": 7.5}), ("Ki-67约5～10%", {"Ki67": 7.5}),
    ("MIB-1 index 5〜10%", {"Ki67": 7.5}),
    # a marker with its own result ends a forward list
    ("肿瘤细胞弥漫强阳性表达CD117和DOG-1，CD34部分阳性，SMA、Desmin、S-100均阴性",
     {"CD117": "pos", "DOG1": "pos", "CD34": "focal", "SMA": "neg", "desmin": "neg", "S100": "neg"}),
    ("diffusely positive for CD117 and DOG1, CD34 focally positive, SMA, desmin and S100 negative",
     {"CD117": "pos", "DOG1": "pos", "CD34": "focal", "SMA": "neg", "desmin": "neg", "S100": "neg"}),
    ("Positive: SMA, desmin strongly positive, caldesmon.",
     {"SMA": "pos", "desmin": "pos", "h_caldesmon": "pos"}),
]


@pytest.mark.parametrize("text,expected", REAL_CASE_READINGS)
def test_real_case_sentences_read_as_written(text, expected):
    assert parse(text, mode="lenient").markers == expected


def test_a_stain_only_in_vessels_is_a_warning_and_a_specimen_number_no_marker():
    p = parse("YC1201429-3免疫组化结果:SMA(+),CD34血管(+),CK(-)")
    assert p.markers == {"SMA": "pos", "keratin": "neg"}
    assert p.unknown == [] and p.unparsed == []
    assert any("CD34" in w and "other cells" in w for w in p.warnings)


@pytest.mark.parametrize("name", ["CD99", "BCL2", "WT1", "HHF-35", "MSA", "GFAP", "CD56",
                                  "synaptophysin", "chromogranin", "NSE", "neurofilament",
                                  "PAX8", "TTF-1", "CK7", "CK20", "CD10", "LCA", "CD45", "CD21",
                                  "CD23", "CD35", "D2-40", "podoplanin", "MUC4", "INI1",
                                  "SMARCB1", "HHV8", "LANA", "NKX2.2", "FLI1", "collagen IV",
                                  "claudin-1", "p16", "CDKN2A", "MYOD1"])
def test_vocabulary_stains_are_never_unknown(name):
    p = parse(f"desmin+, {name} positive")
    assert p.unknown == [] and len(p.markers) == 2, p


# --------------------------------------------------------------------------- properties

_CJK_CHARS = st.sampled_from(list("陽性陰性弱部分的一散在びまん阳阴局灶弥漫양음성부분적미만は、。（）＋－±約约약标識率指数蛋白染色抗体血管内皮のみ肥満細胞은는이가과와에서대해"))
_MIXED = st.lists(st.one_of(_CJK_CHARS, st.sampled_from(["CD34", "SMA", "desmin", "Ki-67", "KIT",
                                                          "S-100", "30%", " ", ",", "(", ")",
                                                          "+", "-", "、", "β-", "カテニン"]),
                            st.characters()), max_size=40).map("".join)


@FAST
@given(st.one_of(st.text(max_size=200), _MIXED))
def test_parsing_never_crashes_on_any_unicode(text):
    try:
        p = parse(text)
    except InputError:
        return
    assert p.markers and all(k in MARKERS for k in p.markers)


def _value(name):
    if name == "Ki67":
        return st.integers(0, 100)
    if name in LOSS_MARKERS:
        return st.sampled_from(["lost", "retained"])
    return st.sampled_from(["pos", "neg", "focal"])


@st.composite
def panels(draw):
    names = draw(st.lists(st.sampled_from(MARKERS), min_size=1, max_size=10, unique=True))
    return Panel(markers={n: draw(_value(n)) for n in names})


_WRITE = {  # language -> (pos, neg, focal, separator, Ki-67 form)
    "ja": ("陽性", "陰性", "部分的に陽性", "、", "Ki-67標識率は約{}%"),
    "zh": ("（+）", "（－）", "局灶阳性", "，", "Ki-67约{}%"),
    "ko": (" 양성", " 음성", " 부분적 양성", ", ", "Ki-67 지수는 약 {}%"),
}
_LOSS = {"lost": "neg", "retained": "pos"}


def _write(panel, lang):
    pos, neg, focal, sep, ki = _WRITE[lang]
    parts = []
    for name, value in panel.markers.items():
        if name == "Ki67":
            parts.append(ki.format(value))
            continue
        value = _LOSS.get(value, value)
        parts.append(info(name).display + {"pos": pos, "neg": neg, "focal": focal}[value])
    return sep.join(parts)


@FAST
@given(panels(), st.sampled_from(sorted(_WRITE)))
def test_a_panel_written_in_cjk_reads_as_the_tokens(panel, lang):
    """Never worse than structured input: the sentence gives the panel the tokens give."""
    assert parse(_write(panel, lang), mode="strict").markers == panel.markers


@FAST
@given(panels())
def test_english_round_trip_still_holds(panel):
    assert parse(panel.to_text(), mode="strict").markers == panel.markers


# --------------------------------------------------------------------------- corpus

def test_corpus_records_are_sourced_and_half_held_out():
    recs = [json.loads(line) for f in CORPUS for line in f.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    assert len({r["id"] for r in recs}) == len(recs)
    for r in recs:
        assert r["lang"] in ("en", "ja", "zh", "ko") and r["role"] in ("dev", "heldout"), r["id"]
        assert r["source"].strip() and r["text"].strip(), r["id"]
        for k in r["markers"]:
            assert k.startswith("other:") or canonical(k) == k, (r["id"], k)
        assert any(canonical(k) == k for k in r["markers"]), r["id"]
        assert (ROOT / "tests" / "fixtures" / f"reports_{r['lang']}.jsonl") in CORPUS
    assert sum(r["role"] == "heldout" for r in recs) >= 60
    assert {r["lang"] for r in recs if r["role"] == "heldout"} == {"en", "ja", "zh", "ko"}


def test_dev_sentences_are_read_right():
    stats = evaluate([r for r in load(CORPUS) if r["role"] == "dev"])
    assert stats[("all", "dev")]["errors"] == 0
    assert stats[("all", "dev")]["agreement"] == 1.0


def test_readme_parser_figures_match_a_fresh_run():
    """The README's parser block is today's: regenerate with
    `python -m ihc.parse_eval --update-readme README.md`."""
    if not all((ROOT / f).is_file() for f in README_FILES):
        pytest.skip("corpus files absent")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    i, j = text.find(README_BEGIN), text.find(README_END)
    assert 0 <= i < j, "README.md lacks the generated parser block"
    assert text[i:j + len(README_END)] == readme_block(ROOT)


def test_refused_sentences_raise_input_errors_only():
    with pytest.raises(NoKnownMarkerError):
        parse("免疫染色を施行した。")


def test_doctests_of_the_reader_modules():
    import doctest
    import importlib
    for name in ("ihc.parse", "ihc.markers", "ihc.lexicon_cjk", "ihc.parse_eval", "ihc.morph_text", "ihc.morphology",
                 "ihc.record"):
        mod = importlib.import_module(name)
        res = doctest.testmod(mod)
        assert res.failed == 0 and res.attempted > 0, name
