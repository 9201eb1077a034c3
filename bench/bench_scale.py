#!/usr/bin/env python
"""Scaling benchmarks (issue 6): the corpus build on Dask and the DBpedia type index.

``build``: builds the corpus from all ``../shared/data/wikipedia/*.bz2`` (DBpedia 2016-10
OWL + the instance-types sample) on a Dask ``LocalCluster`` of 1, then 2 workers, each in a
fresh output directory, and reports pages/s, sentences/s, per-pass times and the peak RSS
of every worker (``client.run`` -> ``getrusage(RUSAGE_SELF).ru_maxrss``). The four real
dumps are 4 units of very unequal size, so by default they are first repacked into
multistream dumps of ``--pages-per-block`` pages per bz2 stream (with their index, the
layout of Wikimedia's ``pages-articles-multistream`` files), which gives the scheduler
many similar units, as on the real dump. Then it prints the projection for all of English
Wikipedia on 32 and 128 cores, with its arithmetic.

``types``: builds the sqlite ``TypeIndex`` from the 149k-entity sample and from a synthetic
N-Triples file of ``--entities`` entities (default 5M, written to a temporary folder and
deleted afterwards), and reports build time, peak build memory, size on disk, lookup
speed (1 and 2 processes) and the memory of a process that opened it and did lookups.

``synthetic``: makes dumps of 10k / 50k / 100k pages with ``bench/make_dump.py`` (kept in
``--tmp`` and reused), builds each on a Dask ``LocalCluster`` of 2 workers and reports CPU
seconds (client + workers), MB of wikitext per CPU second, peak RSS per worker and output
sizes; with ``--kill-pages N`` it also kills the client (``kill -9``) at a random point of a
build of the N-page dump, checks that no worker outlives it, reruns, then does the same
killing one worker, and compares both results byte for byte with an uninterrupted build.

Usage (from the project root):
    python bench/bench_scale.py build --workers 1 2
    python bench/bench_scale.py types --entities 5000000 --tmp /tmp
    python bench/bench_scale.py synthetic --pages 10000 50000 100000 --kill-pages 10000 --tmp /tmp/synth
Both print JSON lines and a markdown summary (nothing is written into docs/).
"""

import argparse
import bz2
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NERBERT_SHARED_DATA", ROOT.parent / "shared" / "data"))
SAMPLE = SHARED / "dbpedia" / "instance-types-sample.nt.bz2"
OWL = SHARED / "dbpedia" / "dbpedia_2016-10.owl"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"

# English Wikipedia, for the projection (issue 6): articles and compressed size
ENWIKI_ARTICLES = 6_800_000
ENWIKI_BZ2_GB = 22.0


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def rss_status() -> Dict[str, int]:
    """VmRSS / RssAnon / RssFile / VmHWM of this process in KiB (Linux /proc)."""
    out: Dict[str, int] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


# ---------------------------------------------------------------- multistream repacking


def repack_multistream(dump: Path, out_dir: Path, pages_per_block: int) -> Path:
    """Rewrite a pages-articles dump as a multistream dump + index (Wikimedia's layout:
    the siteinfo header in the first bz2 stream, then ``pages_per_block`` pages per stream).

    dump (Path): A .xml or .xml.bz2 dump.
    out_dir (Path): Where ``<stem>-multistream.xml.bz2`` and its index go.
    pages_per_block (int): Pages per bz2 stream.
    RETURNS (Path): The multistream dump (its index is found by name).
    """
    raw = bz2.open(dump).read() if dump.read_bytes()[:3] == b"BZh" else dump.read_bytes()
    text = raw.decode("utf8")
    first = text.find("<page>")
    end = text.rfind("</page>") + len("</page>")
    header, body, footer = text[:first], text[first:end], text[end:]
    pages = [p + "</page>" for p in body.split("</page>")[:-1]]
    stem = dump.name.split(".xml")[0].replace(".bz2", "")
    target = out_dir / f"{stem}-multistream.xml.bz2"
    index_lines: List[str] = []
    offset = 0
    with open(target, "wb") as f:
        for chunk in [header] + [
            "".join(pages[i : i + pages_per_block]) for i in range(0, len(pages), pages_per_block)
        ] + [footer]:
            data = bz2.compress(chunk.encode("utf8"))
            if chunk is not header and "<page>" in chunk:
                for n, page in enumerate(chunk.split("<page>")[1:]):
                    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
                    index_lines.append(f"{offset}:{n}:{title}")
            f.write(data)
            offset += len(data)
    index = out_dir / f"{stem}-multistream-index.txt.bz2"
    index.write_bytes(bz2.compress(("\n".join(index_lines) + "\n").encode("utf8")))
    return target


# ---------------------------------------------------------------- corpus build on Dask


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def output_digest(out: Path) -> str:
    """sha1 over the shard files and stats.json (minus ``inputs``, which names the temporary
    dump paths of this invocation), for identity checks across runs."""
    import hashlib

    h = hashlib.sha1()
    for p in sorted((out / "shards").glob("*")):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    stats = json.loads((out / "stats.json").read_text())
    stats.pop("inputs", None)
    h.update(json.dumps(stats, sort_keys=True).encode())
    return h.hexdigest()[:16]


def build_once(workers: int, dumps: List[Path], out: Path, blocks_per_unit: int, dask: bool = True) -> Dict[str, Any]:
    """One build; ``dask=False``: the single-process path (no Dask) for comparison."""
    import contextlib

    from nerbert_spacy.corpus.build import build_corpus
    from nerbert_spacy.corpus.distributed import DaskRunner

    load_before = loadavg()
    t_cluster = time.perf_counter()
    with DaskRunner("local", workers=workers) if dask else contextlib.nullcontext(None) as runner:
        cluster_s = time.perf_counter() - t_cluster
        cpu_main0 = cpu_seconds()
        cpu_workers0 = runner.client.run(cpu_seconds) if runner is not None else {}
        start = time.perf_counter()
        stats = build_corpus(
            dumps, OWL, [SAMPLE], out, workers=workers, seed=0, runner=runner, blocks_per_unit=blocks_per_unit
        )
        wall = time.perf_counter() - start
        cpu_main = cpu_seconds() - cpu_main0
        cpu_workers = (
            {k: v - cpu_workers0.get(k, 0.0) for k, v in runner.client.run(cpu_seconds).items()} if runner else {}
        )
        peak = runner.worker_peak_rss() if runner is not None else {"main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    return {
        "workers": workers if dask else "1 (no Dask)",
        "digest": output_digest(out),
        "units": stats["units"],
        "cluster_start_s": round(cluster_s, 2),
        "wall_s": round(wall, 2),
        "cpu_main_s": round(cpu_main, 2),
        "cpu_workers_s": round(sum(cpu_workers.values()), 2),
        "timings": stats["timings"],
        "pages": stats["pages"],
        "articles": stats["articles"],
        "sentences": stats["sentences"],
        "sentences_kept": stats["sentences_kept"],
        "anchors": stats["anchors"],
        "errors_total": stats["errors_total"],
        "main_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "worker_peak_rss_mb": [round(v / 2**20, 1) for v in peak.values()],
        "load_before": load_before,
        "load_after": loadavg(),
    }


def time_redirect_pass(dumps: List[Path]) -> float:
    """Seconds of the serial redirect pass (``collect_redirects`` over every dump, as pass 1 does)."""
    from nerbert_spacy.wikipedia.dump import DumpStats, collect_redirects

    start = time.perf_counter()
    for dump in dumps:
        collect_redirects([dump], stats=DumpStats())
    return time.perf_counter() - start


def projection(results: List[Dict[str, Any]], dump_bytes: int, redirect_s: float) -> str:
    """The arithmetic for all of English Wikipedia on 32 and 128 cores, as markdown.

    The parallel work is scaled by compressed bytes (main estimate: the real dump's bytes are
    mostly article text, like the sample's) and by articles (an upper bound: the sample's
    articles are long, popular ones, ~5x the average article's compressed size)."""
    one = [r for r in results if r["workers"] == 1][0]
    t = one["timings"]
    mb = dump_bytes / 1e6
    # CPU seconds of the worker (annotate + filter, plus its one-time imports and ontology load):
    # less sensitive to other jobs on a shared machine than wall time
    par_s = one["cpu_workers_s"]
    par_per_mb = par_s / mb
    par_per_article = par_s / one["articles"]
    serial_per_mb = redirect_s / mb
    total_mb = ENWIKI_BZ2_GB * 1000
    core_h_bytes = total_mb * par_per_mb / 3600
    core_h_articles = ENWIKI_ARTICLES * par_per_article / 3600
    serial_h = total_mb * serial_per_mb / 3600
    lines = [
        f"Measured (1 Dask worker): worker CPU time (annotate + filter + its start-up) = {par_s:.1f} s "
        f"(wall {t['annotate_s'] + t['filter_s']:.1f} s) for {mb:.2f} MB of compressed dump "
        f"({one['articles']} articles) = **{par_per_mb:.1f} s per compressed MB per core** "
        f"({par_per_article * 1000:.0f} ms per article); the serial redirect pass (main process, "
        f"`collect_redirects` over every dump) = {redirect_s:.2f} s = **{serial_per_mb:.2f} s per compressed MB**. "
        f"(Pass 1 also builds the type index: {t['types_s']:.1f} s here with the 149k-entity sample and "
        "the redirects; for the full DBpedia see `bench_scale.py types`.)",
        "",
        f"English Wikipedia: {ENWIKI_ARTICLES / 1e6:.1f}M articles, {ENWIKI_BZ2_GB:.0f} GB compressed.",
        "",
        f"- parallel CPU work, by bytes: {total_mb:,.0f} MB x {par_per_mb:.1f} s/MB = {core_h_bytes:,.0f} core-hours",
        f"- parallel CPU work, by articles (upper bound): {ENWIKI_ARTICLES:,} x {par_per_article * 1000:.0f} ms = "
        f"{core_h_articles:,.0f} core-hours",
        f"- serial redirect pass: {total_mb:,.0f} MB x {serial_per_mb:.2f} s/MB = {serial_h:.1f} h (one core, "
        "before the parallel part)",
    ]
    for cores in (32, 128):
        a, b = core_h_bytes / cores, core_h_articles / cores
        lines.append(
            f"- {cores} cores: {core_h_bytes:,.0f} / {cores} = {a:.1f} h (by articles: {b:.1f} h) parallel "
            f"+ {serial_h:.1f} h serial = **{a + serial_h:.1f} h** (upper bound {b + serial_h:.1f} h)"
        )
    return "\n".join(lines)


def cmd_build(args: argparse.Namespace) -> int:
    src = sorted((SHARED / "wikipedia").glob("*.bz2"))
    if not src:
        print(f"error: no dumps in {SHARED / 'wikipedia'}", file=sys.stderr)
        return 1
    dump_bytes = sum(p.stat().st_size for p in src)
    work = Path(tempfile.mkdtemp(prefix="bench-scale-", dir=args.tmp))
    results = []
    try:
        if args.pages_per_block > 0:
            (work / "dumps").mkdir()
            dumps = [repack_multistream(p, work / "dumps", args.pages_per_block) for p in src]
        else:
            dumps = src
        runs = [(w, True) for w in args.workers] + ([(1, False)] if args.local_baseline else [])
        for workers, dask in runs:
            out = work / f"out-w{workers}-{'dask' if dask else 'local'}"
            result = build_once(workers, dumps, out, args.blocks_per_unit, dask=dask)
            results.append(result)
            print(json.dumps(result), flush=True)
            shutil.rmtree(out, ignore_errors=True)
        redirect_s = time_redirect_pass(src)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
    print(
        "| workers | units | wall s | CPU s main + workers | types+redirects s | annotate s | filter s | pages/s | sentences/s "
        "| peak RSS per worker MB | main MB | output sha1 | load avg before -> after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        t = r["timings"]
        print(
            f"| {r['workers']} | {r['units']} | {r['wall_s']} | {r['cpu_main_s']} + {r['cpu_workers_s']} | {t['types_s']} | {t['annotate_s']} | {t['filter_s']} "
            f"| {r['pages'] / r['wall_s']:.1f} | {r['sentences'] / r['wall_s']:.1f} "
            f"| {', '.join(map(str, r['worker_peak_rss_mb']))} | {r['main_peak_rss_mb']} "
            f"| {r['digest']} | {r['load_before']} -> {r['load_after']} |"
        )
    print()
    print("identical output for every run:", len({r["digest"] for r in results}) == 1)
    print()
    print(projection(results, dump_bytes, redirect_s))
    return 0


# ---------------------------------------------------------------- type index


def write_synthetic_types(path: Path, n_entities: int, seed: int = 0) -> Dict[str, Any]:
    """A DBpedia-like instance-types file (.nt.bz2) of ``n_entities`` entities: resource names
    are the sample's names with a numeric suffix, classes and types-per-entity follow the
    sample's distribution. RETURNS (Dict): lines, entities, bytes."""
    import re

    pat = re.compile(r"<http://dbpedia\.org/resource/([^>]*)> \S+ <http://dbpedia\.org/ontology/([^>]*)> \.")
    names: List[str] = []
    per_entity: Dict[str, List[str]] = {}
    with bz2.open(SAMPLE, "rt", encoding="utf8") as f:
        for line in f:
            m = pat.match(line)
            if m:
                if m.group(1) not in per_entity:
                    names.append(m.group(1))
                per_entity.setdefault(m.group(1), []).append(m.group(2))
    type_lists = [per_entity[n] for n in names]
    rng = random.Random(seed)
    lines = 0
    with bz2.open(path, "wt", encoding="utf8", compresslevel=6) as out:
        buf: List[str] = []
        for i in range(n_entities):
            base = names[i % len(names)]
            name = base if i < len(names) else f"{base}_{i // len(names)}"
            for cls in type_lists[rng.randrange(len(type_lists))]:
                buf.append(f"<http://dbpedia.org/resource/{name}> {RDF_TYPE} <http://dbpedia.org/ontology/{cls}> .\n")
                lines += 1
            if len(buf) >= 100_000:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))
    return {"entities": n_entities, "lines": lines, "bytes": path.stat().st_size}


def synthetic_title(i: int, names: List[str]) -> str:
    base = names[i % len(names)]
    return base if i < len(names) else f"{base}_{i // len(names)}"


def _child_build(types: str, index: str) -> Dict[str, Any]:
    from nerbert_spacy.dbpedia.types import TypeIndex

    t0 = time.perf_counter()
    idx = TypeIndex.build([types], index)
    return {
        "build_s": round(time.perf_counter() - t0, 1),
        "entities": len(idx),
        "triples": idx.stats["triples"],
        "size_mb": round(Path(index).stat().st_size / 2**20, 1),
        "build_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _child_lookup(index: str, titles_file: str, mmap: int) -> Dict[str, Any]:
    """Open the index in a fresh process, time lookups, report memory."""
    base = rss_status()
    from nerbert_spacy.dbpedia.types import TypeIndex

    titles = json.loads(Path(titles_file).read_text())
    after_import = rss_status()
    idx = TypeIndex.open(index)
    if mmap:
        idx._db().execute(f"PRAGMA mmap_size={mmap}")
    opened = rss_status()
    t0 = time.perf_counter()
    hits = sum(1 for t in titles if idx.classes(t))
    secs = time.perf_counter() - t0
    end = rss_status()
    return {
        "lookups": len(titles),
        "hits": hits,
        "lookups_per_s": round(len(titles) / secs),
        "us_per_lookup": round(secs / len(titles) * 1e6, 1),
        "rss_python_kib": base["VmRSS"],
        "rss_after_import_kib": after_import["VmRSS"],
        "rss_opened_kib": opened["VmRSS"],
        "rss_end_kib": end["VmRSS"],
        "rss_anon_end_kib": end["RssAnon"],
        "rss_file_end_kib": end["RssFile"],
        "index_added_kib": end["VmRSS"] - after_import["VmRSS"],
    }


def _run_child(fn: str, *args: Any) -> Dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "_child", fn, json.dumps(list(args))], capture_output=True, text=True, cwd=ROOT
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _parallel_children(n: int, *args: Any) -> List[Dict[str, Any]]:
    cmd = [sys.executable, __file__, "_child", "lookup", json.dumps(list(args))]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(n)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(stderr)
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def measure_index(label: str, types: Path, work: Path, titles: List[str], mmap_size: int) -> Dict[str, Any]:
    index = work / f"{label}.sqlite"
    result: Dict[str, Any] = {"input": label, "input_mb": round(types.stat().st_size / 2**20, 1)}
    result.update(_run_child("build", str(types), str(index)))
    titles_file = work / f"{label}-titles.json"
    titles_file.write_text(json.dumps(titles))
    # warm the OS page cache once (the steady state of a long build), then measure
    _run_child("lookup", str(index), str(titles_file), 0)
    result["one_process"] = _run_child("lookup", str(index), str(titles_file), 0)
    result["one_process_mmap"] = _run_child("lookup", str(index), str(titles_file), mmap_size)
    two = _parallel_children(2, str(index), str(titles_file), 0)
    result["two_processes_lookups_per_s"] = [r["lookups_per_s"] for r in two]
    index.unlink()
    titles_file.unlink()
    return result


def cmd_types(args: argparse.Namespace) -> int:
    import re

    work = Path(tempfile.mkdtemp(prefix="bench-types-", dir=args.tmp))
    rng = random.Random(1)
    pat = re.compile(r"<http://dbpedia\.org/resource/([^>]*)> ")
    names: List[str] = []
    seen = set()
    with bz2.open(SAMPLE, "rt", encoding="utf8") as f:
        for line in f:
            m = pat.match(line)
            if m and m.group(1) not in seen:
                seen.add(m.group(1))
                names.append(m.group(1))
    results = []
    print(f"load average before: {loadavg()}", flush=True)
    try:
        # lookups: 50% known entities (as written in a link: spaces), 50% unknown titles
        def queries(n_entities: int) -> List[str]:
            known = [synthetic_title(rng.randrange(n_entities), names).replace("_", " ") for _ in range(args.lookups // 2)]
            unknown = [f"No such page {rng.randrange(10**9)}" for _ in range(args.lookups - len(known))]
            mixed = known + unknown
            rng.shuffle(mixed)
            return mixed

        results.append(measure_index("sample-149k", SAMPLE, work, queries(len(names)), args.mmap))
        print(json.dumps(results[-1]), flush=True)
        if args.entities:
            synth = work / f"synthetic-{args.entities}.nt.bz2"
            t0 = time.perf_counter()
            info = write_synthetic_types(synth, args.entities)
            info["write_s"] = round(time.perf_counter() - t0, 1)
            print(json.dumps({"synthetic": info}), flush=True)
            res = measure_index(f"synthetic-{args.entities // 1000}k", synth, work, queries(args.entities), args.mmap)
            res["synthetic"] = info
            results.append(res)
            print(json.dumps(results[-1]), flush=True)
            synth.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {loadavg()}")
    print()
    print(
        "| input | entities | triples | input MB (bz2) | build s | build peak RSS MB | index MB | lookups/s (1 proc) "
        "| µs/lookup | lookups/s (each of 2 procs) | with mmap lookups/s | RSS added by index + lookups MB (anon / file) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        one, mm = r["one_process"], r["one_process_mmap"]
        print(
            f"| {r['input']} | {r['entities']:,} | {r['triples']:,} | {r['input_mb']} | {r['build_s']} | {r['build_peak_rss_mb']} "
            f"| {r['size_mb']} | {one['lookups_per_s']:,} | {one['us_per_lookup']} "
            f"| {', '.join(f'{x:,}' for x in r['two_processes_lookups_per_s'])} | {mm['lookups_per_s']:,} "
            f"| {one['index_added_kib'] / 1024:.1f} ({one['rss_anon_end_kib'] / 1024:.0f} / {one['rss_file_end_kib'] / 1024:.0f} total) |"
        )
    return 0


# ---------------------------------------------------------------- synthetic dumps of 10k-100k pages (issue 11)


def _dump_for(pages: int, folder: Path, seed: int) -> Dict[str, Any]:
    """The synthetic dump of ``pages`` pages (bench/make_dump.py), made once and reused."""
    sys.path.insert(0, str(ROOT / "bench"))
    import make_dump

    info_path = folder / f"dump-{pages}.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if Path(info["dump"]).exists():
            return info
    start = time.perf_counter()
    info = make_dump.write_dump(pages, folder, seed=seed, workers=2)
    info["make_seconds"] = round(time.perf_counter() - start, 1)
    info_path.write_text(json.dumps(info))
    return info


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _cli_build(dump: str, out: Path, blocks_per_unit: int, workers: int = 2) -> List[str]:
    return [
        sys.executable, "-m", "nerbert_spacy", "corpus", "build", dump, "--ontology", str(OWL), "--types", str(SAMPLE),
        "--output", str(out), "--scheduler", "local", "--workers", str(workers), "--blocks-per-unit",
        str(blocks_per_unit), "--quiet",
    ]


def _tree_digest(out: Path) -> str:
    """sha1 over raw/ and shards/ (names and bytes) and stats.json."""
    import hashlib

    h = hashlib.sha1()
    for folder in ("raw", "shards"):
        for p in sorted((out / folder).glob("*")):
            h.update(f"{folder}/{p.name}".encode() + b"\0" + p.read_bytes())
    h.update((out / "stats.json").read_bytes())
    return h.hexdigest()[:16]


def _workers_of(pid: int) -> List[int]:
    """The Dask worker processes started by the build process ``pid`` (its spawned children)."""
    import psutil

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [c.pid for c in children if "spawn_main" in " ".join(c.cmdline())]


def _alive(pids: List[int]) -> List[int]:
    import psutil

    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def _run_until(cmd: List[str], out: Path, after_units: int, kill: str) -> Dict[str, Any]:
    """Start a CLI build; when ``after_units`` raw shards exist, ``kill -9`` the client
    (``kill="client"``) or one Dask worker (``kill="worker"``); RETURNS what happened."""
    import signal

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    event: Dict[str, Any] = {"kill": kill, "after_units": after_units}
    while proc.poll() is None:
        done = len(list((out / "raw").glob("*.json"))) if (out / "raw").is_dir() else 0
        workers = _workers_of(proc.pid)
        if done >= after_units and workers:
            if kill == "client":
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                t0 = time.perf_counter()
                while _alive(workers) and time.perf_counter() - t0 < 60:
                    time.sleep(0.2)
                event["workers_alive_after_s"] = round(time.perf_counter() - t0, 1)
                event["orphans"] = len(_alive(workers))
            else:
                os.kill(workers[0], signal.SIGKILL)
                event["killed_worker"] = workers[0]
                proc.wait()
            break
        time.sleep(0.5)
    event["units_done_at_kill"] = len(list((out / "raw").glob("*.json"))) if (out / "raw").is_dir() else 0
    event["exit_code"] = proc.wait()
    event["output_tail"] = (proc.stdout.read() or "")[-300:] if proc.stdout else ""
    return event


def kill_test(dump: str, work: Path, blocks_per_unit: int, seed: int) -> Dict[str, Any]:
    """Uninterrupted build vs (client killed, rerun) vs (one worker killed, rerun): same bytes."""
    rng = random.Random(seed)
    ref = work / "kill-reference"
    shutil.rmtree(ref, ignore_errors=True)
    subprocess.run(_cli_build(dump, ref, blocks_per_unit), check=True, capture_output=True)
    units = json.loads((ref / "stats.json").read_text())["units"]
    result: Dict[str, Any] = {"units": units, "reference": _tree_digest(ref), "runs": []}
    for kill in ("client", "worker"):
        out = work / f"kill-{kill}"
        shutil.rmtree(out, ignore_errors=True)
        event = _run_until(_cli_build(dump, out, blocks_per_unit), out, rng.randint(1, units - 1), kill)
        rerun = subprocess.run(_cli_build(dump, out, blocks_per_unit), capture_output=True, text=True)
        event["rerun_exit_code"] = rerun.returncode
        event["rerun_line"] = (rerun.stdout.strip().splitlines() or [""])[-1][:300]
        event["digest"] = _tree_digest(out)
        event["identical"] = event["digest"] == result["reference"]
        result["runs"].append(event)
        shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(ref, ignore_errors=True)
    return result


def cmd_synthetic(args: argparse.Namespace) -> int:
    work = Path(args.tmp)
    work.mkdir(parents=True, exist_ok=True)
    results_path = work / "results.jsonl"
    if args.report:
        print(render_synthetic(results_path))
        return 0
    for pages in args.pages:
        info = _dump_for(pages, work, args.seed)
        print(json.dumps({"dump": info}), flush=True)
        if args.skip_builds:
            continue
        out = work / f"out-{pages}"
        shutil.rmtree(out, ignore_errors=True)
        result = build_once(args.workers, [Path(info["dump"])], out, args.blocks_per_unit)
        result.update(
            pages_in_dump=pages,
            dump_bz2_mb=round(info["bz2_bytes"] / 1e6, 1),
            xml_mb=round(info["xml_bytes"] / 1e6, 1),
            wikitext_mb=round(info["article_wikitext_bytes"] / 1e6, 1),
            output_mb={k: round(_du(out / k) / 1e6, 1) for k in ("shards", "raw", "redirects")},
            type_index_mb=round((out / "type_index.sqlite").stat().st_size / 1e6, 1),
        )
        cpu = result["cpu_main_s"] + result["cpu_workers_s"]
        result["mb_wikitext_per_cpu_s"] = round(info["article_wikitext_bytes"] / 1e6 / cpu, 3)
        with open(results_path, "a") as f:
            f.write(json.dumps({"build": result}) + "\n")
        print(json.dumps({"build": result}), flush=True)
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    if args.kill_pages:
        info = _dump_for(args.kill_pages, work, args.seed)
        result = kill_test(info["dump"], work, args.kill_blocks_per_unit, args.seed)
        result["load_after"] = loadavg()
        with open(results_path, "a") as f:
            f.write(json.dumps({"kill": result}) + "\n")
        print(json.dumps({"kill": result}), flush=True)
    return 0


def render_synthetic(results_path: Path) -> str:
    """The markdown tables of ``synthetic`` from its results file."""
    builds, kills = [], []
    for line in results_path.read_text().splitlines():
        row = json.loads(line)
        (builds if "build" in row else kills).append(row.get("build") or row.get("kill"))
    lines = [
        "| pages | units | wikitext MB | dump bz2 MB | CPU s client + workers | MB wikitext per CPU s | wall s "
        "| peak RSS per worker MB | client MB | output MB (shards / raw) | sentences kept | load avg 1 min before -> after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(builds, key=lambda r: r["pages_in_dump"]):
        lines.append(
            f"| {r['pages_in_dump']:,} | {r['units']} | {r['wikitext_mb']:,} | {r['dump_bz2_mb']:,} "
            f"| {r['cpu_main_s']:,} + {r['cpu_workers_s']:,} | {r['mb_wikitext_per_cpu_s']} | {r['wall_s']:,} "
            f"| {', '.join(map(str, r['worker_peak_rss_mb']))} | {r['main_peak_rss_mb']} "
            f"| {r['output_mb']['shards']} / {r['output_mb']['raw']} | {r['sentences_kept']:,} "
            f"| {r['load_before'].split()[0]} -> {r['load_after'].split()[0]} |"
        )
    for k in kills:
        lines += ["", f"Kill tests ({k['units']} units, uninterrupted output sha1 {k['reference']}):", ""]
        for run in k["runs"]:
            extra = (
                f"workers gone {run['workers_alive_after_s']} s after the client, {run['orphans']} orphans"
                if run["kill"] == "client" else f"worker {run['killed_worker']} killed, the build exited {run['exit_code']}"
            )
            lines.append(
                f"- `kill -9` of the {run['kill']} after {run['after_units']} units annotated ({extra}); rerun exit "
                f"{run['rerun_exit_code']}, output sha1 {run['digest']}: "
                + ("**identical**" if run["identical"] else "**different**")
            )
    return "\n".join(lines)


def cmd_merge(args: argparse.Namespace) -> int:
    """CPU cost, in the client, of merging per-unit redirect files into the type index."""
    from nerbert_spacy.corpus.build import iter_unit_redirects
    from nerbert_spacy.dbpedia.types import TypeIndex

    work = Path(tempfile.mkdtemp(prefix="bench-merge-", dir=args.tmp))
    try:
        (work / "redirects").mkdir()
        per_unit = args.redirects // args.units
        names = []
        for u in range(args.units):
            name = f"unit{u:04d}"
            with open(work / "redirects" / f"{name}.tsv", "w", encoding="utf8") as f:
                f.writelines(f"Redirect title {u} {i}\tTarget page {(u * 7919 + i) % 500000}\n" for i in range(per_unit))
            names.append(name)
        rows = []
        for label, redirects in (("types only", None), ("types + redirects", iter_unit_redirects(work, names))):
            load = loadavg()
            t0 = cpu_seconds()
            index = TypeIndex.build([SAMPLE], work / "index.sqlite", redirects=redirects)
            rows.append({"run": label, "cpu_s": round(cpu_seconds() - t0, 2), "dump_redirects": index.dump_redirects,
                         "load": load})
            index.close()
        extra = rows[1]["cpu_s"] - rows[0]["cpu_s"]
        result = {"units": args.units, "redirects": per_unit * args.units, "runs": rows,
                  "merge_us_per_redirect": round(1e6 * extra / (per_unit * args.units), 2)}
        print(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="corpus build on a Dask LocalCluster of 1, 2, ... workers")
    b.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    b.add_argument("--pages-per-block", type=int, default=10, help="repack into multistream (0 = use the files)")
    b.add_argument("--blocks-per-unit", type=int, default=1)
    b.add_argument("--tmp", default=None, help="temporary folder")
    b.add_argument("--local-baseline", action="store_true", help="also build once without Dask (1 process)")
    t = sub.add_parser("types", help="TypeIndex build/size/memory/lookups, sample + synthetic")
    t.add_argument("--entities", type=int, default=5_000_000, help="synthetic entities (0 = sample only)")
    t.add_argument("--lookups", type=int, default=100_000)
    t.add_argument("--mmap", type=int, default=2**30, help="PRAGMA mmap_size for the mmap variant")
    t.add_argument("--tmp", default=None, help="temporary folder (needs ~1 GB for 5M entities)")
    y = sub.add_parser("synthetic", help="Dask build of bench/make_dump.py dumps of 10k/50k/100k pages; kill tests")
    y.add_argument("--pages", type=int, nargs="*", default=[10_000, 50_000, 100_000])
    y.add_argument("--workers", type=int, default=2)
    y.add_argument("--blocks-per-unit", type=int, default=50)
    y.add_argument("--seed", type=int, default=0)
    y.add_argument("--tmp", required=True, help="folder for the dumps (kept and reused) and builds")
    y.add_argument("--keep", action="store_true", help="keep the build outputs")
    y.add_argument("--skip-builds", action="store_true", help="only make the dumps")
    y.add_argument("--kill-pages", type=int, default=0, help="kill tests on the dump of this many pages")
    y.add_argument("--kill-blocks-per-unit", type=int, default=5)
    y.add_argument("--report", action="store_true", help="print the tables of the results so far")
    m = sub.add_parser("merge", help="client CPU per redirect merged from per-unit files into the type index")
    m.add_argument("--redirects", type=int, default=2_000_000)
    m.add_argument("--units", type=int, default=100)
    m.add_argument("--tmp", default=None)
    c = sub.add_parser("_child")
    c.add_argument("fn")
    c.add_argument("args")
    args = parser.parse_args(argv)
    if args.cmd == "_child":
        fn = {"build": _child_build, "lookup": _child_lookup}[args.fn]
        print(json.dumps(fn(*json.loads(args.args))))
        return 0
    if not SAMPLE.exists():
        print(f"error: {SAMPLE} not found", file=sys.stderr)
        return 1
    if args.cmd == "synthetic":
        return cmd_synthetic(args)
    if args.cmd == "merge":
        return cmd_merge(args)
    return cmd_build(args) if args.cmd == "build" else cmd_types(args)


if __name__ == "__main__":
    sys.exit(main())
