"""The supported diagnoses as data: one place for their names, benign/malignant pairs and aliases.

Read by the classify path (display names, the short names of notes and warnings, the
counterpart rule), by training (the class list) and by evaluation (the abbreviations of its
tables, the aliases of labels). Code reads these tables; nothing here is computed.

>>> SHORT["gist"], COUNTERPARTS["leiomyoma"], "schwannoma" in BENIGN
('GIST', 'leiomyosarcoma', True)
"""

__all__ = ["DIAGNOSES", "DISPLAY_NAMES", "DESCRIPTIONS", "SHORT", "ABBREVIATIONS", "ALIASES", "BENIGN",
           "COUNTERPARTS", "COUNTERPART_FLOOR"]

#: The model's classes, in model order.
DIAGNOSES = (
    "leiomyosarcoma", "leiomyoma", "gist", "schwannoma", "solitary_fibrous_tumor",
    "desmoid_fibromatosis", "inflammatory_myofibroblastic_tumor",
    "dedifferentiated_liposarcoma", "mpnst", "synovial_sarcoma", "pecoma", "melanoma",
    "inflammatory_fibroid_polyp", "undifferentiated_pleomorphic_sarcoma",
)

#: Names as a heading shows them (``ihc diagnoses``).
DISPLAY_NAMES = {
    "leiomyosarcoma": "Leiomyosarcoma",
    "leiomyoma": "Leiomyoma",
    "gist": "Gastrointestinal stromal tumour (GIST)",
    "schwannoma": "Schwannoma",
    "solitary_fibrous_tumor": "Solitary fibrous tumour",
    "desmoid_fibromatosis": "Desmoid fibromatosis",
    "inflammatory_myofibroblastic_tumor": "Inflammatory myofibroblastic tumour",
    "dedifferentiated_liposarcoma": "Dedifferentiated liposarcoma",
    "mpnst": "Malignant peripheral nerve sheath tumour (MPNST)",
    "synovial_sarcoma": "Synovial sarcoma",
    "pecoma": "PEComa",
    "melanoma": "Melanoma (spindle-cell / metastatic)",
    "inflammatory_fibroid_polyp": "Inflammatory fibroid polyp",
    "undifferentiated_pleomorphic_sarcoma": "Undifferentiated pleomorphic sarcoma",
}

#: One line per diagnosis: what it is and its immunophenotype.
DESCRIPTIONS = {
    "leiomyosarcoma": "Malignant smooth-muscle tumour: SMA, desmin, h-caldesmon positive; KIT/DOG1 negative; atypia, mitoses, necrosis.",
    "leiomyoma": "Benign smooth-muscle tumour: diffuse SMA, desmin, h-caldesmon; very low Ki-67.",
    "gist": "Interstitial-cell tumour of the GI tract: KIT (CD117) and/or DOG1 positive, often CD34; KIT or PDGFRA (or SDH) driven.",
    "schwannoma": "Benign nerve-sheath tumour: diffuse S100 and SOX10; KIT, DOG1 and muscle markers negative.",
    "solitary_fibrous_tumor": "Fibroblastic tumour with NAB2-STAT6 fusion: nuclear STAT6 and CD34 positive.",
    "desmoid_fibromatosis": "Locally aggressive myofibroblastic proliferation: nuclear beta-catenin; SMA variable; KIT/DOG1 negative.",
    "inflammatory_myofibroblastic_tumor": "Myofibroblastic tumour with inflammatory cells: SMA positive, ALK positive in about half (ALK/ROS1 fusions).",
    "dedifferentiated_liposarcoma": "Non-lipogenic sarcoma with MDM2/CDK4 amplification: nuclear MDM2 and CDK4; often retroperitoneal.",
    "mpnst": "Malignant nerve-sheath tumour: S100/SOX10 focal or lost, H3K27me3 loss in many; high Ki-67.",
    "synovial_sarcoma": "Translocation sarcoma (SS18-SSX): TLE1, focal keratin/EMA; CD34 negative.",
    "pecoma": "Perivascular epithelioid cell tumour: melanocytic (HMB45, melan-A) and smooth-muscle markers together.",
    "melanoma": "Melanocytic malignancy (primary spindle-cell or metastatic): S100, SOX10; HMB45/melan-A variable in spindle forms.",
    "inflammatory_fibroid_polyp": "Benign PDGFRA-driven GI polyp: CD34 positive, KIT/DOG1 negative, PDGFRA positive; eosinophils.",
    "undifferentiated_pleomorphic_sarcoma": "Sarcoma with no line of differentiation: a diagnosis of exclusion, specific markers negative.",
}

#: Short names used inside sentences (evidence notes, next-stain reasons, warnings).
SHORT = {
    "leiomyosarcoma": "leiomyosarcoma", "leiomyoma": "leiomyoma", "gist": "GIST",
    "schwannoma": "schwannoma", "solitary_fibrous_tumor": "SFT", "desmoid_fibromatosis": "desmoid",
    "inflammatory_myofibroblastic_tumor": "IMT", "dedifferentiated_liposarcoma": "DDLPS",
    "mpnst": "MPNST", "synovial_sarcoma": "synovial sarcoma", "pecoma": "PEComa",
    "melanoma": "melanoma", "inflammatory_fibroid_polyp": "IFP",
    "undifferentiated_pleomorphic_sarcoma": "UPS",
}

#: Abbreviations for the columns of evaluation tables (narrower than :data:`SHORT`).
ABBREVIATIONS = {
    "leiomyosarcoma": "LMS", "leiomyoma": "leiomyoma", "gist": "GIST", "schwannoma": "schwannoma",
    "solitary_fibrous_tumor": "SFT", "desmoid_fibromatosis": "desmoid",
    "inflammatory_myofibroblastic_tumor": "IMT", "dedifferentiated_liposarcoma": "DDLPS", "mpnst": "MPNST",
    "synovial_sarcoma": "synovial", "pecoma": "PEComa", "melanoma": "melanoma",
    "inflammatory_fibroid_polyp": "IFP", "undifferentiated_pleomorphic_sarcoma": "UPS",
}

#: Label spellings of labelled cases -> canonical diagnosis (after lower-casing and ``_`` joining).
ALIASES = {
    "lms": "leiomyosarcoma", "sft": "solitary_fibrous_tumor", "desmoid": "desmoid_fibromatosis",
    "desmoid_tumor": "desmoid_fibromatosis", "fibromatosis": "desmoid_fibromatosis",
    "imt": "inflammatory_myofibroblastic_tumor", "ddlps": "dedifferentiated_liposarcoma",
    "ddl": "dedifferentiated_liposarcoma", "malignant_peripheral_nerve_sheath_tumor": "mpnst",
    "malignant_peripheral_nerve_sheath_tumour": "mpnst", "ss": "synovial_sarcoma",
    "ifp": "inflammatory_fibroid_polyp", "ups": "undifferentiated_pleomorphic_sarcoma",
    "gastrointestinal_stromal_tumor": "gist", "gastrointestinal_stromal_tumour": "gist",
    "solitary_fibrous_tumour": "solitary_fibrous_tumor",
    "inflammatory_myofibroblastic_tumour": "inflammatory_myofibroblastic_tumor",
}

#: Benign diagnoses (a high Ki-67 in one of them is worth a warning).
BENIGN = ("leiomyoma", "schwannoma", "inflammatory_fibroid_polyp", "desmoid_fibromatosis")

#: Benign and malignant counterparts that a panel does not separate: their difference is
#: morphology (atypia, mitoses, necrosis) and proliferation, so neither is named without Ki-67
#: while the other keeps at least ``COUNTERPART_FLOOR`` of the probability.
COUNTERPARTS = {"leiomyoma": "leiomyosarcoma", "leiomyosarcoma": "leiomyoma",
                "schwannoma": "mpnst", "mpnst": "schwannoma"}
COUNTERPART_FLOOR = 0.05
