"""Pure BIO helpers: tag inventories, conversions and constrained decoding.

The tag inventory of a ``bio_tagger`` with labels ``[L0, L1, ...]`` is
``["O", "B-L0", "I-L0", "B-L1", "I-L1", ...]``: tag 0 is ``O``, tag ``1 + 2k``
is ``B-Lk`` and tag ``2 + 2k`` is ``I-Lk``. Everything here works on plain
lists and numpy arrays, so it can be tested without a model.
"""
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy

OUTSIDE = "O"
NEG_INF = -1e30


def labels_to_tags(labels: Iterable[str]) -> List[str]:
    """The BIO tag inventory for a list of entity labels.

    labels (Iterable[str]): Entity labels, in the order the head uses.
    RETURNS (List[str]): ``["O", "B-L0", "I-L0", "B-L1", "I-L1", ...]``.
    """
    tags = [OUTSIDE]
    for label in labels:
        tags.append(f"B-{label}")
        tags.append(f"I-{label}")
    return tags


def tag_index(label_index: int, prefix: str) -> int:
    """Row of ``B-``/``I-`` of the label at ``label_index`` in the tag inventory."""
    if prefix == "B":
        return 1 + 2 * label_index
    if prefix == "I":
        return 2 + 2 * label_index
    raise ValueError(f"BIO prefix must be 'B' or 'I', not {prefix!r}")


def biluo_to_bio(tags: Sequence[Optional[str]]) -> List[Optional[str]]:
    """Convert BILUO tags (as from ``Example.get_aligned_ner``) to BIO.

    Missing values (``None`` or ``"-"``) stay ``None``.

    tags (Sequence[Optional[str]]): BILUO tags.
    RETURNS (List[Optional[str]]): BIO tags, ``None`` where the tag is missing.
    """
    out: List[Optional[str]] = []
    for tag in tags:
        if tag is None or tag == "-" or tag == "":
            out.append(None)
        elif tag == OUTSIDE:
            out.append(OUTSIDE)
        else:
            prefix, label = tag.split("-", 1)
            out.append(("B-" if prefix in ("B", "U") else "I-") + label)
    return out


def doc_to_bio(doc, missing: Optional[str] = OUTSIDE) -> List[Optional[str]]:
    """The BIO tags of a Doc's entity annotation (``doc.ents``).

    doc (Doc): The document.
    missing (Optional[str]): What tokens with no annotation become
        (``"O"`` by default, ``None`` to keep them missing).
    RETURNS (List[Optional[str]]): One tag per token.
    """
    tags: List[Optional[str]] = []
    for token in doc:
        iob = token.ent_iob_
        if iob in ("B", "I"):
            tags.append(f"{iob}-{token.ent_type_}")
        elif iob == "O":
            tags.append(OUTSIDE)
        else:
            tags.append(missing)
    return tags


def spans_from_tags(tags: Sequence[str]) -> List[Tuple[int, int, str]]:
    """Entity spans ``(start, end, label)`` (end exclusive) of a BIO sequence.

    Lenient like conlleval/seqeval: an ``I-X`` that does not continue an
    ``X`` entity starts a new one.

    tags (Sequence[str]): BIO tags.
    RETURNS (List[Tuple[int, int, str]]): The entities, in order.
    """
    spans: List[Tuple[int, int, str]] = []
    start: Optional[int] = None
    label: Optional[str] = None
    for i, tag in enumerate(tags):
        if tag is None or tag == OUTSIDE:
            if start is not None:
                spans.append((start, i, label))  # type: ignore[arg-type]
            start, label = None, None
            continue
        prefix, tag_label = tag.split("-", 1)
        if prefix == "I" and start is not None and tag_label == label:
            continue
        if start is not None:
            spans.append((start, i, label))  # type: ignore[arg-type]
        start, label = i, tag_label
    if start is not None:
        spans.append((start, len(tags), label))  # type: ignore[arg-type]
    return spans


def is_valid_bio(tags: Sequence[str]) -> bool:
    """Whether every ``I-X`` follows ``B-X`` or ``I-X``.

    tags (Sequence[str]): BIO tags.
    RETURNS (bool): True for a valid sequence.
    """
    prev = OUTSIDE
    for tag in tags:
        if tag.startswith("I-"):
            if prev == OUTSIDE or prev[2:] != tag[2:]:
                return False
        elif tag != OUTSIDE and not tag.startswith("B-"):
            return False
        prev = tag
    return True


def viterbi_bio(log_probs: numpy.ndarray) -> List[int]:
    """The highest-scoring VALID tag sequence under BIO constraints.

    Columns follow :func:`labels_to_tags` (0 = O, 1+2k = B-k, 2+2k = I-k).
    ``I-k`` may only follow ``B-k`` or ``I-k``, and never starts a sequence;
    every other transition is free, so the search is linear in the number
    of tags: O and B-* take the best previous tag, I-k the better of B-k/I-k.

    log_probs (numpy.ndarray): ``(n_tokens, n_tags)`` log-probabilities
        (any scores: the sum along the path is maximised).
    RETURNS (List[int]): The chosen tag index per token.
    """
    scores = numpy.asarray(log_probs, dtype="float64")
    n_tokens, n_tags = scores.shape if scores.ndim == 2 else (0, 0)
    if n_tokens == 0:
        return []
    if n_tags < 1 or n_tags % 2 != 1:
        raise ValueError(f"a BIO score matrix needs 1 + 2k columns, got {n_tags}")
    scores = numpy.where(numpy.isfinite(scores), scores, NEG_INF)
    b_cols = numpy.arange(1, n_tags, 2)
    i_cols = b_cols + 1
    backptr = numpy.zeros((n_tokens, n_tags), dtype="int64")
    delta = scores[0].copy()
    delta[i_cols] = NEG_INF
    for t in range(1, n_tokens):
        best_prev = int(delta.argmax())
        new = numpy.empty(n_tags, dtype="float64")
        new[0] = delta[best_prev]
        new[b_cols] = delta[best_prev]
        backptr[t, 0] = best_prev
        backptr[t, b_cols] = best_prev
        from_b = delta[b_cols]
        from_i = delta[i_cols]
        use_i = from_i > from_b
        new[i_cols] = numpy.where(use_i, from_i, from_b)
        backptr[t, i_cols] = numpy.where(use_i, i_cols, b_cols)
        delta = new + scores[t]
    path = [int(delta.argmax())]
    for t in range(n_tokens - 1, 0, -1):
        path.append(int(backptr[t, path[-1]]))
    path.reverse()
    return path


def decode_bio(
    probs: numpy.ndarray, tags: Sequence[str], confidence: str = "mean"
) -> Tuple[List[str], List[Tuple[int, int, str, float]]]:
    """Decode one document's tag probabilities into valid BIO and entities.

    probs (numpy.ndarray): ``(n_tokens, n_tags)`` probabilities.
    tags (Sequence[str]): The tag inventory (:func:`labels_to_tags`).
    confidence (str): ``"mean"`` or ``"min"`` of the chosen tags' probabilities
        over an entity's tokens.
    RETURNS (Tuple[List[str], List[Tuple[int, int, str, float]]]): The BIO
        tags and the entities ``(start, end, label, confidence)``.
    """
    if confidence not in ("mean", "min"):
        raise ValueError(f"confidence must be 'mean' or 'min', not {confidence!r}")
    probs = numpy.asarray(probs, dtype="float64")
    if probs.shape[0] == 0:
        return [], []
    path = viterbi_bio(numpy.log(numpy.clip(probs, 1e-12, None)))
    bio = [tags[i] for i in path]
    chosen = probs[numpy.arange(len(path)), path]
    ents = []
    for start, end, label in spans_from_tags(bio):
        values = chosen[start:end]
        score = float(values.mean() if confidence == "mean" else values.min())
        ents.append((start, end, label, score))
    return bio, ents
