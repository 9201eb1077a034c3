"""Shard I/O from token arrays: the same bytes as spaCy's DocBin.add, selections included."""

import catalogue
import pytest
from spacy.tokens import Doc, DocBin, Span
from spacy.vocab import Vocab
from srsly import _msgpack_api

from nerbert_spacy.corpus.annotate import ANCHORS_KEY, english_tokenizer, entity_labels
from nerbert_spacy.corpus.shards import (
    add_doc,
    doc_bin_of,
    entity_label_lists,
    fast_msgpack,
    load_docs,
    read_doc_bin,
    select_docs,
    write_docs,
)
from nerbert_spacy.errors import NerbertError


def corpus_docs():
    make_doc = english_tokenizer()
    docs = []
    texts = [
        "Victor Hugo was born in Paris, France in 1802.",
        "He didn't like the U.K. much; Jan. was cold.",
        "No entity here at all.",
        "Paris and Paris again met Acme Corp's board.",
    ]
    for n, text in enumerate(texts):
        doc = make_doc(text)
        spans = []
        if n == 0:
            spans = [Span(doc, 0, 2, label="writer", kb_id="Victor Hugo"), Span(doc, 5, 8, label="city", kb_id="Paris")]
            spans.append(Span(doc, 5, 6, label="ENTITY", kb_id="Paris (overlap)"))
        elif n == 3:
            spans = [Span(doc, 0, 1, label="city", kb_id="Paris"), Span(doc, 6, 8, label="company", kb_id="Acme Corp")]
        doc.spans[ANCHORS_KEY] = spans
        ents = [s for s in spans if s.kb_id_ != "Paris (overlap)"]
        doc.set_ents(ents, default="outside")
        doc.user_data["title"] = f"Page {n}"
        docs.append(doc)
    docs.append(Doc(make_doc.vocab, words=[]))
    return docs


def reference(docs):
    doc_bin = DocBin(store_user_data=True)
    for doc in docs:
        doc_bin.add(doc)
    return doc_bin


def test_add_doc_gives_docbin_add_bytes():
    docs = corpus_docs()
    fast = doc_bin_of(docs)
    assert fast.to_bytes() == reference(docs).to_bytes()
    assert fast.strings == reference(docs).strings


def test_add_doc_with_lemmas_falls_back_to_docbin_add():
    doc = Doc(Vocab(), words=["cats", "sat"], lemmas=["cat", "sit"])
    doc_bin = DocBin(store_user_data=True)
    add_doc(doc_bin, doc)
    assert "cat" in doc_bin.strings and doc_bin.to_bytes() == reference([doc]).to_bytes()


def test_select_docs_equals_adding_the_docs_read_back():
    docs = corpus_docs()
    raw = DocBin(store_user_data=True).from_bytes(doc_bin_of(docs).to_bytes())
    vocab = Vocab()
    read_back = list(raw.get_docs(vocab))
    for keep in ([0, 3], [1], [2, 4], [], [3, 0, 0]):
        expected = reference([read_back[i] for i in keep])
        got = select_docs(raw, keep)
        assert got.strings == expected.strings, keep
        assert got.to_bytes() == expected.to_bytes(), keep


def test_entity_label_lists_from_arrays():
    docs = corpus_docs()
    raw = DocBin(store_user_data=True).from_bytes(doc_bin_of(docs).to_bytes())
    assert entity_label_lists(raw) == [entity_labels(doc) for doc in docs]
    assert entity_label_lists(raw)[0] == ["writer", "city"]


def test_doc_bin_written_piece_by_piece_has_the_to_bytes_bytes(tmp_path):
    import io

    from nerbert_spacy.corpus.shards import write_doc_bin_file

    docs = corpus_docs() * 300  # a few zlib blocks
    for store_user_data in (True, False):
        doc_bin = DocBin(store_user_data=store_user_data)
        for doc in docs:
            add_doc(doc_bin, doc)
        for bins in (doc_bin, DocBin(store_user_data=store_user_data)):  # full and empty
            f = io.BytesIO()
            write_doc_bin_file(bins, f)
            assert f.getvalue() == bins.to_bytes()
    raw = DocBin(store_user_data=True).from_bytes(doc_bin_of(docs).to_bytes())
    selected = select_docs(raw, range(0, len(docs), 3))
    f = io.BytesIO()
    write_doc_bin_file(selected, f)
    assert f.getvalue() == selected.to_bytes()


def _msgpack_state():
    """What fast_msgpack may touch: srsly's two registries and catalogue's global registry."""
    registries = (_msgpack_api.msgpack_encoders, _msgpack_api.msgpack_decoders)
    return (
        [(r.entry_points, dict(r.__dict__), list(r.get_all().items())) for r in registries],
        {k: v for k, v in catalogue.REGISTRY.items() if k[:1] == ("srsly",)},
    )


def test_fast_msgpack_is_scoped_to_shard_io(tmp_path):
    docs = corpus_docs()
    before = _msgpack_state()
    with fast_msgpack():
        patched = _msgpack_state()
        assert all("get_all" in attrs for _, attrs, _ in patched[0])
        # the same encoders and decoders, in the same order, while patched
        assert [items for _, _, items in patched[0]] == [items for _, _, items in before[0]]
        assert write_docs(tmp_path / "a.spacy", docs) == len(docs)  # nested blocks share the patch
        assert all("get_all" in r.__dict__ for r in (_msgpack_api.msgpack_encoders, _msgpack_api.msgpack_decoders))
    assert _msgpack_state() == before
    back = list(load_docs(tmp_path / "a.spacy"))
    assert [d.user_data.get("title") for d in back] == [d.user_data.get("title") for d in docs]
    assert _msgpack_state() == before
    (tmp_path / "bad.spacy").write_bytes(b"not a DocBin")
    with pytest.raises(NerbertError, match=r"bad\.spacy"):
        read_doc_bin(tmp_path / "bad.spacy")
    assert _msgpack_state() == before
