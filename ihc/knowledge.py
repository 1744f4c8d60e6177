"""The knowledge base: literature positivity rates, subtypes, Ki-67 and site priors.

Reads the sourced tables in ``training_data/`` and pools them into the
generative profile each diagnosis has (what share of its tumours stain
positive, focal or negative for each marker). Every pooled figure keeps the
sources it came from, so that an explanation can name them.

Used at training time only (the classify path reads the compact model, which
carries what it needs of this).

>>> kb = load_knowledge()                                  # doctest: +SKIP
>>> round(kb.rate("gist", "CD117").p, 2)                    # doctest: +SKIP
0.93
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .exceptions import InputError
from .markers import EXTENDED, CORE, LOSS_MARKERS

__all__ = [
    "DIAGNOSES",
    "DISPLAY_NAMES",
    "DESCRIPTIONS",
    "MODEL_MARKERS",
    "KI67_BINS",
    "Rate",
    "Knowledge",
    "load_knowledge",
    "default_training_dir",
    "training_data_digest",
    "ki67_bin",
]

# the diagnosis names are data of ihc.diagnoses (one table, read by the classify path too)
from .diagnoses import DESCRIPTIONS, DIAGNOSES, DISPLAY_NAMES  # noqa: E402

# defined once in ihc.markers (the classify path reads them without this training module)
from .markers import KI67_BINS, MODEL_MARKERS  # noqa: E402


def ki67_bin(value) -> str:
    """Return the Ki-67 bin of a value (a percentage, or ``"high"``/``"low"``).

    >>> ki67_bin(3), ki67_bin(8), ki67_bin(30), ki67_bin("high")
    ('low', 'mid', 'high', 'high')
    """
    if isinstance(value, str):
        if value in ("high", "low", "mid"):
            return value
        raise InputError(f"Ki-67 value {value!r} is not a number, 'high' or 'low'")
    v = float(value)
    if v < 5:
        return "low"
    if v < 15:
        return "mid"
    return "high"


def source_root() -> Path:
    """The source checkout: the package's parent folder when run from a checkout, else the
    current directory if it holds ``training_data/`` (an installed ``ihc`` run in a checkout).
    """
    here = Path(__file__).resolve().parents[1]
    for cand in (here, Path.cwd()):
        if (cand / "training_data" / "marker_frequencies.csv").is_file():
            return cand
    return here


def default_training_dir() -> Path:
    """The ``training_data/`` folder of the source checkout (see :func:`source_root`)."""
    return source_root() / "training_data"


def training_data_digest(directory=None) -> str:
    """sha256 over every data file of ``training_data/`` (names and bytes, sorted by name).

    Documentation (``*.md``) is left out: editing the README does not change the model.
    """
    directory = Path(directory or default_training_dir())
    h = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if "__pycache__" in rel or path.suffix == ".md":
            continue
        h.update(rel.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@dataclass
class Rate:
    """The pooled share of a diagnosis's tumours positive for a marker.

    ``p`` is the probability of any positive result (for H3K27me3/SDHB: of
    loss); ``focal`` the share of positives read as focal/weak.
    """

    p: float
    focal: float
    n: float
    basis: str  # "pooled", "assumed", "default"
    sources: list = field(default_factory=list)   # (source, citation) pairs

    def citation(self) -> str:
        """Short citation text: up to three sources."""
        cits = []
        for src, cit in self.sources:
            label = cit or src
            if label and label not in cits:
                cits.append(label)
        more = "" if len(cits) <= 3 else f" +{len(cits) - 3} more"
        return "; ".join(cits[:3]) + more


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _float(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


class Knowledge:
    """Pooled literature knowledge, built from ``training_data/``."""

    def __init__(self, directory=None):
        self.directory = Path(directory or default_training_dir())
        if not (self.directory / "marker_frequencies.csv").is_file():
            raise InputError(f"no marker_frequencies.csv in {self.directory}")
        self.recipe = json.loads((self.directory / "cohort_recipe.json").read_text(encoding="utf-8"))
        self.diagnoses = DIAGNOSES
        self.markers = MODEL_MARKERS
        self._load_rates()
        self._load_ki67()
        self._load_site_priors()
        self._load_workup()

    # ------------------------------------------------------------------ rates
    def _load_rates(self):
        rec = self.recipe
        weight_ref = rec["reference_row_weight"]["value"]
        a, b = rec["pooling_prior"]["alpha"], rec["pooling_prior"]["beta"]
        lo, hi = rec["rate_clip"]["low"], rec["rate_clip"]["high"]
        focal_by = rec["focal_share_by_pattern"]
        acc = {}  # (dx, subtype, marker) -> [pos, n, focal_weighted, sources]
        for row in _read_csv(self.directory / "marker_frequencies.csv"):
            dx, marker = row["diagnosis"].strip(), row["marker"].strip()
            if dx not in DIAGNOSES or marker not in MODEL_MARKERS or marker == "Ki67":
                continue
            if row.get("use", "yes").strip().lower() not in ("yes", "y", "true", "1"):
                continue
            pct = _float(row.get("percent_pos"))
            n_total = _float(row.get("n_total"))
            n_pos = _float(row.get("n_pos"))
            if n_total and n_total > 0:
                n = n_total
                pos = n_pos if n_pos is not None else (pct / 100 * n if pct is not None else None)
            else:
                if pct is None:
                    continue
                n = weight_ref
                pos = pct / 100 * n
            if pos is None:
                continue
            pos = min(max(pos, 0.0), n)
            sub = (row.get("subtype") or "").strip()
            fshare = focal_by.get((row.get("pattern") or "").strip().lower(), focal_by[""])
            slot = acc.setdefault((dx, sub, marker), [0.0, 0.0, 0.0, []])
            slot[0] += pos
            slot[1] += n
            slot[2] += fshare * n
            slot[3].append((row.get("source", "").strip(), row.get("citation", "").strip()))
        self.rates = {}  # (dx, subtype) -> marker -> Rate
        for (dx, sub, marker), (pos, n, fw, sources) in acc.items():
            p = (pos + a) / (n + a + b)
            p = min(max(p, lo), hi)
            self.rates.setdefault((dx, sub), {})[marker] = Rate(p, fw / n, n, "pooled", sources)
        # assumptions fill the gaps of the main entity and of subtypes
        assumptions = self.directory / "assumptions.csv"
        self.assumed = []
        if assumptions.is_file():
            for row in _read_csv(assumptions):
                dx, marker = row["diagnosis"].strip(), row["marker"].strip()
                sub = (row.get("subtype") or "").strip()
                pct = _float(row.get("percent_pos"))
                if dx not in DIAGNOSES or marker not in MODEL_MARKERS or pct is None:
                    continue
                table = self.rates.setdefault((dx, sub), {})
                if marker in table:
                    continue
                p = min(max(pct / 100, lo), hi)
                reason = (row.get("reason") or "").strip()
                table[marker] = Rate(p, focal_by[""], 0, "assumed",
                                     [("training_data/assumptions.csv", f"assumed: {reason}" if reason else "assumed")])
                self.assumed.append((dx, marker))
        # whatever is still missing takes the marker's mean rate over the diagnoses that have a
        # figure or an assumption: a stain nobody has counted in a diagnosis then says little
        # for or against it (rather than a guessed low rate that would count a positive against
        # it), and the cell is listed as defaulted
        self.defaulted = []
        known = {}
        for (dx, sub), table in self.rates.items():
            if not sub:
                for marker, r in table.items():
                    known.setdefault(marker, []).append(r.p)
        for dx in DIAGNOSES:
            table = self.rates.setdefault((dx, ""), {})
            for marker in MODEL_MARKERS:
                if marker == "Ki67" or marker in table:
                    continue
                ps = known.get(marker)
                p = sum(ps) / len(ps) if ps else 0.05
                table[marker] = Rate(p, focal_by[""], 0, "default",
                                     [("training_data/cohort_recipe.json",
                                       f"no figure found in {dx}; the stain's mean rate over the "
                                       f"{len(ps) if ps else 0} diagnoses with one ({100 * p:.0f}%): "
                                       "neither for nor against")])
                self.defaulted.append((dx, marker))
        # subtypes
        self.subtypes = {dx: [] for dx in DIAGNOSES}
        sub_file = self.directory / "subtypes.csv"
        if sub_file.is_file():
            for row in _read_csv(sub_file):
                dx, sub = row["diagnosis"].strip(), row["subtype"].strip()
                share = _float(row.get("share_percent"))
                if dx in DIAGNOSES and sub and share and (dx, sub) in self.rates:
                    self.subtypes[dx].append((sub, share / 100))

    def provenance(self):
        """How the marker-rate cells the model uses are backed: sourced, assumed or defaulted.

        A cell is one (diagnosis, marker, subtype) rate the cohort is generated from (Ki-67
        excluded: it has its own table). ``sourced`` cells pool at least one literature row of
        ``marker_frequencies.csv``; ``assumed`` ones come from ``assumptions.csv`` (each with its
        reason); ``defaulted`` ones have neither and take the recipe's 5%. ``share_sourced`` is
        sourced over all three: a default counts against it like an assumption.

        Returns ``{"sourced": n, "assumed": n, "defaulted": n, "share_sourced": x,
        "by_diagnosis": {dx: {...}}}``.
        """
        out = {"sourced": 0, "assumed": 0, "defaulted": 0}
        by_dx = {}
        for (dx, _sub), table in sorted(self.rates.items()):
            d = by_dx.setdefault(dx, {"sourced": 0, "assumed": 0, "defaulted": 0})
            for rate in table.values():
                key = {"pooled": "sourced", "assumed": "assumed"}.get(rate.basis, "defaulted")
                out[key] += 1
                d[key] += 1
        total = sum(out.values())
        out["share_sourced"] = out["sourced"] / total if total else 0.0
        for d in by_dx.values():
            n = sum(d.values())
            d["share_sourced"] = d["sourced"] / n if n else 0.0
        out["by_diagnosis"] = by_dx
        return out

    def rate(self, dx: str, marker: str, subtype: str = "") -> Rate:
        """The pooled rate of ``marker`` in ``dx`` (a subtype falls back to the main entity)."""
        if subtype and marker in self.rates.get((dx, subtype), {}):
            return self.rates[(dx, subtype)][marker]
        return self.rates[(dx, "")][marker]

    def mixture(self, dx: str):
        """``[(subtype, share), ...]`` with the main entity first as ``""``."""
        subs = self.subtypes.get(dx, [])
        total = sum(s for _, s in subs)
        if total >= 0.95:  # shares from different studies may not add up; keep the main entity
            subs = [(name, s * 0.9 / total) for name, s in subs]
            total = 0.9
        return [("", 1.0 - total)] + list(subs)

    def class_prior(self):
        """``{dx: prior}`` for the model's classes: the recipe's ``extended_share`` spread over the
        added diagnoses (:data:`ihc.diagnoses.EXTENDED`), the rest over the core ones; ``None``
        when the model has no added diagnosis or the recipe no share."""
        from .diagnoses import EXTENDED

        share = (self.recipe.get("extended_share") or {}).get("value")
        added = [dx for dx in self.diagnoses if dx in EXTENDED]
        core = [dx for dx in self.diagnoses if dx not in EXTENDED]
        if not share or not added or not core:
            return None
        return {**{dx: (1.0 - share) / len(core) for dx in core}, **{dx: share / len(added) for dx in added}}

    def _load_workup(self):
        """``{dx: [(stains, p_in_workup, exclusion_rate), ...]}`` from ``workup.csv`` (see
        :mod:`ihc.cohort`).

        A diagnosis may have several rows: each is a group of stains of which its work-up includes
        one with the row's probability, independently of its other groups (an angiosarcoma's CD31
        and its ERG are separate orders). ``exclusion_rate`` (default 0): how often the
        diagnosis's groups are ordered, all of them, in another diagnosis's work-up to exclude it.
        """
        self.workup = {}
        path = self.directory / "workup.csv"
        if not path.is_file():
            return
        for row in _read_csv(path):
            dx = row["diagnosis"].strip()
            names = tuple(m for m in row["stains"].split() if m in MODEL_MARKERS)
            p = _float(row.get("p_in_workup"))
            excl = _float(row.get("exclusion_rate")) or 0.0
            if dx in DIAGNOSES and names and p is not None:
                self.workup.setdefault(dx, []).append((names, min(max(p, 0.0), 1.0), min(max(excl, 0.0), 1.0)))

    # ------------------------------------------------------------------ Ki-67
    def _load_ki67(self):
        self.ki67 = {}
        self.ki67_sources = {}
        path = self.directory / "ki67.csv"
        if path.is_file():
            for row in _read_csv(path):
                dx = row["diagnosis"].strip()
                if dx not in DIAGNOSES or (row.get("basis") or "").strip() == "supporting":
                    continue
                sub = (row.get("subtype") or "").strip()
                shares = [_float(row.get(f"share_{b}")) for b in KI67_BINS]
                if any(s is None for s in shares) or sum(shares) <= 0:
                    continue
                tot = sum(shares)
                self.ki67[(dx, sub)] = tuple(s / tot for s in shares)
                self.ki67_sources[(dx, sub)] = (row.get("source", "").strip(), row.get("citation", "").strip())
        for dx in DIAGNOSES:
            if (dx, "") not in self.ki67:
                self.ki67[(dx, "")] = (1 / 3, 1 / 3, 1 / 3)
                self.ki67_sources[(dx, "")] = ("training_data/cohort_recipe.json", "no Ki-67 distribution found; uniform")

    def ki67_shares(self, dx, subtype=""):
        """(low, mid, high) shares of Ki-67 for a diagnosis (or subtype)."""
        return self.ki67.get((dx, subtype), self.ki67[(dx, "")])

    # ------------------------------------------------------------ site priors
    def _load_site_priors(self):
        self.site_priors = {}
        self.site_sources = {}
        self._site_citations = {}
        floor = self.recipe["site_prior_floor_percent"]["value"]
        path = self.directory / "site_priors.csv"
        chosen = {}
        if path.is_file():
            rows = _read_csv(path)
            has_chosen = rows and "chosen" in rows[0]
            for row in rows:
                if not has_chosen or (row.get("chosen") or "").strip().lower() not in ("yes", "y", "true", "1"):
                    continue
                site, dx = row["site"].strip(), row["diagnosis"].strip()
                share = _float(row.get("share_percent"))
                if dx in DIAGNOSES and share is not None:
                    chosen.setdefault(site, {})[dx] = share
                    self._site_citations[(site, dx)] = row.get("citation", "").strip()
                    self.site_sources.setdefault(site, []).append(
                        (row.get("source", "").strip(), row.get("citation", "").strip()))
        self.site_shares_published = chosen
        for site, shares in chosen.items():
            full = {dx: max(shares.get(dx, 0.0), floor) for dx in DIAGNOSES}
            tot = sum(full.values())
            self.site_priors[site] = {dx: v / tot for dx, v in full.items()}
        # anatomical restrictions: a diagnosis that does not arise at a site (IFP outside the GI
        # tract); applied untempered, on top of the (tempered) case-mix shares
        self.site_restrictions = {}
        path = self.directory / "site_restrictions.csv"
        if path.is_file():
            for row in _read_csv(path):
                dx, site = row["diagnosis"].strip(), row["site"].strip()
                factor = _float(row.get("factor"))
                if dx in DIAGNOSES and factor and factor > 0:
                    self.site_restrictions.setdefault(site, {})[dx] = factor
                    self.site_sources.setdefault(site, []).append(
                        (row.get("source", "").strip(), row.get("citation", "").strip()))

    @property
    def prior_sites(self):
        """Sites with a chosen case mix or an anatomical restriction."""
        return sorted(set(self.site_priors) | set(self.site_restrictions))

    def site_majority(self):
        """Sites where one diagnosis is the majority of the published case mix.

        Returns ``{site: {"diagnosis", "share_percent", "citation"}}`` for every
        site whose chosen series give one diagnosis at least the recipe's
        ``site_majority_percent`` (untempered: this is what a colleague knows of
        the site, not the prior the model applies).
        """
        cut = self.recipe.get("site_majority_percent", {}).get("value", 50.0)
        out = {}
        for site, shares in sorted(self.site_shares_published.items()):
            dx = max(sorted(shares), key=lambda d: shares[d])
            if shares[dx] >= cut:
                out[site] = {"diagnosis": dx, "share_percent": shares[dx],
                             "citation": self._site_citations.get((site, dx), "")}
        return out

    def site_log_prior(self, site, strength=None):
        """Centered log prior per diagnosis at ``site`` (tempered), or zeros when neutral."""
        if not site or site not in self.prior_sites:
            return {dx: 0.0 for dx in DIAGNOSES}
        k = self.recipe["site_prior_strength"]["value"] if strength is None else strength
        shares = self.site_priors.get(site, {dx: 1.0 for dx in DIAGNOSES})
        restrict = self.site_restrictions.get(site, {})
        logs = {dx: k * math.log(p) + math.log(restrict.get(dx, 1.0)) for dx, p in shares.items()}
        mean = sum(logs.values()) / len(logs)
        return {dx: v - mean for dx, v in logs.items()}

    # ----------------------------------------------------- generative tables
    def state_probs(self, dx, marker, subtype="", noise=None):
        """Probability of each observed state of ``marker`` in ``dx`` after technical noise."""
        eps = self.recipe["technical_false_rate"]["value"] if noise is None else noise
        if marker == "Ki67":
            shares = self.ki67_shares(dx, subtype)
            s = [0.98 * x + 0.02 / 3 for x in shares]
            return dict(zip(KI67_BINS, s))
        r = self.rate(dx, marker, subtype)
        p_obs = r.p * (1 - eps) + (1 - r.p) * eps
        if marker in LOSS_MARKERS:
            return {"lost": p_obs, "retained": 1 - p_obs}
        return {"pos": p_obs * (1 - r.focal), "focal": p_obs * r.focal, "neg": 1 - p_obs}

    def profile(self, dx):
        """Typical profile: markers with their pooled rate, most telling first."""
        table = self.rates[(dx, "")]
        out = []
        for marker in MODEL_MARKERS:
            if marker == "Ki67":
                continue
            r = table[marker]
            out.append((marker, r))
        return out


def load_knowledge(directory=None) -> Knowledge:
    """Load and pool the knowledge base of ``training_data/``."""
    return Knowledge(directory)


# ------------------------------------------------------------------ morphology

def _group_citation(rows):
    cits = []
    for r in rows:
        c = (r.get("citation") or r.get("source") or "").strip()
        if c and c not in cits:
            cits.append(c)
    if not cits:
        return ""
    return cits[0] + (f" (+{len(cits) - 1} more)" if len(cits) > 1 else "")


def morphology_tables(directory, classes, recipe):
    """The ``"morphology"`` object of the model file, from ``training_data/morphology.csv``.

    Per site group, finding and diagnosis, ``P(state)`` floored (grade findings at
    ``grade_floor``, context findings at ``context_floor``, from the recipe) and renormalised;
    with the first citation of each group and its basis (reported / derived / assumed).
    Returns None when the file is absent (a model without morphology).
    """
    from .morphology import FINDINGS, GRADE_FINDINGS

    path = Path(directory) / "morphology.csv"
    if not path.is_file():
        return None
    rec = recipe["morphology"]
    groups = {}
    for r in _read_csv(path):
        if r["diagnosis"] not in classes:
            continue
        if r["feature"] not in FINDINGS or r["state"] not in FINDINGS[r["feature"]]:
            raise InputError(f"morphology.csv: unknown feature/state {r['feature']}={r['state']}")
        groups.setdefault((r["site_group"], r["feature"], r["diagnosis"]), []).append(r)
    tables, sources = {}, {}
    for (group, feature, dx), rows in sorted(groups.items()):
        probs = {s: 0.0 for s in FINDINGS[feature]}
        for r in rows:
            probs[r["state"]] += float(r["probability"])
        floor = rec["grade_floor"] if feature in GRADE_FINDINGS else rec["context_floor"]
        probs = {s: max(p, floor) for s, p in probs.items()}
        tot = sum(probs.values())
        tables.setdefault(group, {}).setdefault(feature, {})[dx] = {s: round(p / tot, 6) for s, p in probs.items()}
        bases = {r["basis"] for r in rows}
        basis = "assumed" if bases == {"assumed"} else ("reported" if bases == {"reported"} else "derived")
        sources.setdefault(group, {}).setdefault(feature, {})[dx] = [_group_citation(rows), basis]
    for feature in FINDINGS:
        for dx in classes:
            if dx not in tables.get("any", {}).get(feature, {}):
                # no figure at all: the finding says nothing about this diagnosis (uniform), said so
                n = len(FINDINGS[feature])
                tables.setdefault("any", {}).setdefault(feature, {})[dx] = {s: round(1 / n, 6) for s in FINDINGS[feature]}
                sources.setdefault("any", {}).setdefault(feature, {})[dx] = [
                    "no figures in training_data/morphology.csv: uniform", "assumed"]
    return {"weights": {"grade": rec["grade_weight"], "context": rec["context_weight"]},
            "tables": tables, "sources": sources}


def gist_risk_rows(directory):
    """The rows of ``training_data/gist_risk.csv`` the classify path quotes ([] when absent)."""
    path = Path(directory) / "gist_risk.csv"
    if not path.is_file():
        return []
    keep = ("scheme", "site", "mitoses", "size", "risk_percent", "label", "source", "citation")
    return [{k: (r.get(k) or "").strip() for k in keep} for r in _read_csv(path)]


def dev_case_files(directory):
    """The development case files of a training folder: ``real_cases_dev.jsonl`` and ``real_cases_*_dev.jsonl``.

    They choose the model's hyperparameters and thresholds; every other ``real_cases_*.jsonl`` is held out.
    """
    d = Path(directory)
    return sorted(p for p in d.glob("real_cases*dev.jsonl") if p.is_file()
                  and (p.name == "real_cases_dev.jsonl" or p.name.endswith("_dev.jsonl")))
