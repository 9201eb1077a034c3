"""``nerbert data`` commands."""
import os
from pathlib import Path

import srsly
from spacy.tokens import DocBin
from spacy.vocab import Vocab

from nerbert_spacy.cli import app

ROOT = Path(__file__).resolve().parent.parent


def _docs(path):
    return list(DocBin().from_disk(path).get_docs(Vocab()))


def test_convert_default_sample(cli_runner, tmp_path):
    out = tmp_path / "default"
    r = cli_runner.invoke(app, ["data", "convert", "conll", str(ROOT / "assets/default/finetune"), "--output", str(out)])
    assert r.exit_code == 0, r.output
    meta = srsly.read_json(out / "meta.json")
    assert meta["sizes"] == {"train": 729, "dev": 125, "test": 204}
    assert set(meta["labels"]) <= {"politician", "person", "organisation", "politicalparty", "country", "location",
                                   "election", "event", "misc"}
    assert len(meta["labels"]) == 9
    # hand-written sample is valid BIO as written: nothing repaired
    assert all(r["bio_repairs"] == 0 for r in meta["read"].values())
    docs = _docs(out / "train.spacy")
    assert [(e.text, e.label_) for e in docs[0].ents][:2] == [
        ("Angela Merkel", "politician"), ("Christian Democratic Union", "politicalparty")]


def test_convert_generic_with_options_and_fewshot(cli_runner, tmp_path):
    (tmp_path / "a.txt").write_text("\n".join(f"w{i}|B-ORG x|O" for i in range(20)) + "\n", encoding="utf8")
    (tmp_path / "t.txt").write_text("y|B-ORG\n", encoding="utf8")
    out = tmp_path / "out"
    r = cli_runner.invoke(app, ["data", "convert", "iob", "--train", str(tmp_path / "a.txt"), "--test",
                                str(tmp_path / "t.txt"), "--output", str(out), "--few-shot", "5", "--few-shot",
                                "50%", "--seed", "1", "--seed", "2"])
    assert r.exit_code == 0, r.output
    assert "dev: 2 sentences" in r.output and "few-shot 50pct seed 2: 9 sentences" in r.output
    assert len(_docs(out / "test.spacy")) == 1 and len(_docs(out / "train.spacy")) == 18
    assert len(_docs(out / "train-fewshot-5-seed2.spacy")) == 5
    r = cli_runner.invoke(app, ["data", "fewshot", str(out / "train.spacy"), "--few-shot", "3", "--seed", "9"])
    assert r.exit_code == 0 and (out / "train-fewshot-3-seed9.spacy").is_file()


def test_convert_errors_exit_1(cli_runner, tmp_path):
    r = cli_runner.invoke(app, ["data", "convert", "nope", str(tmp_path), "--output", str(tmp_path / "o")])
    assert r.exit_code == 1 and "unknown dataset 'nope'" in r.output
    r = cli_runner.invoke(app, ["data", "convert", "btc", str(tmp_path / "missing"), "--output", str(tmp_path / "o")])
    assert r.exit_code == 1 and "BTC folder not found" in r.output
    (tmp_path / "train.conll").write_text("a\tB-X\nb\tQ-Y\n", encoding="utf8")
    r = cli_runner.invoke(app, ["data", "convert", "conll", str(tmp_path), "--output", str(tmp_path / "o")])
    assert r.exit_code == 1 and "train.conll (line 2): invalid tag 'Q-Y'" in r.output
    r = cli_runner.invoke(app, ["data", "convert", "btc", str(tmp_path), "--train", "x", "--output", "o"])
    assert r.exit_code == 1 and "generic formats" in r.output
    r = cli_runner.invoke(app, ["data", "convert", "conll", str(tmp_path), "--few-shot", "0", "--output", "o"])
    assert r.exit_code == 1 and "few-shot count must be a whole number" in r.output


def test_list(cli_runner):
    r = cli_runner.invoke(app, ["data", "list"])
    assert r.exit_code == 0
    assert "crossner-politics" in r.output and "200/541/651" in r.output and "6300/1000/2000" in r.output


def test_convert_real_sec(cli_runner, tmp_path, shared_data):
    out = tmp_path / "sec"
    r = cli_runner.invoke(app, ["data", "convert", "sec", str(shared_data / "sec_filings"), "--output", str(out),
                                "--few-shot", "10%", "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert "train: 988 sentences (paper 992)" in r.output and "io_to_bio 1486" in r.output
    meta = srsly.read_json(out / "meta.json")
    assert meta["labels"] == ["loc", "misc", "org", "per"]
    assert meta["few_shot"][0]["sentences"] == 99


# ----------------------------------------------------------- only the splits given (issue 18.2)

CONLLU = (
    "# sent_id = 1\n"
    "1\tMerkel\t_\tPROPN\t_\t_\t2\tnsubj\t_\tNER=B-PER\n"
    "2\tspricht\t_\tVERB\t_\t_\t0\troot\t_\tNER=O\n"
    "\n"
    "# sent_id = 2\n"
    "1\tBerlin\t_\tPROPN\t_\t_\t0\troot\t_\tNER=B-LOC\n"
)


def test_convert_test_only(cli_runner, tmp_path):
    (tmp_path / "test.conllu").write_text(CONLLU, encoding="utf8")
    out = tmp_path / "out"
    r = cli_runner.invoke(app, ["data", "convert", "conllu", "--test", str(tmp_path / "test.conllu"),
                                "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert "test: 2 sentences, 2 entities" in r.output
    assert "wrote test.spacy and meta.json to" in r.output and "train:" not in r.output
    assert sorted(p.name for p in out.iterdir()) == ["meta.json", "test.spacy"]
    meta = srsly.read_json(out / "meta.json")
    assert meta["sizes"] == {"test": 2} and meta["labels"] == ["loc", "per"]
    assert [d.ents[0].text for d in _docs(out / "test.spacy")] == ["Merkel", "Berlin"]
    # few-shot subsets need a training split
    r = cli_runner.invoke(app, ["data", "convert", "conllu", "--test", str(tmp_path / "test.conllu"),
                                "--few-shot", "1", "--output", str(tmp_path / "o2")])
    assert r.exit_code == 1 and "few-shot" in r.output and "no train" in r.output
    assert not (tmp_path / "o2").exists()


def test_convert_refuses_one_file_for_two_splits(cli_runner, tmp_path):
    f = tmp_path / "all.conll"
    f.write_text("a\tB-X\nb\tO\n\nc\tO\n\nd\tB-X\n", encoding="utf8")
    out = tmp_path / "out"
    r = cli_runner.invoke(app, ["data", "convert", "conll", "--train", str(f), "--dev", str(f), "--test", str(f),
                                "--output", str(out)])
    assert r.exit_code == 1
    assert "all.conll: is given for both train and dev" in r.output
    assert not out.exists()
    # the same file through SOURCE and --test, spelled differently
    r = cli_runner.invoke(app, ["data", "convert", "conll", str(f), "--test", str(tmp_path / "." / "all.conll"),
                                "--output", str(out)])
    assert r.exit_code == 1 and "both train and test" in r.output


def test_convert_conllu_folder_and_columns(cli_runner, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.conllu").write_text(CONLLU * 5, encoding="utf8")
    r = cli_runner.invoke(app, ["data", "convert", "conll", str(src), "--output", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    docs = _docs(tmp_path / "o" / "train.spacy")
    assert {d[0].text for d in docs} == {"Merkel", "Berlin"}  # FORM, never the ID column
    cols = "1 Bonn NE B-LOC\n2 liegt VVFIN O\n3 am APPRART O\n4 Rhein NE B-LOC\n"
    (src / "cols.txt").write_text(cols, encoding="utf8")
    r = cli_runner.invoke(app, ["data", "convert", "conll", "--test", str(src / "cols.txt"), "--token-column", "1",
                                "--tag-column", "3", "--output", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert [t.text for t in _docs(tmp_path / "c" / "test.spacy")[0]] == ["Bonn", "liegt", "am", "Rhein"]
    r = cli_runner.invoke(app, ["data", "convert", "conll", "--test", str(src / "cols.txt"),
                                "--output", str(tmp_path / "c2")])
    assert r.exit_code == 1 and "column 0 holds token indices" in r.output
    r = cli_runner.invoke(app, ["data", "convert", "sec", str(src), "--token-column", "1", "--output", "x"])
    assert r.exit_code == 1 and "generic formats" in r.output


# ----------------------------------------------------------- nothing half-written (issue 17.8)


def test_failed_convert_writes_nothing_and_keeps_the_previous_result(cli_runner, tmp_path):
    f = tmp_path / "all.conll"
    f.write_text("".join(f"w{i}\tB-X\nx\tO\n\n" for i in range(30)), encoding="utf8")
    out = tmp_path / "out"
    r = cli_runner.invoke(app, ["data", "convert", "conll", str(f), "--few-shot", "1000", "--output", str(out)])
    assert r.exit_code == 1 and "exceeds the 24 training sentences" in r.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["all.conll"]  # no temporary folder left behind
    r = cli_runner.invoke(app, ["data", "convert", "conll", str(f), "--few-shot", "5", "--output", str(out)])
    assert r.exit_code == 0, r.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "train-fewshot-5-seed1.spacy" in before
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask  # the user's umask, not mkdtemp's 0700
    r = cli_runner.invoke(app, ["data", "convert", "conll", str(f), "--few-shot", "1000", "--output", str(out)])
    assert r.exit_code == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # a successful rerun replaces the whole result: the old few-shot file does not linger
    r = cli_runner.invoke(app, ["data", "convert", "conll", str(f), "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["dev.spacy", "meta.json", "test.spacy", "train.spacy"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.conll", "out"]


def test_convert_refuses_a_folder_with_other_files(cli_runner, tmp_path):
    f = tmp_path / "all.conll"
    f.write_text("".join(f"w{i}\tB-X\nx\tO\n\n" for i in range(30)), encoding="utf8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    r = cli_runner.invoke(app, ["data", "convert", "conll", str(f), "--output", str(out)])
    assert r.exit_code == 1 and "notes.txt" in r.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_convert_refuses_the_current_folder(cli_runner, tmp_path, monkeypatch):
    f = tmp_path / "all.conll"
    f.write_text("".join(f"w{i}\tB-X\nx\tO\n\n" for i in range(30)), encoding="utf8")
    out = tmp_path / "out"
    assert cli_runner.invoke(app, ["data", "convert", "conll", str(f), "--output", str(out)]).exit_code == 0
    monkeypatch.chdir(out)
    r = cli_runner.invoke(app, ["data", "convert", "conll", str(f), "--output", "."])
    assert r.exit_code == 1 and "output is the current folder" in r.output
    monkeypatch.chdir(tmp_path)
    r = cli_runner.invoke(app, ["data", "convert", "conll", str(f), "--output", "out/../out"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.conll", "out"]
