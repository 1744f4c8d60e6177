"""`ihc evaluate` and the metrics behind it: hand-known fixtures, inputs, out-of-set cases, plots, CLI, README drift."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ihc import metrics
from ihc.cli import cli
from ihc.evaluate import (README_BEGIN, README_END, README_FILES, evaluate, format_report, load_labelled, readme_block,
                          readme_bootstrap, readme_rows)
from ihc.exceptions import InputError

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).resolve().parent / "fixtures"
JSONL = FIX / "eval_cases.jsonl"
CSV = FIX / "eval_cases.csv"
TEXT_CSV = FIX / "eval_cases_text.csv"


def _matplotlib():
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


# ----------------------------------------------------------- metrics by hand

HAND = [
    {"truth": "a", "proba": {"a": 0.9, "b": 0.1}, "status": "ok", "diagnosis": "a"},
    {"truth": "b", "proba": {"a": 0.6, "b": 0.4}, "status": "indeterminate", "diagnosis": None},
    {"truth": "b", "proba": {"a": 0.25, "b": 0.75}, "status": "indeterminate", "diagnosis": None},
]


def test_hand_known_top1_ece_brier():
    s = metrics.summarise(HAND, ["a", "b"])
    assert s["n"] == 3 and s["top1_right"] == 2
    assert round(s["top1"], 3) == 0.667
    assert s["top3"] == 1.0
    # bins 9, 6, 7: |0.9-1| + |0.6-0| + |0.75-1|, over 3 cases
    assert s["ece"] == pytest.approx((0.1 + 0.6 + 0.25) / 3)
    # (0.1^2*2 + 0.6^2*2 + 0.25^2*2) / 3
    assert s["brier"] == pytest.approx((0.02 + 0.72 + 0.125) / 3)
    assert s["log_loss"] == pytest.approx(-(math.log(0.9) + math.log(0.4) + math.log(0.75)) / 3)
    assert s["per_diagnosis"]["a"] == {"n": 1, "sensitivity": 1.0, "ppv": 0.5}
    assert s["per_diagnosis"]["b"] == {"n": 2, "sensitivity": 0.5, "ppv": 1.0}
    assert s["confusion"] == {"a": {"a": 1, "b": 0}, "b": {"a": 1, "b": 1}}
    assert s["ok_accuracy"] == 1.0 and s["ok_coverage"] == pytest.approx(1 / 3)


def test_reliability_bins_and_perfect_calibration():
    rows = metrics.reliability_bins([0.95, 0.95, 0.15], [True, True, False])
    assert len(rows) == 10
    assert rows[9][2:] == (2, 0.95, 1.0) and rows[1][2] == 1
    assert metrics.expected_calibration_error([1.0, 1.0], [True, True]) == 0.0
    assert metrics.brier_score([{"a": 1.0, "b": 0.0}], ["a"], ["a", "b"]) == 0.0


def test_out_of_set_and_atypical_in_metrics():
    preds = HAND + [{"truth": "x", "proba": {"a": 0.97, "b": 0.03}, "status": "atypical", "diagnosis": None},
                    {"truth": "x", "proba": {"a": 0.92, "b": 0.08}, "status": "ok", "diagnosis": "a"}]
    s = metrics.summarise(preds, ["a", "b"])
    assert s["n"] == 3 and s["n_out_of_set"] == 2
    assert round(s["top1"], 3) == 0.667  # out-of-set cases never enter top-1
    assert s["status_out_of_set"] == {"atypical": 1, "ok": 1}
    assert s["out_of_set_not_ok"] == 0.5
    assert s["confusion_out_of_set"] == {"a": 2}
    assert s["per_diagnosis"]["a"]["ppv"] == pytest.approx(1 / 4)  # named for 2 out-of-set cases too
    assert s["ok_accuracy"] == 0.5  # the ok answer on an out-of-set case is wrong
    rc = {r["threshold"]: r for r in metrics.risk_coverage(preds, ["a", "b"], [0.5, 0.95])}
    assert rc[0.95]["answered"] == 0  # the atypical case is never answered
    assert rc[0.5]["answered"] == 4 and rc[0.5]["accuracy"] == 0.5 and rc[0.5]["coverage"] == 1.0


# ------------------------------------------------------------ paired bootstrap

CLASSES = ["a", "b", "c", "d", "e"]


def _two_methods(k=40, seed=1):
    """Two methods' predictions on the same k cases (a few out of set, one unreadable): not degenerate."""
    rng = random.Random(seed)
    a, b = [], []
    for i in range(k):
        truth = "x" if i % 9 == 8 else CLASSES[i % 3]
        for out, sharp in ((a, 3.0), (b, 1.0)):
            w = {c: rng.random() + (sharp if c == truth and rng.random() < 0.7 else 0.0) for c in CLASSES}
            z = sum(w.values())
            out.append({"id": f"c{i}", "truth": truth, "proba": {c: v / z for c, v in w.items()},
                        "status": "error" if i == 5 else "ok"})
    return a, b


def test_bootstrap_identical_predictions_give_zero_and_a_zero_interval():
    a, _ = _two_methods()
    r = metrics.paired_bootstrap(a, [dict(p) for p in a], CLASSES, n=300)
    assert set(r) == set(metrics.BOOTSTRAP_METRICS)
    for m, d in r.items():
        assert (d["difference"], d["low"], d["high"]) == (0.0, 0.0, 0.0), m
        assert d["a"] == d["b"]


def test_bootstrap_point_estimate_is_the_difference_of_summarise():
    a, b = _two_methods()
    sa, sb = metrics.summarise(a, CLASSES), metrics.summarise(b, CLASSES)
    r = metrics.paired_bootstrap(a, b, CLASSES, n=50)
    for m in ("top1", "top3", "ece", "brier"):
        assert r[m]["a"] == sa[m] and r[m]["b"] == sb[m], m
        assert r[m]["difference"] == sa[m] - sb[m], m
    assert r["top1"]["difference"] != 0 and r["brier"]["difference"] < 0  # the sharper method is better here


def test_bootstrap_resamples_the_same_cases_for_both_methods():
    """One resample: the interval is the difference of summarise on the cases random.Random(seed) draws."""
    a, b = _two_methods()
    inset = [i for i, p in enumerate(a) if p["truth"] in CLASSES]
    idx = random.Random(7).choices(range(len(inset)), k=len(inset))
    ra = [a[inset[i]] for i in idx]
    rb = [b[inset[i]] for i in idx]
    sa, sb = metrics.summarise(ra, CLASSES), metrics.summarise(rb, CLASSES)
    r = metrics.paired_bootstrap(a, b, CLASSES, n=1, seed=7)
    for m in ("top1", "top3", "ece", "brier"):
        assert r[m]["low"] == r[m]["high"] == pytest.approx(sa[m] - sb[m], abs=1e-12), m


def test_bootstrap_same_seed_same_interval_and_interval_holds_the_estimate():
    a, b = _two_methods()
    r1 = metrics.paired_bootstrap(a, b, CLASSES, n=400, seed=3)
    r2 = metrics.paired_bootstrap(a, b, CLASSES, n=400, seed=3)
    r3 = metrics.paired_bootstrap(a, b, CLASSES, n=400, seed=4)
    assert r1 == r2
    assert r1 != r3
    for m, d in r1.items():
        assert d["low"] < d["high"], m  # not degenerate
        assert d["low"] <= d["difference"] <= d["high"], m


def test_bootstrap_zero_resamples_and_no_in_set_case():
    a, b = _two_methods()
    r = metrics.paired_bootstrap(a, b, CLASSES, metrics=("ece",), n=0)
    assert list(r) == ["ece"] and r["ece"]["low"] is None and r["ece"]["high"] is None
    assert r["ece"]["difference"] == metrics.summarise(a, CLASSES)["ece"] - metrics.summarise(b, CLASSES)["ece"]
    outside = [p for p in a if p["truth"] == "x"]
    r = metrics.paired_bootstrap(outside, outside, CLASSES, n=10)
    assert all(math.isnan(d["difference"]) and math.isnan(d["low"]) for d in r.values())


@pytest.mark.parametrize("kwargs, words", [
    ({"metrics": ("auc",)}, "unknown metric"),
    ({"n": -1}, ">= 0"),
    ({"level": 1.5}, "between 0 and 1"),
])
def test_bootstrap_bad_arguments_raise_input_error(kwargs, words):
    a, b = _two_methods()
    with pytest.raises(InputError, match=words):
        metrics.paired_bootstrap(a, b, CLASSES, **kwargs)


def test_bootstrap_refuses_lists_that_are_not_the_same_cases():
    a, b = _two_methods()
    with pytest.raises(InputError, match="not the same cases"):
        metrics.paired_bootstrap(a, b[:-1], CLASSES)
    with pytest.raises(InputError, match="not the same cases"):
        metrics.paired_bootstrap(a, b[1:] + b[:1], CLASSES)


# --------------------------------------------------------------- the fixture


def _only(report):
    assert len(report["groups"]) == 1
    return report["groups"][0]


def test_fixture_jsonl_two_of_three_right():
    g = _only(evaluate(JSONL, training_dir=ROOT / "training_data"))
    m = g["model"]
    assert g["role"] == "held-out" and g["n_cases"] == 4
    assert m["n"] == 3 and m["n_out_of_set"] == 1
    assert m["top1_right"] == 2 and round(m["top1"], 3) == 0.667
    assert m["per_diagnosis"]["gist"]["sensitivity"] == 1.0
    assert m["per_diagnosis"]["gist"]["ppv"] == 0.5  # the GIST panel labelled schwannoma
    assert m["per_diagnosis"]["schwannoma"]["sensitivity"] == 0.0
    assert m["confusion"]["schwannoma"]["gist"] == 1
    assert sum(m["status_out_of_set"].values()) == 1
    assert len(m["risk_coverage"]) > 3 and len(m["reliability"]) == 10
    assert {c["id"] for c in m["cases"]} == {"fx-gist", "fx-lms", "fx-wrong", "fx-outside"}


def test_csv_marker_columns_and_free_text_agree_with_jsonl():
    a = _only(evaluate(JSONL))["model"]
    b = _only(evaluate(CSV))["model"]
    c = _only(evaluate(TEXT_CSV))
    for key in ("n", "n_out_of_set", "top1", "top3", "brier", "ece"):
        assert a[key] == pytest.approx(b[key]), key
    # the text CSV adds one unreadable GIST row: counted (a miss), never dropped
    assert c["n_cases"] == 5 and c["n_unreadable"] == 1
    assert c["model"]["n"] == 4 and c["model"]["top1_right"] == 2
    assert c["model"]["status_in_set"].get("error") == 1


def test_from_text_reads_ihc_text():
    a = _only(evaluate(JSONL))["model"]
    t = _only(evaluate(JSONL, from_text=True))["model"]
    assert t["top1"] == pytest.approx(a["top1"])


def test_labels_are_normalised():
    cases = load_labelled(CSV)
    assert [c["diagnosis"] for c in cases] == ["gist", "leiomyosarcoma", "schwannoma", "low_grade_myofibroblastic_sarcoma"]
    assert cases[0]["site"] == "stomach"


def test_naive_bayes_comparison_and_json_round_trip():
    r = evaluate(JSONL, compare="naive-bayes")
    g = _only(r)
    assert g["naive_bayes"]["n"] == 3
    json.loads(json.dumps(r))  # the report is plain JSON
    text = format_report(r)
    assert "naive Bayes" in text and "top-1 accuracy" in text and "0.667 (2/3)" in text


def test_dev_cases_are_reported_apart_and_pooled_held_out(tmp_path):
    dev = tmp_path / "real_cases_dev.jsonl"
    lines = JSONL.read_text().splitlines()
    dev.write_text("\n".join(lines[:2]) + "\n")
    other = tmp_path / "more.jsonl"
    other.write_text("\n".join(lines[2:]) + "\n")
    extra = tmp_path / "extra.csv"
    extra.write_text(CSV.read_text())  # fx-gist and fx-lms are dev ids here: a mixed file
    r = evaluate([dev, other, extra], training_dir=tmp_path)
    roles = {g["name"]: g["role"] for g in r["groups"]}
    assert roles["real_cases_dev.jsonl"] == "dev"
    assert roles["more.jsonl"] == "held-out"
    assert roles["extra.csv"] == "mixed"
    pooled = {g["role"]: g for g in r["groups"] if g.get("pooled")}
    assert pooled["held-out"]["n_cases"] == 4  # more.jsonl (2) + the two held-out rows of extra.csv
    assert pooled["dev"]["n_cases"] == 4
    assert set(r["duplicate_ids"]) == {"fx-gist", "fx-lms", "fx-wrong", "fx-outside"}


def test_evaluate_bootstrap_block_matches_the_figures_and_is_deterministic():
    r = evaluate(JSONL, compare="naive-bayes", bootstrap=500)
    g = _only(r)
    bs = g["model_minus_naive_bayes"]
    assert r["bootstrap"] == {"resamples": 500, "seed": 0, "level": 0.95}
    assert bs["resamples"] == 500 and bs["n"] == g["model"]["n"] == 3
    assert set(bs["metrics"]) == {"top1", "top3", "ece", "brier"}
    for m, d in bs["metrics"].items():
        assert d["model"] == g["model"][m] and d["naive_bayes"] == g["naive_bayes"][m], m
        assert d["difference"] == g["model"][m] - g["naive_bayes"][m], m
        assert d["low"] <= d["difference"] <= d["high"], m
        assert d["includes_zero"] == (d["low"] <= 0 <= d["high"]), m
    assert evaluate(JSONL, compare="naive-bayes", bootstrap=500)["groups"][0]["model_minus_naive_bayes"] == bs
    text = format_report(r)
    assert "model minus naive Bayes, paired bootstrap (500 resamples of the 3 in-set cases" in text
    assert "95% interval" in text
    undecided = [m for m, d in bs["metrics"].items() if d["includes_zero"]]
    assert undecided  # three cases settle nothing
    assert text.count("not distinguishable on these cases") == len(undecided)


def test_evaluate_without_compare_or_with_zero_resamples_has_no_bootstrap():
    for kw in ({}, {"compare": "naive-bayes", "bootstrap": 0}):
        r = evaluate(JSONL, **kw)
        assert r["bootstrap"] is None and "model_minus_naive_bayes" not in _only(r), kw
        assert "paired bootstrap" not in format_report(r)
    with pytest.raises(InputError, match="--bootstrap"):
        evaluate(JSONL, compare="naive-bayes", bootstrap=-5)


def test_without_a_dev_list_roles_are_unknown_and_pooled(tmp_path):
    r = evaluate([JSONL, CSV], training_dir=tmp_path)
    assert [g["role"] for g in r["groups"]] == ["unknown"] * 3
    assert r["groups"][-1].get("pooled") and r["groups"][-1]["n_cases"] == 8
    assert "cannot be told apart" in format_report(r)


# ---------------------------------------------------------------------- CLI


def test_cli_text_and_json():
    res = CliRunner().invoke(cli, ["evaluate", str(JSONL), "--compare", "naive-bayes"])
    assert res.exit_code == 0, res.output
    assert "top-1 accuracy" in res.output and "risk-coverage" in res.output
    res = CliRunner().invoke(cli, ["evaluate", str(JSONL), str(CSV), "--format", "json"])
    assert res.exit_code == 0
    r = json.loads(res.output)
    assert [g["name"] for g in r["groups"]][:2] == ["eval_cases.jsonl", "eval_cases.csv"]
    assert r["groups"][-1].get("pooled")


def test_cli_bootstrap_option_text_json_and_zero():
    args = ["evaluate", str(JSONL), str(CSV), "--compare", "naive-bayes"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert res.output.count("model minus naive Bayes, paired bootstrap (2000 resamples") == 3  # 2 files + pooled
    res = CliRunner().invoke(cli, args + ["--bootstrap", "300", "--format", "json"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["bootstrap"]["resamples"] == 300
    assert all(g["model_minus_naive_bayes"]["resamples"] == 300 for g in r["groups"])
    res = CliRunner().invoke(cli, args + ["--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    assert "paired bootstrap" not in res.output and "top-1 accuracy" in res.output
    res = CliRunner().invoke(cli, args + ["--bootstrap", "0", "--format", "json"])
    r = json.loads(res.output)
    assert r["bootstrap"] is None and not any("model_minus_naive_bayes" in g for g in r["groups"])
    res = CliRunner().invoke(cli, args + ["--bootstrap", "-1"])
    assert res.exit_code == 2 and "Traceback" not in res.output


@pytest.mark.parametrize("args, words", [
    (["missing.jsonl"], "no such file"),
    ([str(FIX)], "directory"),
    (["--compare", "bayes", str(JSONL)], "naive-bayes"),
])
def test_cli_errors_exit_2_one_line(args, words, tmp_path):
    res = CliRunner().invoke(cli, ["evaluate", *args])
    assert res.exit_code == 2
    assert words in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("content, suffix, words", [
    ("{not json\n", ".jsonl", "not valid JSON"),
    ('{"markers": {"SMA": "pos"}}\n', ".jsonl", "diagnosis"),
    ("case_id,SMA\n1,+\n", ".csv", "'diagnosis' column"),
    ("", ".jsonl", "no cases"),
    ("x", ".txt", ".jsonl or .csv"),
])
def test_cli_bad_files_exit_2(content, suffix, words, tmp_path):
    p = tmp_path / f"bad{suffix}"
    p.write_text(content)
    res = CliRunner().invoke(cli, ["evaluate", str(p)])
    assert res.exit_code == 2, res.output
    assert words in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


@pytest.mark.skipif(not _matplotlib(), reason="matplotlib not installed (pip install .[plot])")
def test_plots_written(tmp_path):
    out = tmp_path / "plots"
    res = CliRunner().invoke(cli, ["evaluate", str(JSONL), str(CSV), "--compare", "naive-bayes",
                                   "--plots", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("confusion_matrix.png", "reliability.png", "risk_coverage.png"):
        p = out / name
        assert p.is_file() and p.stat().st_size > 5000
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_without_matplotlib_exit_2(monkeypatch, tmp_path):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **kw):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)
    res = CliRunner().invoke(cli, ["evaluate", str(JSONL), "--plots", str(tmp_path / "p")])
    assert res.exit_code == 2
    assert "pip install .[plot]" in res.output


# --------------------------------------------------------------- README drift


def _readme_rows():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    i, j = text.find(README_BEGIN), text.find(README_END)
    assert 0 <= i < j, "README.md lacks the generated accuracy block"
    return text[i:j].splitlines()


def test_readme_accuracy_top1_matches_a_fresh_evaluate_run():
    """The README's top-1 figures are those of the shipped model now (within 0.001).

    When the model is retrained, regenerate them: `python -m ihc.evaluate --update-readme README.md`.
    """
    if not all((ROOT / f).is_file() for f in README_FILES):
        pytest.skip("not a source checkout (training_data/ absent)")
    files = [ROOT / f for f in README_FILES]
    report = evaluate(files, compare="naive-bayes")
    text_report = evaluate(files, compare="naive-bayes", from_text=True, bootstrap=0)  # its rows carry no interval
    # the README keeps, from text, each role's pooled block (or its only file block)
    keep = []
    for role in ("dev", "held-out"):
        gs = [g for g in text_report["groups"] if g["role"] == role]
        pooled = [g for g in gs if g.get("pooled")]
        keep += pooled[:1] or (gs if len(gs) == 1 else [])
    expected = readme_rows(report) + readme_rows(text_report, prefix="from text, ", groups=keep)
    rows = _readme_rows()
    for label, method, s, _ in expected:
        prefix = f"| {label} | {method} |"
        hit = [r for r in rows if r.startswith(prefix)]
        assert len(hit) == 1, f"README has no row {prefix!r}: regenerate with python -m ihc.evaluate --update-readme README.md"
        cells = [c.strip() for c in hit[0].strip("|").split("|")]
        assert int(cells[2]) == s["n"], prefix
        if cells[3] == "-":  # no in-set case in this file: no top-1
            assert s["n"] == 0 or s["top1"] is None, prefix
            continue
        assert abs(float(cells[3]) - s["top1"]) <= 0.001, (
            f"{prefix} top-1 in README {cells[3]} vs fresh run {s['top1']:.3f}: "
            "regenerate with python -m ihc.evaluate --update-readme README.md")
    assert len(expected) >= 10
    # the model-minus-naive-Bayes table: seeded, so a fresh run gives the same rows
    fresh = [r for r in readme_bootstrap(report) if r.startswith("| ")]
    assert len(fresh) == 1 + sum(1 for g in report["groups"] if g.get("model_minus_naive_bayes"))  # head + rows
    for r in fresh:
        assert r in rows, f"README lacks {r!r}: regenerate with python -m ihc.evaluate --update-readme README.md"


def test_readme_block_is_what_the_generator_prints():
    rows = _readme_rows()
    assert any("ihc evaluate training_data/real_cases_dev.jsonl" in r for r in rows)
    assert re.search(r"\| held-out: held-out pooled", "\n".join(rows))
    assert any(r.startswith("Model minus naive Bayes, paired bootstrap (2000 resamples), 95% interval") for r in rows)
    assert readme_block().startswith(README_BEGIN)


def test_doctests_of_metrics_and_evaluate():
    import doctest

    import ihc.evaluate

    for mod in (metrics, ihc.evaluate):
        res = doctest.testmod(mod)
        assert res.failed == 0 and res.attempted > 0, mod.__name__


def test_only_out_of_set_cases_give_strict_json_and_plots(tmp_path):
    p = tmp_path / "outside.jsonl"
    p.write_text(JSONL.read_text().splitlines()[3] + "\n")
    res = CliRunner().invoke(cli, ["evaluate", str(p), "--format", "json", "--compare", "naive-bayes"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.output, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    g = r["groups"][0]
    assert g["model"]["n"] == 0 and g["model"]["n_out_of_set"] == 1 and g["model"]["top1"] is None
    res = CliRunner().invoke(cli, ["evaluate", str(p)])
    assert res.exit_code == 0 and "outside the set" in res.output
    if _matplotlib():
        res = CliRunner().invoke(cli, ["evaluate", str(p), "--plots", str(tmp_path / "pl")])
        assert res.exit_code == 0, res.output
        assert len(list((tmp_path / "pl").glob("*.png"))) == 3
