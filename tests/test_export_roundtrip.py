"""Export then import gives the same spans and labels, for every format, on tricky text."""
import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nerbert_spacy.export import FORMATS, all_spans, get_format
from nerbert_spacy.export.base import OVERLAPS_KEY

TEXTS = [
    # leading / multiple / trailing whitespace, a blank line, adjacent entities
    "  Angela Merkel met  Barack Obama in Berlin.\n\nNew York  ",
    # combining accent, emoji (astral plane), entity right after the emoji
    "Cafe\u0301 de Flore 😀Paris and 東京 ",
    # tab + newline inside an entity's neighbourhood, entity across a line break
    "e\u0301mile Zola\n\tParis\nHilton Hotel",
    # adjacent entities with no O token between them
    "Merkel Obama Macron",
    # no entities at all
    "nothing to see here",
]


def _span(doc, text, label, kb_id=""):
    start = doc.text.index(text)
    span = doc.char_span(start, start + len(text), label=label, kb_id=kb_id)
    assert span is not None, text
    return span


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


@pytest.fixture()
def docs(nlp):
    d = [nlp(t) for t in TEXTS]
    ents0 = [_span(d[0], "Angela Merkel", "PER", kb_id="Angela_Merkel"), _span(d[0], "Barack Obama", "PER"),
             _span(d[0], "Berlin", "LOC"), _span(d[0], "New York", "LOC")]
    d[0].ents = ents0
    # overlapping candidates: same tokens with two labels, and a nested span
    d[0].spans["cands"] = ents0 + [_span(d[0], "Barack Obama", "ORG"), _span(d[0], "Barack", "PER"),
                                   _span(d[0], "New York", "GPE")]
    d[0].spans["bio_tagger"] = ents0
    d[0].spans["bio_tagger"].attrs["scores"] = [0.91, 0.82, 0.73, 0.64]
    d[1].ents = [_span(d[1], "Cafe\u0301 de Flore", "ORG"), _span(d[1], "Paris", "LOC"), _span(d[1], "東京", "LOC")]
    d[1].spans["cands"] = list(d[1].ents) + [_span(d[1], "Flore", "PER")]
    d[2].ents = [_span(d[2], "e\u0301mile Zola", "PER"), _span(d[2], "Paris\nHilton Hotel", "ORG")]
    d[2].spans["cands"] = list(d[2].ents)
    d[3].ents = [_span(d[3], "Merkel", "PER"), _span(d[3], "Obama", "PER"), _span(d[3], "Macron", "PER")]
    d[3].spans["cands"] = list(d[3].ents) + [_span(d[3], "Merkel Obama", "ORG")]
    return d


def _out(tmp_path, name):
    return tmp_path / (name + get_format(name).suffix if get_format(name).suffix else name)


def _read(name, path, nlp, **kw):
    if name == "labelstudio":
        kw.setdefault("use_predictions", True)
    return get_format(name).read(path, nlp, **kw)


def _char_spans(spans):
    return sorted((s.start_char, s.end_char, s.label_) for s in spans)


def _token_spans(spans):
    """Spans as (non-space token texts, label): comparable across re-spacing (CoNLL)."""
    return [(tuple(t.text for t in s if not t.is_space), s.label_) for s in sorted(spans, key=lambda s: s.start)]


@pytest.mark.parametrize("name", [n for n in FORMATS if n != "conll"])
def test_roundtrip_ents_exact(name, docs, nlp, tmp_path):
    out = _out(tmp_path, name)
    stats = get_format(name).write(docs, out)
    assert stats["docs"] == len(docs)
    back, report = _read(name, out, nlp)
    assert len(back) == len(docs)
    for a, b in zip(docs, back):
        assert b.text == a.text
        assert _char_spans(b.ents) == _char_spans(a.ents)
        assert [t.text for t in b] == [t.text for t in a]
    kinds = set(report.counts) - {"from_predictions"}
    # BRAT writes the span across the line break as two fragments; reading merges them (reported)
    assert kinds == ({"discontinuous"} if name == "brat" else set()), report.issues


@pytest.mark.parametrize("name", [n for n in FORMATS if n != "conll"])
def test_roundtrip_overlapping_span_group(name, docs, nlp, tmp_path):
    """Overlapping spans come back: the non-overlapping choice in doc.ents, all of them reported
    and kept in doc.spans['import_overlaps']."""
    out = _out(tmp_path, name)
    get_format(name).write(docs, out, spans_key="cands")
    back, report = _read(name, out, nlp, spans_key="all")
    for a, b in zip(docs, back):
        want = _char_spans(a.spans.get("cands", []))
        assert all_spans(b) == want
        assert _char_spans(b.spans["all"]) == want
        ents = list(b.ents)
        assert all(x.end <= y.start for x, y in zip(ents, ents[1:]))
    overlaps = [i for i in report.issues if i.kind == "overlap"]
    # doc 0: ORG/PER on "Barack Obama", nested "Barack", GPE/LOC on "New York"; doc 1: none
    # ("Flore" is inside the ORG); doc 3: "Merkel Obama" ORG over two PERs
    assert len(overlaps) == 3 + 1 + 2
    assert {i.record for i in overlaps} == ({1, 2, 4} if name != "labelstudio" else {1, 2, 4})
    assert all(str(i.file).endswith(out.name) or out.name in str(i.file) for i in overlaps)
    assert OVERLAPS_KEY in back[0].spans and OVERLAPS_KEY not in back[2].spans


def test_roundtrip_conll(docs, nlp, tmp_path):
    out = tmp_path / "x.conll"
    stats = FORMATS["conll"].write(docs, out)
    assert stats == {"docs": 5, "spans": 12, "not_in_ents": 0, "empty_docs_skipped": 0}
    back, report = FORMATS["conll"].read(out, nlp)
    assert len(back) == len(docs)
    for a, b in zip(docs, back):
        assert [t.text for t in b] == [t.text for t in a if not t.is_space]
        assert _token_spans(b.ents) == _token_spans(a.ents)
    assert report.issues == []
    # an overlapping span group is reduced to a non-overlapping choice, and the loss counted
    stats = FORMATS["conll"].write(docs, out, spans_key="cands")
    assert stats["not_in_ents"] == 3 + 1 + 2


def test_scores_and_kb_ids_exported(docs, tmp_path):
    import json

    FORMATS["prodigy"].write(docs, tmp_path / "p.jsonl")
    task = json.loads((tmp_path / "p.jsonl").read_text(encoding="utf8").splitlines()[0])
    assert [s.get("score") for s in task["spans"]] == [0.91, 0.82, 0.73, 0.64]
    assert task["spans"][0]["kb_id"] == "Angela_Merkel"
    assert task["spans"][1]["token_start"] == 5 and task["spans"][1]["token_end"] == 6  # inclusive
    assert {t["ws"] for t in task["tokens"]} == {True, False}
    FORMATS["labelstudio"].write(docs, tmp_path / "ls.json")
    tasks = json.loads((tmp_path / "ls.json").read_text(encoding="utf8"))
    pred = tasks[0]["predictions"][0]
    assert [r["score"] for r in pred["result"]] == [0.91, 0.82, 0.73, 0.64]
    assert pred["score"] == pytest.approx((0.91 + 0.82 + 0.73 + 0.64) / 4)
    r = pred["result"][0]
    assert (r["from_name"], r["to_name"], r["type"]) == ("label", "text", "labels")
    assert r["value"] == {"start": 2, "end": 15, "text": "Angela Merkel", "labels": ["PER"]}
    assert "score" not in tasks[1]["predictions"][0]
    back, _ = FORMATS["prodigy"].read(tmp_path / "p.jsonl", "en")
    assert back[0].ents[0].kb_id_ == "Angela_Merkel"


def test_labelstudio_config_written(docs, tmp_path):
    import xml.etree.ElementTree as ET

    FORMATS["labelstudio"].write(docs, tmp_path / "tasks.json")
    root = ET.fromstring((tmp_path / "tasks.config.xml").read_text(encoding="utf8"))
    assert root.tag == "View"
    labels = root.find("Labels")
    assert labels.get("name") == "label" and labels.get("toName") == "text"
    assert sorted(x.get("value") for x in labels.findall("Label")) == ["LOC", "ORG", "PER"]
    text = root.find("Text")
    assert text.get("name") == "text" and text.get("value") == "$text"


def test_brat_multiline_span_written_as_fragments(docs, tmp_path):
    FORMATS["brat"].write(docs, tmp_path / "b")
    ann = (tmp_path / "b" / "doc-000002.ann").read_text(encoding="utf8")
    txt = (tmp_path / "b" / "doc-000002.txt").read_text(encoding="utf8")
    line = [x for x in ann.splitlines() if "ORG" in x][0]
    offsets = line.split("\t")[1].split(" ", 1)[1]
    frags = [tuple(map(int, f.split())) for f in offsets.split(";")]
    assert [txt[a:b] for a, b in frags] == ["Paris", "Hilton Hotel"]
    assert "ORG" in (tmp_path / "b" / "annotation.conf").read_text(encoding="utf8")


def test_doccano_entities_shape_roundtrip(docs, nlp, tmp_path):
    import json

    out = tmp_path / "d.jsonl"
    FORMATS["doccano"].write(docs, out, shape="entities")
    rec = json.loads(out.read_text(encoding="utf8").splitlines()[0])
    assert rec["entities"][0] == {"id": 1, "label": "PER", "start_offset": 2, "end_offset": 15}
    back, report = FORMATS["doccano"].read(out, nlp)
    assert [_char_spans(b.ents) for b in back] == [_char_spans(a.ents) for a in docs]


def test_metadata_roundtrip(nlp, tmp_path):
    doc = nlp("Paris is nice")
    doc.ents = [doc.char_span(0, 5, "LOC")]
    doc.user_data["title"] = "Paris"
    for name in ("prodigy", "labelstudio", "doccano"):
        out = _out(tmp_path, name)
        get_format(name).write([doc], out)
        back, _ = _read(name, out, nlp)
        assert back[0].user_data.get("title") == "Paris", name


# --------------------------------------------------------------------------- property-based

_PIECES = ["Ana", "Bo", "Zoë", "e\u0301", "😀", "東京", ",", ".", "-", "'s", " ", "  ", "\n", "\t", "\n\n", "x"]


_NLP = spacy.blank("en")


@st.composite
def doc_with_spans(draw):
    nlp = _NLP
    text = "".join(draw(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=25)))
    doc = nlp(text)
    words = [t.i for t in doc if not t.is_space]
    spans = []
    i = 0
    while i < len(words):
        if draw(st.booleans()):
            length = draw(st.integers(1, 3))
            end = min(i + length, len(words))
            start_tok, end_tok = words[i], words[end - 1] + 1
            spans.append(doc[start_tok:end_tok])
            i = end + draw(st.integers(0, 1))
        else:
            i += 1
    labels = draw(st.lists(st.sampled_from(["PER", "LOC", "ORG"]), min_size=len(spans), max_size=len(spans)))
    for s, lab in zip(spans, labels):
        s.label_ = lab
    doc.ents = spans
    return doc


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=doc_with_spans())
@pytest.mark.parametrize("name", list(FORMATS))
def test_roundtrip_property(name, doc, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(name)
    out = _out(tmp, name)
    get_format(name).write([doc], out)
    back, report = _read(name, out, _NLP)
    if name == "conll":
        if all(t.is_space for t in doc):
            assert back == []
            return
        assert _token_spans(back[0].ents) == _token_spans(doc.ents)
    else:
        assert back[0].text == doc.text
        assert _char_spans(back[0].ents) == _char_spans(doc.ents)
    assert [i for i in report.issues if i.kind not in ("from_predictions", "discontinuous")] == []
