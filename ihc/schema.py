"""The published JSON schemas (draft 2020-12) of the output contract, ``schema_version`` "1".

- ``classify``: the object ``ihc classify --format json`` prints and
  ``ihc.classify(...).to_dict()`` returns;
- ``batch-row``: one line of ``ihc batch --format jsonl`` (the classify object
  plus ``case_id``, or an error row).

The files ship in the package (``ihc/schema/*.json``); ``ihc schema`` prints them.

>>> load_schema("classify")["properties"]["schema_version"]
{'const': '1'}
"""

from __future__ import annotations

import json
from pathlib import Path

from .exceptions import InputError

__all__ = ["SCHEMAS", "schema_path", "load_schema"]

#: Schema name -> file in ``ihc/schema/``.
SCHEMAS = {"classify": "classify.schema.json", "batch-row": "batch_row.schema.json"}


def schema_path(which="classify") -> Path:
    """Path of a shipped schema file."""
    try:
        name = SCHEMAS[which]
    except KeyError:
        raise InputError(f"unknown schema {which!r}: use one of {', '.join(SCHEMAS)}") from None
    return Path(__file__).resolve().parent / "schema" / name


def load_schema(which="classify") -> dict:
    """The schema as a dict."""
    return json.loads(schema_path(which).read_text(encoding="utf-8"))
