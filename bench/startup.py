"""Cold start: `ihc classify --format json` against `python -c "import click"` (same machine, same run).

    python bench/startup.py [--runs 21] [--write-bytecode]

Each command is run as a fresh process, interleaved, and the median wall time
is reported with the ratio (target: <= 1.5x), with the 1-minute load average before
and after. Also lists the heavy modules the classify path imported (must be none).

Whether ihc's compiled bytecode (``__pycache__``) exists changes the figure a lot: an
editable install run with ``PYTHONDONTWRITEBYTECODE`` set (as in some shared environments)
never writes it, so every run compiles ihc's sources again, while click's were compiled at
install. ``--write-bytecode`` clears that variable for the measured commands, as for an
ordinary install (the warm-up run then writes the caches); the output says whether ihc's
caches were there (``ihc_bytecode_cached``).
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PANEL = "SMA+ desmin+ CD117- DOG1-"


def _ihc_cmd():
    exe = Path(sys.executable).with_name("ihc")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ihc.cli"]


ENV = dict(os.environ)


def wall(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=ENV)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--write-bytecode", action="store_true",
                    help="clear PYTHONDONTWRITEBYTECODE for the measured commands (an ordinary install)")
    args = ap.parse_args()
    if args.write_bytecode:
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    load_before = round(os.getloadavg()[0], 2)
    ihc = _ihc_cmd() + ["classify", "--format", "json", PANEL]
    click = [sys.executable, "-c", "import click"]
    bare = [sys.executable, "-c", "pass"]
    for cmd in (ihc, click, bare):  # warm the OS file cache
        wall(cmd)
    t_ihc, t_click, t_bare = [], [], []
    for _ in range(args.runs):
        t_ihc.append(wall(ihc))
        t_click.append(wall(click))
        t_bare.append(wall(bare))
    load_after = round(os.getloadavg()[0], 2)
    src = Path(__file__).resolve().parents[1] / "ihc" / "api.py"  # (the classify path no longer imports parse.py)
    cached = Path(importlib.util.cache_from_source(str(src))).exists()
    probe = subprocess.run([sys.executable, "-X", "importtime", *ihc], capture_output=True, text=True, env=ENV)
    mods = {ln.split("|")[-1].strip().split(".")[0] for ln in probe.stderr.splitlines() if ln.startswith("import time:")}
    heavy = sorted(mods & {"numpy", "pandas", "sklearn", "scipy", "joblib"})
    m_ihc, m_click, m_bare = (statistics.median(x) for x in (t_ihc, t_click, t_bare))
    out = {"runs": args.runs, "ihc_classify_json_s": round(m_ihc, 4), "python_import_click_s": round(m_click, 4),
           "python_bare_s": round(m_bare, 4), "ratio": round(m_ihc / m_click, 2), "target_ratio": 1.5,
           "heavy_modules_imported": heavy, "ihc_bytecode_cached": cached,
           "load_average_1min": [load_before, load_after]}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
