"""The floor for structured batch CSV: a C reader and writer around a numpy evaluation of the model.

    python bench/floor.py IN.csv OUT.csv

What `ihc batch` could not beat by much with the same model: the file read by pandas' C
reader (``dtype=str``), each marker column coded once per distinct cell (``pd.factorize``;
the distinct cells read with ``ihc.parse.parse_value``, as the batch does), the scores
gathered from the model's tables (:class:`ihc.engine.vector.VectorEvaluator`'s gather
tables) and the softmax taken with ``np.exp`` (not the standard library's ``math.exp``: the
floor does not promise ihc's last bits), the status masks of :mod:`ihc.engine.rules`, the
top three by ``argsort``, and the output written by ``DataFrame.to_csv`` (``%.6f``). It does
no error rows, no memo, no duplicate-id count, no atomic write: ``bench/batch_throughput.py``
times it in the same run as ``ihc batch`` (target: ihc within 1.5x of it).

Expects the columns of ``bench/_data.uniform_csv`` (case_id, marker columns, site).
"""

import sys


def run(src, dst, model=None):
    import numpy as np
    import pandas as pd

    from ihc.api import load_model
    from ihc.engine import panel_states, rules
    from ihc.engine.vector import VectorEvaluator
    from ihc.markers import canonical
    from ihc.parse import parse_value
    from ihc.sites import normalise_site

    model = model or load_model()
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    cols = list(df.columns)
    markers = [c for c in cols if canonical(c) is not None]
    names = [canonical(c) for c in markers]
    ev = VectorEvaluator(np, model, names)
    n = len(df)
    sidx = np.zeros((n, len(markers)), np.int64)
    for j, (c, name) in enumerate(zip(markers, names)):
        codes, uniq = pd.factorize(df[c].to_numpy())
        table = np.zeros(len(uniq), np.int64)
        for u, cell in enumerate(uniq.tolist()):
            v = parse_value(name, cell) if cell.strip() else None
            st = panel_states({name: v}, model.markers).get(name) if v is not None else None
            table[u] = ev.state_index(j, st) if st is not None else 0
        sidx[:, j] = table[codes]
    if "site" in cols:
        codes, uniq = pd.factorize(df["site"].to_numpy())
        canon = [normalise_site(s)[0] if s.strip() else None for s in uniq.tolist()]
        rows = ev._site_rows(canon)[codes]
        sites = np.array(canon, dtype=object)[codes]
    else:
        rows = ev._site_rows([None])[np.zeros(n, np.int64)]
        sites = np.full(n, None, dtype=object)
    z = ev.base[rows]
    s = np.zeros_like(z)
    n_states = np.zeros(n, np.int64)
    ki67 = np.zeros(n, bool)
    for j, vec in enumerate(ev.vec):
        if vec is None:
            continue
        ix = sidx[:, j]
        z += vec[ix] if vec.ndim == 2 else vec[ev.site_group[rows], ix]
        s += ev.sur[j][ix]
        n_states += ix > 0
        if j == ev.ki67:
            ki67 = ix > 0
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    col = {name: j for j, name in enumerate(names)}
    held = rules.untested_majority_many(np, model, p, sites,
                                        lambda m: sidx[:, col[m]] > 0 if m in col else np.zeros(n, bool))
    atypical, ok = rules.status_many(np, ev.thresholds, ev.counterpart, p, s, n_states, ki67,
                                     ev.quantiles, ev.levels, held)
    order = np.argsort(-p, axis=1, kind="stable")[:, :3]
    top = np.take_along_axis(p, order, axis=1)
    classes = np.array(model.classes, dtype=object)
    status = np.where(atypical, "atypical", np.where(ok, "ok", "indeterminate"))
    f6 = _fixed6(np, top)  # (to_csv's float_format is a Python loop: 2 s of the 2.7 s it took)
    out = pd.DataFrame({
        "case_id": df[cols[0]].to_numpy(), "status": status,
        "diagnosis": np.where(ok, classes[order[:, 0]], ""), "confidence": f6[:, 0],
        "dx1": classes[order[:, 0]], "p1": f6[:, 0], "dx2": classes[order[:, 1]], "p2": f6[:, 1],
        "dx3": classes[order[:, 2]], "p3": f6[:, 2], "error": "",
    })
    out.to_csv(dst, index=False)
    return n


def _fixed6(np, p):
    """``%.6f`` of probabilities in [0, 1] with numpy (rint; a floor, not exact at ties)."""
    r = np.rint(p * 1e6).astype(np.int64)
    d = np.empty(p.shape + (8,), np.uint8)
    d[..., 0] = 48 + r // 1_000_000
    d[..., 1] = 46
    rest = r % 1_000_000
    for i in range(7, 1, -1):
        d[..., i] = 48 + rest % 10
        rest //= 10
    return d.view("S8").reshape(p.shape).astype("U8")


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
