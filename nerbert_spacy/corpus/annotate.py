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

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span

from ..labels import ENTITY
from ..wikipedia.sentences import english_tokenizer

__all__ = [
    "ANCHORS_KEY",
    "AnnotateStats",
    "AnchorTyper",
    "Annotator",
    "Sentence",
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
        return self._remember(target, resolved, classes)

    def _remember(self, target: str, resolved: str, classes: Sequence[str]) -> Tuple[str, str, bool]:
        label = self.label_set.label_for(classes) if classes else ENTITY
        value = (label, resolved, bool(classes))
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[target] = value
        return value

    def prefetch(self, targets: Iterable[str]) -> None:
        """Look up many targets at once (a page's), when the index can (``resolve_many`` and
        ``classes_many``): the same answers as one by one, with a few queries instead of some per target.

        targets (Iterable[str]): Normalised target titles.
        """
        todo = {t for t in targets if t and t not in self._cache}
        if not todo or not hasattr(self.type_index, "resolve_many"):
            return
        if len(self._cache) + len(todo) > self.cache_size:
            self._cache.clear()
        resolved = self.type_index.resolve_many(todo)
        classes = self.type_index.classes_many({r for r in resolved.values() if r})
        for target in todo:
            r = resolved[target]
            self._remember(target, r, classes.get(r, []) if r else [])


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
        return [sentence.to_doc(title) for sentence in self.sentences(text, anchors, stats)]

    def add_to(
        self, doc_bin: Any, text: str, anchors: Sequence[Any], stats: AnnotateStats, *, title: Optional[str] = None
    ) -> int:
        """Annotate one paragraph straight into a DocBin: the same rows as adding the Docs of
        :meth:`__call__`, without making them.

        doc_bin (DocBin): Where the sentences go (``store_user_data=True`` keeps the title).
        text, anchors, stats, title: as for :meth:`__call__`.
        RETURNS (int): Sentences added.
        """
        sentences = self.sentences(text, anchors, stats)
        for sentence in sentences:
            sentence.add_to(doc_bin, title)
        return len(sentences)

    def sentences(self, text: str, anchors: Sequence[Any], stats: AnnotateStats) -> List["Sentence"]:
        """The sentences of a paragraph to keep (see :meth:`__call__`), with their spans."""
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
        out: List[Sentence] = []
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
            sentence = self._sentence(paragraph, sent_text, offset, inside, stats)
            if not sentence.ents:
                stats.sentences_without_entities += 1
                if not self.keep_empty:
                    continue
            out.append(sentence)
        missing = len(ordered) - used
        if missing:
            stats.outside_sentences += missing
            stats.unaligned += missing
        return out

    def _sentence(
        self, paragraph: Optional["_Paragraph"], sent_text: str, offset: int, anchors: Sequence[Any], stats: AnnotateStats
    ) -> "Sentence":
        tokens: Optional[_Tokens] = None
        if paragraph is not None and not self.expand_unaligned:
            tokens = paragraph.tokens(offset, offset + len(sent_text))
        if tokens is None:  # a boundary inside a chunk, another splitter, or expanding: a Doc of its own
            doc = paragraph.sentence_doc(offset, offset + len(sent_text)) if paragraph is not None else None
            tokens = _Tokens(doc if doc is not None else self.make_doc(sent_text))
        spans: List[Tuple[int, int, str, str]] = []
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
            span = tokens.align(start, end, "strict")
            if span is None:
                stats.unaligned += 1
                if not self.expand_unaligned:
                    continue
                span = tokens.align(start, end, "expand")
                if span is None:
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
            spans.append((span[0], span[1], label, kb_id))
        ents = _filter_spans(spans)
        stats.overlapping += len(spans) - len(ents)
        stats.categories.update(label for _, _, label, _ in ents)
        return Sentence(tokens, spans, ents)


def _filter_spans(spans: List[Tuple[int, int, str, str]]) -> List[Tuple[int, int, str, str]]:
    """``spacy.util.filter_spans`` on (start, end, label, kb_id) tuples: longest first, then
    earliest; a span touching a kept one is left out; the result in text order."""
    kept: List[Tuple[int, int, str, str]] = []
    seen: set = set()
    for span in sorted(spans, key=lambda s: (s[1] - s[0], -s[0]), reverse=True):
        if span[0] not in seen and span[1] - 1 not in seen:
            kept.append(span)
            seen.update(range(span[0], span[1]))
    return sorted(kept, key=lambda s: s[0])


class _Tokens:
    """The tokens of one sentence: ``doc[first:stop]``, where ``doc`` is the sentence's own Doc
    (``first`` 0) or its paragraph's Doc (the sentence starts at char ``offset`` there)."""

    def __init__(self, doc: Doc, first: int = 0, stop: Optional[int] = None, offset: int = 0, paragraph: Any = None) -> None:
        self.doc = doc
        self.first = first
        self.stop = len(doc) if stop is None else stop
        self.offset = offset
        self.paragraph = paragraph

    def align(self, start: int, end: int, mode: str) -> Optional[Tuple[int, int]]:
        """Token range (in the sentence) of the chars ``start:end`` (in the sentence), or None."""
        if self.paragraph is None:
            span = self.doc.char_span(start, end, alignment_mode=mode)
            return (span.start, span.end) if span is not None and len(span) else None
        paragraph, first, stop = self.paragraph, self.first, self.stop
        start += self.offset
        end += self.offset
        i = bisect_left(paragraph.starts, start, first, stop)  # the token starting at ``start``
        j = bisect_left(paragraph.ends, end, first, stop)  # the token ending at ``end``
        if i == stop or j == stop or paragraph.starts[i] != start or paragraph.ends[j] != end or i > j:
            return None
        return i - first, j + 1 - first

    def sentence_doc(self) -> Doc:
        if self.paragraph is None:
            return self.doc
        return self.paragraph.sentence_doc(self.offset, None, self.first, self.stop)


class Sentence:
    """One annotated sentence: its tokens, its aligned anchors and its entities, as
    ``(start token, end token, label, kb_id)``; a Doc (:meth:`to_doc`) or a DocBin row
    (:meth:`add_to`) on demand."""

    def __init__(self, tokens: _Tokens, spans: List[Tuple[int, int, str, str]], ents: List[Tuple[int, int, str, str]]) -> None:
        self.tokens = tokens
        self.spans = spans
        self.ents = ents

    def to_doc(self, title: Optional[str] = None) -> Doc:
        """RETURNS (Doc): The sentence with ``spans["anchors"]``, ``ents`` and ``user_data["title"]``."""
        doc = self.tokens.sentence_doc()
        spans = [Span(doc, s, e, label=label, kb_id=kb) for s, e, label, kb in self.spans]
        doc.spans[ANCHORS_KEY] = spans
        doc.set_ents([spans[self.spans.index(ent)] for ent in self.ents], default="outside")
        if title is not None:
            doc.user_data["title"] = title
        return doc

    def add_to(self, doc_bin: Any, title: Optional[str] = None) -> None:
        """Append the row ``DocBin.add(self.to_doc(title))`` would append (Docs from the paragraph's
        tokens are never made; a sentence with its own Doc goes through ``to_doc``)."""
        tokens = self.tokens
        if tokens.paragraph is None:
            from .shards import add_doc

            add_doc(doc_bin, self.to_doc(title))
            return
        tokens.paragraph.add_row(doc_bin, tokens, self.spans, self.ents, title)


class _Paragraph:
    """A tokenised paragraph that hands out its sentences' tokens without tokenising again.

    A sentence whose both ends sit on a space (or the paragraph's ends) is tokenised exactly
    as its tokens in the paragraph (spaCy splits on spaces first, then each chunk on its own),
    so its Doc can be made from those tokens: words, spaces (none after the last one) and the
    tokenizer's norms, or its DocBin row taken from the paragraph's token array. Any other
    sentence (a boundary inside a chunk, as in "end.Next") is tokenised on its own.
    """

    def __init__(self, text: str, doc: Doc) -> None:
        self.text = text
        self.doc = doc
        self._array: Any = None
        self._rows: Dict[Tuple[int, ...], Any] = {}

    def _arrays(self) -> None:
        from spacy.attrs import IDX, LENGTH, NORM, SPACY

        self._array = self.doc.to_array([IDX, LENGTH, NORM, SPACY])
        self.starts: List[int] = self._array[:, 0].tolist()
        self.lengths: List[int] = self._array[:, 1].tolist()
        self.spaces: List[bool] = self._array[:, 3].astype(bool).tolist()
        self.ends: List[int] = [s + n for s, n in zip(self.starts, self.lengths)]

    def _range(self, start: int, end: int) -> Optional[Tuple[int, int]]:
        text = self.text
        if (start > 0 and text[start - 1] != " ") or (end < len(text) and text[end] != " "):
            return None
        if self._array is None:
            self._arrays()
        starts, lengths = self.starts, self.lengths
        first, stop = bisect_left(starts, start), bisect_left(starts, end)
        if first >= stop or starts[first] != start or starts[stop - 1] + lengths[stop - 1] != end:
            return None
        return first, stop

    def tokens(self, start: int, end: int) -> Optional[_Tokens]:
        """The tokens of the sentence at chars ``start:end``, or None if it must be tokenised alone."""
        found = self._range(start, end)
        return None if found is None else _Tokens(self.doc, found[0], found[1], start, self)

    def sentence_doc(self, start: int, end: Optional[int], first: int = -1, stop: int = -1) -> Optional[Doc]:
        """A Doc of the sentence at chars ``start:end`` made from the paragraph's tokens (or of
        tokens ``first:stop`` when given), or None if it must be tokenised alone."""
        from spacy.attrs import NORM

        if first < 0:
            found = self._range(start, end)  # type: ignore[arg-type]
            if found is None:
                return None
            first, stop = found
        starts, text = self.starts, self.text
        words = [text[s : s + n] for s, n in zip(starts[first:stop], self.lengths[first:stop])]
        spaces = self.spaces[first:stop]
        spaces[-1] = False
        doc = Doc(self.doc.vocab, words=words, spaces=spaces)
        doc.from_array([NORM], self._array[first:stop, 2:3])
        return doc

    def add_row(
        self,
        doc_bin: Any,
        tokens: _Tokens,
        spans: List[Tuple[int, int, str, str]],
        ents: List[Tuple[int, int, str, str]],
        title: Optional[str],
    ) -> None:
        """Append to ``doc_bin`` the row of the sentence Doc with these spans and entities."""
        from .shards import add_row

        key = tuple(doc_bin.attrs)
        if key not in self._rows:
            self._rows[key] = self.doc.to_array(doc_bin.attrs)
        first, stop, offset = tokens.first, tokens.stop, tokens.offset
        char_starts = [s - offset for s in self.starts[first:stop]]
        char_ends = [s + n for s, n in zip(char_starts, self.lengths[first:stop])]
        spaces = self.spaces[first:stop]
        spaces[-1] = False
        add_row(
            doc_bin,
            self.doc.vocab.strings,
            self._rows[key][first:stop],
            spaces,
            char_starts,
            char_ends,
            {ANCHORS_KEY: spans},
            ents,
            {"title": title} if title is not None else {},
        )


def entity_labels(doc: Doc) -> List[str]:
    """The labels of ``doc.ents`` in order (what the filters look at)."""
    return [ent.label_ for ent in doc.ents]
