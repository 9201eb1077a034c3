"""DBpedia Ontology (rdflib) and the streamed, redirect-aware TypeIndex."""

import bz2
import pickle

import pytest

from nerbert_spacy.dbpedia.ontology import Ontology
from nerbert_spacy.dbpedia.types import TypeIndex, iter_redirect_triples
from nerbert_spacy.errors import NerbertError

DBO = "http://dbpedia.org/ontology/"
OWL_XML = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"
         xmlns:owl="http://www.w3.org/2002/07/owl#">
  <owl:Class rdf:about="http://dbpedia.org/ontology/Place">
    <rdfs:label xml:lang="en">place</rdfs:label><rdfs:label xml:lang="de">Ort</rdfs:label>
    <rdfs:subClassOf rdf:resource="http://www.w3.org/2002/07/owl#Thing"/>
  </owl:Class>
  <owl:Class rdf:about="http://dbpedia.org/ontology/PopulatedPlace">
    <rdfs:label xml:lang="en">populated place</rdfs:label>
    <rdfs:subClassOf rdf:resource="http://dbpedia.org/ontology/Place"/>
  </owl:Class>
  <owl:Class rdf:about="http://dbpedia.org/ontology/Settlement">
    <rdfs:subClassOf rdf:resource="http://dbpedia.org/ontology/PopulatedPlace"/>
  </owl:Class>
  <owl:Class rdf:about="http://dbpedia.org/ontology/City">
    <rdfs:label xml:lang="en">city</rdfs:label>
    <rdfs:subClassOf rdf:resource="http://dbpedia.org/ontology/Settlement"/>
  </owl:Class>
  <owl:Class rdf:about="http://dbpedia.org/ontology/Organisation">
    <rdfs:subClassOf rdf:resource="http://schema.org/Organization"/>
  </owl:Class>
  <owl:Class rdf:about="http://dbpedia.org/ontology/Building">
    <rdfs:subClassOf rdf:resource="http://dbpedia.org/ontology/Place"/>
  </owl:Class>
  <owl:Class rdf:about="http://dbpedia.org/ontology/EducationalInstitution">
    <rdfs:subClassOf rdf:resource="http://dbpedia.org/ontology/Organisation"/>
  </owl:Class>
  <owl:Class rdf:about="http://dbpedia.org/ontology/Library">
    <rdfs:subClassOf rdf:resource="http://dbpedia.org/ontology/EducationalInstitution"/>
    <rdfs:subClassOf rdf:resource="http://dbpedia.org/ontology/Building"/>
  </owl:Class>
</rdf:RDF>
"""


@pytest.fixture
def owl_file(tmp_path):
    p = tmp_path / "mini.owl"
    p.write_text(OWL_XML, encoding="utf8")
    return p


def test_ontology_from_rdfxml(owl_file):
    o = Ontology.load(owl_file)
    assert o.classes == {
        "Place", "PopulatedPlace", "Settlement", "City", "Organisation", "Building", "EducationalInstitution", "Library"
    }  # fmt: skip
    assert o.parents("City") == ["Settlement"]
    assert o.parents("Place") == [] and o.parents("Organisation") == []  # owl:Thing, schema.org ignored
    assert o.ancestors("City") == ["Settlement", "PopulatedPlace", "Place"]
    assert o.ancestors("Library") == ["Building", "EducationalInstitution", "Place", "Organisation"]
    assert [o.depth(c) for c in ("Place", "City", "Library")] == [1, 4, 3]
    assert o.label("PopulatedPlace") == "populated place" and o.label("Settlement") == "Settlement"
    assert Ontology.key("PopulatedPlace") == Ontology.key("populated place") == "populatedplace"
    assert Ontology.key("dbo:City") == Ontology.key(DBO + "City") == "city"
    assert o.by_key("populated place") == "PopulatedPlace" and o.by_key("nothing") is None


def test_class_not_in_ontology(owl_file):
    o = Ontology.load(owl_file)
    assert "Location" not in o
    assert o.parents("Location") == [] and o.ancestors("Location") == []
    assert o.depth("Location") == 0 and o.label("Location") == "Location"


def test_ontology_nt_ttl_bz2_and_pickle(tmp_path):
    nt = (
        f"<{DBO}City> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <{DBO}Settlement> .\n"
        f"<{DBO}Settlement> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<http://www.w3.org/2002/07/owl#Class> .\n"
    )
    p = tmp_path / "o.nt.bz2"
    p.write_bytes(bz2.compress(nt.encode()))
    o = Ontology.load(p)
    assert o.classes == {"City", "Settlement"} and o.ancestors("City") == ["Settlement"]
    ttl = tmp_path / "o.ttl"
    ttl.write_text(
        "@prefix dbo: <http://dbpedia.org/ontology/> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        'dbo:Town rdfs:subClassOf dbo:Settlement ; rdfs:label "town"@en .\n'
    )
    t = Ontology.load(ttl)
    assert t.ancestors("Town") == ["Settlement"] and t.label("Town") == "town"
    again = pickle.loads(pickle.dumps(t))
    assert again.classes == t.classes and again.ancestors("Town") == ["Settlement"]
    assert Ontology.from_dict(t.to_dict()).label("Town") == "town"


def test_ontology_bad_input(tmp_path):
    with pytest.raises(NerbertError, match="missing.owl"):
        Ontology.load(tmp_path / "missing.owl")
    bad = tmp_path / "bad.owl"
    bad.write_text(OWL_XML.replace('</owl:Class>\n  <owl:Class rdf:about="http://dbpedia.org/ontology/City">', "<"))
    with pytest.raises(NerbertError, match=r"bad.owl \(line \d+\): malformed ontology"):
        Ontology.load(bad)
    badnt = tmp_path / "bad.nt"
    badnt.write_text(f"<{DBO}A> <{DBO}b> <{DBO}C> .\nthis is not a triple\n")
    with pytest.raises(NerbertError, match=r"bad.nt.*malformed ontology"):
        Ontology.load(badnt)
    other = tmp_path / "o.json"
    other.write_text("{}")
    with pytest.raises(NerbertError, match="unknown ontology format"):
        Ontology.load(other)
    empty = tmp_path / "empty.nt"
    empty.write_text("<http://x/a> <http://x/b> <http://x/c> .\n")
    with pytest.raises(NerbertError, match="no DBpedia Ontology classes"):
        Ontology.load(empty)
    truncated = tmp_path / "cut.owl.bz2"
    truncated.write_bytes(bz2.compress(OWL_XML.encode())[:200])
    with pytest.raises(NerbertError, match="cut.owl.bz2"):
        Ontology.load(truncated)


def test_real_ontology(shared_data):
    path = shared_data / "dbpedia" / "dbpedia_2016-10.owl"
    if not path.exists():
        pytest.skip("2016 ontology absent")
    o = Ontology.load(path)
    assert len(o.classes) == 754
    assert o.ancestors("SoccerPlayer")[:2] == ["Athlete", "Person"]
    assert "Agent" in o.ancestors("SoccerPlayer")
    assert o.ancestors("City") == ["Settlement", "PopulatedPlace", "Place"]
    assert o.label("PopulatedPlace") == "populated place"
    assert o.by_key("soccerplayer") == "SoccerPlayer"
    assert Ontology.load(path) is o  # cached in-process


# --- TypeIndex -----------------------------------------------------------------
R = "http://dbpedia.org/resource/"
TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
NT_LINES = [
    f"<{R}Berlin> <{TYPE}> <{DBO}City> .",
    f"<{R}Berlin> <{TYPE}> <{DBO}Settlement> .",
    f"<{R}Berlin> <{TYPE}> <http://www.w3.org/2002/07/owl#Thing> .",
    f'<{R}Berlin> <http://xmlns.com/foaf/0.1/name> "Berlin"@en .',
    f"<{R}AT%26T> <{TYPE}> <{DBO}Company> .",
    f"<{R}New_York_City> <{TYPE}> <{DBO}City> .",
    f"<{R}Caf\\u00E9_Tacuba> <{TYPE}> <{DBO}Band> .",
    "# a comment",
    "",
    f"<{R}Berlin> <{TYPE}> <{DBO}City> .",  # duplicate
]


def write_nt(path, lines, compress=False):
    data = ("\n".join(lines) + "\n").encode("utf8")
    if compress:
        path.write_bytes(bz2.compress(data))
    else:
        path.write_bytes(data)
    return path


def test_type_index_nt(tmp_path):
    src = write_nt(tmp_path / "types.nt", NT_LINES)
    idx = TypeIndex.build([src], tmp_path / "types.sqlite")
    assert len(idx) == 4
    assert idx.classes("Berlin") == ["City", "Settlement"]
    assert idx.classes("AT&T") == ["Company"] == idx.classes("AT&amp;T")
    assert idx.classes("new_York_City") == ["City"] and idx.classes("New york City") == []
    assert idx.classes("Café Tacuba") == ["Band"]
    assert idx.classes("Nowhere") == []
    s = idx.stats
    assert s["entities"] == 4 and s["triples"] == 6 and s["malformed_lines"] == 0
    assert s["non_dbo_types"] == 1 and s["other_predicates"] == 1 and s["size_bytes"] > 0
    reopened = TypeIndex.open(tmp_path / "types.sqlite")
    assert reopened.classes("Berlin") == ["City", "Settlement"] and reopened.stats["entities"] == 4


def test_type_index_public_iterators(tmp_path):
    src = write_nt(tmp_path / "types.nt", NT_LINES)
    redirects = {"Berlin,_Germany": "Berlin", "NYC": "New_York_City", "Big_Apple": "NYC"}
    idx = TypeIndex.build([src], tmp_path / "types.sqlite", redirects=redirects)
    assert list(idx.iter_typed()) == [
        ("AT&T", ["Company"]),
        ("Berlin", ["City", "Settlement"]),
        ("Café Tacuba", ["Band"]),
        ("New York City", ["City"]),
    ]
    assert list(idx.iter_redirects()) == [("Berlin, Germany", "Berlin"), ("Big Apple", "NYC"), ("NYC", "New York City")]
    assert idx.resolve("Big Apple") == "New York City"


def test_type_index_turtle_prefixed_and_bz2(tmp_path):
    ttl = [
        "@prefix dbr: <http://dbpedia.org/resource/> .",
        "@prefix dbo: <http://dbpedia.org/ontology/> .",
        "@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .",
        "dbr:Paris a dbo:City .",
        "dbr:Ada_Lovelace rdf:type dbo:Scientist .",
        "dbr:Ada_Lovelace a dbo:Person.",
    ]
    src = write_nt(tmp_path / "types.ttl.bz2", ttl, compress=True)
    idx = TypeIndex.build([src], tmp_path / "t.sqlite")
    assert idx.classes("Paris") == ["City"] and idx.classes("Ada Lovelace") == ["Person", "Scientist"]


def test_type_index_bad_lines_counted(tmp_path):
    lines = list(NT_LINES[:2]) + [
        f"<{R}Broken> <{TYPE}> <{DBO}City>",  # no final dot
        "garbage line .",
        "undefined:X a dbo:City .",
        f"<{R}Rome> <{TYPE}> <{DBO}City> .",
    ]
    data = ("\n".join(lines) + "\n").encode("utf8")
    data += f"<{R}Z\xfcrich> <{TYPE}> <{DBO}City> .\n".encode("latin-1")  # not UTF-8
    data += f"<{R}Oslo> <{TYPE}> <{DBO}City> .\n".encode()
    src = tmp_path / "bad.nt"
    src.write_bytes(data)
    idx = TypeIndex.build([src], tmp_path / "t.sqlite")
    assert idx.classes("Rome") == ["City"] and idx.classes("Oslo") == ["City"] and len(idx) == 3
    s = idx.stats
    assert s["malformed_lines"] == 4
    errs = "\n".join(s["errors"])
    assert "bad.nt (line 3): malformed triple" in errs and "bad.nt (line 4)" in errs
    assert "bad.nt (line 5): malformed triple: undefined prefix 'undefined:'" in errs
    assert "bad.nt (line 7): invalid UTF-8" in errs


def test_type_index_truncated_bz2_keeps_lines(tmp_path):
    lines = [f"<{R}Entity_{i}> <{TYPE}> <{DBO}Place{i % 50}> ." for i in range(25000)]
    data = bz2.compress(("\n".join(lines) + "\n").encode())
    src = tmp_path / "cut.nt.bz2"
    src.write_bytes(data[: len(data) // 2])
    idx = TypeIndex.build([src], tmp_path / "t.sqlite")
    assert 0 < len(idx) < 25000
    assert idx.classes("Entity 0") == ["Place0"]
    assert idx.stats["truncated"] == 1
    assert any("cut.nt.bz2: truncated .bz2 after line" in e for e in idx.stats["errors"])


def test_type_index_missing_files(tmp_path):
    with pytest.raises(NerbertError, match="nope.nt"):
        TypeIndex.build([tmp_path / "nope.nt"], tmp_path / "t.sqlite")
    with pytest.raises(NerbertError, match="nope.sqlite"):
        TypeIndex.open(tmp_path / "nope.sqlite")
    not_index = tmp_path / "x.sqlite"
    not_index.write_text("hello")
    with pytest.raises(NerbertError, match="x.sqlite.*not a type index"):
        TypeIndex.open(not_index)


def test_type_index_redirects(tmp_path):
    src = write_nt(tmp_path / "types.nt", NT_LINES)
    red = write_nt(
        tmp_path / "redirects.ttl",
        [
            f"<{R}Berlin,_Germany> <{DBO}wikiPageRedirects> <{R}Berlin> .",
            f"<{R}Loop_A> <{DBO}wikiPageRedirects> <{R}Loop_B> .",
            f"<{R}Loop_B> <{DBO}wikiPageRedirects> <{R}Loop_A> .",
            f"<{R}NYC> <{DBO}wikiPageRedirects> <{R}Big_Apple> .",
        ],
    )
    assert list(iter_redirect_triples(red))[0] == ("Berlin, Germany", "Berlin")
    idx = TypeIndex.build(
        [src], tmp_path / "t.sqlite", redirects={"Big Apple": "New York City", "ATT": "AT&T"}, redirect_files=[red]
    )
    assert idx.resolve("Berlin,_Germany") == "Berlin"
    assert idx.classes("berlin, Germany") == ["City", "Settlement"]
    assert idx.classes("NYC") == ["City"]  # two hops: DBpedia redirect, then the dump's
    assert idx.classes("ATT") == ["Company"]
    assert idx.resolve("Loop_A") in ("Loop A", "Loop B") and idx.classes("Loop A") == []  # cycle-safe
    assert idx.resolve("Paris") == "Paris"
    assert idx.stats["redirects"] == 6


def test_type_index_pickles_for_workers(tmp_path):
    import multiprocessing as mp

    src = write_nt(tmp_path / "types.nt", NT_LINES)
    idx = TypeIndex.build([src], tmp_path / "t.sqlite")
    clone = pickle.loads(pickle.dumps(idx))
    assert clone.classes("Berlin") == ["City", "Settlement"]
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.map(_lookup, [(idx, "Berlin"), (idx, "AT&T")]) == [["City", "Settlement"], ["Company"]]


def _lookup(args):
    idx, title = args
    return idx.classes(title)


def test_rebuild_replaces_index(tmp_path):
    a = write_nt(tmp_path / "a.nt", [f"<{R}A> <{TYPE}> <{DBO}City> ."])
    b = write_nt(tmp_path / "b.nt", [f"<{R}B> <{TYPE}> <{DBO}Band> ."])
    TypeIndex.build([a], tmp_path / "t.sqlite")
    idx = TypeIndex.build([b], tmp_path / "t.sqlite")
    assert idx.classes("A") == [] and idx.classes("B") == ["Band"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_build_is_deterministic(tmp_path):
    src = write_nt(tmp_path / "types.nt", NT_LINES)
    one = TypeIndex.build([src], tmp_path / "one.sqlite", redirects={"B": "Berlin"})
    two = TypeIndex.build([src], tmp_path / "two.sqlite", redirects={"B": "Berlin"})
    assert one.stats == two.stats and one.build_seconds is not None
    assert (tmp_path / "one.sqlite").read_bytes() == (tmp_path / "two.sqlite").read_bytes()


def test_real_instance_types_sample(shared_data, tmp_path):
    path = shared_data / "dbpedia" / "instance-types-sample.nt.bz2"
    if not path.exists():
        pytest.skip("instance-types sample absent")
    idx = TypeIndex.build([path], tmp_path / "types.sqlite")
    assert len(idx) == 148_850 and idx.stats["triples"] == 219_467 and idx.stats["malformed_lines"] == 0
    assert "Location" in idx.classes("Berlin") and "City" in idx.classes("Berlin")
    assert idx.classes("AT&T") == ["Company"]
    assert idx.stats["size_bytes"] < 20_000_000


def test_batch_lookups_equal_single_lookups(tmp_path):
    """resolve_many / classes_many answer exactly as resolve / classes, chains and cycles included."""
    from nerbert_spacy.dbpedia.types import TypeIndex

    types = tmp_path / "t.nt"
    rdf = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    typed = {"Paris": "City", "Victor_Hugo": "Writer", "Old_Name": "Place", "Loop_B": "Country"}
    types.write_text("".join(f"<http://dbpedia.org/resource/{t}> {rdf} <http://dbpedia.org/ontology/{c}> .\n" for t, c in typed.items()))
    redirects = {"Paris, France": "Paris", "Ville lumière": "Paris, France", "Old Name": "Nowhere",
                 "Loop A": "Loop B", "Loop B": "Loop A", "Self": "Self X", "Hugo": "Victor Hugo"}
    index = TypeIndex.build([types], tmp_path / "i.sqlite", redirects=redirects)
    titles = list(redirects) + ["Paris", "victor_Hugo", "Unknown", "Loop_B", "", "Old_Name"] + [f"T{i}" for i in range(1200)]
    resolved = index.resolve_many(titles)
    assert resolved == {t: index.resolve(t) for t in titles}
    assert index.classes_many(titles) == {t: index.classes(t) for t in titles}
    assert index.classes_many(["Ville lumière"])["Ville lumière"] == ["City"]
