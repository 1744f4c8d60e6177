"""Batch throughput: `ihc batch` rows/s against a plain pandas read_csv + to_csv of the same CSV.

    python bench/batch_throughput.py [--rows 200000] [--repeat 3]

Generates (bench/_data.py) a structured CSV (case_id, six core markers, Ki67, site)
and a free-text one (case_id, panel, site) of --rows rows, then times, in one run
and interleaved, the best of --repeat:
- pandas: pd.read_csv(src).to_csv(dst, index=False) of the structured CSV;
- ihc batch (the library call the CLI makes) on the structured CSV (CSV out);
- ihc batch on the free-text CSV (CSV out; worker processes as the CLI would use);
- ihc batch on the free-text CSV with one process;
- ihc batch on a 20,000-row structured CSV to JSON Lines (whole classify objects).
Targets: structured >= 1/3 of pandas' rows/s; free text >= 20,000 rows/s.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data  # noqa: E402


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import pandas as pd

    from ihc.api import load_model
    from ihc.batch import run_batch

    load_model()
    n = args.rows
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        s_csv, t_csv = d / "structured.csv", d / "text.csv"
        _data.structured_csv(s_csv, n)
        _data.text_csv(t_csv, n)
        out = d / "out.csv"
        res = {}
        res["pandas_read_write_s"] = best(lambda: pd.read_csv(s_csv).to_csv(out, index=False), args.repeat)
        res["ihc_structured_csv_s"] = best(lambda: run_batch(s_csv, out), args.repeat)
        res["ihc_text_csv_s"] = best(lambda: run_batch(t_csv, out), args.repeat)
        res["ihc_text_csv_1proc_s"] = best(lambda: run_batch(t_csv, out, workers=1), args.repeat)
        j_csv = d / "structured_20k.csv"
        _data.structured_csv(j_csv, 20_000)
        res["ihc_structured_jsonl_20k_s"] = best(lambda: run_batch(j_csv, d / "out.jsonl"), 1)
        uniq_s = len({tuple(line.split(",", 1)[1:]) for line in s_csv.read_text().splitlines()[1:]})
        uniq_t = len({line.split(",", 1)[1] for line in t_csv.read_text().splitlines()[1:]})
    rate = {k[:-2] + "_rows_per_s": round((20_000 if "20k" in k else n) / v) for k, v in res.items()}
    report = {
        "rows": n, "cpus": len(os.sched_getaffinity(0)),
        "unique_rows_structured": uniq_s, "unique_rows_text": uniq_t,
        **{k: round(v, 3) for k, v in res.items()}, **rate,
        "structured_vs_pandas": round(res["pandas_read_write_s"] / res["ihc_structured_csv_s"], 3),
        "target_structured_vs_pandas": round(1 / 3, 3), "target_text_rows_per_s": 20_000,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
