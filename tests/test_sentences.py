"""Sentence splitting: no download, anchors never split, spaCy and pysbd splitters."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.wikipedia.sentences import merge_across_anchors, split_sentences
from nerbert_spacy.wikipedia.wikitext import Anchor


def anchor(text, span):
    start = text.index(span)
    return Anchor(start, start + len(span), span, span)


try:
    import pysbd  # noqa: F401

    HAS_PYSBD = True
except ImportError:  # pysbd is the optional extra [pysbd] (also in [test])
    HAS_PYSBD = False

SPLITTERS = [
    "spacy",
    pytest.param("pysbd", marks=pytest.mark.skipif(not HAS_PYSBD, reason="optional extra pysbd not installed")),
]

TEXT = "Paris is the capital of France. It has 2 million people!  Dr. Smith lives in the U.S. today."


@pytest.mark.parametrize("splitter", SPLITTERS)
def test_split_plain(splitter):
    sents = split_sentences(TEXT, [], splitter=splitter)
    got = [TEXT[s:e] for s, e in sents]
    assert got[0] == "Paris is the capital of France."
    assert got[1] == "It has 2 million people!"
    assert "Dr. Smith" in got[-1]  # the abbreviation does not end a sentence
    assert all(t == t.strip() for t in got)


@pytest.mark.parametrize("splitter", SPLITTERS)
def test_anchor_across_boundary_merges_sentences(splitter):
    text = "He loved the band Sunn O))). Live. They played in Rome."
    plain = split_sentences(text, [], splitter="spacy")
    a = anchor(text, "O))). Live")
    merged = split_sentences(text, [a], splitter=splitter)
    for s, e in merged:
        assert not (s < a.end and a.start < e) or (s <= a.start and a.end <= e)
    assert any(s <= a.start and a.end <= e for s, e in merged)
    assert len(merged) < len(plain) or splitter == "pysbd"


def test_merge_across_anchors():
    text = "Aaa. Bbb. Ccc. Ddd."
    sents = [(0, 4), (5, 9), (10, 14), (15, 19)]
    assert merge_across_anchors(sents, []) == sents
    assert merge_across_anchors(sents, [Anchor(2, 7, "X", text[2:7])]) == [(0, 9), (10, 14), (15, 19)]
    assert merge_across_anchors(sents, [Anchor(2, 17, "X", text[2:17])]) == [(0, 19)]
    assert merge_across_anchors(sents, [Anchor(10, 14, "X", "Ccc.")]) == sents


def test_empty_and_unknown_splitter():
    assert split_sentences("   ", []) == []
    with pytest.raises(NerbertError, match="unknown sentence splitter 'punkt'.*spacy, pysbd"):
        split_sentences("A.", [], splitter="punkt")


WORDS = st.sampled_from(["The", "cat", "sat.", "Dr.", "Who", "went", "home!", "U.S.", "e.g.", "x?", "Yes.", "(a)"])


@settings(max_examples=60, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=30), st.data())
def test_no_boundary_inside_any_anchor(words, data):
    text = " ".join(words)
    # anchors over random word ranges, non-overlapping
    starts, pos = [], 0
    for w in words:
        starts.append(pos)
        pos += len(w) + 1
    anchors = []
    i = 0
    while i < len(words):
        n = data.draw(st.integers(0, 3))
        if n and i + n <= len(words):
            s, e = starts[i], starts[i + n - 1] + len(words[i + n - 1])
            anchors.append(Anchor(s, e, "T", text[s:e]))
            i += n
        else:
            i += 1
    sents = split_sentences(text, anchors)
    assert sents == sorted(sents) and all(s < e for s, e in sents)
    for a in anchors:
        assert any(s <= a.start and a.end <= e for s, e in sents), (text, a, sents)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["Dr.", "Smith", "went", ".", "!", "?", "...", ")", "(", '"', "U.S.", "x", "。", ";", "-"]), max_size=25))
def test_sentence_starts_match_spacys_sentencizer(words):
    """The array version gives the starts of spaCy's Sentencizer component, token for token."""
    from spacy.pipeline import Sentencizer

    from nerbert_spacy.wikipedia.sentences import _shared_tokenizer, sentence_starts

    doc = _shared_tokenizer()(" ".join(words))
    expected = [i for i, first in enumerate(Sentencizer().predict([doc])[0]) if first]
    assert sentence_starts(doc) == expected


def test_split_with_the_paragraph_doc_equals_the_blank_pipeline():
    from nerbert_spacy.wikipedia.sentences import english_tokenizer, get_sentencizer_nlp

    text = 'He said "Go!" and left. (It rained.) Dr. No met U.S. officials... Then? Yes!Next. 3.5 m. End'
    doc = get_sentencizer_nlp()(text)
    expected = [(s.start_char, s.end_char) for s in doc.sents]
    assert split_sentences(text, []) == expected
    assert split_sentences(text, [], doc=english_tokenizer()(text)) == expected
