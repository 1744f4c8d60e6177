"""The published JSON schemas describe what ihc actually prints (validated with jsonschema)."""

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

import ihc
from ihc.api import SCHEMA_VERSION
from ihc.batch import run_batch
from ihc.cli import cli
from ihc.schema import SCHEMAS, load_schema, schema_path

jsonschema = pytest.importorskip("jsonschema")

PANELS = [
    ("SMA(+), Des(+), CD34(-), CD117(-), S100(-), VIM(+), P53(+), Ki-67(+,30%), DOG1(-)", "retroperitoneum"),
    ("CD117+ DOG1+ CD34+ SMA- desmin- S100-", "gastric fundus"),
    ("SMA+ desmin+ CD117- DOG1-", None),
    ("vimentin+ SATB2+ GATA3+ SMA focal", "nowhere-land"),
    ("H3K27me3 lost, S100 focal, SOX10-", "thigh"),
    ("CD117+ DOG1+ desmin+ S100+ SOX10+ HMB45+ STAT6+ MDM2+ keratin+ ALK+", None),
    ("Ki-67 high, SMA+", "uterus"),
]


def _validator(which):
    return jsonschema.Draft202012Validator(load_schema(which))


@pytest.mark.parametrize("which", sorted(SCHEMAS))
def test_schemas_are_valid_draft_2020_12(which):
    s = load_schema(which)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(s)


def test_schema_version_matches_the_library():
    assert load_schema("classify")["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    assert load_schema("batch-row")["$defs"]["errorRow"]["properties"]["schema_version"] == {"const": SCHEMA_VERSION}


def test_batch_row_schema_embeds_the_classify_schema():
    c, b = load_schema("classify"), load_schema("batch-row")
    for name, d in c["$defs"].items():
        assert b["$defs"][name] == d, name
    row = b["$defs"]["resultRow"]
    for k, v in c["properties"].items():
        assert row["properties"][k] == v, k
    assert set(row["required"]) == set(c["required"]) | {"case_id"}


@pytest.mark.parametrize("text,site", PANELS)
def test_real_classify_outputs_validate(text, site):
    d = json.loads(json.dumps(ihc.classify(text, site=site).to_dict()))
    errors = [e.message for e in _validator("classify").iter_errors(d)]
    assert not errors, errors


def test_cli_classify_json_validates():
    r = CliRunner().invoke(cli, ["classify", "--format", "json", PANELS[0][0], "--site", "retroperitoneum"])
    assert r.exit_code == 0
    assert not list(_validator("classify").iter_errors(json.loads(r.stdout)))


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(["SMA", "desmin", "CD117", "DOG1", "CD34", "S100", "SOX10", "STAT6",
                                        "H3K27me3", "MDM2", "vimentin"]),
                       st.sampled_from(["+", "-", "focal"]), min_size=1, max_size=8),
       st.one_of(st.none(), st.integers(0, 100)),
       st.sampled_from([None, "stomach", "retroperitoneum", "uterus", "moon"]))
def test_property_any_panel_validates(markers, ki67, site):
    panel = dict(markers)
    if ki67 is not None:
        panel["Ki67"] = ki67
    d = json.loads(json.dumps(ihc.classify(panel, site=site).to_dict()))
    assert not [e.message for e in _validator("classify").iter_errors(d)]


def test_batch_jsonl_rows_validate_including_error_rows(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("case_id,panel,site\n" + "\n".join(
        [f'c{i},"{t}",{s or ""}' for i, (t, s) in enumerate(PANELS)]
        + ["bad1,SATB2+ GATA3+,", "bad2,,", 'bad3,"SMA+,', "bad4,SMA+ SMA-,"]) + "\n")
    out = tmp_path / "out.jsonl"
    summary = run_batch(src, out)
    assert summary.rows == len(PANELS) + 4 and summary.errors == 4
    v = _validator("batch-row")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row in rows:
        assert not [e.message for e in v.iter_errors(row)], row
    assert [r["status"] for r in rows[-4:]] == ["error"] * 4


@pytest.mark.parametrize("bad", [
    lambda d: d.pop("differential"),
    lambda d: d.update(status="maybe"),
    lambda d: d.update(schema_version="2"),
    lambda d: d.update(confidence=1.5),
    lambda d: d.update(status="indeterminate", diagnosis="gist"),
    lambda d: d["input"]["markers"].update(SMA="sort of"),
])
def test_schema_rejects_broken_objects(bad):
    d = json.loads(json.dumps(ihc.classify("CD117+ DOG1+ CD34+", site="stomach").to_dict()))
    assert d["status"] == "ok"
    bad(d)
    assert list(_validator("classify").iter_errors(d))


def test_error_row_must_say_why():
    v = _validator("batch-row")
    assert not list(v.iter_errors({"case_id": "1", "schema_version": "1", "status": "error", "error": "x"}))
    assert list(v.iter_errors({"case_id": "1", "schema_version": "1", "status": "error"}))
    assert list(v.iter_errors({"case_id": "1", "schema_version": "1", "status": "error", "error": "x",
                               "differential": []}))


@pytest.mark.parametrize("which", sorted(SCHEMAS))
def test_ihc_schema_prints_the_shipped_file(which):
    r = CliRunner().invoke(cli, ["schema", "--which", which])
    assert r.exit_code == 0
    assert json.loads(r.stdout) == json.loads(schema_path(which).read_text())
