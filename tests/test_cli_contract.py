"""The command-line contract: exit codes, --help with an example, README coverage, pure data on stdout."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ihc import cli as cli_mod
from ihc.cli import cli, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(cli.commands)
PANEL = "SMA+ desmin+ CD117- DOG1-"


def _run(args, input=None):
    return CliRunner().invoke(cli, args, input=input)


def test_the_commands_of_the_design_exist():
    assert {"classify", "recommend", "parse", "markers", "diagnoses", "train", "batch", "schema"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_appears_in_the_readme(name):
    assert re.search(rf"`ihc {name}\b", README), f"`ihc {name}` is not documented in README.md"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example_and_exit_codes(name):
    r = _run([name, "--help"])
    assert r.exit_code == 0
    assert "Example" in r.output and f"ihc {name}" in r.output
    assert "Exit codes" in r.output


def test_top_level_help_and_version():
    assert _run(["--help"]).exit_code == 0
    r = _run(["--version"])
    assert r.exit_code == 0 and r.output.startswith("ihc ")


# ------------------------------------------------------------------ exit codes


def test_exit_0_when_a_result_is_produced():
    for args in (["classify", PANEL], ["classify", "--format", "json", "vimentin+ SMA+"], ["parse", PANEL],
                 ["recommend", PANEL], ["markers"], ["diagnoses"], ["schema"]):
        r = _run(args)
        assert r.exit_code == 0, (args, r.output)


@pytest.mark.parametrize("args", [
    ["classify", "   "],
    ["classify", "the patient is well"],
    ["classify", "SMA+ SMA-"],
    ["classify", "Ki-67 150%"],
    ["classify", "--strict", "SMA+ SATB2+"],
    ["parse", "GATA3+ only"],
    ["recommend", PANEL, "--available", "NOTAMARKER"],
    ["classify", PANEL, "--model", "/no/such/model"],
    ["batch", "/no/such/file.csv"],
    ["schema", "--which", "nope"],
    ["classify", "--no-such-option", PANEL],
    ["classify", "--strict", "--lenient", PANEL],
])
def test_exit_2_on_usage_or_input_error_one_line_no_traceback(args):
    r = _run(args)
    assert r.exit_code == 2, (args, r.output)
    assert "Traceback" not in r.output
    assert r.stdout == ""
    assert r.stderr.strip()


def test_exit_3_when_some_batch_rows_fail():
    r = _run(["batch", "-"], input="case_id,SMA,desmin\n1,+,+\n2,maybe,+\n")
    assert r.exit_code == 3
    assert len(r.stdout.splitlines()) == 3


def test_exit_1_on_internal_error_without_traceback(monkeypatch, capsys):
    import ihc.api

    def boom(*a, **k):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(ihc.api, "classify", boom)
    monkeypatch.delenv("IHC_DEBUG", raising=False)
    with pytest.raises(SystemExit) as e:
        main(["classify", PANEL])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "internal error" in err and "simulated bug" in err and "Traceback" not in err


# ------------------------------------------------------------------ data on stdout


@pytest.mark.parametrize("args", [
    ["classify", "--format", "json", "vimentin+ SATB2+ SMA+", "--site", "nowhere-land"],
    ["classify", "--format", "json", PANEL],
    ["parse", "--format", "json", "SMA+ SATB2+ blah"],
    ["recommend", "--format", "json", PANEL],
    ["markers", "--format", "json"],
    ["diagnoses", "--format", "json"],
    ["schema", "--which", "batch-row"],
])
def test_stdout_is_pure_json_when_json_is_asked(args):
    r = _run(args)
    assert r.exit_code == 0
    json.loads(r.stdout)  # nothing else on stdout; warnings go to stderr


def test_warnings_go_to_stderr_not_stdout():
    """Text output: warnings on stderr. JSON for a script: in the JSON only (stderr is not a
    terminal, so probably a log, and the warnings quote the panel)."""
    r = _run(["classify", "SMA+ SATB2+", "--site", "nowhere-land"])
    assert "nowhere-land" in r.stdout  # the text report lists its warnings
    r = _run(["parse", "SMA+ SATB2+", "--site", "nowhere-land"])
    assert "warning:" in r.stderr and "warning:" not in r.stdout
    r = _run(["classify", "--format", "json", "SMA+ SATB2+", "--site", "nowhere-land"])
    d = json.loads(r.stdout)
    assert any("nowhere-land" in w for w in d["warnings"])
    assert "warning:" not in r.stdout and r.stderr == ""


def test_batch_stdout_is_pure_csv_and_jsonl():
    data = "case_id,panel\n1,SMA+ SATB2+\n2,CD117+ DOG1+\n"
    r = _run(["batch", "-"], input=data)
    assert r.exit_code == 0 and r.stderr == ""
    assert r.stdout.splitlines()[0].startswith("case_id,status,diagnosis")
    r = _run(["batch", "-", "--format", "jsonl"], input=data)
    assert [json.loads(line)["case_id"] for line in r.stdout.splitlines()] == ["1", "2"]


# ------------------------------------------------------------------ start-up

_PROBE = """
import json, sys
from ihc.cli import main
try:
    main(["classify", "--format", "json", "SMA+ desmin+ CD117- DOG1-"])
except SystemExit as e:
    code = e.code
heavy = [m for m in ("numpy", "pandas", "sklearn", "scipy", "joblib") if m in sys.modules]
idle = [m for m in ("ihc.lexicon_cjk", "ihc.lexicon_ja", "ihc.lexicon_zh", "ihc.lexicon_ko", "hashlib")
        if m in sys.modules]
compiled = sys.modules["ihc.morph_text"]._compiled
sys.stderr.write("\\nPROBE " + json.dumps({"code": code, "heavy": heavy, "idle": idle,
                                            "morph_compiled": compiled}) + "\\n")
"""


def test_classify_json_imports_no_numpy_pandas_or_sklearn():
    p = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    probe = json.loads(p.stderr.rsplit("PROBE ", 1)[1])
    assert probe["code"] in (0, None)
    assert probe["heavy"] == [], f"the classify path imported {probe['heavy']}"
    assert json.loads(p.stdout)["schema_version"] == "1"


def test_a_plain_panel_pays_for_no_reader_it_does_not_need():
    """Cold start (issue 13): a plain ASCII panel imports no CJK lexicon, does not compile the
    morphology reader's expressions (it states no finding) and checks the model's sha256 without
    loading OpenSSL through hashlib."""
    p = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    probe = json.loads(p.stderr.rsplit("PROBE ", 1)[1])
    assert probe["idle"] == [] and probe["morph_compiled"] is False, probe


def test_the_built_in_sha256_is_hashlib_s():
    import hashlib

    from ihc.engine import _sha256, sha256_file

    path = Path(__file__).parents[1] / "models" / "ihc_model.json"
    raw = path.read_bytes()
    assert _sha256()(raw).hexdigest() == hashlib.sha256(raw).hexdigest() == sha256_file(path)


def test_console_script_importtime_has_no_heavy_module():
    exe = Path(sys.executable).with_name("ihc")
    if not exe.exists():
        pytest.skip("console script not installed")
    p = subprocess.run([sys.executable, "-X", "importtime", str(exe), "classify", "--format", "json", PANEL],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-500:]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in p.stderr.splitlines()
                if line.startswith("import time:")}
    assert not imported & {"numpy", "pandas", "sklearn", "scipy", "joblib"}


def test_cli_module_imports_nothing_heavy_at_import_time():
    p = subprocess.run([sys.executable, "-c", "import sys, ihc.cli, ihc.batch, ihc.schema; "
                        "print([m for m in ('numpy','pandas','sklearn') if m in sys.modules])"],
                       capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "[]"
    assert cli_mod.EXIT_PARTIAL == 3


def test_the_console_script_pauses_the_garbage_collector_for_one_shot_commands_only():
    """ihc.console.main (the console script) pauses the cyclic GC while a one-shot command runs and
    resumes it after; a streaming command keeps it running. The output is ihc.cli.main's."""
    probe = ("import gc, json, sys\nfrom ihc import cli, console\nseen = []\nreal = cli.main\n"
             "def spy(argv=None):\n    seen.append(gc.isenabled())\n    real(argv)\n"
             "cli.main = spy\n"
             "for argv in (['markers', '--format', 'json'], ['batch', '--help']):\n"
             "    try:\n        console.main(argv)\n    except SystemExit:\n        pass\n"
             "sys.stderr.write('PROBE ' + json.dumps([seen, gc.isenabled()]))\n")
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    seen, after = json.loads(p.stderr.rsplit("PROBE ", 1)[1])
    assert seen == [False, True] and after is True
    from ihc import console
    assert {"classify", "parse"} <= console.ONE_SHOT_COMMANDS and "batch" not in console.ONE_SHOT_COMMANDS
    a = subprocess.run([sys.executable, "-c", "from ihc.console import main; main()", "classify", "--format", "json",
                        PANEL], capture_output=True, text=True, timeout=60)
    b = subprocess.run([sys.executable, "-c", "from ihc.cli import main; main()", "classify", "--format", "json",
                        PANEL], capture_output=True, text=True, timeout=60)
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr) and a.returncode == 0


def test_the_console_script_freezes_what_is_left_only_when_the_process_exits_with_the_command():
    """Run as the console script (no argv), a one-shot command freezes the heap before the
    interpreter's final collection (exit handlers still run); called with argv, nothing is frozen."""
    probe = ("import atexit, gc, sys\nfrom ihc import console\n"
             "atexit.register(lambda: sys.stderr.write('FROZEN %d' % gc.get_freeze_count()))\n"
             "sys.argv = ['ihc'] + sys.argv[1:]\n"
             "if sys.argv[1] == 'with-argv':\n"
             "    try:\n        console.main(['markers', '--format', 'json'])\n    except SystemExit:\n        pass\n"
             "else:\n    console.main()\n")
    frozen = {}
    for args in (["markers", "--format", "json"], ["with-argv"], ["batch", "--help"]):
        p = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        frozen[args[0]] = int(p.stderr.rsplit("FROZEN ", 1)[1])
    assert frozen["markers"] > 1000 and frozen["with-argv"] == 0 and frozen["batch"] == 0
