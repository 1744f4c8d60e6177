"""Batch classification: a CSV export of many cases in, one result row per case out.

Two entry points:

- :func:`run_batch` streams a CSV file (or standard input) to a CSV or JSON
  Lines file (or standard output): one output row per input row, in input
  order, ``case_id`` passed through; a row that cannot be read becomes an
  ``error`` row and the run goes on. It is what ``ihc batch`` calls.
- :func:`classify_rows` classifies in-memory records (``dict`` rows, e.g. a
  DataFrame's ``to_dict("records")``); :func:`ihc.classify_frame` wraps it.

Input
-----
A header row, then one case per row. Either marker columns named by canonical
names or synonyms (``SMA``, ``Des``, ``c-kit``, ``Ki-67``...; cells read with
:func:`ihc.parse.parse_value`), or one free-text panel column (``panel`` by
default; read with :func:`ihc.parse.parse`). Optional ``case_id`` (else the
1-based row number is the id) and ``site`` columns. The delimiter (comma,
semicolon or tab) is taken from the header. Encodings: UTF-8 with or without
a BOM, UTF-16 (BOM or not), and cp1252/latin-1 line by line where a line is not
UTF-8. Blank lines are not rows. A row whose cell count differs from the header
(ragged, or a stray quote that swallowed a delimiter) is an ``error`` row: it is
never merged with its neighbours nor dropped.

Speed and memory
----------------
Rows are streamed (the csv module on one line at a time, a plain split when
a line has no quote), so memory does not grow with the file. LIS exports repeat
panels: results are memoised on the row's cells (and, one level down, on the
model states and site), in bounded caches. The CSV path computes only the
status and differential (no evidence nor next stains), which is all its columns
hold; JSON Lines rows carry the whole classify object.

For marker columns to CSV, clean blocks of the file (about 1 MB; LF or CRLF line ends,
cells quoted or not) take a vectorised route (:class:`_FastStructured`, :class:`_VecEval`):
the block is split by pandas' C reader, cells coded once per distinct value and column
(``pd.factorize``), rows keyed with numpy, and the block's
new distinct keys evaluated together by :class:`ihc.engine.vector.VectorEvaluator` (the same
scoring tables and rules as the scalar path), giving byte for byte what the row path writes
(tested). Everything else is read row by row. JSON Lines rows pick their next stains' exact
gains from numpy estimates (:class:`ihc.engine.vector.GainEstimator`; same result, tested).

Only the standard library (and :mod:`ihc.engine.rules`) is imported at module level; numpy
and pandas are imported by the vectorised route when it is taken.
"""

from __future__ import annotations

import csv
import bisect
import collections
import contextlib
import gc
import io
import itertools
import json
import math
import operator
import os
import re
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from .engine import rules
from .exceptions import EmptyInputError, InputError, InvalidValueError

__all__ = ["CSV_COLUMNS", "BatchRow", "BatchSummary", "classify_rows", "classify_frame", "run_batch",
           "output_format_for"]

#: Columns of a batch CSV output, in order.
CSV_COLUMNS = ("case_id", "status", "diagnosis", "confidence", "dx1", "p1", "dx2", "p2", "dx3", "p3", "error")

#: Memo entries kept before a cache is emptied (keeps memory flat on huge inputs).
MEMO_LIMIT = 20_000

#: Distinct rows whose CSV tail the block route keeps (a real export's distinct panels: the uniform
#: benchmark file has about 42,000 at the model's level; a few hundred bytes an entry).
FAST_MEMO_LIMIT = 100_000

#: Free text to CSV: distinct texts, and distinct (states, site) rows, whose reading and CSV tail are
#: kept (the benchmark's 200,000 rows hold 32,495 texts and 28,327 rows; with 20,000 a third of
#: them were read and evaluated again).
TEXT_MEMO_LIMIT = 50_000

#: Memo entries kept when rows carry the whole classify object (JSON Lines).
MEMO_LIMIT_FULL = 2_000

#: JSON Lines: distinct (states, site) keys whose facts (probabilities, status, the differential's
#: and the next stains' JSON, ~4 KB) are kept (the uniform benchmark's 20,000 rows hold 12,700).
#: With 50,000 (and as many templates) the peak RSS of 1,000,000 LIS-like rows was 821 MiB against
#: 455 MiB for 100,000 (1.80x); with 20,000, 454 against 412 MiB (1.10x), the 200,000-row
#: LIS-like file at 16-18k rows/s against 20-23k, the uniform 20,000 rows unchanged (11-12k).
JSONL_KEY_LIMIT = 20_000

#: Bytes read at a time (a block of this many, cut at its last line end). The block route reads
#: twice as many once it is chosen: its cost per block is partly fixed (pandas' reader set up, the
#: block's distinct keys evaluated together), and 2 MB blocks took 0.574 -> 0.496 CPU s (LF) and
#: 0.640 -> 0.585 s (every cell quoted) for 200,000 uniform rows, with the same peak RSS at
#: 100,000 and 1,000,000 rows; free text keeps 1 MB (its lines are held as a list: +9 MiB).
READ_BYTES = 1 << 20
FAST_READ_BYTES = 2 << 20

#: Physical lines a quoted field may span before an opening quote is taken as stray.
MAX_FIELD_LINES = 50

_ID_NAMES = ("case_id", "caseid", "case", "id")
_FORMATS = ("csv", "jsonl")


def _norm_header(name):
    return "".join(ch for ch in str(name).strip().lower() if ch.isalnum())


# ----------------------------------------------------------------- one row


class BatchRow:
    """The result for one input row.

    Attributes: ``case_id``, ``status`` (``ok``/``indeterminate``/``atypical``/``error``),
    ``diagnosis`` (``None`` unless ``ok``), ``confidence``, ``top`` (up to three
    ``(diagnosis, probability)`` pairs), ``error`` (reason, or ``None``) and
    ``result`` (the classify object, when full results were asked for).
    """

    __slots__ = ("case_id", "status", "diagnosis", "confidence", "top", "error", "result")

    def __init__(self, case_id, status, diagnosis=None, confidence=None, top=(), error=None, result=None):
        self.case_id = case_id
        self.status = status
        self.diagnosis = diagnosis
        self.confidence = confidence
        self.top = tuple(top)
        self.error = error
        self.result = result

    def csv_row(self) -> dict:
        """The row as a dict of the CSV columns (floats for probabilities, None when empty)."""
        d = {"case_id": self.case_id, "status": self.status, "diagnosis": self.diagnosis,
             "confidence": self.confidence}
        for i in range(3):
            dx, p = self.top[i] if i < len(self.top) else (None, None)
            d[f"dx{i + 1}"] = dx
            d[f"p{i + 1}"] = p
        d["error"] = self.error
        return d

    def to_dict(self) -> dict:
        """The JSON Lines object: the classify object plus ``case_id`` (or an error object)."""
        if self.status == "error":
            return _error_object(self.case_id, self.error)
        d = {"case_id": self.case_id}
        if self.result is not None:
            d.update(self.result)
        else:
            d.update({"status": self.status, "diagnosis": self.diagnosis, "confidence": self.confidence})
        return d

    def __repr__(self):
        return f"<BatchRow {self.case_id!r} {self.status} {self.diagnosis or self.error or ''}>"


def _error_object(case_id, error):
    from .api import SCHEMA_VERSION

    return {"case_id": case_id, "schema_version": SCHEMA_VERSION, "status": "error", "error": error}


class BatchSummary:
    """What a batch run did: ``rows`` written, ``errors`` among them, the output ``format``."""

    def __init__(self, rows=0, errors=0, fmt="csv", seconds=0.0, duplicate_ids=0, duplicate_rows=(), empty_ids=0):
        self.rows = rows
        self.errors = errors
        self.format = fmt
        self.seconds = seconds
        #: rows whose case_id repeats an earlier row's, and the first few of their 1-based data row numbers
        self.duplicate_ids = duplicate_ids
        self.duplicate_rows = tuple(duplicate_rows)
        #: rows with an empty case_id cell (when the input has a case_id column)
        self.empty_ids = empty_ids

    def __repr__(self):
        return f"<BatchSummary rows={self.rows} errors={self.errors} format={self.format}>"


# ----------------------------------------------------------------- the classifier with memo


def _one_line(exc):
    msg = " ".join((str(exc) or exc.__class__.__name__).split())
    return msg


class _Classifier:
    """Turns a row (cells or text, plus site) into an outcome; memoised.

    An outcome is ``(status, diagnosis, confidence, top3, error, result_dict_or_None)``.
    """

    def __init__(self, model, mode, full):
        from .api import load_model
        from .engine import CompactModel

        if not isinstance(model, CompactModel):
            model = load_model(model)
        self.model = model
        self.mode = mode
        self.full = full
        # whole classify objects are large: keep fewer of them
        self.limit = MEMO_LIMIT_FULL if full else MEMO_LIMIT
        self.row_memo = {}
        self.state_memo = {}
        self.typ_memo = {}
        self.typ_max_memo = {}
        self.next_memo = {}
        self.gain_estimator = None
        self.exact_gains = None
        #: JSON Lines writer: whole objects as JSON text (_full_text), with their memos
        self.text = False
        self.key_memo = {}
        self.next_text = {}
        self.evidence_text = {}
        self.head_text = None
        self.diff_prefix = None
        self.limit_next = MEMO_LIMIT
        #: JSON Lines: per-key memos sized for a real export's distinct panels
        self.limit_key = JSONL_KEY_LIMIT
        self.gist_text = {}
        self.warning_text = {}
        self.dict_text = {}
        self.dict_heads = {}
        #: JSON Lines: next-stain and finding entries' JSON pieces per (name, why), gains' texts
        self.entry_text = {}
        self.gain_text = {}
        self.object_fns = None
        self.block = None  # (StatesEvaluator, ApproxGains) once numpy is imported, False without it
        #: a context for the block products: one BLAS thread (their matrices are small; BLAS's
        #: idle threads spin after each product, taking a core from this one on a busy machine)
        self.one_blas_thread = contextlib.nullcontext
        #: whether outcomes are memoised here (per row key and per model states); not when every
        #: caller keeps its own memo of the rendered row on a key at the model's level (CSV)
        self.keep = True

    def _estimate(self):
        """Estimated gains with numpy (:class:`ihc.engine.vector.GainEstimator`), or None without numpy."""
        if self.gain_estimator is None:
            try:
                import numpy as np

                from .engine.vector import GainEstimator

                self.gain_estimator = GainEstimator(np, self.model).gains
            except ImportError:  # pragma: no cover - numpy comes with the install
                self.gain_estimator = False
        return self.gain_estimator or None

    def _exact_gains(self):
        """:class:`ihc.engine.vector.ExactGains` for this model, or None (no numpy, or a ``sum``
        this module cannot write as array operations)."""
        if self.exact_gains is None:
            self.exact_gains = False
            try:
                import numpy as np

                from .engine.vector import ExactGains, sum_kind

                kind = sum_kind(np, len(self.model.classes))
                if kind is not None and len(self.model.classes) >= 3:
                    self.exact_gains = ExactGains(np, self.model, kind)
            except ImportError:  # pragma: no cover - numpy comes with the install
                pass
        return self.exact_gains or None

    def _blocks(self):
        """``(StatesEvaluator, ApproxGains, np)`` for this model, or None (no numpy, or a model or a
        ``sum`` the block forms cannot take: then every key goes the scalar way)."""
        if self.block is None:
            self.block = False
            try:
                import numpy as np

                from .engine.vector import ApproxGains, StatesEvaluator

                ev = StatesEvaluator(np, self.model)
                if ev.ok and self._exact_gains() is not None:
                    self.block = (ev, ApproxGains(np, self.model), np)
            except ImportError:  # pragma: no cover - numpy comes with the install
                pass
            try:  # (threadpoolctl comes with scikit-learn)
                from threadpoolctl import ThreadpoolController

                limit = ThreadpoolController().limit
                self.one_blas_thread = lambda: limit(limits=1, user_api="blas")
            except Exception:  # pragma: no cover - no threadpoolctl, or no BLAS it knows
                pass
        return self.block or None

    def prefetch(self, panels):
        """Fill the key memos for the distinct (states, site) of ``panels`` (Panels without
        morphological findings) at once: scores, probabilities and status for the whole block
        (:class:`ihc.engine.vector.StatesEvaluator`, the scalar path's floats), then the next
        stains and findings from the block's estimated gains where the estimate decides the lists
        (:class:`ihc.engine.vector.ApproxGains`, :func:`ihc.engine.vector.decided`), else from
        exact gains (:meth:`_next_exact`)."""
        from .engine import panel_states

        model = self.model
        self.prefetch_states([(panel_states(panel.markers, model.markers), panel.site) for panel in panels])

    def prefetch_states(self, pairs):
        """:meth:`prefetch` for ``(states, site)`` pairs."""
        blocks = self._blocks()
        if blocks is None:
            return
        with self.one_blas_thread():
            self._prefetch_block(blocks, pairs)

    def _prefetch_block(self, blocks, pairs):
        model = self.model
        todo = {}
        memo = self.key_memo
        for states, site in pairs:
            nkey = (tuple(states.items()), site)
            if nkey not in memo and nkey not in todo:
                todo[nkey] = states
        if not todo:
            return
        ev, approx, np = blocks
        keys = list(todo)
        got = ev.evaluate_states([todo[k] for k in keys], [k[1] for k in keys])
        if got is None:  # a state outside the tables: the scalar path for the block
            return
        z, p, atypical, ok = got
        order = np.argsort(-p, axis=1, kind="stable").tolist()  # sorted(key=(-p, k))
        zl, pl = z.tolist(), p.tolist()
        th = model.thresholds
        todo_next = []
        for i, (nkey, a, o) in enumerate(zip(keys, atypical.tolist(), ok.tolist())):
            status = "atypical" if a else ("ok" if o else "indeterminate")
            proba = pl[i]
            settled = rules.settled(th, status, proba)
            _trim(self.key_memo, self.limit_key)
            self.key_memo[nkey] = (proba, status, settled, order[i], self._mid_text(status, order[i], proba), zl[i])
            if nkey in self.next_text:
                continue
            if settled:
                _trim(self.next_text, self.limit_key)
                self.next_text[nkey] = self._next_json([], [])
            else:
                todo_next.append(i)
        if todo_next:
            self._next_block(approx, np, [(keys[i], todo[keys[i]], pl[i], zl[i]) for i in todo_next], p[todo_next],
                             [order[i] for i in todo_next])

    def _next_block(self, approx, np, items, P, orders):
        """Next stains and findings of ``items`` ``(nkey, states, proba, scores)`` (not settled),
        ``P`` their probabilities as an array, ``orders`` their class orders: from
        :class:`ApproxGains`' estimates for the rows :func:`decided` vouches for, the lists made as
        one block (:func:`ihc.api.next_steps_block`), the others from exact gains (:meth:`_next_exact`)."""
        from .api import GAIN_TOLERANCE, MIN_GAIN_BITS, next_steps_block, site_majority_tests
        from .engine.vector import decided

        model = self.model
        by_site = {}
        for i, it in enumerate(items):
            by_site.setdefault(it[0][1], []).append(i)
        exact = {}
        tol = GAIN_TOLERANCE
        for site, ix in by_site.items():
            G, sure = approx.gains(site, P[ix])
            names = approx.names
            col = {nm: j for j, nm in enumerate(names)}
            is_stain = np.array([not isinstance(nm, tuple) for nm in names])
            fcols = [j for j, nm in enumerate(names) if isinstance(nm, tuple)]
            finds = ~is_stain
            stains = np.repeat(is_stain[None, :], len(ix), axis=0)
            done = [(r, col[m]) for r, i in enumerate(ix) for m in items[i][1]]  # each panel's stains
            if done:
                rr, cc = zip(*done)
                stains[list(rr), list(cc)] = False
            tests = np.zeros(len(names), bool)
            tests[[col[m] for m in site_majority_tests(model, site)]] = True
            ok = sure & decided(np, G, stains, finds, tests[None, :], top=5, floor=MIN_GAIN_BITS, tol=tol,
                                decimals=4)
            good = np.nonzero(ok)[0]
            for r in np.nonzero(~ok)[0].tolist():
                exact[items[ix[r]][0]] = items[ix[r]][1]
            if not len(good):
                continue
            gl = good.tolist()
            lists = next_steps_block(model, np, site, names, G[good], stains[good],
                                     [(items[ix[r]][1], items[ix[r]][2], orders[ix[r]]) for r in gl], top=5)
            F = G[good][:, fcols].tolist() if fcols else None
            for q, (r, (nxt, nfind)) in enumerate(zip(gl, lists)):
                nkey, states = items[ix[r]][0], items[ix[r]][1]
                if nxt and fcols:
                    best = max(t[1] for t in nxt)
                    if any(abs(x - best) <= tol for x in F[q]):
                        exact[nkey] = states  # a finding as good as the best stain, within the margin
                        continue
                _trim(self.next_text, self.limit_key)
                self.next_text[nkey] = self._next_json_lists(nxt, nfind)
        if exact:
            self._next_exact(exact)

    def _next_json_lists(self, nxt, nfind):
        """:meth:`_next_json` of lists of ``(name, gain, why)`` (:func:`ihc.api.next_steps_block`):
        each (name, why)'s JSON pieces and each gain's ``float.__repr__`` (what json writes) once."""
        memo = self.entry_text
        reprs = self.gain_text
        parts = []
        for lst, head in ((nxt, '{"marker":'), (nfind, '{"finding":')):
            texts = []
            for name, g, why in lst:
                pre = memo.get((head, name, why))
                if pre is None:
                    _trim(memo, self.limit_key)
                    pre = memo[(head, name, why)] = (head + _json_line(name) + ',"expected_information_gain":',
                                                     ',"why":' + _json_line(why) + "}")
                t = reprs.get(g)
                if t is None:
                    if type(g) is not float or g - g != 0.0:  # not a finite float: json's own text
                        t = _json_line(g)
                    else:
                        _trim(reprs)
                        t = reprs[g] = float.__repr__(g)
                texts.append(pre[0] + t + pre[1])
            parts.append(",".join(texts))
        text = '"next_stains":[' + parts[0] + "]"
        return text + ',"next_findings":[' + parts[1] + "]" if nfind else text

    def _next_exact(self, todo):
        """Next stains and findings of the keys ``todo`` (nkey -> states; in the key memo, not
        settled) from exact gains: every candidate's from one block evaluation
        (:class:`ihc.engine.vector.ExactGains`, the same floats as one by one) for the candidates
        the numpy estimates say can reach the list, then the same list-building as :meth:`_full`."""
        from .api import ASKABLE_FINDINGS, gain_needed, next_findings as _next_findings, next_stains as _next_stains

        block = self._exact_gains()
        model = self.model
        finds = [("finding", f) for f in ASKABLE_FINDINGS] if model.morphology is not None else []
        items, meta = [], []
        for nkey, states in todo.items():
            skey, site = nkey
            proba, status, settled, order, text, z = self._key_facts(states, skey, site)
            items.append((proba, z, site, [m for m in model.markers if m not in states]))
            meta.append((nkey, states))
        # estimated gains of every stain for the whole block (numpy, per site), the candidates
        # that can reach the list (api.gain_needed) then get their exact gain
        import numpy as np

        from .engine.vector import estimate_many

        est = self._estimate().__self__  # the GainEstimator (numpy is there: ExactGains needed it)
        by_site = {}
        for i, it in enumerate(items):
            by_site.setdefault(it[2], []).append(i)
        for site, ix in by_site.items():
            for lo in range(0, len(ix), 512):
                part = ix[lo:lo + 512]
                g = estimate_many(est, site, np.array([items[i][0] for i in part]),
                                  np.array([items[i][1] for i in part])).tolist()
                for i, row in zip(part, g):
                    proba, z, site_, cands = items[i]
                    approx = {m: row[est.index[m]] for m in cands}
                    items[i] = (proba, z, site_, gain_needed(approx, 5) + finds)
        for lo in range(0, len(items), 256):
            part = items[lo:lo + 256]
            for (proba, z, site, _), (nkey, states), g in zip(part, meta[lo:lo + 256],
                                                             block.gains(part) if block else [None] * len(part)):
                est = None if g is not None else self._estimate()
                nxt = _next_stains(model, states, site, proba, top=5, available=None, settled=False,
                                   estimate=est, scores=z, gains=g)
                nfind = _next_findings(model, states, site, proba, {}, nxt, False, scores=z, gains=g)
                _trim(self.next_text, self.limit_key)
                self.next_text[nkey] = self._next_json(nxt, nfind)

    def _next_json(self, nxt, nfind):
        """``_json_members({"next_stains": nxt, **({"next_findings": nfind} if nfind else {})})``,
        each entry's JSON written once per distinct entry."""
        text = '"next_stains":[' + self._json_dicts(nxt) + "]"
        return text + ',"next_findings":[' + self._json_dicts(nfind) + "]" if nfind else text

    def _json_dicts(self, dicts):
        """The JSON texts of ``dicts`` joined with commas, as ``_json_line`` writes each: a flat
        dict of str keys and str, finite float, int or None values is written here, from the
        member prefixes of its keys (made once per key tuple), each string's JSON (memoised: the
        same texts recur) and each number's ``__repr__`` (what json writes); anything else by json."""
        memo = self.dict_text
        heads = self.dict_heads
        out = []
        for d in dicts:
            if len(d) == 3:  # the next stains' and findings' shape: (name, gain, why), written straight
                k0, k1, k2 = d
                v0, v1, v2 = d.values()
                pre = heads.get((k0, k1, k2))
                if pre is not None and type(v0) is str and type(v1) is float and type(v2) is str \
                        and v1 - v1 == 0.0:
                    t0 = memo.get(v0)
                    if t0 is None:
                        _trim(memo)
                        t0 = memo[v0] = _json_line(v0)
                    t2 = memo.get(v2)
                    if t2 is None:
                        _trim(memo)
                        t2 = memo[v2] = _json_line(v2)
                    out.append(pre[0] + t0 + pre[1] + float.__repr__(v1) + pre[2] + t2 + "}")
                    continue
            keys = tuple(d)
            pre = heads.get(keys)
            if pre is None:
                if not all(type(k) is str for k in keys) or not keys:
                    out.append(_json_line(d))
                    continue
                pre = heads[keys] = ["{" + _json_line(keys[0]) + ":"] + ["," + _json_line(k) + ":" for k in keys[1:]]
            parts = []
            for h, v in zip(pre, d.values()):
                tv = type(v)
                if tv is str:
                    t = memo.get(v)
                    if t is None:
                        _trim(memo)
                        t = memo[v] = _json_line(v)
                elif tv is float and v - v == 0.0:  # finite
                    t = float.__repr__(v)
                elif tv is int:
                    t = int.__repr__(v)
                elif v is None:
                    t = "null"
                else:
                    break
                parts.append(h)
                parts.append(t)
            else:
                parts.append("}")
                out.append("".join(parts))
                continue
            out.append(_json_line(d))
        return ",".join(out)

    def _typicality(self, skey, states):
        typ = self.typ_memo.get(skey)  # typicality does not depend on the site
        if typ is None:
            _trim(self.typ_memo)
            typ = self.typ_memo[skey] = self.model.typicality(states)
        return typ

    def _typicality_max(self, skey, states):
        """``(max typicality,)``: all the status rule reads of it (a row without evidence needs no
        per-class list: 28 floats a key were a third of the free-text memos' memory)."""
        typ = self.typ_max_memo.get(skey)
        if typ is None:
            _trim(self.typ_max_memo)
            typ = self.typ_max_memo[skey] = (max(self.model.typicality(states)),)
        return typ

    def _status_and_differential(self, states, site, typ, findings=None):
        """Status and sorted differential, without evidence or next stains."""
        model = self.model
        proba = model.proba(states, site, findings)
        status = rules.status(model.thresholds, model.classes, proba, typ, len(states) + len(findings or ()),
                              states, findings, rules.majority_tests(model, site))
        order = sorted(range(len(model.classes)), key=lambda k: (-proba[k], k))
        return status, [(model.classes[k], proba[k]) for k in order]

    def _full(self, panel):
        """api._classify_panel, with next stains memoised on (states, site): they cost most."""
        from .api import (Result, evidence as _evidence, gist_risk_block, next_findings as _next_findings,
                          next_stains as _next_stains, panel_warnings as _warnings)
        from .engine import panel_states

        model = self.model
        states = panel_states(panel.markers, model.markers)
        site = panel.site
        proba = model.proba(states, site)
        skey = tuple(states.items())
        typ = self._typicality(skey, states)
        status = rules.status(model.thresholds, model.classes, proba, typ, len(states), states, None,
                              rules.majority_tests(model, site))
        settled = rules.settled(model.thresholds, status, proba)
        order = sorted(range(len(model.classes)), key=lambda k: (-proba[k], k))
        differential = [{"diagnosis": model.classes[k], "probability": proba[k]} for k in order]
        nkey = (skey, site)
        hit = self.next_memo.get(nkey)
        if hit is None:
            _trim(self.next_memo)
            z = model.scores(states, site)
            nxt = _next_stains(model, states, site, proba, top=5, available=None, settled=settled,
                               estimate=self._estimate(), scores=z)
            hit = self.next_memo[nkey] = (nxt, _next_findings(model, states, site, proba, {}, nxt, settled,
                                                              scores=z))
        nxt, nfind = hit
        return Result(
            model=model, panel=panel, status=status, differential=differential,
            evidence=_evidence(model, states, panel, site, proba, status),
            next_stains=[dict(n) for n in nxt],
            next_findings=[dict(n) for n in nfind],
            gist_risk=gist_risk_block(model, panel, differential),
            warnings=_warnings(model, panel, states, proba, status, typ),
            settled=settled,
        )

    def _key_facts(self, states, skey, site):
        """``(proba, status, settled, order, text, scores)`` of (states, site), memoised: ``order``
        the class indices by probability (the differential's order), ``text`` the JSON of the
        status, diagnosis, confidence and differential members."""
        nkey = (skey, site)
        hit = self.key_memo.get(nkey)
        if hit is None:
            from .engine import softmax

            model = self.model
            z = model.scores(states, site)
            proba = softmax(z)  # CompactModel.proba(states, site)
            typ = self._typicality(skey, states)
            status = rules.status(model.thresholds, model.classes, proba, typ, len(states), states, None,
                              rules.majority_tests(model, site))
            settled = rules.settled(model.thresholds, status, proba)
            order = sorted(range(len(model.classes)), key=lambda k: (-proba[k], k))
            _trim(self.key_memo, self.limit_key)
            hit = self.key_memo[nkey] = (proba, status, settled, order, self._mid_text(status, order, proba), z)
        return hit

    def _mid_text(self, status, order, proba):
        """``_json_members({"status", "diagnosis", "confidence", "differential"})`` of the classes in
        ``order``, written with each class's JSON prefix made once (json writes a float as
        ``float.__repr__``); a class name json would escape, or a probability that is not a finite
        float, takes json itself."""
        pre = self.diff_prefix
        classes = self.model.classes
        if pre is None:
            pre = self.diff_prefix = ['{"diagnosis":' + _json_line(dx) + ',"probability":' for dx in classes]
        first = order[0]
        r = float.__repr__
        try:
            if len(order) < 2 or not math.isfinite(sum(proba)):
                raise TypeError
            pick = operator.itemgetter(*order)
            diff = "},".join(map(operator.add, pick(pre), map(r, pick(proba))))  # TypeError: not a float
        except TypeError:
            differential = [{"diagnosis": classes[k], "probability": proba[k]} for k in order]
            return _json_members({"status": status, "diagnosis": classes[first] if status == "ok" else None,
                                  "confidence": proba[first], "differential": differential})
        return ('"status":' + _json_line(status) + ',"diagnosis":'
                + (_json_line(classes[first]) if status == "ok" else "null")
                + ',"confidence":' + r(proba[first]) + ',"differential":[' + diff + "}]")

    def _next_text(self, states, skey, site, facts):
        """The next stains and findings members of (states, site), memoised (computed here the
        scalar way when :meth:`prefetch` did not)."""
        from .api import next_findings as _next_findings, next_stains as _next_stains

        nkey = (skey, site)
        text = self.next_text.get(nkey)
        if text is None:
            model = self.model
            proba, status, settled, order, mid, z = facts
            nxt = _next_stains(model, states, site, proba, top=5, available=None, settled=settled,
                               estimate=self._estimate(), scores=z)
            nfind = _next_findings(model, states, site, proba, {}, nxt, settled, scores=z)
            _trim(self.next_text, self.limit_key)
            text = self.next_text[nkey] = self._next_json(nxt, nfind)
        return text

    def _object_text(self, panel, states, skey, facts, input_text=None, opening="{", closing="}"):
        """The classify object of ``panel`` (no morphological findings; ``states`` its model states,
        ``facts`` :meth:`_key_facts`') as the JSON text ``Result.to_dict()`` gives (members in its
        order): status and differential, next stains and findings once per key, each evidence line
        and warning once per text, the GIST risk block once per (leading diagnosis, site).
        ``opening`` and ``closing`` are written for its braces (a template: ``","`` and ``"}\\n"``)."""
        fns = self.object_fns
        if fns is None:  # (imported once: an import statement per key cost ~1.5 us)
            from .api import evidence_items, gist_risk_block, panel_warnings

            fns = self.object_fns = (evidence_items, gist_risk_block, panel_warnings)
        _evidence_items, gist_risk_block, _warnings = fns
        model = self.model
        site = panel.site
        proba, status, settled, order, mid, z = facts
        nxt_text = self._next_text(states, skey, site, facts)
        head = self.head_text
        if head is None:
            from .api import SCHEMA_VERSION

            head = self.head_text = _json_members(
                {"schema_version": SCHEMA_VERSION, "model": {"version": model.version, "sha256": model.sha256}})
        ev_memo = self.evidence_text  # id of the model's shared line -> (the line, its JSON)
        ev = []
        for k, e in _evidence_items(model, states, panel, site, proba, status):
            hit = ev_memo.get(id(e)) if k is not None else None
            if hit is not None and hit[0] is e:  # (the line is held here: its id is not reused)
                ev.append(hit[1])
                continue
            t = _json_line(e)
            if k is not None:
                _trim(ev_memo)
                ev_memo[id(e)] = (e, t)
            ev.append(t)
        # the GIST risk block reads the leading diagnosis, the site as given and as placed, and
        # the morphology (none here once memoised)
        gkey = (order[0], site, panel.site_text) if panel.morphology is None else None
        gist = self.gist_text.get(gkey) if gkey is not None else None
        if gist is None:
            classes = model.classes
            g = gist_risk_block(model, panel, [{"diagnosis": classes[k], "probability": proba[k]} for k in order])
            gist = _json_members({"gist_risk": g}) + "," if g is not None else ""
            if gkey is not None:
                _trim(self.gist_text)
                self.gist_text[gkey] = gist
        typ = self._typicality(skey, states) if status == "atypical" else None  # read for an atypical panel only
        w_memo = self.warning_text
        warn = []
        for w in _warnings(model, panel, states, proba, status, typ):
            t = w_memo.get(w)
            if t is None:
                _trim(w_memo)
                t = w_memo[w] = _json_line(w)
            warn.append(t)
        if input_text is None:
            input_text = _json_members({"input": panel.to_dict(ignored=True)})
        return "".join((opening, head, ",", input_text, ",", mid, ',"evidence":[', ",".join(ev), "],", nxt_text,
                        ",", gist, '"warnings":[', ",".join(warn), "]", closing))

    def _full_text(self, panel):
        """:meth:`_full` written straight to the JSON text ``Result.to_dict()`` gives
        (:meth:`_object_text`)."""
        from .engine import panel_states

        model = self.model
        states = panel_states(panel.markers, model.markers)
        skey = tuple(states.items())
        facts = self._key_facts(states, skey, panel.site)
        proba, status, settled, order, mid, z = facts
        text = self._object_text(panel, states, skey, facts)
        first = order[0]
        top = tuple((model.classes[k], proba[k]) for k in order[:3])
        return (status, model.classes[first] if status == "ok" else None, proba[first], top, None, _JsonText(text))

    def _from_panel(self, panel):
        from .engine import panel_states
        from .morphology import finding_codes

        morph = getattr(panel, "morphology", None)
        findings = finding_codes(morph) if morph and self.model.morphology is not None else {}
        if self.full:
            if findings:  # a case with morphology: the library's own assembly (no stain memo for it)
                from .api import classify_panel

                d = classify_panel(self.model, panel).to_dict()
            elif self.text:
                return self._full_text(panel)
            else:
                d = self._full(panel).to_dict()
            top = tuple((r["diagnosis"], r["probability"]) for r in d["differential"][:3])
            return (d["status"], d["diagnosis"], d["confidence"], top, None, d)
        states = panel_states(panel.markers, self.model.markers)
        skey = getattr(panel, "skey", None) or tuple(states.items())  # (a lean text panel's shared tuple)
        key = (skey, panel.site, tuple(findings.items()))
        hit = self.state_memo.get(key)
        if hit is None:
            typ = self._typicality_max(skey, states)
            status, diff = self._status_and_differential(states, panel.site, typ, findings)
            top = tuple(diff[:3])
            hit = (status, top[0][0] if status == "ok" else None, top[0][1], top, None, None)
            if self.keep:
                _trim(self.state_memo)
                self.state_memo[key] = hit
        return hit

    def outcome(self, key, build):
        """Memoised outcome for ``key``; ``build()`` returns a Panel (or raises InputError)."""
        hit = self.row_memo.get(key)
        if hit is not None:
            return hit
        try:
            hit = self._from_panel(build())
        except InputError as exc:
            hit = ("error", None, None, (), _one_line(exc), None)
        except RecursionError as exc:  # pathological text: an error row, not a crash
            hit = ("error", None, None, (), f"input too deeply nested to read: {_one_line(exc)}", None)
        if self.keep:
            _trim(self.row_memo, self.limit)
            self.row_memo[key] = hit
        return hit


def _row_error(case_id, message):
    return ("error", None, None, (), message, None)


# ----------------------------------------------------------------- column layout


class _Layout:
    """Which column is the id, the site, the panel text; which are markers."""

    def __init__(self, columns, *, panel_column=None, site_column=None, id_column=None):
        from .markers import canonical

        self.columns = [("" if c is None else str(c)) for c in columns]
        norm = [_norm_header(c) for c in self.columns]
        stripped = [c.strip() for c in self.columns]
        seen = {}
        for i, c in enumerate(stripped):
            if c and c in seen:
                raise InputError(f"column {c!r} appears twice in the header (columns {seen[c] + 1} and {i + 1}); "
                                 "give each column once")
            seen[c] = i

        def find(name, what, required):
            if name is None:
                return None
            for i, c in enumerate(stripped):
                if c == str(name).strip():
                    return i
            for i, c in enumerate(norm):
                if c == _norm_header(name):
                    return i
            if required:
                raise InputError(f"no {what} column {name!r} in the header; columns are: "
                                 + ", ".join(repr(c) for c in self.columns[:20]))
            return None

        self.id_index = find(id_column, "case id", False) if id_column else None
        if self.id_index is None and id_column in (None, "case_id"):
            for cand in _ID_NAMES:
                self.id_index = find(cand, "case id", False)
                if self.id_index is not None:
                    break
        self.site_index = find(site_column or "site", "site", site_column is not None)
        self.panel_index = find(panel_column or "panel", "panel", panel_column is not None)
        from .morphology import column_key

        #: Morphology / clinical columns (mitoses, necrosis, atypia, size_cm, age, sex...): index -> field.
        self.morph_indices = {i: column_key(c) for i, c in enumerate(self.columns)
                              if i not in (self.id_index, self.site_index, self.panel_index)
                              and c.strip() and canonical(c) is None and column_key(c)}
        self.marker_indices = [i for i, c in enumerate(self.columns)
                               if i not in (self.id_index, self.site_index, self.panel_index)
                               and c.strip() and canonical(c) is not None]
        if self.panel_index is None and not self.marker_indices:
            raise InputError(
                "no usable column: the header names no marker (SMA, desmin, CD117, Ki-67...; "
                "`ihc markers` lists them) and no free-text panel column (--panel-column); columns are: "
                + (", ".join(repr(c) for c in self.columns[:20]) or "(none)"))
        # structured mode: every column except id and site goes to panel_from_mapping,
        # which reads markers and reports unknown columns
        self.mapping_indices = [i for i in range(len(self.columns))
                                if i not in (self.id_index, self.site_index) and i not in self.morph_indices]
        self.mode = "text" if self.panel_index is not None else "structured"


def _clean_cell(v):
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    pd = sys.modules.get("pandas")  # only if the caller already imported it
    if pd is not None and (v is pd.NA or v is pd.NaT):
        return None
    return v


def _site_arg(cell):
    if cell is None:
        return None
    s = str(cell).strip()
    return s or None


_EMPTY = ("<empty>",)


def _cell_coder(column, model_markers=None):
    """A memoised function: cell -> the code of that cell in a row's memo key.

    With ``model_markers`` (the lean CSV path), a value is coded by the state the
    model sees (Ki-67 30 -> ``high``): rows that differ only below that level share
    a result.
    """
    from .markers import normalise_name
    from .engine import panel_states
    from .parse import ND_CELLS as _ND_CELLS, VOCABULARY as _VOCAB, clip as _clip, parse_value

    k = column.strip()
    # as panel_from_mapping reads columns: context names first, then the vocabulary
    context = k.lower() in ("case_id", "id", "site", "age", "sex", "panel")
    name = None if (not k or context) else _VOCAB.get(normalise_name(k))
    memo = {}
    objs = []  # small int id -> code (keys made of ints hash fast)
    ids = {}

    def intern(c):
        i = ids.get(c)
        if i is None:
            if len(objs) >= 4 * MEMO_LIMIT:  # endless distinct errors: the code itself is the key part
                return c
            i = ids[c] = len(objs)
            objs.append(c)
        return i

    def code(cell):
        try:
            hit = memo.get(cell)
        except TypeError:  # unhashable: never memoised
            hit = None
            cell = str(cell)
        if hit is not None:
            return hit
        if cell is None or (isinstance(cell, float) and math.isnan(cell)):
            return intern(_EMPTY)
        text = str(cell)
        if name is None:
            c = _EMPTY if not text.strip() else ("nd" if text.strip().lower() in _ND_CELLS else "filled")
        elif not text.strip():
            c = _EMPTY
        else:
            try:
                v = parse_value(name, cell)
                if model_markers is not None and v is not None:
                    v = panel_states({name: v}, model_markers).get(name, v)
                c = ("v", v)
            except InputError as exc:
                c = ("err", str(exc))
        c = intern(c)
        if len(memo) < MEMO_LIMIT:
            memo[cell] = c
        return c

    code.memo = memo
    code.decode = lambda k: objs[k] if type(k) is int else k
    code.marker = name
    code.column = k
    code.context = context
    code.clipped = _clip(k, 40)
    return code


class _LeanPanel:
    """What the lean path reads of a Panel: markers (model states), the canonical site and,
    for a free-text panel, the morphology its text gave."""

    __slots__ = ("markers", "site", "morphology", "skey")

    def __init__(self, markers, site, morphology=None, skey=None):
        self.markers = markers
        self.site = site
        self.morphology = morphology
        self.skey = skey  # tuple(markers.items()) when the caller holds it already


def _builders(layout, mode, model_markers=None):
    """``(key_of, build)`` for a layout: a row's memo key, and its Panel; morphology columns ride
    along (in the key, and set on the Panel), and keep a file off the lean/vectorised route."""
    key_of, build = _panel_builders(layout, mode, None if layout.morph_indices else model_markers)
    if not layout.morph_indices:
        return key_of, build
    from .reading import with_morphology

    morph = sorted(layout.morph_indices.items())

    def key_with_morphology(cells):
        return (key_of(cells), tuple(cells[i] for i, _ in morph))

    def build_with_morphology(cells, key=None):
        panel = build(cells, None if key is None else key[0])
        given = {f: cells[i] for i, f in morph if cells[i] is not None and str(cells[i]).strip()}
        return with_morphology(panel, given) if given else panel

    return key_with_morphology, build_with_morphology


def _lean_text_builders(pi, si, build_one, mode, model_markers):
    """``(key_of, build)`` of a free-text layout on the lean (CSV) path.

    A row's key is what its result depends on: the model states and morphology findings its
    text gives (memoised per distinct text, without the site) and the canonical site (memoised
    per site cell). Rows whose texts differ only in spelling, order of no consequence or site
    wording then share one result, and a text is read once whatever sites it comes with. The
    site only adds a warning to a Panel (never an error), and the CSV output carries no
    warnings. A text the reader refuses is keyed by itself: ``build_one`` reads that row
    again, with its site, for the reader's own error.
    """
    from .engine import panel_states
    from .morphology import finding_codes
    from .reading import parse
    from .sites import normalise_site

    # text cell -> (key part, morphology or None); the key part is (states, findings), shared by
    # every text that gives it, or ("err", cell) for a text the reader refuses
    text_memo = {}
    parts = {}
    site_memo = {}

    def read_text(cell):
        try:
            if cell is None or not str(cell).strip():
                raise EmptyInputError("empty panel: the panel cell is empty")
            panel = parse(str(cell), mode=mode)
        except (InputError, RecursionError):
            return (("err", cell), None)
        morph = panel.morphology or None
        part = (tuple(panel_states(panel.markers, model_markers).items()),
                tuple(finding_codes(morph).items()) if morph is not None else ())
        shared = parts.get(part)
        if shared is None:
            _trim(parts, TEXT_MEMO_LIMIT)
            shared = parts[part] = part
        return (shared, morph)

    def key_of(cells):
        cell = cells[pi]
        hit = text_memo.get(cell)
        if hit is None:
            hit = read_text(cell)
            _trim(text_memo, TEXT_MEMO_LIMIT)
            text_memo[cell] = hit
        if si is None:
            return (hit[0], None)
        sc = cells[si]
        site = site_memo.get(sc)
        if site is None:
            site = (normalise_site(_site_arg(sc))[0],) if sc is not None else (None,)
            if len(site_memo) < MEMO_LIMIT:
                site_memo[sc] = site
        return (hit[0], site)

    def build(cells, key=None):
        hit = text_memo.get(cells[pi]) if key is not None else None
        if hit is None or hit[0][0] == "err":  # an error (or a text no longer memoised): the reader itself
            return build_one(cells)
        return _LeanPanel(dict(hit[0][0]), key[1][0] if key[1] is not None else None, hit[1], hit[0][0])

    key_of.model_level = True  # a key is the model states, findings and canonical site
    key_of.tail_limit = TEXT_MEMO_LIMIT  # rows kept by the CSV tail memo
    return key_of, build


def _panel_builders(layout, mode, model_markers=None):
    from .parse import finish as _finish, panel_from_mapping
    from .reading import parse
    from .sites import normalise_site

    cols = layout.columns
    if layout.mode == "text":
        pi, si = layout.panel_index, layout.site_index

        def key_of(cells):
            return (cells[pi], cells[si] if si is not None else None)

        def build(cells, key=None):
            text = cells[pi]
            site = _site_arg(cells[si]) if si is not None else None
            if text is None or not str(text).strip():
                raise EmptyInputError("empty panel: the panel cell is empty")
            return parse(str(text), site=site, mode=mode)

        if model_markers is not None:
            return _lean_text_builders(pi, si, build, mode, model_markers)
    else:
        idx = layout.mapping_indices
        si = layout.site_index
        # The memo key of a row is one small code per cell: the value parse_value reads
        # (or its error message) for a marker column, empty / not-done / filled for any other
        # column, and the site as written. Everything the result depends on is in the key,
        # so the result computed for one row serves every row with the same key; the codes
        # themselves are memoised per column, so a row costs a few dict look-ups.
        names = [_cell_coder(cols[i]).marker for i in idx]
        # lean (CSV) keys code values by model state and the site by its canonical name;
        # two columns for one marker need the exact values (a conflict is an error)
        named = [m for m in names if m]
        lean = model_markers is not None and len(named) == len(set(named))
        coders = [_cell_coder(cols[i], model_markers if lean else None) for i in idx]
        pairs = list(zip(idx, coders))
        memos = [c.memo for c in coders]
        pick = operator.itemgetter(*idx) if len(idx) > 1 else (lambda cells: (cells[idx[0]],))
        site_memo = {}

        def site_code(cell):
            hit = site_memo.get(cell)
            if hit is None:
                hit = (normalise_site(_site_arg(cell))[0],) if cell is not None else (None,)
                if len(site_memo) < MEMO_LIMIT:
                    site_memo[cell] = hit
            return hit

        def key_of(cells):
            sub = pick(cells)
            key = list(map(dict.get, memos, sub))
            if None in key:
                key = [coder(cell) for coder, cell in zip(coders, sub)]
            if si is not None:
                key.append(site_code(cells[si]) if lean else cells[si])
            return tuple(key)

        def slow(cells):
            mapping = {cols[i]: cells[i] for i in idx}
            site = _site_arg(cells[si]) if si is not None else None
            if all(v is None or str(v).strip() == "" for v in mapping.values()):
                raise EmptyInputError("empty panel: every marker cell of the row is empty")
            return panel_from_mapping(mapping, site=site, mode=mode)

        # a context column named "site" among the mapped ones changes how the site is read:
        # leave such layouts to panel_from_mapping itself
        other_site = any(cols[i].strip().lower() == "site" for i in idx)

        def build(cells, key=None):
            """The Panel of a row, from its memo-key codes (cells parsed once per column value).

            Reads the codes exactly as panel_from_mapping reads the cells (tested against it);
            the rare rows it would refuse for a conflict or no marker go to panel_from_mapping
            itself, for its message.
            """
            if key is None or other_site:
                return slow(cells)
            codes = [coder.decode(k) for coder, k in zip(coders, key[:len(pairs)])]
            if all(c is _EMPTY for c in codes):
                raise EmptyInputError("empty panel: every marker cell of the row is empty")
            markers = {}
            unknown = []
            for (i, coder), c in zip(pairs, codes):
                name = coder.marker
                if name is None:
                    if c == "filled" and coder.column and not coder.context and coder.clipped not in unknown:
                        unknown.append(coder.clipped)
                    continue
                if c is _EMPTY:
                    continue
                if c[0] == "err":
                    raise InvalidValueError(c[1])
                v = c[1]
                if v is None:
                    continue
                if name in markers and markers[name] != v:
                    return slow(cells)
                markers[name] = v
            if not markers:
                return slow(cells)
            if lean:
                # the lean path needs only the model states (already in the codes) and the
                # canonical site (in the key); strict mode's unknown-marker error needs the rest
                if mode == "strict" and unknown:
                    return slow(cells)
                return _LeanPanel(markers, key[-1][0] if si is not None else None)
            site = _site_arg(cells[si]) if si is not None else None
            return _finish(markers, unknown, [], [], site, mode)

        # what the JSON Lines templates (_Templates) need: the columns' coders, in the key's order
        if not lean and not other_site:
            key_of.coders = coders
        # what the vectorised CSV path (_FastStructured) needs to code whole columns at once
        if lean and not other_site:
            key_of.fast = {"coders": coders, "memos": memos, "idx": idx, "si": si, "site_code": site_code}
        key_of.model_level = lean and not other_site
    return key_of, build


# ----------------------------------------------------------------- in-memory records


def classify_rows(records, *, columns=None, panel_column=None, site_column="site", id_column="case_id",
                  mode="default", model=None, full=False):
    """Classify in-memory rows; one :class:`BatchRow` per record, in order.

    Parameters
    ----------
    records : iterable of dict
        One mapping of column -> cell per case (e.g. ``df.to_dict("records")``).
    columns : list of str, optional
        The column names (default: the first record's keys).
    panel_column : str, optional
        A free-text panel column; default ``panel`` when present, else marker columns are read.
    site_column, id_column : str
        Context columns (used when present).
    mode : {"default", "strict", "lenient"}
    model : CompactModel or path, optional
    full : bool
        Also compute the whole classify object (``BatchRow.result``: evidence, next stains).

    Raises
    ------
    InputError
        No usable column (no marker column and no panel column), or a named column is missing.
    """
    records = list(records) if not isinstance(records, list) else records
    if columns is None:
        columns = list(records[0].keys()) if records else []
    if not columns:
        return []
    layout = _Layout(columns, panel_column=panel_column,
                     site_column=site_column if site_column not in (None, "site") else None,
                     id_column=id_column)
    clf = _Classifier(model, mode, full)
    key_of, build = _builders(layout, mode, None if full else clf.model.markers)
    names = layout.columns
    out = []
    for n, rec in enumerate(records, 1):
        cells = [_clean_cell(rec.get(c)) for c in columns]
        cid = cells[layout.id_index] if layout.id_index is not None else n
        if isinstance(cid, float) and cid.is_integer():
            cid = int(cid)
        try:
            key = key_of(cells)
            hash(key)
            o = clf.outcome(key, lambda: build(cells, key))
        except TypeError:  # unhashable cells (lists...): no memo
            o = clf.outcome(("__nomemo__", n), lambda: build(cells))
        out.append(BatchRow(cid, o[0], o[1], o[2], o[3], o[4], o[5]))
    del names
    return out


# ----------------------------------------------------------------- reading a CSV file


def classify_frame(df, *, panel_column=None, site_column="site", id_column="case_id", mode="default", model=None):
    """Classify every row of a DataFrame; one output row per input row, in order.

    Columns are marker columns (canonical names or synonyms) or one free-text
    ``panel_column``. Returns a DataFrame with ``case_id``, ``status``,
    ``diagnosis``, ``confidence``, ``dx1``, ``p1``, ``dx2``, ``p2``, ``dx3``,
    ``p3``, ``error``; a row that cannot be read has ``status="error"``.
    """
    import pandas as pd

    rows = classify_rows(df.to_dict("records"), columns=list(df.columns), panel_column=panel_column,
                         site_column=site_column, id_column=id_column, mode=mode, model=model)
    out = pd.DataFrame([r.csv_row() for r in rows], columns=list(CSV_COLUMNS), index=df.index)
    for col in ("confidence", "p1", "p2", "p3"):
        out[col] = out[col].astype(float)
    return out


def _detect_encoding(head):
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8"  # the BOM is stripped from the first line
    if head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff"):
        return "utf-16"
    if len(head) >= 4:
        if head[1] == 0 and head[3] == 0 and head[0] != 0:
            return "utf-16-le"
        if head[0] == 0 and head[2] == 0 and head[1] != 0:
            return "utf-16-be"
    return "utf-8"


def _decode(raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


class _Source:
    """Physical text lines of the input (terminators stripped), with bytes read for progress."""

    def __init__(self, binary, total=None):
        self.binary = binary
        self.total = total
        self.done = 0
        self.read_bytes = READ_BYTES
        head = binary.peek(4)[:4] if hasattr(binary, "peek") else b""
        self.encoding = _detect_encoding(head)
        self.line_no = 0
        self.cr_only = False

    def __iter__(self):
        for kind, payload in self.blocks():
            if kind == "text":
                yield from payload.split("\n")
            else:
                yield from payload

    def blocks(self):
        """Yield ``("lines", [line, ...])`` or ``("text", text)`` blocks, in order.

        A ``"text"`` block is clean UTF-8 (no decoding fallback, no CR left once CRLF
        line ends are read as LF) whose lines are ``text.split("\\n")``, exactly the
        lines the ``"lines"`` form would hold; the batch fast path reads it whole.
        """
        first = True
        if self.encoding.startswith("utf-16"):
            # lines end at LF only, as in the UTF-8 path: a lone CR inside a record is not a record break
            # (TextIOWrapper's newline="" would split there, giving a row the UTF-8 file does not have)
            text = io.TextIOWrapper(self.binary, encoding=self.encoding, errors="replace", newline="\n")
            block = []
            for line in text:
                self.done += 2 * len(line)
                self.line_no += 1
                line = line.rstrip("\n").rstrip("\r")
                if first:
                    line = line.lstrip("\ufeff")
                    first = False
                    self.cr_only = "\r" in line  # old Mac line ends: the whole file reads as one line
                if self.cr_only:
                    block.extend(line.split("\r"))
                else:
                    block.append(line)
                if len(block) >= CHUNK_ROWS:
                    yield "lines", block
                    block = []
            if block:
                yield "lines", block
            return
        read = getattr(self.binary, "read1", None) or self.binary.read
        rest = b""
        while True:
            block = read(self.read_bytes)
            if not block:
                if not rest:
                    return
                data, rest = rest, b""
                chunk = data
            else:
                self.done += len(block)
                data = rest + block if rest else block
                cut = data.rfind(b"\n")
                if cut < 0:
                    rest = data
                    continue
                chunk, rest = data[:cut], data[cut + 1:]
            clean = True
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError:  # decode line by line: cp1252/latin-1 where not UTF-8
                text = "\n".join(_decode(raw) for raw in chunk.split(b"\n"))
                clean = False
            if first:
                first = False
                text = text.lstrip("\ufeff")
                # a file with old Mac line ends (a lone CR) reads as one physical line
                nl = text.find("\n")
                self.cr_only = "\r" in (text if nl < 0 else text[:nl]).rstrip("\r")
            self.line_no += text.count("\n") + 1
            if "\r" in text and clean and not self.cr_only:
                text = text.replace("\r\n", "\n")  # CRLF line ends: the same lines as rstrip("\r")
                if text.endswith("\r"):  # the block's last line, whose LF is where the block was cut
                    text = text[:-1]
                clean = "\r" not in text
            elif "\r" in text:
                clean = False
            if clean:
                yield "text", text
                continue
            lines = text.split("\n")
            if "\r" in text:
                lines = [ln.rstrip("\r") for ln in lines]
                if self.cr_only:
                    lines = [part for ln in lines for part in ln.split("\r")]
            yield "lines", lines


def _header_of(blocks):
    """(the first non-blank line, [the rest of its block]) from ``_Source.blocks()``; (None, []) if none."""
    for kind, payload in blocks:
        if kind == "text":
            pos = 0
            while True:
                nl = payload.find("\n", pos)
                line = payload[pos:] if nl < 0 else payload[pos:nl]
                if line.strip():
                    return line, ([("text", payload[nl + 1:])] if nl >= 0 else [])
                if nl < 0:
                    break
                pos = nl + 1
        else:
            for i, line in enumerate(payload):
                if line.strip():
                    return line, [("lines", payload[i + 1:])]
    return None, []


def _lines_of(blocks):
    """The physical lines of ``_Source.blocks()`` blocks."""
    for kind, payload in blocks:
        if kind == "text":
            yield from payload.split("\n")
        else:
            yield from payload


def _sniff_delimiter(header):
    best, count = ",", header.count(",")
    for d in (";", "\t"):
        c = header.count(d)
        if c > count:
            best, count = d, c
    return best


def _csv_line(text, delim):
    """Fields of one record's text with the csv module (lenient); None if the csv module refuses it."""
    if "\r" in text:  # a lone CR inside a record is read as a space (never as a record break)
        text = text.replace("\r", " ")
    try:
        # a text without a line break is one line as io.StringIO(newline="") would yield it
        recs = list(csv.reader((text,) if text and "\n" not in text else io.StringIO(text, newline=""),
                               delimiter=delim))
    except csv.Error:
        return None
    if len(recs) != 1:
        return None
    return recs[0]


def _records(lines, delim, ncols):
    """Yield ``(fields, note)`` per record; ``note`` is None or a reason the record is suspect.

    A line without quotes is split as is. A line with an unbalanced quote may
    open a field that spans lines (RFC 4180): the following lines are joined
    when that gives one record with the header's cell count within
    MAX_FIELD_LINES lines; otherwise the line stands alone (read leniently) and
    a cell-count mismatch makes it an error row. A line is never dropped.
    """
    it = iter(lines)
    pending = []

    def nxt():
        if pending:
            return pending.pop()
        return next(it)

    while True:
        try:
            line = nxt()
        except StopIteration:
            return
        if not line or line.isspace():  # a blank line is not a row
            continue
        if '"' not in line:
            yield line.split(delim), None
            continue
        if line.count('"') % 2 == 0:
            fields = _csv_line(line, delim)
            if fields is None:
                yield line.split(delim), "__unreadable__"
            else:
                yield fields, None
            continue
        # odd quote count: maybe a quoted field spanning lines
        taken = []
        joined = line
        closed = False
        for _ in range(MAX_FIELD_LINES):
            try:
                more = nxt()
            except StopIteration:
                break
            taken.append(more)
            joined += "\n" + more
            if more.count('"') % 2 == 1:
                closed = True
                break
        if closed:
            fields = _csv_line(joined, delim)
            if fields is not None and len(fields) == ncols:
                yield fields, None
                continue
        pending.extend(reversed(taken))
        fields = _csv_line(line, delim)
        yield (fields if fields is not None else line.split(delim)), "__stray_quote__"


def _open_input(source):
    """(binary stream, total bytes or None, close?) for a path, '-' or a binary file object."""
    if source is None or source == "-":
        buf = sys.stdin.buffer
        if not hasattr(buf, "peek"):
            buf = io.BufferedReader(buf)
        return buf, None, False
    if hasattr(source, "read"):
        buf = source
        if not hasattr(buf, "peek"):
            buf = io.BufferedReader(buf) if isinstance(buf, io.RawIOBase) else io.BufferedReader(_Raw(buf))
        return buf, None, False
    p = Path(source)
    if p.is_dir():
        raise InputError(f"{source}: is a folder, not a CSV file")
    try:
        fh = open(p, "rb")
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot be read ({exc.strerror or exc})") from None
    try:
        total = os.fstat(fh.fileno()).st_size
    except OSError:  # pragma: no cover
        total = None
    return fh, total, True


class _Raw(io.RawIOBase):
    """Wrap a file-like object with ``read`` so it can be buffered (and peeked)."""

    def __init__(self, f):
        self.f = f

    def readable(self):
        return True

    def readinto(self, b):
        data = self.f.read(len(b))
        if isinstance(data, str):
            data = data.encode("utf-8")
        n = len(data)
        b[:n] = data
        return n


# ----------------------------------------------------------------- writing


def output_format_for(output, fmt=None):
    """The output format: ``fmt`` if given, else from the output's extension (csv by default)."""
    if fmt:
        if fmt not in _FORMATS:
            raise InputError(f"unknown format {fmt!r}: use csv or jsonl")
        return fmt
    if output and output != "-" and isinstance(output, (str, os.PathLike)):
        suffix = Path(output).suffix.lower()
        if suffix in (".jsonl", ".ndjson", ".json"):
            return "jsonl"
    return "csv"


def _csv_quote(s):
    if s is None:
        return ""
    s = str(s)
    if '"' in s or "," in s or "\n" in s or "\r" in s:
        return '"' + s.replace('"', '""') + '"'
    return s


def _csv_tail(o):
    status, dx, conf, top, err, _ = o
    parts = [status, dx or "", "" if conf is None else f"{conf:.6f}"]
    for i in range(3):
        if i < len(top):
            parts.append(top[i][0])
            parts.append(f"{top[i][1]:.6f}")
        else:
            parts += ["", ""]
    parts.append(_csv_quote(err) if err else "")
    return "," + ",".join(parts) + "\n"


#: Characters JSON allows raw but line splitters (Python's str.splitlines, some JS readers)
#: treat as line ends: escaped, so one JSON Lines row stays one line for every reader.
#: (json.dumps already escapes every character below U+0020.)
_LINE_BREAKERS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


#: what ``json.dumps(obj, ensure_ascii=False, separators=(",", ":"))`` uses, made once (dumps with
#: arguments builds a new encoder for every call: a quarter of the cost of a small object)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _json_line(obj):
    s = _JSON.encode(obj)
    if s.isascii() or ("\x85" not in s and "\u2028" not in s and "\u2029" not in s):
        return s  # (three scans in C are faster than translating a text that holds none)
    return s.translate(_LINE_BREAKERS)


class _JsonText(str):
    """A classify object already written as JSON text (line breakers escaped)."""


def _json_members(obj):
    """The members of ``obj``'s JSON text without its braces (``_json_line(obj)[1:-1]``): dicts'
    texts spliced with commas are the text of the merged dict."""
    return _json_line(obj)[1:-1]


def _jsonl_tail(o):
    status, dx, conf, top, err, result = o
    if isinstance(result, _JsonText):
        return "," + result[1:] + "\n"
    if status == "error":
        from .api import SCHEMA_VERSION

        body = {"schema_version": SCHEMA_VERSION, "status": "error", "error": err}
    else:
        body = result
    s = _json_line(body)
    return "," + s[1:] + "\n"


def _ascii_runs(lines):
    """``lines`` joined into runs of ASCII lines and runs of the others: a list of texts (or one)."""
    if all(map(str.isascii, lines)):
        return "".join(lines)
    runs, start, wide = [], 0, None
    for i, line in enumerate(lines):
        w = not line.isascii()
        if w is not wide:
            if i > start:
                runs.append("".join(lines[start:i]))
            start, wide = i, w
    runs.append("".join(lines[start:]))
    return runs


def _write_text(out, text):
    """Write a render's output: a text, or a list of texts (runs of ASCII rows and the rows
    between them: one text holding a non-ASCII row would be stored and encoded wide whole)."""
    if type(text) is list:
        for t in text:
            out.write(t)
    else:
        out.write(text)


class _sigterm_raises:
    """While active (main thread only), SIGTERM raises SystemExit(143) so cleanup runs."""

    def __enter__(self):
        self.old = None
        if threading.current_thread() is threading.main_thread():
            def handler(signum, frame):
                raise SystemExit(128 + signum)
            try:
                self.old = signal.signal(signal.SIGTERM, handler)
            except (ValueError, OSError):  # pragma: no cover
                self.old = None
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)
        return False


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


# ----------------------------------------------------------------- the run


#: Rows handed to the classifier (or a worker process) at a time.
CHUNK_ROWS = 4096


def _trim(memo, limit=MEMO_LIMIT):
    """Bound a memo: drop its oldest half (dicts keep insertion order)."""
    if len(memo) >= limit:
        for k in list(itertools.islice(memo, len(memo) // 2)):
            del memo[k]


class _RowWorker:
    """Renders chunks of records to output text; memoised per key."""

    def __init__(self, layout, *, ncols, mode, model, fmt):
        self.layout = layout
        self.ncols = ncols
        self.fmt = fmt
        self.clf = _Classifier(model, mode, full=(fmt == "jsonl"))
        self.clf.text = fmt == "jsonl"
        self.key_of, self.build = _builders(layout, mode, None if self.clf.full else self.clf.model.markers)
        self.render_outcome = _csv_tail if fmt == "csv" else _jsonl_tail
        self.tail_memo = {}
        # CSV rows keyed at the model's level: the tail memo (and the block route's) holds what the
        # classifier's memos would (the same key, the same limit); keeping those too doubled the
        # memory a distinct key costs (free text, 100,000 rows: 17 MiB)
        self.tail_limit = self.clf.limit
        if fmt == "csv" and getattr(self.key_of, "model_level", False):
            self.clf.keep = False
            self.tail_limit = getattr(self.key_of, "tail_limit", self.clf.limit)
        #: JSON Lines of marker columns: rows written from templates (see _Templates)
        self.templates = _Templates(self) if (fmt == "jsonl" and layout.mode == "structured"
                                              and not layout.morph_indices
                                              and getattr(self.key_of, "coders", None) is not None) else None

    def _tail(self, o):
        return self.render_outcome(o), o[0] == "error"

    def _prefetch(self, chunk):
        """Whole classify objects: the chunk's new rows' Panels, built once here (key -> Panel; a row
        that does not build is left to the loop, which makes it an error row), and their next
        stains computed as one block (:meth:`_Classifier.prefetch`)."""
        ncols, key_of, build, clf = self.ncols, self.key_of, self.build, self.clf
        built = {}
        for fields, note in chunk:
            if note is None and len(fields) == ncols:
                key = key_of(fields)
                if key in built or key in self.tail_memo or key in clf.row_memo:
                    continue
                try:
                    built[key] = build(fields, key)
                except (InputError, RecursionError):
                    continue
        clf.prefetch([p for p in built.values() if not getattr(p, "morphology", None)])
        return built

    def render(self, chunk, start):
        """(text, errors) for ``chunk`` of ``(fields, note)`` records numbered from ``start``."""
        if self.templates is not None:
            return self.templates.render(chunk, start)
        ncols = self.ncols
        id_index = self.layout.id_index
        key_of, build, clf = self.key_of, self.build, self.clf
        tail_memo, tail_limit = self.tail_memo, self.tail_limit
        csv_out = self.fmt == "csv"
        quote = _csv_quote
        out = []
        errors = 0
        n_row = start - 1
        built = self._prefetch(chunk) if clf.full else {}
        for fields, note in chunk:
            n_row += 1
            if note is None and len(fields) == ncols:
                cid = fields[id_index] if id_index is not None else str(n_row)
                key = key_of(fields)
                hit = tail_memo.get(key)
                if hit is None:
                    _trim(tail_memo, tail_limit)
                    pre = built.get(key)
                    hit = tail_memo[key] = self._tail(clf.outcome(key, (lambda: pre) if pre is not None
                                                                 else (lambda: build(fields, key))))
            else:
                cid, o = self._odd_row(fields, note, n_row)
                hit = self._tail(o)
            if hit[1]:
                errors += 1
            if csv_out:
                out.append(quote(cid) + hit[0])
            else:
                out.append('{"case_id":' + _json_line(cid) + hit[0])
        return "".join(out), errors

    def _row_tail(self, fields, key):
        """``(tail, is_error)`` of a well-formed row, the row path's way (memoised per row key)."""
        hit = self.tail_memo.get(key)
        if hit is None:
            _trim(self.tail_memo, self.tail_limit)
            hit = self.tail_memo[key] = self._tail(self.clf.outcome(key, lambda: self.build(fields, key)))
        return hit

    def _odd_row(self, fields, note, n_row):
        ncols = self.ncols
        id_index = self.layout.id_index
        n = len(fields)
        if n > ncols and not any(f.strip() for f in fields[ncols:]):
            fields = fields[:ncols]
            n = ncols
        if id_index is not None:
            cid = fields[id_index] if id_index < n else str(n_row)
        else:
            cid = str(n_row)
        if note == "__unreadable__":
            return cid, _row_error(cid, "the row cannot be read as CSV (a line break or quote inside an "
                                        "unquoted cell); the row was not read")
        if n != ncols:
            why = (f"row has {n} cells, the header has {ncols}"
                   + (" (an unbalanced quote?)" if note == "__stray_quote__" else "")
                   + "; the row was not read")
            return cid, _row_error(cid, why)
        key = self.key_of(fields)
        return cid, self.clf.outcome(key, lambda: self.build(fields, key))


def _json_id(cid):
    """``_json_line(cid)`` for a case id (a str): a plain printable ASCII id without a quote or
    backslash is written as json writes it, quoted; anything else by json itself."""
    if cid.isascii() and cid.isprintable() and '"' not in cid and "\\" not in cid:
        return '"' + cid + '"'
    return _json_line(cid)


class _Ki67Slot:
    """Stands for a row's Ki-67 figure in a template's panel: wherever the classify object writes
    the figure as a word (``api.value_word``: evidence lines, warnings), this writes ``word``."""

    __slots__ = ("word",)

    def __init__(self, word):
        self.word = word

    def __str__(self):
        return self.word

    def __repr__(self):
        return self.word


#: Template memo: templates kept (a template is one JSON Lines row without its case id, ~6 KB;
#: sized with JSONL_KEY_LIMIT, which says what was measured).
TEMPLATE_LIMIT = 20_000


class _Templates:
    """JSON Lines rows of a marker-column layout, each written from a template of its panel.

    A row's object is a function of its cells' codes (the row key of :func:`_panel_builders`)
    and, through them, of the Ki-67 figure only where the figure is written: the ``input``
    member's number, and the words (``30%``) of the evidence lines and warnings that name it.
    So a row is keyed without the figure (the Ki-67 column's code replaced by the figure's model
    state): per such key the object is built once (:meth:`_Classifier._object_text`, the row
    path's own assembly) for the key's first panel with the figure replaced by a slot object,
    whose word is a token, and the input's number by a second token; the text's tokens become
    format fields, and each row fills in its own figure, as json writes the number and the word.
    The tokens hold a NUL (json writes it as ``\\u0000``) and a nonce; a text whose tokens do not
    account for every ``\\u0000`` in it, a panel that does not hold its key's figure, a
    row the reader refuses or one with morphology is written the row path's way instead.
    The key facts and next stains of the chunk's new keys are computed as one block first
    (:meth:`_Classifier.prefetch`). Tested byte for byte against the one-row-at-a-time writer.
    """

    def __init__(self, worker):
        import secrets

        from .api import value_word
        from .engine import panel_states

        self.worker = worker
        self.clf = worker.clf
        coders = worker.key_of.coders
        ki = [j for j, c in enumerate(coders) if c.marker == "Ki67"]
        self.ki67 = ki[0] if len(ki) == 1 else None  # the key position of the Ki-67 column, if one
        self.coder = coders[self.ki67] if self.ki67 is not None else None
        nonce = secrets.token_hex(8)
        self.num_token = "\x00" + nonce + "n\x00"
        self.word_token = "\x00" + nonce + "w\x00"
        #: the tokens as the JSON text holds them (json writes a NUL as \u0000)
        self.num_json = _json_line(self.num_token)
        self.word_json = _json_line(self.word_token)[1:-1]
        self.slot = _Ki67Slot(self.word_token)
        self.codes = {}  # Ki-67 code -> (template code, value, number text, word text) or None
        self.memo = {}   # template key -> (text, has fields, representative value) or None (the row path)
        self.value_word = value_word
        self.panel_states = panel_states

    def _code(self, c):
        """The Ki-67 column's code ``c`` as a template code, with the figure's texts (None: no figure)."""
        hit = self.codes.get(c, self.codes)
        if hit is self.codes:
            hit = None
            o = self.coder.decode(c)
            if isinstance(o, tuple) and len(o) == 2 and o[0] == "v" and isinstance(o[1], (int, float)) \
                    and not isinstance(o[1], bool):
                st = self.panel_states({"Ki67": o[1]}, self.clf.model.markers).get("Ki67")
                if st is not None:
                    hit = ((_Ki67Slot, st), o[1], _json_line(o[1]), _json_line(self.value_word("Ki67", o[1]))[1:-1])
            if len(self.codes) < MEMO_LIMIT:
                self.codes[c] = hit
        return hit

    def _build(self, new):
        """Templates of the new keys ``new`` (template key -> (fields, row key, value))."""
        from .exceptions import InputError as _InputError

        worker, clf = self.worker, self.clf
        panels = {}
        for tk, (fields, key, v) in new.items():
            try:
                panel = worker.build(fields, key)
            except (_InputError, RecursionError):
                panel = None
            if panel is None or getattr(panel, "morphology", None) \
                    or (v is not None and type(panel.markers.get("Ki67")) is not type(v)) \
                    or (v is not None and panel.markers.get("Ki67") != v):
                self.memo[tk] = None
                continue
            panels[tk] = (panel, self.panel_states(panel.markers, clf.model.markers))
        clf.prefetch_states([(states, panel.site) for panel, states in panels.values()])
        for tk, (panel, states) in panels.items():
            v = new[tk][2]
            skey = tuple(states.items())
            facts = clf._key_facts(states, skey, panel.site)
            if v is None:
                self.memo[tk] = (clf._object_text(panel, states, skey, facts, opening=",", closing="}\n"), False)
                continue
            try:
                panel.markers["Ki67"] = self.slot
                d = panel.to_dict(ignored=True)
                d["markers"]["Ki67"] = self.num_token
                text = clf._object_text(panel, states, skey, facts, _json_members({"input": d}), ",", "}\n")
            except Exception:  # the slot where a figure was expected: this key goes the row path's way
                self.memo[tk] = None
                continue
            # the text between the tokens, and which figure text goes after each piece
            pieces, kinds = [], []
            for i, part in enumerate(text.split(self.num_json)):
                if i:
                    kinds.append(2)
                for w, seg in enumerate(part.split(self.word_json)):
                    if w:
                        kinds.append(3)
                    pieces.append(seg)
            # no \u0000 but the tokens' own two each (none straddles a token's edge: a token's only
            # backslashes are its two \u0000's own, and a quote is not in \u0000)
            ok = text.count("\\u0000") == 2 * len(kinds)
            self.memo[tk] = None if not ok else (pieces, tuple(kinds)) if kinds else (pieces[0], False)

    def render(self, chunk, start):
        """(text, errors) for ``chunk``, as :meth:`_RowWorker.render` writes it, with the cyclic
        garbage collector paused: a chunk's work makes no reference cycle (texts, tuples, lists and
        dicts held by the memos, or dropped), and the collector's passes over the memos, which grow
        with every new key, cost ~15% of the time; it runs again between chunks."""
        if not gc.isenabled():
            return self._render(chunk, start)
        gc.disable()
        try:
            return self._render(chunk, start)
        finally:
            gc.enable()

    def _render(self, chunk, start):
        worker = self.worker
        ncols = worker.ncols
        id_index = worker.layout.id_index
        key_of = worker.key_of
        memo = self.memo
        codes = self.codes
        j = self.ki67
        rows = []
        got = {}
        new = {}
        n_row = start - 1
        for fields, note in chunk:
            n_row += 1
            if note is None and len(fields) == ncols:
                cid = fields[id_index] if id_index is not None else str(n_row)
                key = key_of(fields)
                if j is None:
                    info = None
                else:
                    info = codes.get(key[j], codes)
                    if info is codes:
                        info = self._code(key[j])
                tk = key if info is None else key[:j] + (info[0],) + key[j + 1:]
                if tk not in got:
                    t = memo.get(tk, memo)
                    if t is memo:
                        if tk not in new:
                            new[tk] = (fields, key, info[1] if info is not None else None)
                    else:
                        got[tk] = t
                rows.append((cid, tk, info, fields, key))
            else:
                cid, o = worker._odd_row(fields, note, n_row)
                rows.append((cid, None, worker._tail(o), None, None))
        if new:
            if len(memo) + len(new) >= TEMPLATE_LIMIT:
                _trim(memo, TEMPLATE_LIMIT)
            self._build(new)
            for tk in new:
                got[tk] = memo[tk]
        out = []
        errors = 0
        for cid, tk, info, fields, key in rows:
            if tk is None:
                tail, err = info
                errors += err
            else:
                t = got[tk]
                if t is None:  # the row path
                    tail, err = worker._row_tail(fields, key)
                    errors += err
                elif t[1]:
                    pieces = t[0]
                    buf = ['{"case_id":', _json_id(cid), pieces[0]]
                    for kind, seg in zip(t[1], pieces[1:]):
                        buf.append(info[kind])
                        buf.append(seg)
                    out.append("".join(buf))
                    continue
                else:
                    tail = t[0]
            out.append('{"case_id":' + _json_id(cid) + tail)
        return _ascii_runs(out), errors


class _HashSet:
    """A set of 64-bit hashes in sorted arrays: 8 bytes an id, where a Python set takes ~70.

    Keeps memory nearly flat on million-row inputs (bench/memory.py).
    """

    def __init__(self, n_buckets=4096):
        from array import array

        self.mask = n_buckets - 1
        self.buckets = [array("q") for _ in range(n_buckets)]

    def add(self, h):
        """Add ``h``; True if it was already there."""
        b = self.buckets[h & self.mask]
        i = bisect.bisect_left(b, h)
        if i < len(b) and b[i] == h:
            return True
        b.insert(i, h)
        return False


class _DuplicateIds:
    """Counts rows whose case_id repeats an earlier row's (ids kept as hashes, not as text)."""

    def __init__(self, index):
        self.index = index
        self.seen = _HashSet()
        self.count = 0
        self.rows = []
        self.empty = 0

    def see(self, fields, n_row):
        if self.index >= len(fields):
            return
        cid = fields[self.index].strip()
        if not cid:
            self.empty += 1
            return
        if self.seen.add(hash(cid)):
            self.count += 1
            if len(self.rows) < 5:
                self.rows.append(n_row)


class _Done:
    """An already computed chunk, queued behind pending worker results."""

    def __init__(self, value):
        self.value = value

    def get(self):
        return self.value


_POOL_WORKER = None


def _pool_render(chunk, start):
    return _POOL_WORKER.render(chunk, start)


def _pool_init():
    """A worker process dies of SIGTERM (``Pool.terminate``): the handler it inherits from the batch
    (:class:`_sigterm_raises`, SIGTERM -> SystemExit for the parent's cleanup) would instead run
    multiprocessing's exit handlers in a worker that may hold the task queue's lock, and the
    parent's ``join`` then waits for ever (seen: a test hung in CI)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _workers_for(workers, layout, total):
    if workers is not None:
        return max(1, int(workers))
    if layout.mode != "text" or not total or total < (1 << 20):
        return 1
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


def _pool(worker, n):
    """A fork pool whose processes inherit ``worker`` (the model is not pickled); None if fork is unavailable."""
    import multiprocessing

    global _POOL_WORKER
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - no fork on this platform: stay serial
        return None
    _POOL_WORKER = worker
    return ctx.Pool(n, initializer=_pool_init)


class _DuplicateIdsVec:
    """_DuplicateIds for the vectorised path: the hashes in sorted numpy arrays, ids seen a block at a time.

    Counts exactly what :class:`_DuplicateIds` counts (rows whose stripped case_id hashes like an
    earlier row's; empty ids apart), 8 bytes an id. The hashes seen are kept in ``BUCKETS`` sorted
    arrays by their top bits, so adding a block's new ones copies a bucket, not all of them
    (at 1,000,000 ids a copy of the whole 8 MB array for each block was a peak of twice that).
    """

    BUCKETS = 64

    def __init__(self, index):
        import numpy as np

        self.np = np
        self.index = index
        self.seen = [np.empty(0, np.int64) for _ in range(self.BUCKETS)]
        self.count = 0
        self.rows = []
        self.empty = 0

    def see_records(self, chunk, start):
        """Ids of ``(fields, note)`` records numbered from ``start`` (rows without an id cell skipped)."""
        index = self.index
        ids, rows = [], []
        for k, (fields, _) in enumerate(chunk):
            if index < len(fields):
                ids.append(fields[index])
                rows.append(start + k)
        self._see(ids, rows)

    def see_ids(self, ids, start):
        """The id cells of consecutive rows numbered from ``start``."""
        self._see(ids, None, start)

    def _see(self, ids, rows, start=0):
        np = self.np
        stripped = list(map(str.strip, ids))
        empty = stripped.count("")
        if empty:
            self.empty += empty
            keep = [k for k, c in enumerate(stripped) if c]
            stripped = [stripped[k] for k in keep]
            rows = [rows[k] for k in keep] if rows is not None else [start + k for k in keep]
        n = len(stripped)
        if not n:
            return
        h = np.fromiter(map(hash, stripped), np.int64, n)
        order = np.argsort(h)
        hs = h[order]
        dup_sorted = np.zeros(n, bool)
        dup_sorted[1:] = hs[1:] == hs[:-1]  # a repeat within the block
        shift = 64 - self.BUCKETS.bit_length() + 1
        bounds = np.searchsorted((hs >> shift) + self.BUCKETS // 2, np.arange(self.BUCKETS + 1)).tolist()
        seen = self.seen
        for b in range(self.BUCKETS):
            lo, hi = bounds[b], bounds[b + 1]
            if lo == hi or not seen[b].size:
                continue
            part, have = hs[lo:hi], seen[b]  # sorted queries: a cache-friendly search
            pos = np.minimum(np.searchsorted(have, part), have.size - 1)
            dup_sorted[lo:hi] |= have[pos] == part
        cnt = int(np.count_nonzero(dup_sorted))
        if cnt:
            self.count += cnt
            if len(self.rows) < 5:
                # which of equal hashes comes first is the row order: a stable sort (the same hs)
                order = np.argsort(h, kind="stable")
                dup = np.zeros(n, bool)
                dup[order] = dup_sorted
                where = np.flatnonzero(dup)[:5 - len(self.rows)]
                self.rows.extend(int(rows[k]) if rows is not None else start + int(k) for k in where)
        for b in range(self.BUCKETS):
            lo, hi = bounds[b], bounds[b + 1]
            if lo == hi:
                continue
            new = hs[lo:hi][~dup_sorted[lo:hi]] if cnt else hs[lo:hi]
            if new.size:
                have = seen[b]
                seen[b] = np.insert(have, np.searchsorted(have, new), new) if have.size else new.copy()


class _VecEval:
    """Codes of the batch's per-column cell coders -> :class:`ihc.engine.vector.VectorEvaluator` -> CSV tails.

    Gives, bit for bit, what the row path gives (:meth:`_Classifier._from_panel` then
    :func:`_csv_tail`) for a row whose codes are all clean: every column a value of a
    model marker, a value of another marker, empty, not done or (not in strict mode) an
    unknown filled column; at least one marker value. Such a row's states come from each
    column's code alone (columns name distinct markers), so per column a table maps a code
    to its state index in the evaluator's gather tables. Other rows (an unreadable value,
    no marker value, strict mode's unknown columns) are left to the row path.
    """

    def __init__(self, np, model, coders, mode):
        from .engine import panel_states
        from .engine.vector import VectorEvaluator

        self.np = np
        self.model = model
        self.coders = coders
        self.strict = mode == "strict"
        self.panel_states = panel_states
        self.classes = list(model.classes)
        self.engine = VectorEvaluator(np, model, [c.marker for c in coders])
        self.ok = self.engine.ok
        self.kind = [np.zeros(0, np.int8) for _ in coders]   # per column: code -> 0 nothing, 1 a marker value, 2 the row path
        self.sidx = [np.zeros(0, np.int64) for _ in coders]  # per column: code -> gather index of its state (0: none)

    def _grow(self, j, upto):
        """Extend column ``j``'s code tables to codes below ``upto``."""
        np = self.np
        kind, sidx = self.kind[j], self.sidx[j]
        n0 = len(kind)
        if upto <= n0:
            return
        coder = self.coders[j]
        name = coder.marker
        known = self.engine.vec[j] is not None
        ks, ss = [], []
        for c in range(n0, upto):
            o = coder.decode(c)
            k, s = 0, 0
            if name is None:
                if self.strict and o == "filled" and coder.column and not coder.context:
                    k = 2  # strict mode refuses the unknown column: the row path says so
            elif o is _EMPTY:
                pass
            elif not isinstance(o, tuple) or o[0] != "v":
                k = 2  # an unreadable value: the row path's error row
            elif o[1] is not None:
                k = 1
                if known:
                    st = self.panel_states({name: o[1]}, self.model.markers).get(name)
                    if st is not None:
                        s = self.engine.state_index(j, st)
            ks.append(k)
            ss.append(s)
        self.kind[j] = np.concatenate((kind, np.array(ks, np.int8)))
        self.sidx[j] = np.concatenate((sidx, np.array(ss, np.int64)))

    def usable(self, codes):
        """Boolean mask of the rows of ``codes`` (n x columns ints) this evaluator answers."""
        np = self.np
        n = codes.shape[0]
        some = np.zeros(n, bool)
        bad = np.zeros(n, bool)
        for j in range(len(self.coders)):
            c = codes[:, j]
            self._grow(j, int(c.max()) + 1 if n else 0)
            k = self.kind[j][c]
            some |= k == 1
            bad |= k == 2
        return some & ~bad

    def evaluate(self, codes, sites):
        """``(proba, atypical, ok)`` of usable rows (see :meth:`VectorEvaluator.evaluate`)."""
        np = self.np
        sidx = np.stack([self.sidx[j][codes[:, j]] for j in range(len(self.coders))], axis=1) \
            if len(self.coders) else np.zeros((codes.shape[0], 0), np.int64)
        return self.engine.evaluate(sidx, sites)

    def tails(self, codes, sites):
        """CSV tails (as :func:`_csv_tail`) of usable rows: ``codes`` n x columns, ``sites`` canonical names."""
        np = self.np
        p, status_atypical, status_ok = self.evaluate(codes, sites)
        order = np.argsort(-p, axis=1, kind="stable")[:, :3]  # sorted(key=(-p, k))
        return _tail_texts(np, self.classes, status_atypical, status_ok, order,
                           np.take_along_axis(p, order, axis=1))


def _tail_texts(np, names, status_atypical, status_ok, order, top):
    """CSV tails (as :func:`_csv_tail`) from the status masks, the top three class indices
    (``order``, n x 3) and their probabilities (``top``): each probability written with
    :data:`_MILLI` and :data:`_UNIT` (see :func:`_fixed6_many`), a row holding a value within
    1e-6 of a decimal tie written again with ``format()``."""
    # as _csv_tail: status, diagnosis (ok only), confidence, three (diagnosis, probability), no error
    kind = np.where(status_atypical, 0, np.where(status_ok, 1, 2)).tolist()
    pre = {}
    for c in set(kind):
        status = ("atypical", "ok", "indeterminate")[c]
        pre[c] = [f",{status},{d if c == 1 else ''}," for d in names]
    mid = [f",{d}," for d in names]
    r, unsure = _micro(np, top)
    hi, lo = np.divmod(r, 1000)
    o1, o2, o3 = order[:, :3].T.tolist()
    h1, h2, h3 = hi.T.tolist()
    u1, u2, u3 = lo.T.tolist()
    M, U = _MILLI, _UNIT
    out = [f"{pre[c][k1]}{M[a1]}{U[b1]}{mid[k1]}{M[a1]}{U[b1]}{mid[k2]}{M[a2]}{U[b2]}{mid[k3]}{M[a3]}{U[b3]},\n"
           for c, k1, k2, k3, a1, b1, a2, b2, a3, b3 in zip(kind, o1, o2, o3, h1, u1, h2, u2, h3, u3)]
    if unsure.any():
        for i in np.flatnonzero(unsure.any(axis=1)).tolist():
            s1, s2, s3 = (f"{v:.6f}" for v in top[i, :3].tolist())
            k1, k2, k3 = o1[i], o2[i], o3[i]
            out[i] = f"{pre[kind[i]][k1]}{s1}{mid[k1]}{s1}{mid[k2]}{s2}{mid[k3]}{s3},\n"
    return out


#: "0.000" ... "1.000" and "000" ... "999": ``format(r / 1e6, ".6f")`` is ``_MILLI[r // 1000] + _UNIT[r % 1000]``
_MILLI = [f"{i // 1000}.{i % 1000:03d}" for i in range(1001)]
_UNIT = [f"{i:03d}" for i in range(1000)]


def _micro(np, p):
    """``(r, unsure)``: each x of ``p`` (floats in [0, 1]) times 1e6 rounded half-even as Python's
    ``format(x, ".6f")`` rounds it, as ints, and the mask of the values this cannot promise.

    ``x * 1e6`` is within 2e-10 of the exact product, so its rounding to an integer is the
    exact decimal rounding unless its fraction is within 1e-6 of one half; those few (ties
    included), and anything outside [0, 1] or NaN, are in ``unsure`` (their r is 0).
    """
    x = p * 1e6
    fl = np.floor(x)
    frac = x - fl
    unsure = (np.abs(frac - 0.5) < 1e-6) | ~((p >= 0) & (p <= 1))
    return np.where(unsure, 0, fl + (frac > 0.5)).astype(np.int64), unsure


def _fixed6_many(np, p):
    """``format(x, ".6f")`` of every x of ``p`` (floats in [0, 1]; n x m), as a list of lists of str, exactly.

    Each value is two table look-ups joined, the first three decimals of :func:`_micro`'s r
    and the last three (6 ms for 98,000 values, against 50 ms for digits built with numpy
    and read back as str); the values :func:`_micro` cannot promise are formatted by Python.
    """
    n, m = p.shape
    r, unsure = _micro(np, p)
    hi, lo = np.divmod(r.ravel(), 1000)
    flat = [_MILLI[h] + _UNIT[u] for h, u in zip(hi.tolist(), lo.tolist())]
    if unsure.any():
        values = p.ravel()
        for i in np.flatnonzero(unsure.ravel()).tolist():
            flat[i] = f"{float(values[i]):.6f}"
    return [flat[i:i + m] for i in range(0, n * m, m)]


class _FastStructured:
    """The vectorised route for marker columns -> CSV (what ``ihc batch`` takes for such files).

    A clean block of the input (UTF-8 as is, no quote character, every line with the
    header's cell count; see :meth:`rows`) is split in one go by pandas' C reader (giving the
    cells ``str.split`` would, as the row path splits a line without quotes), each column's
    distinct cells (``pd.factorize``) are coded with the row path's memoised per-cell coders
    (so ``parse_value`` reads each distinct cell once), the codes
    are combined into one integer key per row with numpy, the distinct keys of the block
    not seen before are evaluated together by :class:`_VecEval` (numpy over the compact
    model, bit for bit the row path's figures) or, for the few it leaves (unreadable values,
    no marker value, strict mode's unknown columns), one by one through the row path's
    memoised classifier on the key's first row; each key's rendered CSV tail is taken back
    to every row with that key. Anything else goes to the row path (:class:`_RowWorker`),
    block by block.
    """

    def __init__(self, worker, delim):
        import numpy as np
        import pandas as pd

        self.np = np
        self.pd = pd
        self.worker = worker
        self.delim = delim
        self.delim_byte = ord(delim)
        self.ncols = worker.ncols
        self.layout = worker.layout
        self.key_of = worker.key_of
        self.build = worker.build
        fast = worker.key_of.fast
        self.coders = fast["coders"]
        self.memos = fast["memos"]
        self.idx = fast["idx"]
        self.si = fast["si"]
        self.site_code = fast["site_code"]
        self.site_memo = {}  # site cell -> small int (one per canonical site)
        self.site_ids = {}   # canonical site -> small int
        self.site_names = []  # small int -> canonical site
        self.memo = {}       # the row's key -> its CSV tail (an error row's starts ',error,')
        #: bits of each column's codes in the int64 key (None: the codes' bytes are the key; for
        #: more than 62 bits); starts at one bit a column and widens as codes grow
        self.bits = [1] * (len(self.coders) + (self.si is not None))
        try:
            self.vec = _VecEval(np, worker.clf.model, self.coders, worker.clf.mode)
        except (KeyError, ValueError, TypeError, IndexError):  # a model the tables cannot hold: the row path
            self.vec = None
        if self.vec is not None and not self.vec.ok:
            self.vec = None

    def _site_int(self, cell):
        hit = self.site_memo.get(cell)
        if hit is None:
            canon = self.site_code(cell)[0]
            hit = self.site_ids.get(canon)
            if hit is None:
                hit = self.site_ids[canon] = len(self.site_ids)
                self.site_names.append(canon)
            if len(self.site_memo) < MEMO_LIMIT:
                self.site_memo[cell] = hit
        return hit

    def _whole_quoted_cells(self, a, ends, delims):
        """Whether every quote of the block's bytes ``a`` is the first or the last byte of a cell
        ``"x"`` that holds no other quote (``ends``, ``delims``: the positions of the line breaks
        and delimiters, every line already holding the header's cell count).

        The cells are the bytes between line breaks and delimiters; a quote elsewhere, a cell
        ``"`` or a quote inside a cell makes the block's quote count exceed twice the number of
        cells that start and end with one.
        """
        np = self.np
        ncols = self.ncols
        n = len(ends) + 1
        stop = np.empty((n, ncols), np.int64)  # where each cell ends (exclusive), row by row
        stop[:, :-1] = delims.reshape(n, ncols - 1)
        stop[:-1, -1] = ends
        stop[-1, -1] = len(a)
        stop = stop.ravel()
        start = np.empty_like(stop)
        start[0] = 0
        start[1:] = stop[:-1] + 1
        last = len(a) - 1
        whole = ((stop - start) >= 2) & (a[np.minimum(start, last)] == 34) & (a[np.maximum(stop - 1, 0)] == 34)
        return int(np.count_nonzero(a == 34)) == 2 * int(np.count_nonzero(whole))

    def rows(self, text, start):
        """``(ids, tails, errors, quoted)`` for the rows of a block's text, or None if the block is not clean.

        ``ids`` are the case_id cells as read (None: the row numbers are the ids), ``tails``
        the rest of each output line, ``quoted`` the rows (0-based in the block) read by the csv module.
        """
        np = self.np
        ncols, delim = self.ncols, self.delim
        if not text:
            return None
        quoted = []
        quoting = csv.QUOTE_NONE
        raw = text.encode("utf-8")
        a = np.frombuffer(raw, np.uint8)
        ends = np.flatnonzero(a == 10)
        delims = np.flatnonzero(a == self.delim_byte)

        def cell_counts_ok():  # every line the header's cell count (no ragged nor blank line)
            per = np.diff(np.searchsorted(delims, np.append(ends, len(a))), prepend=0)
            return not (per != ncols - 1).any()

        counted = False
        unquote = False
        quotes = b'"' in raw
        if quotes:
            counted = cell_counts_ok()
            if counted and self._whole_quoted_cells(a, ends, delims):
                # every quote opens or closes a whole cell holding no delimiter, quote or line break
                # (an export that quotes its cells): the csv module reads such a cell as its text
                # without the quotes, so the block is that text unquoted, and no case_id needs
                # quoting on output. The quotes are dropped from the bytes (no line break nor
                # delimiter moves between cells); with a blank delimiter (tab) a line of empty
                # quoted cells would become a blank line, so pandas' reader, told of the quote
                # character, reads those bytes as they are (slower: 0.14 s against 0.12 s for
                # the 200,000-row quoted file).
                if delim.isspace():
                    quoting = csv.QUOTE_MINIMAL
                else:
                    unquote = True
                quotes = False
        if quotes:
            # lines with quotes are read as the row path reads them (the csv module, one line each);
            # a quote that may open a cell spanning lines (an odd count), or a line the csv module
            # refuses or that has the wrong cell count, sends the block to the row path
            q = np.flatnonzero(a == 34)
            per_line = np.bincount(np.searchsorted(ends, q), minlength=len(ends) + 1)
            which = np.flatnonzero(per_line)
            if (per_line[which] % 2).any():
                return None
            which = which.tolist()
            lines = text.split("\n")
            qlines = [lines[i] for i in which]
            try:  # all at once; a line's record must not run into the next one (else one at a time)
                recs = list(csv.reader(qlines, delimiter=delim))
            except csv.Error:
                recs = None
            if recs is None or len(recs) != len(qlines):
                recs = [_csv_line(line, delim) for line in qlines]
            filler = delim * (ncols - 1)
            for i, fields in zip(which, recs):
                if fields is None or len(fields) != ncols:
                    return None
                quoted.append((i, fields))
                lines[i] = filler
            text = "\n".join(lines)
            del lines, qlines, q
            raw = text.encode("utf-8")
            a = np.frombuffer(raw, np.uint8)
            ends = np.flatnonzero(a == 10)
            delims = np.flatnonzero(a == self.delim_byte)
            counted = False
        n = len(ends) + 1
        if not counted and not cell_counts_ok():  # ragged, or a blank line
            return None
        del a, ends, delims
        if delim.isspace() and any(map(str.isspace, text.split("\n"))):  # a line of tabs is a blank line
            return None
        if unquote:
            raw = raw.translate(None, b'"')
        if raw.startswith(b"\xef\xbb\xbf") or b"\0" in raw:  # a BOM pandas would strip, a NUL byte
            return None
        # The block is clean (every line the header's cell count, no CR, no NUL, no quote but those
        # enclosing whole plain cells): pandas' C reader splits it exactly as str.split would (and
        # the csv module, for the quoted cells), in C. Measured on the 200,000-row
        # uniform file, per 1 MB block: read_csv + pd.factorize 0.115 s in all, str.split + a memo
        # look-up per cell 0.25 s (bench/batch_throughput.py).
        pd = self.pd
        id_index = self.layout.id_index
        # every column but the case_id one as categories: the C reader codes each column's cells
        # itself (one string per distinct cell, not one a row); codes and categories read the same
        # cells as dtype=object and pd.factorize did (0.17 s against 0.21 s, 200,000 uniform rows)
        kinds = {j: ("category" if j != id_index else object) for j in range(ncols)}
        read = dict(header=None, names=range(ncols), sep=delim, na_filter=False, quoting=quoting, engine="c",
                    skip_blank_lines=False, encoding="utf-8")
        df = pd.read_csv(io.BytesIO(raw), dtype=kinds, **read)
        if len(df) != n:  # pragma: no cover - the checks above make this impossible
            return None
        ids = df[id_index].tolist() if id_index is not None else None
        codes, cats = {}, {}
        numeric = []
        for j in range(ncols):
            if j != id_index:
                cj = df[j].array
                if cj.categories.dtype.kind in "iufb":
                    numeric.append(j)  # pandas made the column's categories numbers ("007" -> 7)
                else:
                    codes[j], cats[j] = cj.codes, cj.categories.tolist()
        del df
        if numeric:
            # the cells as written, as the row path reads them (an error message quotes '150', not 150)
            as_text = pd.read_csv(io.BytesIO(raw), usecols=numeric, dtype={j: object for j in numeric}, **read)
            for j in numeric:
                codes[j], uniques = pd.factorize(as_text[j])
                cats[j] = uniques.tolist()
            del as_text
        del raw
        by_row = dict(quoted)
        for i, fields in quoted:
            if ids is not None:
                ids[i] = fields[id_index]

        def cells_of(r):
            """The cells of row ``r`` of the block, as read."""
            fields = by_row.get(r)
            if fields is not None:
                return fields
            return [ids[r] if j == id_index else cats[j][codes[j][r]] for j in range(ncols)]

        cols = []
        try:
            # each distinct cell of a column is coded once, rows take their code by index
            for j, coder in zip(self.idx, self.coders):
                c = np.array(list(map(coder, cats[j])), dtype=np.int64)[codes[j]]
                for i, fields in quoted:
                    c[i] = coder(fields[j])
                cols.append(c)
            if self.si is not None:
                j = self.si
                c = np.array(list(map(self._site_int, cats[j])), dtype=np.int64)[codes[j]]
                for i, fields in quoted:
                    c[i] = self._site_int(fields[j])
                cols.append(c)
        except (TypeError, ValueError, OverflowError):  # a code that is no small int (endless distinct errors)
            return None
        maxes = [int(c.max()) for c in cols]
        if max(maxes) >= 1 << 31:  # pragma: no cover - codes are small ints (see _cell_coder)
            return None
        bits = self.bits
        if bits is not None and any(m >> b for m, b in zip(maxes, bits)):
            # a column's codes outgrew their bits: a wider layout (a bit to spare), a new memo
            bits = [max(b, m.bit_length() + 1) for m, b in zip(maxes, bits)]
            self.bits = bits if sum(bits) <= 62 else None
            self.memo.clear()
            bits = self.bits
        if bits is not None:
            # the row's key: its codes side by side in one int64, the same bits in every block (the
            # memo's key: an int hashes and compares faster than the codes' bytes, 5 ms less a block)
            key = np.zeros(n, np.int64)
            shift = 0
            for c, b in zip(cols, bits):
                key |= c << shift
                shift += b
        else:
            key = cols[0]
            span = int(key.max()) + 1
            for c in cols[1:]:
                w = int(c.max()) + 1
                if span * w >= 1 << 62:
                    _, key = np.unique(key, return_inverse=True)
                    span = int(key.max()) + 1
                key = key * w + c
                span *= w
        # the distinct keys in the order they first come (a hash table, not a sort), each row's
        # key number, and each key's first row
        inverse = pd.factorize(key)[0]
        seen_max = np.maximum.accumulate(inverse)
        new = np.empty(n, bool)
        new[0] = True
        np.greater(seen_max[1:], seen_max[:-1], out=new[1:])
        first = np.flatnonzero(new)
        del seen_max, new
        uniq = np.empty((len(first), len(cols)), np.int32)
        for j, c in enumerate(cols):
            uniq[:, j] = c[first]
        if bits is not None:
            reps = key[first].tolist()
        else:  # one bytes key a distinct row
            reps = uniq.view(np.dtype((np.void, 4 * len(cols)))).ravel().tolist()
        del key
        memo, worker, key_of, build = self.memo, self.worker, self.key_of, self.build
        hits = list(map(memo.get, reps))
        miss = list(itertools.compress(range(len(hits)), map(operator.not_, hits)))  # tails are never ""
        if len(memo) + len(miss) > FAST_MEMO_LIMIT:
            _trim(memo, FAST_MEMO_LIMIT)
        if miss and self.vec is not None:
            # the distinct new rows the vectorised evaluator answers, all at once
            sub = uniq[miss]
            ok = self.vec.usable(sub[:, :len(self.coders)])
            if ok.any():
                rows = np.flatnonzero(ok)
                if self.si is not None:
                    names = self.site_names
                    sites = [names[i] for i in sub[rows, -1].tolist()]
                else:
                    sites = [None] * len(rows)
                got = self.vec.tails(sub[rows][:, :len(self.coders)], sites)
                for r, tail in zip(rows.tolist(), got):
                    u = miss[r]
                    hits[u] = memo[reps[u]] = tail
                miss = [u for u in miss if hits[u] is None]
        for u in miss:  # the row path, on the key's first row
            cells = cells_of(int(first[u]))
            k = key_of(cells)
            hits[u] = memo[reps[u]] = worker._tail(worker.clf.outcome(k, lambda: build(cells, k)))[0]
        bad = np.fromiter(map(str.startswith, hits, itertools.repeat(",error,")), bool, len(hits))
        errors = int(np.count_nonzero(bad[inverse])) if bad.any() else 0
        row_tails = np.array(hits, dtype=object)[inverse].tolist()
        return ids, row_tails, errors, [i for i, _ in quoted]


def run_batch(source, output=None, *, fmt=None, panel_column=None, site_column=None, id_column=None,
              mode="default", model=None, progress=None, stdout=None, workers=None):
    """Classify every row of a CSV into a CSV or JSON Lines output.

    Parameters
    ----------
    source : path, ``"-"`` (standard input) or a binary file object
    output : path, ``"-"`` or None (standard output: ``stdout``), or a text file object
        A path is written to a temporary file in the same folder and renamed
        into place when the run is complete: it appears whole or not at all.
    fmt : {"csv", "jsonl"}, optional
        Default: from the output's extension (``.jsonl``/``.ndjson`` -> jsonl), else csv.
    panel_column, site_column, id_column : str, optional
        Column names (default ``panel``, ``site``, ``case_id`` when present).
    mode : {"default", "strict", "lenient"}
    model : CompactModel or path, optional
    progress : callable, optional
        ``progress(rows, bytes_done, bytes_total_or_None)``, called every 4096 rows and at the end.
    stdout : text stream, optional
        Where ``"-"`` writes (default ``sys.stdout``).
    workers : int, optional
        Processes for free-text panels (parsing dominates there). Default: one per
        CPU (at most 4) for a free-text input file of 1 MB or more, else 1.
        Output order does not depend on it.

    Returns
    -------
    BatchSummary

    Raises
    ------
    InputError
        The input as a whole is unusable: no such file, no header, no usable
        column, a named column missing, a duplicate column.
    """
    from .parse import MODES

    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    fmt = output_format_for(output, fmt)
    t0 = time.perf_counter()
    binary, total, close_in = _open_input(source)
    try:
        src = _Source(binary, total)
        blocks = src.blocks()
        header_line, rest = _header_of(blocks)
        blocks = itertools.chain(rest, blocks)
        lines = _lines_of(blocks)
        if header_line is None:
            raise EmptyInputError("empty input: no header row (expected a CSV with a case_id column and "
                                  "marker columns, or a panel column)")
        delim = _sniff_delimiter(header_line)
        header = _csv_line(header_line, delim)  # lenient: a stray CR or NUL in the header is no crash
        if header is None:
            raise InputError("the header row cannot be read as CSV (a quote or line break inside a column "
                             "name?); expected a case_id column and marker columns, or a panel column")
        layout = _Layout(header, panel_column=panel_column, site_column=site_column, id_column=id_column)
        worker = _RowWorker(layout, ncols=len(header), mode=mode, model=model, fmt=fmt)
        n_workers = _workers_for(workers, layout, total)

        fast = None
        if (layout.mode == "structured" and fmt == "csv" and worker.ncols >= 2
                and getattr(worker.key_of, "fast", None) is not None):
            try:
                fast = _FastStructured(worker, delim)
            except ImportError:  # pragma: no cover - numpy comes with the install
                fast = None
        if fast is not None:
            src.read_bytes = FAST_READ_BYTES
        if layout.id_index is None:
            dup = None
        else:
            # (free text imports no numpy: its ids a chunk at a time with numpy took 0.44 -> 0.24 s per
            # 200,000 ids, but numpy raised the peak RSS at 1,000,000 rows from 63 to 73-75 MiB)
            vec = fast is not None or worker.templates is not None
            dup = _DuplicateIdsVec(layout.id_index) if vec else _DuplicateIds(layout.id_index)

        def fast_body(out):
            """Clean blocks through _FastStructured, the others through the row path, in order."""
            out.write(",".join(CSV_COLUMNS) + "\n")
            rows = errors = 0
            start = 1
            ncols = worker.ncols

            def row_path(records):
                nonlocal rows, errors, start
                chunk = []
                for rec in itertools.chain(records, (None,)):
                    if rec is not None:
                        chunk.append(rec)
                        if len(chunk) < CHUNK_ROWS:
                            continue
                    if not chunk:
                        break
                    if dup is not None:
                        dup.see_records(chunk, start)
                    text, e = worker.render(chunk, start)
                    _write_text(out, text)
                    rows += len(chunk)
                    errors += e
                    start += len(chunk)
                    chunk = []
                    if progress is not None:
                        progress(rows, src.done, src.total)

            for kind, payload in blocks:
                got = fast.rows(payload, start) if kind == "text" else None
                if got is None:
                    lines = payload.split("\n") if kind == "text" else payload
                    if any(line.count('"') % 2 for line in lines if '"' in line):
                        # a quoted cell may span lines (into the next block): the row path reads the rest
                        lines = itertools.chain(lines, _lines_of(blocks))
                    row_path(_records(lines, delim, ncols))
                    continue
                ids, tails, e, quoted = got
                n = len(tails)
                if dup is not None:
                    dup.see_ids(ids, start)
                if ids is None:
                    ids = list(map(str, range(start, start + n)))
                elif delim != ",":
                    ids = list(map(_csv_quote, ids))
                else:  # only a quoted cell may hold a quote, comma, CR or LF (a clean block has no CR)
                    for i in quoted:
                        ids[i] = _csv_quote(ids[i])
                step = CHUNK_ROWS if progress is not None else n
                for i in range(0, n, step):
                    parts = [None] * (2 * min(step, n - i))  # id, tail, id, tail...: one join, no pair strings
                    parts[0::2] = ids[i:i + step]
                    parts[1::2] = tails[i:i + step]
                    out.write("".join(parts))
                    rows += len(parts) // 2
                    if progress is not None:
                        progress(rows, src.done, src.total)
                errors += e
                start += n
            if progress is not None:
                progress(rows, src.done, src.total)
            return rows, errors

        def body(out):
            if fast is not None:
                return fast_body(out)
            if fmt == "csv":
                out.write(",".join(CSV_COLUMNS) + "\n")
            rows = errors = 0
            chunk = []
            start = 1
            pool = _pool(worker, n_workers) if n_workers > 1 else None
            pending = collections.deque()
            try:
                by_chunk = isinstance(dup, _DuplicateIdsVec)
                for rec in _records(lines, delim, worker.ncols):
                    chunk.append(rec)
                    if dup is not None and not by_chunk:
                        dup.see(rec[0], start + len(chunk) - 1)
                    if len(chunk) >= CHUNK_ROWS:
                        if by_chunk:
                            dup.see_records(chunk, start)
                        rows += len(chunk)
                        if pool is None:
                            text, e = worker.render(chunk, start)
                            _write_text(out, text)
                            errors += e
                        else:
                            pending.append(pool.apply_async(_pool_render, (chunk, start)))
                            while len(pending) > 2 * n_workers:
                                text, e = pending.popleft().get()
                                _write_text(out, text)
                                errors += e
                        start += len(chunk)
                        chunk = []
                        if progress is not None:
                            progress(rows, src.done, src.total)
                if chunk:
                    if by_chunk:
                        dup.see_records(chunk, start)
                    rows += len(chunk)
                    text, e = worker.render(chunk, start)
                    if pool is None:
                        _write_text(out, text)
                        errors += e
                    else:
                        pending.append(_Done((text, e)))
                while pending:
                    text, e = pending.popleft().get()
                    _write_text(out, text)
                    errors += e
            finally:
                if pool is not None:
                    pool.terminate()
                    pool.join()
            if progress is not None:
                progress(rows, src.done, src.total)
            return rows, errors

        with _sigterm_raises():
            if output is None or output == "-" or hasattr(output, "write"):
                out = output if hasattr(output, "write") else (stdout or sys.stdout)
                rows, errors = body(out)
                out.flush()
            else:
                rows, errors = _write_atomic(Path(output), body)
    finally:
        if close_in:
            binary.close()
    return BatchSummary(rows, errors, fmt, time.perf_counter() - t0,
                        duplicate_ids=dup.count if dup is not None else 0,
                        duplicate_rows=dup.rows if dup is not None else (),
                        empty_ids=dup.empty if dup is not None else 0)


def _write_atomic(path, body):
    shown = path  # messages name the path as given
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give an output file name")
    if path.is_symlink():  # replace what the link points at, keep the link
        path = Path(os.path.realpath(path))
    if path.exists() and not path.is_file():
        # a device, FIFO or socket (/dev/null, /dev/stdout, a named pipe): there is nothing to rename over,
        # and renaming a file over /dev/null would replace the device itself; write to it directly
        try:
            out = open(path, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise InputError(f"{shown}: cannot write there ({exc.strerror or exc})") from None
        try:
            with out:
                return body(out)
        except OSError as exc:  # e.g. /dev/full, a pipe whose reader went away
            raise InputError(f"{shown}: the output could not be written ({exc.strerror or exc})") from None
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{shown}: the folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"{shown}: cannot write there ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            try:
                result = body(out)
                out.flush()
            except OSError as exc:  # disk full, quota, I/O error: the environment, not a bug
                raise InputError(f"{shown}: the output could not be written ({exc.strerror or exc}); "
                                 "no output file was written") from None
        try:
            mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
            os.chmod(tmp, mode)
        except OSError:  # pragma: no cover
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return result
