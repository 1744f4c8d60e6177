"""The estimator, training determinism, persistence and the knowledge base's citations."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.utils.estimator_checks import parametrize_with_checks

from ihc.api import load_model
from ihc.engine import CompactModel, panel_states
from ihc.exceptions import ModelIntegrityError
from ihc.knowledge import DIAGNOSES, MODEL_MARKERS, load_knowledge
from ihc.model import IHCClassifier, PanelEncoder, load_cases, load_joblib, train

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ROOT / "training_data"
MODELS = ROOT / "models"


@parametrize_with_checks([IHCClassifier(), IHCClassifier(C=3.0, temperature=2.0)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_encoder_marks_missing_as_all_zero():
    enc = PanelEncoder(markers=("SMA", "CD117")).fit([{}])
    X = enc.transform([{}, {"CD117": "neg"}])
    assert X[0].sum() == 0
    assert list(enc.get_feature_names_out()[X[1] == 1]) == ["CD117=neg"]


# ------------------------------------------------------------------ knowledge base


def test_every_pooled_figure_has_a_citation():
    kb = load_knowledge(TRAINING)
    for dx in DIAGNOSES:
        for m in MODEL_MARKERS:
            if m == "Ki67":
                continue
            r = kb.rate(dx, m)
            assert r.sources, (dx, m)
            assert all(src or cit for src, cit in r.sources), (dx, m)
            assert 0 < r.p < 1


def test_a_cell_without_figure_takes_the_stains_mean_rate_and_is_listed():
    kb = load_knowledge(TRAINING)
    assert kb.defaulted, "no defaulted cell: the test needs one"
    for dx, marker in kb.defaulted[:25]:
        known = [kb.rates[(d, "")][marker].p for d in kb.diagnoses
                 if kb.rates[(d, "")][marker].basis != "default"]
        rate = kb.rates[(dx, "")][marker]
        assert rate.basis == "default" and rate.p == pytest.approx(sum(known) / len(known))
        assert "neither for nor against" in rate.sources[0][1]
    assert kb.provenance()["defaulted"] >= len(kb.defaulted)


def test_literature_rows_used_by_the_model_carry_a_source():
    with open(TRAINING / "marker_frequencies.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row.get("use", "yes") == "yes":
                assert row["source"].strip(), row


def test_ki67_and_site_priors_are_loaded():
    kb = load_knowledge(TRAINING)
    assert kb.ki67_shares("leiomyoma")[0] > 0.8  # leiomyoma: Ki-67 almost always < 5%
    assert kb.ki67_shares("leiomyosarcoma")[2] > 0.3
    assert "stomach" in kb.site_priors
    assert max(kb.site_priors["stomach"], key=kb.site_priors["stomach"].get) == "gist"


# ------------------------------------------------------------------ training


@pytest.fixture(scope="module")
def quick_models(tmp_path_factory):
    a = tmp_path_factory.mktemp("a")
    b = tmp_path_factory.mktemp("b")
    card_a = train(TRAINING, a, quick=True)
    card_b = train(TRAINING, b, quick=True)
    return a, b, card_a, card_b


def test_training_is_deterministic(quick_models):
    a, b, card_a, card_b = quick_models
    assert (a / "ihc_model.json").read_bytes() == (b / "ihc_model.json").read_bytes()
    assert card_a["training_data_digest"] == card_b["training_data_digest"]
    ma, mb = load_model(a), load_model(b)
    for panel in ({"SMA": "pos"}, {"CD117": "pos", "DOG1": "neg", "Ki67": 12}):
        st_ = panel_states(panel, ma.markers)
        assert ma.proba(st_) == mb.proba(st_)


def test_card_lists_what_a_user_needs(quick_models):
    _, _, card, _ = quick_models
    for key in ("format_version", "version", "date", "classes", "markers", "training_data_digest",
                "metrics", "thresholds", "artifact", "compact"):
        assert key in card
    assert card["classes"] == list(DIAGNOSES)
    assert card["markers"] == list(MODEL_MARKERS)
    assert len(card["artifact"]["sha256"]) == 64


def test_shipped_model_matches_the_training_data():
    """The shipped card's digest matches the training data in this tree."""
    from ihc.knowledge import training_data_digest

    card = json.loads((MODELS / "model_card.json").read_text())
    assert card["training_data_digest"] == training_data_digest(TRAINING), \
        "training_data/ changed since the model was trained: run `ihc train`"


# ------------------------------------------------------------------ persistence


_panel = st.dictionaries(st.sampled_from(list(MODEL_MARKERS[:12])), st.sampled_from(["pos", "neg", "focal"]), max_size=8)


@settings(max_examples=40, deadline=None)
@given(st.lists(_panel, min_size=1, max_size=20))
def test_save_and_load_give_identical_predictions(tmp_path_factory, panels):
    import joblib

    pipe = load_joblib(MODELS / "ihc_model.joblib")
    path = tmp_path_factory.mktemp("persist") / "m.joblib"
    joblib.dump(pipe, path)
    again = joblib.load(path)
    assert np.array_equal(pipe.predict_proba(panels), again.predict_proba(panels))
    compact = load_model(MODELS)
    data = json.loads(json.dumps({k: v for k, v in compact.data.items() if not k.startswith("_")}))
    twin = CompactModel(data)
    for p in panels:
        s = panel_states(p, compact.markers)
        assert twin.proba(s) == compact.proba(s)


def test_a_flipped_byte_is_refused(tmp_path):
    import shutil

    for name in ("ihc_model.json", "model_card.json", "ihc_model.joblib"):
        shutil.copy(MODELS / name, tmp_path / name)
    raw = bytearray((tmp_path / "ihc_model.json").read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (tmp_path / "ihc_model.json").write_bytes(bytes(raw))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        load_model(tmp_path)
    raw = bytearray((tmp_path / "ihc_model.joblib").read_bytes())
    raw[100] ^= 0x01
    (tmp_path / "ihc_model.joblib").write_bytes(bytes(raw))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        load_joblib(tmp_path / "ihc_model.joblib")


def test_a_model_without_card_is_refused(tmp_path):
    import shutil

    shutil.copy(MODELS / "ihc_model.json", tmp_path / "ihc_model.json")
    with pytest.raises(ModelIntegrityError, match="card"):
        load_model(tmp_path / "ihc_model.json")


def test_the_shipped_model_is_what_ihc_train_produces(tmp_path):
    """`ihc train` from training_data/ alone reproduces the shipped model.

    Started from the shipped coefficients at the shipped hyperparameters (``start_from``), the
    solver takes no Newton step: they are the optimum of the objective this training data
    defines (strictly convex, so the optimum is unique). Every other step (cohort, distinct
    rows, tables, morphology weight, atypical quantiles, thresholds) runs as in a full train and
    must give the same predictions. The full grid search (three fits, ~7 minutes) is not re-run
    here; the card records its table (``training.selection``)."""
    card = train(TRAINING, tmp_path, start_from=MODELS)
    shipped = json.loads((MODELS / "model_card.json").read_text())
    assert card["training_data_digest"] == shipped["training_data_digest"]
    assert card["training"]["newton_steps"] == {str(shipped["training"]["C"]): 0}
    assert card["thresholds"] == shipped["thresholds"]
    assert (card["training"]["C"], card["training"]["temperature"], card["training"]["site_prior_strength"]) == \
        (shipped["training"]["C"], shipped["training"]["temperature"], shipped["training"]["site_prior_strength"])
    chosen = [r for r in shipped["training"]["selection"] if (r["C"], r["temperature"], r["site_prior_strength"]) ==
              (shipped["training"]["C"], shipped["training"]["temperature"], shipped["training"]["site_prior_strength"])]
    assert card["training"]["selection"] == chosen  # the same dev log-loss at the chosen point
    assert min(r["dev_log_loss"] for r in shipped["training"]["selection"]) == chosen[0]["dev_log_loss"]
    fresh, ship = load_model(tmp_path), load_model(MODELS)
    assert fresh.atypical == ship.atypical
    for case in load_cases(TRAINING / "real_cases_dev.jsonl"):
        s = panel_states(case["markers"], ship.markers)
        for a, b in zip(fresh.proba(s, case["site"]), ship.proba(s, case["site"])):
            assert a == pytest.approx(b, abs=1e-6)


def test_a_warm_start_away_from_the_optimum_takes_newton_steps():
    """The check above can fail: coefficients that are not this data's optimum are refitted."""
    X = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [1, 1]]); y = ["a", "b", "a", "b", "c"]
    clf = IHCClassifier(C=1.0, tol=1e-10).fit(X, y)
    again = IHCClassifier(C=1.0, tol=1e-10, warm_start=True)
    again.classes_, again.coef_, again.intercept_ = clf.classes_, clf.coef_.copy(), clf.intercept_.copy()
    assert int(np.max(again.fit(X, y).n_iter_)) == 0
    moved = IHCClassifier(C=1.0, tol=1e-10, warm_start=True)
    moved.classes_, moved.coef_, moved.intercept_ = clf.classes_, clf.coef_ + 0.5, clf.intercept_.copy()
    assert int(np.max(moved.fit(X, y).n_iter_)) > 0
    assert np.allclose(moved.coef_, clf.coef_, atol=1e-6)


def test_packed_and_plain_model_files_give_identical_probabilities():
    """Format 2 packs coef and the stored tables as exact float bytes; format 1 (plain JSON
    lists) still reads, with the same numbers: every probability is bit for bit the same."""
    from ihc.engine import FORMAT_VERSION, READABLE_FORMATS
    from ihc.engine.tables import unpack_floats

    ship = load_model(MODELS)
    packed = json.loads(json.dumps(ship.stored_form()))
    assert packed["format_version"] == FORMAT_VERSION == 2 and isinstance(packed["coef"], str)
    plain = json.loads(json.dumps(packed))
    plain["format_version"] = 1
    flat = unpack_floats(plain["coef"])
    F = len(plain["features"])
    plain["coef"] = [flat[i:i + F] for i in range(0, len(flat), F)]
    plain["tables"] = {"state_prob": {m: {st: unpack_floats(v) for st, v in sts.items()}
                                      for m, sts in plain["tables"]["state_prob"].items()}}
    assert 1 in READABLE_FORMATS
    a, b = CompactModel(packed), CompactModel(plain)
    for case in load_cases(TRAINING / "real_cases_dev.jsonl"):
        s = panel_states(case["markers"], ship.markers)
        assert a.proba(s, case["site"]) == b.proba(s, case["site"]) == ship.proba(s, case["site"])
    with pytest.raises(ModelIntegrityError, match="not a format this ihc reads"):
        CompactModel({**packed, "format_version": 99})
