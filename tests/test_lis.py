"""The laboratory's formats: HL7 v2 in/out, FHIR R4 in/out, and the HTTP service.

The libraries of the ``lis`` extra are in the ``test`` extra too, so these tests run in CI.
"""

import json
import logging
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import ihc
from ihc.cli import cli

hl7 = pytest.importorskip("hl7")
pytest.importorskip("fhir.resources")
pytest.importorskip("starlette")

from ihc.lis.fhir import bundle_from_panel, run_fhir  # noqa: E402
from ihc.lis.hl7 import run_hl7  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = next((p for p in (ROOT.parent / "shared/reference/hl7/constructed_ihc_panel.hl7",
                            ROOT / "tests/fixtures/constructed_ihc_panel.hl7") if p.is_file()), None)
PANEL = {"SMA": "pos", "desmin": "pos", "CD117": "neg", "DOG1": "neg", "CD34": "neg", "S100": "neg", "Ki67": 30,
         "h_caldesmon": "pos"}
TEXT = "SMA positive, desmin positive, CD117 negative, DOG1 negative, CD34 negative, S-100 negative, " \
       "h-caldesmon positive, Ki-67 30%"


@pytest.fixture(scope="module")
def example():
    if EXAMPLE is None:
        pytest.skip("constructed_ihc_panel.hl7 not found")
    return EXAMPLE.read_bytes()


def same_dx(a, b):
    """Same ranking, same probabilities (to float rounding: markers may be summed in another order)."""
    return [d["diagnosis"] for d in a] == [d["diagnosis"] for d in b] and all(
        abs(x["probability"] - y["probability"]) < 1e-9 for x, y in zip(a, b))


def _narrative_version(raw):
    """The example with its discrete IHC OBX replaced by one narrative TX line."""
    lines = raw.decode().replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out, done = [], False
    for ln in lines:
        if ln.startswith("OBX|") and "|A1|" in ln:
            if not done:
                out.append(f"OBX|1|TX|22635-7^Path report.microscopic observation^LN|A1|{TEXT}||||||F")
                done = True
            continue
        out.append(ln)
    return "\r".join(out).encode()


def _msg(i, body_ihc=True, end="\r"):
    segs = [f"MSH|^~\\&|PATHLIS|H|IHC|H|20260101||ORU^R01^ORU_R01|C{i:05d}|P|2.5.1",
            "PID|1||MRN^^^H^MR||X^Y||19700101|M", f"OBR|1||S{i}|55229-9^Immune stain study^LN|||20260101"]
    if body_ihc:
        segs += [f"SPM|1|S{i}-A", "OBX|1|CWE|10457-0^Actin^LN||10828004^Positive^SCT||||||F",
                 "OBX|2|CWE|CD117^CD117 IHC^99IHC||260385009^Negative^SCT||||||F",
                 f"OBX|3|NM|29593-1^Ki-67^LN||{i % 90}|%^percent^UCUM|||||F"]
    else:
        segs += ["OBX|1|TX|22637-3^Final diagnosis^LN||Benign skin, no tumour seen.||||||F"]
    return end.join(segs) + end


# ------------------------------------------------------------------------- HL7 in


def test_example_message_gives_one_result_leiomyosarcoma_leading(example):
    text, records = run_hl7(example)
    assert len(records) == 1
    r = records[0]
    assert (r["control_id"], r["specimen"]) == ("IHC-EX-0001", "S26-00123-A1")
    assert r["differential"][0]["diagnosis"] == "leiomyosarcoma"
    assert r["input"]["markers"] == PANEL
    assert r["input"]["site"] == "retroperitoneum"  # from the final-diagnosis line
    assert r["context"] == {"sex": "F", "age_years": 66}
    assert r["read"] == {"discrete": 8, "narrative": 0}
    assert json.loads(text) == r


def test_narrative_tx_line_gives_the_same_differential(example):
    _, discrete = run_hl7(example)
    _, narrative = run_hl7(_narrative_version(example))
    assert narrative[0]["read"] == {"discrete": 0, "narrative": 8}
    assert same_dx(narrative[0]["differential"], discrete[0]["differential"])
    # and the same as classifying the text directly with the patient's sex and age (PID), which the
    # HL7 path passes on as clinical context
    direct = ihc.classify(TEXT, site="retroperitoneum", morphology={"sex": "F", "age": 66}).to_dict()
    assert same_dx(narrative[0]["differential"], direct["differential"])
    assert direct["input"]["morphology"] == narrative[0]["input"]["morphology"] == {"age": 66.0, "sex": "F"}


def test_thousand_messages_mixed_ends_some_without_ihc_one_truncated(tmp_path):
    rnd = random.Random(7)
    parts, expected_err = [], set()
    for i in range(1000):
        end = rnd.choice(["\r", "\n", "\r\n"])
        ihc_ok = i % 17 != 5
        m = _msg(i, body_ihc=ihc_ok, end=end)
        if i % 50 == 3:
            m = "\x0b" + m + "\x1c\r"  # MLLP framed
        if not ihc_ok:
            expected_err.add(i)
        parts.append(m)
    parts[-1] = parts[-1][:22]  # truncated inside MSH: no control id
    expected_err.add(999)
    src = tmp_path / "feed.hl7"
    src.write_text("".join(parts), encoding="utf-8", newline="")
    res = CliRunner().invoke(cli, ["hl7", str(src), "-o", str(tmp_path / "out.jsonl")])
    assert res.exit_code == 3, res.output
    rows = [json.loads(ln) for ln in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == 1000
    for i, r in enumerate(rows[:999]):
        assert r["control_id"] == f"C{i:05d}"
    errs = {i for i, r in enumerate(rows) if r["status"] == "error"}
    assert errs == expected_err
    assert "no IHC results" in rows[5]["error"] and "truncated" in rows[999]["error"]
    assert rows[0]["input"]["markers"] == {"SMA": "pos", "CD117": "neg", "Ki67": 0}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["\r", "\n", "\r\n"]), min_size=7, max_size=7))
def test_segment_ends_do_not_change_what_is_read(ends):
    base = _msg(1, end="\r").rstrip("\r").split("\r")
    mixed = "".join(s + e for s, e in zip(base, ends))
    assert run_hl7(mixed)[1] == run_hl7("\r".join(base))[1]


def test_not_hl7_is_one_line_exit_2(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("case_id,panel\n1,SMA+\n")
    res = CliRunner().invoke(cli, ["hl7", str(p)])
    assert res.exit_code == 2
    assert "not HL7 v2" in res.output and len(res.output.strip().splitlines()) == 1


def test_non_oru_message_and_code_map(tmp_path):
    adt = "MSH|^~\\&|A|B|||2026||ADT^A01|Z1|P|2.5.1\rPID|1||M\r"
    local = ("MSH|^~\\&|A|B|||2026||ORU^R01|Z2|P|2.5.1\rOBR|1||S9\r"
             "OBX|1|ST|KIT7^kit stain^L||positive||||||F\rOBX|2|ST|DG^dog stain^L||positive||||||F\r")
    _, recs = run_hl7(adt + local)
    assert recs[0]["status"] == "error" and "not ORU^R01" in recs[0]["error"]
    cmap = tmp_path / "codes.csv"
    cmap.write_text("system,code,target\nL,KIT7,CD117\n,DG,DOG1\n")
    _, recs = run_hl7(local, code_map=str(cmap))
    assert recs[0]["input"]["markers"] == {"CD117": "pos", "DOG1": "pos"}
    assert recs[0]["read"]["discrete"] == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    res = CliRunner().invoke(cli, ["hl7", "-", "--code-map", str(bad)], input=local)
    assert res.exit_code == 2 and "needs a header with 'code'" in res.output


def test_shipped_code_map_targets_are_canonical_markers():
    import csv

    rows = list(csv.DictReader((ROOT / "ihc/lis/code_map.csv").open(encoding="utf-8")))
    assert rows
    for r in rows:
        t = r["target"]
        if t.startswith("context."):
            continue
        value = "30%" if t == "Ki67" else "positive"
        assert list(ihc.parse(f"{t}: {value}", mode="strict").markers) == [t], t
    loinc = {r["code"] for r in rows if r["system"] == "LN"}
    confirmed = set()
    ref = ROOT.parent / "shared/reference/loinc_ihc.csv"
    if ref.is_file():
        confirmed = {r["loinc_code"] for r in csv.DictReader(ref.open(encoding="utf-8")) if r["status"] == "confirmed"}
        assert loinc <= confirmed  # only confirmed LOINC codes are shipped


# ------------------------------------------------------------------------ HL7 out


def test_oru_out_round_trips_through_python_hl7_and_is_preliminary(example):
    text, records = run_hl7(example, fmt="hl7")
    rec = records[0]
    msgs = [m for m in text.replace("\n", "").split("\r") if m]
    assert msgs[0].startswith("MSH")
    m = hl7.parse(text.strip("\n"))
    assert str(m.segment("MSH")[9]) == "ORU^R01^ORU_R01"
    obx = list(m.segments("OBX"))
    assert all(str(o[11]) == "P" for o in obx)
    assert str(m.segment("OBR")[25]) == "P"
    probs = [(str(o[3][0][0]), int(str(o[4])), float(str(o[5]))) for o in obx if str(o[3][0][2]) == "99IHCDX"]
    assert [p[0] for p in probs] == [d["diagnosis"] for d in rec["differential"]]
    assert [p[1] for p in probs] == list(range(1, len(probs) + 1))
    for (_, _, p), d in zip(probs, rec["differential"]):
        assert abs(p - d["probability"]) < 1e-4
    kinds = {str(o[3][0][0]): str(o[5]) for o in obx}
    assert kinds["SRCID"] == "IHC-EX-0001" and kinds["STATUS"] == rec["status"]
    nxt = m.unescape(kinds["NEXT"])
    if rec["next_stains"]:
        assert rec["next_stains"][0]["marker"] in nxt
    else:
        assert "none needed" in nxt
    assert "desmin positive" in m.unescape(kinds["EVIDENCE"])


def test_oru_out_of_an_error_is_x_with_the_reason():
    text, recs = run_hl7("MSH|^~\\&|A|B|||2026||ORU^R01|Q1|P|2.5.1\rOBR|1||S1\rOBX|1|TX|X^Y^L||nothing here\r",
                         fmt="hl7")
    m = hl7.parse(text.strip("\n"))
    err = [o for o in m.segments("OBX") if str(o[3][0][0]) == "ERROR"][0]
    assert str(err[11]) == "X" and "no IHC results" in str(err[5])


# --------------------------------------------------------------------------- FHIR


def test_fhir_bundle_of_the_panel_gives_the_classify_differential_and_validates():
    from fhir.resources.R4B.bundle import Bundle

    text, recs = run_fhir(json.dumps(bundle_from_panel(PANEL, site="retroperitoneum")))
    direct = ihc.classify(TEXT, site="retroperitoneum").to_dict()
    assert same_dx(recs[0]["differential"], direct["differential"])
    out = json.loads(text)
    Bundle.model_validate(out)  # R4B
    res = [e["resource"] for e in out["entry"]]
    reports = [r for r in res if r["resourceType"] == "DiagnosticReport"]
    assert len(reports) == 1 and reports[0]["status"] == "preliminary"
    obs = [r for r in res if r["resourceType"] == "Observation"]
    assert all(o["status"] == "preliminary" for o in obs)
    dx = [o for o in obs if o["code"]["coding"][0]["system"] == "urn:ihc:diagnosis"]
    assert [o["code"]["coding"][0]["code"] for o in dx] == [d["diagnosis"] for d in direct["differential"]]
    assert len(reports[0]["result"]) == len(obs)


def test_fhir_cli_matches_classify_cli(tmp_path):
    p = tmp_path / "b.json"
    p.write_text(json.dumps(bundle_from_panel(PANEL, site="retroperitoneum")))
    r1 = CliRunner().invoke(cli, ["fhir", str(p), "--format", "jsonl"])
    r2 = CliRunner().invoke(cli, ["classify", "--format", "json", TEXT, "--site", "retroperitoneum"])
    assert r1.exit_code == 0 and r2.exit_code == 0
    assert same_dx(json.loads(r1.output)["differential"], json.loads(r2.output)["differential"])


def test_fhir_diagnostic_report_with_contained_observations():
    rep = {"resourceType": "DiagnosticReport", "id": "r1", "status": "final", "code": {"text": "IHC"},
           "subject": {"reference": "#p"},
           "contained": [
               {"resourceType": "Patient", "id": "p", "gender": "male", "birthDate": "1950-06-01"},
               {"resourceType": "Observation", "id": "a", "status": "final", "code": {"text": "CD117"},
                "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "10828004"}]},
                "bodySite": {"text": "gastric fundus"}, "effectiveDateTime": "2026-01-01"},
               {"resourceType": "Observation", "id": "b", "status": "final",
                "code": {"coding": [{"system": "urn:ihc:marker", "code": "DOG1"}]}, "valueString": "positive"},
               {"resourceType": "Observation", "id": "c", "status": "entered-in-error",
                "code": {"coding": [{"system": "http://loinc.org", "code": "10476-0"}]}, "valueString": "positive"},
               {"resourceType": "Observation", "id": "d", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "29593-1"}]},
                "valueQuantity": {"value": 4, "unit": "%"}}],
           "result": [{"reference": "#a"}, {"reference": "#b"}, {"reference": "#c"}, {"reference": "#d"}]}
    _, recs = run_fhir(json.dumps(rep), fmt="jsonl")
    r = recs[0]
    assert r["control_id"] == "r1"
    assert r["input"]["markers"] == {"CD117": "pos", "DOG1": "pos", "Ki67": 4}
    assert r["input"]["site"] == "stomach"
    assert r["context"] == {"sex": "M", "age_years": 75}
    assert r["differential"][0]["diagnosis"] == "gist"


def test_cds_cards():
    text, _ = run_fhir(bundle_from_panel({"CD117": "pos", "DOG1": "pos", "CD34": "pos"}, site="stomach"), fmt="cds")
    card = json.loads(text)["cards"][0]
    assert card["summary"].startswith("IHC supports gist") and len(card["summary"]) <= 140
    assert card["indicator"] == "info" and "pathologist decides" in card["detail"]


def test_fhir_bad_input(tmp_path):
    p = tmp_path / "x.json"
    for body, words in (("{not json", "not FHIR JSON"), ('{"a": 1}', "no resourceType"),
                        ('{"resourceType": "Patient"}', "is not read")):
        p.write_text(body)
        res = CliRunner().invoke(cli, ["fhir", str(p)])
        assert res.exit_code == 2 and words in res.output and len(res.output.strip().splitlines()) == 1
    p.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "colour"},
                      "valueString": "blue"}}]}))
    res = CliRunner().invoke(cli, ["fhir", str(p)])
    assert res.exit_code == 3
    out = json.loads(res.stdout)
    assert out["entry"][0]["resource"]["resourceType"] == "OperationOutcome"


# -------------------------------------------------------------------------- serve


@pytest.fixture(scope="module")
def client():
    from starlette.testclient import TestClient

    from ihc.lis.serve import create_app

    return TestClient(create_app(token="s3cret", max_body=2 * 1024 * 1024), raise_server_exceptions=False)


AUTH = {"Authorization": "Bearer s3cret"}


def _good(client):
    r = client.post("/v1/classify", json={"panel": TEXT, "site": "retroperitoneum"}, headers=AUTH)
    assert r.status_code == 200
    assert same_dx(r.json()["differential"], ihc.classify(TEXT, site="retroperitoneum").to_dict()["differential"])


def test_serve_classify_health_schema_docs(client):
    _good(client)
    h = client.get("/v1/health").json()
    assert h["status"] == "ok" and h["model"]["version"]
    assert client.get("/v1/schema", headers=AUTH).json()["properties"]["schema_version"] == {"const": "1"}
    spec = client.get("/openapi.json").json()
    assert {"/v1/classify", "/v1/batch", "/v1/hl7", "/v1/fhir", "/v1/health", "/v1/schema"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("kw, status, words", [
    (dict(content=b"{bad json", headers={**AUTH, "content-type": "application/json"}), 400, "malformed JSON"),
    (dict(content=b"x" * (20 * 1024 * 1024), headers={**AUTH, "content-type": "application/json"}), 413, "over the limit"),
    (dict(content=b"{}", headers={**AUTH, "content-type": "text/plain"}), 415, "content type"),
    (dict(json={"panel": TEXT}, headers={"Authorization": "Bearer wrong"}), 401, "not valid"),
    (dict(json={"panel": TEXT}), 401, "bearer token is required"),
    (dict(json={"panel": "hello there"}, headers=AUTH), 422, "no known marker"),
    (dict(json={"panel": TEXT, "colour": 1}, headers=AUTH), 400, "unknown field"),
    (dict(json=[1, 2], headers=AUTH), 400, "JSON object"),
])
def test_serve_bad_classify_requests_are_4xx_json_and_service_keeps_answering(client, kw, status, words):
    r = client.post("/v1/classify", **kw)
    assert r.status_code == status
    assert words in r.json()["error"] and r.json()["status"] == status
    _good(client)


def test_serve_hl7_and_fhir(client, example):
    r = client.post("/v1/hl7", content=example, headers={**AUTH, "content-type": "x-application/hl7-v2+er7"})
    assert r.status_code == 200 and r.headers["x-ihc-errors"] == "0"
    m = hl7.parse(r.text.strip("\n"))
    assert str(list(m.segments("OBX"))[2][3][0][0]) == "leiomyosarcoma"
    r = client.post("/v1/hl7?format=jsonl", content=example, headers={**AUTH, "content-type": "text/plain"})
    assert json.loads(r.text)["differential"][0]["diagnosis"] == "leiomyosarcoma"
    r = client.post("/v1/hl7", content=b"hello, not hl7", headers={**AUTH, "content-type": "text/plain"})
    assert r.status_code == 400 and "not HL7 v2" in r.json()["error"]
    r = client.post("/v1/hl7", json={"a": 1}, headers=AUTH)
    assert r.status_code == 415
    b = bundle_from_panel({"CD117": "pos", "DOG1": "pos"}, site="stomach")
    r = client.post("/v1/fhir", json=b, headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(r.json())
    r = client.post("/v1/fhir", content=b"{nope", headers={**AUTH, "content-type": "application/fhir+json"})
    assert r.status_code == 400
    _good(client)


def test_serve_batch_csv_and_jsonl_one_row_per_input_in_order(client):
    csv_body = "case_id,panel,site\nA,SMA+ desmin+,uterus\nB,,\nC,CD117+ DOG1+,stomach\n"
    r = client.post("/v1/batch", content=csv_body, headers={**AUTH, "content-type": "text/csv"})
    rows = [json.loads(x) for x in r.text.splitlines()]
    assert [x["case_id"] for x in rows] == ["A", "B", "C"] and rows[1]["status"] == "error"
    assert rows[2]["differential"][0]["diagnosis"] == "gist"
    r = client.post("/v1/batch?format=csv", content=csv_body, headers={**AUTH, "content-type": "text/csv"})
    assert r.text.splitlines()[0].startswith("case_id,status") and len(r.text.splitlines()) == 4
    nd = '{"case_id": "x", "panel": "CD117+ DOG1+", "site": "stomach"}\nnot json\n{"case_id": 2, "markers": {"SMA": "+"}}\n'
    r = client.post("/v1/batch", content=nd, headers={**AUTH, "content-type": "application/x-ndjson"})
    rows = [json.loads(x) for x in r.text.splitlines()]
    assert [x["case_id"] for x in rows] == ["x", 2, "2"] and rows[1]["status"] == "error"
    r = client.post("/v1/batch", content="", headers={**AUTH, "content-type": "text/csv"})
    assert r.status_code == 422 and "empty input" in r.json()["error"]
    r = client.post("/v1/batch", json={}, headers=AUTH)
    assert r.status_code == 415


def test_serve_logs_no_panel_text_or_ids(client, caplog, example):
    with caplog.at_level(logging.DEBUG):
        client.post("/v1/classify", json={"panel": "SMA+ desmin+ zebra-marker-77", "site": "thigh"}, headers=AUTH)
        client.post("/v1/hl7", content=example, headers={**AUTH, "content-type": "text/plain"})
        client.post("/v1/classify", content=b"{bad MRN000001", headers={**AUTH, "content-type": "application/json"})
    logged = caplog.text
    for secret in ("zebra", "MRN000001", "IHC-EX-0001", "S26-00123"):
        assert secret not in logged


def test_page_has_no_external_assets(client):
    page = client.get("/").text
    assert "<form" in page and "v1/classify" in page
    for bad in ("http://", "https://", "//cdn", "<link"):
        assert bad not in page


# -------------------------------------------------------------- CLI and extras


def test_doctests_of_the_lis_modules():
    import doctest

    import ihc.lis.codes
    import ihc.lis.fhir
    import ihc.lis.hl7
    import ihc.lis.serve

    for mod in (ihc.lis.codes, ihc.lis.hl7, ihc.lis.fhir, ihc.lis.serve):
        res = doctest.testmod(mod)
        assert res.failed == 0 and res.attempted > 0, mod.__name__


def test_classify_echoes_case_id(client):
    r = client.post("/v1/classify", json={"panel": "CD117+ DOG1+", "site": "stomach", "case_id": 17}, headers=AUTH)
    assert list(r.json())[:2] == ["case_id", "schema_version"] and r.json()["case_id"] == "17"


def test_missing_extra_is_one_line_naming_the_install(monkeypatch, tmp_path, example):
    monkeypatch.setitem(sys.modules, "hl7", None)  # import hl7 -> ImportError
    p = tmp_path / "m.hl7"
    p.write_bytes(example)
    res = CliRunner().invoke(cli, ["hl7", str(p)])
    assert res.exit_code == 2 and 'pip install "ihc[lis]"' in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_hl7_cli_stderr_names_no_ids(tmp_path):
    p = tmp_path / "m.hl7"
    p.write_text("MSH|^~\\&|A|B|||2026||ORU^R01|SECRET-ID-9|P|2.5.1\rPID|1||MRN-42\rOBR|1||S1\r"
                 "OBX|1|TX|X^Y^L||nothing\r")
    res = subprocess.run([sys.executable, "-m", "ihc.cli", "hl7", str(p)], capture_output=True, text=True)
    assert res.returncode == 3
    assert "SECRET-ID-9" not in res.stderr and "MRN-42" not in res.stderr
    assert "SECRET-ID-9" in res.stdout


def test_cli_import_does_not_import_the_lis_libraries():
    p = subprocess.run([sys.executable, "-c", "import sys, ihc, ihc.cli; from ihc.cli import main; "
                        "print([m for m in ('hl7','fhir','starlette','uvicorn','pydantic') if m in sys.modules])"],
                       capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "[]"


# ----------------------------------------------------------- the page, in a browser


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "headless_shell"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_chromium() is None, reason="no chromium on this machine (apt-get install chromium)")
def test_page_in_headless_chromium_draws_the_differential(tmp_path):
    import socket
    import threading
    import time
    import urllib.parse

    uvicorn = pytest.importorskip("uvicorn")
    from ihc.lis.serve import create_app

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        panel = "SMA(+), Des(+), CD34(-), CD117(-), S100(-), VIM(+), P53(+), Ki-67(+,30%), DOG1(-)"
        url = f"http://127.0.0.1:{port}/?" + urllib.parse.urlencode({"panel": panel, "site": "retroperitoneum"})
        base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000",
                f"--user-data-dir={tmp_path / 'profile'}"]
        dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
        assert 'data-diagnosis="leiomyosarcoma"' in dom and 'id="status"' in dom
        first = dom.index('data-diagnosis="')
        assert dom[first:].startswith('data-diagnosis="leiomyosarcoma"')
        shot = tmp_path / "page.png"
        subprocess.run(base + ["--window-size=420,900", f"--screenshot={shot}", url], capture_output=True,
                       timeout=120)
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000  # a drawn page, not a blank one
    finally:
        server.should_exit = True
        t.join(timeout=10)


def test_outputs_keep_the_json_contract(client, example):
    import jsonschema

    from ihc.schema import load_schema

    classify_schema, row_schema = load_schema("classify"), load_schema("batch-row")
    _, recs = run_hl7(example)
    core = {k: v for k, v in recs[0].items() if k not in ("control_id", "specimen", "context", "read")}
    jsonschema.validate(core, classify_schema)
    jsonschema.validate(client.post("/v1/classify", json={"panel": TEXT}, headers=AUTH).json(), classify_schema)
    body = '{"case_id": "x", "panel": "CD117+ DOG1+"}\n{"case_id": "y", "panel": ""}\n'
    for line in client.post("/v1/batch", content=body, headers={**AUTH, "content-type": "application/x-ndjson"}).text.splitlines():
        jsonschema.validate(json.loads(line), row_schema)


def test_serve_internal_error_is_a_500_json_and_the_log_names_no_content(client, monkeypatch, caplog):
    def boom(*a, **k):
        raise RuntimeError("SMA+ desmin+ secret-panel-text")

    monkeypatch.setattr(ihc, "classify", boom)
    with caplog.at_level(logging.ERROR):
        r = client.post("/v1/classify", json={"panel": "SMA+ desmin+"}, headers=AUTH)
    assert r.status_code == 500 and "internal error" in r.json()["error"]
    assert "secret-panel-text" not in r.text and "secret-panel-text" not in caplog.text
    assert "RuntimeError" in caplog.text
    monkeypatch.undo()
    _good(client)


def test_hl7_context_and_narrative_morphology_reach_the_classifier(example):
    """PID sex/age and a narrative morphology sentence are weighed; an unreadable sex ("U") is left out."""
    lines = _narrative_version(example).decode().split("\r")
    lines = [ln[:-1] + "U" if ln.startswith("PID|") and ln.endswith("|F") else ln for ln in lines]
    at = max(i for i, ln in enumerate(lines) if ln.startswith("OBX|"))
    lines.insert(at + 1, "OBX|2|TX|22635-7^Path report.microscopic observation^LN|A1|"
                         "18 mitoses per 10 HPF and coagulative necrosis||||||F")
    _, recs = run_hl7("\r".join(lines).encode())
    m = recs[0]["input"].get("morphology", {})
    assert "sex" not in m and m.get("age") == 66.0
    assert m.get("necrosis") is True and m["mitoses"]["states"] == ["m4"]


def test_serve_classify_takes_morphology_context():
    from starlette.testclient import TestClient

    from ihc.lis.serve import create_app

    client = TestClient(create_app())
    body = {"panel": "SMA+ desmin+ h-caldesmon+ CD117- DOG1- S100-", "site": "retroperitoneum",
            "context": {"mitoses": "15/10 HPF", "necrosis": True}}
    r = client.post("/v1/classify", json=body)
    assert r.status_code == 200
    assert r.json()["input"]["morphology"]["necrosis"] is True and r.json()["diagnosis"] == "leiomyosarcoma"
    bad = client.post("/v1/classify", json={**body, "context": {"mitoses": "lots"}})
    assert bad.status_code == 422 and "mitoses" in bad.json()["error"]
