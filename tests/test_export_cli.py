"""``nerbert export`` / ``nerbert import`` end to end through the Typer app."""
import json

import pytest
import spacy
from spacy.tokens import DocBin, Span

from nerbert_spacy.cli import app, main


@pytest.fixture()
def weak_docbin(tmp_path):
    """A weak-label corpus shard as the corpus builder writes it: ents with kb_ids, anchors."""
    nlp = spacy.blank("en")
    docs = []
    for text, ents in [
        ("Angela Merkel was born in Hamburg .", [(0, 2, "politician", "Angela_Merkel"), (5, 6, "city", "Hamburg")]),
        ("  The Beatles  formed in Liverpool\n", [(1, 3, "band", "The_Beatles"), (6, 7, "city", "Liverpool")]),
    ]:
        doc = nlp(text)
        doc.ents = [Span(doc, s, e, lab, kb_id=kb) for s, e, lab, kb in ents]
        doc.spans["anchors"] = list(doc.ents)
        docs.append(doc)
    path = tmp_path / "shard.spacy"
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return path, docs


@pytest.mark.parametrize("fmt", ["prodigy", "labelstudio", "doccano", "brat", "conll"])
def test_export_then_import_cli(fmt, weak_docbin, tmp_path, cli_runner):
    src, docs = weak_docbin
    out = tmp_path / ("out" if fmt == "brat" else f"out.{'json' if fmt == 'labelstudio' else 'jsonl'}")
    res = cli_runner.invoke(app, ["export", str(src), "--format", fmt, "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert f"wrote 2 docs, 4 spans as {fmt}" in res.output
    back = tmp_path / "back.spacy"
    args = ["import", str(out), "--format", fmt, "--output", str(back), "--report", str(tmp_path / "r.json")]
    if fmt == "labelstudio":
        args.append("--predictions")
    res = cli_runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "2 records -> 2 docs, 4 spans" in res.output
    got = list(DocBin().from_disk(back).get_docs(spacy.blank("en").vocab))
    want = [[(e.text, e.label_) for e in d.ents] for d in docs]
    assert [[(e.text, e.label_) for e in d.ents] for d in got] == want
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf8"))
    assert report["docs"] == 2


def test_export_span_group(weak_docbin, tmp_path, cli_runner):
    src, _ = weak_docbin
    out = tmp_path / "a.jsonl"
    res = cli_runner.invoke(app, ["export", str(src), "-f", "doccano", "-o", str(out), "--spans-key", "anchors",
                                  "--doccano-shape", "entities"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(out.read_text(encoding="utf8").splitlines()[1])["entities"]) == 2


def test_export_raw_text_with_gazetteer(tmp_path, cli_runner):
    (tmp_path / "new.txt").write_text("Angela Merkel visited Paris.\n\nNothing here.\n", encoding="utf8")
    (tmp_path / "names.tsv").write_text("Angela Merkel\tpolitician\nParis\tcity\n", encoding="utf8")
    out = tmp_path / "tasks.json"
    res = cli_runner.invoke(app, ["export", str(tmp_path / "new.txt"), "-f", "labelstudio", "-o", str(out),
                                  "--gazetteer", str(tmp_path / "names.tsv")])
    assert res.exit_code == 0, res.output
    assert "gazetteer: 2 names" in res.output and "wrote 2 docs, 2 spans" in res.output
    tasks = json.loads(out.read_text(encoding="utf8"))
    assert [r["value"]["text"] for r in tasks[0]["predictions"][0]["result"]] == ["Angela Merkel", "Paris"]
    assert (tmp_path / "tasks.config.xml").exists()


def test_export_jsonl_with_model(tmp_path, cli_runner):
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PER", "pattern": "Merkel"}])
    nlp.to_disk(tmp_path / "model")
    (tmp_path / "in.jsonl").write_text('{"text": "Merkel spoke", "id": 7}\n', encoding="utf8")
    out = tmp_path / "p.jsonl"
    res = cli_runner.invoke(app, ["export", str(tmp_path / "in.jsonl"), "-f", "prodigy", "-o", str(out),
                                  "--model", str(tmp_path / "model")])
    assert res.exit_code == 0, res.output
    task = json.loads(out.read_text(encoding="utf8"))
    assert task["spans"][0]["label"] == "PER" and task["meta"]["id"] == 7


def test_cli_errors_are_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "in.txt").write_text("hello\n", encoding="utf8")
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\n{oops\n', encoding="utf8")
    cases = [
        (["export", str(tmp_path / "in.txt"), "-f", "prodigy", "-o", str(tmp_path / "x")], "needs a pipeline"),
        (["export", str(tmp_path / "in.txt"), "-f", "excel", "-o", str(tmp_path / "x")], "unknown format 'excel'"),
        (["import", str(tmp_path / "bad.jsonl"), "-f", "doccano", "-o", str(tmp_path / "y.spacy")], "bad.jsonl (line 2): invalid JSON"),
        (["export", str(tmp_path / "missing.spacy"), "-f", "conll", "-o", str(tmp_path / "x")], "input not found"),
    ]
    for argv, message in cases:
        monkeypatch.setattr("sys.argv", ["nerbert", *argv])
        with pytest.raises(SystemExit) as exc:
            main()
        assert exc.value.code == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
        assert not (tmp_path / "y.spacy").exists()
