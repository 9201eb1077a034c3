"""Infobox typing: DBpedia's mappings export, template names, articles -> classes."""
import bz2
from collections import Counter

import pytest

from nerbert_spacy.cli import app
from nerbert_spacy.dbpedia.infobox import (
    InfoboxTypeSource,
    compare_types,
    infobox_types,
    load_infobox_mappings,
    normalize_template_name,
    page_classes,
    resource_iri,
    type_triple,
)
from nerbert_spacy.errors import NerbertError

MAPPING_XML = """<?xml version="1.0" encoding="UTF-8"?>
<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.8/">
<page><title>Mapping en:Infobox officeholder</title><ns>204</ns><id>1</id><revision><id>1</id><text>{{TemplateMapping
| mapToClass = OfficeHolder
| mappings =
  {{PropertyMapping | templateProperty = name | ontologyProperty = foaf:name }}
  {{IntermediateNodeMapping | nodeClass = PersonFunction | correspondingProperty = occupation }}
}}</text></revision></page>
<page><title>Mapping en:Infobox settlement</title><ns>204</ns><id>2</id><revision><id>2</id><text>&lt;!-- settlements --&gt;
{{ConditionalMapping
| cases =
  {{Condition
    | templateProperty = settlement_type
    | operator = contains
    | value = city
    | mapping = {{TemplateMapping | mapToClass = City }}
  }}
  {{Condition
    | templateProperty = settlement_type
    | operator = equals
    | value = Village
    | mapping = {{TemplateMapping | mapToClass = Village }}
  }}
  {{Condition
    | templateProperty = population_total
    | operator = isSet
    | mapping = {{TemplateMapping | mapToClass = Town }}
  }}
  {{Condition
    | operator = otherwise
    | mapping = {{TemplateMapping | mapToClass = Settlement }}
  }}
| defaultMappings =
  {{PropertyMapping | templateProperty = name | ontologyProperty = foaf:name }}
}}</text></revision></page>
<page><title>Mapping en:Infobox person</title><ns>204</ns><id>3</id><revision><id>3</id><text>{{ TemplateMapping | mapToClass = Person }}</text></revision></page>
<page><title>Mapping en:Infobox senator</title><ns>204</ns><id>4</id><revision><id>4</id><text>#REDIRECT [[Mapping en:Infobox officeholder]]</text></revision></page>
<page><title>Mapping en:Infobox album</title><ns>204</ns><id>5</id><revision><id>5</id><text>{{TemplateMapping | mapToClass = Album }}</text></revision></page>
<page><title>Mapping en:Infobox thing</title><ns>204</ns><id>6</id><revision><id>6</id><text>{{TemplateMapping | mapToClass = owl:Thing }}</text></revision></page>
<page><title>Mapping en:Table/Automobile</title><ns>204</ns><id>7</id><revision><id>7</id><text>{{TableMapping | mapToClass = AutomobileEngine }}</text></revision></page>
<page><title>Mapping en:US-politician-stub</title><ns>204</ns><id>8</id><revision><id>8</id><text>{{TemplateMapping | mapToClass = Politician}}</text></revision></page>
</mediawiki>
"""


class MiniOntology:
    """Just enough of the Ontology API for page_classes / compare_types."""

    PARENTS = {
        "Person": ["Agent"],
        "Politician": ["Person"],
        "OfficeHolder": ["Person"],
        "Agent": [],
        "Place": [],
        "PopulatedPlace": ["Place"],
        "Settlement": ["PopulatedPlace"],
        "City": ["Settlement"],
        "Village": ["Settlement"],
        "Town": ["Settlement"],
        "Work": [],
        "MusicalWork": ["Work"],
        "Album": ["MusicalWork"],
    }
    classes = set(PARENTS)

    def ancestors(self, cls):
        out, todo = [], list(self.PARENTS.get(cls, []))
        while todo:
            c = todo.pop(0)
            if c not in out:
                out.append(c)
                todo.extend(self.PARENTS.get(c, []))
        return out

    def depth(self, cls):
        return len(self.ancestors(cls))


@pytest.fixture(scope="module")
def mappings(tmp_path_factory):
    path = tmp_path_factory.mktemp("map") / "Mapping_en.xml"
    path.write_text(MAPPING_XML, encoding="utf8")
    return load_infobox_mappings(path)


def test_parse_mapping_export(mappings):
    assert mappings.classes["Infobox officeholder"] == "OfficeHolder"  # not the IntermediateNode's class
    assert mappings.classes["Infobox person"] == "Person"
    assert mappings.redirects == {"Infobox senator": "Infobox officeholder"}
    assert [c.cls for c in mappings.conditional["Infobox settlement"]] == ["City", "Village", "Town", "Settlement"]
    assert "Infobox thing" not in mappings  # owl:Thing says nothing
    assert "Table/Automobile" not in mappings
    st = mappings.stats
    assert st["pages"] == 8 and st["skipped_no_class"] == 1 and st["skipped_table_mapping"] == 1
    assert st["conditional_mappings"] == 1 and st["redirects"] == 1


def test_parse_bz2_and_errors(tmp_path):
    p = tmp_path / "m.xml.bz2"
    p.write_bytes(bz2.compress(MAPPING_XML.encode()))
    assert load_infobox_mappings(p).classes["Infobox album"] == "Album"
    bad = tmp_path / "bad.xml"
    bad.write_text(MAPPING_XML[:700])
    with pytest.raises(NerbertError, match="bad.xml"):
        load_infobox_mappings(bad)
    with pytest.raises(NerbertError, match="not found"):
        load_infobox_mappings(tmp_path / "missing.xml")
    empty = tmp_path / "empty.xml"
    empty.write_text('<mediawiki><page><title>Main Page</title><text>hi</text></page></mediawiki>')
    with pytest.raises(NerbertError, match="TemplateMapping"):
        load_infobox_mappings(empty)


@pytest.mark.parametrize(
    "raw,norm",
    [
        ("Infobox officeholder", "Infobox officeholder"),
        ("infobox officeholder", "Infobox officeholder"),
        ("Template:Infobox_officeholder", "Infobox officeholder"),
        ("template : infobox   officeholder\n", "Infobox officeholder"),
        ("Infobox officeholder <!-- see docs -->", "Infobox officeholder"),
        ("  ", ""),
    ],
)
def test_normalize_template_name(raw, norm):
    assert normalize_template_name(raw) == norm


OFFICEHOLDER = """{{Use mdy dates|date=May 2020}}
{{Infobox officeholder
| name         = Barack Obama
| image        = President Barack Obama.jpg
| order        = 44th
| office       = [[President of the United States]]
| birth_date   = {{birth date and age|1961|8|4}}
| party        = [[Democratic Party (United States)|Democratic]]
}}
'''Barack Hussein Obama II''' is an American politician.
"""


@pytest.mark.parametrize("fast", [True, False])
def test_real_template_shapes(mappings, fast):
    onto = MiniOntology()
    assert infobox_types(OFFICEHOLDER, mappings, onto, fast=fast) == ["OfficeHolder"]
    # lower-case first letter, Template: prefix, underscores
    assert infobox_types("{{infobox settlement}}\nText.", mappings, fast=fast) == ["Settlement"]
    assert infobox_types("{{Template:Infobox_album | name = X}}", mappings, fast=fast) == ["Album"]
    # a commented-out infobox is not there
    assert infobox_types("<!-- {{Infobox album}} -->Text", mappings, fast=fast) == []
    # mapping-wiki redirect
    assert infobox_types("{{Infobox senator|name=X}}", mappings, fast=fast) == ["OfficeHolder"]
    # no infobox
    assert infobox_types("Just text with a {{cite web|url=x}}.", mappings, fast=fast) == []
    # comment inside the name
    assert infobox_types("{{Infobox person <!-- bio -->\n| name = X}}", mappings, fast=fast) == ["Person"]
    # unclosed template: no template (mwparserfromhell reads it as text)
    assert infobox_types("{{Infobox album | name = X\n\nText", mappings, fast=fast) == []


@pytest.mark.parametrize("fast", [True, False])
def test_conditional_mapping(mappings, fast):
    def t(text):
        return infobox_types(text, mappings, fast=fast)

    assert t("{{Infobox settlement | settlement_type = [[City]] <!-- x --> | name = A}}") == ["City"]
    assert t("{{Infobox settlement | settlement_type = Capital city}}") == ["City"]  # contains
    assert t("{{Infobox settlement | settlement_type = village}}") == ["Village"]  # equals, any case
    assert t("{{Infobox settlement | settlement_type = Village of X}}") == ["Settlement"]
    assert t("{{Infobox settlement | population_total = 1234}}") == ["Town"]  # isSet
    assert t("{{Infobox settlement | population_total = }}") == ["Settlement"]  # empty is not set
    assert t("{{Infobox settlement | name = {{lang|fr|Paris}} }}") == ["Settlement"]  # otherwise


@pytest.mark.parametrize("fast", [True, False])
def test_nested_and_several_templates(mappings, fast):
    onto = MiniOntology()
    # embedded infobox specialising the page's class: both kept, most specific last
    text = "{{Infobox person | name = X | module = {{Infobox officeholder | embed = yes | office = Mayor}} }}"
    assert infobox_types(text, mappings, onto, fast=fast) == ["Person", "OfficeHolder"]
    # an unrelated second infobox (an album in a musician's article) is not the page's type
    text = "{{Infobox person | name = X}}\n== Music ==\n{{Infobox album | name = Y}}"
    assert infobox_types(text, mappings, onto, fast=fast) == ["Person"]
    # stub template at the bottom, subclass of the infobox class
    text = "{{Infobox person|name=X}}\nText.\n{{US-politician-stub}}"
    assert infobox_types(text, mappings, onto, fast=fast) == ["Person", "Politician"]
    # without an ontology only the first template counts
    assert infobox_types(text, mappings, fast=fast) == ["Person"]


def test_case_fallback_and_template_redirects(mappings):
    stats = Counter()
    assert infobox_types("{{Infobox Officeholder|name=X}}", mappings, stats=stats) == ["OfficeHolder"]
    assert infobox_types("{{Infobox Officeholder|name=X}}", mappings, case_insensitive=False) == []
    redirects = {"Infobox Politician": "Template:Infobox officeholder"}
    assert infobox_types("{{Infobox Politician}}", mappings, template_redirects=redirects) == ["OfficeHolder"]
    assert stats["templates_mapped"] == 1


def test_page_classes_and_compare():
    onto = MiniOntology()
    assert page_classes(["Person", "Person", "OfficeHolder", "Person"], onto) == ["Person", "OfficeHolder"]
    assert page_classes(["OfficeHolder", "Person"], onto) == ["OfficeHolder"]  # ancestor adds nothing
    assert compare_types(["City"], ["City"], onto) == "exact"
    assert compare_types(["Settlement", "City"], ["Settlement"], onto) == "infobox_more_specific"
    assert compare_types(["Settlement"], ["City"], onto) == "infobox_less_specific"
    # a merged reference may list classes from different lines of descent
    assert compare_types(["Politician"], ["OfficeHolder", "Politician"], onto) == "exact"
    assert compare_types(["Settlement"], ["City", "Place"], onto) == "infobox_more_specific"
    assert compare_types(["Album"], ["City"], onto) == "conflict"


def test_n_triples_lines():
    assert resource_iri("Barack Obama") == "http://dbpedia.org/resource/Barack_Obama"
    assert resource_iri('100% "Pure" <Love>') == "http://dbpedia.org/resource/100%25_%22Pure%22_%3CLove%3E"
    assert resource_iri("Zürich (city)") == "http://dbpedia.org/resource/Zürich_(city)"
    assert type_triple("Paris", "City") == (
        "<http://dbpedia.org/resource/Paris> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<http://dbpedia.org/ontology/City> .\n"
    )
    import rdflib

    g = rdflib.Graph().parse(data=type_triple('100% "Pure" <Love>', "Album"), format="nt")
    assert len(g) == 1


DUMP = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">
<page><title>Barack Obama</title><ns>0</ns><id>1</id><revision><id>1</id><text xml:space="preserve">{OB}</text></revision></page>
<page><title>Paris</title><ns>0</ns><id>2</id><revision><id>2</id><text xml:space="preserve">{{{{Infobox settlement | settlement_type = City}}}} Paris is a city.</text></revision></page>
<page><title>Obama</title><ns>0</ns><id>3</id><redirect title="Barack Obama" /><revision><id>3</id><text xml:space="preserve">#REDIRECT [[Barack Obama]]</text></revision></page>
<page><title>Plain</title><ns>0</ns><id>4</id><revision><id>4</id><text xml:space="preserve">No infobox here.</text></revision></page>
</mediawiki>
"""


def _write_dump(path):
    from xml.sax.saxutils import escape

    path.write_text(DUMP.replace("{OB}", escape(OFFICEHOLDER)), encoding="utf8")
    return path


class _Typed:
    def __init__(self, known):
        self.known = known

    def classes(self, title):
        return self.known.get(title, [])


def test_type_source_writes_n_triples(mappings, tmp_path):
    dump = _write_dump(tmp_path / "dump.xml")
    source = InfoboxTypeSource(mappings, MiniOntology())
    out = tmp_path / "types.nt"
    stats = source.write([dump], out)
    lines = out.read_text().splitlines()
    assert lines == [
        "<http://dbpedia.org/resource/Barack_Obama> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<http://dbpedia.org/ontology/OfficeHolder> .",
        "<http://dbpedia.org/resource/Paris> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<http://dbpedia.org/ontology/City> .",
    ]
    assert stats["articles"] == 3 and stats["articles_typed"] == 2 and stats["triples"] == 2
    # instance types first: a page the index already types is left out
    stats = source.write([dump], out, skip_typed=_Typed({"Paris": ["Settlement"]}))
    assert len(out.read_text().splitlines()) == 1 and stats["skipped_already_typed"] == 1


def test_type_source_plugs_into_type_index(mappings, tmp_path):
    import nerbert_spacy.dbpedia.types as types_mod
    dump = _write_dump(tmp_path / "dump.xml")
    out = tmp_path / "types.nt.bz2"
    InfoboxTypeSource(mappings, MiniOntology()).write([dump], out)
    index = types_mod.TypeIndex.build([out], tmp_path / "index")
    assert index.classes("Paris") == ["City"]
    assert index.classes("Barack Obama") == ["OfficeHolder"]


def _instance_types(path):
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    path.write_text(
        f"<http://dbpedia.org/resource/Paris> {rdf_type} <http://dbpedia.org/ontology/Settlement> .\n"
        f"<http://dbpedia.org/resource/Barack_Obama> {rdf_type} <http://dbpedia.org/ontology/OfficeHolder> .\n"
    )
    return path


#: A dump's start and its redirect page Template:Infobox Politician -> Template:Infobox officeholder.
TEMPLATE_REDIRECT_PAGE = (
    '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">'
    "<page><title>Template:Infobox Politician</title><ns>10</ns><id>9</id>"
    '<redirect title="Template:Infobox officeholder" /><revision><id>1</id>'
    "<text>#REDIRECT [[Template:Infobox officeholder]]</text></revision></page>"
)


def _mapping_dump_and_paris_type(folder):
    """Mapping_en.xml, a two-article dump and an instance-types file typing only Paris (as
    dbo:Settlement) in ``folder``. RETURNS (dump path, instance-types path)."""
    (folder / "Mapping_en.xml").write_text(MAPPING_XML)
    dump = _write_dump(folder / "dump.xml")
    it = folder / "instance-types.nt"
    it.write_text(
        "<http://dbpedia.org/resource/Paris> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<http://dbpedia.org/ontology/Settlement> .\n"
    )
    return dump, it


def test_write_infobox_types_leaves_instance_types_first(tmp_path):
    from nerbert_spacy.dbpedia.infobox import write_infobox_types

    dump, it = _mapping_dump_and_paris_type(tmp_path)
    out = tmp_path / "types.nt"
    stats = write_infobox_types([dump], tmp_path / "Mapping_en.xml", out, ontology=MiniOntology())
    assert stats["articles_typed"] == 2 and stats["entities_written"] == 2 and stats["errors"] == []
    stats = write_infobox_types([dump], tmp_path / "Mapping_en.xml", out, ontology=MiniOntology(), instance_types=[it])
    assert stats["skipped_already_typed"] == 1 and stats["entities_written"] == 1
    assert "Barack_Obama" in out.read_text() and "Paris" not in out.read_text()
    assert not list(tmp_path.glob(".tmp-*"))


def test_write_infobox_types_reads_template_redirects_first(tmp_path):
    from nerbert_spacy.dbpedia.infobox import write_infobox_types

    (tmp_path / "Mapping_en.xml").write_text(MAPPING_XML)
    d = tmp_path / "d.xml"
    d.write_text(
        TEMPLATE_REDIRECT_PAGE +
        "<page><title>Jane Doe</title><ns>0</ns><id>11</id>"
        "<revision><id>3</id><text>{{Infobox Politician | name = Jane}} Jane is a politician.</text></revision></page>"
        "</mediawiki>"
    )
    out = tmp_path / "types.nt"
    told = []
    stats = write_infobox_types([d], tmp_path / "Mapping_en.xml", out, case_insensitive=False, progress=told.append)
    assert stats.get("articles_typed", 0) == 0 and stats["articles"] == 1 and told == []
    stats = write_infobox_types([d], tmp_path / "Mapping_en.xml", out, case_insensitive=False,
                                template_redirects=True, progress=told.append)
    assert told == ["1 template redirects"]
    assert stats["articles_typed"] == 1 and "Jane_Doe> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> " \
        "<http://dbpedia.org/ontology/OfficeHolder>" in out.read_text()


def test_agreement_with_instance_types(tmp_path):
    from nerbert_spacy.dbpedia.infobox import agreement_with_instance_types

    (tmp_path / "Mapping_en.xml").write_text(MAPPING_XML)
    dump = _write_dump(tmp_path / "dump.xml")
    result = agreement_with_instance_types([dump], tmp_path / "Mapping_en.xml", [_instance_types(tmp_path / "it.nt")],
                                           MiniOntology())
    total = result["total"]
    assert result["dumps"]["dump.xml"] == total
    assert (total["articles"], total["infobox_typed"], total["reference_typed"], total["both"]) == (3, 2, 2, 2)
    assert total["exact"] == 1 and total["infobox_more_specific"] == 1  # City under the reference's Settlement
    assert total["exact_rate"] == 0.5 and total["up_to_ancestors_rate"] == 1.0
    assert result["disagreement_examples"] == [
        {"title": "Paris", "verdict": "infobox_more_specific", "infobox": ["City"], "reference": ["Settlement"]}
    ]


def test_real_mappings_file(shared_data):
    path = shared_data / "dbpedia" / "Mapping_en.xml"
    if not path.exists():
        pytest.skip("Mapping_en.xml not in shared data")
    m = load_infobox_mappings(path)
    assert len(m) > 600 and len(m.conditional) > 20
    assert m.stats.get("errors") is None
    # Infobox officeholder -> a Person subclass (via the real ontology when it is there)
    cls = m.class_for("Infobox officeholder")
    assert cls in ("OfficeHolder", "Politician")
    owl = shared_data / "dbpedia" / "dbpedia_current.owl"
    try:
        from nerbert_spacy.dbpedia.ontology import Ontology
    except ImportError:
        Ontology = None
    if Ontology is not None and owl.exists():
        onto = Ontology.load(owl)
        assert "Person" in onto.ancestors(cls)
        assert "PopulatedPlace" in onto.ancestors(m.class_for("Infobox settlement"))
        # the mappings are as current as the current ontology: every class is known
        used = set(m.classes.values()) | {c.cls for cases in m.conditional.values() for c in cases if c.cls}
        assert sorted(c for c in used if c not in onto.classes) == []
    assert m.class_for("Drugbox") == m.class_for("Infobox drug")  # mapping-wiki redirect
    assert m.class_for("Infobox German location", {"type": "Stadt"}) == "Town"
    assert m.class_for("Infobox German location", {}) == "Settlement"


@pytest.mark.slow
def test_fast_scan_equals_full_parse_on_real_dumps(shared_data):
    """The regex pre-scan finds the same page classes as a full mwparserfromhell parse."""
    from nerbert_spacy.dbpedia.infobox import _iter_export_pages

    path = shared_data / "dbpedia" / "Mapping_en.xml"
    dumps = sorted((shared_data / "wikipedia").glob("*.bz2"))
    if not path.exists() or not dumps:
        pytest.skip("Mapping_en.xml or dumps not in shared data")
    m = load_infobox_mappings(path)
    onto = MiniOntology()
    typed = 0
    for dump in dumps:
        for i, (title, text) in enumerate(_iter_export_pages(dump)):
            if i >= 60:  # a full parse runs at ~1 MB/s; 60 pages per dump cover the shapes
                break
            fast = infobox_types(text, m, onto, fast=True)
            assert fast == infobox_types(text, m, onto, fast=False), title
            typed += bool(fast)
    assert typed >= 50


def test_template_redirects_from_dump(mappings, tmp_path):
    from nerbert_spacy.dbpedia.infobox import template_redirects_from_dump

    d = tmp_path / "d.xml"
    d.write_text(
        TEMPLATE_REDIRECT_PAGE +
        "<page><title>Template:Infobox officeholder</title><ns>10</ns><id>10</id>"
        "<revision><id>2</id><text>table code</text></revision></page></mediawiki>"
    )
    redirects = template_redirects_from_dump([d])
    assert redirects == {"Infobox Politician": "Infobox officeholder"}
    text = "{{infobox Politician | name = X}}"
    assert infobox_types(text, mappings, template_redirects=redirects, case_insensitive=False) == ["OfficeHolder"]


@pytest.mark.slow
def test_agreement_with_the_instance_types_sample(shared_data, tmp_path):
    """The measurement of docs/beyond.md on the DBpedia minidump."""
    from nerbert_spacy.dbpedia.infobox import infobox_agreement
    from nerbert_spacy.dbpedia.ontology import Ontology
    from nerbert_spacy.dbpedia.types import TypeIndex

    d = shared_data / "dbpedia"
    dump = shared_data / "wikipedia" / "dbpedia-minidump-enwiki.xml.bz2"
    needed = [d / "Mapping_en.xml", d / "instance-types-sample.nt.bz2", d / "dbpedia_current.owl", dump]
    if not all(p.exists() for p in needed):
        pytest.skip("shared DBpedia/Wikipedia files missing")
    index = TypeIndex.build([d / "instance-types-sample.nt.bz2"], tmp_path / "index")
    source = InfoboxTypeSource(d / "Mapping_en.xml", Ontology.load(d / "dbpedia_current.owl"))
    result = infobox_agreement(source, [dump], index)
    total = result["total"]
    assert total["articles"] >= 20 and total["infobox_typed"] >= 18
    assert total["both"] >= 8 and total["exact"] == total["both"]
    assert total["exact_rate"] == 1.0


def test_infobox_types_cli(cli_runner, tmp_path):
    (tmp_path / "Mapping_en.xml").write_text(MAPPING_XML)
    dump = _write_dump(tmp_path / "dump.xml")
    out = tmp_path / "types.nt"
    r = cli_runner.invoke(
        app, ["labels", "infobox-types", str(dump), "--mappings", str(tmp_path / "Mapping_en.xml"), "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert "2 typed by infobox" in r.output
    assert "<http://dbpedia.org/ontology/City>" in out.read_text()


def test_infobox_types_cli_fills_gaps_of_instance_types(cli_runner, tmp_path):
    dump, it = _mapping_dump_and_paris_type(tmp_path)
    out = tmp_path / "gaps.nt"
    r = cli_runner.invoke(
        app, ["labels", "infobox-types", str(dump), "--mappings", str(tmp_path / "Mapping_en.xml"),
              "--instance-types", str(it), "-o", str(out)]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "1 left to the instance types" in r.output
    text = out.read_text()
    assert "Barack_Obama" in text and "Paris" not in text
