"""`nerbert corpus build | balance | fetch-default` through Typer's CliRunner (that every option
reaches the library call: test_cli_options.py)."""

import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from helpers import ONTOLOGY_TTL, TYPES_NT, write_dump

from nerbert_spacy.cli.corpus import app
from nerbert_spacy.errors import NerbertError
from nerbert_spacy.wikipedia.default_dump import DEFAULT_DUMP, DEFAULT_DUMP_IN_WHEEL, fetch_default_dump


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

    import nerbert_spacy.wikipedia.default_dump as default_dump

    monkeypatch.setattr(default_dump, "DEFAULT_DUMP_MD5", hashlib.md5(FAKE).hexdigest())
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


def test_blocks_per_unit_changes_the_number_of_units(cli_runner, tmp_path):
    """`--blocks-per-unit` reaches the build: 6 blocks are 6, 3 or 1 work units."""
    from helpers import ARTICLE, page_xml, write_multistream

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
