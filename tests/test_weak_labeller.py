"""The dbpedia_labeller: gazetteer matching, typing, combination with a tagger, serialisation."""
import pytest
import spacy

from nerbert_spacy.corpus.gazetteer import (
    PRIORITY_BARE_TITLE,
    PRIORITY_REDIRECT,
    PRIORITY_TITLE,
    gazetteer_from_titles,
    read_gazetteer_file,
    title_to_names,
)
from nerbert_spacy.errors import NerbertError
from nerbert_spacy.pipeline.weak_labeller import GazetteerSource, ModelSource, combine

ENTRIES = [
    ("New York", "city"),
    ("New York City", "city"),
    ("New York Times", "newspaper"),
    ("Angela Merkel", "politician"),
    ("Merkel", "politician", PRIORITY_REDIRECT),
    ("The", "band"),  # a one-word stop word: ignored
    ("Paris", "city"),
    ("Paris", "band", PRIORITY_BARE_TITLE),  # from "Paris (band)": the city keeps the name
    ("X", "letter"),  # shorter than min_chars
]


@pytest.fixture()
def nlp():
    nlp = spacy.blank("en")
    labeller = nlp.add_pipe("dbpedia_labeller")
    labeller.add_entries(ENTRIES)
    return nlp


def _ents(doc):
    return [(e.text, e.label_) for e in doc.ents]


def test_longest_match_wins_and_case_sensitive(nlp):
    doc = nlp("The New York Times said New York City and new york differ from New York.")
    assert _ents(doc) == [("New York Times", "newspaper"), ("New York City", "city"), ("New York", "city")]
    assert [s.text for s in doc.spans["dbpedia_gazetteer"]] == ["New York Times", "New York City", "New York"]


def test_label_priority_title_over_bare_title_and_filters(nlp):
    labeller = nlp.get_pipe("dbpedia_labeller")
    g = labeller.gazetteer
    names = {n: (lab, p) for n, lab, p in g.entries()}
    assert names["Paris"] == ("city", PRIORITY_TITLE)
    assert "The" not in names and "X" not in names
    assert g.stats["skipped_stopword"] == 1 and g.stats["skipped_short"] == 1
    assert _ents(nlp("The band played in Paris")) == [("Paris", "city")]


def test_conflicting_labels_at_same_priority_counted():
    nlp = spacy.blank("en")
    g = GazetteerSource("g", nlp.make_doc, [("Georgia", "country"), ("Georgia", "state")])
    assert g.entries() == [("Georgia", "country", PRIORITY_TITLE)]
    assert g.stats["conflicts"] == 1


def test_combination_with_model_predictions():
    nlp = spacy.blank("en")
    labeller = nlp.add_pipe("dbpedia_labeller")
    labeller.add_entries([("Angela Merkel", "politician"), ("Berlin", "city"), ("Bonn", "city")])
    doc = nlp.make_doc("Angela Merkel left Berlin for Bonn")
    # a tagger's predictions with scores, as the bio_tagger writes them
    Span = spacy.tokens.Span
    doc.spans["bio_tagger"] = [Span(doc, 0, 2, "person"), Span(doc, 3, 4, "organisation"), Span(doc, 5, 6, "city")]
    doc.spans["bio_tagger"].attrs["scores"] = [0.9, 0.2, 0.8]
    doc = labeller(doc)
    # priority: the tagger first, the gazetteer where the tagger said nothing
    assert _ents(doc) == [("Angela Merkel", "person"), ("Berlin", "organisation"), ("Bonn", "city")]
    assert list(doc.spans["bio_tagger"].attrs["scores"]) == [0.9, 0.2, 0.8]  # untouched
    assert [s.text for s in doc.spans["dbpedia_labeller"]] == ["Angela Merkel", "Berlin", "Bonn"]
    # a score threshold drops the weak prediction: the gazetteer fills in
    labeller.model.min_score = 0.5
    doc.spans.pop("dbpedia_labeller")
    assert _ents(labeller(doc)) == [("Angela Merkel", "person"), ("Berlin", "city"), ("Bonn", "city")]


def test_majority_strategy():
    nlp = spacy.blank("en")
    doc = nlp("Angela Merkel met Obama")
    a = [spacy.tokens.Span(doc, 0, 2, "PER"), spacy.tokens.Span(doc, 3, 4, "ORG")]
    b = [spacy.tokens.Span(doc, 1, 2, "PER"), spacy.tokens.Span(doc, 3, 4, "PER")]
    c = [spacy.tokens.Span(doc, 1, 2, "PER"), spacy.tokens.Span(doc, 3, 4, "PER")]
    assert [(s.text, s.label_) for s in combine([("a", a), ("b", b), ("c", c)], "priority")] == [
        ("Angela Merkel", "PER"), ("Obama", "ORG")]
    assert [(s.text, s.label_) for s in combine([("a", a), ("b", b), ("c", c)], "majority")] == [
        ("Merkel", "PER"), ("Obama", "PER")]
    with pytest.raises(NerbertError, match="strategy"):
        combine([("a", a)], "vote")


def test_model_source_alone():
    nlp = spacy.blank("en")
    doc = nlp("Angela Merkel")
    assert ModelSource().find_spans(doc) == []
    doc.spans["bio_tagger"] = [spacy.tokens.Span(doc, 0, 2, "PER")]
    assert [s.text for s in ModelSource(min_score=0.9).find_spans(doc)] == ["Angela Merkel"]  # no scores: kept


def test_overwrite_ents_false_keeps_existing():
    nlp = spacy.blank("en")
    labeller = nlp.add_pipe("dbpedia_labeller", config={"overwrite_ents": False, "priority": ["dbpedia_gazetteer"]})
    labeller.add_entries([("Angela Merkel", "politician"), ("Berlin", "city")])
    doc = nlp.make_doc("Angela Merkel in Berlin")
    doc.ents = [spacy.tokens.Span(doc, 1, 2, "PER")]
    assert _ents(labeller(doc)) == [("Merkel", "PER"), ("Berlin", "city")]


def test_serialisation_roundtrip(nlp, tmp_path):
    nlp.to_disk(tmp_path / "p")
    nlp2 = spacy.load(tmp_path / "p")
    assert nlp2.get_pipe("dbpedia_labeller").gazetteer.entries() == nlp.get_pipe("dbpedia_labeller").gazetteer.entries()
    text = "Merkel read the New York Times in Paris"
    assert _ents(nlp2(text)) == _ents(nlp(text)) == [
        ("Merkel", "politician"), ("New York Times", "newspaper"), ("Paris", "city")]
    nlp3 = spacy.blank("en")
    nlp3.add_pipe("dbpedia_labeller").from_bytes(nlp.get_pipe("dbpedia_labeller").to_bytes())
    assert _ents(nlp3(text)) == _ents(nlp(text))


def test_initialize_from_jsonl_and_tsv(tmp_path):
    (tmp_path / "g.jsonl").write_text('{"name": "Angela Merkel", "label": "politician"}\n', encoding="utf8")
    (tmp_path / "g.tsv").write_text("# comment\nBerlin\tcity\nMerkel\tpolitician\t1\n", encoding="utf8")
    nlp = spacy.blank("en")
    labeller = nlp.add_pipe("dbpedia_labeller")
    labeller.initialize(gazetteer=tmp_path / "g.jsonl")
    labeller.initialize(gazetteer=tmp_path / "g.tsv")
    assert _ents(nlp("Angela Merkel in Berlin")) == [("Angela Merkel", "politician"), ("Berlin", "city")]
    assert ("Merkel", "politician", 1) in labeller.gazetteer.entries()


def test_initialize_through_nlp_initialize(tmp_path):
    (tmp_path / "g.tsv").write_text("Berlin\tcity\n", encoding="utf8")
    nlp = spacy.blank("en")
    nlp.add_pipe("dbpedia_labeller")
    nlp.config["initialize"]["components"]["dbpedia_labeller"] = {"gazetteer": str(tmp_path / "g.tsv")}
    nlp.initialize()
    assert _ents(nlp("to Berlin")) == [("Berlin", "city")]


def test_malformed_gazetteer_lines(tmp_path):
    (tmp_path / "g.tsv").write_text("Berlin\tcity\nBonn\n", encoding="utf8")
    with pytest.raises(NerbertError, match=r"g\.tsv \(line 2\)"):
        list(read_gazetteer_file(tmp_path / "g.tsv"))
    (tmp_path / "g.jsonl").write_text('{"name": "Berlin", "label": "city"}\n{"name": 3}\n', encoding="utf8")
    with pytest.raises(NerbertError, match=r"g\.jsonl \(line 2\)"):
        list(read_gazetteer_file(tmp_path / "g.jsonl"))


def test_titles_and_redirects_to_names():
    assert title_to_names("Paris_(band)") == [("Paris (band)", PRIORITY_TITLE), ("Paris", PRIORITY_BARE_TITLE)]
    entries = list(gazetteer_from_titles([("Angela_Merkel", "politician")], [("Merkel", "Angela_Merkel"), ("Foo", "Bar")]))
    assert entries == [("Angela Merkel", "politician", PRIORITY_TITLE), ("Merkel", "politician", PRIORITY_REDIRECT)]


def test_unknown_source_in_priority():
    nlp = spacy.blank("en")
    with pytest.raises(NerbertError, match="unknown labelling source"):
        nlp.add_pipe("dbpedia_labeller", config={"priority": ["wikidata"]})


def test_output_feeds_exporters(nlp, tmp_path):
    import json

    from nerbert_spacy.export import FORMATS

    doc = nlp("Angela Merkel visited Paris")
    FORMATS["prodigy"].write([doc], tmp_path / "p.jsonl", spans_key="dbpedia_gazetteer")
    task = json.loads((tmp_path / "p.jsonl").read_text(encoding="utf8"))
    assert [(s["start"], s["end"], s["label"]) for s in task["spans"]] == [(0, 13, "politician"), (22, 27, "city")]


ONTOLOGY_TTL = """@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix dbo: <http://dbpedia.org/ontology/> .
dbo:Agent a owl:Class .
dbo:Person a owl:Class ; rdfs:subClassOf dbo:Agent .
dbo:Politician a owl:Class ; rdfs:subClassOf dbo:Person .
dbo:Place a owl:Class .
dbo:PopulatedPlace a owl:Class ; rdfs:subClassOf dbo:Place .
dbo:Settlement a owl:Class ; rdfs:subClassOf dbo:PopulatedPlace .
dbo:City a owl:Class ; rdfs:subClassOf dbo:Settlement .
dbo:Band a owl:Class ; rdfs:subClassOf dbo:Agent .
dbo:Thing a owl:Class .
"""
_T = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
TYPES_NT = "".join(
    f"<http://dbpedia.org/resource/{s}> {_T} <http://dbpedia.org/ontology/{o}> .\n"
    for s, o in [("Angela_Merkel", "Politician"), ("Angela_Merkel", "Person"), ("Paris", "City"),
                 ("Paris_(band)", "Band"), ("Some_Thing", "Thing")]
)


@pytest.fixture()
def dbpedia_files(tmp_path):
    (tmp_path / "onto.ttl").write_text(ONTOLOGY_TTL, encoding="utf8")
    (tmp_path / "types.nt").write_text(TYPES_NT, encoding="utf8")
    (tmp_path / "redirects.tsv").write_text("Merkel\tAngela Merkel\nCity of Light\tParis\nNowhere\tNo page\n", encoding="utf8")
    return tmp_path


def test_gazetteer_from_dbpedia_types_ontology_label_set(dbpedia_files):
    from collections import Counter

    from nerbert_spacy.corpus.gazetteer import gazetteer_from_dbpedia

    stats = Counter()
    entries = list(gazetteer_from_dbpedia(dbpedia_files / "types.nt", dbpedia_files / "onto.ttl", "315",
                                          redirects=dbpedia_files / "redirects.tsv", stats=stats))
    assert sorted(entries) == sorted([
        ("Angela Merkel", "politician", PRIORITY_TITLE), ("Merkel", "politician", PRIORITY_REDIRECT),
        ("Paris", "city", PRIORITY_TITLE), ("City of Light", "city", PRIORITY_REDIRECT),
        ("Paris (band)", "band", PRIORITY_TITLE), ("Paris", "band", PRIORITY_BARE_TITLE)])
    assert stats == Counter(entities=4, typed=3, untyped=1, redirects=2)
    nlp = spacy.blank("en")
    nlp.add_pipe("dbpedia_labeller").initialize(types=dbpedia_files / "types.nt", ontology=dbpedia_files / "onto.ttl",
                                                 redirects=dbpedia_files / "redirects.tsv")
    assert _ents(nlp("Merkel in the City of Light, Paris")) == [
        ("Merkel", "politician"), ("City of Light", "city"), ("Paris", "city")]


def test_export_cli_with_dbpedia_types(dbpedia_files, cli_runner):
    import json

    from nerbert_spacy.cli import app

    (dbpedia_files / "new.jsonl").write_text('{"text": "Angela Merkel visited Paris", "id": "a"}\n', encoding="utf8")
    out = dbpedia_files / "out.jsonl"
    res = cli_runner.invoke(app, ["export", str(dbpedia_files / "new.jsonl"), "-f", "doccano", "-o", str(out),
                                  "--types", str(dbpedia_files / "types.nt"), "--ontology", str(dbpedia_files / "onto.ttl")])
    assert res.exit_code == 0, res.output
    rec = json.loads(out.read_text(encoding="utf8"))
    assert rec["label"] == [[0, 13, "politician"], [22, 27, "city"]] and rec["id"] == "a"


@pytest.mark.slow
def test_real_dbpedia_sample_gazetteer(shared_data):
    """The shared DBpedia sample (148,850 typed entities) typed with the 2016 ontology and 315 labels."""
    from collections import Counter

    from nerbert_spacy.corpus.gazetteer import gazetteer_from_dbpedia

    db = shared_data / "dbpedia"
    stats = Counter()
    entries = list(gazetteer_from_dbpedia(db / "instance-types-sample.nt.bz2", db / "dbpedia_2016-10.owl", "315", stats=stats))
    assert stats["entities"] == 148850 and stats["typed"] > 140000
    nlp = spacy.blank("en")
    labeller = nlp.add_pipe("dbpedia_labeller")
    labeller.add_entries(entries)
    doc = nlp("Angela Merkel met Barack Obama in Berlin and flew to New York City with Lufthansa.")
    assert _ents(doc) == [("Angela Merkel", "politician"), ("Barack Obama", "president"), ("Berlin", "city"),
                          ("New York City", "city"), ("Lufthansa", "airline")]
