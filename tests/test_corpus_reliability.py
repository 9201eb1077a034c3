"""Issue 17, corpus part: failures leave clean state and say one clear line.

Balance writes all or nothing; workers die with their parent; one build per output folder
(a lock naming its owner); a build that reads nothing fails; an unusable --output is one
line; --samples must be positive; Ctrl-C says what was kept.
"""

import bz2
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import (
    HEADER,
    LOW,
    article_pages,
    page_xml,
    write_build_inputs,
    write_multistream,
    write_ontology_and_types,
)

from nerbert_spacy.cli.corpus import app
from nerbert_spacy.corpus.balancing import balance_corpus
from nerbert_spacy.corpus.build import build_corpus
from nerbert_spacy.errors import NerbertError


@pytest.fixture
def inputs(tmp_path):
    beta = {"n_articles": 6, "prefix": "Beta", "with_specials": False, "start_id": 1000}
    return write_build_inputs(tmp_path, [{"n_articles": 6, "prefix": "Alpha"}, beta])


def snapshot(folder: Path, names=("train", "dev", "balance.json", "balance.png")):
    """Every file under the balance outputs of ``folder``, with its bytes."""
    out = {}
    for name in names:
        path = folder / name
        if path.is_file():
            out[name] = path.read_bytes()
        elif path.is_dir():
            out.update({f"{name}/{p.name}": p.read_bytes() for p in sorted(path.iterdir())})
    return out


# ---------------------------------------------------------------- 17.1 balance: all or nothing


def test_failed_balance_leaves_the_previous_result_untouched(inputs):
    out = inputs["tmp"] / "corpus"
    build_corpus(inputs["dumps"], inputs["ontology"], inputs["types"], out, filter_config=LOW)
    balance_corpus(out, seed=1, n_samples=40)
    before = snapshot(out)
    assert any(k.startswith("train/") for k in before) and "balance.json" in before
    shards = sorted((out / "shards").glob("*.spacy"))
    shards[-1].write_bytes(shards[-1].read_bytes()[:50])  # a truncated last shard
    with pytest.raises(NerbertError, match=shards[-1].name):
        balance_corpus(out, seed=2, n_samples=60)
    assert snapshot(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith((".tmp-", ".old-"))]
    fresh = inputs["tmp"] / "fresh"
    with pytest.raises(NerbertError):
        balance_corpus(out, seed=2, output_dir=fresh)
    assert snapshot(fresh) == {}


def test_balance_replaces_every_output_of_the_previous_run(inputs):
    out = inputs["tmp"] / "corpus"
    build_corpus(inputs["dumps"], inputs["ontology"], inputs["types"], out, filter_config=LOW)
    balance_corpus(out, seed=1, n_samples=40)
    (out / "train" / "stale.spacy").write_bytes(b"old")
    result = balance_corpus(out, seed=3, n_samples=50, plot=False)
    assert not (out / "train" / "stale.spacy").exists() and not (out / "balance.png").exists()
    assert json.loads((out / "balance.json").read_text())["seed"] == 3 == result["seed"]


# ---------------------------------------------------------------- 17.9 samples must be positive


@pytest.mark.parametrize("samples", [0, -10])
def test_balance_refuses_non_positive_samples(inputs, cli_runner, samples):
    out = inputs["tmp"] / "corpus"
    build_corpus(inputs["dumps"], inputs["ontology"], inputs["types"], out, filter_config=LOW)
    with pytest.raises(NerbertError, match="at least 1"):
        balance_corpus(out, n_samples=samples)
    result = cli_runner.invoke(app, ["balance", str(out), "--samples", str(samples)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert not (out / "train").exists() and not (out / "balance.json").exists()


# ---------------------------------------------------------------- 17.5 a build that reads nothing


def test_a_build_that_reads_no_page_fails_naming_the_files(inputs):
    tmp = inputs["tmp"]
    not_a_dump = tmp / "feed.xml"
    not_a_dump.write_text("<rss><channel><item>Hello</item></channel></rss>\n")
    empty = tmp / "empty.xml.bz2"
    empty.write_bytes(bz2.compress(b""))
    with pytest.raises(NerbertError, match="no page.*feed.xml.*empty.xml.bz2"):
        build_corpus([not_a_dump, empty], inputs["ontology"], inputs["types"], tmp / "out")
    truncated = tmp / "cut.xml.bz2"
    truncated.write_bytes(bz2.compress(b"\x00" * 10)[:20])
    with pytest.raises(NerbertError, match="cut.xml.bz2"):
        build_corpus([truncated], inputs["ontology"], inputs["types"], tmp / "out2")


def test_a_partly_unreadable_dump_says_how_much_was_read(inputs):
    tmp = inputs["tmp"]
    import random

    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghij") for _ in range(6)) for _ in range(5000)]
    pages = [
        page_xml(f"Page {i}", " ".join(rng.choice(words) for _ in range(20000)) + " [[Paris]].", page_id=i + 1)
        for i in range(30)
    ]  # about 4 MB of text that bz2 cannot shrink much: several bz2 blocks
    data = bz2.compress((HEADER + "".join(pages) + "</mediawiki>\n").encode())
    cut = tmp / "cut.xml.bz2"
    cut.write_bytes(data[: len(data) * 2 // 3])
    stats = build_corpus([cut, inputs["dumps"][0]], inputs["ontology"], inputs["types"], tmp / "out", filter_config=LOW)
    lines = [e for e in stats["errors"] if "cut.xml.bz2" in e]
    assert len(lines) == 1 and "truncated" in lines[0], lines
    read = int(lines[0].split("after ")[1].split(" page")[0])
    assert 0 < read < 30 and "the rest of the file is skipped" in lines[0]


# ---------------------------------------------------------------- 17.7 unusable --output: one line


def test_output_that_is_a_file_or_read_only_is_one_line(inputs, cli_runner, monkeypatch):
    tmp = inputs["tmp"]
    existing = tmp / "a-file"
    existing.write_text("x")
    args = ["build", str(inputs["dumps"][0]), "--ontology", str(inputs["ontology"]), "--types", str(inputs["types"][0])]
    result = cli_runner.invoke(app, args + ["--output", str(existing)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "a-file" in result.output and "not a directory" in result.output
    assert len(result.output.strip().splitlines()) == 1

    real_mkdir = Path.mkdir

    def read_only(self, *a, **k):
        if "ro-target" in str(self):
            raise OSError(30, "Read-only file system", str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", read_only)
    result = cli_runner.invoke(app, args + ["--output", str(tmp / "ro-target" / "out")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Read-only file system" in result.output and "ro-target" in result.output
    assert len(result.output.strip().splitlines()) == 1


# ---------------------------------------------------------------- 17.11 Ctrl-C says what was kept


def test_ctrl_c_says_what_was_kept_and_that_a_rerun_resumes(inputs, cli_runner, monkeypatch):
    import nerbert_spacy.corpus.build as build_module

    out = inputs["tmp"] / "corpus"
    build_corpus(inputs["dumps"][:1], inputs["ontology"], inputs["types"], out, filter_config=LOW)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module, "build_corpus", interrupted)
    args = ["build", *map(str, inputs["dumps"]), "--ontology", str(inputs["ontology"]),
            "--types", str(inputs["types"][0]), "--output", str(out), "--quiet"]
    result = cli_runner.invoke(app, args)
    assert result.exit_code == 130
    assert "interrupted" in result.output and "rerun" in result.output
    assert "1 of 2 units annotated" in result.output and str(out) in result.output


# ---------------------------------------------------------------- 17.2 one build per folder, no orphans


def test_lock_refuses_a_live_owner_and_takes_over_a_stale_one(inputs):
    from nerbert_spacy.corpus.process import OutputLock

    out = inputs["tmp"] / "corpus"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / OutputLock.NAME).write_text(json.dumps(OutputLock.owner_record(sleeper.pid)))
        with pytest.raises(NerbertError, match=f"{sleeper.pid}.*still running"):
            build_corpus(inputs["dumps"], inputs["ontology"], inputs["types"], out, filter_config=LOW)
    finally:
        sleeper.kill()
        sleeper.wait()
    stats = build_corpus(inputs["dumps"], inputs["ontology"], inputs["types"], out, filter_config=LOW)
    assert any(f"{sleeper.pid}" in note and "stale" in note for note in stats["notes"])
    assert not (out / OutputLock.NAME).exists()  # released at the end


CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from nerbert_spacy.corpus.build import run_tasks
    from nerbert_spacy.corpus.distributed import DaskRunner

    def task(folder):
        Path(folder, str(os.getpid())).write_text("x")
        time.sleep(120)

    if __name__ == "__main__":
        if {dask!r}:
            with DaskRunner("local", workers=2) as runner:
                runner(task, [{folder!r}, {folder!r}])
        else:
            run_tasks(task, [{folder!r}, {folder!r}], workers=2)
    """
)


def _wait_for(predicate, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process checks use /proc")
@pytest.mark.parametrize("dask", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_workers_exit_when_their_parent_is_killed(tmp_path, dask):
    """Pool and local-Dask workers busy in a task exit soon after `kill -9` of the build."""
    folder = tmp_path / "pids"
    folder.mkdir()
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(dask=dask, folder=str(folder)))
    parent = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
    try:
        assert _wait_for(lambda: len(list(folder.iterdir())) == 2, timeout=120), "workers did not start"
        workers = [int(p.name) for p in folder.iterdir()]
        assert all(_alive(pid) for pid in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert _wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=15), "orphaned workers"
    finally:
        for p in folder.iterdir():
            try:
                os.kill(int(p.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _slowly(job):
    """Run ``fn(task)`` after a pause, so a task is in flight when a worker is killed."""
    fn, task = job
    time.sleep(1.0)
    return fn(task)


def _tree(folder: Path):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and p.parent.name in ("raw", "shards") or p.name == "stats.json"}


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process checks use /proc")
def test_a_killed_dask_worker_then_a_rerun_give_the_uninterrupted_output(tmp_path):
    """kill -9 of one Dask worker in the middle of the annotate pass: the build still ends, and
    it and a rerun give the bytes of an uninterrupted build."""
    from nerbert_spacy.corpus import build as B
    from nerbert_spacy.corpus.distributed import DaskRunner

    dump, _ = write_multistream(tmp_path, article_pages(12), per_block=2)
    onto, types = write_ontology_and_types(tmp_path, "o.ttl", "t.nt")
    options = dict(blocks_per_unit=1, filter_config=LOW, seed=3)
    reference = build_corpus([dump], onto, [types], tmp_path / "reference", **options)
    killed = []
    with DaskRunner("local", workers=2) as runner:

        def killing_runner(fn, tasks, workers, on_done):
            def kill_one(done, total):
                if fn is B.annotate_unit and not killed:
                    pid = sorted(runner.client.run(os.getpid).values())[0]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                if on_done:
                    on_done(done, total)

            return runner(_slowly, [(fn, t) for t in tasks], workers, kill_one)

        out = tmp_path / "out"
        first = build_corpus([dump], onto, [types], out, runner=killing_runner, **options)
    assert killed and first["units"] == reference["units"] == 6
    assert _tree(out) == _tree(tmp_path / "reference")
    again = build_corpus([dump], onto, [types], out, **options)
    assert again["timings"]["resumed_units"] == 6 and _tree(out) == _tree(tmp_path / "reference")
