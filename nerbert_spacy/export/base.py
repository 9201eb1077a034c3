"""Shared pieces of the annotation-tool exporters and importers.

Exporters turn ``Doc`` objects into character spans (``ExportSpan``) with an
optional confidence and their provenance (which labelling sources proposed
them: the model, Wikipedia anchors typed by a DBpedia class or left ENTITY,
the gazetteer), and can order the tasks by how unsure the model is
(:func:`order_docs`); importers turn character spans back into ``Doc`` objects
through :func:`build_doc`, which never drops a span silently: every span that
could not be placed, had to be moved, or overlaps another is recorded in an
:class:`ImportReport` with the file, the record number and what happened.
"""
import contextlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans
from spacy.vocab import Vocab

from ..docio import iter_jsonl  # noqa: F401  (the format modules read JSONL through it)
from ..errors import NerbertError
from ..util import atomic_path

#: Where a file is read or written.
PathLike = Union[str, Path]
#: What the importers accept as tokenizer source (see :func:`get_nlp`).
NlpSource = Union[Language, Vocab, str, None]
#: Span group written by the BIO tagger, whose ``attrs["scores"]`` holds one
#: confidence per span; exporters read scores from it.
SCORES_KEY = "bio_tagger"
#: Span group that importers fill with every span involved in an overlap.
OVERLAPS_KEY = "import_overlaps"
#: Span groups that hold a labelling source, and the kind of source: Wikipedia
#: anchors (``corpus/annotate.py``), the DBpedia gazetteer and the model
#: (``pipeline/weak_labeller.py``, ``bio_tagger``). Any other group with
#: ``attrs["scores"]`` counts as a model too.
PROVENANCE_GROUPS = {"anchors": "anchor", "dbpedia_gazetteer": "gazetteer", SCORES_KEY: "model"}
#: Task orders of the exporters that write a task score: as in the input, or
#: least confident first (:func:`uncertainty_score`).
ORDERS = ("file", "uncertainty")

# Kinds of report entries.
MISALIGNED = "misaligned"  # span edges are not token edges: skipped
SNAPPED = "snapped"  # span edges moved outwards to token edges (snap=True)
OVERLAP = "overlap"  # span overlaps another: kept in doc.spans[OVERLAPS_KEY], not in doc.ents
INVALID = "invalid"  # empty or malformed span, or a field of the wrong type
OUT_OF_RANGE = "out_of_range"  # span offsets past the end of the text: skipped
TEXT_MISMATCH = "text_mismatch"  # the span's own text differs from the document text: skipped
UTF16 = "utf16_offsets"  # offsets were UTF-16 code units; converted to code points
TRIMMED = "trimmed"  # leading/trailing whitespace removed from the span
DUPLICATE = "duplicate"  # the same span and label twice in one record: kept once
DISCONTINUOUS = "discontinuous"  # BRAT fragments: merged (whitespace gaps) or skipped
REJECTED = "rejected"  # Prodigy answer "reject": record skipped
IGNORED = "ignored"  # Prodigy answer "ignore": record skipped
CANCELLED = "cancelled"  # Label Studio annotation cancelled (was_cancelled)
NO_ANNOTATION = "no_annotation"  # no usable annotation in the record
FROM_PREDICTIONS = "from_predictions"  # Label Studio predictions taken as annotation
TOKENS_MISMATCH = "tokens_mismatch"  # given tokens do not reproduce the text: retokenised
IOB_REPAIRED = "iob_repaired"  # CoNLL I- tag without a B-: read as the start of a span
UNSUPPORTED = "unsupported"  # record part not representable here (relations, ...)
NON_ENTS = "not_in_ents"  # CoNLL export: overlapping span left out of the BIO tags
SKIPPED_FILE = "skipped_file"  # BRAT: a file that is not part of a .txt/.ann pair (an .ann without .txt, ...)
LABEL_IDS = "label_ids"  # Doccano: numeric label ids without a name in the label mapping: kept as strings
MULTIPLE_ANNOTATORS = "multiple_annotators"  # Doccano 1.0: annotations of several users merged in one doc
CONFLICT = "conflict"  # Prodigy db-out: same _input_hash, different spans (two annotators)
MERGED_DUPLICATE = "merged_duplicate"  # Prodigy db-out: same _input_hash and spans as an earlier record


@dataclass
class Issue:
    """One thing that happened to one record of an imported file."""

    file: str
    record: int
    kind: str
    message: str

    def __str__(self) -> str:
        where = f" (record {self.record})" if self.record else ""
        return f"{self.file}{where}: {self.kind}: {self.message}"


@dataclass
class ImportReport:
    """What an importer read and everything it had to change or leave out.

    records (int): Records (lines, tasks, files, blank-line blocks) read.
    docs (int): Docs produced.
    spans (int): Spans placed on the docs (doc.ents plus overlap-only spans).
    issues (List[Issue]): One entry per span or record that was not taken as is.
    """

    records: int = 0
    docs: int = 0
    spans: int = 0
    issues: List[Issue] = field(default_factory=list)

    def add(self, file: Union[str, Path], record: int, kind: str, message: str) -> None:
        self.issues.append(Issue(str(file), record, kind, message))

    @property
    def counts(self) -> Dict[str, int]:
        return dict(sorted(Counter(i.kind for i in self.issues).items()))

    def merge(self, other: "ImportReport") -> "ImportReport":
        self.records += other.records
        self.docs += other.docs
        self.spans += other.spans
        self.issues.extend(other.issues)
        return self

    def summary(self) -> str:
        """One line: records, docs, spans and the count of each issue kind."""
        line = f"{self.records} records -> {self.docs} docs, {self.spans} spans"
        if self.issues:
            line += "; " + ", ".join(f"{k}: {v}" for k, v in self.counts.items())
        else:
            line += "; no issues"
        return line

    def to_dict(self) -> Dict[str, Any]:
        return {
            "records": self.records,
            "docs": self.docs,
            "spans": self.spans,
            "counts": self.counts,
            "issues": [vars(i) for i in self.issues],
        }


#: What every importer's ``read`` returns: the docs and what happened.
ReadResult = Tuple[List[Doc], ImportReport]


@dataclass
class ExportSpan:
    """A span as the exporters see it: character and token offsets, label, score."""

    start: int
    end: int
    token_start: int
    token_end: int  # exclusive
    label: str
    text: str
    score: Optional[float] = None
    kb_id: str = ""
    provenance: List[Dict[str, Any]] = field(default_factory=list)


@dataclass
class CharSpan:
    """A span as an importer read it, before it is placed on a Doc."""

    start: int
    end: int
    label: str
    text: Optional[str] = None  # the tool's copy of the span text, checked if given
    kb_id: str = ""
    token_start: Optional[int] = None  # Prodigy: inclusive token indices
    token_end: Optional[int] = None
    provenance: List[Dict[str, Any]] = field(default_factory=list)  # see :func:`span_provenance`


@dataclass
class RecordInput:
    """One parsed record of an imported file, ready for :func:`build_doc`."""

    text: str
    spans: List[CharSpan]
    user_data: Optional[Dict[str, Any]] = None
    words: Optional[List[str]] = None  # the tool's tokens, if any
    spaces: Optional[List[bool]] = None
    file: Optional[PathLike] = None  # report under this file instead of the one read (BRAT: the .ann)


# --------------------------------------------------------------------------- export side


def _score_lookup(doc: Doc, key: str) -> Dict[Tuple[int, int, str], float]:
    if key not in doc.spans:
        return {}
    group = doc.spans[key]
    scores = group.attrs.get("scores")
    if scores is None or len(scores) != len(group):
        return {}
    return {(s.start, s.end, s.label_): float(sc) for s, sc in zip(group, scores)}


def _source_groups(doc: Doc) -> List[Tuple[str, str]]:
    """``(group, kind)`` of the span groups of ``doc`` that hold a labelling source."""
    found = []
    for key in sorted(doc.spans):
        kind = PROVENANCE_GROUPS.get(key)
        if kind is None and doc.spans[key].attrs.get("scores") is not None:
            kind = "model"
        if kind is not None:
            found.append((key, kind))
    return found


def span_provenance(doc: Doc, start: int, end: int, model: Optional[str] = None) -> List[Dict[str, Any]]:
    """Which labelling sources proposed a span with these tokens, one entry per source.

    Each entry has ``source`` (``"model"``, ``"anchor"`` or ``"gazetteer"``),
    ``group`` (the ``doc.spans`` key it came from) and that source's ``label``;
    an anchor also has ``typed_by`` (``"dbpedia_class"``, or ``"ENTITY"`` for
    a target with no class in the label set) and its ``kb_id`` (the target
    title); a model entry its ``score`` and ``model`` name when known (the
    ``model`` argument, else the group's ``attrs["model"]``).

    doc (Doc): The document.
    start (int): First token.
    end (int): Token after the last.
    model (Optional[str]): Name of the pipeline that made the model's spans.
    RETURNS (List[Dict[str, Any]]): The entries, by group name.
    """
    from ..labels import ENTITY

    out: List[Dict[str, Any]] = []
    for key, kind in _source_groups(doc):
        group = doc.spans[key]
        scores = group.attrs.get("scores")
        for i, span in enumerate(group):
            if span.start != start or span.end != end:
                continue
            entry: Dict[str, Any] = {"source": kind, "group": key, "label": span.label_}
            if kind == "anchor":
                entry["typed_by"] = ENTITY if span.label_ == ENTITY else "dbpedia_class"
            if span.kb_id_:
                entry["kb_id"] = span.kb_id_
            if kind == "model":
                if scores is not None and len(scores) == len(group):
                    entry["score"] = round(float(scores[i]), 6)
                name = model or group.attrs.get("model")
                if name:
                    entry["model"] = str(name)
            out.append(entry)
    return out


def export_spans(
    doc: Doc, spans_key: Optional[str] = None, scores_key: str = SCORES_KEY, model: Optional[str] = None
) -> List[ExportSpan]:
    """The spans of ``doc`` to export, sorted by position, with confidences and provenance.

    doc (Doc): The document.
    spans_key (Optional[str]): Export ``doc.spans[spans_key]`` (may overlap);
        None exports ``doc.ents``. A missing group exports nothing.
    scores_key (str): Span group whose ``attrs["scores"]`` gives confidences
        (matched by token offsets and label); the exported group's own scores win.
    model (Optional[str]): Name of the pipeline that made the model's spans
        (for the provenance, see :func:`span_provenance`).
    RETURNS (List[ExportSpan]): The spans.
    """
    if spans_key is None:
        spans: Sequence[Span] = list(doc.ents)
        own: Dict[Tuple[int, int, str], float] = {}
    else:
        spans = list(doc.spans[spans_key]) if spans_key in doc.spans else []
        own = _score_lookup(doc, spans_key)
    other = _score_lookup(doc, scores_key)
    out = []
    for s in spans:
        k = (s.start, s.end, s.label_)
        score = own.get(k, other.get(k))
        out.append(
            ExportSpan(
                start=s.start_char,
                end=s.end_char,
                token_start=s.start,
                token_end=s.end,
                label=s.label_,
                text=s.text,
                score=score,
                kb_id=s.kb_id_,
                provenance=span_provenance(doc, s.start, s.end, model),
            )
        )
    out.sort(key=lambda e: (e.start, -e.end, e.label))
    return out


def uncertainty_score(doc: Doc, spans_key: Optional[str] = None, scores_key: str = SCORES_KEY) -> Optional[float]:
    """How sure the model is about ``doc``: lower is less sure.

    The confidence of the least confident exported entity that has one; for a
    doc without such an entity, the smallest margin between a token's two most
    likely tags (``doc.spans[scores_key].attrs["min_margin"]``, written by the
    ``bio_tagger``); None when neither is known (weak labels only, empty doc).

    doc (Doc): The document.
    spans_key (Optional[str]): The exported span group (None: ``doc.ents``).
    scores_key (str): The model's span group.
    RETURNS (Optional[float]): The score.
    """
    scores = [s.score for s in export_spans(doc, spans_key, scores_key) if s.score is not None]
    if scores:
        return float(min(scores))
    margin = doc.spans[scores_key].attrs.get("min_margin") if scores_key in doc.spans else None
    return float(margin) if margin is not None else None


def order_docs(
    docs: Iterable[Doc], order: Optional[str], spans_key: Optional[str] = None
) -> Iterator[Tuple[int, Doc, Optional[float]]]:
    """The docs as ``(index in the input, doc, task score)`` in the order to write them.

    docs (Iterable[Doc]): The documents.
    order (Optional[str]): None (input order, no score: docs are streamed),
        ``"file"`` (input order, with :func:`uncertainty_score`) or
        ``"uncertainty"`` (lowest score first, docs without a score last, ties
        in input order).
    spans_key (Optional[str]): The exported span group (None: ``doc.ents``).
    YIELDS (Tuple[int, Doc, Optional[float]]): The docs.
    """
    if order is None:
        yield from ((i, doc, None) for i, doc in enumerate(docs))
        return
    if order not in ORDERS:
        raise NerbertError(f"unknown task order {order!r}; choose one of {', '.join(ORDERS)}")
    scored = ((i, doc, uncertainty_score(doc, spans_key)) for i, doc in enumerate(docs))
    if order == "file":
        yield from scored
        return
    yield from sorted(scored, key=lambda t: (t[2] is None, t[2] if t[2] is not None else 0.0, t[0]))


def json_safe_user_data(doc: Doc) -> Dict[str, Any]:
    """The string-keyed, JSON-serialisable part of ``doc.user_data`` (for ``meta``)."""
    meta: Dict[str, Any] = {}
    for k, v in doc.user_data.items():
        if not isinstance(k, str):
            continue
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue
        meta[k] = v
    return meta


def write_jsonl(
    records: Iterable[Dict[str, Any]], path: PathLike, count_spans: Callable[[Dict[str, Any]], int]
) -> Dict[str, int]:
    """Write one JSON object per line to ``path`` (atomically), one per doc.

    records (Iterable[Dict[str, Any]]): The records (tasks), one per doc.
    path (str | Path): Output ``.jsonl`` file.
    count_spans (Callable[[Dict[str, Any]], int]): The number of spans in a record.
    RETURNS (Dict[str, int]): ``docs`` and ``spans`` written.
    """
    n_docs = n_spans = 0
    with atomic_path(check_output(path)) as tmp:
        with tmp.open("w", encoding="utf8") as f:
            for rec in records:
                f.write(srsly.json_dumps(rec) + "\n")
                n_docs += 1
                n_spans += count_spans(rec)
    return {"docs": n_docs, "spans": n_spans}


# --------------------------------------------------------------------------- output paths


def check_output(path: PathLike, *, folder: bool = False) -> Path:
    """``path`` as a Path, or NerbertError when it cannot be the output.

    path (str | Path): The output file (or folder, with ``folder``).
    folder (bool): The output is a folder (BRAT); otherwise a file.
    RETURNS (Path): The path.
    """
    p = Path(path)
    if folder and p.exists() and not p.is_dir():
        raise NerbertError("output exists and is not a folder (this format writes a folder of files)", p)
    if not folder and p.is_dir():
        raise NerbertError("output is a folder; give a file name instead", p)
    return p


@contextlib.contextmanager
def writing(path: PathLike) -> Iterator[None]:
    """Turn an OSError raised while writing ``path`` into one NerbertError naming it
    (a read-only place, a file where a folder should be, a full disk, ...)."""
    try:
        yield
    except OSError as err:
        raise NerbertError(f"cannot write the output ({err.strerror or err})", path) from None


# --------------------------------------------------------------------------- label sets

#: Factories whose ``labels`` are entity labels a pipeline can write.
NER_FACTORIES = (
    "bio_tagger",
    "ner",
    "beam_ner",
    "entity_ruler",
    "span_ruler",
    "spancat",
    "spancat_singlelabel",
    "dbpedia_labeller",
)
#: Files beside a corpus that list its label set, and where: ``meta.json`` of
#: ``nerbert data convert`` (``labels``), ``balance.json`` of ``nerbert corpus
#: balance`` (``before``), ``stats.json`` of ``nerbert corpus build`` (``categories_before``).
CORPUS_LABEL_FILES = (("meta.json", "labels"), ("balance.json", "before"), ("stats.json", "categories_before"))


def pipeline_labels(nlp: Language) -> List[str]:
    """The entity labels a pipeline can write, sorted.

    The labels of its ``bio_tagger``, ``ner``, ``dbpedia_labeller`` (and other
    NER-like) components; a ``label_mapper`` replaces the labels of the
    components before it by its target labels.

    nlp (Language): The pipeline.
    RETURNS (List[str]): The labels (empty for a pipeline without such components).
    """
    labels: Set[str] = set()
    for name, pipe in nlp.pipeline:
        factory = nlp.get_pipe_meta(name).factory
        pipe_labels = [str(x) for x in (getattr(pipe, "labels", None) or ())]
        if factory == "label_mapper" and pipe_labels:
            labels = set(pipe_labels)
        elif factory in NER_FACTORIES:
            labels.update(pipe_labels)
    return sorted(labels)


def corpus_labels(input_path: PathLike) -> Tuple[List[str], Optional[Path]]:
    """The label set written beside a corpus (see :data:`CORPUS_LABEL_FILES`).

    Looks in the folder of ``input_path`` (the folder itself for a folder),
    then in its parent (``corpus balance`` and ``corpus build`` write their
    DocBins one level down), and takes the first file that lists labels.

    input_path (str | Path): A DocBin or a folder of them.
    RETURNS (Tuple[List[str], Optional[Path]]): The sorted labels and the file
        they came from; ``([], None)`` when no such file is found.
    """
    p = Path(input_path)
    folder = p if p.is_dir() else p.parent
    for where in (folder, folder.parent):
        for name, key in CORPUS_LABEL_FILES:
            f = where / name
            if not f.is_file():
                continue
            data = read_json(f)
            found = data.get(key) if isinstance(data, dict) else None
            if isinstance(found, dict):  # label -> count (not a pipeline meta's component -> labels)
                found = list(found) if all(isinstance(v, (int, float)) for v in found.values()) else None
            if isinstance(found, list) and found and all(isinstance(x, str) for x in found):
                return sorted(set(found)), f
    return [], None


class LabelSet:
    """The labels a tool's labelling config lists.

    The given set (a pipeline's, a corpus's, or the user's), or without one
    the labels of the exported docs' ``doc.ents``; plus, always, the labels of
    the exported spans, so that every exported span can be shown.

    given (Optional[Iterable[str]]): The label set, if known.
    """

    def __init__(self, given: Optional[Iterable[str]] = None) -> None:
        self.given = set(given) if given is not None else None
        self.exported: Set[str] = set()
        self.in_docs: Set[str] = set()

    def add(self, doc: Doc, spans: Iterable[ExportSpan]) -> None:
        """Note the labels of one exported doc."""
        self.exported.update(s.label for s in spans)
        if self.given is None:
            self.in_docs.update(e.label_ for e in doc.ents)

    @property
    def labels(self) -> List[str]:
        base = self.given if self.given is not None else self.in_docs
        return sorted(base | self.exported)

    def stats(self) -> Dict[str, int]:
        """``labels`` (listed in the config) and ``labels_not_in_set`` (exported labels
        the given set lacks, added so their spans can be shown)."""
        outside = self.exported - self.given if self.given is not None else set()
        return {"labels": len(self.labels), "labels_not_in_set": len(outside)}


# --------------------------------------------------------------------------- import side


def get_nlp(nlp_or_vocab: Union[Language, Vocab, str, None], lang: str = "en") -> Language:
    """A Language whose tokenizer the importers use.

    nlp_or_vocab (Language | Vocab | str | None): A pipeline (its tokenizer is
        used), a Vocab (a blank pipeline of its language shares it), a language
        code, or None (blank ``lang``).
    RETURNS (Language): The pipeline.
    """
    import spacy

    if isinstance(nlp_or_vocab, Language):
        return nlp_or_vocab
    if isinstance(nlp_or_vocab, Vocab):
        return spacy.blank(nlp_or_vocab.lang or lang, vocab=nlp_or_vocab)
    return spacy.blank(nlp_or_vocab or lang)


def read_json(path: Union[str, Path]) -> Any:
    """Read a JSON file; a syntax error becomes NerbertError with file and line."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf8"))
    except json.JSONDecodeError as err:
        raise NerbertError(f"invalid JSON ({err.msg} at column {err.colno})", path, f"line {err.lineno}") from None


def utf16_to_codepoints(text: str, start: int, end: int) -> Optional[Tuple[int, int]]:
    """Convert UTF-16 code-unit offsets (JavaScript string indices) to code points."""
    mapping = {}
    units = 0
    for i, ch in enumerate(text):
        mapping[units] = i
        units += 2 if ord(ch) > 0xFFFF else 1
    mapping[units] = len(text)
    if start in mapping and end in mapping:
        return mapping[start], mapping[end]
    return None


def _utf16_span(text: str, start: int, end: int, shown: str) -> Optional[Tuple[int, int]]:
    """Code-point offsets of [start, end) read as UTF-16 units, if the text there is ``shown``."""
    conv = utf16_to_codepoints(text, start, end)
    return conv if conv is not None and text[conv[0] : conv[1]] == shown else None


def read_provenance(value: Any, file: PathLike, record: int, what: str, report: "ImportReport") -> List[Dict[str, Any]]:
    """The provenance entries of an imported span (see :func:`span_provenance`).

    Entries that are not objects with a string ``group`` are left out and reported.

    value (Any): The span's ``provenance`` field (None when absent).
    file (str | Path): For the report.
    record (int): For the report.
    what (str): The span, for the report ("span 2", "result item 0").
    report (ImportReport): Collects issues.
    RETURNS (List[Dict[str, Any]]): The usable entries.
    """
    if value is None:
        return []
    entries = value if isinstance(value, list) else [value]
    good = [e for e in entries if isinstance(e, dict) and isinstance(e.get("group"), str) and e["group"]]
    if len(good) != len(entries):
        report.add(file, record, INVALID, f"{what}: {len(entries) - len(good)} provenance entries without a 'group'; left out")
    return good


def _restore_sources(doc: Doc, placed: Sequence[Tuple[Span, CharSpan]]) -> None:
    """Put each placed span back into the span groups its provenance names
    (with the source's label, kb_id, and the model's scores and name)."""
    groups: Dict[str, List[Tuple[Span, Optional[float]]]] = {}
    models: Dict[str, str] = {}
    for span, cs in placed:
        for entry in cs.provenance:
            label = str(entry.get("label") or span.label_)
            kb_id = str(entry.get("kb_id") or "")
            score = entry.get("score")
            item = Span(doc, span.start, span.end, label=label, kb_id=kb_id)
            groups.setdefault(entry["group"], []).append((item, float(score) if isinstance(score, (int, float)) else None))
            if entry.get("model"):
                models[entry["group"]] = str(entry["model"])
    for key, items in groups.items():
        items.sort(key=lambda x: (x[0].start, x[0].end, x[0].label_))
        doc.spans[key] = [span for span, _ in items]
        scores = [score for _, score in items]
        if all(score is not None for score in scores):
            doc.spans[key].attrs["scores"] = scores
        if key in models:
            doc.spans[key].attrs["model"] = models[key]


def _fmt(span: Span) -> str:
    return f"{span.text!r} [{span.start_char}:{span.end_char}] {span.label_}"


def build_doc(
    nlp: Language,
    text: str,
    spans: Iterable[CharSpan],
    *,
    file: Union[str, Path],
    record: int,
    report: ImportReport,
    snap: bool = False,
    words: Optional[List[str]] = None,
    spaces: Optional[List[bool]] = None,
    spans_key: Optional[str] = None,
    user_data: Optional[Dict[str, Any]] = None,
) -> Doc:
    """Make a Doc of ``text`` and place character spans on its tokens.

    Every span lands in ``doc.ents`` unless it overlaps another: overlapping
    spans all go to ``doc.spans["import_overlaps"]`` and ``doc.ents`` takes a
    non-overlapping choice (longest first, then earliest). Misaligned spans
    are skipped, or snapped outwards to token edges when ``snap`` is True.
    Everything not taken as is becomes an entry of ``report``.
    A span with a provenance also goes back into the span groups its entries
    name (see :func:`span_provenance`), so the sources survive a round trip.

    nlp (Language): Its tokenizer makes the Doc (unless ``words`` are given).
    text (str): The document text.
    spans (Iterable[CharSpan]): Character spans (code-point offsets into ``text``).
    file (str | Path): For the report.
    record (int): Record number (1-based line, task index, ...) for the report.
    report (ImportReport): Collects issues and counts.
    snap (bool): Expand misaligned spans to token edges instead of skipping them.
    words (Optional[List[str]]): Tokens to use (e.g. Prodigy's); checked against ``text``.
    spaces (Optional[List[bool]]): Whitespace after each of ``words``.
    spans_key (Optional[str]): Also store all placed spans in ``doc.spans[spans_key]``.
    user_data (Optional[Dict]): Copied into ``doc.user_data``.
    RETURNS (Doc): The document.
    """
    doc: Optional[Doc] = None
    if words is not None:
        candidate = Doc(nlp.vocab, words=words, spaces=spaces)
        if candidate.text == text:
            doc = candidate
        else:
            report.add(file, record, TOKENS_MISMATCH, "the tokens do not reproduce the text; retokenised it")
    if doc is None:
        doc = nlp.make_doc(text)
    placed: List[Span] = []
    sources: List[Tuple[Span, CharSpan]] = []
    seen = set()
    for cs in spans:
        start, end, label = cs.start, cs.end, cs.label
        if not label:
            report.add(file, record, INVALID, f"span [{start}:{end}] has no label; skipped")
            continue
        if not (isinstance(start, int) and isinstance(end, int)) or not (0 <= start < end):
            report.add(file, record, INVALID, f"span [{start}:{end}] {label} has invalid offsets; skipped")
            continue
        if end > len(text) and (cs.text is None or _utf16_span(text, start, end, cs.text) is None):
            report.add(
                file,
                record,
                OUT_OF_RANGE,
                f"span [{start}:{end}] {label} is outside the text (length {len(text)}); skipped",
            )
            continue
        if cs.text is not None and text[start:end] != cs.text:
            conv = _utf16_span(text, start, end, cs.text)
            if conv is not None:
                report.add(
                    file,
                    record,
                    UTF16,
                    f"span [{start}:{end}] {label} used UTF-16 offsets; read as [{conv[0]}:{conv[1]}]",
                )
                start, end = conv
            else:
                report.add(
                    file,
                    record,
                    TEXT_MISMATCH,
                    f"span [{start}:{end}] {label} says {cs.text!r} but the text there is "
                    f"{text[start:end]!r}; skipped",
                )
                continue
        s2, e2 = start, end
        while s2 < e2 and text[s2].isspace():
            s2 += 1
        while e2 > s2 and text[e2 - 1].isspace():
            e2 -= 1
        if s2 == e2:
            report.add(file, record, INVALID, f"span [{start}:{end}] {label} covers only whitespace; skipped")
            continue
        if (s2, e2) != (start, end):
            report.add(
                file, record, TRIMMED, f"span [{start}:{end}] {label}: whitespace trimmed to [{s2}:{e2}]"
            )
            start, end = s2, e2
        span = doc.char_span(start, end, label=label, kb_id=cs.kb_id or 0)
        if span is None:
            if snap:
                span = doc.char_span(start, end, label=label, kb_id=cs.kb_id or 0, alignment_mode="expand")
                if span is not None:
                    report.add(
                        file,
                        record,
                        SNAPPED,
                        f"span {text[start:end]!r} [{start}:{end}] {label} is not on token edges; "
                        f"expanded to {_fmt(span)}",
                    )
            if span is None:
                report.add(
                    file,
                    record,
                    MISALIGNED,
                    f"span {text[start:end]!r} [{start}:{end}] {label} is not on token edges; skipped "
                    "(use snap to expand it)",
                )
                continue
        key = (span.start, span.end, span.label_)
        if key in seen:
            report.add(file, record, DUPLICATE, f"span {_fmt(span)} appears twice; kept once")
            continue
        seen.add(key)
        placed.append(span)
        if cs.provenance:
            sources.append((span, cs))
    chosen = filter_spans(placed)
    chosen_keys = {(s.start, s.end, s.label_) for s in chosen}
    overlapping = []
    for s in placed:
        if any(o is not s and o.start < s.end and s.start < o.end for o in placed):
            overlapping.append(s)
            if (s.start, s.end, s.label_) not in chosen_keys:
                winner = next(c for c in chosen if c.start < s.end and s.start < c.end)
                report.add(
                    file,
                    record,
                    OVERLAP,
                    f"span {_fmt(s)} overlaps {_fmt(winner)}; kept in doc.spans[{OVERLAPS_KEY!r}], "
                    "not in doc.ents",
                )
    doc.set_ents(chosen, default="outside")
    if overlapping:
        doc.spans[OVERLAPS_KEY] = sorted(overlapping, key=lambda s: (s.start, s.end, s.label_))
    if spans_key:
        doc.spans[spans_key] = sorted(placed, key=lambda s: (s.start, s.end, s.label_))
    if sources:
        _restore_sources(doc, sources)
    if user_data:
        doc.user_data.update(user_data)
    report.docs += 1
    report.spans += len(placed)
    return doc


def import_records(
    path: Path,
    records: Iterable[Tuple[int, Any]],
    parse: Callable[[Any, Path, int, ImportReport], Optional[RecordInput]],
    nlp_or_vocab: NlpSource = None,
    *,
    snap: bool = False,
    spans_key: Optional[str] = None,
) -> ReadResult:
    """The read loop shared by the importers: one Doc per parsed record.

    Each record is counted in the report, parsed, and placed on a Doc by
    :func:`build_doc`; a record that ``parse`` skips (returns None) gives no Doc.

    path (Path): The file read (named in the report and in errors).
    records (Iterable[Tuple[int, Any]]): ``(record_number, raw_record)`` pairs
        (e.g. from :func:`iter_jsonl`); errors and report entries name the number.
    parse (Callable): ``parse(raw, path, record, report)`` -> RecordInput, or None
        to skip the record (after reporting why); raises NerbertError for a
        malformed record.
    nlp_or_vocab (Language | Vocab | str | None): Tokenizer source (see ``get_nlp``).
    snap (bool): Expand spans that are not on token edges instead of skipping them.
    spans_key (Optional[str]): Also keep all spans in ``doc.spans[spans_key]``.
    RETURNS (Tuple[List[Doc], ImportReport]): The docs and what happened.
    """
    nlp = get_nlp(nlp_or_vocab)
    report = ImportReport()
    docs = []
    for record, raw in records:
        report.records += 1
        parsed = parse(raw, path, record, report)
        if parsed is None:
            continue
        docs.append(
            build_doc(
                nlp,
                parsed.text,
                parsed.spans,
                file=path if parsed.file is None else parsed.file,
                record=record,
                report=report,
                snap=snap,
                words=parsed.words,
                spaces=parsed.spaces,
                spans_key=spans_key,
                user_data=parsed.user_data,
            )
        )
    return docs, report


def all_spans(doc: Doc) -> List[Tuple[int, int, str]]:
    """Character offsets and labels of ``doc.ents`` plus overlap-only spans (for tests, checks)."""
    out = {(e.start_char, e.end_char, e.label_) for e in doc.ents}
    if OVERLAPS_KEY in doc.spans:
        out.update((s.start_char, s.end_char, s.label_) for s in doc.spans[OVERLAPS_KEY])
    return sorted(out)
