"""``nerbert data`` commands."""
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
    assert meta["sizes"] == {"train": 60, "dev": 20, "test": 20}
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
