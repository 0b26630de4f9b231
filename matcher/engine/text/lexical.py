"""Lexical (BM25) retrieval over short multilingual texts.

The tokeniser handles the six Convention languages without any segmenter or stemmer:

* Unicode NFKC normalisation and case folding;
* accents folded away (``é`` -> ``e``, ``ё`` -> ``е``), identically for documents and queries;
* Arabic diacritics (harakat), tatweel and hamza/alef variants normalised;
* words are maximal runs of ``\\w`` characters; Han characters, which carry no spaces, become
  character unigrams plus bigrams (a bigram approximates a two-character word, the most common
  length in Chinese).

BM25 scoring comes from :mod:`bm25s` with its default parameters (k1=1.5, b=0.75, Lucene variant).
Stop-word removal is available but off by default: BM25's idf already discounts function words, and
on the development needs it did not help English queries (nDCG@10 0.494 without, 0.489 with).
Folding accents scored marginally above keeping them (0.403 vs 0.400 over all needs).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache

import bm25s
import numpy as np

logger = logging.getLogger(__name__)

Tokenizer = Callable[[str], list[str]]

_HAN_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Either a run of Han characters or a run of other word characters (letters, digits, underscore).
_TOKEN_PATTERN = re.compile(rf"(?P<han>[{_HAN_RANGES}]+)|(?P<word>[^\W{_HAN_RANGES}]+)")
_HAN_RUN = re.compile(rf"[{_HAN_RANGES}]")
_WORD_RUN = re.compile(r"\w+")  # the whole tokeniser for text without Han characters
# Harakat, superscript alef and Quranic marks, plus tatweel (a purely typographic stretch).
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_LETTER_VARIANTS = str.maketrans(
    {
        "\u0623": "\u0627",  # alef with hamza above -> alef
        "\u0625": "\u0627",  # alef with hamza below -> alef
        "\u0622": "\u0627",  # alef with madda -> alef
        "\u0671": "\u0627",  # alef wasla -> alef
        "\u0649": "\u064a",  # alef maqsura -> yeh
        "\u0629": "\u0647",  # teh marbuta -> heh
    }
)

# A deliberately short list per language: function words that carry no topic. Written in
# unfolded form; they go through the same normalisation as the text before comparison. Also
# read by the keyword tagger (words it skips when measuring the distance inside a phrase) and
# by explanations (never a matched term).
STOPWORDS_BY_LANGUAGE: dict[str, str] = {
    "en": """a an and are as at be been but by for from has have in into is it its of on or our
        such that the their there these this those to was we were which will with not no all any
        can could would should may must also other than then they them us you your i he she so if
        do does did per via each both within without about over under between after before up out
        only more most some who what how where when""",
    "fr": """a à au aux avec ce ces cette d dans de des du elle en est et il ils l la le les leur leurs
        mais ne nos notre nous ou où par pas plus pour qu qui que sa se ses son sont sur un une
        y afin ainsi aussi entre chez vers sans sous été être avoir ont ont tout tous toute toutes""",
    "es": """a al con como de del el en es esta este estos estas la las lo los mas más nuestra nuestro
        nuestras nuestros nos o para pero por que se sin sobre su sus un una unos unas y e ya muy
        entre hacia desde hasta cada le les ha han son está están ser sido""",
    "ru": """а в во для до и из или как к на не но о об от по при с со так что это мы наш наша
        наши у же также а ли бы все всех его ее их он она они который которые которых этот эти
        этих между через над под без""",
    "ar": """في من على إلى عن مع هذا هذه ذلك التي الذي الذين و او أو ان أن إن كما لا ما تم نحن
        قد كل بين حيث ثم أي لدى لدينا هو هي هم إلى عند ضمن خلال""",
    "zh": "的 了 和 与 及 在 是 我们 我 这 为 对",
}


@lru_cache(maxsize=1)
def _nonspacing_marks() -> re.Pattern[str]:
    """Every Unicode non-spacing mark (category Mn) as one character class, so accents are
    dropped by one regex pass instead of a Python loop over characters."""
    ranges: list[tuple[int, int]] = []
    # Marks live in the first two planes and in the variation selectors of plane 14.
    for code in (*range(0x20000), *range(0xE0000, 0xE1000)):
        if unicodedata.category(chr(code)) == "Mn":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]")


def _fold(text: str, *, fold_accents: bool) -> str:
    if text.isascii():  # NFKC, the Arabic rules and accent folding change nothing here
        return text.lower()
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_LETTER_VARIANTS)
    if fold_accents:
        decomposed = unicodedata.normalize("NFD", text)
        text = unicodedata.normalize("NFC", _nonspacing_marks().sub("", decomposed))
    return text


def _split(text: str) -> list[str]:
    if not _HAN_RUN.search(text):
        return _WORD_RUN.findall(text)
    tokens: list[str] = []
    for match in _TOKEN_PATTERN.finditer(text):
        han_run = match.group("han")
        if han_run is None:
            tokens.append(match.group("word"))
            continue
        tokens.extend(han_run)
        tokens.extend(han_run[position : position + 2] for position in range(len(han_run) - 1))
    return tokens


def _build_stopwords(*, fold_accents: bool) -> frozenset[str]:
    words: set[str] = set()
    for listing in STOPWORDS_BY_LANGUAGE.values():
        for word in listing.split():
            words.update(_split(_fold(word, fold_accents=fold_accents)))
    return frozenset(words)


_FOLDED_STOPWORDS = _build_stopwords(fold_accents=True)
_UNFOLDED_STOPWORDS = _build_stopwords(fold_accents=False)


def tokenize(text: str, *, fold_accents: bool = True, remove_stopwords: bool = False) -> list[str]:
    """Split ``text`` into normalised tokens for BM25.

    Documents and queries must go through the same options. Han characters yield unigrams and
    bigrams; every other script yields whole words. Returns ``[]`` for text with no word characters.
    """
    tokens = _split(_fold(text, fold_accents=fold_accents))
    if remove_stopwords:
        stopwords = _FOLDED_STOPWORDS if fold_accents else _UNFOLDED_STOPWORDS
        tokens = [token for token in tokens if token not in stopwords]
    return tokens


class LexicalIndex:
    """BM25 over a fixed, ordered collection of texts (document ``i`` is ``texts[i]``).

    Scores are non-negative BM25 values, unbounded above and comparable only within one query;
    a document sharing no token with the query scores 0. The index is immutable: rebuild it when
    the collection changes (building 10k short documents takes well under a second).
    """

    def __init__(
        self,
        texts: Iterable[str],
        *,
        tokenizer: Tokenizer = tokenize,
        k1: float = 1.5,
        b: float = 0.75,
    ) -> None:
        documents = list(texts)
        self._size = len(documents)
        self._tokenizer = tokenizer
        self._retriever: bm25s.BM25 | None = None
        if documents:
            self._retriever = bm25s.BM25(k1=k1, b=b)
            self._retriever.index([tokenizer(text) for text in documents], show_progress=False)
        logger.debug("built BM25 index over %d documents", len(documents))

    def __len__(self) -> int:
        return self._size

    def score_all(self, query_text: str) -> np.ndarray:
        """BM25 score of every document for ``query_text``, in document order (float32).

        All zeros when the query is empty or has no token known to the collection.
        """
        scores = np.zeros(self._size, dtype=np.float32)
        if self._retriever is None:
            return scores
        token_ids = self._retriever.get_tokens_ids(self._tokenizer(query_text))
        if not token_ids:
            return scores
        return np.asarray(self._retriever.get_scores_from_ids(token_ids), dtype=np.float32)


# A sentence ends at . ! ? ; (and their Arabic and Chinese forms) followed by space, or right
# after a Chinese full stop, which takes no space. A full stop is no end after an abbreviation
# or an initial ("Art. 8", "e.g. cement", "No. 12", "p. ej. el", "ст. 8", "J. Smith"), nor when
# the next word starts in lower case or with a digit: sentence pairs are shown to the Party,
# and a sentence cut at "Art." reads as nonsense.
_HAN_CHAR = re.compile(f"[{_HAN_RANGES}]")
_SENTENCE_END = re.compile(r"(?<=[.!?؟;])\s+|(?<=[。！？；])")
_LAST_WORD = re.compile(r"(\S+)$")
_ABBREVIATION_LIST = """art. arts. e.g. i.e. no. nos. nr. n° vol. ch. para. paras. sec. fig. dr. mr. mrs. ms. st.
    vs. approx. cf. inc. ltd. co. corp. dept. min. gov. u.s. u.k. ann. annex. p. pp. ej. p.ej.
    núm. sr. sra. dra. ing. lic. av. ref. mme. mlle. env. cap. ст. стст. п. пп. г. гг. им. напр.
    см. рис. т.е. т. е. тыс. млн. млрд. руб. ул. д. ср."""
ABBREVIATIONS = frozenset(_ABBREVIATION_LIST.split())


def _ends_sentence(text: str, start: int, end: int) -> bool:
    """Whether the gap ``text[start:end]`` after a sentence mark really ends a sentence."""
    if text[start - 1] != ".":
        return True
    following = text[end : end + 1]
    if following and (following.islower() or following.isdigit()):
        return False
    found = _LAST_WORD.search(text, 0, start)
    last = found.group(1).lower() if found else ""
    last = last.lstrip("(\"'«“")
    is_initial = len(last) == 2 and last[0].isalpha()
    return not (is_initial or last in ABBREVIATIONS)


def sentences(text: str, *, minimum_length: int = 12) -> list[str]:
    """Split ``text`` into sentences, dropping fragments shorter than ``minimum_length``
    characters (a Han character counts as three: it carries a word); the whole text when
    nothing is left. Abbreviations and initials do not end a sentence."""
    parts: list[str] = []
    begin = 0
    for boundary in _SENTENCE_END.finditer(text):
        start, end = boundary.span()
        if start > 0 and _ends_sentence(text, start, end):
            parts.append(text[begin:start].strip())
            begin = end
    parts.append(text[begin:].strip())
    kept = [part for part in parts if len(part) + 2 * len(_HAN_CHAR.findall(part)) >= minimum_length]
    return kept or [text.strip()]
