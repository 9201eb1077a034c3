"""The corpus build on Dask (a local cluster of 2 worker processes): the same shards and
stats as the single-process path, resume, task order and errors, unreachable scheduler."""

import socket

import pytest
from helpers import LOW, write_build_inputs

from nerbert_spacy.corpus.build import build_corpus
from nerbert_spacy.corpus.distributed import (
    DaskRunner,
    build_corpus_dask,
    normalize_scheduler,
    run_tasks_dask,
)
from nerbert_spacy.errors import NerbertError, require_file


@pytest.fixture(scope="module")
def runner():
    with DaskRunner("local", workers=2) as r:
        yield r


@pytest.fixture
def inputs(tmp_path):
    return write_build_inputs(
        tmp_path,
        [
            {"prefix": "Alpha", "n_articles": 5},
            {"prefix": "Beta", "n_articles": 4, "with_specials": False, "start_id": 1000},
            {"prefix": "Gamma", "n_articles": 3, "with_specials": False, "start_id": 2000},
        ],
    )


def _build(inputs, out, **kwargs):
    kwargs.setdefault("filter_config", LOW)
    kwargs.setdefault("seed", 7)
    return build_corpus(inputs["dumps"], inputs["ontology"], inputs["types"], out, **kwargs)


def _files(out, sub):
    return {p.name: p.read_bytes() for p in sorted((out / sub).iterdir()) if not p.name.startswith(".tmp")}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _no_timings(stats):
    return {k: v for k, v in stats.items() if k != "timings"}


@pytest.mark.slow
def test_dask_build_is_byte_identical_to_single_process(inputs, runner):
    single = _build(inputs, inputs["tmp"] / "single", workers=1)
    dask = _build(inputs, inputs["tmp"] / "dask", workers=2, runner=runner)
    assert runner.n_workers() == 2
    for sub in ("shards", "raw"):
        a, b = _files(inputs["tmp"] / "single", sub), _files(inputs["tmp"] / "dask", sub)
        assert sorted(a) == sorted(b) and len(a) == 6  # 3 units: .spacy + .json each
        assert a == b
    assert (inputs["tmp"] / "single" / "stats.json").read_bytes() == (
        inputs["tmp"] / "dask" / "stats.json"
    ).read_bytes()
    assert _no_timings(single) == _no_timings(dask)
    assert dask["units"] == 3 and dask["articles"] == 12 and dask["sentences_kept"] > 0
    # the annotate work ran in the workers (their per-process Annotator cache is filled)
    from nerbert_spacy.corpus import build as build_module

    loaded = runner.client.run(lambda: len(build_module._CONTEXT))
    assert sum(loaded.values()) >= 1
    peak = runner.worker_peak_rss()
    assert len(peak) == 2 and all(v > 10 * 2**20 for v in peak.values())


def test_dask_rerun_skips_finished_shards(inputs, runner):
    out = inputs["tmp"] / "out"
    first = _build(inputs, out, runner=runner)
    shards = _files(out, "shards")
    mtime = (out / "raw" / "wiki-b.spacy").stat().st_mtime_ns
    second = _build(inputs, out, runner=runner)
    assert second["timings"]["resumed_units"] == 3
    assert (out / "raw" / "wiki-b.spacy").stat().st_mtime_ns == mtime
    # an interrupted run: one unit's shard is missing -> only that one is redone
    (out / "raw" / "wiki-c.spacy").unlink()
    (out / "shards" / "wiki-c.spacy").unlink()
    third = _build(inputs, out, runner=runner)
    assert third["timings"]["resumed_units"] == 2
    assert _files(out, "shards") == shards
    assert _no_timings(third) == _no_timings(first)


def test_runner_keeps_task_order_and_reports_progress(runner):
    seen = []
    assert runner(abs, [-3, 1, -2, 5, -4], on_done=lambda d, n: seen.append((d, n))) == [3, 1, 2, 5, 4]
    assert seen == [(i, 5) for i in range(1, 6)]
    assert runner(abs, []) == []


def test_task_errors_are_clear(runner, tmp_path):
    missing = tmp_path / "nowhere.nt"
    with pytest.raises(NerbertError, match="nowhere.nt"):  # a NerbertError from a worker as it is
        runner(require_file, [str(missing)])
    with pytest.raises(NerbertError, match=r"task 2/2 of int failed on a Dask worker \(ValueError"):
        runner(int, ["1", "x"])
    assert runner(int, ["4"]) == [4]  # the cluster is still usable


def test_unreachable_scheduler_is_a_clear_error():
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(NerbertError, match=f"cannot reach the Dask scheduler at {address}"):
        DaskRunner(address, timeout=1)
    with pytest.raises(NerbertError, match="cannot reach the Dask scheduler"):
        run_tasks_dask(abs, [1], scheduler=address.replace("tcp://", ""), timeout=1)


def test_normalize_scheduler():
    assert normalize_scheduler(None) == "local"
    assert normalize_scheduler(" LOCAL ") == "local"
    assert normalize_scheduler("10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert normalize_scheduler("tls://head:8786") == "tls://head:8786"
    with pytest.raises(NerbertError, match="not a Dask scheduler address"):
        normalize_scheduler("tcp://")
    with pytest.raises(NerbertError, match="at least 1"):
        DaskRunner("local", workers=0)


def test_closed_runner_refuses_work():
    r = DaskRunner.__new__(DaskRunner)
    r.client = r.cluster = None
    with pytest.raises(NerbertError, match="closed"):
        r(abs, [1])
    r.close()  # closing twice is fine


@pytest.mark.slow
def test_cli_scheduler_local_matches_local_processes(inputs, cli_runner):
    from nerbert_spacy.cli.corpus import app

    def args(out, *extra):
        return [
            "build",
            *map(str, inputs["dumps"]),
            "--ontology",
            str(inputs["ontology"]),
            "--types",
            str(inputs["types"][0]),
            "--output",
            str(out),
            "--quiet",
            *extra,
        ]

    plain = cli_runner.invoke(app, args(inputs["tmp"] / "p", "--workers", "1"))
    assert plain.exit_code == 0, plain.output
    dask = cli_runner.invoke(app, args(inputs["tmp"] / "d", "--workers", "2", "--scheduler", "local"))
    assert dask.exit_code == 0, dask.output
    assert "on Dask (local)" in dask.output
    assert _files(inputs["tmp"] / "p", "shards") == _files(inputs["tmp"] / "d", "shards")
    assert (inputs["tmp"] / "p" / "stats.json").read_bytes() == (inputs["tmp"] / "d" / "stats.json").read_bytes()


def test_cli_unreachable_scheduler(inputs, cli_runner):
    import dask

    from nerbert_spacy.cli.corpus import app

    address = f"tcp://127.0.0.1:{_free_port()}"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = cli_runner.invoke(
            app,
            [
                "build",
                str(inputs["dumps"][0]),
                "--ontology",
                str(inputs["ontology"]),
                "--types",
                str(inputs["types"][0]),
                "--output",
                str(inputs["tmp"] / "o"),
                "--scheduler",
                address,
                "--quiet",
            ],
        )
    assert result.exit_code == 1
    assert f"cannot reach the Dask scheduler at {address}" in result.output
    assert not (inputs["tmp"] / "o").exists()


@pytest.mark.slow
def test_build_corpus_dask_reports_workers(inputs):
    stats = build_corpus_dask(
        inputs["dumps"][:2],
        inputs["ontology"],
        inputs["types"],
        inputs["tmp"] / "bd",
        scheduler="local",
        workers=1,
        filter_config=LOW,
    )
    assert stats["timings"]["dask"]["workers"] == 1 and stats["timings"]["dask"]["threads"] == [1]
    assert len(stats["timings"]["worker_peak_rss"]) == 1
    assert stats["units"] == 2
