"""The on-disk cache of the parsed ontology and of the DBpedia part of the type index: a warm
entry skips the parse and gives the same result; a changed input, a damaged entry or a cache
turned off never gives a stale one; a corpus build is byte-identical with and without it."""

import json
import sqlite3

import pytest
from helpers import LOW, write_build_inputs

from nerbert_spacy import cache
from nerbert_spacy.corpus.build import build_corpus
from nerbert_spacy.dbpedia import ontology as ontology_mod
from nerbert_spacy.dbpedia.ontology import Ontology
from nerbert_spacy.dbpedia.types import TypeIndex

OWL_TTL = """@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix dbo: <http://dbpedia.org/ontology/> .
dbo:Agent a owl:Class ; rdfs:label "agent"@en .
dbo:Person a owl:Class ; rdfs:subClassOf dbo:Agent ; rdfs:label "person"@en .
dbo:Politician a owl:Class ; rdfs:subClassOf dbo:Person ; rdfs:label "politician"@en .
dbo:Place a owl:Class ; rdfs:label "place"@en .
"""
TYPES = (
    "<http://dbpedia.org/resource/Angela_Merkel> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
    "<http://dbpedia.org/ontology/Politician> .\n"
    "<http://dbpedia.org/resource/Berlin> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
    "<http://dbpedia.org/ontology/Place> .\n"
)


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(root))
    monkeypatch.setattr(ontology_mod, "_CACHE", {})  # the in-process cache would hide the disk
    return root


def no_rdflib_parse(monkeypatch):
    import rdflib

    def fail(*args, **kwargs):
        raise AssertionError("rdflib parsed the file although a cache entry exists")

    monkeypatch.setattr(rdflib.Graph, "parse", fail)


def summary(onto: Ontology):
    return {c: (onto.parents(c), onto.label(c), onto.ancestors(c)) for c in sorted(onto.classes)}


def test_cache_dir_default_env_and_off(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "c"))
    assert cache.cache_dir("ontology") == tmp_path / "c" / "ontology"
    assert (tmp_path / "c" / "ontology").is_dir()
    for off in ("off", "none", "0", ""):
        monkeypatch.setenv(cache.CACHE_ENV, off)
        assert cache.cache_dir("ontology") is None
    monkeypatch.delenv(cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir("type-index") == tmp_path / "xdg" / "nerbert_spacy" / "type-index"


def test_file_key_follows_content_and_extra(tmp_path):
    a, b = tmp_path / "a.nt", tmp_path / "b.nt"
    a.write_text("x\n")
    b.write_text("x\n")
    assert cache.file_key("k.v1", [a]) == cache.file_key("k.v1", [b])  # same bytes, same key
    assert cache.file_key("k.v1", [a]) != cache.file_key("k.v2", [a])
    assert cache.file_key("k.v1", [a], 1) != cache.file_key("k.v1", [a], 2)
    before = cache.file_key("k.v1", [a])
    a.write_text("y\n")
    assert cache.file_key("k.v1", [a]) != before


def test_ontology_second_load_skips_rdflib(tmp_path, cache_root, monkeypatch):
    path = tmp_path / "onto.ttl"
    path.write_text(OWL_TTL)
    first = Ontology.load(path)
    entries = list((cache_root / "ontology").glob("*.json"))
    assert len(entries) == 1
    monkeypatch.setattr(ontology_mod, "_CACHE", {})
    no_rdflib_parse(monkeypatch)
    second = Ontology.load(path)
    assert summary(second) == summary(first)
    assert second.ancestors("Politician") == ["Person", "Agent"]
    assert second.label("Politician") == "politician"


def test_ontology_changed_file_is_parsed_again(tmp_path, cache_root, monkeypatch):
    path = tmp_path / "onto.ttl"
    path.write_text(OWL_TTL)
    Ontology.load(path)
    monkeypatch.setattr(ontology_mod, "_CACHE", {})
    path.write_text(OWL_TTL + 'dbo:Country a owl:Class ; rdfs:subClassOf dbo:Place ; rdfs:label "country"@en .\n')
    onto = Ontology.load(path)
    assert "Country" in onto.classes and onto.parents("Country") == ["Place"]


def test_ontology_damaged_entry_is_rebuilt(tmp_path, cache_root, monkeypatch):
    path = tmp_path / "onto.ttl"
    path.write_text(OWL_TTL)
    expected = summary(Ontology.load(path))
    (entry,) = (cache_root / "ontology").glob("*.json")
    entry.write_text('{"format": "nerbert.ontol')  # cut short
    monkeypatch.setattr(ontology_mod, "_CACHE", {})
    assert summary(Ontology.load(path)) == expected
    assert json.loads(entry.read_text())["format"] == "nerbert.ontology.v1"  # replaced by a good one


def test_ontology_cache_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, "off")
    monkeypatch.setattr(ontology_mod, "_CACHE", {})
    path = tmp_path / "onto.ttl"
    path.write_text(OWL_TTL)
    assert "Politician" in Ontology.load(path).classes
    assert not any(tmp_path.rglob("*.json"))


def index_rows(path):
    conn = sqlite3.connect(str(path))
    try:
        return {
            t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in ("meta", "classes", "types", "redirects")
        }
    finally:
        conn.close()


def test_type_index_warm_entry_skips_the_types_and_matches_a_cold_build(tmp_path, cache_root, monkeypatch):
    src = tmp_path / "types.nt"
    src.write_text(TYPES)
    redirects = {"Merkel": "Angela Merkel", "Berlin, Germany": "Berlin"}
    cold = TypeIndex.build([src], tmp_path / "cold.sqlite", redirects=redirects)
    assert len(list((cache_root / "type-index").glob("*.sqlite"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("the types were read again although a cache entry exists")

    monkeypatch.setattr(TypeIndex, "_fill", staticmethod(fail))
    warm = TypeIndex.build([src], tmp_path / "warm.sqlite", redirects=redirects)
    assert warm.classes("Merkel") == ["Politician"] and warm.classes("Berlin, Germany") == ["Place"]
    assert warm.stats == cold.stats and warm.dump_redirects == cold.dump_redirects == 2
    assert index_rows(warm.path) == index_rows(cold.path)
    assert warm.path.read_bytes() == cold.path.read_bytes()
    # other dump redirects on the same types: the cached part is reused, the redirects are new
    other = TypeIndex.build([src], tmp_path / "other.sqlite", redirects={"AM": "Angela Merkel"})
    assert other.classes("AM") == ["Politician"] and other.resolve("Merkel") == "Merkel"


def test_type_index_damaged_entry_is_rebuilt(tmp_path, cache_root):
    src = tmp_path / "types.nt"
    src.write_text(TYPES)
    TypeIndex.build([src], tmp_path / "a.sqlite")
    (entry,) = (cache_root / "type-index").glob("*.sqlite")
    entry.write_bytes(b"not a database")
    index = TypeIndex.build([src], tmp_path / "b.sqlite")
    assert index.classes("Angela Merkel") == ["Politician"] and index.stats["entities"] == 2
    with sqlite3.connect(str(entry)) as conn:  # replaced by a good one
        assert conn.execute("SELECT COUNT(*) FROM types").fetchone()[0] == 2


def test_type_index_changed_types_file_gets_a_new_entry(tmp_path, cache_root):
    src = tmp_path / "types.nt"
    src.write_text(TYPES)
    TypeIndex.build([src], tmp_path / "a.sqlite")
    src.write_text(TYPES.replace("ontology/Place", "ontology/Politician"))
    index = TypeIndex.build([src], tmp_path / "b.sqlite")
    assert index.classes("Berlin") == ["Politician"]
    assert len(list((cache_root / "type-index").glob("*.sqlite"))) == 2


def test_corpus_build_is_identical_with_a_warm_cache_and_without_one(tmp_path, monkeypatch):
    inputs = write_build_inputs(tmp_path, [{"prefix": "Alpha"}])
    monkeypatch.setattr(ontology_mod, "_CACHE", {})
    outputs = {}
    for name, setting in (("off", "off"), ("cold", str(tmp_path / "cache")), ("warm", str(tmp_path / "cache"))):
        monkeypatch.setenv(cache.CACHE_ENV, setting)
        monkeypatch.setattr(ontology_mod, "_CACHE", {})
        out = tmp_path / name
        stats = build_corpus(inputs["dumps"], inputs["ontology"], inputs["types"], out, filter_config=LOW)
        outputs[name] = (
            {p.name: p.read_bytes() for p in sorted((out / "shards").glob("*.spacy"))},
            {k: v for k, v in stats.items() if k not in ("timings", "notes", "output")},
        )
    assert outputs["off"][0] and outputs["off"][1]["sentences_kept"] > 0
    assert outputs["cold"] == outputs["off"] and outputs["warm"] == outputs["off"]
    assert any((tmp_path / "cache" / "ontology").iterdir()) and any((tmp_path / "cache" / "type-index").iterdir())
