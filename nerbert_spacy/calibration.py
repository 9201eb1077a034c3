"""Calibrated confidences: one softmax temperature per pipeline, and expected calibration error.

Temperature scaling (Guo et al., 2017) divides the ``bio_tagger``'s logits by
one number ``T`` before the softmax. ``T`` is fitted on dev data by minimising
the negative log-likelihood of the gold BIO tag of every token (the tagger
reads each token's first sub-word), with a golden-section search over
``log T``. Dividing all logits by the same ``T`` never changes the decoded
tags (the Viterbi path maximises a sum of logits, scaled by ``1/T``), only the
probabilities and so the entity confidences in ``doc.spans[...].attrs["scores"]``.

Expected calibration error (ECE) is measured on predicted ENTITIES: each
entity's confidence (mean or min of its tokens' chosen-tag probabilities, the
tagger's ``confidence`` setting) against whether it is exactly right (same
tokens and label as a gold entity), over 10 equal-width confidence bins:
``ECE = sum_b |b| / n * |accuracy(b) - mean confidence(b)|``.
"""
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

import numpy
from spacy.tokens import Doc

from .bio import decode_bio, doc_to_bio
from .errors import NerbertError, require_file

PathLike = Union[str, Path]
#: Search range of the temperature.
T_MIN, T_MAX = 0.05, 20.0


def softmax(logits: numpy.ndarray, temperature: float = 1.0) -> numpy.ndarray:
    """Row-wise softmax of ``logits / temperature`` in float64."""
    z = numpy.asarray(logits, dtype="float64") / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = numpy.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def nll(logits: numpy.ndarray, gold: numpy.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the gold classes under ``softmax(logits / T)``.

    logits (numpy.ndarray): ``(n, n_classes)``.
    gold (numpy.ndarray): ``(n,)`` class ids.
    temperature (float): ``T > 0``.
    RETURNS (float): The mean NLL (nats).
    """
    z = numpy.asarray(logits, dtype="float64") / temperature
    m = z.max(axis=1)
    lse = m + numpy.log(numpy.exp(z - m[:, None]).sum(axis=1))
    return float((lse - z[numpy.arange(len(gold)), gold]).mean())


def fit_temperature(
    logits: numpy.ndarray, gold: numpy.ndarray, *, low: float = T_MIN, high: float = T_MAX, tol: float = 1e-5
) -> float:
    """The temperature that minimises :func:`nll` (golden-section search over ``log T``).

    The NLL is convex in ``1/T``, so it has one minimum on the range; a
    minimum at the edge of ``[low, high]`` returns the edge.

    logits (numpy.ndarray): ``(n, n_classes)`` logits, ``n >= 1``.
    gold (numpy.ndarray): ``(n,)`` gold class ids.
    low (float): Smallest temperature tried.
    high (float): Largest temperature tried.
    tol (float): Stop when the bracket in ``log T`` is this narrow.
    RETURNS (float): The fitted temperature.
    """
    logits = numpy.asarray(logits, dtype="float64")
    gold = numpy.asarray(gold, dtype="int64")
    if logits.ndim != 2 or len(logits) == 0 or len(gold) != len(logits):
        raise NerbertError("fitting a temperature needs at least one token with a gold tag")
    ratio = (math.sqrt(5) - 1) / 2
    a, b = math.log(low), math.log(high)
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = nll(logits, gold, math.exp(c)), nll(logits, gold, math.exp(d))
    while b - a > tol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = nll(logits, gold, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = nll(logits, gold, math.exp(d))
    return float(math.exp((a + b) / 2))


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    """ECE over equal-width confidence bins (the last bin includes 1.0).

    confidences (Sequence[float]): One confidence in [0, 1] per prediction.
    correct (Sequence[bool]): Whether each prediction is right.
    n_bins (int): Number of bins.
    RETURNS (float): ``sum_b |b|/n * |accuracy(b) - confidence(b)|``; 0.0 for no predictions.
    """
    conf = numpy.asarray(confidences, dtype="float64")
    ok = numpy.asarray(correct, dtype="float64")
    if len(conf) == 0:
        return 0.0
    bins = numpy.minimum((conf * n_bins).astype("int64"), n_bins - 1)
    ece = 0.0
    for k in range(n_bins):
        mask = bins == k
        if mask.any():
            ece += mask.sum() / len(conf) * abs(ok[mask].mean() - conf[mask].mean())
    return float(ece)


@dataclass
class TaggedData:
    """What calibration needs of a set of documents: logits and gold annotation.

    logits (List[numpy.ndarray]): ``(n_tokens, n_tags)`` raw logits per doc.
    gold_tags (List[numpy.ndarray]): Gold tag id per token (-1: missing or a
        label the tagger does not know).
    gold_spans (List[Set[Tuple[int, int, str]]]): Gold entities per doc.
    tags (List[str]): The tag inventory.
    """

    logits: List[numpy.ndarray]
    gold_tags: List[numpy.ndarray]
    gold_spans: List[Set[Tuple[int, int, str]]]
    tags: List[str]
    confidence: str = "mean"
    unknown_labels: Set[str] = field(default_factory=set)

    def token_arrays(self) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """All tokens with a gold tag: ``(logits (n, n_tags), gold (n,))``."""
        rows = [lg[g >= 0] for lg, g in zip(self.logits, self.gold_tags)]
        golds = [g[g >= 0] for g in self.gold_tags]
        n_tags = len(self.tags)
        if not rows:
            return numpy.zeros((0, n_tags)), numpy.zeros((0,), dtype="int64")
        return numpy.concatenate(rows), numpy.concatenate(golds)


def gold_tag_ids(doc: Doc, tags: Sequence[str]) -> numpy.ndarray:
    """Gold tag id of each token of ``doc`` (-1 where missing or unknown to ``tags``)."""
    index = {tag: i for i, tag in enumerate(tags)}
    return numpy.array([index.get(t, -1) if t is not None else -1 for t in doc_to_bio(doc, missing=None)], dtype="int64")


def entity_confidences(
    data: TaggedData, temperature: float = 1.0
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Confidence and correctness of every entity the tagger predicts at ``temperature``.

    data (TaggedData): Logits and gold entities.
    temperature (float): Softmax temperature.
    RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): Confidences and 0/1 correctness.
    """
    conf: List[float] = []
    ok: List[bool] = []
    for logits, gold in zip(data.logits, data.gold_spans):
        if len(logits) == 0:
            continue
        _, ents = decode_bio(softmax(logits, temperature), data.tags, data.confidence)
        for start, end, label, score in ents:
            conf.append(score)
            ok.append((start, end, label) in gold)
    return numpy.array(conf, dtype="float64"), numpy.array(ok, dtype="bool")


def calibration_summary(data: TaggedData, temperature: float, n_bins: int = 10) -> Dict[str, Any]:
    """ECE and its ingredients at one temperature.

    RETURNS (Dict[str, Any]): ``temperature``, ``ece``, ``entities`` predicted,
        ``accuracy`` (share of them that are right), ``mean_confidence``,
        ``nll`` (mean token NLL of the gold tags), ``tokens``.
    """
    conf, ok = entity_confidences(data, temperature)
    logits, gold = data.token_arrays()
    return {
        "temperature": round(float(temperature), 6),
        "ece": expected_calibration_error(conf, ok, n_bins),
        "entities": int(len(conf)),
        "accuracy": float(ok.mean()) if len(ok) else 0.0,
        "mean_confidence": float(conf.mean()) if len(conf) else 0.0,
        "nll": nll(logits, gold, temperature) if len(gold) else 0.0,
        "tokens": int(len(gold)),
    }


def read_reference_docs(path: PathLike, vocab) -> List[Doc]:
    """The docs of a DocBin (``.spacy``) file."""
    from spacy.tokens import DocBin

    path = require_file(path, "DocBin (.spacy) file")
    try:
        return list(DocBin().from_disk(path).get_docs(vocab))
    except Exception as err:  # msgpack/zlib errors of a corrupt file
        raise NerbertError(f"not a readable DocBin ({err})", path) from None


def tagged_data(nlp, refs: Sequence[Doc]) -> TaggedData:
    """Run ``nlp``'s transformer and ``bio_tagger`` over the gold docs' own tokens.

    nlp (Language): A pipeline with a ``bio_tagger``.
    refs (Sequence[Doc]): Gold documents (``doc.ents``).
    RETURNS (TaggedData): Logits and gold annotation.
    """
    from .pipeline.bio_tagger import tag_scores

    words = [Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in refs]
    tagger, logits = tag_scores(nlp, words, logits=True)
    tags = tagger.tags
    known = set(tagger.labels)
    return TaggedData(
        logits=[numpy.asarray(lg, dtype="float64") for lg in logits],
        gold_tags=[gold_tag_ids(d, tags) for d in refs],
        gold_spans=[{(e.start, e.end, e.label_) for e in d.ents} for d in refs],
        tags=tags,
        confidence=tagger.cfg["confidence"],
        unknown_labels={e.label_ for d in refs for e in d.ents if e.label_ not in known},
    )


def calibrate_pipeline(
    pipeline: PathLike,
    dev_path: PathLike,
    output: Optional[PathLike] = None,
    *,
    eval_path: Optional[PathLike] = None,
    n_bins: int = 10,
) -> Dict[str, Any]:
    """Fit the ``bio_tagger``'s temperature on ``dev_path`` and save the pipeline with it.

    The temperature goes into the pipeline's ``config.cfg``
    (``[components.<bio_tagger>] temperature``), so ``spacy.load`` applies it.

    pipeline (str | Path): The saved pipeline (a folder).
    dev_path (str | Path): Gold DocBin to fit on.
    output (Optional[str | Path]): Where to save the calibrated pipeline
        (written atomically); default: replace ``pipeline``.
    eval_path (Optional[str | Path]): Another gold DocBin to report ECE on.
    n_bins (int): ECE bins.
    RETURNS (Dict[str, Any]): ``temperature``, ``output``, ``dev`` and (with
        ``eval_path``) ``eval``, each ``{"before": summary, "after": summary}``
        (see :func:`calibration_summary`; before = the pipeline's current temperature).
    """
    import spacy

    from .pipeline.callbacks import find_bio_tagger, load_pipeline
    from .util import atomic_dir

    source = Path(pipeline)
    target = Path(output) if output is not None else source
    if output is None and not source.is_dir():
        raise NerbertError("an installed package cannot be changed in place; give an output folder", source)
    nlp = load_pipeline(pipeline)
    tagger = find_bio_tagger(nlp, f"pipeline {pipeline}")
    current = tagger.temperature
    dev = tagged_data(nlp, read_reference_docs(dev_path, nlp.vocab))
    logits, gold = dev.token_arrays()
    if len(gold) == 0:
        raise NerbertError("no token has a gold tag the bio_tagger knows; nothing to fit on", dev_path)
    temperature = fit_temperature(logits, gold)
    report: Dict[str, Any] = {
        "temperature": round(temperature, 6),
        "previous_temperature": current,
        "output": str(target),
        "dev": _before_after(dev, current, temperature, n_bins),
    }
    if dev.unknown_labels:
        report["dev"]["unknown_labels"] = sorted(dev.unknown_labels)
    if eval_path is not None:
        test = tagged_data(nlp, read_reference_docs(eval_path, nlp.vocab))
        report["eval"] = _before_after(test, current, temperature, n_bins)
    name = next(n for n, proc in nlp.pipeline if proc is tagger)
    calibrated = spacy.load(pipeline, config={"components": {name: {"temperature": report["temperature"]}}})
    with atomic_dir(target) as tmp:
        calibrated.to_disk(tmp)
    return report


def _before_after(data: TaggedData, before: float, after: float, n_bins: int) -> Dict[str, Any]:
    return {"before": calibration_summary(data, before, n_bins), "after": calibration_summary(data, after, n_bins)}
