"""Constants and small builders that several test modules share (the fixtures that use them
are in conftest.py). Test modules import this module, never each other."""

import bz2
import json
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.vocab import Vocab

from nerbert_spacy.corpus.filtering import FilterConfig

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"

# ---------------------------------------------------------------- inline dumps, types, ontology

TTL_PREFIXES = (
    "@prefix dbo: <http://dbpedia.org/ontology/> .\n"
    "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
    "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
)


def ontology_ttl(classes) -> str:
    """A Turtle ontology with one ``dbo:`` class per (name, English label, parent); a parent
    with a prefix (``owl:Thing``) is used as it is, else it is a ``dbo:`` class."""
    lines = []
    for name, label, parent in classes:
        parent = parent if ":" in parent else f"dbo:{parent}"
        lines.append(f'dbo:{name} a owl:Class ; rdfs:label "{label}"@en ; rdfs:subClassOf {parent} .\n')
    return TTL_PREFIXES + "".join(lines)


ONTOLOGY_TTL = ontology_ttl(
    [
        ("Agent", "agent", "owl:Thing"),
        ("Person", "person", "Agent"),
        ("Artist", "artist", "Person"),
        ("Writer", "writer", "Artist"),
        ("Place", "place", "owl:Thing"),
        ("PopulatedPlace", "populated place", "Place"),
        ("Settlement", "settlement", "PopulatedPlace"),
        ("City", "city", "Settlement"),
        ("Country", "country", "PopulatedPlace"),
        ("Organisation", "organisation", "Agent"),
        ("Company", "company", "Organisation"),
        ("Species", "species", "owl:Thing"),
        ("Eukaryote", "eukaryote", "Species"),
        ("Plant", "plant", "Eukaryote"),
    ]
)

RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
TYPES = {
    "Victor_Hugo": "Writer",
    "Paris": "City",
    "France": "Country",
    "Acme_Corp": "Company",
    "Moss": "Plant",
}
TYPES_NT = "".join(
    f"<http://dbpedia.org/resource/{t}> {RDF_TYPE} <http://dbpedia.org/ontology/{c}> .\n"
    for t, c in TYPES.items()
)

ARTICLE = (
    "'''{title}''' is a page.<ref>A reference with [[Nowhere]].</ref> "
    "[[Victor Hugo]] was born in [[Paris, France|Paris]] in [[France]]. "
    "He liked [[moss]]es and [[Acme Corp]] shares.\n\n"
    "{{{{Infobox thing|name=x}}}}\n"
    "The [[Unknown Thing]] and the [[Other Thing|other one]] met [[Victor Hugo]] in [[Paris]].\n\n"
    "A sentence with no link at all.\n"
)

HEADER = '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">\n'

# filters low enough for the few articles of the inline dumps
LOW = FilterConfig(min_count=2, top_k=20)


def page_xml(title, text=None, redirect=None, ns=0, page_id=1):
    """One ``<page>`` of a pages-articles dump: an article, or a redirect to ``redirect``."""
    redirect_xml = f'<redirect title="{escape(redirect)}" />' if redirect else ""
    body = f"#REDIRECT [[{redirect}]]" if redirect else text
    return (
        f"<page><title>{escape(title)}</title><ns>{ns}</ns><id>{page_id}</id>{redirect_xml}"
        f'<revision><id>{page_id}</id><text xml:space="preserve">{escape(body)}</text></revision></page>\n'
    )


def article_pages(n: int, prefix: str = "Page") -> list[str]:
    """``n`` copies of :data:`ARTICLE` titled ``{prefix} 0`` .. ``{prefix} n-1``, ids 1..n."""
    return [page_xml(f"{prefix} {i}", ARTICLE.format(title=f"{prefix} {i}"), page_id=i + 1) for i in range(n)]


def write_dump(path, n_articles=6, prefix="Page", with_specials=True, start_id=1):
    """A bz2 dump of ``n_articles`` articles, plus (``with_specials``) a redirect, a
    disambiguation page and a talk page. RETURNS ``path``."""
    pages = [
        page_xml(f"{prefix} {i}", ARTICLE.format(title=f"{prefix} {i}"), page_id=start_id + i)
        for i in range(n_articles)
    ]
    if with_specials:
        pages.append(page_xml("Paris, France", redirect="Paris", page_id=start_id + 100))
        pages.append(
            page_xml(
                "Mercury (disambiguation)",
                "'''Mercury''' may refer to:\n* [[Mercury (planet)]]\n{{disambiguation}}",
                page_id=start_id + 101,
            )
        )
        pages.append(page_xml("Talk:Paris", "Talk about [[Paris]].", ns=1, page_id=start_id + 102))
    xml = HEADER + "".join(pages) + "</mediawiki>\n"
    path.write_bytes(bz2.compress(xml.encode("utf8")))
    return path


def write_multistream(folder, pages, per_block=2, name="enwiki-test-pages-articles-multistream"):
    """A multistream dump (header stream, one bz2 stream per ``per_block`` pages, footer stream)
    and its Wikimedia-style index beside it. RETURNS (dump, index)."""
    groups = [pages[i : i + per_block] for i in range(0, len(pages), per_block)]
    blocks = [HEADER.encode("utf8")] + ["".join(g).encode("utf8") for g in groups] + [b"</mediawiki>\n"]
    dump = folder / f"{name}.xml.bz2"
    index_lines, offset, data, pid = [], 0, b"", 0
    for n, block in enumerate(blocks):
        comp = bz2.compress(block)
        for _ in groups[n - 1] if 1 <= n <= len(groups) else []:
            pid += 1
            index_lines.append(f"{offset}:{pid}:Page {pid - 1}")
        data += comp
        offset += len(comp)
    dump.write_bytes(data)
    index = folder / f"{name.replace('multistream', 'multistream-index')}.txt.bz2"
    index.write_bytes(bz2.compress(("\n".join(index_lines) + "\n").encode("utf8")))
    return dump, index


def write_ontology_and_types(folder: Path, ontology="ontology.ttl", types="types.nt"):
    """:data:`ONTOLOGY_TTL` and :data:`TYPES_NT` written into ``folder``. RETURNS (ontology, types)."""
    onto_path, types_path = folder / ontology, folder / types
    onto_path.write_text(ONTOLOGY_TTL, encoding="utf8")
    types_path.write_text(TYPES_NT, encoding="utf8")
    return onto_path, types_path


def write_build_inputs(folder: Path, dumps: Sequence[dict]) -> dict:
    """The inputs of a corpus build: ontology, types and one dump per entry of ``dumps``
    (keyword arguments of :func:`write_dump`), named ``wiki-a.xml.bz2``, ``wiki-b.xml.bz2``, ...

    RETURNS (dict): ``{"dumps": [...], "ontology": path, "types": [path], "tmp": folder}``.
    """
    onto, types = write_ontology_and_types(folder)
    paths = [write_dump(folder / f"wiki-{chr(ord('a') + i)}.xml.bz2", **kw) for i, kw in enumerate(dumps)]
    return {"dumps": paths, "ontology": onto, "types": [types], "tmp": folder}


# ---------------------------------------------------------------- shards of numbered sentences

ID_TOKEN = 4  # index of the sentence id (``w17``) in each sentence


def sentence(sid: int) -> list[str]:
    return ["the", "president", "John", "Smith", f"w{sid}", "born", "in", ["Paris", "London"][sid % 2], "."]


def write_id_shards(folder: Path, sizes=(5, 3, 6, 4), sents_per_doc: int = 1) -> list[str]:
    """Shards of PER/LOC sentences, each with a unique id token; RETURNS all ids, in file order.

    With ``sents_per_doc > 1`` a doc holds that many sentences (sentence starts set), so
    ``gold_preproc`` makes several examples of one doc. Each shard also holds an empty doc.
    """
    vocab = Vocab()
    folder.mkdir(parents=True, exist_ok=True)
    ids, sid = [], 0
    for s, n_docs in enumerate(sizes):
        db = DocBin(store_user_data=True)
        for _ in range(n_docs):
            words, starts, ents = [], [], []
            for _ in range(sents_per_doc):
                base = len(words)
                words += sentence(sid)
                starts += [True] + [False] * (len(sentence(sid)) - 1)
                ents += [(base + 2, base + 4, "PER"), (base + 7, base + 8, "LOC")]
                ids.append(f"w{sid}")
                sid += 1
            doc = Doc(vocab, words=words, sent_starts=starts if sents_per_doc > 1 else None)
            doc.ents = [Span(doc, a, b, label) for a, b, label in ents]
            db.add(doc)
        db.add(Doc(vocab, words=[]))
        db.to_disk(folder / f"shard-{s:03d}.spacy")
    return ids


# ---------------------------------------------------------------- a tiny tagged PER/LOC set

SENTENCES = [
    "the president John Smith was born in Paris .",
    "Paul Smith, the minister, visited London and Berlin in 2001!",
    "Members of the national party elected John Paul.",
]


def person_city_examples(nlp) -> list[Example]:
    """Nine training examples: a PER name and a LOC city in a fixed sentence frame."""
    examples = []
    people = [("John", "Smith"), ("Paul", "Smith"), ("John", "Paul")]
    cities = ["Paris", "London", "Berlin"]
    for i in range(9):
        first, last = people[i % 3]
        words = ["the", "president", first, last, "was", "born", "in", cities[i % 3], "."]
        ref = Doc(nlp.vocab, words=words)
        ref.ents = [Span(ref, 2, 4, "PER"), Span(ref, 7, 8, "LOC")]
        examples.append(Example(Doc(nlp.vocab, words=words), ref))
    return examples


# ---------------------------------------------------------------- docs and files


def ents_of(doc) -> list[tuple[str, str]]:
    """(text, label) of each entity of ``doc``."""
    return [(e.text, e.label_) for e in doc.ents]


def write_jsonl(path: Path, records) -> Path:
    """``records`` as JSON lines (UTF-8, non-ASCII kept). RETURNS ``path``."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf8")
    return path


# ---------------------------------------------------------------- small pipelines


def strided_transformer(encoder, **model) -> dict:
    """The ``transformer`` component's config for the model folder ``encoder``, with
    spaCy's strided spans (window 128, stride 96); ``model`` adds settings of the model."""
    return {
        "model": {
            "@architectures": "spacy-transformers.TransformerModel.v3",
            "name": str(encoder),
            "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
            **model,
        }
    }


def train_and_save(nlp, examples, path: Path, *, learn_rate: float, steps: int) -> Path:
    """Initialise ``nlp`` on ``examples``, update it ``steps`` times on all of them, save it
    to ``path``. RETURNS ``path``."""
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = learn_rate
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    nlp.to_disk(path)
    return path
