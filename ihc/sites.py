"""Tumour site as reports write it -> one canonical site (DESIGN section 3).

The site only shifts the prior, so a site that cannot be placed is a warning
(the neutral prior is used), never an error. Standard library only: this module
is on the fast ``classify`` path.

>>> normalise_site("gastric fundus")
('stomach', None)
>>> normalise_site("rectal wall")
('colorectum', None)
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = ["CANONICAL_SITES", "SITE_GROUPS", "SITE_GROUP_OF", "normalise_site", "site_names"]

#: Canonical sites, in display order.
CANONICAL_SITES = (
    "retroperitoneum", "stomach", "small_intestine", "colorectum", "anus", "esophagus",
    "mesentery_omentum", "uterus", "soft_tissue", "skin", "bone", "thorax", "other",
)

#: Site groups whose criteria differ (morphology is read per group; "any": everywhere else).
SITE_GROUPS = ("gi", "abdomen", "uterus", "soft_tissue", "skin", "any")

#: Canonical site -> site group.
SITE_GROUP_OF = {
    "stomach": "gi", "small_intestine": "gi", "colorectum": "gi", "anus": "gi", "esophagus": "gi",
    "mesentery_omentum": "abdomen", "retroperitoneum": "abdomen",
    "uterus": "uterus", "skin": "skin", "soft_tissue": "soft_tissue",
}

# Multi-word phrases first (matched as whole word sequences), then single words.
# A phrase is tried before the words it contains, so "hepatic flexure" is the
# colon although "hepatic" alone is the liver, and "abdominal wall" is soft tissue.
_PHRASES = {
    "gastroesophageal junction": "stomach", "gastro esophageal junction": "stomach",
    "gastrooesophageal junction": "stomach", "gastro oesophageal junction": "stomach",
    "esophagogastric junction": "stomach", "oesophagogastric junction": "stomach",
    "small bowel": "small_intestine", "small intestine": "small_intestine",
    "small intestinal": "small_intestine",
    "large bowel": "colorectum", "large intestine": "colorectum",
    "hepatic flexure": "colorectum", "splenic flexure": "colorectum",
    "recto sigmoid": "colorectum",
    "soft tissue": "soft_tissue", "soft tissues": "soft_tissue",
    "abdominal wall": "soft_tissue", "chest wall": "soft_tissue",
    "thoracic wall": "soft_tissue", "skeletal muscle": "soft_tissue",
    "head and neck": "soft_tissue",
    "urinary bladder": "other", "spermatic cord": "other", "gall bladder": "other",
    "mesentery omentum": "mesentery_omentum",
    # the organ names the mesentery: the site is the mesentery
    "small bowel mesentery": "mesentery_omentum", "small intestinal mesentery": "mesentery_omentum",
    "small intestine mesentery": "mesentery_omentum", "colon mesentery": "mesentery_omentum",
    "colonic mesentery": "mesentery_omentum", "sigmoid mesentery": "mesentery_omentum",
    "jejunal mesentery": "mesentery_omentum", "ileal mesentery": "mesentery_omentum",
    "gastric wall": "stomach",
    # the thoracic skeleton is bone, not the thorax (single word "thoracic" is the thorax)
    "thoracic vertebra": "bone", "thoracic vertebrae": "bone", "thoracic spine": "bone",
    "chest cavity": "thorax", "pleural cavity": "thorax", "thoracic cavity": "thorax",
    # the nerve plexuses of the limbs and the neck are soft tissue (peripheral nerve sheath tumours)
    "brachial plexus": "soft_tissue", "sciatic nerve": "soft_tissue", "lumbosacral plexus": "soft_tissue",
    "nail bed": "skin",
    "submandibular gland": "other", "salivary gland": "other",
}
_MAX_PHRASE = max(len(p.split()) for p in _PHRASES)

_WORDS = {}


def _add(site, *words):
    for w in words:
        _WORDS[w] = site


_add("retroperitoneum", "retroperitoneum", "retroperitoneal", "retroperitoneally",
     "retroperitonium")
_add("stomach", "stomach", "gastric", "fundus", "fundic", "antrum", "antral", "pylorus",
     "pyloric", "cardia", "gastroesophageal", "gastrooesophageal", "gej", "prepyloric")
_add("small_intestine", "jejunum", "jejunal", "ileum", "ileal", "duodenum", "duodenal",
     "small_intestine", "smallintestine")
_add("colorectum", "colon", "colonic", "cecum", "caecum", "cecal", "caecal", "rectum",
     "rectal", "sigmoid", "rectosigmoid", "ileocaecal", "ileocecal",
     "colorectal", "colorectum", "appendix", "appendiceal")
# the anal canal and anorectum: mucosal melanoma (often KIT-positive) outnumbers GIST there
# (site_priors.csv: SEER rates, Chen 2016 / Liu 2019), unlike the colon and rectum
_add("anus", "anus", "anal", "anorectum", "anorectal", "perianal")
_add("esophagus", "esophagus", "oesophagus", "esophageal", "oesophageal")
_add("mesentery_omentum", "mesentery", "mesenteric", "mesocolon", "mesocolic", "omentum",
     "omental", "peritoneum", "peritoneal", "mesentery_omentum")
_add("uterus", "uterus", "uterine", "myometrium", "myometrial", "endometrium",
     "endometrial", "cervix")
_add("soft_tissue", "thigh", "arm", "forearm", "leg", "calf", "extremity",
     "extremities", "limb", "limbs", "subcutis", "subcutaneous", "hip", "trunk", "buttock",
     "buttocks", "gluteal", "shoulder", "knee", "foot", "hand", "groin", "inguinal",
     "axilla", "axillary", "popliteal", "intramuscular", "soft_tissue", "back", "flank",
     "neck", "elbow", "wrist", "ankle", "scapular", "deltoid", "quadriceps",
     "perineum", "perineal", "submandibular", "supraclavicular")
_add("skin", "skin", "dermis", "dermal", "cutaneous", "intradermal", "scalp", "epidermis", "subungual")
_add("bone", "bone", "bones", "femur", "tibia", "tibial", "humerus", "humeral", "fibula",
     "ulna", "vertebra", "vertebrae", "vertebral", "rib", "ribs", "skull", "sacrum",
     "sacral", "ilium", "iliac", "mandible", "maxilla", "calcaneus", "osseous",
     "intraosseous", "skeletal")
# the chest cavity and its organs: entities of the GI tract wall (GIST, IFP, plexiform
# fibromyxoma) do not arise there (training_data/site_restrictions.csv)
_add("thorax", "thorax", "thoracic", "intrathoracic", "lung", "lungs", "pulmonary", "pleura",
     "pleural", "mediastinum", "mediastinal", "trachea", "tracheal", "bronchus", "bronchial",
     "endobronchial", "intrapulmonary")
_add("other", "pancreas", "pancreatic", "liver", "hepatic", "kidney", "renal", "bladder",
     "prostate", "prostatic", "heart", "cardiac", "vagina", "vaginal", "vulva", "vulvar",
     "breast", "ovary", "ovarian",
     "spleen", "splenic", "adrenal", "thyroid", "brain", "orbit", "orbital", "gallbladder",
     "testis", "testicular", "paratesticular", "scrotum", "scrotal",
     "nasal", "sinonasal", "larynx", "laryngeal", "tongue", "oral",
     "parotid", "kidneys", "ureter", "urethra", "penis", "penile", "other", "intracranial",
     "meninges", "meningeal", "spinal", "vessel", "vein", "artery",
     "ovaries", "fallopian", "placenta", "epididymis", "epididymal", "eye", "ocular", "intraocular",
     "choroid", "choroidal")

_TOKEN = re.compile(r"[^\W_]+|[/,;:()+&|]")


def site_names():
    """Return the canonical site names (for messages and ``--help``).

    >>> site_names()[:3]
    ('retroperitoneum', 'stomach', 'small_intestine')
    """
    return CANONICAL_SITES


def _words(text):
    t = unicodedata.normalize("NFKC", text).casefold()
    # canonical names written with underscores ("small_intestine") read as words
    t = t.replace("_", " ")
    return _TOKEN.findall(t)


def normalise_site(text):
    """Map a site as a report writes it to a canonical site.

    Parameters
    ----------
    text : str or None
        Free text such as ``"gastric fundus"``, ``"jejunum"``, ``"pelvic
        retroperitoneum"`` or ``"bone (distal femur)"``; a canonical name
        (``"small_intestine"``) is accepted as it is.

    Returns
    -------
    tuple
        ``(canonical_site_or_None, warning_or_None)``. Empty input gives
        ``(None, None)``; a site that cannot be placed gives ``None`` and a
        one-line warning (the caller then uses the neutral prior). When several
        sites are named (``"mesentery/small intestine"``) the first recognised
        one wins.

    Examples
    --------
    >>> normalise_site("jejunum")
    ('small_intestine', None)
    >>> normalise_site("mesentery/small intestine")
    ('mesentery_omentum', None)
    >>> normalise_site(None)
    (None, None)
    >>> normalise_site("xyz")[1].startswith("site 'xyz' not recognised")
    True
    """
    if text is None:
        return None, None
    if not isinstance(text, str):
        text = str(text)
    return _normalised(text)


@functools.lru_cache(maxsize=4096)  # a pure function of the text: exports repeat a few sites
def _normalised(text):
    """:func:`normalise_site` of a text."""
    stripped = " ".join(text.split())
    if not stripped:
        return None, None
    words = _words(stripped[:2000])
    for i, w in enumerate(words):
        for n in range(min(_MAX_PHRASE, len(words) - i), 1, -1):
            site = _PHRASES.get(" ".join(words[i:i + n]))  # separators never match
            if site:
                return site, None
        site = _WORDS.get(w)
        if site:
            return site, None
    shown = stripped if len(stripped) <= 60 else stripped[:57] + "..."
    return None, (
        f"site '{shown}' not recognised; using the neutral prior. "
        f"Accepted: {', '.join(CANONICAL_SITES)}"
    )
