"""ihc batch and the batch library: one row out per row in, in order; errors explained; atomic output."""

import collections
import csv
import io
import json
import os
import signal

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

import ihc
from ihc import batch
from ihc.batch import CSV_COLUMNS, classify_rows, run_batch
from ihc.cli import cli
from ihc.exceptions import InputError

MIXED = (
    "case_id,SMA,desmin,CD117,DOG1,Ki67,SATB2,site\n"
    "good-lms,+,+,-,-,30%,,retroperitoneum\n"
    "good-gist,-,-,+,+,,,stomach\n"
    "unknown-only,,,,,,+,\n"
    "ki67-150,+,+,-,-,150,,\n"
    "empty,,,,,,,\n"
    'stray-quote,"+,+,-,-,5,,skin\n'
    "bad-value,maybe,+,-,-,,,\n"
    "ragged,+,+\n"
    "good-last,+,+,-,-,3,,uterus\n"
)

MIXED_TEXT = (
    "case_id,panel,site\n"
    "t1,\"SMA(+), Des(+), CD34(-), CD117(-), S100(-), Ki-67(+,30%), DOG1(-)\",retroperitoneum\n"
    "t2,SATB2+ GATA3+,\n"
    "t3,SMA+ SMA-,\n"
    "t4,SMA+ Ki-67 150%,\n"
    "t5,,\n"
    't6,SMA+ desmin+ "focal CD117-,stomach\n'
    't8,"SMA+ desmin+ ""focal"" CD117-,stomach\n'
    "t7,CD117+ DOG1+ CD34+,gastric fundus\n"
)


def _run(args, input=None):
    return CliRunner().invoke(cli, args, input=input, catch_exceptions=False)


def _csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_mixed_good_and_bad_rows_all_written_in_order_with_exit_3(tmp_path):
    src = tmp_path / "mixed.csv"
    src.write_text(MIXED)
    out = tmp_path / "out.csv"
    r = _run(["batch", str(src), "-o", str(out)])
    assert r.exit_code == 3, r.output
    rows = _csv_rows(out.read_text())
    assert [x["case_id"] for x in rows] == ["good-lms", "good-gist", "unknown-only", "ki67-150", "empty",
                                           "stray-quote", "bad-value", "ragged", "good-last"]
    by = {x["case_id"]: x for x in rows}
    assert list(rows[0].keys()) == list(CSV_COLUMNS)
    assert by["good-lms"]["dx1"] == "leiomyosarcoma" and by["good-lms"]["error"] == ""
    assert by["good-gist"]["status"] == "ok" and by["good-gist"]["diagnosis"] == "gist"
    assert by["good-last"]["status"] in ("ok", "indeterminate", "atypical")
    for cid, words in [("unknown-only", "no marker"), ("ki67-150", "out of range"), ("empty", "empty"),
                       ("stray-quote", "cells"), ("bad-value", "maybe"), ("ragged", "3 cells")]:
        assert by[cid]["status"] == "error", cid
        assert words in by[cid]["error"], (cid, by[cid]["error"])
        assert by[cid]["dx1"] == "" and by[cid]["confidence"] == ""
    assert "could not be read" in r.stderr


def test_free_text_panel_column_mixed_rows(tmp_path):
    r = _run(["batch", "-", "--format", "jsonl"], input=MIXED_TEXT)
    assert r.exit_code == 3
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["case_id"] for x in rows] == ["t1", "t2", "t3", "t4", "t5", "t6", "t8", "t7"]
    st_ = {x["case_id"]: x for x in rows}
    assert st_["t1"]["differential"][0]["diagnosis"] == "leiomyosarcoma"
    assert st_["t7"]["diagnosis"] == "gist" and st_["t7"]["input"]["site"] == "stomach"
    assert st_["t2"]["status"] == "error" and "marker" in st_["t2"]["error"]
    assert st_["t3"]["status"] == "error" and "two different values" in st_["t3"]["error"]
    assert st_["t4"]["status"] == "error" and "range" in st_["t4"]["error"]
    assert st_["t5"]["status"] == "error" and "empty" in st_["t5"]["error"]
    assert st_["t6"]["status"] != "error"  # a stray quote inside a cell is just a character
    assert st_["t8"]["status"] == "error" and "unbalanced quote" in st_["t8"]["error"]


def test_all_good_rows_exit_0_and_stdout_is_pure_csv():
    data = "case_id,SMA,desmin,CD117\n1,+,+,-\n2,-,-,+\n"
    r = _run(["batch", "-"], input=data)
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert len(_csv_rows(r.stdout)) == 2
    assert r.stderr == ""


def test_no_case_id_column_uses_row_numbers():
    r = _run(["batch", "-"], input="SMA,desmin\n+,+\n-,+\n+,-\n")
    assert [x["case_id"] for x in _csv_rows(r.stdout)] == ["1", "2", "3"]


def test_jsonl_by_extension_and_matches_classify(tmp_path):
    src = tmp_path / "c.csv"
    src.write_text("case_id,SMA,desmin,CD117,DOG1,site\nx,+,+,-,-,retroperitoneum\n")
    out = tmp_path / "r.jsonl"
    assert _run(["batch", str(src), "-o", str(out)]).exit_code == 0
    row = json.loads(out.read_text())
    ref = ihc.classify({"SMA": "+", "desmin": "+", "CD117": "-", "DOG1": "-"}, site="retroperitoneum").to_dict()
    assert row.pop("case_id") == "x"
    assert row == json.loads(json.dumps(ref))


def test_lean_path_equals_full_classify():
    panels = ["SMA+ desmin+ CD117- DOG1-", "CD117+ DOG1+", "S100+ SOX10+", "CD34+ STAT6+", "SMA+",
              "desmin+ CD117+ DOG1+ S100+ STAT6+ MDM2+", "Ki-67 40% SMA+ desmin+ h-caldesmon+"]
    recs = [{"case_id": i, "panel": p, "site": s} for i, p in enumerate(panels) for s in (None, "stomach", "uterus")]
    rows = classify_rows(recs)
    for rec, row in zip(recs, rows):
        full = ihc.classify(rec["panel"], site=rec["site"])
        assert row.status == full.status
        assert row.diagnosis == full.diagnosis
        assert [d for d, _ in row.top] == [d["diagnosis"] for d in full.differential[:3]]
        assert all(abs(p - d["probability"]) < 1e-12 for (_, p), d in zip(row.top, full.differential))


def _text_corpus():
    """Free texts to read: the report corpora, the real cases (stains, morphology, both in one text),
    the benchmark's generated LIS lists, and texts the reader refuses or warns about."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    texts = []
    for f in sorted((root / "tests" / "fixtures").glob("reports_*.jsonl")):
        texts += [json.loads(line)["text"] for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    for f in sorted((root / "training_data").glob("real_cases_*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                c = json.loads(line)
                ihc_text, morph = c.get("ihc_text") or "", c.get("morphology_text") or ""
                texts += [t for t in (ihc_text, morph, f"{morph} {ihc_text}".strip()) if t]
    sys.path.insert(0, str(root / "bench"))
    import _data

    import random

    rows = []
    rng = random.Random(5)
    for i in range(1500):
        res, ki, _ = _data._case(rng)
        text = _data.TEXT_STYLES[i % 3](list(res.items())) or "vimentin+"
        rows.append(text + (f", Ki-67 {ki}%" if ki is not None else ""))
    texts += rows
    texts += [r.split(",", 1)[1].rsplit(",", 1)[0].strip('"') for r in MIXED_TEXT.splitlines()[1:]]
    texts += ["", "   ", "SATB2+", "SMA+ SMA-", "SMA+ Ki-67 150%", "no mitoses", "coagulative necrosis",
              "SMA+ desmin+ ((((", "vimentin+", "SMA+ desmin+ CD117- no necrosis", "xyz", "S100 +, SOX10 +"]
    return texts


@pytest.mark.parametrize("mode", ["default", "strict", "lenient"])
def test_free_text_read_once_per_text_equals_reading_each_row(monkeypatch, mode):
    """The CSV path reads each distinct text once (model states and findings, without the site) and
    each site cell once; it writes exactly what reading every distinct (text, site) row whole writes."""
    texts = _text_corpus()
    sites = ["", "stomach", "gastric fundus", "uterus", "retroperitoneum", "moon", "soft tissue, arm"]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["case_id", "panel", "site"])
    for i, t in enumerate(texts):
        for j in (0, 1, 2):
            w.writerow([f"r{i}-{j}", t, sites[(i + 3 * j) % len(sites)]])
    data = out.getvalue().encode()
    lean = io.StringIO()
    s_lean = run_batch(io.BytesIO(data), lean, mode=mode, workers=1)
    monkeypatch.setattr(batch, "_lean_text_builders",
                        lambda pi, si, build_one, mode, mm: ((lambda c: (c[pi], c[si] if si is not None else None)),
                                                            build_one))
    whole = io.StringIO()
    s_whole = run_batch(io.BytesIO(data), whole, mode=mode, workers=1)
    assert lean.getvalue() == whole.getvalue()
    assert (s_lean.rows, s_lean.errors) == (s_whole.rows, s_whole.errors) == (3 * len(texts), s_lean.errors)
    statuses = {r["status"] for r in _csv_rows(lean.getvalue())}
    assert {"ok", "error"} <= statuses and len(statuses) >= 3


def test_free_text_memo_limit_changes_no_byte(monkeypatch):
    """Free text to CSV keeps TEXT_MEMO_LIMIT texts and rows; memos trimmed every few rows (texts
    read again, rows evaluated again, a text dropped between its key and its build) write the same
    bytes as memos that hold everything."""
    texts = _text_corpus()
    sites = ["", "stomach", "uterus", "moon"]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["case_id", "panel", "site"])
    for i in range(3 * len(texts)):
        w.writerow([f"r{i}", texts[(i * 7) % len(texts)], sites[i % len(sites)]])
    data = out.getvalue().encode()
    big = io.StringIO()
    run_batch(io.BytesIO(data), big, workers=1)
    monkeypatch.setattr(batch, "TEXT_MEMO_LIMIT", 6)
    small = io.StringIO()
    run_batch(io.BytesIO(data), small, workers=1)
    assert small.getvalue() == big.getvalue()


def test_classify_frame_returns_one_row_per_input_row():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"case_id": ["a", "b", "c"], "SMA": ["+", None, "-"], "c-kit": ["-", None, "+"],
                       "Ki-67": [30, None, float("nan")]}, index=[10, 11, 12])
    out = ihc.classify_frame(df)
    assert list(out.columns) == list(CSV_COLUMNS)
    assert list(out.index) == [10, 11, 12]
    assert list(out["case_id"]) == ["a", "b", "c"]
    assert out.loc[11, "status"] == "error"
    assert out.loc[10, "dx1"] == "leiomyosarcoma"
    assert isinstance(out.loc[10, "p1"], float)


def test_encodings_delimiters_and_line_ends(tmp_path):
    body = "case_id;SMA;desmin;CD117\r\nµ-1;+;+;-\r\nß-2;-;-;+\r\n"
    for enc, prefix in [("utf-8", b"\xef\xbb\xbf"), ("utf-16", b""), ("cp1252", b""), ("utf-16-le", b"")]:
        p = tmp_path / f"in-{enc}.csv"
        p.write_bytes(prefix + body.encode(enc))
        r = _run(["batch", str(p)])
        assert r.exit_code == 0, (enc, r.output)
        assert [x["case_id"] for x in _csv_rows(r.stdout)] == ["µ-1", "ß-2"], enc


def test_mixed_encoding_lines_are_each_read(tmp_path):
    p = tmp_path / "m.csv"
    p.write_bytes("case_id,panel\n".encode() + "é1,SMA+ desmin+\n".encode("utf-8") + "é2,CD117+\n".encode("latin-1"))
    r = _run(["batch", str(p)])
    assert [x["case_id"] for x in _csv_rows(r.stdout)] == ["é1", "é2"]


def test_quoted_multiline_cell_is_one_row():
    data = 'case_id,panel\n1,"SMA+, desmin+\nCD117-, DOG1-"\n2,CD117+\n'
    rows = _csv_rows(_run(["batch", "-"], input=data).stdout)
    assert [x["case_id"] for x in rows] == ["1", "2"]
    assert rows[0]["status"] != "error"


def test_ragged_rows_are_error_rows_not_merged():
    data = "case_id,SMA,desmin\n1,+,+,+\n2,+\n3,+,+\n4,+,+,,\n"
    r = _run(["batch", "-"], input=data)
    rows = _csv_rows(r.stdout)
    assert [x["case_id"] for x in rows] == ["1", "2", "3", "4"]
    assert [x["status"] == "error" for x in rows] == [True, True, False, False]
    assert r.exit_code == 3


@pytest.mark.parametrize("data,args,words", [
    (None, ["batch", "no/such/file.csv"], "no such file"),
    ("", ["batch", "-"], "empty input"),
    ("\n\n", ["batch", "-"], "empty input"),
    ("case_id,colour,size\n1,red,3\n", ["batch", "-"], "no usable column"),
    ("case_id,SMA\n1,+\n", ["batch", "-", "--panel-column", "text"], "no panel column"),
    ("case_id,SMA\n1,+\n", ["batch", "-", "--site-column", "where"], "no site column"),
    ("case_id,SMA,SMA\n1,+,-\n", ["batch", "-"], "twice"),
])
def test_unusable_input_exits_2_with_one_line(data, args, words):
    r = _run(args, input=data)
    assert r.exit_code == 2
    assert words in r.stderr
    assert "Traceback" not in r.output
    assert r.stdout == ""


def test_header_only_input_gives_header_only_output_exit_0():
    r = _run(["batch", "-"], input="case_id,SMA,desmin\n")
    assert r.exit_code == 0
    assert r.stdout == ",".join(CSV_COLUMNS) + "\n"


def test_named_columns(tmp_path):
    data = "accession,ihc_text,specimen_site\nS1,CD117+ DOG1+ CD34+,gastric body\n"
    r = _run(["batch", "-", "--panel-column", "ihc_text", "--site-column", "specimen_site", "--format", "jsonl"],
             input=data)
    row = json.loads(r.stdout)
    assert row["input"]["site"] == "stomach" and row["diagnosis"] == "gist"
    assert row["case_id"] == "1"  # no case_id column: the row number


def test_output_appears_whole_or_not_at_all_fast_path(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("case_id,SMA\n" + "".join(f"{i},+\n" for i in range(10000)))
    out = tmp_path / "out.csv"
    out.write_text("previous results\n")

    def progress(rows, done, total):
        if rows < 10000:  # the first slice is written, then the run is interrupted
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(src, out, progress=progress)
    assert out.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_output_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    src = tmp_path / "in.csv"
    src.write_text("case_id,SMA\n" + "".join(f"{i},+\n" for i in range(10000)))
    out = tmp_path / "out.csv"
    out.write_text("previous results\n")
    calls = {"n": 0}
    real = batch._RowWorker.render

    def boom(self, chunk, start):
        calls["n"] += 1
        if calls["n"] > 1:  # the first chunk is written, then the run is interrupted
            raise KeyboardInterrupt
        return real(self, chunk, start)

    monkeypatch.setattr(batch._RowWorker, "render", boom)
    monkeypatch.setattr(batch._FastStructured, "rows", lambda self, text, start: None)  # the row path
    with pytest.raises(KeyboardInterrupt):
        run_batch(src, out)
    assert out.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_sigterm_cleans_the_temp_file(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("case_id,SMA\n" + "".join(f"{i},+\n" for i in range(20000)))
    out = tmp_path / "out.csv"

    def progress(rows, done, total):
        if rows < 20000:
            os.kill(os.getpid(), signal.SIGTERM)

    old = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as e:
        run_batch(src, out, progress=progress)
    assert e.value.code == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
    assert signal.getsignal(signal.SIGTERM) == old


def test_output_file_mode_is_not_private(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("case_id,SMA\n1,+\n")
    out = tmp_path / "o.csv"
    run_batch(src, out)
    assert out.stat().st_mode & 0o044  # readable by others as a normal file, not mkstemp's 0600


def test_library_raises_input_error_for_unusable_input(tmp_path):
    with pytest.raises(InputError):
        run_batch(tmp_path / "missing.csv", tmp_path / "o.csv")
    assert not (tmp_path / "o.csv").exists()


# ------------------------------------------------------------------ properties

_cell = st.text(alphabet=st.sampled_from(list('+-,;"\n\r abcSMAfocal%0123456789é\t')), max_size=12)
_value = st.sampled_from(["+", "-", "pos", "neg", "focal", "", "nd", "30%", "150", "???", '"', "a,b", "x\ny"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.one_of(_value, _cell), st.one_of(_value, _cell), st.one_of(_value, _cell)),
                     max_size=25),
       text_mode=st.booleans())
def test_property_one_output_row_per_csv_record_in_order(rows, text_mode):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["case_id", "panel", "site"] if text_mode else ["case_id", "SMA", "desmin", "Ki67"])
    for i, (a, b, c) in enumerate(rows):
        w.writerow([f"r{i}", a + " " + b, c] if text_mode else [f"r{i}", a, b, c])
    out = io.StringIO()
    summary = run_batch(io.BytesIO(buf.getvalue().encode()), out)
    got = _csv_rows(out.getvalue())
    assert [x["case_id"] for x in got] == [f"r{i}" for i in range(len(rows))]
    assert summary.rows == len(rows)
    assert summary.errors == sum(1 for x in got if x["status"] == "error")


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.text(alphabet=st.sampled_from(list('+-,;" abSMA%05')), max_size=15), min_size=1,
                      max_size=20),
       odd_at=st.integers(min_value=0, max_value=19))
def test_property_malformed_lines_are_never_lost_or_reordered(lines, odd_at):
    # raw lines, not written by a CSV writer: at most one has an unbalanced quote
    fixed = []
    for i, ln in enumerate(lines):
        ln = ln.replace("\n", " ")
        if ln.count('"') % 2 and i != odd_at:
            ln = ln.replace('"', "'")
        fixed.append(f"r{i},{ln}")
    data = "case_id,SMA,desmin\n" + "\n".join(fixed) + "\n"
    out = io.StringIO()
    run_batch(io.BytesIO(data.encode()), out)
    got = _csv_rows(out.getvalue())
    assert len(got) == len(fixed)
    for i, x in enumerate(got):
        assert x["case_id"].startswith(f"r{i}") or x["case_id"] == f"r{i}"


_CELLS = ["+", "-", "pos", "negative", "focal +", "weak", "", "nd", "n/a", "30%", "5-10%", "high", "150",
          "maybe", "3+", "lost", "retained", "0%"]


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(*[st.sampled_from(_CELLS)] * 6,
                               st.sampled_from(["", "stomach", "gastric fundus", "thigh", "moon", "uterus"])),
                     min_size=1, max_size=30),
       header=st.sampled_from([["SMA", "Des", "c-kit", "Ki-67", "SATB2", "H3K27me3"],
                               ["SMA", "alpha-SMA", "CD117", "Ki67", "notes", "SDHB"]]),
       mode=st.sampled_from(["default", "strict", "lenient"]))
def test_property_memoised_rows_equal_one_by_one_classify(rows, header, mode):
    """The batch fast path (cells parsed once, results shared by memo key) == ihc.classify row by row."""
    from ihc.parse import panel_from_mapping

    cols = ["case_id", *header, "site"]
    text = ",".join(cols) + "\n" + "".join(f"{i}," + ",".join(r) + "\n" for i, r in enumerate(rows))
    for fmt in ("csv", "jsonl"):
        out = io.StringIO()
        run_batch(io.BytesIO(text.encode()), out, fmt=fmt, mode=mode)
        got = _csv_rows(out.getvalue()) if fmt == "csv" else [json.loads(x) for x in out.getvalue().splitlines()]
        assert len(got) == len(rows)
        for r, g in zip(rows, got):
            mapping = dict(zip(header, r[:-1]))
            try:
                if all(not v.strip() for v in mapping.values()):
                    raise InputError("empty")
                ref = ihc.classify(panel_from_mapping(mapping, site=r[-1] or None, mode=mode)).to_dict()
            except InputError as exc:
                assert g["status"] == "error", (r, g)
                if str(exc) != "empty":
                    assert g["error"] == " ".join(str(exc).split())
                continue
            if fmt == "csv":
                assert g["status"] == ref["status"] and g["dx1"] == ref["differential"][0]["diagnosis"], (r, g)
                assert abs(float(g["p1"]) - ref["differential"][0]["probability"]) < 1e-6
            else:
                g.pop("case_id")
                assert g == json.loads(json.dumps(ref)), r


def test_worker_processes_give_the_same_output_in_order(tmp_path):
    """Worker processes write what one process writes, and (ids a chunk at a time with numpy) count
    the same duplicate and empty ids."""
    src = tmp_path / "t.csv"
    panels = ["SMA+ desmin+ CD117-", "CD117+ DOG1+", "S100+ SOX10+", "SATB2+", "", "CD34+ STAT6+ Ki-67 3%"]

    def cid(i):
        return "" if i % 101 == 0 else f" {i % 5000} " if i % 7 == 0 else str(i)

    src.write_text("case_id,panel\n" + "".join(f"{cid(i)},{panels[i % len(panels)]} Ki-67 {i % 90}%\n"
                                              for i in range(3 * batch.CHUNK_ROWS + 17)))
    one, two = io.StringIO(), io.StringIO()
    s1 = run_batch(src, one, workers=1)
    s2 = run_batch(src, two, workers=2)
    assert one.getvalue() == two.getvalue()
    assert (s1.rows, s1.errors) == (s2.rows, s2.errors)
    assert s1.duplicate_ids > 100 and s1.empty_ids > 100
    assert (s1.duplicate_ids, list(s1.duplicate_rows), s1.empty_ids) == \
        (s2.duplicate_ids, list(s2.duplicate_rows), s2.empty_ids)
    # rows go to the workers by their text and come back in order, JSON Lines too; three workers
    for fmt, n in (("csv", 3), ("jsonl", 2)):
        one, many = io.StringIO(), io.StringIO()
        s1 = run_batch(src, one, fmt=fmt, workers=1)
        s3 = run_batch(src, many, fmt=fmt, workers=n)
        assert one.getvalue() == many.getvalue()
        assert (s1.rows, s1.errors, s1.duplicate_ids) == (s3.rows, s3.errors, s3.duplicate_ids)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='",;a \r\n\x00\u00e9\t\\', max_size=14), st.sampled_from([",", ";", "\t"]))
def test_csv_line_reads_a_line_as_the_csv_module_reads_it(text, delim):
    """_csv_line hands a text without a line break to the csv module as a one-line list: the same
    fields (or refusal) as reading it through io.StringIO(newline="")."""
    t = text.replace("\r", " ")
    try:
        recs = list(csv.reader(io.StringIO(t, newline=""), delimiter=delim))
        want = recs[0] if len(recs) == 1 else None
    except csv.Error:
        want = None
    assert batch._csv_line(text, delim) == want


def _many_keys_csv(n, seed):
    """A structured CSV with many distinct (states, site) keys: every model marker, Ki-67 figures, sites,
    an unknown and a context column, LIS spellings, a few unreadable cells; profile-like rows (so that
    ok, the counterpart rule and atypical panels all occur) among random ones."""
    import random

    from ihc.api import load_model

    rng = random.Random(seed)
    model = load_model()
    markers = [m for m in model.markers if m != "Ki67"]
    profiles = [{"SMA": "+", "desmin": "+", "h_caldesmon": "+", "CD117": "-", "DOG1": "-", "S100": "-"},
                {"S100": "+", "SOX10": "+", "SMA": "-", "CD117": "-", "H3K27me3": "retained"},
                {"CD117": "+", "DOG1": "+", "CD34": "+", "SMA": "-"},
                {"CD34": "+", "STAT6": "+", "S100": "-"},
                {"CD117": "+", "S100": "+", "keratin": "+", "STAT6": "+", "ALK": "+", "HMB45": "+", "ERG": "+"},
                {"CD117": "+", "SMA": "-", "desmin": "-"}]  # (at the anus: the site rule, melanoma untested)
    spell = {"+": ["+", "pos", "positive", "diffuse +"], "-": ["-", "neg", "negative"],
             "retained": ["retained"], "lost": ["lost"]}
    header = ["case_id", *markers, "Ki-67", "vimentin", "note", "site"]
    lines = [",".join(header)]
    # first, rows that meet the rules whatever the draw: a smooth-muscle panel without Ki-67 (the
    # counterpart rule) and CD117 alone at the anus (the site rule: melanoma untested)
    fixed = [({"SMA": "+", "desmin": "+", "h_caldesmon": "+", "CD117": "-", "DOG1": "-", "S100": "-"}, "uterus"),
             ({"SMA": "+", "desmin": "+", "h_caldesmon": "+", "CD117": "-", "DOG1": "-", "S100": "-"}, "thigh"),
             ({"CD117": "+", "DOG1": "+", "CD34": "+"}, "anal canal"),
             ({"CD117": "+", "DOG1": "+"}, "anal canal")]
    for i in range(n):
        prof = rng.choice(profiles) if rng.random() < 0.5 else {}
        if i < len(fixed):
            prof = fixed[i][0]
        cells = []
        for m in markers:
            if m in prof:
                cells.append(rng.choice(spell[prof[m]]))
            elif i < len(fixed):
                cells.append("")
            elif rng.random() < 4.2 / len(markers):  # about 4 random cells a row, whatever the marker count
                cells.append(rng.choice(["+", "-", "focal", "weak", "nd", "lost", "retained", "neg", "maybe"]))
            else:
                cells.append("")
        ki = rng.choice(["", "", "", "1", "3%", "4.9", "5", "10%", "14.9", "15", "40%", "80", "150", "x"])
        cells += ["" if i < len(fixed) else ki, rng.choice(["", "", "+"]), rng.choice(["", "", "see report"])]
        site = rng.choice(["", "stomach", "gastric fundus", "uterus", "retroperitoneum", "thigh", "skin",
                           "jejunum", "bone", "moon", '"soft tissue, arm"', "anal canal", "esophagus"])
        cells.append(fixed[i][1] if i < len(fixed) else site)
        lines.append(f"C{i}," + ",".join(cells))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("mode", ["default", "strict"])
def test_vectorised_evaluation_equals_the_row_path_byte_for_byte(monkeypatch, mode):
    """_VecEval (numpy over all distinct keys of a block) writes exactly what the per-key row path writes."""
    data = _many_keys_csv(12000, seed=7).encode()
    calls = {"keys": 0}
    real_tails = batch._VecEval.tails

    def spy(self, codes, sites):
        calls["keys"] += len(codes)
        return real_tails(self, codes, sites)

    monkeypatch.setattr(batch._VecEval, "tails", spy)
    vec = io.StringIO()
    s_vec = run_batch(io.BytesIO(data), vec, mode=mode)
    assert calls["keys"] > 3000  # most distinct keys went through the vectorised evaluator
    monkeypatch.setattr(batch._VecEval, "usable", lambda self, codes: np_zeros(len(codes)))
    per_key = io.StringIO()
    s_key = run_batch(io.BytesIO(data), per_key, mode=mode)
    monkeypatch.setattr(batch._FastStructured, "rows", lambda self, text, start: None)
    rows = io.StringIO()
    s_row = run_batch(io.BytesIO(data), rows, mode=mode)
    assert vec.getvalue() == per_key.getvalue() == rows.getvalue()
    assert (s_vec.rows, s_vec.errors) == (s_key.rows, s_key.errors) == (s_row.rows, s_row.errors) == (12000, s_vec.errors)
    statuses = {r["status"] for r in _csv_rows(vec.getvalue())}
    assert {"ok", "indeterminate", "atypical", "error"} <= statuses


def np_zeros(n):
    import numpy as np

    return np.zeros(n, bool)


def test_vectorised_probabilities_and_status_equal_classify_exactly():
    """Probabilities bit for bit (==, not approx) and status as ihc.classify, including the counterpart rule."""
    import numpy as np

    from ihc.api import COUNTERPART_FLOOR, COUNTERPARTS
    from ihc.parse import panel_from_mapping

    text = _many_keys_csv(1500, seed=11)
    recs = list(csv.reader(io.StringIO(text)))
    header, recs = recs[0], recs[1:]
    layout = batch._Layout(header)
    worker = batch._RowWorker(layout, ncols=len(header), mode="default", model=None, fmt="csv")
    fast = batch._FastStructured(worker, ",")
    vec = fast.vec
    model = worker.clf.model
    codes = np.array([[coder(r[i]) for i, coder in zip(fast.idx, fast.coders)] for r in recs], dtype=np.int64)
    sites = [fast.site_code(r[fast.si])[0] for r in recs]
    usable = vec.usable(codes)
    assert usable.mean() > 0.5
    rows = np.flatnonzero(usable)
    p, atypical, ok = vec.evaluate(codes[rows], [sites[i] for i in rows])
    seen = collections.Counter()
    for j, i in enumerate(rows.tolist()):
        r = recs[i]
        mapping = {header[c]: r[c] for c in fast.idx}
        ref = ihc.classify(panel_from_mapping(mapping, site=r[fast.si] or None))
        proba = {d["diagnosis"]: d["probability"] for d in ref.differential}
        assert p[j].tolist() == [proba[c] for c in model.classes], r  # exact
        status = "atypical" if atypical[j] else ("ok" if ok[j] else "indeterminate")
        assert status == ref.status, r
        seen[status] += 1
        top = ref.differential[0]
        other = COUNTERPARTS.get(top["diagnosis"])
        if status == "indeterminate" and top["probability"] >= model.thresholds["ok_probability"] and other \
                and proba[other] >= COUNTERPART_FLOOR:
            seen["counterpart rule"] += 1
        if status == "indeterminate" and top["probability"] >= model.thresholds["ok_probability"] \
                and any("no other diagnosis is named until it is" in w for w in ref.warnings):
            seen["site rule"] += 1
    assert seen["ok"] and seen["indeterminate"] and seen["atypical"] and seen["counterpart rule"], seen
    assert seen["site rule"], seen


def test_jsonl_rows_stay_one_line_for_every_line_splitter(tmp_path):
    """U+0085, U+2028 and U+2029 are legal raw in JSON but split lines in str.splitlines."""
    from ihc.batch import run_batch

    src = tmp_path / "in.csv"
    src.write_text("case_id,panel\nA\u0085B,SMA+ desmin+\nC\u2028D,CD117+ DOG1+\nE\u2029F,\n", encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    run_batch(str(src), str(dst))
    text = dst.read_text(encoding="utf-8")
    rows = text.splitlines()
    assert len(rows) == 3
    assert [json.loads(r)["case_id"] for r in rows] == ["A\u0085B", "C\u2028D", "E\u2029F"]


@pytest.mark.parametrize("variant", [{}, {"line_end": "\r\n"}, {"quote_all": True},
                                     {"line_end": "\r\n", "quote_all": True}])
def test_crlf_and_quoted_exports_take_the_vectorised_route(tmp_path, monkeypatch, variant):
    """CRLF line ends and cells all quoted are read by the block route, not row by row, same bytes out."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import _data

    src, ref = tmp_path / "in.csv", tmp_path / "lf.csv"
    _data.uniform_csv(ref, 3000)
    _data.uniform_csv(src, 3000, **variant)
    run_batch(ref, tmp_path / "ref.csv")

    def no_row_path(self, chunk, start):
        raise AssertionError("a block went to the row path")

    monkeypatch.setattr(batch._RowWorker, "render", no_row_path)
    run_batch(src, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()


def test_a_site_dependent_feature_is_scored_alike_by_the_scalar_and_the_vector_path():
    """The tables' extension point (per site group vectors, as morphology findings will need):
    one entry in the exported model, and both evaluators give the same probabilities (==)."""
    import json
    import random
    from pathlib import Path

    np = pytest.importorskip("numpy")
    from ihc.engine import CompactModel, marker_states
    from ihc.engine.vector import VectorEvaluator

    data = json.loads((Path(__file__).resolve().parents[1] / "models" / "ihc_model.json").read_text())
    rng = random.Random(3)
    K = len(data["classes"])
    data["site_group_coef"] = {"SMA": {st: {g: [rng.uniform(-2, 2) for _ in range(K)] for g in ("gi", "uterus", "any")}
                                       for st in marker_states("SMA")}}
    model = CompactModel(data)
    plain = CompactModel(json.loads((Path(__file__).resolve().parents[1] / "models" / "ihc_model.json").read_text()))
    cols = ["SMA", "desmin", "CD117", "Ki67"]
    vec = VectorEvaluator(np, model, cols)
    rows, sites = [], []
    for _ in range(300):
        rows.append([rng.randint(0, len(vec.states[j])) for j in range(len(cols))])
        sites.append(rng.choice([None, "stomach", "uterus", "retroperitoneum", "skin"]))
    rows[0][0] = 1  # at least one SMA state
    p, _, _ = vec.evaluate(np.array(rows, np.int64), sites)
    differs = 0
    for r, site, got in zip(rows, sites, p.tolist()):
        states = {c: vec.states[j][i - 1] for j, (c, i) in enumerate(zip(cols, r)) if i}
        assert got == model.proba(states, site)
        differs += "SMA" in states and model.proba(states, site) != plain.proba(states, site)
    assert differs > 100


def test_vectorised_fixed_point_formatting_equals_format_exactly():
    """The block route formats probabilities with integer arithmetic; every value, near-ties included,
    comes out as format(x, '.6f') does."""
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(5)
    k = rng.integers(0, 1_000_000, 2000)
    p = np.concatenate([rng.random((5000, 3)), rng.random((500, 3)) ** 40,
                        ((k + 0.5) / 1e6).reshape(-1, 1).repeat(3, 1),  # just off the decimal ties
                        np.array([[0.0, 1.0, 0.5], [5e-7, 1.5e-6, 0.9999995], [1e-300, 0.4999995, 2.5e-7]])])
    assert batch._fixed6_many(np, p) == [[f"{v:.6f}" for v in r] for r in p.tolist()]


def test_vectorised_tails_write_probabilities_as_format_does():
    """The block route's CSV tails (table look-ups for the digits) equal _csv_tail's, ties and all."""
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(8)
    names = [f"dx{i}" for i in range(6)]
    k = rng.integers(0, 1_000_000, 600)
    top = np.concatenate([rng.random((3000, 3)), rng.random((300, 3)) ** 30,
                          ((k + 0.5) / 1e6).reshape(-1, 3),  # just off the decimal ties
                          np.array([[1.0, 0.0, 0.0], [0.9999995, 5e-7, 1.5e-6], [0.4999995, 2.5e-7, 1e-300]])])
    n = len(top)
    order = np.array([rng.permutation(6)[:3] for _ in range(n)])
    atypical, ok = rng.random(n) < 0.2, rng.random(n) < 0.5
    got = batch._tail_texts(np, names, atypical, ok & ~atypical, order, top)
    want = []
    for a, o, ks, ps in zip(atypical.tolist(), (ok & ~atypical).tolist(), order.tolist(), top.tolist()):
        status = "atypical" if a else ("ok" if o else "indeterminate")
        want.append(batch._csv_tail((status, names[ks[0]] if o else None, ps[0],
                                     [(names[c], x) for c, x in zip(ks, ps)], None, None)))
    assert got == want


def test_vectorised_row_sums_equal_the_builtin_sum():
    """The softmax denominator of the block route is this Python's sum() of each row, bit for bit."""
    np = pytest.importorskip("numpy")
    from ihc.api import load_model
    from ihc.engine.vector import VectorEvaluator

    vec = VectorEvaluator(np, load_model(), ["SMA", "desmin"])
    rng = np.random.default_rng(6)
    e = np.exp(rng.normal(scale=6, size=(20000, vec.K)))
    assert vec._row_sums(e).tolist() == [sum(r) for r in e.tolist()]
    assert vec._sum_kind in ("plain", "neumaier")  # the vectorised form, not the map(sum) fallback


def test_duplicate_ids_counted_alike_on_the_block_route_and_the_row_path(monkeypatch):
    """Repeated case_ids (within a block, across 1 MB blocks, with spaces around) and empty ones are
    counted as a plain first-seen set counts them, on both routes."""
    import random

    rng = random.Random(4)
    ids = [f"U{i:06d}" for i in range(60000)]
    for k in (5, 17, 30000, 59990):
        ids[k] = ids[k - 3]
    for k in (100, 45000):
        ids[k] = " " + ids[2] + " "
    for k in (7, 50000):
        ids[k] = ""
    lines = ["case_id,SMA,desmin,CD117,site"] + [
        f"{cid},{rng.choice('+-')},{rng.choice('+-')},{rng.choice(['', '+'])},stomach" for cid in ids]
    data = ("\n".join(lines) + "\n").encode()
    seen, dups, rows, empty = set(), 0, [], 0
    for n, cid in enumerate(ids, 1):
        c = cid.strip()
        if not c:
            empty += 1
        elif c in seen:
            dups += 1
            rows.append(n)
        seen.add(c)
    fast = run_batch(io.BytesIO(data), io.StringIO())
    monkeypatch.setattr(batch._FastStructured, "rows", lambda self, text, start: None)
    slow = run_batch(io.BytesIO(data), io.StringIO())
    for s in (fast, slow):
        assert (s.duplicate_ids, list(s.duplicate_rows), s.empty_ids) == (dups, rows[:5], empty)


def test_block_exact_gains_equal_the_scalar_gains_bit_for_bit():
    """engine.vector.ExactGains (JSON Lines' block of panels) gives information_gain's and
    finding_gain's own floats (==) for every stain and finding, over many panels and sites."""
    import random

    import numpy as np

    from ihc.api import ASKABLE_FINDINGS, load_model
    from ihc.engine import marker_states
    from ihc.engine.vector import ExactGains, sum_kind

    model = load_model()
    block = ExactGains(np, model, sum_kind(np, len(model.classes)))
    rnd = random.Random(5)
    items, panels = [], []
    for i in range(300):
        chosen = rnd.sample(model.markers, rnd.randint(0, 8))
        states = {m: rnd.choice(marker_states(m)) for m in chosen}
        site = rnd.choice([None, "stomach", "uterus", "thigh", "skin", "retroperitoneum"])
        z = model.scores(states, site)
        proba = model.proba(states, site)
        names = [m for m in model.markers if m not in states] + [("finding", f) for f in ASKABLE_FINDINGS]
        items.append((proba, z, site, names))
        panels.append((states, site, proba, z))
    got = block.gains(items)
    assert sum(g is not None for g in got) > 250
    for g, (states, site, proba, z) in zip(got, panels):
        if g is None:
            continue
        for name, v in g.items():
            if isinstance(name, tuple):
                ref = model.finding_gain(states, site, name[1], {}, proba, z)
            else:
                ref = model.information_gain(states, site, name, proba=proba, scores=z)[0]
            assert v == ref, (states, site, name)


def _quote_variants_csv(rng, delim, line_end, n=150):
    """A marker CSV whose cells are quoted in one of several ways: every cell, some cells, quotes
    inside cells, an empty quoted cell, a cell that is one quote, a quoted delimiter."""
    header = ["case_id", "SMA", "desmin", "CD117", "Ki67", "site"]
    style = rng.choice(["all", "all", "some", "inner", "one-quote", "delim-inside", "escaped"])
    values = ["pos", "neg", "focal", "", "+", "-", "weak", "nd"]
    out = [delim.join(header)]
    for i in range(n):
        cells = [f"Q{i}", *(rng.choice(values) for _ in range(3)), rng.choice(["", "3", "30%", "80"]),
                 rng.choice(["", "stomach", "uterus", "thigh"])]
        if style == "all" or (style == "some" and rng.random() < 0.5):
            cells = [f'"{c}"' for c in cells]
        elif style == "some":
            k = rng.randrange(len(cells))
            cells[k] = f'"{cells[k]}"'
        elif style == "inner" and rng.random() < 0.05:
            cells[1] = 'p"os'
        elif style == "one-quote" and rng.random() < 0.05:
            cells[2] = '"'
        elif style == "delim-inside" and rng.random() < 0.1:
            cells[5] = f'"soft tissue{delim} arm"'
        elif style == "escaped" and rng.random() < 0.1:
            cells[0] = f'"Q{i} ""a"""'
        if style != "all" and rng.random() < 0.3:
            cells = [f'"{c}"' if '"' not in c else c for c in cells]
        out.append(delim.join(cells))
    return (line_end.join(out) + line_end).encode()


def test_quoted_and_crlf_blocks_equal_the_row_path_byte_for_byte(monkeypatch):
    """Blocks with quotes of every kind, any delimiter, LF or CRLF: the block route (quotes dropped
    from whole quoted cells, quoted lines read by the csv module, columns read as categories) writes
    what the row path writes, and CRLF what LF writes; whole-quoted blocks stay on the block route."""
    import random

    rng = random.Random(11)
    files = [(_quote_variants_csv(rng, delim, "\n"), delim) for delim in (",", ";", "\t") for _ in range(12)]
    calls = {"fast": 0, "none": 0}
    real_rows = batch._FastStructured.rows

    def spy(self, text, start):
        got = real_rows(self, text, start)
        calls["fast" if got is not None else "none"] += 1
        return got

    monkeypatch.setattr(batch._FastStructured, "rows", spy)
    fast = []
    for data, _ in files:
        for d in (data, data.replace(b"\n", b"\r\n")):
            out = io.StringIO()
            s = run_batch(io.BytesIO(d), out)
            fast.append((out.getvalue(), s.rows, s.errors, s.duplicate_ids))
    assert calls["fast"] > 40 and calls["none"] > 0, calls
    monkeypatch.setattr(batch._FastStructured, "rows", lambda self, text, start: None)
    k = 0
    for data, _ in files:
        out = io.StringIO()
        s = run_batch(io.BytesIO(data), out)
        want = (out.getvalue(), s.rows, s.errors, s.duplicate_ids)
        assert fast[k] == want and fast[k + 1] == want, data[:300]
        k += 2


@pytest.mark.parametrize("size", [4096, 65536, 8 << 20])
def test_block_size_changes_no_byte(monkeypatch, size):
    """The block route reads FAST_READ_BYTES at a time once chosen (cut at the last line end): any
    size writes the same bytes and counts the same ids, LF, CRLF and quoted."""
    import random

    rng = random.Random(8)
    files = [_quote_variants_csv(rng, ",", "\n") for _ in range(3)]
    lines = ["case_id,SMA,desmin,CD117,Ki67,site"] + [
        f"{'C%d' % rng.randrange(9000)},{rng.choice(['pos', 'neg', '', 'focal'])},{rng.choice('+-')},"
        f"{rng.choice(['', '+', '-'])},{rng.choice(['', '5', '40%'])},{rng.choice(['stomach', 'uterus', ''])}"
        for _ in range(20000)]
    files.append(("\n".join(lines) + "\n").encode())
    files.append(files[-1].replace(b"\n", b"\r\n"))
    want = []
    for data in files:
        out = io.StringIO()
        s = run_batch(io.BytesIO(data), out)
        want.append((out.getvalue(), s.rows, s.errors, s.duplicate_ids, list(s.duplicate_rows)))
    monkeypatch.setattr(batch, "FAST_READ_BYTES", size)
    for data, w in zip(files, want):
        out = io.StringIO()
        s = run_batch(io.BytesIO(data), out)
        assert (out.getvalue(), s.rows, s.errors, s.duplicate_ids, list(s.duplicate_rows)) == w


def test_many_duplicate_ids_counted_alike_on_the_block_route_and_the_row_path(monkeypatch):
    """Ids drawn with many repeats across blocks (the block route's seen hashes in buckets) and
    blank ones: the same count, first rows and empty count as the row path's."""
    import random

    rng = random.Random(4)
    lines = ["case_id,SMA,desmin,site"]
    for i in range(70000):
        cid = f"C{rng.randrange(50000)}" if rng.random() < 0.7 else (" " if rng.random() < 0.1 else f"D{i}")
        lines.append(f"{cid},{rng.choice(['pos', 'neg', ''])},{rng.choice(['pos', 'neg'])},stomach")
    data = ("\n".join(lines) + "\n").encode()
    fast = run_batch(io.BytesIO(data), io.StringIO())
    monkeypatch.setattr(batch._FastStructured, "rows", lambda self, text, start: None)
    slow = run_batch(io.BytesIO(data), io.StringIO())
    assert fast.duplicate_ids > 10000
    assert (fast.duplicate_ids, fast.duplicate_rows, fast.empty_ids) == \
        (slow.duplicate_ids, slow.duplicate_rows, slow.empty_ids)


def _one_object_writer(monkeypatch):
    """Make run_batch write JSON Lines the reference way: each row's ``classify`` object built by
    the library's assembly (``Result.to_dict()``, exact gains one panel at a time) and encoded
    whole, without templates, blocks or JSON from pieces."""

    def whole(self, panel):
        d = self._full(panel).to_dict()
        top = tuple((r["diagnosis"], r["probability"]) for r in d["differential"][:3])
        return (d["status"], d["diagnosis"], d["confidence"], top, None, d)

    monkeypatch.setattr(batch, "_Templates", lambda worker: None)
    monkeypatch.setattr(batch._Classifier, "_blocks", lambda self: None)
    monkeypatch.setattr(batch._Classifier, "_full_text", whole)


def _jsonl_oracle_csv():
    import random
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import _data

    rng = random.Random(17)
    text = _many_keys_csv(5000, seed=23)
    # the benchmark's uniform rows and LIS-like rows, Ki-67 written every way a figure is read
    head = "case_id,SMA,desmin,CD117,DOG1,CD34,S100,Ki67,site"
    kis = ["", "0", "3", "4.9", "5", "7.5", "5-10%", "14.9", "15", "30%", "100", "high", "low", "Ki-67 40%", "<1%"]
    sites = ["stomach", "retroperitoneum", "uterus", "", "gastric fundus", "skin", "thigh", "nowhere"]
    vals = ["pos", "neg", "focal", "", "+", "-", "weak"]
    rows = [head]
    for i in range(4000):
        rows.append(",".join([f"U{i}", *(rng.choice(vals) for _ in range(6)), rng.choice(kis), rng.choice(sites)]))
    rows.append(",".join(["U7", "+", "+", "", "", "", "", "30", "stomach"]))  # a duplicate id
    rows.append(",".join(["", "+", "-", "", "", "", "", "12", "uterus"]))  # an empty id
    rows.append(",".join(["E1", "maybe", "+", "", "", "", "", "30", "stomach"]))
    rows.append(",".join(["E2", "", "", "", "", "", "", "", "stomach"]))
    rows.append(",".join(["E3", "+", "+", "", "", "", "", "150", "uterus"]))
    return text, "\n".join(rows) + "\n"


@pytest.mark.parametrize("mode", ["default", "lenient"])
def test_jsonl_templates_and_blocks_equal_the_one_object_writer_byte_for_byte(monkeypatch, mode):
    """JSON Lines from templates (the Ki-67 figure spliced per row), block facts and estimated gains
    (where :func:`ihc.engine.vector.decided` vouches for them) == the one-object-at-a-time writer."""
    from ihc.engine import vector

    calls = collections.Counter()
    real_gains, real_build = vector.ApproxGains.gains, batch._Templates._build

    def spy_gains(self, site, p):
        G, ok = real_gains(self, site, p)
        calls["estimated"] += int(ok.sum())
        return G, ok

    def spy_build(self, new):
        calls["templates"] += len(new)
        return real_build(self, new)

    monkeypatch.setattr(vector.ApproxGains, "gains", spy_gains)
    monkeypatch.setattr(batch._Templates, "_build", spy_build)
    outs = []
    for data in _jsonl_oracle_csv():
        fast = io.StringIO()
        s_fast = run_batch(io.BytesIO(data.encode()), fast, fmt="jsonl", mode=mode)
        outs.append((data, fast.getvalue(), s_fast))
    assert calls["estimated"] > 3000 and calls["templates"] > 3000, calls
    _one_object_writer(monkeypatch)
    for data, got, s_fast in outs:
        ref = io.StringIO()
        s_ref = run_batch(io.BytesIO(data.encode()), ref, fmt="jsonl", mode=mode)
        assert got == ref.getvalue()
        assert (s_fast.rows, s_fast.errors, s_fast.duplicate_ids, s_fast.duplicate_rows, s_fast.empty_ids) \
            == (s_ref.rows, s_ref.errors, s_ref.duplicate_ids, s_ref.duplicate_rows, s_ref.empty_ids)
    words = "".join(g for _, g, _ in outs)
    assert '"value":"7.5%"' in words and "is high for a benign" in words and '"status":"error"' in words


def test_states_evaluator_equals_the_scalar_path_exactly():
    """StatesEvaluator (a block of states dicts, any markers in any order) gives CompactModel.scores,
    proba and the status rule's answer bit for bit."""
    import random

    import numpy as np

    from ihc.api import load_model
    from ihc.engine import marker_states, rules
    from ihc.engine.vector import StatesEvaluator

    model = load_model()
    ev = StatesEvaluator(np, model)
    rnd = random.Random(3)
    panels = []
    for _ in range(1500):
        chosen = rnd.sample(model.markers, rnd.randint(0, 9))
        panels.append(({m: rnd.choice(marker_states(m)) for m in chosen},
                       rnd.choice([None, "stomach", "uterus", "thigh", "skin", "retroperitoneum", "small_intestine", "anus",
                    "esophagus"])))
    z, p, atypical, ok = ev.evaluate_states([s for s, _ in panels], [site for _, site in panels])
    seen = collections.Counter()
    for (states, site), zi, pi, a, o in zip(panels, z.tolist(), p.tolist(), atypical.tolist(), ok.tolist()):
        assert zi == model.scores(states, site)
        proba = model.proba(states, site)
        assert pi == proba
        table = rules.majority_tests(model, site)
        status = rules.status(model.thresholds, model.classes, proba, model.typicality(states), len(states), states,
                              None, table)
        got = "atypical" if a else ("ok" if o else "indeterminate")
        assert got == status, (states, site)
        seen[status] += 1
        if status == "indeterminate" and max(proba) >= model.thresholds["ok_probability"] \
                and rules.untested_majority(proba, states, table) is not None:
            seen["site rule"] += 1
    assert seen["ok"] and seen["indeterminate"] and seen["atypical"] and seen["site rule"], seen


def test_estimated_gains_decide_the_lists_as_the_exact_gains_do():
    """ApproxGains is within 1e-12 of information_gain / finding_gain; where ``decided`` vouches for a
    panel, next stains and findings from the estimates, and from the estimates moved anywhere within
    the tolerance, are the exact lists (as JSON, byte for byte)."""
    import json as _json
    import random

    import numpy as np

    from ihc.api import (GAIN_TOLERANCE, MIN_GAIN_BITS, load_model, next_findings, next_stains,
                         site_majority_tests)
    from ihc.engine import marker_states
    from ihc.engine.vector import ApproxGains, decided

    model = load_model()
    approx = ApproxGains(np, model)
    rnd = random.Random(9)
    worst, n_decided = 0.0, 0
    for site in (None, "stomach", "skin", "uterus"):
        panels = []
        for _ in range(150):
            chosen = rnd.sample(model.markers[:20], rnd.randint(0, 6))
            panels.append({m: rnd.choice(marker_states(m)) for m in chosen})
        P = np.array([model.proba(s, site) for s in panels])
        G, sure = approx.gains(site, P)
        names = approx.names
        stains = np.array([[not isinstance(nm, tuple) and nm not in s for nm in names] for s in panels])
        finds = np.array([isinstance(nm, tuple) for nm in names])
        tests = np.array([nm in site_majority_tests(model, site) for nm in names])[None, :]
        ok = sure & decided(np, G, stains, finds, tests, top=5, floor=MIN_GAIN_BITS, tol=GAIN_TOLERANCE, decimals=4)
        for r, states in enumerate(panels):
            proba, z = model.proba(states, site), model.scores(states, site)
            exact = {}
            for j, nm in enumerate(names):
                if isinstance(nm, tuple):
                    exact[nm] = model.finding_gain(states, site, nm[1], {}, proba, z)
                elif nm not in states:
                    exact[nm] = model.information_gain(states, site, nm, proba=proba, scores=z)[0]
                else:
                    continue
                worst = max(worst, abs(G[r, j] - exact[nm]))
            ref_s = next_stains(model, states, site, proba, scores=z)
            ref = _json.dumps([ref_s, next_findings(model, states, site, proba, {}, ref_s, scores=z)])
            if not ok[r]:
                continue
            n_decided += 1
            for jitter in (0.0, 0.5, -0.5):
                gains = {nm: max(0.0, G[r, j] + jitter * GAIN_TOLERANCE * rnd.random())  # gains are >= 0
                         for j, nm in enumerate(names) if nm in exact}
                got_s = next_stains(model, states, site, proba, scores=z, gains=gains)
                best = max((n["expected_information_gain"] for n in got_s), default=None)
                if best is not None and any(abs(g - best) <= GAIN_TOLERANCE for nm, g in gains.items()
                                            if isinstance(nm, tuple)):
                    continue  # batch takes the exact way for such a panel
                got = _json.dumps([got_s, next_findings(model, states, site, proba, {}, got_s, scores=z, gains=gains)])
                assert got == ref, (states, site, jitter)
    assert worst < 1e-12, worst
    assert n_decided > 500, n_decided


def test_next_steps_block_equals_next_stains_and_next_findings():
    """api.next_steps_block (JSON Lines' lists for a block of panels) gives next_stains' and
    next_findings' lists, entry for entry, from the same gains: random panels at sites with and
    without a majority tumour, every row (decided or not: ties are broken as the scalar rules
    break them), and gains pulled together so that ties, the floor and the site-majority rule occur."""
    import random

    import numpy as np

    from ihc.api import load_model, next_findings, next_stains, next_steps_block
    from ihc.engine import marker_states
    from ihc.engine.vector import ApproxGains

    model = load_model()
    approx = ApproxGains(np, model)
    rnd = random.Random(31)
    seen = collections.Counter()
    for site in (None, "stomach", "skin", "uterus", "retroperitoneum", "anus", "thigh"):
        panels = []
        for _ in range(200):
            chosen = rnd.sample(model.markers, rnd.randint(0, 8))
            panels.append({m: rnd.choice(marker_states(m)) for m in chosen})
        P = np.array([model.proba(s, site) for s in panels])
        G, _ = approx.gains(site, P)
        G = G.copy()
        G[::7] = np.round(G[::7], 2)  # ties between candidates, gains at the floor
        names = approx.names
        stains = np.array([[not isinstance(nm, tuple) and nm not in s for nm in names] for s in panels])
        rows = []
        for states, p in zip(panels, P.tolist()):
            rows.append((states, p, sorted(range(len(p)), key=p.__getitem__, reverse=True)))
        got = next_steps_block(model, np, site, names, G, stains, rows, top=5)
        for r, (states, proba, order) in enumerate(rows):
            gains = {nm: float(G[r, j]) for j, nm in enumerate(names) if isinstance(nm, tuple) or nm not in states}
            z = model.scores(states, site)
            ref_s = next_stains(model, states, site, proba, scores=z, gains=gains)
            ref_f = next_findings(model, states, site, proba, {}, ref_s, scores=z, gains=gains)
            want = ([(d["marker"], d["expected_information_gain"], d["why"]) for d in ref_s],
                    [(d["finding"], d["expected_information_gain"], d["why"]) for d in ref_f])
            assert got[r] == want, (states, site)
            seen["majority"] += any("Listed first whatever its gain" in t[2] for t in want[0])
            seen["findings"] += bool(want[1])
            seen["stains"] += len(want[0])
    assert seen["majority"] > 50 and seen["findings"] > 200 and seen["stains"] > 3000, seen


def test_jsonl_templates_with_nul_and_escapes_equal_the_one_object_writer(monkeypatch):
    """Cells holding a NUL (json writes ``\\u0000``, as in the templates' tokens), the text
    ``\\u0000`` itself, backslashes and quotes, in the site, an unknown column, a marker cell and
    the id, beside Ki-67 figures (templates with tokens): byte for byte the one-object writer, and
    some templates are refused (their rows go the row path's way)."""
    import random

    rng = random.Random(5)
    V = ["+", "-", "focal", "", "pos\x00"]
    K = ["", "3", "30%", "7.5", "5-10%", "12\x00"]
    S = ["stomach", "st\x00omach", "skin\\u0000", "uterus", '"x\\"', "", "x\x00" * 3]
    N = ["", "a\x00b", "\\u0000", "\\"]
    lines = ["case_id,SMA,desmin,CD117,Ki67,notes,site"]
    for i in range(400):
        cells = [rng.choice([f"c{i}", f"c\x00{i}"]), rng.choice(V), rng.choice(V), rng.choice(V), rng.choice(K),
                 rng.choice(N), rng.choice(S)]
        lines.append(",".join('"' + c.replace('"', '""') + '"' if '"' in c else c for c in cells))
    data = ("\n".join(lines) + "\n").encode()
    refused = collections.Counter()
    build = batch._Templates._build

    def counting(self, new):
        build(self, new)
        refused["none"] += sum(self.memo.get(tk, 0) is None for tk in new)
        refused["all"] += len(new)

    monkeypatch.setattr(batch._Templates, "_build", counting)
    got = {}
    for mode in ("default", "strict"):
        out = io.StringIO()
        run_batch(io.BytesIO(data), out, fmt="jsonl", mode=mode)
        got[mode] = out.getvalue()
    assert 0 < refused["none"] < refused["all"], refused
    _one_object_writer(monkeypatch)
    for mode in ("default", "strict"):
        out = io.StringIO()
        run_batch(io.BytesIO(data), out, fmt="jsonl", mode=mode)
        assert got[mode] == out.getvalue(), mode


@pytest.mark.parametrize("mode", ["default", "strict"])
def test_jsonl_odd_layouts_equal_the_one_object_writer(monkeypatch, mode):
    """Layouts the templates leave alone or handle with care: two Ki-67 columns (no figure slot),
    morphology columns (the row path), unknown columns (strict mode's errors), no case_id column,
    ids json must escape, duplicate and empty ids: byte for byte the one-object-at-a-time writer."""
    import random

    rng = random.Random(1)
    V, K = ["+", "-", "focal", "", "weak", "nd"], ["", "3", "30%", "7.5", "high", "5-10%", "150"]
    S = ["stomach", "", "uterus", "skin", "moon", "gastric fundus"]

    def csv_of(header, row, n=300):
        return ("\n".join([",".join(header)] + [",".join(row(i)) for i in range(n)]) + "\n").encode()

    files = [
        csv_of(["case_id", "SMA", "desmin", "Ki67", "MIB-1", "site"],
               lambda i: [f"a{i}", rng.choice(V), rng.choice(V), rng.choice(K), rng.choice(K), rng.choice(S)]),
        csv_of(["case_id", "SMA", "desmin", "CD117", "Ki67", "mitoses", "necrosis", "size_cm", "site"],
               lambda i: [f"m{i}", rng.choice(V), rng.choice(V), rng.choice(V), rng.choice(K),
                          rng.choice(["", "5/10 HPF", "20/50 HPF"]), rng.choice(["", "yes", "no"]),
                          rng.choice(["", "4", "12"]), rng.choice(S)]),
        csv_of(["case_id", "SMA", "BCL2", "notes", "Ki-67", "site"],
               lambda i: [f"u{i}", rng.choice(V), rng.choice(V), rng.choice(["", "x"]), rng.choice(K), rng.choice(S)]),
        csv_of(["SMA", "desmin", "CD117", "DOG1", "Ki67"], lambda i: [rng.choice(V) for _ in range(4)] + [rng.choice(K)]),
        csv_of(["case_id", "SMA", "CD117", "Ki67", "site"],
               lambda i: [rng.choice(['"a""b"', "é1", "x\\\\y", " sp ", "", "dup"]), rng.choice(V), rng.choice(V),
                          rng.choice(K), rng.choice(S)]),
    ]
    fast = []
    for data in files:
        out = io.StringIO()
        s = run_batch(io.BytesIO(data), out, fmt="jsonl", mode=mode)
        fast.append((out.getvalue(), (s.rows, s.errors, s.duplicate_ids, s.duplicate_rows, s.empty_ids)))
    _one_object_writer(monkeypatch)
    for data, (got, summary) in zip(files, fast):
        out = io.StringIO()
        s = run_batch(io.BytesIO(data), out, fmt="jsonl", mode=mode)
        assert got == out.getvalue()
        assert summary == (s.rows, s.errors, s.duplicate_ids, s.duplicate_rows, s.empty_ids)


def test_numeric_looking_columns_keep_their_cells_as_written(tmp_path):
    """pandas reads a column whose cells all look like numbers as numbers ('007' -> 7, '150' -> 150):
    the block route's error message quoted 150 where one-by-one classify quotes '150'. Found by
    the property test below on a Ki-67 column of one row."""
    src = tmp_path / "k.csv"
    src.write_text("case_id,SMA,Ki-67,CD117\n1,+,150,-\n2,+,007,-\n3,1,30,0\n", encoding="utf-8")
    out = io.StringIO()
    run_batch(str(src), out, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    with pytest.raises(InputError) as exc:
        ihc.classify({"SMA": "+", "Ki-67": "150", "CD117": "-"})
    assert rows[0]["status"] == "error" and rows[0]["error"] == str(exc.value)
    for row, panel in zip(rows[1:], ({"SMA": "+", "Ki-67": "007", "CD117": "-"}, {"SMA": "1", "Ki-67": "30", "CD117": "0"})):
        res = ihc.classify(panel)
        assert (row["status"], float(row["p1"])) == (res.status, round(res.differential[0]["probability"], 6))
