#!/usr/bin/env python
"""Benchmark the corpus build on the real dumps of ../shared/data/wikipedia.

Builds from all ``../shared/data/wikipedia/*.bz2`` with the 2016 DBpedia OWL and
the instance-types sample, once per worker count (default 1 and 2), each in a
fresh output directory and a fresh process, and reports pages/s, sentences/s
and peak RSS (``resource.getrusage``: the main process, and the largest worker
process). Appends a dated section under "## Corpus build" in docs/benchmarks.md.

Two input layouts: ``files`` (the four dumps as they are: one work unit per
file, so the largest file bounds the wall time) and ``multistream`` (the same
pages re-packed the way Wikimedia packs the full dump: one bz2 stream per block
of ``--block-pages`` pages plus an ``offset:page_id:title`` index, one work unit
per block, which is how a full-Wikipedia build is split).

``--compare`` measures, on one dump (default: the gensim fragment) and in one process tree
(each row a child process, CPU seconds = user + system time of that child and everything it
waited for), the rows of issue 11's table: the bz2 + XML floor, WikiExtractor with
``--links`` (a bench-only extra: ``pip install wikiextractor``), mwparserfromhell parse +
``strip_code`` only, ``nerbert corpus build --workers 1`` whole, twice on one new cache folder
(cold: the OWL parse and the type index from the 149k sample included; warm: both read from
:mod:`nerbert_spacy.cache`), and the annotate pass alone (type index built beforehand, not counted).
It prints and appends the table (CPU s, MB of wikitext per CPU second, ratio to
WikiExtractor) to docs/benchmarks.md.

Usage (from the project root):
    python bench/bench_corpus.py                 # workers 1 and 2, writes docs/benchmarks.md
    python bench/bench_corpus.py --workers 1 2 4 --no-write
    python bench/bench_corpus.py --compare       # the four-row comparison (+ annotate alone)
    python bench/bench_corpus.py --compare --repeat 3   # three rounds, medians
    python bench/bench_corpus.py --diff A B      # two build directories compared by content
"""

import argparse
import bz2
import datetime as dt
import html
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NERBERT_SHARED_DATA", ROOT.parent / "shared" / "data"))
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Corpus build"
GENSIM_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
OWL = SHARED / "dbpedia" / "dbpedia_2016-10.owl"
TYPES = SHARED / "dbpedia" / "instance-types-sample.nt.bz2"
# the build's counters each row reports, as build_corpus names them
STAT_KEYS = ("timings", "pages", "articles", "sentences", "sentences_kept", "anchors", "typed", "unaligned", "errors_total")


PAGE_RE = re.compile(r"\s*<page>.*?</page>", re.S)


def repack_multistream(src: Path, dest_dir: Path, pages_per_block: int) -> Path:
    """Re-pack a dump as a Wikimedia-style multistream dump + index. RETURNS the dump path."""
    text = bz2.open(src, "rt", encoding="utf8").read()
    first, end = text.index("<page>"), text.rindex("</mediawiki>")
    pages = PAGE_RE.findall(text, first, end)
    stem = src.name.split(".xml")[0]
    dump = dest_dir / f"{stem}-multistream.xml.bz2"
    index_lines, offset = [], 0
    with open(dump, "wb") as f:
        for block in (
            [text[:first]]
            + ["".join(pages[i : i + pages_per_block]) for i in range(0, len(pages), pages_per_block)]
            + [text[end:]]
        ):
            data = bz2.compress(block.encode("utf8"))
            for page in PAGE_RE.findall(block) if block.lstrip().startswith("<page>") else []:
                title = html.unescape(re.search(r"<title>(.*?)</title>", page, re.S).group(1))
                page_id = re.search(r"<id>(\d+)</id>", page).group(1)
                index_lines.append(f"{offset}:{page_id}:{title}")
            f.write(data)
            offset += len(data)
    (dest_dir / f"{stem}-multistream-index.txt.bz2").write_bytes(
        bz2.compress(("\n".join(index_lines) + "\n").encode("utf8"))
    )
    return dump


def run_one(workers: int, out: Path, layout: str, block_pages: int) -> dict:
    """Build once in this process; RETURNS timings, counts and peak RSS."""
    from nerbert_spacy.corpus.build import build_corpus

    dumps = sorted((SHARED / "wikipedia").glob("*.bz2"))
    names = [p.name for p in dumps]
    if layout == "multistream":
        (out / "input").mkdir(parents=True)
        dumps = [repack_multistream(p, out / "input", block_pages) for p in dumps]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    stats = build_corpus(
        dumps,
        SHARED / "dbpedia" / "dbpedia_2016-10.owl",
        [SHARED / "dbpedia" / "instance-types-sample.nt.bz2"],
        out / "corpus",
        workers=workers,
        seed=0,
        blocks_per_unit=1,
    )
    wall = time.perf_counter() - start
    usage_self = resource.getrusage(resource.RUSAGE_SELF)
    usage_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own, children = usage_self.ru_maxrss / 1024, usage_children.ru_maxrss / 1024
    cpu = sum(u.ru_utime + u.ru_stime for u in (usage_self, usage_children))
    return {
        "workers": workers,
        "layout": layout if layout == "files" else f"multistream, {block_pages} pages/block",
        "units": stats["units"],
        "dumps": names,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **{key: stats[key] for key in STAT_KEYS},
        "peak_rss_main_mb": round(own, 1),
        "peak_rss_worker_mb": round(children, 1),
    }


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def render(results: list, command: str) -> str:
    today = dt.date.today().isoformat()
    r0 = results[0]
    lines = [
        f"### {today}: {len(r0['dumps'])} real dumps, DBpedia 2016-10 OWL + instance-types sample",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}. "
        f"Command: `{command}`",
        "",
        f"Input: {', '.join(r0['dumps'])}: {r0['pages']} pages ({r0['articles']} articles), "
        f"{r0['anchors']} anchors ({r0['typed']} typed, {r0['unaligned']} unaligned), "
        f"{r0['sentences']} sentences, {r0['sentences_kept']} kept after filtering.",
        "",
        "| input layout | units | workers | wall s | CPU s | redirects+types s | annotate s | filter s "
        "| pages/s | sentences/s | peak RSS main MB | peak RSS worker MB | load avg before/after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t = r["timings"]
        lines.append(
            f"| {r['layout']} | {r['units']} | {r['workers']} | {r['wall_s']} | {r['cpu_s']} | {t['types_s']} | {t['annotate_s']} | {t['filter_s']} | "
            f"{r['pages'] / r['wall_s']:.1f} | {r['sentences'] / r['wall_s']:.1f} | "
            f"{r['peak_rss_main_mb']} | {r['peak_rss_worker_mb'] if r['workers'] > 1 else '-'} | "
            f"{r['load_avg_1m'][0]} / {r['load_avg_1m'][1]} |"
        )
    lines += [
        "",
        "pages/s and sentences/s are over the whole build (redirect pass, type index, annotation, filters); "
        "CPU s = user + system time of the build process and its workers. Peak RSS from `resource.getrusage` "
        "(`ru_maxrss` of the main process and of the largest worker). The machine is shared: a 1-minute load "
        "average above the core count means other jobs competed for the cores, and wall times (and the "
        "2-worker speed-up) are then not representative; CPU seconds are.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Insert ``text`` at the end of the "## Corpus build" section (created if absent)."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    doc = DOC.read_text(encoding="utf8") if DOC.exists() else "# Benchmarks\n"
    if SECTION not in doc:
        doc = doc.rstrip("\n") + f"\n\n{SECTION}\n\n"
    head, rest = doc.split(SECTION, 1)
    nxt = rest.find("\n## ")
    body, tail = (rest, "") if nxt < 0 else (rest[:nxt], rest[nxt:])
    doc = head + SECTION + body.rstrip("\n") + "\n\n" + text + tail
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text(doc, encoding="utf8")
    os.replace(tmp, DOC)


# ---------------------------------------------------------------- --compare (issue 11)


def wikitext_bytes(dump: Path) -> int:
    """UTF-8 bytes of the wikitext of every page of the dump (redirects included)."""
    from nerbert_spacy.wikipedia.dump import iter_pages

    pages = iter_pages(dump, namespaces=None, include_redirects=True, skip_disambiguation=False)
    return sum(len(page.text.encode("utf8")) for page in pages)


def row_floor(dump: Path) -> int:
    """bz2 + XML parse only: iterparse every <page>, touch its text, clear it."""
    import xml.etree.ElementTree as ET

    n = 0
    with bz2.open(dump, "rb") as f:
        for _, elem in ET.iterparse(f):
            if elem.tag.rsplit("}", 1)[-1] == "page":
                n += 1
                elem.clear()
    return n


def row_mwparser(dump: Path) -> int:
    """Stream the articles (nerbert's reader) and run mwparserfromhell parse + strip_code."""
    import mwparserfromhell

    from nerbert_spacy.wikipedia.dump import iter_pages

    n = 0
    for page in iter_pages(dump):
        mwparserfromhell.parse(page.text).strip_code()
        n += 1
    return n


def row_annotate(dump: Path, out: Path) -> dict:
    """The annotate pass alone: the type index is built first (not counted), then the
    dump's one work unit is annotated in this process; RETURNS its CPU seconds."""
    from nerbert_spacy.corpus import build as B

    out.mkdir(parents=True, exist_ok=True)
    units = B.plan_units([dump])
    _, meta = B._type_index(units, [TYPES], None, out, None)
    task = B.annotate_tasks(units, out, OWL, meta["signature"])[0]
    B._annotator(task)  # ontology, label set, tokenizer loaded: not counted either
    t0 = time.process_time()
    counts = B.annotate_unit(task)
    return {"annotate_cpu_s": time.process_time() - t0, "docs": counts.get("docs")}


def _child_cpu(cmd: list, cwd: Path = ROOT, env: dict = None) -> dict:
    """Run ``cmd`` as a child; RETURNS its CPU seconds (with its waited-for descendants),
    wall seconds, 1-minute load average before/after and its last stdout line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = proc.stdout.strip().splitlines()
    return {
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "load_1m": [round(load, 2), round(os.getloadavg()[0], 2)],
        "stdout": lines[-1] if lines else "",
    }


def run_compare(dump: Path, repeat: int = 1) -> dict:
    """The rows of issue 11's table on ``dump``, side by side in this process tree; with
    ``repeat`` > 1 the rows run that many rounds (each round all rows in turn) and each row
    reports its median round (CPU s), with every round's CPU s in ``rounds``."""
    results = [_compare_round(dump) for _ in range(repeat)]
    rows = {}
    for key in results[0]["rows"]:
        ordered = sorted((r["rows"][key] for r in results), key=lambda row: row["cpu_s"])
        rows[key] = dict(ordered[len(ordered) // 2], rounds=[r["rows"][key]["cpu_s"] for r in results])
    return {"dump": dump.name, "mb": results[0]["mb"], "repeat": repeat, "rows": rows}


def build_cmd(dump: Path, out: Path) -> list:
    """``nerbert corpus build`` of ``dump`` with the shared OWL and types sample, 1 worker."""
    return [sys.executable, "-m", "nerbert_spacy", "corpus", "build", str(dump), "--ontology", str(OWL),
            "--types", str(TYPES), "--output", str(out), "--workers", "1", "--quiet"]


def _compare_round(dump: Path) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    me = [sys.executable, __file__]
    cache_env = dict(os.environ, NERBERT_CACHE_DIR=str(tmp / "cache"))
    try:
        rows = {
            "floor": _child_cpu(me + ["--row", "floor", "--dump", str(dump)]),
            "wikiextractor": _child_cpu(
                [sys.executable, "-m", "wikiextractor.WikiExtractor", "--links", "--processes", "1", "-q",
                 "-o", str(tmp / "wikiextractor"), str(dump)]
            ),
            "mwparserfromhell": _child_cpu(me + ["--row", "mwparser", "--dump", str(dump)]),
            # the same build twice on a new, empty cache folder: first cold (the OWL parsed and
            # the types indexed), then warm (both read from nerbert_spacy.cache)
            "build": _child_cpu(build_cmd(dump, tmp / "corpus"), env=cache_env),
            "build_warm": _child_cpu(build_cmd(dump, tmp / "corpus-warm"), env=cache_env),
            "annotate": _child_cpu(
                me + ["--row", "annotate", "--dump", str(dump), "--out", str(tmp / "annotate")], env=cache_env
            ),
        }
        # a dump WikiExtractor cannot read (e.g. no Template namespace in its siteinfo: every
        # title then "starts with" the empty template prefix) gives a fast, empty extraction
        rows["wikiextractor"]["articles"] = sum(
            p.read_text(encoding="utf8").count("<doc ") for p in (tmp / "wikiextractor").rglob("wiki_*")
        )
        if not rows["wikiextractor"]["articles"]:
            raise RuntimeError(f"{dump}: WikiExtractor extracted no article, so its row would mean nothing")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows["annotate"]["cpu_s"] = round(json.loads(rows["annotate"]["stdout"])["annotate_cpu_s"], 2)
    return {"dump": dump.name, "mb": wikitext_bytes(dump) / 1e6, "rows": rows}


ROW_NAMES = {
    "floor": "bz2 + XML parse only (floor)",
    "wikiextractor": "WikiExtractor {version}, 1 process, `--links` (clean text only)",
    "mwparserfromhell": "mwparserfromhell parse + strip only (pages read with nerbert's reader)",
    "build": "`nerbert corpus build --workers 1` (whole build, cold cache: OWL parse and type index from the 149k sample included)",
    "build_warm": "the same build again, warm cache (parsed OWL and indexed types read from `nerbert_spacy.cache`)",
    "annotate": "annotate pass alone (in-process CPU of `annotate_unit`; type index, ontology and tokenizer loaded beforehand)",
}


def render_compare(result: dict, command: str) -> str:
    try:
        from importlib.metadata import version

        we_version = version("wikiextractor")
    except Exception:  # noqa: BLE001
        we_version = "?"
    mb, rows = result["mb"], result["rows"]
    we = rows["wikiextractor"]["cpu_s"]
    lines = [
        f"### {dt.date.today().isoformat()}: build vs WikiExtractor on {result['dump']} (`--compare`)",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}. "
        f"Command: `{command}`. Wikitext: {mb:.2f} MB (UTF-8 bytes of every page's text).",
        "",
        "| step over the same dump | CPU s | MB of wikitext per CPU s | ratio to WikiExtractor | wall s | load avg 1 min before / after |",
        "|---|---|---|---|---|---|",
    ]
    repeat = result.get("repeat", 1)
    if repeat > 1:
        lines[-2] = lines[-2].replace("| ratio to WikiExtractor |", "| ratio to WikiExtractor | CPU s of each round |")
        lines[-1] += "---|"
    for key, row in rows.items():
        rounds = f" {' / '.join(f'{x:.2f}' for x in row['rounds'])} |" if repeat > 1 else ""
        lines.append(
            f"| {ROW_NAMES[key].format(version=we_version)} | {row['cpu_s']:.2f} | {mb / row['cpu_s']:.2f} | "
            f"{row['cpu_s'] / we:.2f} |{rounds} {row['wall_s']:.2f} | {row['load_1m'][0]} / {row['load_1m'][1]} |"
        )
    lines += [
        "",
        f"Articles: WikiExtractor wrote {rows['wikiextractor'].get('articles', '?')}; the build's summary: "
        f"{rows['build']['stdout'].lstrip('✔ ').rsplit(' -> ', 1)[0]}",
        "",
        "Each row is a child process of the benchmark, run one after the other; CPU s = user + system time of "
        "that child and of every process it waited for (getrusage RUSAGE_CHILDREN), so interpreter start-up and "
        "imports are included, except in the last row, which times only the annotate pass inside its process."
        + (f" {repeat} rounds (all rows in turn, then again); each row shows its median round, whose wall time and "
        "load average are the ones shown, and the ratios use the medians." if repeat > 1 else ""),
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- --diff (content of two builds)


def doc_content(doc) -> tuple:
    """What a corpus sentence says: page title, text, entities and anchors (char span, label, target)."""
    ents = tuple((e.start_char, e.end_char, e.label_, e.kb_id_) for e in doc.ents)
    anchors = tuple((s.start_char, s.end_char, s.label_, s.kb_id_) for s in doc.spans.get("anchors", []))
    return (doc.user_data.get("title"), doc.text, ents, anchors)


def content_diff(a: Path, b: Path, limit: int = 5) -> dict:
    """Compare the raw and filtered shards of two build directories by content.

    RETURNS (dict): per folder (raw, shards): docs in each, docs only in a / only in b (as
        multisets of (title, text, entities, anchors)), identical files, and a few examples.
    """
    from collections import Counter

    from nerbert_spacy.corpus.build import load_docs

    out = {}
    for folder in ("raw", "shards"):
        ca, cb = Counter(), Counter()
        same_bytes = files = 0
        names = sorted({p.name for p in (a / folder).glob("*.spacy")} | {p.name for p in (b / folder).glob("*.spacy")})
        for name in names:
            pa, pb = a / folder / name, b / folder / name
            files += 1
            if pa.exists() and pb.exists() and pa.read_bytes() == pb.read_bytes():
                same_bytes += 1
            for path, counter in ((pa, ca), (pb, cb)):
                if path.exists():
                    counter.update((name,) + doc_content(d) for d in load_docs(path))
        only_a, only_b = ca - cb, cb - ca
        out[folder] = {
            "files": files,
            "byte_identical_files": same_bytes,
            "docs_a": sum(ca.values()),
            "docs_b": sum(cb.values()),
            "only_a": sum(only_a.values()),
            "only_b": sum(only_b.values()),
            "examples_a": [repr(k)[:400] for k in list(only_a)[:limit]],
            "examples_b": [repr(k)[:400] for k in list(only_b)[:limit]],
        }
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--layouts", nargs="+", default=["files", "multistream"], choices=["files", "multistream"]
    )
    parser.add_argument("--block-pages", type=int, default=20, help="pages per multistream block")
    parser.add_argument("--no-write", action="store_true", help="print only, do not touch docs/benchmarks.md")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one build in this process
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--layout", help=argparse.SUPPRESS)
    parser.add_argument("--compare", action="store_true", help="issue 11's comparison with WikiExtractor")
    parser.add_argument("--repeat", type=int, default=1, help="--compare: rounds (each row's median is shown)")
    parser.add_argument("--dump", type=Path, default=SHARED / "wikipedia" / GENSIM_DUMP, help="dump for --compare")
    parser.add_argument("--row", choices=["floor", "mwparser", "annotate"], help=argparse.SUPPRESS)
    parser.add_argument("--diff", type=Path, nargs=2, metavar=("DIR_A", "DIR_B"), help="compare two builds' shards by content")
    args = parser.parse_args(argv)
    if args.diff:
        print(json.dumps(content_diff(*args.diff), indent=1))
        return 0
    if args.row == "floor":
        print(json.dumps({"pages": row_floor(args.dump)}))
        return 0
    if args.row == "mwparser":
        print(json.dumps({"pages": row_mwparser(args.dump)}))
        return 0
    if args.row == "annotate":
        print(json.dumps(row_annotate(args.dump, args.out)))
        return 0
    command = "python bench/bench_corpus.py" + " ".join(
        a for a in [""] + list(argv or sys.argv[1:]) if a != "--no-write"
    )
    if args.compare:
        result = run_compare(args.dump, args.repeat)
        print(json.dumps(result), flush=True)
        return _show(render_compare(result, command), args.no_write)
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.out, args.layout, args.block_pages)))
        return 0
    if not (SHARED / "wikipedia").is_dir():
        print(f"error: {SHARED / 'wikipedia'} not found", file=sys.stderr)
        return 1
    results = []
    for layout, workers in [(layout, w) for layout in args.layouts for w in args.workers]:
        out = Path(tempfile.mkdtemp(prefix=f"bench-corpus-{layout}-w{workers}-"))
        try:
            cmd = [sys.executable, __file__, "--one", str(workers), "--out", str(out), "--layout", layout]
            proc = subprocess.run(
                cmd + ["--block-pages", str(args.block_pages)],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return proc.returncode
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        finally:
            shutil.rmtree(out, ignore_errors=True)
        results.append(result)
        print(json.dumps(result), flush=True)
    return _show(render(results, command), args.no_write)


def _show(text: str, no_write: bool) -> int:
    """Print the markdown section and (unless ``no_write``) put it into docs/benchmarks.md."""
    print(text)
    if not no_write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
