"""Batch throughput: `ihc batch` rows/s against a plain pandas read_csv + to_csv of the same CSV.

    python bench/batch_throughput.py [--rows 200000] [--repeat 3] [--jsonl-rows 20000]

Generates (bench/_data.py) the issue's uniform structured CSV (case_id, six core markers
pos/neg/focal/empty, Ki-67 0-80 or empty, three sites) written with LF, with CRLF and with
every cell quoted; the repeating LIS-like structured CSV; and a free-text one (case_id,
panel, site) of --rows rows. Then times, in one run, the best of --repeat:
- pandas: pd.read_csv(src).to_csv(dst, index=False) of each uniform file;
- the floor (bench/floor.py: pandas' C reader, columns coded per distinct cell, the model with numpy,
  pandas' writer) on each;
- ihc batch (the library call the CLI makes) on each (CSV out);
- ihc batch on the LIS-like structured CSV (CSV out);
- ihc batch on the free-text CSV (CSV out; worker processes as the CLI would use), and with one process;
- ihc batch on --jsonl-rows uniform rows to JSON Lines (whole classify objects).
Targets: structured >= 1.0x pandas' rows/s (LF, CRLF, quoted) and ihc's time <= 1.5x the floor's;
JSON Lines >= 10,000 rows/s; free text >= 50,000 rows/s on 2 cores.

Every figure is in this one process, with pandas and the model already imported (pandas is
imported by both sides). A one-shot `ihc batch` also pays for importing pandas, measured apart
as ``pandas_import_s`` (a fresh interpreter importing it, minus one that does not).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data  # noqa: E402
import floor  # noqa: E402
from _data import best  # noqa: E402


def _import_seconds(stmt, repeat=5):
    """Best wall time of a fresh interpreter running ``stmt``."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", stmt], check=True)
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jsonl-rows", type=int, default=20_000)
    args = ap.parse_args()
    import pandas as pd

    from ihc.api import load_model
    from ihc.batch import run_batch

    load_model()
    n, nj = args.rows, args.jsonl_rows
    res = {}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        out = d / "out.csv"
        files = {"lf": d / "u_lf.csv", "crlf": d / "u_crlf.csv", "quoted": d / "u_quoted.csv"}
        _data.uniform_csv(files["lf"], n)
        _data.uniform_csv(files["crlf"], n, line_end="\r\n")
        _data.uniform_csv(files["quoted"], n, quote_all=True)
        for name, f in files.items():
            res[f"pandas_{name}_s"] = best(lambda: pd.read_csv(f).to_csv(out, index=False), args.repeat)
            res[f"floor_{name}_s"] = best(lambda: floor.run(f, out), args.repeat)
            res[f"ihc_{name}_s"] = best(lambda: run_batch(f, out), args.repeat)
        s_csv, t_csv = d / "structured.csv", d / "text.csv"
        _data.structured_csv(s_csv, n)
        _data.text_csv(t_csv, n)
        res["ihc_lis_structured_s"] = best(lambda: run_batch(s_csv, out), args.repeat)
        res["ihc_text_s"] = best(lambda: run_batch(t_csv, out), args.repeat)
        res["ihc_text_1proc_s"] = best(lambda: run_batch(t_csv, out, workers=1), args.repeat)
        j_csv = d / "uniform_j.csv"
        _data.uniform_csv(j_csv, nj)
        res["ihc_uniform_jsonl_s"] = best(lambda: run_batch(j_csv, d / "out.jsonl"), 1)
        uniq = len({tuple(line.split(",", 1)[1:]) for line in files["lf"].read_text().splitlines()[1:]})
    rate = {k[:-2] + "_rows_per_s": round((nj if "jsonl" in k else n) / v) for k, v in res.items()}
    report = {
        "rows": n, "jsonl_rows": nj, "cpus": len(os.sched_getaffinity(0)), "load_avg_1min": os.getloadavg()[0],
        "unique_rows_uniform": uniq,
        **{k: round(v, 3) for k, v in res.items()}, **rate,
        **{f"{name}_vs_pandas": round(res[f"pandas_{name}_s"] / res[f"ihc_{name}_s"], 3) for name in files},
        **{f"{name}_ihc_over_floor": round(res[f"ihc_{name}_s"] / res[f"floor_{name}_s"], 3) for name in files},
        "pandas_import_s": round(_import_seconds("import pandas") - _import_seconds("pass"), 3),
        "note": "ratios in this process, pandas already imported on both sides; a one-shot ihc batch "
                "also pays pandas_import_s",
        "load_avg_1min_end": os.getloadavg()[0],
        "targets": {"vs_pandas": 1.0, "ihc_over_floor": 1.5, "jsonl_rows_per_s": 10_000, "text_rows_per_s": 50_000},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
