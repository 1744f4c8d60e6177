"""Synthetic LIS exports for the benchmarks (deterministic for a seed).

Cases are drawn from a handful of diagnosis profiles (core panel positivity
rates of the order the literature gives), each stain done with probability
0.8, results written the way LIS exports spell them (``+``, ``pos``,
``positive``, ``focal +``, ``-``, ``neg``...), Ki-67 from the values reports
use (1, 2, 3, 5, 10, ... %), a free-text site. This is how a real export repeats:
the same panels come back many times, with varied spellings.
"""

import csv
import random

CORE = ["SMA", "desmin", "CD117", "DOG1", "CD34", "S100"]
PROFILES = {  # P(positive) per core marker
    "lms": [0.95, 0.8, 0.03, 0.02, 0.15, 0.05],
    "leiomyoma": [0.98, 0.95, 0.02, 0.01, 0.1, 0.02],
    "gist": [0.3, 0.05, 0.95, 0.95, 0.7, 0.05],
    "schwannoma": [0.05, 0.02, 0.02, 0.02, 0.3, 0.99],
    "sft": [0.1, 0.05, 0.05, 0.02, 0.95, 0.05],
    "desmoid": [0.8, 0.1, 0.05, 0.02, 0.05, 0.02],
}
KI67 = [1, 2, 3, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80]
POS = ["+", "pos", "positive", "+", "(+)", "diffuse +"]
NEG = ["-", "neg", "negative", "-", "(-)"]
FOCAL = ["focal +", "focal", "weak", "patchy"]
SITES = ["retroperitoneum", "stomach", "gastric fundus", "jejunum", "uterus", "thigh", "rectal wall",
         "mesentery", "", "soft tissue, arm", "esophagus", "pelvic retroperitoneum"]
TEXT_STYLES = [
    lambda items: ", ".join(f"{m}({'+' if v == 'pos' else '-' if v == 'neg' else 'focal +'})" for m, v in items),
    lambda items: " ".join(f"{m}{'+' if v == 'pos' else '-' if v == 'neg' else ' focal'}" for m, v in items),
    lambda items: " ".join(f"{m}={v}" for m, v in items),
]


def _case(rng):
    prof = PROFILES[rng.choice(list(PROFILES))]
    res = {}
    for m, p in zip(CORE, prof):
        if rng.random() < 0.8:
            u = rng.random()
            res[m] = "pos" if u < p * 0.85 else ("focal" if u < p else "neg")
    ki = rng.choice(KI67) if rng.random() < 0.7 else None
    return res, ki, rng.choice(SITES)


def structured_csv(path, n, seed=1):
    """case_id, the six core markers, Ki67 and site as separate columns."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["case_id", *CORE, "Ki67", "site"])
        for i in range(n):
            res, ki, site = _case(rng)
            cells = []
            for m in CORE:
                v = res.get(m)
                cells.append("" if v is None else rng.choice(POS if v == "pos" else NEG if v == "neg" else FOCAL))
            w.writerow([f"S{i:07d}", *cells, "" if ki is None else f"{ki}%", site])


def text_csv(path, n, seed=2):
    """case_id, a free-text panel column (three LIS templates) and site."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["case_id", "panel", "site"])
        for i in range(n):
            res, ki, site = _case(rng)
            style = TEXT_STYLES[i % 3]
            text = style(list(res.items())) or "vimentin+"
            if ki is not None:
                text += f", Ki-67 {ki}%"
            w.writerow([f"T{i:07d}", text, site])


UNIFORM_VALUES = ["pos", "neg", "focal", ""]
UNIFORM_SITES = ["stomach", "retroperitoneum", "uterus"]


def uniform_csv(path, n, seed=3, *, line_end="\n", quote_all=False):
    """The issue's structured data: every core marker pos/neg/focal/empty uniformly, Ki-67 0-80 or
    empty, three sites, so most rows are distinct. ``line_end="\\r\\n"`` writes CRLF; ``quote_all``
    quotes every cell (as Excel and some LIS exports do)."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator=line_end, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
        w.writerow(["case_id", *CORE, "Ki67", "site"])
        for i in range(n):
            ki = rng.randint(-1, 80)
            w.writerow([f"U{i:07d}", *(rng.choice(UNIFORM_VALUES) for _ in CORE),
                        "" if ki < 0 else str(ki), rng.choice(UNIFORM_SITES)])


def best(fn, repeat):
    """Best wall time of ``repeat`` calls of ``fn`` (seconds)."""
    import time

    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
