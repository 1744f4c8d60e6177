"""Korean report words -> the English words the reader knows (a data table, no code).

See :mod:`ihc.lexicon_ja` for what the readings mean. Keys written with a space are also
matched without it (``평활근 액틴`` / ``평활근액틴``). ``PARTICLES`` (은/는/이/가/과/와/에서/
에 대해...) are read only right after a marker name, a result word or Latin text.
양성 also means *benign* (良性): ``양성 종양`` and the like are listed so that the longer
match wins.
"""

WORDS = {
    # ---- results
    "양성": "positive", "음성": "negative",
    "약양성": "weakly positive", "약한 양성": "weakly positive", "약하게 양성": "weakly positive",
    "강양성": "strongly positive", "강한 양성": "strongly positive",
    "부분적 양성": "focally positive", "부분적으로 양성": "focally positive",
    "국소적 양성": "focally positive", "국소적으로 양성": "focally positive",
    "국소 양성": "focally positive", "일부 양성": "focally positive", "부분 양성": "focally positive",
    "일부에서 양성": "focally positive", "국소적으로": "focally", "부분적으로": "focally",
    "미만성 양성": "diffusely positive", "미만성으로 양성": "diffusely positive",
    "강하게 양성": "strongly positive", "강하게": "strongly", "미만성으로": "diffusely",
    "약하게": "weakly", "미만성으로 강하게 양성": "diffusely strongly positive",
    "미만성": "diffuse", "산재성": "scattered", "발현": "expression", "염색": "staining",
    "양성 반응": "positive", "음성 반응": "negative",
    # benign, not positive
    "양성 종양": "benign tumour", "양성종양": "benign tumour", "양성 병변": "benign lesion",
    "양성 방추세포": "benign spindle cells",
    # ---- copulas and verbs (read after a result word)
    "이었다": "", "였다": "", "이다": "", "입니다": "", "이었으며": "", "이며": "", "이고": "",
    "였으며": "", "으로": "", "보였다": "showed", "보였으며": "showed", "보였고": "showed",
    "보이지 않았다": "not", "관찰되었다": "", "확인되었다": "", "나타냈다": "showed",
    # "C-kit와 S100에 염색이 되지 않아": not stained (the ending after 않 is not read)
    "염색이 되지 않": "not stained", "염색되지 않": "not stained", "발현되지 않": "not expressed",
    "발현하지 않": "not expressed", "염색이 안 되": "not stained",
    # ---- indices
    "지수": "index", "표지지수": "index", "양성률": "index", "약": "about", "정도": "",
    "미만": "below", "이하": "below",
    # ---- where the stain is
    "종양세포": "tumour cells", "종양 세포": "tumour cells", "방추세포": "spindle cells",
    "혈관내피세포": "vascular endothelial cells", "혈관 내피세포": "vascular endothelial cells",
    "혈관": "vessels", "비만세포": "mast cells", "림프구": "lymphocytes",
    # ---- fillers, connectors
    "면역조직화학염색": "immunohistochemistry", "면역조직화학검사": "immunohistochemistry",
    "면역조직화학적": "immunohistochemistry", "면역조직화학": "immunohistochemistry",
    "면역화학염색": "immunohistochemistry", "면역염색": "immunohistochemistry",
    "단백": "protein", "단백질": "protein", "항체": "antibody", "모두": "all", "및": "and",
    "그리고": "and", "반면": "whereas", "하지만": "but",
    # ---- marker names
    "데스민": "desmin", "비멘틴": "vimentin", "평활근 액틴": "SMA", "평활근 근육 액틴": "SMA",
    "액틴": "actin", "케라틴": "keratin", "사이토케라틴": "cytokeratin", "칼데스몬": "caldesmon",
    "칼포닌": "calponin", "카테닌": "catenin", "베타카테닌": "beta-catenin",
    "베타 카테닌": "beta-catenin", "마이오제닌": "myogenin", "시냅토파이신": "synaptophysin",
    "크로모그라닌": "chromogranin",
}

PARTICLES = {
    "은": "", "는": "", "이": "", "가": "", "을": "", "를": "", "도": "", "의": "", "에": "",
    "에서": "", "에서는": "", "에서도": "", "에는": "", "에 대해": "", "에 대해서": "",
    "에 대하여": "", "에 대한": "", "으로": "", "로": "", "과": "and", "와": "and", "만": "only",
    "에서만": "only",
}
