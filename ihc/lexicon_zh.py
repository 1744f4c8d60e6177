"""Chinese report words (simplified and traditional) -> the English words the reader knows.

A data table, no code; see :mod:`ihc.lexicon_ja` for what the readings mean.
Traditional forms that are also Japanese (陽性, 陰性) are listed once, in the Japanese table.
"""

WORDS = {
    # ---- results
    "阳性": "positive", "阴性": "negative",
    "弱阳性": "weakly positive", "弱陽性": "weakly positive",
    "强阳性": "strongly positive", "強陽性": "strongly positive",
    "局灶阳性": "focally positive", "局灶陽性": "focally positive", "局灶性阳性": "focally positive",
    "灶状阳性": "focally positive", "灶状陽性": "focally positive", "灶性阳性": "focally positive",
    "部分阳性": "focally positive", "部分陽性": "focally positive", "少数阳性": "focally positive",
    "灶+": "focally positive", "灶性+": "focally positive", "灶状+": "focally positive",
    "局部阳性": "focally positive", "局部陽性": "focally positive", "灶性": "focal", "灶状": "focal",
    "部分": "partly", "部分细胞": "some cells", "部分細胞": "some cells", "少量": "few",
    "部分细胞阳性": "focally positive", "部分細胞陽性": "focally positive",
    "少数细胞": "few cells", "少數細胞": "few cells", "少量细胞": "few cells", "少量細胞": "few cells",
    "个别细胞": "individual cells", "個別細胞": "individual cells", "弱+": "weakly positive",
    "大部分": "most", "大多数": "most", "大多數": "most",
    "散在阳性": "scattered positive", "散在陽性": "scattered positive", "散在": "scattered",
    "弥漫阳性": "diffusely positive", "弥漫性阳性": "diffusely positive",
    "瀰漫陽性": "diffusely positive", "瀰漫性陽性": "diffusely positive",
    "弥漫": "diffusely", "弥漫性": "diffuse", "局灶": "focally", "局灶性": "focal",
    "表达": "expressed", "表達": "expressed", "不表达": "not expressed", "不表達": "not expressed",
    "未表达": "not expressed", "无表达": "not expressed", "阴性表达": "negative",
    "阳性表达": "positive", "染色": "staining", "核阳性": "nuclear positive",
    "核+": "nuclear positive", "胞核+": "nuclear positive", "胞核阳性": "nuclear positive",
    "胞浆+": "cytoplasmic positive", "胞质+": "cytoplasmic positive", "浆+": "cytoplasmic positive",
    "膜+": "membranous positive", "胞膜+": "membranous positive", "胞膜阳性": "membranous positive",
    "胞浆阳性": "cytoplasmic positive", "胞质阳性": "cytoplasmic positive", "胞浆": "cytoplasmic",
    "胞质": "cytoplasmic", "胞漿": "cytoplasmic",
    # ---- indices
    "增殖指数": "proliferation index", "增殖指數": "proliferation index", "指数": "index",
    "指數": "index", "阳性率": "index", "陽性率": "index", "阳性指数": "index",
    "标记指数": "index", "标记率": "index", "阳性细胞数": "index", "约": "about", "約": "about",
    "左右": "",
    # ---- where the stain is
    "瘤细胞": "tumour cells", "肿瘤细胞": "tumour cells", "腫瘤細胞": "tumour cells",
    "瘤細胞": "tumour cells", "梭形细胞": "spindle cells", "肿瘤": "tumour",
    "血管内皮细胞": "vascular endothelial cells", "血管內皮細胞": "vascular endothelial cells",
    "血管内皮": "vascular endothelium", "血管": "vessels", "肥大细胞": "mast cells",
    "肥大細胞": "mast cells", "间质细胞": "stroma cells", "間質細胞": "stroma cells",
    "淋巴细胞": "lymphocytes", "组织细胞": "histiocytes", "仅": "only", "僅": "only", "只": "only",
    # ---- fillers, copulas, connectors
    "免疫组化": "immunohistochemistry", "免疫组化染色": "immunohistochemistry",
    "免疫组织化学": "immunohistochemistry", "免疫组织化学染色": "immunohistochemistry",
    "免疫组化结果": "immunohistochemistry", "免疫组化检查": "immunohistochemistry",
    "免疫組化": "immunohistochemistry", "免疫組織化學": "immunohistochemistry",
    "免疫组化显示": "immunohistochemistry", "免疫组化示": "immunohistochemistry",
    "蛋白": "protein", "抗体": "antibody", "抗體": "antibody",
    "均": "all", "均为": "all", "均為": "all", "皆": "all", "呈": "", "为": "", "為": "", "示": "",
    "显示": "showed", "顯示": "showed", "和": "and", "及": "and", "与": "and", "與": "and",
    "以及": "and", "而": "whereas", "但": "but",
    # ---- marker names
    "结蛋白": "desmin", "結蛋白": "desmin", "波形蛋白": "vimentin",
    "平滑肌肌动蛋白": "SMA", "平滑肌肌動蛋白": "SMA", "平滑肌动蛋白": "SMA",
    "肌特异性肌动蛋白": "muscle specific actin", "肌动蛋白": "actin", "肌動蛋白": "actin",
    "角蛋白": "keratin", "细胞角蛋白": "cytokeratin", "細胞角蛋白": "cytokeratin",
    "广谱角蛋白": "pan-cytokeratin", "钙调理蛋白": "calponin", "调宁蛋白": "calponin",
    "钙调蛋白结合蛋白": "caldesmon", "钙视网膜蛋白": "calretinin",
    # 钙结合蛋白 ("calcium-binding protein") is written for caldesmon and for calretinin: not read
    "角蛋白ck": "keratin", "角蛋白CK": "keratin", "细胞角蛋白CK": "keratin", "细胞角蛋白ck": "keratin",
    "上皮膜抗原": "EMA", "连环蛋白": "catenin", "連環蛋白": "catenin", "突触素": "synaptophysin",
    "嗜铬粒蛋白": "chromogranin", "嗜铬素": "chromogranin", "神经元特异性烯醇化酶": "NSE",
    "神经丝蛋白": "neurofilament", "胶质纤维酸性蛋白": "GFAP", "雌激素受体": "estrogen receptor",
    "孕激素受体": "progesterone receptor", "肌红蛋白": "myoglobin",
}
