"""The label_mapper component: collapsing pretrained types onto a target schema."""
import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.mapping import LabelMapping
from nerbert_spacy.pipeline.label_mapper import LabelMapper, evaluate_zero_shot, zero_shot_pipeline

HEAD = {"politician": ["politician", "president"], "person": ["scientist", "person"], "country": ["country"]}
WORDS = ["Obama", "met", "Curie", "in", "France", "and", "saw", "Inception", "."]


def _doc(nlp, ents=(("president", 0, 1), ("scientist", 2, 3), ("country", 4, 5), ("film", 7, 8))):
    doc = Doc(nlp.vocab, words=WORDS)
    doc.ents = [Span(doc, s, e, label=label) for label, s, e in ents]
    return doc


def _ents(doc):
    return [(e.text, e.label_) for e in doc.ents]


def test_drop_unmapped():
    nlp = spacy.blank("en")
    mapper = nlp.add_pipe("label_mapper", config={"mapping": HEAD})
    doc = mapper(_doc(nlp))
    assert _ents(doc) == [("Obama", "politician"), ("Curie", "person"), ("France", "country")]
    # the original predictions are kept
    assert [(s.text, s.label_) for s in doc.spans["pretrained"]] == [
        ("Obama", "president"),
        ("Curie", "scientist"),
        ("France", "country"),
        ("Inception", "film"),
    ]
    assert mapper.labels == ["politician", "person", "country"]


def test_unmapped_becomes_misc():
    nlp = spacy.blank("en")
    mapper = nlp.add_pipe("label_mapper", config={"mapping": HEAD, "unmapped": "misc"})
    doc = mapper(_doc(nlp))
    assert _ents(doc)[-1] == ("Inception", "misc")
    assert "misc" in mapper.labels


def test_dropped_labels_never_become_misc():
    nlp = spacy.blank("en")
    lm = LabelMapping.from_head_mapping(HEAD)
    lm.pretrained.append("film")
    lm.dropped.append("film")
    mapper = nlp.add_pipe("label_mapper", config={"unmapped": "misc"})
    mapper.set_mapping(lm)
    assert [label for _, label in _ents(mapper(_doc(nlp)))] == ["politician", "person", "country"]


def test_mapping_from_file_in_full_format(tmp_path):
    lm = LabelMapping.from_head_mapping(HEAD, rule="exact")
    path = tmp_path / "m.json"
    lm.save(path)
    nlp = spacy.blank("en")
    nlp.add_pipe("label_mapper", config={"mapping": str(path), "spans_key": "orig"})
    doc = nlp(" ".join(WORDS))  # blank pipeline: no ents, nothing to map
    assert list(doc.ents) == [] and len(doc.spans["orig"]) == 0
    doc = nlp.get_pipe("label_mapper")(_doc(nlp))
    assert _ents(doc)[0] == ("Obama", "politician")


def test_serialization_round_trip(tmp_path):
    nlp = spacy.blank("en")
    mapper = nlp.add_pipe("label_mapper", config={"unmapped": "misc"})
    mapper.set_mapping(HEAD)
    nlp.to_disk(tmp_path / "pipe")
    nlp2 = spacy.load(tmp_path / "pipe")
    m2 = nlp2.get_pipe("label_mapper")
    assert m2.unmapped == "misc"
    assert m2.mapping.to_head_mapping() == HEAD
    assert _ents(m2(_doc(nlp2)))[-1] == ("Inception", "misc")
    # bytes round trip
    m3 = LabelMapper(nlp.vocab).from_bytes(mapper.to_bytes())
    assert m3.mapping.to_collapse_map() == mapper.mapping.to_collapse_map() and m3.unmapped == "misc"


def test_saved_pipeline_does_not_need_the_original_mapping_file(tmp_path):
    path = tmp_path / "m.json"
    LabelMapping.from_head_mapping(HEAD).save(path)
    nlp = spacy.blank("en")
    nlp.add_pipe("label_mapper", config={"mapping": str(path)})
    nlp.to_disk(tmp_path / "pipe")
    path.unlink()
    nlp2 = spacy.load(tmp_path / "pipe")
    assert _ents(nlp2.get_pipe("label_mapper")(_doc(nlp2)))[0] == ("Obama", "politician")


def test_missing_mapping_is_a_clear_error(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("label_mapper", config={"mapping": str(tmp_path / "nope.json")})
    with pytest.raises(NerbertError, match="nope.json"):
        nlp("Obama")
    nlp = spacy.blank("en")
    nlp.add_pipe("label_mapper")
    with pytest.raises(NerbertError, match="no mapping"):
        nlp("Obama")


def test_bad_mapping_rejected():
    nlp = spacy.blank("en")
    with pytest.raises(NerbertError, match="both"):
        nlp.add_pipe("label_mapper", config={"mapping": {"a": ["x"], "b": ["x"]}})


def test_zero_shot_pipeline_and_evaluation(tmp_path, fake_pretrained):
    nlp = spacy.load(fake_pretrained)
    gold = Doc(nlp.vocab, words=WORDS)
    gold.ents = [Span(gold, 0, 1, "politician"), Span(gold, 2, 3, "person"), Span(gold, 4, 5, "location")]
    DocBin(docs=[gold]).to_disk(tmp_path / "test.spacy")

    zs = zero_shot_pipeline(fake_pretrained, HEAD, unmapped="drop")
    assert zs.pipe_names[-1] == "label_mapper"
    result = evaluate_zero_shot(zs, tmp_path / "test.spacy")
    # 3 predicted (politician, person, country), 3 gold, 2 correct
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["per_type"]["politician"]["f1"] == pytest.approx(1.0)

    zs_misc = zero_shot_pipeline(fake_pretrained, HEAD, unmapped="misc")
    r2 = evaluate_zero_shot(zs_misc, tmp_path / "test.spacy")
    assert r2["precision"] == pytest.approx(2 / 4)  # the film became a (wrong) misc

    with pytest.raises(NerbertError, match="none of the labels"):
        zero_shot_pipeline(fake_pretrained, {"x": ["album"]})
