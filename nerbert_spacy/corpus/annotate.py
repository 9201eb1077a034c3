"""Paragraph text + typed anchors -> one spaCy ``Doc`` per sentence (paper §2.2).

Each anchor (a Wikipedia link with its character span in the plain text and
its normalised target title) becomes an entity when its span aligns with
spaCy's English tokenization: its label is the most specific class of the
(redirect-resolved) target in the active label set, else ENTITY
(:meth:`LabelSet.label_for`), its ``kb_id_`` is the target title.

What goes into each Doc:

- ``doc.spans["anchors"]``: every aligned anchor (the weak-label source,
  DESIGN.md), labelled, ``kb_id_`` = target;
- ``doc.ents``: the final, non-overlapping choice (tokens outside entities are
  "O", not missing);
- ``doc.user_data["title"]``: the page title, when given.

An anchor whose span does not fall on token boundaries is never silently
dropped: it is counted in :class:`AnnotateStats` (``unaligned``); with
``expand_unaligned=True`` it is widened to the covering tokens instead and
counted in ``expanded`` too.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from ..labels import ENTITY
from ..wikipedia.sentences import english_tokenizer

__all__ = [
    "ANCHORS_KEY",
    "AnnotateStats",
    "AnchorTyper",
    "Annotator",
    "default_splitter",
    "english_tokenizer",
    "entity_labels",
]

ANCHORS_KEY = "anchors"


@dataclass
class AnnotateStats:
    """Counters filled while annotating (all JSON-able via :meth:`to_dict`).

    paragraphs: paragraphs seen; sentences: sentences produced (with or without entities);
    sentences_without_entities: sentences with no aligned anchor (not returned by default);
    anchors: anchors seen; empty_anchors: anchors with no visible text (skipped);
    aligned: anchors that became a span (strict or expanded); unaligned: anchors whose span does
    not align with token boundaries; expanded: unaligned anchors kept by widening them;
    outside_sentences: anchors not inside any sentence (counted as unaligned too);
    overlapping: aligned anchors left out of ``doc.ents`` because they overlap another one;
    typed: aligned anchors whose target has at least one DBpedia class; untyped: the others;
    labelled: aligned anchors with a label other than ENTITY; entity: anchors labelled ENTITY;
    categories: entity counts per label in ``doc.ents``.
    """

    paragraphs: int = 0
    sentences: int = 0
    sentences_without_entities: int = 0
    anchors: int = 0
    empty_anchors: int = 0
    aligned: int = 0
    unaligned: int = 0
    expanded: int = 0
    outside_sentences: int = 0
    overlapping: int = 0
    typed: int = 0
    untyped: int = 0
    labelled: int = 0
    entity: int = 0
    categories: Counter = field(default_factory=Counter)

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {k: v for k, v in self.__dict__.items() if k != "categories"}
        out["categories"] = dict(sorted(self.categories.items()))
        return out


class AnchorTyper:
    """Maps an anchor target to (label, resolved title, has-classes), cached.

    type_index (TypeIndex): Anything with ``resolve(title)`` and ``classes(title)``.
    label_set (LabelSet): Anything with ``label_for(classes)``.
    cache_size (int): Targets remembered (the most linked targets repeat a lot).
    """

    def __init__(self, type_index: Any, label_set: Any, cache_size: int = 200_000) -> None:
        self.type_index = type_index
        self.label_set = label_set
        self.cache_size = cache_size
        self._cache: Dict[str, Tuple[str, str, bool]] = {}

    def __call__(self, target: str) -> Tuple[str, str, bool]:
        """target (str): Normalised target title. RETURNS (Tuple[str, str, bool]): label,
        redirect-resolved title, whether DBpedia knows a class for it."""
        hit = self._cache.get(target)
        if hit is not None:
            return hit
        resolved = self.type_index.resolve(target) if target else target
        classes = list(self.type_index.classes(resolved)) if resolved else []
        label = self.label_set.label_for(classes) if classes else ENTITY
        value = (label, resolved, bool(classes))
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[target] = value
        return value


SentenceSplitter = Callable[..., List[Tuple[int, int]]]


def default_splitter(splitter: str = "spacy") -> SentenceSplitter:
    """The sentence splitter of the Wikipedia layer (``split_sentences``) with a fixed method.

    RETURNS (SentenceSplitter): ``split(text, anchors, doc=None)``; its ``takes_doc`` attribute
        tells :class:`Annotator` to pass the paragraph's Doc, so the text is tokenised once.
    """
    from ..wikipedia.sentences import split_sentences

    def split(text: str, anchors: Sequence[Any], doc: Optional[Doc] = None) -> List[Tuple[int, int]]:
        return split_sentences(text, anchors, splitter=splitter, doc=doc)

    split.takes_doc = splitter == "spacy"  # type: ignore[attr-defined]
    return split


class Annotator:
    """Turns paragraphs with anchors into sentence Docs with typed entities.

    make_doc (Callable[[str], Doc]): The tokenizer, e.g. :func:`english_tokenizer` or ``spacy.blank("en").make_doc``.
    typer (Callable[[str], Tuple[str, str, bool]]): Target -> (label, kb id, typed), e.g. :class:`AnchorTyper`.
    split (SentenceSplitter): Text + anchors -> sentence (start, end) offsets; with a true
        ``takes_doc`` attribute it is also given the paragraph's Doc (``doc=``).
    expand_unaligned (bool): Widen unaligned anchors to the covering tokens instead of leaving them out.
    keep_empty (bool): Also return sentences without any entity (they are always counted).
    """

    def __init__(
        self,
        make_doc: Callable[[str], Doc],
        typer: Callable[[str], Tuple[str, str, bool]],
        split: SentenceSplitter,
        *,
        expand_unaligned: bool = False,
        keep_empty: bool = False,
    ) -> None:
        self.make_doc = make_doc
        self.typer = typer
        self.split = split
        self.expand_unaligned = expand_unaligned
        self.keep_empty = keep_empty
        self.split_takes_doc = bool(getattr(split, "takes_doc", False))

    def __call__(
        self, text: str, anchors: Sequence[Any], stats: AnnotateStats, *, title: Optional[str] = None
    ) -> List[Doc]:
        """Annotate one paragraph.

        text (str): The paragraph's plain text.
        anchors (Sequence[Anchor]): Anchors with ``start``, ``end`` (char offsets into text) and ``target``.
        stats (AnnotateStats): Counters to update.
        title (Optional[str]): Page title, stored in ``doc.user_data["title"]``.
        RETURNS (List[Doc]): One Doc per sentence (only those with entities unless keep_empty).
        """
        stats.paragraphs += 1
        stats.anchors += len(anchors)
        if not text.strip():
            stats.outside_sentences += len(anchors)
            stats.unaligned += len(anchors)
            return []
        ordered = sorted(anchors, key=lambda a: (a.start, a.end))
        paragraph: Optional[_Paragraph] = None
        if self.split_takes_doc:
            paragraph = _Paragraph(text, self.make_doc(text))
            bounds = self.split(text, ordered, doc=paragraph.doc)
        else:
            bounds = self.split(text, ordered)
        docs: List[Doc] = []
        used = 0
        i = 0
        for s_start, s_end in bounds:
            # strip surrounding whitespace; anchors are relative to the stripped sentence
            raw = text[s_start:s_end]
            lead = len(raw) - len(raw.lstrip())
            sent_text = raw.strip()
            if not sent_text:
                continue
            offset = s_start + lead
            # anchors that start before this sentence fell between sentences
            while i < len(ordered) and ordered[i].start < s_start:
                i += 1
            inside = []
            while i < len(ordered) and ordered[i].end <= s_end:
                inside.append(ordered[i])
                i += 1
            used += len(inside)
            stats.sentences += 1
            if not inside and not self.keep_empty:  # no anchor, no entity: counted, no Doc made
                stats.sentences_without_entities += 1
                continue
            doc = paragraph.sentence(offset, offset + len(sent_text)) if paragraph is not None else None
            doc = self._make_sentence(doc or self.make_doc(sent_text), sent_text, offset, inside, stats)
            if not doc.ents:
                stats.sentences_without_entities += 1
                if not self.keep_empty:
                    continue
            if title is not None:
                doc.user_data["title"] = title
            docs.append(doc)
        missing = len(ordered) - used
        if missing:
            stats.outside_sentences += missing
            stats.unaligned += missing
        return docs

    def _make_sentence(
        self, doc: Doc, sent_text: str, offset: int, anchors: Sequence[Any], stats: AnnotateStats
    ) -> Doc:
        spans: List[Span] = []
        for anchor in anchors:
            start, end = anchor.start - offset, anchor.end - offset
            piece = sent_text[max(start, 0) : max(end, 0)]
            if not piece.strip():
                stats.empty_anchors += 1
                continue
            # trim whitespace inside the anchor span itself ("[[ Foo ]]")
            start += len(piece) - len(piece.lstrip())
            end -= len(piece) - len(piece.rstrip())
            label, kb_id, typed = self.typer(anchor.target)
            span = doc.char_span(start, end, label=label, kb_id=kb_id, alignment_mode="strict")
            if span is None:
                stats.unaligned += 1
                if not self.expand_unaligned:
                    continue
                span = doc.char_span(start, end, label=label, kb_id=kb_id, alignment_mode="expand")
                if span is None or len(span) == 0:
                    continue
                stats.expanded += 1
            stats.aligned += 1
            if typed:
                stats.typed += 1
            else:
                stats.untyped += 1
            if label == ENTITY:
                stats.entity += 1
            else:
                stats.labelled += 1
            spans.append(span)
        doc.spans[ANCHORS_KEY] = spans
        ents = filter_spans(spans)
        stats.overlapping += len(spans) - len(ents)
        doc.set_ents(ents, default="outside")
        stats.categories.update(ent.label_ for ent in doc.ents)
        return doc


class _Paragraph:
    """A tokenised paragraph that hands out sentence Docs without tokenising again.

    A sentence whose both ends sit on a space (or the paragraph's ends) is tokenised exactly
    as its tokens in the paragraph (spaCy splits on spaces first, then each chunk on its own),
    so its Doc is made from those tokens: words, spaces (none after the last one) and the
    tokenizer's norms. Any other sentence (a boundary inside a chunk, as in "end.Next")
    gets None and is tokenised on its own.
    """

    def __init__(self, text: str, doc: Doc) -> None:
        self.text = text
        self.doc = doc
        self._array: Any = None

    def sentence(self, start: int, end: int) -> Optional[Doc]:
        """start, end (int): Char offsets of the sentence. RETURNS (Optional[Doc]): Its Doc, or None."""
        from bisect import bisect_left

        from spacy.attrs import IDX, LENGTH, NORM, SPACY

        text = self.text
        if (start > 0 and text[start - 1] != " ") or (end < len(text) and text[end] != " "):
            return None
        if self._array is None:
            self._array = self.doc.to_array([IDX, LENGTH, NORM, SPACY])
            self._starts = self._array[:, 0].tolist()
            self._lengths = self._array[:, 1].tolist()
            self._spaces = self._array[:, 3].astype(bool).tolist()
        starts, lengths = self._starts, self._lengths
        first, stop = bisect_left(starts, start), bisect_left(starts, end)
        if first >= stop or starts[first] != start or starts[stop - 1] + lengths[stop - 1] != end:
            return None
        words = [text[s : s + n] for s, n in zip(starts[first:stop], lengths[first:stop])]
        spaces = self._spaces[first:stop]
        spaces[-1] = False
        doc = Doc(self.doc.vocab, words=words, spaces=spaces)
        doc.from_array([NORM], self._array[first:stop, 2:3])
        return doc


def entity_labels(doc: Doc) -> List[str]:
    """The labels of ``doc.ents`` in order (what the filters look at)."""
    return [ent.label_ for ent in doc.ents]
