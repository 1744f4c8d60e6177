"""Tests of the marker vocabulary (ihc.markers)."""

import ast
from pathlib import Path

import pytest

from ihc.markers import (
    CORE, EXTENDED, LOSS_MARKERS, MARKERS, UNINFORMATIVE, canonical, info, normalise_name,
    vocabulary,
)
from ihc.parse import parse

DESIGN_CORE = ("SMA", "desmin", "CD117", "CD34", "S100", "DOG1", "Ki67")
DESIGN_EXTENDED = (
    "h_caldesmon", "calponin", "SOX10", "STAT6", "beta_catenin", "ALK", "MDM2", "CDK4",
    "keratin", "EMA", "TLE1", "HMB45", "melan_a", "PDGFRA", "H3K27me3", "SDHB", "calretinin",
    "CD31", "ERG", "myogenin", "MyoD1", "ER", "PR",
    # issue 15
    "CD99", "BCL2", "WT1", "MSA", "GFAP", "CD56", "synaptophysin", "chromogranin", "CK7", "CK20",
    "PAX8", "TTF1", "CD21", "CD23", "CD35", "podoplanin", "MUC4", "INI1", "HHV8", "NKX2_2", "FLI1",
    "collagen_IV", "claudin1", "CD10", "CD68", "GLUT1", "TFE3",
)


def test_vocabulary_matches_design():
    assert CORE == DESIGN_CORE
    assert set(EXTENDED) == set(DESIGN_EXTENDED)
    assert {"vimentin", "p53"} <= set(UNINFORMATIVE)
    assert MARKERS == CORE + EXTENDED + UNINFORMATIVE
    assert len(set(MARKERS)) == len(MARKERS)
    assert LOSS_MARKERS == ("H3K27me3", "SDHB", "INI1")
    assert [m.name for m in vocabulary()] == list(MARKERS)


@pytest.mark.parametrize("written,name", [
    ("Des", "desmin"), ("c-kit", "CD117"), ("KIT", "CD117"), ("α-SMA", "SMA"),
    ("alpha-SMA", "SMA"), ("actin (SMA)", "SMA"), ("smooth muscle actin", "SMA"), ("actin", "SMA"),
    ("S-100", "S100"), ("S100 protein", "S100"), ("DOG-1", "DOG1"), ("ANO1", "DOG1"),
    ("MIB-1", "Ki67"), ("Ki-67", "Ki67"), ("Ki 67", "Ki67"), ("caldesmon", "h_caldesmon"),
    ("h-caldesmon", "h_caldesmon"), ("β-catenin", "beta_catenin"), ("CK", "keratin"),
    ("AE1/AE3", "keratin"), ("pan-CK", "keratin"), ("CAM5.2", "keratin"),
    ("Melan-A/MART-1", "melan_a"), ("ALK1", "ALK"), ("anaplastic lymphoma kinase", "ALK"),
    ("cyclin-dependent kinase 4", "CDK4"), ("SOX-10", "SOX10"), ("STAT-6", "STAT6"),
    ("HMB-45", "HMB45"), ("vim", "vimentin"), ("P53", "p53"), ("SDH-B", "SDHB"),
    ("h3k27me3", "H3K27me3"),
])
def test_synonyms(written, name):
    assert canonical(written) == name
    assert canonical(written.upper()) == name or written.upper() in ("VIM",)


@pytest.mark.parametrize("written", ["SATB2", "GATA3", "CD163", "factor VIII", "NY-ESO-1",
                                     "creatine kinase", ""])
def test_outside_vocabulary(written):
    assert canonical(written) is None


@pytest.mark.parametrize("written,name", [
    ("BCL-2", "BCL2"), ("MIC2", "CD99"), ("WT-1", "WT1"), ("HHF-35", "MSA"),
    ("muscle-specific actin", "MSA"), ("muscle actin", "MSA"), ("NCAM", "CD56"),
    ("synaptophysin", "synaptophysin"), ("chromogranin A", "chromogranin"),
    ("neuron-specific enolase", "NSE"), ("neurofilament", "neurofilament"), ("PAX-8", "PAX8"),
    ("TTF-1", "TTF1"), ("cytokeratin 7", "CK7"), ("CK20", "CK20"), ("CD10", "CD10"),
    ("LCA", "CD45"), ("leukocyte common antigen", "CD45"), ("CD21", "CD21"), ("CD23", "CD23"),
    ("CD35", "CD35"), ("D2-40", "podoplanin"), ("MUC-4", "MUC4"), ("SMARCB1", "INI1"),
    ("INI-1", "INI1"), ("HHV-8", "HHV8"), ("LANA", "HHV8"), ("NKX2.2", "NKX2_2"),
    ("FLI-1", "FLI1"), ("collagen type IV", "collagen_IV"), ("claudin-1", "claudin1"),
    ("p16", "p16"), ("CDKN2A", "p16"), ("MYOD1", "MyoD1"), ("Myo-D1", "MyoD1"),
    ("GFAP", "GFAP"), ("glial fibrillary acidic protein", "GFAP"),
])
def test_stains_outside_the_model_are_in_the_vocabulary(written, name):
    from ihc.knowledge import MODEL_MARKERS
    assert canonical(written) == name
    assert info(name).kind in ("uninformative", "binary", "loss") and (
        name in MODEL_MARKERS or name in UNINFORMATIVE)


def test_the_model_marker_list_is_unchanged():
    from ihc.knowledge import MODEL_MARKERS
    assert MODEL_MARKERS == tuple(m for m in CORE if m != "Ki67") + EXTENDED + ("Ki67",)


def test_canonical_names_map_to_themselves():
    for m in vocabulary():
        assert canonical(m.name) == m.name
        assert canonical(m.display) == m.name
        assert info(m.name) is m


def test_no_synonym_is_claimed_by_two_markers():
    seen = {}
    for m in vocabulary():
        for s in (m.name, m.display, *m.synonyms):
            key = normalise_name(s)
            assert seen.setdefault(key, m.name) == m.name, (s, seen[key], m.name)


def test_states_and_kinds():
    assert info("Ki67").kind == "index"
    assert info("H3K27me3").states == ("lost", "retained")
    assert info("SMA").states == ("pos", "focal", "neg")
    assert info("vimentin").kind == "uninformative"
    d = info("CD117").to_dict()
    assert d["name"] == "CD117" and "c-kit" in d["synonyms"]


def test_every_synonym_is_read_by_the_parser():
    for m in vocabulary():
        if m.kind == "index":
            continue
        for s in (m.name, m.display, *m.synonyms):
            p = parse(f"{s}: positive", mode="strict")
            assert list(p.markers) == [m.name], s


def test_fast_path_modules_import_only_the_standard_library():
    import sys
    root = Path(__file__).parents[1] / "ihc"
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    for mod in ("parse.py", "plain_list.py", "sites.py", "markers.py", "panel.py", "record.py", "lexicon_cjk.py",
                "lexicon_ja.py", "lexicon_zh.py", "lexicon_ko.py", "lexicon_en.py"):
        tree = ast.parse((root / mod).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: ihc's own modules
                    assert node.module in ("exceptions", "markers", "panel", "record", "sites", "lexicon_cjk",
                                           "lexicon_en", "plain_list", None), node.module
                    continue
                names = [node.module]
            else:
                continue
            for n in names:
                assert n.split(".")[0] in allowed, (mod, n)
