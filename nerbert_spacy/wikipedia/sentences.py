"""Sentence splitting that never cuts through an anchor and needs no download.

The paper split sentences with NLTK punkt, whose model is a download. Here
the default is spaCy's rule-based ``sentencizer`` on a blank English pipeline
(spaCy's English tokenizer, whose exceptions keep "Dr.", "U.S.", "Jan." in
one token), so nothing is fetched at run time; ``pysbd`` (pure Python, an
optional extra) is the other choice. A boundary that falls inside an anchor
is removed by merging the two sentences around it.
"""

from typing import List, Sequence, Tuple

from ..errors import NerbertError
from .wikitext import Anchor

__all__ = ["SPLITTERS", "split_sentences", "get_sentencizer_nlp", "merge_across_anchors"]

SPLITTERS = ("spacy", "pysbd")
_NLP = None
_PYSBD = None


def get_sentencizer_nlp():
    """The shared blank English pipeline with a ``sentencizer`` (built once per process).

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


def split_sentences(text: str, anchors: Sequence[Anchor], *, splitter: str = "spacy") -> List[Tuple[int, int]]:
    """Split a paragraph into sentences; no boundary ever falls inside an anchor.

    text (str): The paragraph text.
    anchors (Sequence[Anchor]): Its anchors (char spans into ``text``).
    splitter (str): ``"spacy"`` (rule-based sentencizer on spaCy's English
        tokenizer) or ``"pysbd"``.
    RETURNS (List[Tuple[int, int]]): ``(start, end)`` char offsets of the
        sentences, in order, without surrounding whitespace.
    """
    if splitter not in SPLITTERS:
        raise NerbertError(f"unknown sentence splitter '{splitter}' (choose one of: {', '.join(SPLITTERS)})")
    if not text.strip():
        return []
    spans: List[Tuple[int, int]] = []
    if splitter == "spacy":
        doc = get_sentencizer_nlp()(text)
        for sent in doc.sents:
            s, e = sent.start_char, sent.end_char
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            if e > s:
                spans.append((s, e))
    else:
        for span in _pysbd_segmenter().segment(text):
            s, e = span.start, span.end
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            if e > s:
                spans.append((s, e))
    return merge_across_anchors(spans, anchors)
