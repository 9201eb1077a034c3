"""Mapping a target schema onto pretrained labels: exact, descendant, ancestor, override."""
import json

import pytest

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.mapping import (
    LabelMapping,
    build_mapping,
    bundled_mapping_path,
    load_head_mapping,
    read_label_file,
    read_pretrained_labels,
)

TTL = """
@prefix dbo: <http://dbpedia.org/ontology/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

dbo:Agent a owl:Class ; rdfs:subClassOf owl:Thing .
dbo:Person a owl:Class ; rdfs:subClassOf dbo:Agent ; rdfs:label "person"@en .
dbo:Politician a owl:Class ; rdfs:subClassOf dbo:Person .
dbo:President a owl:Class ; rdfs:subClassOf dbo:Politician .
dbo:Senator a owl:Class ; rdfs:subClassOf dbo:Politician .
dbo:Scientist a owl:Class ; rdfs:subClassOf dbo:Person .
dbo:Writer a owl:Class ; rdfs:subClassOf dbo:Person .
dbo:Organisation a owl:Class ; rdfs:subClassOf dbo:Agent .
dbo:PoliticalParty a owl:Class ; rdfs:subClassOf dbo:Organisation .
dbo:Company a owl:Class ; rdfs:subClassOf dbo:Organisation .
dbo:Event a owl:Class ; rdfs:subClassOf owl:Thing .
dbo:SocietalEvent a owl:Class ; rdfs:subClassOf dbo:Event .
dbo:Election a owl:Class ; rdfs:subClassOf dbo:SocietalEvent .
dbo:AcademicConference a owl:Class ; rdfs:subClassOf dbo:SocietalEvent .
dbo:Place a owl:Class ; rdfs:subClassOf owl:Thing .
dbo:PopulatedPlace a owl:Class ; rdfs:subClassOf dbo:Place .
dbo:Country a owl:Class ; rdfs:subClassOf dbo:PopulatedPlace .
dbo:City a owl:Class ; rdfs:subClassOf dbo:PopulatedPlace .
dbo:Work a owl:Class ; rdfs:subClassOf owl:Thing .
dbo:Film a owl:Class ; rdfs:subClassOf dbo:Work .
"""

PRETRAINED = [
    "person", "politician", "president", "senator", "scientist", "writer",
    "organisation", "politicalparty", "company", "event", "election",
    "country", "city", "location", "film", "ENTITY",
]  # fmt: skip


@pytest.fixture(scope="module")
def onto(tmp_path_factory):
    from nerbert_spacy.dbpedia.ontology import Ontology

    path = tmp_path_factory.mktemp("onto") / "mini.ttl"
    path.write_text(TTL, encoding="utf8")
    return Ontology.load(path)


def test_exact_with_normalisation_and_aliases(onto):
    m = build_mapping(["Political party", "Organization", "PERSON"], PRETRAINED, onto)
    assert m.pairs["Political party"]["politicalparty"] == "exact"
    assert m.pairs["Organization"]["organisation"] == "exact"
    assert m.pairs["PERSON"]["person"] == "exact"


def test_descendants_go_to_the_most_specific_target(onto):
    targets = ["politician", "person", "organisation", "politicalparty", "event", "election", "country", "location", "misc"]
    m = build_mapping(targets, PRETRAINED, onto)
    head = m.to_head_mapping()
    assert head["politician"] == ["politician", "president", "senator"]
    assert head["person"] == ["person", "scientist", "writer"]  # not politician's descendants
    assert head["organisation"] == ["organisation", "company"]
    assert head["politicalparty"] == ["politicalparty"]
    assert head["event"] == ["event"] and head["election"] == ["election"]
    # "location" is no ontology class; its class alias dbo:Place collects the places not claimed
    assert head["location"] == ["location", "city"]
    assert head["country"] == ["country"]
    assert m.pairs["politician"]["president"] == "descendant"
    assert m.unmapped_target == ["misc"]
    assert m.unmapped_pretrained == ["film"] and m.dropped == ["ENTITY"]
    # one target per pretrained label
    collapse = m.to_collapse_map()
    assert len(collapse) == sum(len(v) for v in head.values())
    assert collapse["senator"] == "politician" and collapse["scientist"] == "person"


def test_ancestor_for_a_target_class_without_pretrained_counterpart(onto):
    m = build_mapping(["academicconference", "person"], PRETRAINED, onto)
    # AcademicConference -> SocietalEvent -> Event: nearest pretrained ancestor is "event"
    assert m.pairs["academicconference"] == {"event": "ancestor"}
    # an ancestor already held by another target is not taken
    m2 = build_mapping(["academicconference", "event"], PRETRAINED, onto)
    assert m2.pairs["academicconference"] == {}
    assert "academicconference" in m2.unmapped_target
    assert any("academicconference" in n for n in m2.notes)


def test_override_has_the_last_word(onto, tmp_path):
    targets = ["politician", "person", "misc"]
    ov = tmp_path / "ov.json"
    ov.write_text(json.dumps({"map": {"misc": ["film", "ENTITY"], "person": ["president"]}, "unmap": ["senator"]}))
    m = build_mapping(targets, PRETRAINED, onto, ov)
    assert m.pairs["misc"] == {"film": "override", "ENTITY": "override"}
    assert m.target_of("president") == "person" and m.pairs["person"]["president"] == "override"
    assert "president" not in m.pairs["politician"]
    assert m.target_of("senator") is None and "senator" in m.unmapped_pretrained
    # replace: the target keeps only what the override lists
    ov.write_text(json.dumps({"map": {"person": {"pretrained": ["writer"], "replace": True}}}))
    m = build_mapping(targets, PRETRAINED, onto, ov)
    assert m.to_head_mapping()["person"] == ["writer"]
    # a pair the rules already made keeps its rule when an override restates it
    ov.write_text(json.dumps({"politician": ["politician"]}))
    m = build_mapping(targets, PRETRAINED, onto, ov)
    assert m.pairs["politician"]["politician"] == "exact"


def test_override_yaml_and_errors(onto, tmp_path):
    ov = tmp_path / "ov.yml"
    ov.write_text("map:\n  misc: [film]\n")
    assert build_mapping(["misc"], PRETRAINED, onto, ov).pairs["misc"] == {"film": "override"}
    ov.write_text("map:\n  misc: [flim]\n")
    with pytest.raises(NerbertError, match="flim"):
        build_mapping(["misc"], PRETRAINED, onto, ov)
    m = build_mapping(["misc"], PRETRAINED, onto, ov, strict=False)
    assert m.pairs["misc"] == {} and any("flim" in n for n in m.notes)
    ov.write_text("map:\n  nosuchtarget: [film]\n")
    with pytest.raises(NerbertError, match="nosuchtarget"):
        build_mapping(["misc"], PRETRAINED, onto, ov)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(NerbertError, match="bad.json"):
        build_mapping(["misc"], PRETRAINED, onto, bad)


def test_save_load_round_trip_and_hand_edit(onto, tmp_path):
    m = build_mapping(["politician", "person", "misc"], PRETRAINED, onto)
    path = tmp_path / "mapping.json"
    m.save(path)
    data = json.loads(path.read_text())
    assert data["target"]["politician"]["pretrained"] == ["politician", "president", "senator"]
    assert data["target"]["politician"]["rule"]["president"] == "descendant"
    assert data["target"]["politician"]["class"] == "Politician"
    assert data["unmapped_target"] == ["misc"]
    assert "film" in data["unmapped_pretrained"]
    back = LabelMapping.load(path)
    assert back.to_head_mapping() == m.to_head_mapping()
    assert back.pairs == m.pairs and back.unmapped_pretrained == m.unmapped_pretrained
    # a user adds a label by hand: it loads with rule "override"
    data["target"]["misc"]["pretrained"].append("film")
    path.write_text(json.dumps(data))
    edited = LabelMapping.load(path)
    assert edited.pairs["misc"] == {"film": "override"}
    assert "film" not in edited.unmapped_pretrained
    # the edited file also works as an override file for a rebuild (replace semantics)
    rebuilt = build_mapping(["politician", "person", "misc"], PRETRAINED, onto, path)
    assert rebuilt.to_head_mapping() == edited.to_head_mapping()
    # a label in two targets is refused
    data["target"]["person"]["pretrained"].append("film")
    path.write_text(json.dumps(data))
    with pytest.raises(NerbertError, match="film"):
        LabelMapping.load(path)


def test_head_mapping_forms(onto, tmp_path):
    m = build_mapping(["politician", "misc"], PRETRAINED, onto)
    p = tmp_path / "m.json"
    m.save(p)
    assert load_head_mapping(p) == {"politician": ["politician", "president", "senator"], "misc": []}
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"politician": ["president"]}))
    assert load_head_mapping(plain) == {"politician": ["president"]}
    assert load_head_mapping({"a": ["x"]}) == {"a": ["x"]}


def test_drop_list(onto, tmp_path):
    ov = tmp_path / "ov.json"
    ov.write_text(json.dumps({"map": {"misc": ["film"]}, "drop": ["ENTITY", "city"]}))
    m = build_mapping(["location", "misc"], PRETRAINED, onto, ov)
    assert m.dropped == ["ENTITY", "city"]
    assert "city" not in m.pairs["location"] and "city" not in m.unmapped_pretrained
    back = LabelMapping.from_dict(m.to_dict())
    assert back.dropped == ["ENTITY", "city"]
    ov.write_text(json.dumps({"map": {}, "dorp": []}))
    with pytest.raises(NerbertError, match="dorp"):
        build_mapping(["misc"], PRETRAINED, onto, ov)


def test_without_ontology_only_exact(onto):
    m = build_mapping(["politician", "person"], PRETRAINED, None)
    assert m.to_head_mapping() == {"politician": ["politician"], "person": ["person"]}


def test_label_sources(tmp_path):
    f = tmp_path / "labels.txt"
    f.write_text("# comment\nO\nB-politician\nI-politician\nperson\n\n")
    assert read_label_file(f) == ["politician", "person"]
    j = tmp_path / "labels.json"
    j.write_text(json.dumps({"labels": ["a", "b"]}))
    assert read_pretrained_labels(j) == ["a", "b"]
    pipe = tmp_path / "pipe"
    pipe.mkdir()
    (pipe / "meta.json").write_text(json.dumps({"labels": {"transformer": [], "bio_tagger": ["politician", "ENTITY"]}}))
    assert read_pretrained_labels(pipe) == ["politician", "ENTITY"]
    labels315 = read_pretrained_labels("315")
    assert len(labels315) == 315 and "politician" in labels315
    with pytest.raises(NerbertError, match="meta.json"):
        read_pretrained_labels(tmp_path)


CROSSNER = {
    "politics": ["politician", "person", "organisation", "politicalparty", "event", "election", "country", "location", "misc"],
    "science": ["scientist", "person", "university", "organisation", "country", "location", "discipline", "enzyme",
                "protein", "chemicalelement", "chemicalcompound", "astronomicalobject", "academicjournal", "event",
                "theory", "award", "misc"],
    "music": ["musicgenre", "song", "band", "album", "musicalartist", "musicalinstrument", "award", "event",
              "country", "location", "organisation", "person", "misc"],
    "literature": ["book", "writer", "award", "poem", "event", "magazine", "literarygenre", "person", "location",
                   "organisation", "country", "misc"],
    "ai": ["field", "task", "product", "algorithm", "researcher", "metrics", "programlang", "conference",
           "university", "country", "person", "organisation", "location", "misc"],
}  # fmt: skip


@pytest.mark.parametrize("domain", sorted(CROSSNER))
def test_bundled_crossner_overrides_apply_cleanly(domain, shared_data):
    """The shipped override files name only real CrossNER and 315 labels."""

    owl = shared_data / "dbpedia" / "dbpedia_2016-10.owl"
    if not owl.exists():
        pytest.skip("ontology not in shared data")
    onto = _real_ontology(owl)
    path = bundled_mapping_path(f"crossner-{domain}")
    m = build_mapping(CROSSNER[domain], read_pretrained_labels("315"), onto, path)  # strict: all labels exist
    declared = json.loads(path.read_text())["intentionally_unmapped"]
    assert sorted(m.unmapped_target) == sorted(declared)
    assert m.dropped == ["ENTITY"] and "ENTITY" not in m.unmapped_pretrained


_ONTO_CACHE = {}


def _real_ontology(path):
    from nerbert_spacy.dbpedia.ontology import Ontology

    if path not in _ONTO_CACHE:
        _ONTO_CACHE[path] = Ontology.load(path)
    return _ONTO_CACHE[path]


def test_real_politics_mapping(shared_data):
    owl = shared_data / "dbpedia" / "dbpedia_2016-10.owl"
    if not owl.exists():
        pytest.skip("ontology not in shared data")
    onto = _real_ontology(owl)
    m = build_mapping(CROSSNER["politics"], read_pretrained_labels("315"), onto)
    head = m.to_head_mapping()
    for p in ("president", "senator", "mayor", "primeminister", "governor"):
        assert p in head["politician"], p
    for p in ("scientist", "writer", "athlete"):
        assert p in head["person"], p
    assert "politician" not in head["person"]
    for p in ("company", "university"):
        assert p in head["organisation"], p
    assert "city" in head["location"]
    assert m.target_of("ENTITY") is None


# ----------------------------------------------------------- ENTITY by default (issue 18.3)


def test_entity_is_dropped_by_default(onto, tmp_path):
    m = build_mapping(["person", "misc"], PRETRAINED, onto)
    assert m.dropped == ["ENTITY"] and "ENTITY" not in m.unmapped_pretrained
    kept = build_mapping(["person", "misc"], PRETRAINED, onto, keep_entity=True)
    assert kept.dropped == [] and "ENTITY" in kept.unmapped_pretrained
    # an override may still map ENTITY to a target on purpose
    ov = tmp_path / "ov.json"
    ov.write_text(json.dumps({"map": {"misc": ["ENTITY"]}}))
    assert build_mapping(["person", "misc"], PRETRAINED, onto, ov).pairs["misc"] == {"ENTITY": "override"}
    # keep_entity wins over an override's drop list, and says so
    ov.write_text(json.dumps({"drop": ["ENTITY"]}))
    kept = build_mapping(["person", "misc"], PRETRAINED, onto, ov, keep_entity=True)
    assert kept.dropped == [] and any("ENTITY" in n and "kept" in n for n in kept.notes)
    # no ENTITY in the pretrained labels: nothing to drop
    assert build_mapping(["person"], ["person"], onto).dropped == []


# ----------------------------------------------------------- synonyms and class labels (issue 18.4)

# WNUT-17's schema against a pretrained head with the DBpedia names
WNUT = ["person", "location", "corporation", "product", "creative-work", "group"]
WNUT_PRETRAINED = [
    "person", "organisation", "company", "airline", "band", "city", "film", "software", "videogame",
    "writtenwork", "device", "automobile", "tram", "ENTITY",
]  # fmt: skip


@pytest.fixture(scope="module")
def wnut_onto():
    from nerbert_spacy.dbpedia.ontology import Ontology

    parents = {
        "Agent": [], "Person": ["Agent"], "Organisation": ["Agent"], "Company": ["Organisation"],
        "Airline": ["Company"], "Group": ["Organisation"], "Band": ["Group"], "Place": [], "City": ["Place"],
        "Work": [], "Film": ["Work"], "Software": ["Work"], "VideoGame": ["Software"], "WrittenWork": ["Work"],
        "Device": [], "MeanOfTransportation": [], "Automobile": ["MeanOfTransportation"],
        "Tram": ["MeanOfTransportation"],
    }  # fmt: skip
    return Ontology(parents, {"Film": "movie", "Tram": "streetcar", "WrittenWork": "written work"})


def test_synonyms_reach_differently_named_classes(wnut_onto):
    m = build_mapping(WNUT, WNUT_PRETRAINED, wnut_onto)
    head = m.to_head_mapping()
    assert head["corporation"] == ["company", "airline"]
    assert m.pairs["corporation"] == {"company": "synonym", "airline": "descendant"}
    assert head["product"] == ["software", "device", "videogame", "automobile", "tram"]
    assert m.pairs["product"]["software"] == "synonym" and m.pairs["product"]["videogame"] == "descendant"
    assert head["creative-work"] == ["film", "writtenwork"]
    assert head["group"] == ["band"] and head["location"] == ["city"]
    assert m.unmapped_target == []
    # the classes' rdfs:label is a name too
    m = build_mapping(["movie", "streetcar"], WNUT_PRETRAINED, wnut_onto)
    assert m.pairs == {"movie": {"film": "synonym"}, "streetcar": {"tram": "synonym"}}
    # without the ontology the synonym table still names the direct matches
    m = build_mapping(WNUT, WNUT_PRETRAINED, None)
    assert m.pairs["corporation"] == {"company": "synonym"}
    assert m.to_head_mapping()["product"] == ["software", "device"]


def test_closest_candidates_for_unmapped_targets(wnut_onto):
    from nerbert_spacy.mapping import closest_candidates

    m = build_mapping(["person", "work of fiction", "films", "money"], WNUT_PRETRAINED, wnut_onto)
    assert m.unmapped_target == ["work of fiction", "films", "money"]
    cands = closest_candidates(m, wnut_onto)
    assert cands["work of fiction"][0] == "writtenwork"  # shares the word "work" with "written work"
    assert cands["films"] == ["film"]  # spelling only: a hint, not a mapping
    assert cands["money"] == []  # nothing close: no noise
    assert all("ENTITY" not in c for c in cands.values())


def test_override_template(wnut_onto, tmp_path):
    from nerbert_spacy.mapping import closest_candidates, override_template

    m = build_mapping(["person", "misc", "work of fiction"], WNUT_PRETRAINED, wnut_onto)
    data = override_template(m, closest_candidates(m, wnut_onto))
    assert data["map"] == {"misc": [], "work of fiction": []}
    assert data["drop"] == ["ENTITY"]
    assert any(n.startswith("work of fiction: closest pretrained labels writtenwork") for n in data["notes"])
    # the template is a valid override file that changes nothing until edited
    path = tmp_path / "ov.json"
    path.write_text(json.dumps(data))
    assert build_mapping(["person", "misc", "work of fiction"], WNUT_PRETRAINED, wnut_onto, path).pairs == m.pairs


def test_override_template_extends_a_bundled_file(onto):
    from nerbert_spacy.mapping import override_template

    targets = ["person", "organisation", "misc", "scholar"]
    m = build_mapping(targets, PRETRAINED, onto, bundled_mapping_path("crossner-politics"), strict=False)
    data = override_template(m, {"scholar": ["scientist"]}, bundled_mapping_path("crossner-politics"))
    assert data["map"]["person"] == ["footballplayer", "archbishop"]  # the bundled choices stay
    assert data["map"]["scholar"] == [] and "misc" not in data["map"]  # misc is intentionally unmapped there
    assert data["drop"] == ["ENTITY"] and data["notes"] == ["scholar: closest pretrained labels scientist"]


def test_map_labels_writes_the_mapping_and_the_override_template(onto, tmp_path):
    from nerbert_spacy.mapping import map_labels

    labels = tmp_path / "pretrained.txt"
    labels.write_text("\n".join(PRETRAINED) + "\n")
    out = tmp_path / "m.json"
    result = map_labels(["politician", "presidents", "misc"], labels, out, ontology=onto)
    assert result.output == out and result.overrides is None and result.left_on_purpose == []
    assert LabelMapping.load(out).to_head_mapping() == result.mapping.to_head_mapping()
    assert result.mapping.unmapped_target == ["presidents", "misc"]
    assert result.candidates["presidents"][0] == "president" and set(result.candidates) == {"presidents", "misc"}
    template = tmp_path / "m.overrides.json"
    assert result.edit == template
    assert json.loads(template.read_text())["map"] == {"presidents": [], "misc": []}
    # an existing file to edit is left as it is
    template.write_text("{}")
    assert map_labels(["politician", "presidents"], labels, out, ontology=onto).edit == template
    assert template.read_text() == "{}"
    # nothing left to map: no file to edit
    assert map_labels(["politician"], labels, out, ontology=onto).edit is None


def test_map_labels_with_a_user_override_file_and_from_data(onto, tmp_path):
    import spacy
    from spacy.tokens import Doc, DocBin, Span

    from nerbert_spacy.mapping import map_labels

    labels = tmp_path / "pretrained.txt"
    labels.write_text("\n".join(PRETRAINED) + "\n")
    doc = Doc(spacy.blank("en").vocab, words=["Obama", "and", "Merkel"])
    doc.ents = [Span(doc, 0, 1, "politician"), Span(doc, 2, 3, "politician")]
    DocBin(docs=[doc]).to_disk(tmp_path / "d.spacy")
    ov = tmp_path / "ov.json"
    ov.write_text(json.dumps({"map": {"misc": ["film"]}}))
    out = tmp_path / "m.json"
    result = map_labels(["misc", "presidents"], labels, out, ontology=onto, overrides=str(ov), from_data=tmp_path / "d.spacy")
    assert result.mapping.targets == ["misc", "presidents", "politician"]
    assert result.mapping.pairs["misc"] == {"film": "override"}
    assert result.overrides == str(ov) and result.edit == ov  # the user's own file is the one to edit
    assert not (tmp_path / "m.overrides.json").exists()
    ov.write_text(json.dumps({"map": {}, "intentionally_unmapped": ["presidents"]}))
    result = map_labels(["politician", "presidents"], labels, out, ontology=onto, overrides=str(ov))
    assert result.left_on_purpose == ["presidents"] and result.candidates == {} and result.edit is None
    with pytest.raises(NerbertError, match="give target labels"):
        map_labels([], labels, out)


def test_map_labels_with_a_bundled_override(onto, tmp_path):
    from nerbert_spacy.mapping import map_labels

    labels = tmp_path / "pretrained.txt"
    labels.write_text("\n".join(PRETRAINED) + "\n")
    out = tmp_path / "m.json"
    result = map_labels(["person", "misc", "scholar"], labels, out, ontology=onto, overrides="crossner-politics",
                        strict=False)
    assert result.overrides == str(bundled_mapping_path("crossner-politics"))
    assert result.left_on_purpose == ["misc"] and list(result.candidates) == ["scholar"]
    assert result.edit == tmp_path / "m.overrides.json"  # the bundled file is never edited in place
    data = json.loads(result.edit.read_text())
    assert data["map"]["person"] == ["footballplayer", "archbishop"] and data["map"]["scholar"] == []


def test_real_wnut_schema_maps_without_overrides(shared_data):
    """Issue 18.4: corporation, product and creative-work stayed unmapped on the real 315 labels."""
    owl = shared_data / "dbpedia" / "dbpedia_2016-10.owl"
    if not owl.exists():
        pytest.skip("ontology not in shared data")
    m = build_mapping(WNUT, read_pretrained_labels("315"), _real_ontology(owl))
    head = m.to_head_mapping()
    assert m.unmapped_target == []
    assert m.pairs["corporation"]["company"] == "synonym" and "airline" in head["corporation"]
    assert {"software", "device", "automobile", "videogame"} <= set(head["product"])
    assert {"film", "writtenwork", "song", "album"} <= set(head["creative-work"])
    assert m.dropped == ["ENTITY"] and m.target_of("ENTITY") is None
