"""The marker vocabulary: canonical names, synonyms as reports write them, value states.

Every marker has one canonical name (DESIGN section 3). Synonyms are matched
case-insensitively after normalisation (see :func:`normalise_name`).

>>> canonical("c-kit")
'CD117'
>>> canonical("alpha-SMA")
'SMA'
>>> canonical("bcl-2"), canonical("HHF-35")
('BCL2', 'MSA')
>>> canonical("SATB2") is None
True
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "CORE",
    "EXTENDED",
    "UNINFORMATIVE",
    "NOT_MODELLED",
    "OTHER_MARKERS",
    "MARKERS",
    "MODEL_MARKERS",
    "KI67_BINS",
    "BINARY_STATES",
    "LOSS_MARKERS",
    "LOSS_STATES",
    "NUCLEAR_MARKERS",
    "nuclear_reading",
    "MarkerInfo",
    "canonical",
    "normalise_name",
    "vocabulary",
    "info",
    "lookup_table",
]

#: The product's core panel.
CORE = ("SMA", "desmin", "CD117", "CD34", "S100", "DOG1", "Ki67")

#: Accepted and used when present.
EXTENDED = (
    "h_caldesmon", "calponin", "SOX10", "STAT6", "beta_catenin", "ALK", "MDM2",
    "CDK4", "keratin", "EMA", "TLE1", "HMB45", "melan_a", "PDGFRA", "H3K27me3",
    "SDHB", "calretinin", "CD31", "ERG", "myogenin", "MyoD1", "ER", "PR",
    # modelled since issue 15 (rates in training_data/, sourced or assumed with a reason)
    "CD99", "BCL2", "WT1", "MSA", "GFAP", "CD56", "synaptophysin", "chromogranin", "CK7", "CK20",
    "PAX8", "TTF1", "CD21", "CD23", "CD35", "podoplanin", "MUC4", "INI1", "HHV8", "NKX2_2", "FLI1",
    "collagen_IV", "claudin1", "CD10", "CD68", "GLUT1", "TFE3",
)

#: Recognised stains the model has no figures for (yet): read, echoed as ignored, never
#: "unknown". Whether the model uses them is the knowledge base's work, not the reader's.
NOT_MODELLED = ("NSE", "neurofilament", "CD45", "p16", "CD57", "SMMHC", "p63")

#: Recognised but carrying no diagnostic weight in the model (echoed as ignored): the
#: uninformative stains and those of :data:`NOT_MODELLED`.
UNINFORMATIVE = ("vimentin", "p53") + NOT_MODELLED

#: Every canonical marker, in display order.
MARKERS = CORE + EXTENDED + UNINFORMATIVE

#: Markers the model uses, in model order (core then extended, without the uninformative ones; Ki-67 last).
MODEL_MARKERS = tuple(m for m in CORE if m != "Ki67") + tuple(EXTENDED) + ("Ki67",)

#: Ki-67 bins (percent): low < 5 <= mid < 15 <= high.
KI67_BINS = ("low", "mid", "high")

#: Value states of an ordinary marker.
BINARY_STATES = ("pos", "focal", "neg")

#: Markers whose informative result is loss of expression: values ``lost``/``retained``.
LOSS_MARKERS = ("H3K27me3", "SDHB", "INI1")

#: A loss marker's reading as reports and case files write it -> its state.
LOSS_STATES = {"neg": "lost", "pos": "retained", "focal": "retained"}

#: Markers whose result is read in the nucleus only (transcription factors and nuclear antigens;
#: for beta-catenin the model's rates are those of nuclear accumulation): staining a report calls
#: cytoplasmic or membranous, without nuclear staining, is a negative result. Cytoplasmic MyoD1
#: and myogenin are the classic non-specific pattern in non-myogenic tumours, and membranous or
#: cytoplasmic beta-catenin is seen in most spindle-cell tumours; the rates in
#: training_data/marker_frequencies.csv count nuclear staining.
NUCLEAR_MARKERS = frozenset({"beta_catenin", "MyoD1", "myogenin", "STAT6", "SOX10", "TLE1", "ERG", "FLI1",
                             "NKX2_2", "TFE3", "HHV8", "MDM2", "CDK4", "ER", "PR", "PAX8", "TTF1"})

#: The place words of a reading that put it in the nucleus, and elsewhere.
_NUCLEAR_WORDS = frozenset({"nuclear", "nuclei", "nucleus"})
_ELSEWHERE_WORDS = frozenset({"cytoplasmic", "cytoplasm", "membranous", "membrane", "membranes"})


def nuclear_reading(name, value, places):
    """The value of a positive reading of a nuclear marker that ``places`` (its place words) put
    outside the nucleus only: ``"neg"``; otherwise ``value`` unchanged.

    >>> nuclear_reading("MyoD1", "pos", {"cytoplasmic"}), nuclear_reading("MyoD1", "pos", {"nuclear"})
    ('neg', 'pos')
    >>> nuclear_reading("desmin", "pos", {"cytoplasmic"})
    'pos'
    """
    if name in NUCLEAR_MARKERS and value in ("pos", "focal") and places & _ELSEWHERE_WORDS \
            and not places & _NUCLEAR_WORDS:
        return "neg"
    return value


class MarkerInfo:
    """One marker of the vocabulary (canonical name, display name, synonyms, states)."""

    __slots__ = ("name", "display", "synonyms", "kind", "states", "description")

    def __init__(self, name, display, synonyms, kind, states, description):
        self.name = name
        self.display = display
        self.synonyms = tuple(synonyms)
        self.kind = kind
        self.states = tuple(states)
        self.description = description

    def to_dict(self):
        return {
            "name": self.name,
            "display": self.display,
            "synonyms": list(self.synonyms),
            "kind": self.kind,
            "states": list(self.states),
            "description": self.description,
        }


# name: (display, synonyms, description)
_DEFS = {
    "SMA": ("SMA", ["smooth muscle actin", "smooth muscle antigen", "alpha-SMA", "alpha SMA", "α-SMA", "αSMA", "a-SMA",
                    "alpha smooth muscle actin", "α-smooth muscle actin", "actin (SMA)", "SM actin",
                    "SMactin", "ASMA", "1A4", "smooth-muscle actin", "actin-SM", "sm-actin",
                    # reports write plain "actin" for SMA; "muscle actin" (HHF35/MSA) is NOT SMA
                    "actin"],
            "smooth muscle actin"),
    "desmin": ("desmin", ["des", "DES", "desmine"], "intermediate filament of muscle"),
    "CD117": ("CD117", ["c-kit", "ckit", "c kit", "KIT", "CD 117", "KIT (CD117)", "CD117 (c-kit)",
                        "c-KIT protein", "CD117/KIT", "KIT/CD117", "c-kit/CD117", "CD117/c-kit"],
            "KIT receptor tyrosine kinase"),
    "CD34": ("CD34", ["CD 34", "QBEnd10", "QBEND/10"], "haematopoietic progenitor / fibroblast antigen"),
    "S100": ("S100", ["S-100", "S 100", "S100 protein", "S-100 protein", "S100p", "PS100",
                       # the S100 beta chain, as some reports name the antibody
                       "S100b", "S-100b"],
             "S100 protein (neural crest, Schwann cells, melanocytes)"),
    "DOG1": ("DOG1", ["DOG-1", "DOG 1", "ANO1", "anoctamin-1", "anoctamin 1", "anoctamin1",
                      "discovered on GIST-1", "discovered on GIST 1", "TMEM16A"],
             "anoctamin-1 chloride channel (GIST)"),
    "Ki67": ("Ki-67", ["Ki-67", "Ki 67", "Ki67", "MIB-1", "MIB1", "MIB 1", "Ki-67 index",
                       "Ki-67 labeling index", "Ki67 LI", "Ki-67/MIB-1", "MIB-1/Ki-67",
                       # written without a space before "index"
                       "MIB-1index", "Ki-67index"],
             "proliferation index (% of tumour nuclei)"),
    "h_caldesmon": ("h-caldesmon", ["h-caldesmon", "caldesmon", "h caldesmon", "hcaldesmon",
                                    "high molecular weight caldesmon", "CALD1", "h-cald", "h-CD",
                                    # common misspelling in reports
                                    "caldesmin", "h-caldesmin"],
                    "smooth-muscle contractile protein"),
    "calponin": ("calponin", ["calponin", "h-calponin"], "smooth-muscle contractile protein"),
    "SOX10": ("SOX10", ["SOX-10", "SOX 10"], "neural crest transcription factor (Schwann cells, melanocytes)"),
    "STAT6": ("STAT6", ["STAT-6", "STAT 6", "signal transducer and activator of transcription 6"], "nuclear STAT6 (NAB2-STAT6 fusion of SFT)"),
    "beta_catenin": ("β-catenin", ["beta-catenin", "beta catenin", "β-catenin", "β catenin", "b-catenin",
                                   "ß-catenin", "CTNNB1", "nuclear beta-catenin", "nuclear β-catenin"],
                     "nuclear beta-catenin (CTNNB1/APC pathway)"),
    "ALK": ("ALK", ["ALK1", "ALK-1", "ALK 1", "ALK protein", "D5F3", "anaplastic lymphoma kinase",
                     "anaplastic lymphoma kinase 1", "anaplastic lymphoma kinase-1"], "anaplastic lymphoma kinase"),
    "MDM2": ("MDM2", ["MDM-2", "MDM 2"], "MDM2 (12q15 amplification)"),
    "CDK4": ("CDK4", ["CDK-4", "CDK 4", "cyclin-dependent kinase 4", "cyclin dependent kinase 4"], "CDK4 (12q14 amplification)"),
    "keratin": ("keratin", ["cytokeratin", "cytokeratins", "CK", "pan-CK", "panCK", "pan CK",
                            "pan-cytokeratin", "pancytokeratin", "AE1/AE3", "AE1-AE3", "AE1/3",
                            "CKAE1/AE3", "CK AE1/AE3", "CAM5.2", "CAM 5.2", "keratins",
                            "CK-pan", "CK-P", "PCK", "MNF116", "OSCAR", "keratin AE1/AE3", "cytokeratin AE1/AE3",
                            "pan-keratin", "pankeratin", "cytokeratin (AE1/AE3)", "prekeratin",
                            # "did not express epithelial markers": the cytokeratins a panel means by it
                            "epithelial markers"],
                "epithelial keratins (pan-keratin)"),
    "EMA": ("EMA", ["epithelial membrane antigen", "MUC1"], "epithelial membrane antigen"),
    "TLE1": ("TLE1", ["TLE-1", "TLE 1", "TLE"], "TLE1 (synovial sarcoma)"),
    "HMB45": ("HMB45", ["HMB-45", "HMB 45", "PMEL", "gp100", "human melanoma black 45",
                         "human melanoma black-45",
                         # transposed letters, as reports print it
                         "HBM45", "HBM-45"], "melanosomal premelanosome protein"),
    "melan_a": ("Melan-A", ["melan-A", "melan A", "melanA", "MART-1", "MART1", "Melan-A/MART-1",
                            "melan-A (MART-1)", "A103",
                            # transposed letters, as reports print it
                            "Malen-A", "MalenA"], "melanocytic differentiation antigen"),
    "PDGFRA": ("PDGFRA", ["PDGFR-alpha", "PDGFRα", "PDGFR alpha", "PDGFR-α", "PDGFR-A",
                          "platelet-derived growth factor receptor alpha",
                          "platelet-derived growth factor receptor-α"],
               "platelet-derived growth factor receptor alpha"),
    "H3K27me3": ("H3K27me3", ["H3K27me3", "H3 K27me3", "H3K27 trimethylation", "H3 K27 me3",
                              "trimethylated H3K27"], "histone H3 K27 trimethylation (lost in MPNST)"),
    "SDHB": ("SDHB", ["SDH-B", "SDH B", "succinate dehydrogenase B"], "succinate dehydrogenase subunit B"),
    "calretinin": ("calretinin", ["calretinin", "CALB2", "CR"], "calcium-binding protein"),
    "CD31": ("CD31", ["CD 31", "PECAM-1", "PECAM1", "PECAM"], "endothelial marker"),
    "ERG": ("ERG", ["ERG protein"], "endothelial transcription factor"),
    "myogenin": ("myogenin", ["myf-4", "myf4", "MYOG"], "skeletal-muscle transcription factor"),
    "MyoD1": ("MyoD1", ["MyoD", "MYOD-1", "MyoD-1", "MYOD1", "Myo-D1", "MyoD 1", "Myo D1", "myoD1"], "skeletal-muscle transcription factor"),
    "ER": ("ER", ["estrogen receptor", "oestrogen receptor", "ER-alpha", "ERα", "ERalpha"],
           "oestrogen receptor"),
    "PR": ("PR", ["progesterone receptor", "PgR", "PGR"], "progesterone receptor"),
    "vimentin": ("vimentin", ["vim", "vimentine"], "mesenchymal intermediate filament (uninformative)"),
    "p53": ("p53", ["P53", "TP53", "p-53"], "p53 (not used by the model)"),
    "CD68": ("CD68", ["CD 68", "KP1", "PGM1"], "histiocytic marker (not used by the model)"),
    "GFAP": ("GFAP", ["glial fibrillary acidic protein", "glial fibrillary acid protein"],
             "glial marker (not used by the model)"),
    # ---- recognised, not (yet) used by the model (NOT_MODELLED)
    "CD99": ("CD99", ["CD 99", "MIC2", "MIC-2", "O13", "12E7"], "CD99 / MIC2 (Ewing, synovial sarcoma, SFT)"),
    "BCL2": ("BCL2", ["BCL-2", "bcl 2", "Bcl2", "B-cell lymphoma 2", "BCL2 protein",
                      # the digit one for the letter l, as OCR and some reports print it
                      "bc1-2", "Bc1-2", "BC1-2"],
             "BCL2 (SFT, synovial sarcoma, GIST)"),
    "WT1": ("WT1", ["WT-1", "WT 1", "Wilms tumor 1", "Wilms tumour 1"],
            "Wilms tumour 1 (mesothelial, desmoplastic small round cell tumour)"),
    "MSA": ("MSA", ["HHF35", "HHF-35", "HHF 35", "muscle specific actin", "muscle-specific actin",
                    "muscle actin", "pan-muscle actin", "pan muscle actin",
                    "actin (HHF-35)", "actin HHF-35", "muscle-actin"],
            "muscle-specific actin (HHF-35; not smooth muscle actin)"),
    "CD56": ("CD56", ["CD 56", "NCAM", "N-CAM", "neural cell adhesion molecule"],
             "neural cell adhesion molecule"),
    "synaptophysin": ("synaptophysin", ["Syn", "SYP", "synaptophysine"], "neuroendocrine marker"),
    "chromogranin": ("chromogranin", ["chromogranin A", "chromogranin-A", "CgA", "CGA", "CHGA"],
                     "neuroendocrine marker"),
    "NSE": ("NSE", ["neuron specific enolase", "neuron-specific enolase", "neurone specific enolase",
                    "neuronal specific enolase"], "neuron-specific enolase"),
    "neurofilament": ("neurofilament", ["NF", "NFP", "neurofilament protein", "neurofilaments",
                                        "NF-L", "NFL"], "neurofilament protein"),
    "PAX8": ("PAX8", ["PAX-8", "PAX 8"], "paired box 8 (Mullerian, renal, thyroid)"),
    "TTF1": ("TTF-1", ["TTF1", "TTF 1", "thyroid transcription factor-1",
                       "thyroid transcription factor 1", "NKX2.1", "NKX2-1"],
             "thyroid transcription factor 1"),
    "CK7": ("CK7", ["CK 7", "CK-7", "cytokeratin 7", "cytokeratin-7", "keratin 7", "KRT7"], "keratin 7"),
    "CK20": ("CK20", ["CK 20", "CK-20", "cytokeratin 20", "cytokeratin-20", "keratin 20", "KRT20"],
             "keratin 20"),
    "CD10": ("CD10", ["CD 10", "CALLA", "neprilysin"], "CD10 (endometrial stroma, renal)"),
    "CD45": ("CD45", ["CD 45", "LCA", "leukocyte common antigen", "leucocyte common antigen",
                      "CD45RB", "CD45 (LCA)", "LCA (CD45)"], "leukocyte common antigen"),
    "CD21": ("CD21", ["CD 21", "CR2"], "follicular dendritic cell marker"),
    "CD23": ("CD23", ["CD 23"], "follicular dendritic cell marker"),
    "CD35": ("CD35", ["CD 35", "CR1"], "follicular dendritic cell marker"),
    "podoplanin": ("podoplanin", ["D2-40", "D240", "D2 40", "D2-40 (podoplanin)",
                                  "podoplanin (D2-40)"], "podoplanin (lymphatic endothelium)"),
    "MUC4": ("MUC4", ["MUC-4", "MUC 4", "mucin 4"], "mucin 4 (low-grade fibromyxoid sarcoma)"),
    "INI1": ("INI1", ["INI-1", "INI 1", "SMARCB1", "SMARCB1/INI1", "INI1/SMARCB1", "BAF47", "hSNF5"],
             "SMARCB1 (lost in epithelioid sarcoma, rhabdoid tumours)"),
    "HHV8": ("HHV8", ["HHV-8", "HHV 8", "HHV8-LANA", "HHV-8 LANA", "LANA", "LANA-1", "LANA1", "KSHV",
                      "human herpesvirus 8", "human herpesvirus-8", "human herpes virus 8"],
             "HHV8 latency-associated nuclear antigen (Kaposi sarcoma)"),
    "NKX2_2": ("NKX2.2", ["NKX2.2", "NKX2-2", "NKX 2.2", "NKX22"], "NKX2.2 (Ewing sarcoma)"),
    "FLI1": ("FLI1", ["FLI-1", "FLI 1", "Fli1", "Friend leukemia integration 1"],
             "FLI1 (endothelial, Ewing sarcoma)"),
    "collagen_IV": ("collagen IV", ["collagen IV", "collagen type IV", "type IV collagen",
                                    "collagen 4", "Col IV", "collagen-IV"],
                    "basement membrane collagen"),
    "claudin1": ("claudin-1", ["claudin-1", "claudin 1", "claudin1", "CLDN1"],
                 "claudin-1 (perineurial cells)"),
    "p16": ("p16", ["P16", "p16INK4a", "p16 INK4a", "p16(INK4a)", "CDKN2A", "CDKN2A/p16",
                    "p16/CDKN2A"], "p16 / CDKN2A protein"),
    "CD57": ("CD57", ["CD 57", "Leu7", "Leu-7", "HNK-1", "HNK1"], "CD57 (nerve sheath)"),
    "TFE3": ("TFE3", ["TFE-3", "TFE 3"], "TFE3 (alveolar soft part sarcoma, TFE3 PEComa)"),
    "SMMHC": ("SMMHC", ["smooth muscle myosin heavy chain", "smooth muscle myosin",
                        "myosin heavy chain", "heavy chain myosin", "SM-MHC", "SMMS-1"],
              "smooth muscle myosin heavy chain"),
    "GLUT1": ("GLUT1", ["GLUT-1", "GLUT 1", "glucose transporter-1", "glucose transporter 1"],
              "glucose transporter 1 (perineurial cells)"),
    "p63": ("p63", ["P63", "TP63", "p-63"], "p63 (squamous, myoepithelial)"),
}


#: IHC stains outside the vocabulary that reports often name: display key -> synonyms. The
#: reader reports them in ``unknown`` under the display key, as known names (not guesses).
OTHER_MARKERS = {
    "p40": ["p40"],
    "MITF": ["MITF"], "GATA3": ["GATA3", "GATA-3"],
    "factor XIIIa": ["factor XIIIa", "factor XIII a", "FXIIIa", "factor 13a"],
    "PAX7": ["PAX7"],
    "CK5/6": ["CK5/6", "CK 5/6"], "HMWK": ["HMWK", "34betaE12", "34BE12"],
    "CEA": ["CEA"], "AFP": ["AFP"], "CDX2": ["CDX2", "CDX-2"], "PSA": ["PSA"],
    "HLA-DR": ["HLA-DR", "HLA DR"],
    "NKX3.1": ["NKX3.1"], "SATB2": ["SATB2"],
    "CD1a": ["CD1a"], "CD3": ["CD3"], "CD20": ["CD20"],
    "CD30": ["CD30"], "CD163": ["CD163"], "CD4": ["CD4"], "CD8": ["CD8"], "CD43": ["CD43"],
    "CD15": ["CD15"], "MPO": ["MPO"], "lysozyme": ["lysozyme"], "tryptase": ["tryptase"],
    "langerin": ["langerin"], "nestin": ["nestin"], "inhibin": ["inhibin"],
    "pan-melanoma": ["pan-mel", "pan-melanoma", "PNL2"],
    "hepatocyte": ["hepatocyte", "HepPar1", "HepPar-1", "hepatocyte specific antigen"],
    "factor VIII": ["factor VIII", "factor VIII-related antigen", "factor VIII related antigen",
                    "von Willebrand factor", "vWF", "factor VIII-associated antigen",
                    "factor VIII associated antigen"],
    "CAMTA1": ["CAMTA1"], "NUT": ["NUT"], "BCOR": ["BCOR"], "SSX": ["SSX", "SS18-SSX"],
    "NY-ESO-1": ["NY-ESO-1"], "PRAME": ["PRAME"], "SOX2": ["SOX2"], "SOX9": ["SOX9"],
    "pan-TRK": ["pan-TRK", "panTRK"], "ROS1": ["ROS1"], "SMARCA4": ["SMARCA4", "BRG1"],
    "cyclin D1": ["cyclin D1", "cyclin-D1"], "PHH3": ["PHH3"], "CD163L": ["CD163L"],
    "EGFR": ["EGFR"], "HER2": ["HER2"], "calponin-h1": ["calponin h1"], "PGP9.5": ["PGP9.5"],
    "p75": ["p75"], "CD138": ["CD138"], "kappa": ["kappa"], "lambda": ["lambda"],
    "CD31/CD34": [],
    # single keratins: "cytokeratin 19 negative" is not a pan-keratin result
    "CK8": ["CK8", "CK 8", "cytokeratin 8", "keratin 8"], "CK17": ["CK17", "CK 17", "cytokeratin 17"],
    "CK18": ["CK18", "CK 18", "cytokeratin 18", "keratin 18"],
    "CK19": ["CK19", "CK 19", "cytokeratin 19", "keratin 19", "KRT19"],
}

assert not set(OTHER_MARKERS) & set(_DEFS)


def normalise_name(text: str) -> str:
    """Return the key a marker name is matched by: case-folded, Greek letters spelled out.

    >>> normalise_name("α-SMA") == normalise_name("alpha SMA")
    True
    """
    t = unicodedata.normalize("NFKC", text)
    # "ß" (often typed for beta) must go before casefold, which turns it into "ss";
    # Greek capitals (Α, Β) are handled by replacing after casefold.
    t = t.replace("ß", "beta").casefold()
    t = t.replace("α", "alpha").replace("β", "beta").replace("γ", "gamma")
    return _NAME_SEPARATORS.sub("", t)


_NAME_SEPARATORS = re.compile(r"[\s\-_./()\u2010-\u2015]+")


def _kind(name):
    if name == "Ki67":
        return "index"
    if name in LOSS_MARKERS:
        return "loss"
    if name in UNINFORMATIVE:
        return "uninformative"
    return "binary"


def _states(name):
    kind = _kind(name)
    if kind == "index":
        return ("0-100",)
    if kind == "loss":
        return ("lost", "retained")
    return BINARY_STATES


_INFO = {}
_LOOKUP = {}
for _name, (_display, _syns, _desc) in _DEFS.items():
    _INFO[_name] = MarkerInfo(_name, _display, _syns, _kind(_name), _states(_name), _desc)
    for _s in (_name, _display, *_syns):
        _LOOKUP.setdefault(normalise_name(_s), _name)
del _name, _display, _syns, _desc, _s

assert set(_INFO) == set(MARKERS), set(_INFO) ^ set(MARKERS)


def canonical(name: str) -> str | None:
    """Return the canonical marker name for ``name``, or ``None`` if it is not in the vocabulary."""
    return _LOOKUP.get(normalise_name(name))


def lookup_table():
    """Return the normalised-synonym -> canonical-name table (read-only use).

    >>> lookup_table()[normalise_name("S-100")]
    'S100'
    """
    return _LOOKUP


def vocabulary():
    """Return the list of :class:`MarkerInfo`, in display order."""
    return [_INFO[m] for m in MARKERS]


def info(name: str) -> MarkerInfo:
    """Return the :class:`MarkerInfo` of a canonical marker name."""
    return _INFO[name]
