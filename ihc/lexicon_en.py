"""English report words: the reader's lexicon (a data table, no code).

``WORD_CLASSES`` gives each word its class in the grammar of :mod:`ihc.parse`: ``POS``/``NEG``
(a result), ``RET`` (retained), ``EXPR`` (a stain or its expression, polarity from context),
``NEGATOR``, ``QF``/``QP`` (qualifiers that make a positive reading focal / keep it positive),
``PAT`` (a staining pattern), ``ND`` (not done), ``F`` (a preposition that opens a list),
``CONN`` (connectors), ``BRK`` (clause breaks), ``FILL`` (words a list may hold),
``HIGH``/``LOW`` (Ki-67 words), ``MOLEC`` (molecular tests: not IHC). The other languages'
tables (:mod:`ihc.lexicon_ja`, :mod:`ihc.lexicon_zh`, :mod:`ihc.lexicon_ko`) are read into
these words.
"""

#: class -> the words of that class (space-separated, lower case)
WORD_CLASSES = {
    "POS": (
        "positive positivity positively pos posit positiv positve postive immunopositive "
        "immunopositivity immunoreactive reactive"),
    "NEG": (
        "negative negativity negatively neg negativ immunonegative nonreactive unreactive "
        "lost loss deficient deficiency"),
    "RET": (
        "retained retention intact preserved"),
    "EXPR": (
        "expressed express expresses expressing expression expressions coexpressed coexpress "
        "coexpresses coexpression coexpressing overexpressed overexpression overexpressing presence "
        "stained stain stains staining stainings immunostaining immunostained immunostain "
        "immunoreactivity immunoreactivities reactivity reactivities reaction reactions "
        "immunoexpression immunolabeling immunolabelling labelled labeled decorated "
        "highlighted highlights highlight contained immunohistochemically_positive "
        "immunoreaction immunoreactions immunoexpressions signal signals detected present evidence"),
    "NEGATOR": (
        "no not lack lacked lacking lacks absence absent without non nonspecific neither "
        "never devoid negated"),
    "QF": (
        "focal focally weak weakly patchy patchily scattered partial partially variable "
        "variably heterogeneous heterogeneously rare rarely occasional occasionally few some "
        "subset subpopulation subpopulations interspersed entrapped isolated faint faintly "
        "mild mildly minority sporadic sporadically single individual focus foci equivocal "
        "partly"),
    "QP": (
        "diffuse diffusely strong strongly intense intensely uniform uniformly moderate "
        "moderately extensive extensively widespread most majority global globally "
        "intermediate bright brightly marked markedly consistent consistently homogeneous "
        "homogeneously robust definite definitely highly"),
    "PAT": (
        "nuclear nuclei nucleus cytoplasmic cytoplasm membranous membrane membranes "
        "paranuclear perinuclear granular golgi dotlike"),
    "ND": (
        "done performed nd na pending unavailable ordered requested attempted inconclusive "
        "noncontributory indeterminate failed"),
    "F": (
        "for to with against of"),
    "CONN": (
        "and or plus nor as well along together including both either also"),
    "BRK": (
        "but whereas while whilst however although though except yet unlike contrast "
        "conversely"),
    "FILL": (
        "protein proteins antigen antigens antibody antibodies marker markers the a an all any "
        "immunohistochemical immunohistochemistry immunostains clone monoclonal polyclonal "
        "melanocytic myogenic smooth muscle epithelial neural endothelial vascular "
        "neuroendocrine lymphoid histiocytic perineurial mesenchymal schwannian myoid immune "
        "profile profiles following other cells cell tumor tumour tumors tumours spindle "
        "neoplastic lesional was were is are be been being appeared appear appears showed "
        "show shows showing revealed revealing demonstrated demonstrating displayed exhibited "
        "had has have did does do in areas only specific that which these they them it its their "
        "same nearly almost virtually completely entirely totally found seen observed noted "
        "identified by ihc"),
    "HIGH": (
        "high higher increased elevated considerable brisk raised"),
    "LOW": (
        "low lower minimal scant negligible"),
    "MOLEC": (
        "mutation mutations mutated mutant amplification amplifications amplified "
        "rearrangement rearrangements rearranged fusion fusions gene genes exon exons "
        "translocation translocations deletion deletions fish pcr sequencing transcript "
        "transcripts mrna ngs methylation hybridization hybridisation copy"),
}

#: Sentence words that say a tumour is heterogeneous (pos + neg in one sentence -> focal).
CUES = {"some", "others", "subset", "subpopulation", "subpopulations", "areas", "foci",
         "regions", "portions", "parts", "part"}

#: Words that place a reading in cells other than the tumour's ("CD117 stained mast cells",
#: "SMA positive in entrapped smooth muscle", "CD34 highlights the background vessels").
NON_TUMOUR = {
    "entrapped", "background", "vessel", "vessels", "vasculature", "capillary", "capillaries",
    "endothelium", "endothelial", "vascular", "normal", "residual", "adjacent", "surrounding",
    "nonneoplastic", "cajal", "icc", "mast", "lymphocytes", "lymphocyte", "lymphocytic",
    "inflammatory", "histiocytes", "macrophages", "plasma", "pericytes", "nerve", "nerves",
    "epithelium", "mucosa", "mucosal", "muscularis", "myoepithelial", "control", "controls",
    "component", "components", "overlying", "stroma", "osteoclast", "osteoclasts", "osteoclastic",
    "adipocytes", "adipocyte",
}

#: "30% of the (tumour) cells": words after a percentage that make it a share of cells.
CELL_WORDS = {"cells", "cell", "nuclei", "tumor", "tumour", "neoplastic", "lesional"}

#: Words that place a reading in the tumour ("in tumour cells", "lesional cells").
TUMOUR = {"tumor", "tumour", "tumors", "tumours", "neoplastic", "lesional", "neoplasm",
          "neoplasms", "lesion", "lesions", "proliferation"}

#: All-caps abbreviations that are not IHC markers.
STOP = {
    "GIST", "IHC", "FISH", "PCR", "RT", "DNA", "RNA", "MRNA", "NGS", "HPF", "HE", "CT", "MRI",
    "PET", "WHO", "LMS", "MPNST", "SFT", "IMT", "IFP", "DDLPS", "DDL", "WDLPS", "UPS", "MFH",
    "ICC", "NOS", "FNCLCC", "AJCC", "TNM", "USA", "UK", "SMT", "EUS", "FNA", "FNAB", "GI",
    "GE", "GEJ", "CNS", "PEC", "PECOMA", "II", "III", "IV", "VI", "NB", "AND", "OR", "THE",
    "FOR", "LI", "ID", "NA", "ND", "CASE", "MM", "CM", "HPFS", "LPF", "EM", "TEM", "OK",
    "NEG", "POS", "IHC", "PS", "VS", "ER", "PR", "SD", "HES", "EBV", "HIV", "HPV", "ISH",
    "CISH", "SISH", "WT", "MDT", "IV", "COPD", "DM", "HTN", "AB", "CK", "ALT",
}

#: Of NON_TUMOUR, the words that name other cells outright: a reading placed only there is no
#: tumour result ("in the epithelioid component" is still the tumour's).
OTHER_CELLS = NON_TUMOUR - {"component", "components"}

#: Copulas that may join a marker's own noun to its grade ("SMA positivity was focal").
COPULAS = {"was", "were", "is", "are"}
