"""Sentence splitting that never cuts through an anchor and needs no download.

The paper split sentences with NLTK punkt, whose model is a download. Here
the default is spaCy's rule-based ``sentencizer`` over spaCy's English
tokenizer (whose exceptions keep "Dr.", "U.S.", "Jan." in one token), so
nothing is fetched at run time; ``pysbd`` (pure Python, an optional extra) is
the other choice. A boundary that falls inside an anchor is removed by merging
the two sentences around it.

The sentencizer component is used on its own (no ``Language``: building
``spacy.blank("en")`` loads every installed spaCy plugin, seconds per
process), and a caller that already tokenised the paragraph passes its Doc,
so the text is tokenised once.
"""

from typing import Any, Callable, List, Optional, Sequence, Tuple

from ..errors import NerbertError
from .wikitext import Anchor

__all__ = ["SPLITTERS", "split_sentences", "sentence_starts", "english_tokenizer", "get_sentencizer_nlp", "merge_across_anchors"]

SPLITTERS = ("spacy", "pysbd")
_NLP = None
_PYSBD = None
_TOKENIZER = None
_FINAL_PUNCT = None


def english_tokenizer() -> Callable[[str], Any]:
    """spaCy's English tokenizer, made by spaCy's own factory (``spacy.Tokenizer.v1``) from
    ``English.Defaults``: the same Docs as ``spacy.blank("en").make_doc`` (same bytes), without
    constructing a ``Language``, which loads every installed pipeline plugin (seconds per
    worker process).

    RETURNS (Callable[[str], Doc]): A new tokenizer.
    """
    from types import SimpleNamespace

    from spacy.lang.en import English
    from spacy.language import create_tokenizer
    from spacy.vocab import create_vocab

    vocab = create_vocab("en", English.Defaults)
    return create_tokenizer()(SimpleNamespace(vocab=vocab, Defaults=English.Defaults))


def _shared_tokenizer() -> Callable[[str], Any]:
    global _TOKENIZER
    if _TOKENIZER is None:
        _TOKENIZER = english_tokenizer()
    return _TOKENIZER


def _punct_hashes() -> frozenset:
    """The string hashes of spaCy's ``Sentencizer.default_punct_chars``."""
    global _FINAL_PUNCT
    if _FINAL_PUNCT is None:
        from spacy.pipeline import Sentencizer
        from spacy.strings import get_string_id

        _FINAL_PUNCT = frozenset(get_string_id(c) for c in Sentencizer.default_punct_chars)
    return _FINAL_PUNCT


def sentence_starts(doc: Any) -> List[int]:
    """The tokens where spaCy's rule-based ``Sentencizer`` (default punctuation) starts a sentence.

    Same result as ``Sentencizer().predict([doc])``, computed on the token arrays instead of
    token objects: after a sentence-final character, the next token that is neither
    punctuation nor such a character starts a sentence.

    doc (Doc): A tokenised text.
    RETURNS (List[int]): Token indices, ascending; ``[0, ...]`` unless the Doc is empty.
    """
    from spacy.attrs import IS_PUNCT, ORTH

    if len(doc) == 0:
        return []
    array = doc.to_array([ORTH, IS_PUNCT])
    final = _punct_hashes()
    starts = [0]
    seen = False
    for i, (orth, punct) in enumerate(zip(array[:, 0].tolist(), array[:, 1].tolist())):
        if orth in final:
            seen = True
        elif seen and not punct:
            starts.append(i)
            seen = False
    return starts


def get_sentencizer_nlp():
    """The shared blank English pipeline with a ``sentencizer`` (built once per process; not
    used by :func:`split_sentences`, which gives the same sentences without it).

    RETURNS (Language): ``spacy.blank("en")`` + ``sentencizer``; its tokenizer is
        spaCy's English tokenizer, so callers can reuse it to tokenise.
    """
    global _NLP
    if _NLP is None:
        import spacy

        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        _NLP = nlp
    return _NLP


def _pysbd_segmenter():
    global _PYSBD
    if _PYSBD is None:
        try:
            import pysbd
        except ImportError:  # pragma: no cover - pysbd is an optional extra
            raise NerbertError("sentence splitter 'pysbd' needs the pysbd package: pip install pysbd") from None
        _PYSBD = pysbd.Segmenter(language="en", clean=False, char_span=True)
    return _PYSBD


def merge_across_anchors(sentences: Sequence[Tuple[int, int]], anchors: Sequence[Anchor]) -> List[Tuple[int, int]]:
    """Merge consecutive sentences whose boundary falls inside an anchor.

    sentences (Sequence[Tuple[int, int]]): ``(start, end)`` char spans in order.
    anchors (Sequence[Anchor]): Anchors of the same text.
    RETURNS (List[Tuple[int, int]]): Sentences with no anchor crossing a boundary.
    """
    out: List[Tuple[int, int]] = []
    for start, end in sentences:
        if out and any(a.start < start and a.end > out[-1][1] for a in anchors):
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _strip(text: str, s: int, e: int) -> Tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def split_sentences(
    text: str, anchors: Sequence[Anchor], *, splitter: str = "spacy", doc: Optional[Any] = None
) -> List[Tuple[int, int]]:
    """Split a paragraph into sentences; no boundary ever falls inside an anchor.

    text (str): The paragraph text.
    anchors (Sequence[Anchor]): Its anchors (char spans into ``text``).
    splitter (str): ``"spacy"`` (rule-based sentencizer on spaCy's English
        tokenizer) or ``"pysbd"``.
    doc (Optional[Doc]): ``text`` already tokenised (``"spacy"`` only; tokenised here if None).
    RETURNS (List[Tuple[int, int]]): ``(start, end)`` char offsets of the
        sentences, in order, without surrounding whitespace.
    """
    if splitter not in SPLITTERS:
        raise NerbertError(f"unknown sentence splitter '{splitter}' (choose one of: {', '.join(SPLITTERS)})")
    if not text.strip():
        return []
    spans: List[Tuple[int, int]] = []
    if splitter == "spacy":
        if doc is None:
            doc = _shared_tokenizer()(text)
        starts = sentence_starts(doc) + [len(doc)]
        for a, b in zip(starts, starts[1:]):
            last = doc[b - 1]
            s, e = _strip(text, doc[a].idx, last.idx + len(last))
            if e > s:
                spans.append((s, e))
    else:
        for span in _pysbd_segmenter().segment(text):
            s, e = _strip(text, span.start, span.end)
            if e > s:
                spans.append((s, e))
    return merge_across_anchors(spans, anchors)
