"""Issue 17, annotation-tool half: nothing skipped without a report entry, one clear line for a
bad output path, the full label set in the tools' configs, Doccano 1.0 and Prodigy multi-annotator
exports, atomic exports that leave the previous result alone and get the user's umask."""
import json
import os
import stat
import xml.etree.ElementTree as ET

import pytest
import spacy
from helpers import ents_of, write_jsonl
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example

from nerbert_spacy.cli import main
from nerbert_spacy.errors import NerbertError
from nerbert_spacy.export import FORMATS, export_docs, get_format, import_docs
from nerbert_spacy.export.base import pipeline_labels

FILE_FORMATS = [name for name in FORMATS if FORMATS[name].suffix]


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def _nerbert(monkeypatch, capsys, *argv):
    """Run the real entry point (with its error handling); return (exit code, stdout, stderr)."""
    monkeypatch.setattr("sys.argv", ["nerbert", *map(str, argv)])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_error_line(err, *needles):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert str(needle) in lines[0], (needle, err)


@pytest.fixture()
def shard(nlp, tmp_path):
    doc = nlp("Angela Merkel visited France")
    doc.ents = [Span(doc, 0, 2, "politician"), Span(doc, 3, 4, "country")]
    path = tmp_path / "in.spacy"
    DocBin(docs=[doc]).to_disk(path)
    return path


# --------------------------------------------------------------------------- item 3: BRAT files


def test_brat_every_skipped_file_is_reported(nlp, tmp_path):
    (tmp_path / "a.txt").write_text("Paris", encoding="utf8")
    (tmp_path / "a.ann").write_text("T1\tLOC 0 5\tParis\n", encoding="utf8")
    (tmp_path / "b.ann").write_text("T1\tLOC 0 4\tRome\n", encoding="utf8")  # its .txt is missing
    (tmp_path / "c.txt").write_text("Berlin", encoding="utf8")  # no .ann: a doc without entities
    (tmp_path / "notes.md").write_text("todo", encoding="utf8")
    (tmp_path / "annotation.conf").write_text("[entities]\nLOC\n", encoding="utf8")
    docs, report = FORMATS["brat"].read(tmp_path, nlp)
    assert [ents_of(d) for d in docs] == [[("Paris", "LOC")], []]
    assert (report.records, report.docs, report.spans) == (3, 2, 1)
    assert report.counts == {"no_annotation": 1, "skipped_file": 2}
    by_file = {os.path.basename(i.file): i for i in report.issues}
    assert set(by_file) == {"b.ann", "c.txt", "notes.md"}
    assert "no b.txt" in by_file["b.ann"].message
    assert by_file["b.ann"].record == 2


def test_brat_folder_with_nothing_importable_is_an_error(nlp, tmp_path):
    with pytest.raises(NerbertError, match="no BRAT documents"):
        FORMATS["brat"].read(tmp_path, nlp)
    (tmp_path / "b.ann").write_text("T1\tLOC 0 4\tRome\n", encoding="utf8")
    with pytest.raises(NerbertError, match=r"1 \.ann file.*b\.ann"):
        FORMATS["brat"].read(tmp_path, nlp)


def test_brat_import_cli_orphan_ann(monkeypatch, capsys, tmp_path):
    folder = tmp_path / "brat"
    folder.mkdir()
    (folder / "b.ann").write_text("T1\tLOC 0 4\tRome\n", encoding="utf8")
    code, out, err = _nerbert(monkeypatch, capsys, "import", folder, "--format", "brat", "-o", tmp_path / "x.spacy")
    assert code == 1
    _one_error_line(err, folder, "b.ann")
    assert not (tmp_path / "x.spacy").exists()
    (folder / "a.txt").write_text("Paris", encoding="utf8")
    (folder / "a.ann").write_text("T1\tLOC 0 5\tParis\n", encoding="utf8")
    code, out, err = _nerbert(monkeypatch, capsys, "import", folder, "--format", "brat", "-o", tmp_path / "x.spacy")
    assert code == 0, err
    assert "b.ann (record 2): skipped_file" in out
    assert "2 records -> 1 docs, 1 spans; skipped_file: 1" in out


# --------------------------------------------------------------------------- item 11: one entry per bad field


@pytest.mark.parametrize("key", ["label", "entities", "annotations"])
def test_doccano_label_field_not_a_list_reported_once(key, nlp, tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "Angela Merkel", key: "PER"}])
    docs, report = FORMATS["doccano"].read(path, nlp)
    assert ents_of(docs[0]) == []
    assert len(report.issues) == 1, report.issues
    issue = report.issues[0]
    assert issue.kind == "invalid" and f"'{key}'" in issue.message and "'PER'" in issue.message


def test_brat_offset_past_the_end_is_out_of_range(nlp, tmp_path):
    (tmp_path / "a.txt").write_text("Paris", encoding="utf8")
    (tmp_path / "a.ann").write_text("T1\tLOC 0 5\tParis\nT2\tLOC 6 12\tBerlin\nT3\tLOC 0 9\tParis\n", encoding="utf8")
    docs, report = FORMATS["brat"].read(tmp_path, nlp)
    assert ents_of(docs[0]) == [("Paris", "LOC")]
    assert report.counts == {"out_of_range": 2}
    assert all("outside the text (length 5)" in i.message for i in report.issues)


# --------------------------------------------------------------------------- item 7: bad output paths


@pytest.mark.parametrize("fmt", FILE_FORMATS)
def test_export_to_an_existing_folder_is_one_line(fmt, shard, monkeypatch, capsys, tmp_path):
    folder = tmp_path / "existing"
    folder.mkdir()
    code, out, err = _nerbert(monkeypatch, capsys, "export", shard, "-f", fmt, "-o", folder)
    assert code == 1
    _one_error_line(err, folder, "is a folder")
    assert list(folder.iterdir()) == []


def test_brat_export_to_an_existing_file_is_one_line(shard, monkeypatch, capsys, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("keep", encoding="utf8")
    code, out, err = _nerbert(monkeypatch, capsys, "export", shard, "-f", "brat", "-o", target)
    assert code == 1
    _one_error_line(err, target, "not a folder")
    assert target.read_text(encoding="utf8") == "keep"


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_export_to_an_unwritable_place_is_one_line(fmt, shard, monkeypatch, capsys, tmp_path):
    (tmp_path / "plain").write_text("a file, not a folder", encoding="utf8")
    target = tmp_path / "plain" / ("out" + FORMATS[fmt].suffix)
    code, out, err = _nerbert(monkeypatch, capsys, "export", shard, "-f", fmt, "-o", target)
    assert code == 1
    _one_error_line(err, target, "cannot write")


def test_import_to_a_bad_output_is_one_line(nlp, monkeypatch, capsys, tmp_path):
    src = write_jsonl(tmp_path / "d.jsonl", [{"text": "Paris", "label": [[0, 5, "LOC"]]}])
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_text("x", encoding="utf8")
    code, out, err = _nerbert(monkeypatch, capsys, "import", src, "-f", "doccano", "-o", tmp_path / "folder")
    assert code == 1
    _one_error_line(err, tmp_path / "folder", "is a folder")
    bad = tmp_path / "plain" / "x.spacy"
    code, out, err = _nerbert(monkeypatch, capsys, "import", src, "-f", "doccano", "-o", bad)
    assert code == 1
    _one_error_line(err, bad, "cannot write")
    good = tmp_path / "ok.spacy"
    code, out, err = _nerbert(
        monkeypatch, capsys, "import", src, "-f", "doccano", "-o", good, "--report", tmp_path / "folder"
    )
    assert code == 1
    _one_error_line(err, tmp_path / "folder", "is a folder")


# --------------------------------------------------------------------------- item 12: the whole label set

NINE = ["band", "city", "country", "film", "organisation", "person", "politician", "river", "university"]


def _nine_label_pipeline():
    """A bio_tagger that knows 9 labels but whose output layer always prefers O, then an
    entity_ruler that finds 2 of those types: the pipeline predicts only those 2."""
    nlp = spacy.blank("en")
    tok2vec = {
        "@architectures": "spacy.HashEmbedCNN.v2",
        "width": 8,
        "depth": 1,
        "embed_size": 50,
        "window_size": 1,
        "maxout_pieces": 2,
        "subword_features": False,
        "pretrained_vectors": None,
    }
    nlp.add_pipe("bio_tagger", config={"model": {"@architectures": "nerbert.BioTagger.v1", "tok2vec": tok2vec}})
    nlp.config["initialize"]["components"]["bio_tagger"] = {"labels": NINE}
    words = ["Angela", "Merkel"]
    nlp.initialize(lambda: [Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words))])
    out = nlp.get_pipe("bio_tagger").model.get_ref("output_layer")
    out.set_param("W", out.ops.alloc2f(*out.get_param("W").shape))
    bias = out.ops.alloc1f(out.get_param("b").shape[0])
    bias[0] = 10.0  # O
    out.set_param("b", bias)
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "politician", "pattern": "Angela Merkel"}, {"label": "country", "pattern": "France"}])
    return nlp


@pytest.fixture(scope="module")
def nine_label_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("nine") / "model"
    _nine_label_pipeline().to_disk(path)
    return path


def _config_labels(fmt, out):
    if fmt == "labelstudio":
        root = ET.fromstring((out.parent / (out.stem + ".config.xml")).read_text(encoding="utf8"))
        return sorted(x.get("value") for x in root.iter("Label"))
    conf = (out / "annotation.conf").read_text(encoding="utf8")
    entities = conf.split("[entities]\n", 1)[1].split("\n\n", 1)[0]
    return sorted(line for line in entities.splitlines() if line)


@pytest.mark.parametrize("fmt", ["labelstudio", "brat"])
def test_config_lists_all_labels_of_the_pipeline(fmt, nine_label_model, monkeypatch, capsys, tmp_path):
    text = tmp_path / "new.txt"
    text.write_text("Angela Merkel visited France\nNothing here\n", encoding="utf8")
    out = tmp_path / ("tasks.json" if fmt == "labelstudio" else "brat")
    code, stdout, err = _nerbert(monkeypatch, capsys, "export", text, "-f", fmt, "-o", out, "--model", nine_label_model)
    assert code == 0, err
    assert "wrote 2 docs, 2 spans" in stdout
    assert "9 labels from the pipeline" in stdout
    assert _config_labels(fmt, out) == NINE


def test_pipeline_labels_follow_the_label_mapper(nlp):
    pipe = _nine_label_pipeline()
    assert pipeline_labels(pipe) == sorted(NINE)
    mapper = pipe.add_pipe("label_mapper", config={"mapping": {"PER": ["politician", "person"], "LOC": ["city"]}})
    assert pipeline_labels(pipe) == sorted(mapper.labels) == ["LOC", "PER"]
    assert pipeline_labels(spacy.blank("en")) == []


@pytest.mark.parametrize(
    "where, name, content",
    [
        (".", "meta.json", {"labels": ["country", "politician", "river"]}),  # nerbert data convert
        ("..", "balance.json", {"before": {"country": 3, "politician": 2, "river": 1}}),  # corpus balance
        ("..", "stats.json", {"categories_before": {"country": 3, "politician": 2, "river": 1}}),  # corpus build
    ],
)
@pytest.mark.parametrize("fmt", ["labelstudio", "brat"])
def test_config_lists_the_corpus_label_set(fmt, where, name, content, shard, tmp_path):
    corpus = tmp_path / "corpus" / "dev"
    corpus.mkdir(parents=True)
    shard.rename(corpus / "shard.spacy")
    (corpus / where / name).write_text(json.dumps(content), encoding="utf8")
    out = tmp_path / ("tasks.json" if fmt == "labelstudio" else "brat")
    stats = export_docs(corpus, fmt, out)
    assert _config_labels(fmt, out) == ["country", "politician", "river"]
    assert stats["labels"] == 3 and stats["label_source"].endswith(name)


def test_config_without_label_files_lists_the_corpus_spans(nlp, tmp_path):
    docs = [nlp("Paris and Rome"), nlp("Merkel")]
    docs[0].ents = [Span(docs[0], 0, 1, "city")]
    docs[0].spans["anchors"] = [Span(docs[0], 2, 3, "capital")]
    docs[1].ents = [Span(docs[1], 0, 1, "politician")]
    DocBin(docs=docs).to_disk(tmp_path / "in.spacy")
    # a spaCy pipeline's meta.json (labels per component) is not a corpus label set
    (tmp_path / "meta.json").write_text(json.dumps({"labels": {"ner": ["ORG"]}}), encoding="utf8")
    stats = export_docs(tmp_path / "in.spacy", "labelstudio", tmp_path / "t.json", spans_key="anchors")
    assert _config_labels("labelstudio", tmp_path / "t.json") == ["capital", "city", "politician"]
    assert stats["label_source"] == "the input's spans"


@pytest.mark.parametrize("fmt", ["labelstudio", "brat"])
def test_labels_option_wins(fmt, nine_label_model, shard, monkeypatch, capsys, tmp_path):
    out = tmp_path / ("tasks.json" if fmt == "labelstudio" else "brat")
    code, stdout, err = _nerbert(
        monkeypatch, capsys, "export", shard, "-f", fmt, "-o", out,
        "--model", nine_label_model, "--labels", "PER,LOC, ORG",
    )
    assert code == 0, err
    # the exported spans' own labels are always added, so every span can be shown
    assert _config_labels(fmt, out) == ["LOC", "ORG", "PER", "country", "politician"]
    assert "2 exported labels not in --labels" in stdout
    labels_file = tmp_path / "labels.txt"
    labels_file.write_text("country\npolitician\nriver\n", encoding="utf8")
    code, stdout, err = _nerbert(monkeypatch, capsys, "export", shard, "-f", fmt, "-o", out, "--labels", labels_file)
    assert code == 0, err
    assert _config_labels(fmt, out) == ["country", "politician", "river"]
    code, stdout, err = _nerbert(monkeypatch, capsys, "export", shard, "-f", fmt, "-o", out, "--labels", ",")
    assert code == 1
    _one_error_line(err, "--labels")


def test_labels_for_a_format_without_config_is_an_error(shard, monkeypatch, capsys, tmp_path):
    out = tmp_path / "p.jsonl"
    code, stdout, err = _nerbert(monkeypatch, capsys, "export", shard, "-f", "prodigy", "-o", out, "--labels", "PER")
    assert code == 1
    _one_error_line(err, "labelstudio, brat", "not prodigy")
    assert not out.exists()


# --------------------------------------------------------------------------- item 13: Doccano 1.0

DOCCANO_1 = [
    {"id": 1, "text": "Angela Merkel visited Paris", "meta": {},
     "annotations": [{"id": 10, "label": 3, "start_offset": 22, "end_offset": 27, "user": 1},
                     {"id": 11, "label": 4, "start_offset": 0, "end_offset": 13, "user": 1}]},
    {"id": 2, "text": "Rome", "annotations": [{"label": 3, "start_offset": 0, "end_offset": 4, "user": 1}]},
]


@pytest.mark.parametrize(
    "mapping",
    [{"3": "LOC", "4": "PER"}, [{"id": 3, "text": "LOC", "background_color": "#fff"}, {"id": 4, "text": "PER"}]],
)
def test_doccano_1_annotations_with_label_mapping(mapping, nlp, tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", DOCCANO_1)
    (tmp_path / "labels.json").write_text(json.dumps(mapping), encoding="utf8")
    docs, report = FORMATS["doccano"].read(path, nlp, label_map=tmp_path / "labels.json")
    assert [ents_of(d) for d in docs] == [[("Angela Merkel", "PER"), ("Paris", "LOC")], [("Rome", "LOC")]]
    assert report.issues == [] and report.spans == 3
    assert "annotations" not in docs[0].user_data


def test_doccano_1_annotations_without_mapping_reported_once(nlp, tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", DOCCANO_1)
    docs, report = FORMATS["doccano"].read(path, nlp)
    assert [ents_of(d) for d in docs] == [[("Angela Merkel", "4"), ("Paris", "3")], [("Rome", "3")]]
    assert report.counts == {"label_ids": 1}
    assert "--doccano-labels" in report.issues[0].message


def test_doccano_1_two_users_and_unknown_id(nlp, tmp_path):
    rec = {"text": "Paris", "annotations": [{"label": 3, "start_offset": 0, "end_offset": 5, "user": 1},
                                             {"label": 9, "start_offset": 0, "end_offset": 5, "user": 2}]}
    path = write_jsonl(tmp_path / "d.jsonl", [rec])
    docs, report = FORMATS["doccano"].read(path, nlp, label_map={"3": "LOC"})
    assert report.counts == {"label_ids": 1, "multiple_annotators": 1, "overlap": 1}
    assert "9" in [i for i in report.issues if i.kind == "label_ids"][0].message


def test_doccano_labels_cli(monkeypatch, capsys, tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", DOCCANO_1)
    (tmp_path / "labels.json").write_text(json.dumps({"3": "LOC", "4": "PER"}), encoding="utf8")
    out = tmp_path / "o.spacy"
    code, stdout, err = _nerbert(
        monkeypatch, capsys, "import", path, "-f", "doccano", "-o", out, "--doccano-labels", tmp_path / "labels.json"
    )
    assert code == 0, err
    assert "2 records -> 2 docs, 3 spans; no issues" in stdout
    (tmp_path / "bad.json").write_text('"LOC"', encoding="utf8")
    code, stdout, err = _nerbert(
        monkeypatch, capsys, "import", path, "-f", "doccano", "-o", out, "--doccano-labels", tmp_path / "bad.json"
    )
    assert code == 1
    _one_error_line(err, "bad.json")


# --------------------------------------------------------------------------- item 14: Prodigy annotators

_TEXT = "Angela Merkel visited Paris"
_PER = {"start": 0, "end": 13, "label": "PER"}
_LOC = {"start": 22, "end": 27, "label": "LOC"}
_ORG = {"start": 22, "end": 27, "label": "ORG"}


def _db_out(tmp_path):
    def task(h, spans, session):
        return {"text": _TEXT, "spans": spans, "answer": "accept", "_input_hash": h, "_task_hash": h + 1,
                "_session_id": session}

    return write_jsonl(
        tmp_path / "db.jsonl",
        [task(1, [_PER, _LOC], "a"), task(1, [_PER, _ORG], "b"), task(1, [_LOC, _PER], "c"),
         task(7, [_PER], "a"), dict(task(7, [_PER], "b"), answer="reject")],
    )


@pytest.mark.parametrize(
    "policy, kept",
    [("first", [[("Angela Merkel", "PER"), ("Paris", "LOC")], [("Angela Merkel", "PER")]]),
     ("both", [[("Angela Merkel", "PER"), ("Paris", "LOC")], [("Angela Merkel", "PER"), ("Paris", "ORG")],
               [("Angela Merkel", "PER")]]),
     ("drop", [[("Angela Merkel", "PER")]])],
)
def test_prodigy_conflicting_annotators(policy, kept, nlp, tmp_path):
    path = _db_out(tmp_path)
    docs, report = FORMATS["prodigy"].read(path, nlp, conflicts=policy)
    assert [ents_of(d) for d in docs] == kept
    conflicts = [i for i in report.issues if i.kind == "conflict"]
    merged = [i for i in report.issues if i.kind == "merged_duplicate"]
    # line 3 has the same spans as line 1 (another order): merged with a count, whatever the policy
    assert [(i.record, "line 1" in i.message) for i in merged] == [(3, True)]
    assert {i.record for i in conflicts} == ({1, 2} if policy == "drop" else {2})
    assert all(f"conflicts={policy}" in i.message for i in conflicts)
    assert "line 1" in [i for i in conflicts if i.record == 2][0].message
    assert report.counts["rejected"] == 1


def test_prodigy_conflicts_cli(monkeypatch, capsys, tmp_path):
    path = _db_out(tmp_path)
    out = tmp_path / "o.spacy"
    code, stdout, err = _nerbert(monkeypatch, capsys, "import", path, "-f", "prodigy", "-o", out, "--conflicts", "drop")
    assert code == 0, err
    assert "5 records -> 1 docs, 1 spans; conflict: 2, merged_duplicate: 1, rejected: 1" in stdout
    code, stdout, err = _nerbert(monkeypatch, capsys, "import", path, "-f", "prodigy", "-o", out, "--conflicts", "all")
    assert code == 1
    _one_error_line(err, "'all'", "first, both, drop")
    code, stdout, err = _nerbert(monkeypatch, capsys, "import", path, "-f", "doccano", "-o", out, "--conflicts", "drop")
    assert code == 1
    _one_error_line(err, "--conflicts", "prodigy")


# --------------------------------------------------------------------------- item 10 + Ctrl-C: atomic exports


def _out(tmp_path, fmt):
    return tmp_path / ("out" + FORMATS[fmt].suffix)


def _interrupted(docs):
    yield docs[0]
    raise KeyboardInterrupt


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_interrupted_export_leaves_the_previous_result(fmt, nlp, tmp_path):
    docs = [nlp("Paris is nice"), nlp("Rome too")]
    docs[0].ents = [Span(docs[0], 0, 1, "LOC")]
    out = _out(tmp_path, fmt)
    get_format(fmt).write(docs[:1], out)
    before = _snapshot(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        get_format(fmt).write(_interrupted(docs[::-1]), out)
    assert _snapshot(tmp_path) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("fmt", ["doccano", "brat"])
def test_ctrl_c_during_export_says_nothing_changed(fmt, shard, nlp, monkeypatch, capsys, tmp_path):
    out = _out(tmp_path, fmt)
    get_format(fmt).write([nlp("old")], out)
    before = _snapshot(tmp_path)
    monkeypatch.setattr("nerbert_spacy.export.load_docs", lambda *a, **k: _interrupted([nlp("new"), nlp("new")]))
    code, stdout, err = _nerbert(monkeypatch, capsys, "export", shard, "-f", fmt, "-o", out)
    assert code == 130
    assert f"interrupted: {out} was left as it was" in err and "Traceback" not in err
    assert _snapshot(tmp_path) == before


def test_brat_export_replaces_its_previous_export_whole(nlp, tmp_path):
    docs = [nlp("Paris"), nlp("Rome"), nlp("Berlin")]
    out = tmp_path / "brat"
    FORMATS["brat"].write(docs, out)
    assert len(list(out.glob("*.txt"))) == 3
    FORMATS["brat"].write(docs[:1], out)
    assert sorted(p.name for p in out.iterdir()) == ["annotation.conf", "doc-000000.ann", "doc-000000.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["brat"]


def test_brat_export_refuses_a_folder_with_other_files(nlp, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.md").write_text("keep", encoding="utf8")
    with pytest.raises(NerbertError, match=r"notes\.md"):
        FORMATS["brat"].write([nlp("Paris")], out)
    assert (out / "notes.md").read_text(encoding="utf8") == "keep"
    assert [p.name for p in out.iterdir()] == ["notes.md"]


def _umask():
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_exported_and_imported_files_get_the_umask(fmt, nlp, tmp_path):
    doc = nlp("Paris is nice")
    doc.ents = [Span(doc, 0, 1, "LOC")]
    out = _out(tmp_path, fmt)
    get_format(fmt).write([doc], out)
    back = tmp_path / "back.spacy"
    import_docs(out, fmt, back, use_predictions=True) if fmt == "labelstudio" else import_docs(out, fmt, back)
    mask = _umask()
    written = [p for p in tmp_path.rglob("*")]
    assert len(written) >= 2
    for p in written:
        want = (0o777 if p.is_dir() else 0o666) & ~mask
        assert stat.S_IMODE(p.stat().st_mode) == want, (p.name, oct(stat.S_IMODE(p.stat().st_mode)), oct(want))
