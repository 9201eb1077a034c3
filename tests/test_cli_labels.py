"""``nerbert labels``: map, show, list, zeroshot, infobox-types."""
import json

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span

from nerbert_spacy.cli import app

TTL = """
@prefix dbo: <http://dbpedia.org/ontology/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
dbo:Person a owl:Class .
dbo:Politician a owl:Class ; rdfs:subClassOf dbo:Person .
dbo:President a owl:Class ; rdfs:subClassOf dbo:Politician .
dbo:Scientist a owl:Class ; rdfs:subClassOf dbo:Person .
dbo:Place a owl:Class .
dbo:Country a owl:Class ; rdfs:subClassOf dbo:Place .
dbo:Work a owl:Class .
dbo:Film a owl:Class ; rdfs:subClassOf dbo:Work ; rdfs:label "movie"@en .
"""


@pytest.fixture
def files(tmp_path):
    onto = tmp_path / "onto.ttl"
    onto.write_text(TTL)
    labels = tmp_path / "pretrained.txt"
    labels.write_text("person\npolitician\npresident\nscientist\ncountry\nfilm\nENTITY\n")
    return tmp_path, onto, labels


def test_map_show(cli_runner, files):
    tmp, onto, labels = files
    out = tmp / "mapping.json"
    r = cli_runner.invoke(
        app, ["labels", "map", "politician", "person", "misc", "--pretrained", str(labels), "--ontology", str(onto),
              "--output", str(out)]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["target"]["politician"]["pretrained"] == ["politician", "president"]
    assert data["target"]["person"]["rule"]["scientist"] == "descendant"
    assert data["unmapped_target"] == ["misc"]
    assert data["unmapped_pretrained"] == ["country", "film"] and data["drop"] == ["ENTITY"]
    r = cli_runner.invoke(app, ["labels", "show", str(out)])
    assert r.exit_code == 0
    assert "descendant  president" in r.output
    assert "unmapped target labels (1): misc" in r.output
    assert "unmapped pretrained labels (2): country, film" in r.output


def test_map_with_overrides_and_from_data(cli_runner, files):
    tmp, onto, labels = files
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=["Obama", "in", "France", "saw", "X"])
    doc.ents = [Span(doc, 0, 1, "politician"), Span(doc, 2, 3, "country"), Span(doc, 4, 5, "misc")]
    DocBin(docs=[doc]).to_disk(tmp / "train.spacy")
    ov = tmp / "ov.yml"
    ov.write_text("map:\n  misc: [film]\ndrop: [ENTITY]\n")
    out = tmp / "m.json"
    r = cli_runner.invoke(
        app, ["labels", "map", "--from-data", str(tmp / "train.spacy"), "--pretrained", str(labels),
              "--ontology", str(onto), "--overrides", str(ov), "-o", str(out)]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert sorted(data["target"]) == ["country", "misc", "politician"]
    assert data["target"]["misc"]["rule"] == {"film": "override"}
    assert data["drop"] == ["ENTITY"]
    # an override naming a label that does not exist is an error unless --lenient
    ov.write_text("map:\n  misc: [flim]\n")
    args = ["labels", "map", "misc", "--pretrained", str(labels), "--overrides", str(ov), "-o", str(out)]
    r = cli_runner.invoke(app, args)
    assert r.exit_code == 1 and "error: " in r.output and "flim" in r.output and "Traceback" not in r.output
    r = cli_runner.invoke(app, args + ["--lenient"])
    assert r.exit_code == 0 and "override skipped" in r.output


def test_map_with_bundled_override(cli_runner, files):
    tmp, onto, labels = files
    r = cli_runner.invoke(
        app, ["labels", "map", "politician", "person", "organisation", "misc", "--pretrained", str(labels),
              "--overrides", "crossner-politics", "--lenient", "-o", str(tmp / "m.json")]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads((tmp / "m.json").read_text())["drop"] == ["ENTITY"]


def test_list_315(cli_runner):
    r = cli_runner.invoke(app, ["labels", "list", "315"])
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert len(lines) == 315 and "politicalparty" in lines
    r = cli_runner.invoke(app, ["labels", "list", "999"])
    assert r.exit_code == 1 and "unknown label set '999'" in r.output


def test_zeroshot(cli_runner, tmp_path, fake_pretrained):
    nlp = spacy.load(fake_pretrained)
    gold = Doc(nlp.vocab, words=["Obama", "met", "Curie", "in", "France", "for", "Inception"])
    gold.ents = [Span(gold, 0, 1, "politician"), Span(gold, 2, 3, "person"), Span(gold, 6, 7, "misc")]
    DocBin(docs=[gold]).to_disk(tmp_path / "test.spacy")
    (tmp_path / "m.json").write_text(json.dumps({"politician": ["president"], "person": ["scientist"]}))
    out = tmp_path / "result.json"
    args = ["labels", "zeroshot", str(fake_pretrained), str(tmp_path / "test.spacy"),
            "--mapping", str(tmp_path / "m.json"), "-o", str(out)]  # fmt: skip
    r = cli_runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert res["precision"] == pytest.approx(1.0) and res["recall"] == pytest.approx(2 / 3)
    r = cli_runner.invoke(app, args + ["--unmapped", "misc", "--save-pipeline", str(tmp_path / "zs")])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert res["recall"] == pytest.approx(1.0)  # the film became misc ...
    assert res["precision"] == pytest.approx(3 / 4)  # ... and so did France (country is unmapped)
    assert res["unmapped"] == "misc"
    assert spacy.load(tmp_path / "zs").pipe_names[-1] == "label_mapper"


@pytest.mark.slow
def test_end_to_end_zero_shot_with_a_real_bio_tagger(cli_runner, tiny_bert, tmp_path):
    """A tiny transformer + bio_tagger trained on 315-style types ('president', 'city'),
    mapped onto a target schema from its meta.json, evaluated zero-shot by the CLI."""
    from thinc.api import fix_random_seed

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config={"model": {
        "@architectures": "spacy-transformers.TransformerModel.v3", "name": str(tiny_bert),
        "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
        "tokenizer_config": {"use_fast": True}}})  # fmt: skip
    nlp.add_pipe("bio_tagger")
    from spacy.training import Example

    cities, people = ["Paris", "London", "Berlin", "York"], [("John", "Smith"), ("Paul", "Smith")]
    examples, gold_docs = [], []
    for i in range(24):
        words = ["the", "president", *people[i % 2], "was", "born", "in", cities[i % 4], "."]
        ref = Doc(nlp.vocab, words=words)
        ref.ents = [Span(ref, 2, 4, "president"), Span(ref, 7, 8, "city")]
        examples.append(Example(Doc(nlp.vocab, words=words), ref))
        gold = Doc(nlp.vocab, words=words)
        gold.ents = [Span(gold, 2, 4, "politician"), Span(gold, 7, 8, "location")]
        gold_docs.append(gold)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 2e-3
    for step in range(40):
        nlp.update([examples[(step * 8 + j) % 24] for j in range(8)], sgd=optimizer)
    nlp.to_disk(tmp_path / "pretrained")
    DocBin(docs=gold_docs[:8]).to_disk(tmp_path / "test.spacy")
    onto = tmp_path / "onto.ttl"
    onto.write_text(TTL + "dbo:PopulatedPlace a owl:Class ; rdfs:subClassOf dbo:Place .\n"
                    "dbo:City a owl:Class ; rdfs:subClassOf dbo:PopulatedPlace .\n")  # fmt: skip
    r = cli_runner.invoke(app, ["labels", "map", "politician", "location", "--pretrained", str(tmp_path / "pretrained"),
                                "--ontology", str(onto), "-o", str(tmp_path / "m.json")])  # fmt: skip
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["target"]["politician"]["rule"] == {"president": "descendant"}
    assert m["target"]["location"]["rule"] == {"city": "descendant"}
    r = cli_runner.invoke(app, ["labels", "zeroshot", str(tmp_path / "pretrained"), str(tmp_path / "test.spacy"),
                                "--mapping", str(tmp_path / "m.json"), "-o", str(tmp_path / "r.json")])  # fmt: skip
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "r.json").read_text())
    assert set(res["per_type"]) <= {"politician", "location"}
    assert res["f1"] > 0.5, res


def test_map_drops_entity_by_default_and_says_so(cli_runner, files):
    tmp, onto, labels = files
    out = tmp / "m.json"
    args = ["labels", "map", "person", "misc", "--pretrained", str(labels), "--ontology", str(onto), "-o", str(out)]
    r = cli_runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "dropped (1): ENTITY (anchors with no DBpedia type; --keep-entity keeps it)" in r.output
    assert json.loads(out.read_text())["drop"] == ["ENTITY"]
    r = cli_runner.invoke(app, args + ["--keep-entity"])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["drop"] == [] and "dropped" not in r.output
    r = cli_runner.invoke(app, args + ["--drop-entity"])
    assert json.loads(out.read_text())["drop"] == ["ENTITY"]


def test_map_lists_unmapped_with_candidates_and_the_override_file(cli_runner, files):
    tmp, onto, labels = files
    out = tmp / "wnut.json"
    r = cli_runner.invoke(
        app, ["labels", "map", "person", "movie", "creative-work", "presidents", "--pretrained", str(labels),
              "--ontology", str(onto), "-o", str(out)]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["target"]["movie"]["rule"] == {"film": "synonym"}  # dbo:Film's rdfs:label is "movie" here
    assert data["target"]["creative-work"]["pretrained"] == []  # dbo:Work holds only film, taken by movie
    assert "unmapped target labels (2): creative-work, presidents" in r.output
    assert "  presidents: closest pretrained labels: president (now person)" in r.output
    template = tmp / "wnut.overrides.json"
    assert f"edit {template} (pretrained labels under \"map\") and rerun with --overrides {template}" in r.output
    assert json.loads(template.read_text())["map"] == {"creative-work": [], "presidents": []}
    # an existing override file is never overwritten; the command names it
    template.write_text(json.dumps({"map": {"presidents": ["president"]}}))
    r = cli_runner.invoke(
        app, ["labels", "map", "person", "presidents", "--pretrained", str(labels), "--ontology", str(onto),
              "--overrides", str(template), "-o", str(out)]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["target"]["presidents"]["pretrained"] == ["president"]
    assert "unmapped target labels (0)" in r.output and "edit" not in r.output
    # a target declared intentionally_unmapped gets no candidates and no edit hint
    template.write_text(json.dumps({"map": {}, "intentionally_unmapped": ["presidents"]}))
    r = cli_runner.invoke(
        app, ["labels", "map", "person", "presidents", "--pretrained", str(labels), "--ontology", str(onto),
              "--overrides", str(template), "-o", str(out)]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert f"left unmapped on purpose (intentionally_unmapped in {template}): presidents" in r.output
    assert "closest pretrained labels" not in r.output and "edit" not in r.output
