"""Golden outputs: sha256 digests of today's outputs, so a refactor is proven output-identical.

The digests were computed from the code before the engine refactor (issue 13). A change
that alters any output byte fails here; a change meant to alter outputs updates the digest
on purpose, in its own commit, saying why. Regenerate (after checking the change is wanted):

    python tests/test_golden.py

Covered: ``classify(...).to_dict()`` of the real cases in ``training_data/*.jsonl`` (from their
text and from their coded markers) and of generated panels; ``run_batch`` CSV and JSON Lines of
generated structured and free-text exports (``bench/_data.py``), LF, CRLF and all cells quoted.
"""

import hashlib
import json
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import _data  # noqa: E402

import ihc  # noqa: E402
from ihc.batch import run_batch  # noqa: E402
from ihc.exceptions import InputError  # noqa: E402

GOLDEN = {
    "classify_real_cases": "5c876bac0576331d4ac35e72a308fbe133eb392b9e6a7fa8d04afc6deb63a38e",
    "classify_generated": "a96d8414d98c9e1db956e3e27885b9ec0eab12b27d5c541cbcfb952995a84054",
    "batch_structured_csv": "208eb81818d5b4177468398b1549d4949256f26b91ae64e5fa8590a6a621a0ee",
    "batch_uniform_csv": "a1e3bedd230f5e8ee8d541528b278f46c3490cb8221a40ddb99a9f94451c8c85",
    "batch_text_csv": "c3d15f8905f5bdf71bee78a3b7ffc32b1d74a6c5cac083fb6c9008a5cddda1de",
    "batch_structured_jsonl": "2f0c3e1e06fe13c8389dbc92d455e5a16029255bc0c7e28bba3207be9c3d3e6d",
    "batch_uniform_jsonl": "1aacc88241d113eb3b9b25c1d5b0fd7668f386a02b848c53c3288c829d672202",
    "batch_text_jsonl": "51f454b36babaf9e7990afb6d64ce05e9e8ea68485b47d467dea17a75b4a1527"
}


N_GENERATED = 2000
SITES = [None, "stomach", "retroperitoneum", "uterus", "skin", "thigh", "jejunum", "soft tissue", "rectum",
         "mesentery", "lung", "nowhere-land"]
VALUES = ["pos", "neg", "focal", "+", "-", "weak", "negative", "positive", "lost", "retained", "not done", "maybe"]


def _sha(parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8") if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()


def _result_json(fn):
    try:
        return json.dumps(fn().to_dict(), sort_keys=True)
    except InputError as exc:
        return f"error: {type(exc).__name__}: {exc}"


def _real_cases():
    for path in sorted((ROOT / "training_data").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def digest_classify_real_cases():
    out = []
    for c in _real_cases():
        site = c.get("site")
        out.append(_result_json(lambda: ihc.classify(c["ihc_text"], site=site)))
        coded = {m: v for m, v in c["markers"].items() if not m.startswith("other:")}
        out.append(_result_json(lambda: ihc.classify(coded, site=site)))
    return _sha(out)


def generated_panels(n=N_GENERATED, seed=13):
    model = ihc.api.load_model()
    rng = random.Random(seed)
    markers = list(model.markers)
    for _ in range(n):
        panel = {}
        for m in rng.sample(markers, rng.randint(0, 9)):
            if m == "Ki67":
                panel[m] = rng.choice([rng.randint(0, 90), "low", "high", "12%"])
            else:
                panel[m] = rng.choice(VALUES)
        yield panel, rng.choice(SITES)


def digest_classify_generated():
    return _sha(_result_json(lambda: ihc.classify(p, site=s)) for p, s in generated_panels())


def _batch(tmp, name, writer, n, fmt, **kw):
    src = tmp / f"{name}.csv"
    writer(src, n, **kw)
    out = tmp / f"{name}.{fmt}"
    run_batch(src, out, workers=1)
    return _sha([out.read_bytes()])


BATCHES = {  # name -> (generator, rows, output format, variants that must give the same bytes)
    "batch_structured_csv": (_data.structured_csv, 20_000, "csv", ()),
    "batch_uniform_csv": (_data.uniform_csv, 20_000, "csv",
                          ({"line_end": "\r\n"}, {"quote_all": True}, {"line_end": "\r\n", "quote_all": True})),
    "batch_text_csv": (_data.text_csv, 4_000, "csv", ()),
    "batch_structured_jsonl": (_data.structured_csv, 1_000, "jsonl", ()),
    "batch_uniform_jsonl": (_data.uniform_csv, 500, "jsonl", ({"line_end": "\r\n"},)),
    "batch_text_jsonl": (_data.text_csv, 400, "jsonl", ()),
}


def digest_batch(tmp, name, variant=None):
    writer, n, fmt, _ = BATCHES[name]
    return _batch(tmp, name, writer, n, fmt, **(variant or {}))


def test_classify_real_cases_unchanged():
    assert digest_classify_real_cases() == GOLDEN["classify_real_cases"]


def test_classify_generated_panels_unchanged():
    assert digest_classify_generated() == GOLDEN["classify_generated"]


@pytest.mark.parametrize("name", sorted(BATCHES))
def test_batch_outputs_unchanged(tmp_path, name):
    assert digest_batch(tmp_path, name) == GOLDEN[name]
    for variant in BATCHES[name][3]:  # CRLF and quoted exports of the same rows: the same bytes out
        assert digest_batch(tmp_path, name, variant) == GOLDEN[name], variant


if __name__ == "__main__":
    import tempfile

    got = {"classify_real_cases": digest_classify_real_cases(), "classify_generated": digest_classify_generated()}
    with tempfile.TemporaryDirectory() as d:
        for name in BATCHES:
            got[name] = digest_batch(Path(d), name)
            for variant in BATCHES[name][3]:
                v = digest_batch(Path(d), name, variant)
                print(name, variant, "same" if v == got[name] else "DIFFERS")
    print(json.dumps(got, indent=4))
