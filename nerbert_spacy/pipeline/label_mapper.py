"""The ``label_mapper`` component: zero-shot NER on a target schema with a
pretrained NER-BERT pipeline.

Placed after a pretrained ``bio_tagger`` (315 DBpedia types), it rewrites
``doc.ents`` onto the target schema through a :class:`~nerbert_spacy.mapping.LabelMapping`
(``politician``, ``president``, ``senator`` -> ``politician``; ``scientist`` ->
``person``; ...). A predicted type that maps to nothing is dropped
(``unmapped = "drop"``) or relabelled (``unmapped = "misc"``, or any other
label). The original predictions stay in ``doc.spans["pretrained"]``. The
mapping is saved with the pipeline, so the result loads with ``spacy.load``.

``zero_shot_pipeline`` loads a pretrained pipeline and adds the mapper;
``evaluate_zero_shot`` scores it on a gold DocBin exactly like a fine-tuned model.
"""
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example

from ..errors import NerbertError
from ..mapping import LabelMapping, as_label_mapping

DROP = "drop"
DEFAULT_SPANS_KEY = "pretrained"
MAPPING_FILE = "mapping.json"


@Language.factory(
    "label_mapper",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
    default_config={
        "mapping": None,
        "unmapped": DROP,
        "spans_key": DEFAULT_SPANS_KEY,
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_label_mapper(
    nlp: Language,
    name: str,
    mapping: Optional[Union[str, Dict[str, Any]]],
    unmapped: str,
    spans_key: str,
    scorer: Optional[Callable],
) -> "LabelMapper":
    """Create a ``label_mapper``.

    mapping (Optional[Union[str, Dict[str, Any]]]): Path of a mapping JSON/YAML
        (``nerbert labels map``), or the mapping itself (full form or
        ``{target: [pretrained, ...]}``). None: set later with ``set_mapping`` or
        loaded from disk with the pipeline.
    unmapped (str): "drop" to remove predictions whose type maps to no target
        label, or the label to give them (e.g. "misc").
    spans_key (str): Span group that keeps the original predictions.
    scorer (Optional[Callable]): Scoring method (exact-span P/R/F on ``doc.ents``).
    RETURNS (LabelMapper): The component.
    """
    return LabelMapper(nlp.vocab, name, mapping=mapping, unmapped=unmapped, spans_key=spans_key, scorer=scorer)


class LabelMapper:
    """Collapse predicted entity types onto a target schema."""

    def __init__(
        self,
        vocab: Any,
        name: str = "label_mapper",
        *,
        mapping: Optional[Union[str, Path, Mapping[str, Any], LabelMapping]] = None,
        unmapped: str = DROP,
        spans_key: str = DEFAULT_SPANS_KEY,
        scorer: Optional[Callable] = None,
    ) -> None:
        """Initialise the component (see `make_label_mapper`)."""
        if not isinstance(unmapped, str) or not unmapped.strip():
            raise NerbertError(f"label_mapper 'unmapped' must be \"drop\" or a label name, not {unmapped!r}")
        self.vocab = vocab
        self.name = name
        self.unmapped = unmapped
        self.spans_key = spans_key
        self.scorer = scorer
        self.mapping: Optional[LabelMapping] = None
        self._collapse: Dict[str, str] = {}
        self._dropped: set = set()
        self._pending: Optional[str] = None
        if mapping is not None:
            if isinstance(mapping, (str, Path)) and not Path(mapping).exists():
                # a pipeline saved elsewhere brings its own copy (from_disk); complain only if none comes
                self._pending = str(mapping)
            else:
                self.set_mapping(mapping)

    # --- mapping ---------------------------------------------------------------
    def set_mapping(self, mapping: Union[str, Path, Mapping[str, Any], LabelMapping]) -> None:
        """Use a mapping (path, dict or LabelMapping).

        mapping (str | Path | dict | LabelMapping): The mapping.
        """
        self.mapping = as_label_mapping(mapping)
        self._collapse = self.mapping.to_collapse_map()
        self._dropped = set(self.mapping.dropped)
        self._pending = None

    @property
    def labels(self) -> List[str]:
        """RETURNS (List[str]): The labels the component can write (target labels,
        plus the unmapped label unless it drops)."""
        if self.mapping is None:
            return []
        out = list(self.mapping.targets)
        if self.unmapped != DROP and self.unmapped not in out:
            out.append(self.unmapped)
        return out

    def _require_mapping(self) -> LabelMapping:
        if self.mapping is None:
            if self._pending is not None:
                raise NerbertError("label mapping file not found (label_mapper config 'mapping')", self._pending)
            raise NerbertError(
                f"label_mapper '{self.name}' has no mapping: set the config 'mapping' to a mapping file "
                "(nerbert labels map) or call set_mapping()"
            )
        return self.mapping

    def map_label(self, label: str) -> Optional[str]:
        """The target label of a predicted label, or None when it is dropped.

        label (str): A pretrained label.
        RETURNS (Optional[str]): The target label.
        """
        self._require_mapping()
        target = self._collapse.get(label)
        if target is not None:
            return target
        if label in self._dropped or self.unmapped == DROP:
            return None
        return self.unmapped

    # --- processing -------------------------------------------------------------
    def __call__(self, doc: Doc) -> Doc:
        """Rewrite ``doc.ents`` onto the target schema; keep the original in
        ``doc.spans[spans_key]``.

        doc (Doc): A document with predicted entities.
        RETURNS (Doc): The same document.
        """
        self._require_mapping()
        original = list(doc.ents)
        doc.spans[self.spans_key] = original
        mapped: List[Span] = []
        for ent in original:
            target = self.map_label(ent.label_)
            if target is not None:
                mapped.append(Span(doc, ent.start, ent.end, label=target))
        doc.ents = mapped
        return doc

    def pipe(self, stream: Iterable[Doc], batch_size: int = 128) -> Iterable[Doc]:
        """Apply to a stream of documents."""
        for doc in stream:
            yield self(doc)

    def initialize(self, get_examples: Optional[Callable] = None, *, nlp: Any = None, mapping: Any = None) -> None:
        """Set the mapping from ``[initialize.components.<name>] mapping = ...``
        (optional; the factory config or ``set_mapping`` work too)."""
        if mapping is not None:
            self.set_mapping(mapping)

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """Exact-span P/R/F of ``doc.ents`` (overall and per type)."""
        if self.scorer is None:
            from spacy.scorer import get_ner_prf

            return get_ner_prf(examples)
        return self.scorer(examples, **kwargs)

    # --- serialisation ------------------------------------------------------------
    def _cfg(self) -> Dict[str, Any]:
        return {"unmapped": self.unmapped, "spans_key": self.spans_key}

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        """Serialise the mapping and settings."""
        return srsly.msgpack_dumps(
            {"cfg": self._cfg(), "mapping": self.mapping.to_dict() if self.mapping is not None else None}
        )

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = tuple()) -> "LabelMapper":
        """Load what `to_bytes` wrote."""
        msg = srsly.msgpack_loads(data)
        self._apply_cfg(msg.get("cfg") or {})
        if msg.get("mapping") is not None:
            self.set_mapping(msg["mapping"])
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        """Write ``mapping.json`` and ``cfg`` into the component directory."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / "cfg", self._cfg())
        if self.mapping is not None:
            self.mapping.save(path / MAPPING_FILE)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "LabelMapper":
        """Load what `to_disk` wrote."""
        path = Path(path)
        if (path / "cfg").exists():
            self._apply_cfg(srsly.read_json(path / "cfg"))
        if (path / MAPPING_FILE).exists():
            self.set_mapping(path / MAPPING_FILE)
        return self

    def _apply_cfg(self, cfg: Mapping[str, Any]) -> None:
        self.unmapped = cfg.get("unmapped", self.unmapped)
        self.spans_key = cfg.get("spans_key", self.spans_key)


def zero_shot_pipeline(
    pretrained_path: Union[str, Path],
    mapping: Union[str, Path, Mapping[str, Any], LabelMapping],
    unmapped: str = DROP,
    *,
    name: str = "label_mapper",
    check_labels: bool = True,
) -> Language:
    """Load a pretrained NER-BERT pipeline and add a ``label_mapper`` at the end.

    pretrained_path (str | Path): The pretrained pipeline (directory or package name).
    mapping (str | Path | dict | LabelMapping): The label mapping.
    unmapped (str): "drop" or the label for unmapped predictions (e.g. "misc").
    name (str): Name of the added component.
    check_labels (bool): Fail if the mapping names no label the pipeline predicts.
    RETURNS (Language): The pipeline.
    """
    from ..docio import load_pipeline

    nlp = load_pipeline(pretrained_path, what="pretrained pipeline")
    lm = as_label_mapping(mapping)
    if check_labels:
        predicted = set()
        for pipe_name, pipe in nlp.pipeline:
            labels = getattr(pipe, "labels", None)
            if labels and pipe_name != name:
                predicted.update(labels)
        if predicted and not predicted & set(lm.to_collapse_map()):
            raise NerbertError(
                "the label mapping maps none of the labels the pipeline predicts; "
                "was it built for another label set (--pretrained)?",
                pretrained_path,
            )
    config: Dict[str, Any] = {"unmapped": unmapped}
    if isinstance(mapping, (str, Path)):
        config["mapping"] = str(Path(mapping).resolve())
    mapper = nlp.add_pipe("label_mapper", name=name, config=config)
    mapper.set_mapping(lm)
    return nlp


def evaluate_zero_shot(
    nlp: Language,
    docbin_path: Union[str, Path],
    *,
    batch_size: int = 64,
    limit: int = 0,
) -> Dict[str, Any]:
    """Score a (zero-shot) pipeline on a gold DocBin exactly like a fine-tuned
    model: `nerbert_spacy.evaluation.evaluate_pipeline` (seqeval micro F1 over
    the gold tokenisation). Falls back to spaCy's exact-span scorer (the same
    numbers on valid BIO) if that module is missing.

    nlp (Language): The pipeline (e.g. from `zero_shot_pipeline`).
    docbin_path (str | Path): Gold ``.spacy`` file (``doc.ents`` annotated).
    batch_size (int): Batch size for ``nlp.pipe``.
    limit (int): Use only the first N documents (0: all; a temporary DocBin is written).
    RETURNS (Dict[str, Any]): ``precision``, ``recall``, ``f1``, ``per_type``, ``n_sentences``, ...
    """
    import tempfile

    from spacy.tokens import DocBin

    from ..errors import require_file

    p = require_file(docbin_path, "test DocBin")
    with tempfile.TemporaryDirectory(prefix="nerbert-zeroshot-") as tmp:
        if limit:
            try:
                docs = list(DocBin().from_disk(p).get_docs(nlp.vocab))[:limit]
            except Exception as err:
                raise NerbertError(f"is not a readable spaCy DocBin ({type(err).__name__}: {err})", p) from None
            p = Path(tmp) / "test.spacy"
            DocBin(docs=docs).to_disk(p)
        from ..evaluation import evaluate_pipeline

        return evaluate_pipeline(nlp, p, batch_size=batch_size)

