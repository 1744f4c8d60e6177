"""Peak memory of `ihc batch` for 100,000 against 1,000,000 rows (target: ratio <= 1.3, issue 13).

    python bench/memory.py [--small 100000] [--large 1000000]

Each run is a fresh `ihc batch` process (structured CSV in, CSV out; then the
free-text CSV; then the structured CSV to JSON Lines, whole classify objects); its peak resident set size is read with
resource.getrusage(RUSAGE_CHILDREN) in a wrapper process.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data  # noqa: E402

_WRAP = """
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)
"""


def peak_kib(cmd):
    p = subprocess.run([sys.executable, "-c", _WRAP, *cmd], capture_output=True, text=True, check=True)
    kib, rc = p.stdout.split()
    if rc not in ("0", "3"):
        raise SystemExit(f"{cmd} exited {rc}: {p.stderr[-300:]}")
    return int(kib)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--large", type=int, default=1_000_000)
    args = ap.parse_args()
    ihc = str(Path(sys.executable).with_name("ihc"))
    report = {}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for kind, make in (("structured", _data.structured_csv), ("text", _data.text_csv)):
            for n in (args.small, args.large):
                make(d / f"{kind}_{n}.csv", n)
        j_small, j_large = args.small, args.large
        for n in (j_small, j_large):
            _data.structured_csv(d / f"jsonl_{n}.csv", n)
        for label, kind, out, small_n, large_n in (
                ("structured_csv", "structured", "o.csv", args.small, args.large),
                ("text_csv", "text", "o.csv", args.small, args.large),
                ("structured_jsonl", "jsonl", "o.jsonl", j_small, j_large)):
            small = peak_kib([ihc, "batch", str(d / f"{kind}_{small_n}.csv"), "-o", str(d / out)])
            large = peak_kib([ihc, "batch", str(d / f"{kind}_{large_n}.csv"), "-o", str(d / out)])
            report[label] = {"rows": [small_n, large_n], "peak_mib_small": round(small / 1024, 1),
                             "peak_mib_large": round(large / 1024, 1), "ratio": round(large / small, 2)}
    print(json.dumps({"small_rows": args.small, "large_rows": args.large, **report, "target_ratio": 1.3}, indent=2))


if __name__ == "__main__":
    main()
