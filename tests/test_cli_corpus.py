"""`nerbert corpus build | balance | fetch-default` through Typer's CliRunner."""

import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from nerbert_spacy.cli.corpus import DEFAULT_DUMP, DEFAULT_DUMP_IN_WHEEL, app, fetch_default_dump
from nerbert_spacy.errors import NerbertError

from test_corpus_build import ONTOLOGY_TTL, TYPES_NT, write_dump


@pytest.fixture
def files(tmp_path):
    onto = tmp_path / "ontology.ttl"
    onto.write_text(ONTOLOGY_TTL, encoding="utf8")
    types = tmp_path / "types.nt"
    types.write_text(TYPES_NT, encoding="utf8")
    # 12 articles so every category has >= 10 entities with the paper's default filters
    dump = write_dump(tmp_path / "wiki.xml.bz2", n_articles=12)
    return tmp_path, dump, onto, types


def test_help_lists_commands(cli_runner):
    result = cli_runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("build", "balance", "fetch-default"):
        assert cmd in result.output
    result = cli_runner.invoke(app, ["build", "--help"])
    assert result.exit_code == 0
    for opt in ("--ontology", "--types", "--redirects", "--output", "--labels", "--seed", "--workers"):
        assert opt in result.output


def test_build_then_balance(cli_runner, files):
    tmp, dump, onto, types = files
    out = tmp / "corpus"
    args = [
        "build",
        str(dump),
        "--ontology",
        str(onto),
        "--types",
        str(types),
        "--output",
        str(out),
        "--labels",
        "315",
        "--seed",
        "1",
        "--workers",
        "1",
    ]
    result = cli_runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "12 articles" in result.output and "kept" in result.output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["inputs"]["seed"] == 1 and stats["sentences_kept"] > 0
    assert list((out / "shards").glob("*.spacy"))
    result = cli_runner.invoke(
        app, ["balance", str(out), "--alpha", "0.5", "--seed", "2", "--dev-fraction", "0.2", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    balance = json.loads((out / "balance.json").read_text())
    assert balance["alpha"] == 0.5 and balance["dev_fraction"] == 0.2
    assert (out / "balance.png").exists() and list((out / "train").glob("*.spacy"))
    assert f"{balance['train_sentences']} train" in result.output
    # domain-targeted balancing beside the plain one, the label tree from the recorded ontology
    mapping = tmp / "target.json"
    mapping.write_text(json.dumps({"author": ["writer"], "place": ["city", "country"] + [f"p{i}" for i in range(9)]}))
    aimed = tmp / "aimed"
    result = cli_runner.invoke(
        app,
        ["balance", str(out), "--seed", "2", "--target-mapping", str(mapping), "--output", str(aimed), "--quiet"],
    )
    assert result.exit_code == 0, result.output
    targeted = json.loads((aimed / "balance.json").read_text())
    assert targeted["boosts"] == {"artist": 2.0, "writer": 4.0}
    assert "target.json:place" in result.output and "boosted categories hold" in result.output
    assert targeted["input_sentences"] == balance["input_sentences"]
    assert json.loads((out / "balance.json").read_text()) == balance
    mapping.write_text(json.dumps({"band": ["band"]}))
    result = cli_runner.invoke(app, ["balance", str(out), "--target-mapping", str(mapping), "-o", str(aimed)])
    assert result.exit_code == 1 and "none of the 1 boosted categories occurs" in result.output


def test_build_warns_about_bad_dump_and_fails_cleanly(cli_runner, files):
    tmp, dump, onto, types = files
    bad = tmp / "broken.xml.bz2"
    bad.write_bytes(dump.read_bytes()[:300])
    result = cli_runner.invoke(
        app,
        [
            "build",
            str(dump),
            str(bad),
            "--ontology",
            str(onto),
            "--types",
            str(types),
            "--output",
            str(tmp / "o"),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "broken.xml.bz2" in result.output
    result = cli_runner.invoke(
        app,
        [
            "build",
            str(tmp / "nope.bz2"),
            "--ontology",
            str(onto),
            "--types",
            str(types),
            "--output",
            str(tmp / "o"),
        ],
    )
    assert result.exit_code == 1
    assert "nope.bz2" in result.output and "Traceback" not in result.output
    result = cli_runner.invoke(
        app,
        [
            "build",
            str(dump),
            "--ontology",
            str(onto),
            "--types",
            str(types),
            "--output",
            str(tmp / "o"),
            "--labels",
            "99",
        ],
    )
    assert result.exit_code == 1 and "99" in result.output
    result = cli_runner.invoke(app, ["balance", str(tmp / "empty")])
    assert result.exit_code == 1 and "not found" in result.output


FAKE = b"BZh9-fake-dump"


def _fake_wheel(dest: Path, with_member=True):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("gensim/__init__.py", "")
        if with_member:
            zf.writestr(DEFAULT_DUMP_IN_WHEEL, FAKE)
    (dest / "gensim-4.3.3-cp311-cp311-manylinux_x86_64.whl").write_bytes(buf.getvalue())


def test_fetch_default_extracts_the_dump_from_the_wheel(tmp_path, monkeypatch):
    import hashlib

    import nerbert_spacy.cli.corpus as cli

    monkeypatch.setattr(cli, "DEFAULT_DUMP_MD5", hashlib.md5(FAKE).hexdigest())
    calls = []

    def pip(cmd):
        calls.append(cmd)
        _fake_wheel(Path(cmd[cmd.index("-d") + 1]))
        return 0

    path = fetch_default_dump(tmp_path / "assets", pip_runner=pip)
    assert path == tmp_path / "assets" / DEFAULT_DUMP
    assert path.read_bytes() == FAKE
    assert calls[0][1:5] == ["-m", "pip", "download", "gensim==4.3.3"]
    assert "--no-deps" in calls[0] and "--only-binary=:all:" in calls[0]


def test_fetch_default_errors(tmp_path, cli_runner, monkeypatch):
    with pytest.raises(NerbertError, match="pip download gensim==4.3.3"):
        fetch_default_dump(tmp_path, pip_runner=lambda cmd: 1)

    def wheel_without_member(cmd):
        _fake_wheel(Path(cmd[cmd.index("-d") + 1]), with_member=False)
        return 0

    with pytest.raises(NerbertError, match="wheel has no readable"):
        fetch_default_dump(tmp_path, pip_runner=wheel_without_member)

    def wrong_file(cmd):
        _fake_wheel(Path(cmd[cmd.index("-d") + 1]))
        return 0

    with pytest.raises(NerbertError, match="not the expected file"):
        fetch_default_dump(tmp_path, pip_runner=wrong_file)
    assert not (tmp_path / DEFAULT_DUMP).exists()

    def offline(cmd, **kwargs):
        return subprocess.CompletedProcess(
            cmd, 1, "", "ERROR: Could not find a version that satisfies gensim==4.3.3"
        )

    monkeypatch.setattr(subprocess, "run", offline)
    result = cli_runner.invoke(app, ["fetch-default", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "Could not find a version" in result.output and "Traceback" not in result.output


def test_fetch_default_skips_when_present(shared_data, tmp_path):
    src = shared_data / "wikipedia" / DEFAULT_DUMP
    (tmp_path / DEFAULT_DUMP).write_bytes(src.read_bytes())
    assert (
        fetch_default_dump(tmp_path, pip_runner=lambda cmd: pytest.fail("pip must not run"))
        == tmp_path / DEFAULT_DUMP
    )


def _option_names(command_name):
    """The parameter names of a `nerbert corpus` command, as the library call receives them."""
    import typer.main

    command = typer.main.get_command(app).commands[command_name]
    return {p.name for p in command.params}


def test_every_build_option_reaches_build_corpus(cli_runner, files, monkeypatch):
    """Each `corpus build` option, set to a non-default value, arrives in the library call."""
    import nerbert_spacy.corpus.build as build_module
    import nerbert_spacy.corpus.distributed as distributed

    tmp, dump, onto, types = files
    calls = []

    def fake_build(dumps, ontology, type_files, output_dir, **kwargs):
        calls.append((dumps, ontology, type_files, output_dir, kwargs))
        return {"errors": [], "errors_total": 0, "timings": {"resumed_units": 0}, "pages": 1, "articles": 1,
                "redirects": 0, "bad_pages": 0, "sentences": 1, "sentences_kept": 1, "anchors": 1, "typed": 1,
                "ENTITY": 0, "unaligned": 0, "categories_after": {}, "units": 1}

    class FakeRunner:
        def __init__(self, scheduler, workers):
            self.scheduler, self.workers = scheduler, workers

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(build_module, "build_corpus", fake_build)
    monkeypatch.setattr(distributed, "DaskRunner", FakeRunner)
    redirects = tmp / "redirects.ttl"
    redirects.write_text("")
    given = {
        "dumps": [str(dump), str(dump)],
        "ontology": ["--ontology", str(onto)],
        "types": ["--types", str(types), "--types", str(types)],
        "redirects": ["--redirects", str(redirects)],
        "output": ["--output", str(tmp / "out")],
        "labels": ["--labels", "4"],
        "seed": ["--seed", "7"],
        "workers": ["--workers", "3"],
        "scheduler": ["--scheduler", "local"],
        "splitter": ["--splitter", "pysbd"],
        "expand_unaligned": ["--expand-unaligned"],
        "blocks_per_unit": ["--blocks-per-unit", "9"],
        "dump_redirects": ["--no-dump-redirects"],
        "quiet": ["--quiet"],
    }
    assert set(given) == _option_names("build"), "a new option needs a line here"
    args = ["build"] + given["dumps"] + [a for k, v in given.items() if k != "dumps" for a in v]
    result = cli_runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (dumps, ontology, type_files, output_dir, kwargs), = calls
    assert [str(p) for p in dumps] == [str(dump)] * 2 and str(ontology) == str(onto)
    assert [str(p) for p in type_files] == [str(types)] * 2 and str(output_dir) == str(tmp / "out")
    runner = kwargs.pop("runner")
    assert (runner.scheduler, runner.workers) == ("local", 3)
    assert kwargs.pop("progress").enabled is False  # --quiet
    assert kwargs == {
        "redirects_file": redirects, "label_set": "4", "seed": 7, "workers": 3, "splitter": "pysbd",
        "expand_unaligned": True, "blocks_per_unit": 9, "dump_redirects": False,
    }


def test_every_balance_option_reaches_balance_corpus(cli_runner, tmp_path, monkeypatch):
    import nerbert_spacy.cli.corpus as cli_corpus
    import nerbert_spacy.corpus.balancing as balancing

    calls, boost_calls = [], []

    def fake_balance(corpus_dir, **kwargs):
        calls.append((corpus_dir, kwargs))
        return {"input_sentences": 1, "train_sentences": 1, "dev_sentences": 0, "categories_before": 1,
                "categories_after": 1, "boosted_share": {"before": 0.1, "after": 0.2}}

    def fake_boosts(corpus_dir, mappings, boost, neighbour_boost, max_fanout, ontology):
        boost_calls.append((corpus_dir, mappings, boost, neighbour_boost, max_fanout, ontology))
        return {"city": 2.0}

    monkeypatch.setattr(balancing, "balance_corpus", fake_balance)
    monkeypatch.setattr(cli_corpus, "_target_boosts", fake_boosts)
    corpus = tmp_path / "c"
    corpus.mkdir()
    given = {
        "corpus_dir": [str(corpus)],
        "alpha": ["--alpha", "0.5"],
        "seed": ["--seed", "3"],
        "dev_fraction": ["--dev-fraction", "0.2"],
        "samples": ["--samples", "40"],
        "output": ["--output", str(tmp_path / "o")],
        "target_mapping": ["--target-mapping", str(tmp_path / "m1.json"), "--target-mapping", str(tmp_path / "m2.json")],
        "boost": ["--boost", "5"],
        "neighbour_boost": ["--neighbour-boost", "1.5"],
        "max_fanout": ["--max-fanout", "4"],
        "ontology": ["--ontology", str(tmp_path / "o.owl")],
        "quiet": ["--quiet"],
    }
    assert set(given) == _option_names("balance"), "a new option needs a line here"
    result = cli_runner.invoke(app, ["balance"] + [a for v in given.values() for a in v])
    assert result.exit_code == 0, result.output
    (corpus_dir, kwargs), = calls
    assert corpus_dir == corpus
    assert kwargs.pop("progress").enabled is False
    assert kwargs == {"alpha": 0.5, "seed": 3, "dev_fraction": 0.2, "n_samples": 40, "boosts": {"city": 2.0},
                      "output_dir": tmp_path / "o"}
    assert boost_calls == [(corpus, [tmp_path / "m1.json", tmp_path / "m2.json"], 5.0, 1.5, 4, tmp_path / "o.owl")]


def test_blocks_per_unit_changes_the_number_of_units(cli_runner, tmp_path):
    """`--blocks-per-unit` reaches the build: 6 blocks are 6, 3 or 1 work units."""
    from test_corpus_build import ARTICLE, page_xml, write_multistream

    pages = [page_xml(f"Page {i}", ARTICLE.format(title=f"Page {i}"), page_id=i + 1) for i in range(12)]
    dump, _ = write_multistream(tmp_path, pages, per_block=2)
    onto, types = tmp_path / "o.ttl", tmp_path / "t.nt"
    onto.write_text(ONTOLOGY_TTL)
    types.write_text(TYPES_NT)
    units = {}
    for n in (1, 2, 6):
        out = tmp_path / f"out{n}"
        args = ["build", str(dump), "--ontology", str(onto), "--types", str(types), "--output", str(out),
                "--blocks-per-unit", str(n), "--quiet"]
        result = cli_runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        units[n] = json.loads((out / "stats.json").read_text())["units"]
        assert len(list((out / "shards").glob("*.spacy"))) == units[n]
    assert units == {1: 6, 2: 3, 6: 1}
