"""The ``bio_tagger`` component: NER-BERT's linear BIO tagging head (paper §3, §4.4).

Every token gets a softmax over ``O`` + ``B-X``/``I-X`` for each label ``X``,
computed from the transformer's representation of its first sub-word. The
labels come from the training data at ``initialize`` and are saved with the
pipeline. Prediction decodes each document with BIO-constrained Viterbi (so
no ``I-X`` ever follows ``O`` or another type), writes ``doc.ents`` and a span
group ``doc.spans[spans_key]`` whose ``attrs["scores"]`` holds one confidence
per entity and ``attrs["min_margin"]`` the smallest gap between a token's two
most likely tags (how unsure the model is where it predicts nothing). The
``temperature`` setting divides the logits before the softmax (1.0 = the raw
model; ``nerbert model calibrate`` fits it on dev data and writes it into the
pipeline's config); it changes the probabilities and the confidences, never
the decoded tags. It is not spaCy's transition-based ``ner``.
"""
import math
from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.pipeline.ner import ner_score
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_get_examples
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Model
from thinc.types import Floats2d

from ..bio import biluo_to_bio, decode_bio, labels_to_tags
from ..errors import NerbertError
from . import architectures  # noqa: F401  (registers nerbert.BioTagger.v1)

DEFAULT_MODEL_CONFIG = """
[model]
@architectures = "nerbert.BioTagger.v1"
nO = null

[model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[model.tok2vec.pooling]
@layers = "nerbert.reduce_first.v1"
"""
def _default_model() -> Dict[str, Any]:
    from thinc.api import Config

    return Config().from_str(DEFAULT_MODEL_CONFIG)["model"]


DEFAULT_SPANS_KEY = "bio_tagger"


@registry.scorers("nerbert.bio_scorer.v1")
def make_bio_scorer() -> Callable[..., Dict[str, Any]]:
    """An alias of spaCy's ``spacy.ner_scorer.v1``, kept so that configs and saved
    pipelines that name it still load; new pipelines use spaCy's name.

    The scorer is spaCy's own: exact-span micro P/R/F overall and per type (on valid
    BIO this equals seqeval's micro F1). Keys: ``ents_p``, ``ents_r``, ``ents_f``,
    ``ents_per_type``.

    RETURNS (Callable[..., Dict[str, Any]]): spaCy's NER scoring function.
    """
    return bio_score


#: The scoring function of :func:`make_bio_scorer` (spaCy's ``ner_score``).
bio_score: Callable[..., Dict[str, Any]] = ner_score


@Language.factory(
    "bio_tagger",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
    default_config={
        "model": _default_model(),
        "spans_key": DEFAULT_SPANS_KEY,
        "confidence": "mean",
        "temperature": 1.0,
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_bio_tagger(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    spans_key: str,
    confidence: str,
    scorer: Optional[Callable],
    temperature: float = 1.0,
) -> "BioTagger":
    """Create a ``bio_tagger`` (NER-BERT's linear BIO head).

    model (Model[List[Doc], List[Floats2d]]): Tag probabilities per token
        (``nerbert.BioTagger.v1``).
    spans_key (str): Key of the span group with the predicted entities and
        their confidences (``doc.spans[spans_key].attrs["scores"]``).
    confidence (str): ``"mean"`` or ``"min"`` of the chosen tags'
        probabilities over an entity's tokens.
    scorer (Optional[Callable]): Scoring method (``spacy.ner_scorer.v1``).
    temperature (float): Softmax temperature (logits / T); 1.0 leaves the
        model's probabilities as trained, ``nerbert model calibrate`` sets it.
    RETURNS (BioTagger): The component.
    """
    return BioTagger(
        nlp.vocab,
        model,
        name,
        spans_key=spans_key,
        confidence=confidence,
        scorer=scorer,
        temperature=temperature,
    )


class BioTagger(TrainablePipe):
    """Predict B-/I-/O tags per token with a linear head and decode valid BIO."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], List[Floats2d]],
        name: str = "bio_tagger",
        *,
        spans_key: str = DEFAULT_SPANS_KEY,
        confidence: str = "mean",
        scorer: Optional[Callable] = bio_score,
        temperature: float = 1.0,
    ) -> None:
        """Initialise the component.

        vocab (Vocab): The shared vocabulary.
        model (Model[List[Doc], List[Floats2d]]): The tagging model.
        name (str): Component name in the pipeline.
        spans_key (str): Span group written at prediction.
        confidence (str): ``"mean"`` or ``"min"`` entity confidence.
        scorer (Optional[Callable]): Scoring method.
        temperature (float): Softmax temperature (> 0; 1.0 = uncalibrated).
        """
        if confidence not in ("mean", "min"):
            raise NerbertError(f"bio_tagger confidence must be 'mean' or 'min', not {confidence!r}")
        if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0:
            raise NerbertError(f"bio_tagger temperature must be a positive number, not {temperature!r}")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = {
            "labels": [],
            "spans_key": spans_key,
            "confidence": confidence,
        }
        self.temperature = float(temperature)
        self._apply_temperature()

    def _apply_temperature(self) -> None:
        """Put the configured temperature into the softmax layer (the config wins
        over the value saved with the model weights)."""
        self.model.get_ref("output_layer").attrs["softmax_temperature"] = self.temperature

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "BioTagger":
        """Load the component; the temperature stays the configured one."""
        super().from_bytes(bytes_data, exclude=exclude)
        self._apply_temperature()
        return self

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()) -> "BioTagger":
        """Load the component; the temperature stays the configured one."""
        super().from_disk(path, exclude=exclude)
        self._apply_temperature()
        return self

    # ---- labels -----------------------------------------------------------
    @property
    def labels(self) -> tuple:
        """RETURNS (Tuple[str]): The entity labels, in head order."""
        return tuple(self.cfg["labels"])

    @property
    def tags(self) -> List[str]:
        """RETURNS (List[str]): ``O`` + ``B-X``/``I-X`` per label (head rows)."""
        return labels_to_tags(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        """RETURNS (List[str]): The labels, for ``spacy init labels``."""
        return list(self.cfg["labels"])

    @property
    def spans_key(self) -> str:
        """RETURNS (str): Key of the span group written at prediction."""
        return self.cfg["spans_key"]

    def _head_initialized(self) -> bool:
        return bool(self.model.get_ref("output_layer").has_param("W"))

    def add_label(self, label: str) -> int:
        """Add an entity label before the model is initialised.

        label (str): The label.
        RETURNS (int): 1 if added, 0 if already present.
        """
        if not isinstance(label, str) or not label or label.startswith(("B-", "I-")) or label == "O":
            raise NerbertError(f"bio_tagger label must be a plain entity type name, not {label!r}")
        if label in self.cfg["labels"]:
            return 0
        if self._head_initialized():
            raise NerbertError(
                f"cannot add label {label!r} to bio_tagger '{self.name}' after its head was initialised"
            )
        self.cfg["labels"].append(label)
        return 1

    # ---- training ---------------------------------------------------------
    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Set the labels (from ``labels`` or the reference ``doc.ents``) and
        initialise the model (the output layer gets ``1 + 2 * n_labels`` rows).

        get_examples (Callable[[], Iterable[Example]]): The training examples.
        nlp (Optional[Language]): The pipeline.
        labels (Optional[Sequence[str]]): Labels to use instead of scanning the
            data (e.g. from ``spacy init labels`` or the 315-label list).
        """
        validate_get_examples(get_examples, "BioTagger.initialize")
        if labels is not None:
            found: List[str] = []
            for label in labels:
                if label not in found:
                    found.append(label)
        else:
            seen = set()
            for eg in get_examples():
                for ent in eg.reference.ents:
                    seen.add(ent.label_)
            found = sorted(seen)
        if not found:
            raise NerbertError(
                f"bio_tagger '{self.name}' found no entity labels: the training data has no doc.ents "
                "and no labels were given in [initialize.components]"
            )
        self.cfg["labels"] = []
        for label in found:
            self.add_label(label)
        self.model.get_ref("output_layer").set_dim("nO", len(self.tags))
        doc_sample = [eg.x for eg in islice(get_examples(), 10)]
        self.model.initialize(X=doc_sample)

    def get_loss(self, examples: Iterable[Example], scores: List[Floats2d]):
        """Token-level cross-entropy against the aligned reference BIO tags.

        Tokens whose reference tag is missing (unannotated, misaligned, or a
        label the head does not know) get no gradient.

        examples (Iterable[Example]): The batch.
        scores (List[Floats2d]): Tag probabilities per document.
        RETURNS (Tuple[float, List[Floats2d]]): Summed loss and gradients.
        """
        ops = self.model.ops
        xp = ops.xp
        tag_ids = {tag: i for i, tag in enumerate(self.tags)}
        loss = 0.0
        d_scores = []
        for eg, probs in zip(examples, scores):
            truth = [
                tag_ids.get(tag, -1) if tag is not None else -1
                for tag in biluo_to_bio(eg.get_aligned_ner())
            ]
            d = probs.copy()
            if len(truth) == 0:
                d_scores.append(d)
                continue
            truth_arr = ops.asarray1i(truth)
            known = truth_arr >= 0
            rows = xp.nonzero(known)[0]
            cols = truth_arr[rows]
            if rows.size:
                gold_probs = probs[rows, cols]
                loss -= float(xp.log(xp.clip(gold_probs, 1e-12, None)).sum())
                d[rows, cols] -= 1.0
            d[~known] = 0.0
            d_scores.append(d)
        return loss, d_scores

    # ---- prediction -------------------------------------------------------
    def predict(self, docs: Iterable[Doc]) -> List[Floats2d]:
        """Tag probabilities for each document.

        docs (Iterable[Doc]): The documents.
        RETURNS (List[Floats2d]): One ``(n_tokens, n_tags)`` array per doc.
        """
        docs = list(docs)
        n_tags = len(self.tags)
        if not any(len(doc) for doc in docs):
            return [self.model.ops.alloc2f(len(doc), n_tags) for doc in docs]
        return self.model.predict(docs)

    def set_annotations(self, docs: Iterable[Doc], scores: List[Floats2d]) -> None:
        """Decode valid BIO, write ``doc.ents`` and ``doc.spans[spans_key]``
        (with ``attrs["scores"]``: one confidence per entity, and, for a doc
        with tokens, ``attrs["min_margin"]``: the smallest difference between a
        token's two most likely tags).

        docs (Iterable[Doc]): The documents.
        scores (List[Floats2d]): Output of :meth:`predict`.
        """
        tags = self.tags
        key = self.cfg["spans_key"]
        how = self.cfg["confidence"]
        for doc, doc_scores in zip(docs, scores):
            probs = numpy.asarray(self.model.ops.to_numpy(doc_scores))
            _, ents = decode_bio(probs[: len(doc)], tags, how)
            spans = [Span(doc, start, end, label=label) for start, end, label, _ in ents]
            doc.ents = spans
            doc.spans[key] = spans
            doc.spans[key].attrs["scores"] = [round(score, 6) for *_, score in ents]
            if len(doc):
                doc.spans[key].attrs["min_margin"] = round(min_token_margin(probs[: len(doc)]), 6)


def min_token_margin(probs: numpy.ndarray) -> float:
    """The smallest gap between the two most likely tags of any token.

    probs (numpy.ndarray): ``(n_tokens, n_tags)`` probabilities, ``n_tokens >= 1``.
    RETURNS (float): ``min over tokens of p(best) - p(second best)``; 1.0 with one tag.
    """
    if probs.shape[1] < 2:
        return 1.0
    top2 = numpy.sort(probs, axis=1)[:, -2:]
    return float((top2[:, 1] - top2[:, 0]).min())


def tag_scores(nlp: Language, docs: Sequence[Doc], *, logits: bool = False) -> Tuple["BioTagger", List[numpy.ndarray]]:
    """Run ``nlp`` up to its ``bio_tagger`` and return the tagger's outputs.

    The components before the tagger (the transformer) annotate ``docs`` in
    place; the tagger and everything after it do not run.

    nlp (Language): A pipeline with a ``bio_tagger``.
    docs (Sequence[Doc]): The documents (tokenised, not yet processed).
    logits (bool): Return the logits (no softmax, no temperature) instead of
        the probabilities the tagger predicts.
    RETURNS (Tuple[BioTagger, List[numpy.ndarray]]): The tagger and one
        ``(n_tokens, n_tags)`` float32 array per doc (empty docs give ``(0, n_tags)``).
    """
    name = next((n for n, proc in nlp.pipeline if isinstance(proc, BioTagger)), None)
    if name is None:
        raise NerbertError("the pipeline has no bio_tagger component")
    tagger: BioTagger = nlp.get_pipe(name)
    docs = list(docs)
    for proc_name, proc in nlp.pipeline:
        if proc_name == name:
            break
        docs = list(proc.pipe(docs)) if hasattr(proc, "pipe") else [proc(doc) for doc in docs]
    n_tags = len(tagger.tags)
    out = [numpy.zeros((0, n_tags), dtype="float32") for _ in docs]
    filled = [i for i, doc in enumerate(docs) if len(doc)]
    if not filled:
        return tagger, out
    layer = tagger.model.get_ref("output_layer")
    normalize = layer.attrs["softmax_normalize"]
    layer.attrs["softmax_normalize"] = not logits
    try:
        predicted = tagger.model.predict([docs[i] for i in filled])
    finally:
        layer.attrs["softmax_normalize"] = normalize
    for i, scores in zip(filled, predicted):
        out[i] = numpy.asarray(tagger.model.ops.to_numpy(scores), dtype="float32")[: len(docs[i])]
    return tagger, out
