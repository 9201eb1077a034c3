"""Weak labelling of new text with DBpedia entity names, combinable with a tagger.

In the manner of skweak, each labelling source is an object with a ``name``
and ``find_spans(doc) -> List[Span]``; calling it writes ``doc.spans[name]``,
so sources can be listed, compared and combined:

- :class:`GazetteerSource` matches DBpedia entity names (titles of typed
  entities and their redirect titles) with a case-sensitive ``PhraseMatcher``
  over token sequences; the longest match wins; each name carries the label
  that the active label set gives the entity's DBpedia classes.
- :class:`ModelSource` takes the predictions a tagger already wrote into a
  span group (``doc.spans["bio_tagger"]`` with ``attrs["scores"]``).
- :func:`combine` picks the final non-overlapping spans for ``doc.ents`` by
  source priority or by majority vote.

The ``dbpedia_labeller`` component bundles a gazetteer and a model source;
place it after the ``bio_tagger`` so it sees its predictions. Its names are
loaded by ``initialize`` (a JSONL/TSV of names and labels, or a DBpedia types
file + ontology + label set) and saved with the pipeline. The names are built
apart from the component, in :mod:`nerbert_spacy.corpus.gazetteer`; here they
are only matched.
"""
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import srsly
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans
from spacy.vocab import Vocab

from ..corpus.gazetteer import PRIORITY_TITLE, gazetteer_from_dbpedia, read_gazetteer_file, write_gazetteer_file
from ..errors import NerbertError


class LabelSource:
    """A labelling source: ``find_spans(doc)`` proposes spans; calling it stores them in ``doc.spans[name]``."""

    name: str = "source"

    def find_spans(self, doc: Doc) -> List[Span]:  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, doc: Doc) -> Doc:
        doc.spans[self.name] = self.find_spans(doc)
        return doc


class GazetteerSource(LabelSource):
    """Exact, case-sensitive (by default) matching of entity names over tokens.

    name (str): Span group written by ``__call__``.
    tokenizer (Callable[[str], Doc]): The pipeline's tokenizer (``nlp.tokenizer``;
        its ``pipe`` is used when it has one): names are matched as token
        sequences, so they must be tokenised like the text.
    entries (Iterable[Tuple]): ``(name, label)`` or ``(name, label, priority)``.
    case_sensitive (bool): Match ``ORTH`` (True) or ``LOWER``.
    min_chars (int): Ignore names shorter than this.
    skip_stopwords (bool): Ignore one-token names that are stop words ("The", "It").
    """

    def __init__(
        self,
        name: str,
        tokenizer: Callable[[str], Doc],
        entries: Iterable[Tuple] = (),
        *,
        case_sensitive: bool = True,
        min_chars: int = 2,
        skip_stopwords: bool = True,
        stop_words: Optional[Iterable[str]] = None,
    ) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.case_sensitive = case_sensitive
        self.min_chars = min_chars
        self.skip_stopwords = skip_stopwords
        self.stop_words = {w.lower() for w in (stop_words or [])}
        self._entries: Dict[str, Tuple[int, str]] = {}
        self.stats: Counter = Counter()
        self._matcher: Optional[PhraseMatcher] = None
        self.add(entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def labels(self) -> List[str]:
        return sorted({label for _, label in self._entries.values()})

    def entries(self) -> List[Tuple[str, str, int]]:
        """``(name, label, priority)`` for every name, sorted by name."""
        return [(n, lab, p) for n, (p, lab) in sorted(self._entries.items())]

    def add(self, entries: Iterable[Tuple]) -> None:
        """Add names. A name seen again keeps the label of its lowest priority
        (title before redirect before bare title); on a tie the first label stays
        and the conflict is counted in ``stats["conflicts"]``."""
        for entry in entries:
            name, label = str(entry[0]).strip(), str(entry[1]).strip()
            prio = int(entry[2]) if len(entry) > 2 else PRIORITY_TITLE
            if not name or not label:
                self.stats["skipped_empty"] += 1
                continue
            if len(name) < self.min_chars:
                self.stats["skipped_short"] += 1
                continue
            if self.skip_stopwords and " " not in name and name.lower() in self.stop_words:
                self.stats["skipped_stopword"] += 1
                continue
            old = self._entries.get(name)
            if old is None or prio < old[0]:
                self._entries[name] = (prio, label)
            elif prio == old[0] and label != old[1]:
                self.stats["conflicts"] += 1
        self._matcher = None

    def _build(self, vocab: Vocab) -> PhraseMatcher:
        matcher = PhraseMatcher(vocab, attr="ORTH" if self.case_sensitive else "LOWER")
        by_label: Dict[str, List[str]] = defaultdict(list)
        for n, (_, lab) in sorted(self._entries.items()):
            by_label[lab].append(n)
        for lab, names in sorted(by_label.items()):
            if hasattr(self.tokenizer, "pipe"):
                patterns = list(self.tokenizer.pipe(names))
            else:
                patterns = [self.tokenizer(n) for n in names]
            matcher.add(lab, patterns)
        return matcher

    def find_spans(self, doc: Doc) -> List[Span]:
        if self._matcher is None or self._matcher.vocab is not doc.vocab:
            self._matcher = self._build(doc.vocab)
        spans = self._matcher(doc, as_spans=True)
        return sorted(filter_spans(spans), key=lambda s: s.start)

    def to_bytes(self) -> bytes:
        return srsly.msgpack_dumps({"entries": self.entries(), "stats": dict(self.stats)})

    def from_bytes(self, data: bytes) -> "GazetteerSource":
        msg = srsly.msgpack_loads(data)
        self._entries = {n: (int(p), lab) for n, lab, p in msg["entries"]}
        self.stats = Counter(msg.get("stats", {}))
        self._matcher = None
        return self


class ModelSource(LabelSource):
    """Predictions a tagger already put in ``doc.spans[spans_key]`` (with ``attrs["scores"]``).

    name (str): Span group written by ``__call__`` (nothing is written when it
        equals ``spans_key``, so the tagger's group and its scores stay intact).
    spans_key (str): Where the tagger's predictions are.
    min_score (float): Drop predictions whose score is below this.
    """

    def __init__(self, name: str = "bio_tagger", spans_key: str = "bio_tagger", min_score: float = 0.0) -> None:
        self.name = name
        self.spans_key = spans_key
        self.min_score = min_score

    def find_spans(self, doc: Doc) -> List[Span]:
        if self.spans_key not in doc.spans:
            return []
        group = doc.spans[self.spans_key]
        scores = group.attrs.get("scores")
        if scores is None or len(scores) != len(group):
            return list(group)
        return [s for s, sc in zip(group, scores) if float(sc) >= self.min_score]

    def __call__(self, doc: Doc) -> Doc:
        if self.name != self.spans_key:
            doc.spans[self.name] = self.find_spans(doc)
        return doc


STRATEGIES = ("priority", "majority")


def combine(candidates: Sequence[Tuple[str, Sequence[Span]]], strategy: str = "priority") -> List[Span]:
    """Choose non-overlapping spans from several sources.

    candidates (Sequence[Tuple[str, Sequence[Span]]]): ``(source name, spans)``
        in priority order (first = most trusted).
    strategy (str): ``"priority"``: a source's spans are taken (longest first)
        where no more trusted source already has one. ``"majority"``: spans
        proposed by more sources (same tokens and label) first, ties by priority,
        then length, then position.
    RETURNS (List[Span]): The chosen spans, sorted by position.
    """
    if strategy not in STRATEGIES:
        raise NerbertError(f"unknown combination strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    votes: Counter = Counter()
    first: Dict[Tuple[int, int, str], Tuple[int, Span]] = {}
    for rank, (_, spans) in enumerate(candidates):
        for s in {(s.start, s.end, s.label_): s for s in spans}.values():
            k = (s.start, s.end, s.label_)
            votes[k] += 1
            first.setdefault(k, (rank, s))
    if strategy == "priority":
        order = sorted(first, key=lambda k: (first[k][0], -(k[1] - k[0]), k[0], k[2]))
    else:
        order = sorted(first, key=lambda k: (-votes[k], first[k][0], -(k[1] - k[0]), k[0], k[2]))
    taken = [False] * (max((k[1] for k in first), default=0))
    chosen = []
    for k in order:
        if any(taken[k[0] : k[1]]):
            continue
        for i in range(k[0], k[1]):
            taken[i] = True
        chosen.append(first[k][1])
    return sorted(chosen, key=lambda s: s.start)


# --------------------------------------------------------------------------- the component

DEFAULT_PRIORITY = ["bio_tagger", "dbpedia_gazetteer"]


@Language.factory(
    "dbpedia_labeller",
    default_config={
        "priority": DEFAULT_PRIORITY,
        "strategy": "priority",
        "model_spans_key": "bio_tagger",
        "min_model_score": 0.0,
        "case_sensitive": True,
        "min_chars": 2,
        "skip_stopwords": True,
        "overwrite_ents": True,
    },
    assigns=["doc.ents", "doc.spans"],
    default_score_weights={"ents_f": None, "ents_p": None, "ents_r": None},
)
def make_dbpedia_labeller(
    nlp: Language,
    name: str,
    priority: List[str],
    strategy: str,
    model_spans_key: str,
    min_model_score: float,
    case_sensitive: bool,
    min_chars: int,
    skip_stopwords: bool,
    overwrite_ents: bool,
) -> "DbpediaLabeller":
    """Create a ``dbpedia_labeller``: gazetteer of DBpedia names + the tagger's predictions.

    priority (List[str]): Source names, most trusted first: ``"dbpedia_gazetteer"``
        and the tagger's span group (``model_spans_key``).
    strategy (str): ``"priority"`` or ``"majority"`` (see :func:`combine`).
    model_spans_key (str): Span group holding the tagger's predictions.
    min_model_score (float): Ignore predictions scored below this.
    case_sensitive (bool): Match names case-sensitively.
    min_chars (int): Ignore shorter names.
    skip_stopwords (bool): Ignore one-word names that are stop words.
    overwrite_ents (bool): Replace ``doc.ents`` (True) or only add where nothing is.
    """
    return DbpediaLabeller(
        nlp,
        name,
        priority=priority,
        strategy=strategy,
        model_spans_key=model_spans_key,
        min_model_score=min_model_score,
        case_sensitive=case_sensitive,
        min_chars=min_chars,
        skip_stopwords=skip_stopwords,
        overwrite_ents=overwrite_ents,
    )


class DbpediaLabeller:
    """Weak labels for new text: writes each source's spans to ``doc.spans[source]``,
    the combination to ``doc.spans[name]`` and ``doc.ents``."""

    def __init__(
        self,
        nlp: Language,
        name: str = "dbpedia_labeller",
        *,
        priority: Sequence[str] = tuple(DEFAULT_PRIORITY),
        strategy: str = "priority",
        model_spans_key: str = "bio_tagger",
        min_model_score: float = 0.0,
        case_sensitive: bool = True,
        min_chars: int = 2,
        skip_stopwords: bool = True,
        overwrite_ents: bool = True,
    ) -> None:
        if strategy not in STRATEGIES:
            raise NerbertError(f"unknown combination strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
        self.name = name
        self.vocab = nlp.vocab
        self.gazetteer = GazetteerSource(
            "dbpedia_gazetteer",
            nlp.tokenizer,
            case_sensitive=case_sensitive,
            min_chars=min_chars,
            skip_stopwords=skip_stopwords,
            stop_words=getattr(nlp.Defaults, "stop_words", set()),
        )
        self.model = ModelSource(model_spans_key, model_spans_key, min_model_score)
        sources = {self.gazetteer.name: self.gazetteer, self.model.name: self.model}
        unknown = [p for p in priority if p not in sources]
        if unknown:
            raise NerbertError(f"unknown labelling source(s) {unknown} in priority; known: {sorted(sources)}")
        self.sources: List[LabelSource] = [sources[p] for p in priority]
        self.strategy = strategy
        self.overwrite_ents = overwrite_ents
        self.cfg: Dict[str, Any] = {"priority": list(priority), "strategy": strategy}

    @property
    def labels(self) -> List[str]:
        return self.gazetteer.labels

    def __call__(self, doc: Doc) -> Doc:
        candidates = []
        for source in self.sources:
            spans = source.find_spans(doc)
            if source is not self.model:
                doc.spans[source.name] = spans
            candidates.append((source.name, spans))
        chosen = combine(candidates, self.strategy)
        doc.spans[self.name] = chosen
        if self.overwrite_ents:
            doc.set_ents(chosen, default="outside")
        else:
            kept = list(doc.ents)
            taken = {i for e in kept for i in range(e.start, e.end)}
            extra = [s for s in chosen if not taken.intersection(range(s.start, s.end))]
            doc.set_ents(sorted(kept + extra, key=lambda s: s.start), default="unmodified")
        return doc

    def pipe(self, stream: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        for doc in stream:
            yield self(doc)

    def add_entries(self, entries: Iterable[Tuple]) -> None:
        """Add ``(name, label[, priority])`` gazetteer entries."""
        self.gazetteer.add(entries)

    def initialize(
        self,
        get_examples: Optional[Callable] = None,
        *,
        nlp: Optional[Language] = None,
        gazetteer: Optional[Union[str, Path]] = None,
        types: Optional[Union[str, Path]] = None,
        ontology: Optional[Union[str, Path]] = None,
        label_set: str = "315",
        redirects: Optional[Union[str, Path]] = None,
    ) -> None:
        """Load the names: from ``gazetteer`` (JSONL/TSV of names and labels), and/or
        from DBpedia ``types`` (instance-types file or built type index) typed through
        ``ontology`` and ``label_set``, with optional extra ``redirects`` (see
        :func:`gazetteer_from_dbpedia`).
        Settable in ``[initialize.components.<name>]``; may also be called directly
        on the component of a trained pipeline (it touches nothing else)."""
        if gazetteer is not None:
            self.gazetteer.add(read_gazetteer_file(gazetteer))
        if types is not None:
            if ontology is None:
                raise NerbertError("typing DBpedia entities needs the ontology file as well", types)
            self.gazetteer.add(gazetteer_from_dbpedia(types, ontology, label_set, redirects=redirects))
        elif redirects is not None:
            raise NerbertError("redirects need DBpedia types to type their targets", redirects)

    # serialisation -------------------------------------------------------------------------

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        return srsly.msgpack_dumps({"cfg": self.cfg, "gazetteer": self.gazetteer.to_bytes()})

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = tuple()) -> "DbpediaLabeller":
        msg = srsly.msgpack_loads(data)
        self.gazetteer.from_bytes(msg["gazetteer"])
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / "cfg", self.cfg)
        write_gazetteer_file(self.gazetteer.entries(), path / "gazetteer.jsonl")

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "DbpediaLabeller":
        path = Path(path)
        self.gazetteer._entries = {}
        self.gazetteer.add(read_gazetteer_file(path / "gazetteer.jsonl"))
        return self
