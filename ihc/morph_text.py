"""Morphology read from a report's own sentences (English, Japanese, Chinese, Korean).

Reports state the findings that grade a tumour in prose: "18 mitoses per 10 HPF",
"mitotic count 3/50 HPFs", "frequent mitotic figures", "coagulative tumour necrosis",
"without necrosis", "marked nuclear pleomorphism", "bland spindle cells", "a 14 x 10 x 8 cm
mass", "核分裂像 10/10HPF", "坏死", "괴사는 없었다". :func:`read_morphology` finds them
clause by clause with the word tables below (one table per kind of word, every language
in it), applies negation the NegEx way (a negation cue before the finding, in the same
clause, or a negated predicate after it), and returns a
:class:`~ihc.morphology.Morphology`. It never raises on text: what it cannot place is
simply not read, and a contradiction (necrosis both present and absent) is a warning and
no reading.

>>> m = read_morphology("Spindle cells with marked nuclear atypia, 18 mitoses per 10 HPF "
...                     "and coagulative necrosis; SMA+, desmin+")
>>> m.mitoses.text, m.necrosis, m.atypia, m.cell_type
('18 mitoses per 10 hpf', True, 'severe', 'spindle')
>>> read_morphology("bland spindle cells, no mitoses, no necrosis").to_dict()["necrosis"]
False
"""

from __future__ import annotations

import math
import re
import unicodedata

from .exceptions import InvalidValueError
from .morphology import CMP_PATTERN, CMP_WORDS, MITOSIS_INCREASE, MITOSIS_QUALIFIERS, NEG_BEFORE, MitoticCount, Morphology, parse_mitoses

__all__ = ["read_morphology"]

# ------------------------------------------------------------------ word tables (data)

#: Words that name mitoses.
MITOSIS_CUES = r"(?:mitos[ie]s|mitotic|mitoses|mitotically|nuclear divisions?|\bmfs?\b|核分裂[像象]?|分裂[像象]|有丝分裂象?|有絲分裂象?|유사분열|핵분열|세포분열)"
#: Words that name tumour necrosis.
NECROSIS_CUES = r"(?:necros[ie]s|necrotic|壊死|坏死|壞死|괴사)"
#: Words that name nuclear atypia / pleomorphism.
ATYPIA_CUES = r"(?:atypi(?:a|as)|atypical(?! mitos)(?! mitotic)|anaplas(?:ia|tic)(?!\s+(?:lymphoma|large))|bizarre nuclei|pleomorphi(?:sm|c)|pleiomorphi(?:sm|c)|奇异形?核|奇怪な?核|기괴한 ?핵|大小不同|異型性?|异型性?|异形性?|異形性?|이형성?|多形性|多形|다형성)"
PLEO_CUES = r"(?:pleomorphi(?:sm|c)|pleiomorphi(?:sm|c)|奇异形?核|奇怪な?核|기괴한 ?핵|大小不同|多形性|多形|다형성|bizarre)"
#: Before "atypical": words that make it a kind of mitosis, not atypia ("the mitoses, including
#: atypical, were numerous").
ATYPICAL_MITOSES_BEFORE = r"mitos[ie]s[\s,(]*(?:including|incl\.|some|many|several|few|with|and)?\s*$"
#: Words that make mitoses atypical ones, right before the cue: "atypical mitoses", "異型核分裂像",
#: "病理性核分裂象", "비정형 유사분열" (not nuclear atypia, and denied they say nothing of the mitoses' number).
ATYPICAL_MITOSIS_WORD = r"(?:atypical|abnormal|異型|异型|病理性|非典型|비정형|이형|비전형)"
#: A mitotic activity stated as the predicate of its own sentence ("the mitoses ... were numerous").
MITOSIS_PREDICATE = r"\b(?:was|were|is|are)\s+(?:very\s+|quite\s+)?"
#: A qualifier of the mitoses belongs to the mitoses' own phrase: before the cue, the words since the
#: last of these breaks ("核は異型性に乏しいが,核分裂像をかなり認めた": 乏しい is said of the nuclei) ...
QUAL_BREAK_BEFORE = (r"[,，、;:]|\b(?:but|however|although|whereas|while)\b|(?<=[いたるだすく])が|지만|으나|는데|"
                     r"但|而")
#: ... and after it, the words up to the next of these (past a topic particle and its comma: "核分裂像は、").
QUAL_BREAK_AFTER = (r"[,，、;]|\b(?:and|with|but|or|while|whereas|however|although)\b|지만|으나|는데|"
                    r"(?<=[었였했])고\s|으며|면서|但|而")
QUAL_LEAD = r"^\s*(?:は|が|も|を|の|은|는|이|가|도|의)?\s*[,，、:]?"
QUAL_WINDOW = 30  # characters before the cue; after it, 40 (a predicate: 'were not readily identified')
#: A qualifier denied in its own phrase: "not frequent", "不多见", "无明显增多" (before it), "増加はなく",
#: "多くない", "증가하지 않았다", "많지 않" (after it, within a few words).
QUAL_NEG_BEFORE = (r"(?:\bnot\s+(?:very\s+|particularly\s+|so\s+|especially\s+|significantly\s+)?|"
                   r"不|无明显|無明顯|未见|未見|无|無|没有|沒有|未)\s*$")
QUAL_NEG_AFTER = r"^(?:[^\s]{0,8}?\s?){0,3}?(?:な[いくかし]|ず|ません|없|않|아니)"
#: A predicate that says only that there are mitoses, said of the mitoses themselves: right after the
#: cue ("mitotic figures were present", "核分裂像を認めた", "유사분열이 관찰되었다") or right before it
#: ("associated mitoses", "可见核分裂象"). Read after the negations; any count, ``present``.
MITOSIS_PRESENT_AFTER = (
    r"^\s*(?:(?:activity|figures?)\s+)?(?:(?:were|was|are|is|could be|can be|may be)\s+(?:also\s+)?)?"
    r"(?:present|seen|identified|observed|found|noted|evident|visible|detected|recogni[sz]ed|appreciated)\b|"
    r"^\s*(?:は|が|を|も)?\s*(?:散在性に|散在して|所々に)?\s*(?:認め|み|見|観察さ|確認さ)(?:られ)?(?:る|た|ます|ました|ている|ており|、)|"
    r"^\s*(?:は|が|を|も)?\s*(?:あり|有り)|"
    r"^\s*(?:可见|可見|易见)|"
    r"^\s*상?\s*(?:이|가|은|는|도)?\s*(?:관찰되었|관찰된다|관찰됨|관찰되며|관찰되고|보였|보인다|보이며|확인되었|확인된다|"
    r"있었|있다|있음|있으며|동반)")
MITOSIS_PRESENT_BEFORE = (r"(?:\bassociated|\baccompanying|\bwith|可见|可見|伴)\s*$|"
                          # the last item of a list they govern: "with atypia and mitoses", "可见小核仁和核分裂象"
                          r"(?:\bwith\s+(?:[a-z-]+\s+){0,3}?|(?:可见|可見|伴)[^,，;:]{0,8}?)(?:and|和|及|与|與|、)\s*$")

#: Negated predicates after a finding.
NEG_AFTER = (r"^\s*(?:was|were|is|are)?\s*(?:absent|not (?:seen|identified|present|observed|found|noted|evident|"
             r"detected|apparent)|lacking|none)",
             r"^\s*(?:は|が|も|を)?\s*(?:ほとんど|殆ど|全く|まったく)?\s*"
             r"(?:(?:み|見|認め)られ|(?:観察|確認|指摘|同定)(?:され|でき)|見当たら)(?:ない|ず|なかった|ません)",
             r"^\s*(?:は|が|も|の)?\s*(?:ほとんど|殆ど|全く|まったく)?\s*(?:な[しいく]|なかった|無し|無く|ない)",
             r"^\s*(?:は|が|も|を)?\s*(?:ほとんど|殆ど|全く|まったく)?\s*認め(?:ない|ず|なかった|ません)",
             r"^\s*(?:は|が|を)?\s*伴わ",
             r"^\s*(?:은|는|이|가|도)?\s*(?:거의|전혀)?\s*(?:없|(?:관찰되|보이|확인되|발견되|동반되|나타나|인지되|"
             r"인정되|관찰하|보|찾아보)지\s*않|(?:관찰할|볼|찾아볼|확인할)\s*수\s*없)",
             r"^\s*(?:均|也|亦|并|並)?\s*(?:不明显|不明顯|不显著|不顯著|不突出|未见|未見|阴性|陰性)")
#: Negated predicates after an atypia cue only ("異型は乏しい", "異型性に乏しく": poor in atypia is
#: bland; said of mitoses, 乏しい is rare, not none).
NEG_AFTER_ATYPIA = r"^\s*(?:に|は|が|も|の)?\s*(?:乏し|目立たな|目立たず|みられな)"
#: Words that break a negation's scope.
SCOPE_BREAK = r"(?:\bbut\b|\bhowever\b|\balthough\b|\bwhereas\b|\bwith\b|\bshowed\b|\bshowing\b|\bhad\b|\bhas\b|但|が、|하지만|그러나|伴)"
#: A list of findings that one negation governs as a whole ("absence of cellular atypia, mitotic
#: activity and coagulative necrosis", "necrosis and mitotic activity are not seen"): the words
#: that separate its items, how many words one item may hold, and how far the list may reach.
LIST_SEPARATORS = r"(?:,|\band\b|\bor\b|\bnor\b)"
LIST_ITEM_WORDS = 4
LIST_REACH = 120
#: Nouns a finding's cue heads ("mitotic activity", "mitotic figures", "epithelioid cells"): a
#: negated predicate after them still governs the finding ("mitotic figures were not identified").
FINDING_HEADS = r"(?:activity|activities|figures?|counts?|index|rate|cells?|foci|areas?|changes?)"
#: Words that open a new, affirmed item after "and" or a comma ("lack of nuclear pleomorphism and
#: only rare mitotic figures", "no necrosis, frequent mitoses"): a negation before them does not
#: reach past them (unless the list goes on with "or"/"nor", as a denied list does).
AFFIRMED_ITEM = (r"(?:,|\band\b)\s*(?:only|rare|rarely|occasional|occasionally|scattered|few|some|frequent|"
                 r"numerous|many|abundant|brisk|increased|prominent|extensive|easily|"
                 r"mild|mildly|moderate|moderately|marked|markedly|severe|severely|slight|slightly|"
                 r"striking|significant|considerable|focal|high|low)\b")
#: Grade words between a negation and its finding: the negation denies the grade, not the finding
#: ("no marked mitoses", "absence of high degrees of atypia"), so no mitotic count or atypia grade
#: is read (a pleomorphism so denied is still read as not pleomorphic).
GRADE_DENIED = (r"(?:\bmarked|\bsevere|\bstriking|\bhigh(?:[- ]grade)?|\bhigh degrees? of|\bfrequent|\bnumerous|"
                r"\bbrisk|\bmany|\babundant|\bincreased|\bprominent|\bconspicuous)\b")

#: A negation right after an atypia grade word (ja/ko): the grade is denied ("高度ではない",
#: "심하지 않았다"), the atypia stays (read ``present``).
GRADE_NOT_AFTER = r"\s*(?:では(?:な|無)|でな|じゃな|とは言えな|지\s*(?:는\s*)?않)"

#: Atypia grade words -> atypia value (ihc.morphology.ATYPIA_WORDS keys).
ATYPIA_GRADES = (
    (r"(?:marked|severe|striking|highly atypic|prominent|significant|considerable|pronounced|obvious|high[- ]grade|"
     r"高度|显著|顯著|明显|明顯|著明|著しい|高異型|強(?:い|く|度|かった)|(?<=[型形性])强|심한|심하|심했|고도|현저|뚜렷)",
     "severe"),
    (r"(?:moderate|中等度|中度|中等|중등도)", "moderate"),
    (r"(?:mild|slight|minimal|focal|low[- ]grade|轻度|輕度|軽度|경도|경미|약간|"
     r"(?<=[型形性])(?:[のがは]\s*)?少な|(?<=[型形性])(?:较|較)?小(?![圆圓円型形细細])|(?<=[型形性])(?:较|較)?轻|(?<=[型形性])(?:較|较)?輕)",
     "mild"),  # "核異型の少ない", "异型性小", "细胞异型性较小": little atypia
)

#: Cell type words.
SPINDLE = r"(?:spindle(?=(?:,|\s+and|\s+or|\s+to)[a-z ,-]{0,60}?\b(?:cells?|nuclei)\b)|spindle(?:d|-shaped| shaped)?(?: tumou?r| neoplastic| and (?:pleomorphic|epithelioid|ovoid|oval)(?: neoplastic)?)?[ -](?:cells?|nuclei|fibroblasts|myofibroblasts|proliferation|neoplasm|tumou?r|component|morphology|sarcoma)|spindle[- ]shaped|spindled|fusiform cells?|elongated (?:tumou?r )?(?:cells|nuclei)|紡錘形|紡錘型|紡錘|梭形|梭型|방추형|방추)"
EPITHELIOID = r"(?:epithelioid|epitheloid|epitheliod|polygonal|類上皮|上皮様|上皮样|上皮樣|多边形|多邊形|多角形|상피양|유상피)"

#: Size context words (a length is a tumour size only next to one of these).
SIZE_CONTEXT = (r"(?:measur\w*|size[ds]?|sized|diameter|dimension|mass|tumou?r|lesion|nodule|neoplasm|polyp|"
                r"大きさ|大小|直径|径|최대|크기|종괴|腫瘤|肿块|肿物|腫瘍|瘤体|瘤體|肿瘤)")

#: Comparators written after the count ("5개 이하", "5個以下") -> the comparator they mean.
POST_CMP_WORDS = {"이하": "<=", "미만": "<", "이상": ">=", "以下": "<=", "未満": "<", "未满": "<", "以上": ">=",
                  "or more": ">=", "or greater": ">=", "or higher": ">=", "or above": ">=", "and above": ">=",
                  "or less": "<=", "or fewer": "<="}
POST_CMP = r"\s*(?:\(\s*hpfs?\s*\)\s*)?(" + "|".join(POST_CMP_WORDS) + ")"

# The expressions below are (pattern, flags) until _compile() compiles them in place.
_NUM = r"\d+(?:\.\d+)?"
_UNIT = (r"(?:hpfs?|hfps?|high[- ]power(?:ed)?[- ]fields?|mm2|mm\^2|mm²|sq\.? ?mm|square millimet(?:er|re)s?|"
         r"(?:400 ?[x×]|[x×] ?400) (?:magnification )?fields?|"
         r"高倍視野|高倍率視野|高視野|強拡大視野|高倍镜视野|高倍鏡視野|高倍视野|高倍野|고배율\s*시야|고배율|배율)")
_CMP = "(?:" + CMP_PATTERN + ")"
_COUNT = (
    rf"(?P<cmp>{_CMP})?\s*(?P<a>{_NUM})(?:\s*(?:-|–|~|to)\s*(?P<b>{_NUM}))?\s*"
    rf"(?:mitos[ie]s|mitotic figures?|mitotic|mfs?|個|个|개)?\s*(?P<pcmp>以下|以上|未満|未满|이하|이상|미만)?\s*"
    rf"(?:/|per|in|every|\bof\b|\bfor\b)\s*"
    rf"(?P<den>{_NUM})?\s*(?:個|个|개)?\s*(?P<unit>{_UNIT})", re.I)
#: Between the fields and the count when the fields come first: the mitoses' name and a verb
#: ("每10个高倍视野可见核分裂象5个", "50高視野当たり核分裂像を13個", "10고배율시야당 유사분열이 5개").
_BETWEEN = (r"(?:可见|可見|见|見|有)?\s*(?:核分裂像?|分裂像|核分裂象|有丝分裂象?|유사분열상?|핵분열상?)?\s*"
            r"(?:は|が|を|も|이|가|은|는)?")
# "每10个高倍视野5个" / "10HPFあたり5個" / "10 HPF당 5개": denominator first; in a clause about
# mitoses bare fields are high-power fields ("核分裂像は50視野中5個": mitoses are counted at 400x)
_COUNT_DEN_FIRST = (
    rf"(?:每|毎)?\s*(?P<den>{_NUM})\s*(?:個|个|개)?\s*(?:의|の)?\s*(?P<unit>{_UNIT}|視野|视野|시야)\s*(?:あたり|当たり|中|당|에서)?\s*"
    rf"(?:に|で|에)?\s*(?:{_BETWEEN})?\s*(?P<cmp>{_CMP})?\s*(?P<a>{_NUM})(?:\s*(?:-|–|~)\s*(?P<b>{_NUM}))?\s*"
    rf"(?:個|个|개)", re.I)
# "強拡大10視野あたり5個" / "高倍视野10个中5个": a count per N high-power fields written around the fields
_COUNT_FIELDS = (
    rf"(?:強拡大|高倍率|高倍|400\s*倍|고배율|400\s*배)\s*(?:で|の|에서)?\s*(?P<den>{_NUM})\s*(?:個|个|개)?\s*"
    rf"(?:視野|视野|시야)\s*(?:あたり|当たり|中|で|に|当|당|에서|에)?\s*(?:{_BETWEEN})?\s*"
    rf"(?P<cmp>{_CMP})?\s*(?P<a>{_NUM})(?:\s*(?:-|–|~)\s*(?P<b>{_NUM}))?\s*(?:個|个|개)", re.I)
_COUNT_FIELDS_WORD_FIRST = (
    rf"(?:強拡大|高倍率|高倍|고배율)\s*(?:視野|视野|시야)\s*(?P<den>{_NUM})\s*(?:個|个|개)\s*(?:あたり|当たり|中|当|당|에서|에)\s*"
    rf"(?:{_BETWEEN})?\s*(?P<cmp>{_CMP})?\s*(?P<a>{_NUM})(?:\s*(?:-|–|~)\s*(?P<b>{_NUM}))?\s*(?:個|个|개)", re.I)
_DIMS = (rf"(?P<d>{_NUM}(?:-?\s*(?:cm|mm)?\s*(?:x|×|\*|by)\s*{_NUM}){{0,2}})\s*-?\s*(?P<u>cms?|mm|センチ|厘米|毫米)(?![a-z])",
         re.I)
_AGE_SEX = (
    (r"(\d{1,3})[- ](?:year|yr)s?[- ]old (man|woman|male|female|boy|girl|lady|gentleman)", 1, 2),
    (r"(\d{1,3})\s*(?:歳|岁|세)\s*(?:の)?\s*(男性|女性|男|女|남자|여자|남성|여성)", 1, 2),
    (r"(男性|女性|男|女|남자|여자|남성|여성)\s*[,，、]?\s*(\d{1,3})\s*(?:歳|岁|세)", 2, 1),
)
_SEX_WORDS = {"man": "M", "male": "M", "boy": "M", "gentleman": "M", "男性": "M", "男": "M", "남자": "M", "남성": "M",
              "woman": "F", "female": "F", "girl": "F", "lady": "F", "女性": "F", "女": "F", "여자": "F", "여성": "F"}
#: Statements of bland or high-grade cytology (atypia without an atypia cue).
BLAND = (r"\bbland\b|cytologically bland|異型に乏し|異型性に乏し|異型性は乏し|异型不明显|异型性不明显|"
         r"缺乏异型|无异型|無異型|形态温和|形態溫和|形态较温和|形態較溫和|이형성이 없|이형성은 없")
HIGH_GRADE = r"high[- ]grade (?:malignant|spindle|pleomorphic|sarcoma|tumou?r)"

_CLAUSE_SPLIT = (r"(?<!\d)\.(?!\d)|[;。；\n!?！？]", 0)
_NEG_BEFORE = ("|".join(NEG_BEFORE), re.I)
_NEG_AFTER = [(p, re.I) for p in NEG_AFTER]
_BREAK = (SCOPE_BREAK, re.I)

#: ``(pattern, flags)`` of every expression through which :func:`read_morphology` reads anything:
#: a text that none of them matches states no morphology (see :data:`ASCII_TRIGGER_WORDS`).
TRIGGERS = ((MITOSIS_CUES, re.I), (NECROSIS_CUES, re.I), (ATYPIA_CUES, re.I), (BLAND, 0), (HIGH_GRADE, 0),
            (SPINDLE, re.I), (EPITHELIOID, re.I), _DIMS, *((p, 0) for p, _, _ in _AGE_SEX))

#: Every match of a :data:`TRIGGERS` expression in ASCII text holds one of these words (the required
#: literals of the expressions' ASCII branches, lower case, none holding another; derived from
#: :data:`TRIGGERS` by ``tests/test_morphology.py``, which fails when they drift). An ASCII text with
#: none of them states no morphology: :func:`read_morphology` answers it without compiling its
#: expressions (a plain panel, ``"SMA+ desmin+ CD117-"``, costs a few substring tests).
ASCII_TRIGGER_WORDS = ('anaplas', 'atypia', 'atypical', 'bizarre nuclei', 'bland', 'cm', 'elongated ', 'epitheliod',
                       'epithelioid', 'epitheloid', 'fusiform cell', 'grade ', 'mf', 'mitos', 'mitotic', 'mm', 'necros',
                       'necrotic', 'nuclear division', 'old ', 'pleiomorphi', 'pleomorphi', 'polygonal', 'spindle')

_compiled = False


def _compile():
    """Compile the reader's expressions in place (on the first text that could state a finding).
    Idempotent, so two threads racing here both leave compiled expressions."""
    global _COUNT, _COUNT_DEN_FIRST, _COUNT_FIELDS, _DIMS, _AGE_SEX, _CLAUSE_SPLIT, _NEG_BEFORE, _NEG_AFTER, _BREAK
    global _COUNT_FIELDS_WORD_FIRST, _compiled

    def c(v):
        return v if isinstance(v, re.Pattern) else re.compile(v) if isinstance(v, str) else re.compile(*v)

    _COUNT, _COUNT_DEN_FIRST, _COUNT_FIELDS, _DIMS, _CLAUSE_SPLIT, _NEG_BEFORE, _BREAK = (
        c(v) for v in (_COUNT, _COUNT_DEN_FIRST, _COUNT_FIELDS, _DIMS, _CLAUSE_SPLIT, _NEG_BEFORE, _BREAK))
    _COUNT_FIELDS_WORD_FIRST = c(_COUNT_FIELDS_WORD_FIRST)
    _NEG_AFTER = [c(v) for v in _NEG_AFTER]
    _AGE_SEX = tuple((c(p), ia, isx) for p, ia, isx in _AGE_SEX)
    _compiled = True


_CJK_GAP = re.compile(r"(?<=[\u3040-\u30ff\u4e00-\u9fff])\s+(?=[\u3040-\u30ff\u4e00-\u9fff])")


def _norm(text):
    s = unicodedata.normalize("NFKC", text)
    if not s.isascii():
        s = _CJK_GAP.sub("", s)  # "認 められなかった": a line break copied from a PDF (Japanese and Chinese use no spaces)
    return s.replace("\u2212", "-").replace("\u2013", "-").replace("\u2014", "-").lower()


def _list_between(text):
    """Is ``text`` (between a negation and a finding, or a finding and a negated predicate) made of
    list items only: short runs of words set apart by the list's separators, with no scope break
    and no verb of its own?"""
    if _BREAK.search(text) or re.search(r"\b(?:is|are|was|were|be|been|can|could|may)\b", text):
        return False
    items = re.split(LIST_SEPARATORS, text)
    return len(items) > 1 and all(len(it.split()) <= LIST_ITEM_WORDS for it in items)


def _negation(clause, start, end, window=48):
    """How a negation governs the finding at ``clause[start:end]``: ``None`` (it does not),
    ``"after"`` (a negated predicate after it) or the text between the negation cue before it
    and the finding."""
    before = clause[max(0, start - max(window, LIST_REACH)):start]
    cut = len(before) - min(window, start)
    # the negation must not be cut off from the finding by a scope break; past the window it
    # reaches the finding only through a list ("absence of atypia, mitotic activity and necrosis")
    cues = list(_NEG_BEFORE.finditer(before))
    if cues:
        last = cues[-1]
        between = before[last.end():]
        cjk = not last.group(0).isascii()
        # an affirmed item holding the finding: no other item between it and the finding
        aff = list(re.finditer(AFFIRMED_ITEM, between, re.I))
        affirmed = bool(aff) and not re.search(LIST_SEPARATORS, between[aff[-1].end():]) and \
            not re.match(r"\s*(?:or|nor)\b", clause[end:])
        if cjk and re.fullmatch(r"(?:[\u4e00-\u9fff]{1,4}?(?:、|及|和|与|與|或))+", between) and \
                not re.search(r"[见見有伴可示呈]", between):
            return between  # "无出血、坏死": a negation governs its enumeration (、), not a comma clause
        if cjk and (re.search(r"[,、:]", between) or len(between) > 8):
            pass  # a CJK negation governs only the words right after it, within its comma phrase
        elif affirmed:
            pass  # "lack of pleomorphism and only rare mitotic figures": the new item is affirmed
        elif last.start() >= cut and not _BREAK.search(between) and \
                not re.search(r"[,，、:]\s*\S+\s+(?:is|are|was|were)\b", between):
            return between
        elif last.start() < cut and _list_between(between):
            return between
    after = clause[end:end + LIST_REACH]
    # "mitotic activity are not seen", "necrosis and mitotic activity are not seen"
    after = re.sub(rf"^\s*{FINDING_HEADS}\b", "", after)
    if any(p.search(after[:40]) for p in _NEG_AFTER):
        return "after"
    m = re.match(r"[^;]*?(?=\s*\b(?:was|were|is|are)\s+(?:absent|not (?:seen|identified|present|observed|found|"
                 r"noted|evident|detected|apparent)|lacking))", after)
    if m and re.match(rf"\s*{LIST_SEPARATORS}", m.group(0)) and _list_between(m.group(0)):
        return "after"
    return None


def _negated(clause, start, end, window=48):
    """True when a negation cue governs the finding at ``clause[start:end]``."""
    return _negation(clause, start, end, window) is not None


def _grade_denied(clause, start, end):
    """A negation that governs the finding at ``clause[start:end]`` through a grade word ("no
    marked mitoses", "absence of high degrees of atypia"): it denies the grade only."""
    how = _negation(clause, start, end)
    return how not in (None, "after") and re.search(GRADE_DENIED, how, re.I) is not None


def _mitoses(clause, out, single=None):
    """Read the clause's mitoses into ``out``; a count over one field ("up to 2/HPF") goes to
    ``single`` instead: it is a field's maximum, not a rate, and is read only when the text gives
    no count over several fields ("5/40 HPFs, up to 2/HPF" is 5/40)."""
    if not re.search(MITOSIS_CUES, clause, re.I):
        return
    for rx in (_COUNT, _COUNT_DEN_FIRST, _COUNT_FIELDS, _COUNT_FIELDS_WORD_FIRST):
        for m in rx.finditer(clause):
            cmp = m.group("cmp") or ""
            cmp = CMP_WORDS.get(cmp, cmp)
            if not cmp and "pcmp" in rx.groupindex and m.group("pcmp"):
                cmp = POST_CMP_WORDS[m.group("pcmp")]  # "5個以下/50HPF": at most 5
            a, b = m.group("a"), m.group("b")
            den = m.group("den") or ""
            unit = m.group("unit") if "unit" in rx.groupindex else "hpf"
            unit = unit if re.match(r"mm|sq|square", unit) else "hpf"
            post = re.match(POST_CMP, clause[m.end():])
            if post and not cmp:
                cmp = POST_CMP_WORDS[post.group(1)]  # "5개 이하": at most 5
            text = f"{cmp} {a}{'-' + b if b else ''}/{den} {unit}".strip()
            try:
                mc = parse_mitoses(text)
            except InvalidValueError:
                continue
            stop = m.end() + (post.end() if post and cmp == POST_CMP_WORDS[post.group(1)] else 0)
            one_field = unit == "hpf" and den in ("", "1") and single is not None
            (single if one_field else out).append(
                MitoticCount(clause[m.start():stop].strip(), mc.low, mc.high, mc.converted_from_mm2))
    if out or single:
        return
    for cue in re.finditer(MITOSIS_CUES, clause, re.I):
        s, e = cue.start(), cue.end()
        near = clause[max(0, s - 30):e + 30]
        before, after = _own_phrase(clause, s, e)
        q = _qualifier(before, after)
        negated = _negated(clause, s, e)
        if negated and re.search(ATYPICAL_MITOSIS_WORD + r"\s*$", clause[max(0, s - 12):s]):
            continue  # "no atypical mitoses" says nothing of the mitoses' number
        if (re.search(r"atypical\s+mitos|mitos\w*\s+(?:were|was|are)?\s*atypical", near) or (
                not cue.group(0).isascii() and re.search(ATYPICAL_MITOSIS_WORD + r"\s*$", clause[max(0, s - 12):s]))) \
                and not negated \
                and not (q and not q[2]):  # "frequent and atypical mitoses" are frequent
            out.append(MitoticCount(near.strip(), 1.0, math.inf))
            continue
        if re.search(r"mitotically\s+active", near):
            out.append(MitoticCount("mitotically active", 6.0, math.inf))
            continue
        if q and q[2]:  # a denied qualifier: "核分裂像の増加はなく", "not frequent", "不多见"
            word, qtext, _ = q
            word = ("not increased" if re.fullmatch(MITOSIS_INCREASE, qtext, re.I) else "rare") \
                if word == "frequent" else "present"
            mc = parse_mitoses(word)
            out.append(MitoticCount(f"{cue.group(0)} {qtext} ({word})", mc.low, mc.high))
            continue
        if negated:
            how = _negation(clause, s, e)
            if how not in (None, "after") and re.search(MITOSIS_INCREASE, how, re.I):
                mc = parse_mitoses("not increased")  # "no increased mitotic activity"
                out.append(MitoticCount(f"not increased {cue.group(0)}", mc.low, mc.high))
            elif not _grade_denied(clause, s, e):  # "no marked mitoses" gives no count
                out.append(MitoticCount(f"no {cue.group(0)}", 0.0, 0.0))
            continue
        if q:
            mc = parse_mitoses(q[0])
            out.append(MitoticCount(f"{q[1]} {cue.group(0)}", mc.low, mc.high))
            continue
        bare = re.match(r"\s*(?:较|較|十分|非常|很|甚)?(多|少)(?![形边邊角核数數量少])", clause[e:e + 6])
        if bare and not cue.group(0).isascii():
            word = "frequent" if bare.group(1) == "多" else "rare"  # "核分裂多", "核分裂象少"
            mc = parse_mitoses(word)
            out.append(MitoticCount(f"{cue.group(0)} {bare.group(0).strip()}", mc.low, mc.high))
            continue
        if re.match(r"\s*(?:较|較|十分|非常|很)?(?:明显|明顯)", clause[e:e + 6]):
            mc = parse_mitoses("frequent")  # "核分裂明显": the mitoses are conspicuous (said after the cue)
            out.append(MitoticCount(f"{cue.group(0)} {clause[e:e + 4].strip()}", mc.low, mc.high))
            continue
        for pat, word in MITOSIS_QUALIFIERS:
            q = re.search(MITOSIS_PREDICATE + pat, clause[e:e + 60], re.I)
            if q:
                mc = parse_mitoses(word)
                out.append(MitoticCount(f"{cue.group(0)} {q.group(0)}", mc.low, mc.high))
                break
        else:
            if re.search(MITOSIS_PRESENT_AFTER, clause[e:e + 40], re.I) or re.search(MITOSIS_PRESENT_BEFORE, before):
                mc = parse_mitoses("present")
                out.append(MitoticCount(f"{cue.group(0)} present", mc.low, mc.high))


def _own_phrase(clause, s, e):
    """The words of the mitoses' own phrase around the cue at ``clause[s:e]``: before it (since the
    last :data:`QUAL_BREAK_BEFORE`) and after it (to the next :data:`QUAL_BREAK_AFTER`)."""
    before = clause[max(0, s - QUAL_WINDOW):s]
    cuts = list(re.finditer(QUAL_BREAK_BEFORE, before, re.I))
    if cuts:
        before = before[cuts[-1].end():]
    after = clause[e:e + QUAL_WINDOW + 10]
    lead = re.match(QUAL_LEAD, after)
    cut = re.search(QUAL_BREAK_AFTER, after[lead.end():], re.I)
    if cut:
        after = after[:lead.end() + cut.start()]
    return before, after


def _qualifier(before, after):
    """The mitotic qualifier of a phrase: ``(MITOSIS_WORDS key, the word, denied?)`` or None."""
    for part in (before, after):
        for pat, word in MITOSIS_QUALIFIERS:
            q = re.search(pat, part, re.I)
            if q:
                denied = bool(re.search(QUAL_NEG_BEFORE, part[:q.start()], re.I)) or \
                    bool(re.match(QUAL_NEG_AFTER, part[q.end():q.end() + 20]))
                return word, q.group(0), denied
    return None


def _necrosis(clause, found):
    for m in re.finditer(NECROSIS_CUES, clause, re.I):
        pre = clause[max(0, m.start() - 12):m.start()]
        if re.search(r"(?:fat|fibrinoid|fatty)\s*$", pre):
            continue
        found.append(not _negated(clause, m.start(), m.end()))


def _atypia(clause, grades, pleo):
    for m in re.finditer(ATYPIA_CUES, clause, re.I):
        s, e = m.start(), m.end()
        word = m.group(0)
        if word == "atypical" and re.search(ATYPICAL_MITOSES_BEFORE, clause[max(0, s - 30):s]):
            continue  # atypical mitoses, not nuclear atypia
        if re.match(r"\s*(?:性)?\s*(?:の|的)?\s*" + MITOSIS_CUES, clause[e:e + 12], re.I):
            continue  # "異型核分裂像", "异型核分裂象", "이형 유사분열": atypical mitoses, not nuclear atypia
        neg = _negated(clause, s, e) or bool(re.match(NEG_AFTER_ATYPIA, clause[e:]))
        is_pleo = bool(re.fullmatch(PLEO_CUES, word, re.I))
        if re.fullmatch(r"pleomorphic", word, re.I) and re.match(r"\s*(?:leiomyosarcoma|sarcoma|liposarcoma|"
                                                                 r"rhabdomyosarcoma|undifferentiated)", clause[e:]):
            continue  # a diagnosis's name, not a finding
        near = clause[max(0, s - 30):e + 12]
        grade = None
        if neg:
            grade = "none"
        else:
            for pat, g in ATYPIA_GRADES:
                gm = re.search(pat, near, re.I)
                if gm:
                    # "異型は高度ではない", "이형성은 심하지 않았으며": the grade is denied, not the atypia
                    grade = "present" if re.match(GRADE_NOT_AFTER, near[gm.end():] + clause[e + 12:e + 20]) else g
                    break
        if is_pleo:
            # "mild pleomorphism" grades the atypia mild; pleomorphic means more than mild
            pleo.append(not neg and grade != "mild")
            if neg and _grade_denied(clause, s, e):
                continue
            if grade in ("severe", "moderate", "mild"):
                grades.append(grade)
            continue
        if neg and _grade_denied(clause, s, e):
            continue  # "absence of high degrees of atypia": no grade is read
        grades.append(grade or "present")
    if re.search(BLAND, clause):
        grades.append("none")
    if re.search(HIGH_GRADE, clause):
        grades.append("moderate-severe")


def _cell_type(clause, kinds):
    sp = re.search(SPINDLE, clause, re.I)
    ep = re.search(EPITHELIOID, clause, re.I)
    if sp and not _negated(clause, sp.start(), sp.end(), window=20):
        kinds.add("spindle")
    if ep and not _negated(clause, ep.start(), ep.end(), window=20):
        kinds.add("epithelioid")


def _sizes(clause, sizes):
    for m in _DIMS.finditer(clause):
        dims = [float(x) for x in re.findall(_NUM, m.group("d"))]
        u = m.group("u")
        v = max(dims) / (10.0 if u in ("mm", "毫米") else 1.0)
        after = clause[m.end():m.end() + 40]
        before = clause[max(0, m.start() - 50):m.start()]
        if re.match(r"\s*(?:from|away|proximal|distal|beyond|margin|above|below)", after) \
                or re.search(r"(?:margin|distance|from)\s*(?:of\s*)?$", before):
            continue
        multi = len(dims) > 1
        if not (multi or re.search(SIZE_CONTEXT, before + after[:40], re.I)):
            continue
        if 0 < v <= 100:
            sizes.append(v)


def read_morphology(text):
    """The morphology a report's text states (a :class:`~ihc.morphology.Morphology`, maybe empty)."""
    if not isinstance(text, str) or not text.strip():
        return Morphology()
    s = _norm(text)
    if s.isascii() and not any(w in s for w in ASCII_TRIGGER_WORDS):
        return Morphology()
    if not _compiled:
        _compile()
    counts, single, necrosis, grades, pleo, kinds, sizes = [], [], [], [], [], set(), []
    for clause in _CLAUSE_SPLIT.split(s):
        if not clause.strip():
            continue
        _mitoses(clause, counts, single)
        _necrosis(clause, necrosis)
        _atypia(clause, grades, pleo)
        _cell_type(clause, kinds)
        _sizes(clause, sizes)
    out = Morphology()
    counts = counts or single
    if counts:
        # the hot spot: the count with the highest lower bound (an exact count beats a word)
        out.mitoses = max(counts, key=lambda c: (c.low, -0 if math.isinf(c.high) else c.high))
        if out.mitoses.converted_from_mm2:
            out.warnings.append(f"mitoses {out.mitoses.text}: read per 50 HPF taking 5 mm2 as 50 HPF (AJCC); "
                                "an HPF's area differs between microscopes")
    if necrosis:
        if all(necrosis):
            out.necrosis = True
        elif not any(necrosis):
            out.necrosis = False
        else:
            out.warnings.append("necrosis is stated both present and absent in the text: not read")
    if grades:
        order = ["none", "mild", "present", "moderate", "moderate-severe", "severe"]
        worst = max(grades, key=order.index)
        out.atypia = "mild-severe" if worst == "present" else worst
        if out.atypia == "mild-severe":
            out.atypia = "present"
    if pleo:
        out.pleomorphic = any(pleo)
    if kinds:
        out.cell_type = "mixed" if len(kinds) == 2 else kinds.pop()
    if sizes:
        out.size_cm = max(sizes)
    for rx, ia, isx in _AGE_SEX:
        m = rx.search(s)
        if m:
            age = float(m.group(ia))
            if 0 <= age <= 120:
                out.age = age
                out.sex = _SEX_WORDS.get(m.group(isx))
            break
    return out
