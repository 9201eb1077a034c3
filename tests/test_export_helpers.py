"""The shared importer/exporter helpers in nerbert_spacy.export.base."""
import json

import pytest

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.export.base import (
    INVALID,
    CharSpan,
    RecordInput,
    import_records,
    iter_jsonl,
    write_jsonl,
)


def test_write_jsonl_counts_and_reads_back(tmp_path):
    path = tmp_path / "out.jsonl"
    records = [{"text": "a", "spans": [1, 2]}, {"text": "b", "spans": []}]
    stats = write_jsonl(iter(records), path, lambda rec: len(rec["spans"]))
    assert stats == {"docs": 2, "spans": 2}
    assert [rec for _, rec in iter_jsonl(path)] == records
    assert [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()] == records


def test_import_records_skips_reports_and_overrides_file(tmp_path):
    path = tmp_path / "in.jsonl"

    def parse(raw, p, record, report):
        if raw is None:
            report.add(p, record, INVALID, "skipped")
            return None
        return RecordInput(raw, [CharSpan(0, 5, "ORG")], user_data={"n": record}, file=p.with_suffix(".ann"))

    docs, report = import_records(path, [(1, "Apple is big"), (2, None)], parse, "en")
    assert report.records == 2 and report.docs == 1 and report.spans == 1
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Apple", "ORG")]
    assert docs[0].user_data["n"] == 1
    assert [(i.file, i.record, i.kind) for i in report.issues] == [(str(path), 2, INVALID)]

    def bad(raw, p, record, report):
        return RecordInput("Apple", [CharSpan(0, 3, "ORG")])

    _, report = import_records(path, [(7, "x")], bad, "en")
    assert [(i.file, i.record) for i in report.issues] == [(str(path), 7)]


def test_iter_jsonl_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a"}\n\n{oops\n', encoding="utf8")
    with pytest.raises(NerbertError) as err:
        list(iter_jsonl(path))
    assert "bad.jsonl" in str(err.value) and "line 3" in str(err.value)
