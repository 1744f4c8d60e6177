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
    "classify_real_cases": "5d382750de65aadae35b7835074ec281dea5221c6d67f61e85c6183cee6e131c",
    "classify_generated": "c85aefaa0fc58d563dd0194ca9d29242a068cc88058ebfbe42ff001d1fd84332",
    "batch_structured_csv": "024b6c8e0f4758ee0985c41eb0eb45205d4fd18ef4cc563a92bed457bea1b19e",
    "batch_uniform_csv": "6862ab64e1daad4f5054f24faa0fdbcf9c839fb5b4d4eaec40a03e45a8c8c857",
    "batch_text_csv": "9b6b93d01ab4d246015710d700fa569fa91a779ace90ffb599e4f5551d9f1aba",
    "batch_structured_jsonl": "73c752e55b667704158cf8cc40b9e0ed36be8893ad8999bb68f7b8d9e24bc2fa",
    "batch_uniform_jsonl": "63b038cc0cc2168f718e117bb58b6d68ab27d243612923903cbbb4dc996ea546",
    "batch_text_jsonl": "1ac9a8a74cb1ecee9911cde1dea08e9c4826b7dee768bb8b031c0c1abe235596"
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
