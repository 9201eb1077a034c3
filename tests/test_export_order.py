"""Uncertainty-ordered pre-annotation (Prodigy, Label Studio) and span provenance
through export -> import."""
import json

import pytest
import spacy
from spacy.tokens import DocBin, Span

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.export import export_docs, import_docs, span_provenance, uncertainty_score
from nerbert_spacy.export.base import ImportReport, read_provenance

TEXTS = [
    "Angela Merkel visited Paris .",  # entities 0.9, 0.6 -> 0.6
    "John Smith spoke .",  # entity 0.95 -> 0.95
    "nothing here at all .",  # no entity, margin 0.1
    "weak labels only .",  # no model output at all -> no score, last
    "Berlin is big .",  # entity 0.3 -> 0.3
]
EXPECTED_ORDER = [2, 4, 0, 1, 3]
EXPECTED_SCORES = [0.1, 0.3, 0.6, 0.95, None]


def _scored_docs(nlp):
    spec = {0: [(0, 2, "PER", 0.9), (3, 4, "LOC", 0.6)], 1: [(0, 2, "PER", 0.95)], 2: [], 4: [(0, 1, "LOC", 0.3)]}
    docs = []
    for i, text in enumerate(TEXTS):
        doc = nlp.make_doc(text)
        if i in spec:
            spans = [Span(doc, a, b, label) for a, b, label, _ in spec[i]]
            doc.ents = spans
            doc.spans["bio_tagger"] = spans
            doc.spans["bio_tagger"].attrs["scores"] = [s for *_, s in spec[i]]
            doc.spans["bio_tagger"].attrs["min_margin"] = 0.1 if i == 2 else 0.05
        docs.append(doc)
    return docs


@pytest.fixture
def scored_docbin(tmp_path):
    path = tmp_path / "docs.spacy"
    DocBin(docs=_scored_docs(spacy.blank("en")), store_user_data=True).to_disk(path)
    return path


def _jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines() if line.strip()]


def test_uncertainty_score_rules():
    docs = _scored_docs(spacy.blank("en"))
    assert [uncertainty_score(d) for d in docs] == [0.6, 0.95, 0.1, None, 0.3]


def test_prodigy_tasks_sorted_by_meta_score(scored_docbin, tmp_path):
    out = tmp_path / "tasks.jsonl"
    export_docs(scored_docbin, "prodigy", out, order="uncertainty")
    tasks = _jsonl(out)
    assert [t["meta"]["doc_index"] for t in tasks] == EXPECTED_ORDER
    assert [t["meta"].get("score") for t in tasks] == EXPECTED_SCORES
    assert [t["text"] for t in tasks] == [TEXTS[i] for i in EXPECTED_ORDER]
    # every stated score is the least confident span of its task (or the margin without spans)
    for task in tasks:
        span_scores = [s["score"] for s in task["spans"] if "score" in s]
        if span_scores:
            assert task["meta"]["score"] == min(span_scores)
    # file order keeps the input order and still states the scores
    export_docs(scored_docbin, "prodigy", out, order="file")
    tasks = _jsonl(out)
    assert [t["meta"]["doc_index"] for t in tasks] == [0, 1, 2, 3, 4]
    assert [t["meta"].get("score") for t in tasks] == [0.6, 0.95, 0.1, None, 0.3]


def test_labelstudio_tasks_sorted_by_prediction_score(scored_docbin, tmp_path):
    out = tmp_path / "tasks.json"
    export_docs(scored_docbin, "labelstudio", out, order="uncertainty")
    tasks = json.loads(out.read_text(encoding="utf8"))
    assert [t["id"] for t in tasks] == [1, 2, 3, 4, 5]
    assert [t["data"]["meta"]["doc_index"] for t in tasks] == EXPECTED_ORDER
    assert [t["predictions"][0].get("score") for t in tasks] == EXPECTED_SCORES
    # without an order: input order and the mean span score, as before
    export_docs(scored_docbin, "labelstudio", out)
    tasks = json.loads(out.read_text(encoding="utf8"))
    assert tasks[0]["predictions"][0]["score"] == pytest.approx(0.75)
    assert "meta" not in tasks[0]["data"]


def test_order_errors(scored_docbin, tmp_path):
    with pytest.raises(NerbertError, match="only written by the formats with a task score"):
        export_docs(scored_docbin, "doccano", tmp_path / "x.jsonl", order="uncertainty")
    with pytest.raises(NerbertError, match="unknown task order"):
        export_docs(scored_docbin, "prodigy", tmp_path / "x.jsonl", order="random")


def test_cli_orders_pipeline_predictions(cli_runner, pipeline_dir, tmp_path):
    from nerbert_spacy.cli import app

    texts = ["the president John Smith was born in Paris .", "members of the party .", "Paul Smith won ."]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(texts) + "\n", encoding="utf8")
    out = tmp_path / "tasks.jsonl"
    args = ["export", str(src), "-f", "prodigy", "-o", str(out), "-m", str(pipeline_dir), "--order", "uncertainty"]
    result = cli_runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "in uncertainty order" in result.output
    tasks = _jsonl(out)
    scores = [t["meta"]["score"] for t in tasks]
    assert scores == sorted(scores)
    nlp = spacy.load(pipeline_dir)
    for task in tasks:
        doc = nlp(texts[task["meta"]["doc_index"]])
        group = doc.spans["bio_tagger"]
        expected = min(group.attrs["scores"]) if len(group) else group.attrs["min_margin"]
        assert task["meta"]["score"] == pytest.approx(expected, abs=1e-6)
        for span in task["spans"]:
            model = [p for p in span["provenance"] if p["source"] == "model"]
            assert model and model[0]["model"] == "en_pipeline-0.0.0"


def _weak_doc(nlp):
    """Anchors typed by a DBpedia class and untyped (ENTITY), a gazetteer match, model spans."""
    doc = nlp.make_doc("Angela Merkel met Olaf Scholz in Berlin .")
    anchors = [
        Span(doc, 0, 2, "politician", kb_id="Angela_Merkel"),
        Span(doc, 3, 5, "ENTITY", kb_id="Olaf_Scholz"),
    ]
    doc.spans["anchors"] = anchors
    doc.spans["dbpedia_gazetteer"] = [Span(doc, 0, 2, "politician"), Span(doc, 6, 7, "city")]
    doc.spans["bio_tagger"] = [Span(doc, 0, 2, "politician"), Span(doc, 6, 7, "city")]
    doc.spans["bio_tagger"].attrs["scores"] = [0.97, 0.55]
    doc.ents = [Span(doc, 0, 2, "politician"), Span(doc, 3, 5, "ENTITY"), Span(doc, 6, 7, "city")]
    return doc


def _groups(doc):
    out = {}
    for key in ("anchors", "dbpedia_gazetteer", "bio_tagger"):
        group = doc.spans[key] if key in doc.spans else []
        out[key] = [(s.start, s.end, s.label_, s.kb_id_) for s in group]
    out["scores"] = list(doc.spans["bio_tagger"].attrs.get("scores", [])) if "bio_tagger" in doc.spans else []
    return out


def test_span_provenance_entries():
    doc = _weak_doc(spacy.blank("en"))
    assert span_provenance(doc, 0, 2, model="en_x-1") == [
        {"source": "anchor", "group": "anchors", "label": "politician", "typed_by": "dbpedia_class",
         "kb_id": "Angela_Merkel"},
        {"source": "model", "group": "bio_tagger", "label": "politician", "score": 0.97, "model": "en_x-1"},
        {"source": "gazetteer", "group": "dbpedia_gazetteer", "label": "politician"},
    ]
    assert span_provenance(doc, 3, 5) == [
        {"source": "anchor", "group": "anchors", "label": "ENTITY", "typed_by": "ENTITY", "kb_id": "Olaf_Scholz"}
    ]


@pytest.mark.parametrize("fmt,suffix,opts", [("prodigy", ".jsonl", {}), ("labelstudio", ".json", {"use_predictions": True})])
def test_provenance_survives_export_import(tmp_path, fmt, suffix, opts):
    nlp = spacy.blank("en")
    doc = _weak_doc(nlp)
    src = tmp_path / "weak.spacy"
    DocBin(docs=[doc], store_user_data=True).to_disk(src)
    exported = tmp_path / f"tasks{suffix}"
    export_docs(src, fmt, exported)
    back_path = tmp_path / "back.spacy"
    report = import_docs(exported, fmt, back_path, **opts)
    assert not [i for i in report.issues if i.kind == "invalid"]
    (back,) = DocBin().from_disk(back_path).get_docs(nlp.vocab)
    assert _groups(back) == _groups(doc)
    assert [(e.start, e.end, e.label_) for e in back.ents] == [(e.start, e.end, e.label_) for e in doc.ents]
    # and again: the re-export states the same provenance
    again = tmp_path / f"again{suffix}"
    export_docs(back_path, fmt, again)
    assert _provenance_of(exported, fmt) == _provenance_of(again, fmt)


def _provenance_of(path, fmt):
    if fmt == "prodigy":
        return [s["provenance"] for t in _jsonl(path) for s in t["spans"]]
    return [r["meta"]["provenance"] for t in json.loads(path.read_text()) for r in t["predictions"][0]["result"]]


def test_labelstudio_annotation_keeps_provenance_of_accepted_regions(tmp_path):
    nlp = spacy.blank("en")
    src = tmp_path / "weak.spacy"
    DocBin(docs=[_weak_doc(nlp)], store_user_data=True).to_disk(src)
    exported = tmp_path / "tasks.json"
    export_docs(src, "labelstudio", exported)
    tasks = json.loads(exported.read_text())
    # the annotator accepts the first two regions and deletes the third
    tasks[0]["annotations"] = [{"id": 1, "result": tasks[0]["predictions"][0]["result"][:2]}]
    exported.write_text(json.dumps(tasks))
    import_docs(exported, "labelstudio", tmp_path / "back.spacy")
    (back,) = DocBin().from_disk(tmp_path / "back.spacy").get_docs(nlp.vocab)
    assert [(s.start, s.end, s.label_) for s in back.spans["anchors"]] == [(0, 2, "politician"), (3, 5, "ENTITY")]
    assert [(s.start, s.end) for s in back.spans["bio_tagger"]] == [(0, 2)]
    assert list(back.spans["bio_tagger"].attrs["scores"]) == [0.97]


def test_malformed_provenance_is_reported():
    report = ImportReport()
    good = read_provenance([{"group": "anchors"}, "oops", {"source": "x"}], "f.jsonl", 3, "span 0", report)
    assert good == [{"group": "anchors"}]
    assert [i.kind for i in report.issues] == ["invalid"] and "2 provenance entries" in report.issues[0].message
