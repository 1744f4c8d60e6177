"""The shipped model: ihc_model.joblib (model of record), ihc_model.json (compact classify form), model_card.json."""
