"""The supported diagnoses as data: one place for their names, benign/malignant pairs and aliases.

Read by the classify path (display names, the short names of notes and warnings, the
counterpart rule), by training (the class list) and by evaluation (the abbreviations of its
tables, the aliases of labels). Code reads these tables; nothing here is computed.

>>> SHORT["gist"], COUNTERPARTS["leiomyoma"], "schwannoma" in BENIGN
('GIST', 'leiomyosarcoma', True)
"""

__all__ = ["DIAGNOSES", "CORE", "EXTENDED", "DISPLAY_NAMES", "DESCRIPTIONS", "SHORT", "ABBREVIATIONS", "ALIASES", "BENIGN",
           "COUNTERPARTS", "COUNTERPART_FLOOR"]

#: The 14 core diagnoses: the spindle-cell differential the model was built around.
CORE = (
    "leiomyosarcoma", "leiomyoma", "gist", "schwannoma", "solitary_fibrous_tumor",
    "desmoid_fibromatosis", "inflammatory_myofibroblastic_tumor",
    "dedifferentiated_liposarcoma", "mpnst", "synovial_sarcoma", "pecoma", "melanoma",
    "inflammatory_fibroid_polyp", "undifferentiated_pleomorphic_sarcoma",
)

#: The 14 diagnoses added in issue 15: rarer in a spindle-cell work-up than the core ones, so the
#: model's class prior gives them together the recipe's ``extended_share``
#: (:meth:`ihc.knowledge.Knowledge.class_prior`), and those that a stain tests for (Kaposi
#: sarcoma: HHV8...) are usually in their work-up only with that stain (``training_data/workup.csv``).
EXTENDED = (
    "rhabdomyosarcoma",
    "sarcomatoid_carcinoma",
    "angiosarcoma",
    "kaposi_sarcoma",
    "glomus_tumor",
    "ewing_sarcoma",
    "follicular_dendritic_cell_sarcoma",
    "plexiform_fibromyxoma",
    "perineurioma",
    "low_grade_fibromyxoid_sarcoma",
    "calcifying_fibrous_tumor",
    "neurofibroma",
    "granular_cell_tumor",
    "nodular_fasciitis",
)

#: The model's classes, in model order.
DIAGNOSES = CORE + EXTENDED

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
    "rhabdomyosarcoma": "Rhabdomyosarcoma (spindle cell/sclerosing, embryonal, pleomorphic)",
    "sarcomatoid_carcinoma": "Sarcomatoid (spindle cell) carcinoma",
    "angiosarcoma": "Angiosarcoma",
    "kaposi_sarcoma": "Kaposi sarcoma",
    "glomus_tumor": "Glomus tumour",
    "ewing_sarcoma": "Ewing sarcoma (incl. extraskeletal)",
    "follicular_dendritic_cell_sarcoma": "Follicular dendritic cell sarcoma",
    "plexiform_fibromyxoma": "Plexiform fibromyxoma",
    "perineurioma": "Perineurioma",
    "low_grade_fibromyxoid_sarcoma": "Low-grade fibromyxoid sarcoma",
    "calcifying_fibrous_tumor": "Calcifying fibrous tumour",
    "neurofibroma": "Neurofibroma",
    "granular_cell_tumor": "Granular cell tumour",
    "nodular_fasciitis": "Nodular fasciitis",
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
    "rhabdomyosarcoma": "Malignant tumour with skeletal-muscle differentiation; in adults mostly spindle cell/sclerosing (MYOD1-driven) or pleomorphic; desmin+ with nuclear myogenin and MyoD1 (myogenin may be focal or lost in sclerosing RMS), SMA often focal, CD117/S100/CD34 negative, keratin occasionally focal.",
    "sarcomatoid_carcinoma": "Carcinoma of any organ with a spindle/pleomorphic sarcoma-like component (spindle cell carcinoma, pleomorphic/sarcomatoid carcinoma of lung, kidney, GI tract, head and neck); keratin (often focal, lost in up to a third) and EMA, CK7 or organ markers (TTF-1, PAX8, p63/p40) positive, vimentin+, SMA sometimes focal, desmin/CD117/DOG1/S100/CD34 negative.",
    "angiosarcoma": "Malignant endothelial tumour (skin of head and neck, breast, soft tissue, viscera incl. GI tract), spindle or epithelioid; CD31+ and ERG+ in nearly all, CD34 in about 60%, FLI1+, keratin in about 20-35% (epithelioid), HHV8-negative, KIT focal in a quarter.",
    "kaposi_sarcoma": "HHV8-driven intermediate vascular spindle-cell tumour of skin, mucosa, lymph nodes and GI tract (AIDS, iatrogenic, classic, endemic); HHV8-LANA nuclear+ in all, CD34+, CD31+, ERG+, FLI1+, D2-40 often +, CD117 may be + (GIST pitfall), DOG1-negative.",
    "glomus_tumor": "Perivascular modified-smooth-muscle (glomus cell) tumour, peripheral skin/soft tissue or stomach (antrum, muscularis propria), usually benign; SMA+, calponin+, h-caldesmon often +, pericellular collagen IV/laminin +, synaptophysin sometimes focal, desmin/CD117/DOG1/S100/keratin negative, CD34 usually negative.",
    "ewing_sarcoma": "EWSR1-ETS (FLI1/ERG) fusion round-cell sarcoma of bone and soft tissue, mostly children and young adults, occasionally spindled; membranous CD99 and nuclear NKX2.2 and FLI1 positive, keratin in about 20% (focal or diffuse), desmin/myogenin negative, CD117 in about a quarter.",
    "follicular_dendritic_cell_sarcoma": "Intermediate-grade sarcoma of follicular dendritic cells, nodal or extranodal (tonsil, GI tract, mesentery, liver/spleen as EBV+ inflammatory-pseudotumour-like variant); plump spindle/ovoid cells with lymphocytes; CD21, CD35, CD23 (and clusterin, podoplanin) positive, CD68 often, S100 focal, keratin/CD34/CD117/DOG1/desmin negative.",
    "plexiform_fibromyxoma": "Benign multinodular myxoid myofibroblastic tumour of the gastric antrum (may extend into duodenum); SMA+, variable desmin/h-caldesmon, CD10 often focal; KIT, DOG1, CD34, S100 negative.",
    "perineurioma": "Benign peripheral nerve sheath tumour of perineurial cells (soft tissue, sclerosing, intraneural, GI mucosal); EMA (often weak/focal), claudin-1, GLUT1 positive, CD34 variable; S100 and SOX10 negative.",
    "low_grade_fibromyxoid_sarcoma": "Bland fibroblastic sarcoma with alternating collagenous and myxoid zones, FUS-CREB3L2/L1 fusion; MUC4 positive, EMA focal in a minority; SMA, desmin, S100, CD34, STAT6, nuclear beta-catenin negative.",
    "calcifying_fibrous_tumor": "Benign hypocellular hyalinised fibroblastic lesion with psammomatous/dystrophic calcification and lymphoplasmacytic infiltrate (stomach, small bowel, pleura, soft tissue); CD34 variable, factor XIIIa+; KIT, DOG1, SMA, desmin, S100, ALK negative.",
    "neurofibroma": "Benign nerve sheath tumour of mixed Schwann cells, fibroblasts and perineurial cells (localized, diffuse, plexiform; NF1); S100/SOX10 in a subset of cells (less diffuse than schwannoma), CD34 fibroblastic network, neurofilament+ axons, scattered EMA/GLUT1+ perineurial cells; calretinin and CD56 usually negative.",
    "granular_cell_tumor": "Schwannian tumour of polygonal cells with abundant granular eosinophilic cytoplasm (tongue, skin, breast, oesophagus, colon); S100 and SOX10 diffusely positive with CD68, inhibin, calretinin, CD56 and nuclear TFE3; GFAP and neurofilament negative.",
    "nodular_fasciitis": "Rapidly growing self-limited myofibroblastic proliferation (USP6-rearranged) of subcutis/fascia, tissue-culture pattern with brisk mitoses; SMA, MSA and calponin positive; desmin rare; h-caldesmon, CD34, S100, keratin and nuclear beta-catenin negative.",
}

#: Short names used inside sentences (evidence notes, next-stain reasons, warnings).
SHORT = {
    "leiomyosarcoma": "leiomyosarcoma", "leiomyoma": "leiomyoma", "gist": "GIST",
    "schwannoma": "schwannoma", "solitary_fibrous_tumor": "SFT", "desmoid_fibromatosis": "desmoid",
    "inflammatory_myofibroblastic_tumor": "IMT", "dedifferentiated_liposarcoma": "DDLPS",
    "mpnst": "MPNST", "synovial_sarcoma": "synovial sarcoma", "pecoma": "PEComa",
    "melanoma": "melanoma", "inflammatory_fibroid_polyp": "IFP",
    "undifferentiated_pleomorphic_sarcoma": "UPS",
    "rhabdomyosarcoma": "RMS",
    "sarcomatoid_carcinoma": "sarcomatoid carcinoma",
    "angiosarcoma": "Angiosarcoma",
    "kaposi_sarcoma": "Kaposi sarcoma",
    "glomus_tumor": "glomus tumour",
    "ewing_sarcoma": "Ewing sarcoma",
    "follicular_dendritic_cell_sarcoma": "FDC sarcoma",
    "plexiform_fibromyxoma": "plexiform fibromyxoma",
    "perineurioma": "perineurioma",
    "low_grade_fibromyxoid_sarcoma": "LGFMS",
    "calcifying_fibrous_tumor": "CFT",
    "neurofibroma": "neurofibroma",
    "granular_cell_tumor": "granular cell tumour",
    "nodular_fasciitis": "nodular fasciitis",
}

#: Abbreviations for the columns of evaluation tables (narrower than :data:`SHORT`).
ABBREVIATIONS = {
    "leiomyosarcoma": "LMS", "leiomyoma": "leiomyoma", "gist": "GIST", "schwannoma": "schwannoma",
    "solitary_fibrous_tumor": "SFT", "desmoid_fibromatosis": "desmoid",
    "inflammatory_myofibroblastic_tumor": "IMT", "dedifferentiated_liposarcoma": "DDLPS", "mpnst": "MPNST",
    "synovial_sarcoma": "synovial", "pecoma": "PEComa", "melanoma": "melanoma",
    "inflammatory_fibroid_polyp": "IFP", "undifferentiated_pleomorphic_sarcoma": "UPS",
    "rhabdomyosarcoma": "RMS",
    "sarcomatoid_carcinoma": "sarcomatoid",
    "angiosarcoma": "angiosarcoma",
    "kaposi_sarcoma": "Kaposi",
    "glomus_tumor": "glomus",
    "ewing_sarcoma": "Ewing",
    "follicular_dendritic_cell_sarcoma": "FDCS",
    "plexiform_fibromyxoma": "PF",
    "perineurioma": "perineurioma",
    "low_grade_fibromyxoid_sarcoma": "LGFMS",
    "calcifying_fibrous_tumor": "CFT",
    "neurofibroma": "neurofibroma",
    "granular_cell_tumor": "GrCT",
    "nodular_fasciitis": "fasciitis",
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
    "rms": "rhabdomyosarcoma",
    "spindle_cell_rhabdomyosarcoma": "rhabdomyosarcoma",
    "sclerosing_rhabdomyosarcoma": "rhabdomyosarcoma",
    "spindle_cell_sclerosing_rhabdomyosarcoma": "rhabdomyosarcoma",
    "embryonal_rhabdomyosarcoma": "rhabdomyosarcoma",
    "pleomorphic_rhabdomyosarcoma": "rhabdomyosarcoma",
    "spindle_cell_carcinoma": "sarcomatoid_carcinoma",
    "spindle_cell_squamous_cell_carcinoma": "sarcomatoid_carcinoma",
    "sarcomatoid_renal_cell_carcinoma": "sarcomatoid_carcinoma",
    "rcc_with_sarcomatoid_differentiation": "sarcomatoid_carcinoma",
    "pulmonary_sarcomatoid_carcinoma": "sarcomatoid_carcinoma",
    "pleomorphic_carcinoma": "sarcomatoid_carcinoma",
    "carcinosarcoma": "sarcomatoid_carcinoma",
    "metaplastic_carcinoma": "sarcomatoid_carcinoma",
    "hemangiosarcoma": "angiosarcoma",
    "haemangiosarcoma": "angiosarcoma",
    "epithelioid_angiosarcoma": "angiosarcoma",
    "cutaneous_angiosarcoma": "angiosarcoma",
    "kaposi_s_sarcoma": "kaposi_sarcoma",
    "glomus_tumour": "glomus_tumor",
    "gastric_glomus_tumor": "glomus_tumor",
    "glomangioma": "glomus_tumor",
    "glomangiomyoma": "glomus_tumor",
    "malignant_glomus_tumor": "glomus_tumor",
    "glomangiosarcoma": "glomus_tumor",
    "ewing_s_sarcoma": "ewing_sarcoma",
    "extraskeletal_ewing_sarcoma": "ewing_sarcoma",
    "extraosseous_ewing_sarcoma": "ewing_sarcoma",
    "pnet": "ewing_sarcoma",
    "primitive_neuroectodermal_tumor": "ewing_sarcoma",
    "ewing_family_tumor": "ewing_sarcoma",
    "es_pnet": "ewing_sarcoma",
    "follicular_dendritic_cell_tumor": "follicular_dendritic_cell_sarcoma",
    "fdcs": "follicular_dendritic_cell_sarcoma",
    "fdc_sarcoma": "follicular_dendritic_cell_sarcoma",
    "gastric_plexiform_fibromyxoma": "plexiform_fibromyxoma",
    "plexiform_angiomyxoid_myofibroblastic_tumor": "plexiform_fibromyxoma",
    "plexiform_angiomyxoid_myofibroblastic_tumour": "plexiform_fibromyxoma",
    "pamt": "plexiform_fibromyxoma",
    "plexiform_angiomyxoid_tumor": "plexiform_fibromyxoma",
    "gastric_fibromyxoma": "plexiform_fibromyxoma",
    "soft_tissue_perineurioma": "perineurioma",
    "sclerosing_perineurioma": "perineurioma",
    "intraneural_perineurioma": "perineurioma",
    "mucosal_perineurioma": "perineurioma",
    "intestinal_perineurioma": "perineurioma",
    "gastric_perineurioma": "perineurioma",
    "colorectal_perineurioma": "perineurioma",
    "benign_fibroblastic_polyp": "perineurioma",
    "fibroblastic_polyp": "perineurioma",
    "storiform_perineurial_fibroma": "perineurioma",
    "lgfms": "low_grade_fibromyxoid_sarcoma",
    "evans_tumor": "low_grade_fibromyxoid_sarcoma",
    "evans_tumour": "low_grade_fibromyxoid_sarcoma",
    "hyalinizing_spindle_cell_tumor_with_giant_rosettes": "low_grade_fibromyxoid_sarcoma",
    "hsctgr": "low_grade_fibromyxoid_sarcoma",
    "calcifying_fibrous_tumour": "calcifying_fibrous_tumor",
    "calcifying_fibrous_pseudotumor": "calcifying_fibrous_tumor",
    "calcifying_fibrous_pseudotumour": "calcifying_fibrous_tumor",
    "childhood_fibrous_tumor_with_psammoma_bodies": "calcifying_fibrous_tumor",
    "plexiform_neurofibroma": "neurofibroma",
    "diffuse_neurofibroma": "neurofibroma",
    "localized_neurofibroma": "neurofibroma",
    "solitary_neurofibroma": "neurofibroma",
    "cutaneous_neurofibroma": "neurofibroma",
    "intraneural_neurofibroma": "neurofibroma",
    "granular_cell_tumour": "granular_cell_tumor",
    "abrikossoff_tumor": "granular_cell_tumor",
    "abrikossoff_tumour": "granular_cell_tumor",
    "abrikosov_tumor": "granular_cell_tumor",
    "granular_cell_myoblastoma": "granular_cell_tumor",
    "granular_cell_schwannoma": "granular_cell_tumor",
    "pseudosarcomatous_fasciitis": "nodular_fasciitis",
    "pseudosarcomatous_fibromatosis": "nodular_fasciitis",
    "intramuscular_nodular_fasciitis": "nodular_fasciitis",
    "intravascular_fasciitis": "nodular_fasciitis",
    "cranial_fasciitis": "nodular_fasciitis",
}

#: Benign diagnoses (a high Ki-67 in one of them is worth a warning).
BENIGN = ("leiomyoma", "schwannoma", "inflammatory_fibroid_polyp", "desmoid_fibromatosis",
          "glomus_tumor", "plexiform_fibromyxoma", "perineurioma", "calcifying_fibrous_tumor", "neurofibroma", "granular_cell_tumor", "nodular_fasciitis")

#: Benign and malignant counterparts that a panel does not separate: their difference is
#: morphology (atypia, mitoses, necrosis) and proliferation, so neither is named without Ki-67
#: while the other keeps at least ``COUNTERPART_FLOOR`` of the probability.
COUNTERPARTS = {"leiomyoma": "leiomyosarcoma", "leiomyosarcoma": "leiomyoma",
                "schwannoma": "mpnst", "mpnst": "schwannoma"}
COUNTERPART_FLOOR = 0.05
