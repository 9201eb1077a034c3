"""BIO helpers and constrained decoding (pure functions, no model)."""
import itertools

import numpy
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from spacy.tokens import Doc, Span

from nerbert_spacy.bio import (
    biluo_to_bio,
    decode_bio,
    doc_to_bio,
    is_valid_bio,
    labels_to_tags,
    spans_from_tags,
    tag_index,
    viterbi_bio,
)


def test_labels_to_tags_layout():
    tags = labels_to_tags(["LOC", "PER"])
    assert tags == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert tags[tag_index(1, "B")] == "B-PER"
    assert tags[tag_index(0, "I")] == "I-LOC"
    with pytest.raises(ValueError):
        tag_index(0, "L")


def test_spans_from_tags_lenient():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-PER", "B-ORG"]
    assert spans_from_tags(tags) == [(0, 2, "PER"), (3, 5, "LOC"), (5, 6, "LOC"), (6, 7, "PER"), (7, 8, "ORG")]
    assert spans_from_tags([]) == []
    assert spans_from_tags(["O", "O"]) == []


def test_is_valid_bio():
    assert is_valid_bio(["O", "B-X", "I-X", "B-Y", "I-Y", "O"])
    assert not is_valid_bio(["I-X"])
    assert not is_valid_bio(["O", "I-X"])
    assert not is_valid_bio(["B-X", "I-Y"])
    assert not is_valid_bio(["L-X"])


def test_biluo_to_bio_keeps_missing():
    assert biluo_to_bio(["U-PER", "B-LOC", "I-LOC", "L-LOC", "O", "-", None]) == [
        "B-PER",
        "B-LOC",
        "I-LOC",
        "I-LOC",
        "O",
        None,
        None,
    ]


def test_doc_to_bio():
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=["John", "Smith", "visited", "New", "York"])
    doc.ents = [Span(doc, 0, 2, "PER"), Span(doc, 3, 5, "LOC")]
    assert doc_to_bio(doc) == ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]
    unannotated = Doc(nlp.vocab, words=["a", "b"])
    assert doc_to_bio(unannotated) == ["O", "O"]
    assert doc_to_bio(unannotated, missing=None) == [None, None]


def _brute_force(log_probs):
    n, t = log_probs.shape
    tags = labels_to_tags([str(k) for k in range((t - 1) // 2)])
    best = -numpy.inf
    for path in itertools.product(range(t), repeat=n):
        if not is_valid_bio([tags[i] for i in path]):
            continue
        score = sum(log_probs[i, j] for i, j in enumerate(path))
        if score > best:
            best = score
    return best


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=4).flatmap(
        lambda n_labels: arrays(
            numpy.float64,
            st.tuples(st.integers(0, 30), st.just(1 + 2 * n_labels)),
            elements=st.floats(-50, 0, allow_nan=False),
        )
    )
)
def test_viterbi_never_emits_invalid_bio(log_probs):
    path = viterbi_bio(log_probs)
    assert len(path) == log_probs.shape[0]
    tags = labels_to_tags([f"L{k}" for k in range((log_probs.shape[1] - 1) // 2)])
    assert is_valid_bio([tags[i] for i in path])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=2).flatmap(
        lambda n_labels: arrays(
            numpy.float64,
            st.tuples(st.integers(1, 4), st.just(1 + 2 * n_labels)),
            elements=st.floats(-20, 0, allow_nan=False),
        )
    )
)
def test_viterbi_is_optimal_among_valid_paths(log_probs):
    path = viterbi_bio(log_probs)
    score = sum(log_probs[i, j] for i, j in enumerate(path))
    assert score == pytest.approx(_brute_force(log_probs))


def test_viterbi_repairs_invalid_argmax():
    tags = labels_to_tags(["LOC", "PER"])
    # argmax per token would be O, I-PER, I-PER: invalid
    probs = numpy.array(
        [
            [0.9, 0.02, 0.02, 0.04, 0.02],
            [0.1, 0.05, 0.05, 0.3, 0.5],
            [0.1, 0.05, 0.05, 0.1, 0.7],
        ]
    )
    bio, ents = decode_bio(probs, tags)
    assert bio == ["O", "B-PER", "I-PER"]
    assert [(s, e, label) for s, e, label, _ in ents] == [(1, 3, "PER")]
    assert ents[0][3] == pytest.approx((0.3 + 0.7) / 2)
    _, ents_min = decode_bio(probs, tags, confidence="min")
    assert ents_min[0][3] == pytest.approx(0.3)


def test_viterbi_keeps_valid_argmax_and_handles_edges():
    probs = numpy.array([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]])
    assert viterbi_bio(numpy.log(probs)) == [1, 2, 0]
    assert viterbi_bio(numpy.zeros((0, 3))) == []
    # -inf scores are tolerated
    with numpy.errstate(divide="ignore"):
        lp = numpy.log(numpy.array([[0.0, 1.0, 0.0]]))
    assert viterbi_bio(lp) == [1]
    with pytest.raises(ValueError):
        viterbi_bio(numpy.zeros((2, 4)))
    with pytest.raises(ValueError):
        decode_bio(probs, labels_to_tags(["X"]), confidence="max")
