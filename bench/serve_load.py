"""Bounded local load test of `ihc serve`: N requests, C concurrent, from a real HTTP client.

    python bench/serve_load.py [--requests 20000] [--concurrency 32]

Starts `ihc serve` on a free local port (a separate process, one uvicorn worker), sends
POST /v1/classify requests with panels drawn from a fixed list (httpx.AsyncClient over real
sockets), and reports throughput, p50/p99/max latency and the error count. Then sends the bad
requests (malformed JSON, a 20 MB body, a wrong content type, a bad token, a non-HL7 body)
and checks each is a 4xx JSON error and that a good request still gets the right answer.
Prints one JSON object (also a Markdown line for the README with --markdown).
"""

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PANELS = [
    ("SMA(+), Des(+), CD34(-), CD117(-), S100(-), Ki-67(+,30%), DOG1(-)", "retroperitoneum"),
    ("CD117+ DOG1+ CD34+ SMA- desmin- S100-", "stomach"),
    ("S100 diffuse strong, SOX10 positive, CD34 focal, desmin negative", "thigh"),
    ("STAT6 positive, CD34 positive, S100 negative", "pleura"),
    ("beta-catenin nuclear positive, SMA focal, CD117 negative", "mesentery"),
    ({"SMA": "pos", "desmin": "pos", "h-caldesmon": "pos", "Ki67": 5}, "uterus"),
]


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _ihc_cmd():
    exe = Path(sys.executable).with_name("ihc")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ihc.cli"]


async def _run(base, token, n, conc):
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    lat, errors, wrong, kinds = [], 0, 0, {}
    expected = {}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30,
                                 limits=httpx.Limits(max_connections=conc)) as client:
        for i, (p, s) in enumerate(PANELS):  # the answers a correct server gives
            expected[i] = (await client.post("/v1/classify", json={"panel": p, "site": s})).json()["differential"][0]
        counter = iter(range(n))

        async def worker():
            nonlocal errors, wrong
            for i in counter:
                k = i % len(PANELS)
                p, s = PANELS[k]
                t = time.perf_counter()
                r = None
                try:
                    r = await client.post("/v1/classify", json={"panel": p, "site": s})
                    ok = r.status_code == 200
                    if ok and r.json()["differential"][0] != expected[k]:
                        wrong += 1
                except httpx.HTTPError as exc:
                    ok = False
                    kinds[exc.__class__.__name__] = kinds.get(exc.__class__.__name__, 0) + 1
                lat.append(time.perf_counter() - t)
                errors += not ok
                if not ok and "r" in locals() and r is not None and r.status_code != 200:
                    kinds[f"HTTP {r.status_code}"] = kinds.get(f"HTTP {r.status_code}", 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        wall = time.perf_counter() - t0

        bad = {}
        cases = {
            "malformed JSON": dict(content=b"{not json", headers={"content-type": "application/json"}),
            "20 MB body": dict(content=b"x" * (20 * 1024 * 1024), headers={"content-type": "application/json"}),
            "wrong content type": dict(content=b"SMA+", headers={"content-type": "text/plain"}),
            "bad token": dict(json={"panel": "SMA+"}, headers={"Authorization": "Bearer nope"}),
        }
        for name, kw in cases.items():
            r = await client.post("/v1/classify", **kw)
            bad[name] = {"status": r.status_code, "error": r.json().get("error")}
        r = await client.post("/v1/hl7", content=b"hello, this is not HL7", headers={"content-type": "text/plain"})
        bad["non-HL7 body"] = {"status": r.status_code, "error": r.json().get("error")}
        r = await client.post("/v1/classify", json={"panel": PANELS[0][0], "site": PANELS[0][1]})
        after_ok = r.status_code == 200 and r.json()["differential"][0] == expected[0]
    lat.sort()
    q = statistics.quantiles(lat, n=100)
    return {"requests": n, "concurrency": conc, "seconds": round(wall, 2),
            "throughput_per_s": round(n / wall, 1), "p50_ms": round(q[49] * 1000, 2),
            "p99_ms": round(q[98] * 1000, 2), "max_ms": round(lat[-1] * 1000, 2),
            "errors": errors, "error_kinds": kinds, "wrong_answers": wrong, "bad_requests": bad,
            "answers_correctly_after": after_ok,
            "machine": f"{platform.machine()} {os.cpu_count()} CPU, Python {platform.python_version()}"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1, help="ihc serve --workers")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory() as d:
        tok = Path(d) / "token"
        tok.write_text("bench-token\n")
        proc = subprocess.Popen(_ihc_cmd() + ["serve", "--port", str(port), "--token-file", str(tok),
                                                "--workers", str(args.workers)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}"
            import httpx

            for _ in range(200):
                try:
                    if httpx.get(base + "/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.05)
            else:
                raise SystemExit("ihc serve did not start: " + proc.stderr.read().decode()[:500])
            res = asyncio.run(_run(base, "bench-token", args.requests, args.concurrency))
            res["workers"] = args.workers
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(json.dumps(res, indent=1))
    if args.markdown:
        print(f"| {res['requests']:,} | {res['concurrency']} | {res['workers']} | {res['throughput_per_s']:,.0f}/s | "
              f"{res['p50_ms']:.1f} ms | {res['p99_ms']:.1f} ms | {res['errors']} | {res['machine']} |")
    ok = (res["errors"] == 0 and res["wrong_answers"] == 0 and res["answers_correctly_after"]
          and all(400 <= b["status"] < 500 for b in res["bad_requests"].values()))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
