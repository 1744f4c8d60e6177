"""GIST risk of progression from size, mitotic count and site.

Two published schemes, read from ``training_data/gist_risk.csv`` (exported into the model
file by ``ihc train``, so the table a result quotes is the one its model was checked with):

- AFIP / Miettinen & Lasota 2006: risk of progressive disease (%) by site column (stomach,
  duodenum, jejunum/ileum, rectum), mitoses per 50 HPF (<=5 / >5) and size;
- modified NIH / Joensuu 2008: very low / low / intermediate / high, gastric vs non-gastric.

Mitoses are per 50 HPF (5 mm², AJCC). A count that straddles a cut-off (a range, or a word
such as "frequent") cannot place the tumour in one cell: the block says so instead of guessing.

>>> rows = [{"scheme": "afip", "site": "stomach", "mitoses": "le5", "size": "5to10",
...          "risk_percent": "3.6", "label": "low", "citation": "Miettinen & Lasota 2006"}]
>>> from ihc.morphology import parse_mitoses
>>> gist_risk(rows, site="stomach", site_text="stomach", size_cm=6, mitoses=parse_mitoses("3/50 HPF"))["afip"]["label"]
'low'
"""

from __future__ import annotations

import math
import re

__all__ = ["gist_risk", "afip_column"]

_SIZE_WORDS = {"le2": "<=2 cm", "2to5": ">2-5 cm", "5to10": ">5-10 cm", "gt10": ">10 cm"}
_MIT_WORDS = {"le5": "<=5/50 HPF", "gt5": ">5/50 HPF", "6to10": "6-10/50 HPF", "gt10": ">10/50 HPF"}


def _size_bin(size_cm):
    return "le2" if size_cm <= 2 else "2to5" if size_cm <= 5 else "5to10" if size_cm <= 10 else "gt10"


def _mit_bin(mc, cuts):
    """The bin of ``cuts`` [(name, upper bound per 50 HPF)...] holding the whole count, or None."""
    lo, hi = mc.low, mc.high
    for name, upper in cuts:
        if hi <= upper:
            return name
        if lo <= upper:
            return None  # the range straddles this cut-off
    return cuts[-1][0]


def afip_column(site, site_text):
    """The AFIP table's site column for a canonical site and its text, or ``(None, reason)``."""
    t = (site_text or "").lower()
    if site == "stomach":
        return "stomach", None
    if site == "small_intestine":
        if re.search(r"duoden", t):
            return "duodenum", None
        if re.search(r"jejun|ile(um|al)", t):
            return "jejunum_ileum", None
        return None, "small-intestinal segment (duodenum or jejunum/ileum) not stated"
    if site == "anus":  # the AFIP rectal series counts the anorectum
        return "rectum", None
    if site == "colorectum":
        if re.search(r"rect|anorect", t):
            return "rectum", None
        return None, "the AFIP table has rectal but no colonic column"
    return None, "the AFIP table covers stomach, duodenum, jejunum/ileum and rectum only"


def gist_risk(rows, *, site, site_text, size_cm, mitoses):
    """The risk block of a GIST answer.

    Parameters
    ----------
    rows : list of dict
        Rows of ``gist_risk.csv`` (``scheme, site, mitoses, size, risk_percent, label, ...``).
    site, site_text : str or None
        Canonical site and the site as written (which names the small-intestinal segment).
    size_cm : float or None
    mitoses : MitoticCount or None

    Returns
    -------
    dict
        ``{"afip": {...} | None, "joensuu": {...} | None, "missing": [...], "notes": [...]}``.
    """
    missing, notes = [], []
    if size_cm is None:
        missing.append("size")
    if mitoses is None:
        missing.append("mitotic count")
    if site is None:
        missing.append("site")
    afip = joensuu = None
    sb = _size_bin(size_cm) if size_cm is not None else None
    if mitoses is not None:
        m_afip = _mit_bin(mitoses, (("le5", 5.0), ("gt5", math.inf)))
        m_joe = _mit_bin(mitoses, (("le5", 5.0), ("6to10", 10.0), ("gt10", math.inf)))
        if m_afip is None or m_joe is None:
            notes.append(f"mitoses {mitoses.text} straddles a cut-off of the risk tables (5 or 10 per 50 HPF): "
                         "give the count per 50 HPF (5 mm2)")
    else:
        m_afip = m_joe = None
    col, why = afip_column(site, site_text) if site else (None, None)
    if why:
        notes.append(why)
    if sb and m_afip and col:
        for r in rows:
            if r["scheme"] == "afip" and r["site"] == col and r["mitoses"] == m_afip and r["size"] == sb:
                pct = r.get("risk_percent")
                afip = {"site_column": col, "mitoses": _MIT_WORDS[m_afip], "size": _SIZE_WORDS[sb],
                        "risk_percent": float(pct) if pct not in (None, "") else None,
                        "label": r["label"], "source": r.get("citation") or r.get("source", "")}
                break
    if sb and m_joe and site:
        gastric = "gastric" if site == "stomach" else "non_gastric"
        for r in rows:
            if r["scheme"] == "joensuu" and r["site"] in (gastric, "any") and r["mitoses"] == m_joe \
                    and r["size"] == sb:
                joensuu = {"category": r["label"], "site": gastric.replace("_", "-"),
                           "mitoses": _MIT_WORDS[m_joe], "size": _SIZE_WORDS[sb],
                           "source": r.get("citation") or r.get("source", "")}
                break
    return {"afip": afip, "joensuu": joensuu, "missing": missing, "notes": notes}
