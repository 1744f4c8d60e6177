"""Read Chinese, Japanese and Korean report text with the English reader's grammar.

CJK reports write the same panel structures as English ones - a list of markers closed
by a result word (``KIT、DOG1陽性、desmin、S-100蛋白陰性``), a marker with its sign
(``SMA（+）``), a topic and its result (``CD117과 DOG1은 양성``) - but without spaces
and with other words. :func:`rewrite` turns such text into the words of the English
lexicon, one data table per language (:mod:`ihc.lexicon_ja`, :mod:`ihc.lexicon_zh`,
:mod:`ihc.lexicon_ko`), so that one grammar reads every language and the readings stay
data. It keeps, for every character it writes, the span of the text it came from, so
that fragments reported back to the user are quoted as written.

Longest match wins; the tables must not disagree on a written form (checked at import).
Script that no table holds is kept as an ordinary word, set apart by spaces: like
English prose the reader does not understand, it ends a list and is otherwise ignored.

>>> rewrite("KIT、DOG1陽性、desmin、S-100蛋白陰性")[0].split()
['KIT', ',', 'DOG1', 'positive', ',', 'desmin', ',', 'S-100', 'protein', 'negative']
>>> rewrite("CD117과 DOG1은 양성")[0].split()
['CD117', 'and', 'DOG1', 'positive']
"""

from __future__ import annotations

import re

from . import lexicon_ja, lexicon_ko, lexicon_zh

__all__ = ["rewrite", "has_cjk", "WORDS", "PARTICLES", "PUNCT"]

#: Punctuation of CJK text (after NFKC: full-width ，；：（）＋－％ are already ASCII).
PUNCT = {"、": ",", "。": ".", "・": ",", "､": ",", "〜": "-", "～": "-", "〔": "(", "〕": ")",
         "【": "(", "】": ")", "「": '"', "」": '"', "『": '"', "』": '"', "\u3000": " "}

_CJK = (r"\u1100-\u11ff\u3000-\u303f\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
        r"\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f")
_CJK_CHAR = re.compile(f"[{_CJK}]")


def _merge(*tables):
    out = {}
    for table in tables:
        for key, reading in table.items():
            for k in {key, key.replace(" ", "")}:
                if out.setdefault(k, reading) != reading:  # pragma: no cover - table guard
                    raise ValueError(f"CJK tables disagree on {k!r}: {out[k]!r} / {reading!r}")
    return out


#: Every written form -> its reading (all languages; a form is read the same in each).
WORDS = _merge(lexicon_ja.WORDS, lexicon_zh.WORDS, lexicon_ko.WORDS, PUNCT)
#: Particles, read only after a marker name, a result word or Latin text.
PARTICLES = _merge(lexicon_ja.PARTICLES, lexicon_ko.PARTICLES)

_MAX = max(map(len, (*WORDS, *PARTICLES)))
_FIRST = {k[0] for k in (*WORDS, *PARTICLES)}


def has_cjk(text):
    """Does the text hold any CJK script (kana, hanzi/kanji, hangul, CJK punctuation)?"""
    return not text.isascii() and _CJK_CHAR.search(text) is not None


def _is_cjk(ch):
    return _CJK_CHAR.match(ch) is not None


def rewrite(text):
    """Rewrite CJK text into the English lexicon's words.

    Returns ``(rewritten, spans)``: ``spans[k]`` is the ``(start, end)`` of the text that
    character ``k`` of ``rewritten`` came from. Linear time (a bounded look-ahead per
    character).
    """
    out = []
    spans = []
    n = len(text)
    i = 0
    after = False        # just after a marker, a result word or Latin text: particles may follow
    in_run = False       # inside script no table holds

    def emit(s, a, b):
        for ch in s:
            out.append(ch)
            spans.append((a, b))

    while i < n:
        ch = text[i]
        hit = None
        if ch in _FIRST:
            for L in range(min(_MAX, n - i), 0, -1):
                piece = text[i:i + L]
                reading = WORDS.get(piece)
                if reading is None and after:
                    reading = PARTICLES.get(piece)
                if reading is not None:
                    hit = (L, reading)
                    break
        if hit is not None:
            L, reading = hit
            left = "" if out and out[-1] in "-/" else " "
            right = "" if i + L < n and text[i + L] in "-/" else " "
            emit(left + reading + right, i, i + L)
            i += L
            after = True
            in_run = False
            continue
        if _is_cjk(ch):
            if not in_run:
                emit(" ", i, i + 1)
            emit(ch, i, i + 1)
            in_run = True
            after = False
        else:
            if in_run and not ch.isspace():
                emit(" ", i, i + 1)
            emit(ch, i, i + 1)
            in_run = False
            if not ch.isspace():
                after = ch.isalnum() or ch in ")%+-"
        i += 1
    return "".join(out), spans
