"""Paragraph + anchors -> sentence Docs: alignment, typing, spans, counts."""

import re
from dataclasses import dataclass

import pytest

from nerbert_spacy.corpus.annotate import (
    ANCHORS_KEY,
    AnchorTyper,
    AnnotateStats,
    Annotator,
    english_tokenizer,
    entity_labels,
)


@dataclass
class A:  # the shape of nerbert_spacy.wikipedia.wikitext.Anchor
    start: int
    end: int
    target: str
    text: str = ""


class FakeIndex:
    redirects = {"Paris, France": "Paris", "Loop A": "Loop B", "Loop B": "Loop A"}
    types = {
        "Paris": ["City", "Settlement", "PopulatedPlace", "Place"],
        "Victor Hugo": ["Writer", "Person"],
        "Moss": ["Plant"],
    }

    def __init__(self):
        self.lookups = 0

    def resolve(self, title):
        seen = set()
        while title in self.redirects and title not in seen:
            seen.add(title)
            title = self.redirects[title]
        return title

    def classes(self, title):
        self.lookups += 1
        return list(self.types.get(self.resolve(title), []))


class FakeLabels:
    known = {"City": "city", "Writer": "writer", "Person": "person"}

    def label_for(self, classes):
        for c in classes:
            if c in self.known:
                return self.known[c]
        return "ENTITY"


def split_on_period(text, anchors):
    out, start = [], 0
    for m in re.finditer(r"\.\s+", text):
        out.append((start, m.end()))
        start = m.end()
    if start < len(text):
        out.append((start, len(text)))
    return out


@pytest.fixture(scope="module")
def tokenizer():
    return english_tokenizer()


def make(tokenizer, **kwargs):
    index = FakeIndex()
    return Annotator(tokenizer, AnchorTyper(index, FakeLabels()), split_on_period, **kwargs), index


def anchors_for(text, *pairs):
    out = []
    for surface, target in pairs:
        i = text.index(surface)
        out.append(A(i, i + len(surface), target, surface))
    return out


def test_sentences_entities_labels_and_kb_ids(tokenizer):
    ann, _ = make(tokenizer)
    text = "Victor Hugo lived in Paris. He wrote books. Moss grows on the Acme Corp roof."
    anchors = anchors_for(
        text,
        ("Victor Hugo", "Victor Hugo"),
        ("Paris", "Paris, France"),
        ("Moss", "Moss"),
        ("Acme Corp", "Acme Corp"),
    )
    stats = AnnotateStats()
    docs = ann(text, anchors, stats, title="Victor Hugo")
    assert [d.text for d in docs] == ["Victor Hugo lived in Paris.", "Moss grows on the Acme Corp roof."]
    ents = [(e.text, e.label_, e.kb_id_) for e in docs[0].ents]
    assert ents == [("Victor Hugo", "writer", "Victor Hugo"), ("Paris", "city", "Paris")]  # redirect resolved
    # Moss has a class outside the label set -> ENTITY, untyped Acme Corp -> ENTITY
    assert entity_labels(docs[1]) == ["ENTITY", "ENTITY"]
    assert [s.kb_id_ for s in docs[1].spans[ANCHORS_KEY]] == ["Moss", "Acme Corp"]
    assert docs[0].user_data["title"] == "Victor Hugo"
    # tokens outside entities are O, not missing
    assert docs[0][2].ent_iob_ == "O"
    assert stats.sentences == 3 and stats.sentences_without_entities == 1
    assert stats.anchors == 4 and stats.aligned == 4 and stats.unaligned == 0
    assert stats.typed == 3 and stats.untyped == 1
    assert stats.labelled == 2 and stats.entity == 2
    assert dict(stats.categories) == {"writer": 1, "city": 1, "ENTITY": 2}
    assert stats.to_dict()["categories"] == {"ENTITY": 2, "city": 1, "writer": 1}


def test_unaligned_anchor_counted_not_silently_dropped(tokenizer):
    text = "The U.S.-based firm hired Ann."
    i = text.index("U.S.")
    anchors = [A(i, i + 4, "United States"), A(text.index("Ann"), text.index("Ann") + 3, "Victor Hugo")]
    ann, _ = make(tokenizer)
    stats = AnnotateStats()
    docs = ann(text, anchors, stats)
    assert [e.text for e in docs[0].ents] == ["Ann"]
    assert stats.unaligned == 1 and stats.expanded == 0 and stats.aligned == 1
    # the expand fallback keeps it, widened to the covering token, and counts it separately
    ann, _ = make(tokenizer, expand_unaligned=True)
    stats = AnnotateStats()
    docs = ann(text, anchors, stats)
    assert [e.text for e in docs[0].ents] == ["U.S.-based", "Ann"]
    assert stats.unaligned == 1 and stats.expanded == 1 and stats.aligned == 2


def test_link_trail_and_whitespace_inside_anchor(tokenizer):
    text = "Two dogs and  cats ran."
    d = text.index("dogs")
    c = text.index("cats")
    anchors = [A(d, d + 4, "Dog"), A(c - 1, c + 4, "Cat")]  # " cats" with a leading space
    ann, _ = make(tokenizer)
    stats = AnnotateStats()
    (doc,) = ann(text, anchors, stats)
    assert [e.text for e in doc.ents] == ["dogs", "cats"]
    assert stats.unaligned == 0


def test_empty_and_outside_anchors(tokenizer):
    text = "Alpha beta.   Gamma delta."
    ann, _ = make(tokenizer)
    stats = AnnotateStats()
    anchors = [A(11, 13, "Blank"), A(0, 5, "Alpha"), A(20, 40, "Beyond")]
    docs = ann(text, anchors, stats)
    assert [e.text for d in docs for e in d.ents] == ["Alpha"]
    assert stats.empty_anchors == 1
    assert stats.outside_sentences == 1 and stats.unaligned == 1
    assert stats.anchors == 3


def test_keep_empty_sentences(tokenizer):
    ann, _ = make(tokenizer, keep_empty=True)
    stats = AnnotateStats()
    docs = ann("No links here. None at all.", [], stats)
    assert len(docs) == 2 and not any(d.ents for d in docs)
    assert stats.sentences_without_entities == 2


def test_overlapping_spans_keep_one_in_ents_all_in_span_group(tokenizer):
    text = "New York City is big."
    ann, _ = make(tokenizer)
    stats = AnnotateStats()
    (doc,) = ann(text, [A(0, 13, "New York City"), A(4, 8, "York")], stats)
    assert [e.text for e in doc.ents] == ["New York City"]
    assert len(doc.spans[ANCHORS_KEY]) == 2
    assert stats.overlapping == 1


def test_typer_caches_and_handles_redirect_cycles():
    index = FakeIndex()
    typer = AnchorTyper(index, FakeLabels())
    assert typer("Paris, France") == ("city", "Paris", True)
    assert typer("Paris, France") == ("city", "Paris", True)
    assert index.lookups == 1
    label, resolved, typed = typer("Loop A")
    assert label == "ENTITY" and not typed and resolved in {"Loop A", "Loop B"}


def test_english_tokenizer_matches_blank_english(tokenizer):
    # same tokens as spacy.blank("en") (spaCy's own tokenizer factory and English defaults)
    doc = tokenizer("Don't split U.K.-based e.g. http://example.org pages (1990-2000).")
    assert [t.text for t in doc] == [
        "Do",
        "n't",
        "split",
        "U.K.-based",
        "e.g.",
        "http://example.org",
        "pages",
        "(",
        "1990",
        "-",
        "2000",
        ")",
        ".",
    ]
    assert doc.lang_ == "en"


@pytest.mark.parametrize("expand", [False, True])
def test_rows_added_directly_equal_the_docs_added(tokenizer, expand):
    """``Annotator.add_to`` writes the DocBin rows of the Docs ``Annotator.__call__`` returns,
    for sentences taken from the paragraph's tokens and for sentences tokenised on their own."""
    from spacy.tokens import DocBin

    from nerbert_spacy.corpus.annotate import default_splitter
    from nerbert_spacy.corpus.shards import doc_bin_of

    text = (
        "Victor Hugo was born in Paris, France. He met Paris and Victor Hugo again.Then Moss grew "
        "near [Paris]. Nothing linked here. Loop A is odd, and Victor Hugo's house too."
    )
    pairs = [("Victor Hugo", "Victor Hugo"), ("Paris, France", "Paris, France"), ("Paris", "Paris"),
             ("Moss", "Moss"), ("Loop A", "Loop A"), ("Hugo's hou", "Victor Hugo"), ("France. He", "France")]
    anchors = []
    for span, target in pairs:
        for m in re.finditer(re.escape(span), text):
            anchors.append(A(m.start(), m.end(), target, span))
    annotator = Annotator(tokenizer, AnchorTyper(FakeIndex(), FakeLabels()), default_splitter("spacy"), expand_unaligned=expand)
    s1, s2 = AnnotateStats(), AnnotateStats()
    docs = annotator(text, anchors, s1, title="T")
    rows = DocBin(store_user_data=True)
    assert annotator.add_to(rows, text, anchors, s2, title="T") == len(docs) >= 3
    assert s1 == s2
    assert rows.to_bytes() == doc_bin_of(docs).to_bytes()
    assert any(len(d.spans[ANCHORS_KEY]) > len(d.ents) for d in docs)  # an overlap was resolved


def test_typer_prefetch_gives_the_same_answers(tmp_path):
    from nerbert_spacy.dbpedia.types import TypeIndex

    rdf = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    types = tmp_path / "t.nt"
    types.write_text(f"<http://dbpedia.org/resource/Paris> {rdf} <http://dbpedia.org/ontology/City> .\n")
    index = TypeIndex.build([types], tmp_path / "i.sqlite", redirects={"Paris, France": "Paris", "A": "B", "B": "A"})
    targets = ["Paris", "Paris, France", "A", "B", "Nowhere"]
    one = AnchorTyper(index, FakeLabels())
    many = AnchorTyper(index, FakeLabels())
    many.prefetch(targets)
    assert len(many._cache) == len(targets)
    assert [many(t) for t in targets] == [one(t) for t in targets]
    assert one("Paris, France") == ("city", "Paris", True)
