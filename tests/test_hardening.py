"""Hardening (issue 7): bad input of every kind, untrusted model files, interrupted batches, no patient data leaks.

- Hypothesis fuzz over the CLI (CliRunner) for parse, classify and batch: the exit code is always
  a documented one (1 is a bug), never a traceback, and a batch writes one row per input data row.
- The bad-input catalogue of the README (``## Bad input: what you see``): every row is re-run here and
  must match the README. Regenerate the table after a deliberate message change with
  ``python tests/test_hardening.py --update-readme``.
- Model files: a flipped byte, a missing card, a card of another format or marker list: exit 2, one line.
- A batch killed mid-run (SIGTERM, SIGINT) leaves the previous output or none, and no temp file.
- Nothing of the panel or case ids is written anywhere but the requested output.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from ihc.cli import cli

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
README = ROOT / "README.md"

FUZZ = settings(max_examples=int(os.environ.get("IHC_HYPOTHESIS_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

PANEL = "SMA(+), Des(+), CD34(-), CD117(-), S100(-), Ki-67(+,30%), DOG1(-)"


def _invoke(args, input=None, env=None):
    """Run the CLI in-process; an exception other than SystemExit is a bug and shows as exit 1."""
    return CliRunner().invoke(cli, args, input=input, env=env)


def _check(r, allowed):
    shown = r.output + (r.stderr if r.stderr is not None else "")
    assert r.exit_code in allowed, (r.exit_code, repr(r.exception), shown[-2000:])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in shown
    if r.exit_code == 2:  # an input error is one line on stderr
        assert r.stderr.strip(), "exit 2 without a message"
        assert "Error: " in r.stderr


# ------------------------------------------------------------------ fuzz: parse and classify

TOKENS = [
    "SMA", "desmin", "Des", "CD117", "c-kit", "KIT", "CD34", "S100", "S-100", "DOG1", "DOG-1", "Ki-67", "Ki67",
    "MIB-1", "h-caldesmon", "β-catenin", "beta-catenin", "SOX10", "STAT6", "ALK", "MDM2", "CDK4", "AE1/AE3",
    "H3K27me3", "SDHB", "vimentin", "p53", "SATB2", "GATA3", "HMB45", "Melan-A/MART-1", "ER", "PR",
    "+", "-", "(+)", "(-)", "(+,30%)", "+/-", "1+", "3+", "positive", "negative", "focal", "weak", "diffuse",
    "strong", "patchy", "lost", "retained", "nuclear", "not done", "pending", "equivocal",
    "30%", "150%", "-5%", "100%", "0%", "1e400", "nan", "inf", "abc", "high", "low", "index", "about",
    ",", ";", ":", "=", ".", "and", "or", "for", "were", "was", "the", "tumor", "cells", "of", "in", "but", "not",
    "(", ")", '"', "'", "\n", "\t", "\x00", "\u200b", "α", "Β", "\ufeff", "\x7f", "\\", "/", "%", "±",
]

panel_texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join),
    st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)), max_size=30).map("".join),
)
sites = st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["stomach", "gastric fundus", "thigh", "uterus"]))


@FUZZ
@given(text=panel_texts, site=sites, form=st.sampled_from(
    [["parse"], ["parse", "--format", "json"], ["parse", "--strict"], ["classify", "--format", "json"],
     ["classify"], ["classify", "--strict"], ["classify", "--lenient", "--format", "json"]]))
def test_fuzz_parse_and_classify_text(text, site, form):
    args = list(form) + (["--site", site] if site is not None else []) + ["--", text]
    r = _invoke(args)
    _check(r, {0, 2})
    if r.exit_code == 0 and "--format" in form:
        json.loads(r.stdout)  # data only on stdout


@FUZZ
@given(data=st.binary(max_size=600), cmd=st.sampled_from(["parse", "classify"]))
def test_fuzz_classify_stdin_bytes(data, cmd):
    r = _invoke([cmd, "-"], input=data)
    _check(r, {0, 2})


# ------------------------------------------------------------------ fuzz: batch

def _decode_line(raw):
    for enc in ("utf-8", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")


def _output_rows(r, fmt):
    if fmt == "jsonl":
        return [json.loads(ln) for ln in r.stdout.split("\n") if ln.strip()]  # not splitlines: U+0085 is data
    rows = list(csv.reader(io.StringIO(r.stdout, newline="")))
    assert rows and rows[0][0] == "case_id", r.stdout[:200]
    return [dict(zip(rows[0], row)) for row in rows[1:]]


@FUZZ
@given(data=st.binary(max_size=1500), fmt=st.sampled_from(["csv", "jsonl"]))
def test_fuzz_batch_arbitrary_bytes(data, fmt):
    r = _invoke(["batch", "-", "--format", fmt], input=data)
    _check(r, {0, 2, 3})


@pytest.mark.parametrize("data", [b"\n\r\x00", b"case_id,SMA\r\x00\n1,+\n", b"\x00\x00\x00\x00", b"\xff\xfe\x00",
                                  b'"case_id,SMA\n1,+\n', b"case_id,SMA\n\r\r\r\n"])
def test_batch_odd_bytes_found_by_the_fuzz(data):
    _check(_invoke(["batch", "-"], input=data), {0, 2, 3})


HEADERS = ["case_id,SMA,desmin,CD117,Ki67,site", "case_id,panel,site", "case_id;SMA;DOG1;S-100"]


@FUZZ
@given(header=st.sampled_from(HEADERS), body=st.binary(max_size=1500), fmt=st.sampled_from(["csv", "jsonl"]))
def test_fuzz_batch_bytes_after_a_valid_header(header, body, fmt):
    """Arbitrary bytes under a usable header: every non-blank line is a row out (no quotes: no multi-line cells)."""
    body = body.replace(b'"', b"").replace(b"\r", b"")
    data = header.encode() + b"\n" + body
    r = _invoke(["batch", "-", "--format", fmt], input=data)
    _check(r, {0, 3})
    expected = sum(1 for raw in body.split(b"\n") if _decode_line(raw).strip())
    assert len(_output_rows(r, fmt)) == expected


CELL_WORDS = ["+", "-", "pos", "neg", "focal", "weak", "30%", "150", "abc", "", " ", "not done", "n/a", "lost",
              "SMA+", "Des+, CD117-", 'say "hi"', "a,b", "x;y", "tab\tcell", "line\nbreak", "cr\rcell",
              "é", "ß", "µ", "ü", "—", "α", "\x00", "?"]
cells = st.one_of(st.sampled_from(CELL_WORDS), st.text(max_size=12))
COLUMN_POOL = ["SMA", "Des", "c-kit", "Ki-67", "DOG1", "CD34", "S-100", "SATB2", "site", "panel", "vimentin"]


@FUZZ
@given(columns=st.lists(st.sampled_from(COLUMN_POOL), min_size=1, max_size=6, unique=True),
       n_rows=st.integers(0, 25), data=st.data(),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]),
       delimiter=st.sampled_from([",", ";", "\t"]), fmt=st.sampled_from(["csv", "jsonl"]),
       dup_ids=st.booleans())
def test_fuzz_batch_csv_one_row_out_per_row_in_order(columns, n_rows, data, encoding, delimiter, fmt, dup_ids):
    assume(any(c not in ("SATB2", "site", "vimentin") for c in columns))  # a usable column
    ids = [f"r{i % 3 if dup_ids else i}" for i in range(n_rows)]
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n" if data.draw(st.booleans()) else "\n")
    w.writerow(["case_id"] + columns)
    for cid in ids:
        w.writerow([cid] + [data.draw(cells) for _ in columns])
    try:
        raw = buf.getvalue().encode(encoding)
    except UnicodeEncodeError:
        assume(False)
    r = _invoke(["batch", "-", "--format", fmt], input=raw)
    _check(r, {0, 3})
    out = _output_rows(r, fmt)
    assert [row["case_id"] for row in out] == ids
    assert (r.exit_code == 3) == any(row["status"] == "error" for row in out)
    assert (f"repeat the case_id" in r.stderr) == (dup_ids and n_rows > 3)
    for cid in set(ids):
        assert cid not in r.stderr  # case ids never on stderr


# ------------------------------------------------------------------ fuzz: evaluate

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
                           | st.sampled_from(["gist", "leiomyosarcoma", "pos", "neg", "30%", "SMA+ CD117-"]),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3),
                           max_leaves=8)
case_objects = st.fixed_dictionaries(
    {}, optional={"diagnosis": json_values, "markers": st.dictionaries(st.sampled_from(["SMA", "CD117", "Ki67", "x"]),
                                                                       json_values, max_size=4) | json_values,
                  "ihc_text": json_values, "site": json_values, "id": json_values, "source": json_values})


@FUZZ
@given(content=st.one_of(
    st.binary(max_size=800),
    st.lists(case_objects, max_size=6).map(lambda xs: "\n".join(json.dumps(x) for x in xs).encode()),
    st.lists(st.lists(st.sampled_from(CELL_WORDS + ["gist", "diagnosis", "SMA", "panel", "leiomyosarcoma"]),
                      min_size=1, max_size=5), max_size=6)
      .map(lambda rows: "\n".join(",".join(r) for r in [["diagnosis", "SMA", "CD117", "panel"]] + rows).encode())),
    ext=st.sampled_from([".jsonl", ".csv"]), from_text=st.booleans())
def test_fuzz_evaluate_files(tmp_path_factory, content, ext, from_text):
    f = tmp_path_factory.mktemp("ev") / ("cases" + ext)
    f.write_bytes(content)
    r = _invoke(["evaluate", str(f), "--format", "json"] + (["--from-text"] if from_text else []),
                env={"IHC_MODEL": None})
    _check(r, {0, 2})
    if r.exit_code == 0:
        json.loads(r.stdout)


@pytest.mark.parametrize("line", ['{"diagnosis":1,"markers":{"Ki67":[]}}', '{"diagnosis":"gist","markers":{"Ki67":NaN}}',
                                  '{"diagnosis":"gist","markers":{"Ki67":"30"}}', '{"diagnosis":"gist","markers":{"Ki67":true}}'])
def test_evaluate_odd_values_found_by_the_fuzz(tmp_path, line):
    f = tmp_path / "cases.jsonl"
    f.write_text(line + "\n")
    _check(_invoke(["evaluate", str(f), "--format", "json"], env={"IHC_MODEL": None}), {0, 2})


# ------------------------------------------------------------------ the bad-input catalogue (README table)

def _make_files(folder: Path):
    """The inputs of the catalogue, generated deterministically in ``folder``."""
    rnd = random.Random(7)
    (folder / "cases.csv").write_text("case_id,SMA,desmin,CD117,DOG1,Ki67,site\nA1,+,+,-,-,30%,retroperitoneum\n"
                                      "A2,-,-,+,+,,stomach\n", encoding="utf-8")
    words = ["the", "tumour", "cells", "were", "spindle", "shaped", "with", "mild", "atypia", "and", "no", "necrosis"]
    prose = " ".join(rnd.choice(words) for _ in range(200_000))
    (folder / "1mb.txt").write_text((PANEL + ". " + prose)[:1_000_000], encoding="utf-8")
    (folder / "garbage.bin").write_bytes(bytes(rnd.randrange(256) for _ in range(4096)))
    body = "case_id,SMA,desmin,CD117,site\nB1,+,+,-,retroperitoneum\nB2,pos,neg,neg,estómago\n"
    (folder / "bom.csv").write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    (folder / "latin1.csv").write_bytes(body.encode("latin-1"))
    (folder / "utf16.csv").write_bytes(body.encode("utf-16"))
    (folder / "ragged.csv").write_text("case_id,SMA,desmin,CD117\nC1,+,+,-\nC2,+,+\nC3,-,-,+,+,+\nC4,+,-,-\n")
    (folder / "dup_ids.csv").write_text("case_id,SMA,desmin,CD117\nD1,+,+,-\nD2,-,-,+\nD1,+,+,-\n")
    (folder / "header_only.csv").write_text("case_id,SMA,desmin,CD117\n")
    (folder / "empty.csv").write_text("")
    (folder / "no_marker_column.csv").write_text("case_id,colour,size\nE1,red,3\n")
    (folder / "bad_cells.csv").write_text("case_id,SMA,Ki67\nF1,+,150\nF2,maybe,20\nF3,+,abc\nF4,+,10\n")
    (folder / "a_folder").mkdir(exist_ok=True)
    shutil.copytree(MODELS, folder / "tampered", dirs_exist_ok=True)
    p = folder / "tampered" / "ihc_model.json"
    raw = bytearray(p.read_bytes())
    i = next(i for i in range(len(raw) // 2, len(raw)) if chr(raw[i]).isdigit())
    raw[i] = ord("7") if raw[i] != ord("7") else ord("3")  # still valid JSON: only the sha256 can tell
    p.write_bytes(bytes(raw))
    (folder / "no_card").mkdir(exist_ok=True)
    shutil.copy(MODELS / "ihc_model.json", folder / "no_card" / "ihc_model.json")
    shutil.copy(MODELS / "ihc_model.joblib", folder / "no_card" / "ihc_model.joblib")


# (what was tried, the command as typed, stdin file or None)
CATALOGUE = [
    ("empty input", 'ihc classify ""', None),
    ("only unknown markers", 'ihc classify "SATB2+, GATA3+"', None),
    ("unknown marker beside known ones (default mode)", 'ihc classify --format json "SMA+ desmin+ SATB2+"', None),
    ("unknown marker, `--strict`", 'ihc classify --strict "SMA+ desmin+ SATB2+"', None),
    ("conflicting duplicates", 'ihc classify "SMA+, desmin+, SMA-"', None),
    ("Ki-67 150%", 'ihc classify "SMA+ desmin+ Ki-67 150%"', None),
    ("Ki-67 not a number", 'ihc classify "Ki-67 abc"', None),
    ("Ki-67 not a number beside a result", 'ihc parse "SMA+ Ki-67 abc"', None),
    ("1 MB of text (a panel, then prose)", "ihc parse - < 1mb.txt", "1mb.txt"),
    ("binary garbage", "ihc classify - < garbage.bin", "garbage.bin"),
    ("binary garbage as a CSV", "ihc batch garbage.bin", None),
    ("CSV with a UTF-8 BOM", "ihc batch bom.csv", None),
    ("CSV in latin-1", "ihc batch latin1.csv", None),
    ("CSV in UTF-16", "ihc batch utf16.csv", None),
    ("ragged rows (too few / too many cells)", "ihc batch ragged.csv", None),
    ("bad cells (Ki-67 150, 'maybe', Ki-67 'abc')", "ihc batch bad_cells.csv", None),
    ("duplicate case_ids", "ihc batch dup_ids.csv -o out.csv", None),
    ("header only", "ihc batch header_only.csv", None),
    ("empty file", "ihc batch empty.csv", None),
    ("no marker or panel column", "ihc batch no_marker_column.csv", None),
    ("missing file", "ihc batch missing.csv", None),
    ("output folder does not exist", "ihc batch cases.csv -o no/such/folder/out.csv", None),
    ("output path is a folder", "ihc batch cases.csv -o a_folder", None),
    ("output path not writable", "ihc batch cases.csv -o /proc/out.csv", None),
    ("model file tampered (one byte)", "ihc classify --model tampered \"SMA+ desmin+\"", None),
    ("model without a card", "ihc classify --model no_card \"SMA+ desmin+\"", None),
    ("model path that does not exist", "ihc classify --model nowhere \"SMA+ desmin+\"", None),
    ("tampered model via $IHC_MODEL", "IHC_MODEL=tampered ihc batch cases.csv", None),
]

CTRL_C = ("Ctrl-C (SIGINT) mid batch", "ihc batch big.csv -o out.csv, then Ctrl-C",
          130, "ihc batch: interrupted; no output file was written (out.csv is left as it was)")
SIGTERM = ("SIGTERM mid batch", "ihc batch big.csv -o out.csv, then kill",
           143, "ihc batch: interrupted; no output file was written (out.csv is left as it was)")


def _argv(command):
    import shlex

    env = {}
    words = shlex.split(command)
    while "=" in words[0]:
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    assert words[0] == "ihc"
    words = words[1:]
    if "<" in words:
        words = words[:words.index("<")]
    return words, env


def run_catalogue(folder: Path):
    """[(what, command, exit code, what the user sees)] from real runs in ``folder``."""
    rows = []
    old = os.getcwd()
    os.chdir(folder)
    try:
        for what, command, stdin in CATALOGUE:
            args, env = _argv(command)
            data = (folder / stdin).read_bytes() if stdin else None
            r = _invoke(args, input=data, env={"IHC_MODEL": None, **env})
            _check(r, {0, 2, 3})
            seen = [_shown(ln) for ln in r.stderr.splitlines() if ln.strip()]
            if r.exit_code in (0, 3) and not args[0] == "batch":
                out = r.stdout
                if "--format" in args:  # model-independent parts only: the table must not drift with a retrain
                    d = json.loads(out)
                    seen.append("stdout: " + json.dumps({"input": {"unknown": d["input"]["unknown"]}, "...": "..."}))
                else:
                    seen.append("stdout: " + " / ".join(ln.strip() for ln in out.splitlines()[:4] if ln.strip()))
            elif args[0] == "batch" and r.exit_code in (0, 3):
                out = (folder / "out.csv").read_text() if "-o" in args else r.stdout
                data_rows = list(csv.reader(io.StringIO(out)))[1:]
                seen.append(f"output: {len(data_rows)} row(s), in order" + (": " if data_rows else " (header only)")
                            + ", ".join(row[0] + (f" error ({row[10]})" if row[1] == "error" else "")
                                        for row in data_rows))
            rows.append((what, command, r.exit_code, " ⏎ ".join(seen)))
    finally:
        os.chdir(old)
    return rows


def _shown(line, width=240):
    """A stderr line as the table shows it: digests masked (they change with every model), long lines cut."""
    import re

    line = re.sub(r"\b[0-9a-f]{12}\.\.\.", "<sha256>...", line)
    return line if len(line) <= width else line[:width] + " [...]"


def readme_table(rows):
    def cell(s):
        return s.replace("|", "\\|").replace("\n", " ")

    lines = ["| bad input | command | exit | what the user sees (stderr; stdout where useful) |", "|---|---|---|---|"]
    for what, command, code, seen in list(rows) + [CTRL_C, SIGTERM]:
        lines.append(f"| {cell(what)} | `{cell(command)}` | {code} | {cell(seen)} |")
    return "\n".join(lines)


TABLE_BEGIN = "<!-- bad-input table: generated by `python tests/test_hardening.py --update-readme` -->"
TABLE_END = "<!-- end of bad-input table -->"


@pytest.fixture(scope="module")
def catalogue_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("catalogue")
    _make_files(d)
    return d


def test_bad_input_catalogue_matches_the_readme(catalogue_dir):
    rows = run_catalogue(catalogue_dir)
    codes = {what: code for what, _, code, _ in rows}
    assert codes["empty input"] == codes["only unknown markers"] == codes["conflicting duplicates"] == 2
    assert codes["Ki-67 150%"] == codes["binary garbage"] == codes["missing file"] == 2
    assert codes["CSV with a UTF-8 BOM"] == codes["CSV in latin-1"] == codes["CSV in UTF-16"] == 0
    assert codes["ragged rows (too few / too many cells)"] == 3
    assert codes["duplicate case_ids"] == 0 and codes["header only"] == 0
    assert codes["model file tampered (one byte)"] == codes["model without a card"] == 2
    assert codes["tampered model via $IHC_MODEL"] == 2
    assert codes["output path not writable"] == codes["output folder does not exist"] == 2
    text = README.read_text(encoding="utf-8")
    assert TABLE_BEGIN in text and TABLE_END in text, "README lacks the bad-input table"
    block = text[text.index(TABLE_BEGIN) + len(TABLE_BEGIN):text.index(TABLE_END)].strip()
    assert block == readme_table(rows), \
        "README bad-input table is out of date: run `python tests/test_hardening.py --update-readme`"


def test_encodings_read_the_same_cells(catalogue_dir):
    outs = []
    for name in ("bom.csv", "latin1.csv", "utf16.csv"):
        r = _invoke(["batch", str(catalogue_dir / name)])
        _check(r, {0})
        outs.append(r.stdout)
    assert outs[0] == outs[1] == outs[2]


# ------------------------------------------------------------------ model files

def _model_copy(tmp_path, name="m"):
    d = tmp_path / name
    shutil.copytree(MODELS, d)
    return d


def _one_line_refusal(r, *words):
    _check(r, {2})
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1, r.stderr
    for w in words:
        assert w in err[0], err[0]
    return err[0]


@pytest.mark.parametrize("command", [["classify", PANEL], ["recommend", PANEL], ["diagnoses"],
                                     ["batch", "-"]])
def test_flipped_byte_in_a_model_copy_is_refused(tmp_path, command):
    d = _model_copy(tmp_path)
    p = d / "ihc_model.json"
    raw = bytearray(p.read_bytes())
    i = len(raw) // 2
    raw[i] ^= 0x01
    p.write_bytes(bytes(raw))
    stdin = "case_id,SMA\n1,+\n" if command[0] == "batch" else None
    r = _invoke([command[0], "--model", str(d)] + command[1:], input=stdin, env={"IHC_MODEL": None})
    _one_line_refusal(r, "sha256", "refusing")
    assert r.stdout == ""
    # the same through the environment variable
    r = _invoke(command, input=stdin, env={"IHC_MODEL": str(d)})
    _one_line_refusal(r, "sha256")


def test_model_without_a_card_is_refused(tmp_path):
    d = tmp_path / "bare"
    d.mkdir()
    shutil.copy(MODELS / "ihc_model.json", d)
    shutil.copy(MODELS / "ihc_model.joblib", d)
    for target in (d, d / "ihc_model.json", d / "ihc_model.joblib"):
        r = _invoke(["classify", "--model", str(target), PANEL], env={"IHC_MODEL": None})
        _one_line_refusal(r, "no model card")


@pytest.mark.parametrize("change, words", [
    (lambda c: c.update(format_version=999), ("format",)),
    (lambda c: c.update(markers=c["markers"][:-1]), ("markers",)),
    (lambda c: c["compact"].update(sha256="0" * 64), ("sha256",)),
])
def test_card_of_another_format_or_marker_list_is_refused(tmp_path, change, words):
    d = _model_copy(tmp_path)
    card = json.loads((d / "model_card.json").read_text())
    change(card)
    (d / "model_card.json").write_text(json.dumps(card))
    r = _invoke(["classify", "--model", str(d), PANEL], env={"IHC_MODEL": None})
    _one_line_refusal(r, *words)


@pytest.mark.parametrize("field, value", [("compact", "x"), ("markers", 5)])
def test_card_with_wrong_field_types_is_refused_not_a_crash(tmp_path, field, value):
    d = _model_copy(tmp_path)
    card = json.loads((d / "model_card.json").read_text())
    card[field] = value
    (d / "model_card.json").write_text(json.dumps(card))
    r = _invoke(["classify", "--model", str(d), PANEL], env={"IHC_MODEL": None})
    _check(r, {2})


def test_untampered_copy_is_accepted(tmp_path):
    d = _model_copy(tmp_path)
    r = _invoke(["classify", "--model", str(d), "--format", "json", PANEL], env={"IHC_MODEL": None})
    _check(r, {0})
    assert json.loads(r.stdout)["model"]["sha256"]


def test_readme_warns_once_that_the_joblib_model_is_a_pickle():
    text = README.read_text(encoding="utf-8")
    assert text.count("is a pickle") == 1
    assert "trusted source" in text


# ------------------------------------------------------------------ interrupted batch

def _ihc_command():
    exe = Path(sys.executable).with_name("ihc")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from ihc.cli import main; main()"]


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    """300k rows of varied panels: seconds of work, so a signal lands mid-run."""
    d = tmp_path_factory.mktemp("big")
    rnd = random.Random(11)
    vals = ["+", "-", "focal", "", "pos", "neg", "weak"]
    site = ["stomach", "uterus", "", "thigh", "retroperitoneum"]
    lines = ["case_id,SMA,desmin,CD117,DOG1,CD34,S100,Ki67,site"]
    for i in range(300_000):
        cells = ",".join(rnd.choice(vals) for _ in range(6))
        lines.append(f"PX{i:07d},{cells},{rnd.randint(0, 99)},{rnd.choice(site)}")
    p = d / "big.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def _reset_sigint():  # a child of a shell job may inherit SIGINT ignored: Ctrl-C must reach it
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_temp(folder, proc, timeout=30):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if any(p.name.endswith(".tmp") for p in folder.iterdir()):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("source", ["file", "stdin"])
def test_batch_killed_mid_run_leaves_no_partial_output(tmp_path, big_csv, sig, code, source):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "results.csv"
    previous = "an earlier complete output\n"
    if source == "stdin":
        out.write_text(previous)  # an existing output is left as it was
    args = _ihc_command() + ["batch", str(big_csv) if source == "file" else "-", "-o", str(out)]
    env = dict(os.environ)
    env.pop("IHC_MODEL", None)
    proc = subprocess.Popen(args, stdin=subprocess.PIPE if source == "stdin" else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=_reset_sigint)
    try:
        if source == "stdin":  # a run that cannot finish: the rest of the input never comes
            head = big_csv.read_bytes()[:2_000_000]
            proc.stdin.write(head[:head.rindex(b"\n") + 1])
            proc.stdin.flush()
        assert _wait_for_temp(out_dir, proc), "the batch never started writing (or finished too fast)"
        time.sleep(0.2)
        assert proc.poll() is None, "the batch finished before it could be interrupted"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err.decode()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    left = sorted(p.name for p in out_dir.iterdir())
    if source == "stdin":
        assert left == ["results.csv"] and out.read_text() == previous
        assert err.strip() == f"ihc batch: interrupted; no output file was written ({out} is left as it was)"
    else:
        assert left == [], left
    assert "PX0" not in err  # no case id on stderr


def test_readme_interruption_rows_match_the_real_message():
    assert CTRL_C[3] == SIGTERM[3] == "ihc batch: interrupted; no output file was written (out.csv is left as it was)"


# ------------------------------------------------------------------ odd output paths

CASES = "case_id,SMA,desmin\nA,+,+\nB,-,-\n"


def test_output_to_a_fifo_is_written_through_not_replaced(tmp_path):
    """Like -o /dev/null: a non-regular file is written to, never renamed over (that replaced the device)."""
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    r = _invoke(["batch", "-", "-o", str(fifo)], input=CASES)
    reader.join(10)
    _check(r, {0})
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got and got[0].splitlines()[0].startswith("case_id,status") and len(got[0].splitlines()) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_output_through_a_symlink_keeps_the_link(tmp_path):
    (tmp_path / "real.csv").write_text("old\n")
    (tmp_path / "link.csv").symlink_to("real.csv")
    r = _invoke(["batch", "-", "-o", str(tmp_path / "link.csv")], input=CASES)
    _check(r, {0})
    assert (tmp_path / "link.csv").is_symlink()
    assert len((tmp_path / "real.csv").read_text().splitlines()) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "real.csv"]


def test_disk_full_is_exit_2_with_the_reason_and_no_file(tmp_path, monkeypatch):
    import errno

    real_fdopen = os.fdopen

    def full_fdopen(fd, *a, **k):
        f = real_fdopen(fd, *a, **k)

        def write(_):
            raise OSError(errno.ENOSPC, "No space left on device")

        f.write = write
        return f

    monkeypatch.setattr(os, "fdopen", full_fdopen)
    r = _invoke(["batch", "-", "-o", str(tmp_path / "out.csv")], input=CASES)
    _one_line_refusal(r, "No space left on device", "no output file was written")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ no patient data anywhere else

def _all_files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_no_panel_or_case_id_is_written_anywhere_but_the_output(tmp_path):
    home, tmp, work = tmp_path / "home", tmp_path / "tmp", tmp_path / "work"
    for d in (home, tmp, work):
        d.mkdir()
    secret_ids = ["ZQX-PATIENT-0001", "ZQX-PATIENT-0002", "ZQX-PATIENT-0003", "ZQX-PATIENT-0001"]
    (work / "cases.csv").write_text(
        "case_id,panel,site\n"
        f"{secret_ids[0]},\"SMA(+), Des(+), CD117(-), Ki-67 30%, SATB2+ zorblax\",retroperitoneum\n"
        f"{secret_ids[1]},SMA+ SMA-,stomach\n"
        f"{secret_ids[2]},CD117+ DOG1+ weird-fragment-zorblax,stomach\n"
        f"{secret_ids[3]},,\n")
    env = {k: v for k, v in os.environ.items() if k not in ("IHC_MODEL", "IHC_DEBUG")}
    env.update(HOME=str(home), TMPDIR=str(tmp), TEMP=str(tmp), TMP=str(tmp), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local"),
               MPLCONFIGDIR=str(home / ".mpl"), PYTHONDONTWRITEBYTECODE="1")
    runs = [
        ["batch", "cases.csv", "-o", "out.csv"],
        ["batch", "cases.csv", "-o", "out.jsonl"],
        ["batch", "--strict", "cases.csv", "-o", "strict.csv"],
        ["classify", "--format", "json", "SMA(+), Des(+), CD117(-), zorblax"],
        ["parse", "SMA(+), Des(+), CD117(-), zorblax"],
    ]
    for args in runs:
        p = subprocess.run(_ihc_command() + args, cwd=work, env=env, capture_output=True, timeout=120)
        assert p.returncode in (0, 3), (args, p.stderr)
        err = p.stderr.decode()
        assert "Traceback" not in err
        if args[0] == "batch":  # the batch stderr holds counts and row numbers, never ids or panel text
            for cid in secret_ids:
                assert cid not in err, err
            for fragment in ("zorblax", "SATB2", "SMA", "retroperitoneum"):
                assert fragment not in err, err
    assert _all_files(home) == [] and _all_files(tmp) == []
    assert _all_files(work) == ["cases.csv", "out.csv", "out.jsonl", "strict.csv"]


# ------------------------------------------------------------------ README table generation

def _update_readme():  # pragma: no cover - a maintenance command
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        _make_files(Path(d))
        table = readme_table(run_catalogue(Path(d)))
    text = README.read_text(encoding="utf-8")
    i, j = text.index(TABLE_BEGIN) + len(TABLE_BEGIN), text.index(TABLE_END)
    README.write_text(text[:i] + "\n" + table + "\n" + text[j:], encoding="utf-8")
    print(table)


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--update-readme"]:
        _update_readme()
    else:
        with __import__("tempfile").TemporaryDirectory() as d:
            _make_files(Path(d))
            print(readme_table(run_catalogue(Path(d))))
