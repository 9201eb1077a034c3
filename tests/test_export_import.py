"""Importers on the tools' own export shapes; misaligned/overlapping spans are reported, never lost silently."""
import json

import pytest
import spacy
from helpers import ents_of, write_jsonl

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.export import FORMATS, import_docs
from nerbert_spacy.export.base import OVERLAPS_KEY


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def test_prodigy_db_out_keeps_accept_only(nlp, tmp_path):
    text = "Angela Merkel visited Paris"
    base = {"text": text, "spans": [{"start": 0, "end": 13, "label": "PER"}, {"start": 22, "end": 27, "label": "LOC"}]}
    path = write_jsonl(
        tmp_path / "db.jsonl",
        [dict(base, answer="accept"), dict(base, answer="reject"), dict(base, answer="ignore"), dict(base, answer="accept", spans=[])],
    )
    docs, report = FORMATS["prodigy"].read(path, nlp)
    assert [ents_of(d) for d in docs] == [[("Angela Merkel", "PER"), ("Paris", "LOC")], []]
    assert report.records == 4 and report.docs == 2
    assert report.counts == {"ignored": 1, "rejected": 1}
    assert [(i.record, i.kind) for i in report.issues] == [(2, "rejected"), (3, "ignored")]


def test_prodigy_tokens_that_do_not_match_text_are_retokenised(nlp, tmp_path):
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [{"text": "New York", "tokens": [{"text": "New", "start": 0, "end": 3, "id": 0, "ws": False}],
          "spans": [{"start": 0, "end": 8, "label": "LOC"}]}],
    )
    docs, report = FORMATS["prodigy"].read(path, nlp)
    assert ents_of(docs[0]) == [("New York", "LOC")]
    assert report.counts == {"tokens_mismatch": 1}


def test_misaligned_span_reported_or_snapped(nlp, tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "Merkelism is here", "label": [[0, 6, "PER"]]}])
    docs, report = FORMATS["doccano"].read(path, nlp)
    assert ents_of(docs[0]) == []
    assert report.counts == {"misaligned": 1}
    issue = report.issues[0]
    assert issue.record == 1 and issue.file == str(path) and "'Merkel'" in issue.message
    docs, report = FORMATS["doccano"].read(path, nlp, snap=True)
    assert ents_of(docs[0]) == [("Merkelism", "PER")]
    assert report.counts == {"snapped": 1}


def test_whitespace_edges_trimmed_and_reported(nlp, tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "in  Paris  now", "label": [[3, 11, "LOC"]]}])
    docs, report = FORMATS["doccano"].read(path, nlp)
    assert ents_of(docs[0]) == [("Paris", "LOC")]
    assert report.counts == {"trimmed": 1}


def test_out_of_range_and_bad_items_reported(nlp, tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [{"text": "Paris", "label": [[0, 50, "LOC"], [3, 1, "LOC"], [0, 5], [0, 5, "LOC"], [0, 5, "LOC"]]}],
    )
    docs, report = FORMATS["doccano"].read(path, nlp)
    assert ents_of(docs[0]) == [("Paris", "LOC")]
    assert report.counts == {"duplicate": 1, "invalid": 2, "out_of_range": 1}


def test_overlaps_kept_and_reported(nlp, tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [{"text": "University of Paris Sud", "label": [[14, 19, "LOC"], [0, 23, "ORG"], [0, 19, "ORG"]]}],
    )
    docs, report = FORMATS["doccano"].read(path, nlp)
    assert ents_of(docs[0]) == [("University of Paris Sud", "ORG")]
    assert sorted(s.text for s in docs[0].spans[OVERLAPS_KEY]) == ["Paris", "University of Paris", "University of Paris Sud"]
    assert report.counts == {"overlap": 2}
    assert all("University of Paris Sud" in i.message for i in report.issues)


def _ls_task(text, annotations=(), predictions=()):
    return {"id": 1, "data": {"text": text}, "annotations": list(annotations), "predictions": list(predictions)}


def _ls_result(start, end, label, text):
    return {"from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text, "labels": [label]}}


def test_labelstudio_export_latest_non_cancelled_annotation(nlp, tmp_path):
    text = "Angela Merkel visited Paris"
    anns = [
        {"id": 1, "updated_at": "2024-01-01T10:00:00Z", "result": [_ls_result(0, 13, "PER", "Angela Merkel")]},
        {"id": 2, "updated_at": "2024-01-03T10:00:00Z", "was_cancelled": True, "result": []},
        {"id": 3, "updated_at": "2024-01-02T10:00:00Z",
         "result": [_ls_result(0, 13, "PER", "Angela Merkel"), _ls_result(22, 27, "LOC", "Paris"),
                    {"from_name": "rel", "to_name": "text", "type": "relation", "from_id": "a", "to_id": "b"}]},
    ]
    preds = [{"result": [_ls_result(22, 27, "ORG", "Paris")]}]
    tasks = [_ls_task(text, anns, preds), _ls_task(text, [], preds)]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks), encoding="utf8")
    docs, report = FORMATS["labelstudio"].read(path, nlp)
    assert ents_of(docs[0]) == [("Angela Merkel", "PER"), ("Paris", "LOC")]
    assert ents_of(docs[1]) == []
    assert report.counts == {"cancelled": 1, "multiple_annotations": 1, "no_annotation": 1, "unsupported": 1}
    docs, report = FORMATS["labelstudio"].read(path, nlp, use_predictions=True)
    assert ents_of(docs[1]) == [("Paris", "ORG")]
    assert report.counts["from_predictions"] == 1


def test_labelstudio_utf16_offsets_converted(nlp, tmp_path):
    text = "😀 Angela Merkel"  # old Label Studio versions counted the emoji as 2 (UTF-16)
    path = tmp_path / "export.json"
    path.write_text(json.dumps([_ls_task(text, [{"id": 1, "result": [_ls_result(3, 16, "PER", "Angela Merkel")]}])]), encoding="utf8")
    docs, report = FORMATS["labelstudio"].read(path, nlp)
    assert ents_of(docs[0]) == [("Angela Merkel", "PER")]
    assert report.counts == {"utf16_offsets": 1}


def test_labelstudio_text_mismatch_skipped_and_reported(nlp, tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([_ls_task("Angela Merkel", [{"id": 1, "result": [_ls_result(0, 6, "PER", "Merkel")]}])]), encoding="utf8")
    docs, report = FORMATS["labelstudio"].read(path, nlp)
    assert ents_of(docs[0]) == []
    assert report.counts == {"text_mismatch": 1}


def test_brat_discontinuous_and_other_lines(nlp, tmp_path):
    (tmp_path / "a.txt").write_text("Paris and Berlin and Rome", encoding="utf8")
    (tmp_path / "a.ann").write_text(
        "T1\tLOC 0 5\tParis\nT2\tLOC 0 5;10 16\tParis Berlin\nR1\tnear Arg1:T1 Arg2:T2\n#1\tAnnotatorNotes T1\tcapital\n",
        encoding="utf8",
    )
    docs, report = FORMATS["brat"].read(tmp_path, nlp)
    assert ents_of(docs[0]) == [("Paris", "LOC")]
    assert report.counts == {"discontinuous": 1, "unsupported": 2}
    assert "skipped" in [i for i in report.issues if i.kind == "discontinuous"][0].message


def test_brat_malformed_line_names_file_and_line(nlp, tmp_path):
    (tmp_path / "a.txt").write_text("Paris", encoding="utf8")
    (tmp_path / "a.ann").write_text("T1\tLOC 0 5\tParis\nT2\tLOC zero five\tParis\n", encoding="utf8")
    with pytest.raises(NerbertError, match=r"a\.ann \(line 2\)"):
        FORMATS["brat"].read(tmp_path, nlp)


def test_conll_iob1_repaired_and_docstart(nlp, tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("-DOCSTART- O\n\nAngela I-PER\nMerkel I-PER\nvisited O\nParis I-LOC\n\nRome\tB-LOC\n", encoding="utf8")
    docs, report = FORMATS["conll"].read(path, nlp)
    assert [ents_of(d) for d in docs] == [[("Angela Merkel", "PER"), ("Paris", "LOC")], [("Rome", "LOC")]]
    assert report.counts == {"iob_repaired": 2}


def test_conll_bad_tag_names_line(nlp, tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("Angela\tB-PER\nMerkel\tPER\n", encoding="utf8")
    with pytest.raises(NerbertError, match=r"x\.conll \(line 2\)"):
        FORMATS["conll"].read(path, nlp)


@pytest.mark.parametrize("name", ["prodigy", "doccano"])
def test_malformed_json_line_names_file_and_line(name, nlp, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok", "spans": [], "label": []}\n\n{"text": "broken"\n', encoding="utf8")
    with pytest.raises(NerbertError, match=r"bad\.jsonl \(line 3\): invalid JSON"):
        FORMATS[name].read(path, nlp)


def test_malformed_labelstudio_json_names_file(nlp, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"data": {"text": "x"}},\n {"data": }]', encoding="utf8")
    with pytest.raises(NerbertError, match=r"bad\.json \(line 2\)"):
        FORMATS["labelstudio"].read(path, nlp)
    path.write_text('[{"data": {"txt": "x"}}]', encoding="utf8")
    with pytest.raises(NerbertError, match=r"task 1"):
        FORMATS["labelstudio"].read(path, nlp)


def test_missing_file_is_a_nerbert_error(nlp, tmp_path):
    with pytest.raises(NerbertError, match="not found"):
        FORMATS["prodigy"].read(tmp_path / "nope.jsonl", nlp)
    with pytest.raises(NerbertError, match="not found"):
        FORMATS["brat"].read(tmp_path / "nope", nlp)


def test_import_docs_writes_docbin_with_overlaps(nlp, tmp_path):
    from spacy.tokens import DocBin

    src = write_jsonl(
        tmp_path / "d.jsonl", [{"text": "University of Paris", "label": [[14, 19, "LOC"], [0, 19, "ORG"]], "source": "x"}]
    )
    report = import_docs(src, "doccano", tmp_path / "out.spacy")
    docs = list(DocBin().from_disk(tmp_path / "out.spacy").get_docs(nlp.vocab))
    assert ents_of(docs[0]) == [("University of Paris", "ORG")]
    assert [s.text for s in docs[0].spans[OVERLAPS_KEY]] == ["University of Paris", "Paris"]
    assert docs[0].user_data["source"] == "x"
    assert report.summary() == "1 records -> 1 docs, 2 spans; overlap: 1"
