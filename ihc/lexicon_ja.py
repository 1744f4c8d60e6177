"""Japanese report words -> the English words the reader knows (a data table, no code).

Each entry maps a written form to its reading in the English lexicon of
:mod:`ihc.parse`: a marker name of the vocabulary, a result word (``positive``,
``weakly positive``, ``focally positive``...), a filler (``tumour cells``,
``immunohistochemistry``) or nothing (``""``: a copula or a particle that says nothing
about the stain). Longest match wins; unlisted script is read as an ordinary word.

``PARTICLES`` are read only right after a marker name, a result word or Latin text
(``CD34は``, ``KITと``, ``陽性を``): elsewhere the same kana are parts of words.
"""

WORDS = {
    # ---- results
    "陽性": "positive", "陰性": "negative",
    "弱陽性": "weakly positive", "弱い陽性": "weakly positive", "軽度陽性": "weakly positive",
    "強陽性": "strongly positive", "強い陽性": "strongly positive",
    "部分的に陽性": "focally positive", "部分的陽性": "focally positive",
    "一部陽性": "focally positive", "一部に陽性": "focally positive", "一部で陽性": "focally positive",
    "局所的に陽性": "focally positive", "巣状に陽性": "focally positive", "巣状陽性": "focally positive",
    "散在性に陽性": "scattered positive", "散在性陽性": "scattered positive", "散在性": "scattered",
    "散在": "scattered", "斑状に陽性": "patchy positive",
    "びまん性に陽性": "diffusely positive", "びまん性陽性": "diffusely positive",
    "びまん性": "diffuse", "びまん性に": "diffusely", "強く": "strongly", "弱く": "weakly",
    "陽性像": "positive", "陽性所見": "positive", "陰性像": "negative",
    "発現": "expression", "発現を認めた": "expression", "染色": "staining",
    "核に陽性": "nuclear positive", "核陽性": "nuclear positive", "細胞質に陽性": "cytoplasmic positive",
    "認めなかった": "not", "認められなかった": "not", "認めず": "not", "みられなかった": "not",
    "見られなかった": "not", "なし": "not",
    # ---- indices
    "標識率": "index", "陽性率": "positive rate", "陽性細胞率": "index", "指数": "index", "陽性指数": "index",
    "未満": "below",
    "約": "about", "程度": "",
    # ---- where the stain is
    "腫瘍細胞": "tumour cells", "紡錘形細胞": "spindle cells", "腫瘍": "tumour",
    "血管内皮細胞": "vascular endothelial cells", "血管内皮": "vascular endothelium",
    "血管壁": "vessels", "血管": "vessels", "肥満細胞": "mast cells", "陽性細胞": "positive cells", "カハール介在細胞": "cajal cells",
    "カハールの介在細胞": "cajal cells", "リンパ球": "lymphocytes", "組織球": "histiocytes",
    "のみ": "only", "だけ": "only",
    # ---- fillers, copulas, connectors
    "免疫染色": "immunohistochemistry", "免疫組織化学": "immunohistochemistry",
    "免疫組織化学的": "immunohistochemistry", "免疫組織化学的に": "immunohistochemistry",
    "免疫組織化学染色": "immunohistochemistry", "免疫組織学的": "immunohistochemistry",
    "免疫組織学的に": "immunohistochemistry", "免疫染色上": "immunohistochemistry",
    "免疫染色で": "immunohistochemistry", "免疫染色では": "immunohistochemistry",
    "蛋白": "protein", "タンパク": "protein", "たんぱく": "protein", "抗体": "antibody",
    "であった": "", "であり": "", "である": "", "でした": "", "だった": "", "を示した": "showed",
    "を示し": "showed", "を示す": "showed", "示した": "showed", "示し": "showed",
    "認めた": "", "認められた": "", "を呈した": "showed", "いずれも": "all", "ともに": "all",
    "共に": "all", "および": "and", "及び": "and", "ならびに": "and", "並びに": "and",
    "また": "", "一方": "whereas", "しかし": "but",
    # ---- marker names
    "デスミン": "desmin", "ビメンチン": "vimentin", "アクチン": "actin",
    "平滑筋アクチン": "SMA", "α平滑筋アクチン": "SMA", "平滑筋型アクチン": "SMA",
    "筋特異的アクチン": "muscle specific actin", "カルデスモン": "caldesmon",
    "カルポニン": "calponin", "サイトケラチン": "cytokeratin", "ケラチン": "keratin",
    "カテニン": "catenin", "βカテニン": "beta-catenin", "ベータカテニン": "beta-catenin",
    "ミオゲニン": "myogenin", "カルレチニン": "calretinin", "上皮膜抗原": "EMA",
    "シナプトフィジン": "synaptophysin", "クロモグラニン": "chromogranin",
    "ニューロフィラメント": "neurofilament", "エストロゲン受容体": "estrogen receptor",
    "プロゲステロン受容体": "progesterone receptor", "エストロゲンレセプター": "estrogen receptor",
    "プロゲステロンレセプター": "progesterone receptor", "ポドプラニン": "podoplanin",
    "グリア線維性酸性蛋白": "GFAP", "神経特異エノラーゼ": "NSE",
}

PARTICLES = {
    "は": "", "が": "", "の": "", "に": "", "で": "", "を": "", "も": "", "には": "", "では": "",
    "でも": "", "とも": "", "において": "", "にて": "", "と": "and", "や": "and",
}
