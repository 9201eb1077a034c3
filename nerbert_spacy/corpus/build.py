"""Build the weak-label NER corpus: Wikipedia dumps x DBpedia types -> filtered DocBin shards.

Passes (every one resumable, every file written atomically):

1. **Redirects and types**: the redirects of each work unit are collected in
   parallel (one task per unit, ``DIR/redirects/<unit>.tsv``), then the client
   streams them, unit after unit, with the DBpedia instance types into
   ``DIR/type_index.sqlite`` (``TypeIndex.build``); the index is reused by a
   rerun when its inputs are unchanged (``DIR/type_index.json``).
2. **Annotate** (parallel, one task per work unit): a work unit is one dump file,
   or a group of blocks of a multistream dump; its pages -> paragraphs with
   anchors -> sentences -> Docs, written to ``DIR/raw/<unit>.spacy`` with the
   unit's counts in ``DIR/raw/<unit>.json``.
3. **Filter** (parallel): the global entity counts decide which categories are
   scarce and which are the top 20; each raw shard is filtered (paper §2.3) into
   ``DIR/shards/<unit>.spacy`` + ``DIR/shards/<unit>.json`` (its statistics, which
   balancing reads instead of the docs).

Finally ``DIR/stats.json`` sums everything up. A unit whose output files exist
and were made from the same inputs is skipped (resume). Random draws use
generators salted by the unit name and results are collected in unit order, so
the output is byte-identical for a seed whatever the number of workers, and
whatever runs the tasks: :func:`run_tasks` is a small function (a Dask runner
with the same signature can replace it).
"""

import hashlib
import json
import os
import re
import time
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import srsly
from spacy.tokens import Doc, DocBin

from ..about import __version__
from ..errors import NerbertError, require_file
from ..util import atomic_path, make_rng, write_json_atomic
from .annotate import (
    AnchorTyper,
    AnnotateStats,
    Annotator,
    default_splitter,
    english_tokenizer,
)
from .filtering import FILTER_RULES, FilterConfig, FilterPlan, filter_label_lists, make_filter_plan
from .process import OutputLock, die_with_parent

# load_docs/write_docs are re-exported (shard I/O lives in .shards; old imports keep working)
from .shards import entity_label_lists, fast_msgpack, read_doc_bin, select_docs, write_doc_bin
from .shards import load_docs as load_docs
from .shards import write_docs as write_docs

PathLike = Union[str, Path]
ProgressFn = Callable[[str, int, int], None]
#: ``runner(fn, tasks, workers, on_done)`` -> results in task order; see :func:`run_tasks`.
Runner = Callable[[Callable[[Any], Any], Sequence[Any], int, Optional[Callable[[int, int], None]]], List[Any]]

MAX_ERRORS = 100
DUMP_COUNTERS = ("pages", "articles", "redirects", "disambiguation", "other_namespace", "bad_pages")
ANNOTATE_COUNTERS = tuple(k for k in AnnotateStats().to_dict() if k != "categories")


# ---------------------------------------------------------------- task runner


def run_tasks(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    workers: int = 1,
    on_done: Optional[Callable[[int, int], None]] = None,
) -> List[Any]:
    """Run ``fn`` over ``tasks`` on local cores; results come back in task order.

    fn (Callable): A picklable module-level function of one picklable argument.
    tasks (Sequence): The arguments.
    workers (int): Processes; 1 runs in this process.
    on_done (Optional[Callable[[int, int], None]]): Called with (done, total) after each task.
    RETURNS (List): ``[fn(t) for t in tasks]``.
    """
    tasks = list(tasks)
    results: List[Any] = [None] * len(tasks)
    if workers <= 1 or len(tasks) <= 1:
        for i, task in enumerate(tasks):
            results[i] = fn(task)
            if on_done is not None:
                on_done(i + 1, len(tasks))
        return results
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), initializer=die_with_parent) as pool:
        futures = {pool.submit(fn, task): i for i, task in enumerate(tasks)}
        for done, future in enumerate(as_completed(futures), 1):
            results[futures[future]] = future.result()
            if on_done is not None:
                on_done(done, len(tasks))
    return results


# ---------------------------------------------------------------- work units


@dataclass(frozen=True)
class WorkUnit:
    """One task of the annotate pass: a dump file, or some blocks of a multistream dump.

    name (str): Unique, file-name-safe; names the shard files.
    dump (str): The dump file.
    blocks (Tuple[Tuple[int, int], ...]): (offset, length) of multistream blocks; empty = whole file.
    """

    name: str
    dump: str
    blocks: Tuple[Tuple[int, int], ...] = ()


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".bz2", ".xml"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    name = name.replace(".xml", "")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "dump"


def find_multistream_index(dump: PathLike) -> Optional[Path]:
    """The index file beside a multistream dump, following Wikimedia's naming
    (``...-multistream.xml.bz2`` -> ``...-multistream-index.txt.bz2``), or None."""
    dump = Path(dump)
    if "multistream" not in dump.name or "multistream-index" in dump.name:
        return None
    name = dump.name.replace("multistream", "multistream-index", 1).replace(".xml", ".txt", 1)
    for candidate in (dump.with_name(name), dump.with_name(name[:-4]) if name.endswith(".bz2") else None):
        if candidate is not None and candidate.exists():
            return candidate
    return None


def plan_units(
    dumps: Sequence[PathLike],
    *,
    blocks_per_unit: int = 50,
    indexes: Optional[Mapping[str, PathLike]] = None,
) -> List[WorkUnit]:
    """Split the dumps into work units.

    dumps (Sequence[Path]): Dump files (.xml, .xml.bz2, multistream .bz2).
    blocks_per_unit (int): Multistream blocks (about 100 pages each) per unit.
    indexes (Optional[Mapping[str, Path]]): Dump -> multistream index, for indexes not named
        the Wikimedia way (found automatically otherwise).
    RETURNS (List[WorkUnit]): In dump order, then block order.
    """
    from ..wikipedia.dump import read_multistream_index

    indexes = {str(k): v for k, v in (indexes or {}).items()}
    units: List[WorkUnit] = []
    seen: Dict[str, int] = {}
    for dump in dumps:
        dump = Path(dump)
        stem = _stem(dump)
        if stem in seen:
            seen[stem] += 1
            stem = f"{stem}-{seen[stem]}"
        else:
            seen[stem] = 1
        index = indexes.get(str(dump)) or find_multistream_index(dump)
        if index is None:
            units.append(WorkUnit(stem, str(dump)))
            continue
        blocks = read_multistream_index(index)
        for start in range(0, len(blocks), blocks_per_unit):
            group = tuple((int(o), int(n)) for o, n in blocks[start : start + blocks_per_unit])
            units.append(WorkUnit(f"{stem}.b{start:07d}", str(dump), group))
    return units


def _signature(path: Optional[PathLike]) -> Optional[List[Any]]:
    if path is None:
        return None
    p = Path(path)
    return [p.name, p.stat().st_size]


def _digest(data: Any) -> str:
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode("utf8")).hexdigest()[:16]


# ---------------------------------------------------------------- pass 2: annotate

_CONTEXT: Dict[Tuple, Any] = {}


#: Lexeme attributes the build uses: NORM is stored in the shards, IS_PUNCT drives the sentencizer.
BUILD_LEXEME_ATTRS = ("NORM", "IS_PUNCT")


def _lean_tokenizer() -> Callable[[str], Doc]:
    """The English tokenizer, computing for each new word only the lexeme attributes the build
    uses (:data:`BUILD_LEXEME_ATTRS`); spaCy computes about twenty (shape, like_num, is_stop, ...)
    in Python for every word it has not seen. The shards are the same: they store the tokens'
    text and norms, and a reader's vocab computes the other attributes itself."""
    from spacy.attrs import IDS

    tokenizer = english_tokenizer()
    keep = {IDS[name] for name in BUILD_LEXEME_ATTRS}
    getters = tokenizer.vocab.lex_attr_getters
    for attr in [a for a in getters if a not in keep]:
        del getters[attr]
    return tokenizer


def _annotator(task: Mapping[str, Any]) -> Annotator:
    """One Annotator per process (ontology, label set and type index loaded once); reloaded
    when a file changed. Forked workers inherit the parent's (see ``build_corpus``)."""
    files = [Path(task["ontology"]).stat(), Path(task["index_path"]).stat()]
    key = (
        task["ontology"],
        task["label_set"],
        task["index_path"],
        task["splitter"],
        task["expand_unaligned"],
        tuple((st.st_ino, st.st_size, st.st_mtime_ns) for st in files),
    )
    if key not in _CONTEXT:
        from ..dbpedia.ontology import Ontology
        from ..dbpedia.types import TypeIndex
        from ..labels import get_label_set

        _CONTEXT.clear()
        ontology = Ontology.load(task["ontology"])
        label_set = get_label_set(task["label_set"], ontology)
        index = TypeIndex.open(task["index_path"])
        _CONTEXT[key] = Annotator(
            _lean_tokenizer(),
            AnchorTyper(index, label_set),
            default_splitter(task["splitter"]),
            expand_unaligned=task["expand_unaligned"],
        )
    return _CONTEXT[key]


def _iter_unit_pages(unit: WorkUnit, stats: Any, **options: Any) -> Iterator[Any]:
    """The pages of a unit (``options`` as for ``iter_pages``)."""
    from ..wikipedia.dump import iter_block_pages, iter_pages

    if not unit.blocks:
        yield from iter_pages(unit.dump, stats=stats, **options)
        return
    for offset, length in unit.blocks:
        yield from iter_block_pages(unit.dump, offset, length, stats=stats, **options)


def _page_error(dump: str, title: str, err: Exception) -> str:
    """One line naming the file and the page: "<file> (page 'X'): what is wrong"."""
    message = str(err)
    prefix = f"page '{title}': "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    return message if dump in message else f"{dump} (page '{title}'): {message}"


def annotate_tasks(
    units: Sequence[WorkUnit],
    output_dir: PathLike,
    ontology: PathLike,
    index_signature: Any,
    *,
    label_set: str = "315",
    splitter: str = "spacy",
    expand_unaligned: bool = False,
) -> List[Dict[str, Any]]:
    """The task of each unit for :func:`annotate_unit` (plain, picklable dicts).

    units (Sequence[WorkUnit]): From :func:`plan_units`.
    output_dir (Path): The build's output directory (``type_index.sqlite`` must be there).
    ontology (Path): DBpedia Ontology file.
    index_signature (Any): The type index's input signature (``type_index.json``); a unit is
        redone when it changes.
    label_set, splitter, expand_unaligned: as for :func:`build_corpus`.
    RETURNS (List[Dict[str, Any]]): One task per unit, in unit order.
    """
    out = Path(output_dir)
    config_key = _digest(
        {
            "version": __version__,
            "ontology": _signature(ontology),
            "index": index_signature,
            "label_set": label_set,
            "splitter": splitter,
            "expand_unaligned": expand_unaligned,
        }
    )
    return [
        {
            "unit": asdict(unit),
            "output_dir": str(out),
            "ontology": str(ontology),
            "label_set": label_set,
            "index_path": str(out / "type_index.sqlite"),
            "splitter": splitter,
            "expand_unaligned": expand_unaligned,
            "config_key": _digest([config_key, unit.dump, _signature(unit.dump), unit.blocks]),
        }
        for unit in units
    ]


def annotate_unit(task: Mapping[str, Any]) -> Dict[str, Any]:
    """Annotate pass for one work unit (runs in a worker).

    task (Mapping): ``unit`` (WorkUnit as dict), ``output_dir``, ``ontology``, ``label_set``,
        ``index_path``, ``splitter``, ``expand_unaligned``, ``config_key``.
    RETURNS (Dict): The unit's counts (also written to ``raw/<unit>.json``); ``failed`` is set
        when the unit could not be processed at all (no files written then).
    """
    unit = _unit_of(task)
    out = Path(task["output_dir"])
    shard, meta = out / "raw" / f"{unit.name}.spacy", out / "raw" / f"{unit.name}.json"
    if shard.exists() and meta.exists():
        counts = srsly.read_json(meta)
        if counts.get("config_key") == task["config_key"]:
            counts["resumed"] = True
            return counts
    from ..wikipedia.dump import DumpStats

    try:
        from ..wikipedia.wikitext import wikitext_to_paragraphs

        annotator = _annotator(task)
        dump_stats = DumpStats()
        ann_stats = AnnotateStats()
        doc_bin = DocBin(store_user_data=True)
        with fast_msgpack():  # span groups and user data are packed with srsly
            for page in _iter_unit_pages(unit, dump_stats):
                try:
                    paragraphs = wikitext_to_paragraphs(page.text, page.title)
                except NerbertError as err:
                    dump_stats.bad_pages += 1
                    dump_stats.error(_page_error(unit.dump, page.title, err))
                    continue
                prefetch = getattr(annotator.typer, "prefetch", None)
                if prefetch is not None:
                    prefetch(a.target for _, anchors in paragraphs for a in anchors)
                for text, anchors in paragraphs:
                    annotator.add_to(doc_bin, text, anchors, ann_stats, title=page.title)
        write_doc_bin(shard, doc_bin)
        if dump_stats.pages == 0 and not dump_stats.errors:
            dump_stats.error(f"{unit.dump}: no <page> element found (not a MediaWiki pages-articles export?)")
    except NerbertError as err:
        return {"unit": unit.name, "dump": unit.dump, "failed": str(err)}
    except Exception as err:  # noqa: BLE001 - one broken unit must not stop the others
        return {"unit": unit.name, "dump": unit.dump, "failed": f"{unit.dump}: {type(err).__name__}: {err}"}
    dump_dict = dump_stats.to_dict()
    errors = list(dump_dict.get("errors", []))
    counts = {
        "unit": unit.name,
        "dump": unit.dump,
        "config_key": task["config_key"],
        **{k: int(dump_dict.get(k, 0)) for k in DUMP_COUNTERS},
        **{k: v for k, v in ann_stats.to_dict().items() if k != "categories"},
        "docs": len(doc_bin),
        "categories": ann_stats.to_dict()["categories"],
        "errors": errors,
        "errors_total": len(errors) + int(dump_dict.get("errors_omitted", 0)),
    }
    write_json_atomic(meta, counts)
    return counts


# ---------------------------------------------------------------- pass 3: filter


def _plan_from_key(key: Mapping[str, Any]) -> FilterPlan:
    config = FilterConfig(min_count=key["min_count"], top_k=key["top_k"], drop_probs=tuple(key["drop_probs"]))
    return FilterPlan(scarce=frozenset(key["scarce"]), top=frozenset(key["top"]), config=config)


def filter_unit(task: Mapping[str, Any]) -> Dict[str, Any]:
    """Filter pass for one unit (runs in a worker): raw shard -> filtered shard + statistics.

    task (Mapping): ``name``, ``output_dir``, ``plan`` (FilterPlan.key()), ``seed``, ``filter_key``.
    RETURNS (Dict): ``docs_in``, ``docs``, ``dropped`` per rule, ``entities`` and
        ``sentences_with`` per category (also written to ``shards/<unit>.json``).
    """
    name, out = task["name"], Path(task["output_dir"])
    shard, meta = out / "shards" / f"{name}.spacy", out / "shards" / f"{name}.json"
    if shard.exists() and meta.exists():
        summary = srsly.read_json(meta)
        if summary.get("filter_key") == task["filter_key"]:
            summary["resumed"] = True
            return summary
    with fast_msgpack():  # select_docs unpacks every row's span groups
        raw = read_doc_bin(out / "raw" / f"{name}.spacy")
        labels = entity_label_lists(raw)
        rng = make_rng(task["seed"], "filter", name)
        kept, dropped = filter_label_lists(labels, _plan_from_key(task["plan"]), rng)
        write_doc_bin(shard, select_docs(raw, kept))
    entities: Counter = Counter()
    sentences_with: Counter = Counter()
    for i in kept:
        entities.update(labels[i])
        sentences_with.update(set(labels[i]))
    summary = {
        "unit": name,
        "filter_key": task["filter_key"],
        "docs_in": len(labels),
        "docs": len(kept),
        "dropped": dropped,
        "entities": dict(sorted(entities.items())),
        "sentences_with": dict(sorted(sentences_with.items())),
    }
    write_json_atomic(meta, summary)
    return summary


# ---------------------------------------------------------------- the build


def _unit_of(task: Mapping[str, Any]) -> WorkUnit:
    unit = task["unit"]
    return WorkUnit(unit["name"], unit["dump"], tuple(tuple(b) for b in unit["blocks"]))


def redirect_unit(task: Mapping[str, Any]) -> Dict[str, Any]:
    """Redirect pass for one work unit (runs in a worker): its redirect pages ->
    ``redirects/<unit>.tsv`` (``title<TAB>target`` per line, in page order) + ``.json`` (counts).

    task (Mapping): ``unit`` (WorkUnit as dict), ``output_dir``, ``key`` (the unit's input signature).
    RETURNS (Dict): ``unit``, ``key``, ``redirects`` (lines written), ``errors``; ``failed`` when
        the unit could not be read at all.
    """
    from ..wikipedia.dump import DumpStats, iter_redirects

    unit = _unit_of(task)
    folder = Path(task["output_dir"]) / "redirects"
    tsv, meta = folder / f"{unit.name}.tsv", folder / f"{unit.name}.json"
    if tsv.exists() and meta.exists():
        counts = srsly.read_json(meta)
        if counts.get("key") == task["key"]:
            return counts
    stats = DumpStats()
    try:
        pairs = list(iter_redirects(_iter_unit_pages(unit, stats, include_redirects=True, skip_disambiguation=False)))
    except NerbertError as err:
        return {"unit": unit.name, "dump": unit.dump, "failed": str(err)}
    with atomic_path(tsv) as tmp:
        with open(tmp, "w", encoding="utf8") as f:
            f.writelines(f"{src}\t{dst}\n" for src, dst in pairs)
    counts = {"unit": unit.name, "key": task["key"], "redirects": len(pairs), "errors": list(stats.errors)}
    write_json_atomic(meta, counts)
    return counts


def iter_unit_redirects(output_dir: PathLike, names: Iterable[str]) -> Iterator[Tuple[str, str]]:
    """The redirects written by :func:`redirect_unit` for these units, unit after unit.

    output_dir (Path): The build's output directory.
    names (Iterable[str]): Unit names, in unit order (a later unit's redirect wins, as a later
        page does in :func:`~nerbert_spacy.wikipedia.dump.collect_redirects`).
    YIELDS (Tuple[str, str]): ``(title, target)``.
    """
    for name in names:
        with open(Path(output_dir) / "redirects" / f"{name}.tsv", encoding="utf8") as f:
            for line in f:
                src, _, dst = line.rstrip("\n").partition("\t")
                yield src, dst


def _type_index(
    units: Sequence[WorkUnit],
    type_files: Sequence[Path],
    redirects_file: Optional[Path],
    output_dir: Path,
    progress: Optional[ProgressFn],
    *,
    run: Optional[Runner] = None,
    workers: int = 1,
    dump_redirects: bool = True,
) -> Tuple[Any, Dict[str, Any]]:
    """Pass 1: the redirects of every unit (in parallel, one task per unit, while the DBpedia
    types are indexed here), merged in unit order into the type index; reused when its inputs
    are unchanged."""
    from ..dbpedia.types import TypeIndex

    index_path = output_dir / "type_index.sqlite"
    meta_path = output_dir / "type_index.json"
    dumps = list(dict.fromkeys(u.dump for u in units))
    signature = {
        "version": __version__,
        "types": [_signature(p) for p in type_files],
        "redirects_file": _signature(redirects_file),
        "dumps": [_signature(p) for p in dumps] if dump_redirects else [],
    }
    if index_path.exists() and meta_path.exists():
        meta = srsly.read_json(meta_path)
        if meta.get("signature") == signature:
            return TypeIndex.open(index_path), meta
    tasks = [
        {"unit": asdict(u), "output_dir": str(output_dir), "key": _digest([__version__, _signature(u.dump), u.blocks])}
        for u in (units if dump_redirects else [])
    ]
    if progress is not None:
        progress("redirects", 0, len(tasks))
        progress("types", 0, 1)
    on_done = (lambda d, n: progress("redirects", d, n)) if progress else None
    results: List[Dict[str, Any]] = []

    def unit_redirects() -> Iterator[Tuple[str, str]]:
        """The units' redirects, once the redirect pass is over (the index reads them last)."""
        results.extend(redirect_pass.result())
        good = [r["unit"] for r in results if not r.get("failed")]
        _remove_stale(output_dir / "redirects", good, (".tsv", ".json"))
        yield from iter_unit_redirects(output_dir, good)

    # With a runner of its own (Dask), the redirect pass runs on the workers while this thread
    # streams the DBpedia types into the index: the types (constant work, minutes for the full
    # DBpedia) leave the critical path. Local processes are forked, which a process should not
    # do while another of its threads works, so there the two run one after the other.
    with ThreadPoolExecutor(1, thread_name_prefix="nerbert-redirect-pass") as background:
        if run is None:
            redirect_pass: Any = Future()
            redirect_pass.set_result(run_tasks(redirect_unit, tasks, workers, on_done))
        else:
            redirect_pass = background.submit(run, redirect_unit, tasks, workers, on_done)
        index = TypeIndex.build(
            type_files,
            index_path,
            redirects=unit_redirects(),
            redirect_files=[redirects_file] if redirects_file else [],
        )
    index_stats = dict(index.stats)
    meta = {
        "signature": signature,
        "redirects_from_dumps": index.dump_redirects,
        "redirect_pass_errors": [e for r in results for e in r.get("errors", [r.get("failed")]) if e][:MAX_ERRORS],
        "stats": index_stats,
    }
    index.close()
    if progress is not None:
        progress("types", 1, 1)
    write_json_atomic(meta_path, meta)
    return TypeIndex.open(index_path), meta


def _output_dir(path: PathLike) -> Path:
    """Create the output folder; a path that cannot be one is a NerbertError naming it."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise NerbertError("the output path exists and is not a directory", out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NerbertError("a part of the output path is a file, not a directory", out) from None
    except OSError as err:
        raise NerbertError(f"cannot create the output directory ({err.strerror or err})", out) from None
    if not os.access(out, os.W_OK):
        raise NerbertError("the output directory is not writable", out)
    return out


def _remove_temporaries(out: Path) -> None:
    """Remove half-written files (``.tmp-*``) an interrupted build left; only the lock holder may."""
    for folder in (out, out / "redirects", out / "raw", out / "shards"):
        if folder.is_dir():
            for path in folder.glob(".tmp-*"):
                if path.is_file():
                    path.unlink()


def build_status(output_dir: PathLike, dumps: Sequence[PathLike], *, blocks_per_unit: int = 50) -> Dict[str, int]:
    """How far a build of these dumps got in ``output_dir`` (e.g. after an interruption).

    RETURNS (Dict[str, int]): ``units`` planned, and how many have their ``redirects``,
        ``annotated`` (raw) and ``filtered`` files.
    """
    out = Path(output_dir)
    names = [u.name for u in plan_units([Path(d) for d in dumps if Path(d).is_file()], blocks_per_unit=blocks_per_unit)]

    def done(folder: str, suffix: str) -> int:
        return sum(1 for n in names if (out / folder / f"{n}{suffix}").is_file() and (out / folder / f"{n}.json").is_file())

    return {
        "units": len(names),
        "redirects": done("redirects", ".tsv"),
        "annotated": done("raw", ".spacy"),
        "filtered": done("shards", ".spacy"),
    }


def _remove_stale(directory: Path, keep: Iterable[str], suffixes: Tuple[str, ...] = (".spacy", ".json")) -> None:
    keep = set(keep)
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        if path.suffix in suffixes and path.stem not in keep:
            path.unlink()


def build_corpus(
    dumps: Sequence[PathLike],
    ontology: PathLike,
    type_files: Sequence[PathLike],
    output_dir: PathLike,
    *,
    redirects_file: Optional[PathLike] = None,
    label_set: str = "315",
    seed: int = 0,
    workers: int = 1,
    splitter: str = "spacy",
    expand_unaligned: bool = False,
    filter_config: Optional[FilterConfig] = None,
    blocks_per_unit: int = 50,
    indexes: Optional[Mapping[str, PathLike]] = None,
    dump_redirects: bool = True,
    runner: Optional[Runner] = None,
    progress: Optional[ProgressFn] = None,
) -> Dict[str, Any]:
    """Build the filtered weak-label corpus (paper §2.1-2.3) into ``output_dir``.

    dumps (Sequence[Path]): Wikipedia pages-articles dumps (.xml, .xml.bz2, multistream .bz2).
    ontology (Path): DBpedia Ontology (.owl / .nt / .ttl).
    type_files (Sequence[Path]): DBpedia instance types (N-Triples / Turtle, plain or .bz2).
    output_dir (Path): Where ``shards/``, ``raw/``, ``stats.json`` and the type index go.
    redirects_file (Optional[Path]): DBpedia redirects (dbo:wikiPageRedirects), in addition to
        the redirects found in the dumps.
    label_set (str): "315", "212" or "4".
    seed (int): Random seed of the probabilistic filter.
    workers (int): Local processes.
    splitter (str): Sentence splitter of ``split_sentences`` ("spacy" or "pysbd").
    expand_unaligned (bool): Widen anchors that do not align with tokens (counted as expanded).
    filter_config (Optional[FilterConfig]): Filter parameters (paper defaults).
    blocks_per_unit (int): Multistream blocks per work unit.
    indexes (Optional[Mapping[str, Path]]): Dump -> multistream index, when not found beside it.
    dump_redirects (bool): Collect the redirects of the dumps (one parallel pass over them);
        False uses only ``redirects_file`` (a full DBpedia redirects file makes the pass redundant).
    runner (Optional[Runner]): Replaces :func:`run_tasks` (e.g. a Dask runner).
    progress (Optional[Callable[[str, int, int], None]]): Called with (stage, done, total).
    RETURNS (Dict[str, Any]): The content of ``stats.json`` plus ``timings`` (seconds per pass).
    """
    from ..dbpedia.ontology import Ontology
    from ..labels import get_label_set

    t0 = time.perf_counter()
    if not dumps:
        raise NerbertError("no Wikipedia dump given")
    if not type_files:
        raise NerbertError("no DBpedia instance-types file given")
    dump_paths = [require_file(p, "Wikipedia dump") for p in dumps]
    ontology_path = require_file(ontology, "DBpedia ontology")
    type_paths = [require_file(p, "DBpedia instance-types file") for p in type_files]
    redirects_path = require_file(redirects_file, "DBpedia redirects file") if redirects_file else None
    get_label_set(label_set, Ontology.load(ontology_path))  # fail early on a bad label set / ontology
    out = _output_dir(output_dir)
    with OutputLock(out) as lock:
        _remove_temporaries(out)
        run = runner or run_tasks
        filter_config = filter_config or FilterConfig()

        units = plan_units(dump_paths, blocks_per_unit=blocks_per_unit, indexes=indexes)

        # pass 1: redirects of every unit (parallel) + type index
        _, index_meta = _type_index(
            units, type_paths, redirects_path, out, progress, run=runner, workers=workers, dump_redirects=dump_redirects
        )
        t1 = time.perf_counter()

        # pass 2: annotate every unit
        tasks = annotate_tasks(
            units,
            out,
            ontology_path,
            index_meta["signature"],
            label_set=label_set,
            splitter=splitter,
            expand_unaligned=expand_unaligned,
        )
        if runner is None and workers > 1 and len(tasks) > 1:
            # load the ontology, label set and tokenizer once here: forked workers inherit them
            _annotator(tasks[0])
        on_done = (lambda d, n: progress("annotate", d, n)) if progress else None
        if progress:
            progress("annotate", 0, len(tasks))
        results = run(annotate_unit, tasks, workers, on_done)
        t2 = time.perf_counter()
        good = [r for r in results if not r.get("failed")]
        failed = [r for r in results if r.get("failed")]
        _remove_stale(out / "raw", [r["unit"] for r in good])
        if not good:
            raise NerbertError("no work unit could be read: " + "; ".join(r["failed"] for r in failed[:3]), out)
        if not sum(int(r.get("pages", 0)) for r in good):
            problems = [e for r in good for e in r.get("errors", [])][:1]
            raise NerbertError(
                "no page read from " + ", ".join(str(p) for p in dump_paths)
                + " (empty, unreadable, or not a MediaWiki pages-articles export)"
                + (f": {problems[0]}" if problems else "")
            )

        # pass 3: global counts -> filter plan -> filtered shards
        before: Counter = Counter()
        for r in good:
            before.update(r["categories"])
        plan = make_filter_plan(before, filter_config)
        f_tasks = [
            {
                "name": r["unit"],
                "output_dir": str(out),
                "plan": plan.key(),
                "seed": seed,
                "filter_key": _digest([plan.key(), seed, r["config_key"]]),
            }
            for r in good
        ]
        on_done = (lambda d, n: progress("filter", d, n)) if progress else None
        if progress:
            progress("filter", 0, len(f_tasks))
        summaries = run(filter_unit, f_tasks, workers, on_done)
        _remove_stale(out / "shards", [s["unit"] for s in summaries])
        t3 = time.perf_counter()

        stats = _summarise(
            good,
            failed,
            summaries,
            plan,
            before,
            index_meta,
            inputs={
                "dumps": [str(p) for p in dump_paths],
                "ontology": str(ontology_path),
                "types": [str(p) for p in type_paths],
                "redirects_file": str(redirects_path) if redirects_path else None,
                "label_set": label_set,
                "seed": seed,
                "splitter": splitter,
                "expand_unaligned": expand_unaligned,
            },
        )
        write_json_atomic(out / "stats.json", stats)
        stats = dict(stats)
        stats["timings"] = {
            "types_s": round(t1 - t0, 3),
            "annotate_s": round(t2 - t1, 3),
            "filter_s": round(t3 - t2, 3),
            "total_s": round(t3 - t0, 3),
            "resumed_units": sum(1 for r in good if r.get("resumed")),
        }
        stats["notes"] = list(lock.notes)
    return stats


def _summarise(
    good: List[Dict[str, Any]],
    failed: List[Dict[str, Any]],
    summaries: List[Dict[str, Any]],
    plan: FilterPlan,
    before: Counter,
    index_meta: Mapping[str, Any],
    inputs: Mapping[str, Any],
) -> Dict[str, Any]:
    totals: Dict[str, int] = {k: 0 for k in DUMP_COUNTERS + ANNOTATE_COUNTERS}
    errors: List[str] = []
    errors_total = 0
    for r in good:
        for k in totals:
            totals[k] += int(r.get(k, 0))
        errors.extend(r.get("errors", []))
        errors_total += int(r.get("errors_total", len(r.get("errors", []))))
    for r in failed:
        errors.append(r["failed"])
        errors_total += 1
    index_stats = dict(index_meta.get("stats", {}))
    index_errors = list(index_stats.get("errors", []))
    errors.extend(index_errors)
    errors_total += max(len(index_errors), int(index_stats.get("malformed_lines", 0) or 0))
    dropped = {rule: 0 for rule in FILTER_RULES}
    after: Counter = Counter()
    for s in summaries:
        for rule, n in s["dropped"].items():
            dropped[rule] += int(n)
        after.update(s["entities"])
    # sentences without any entity never reach a raw shard; the no-entity rule counts them here
    dropped["no_entity"] += totals["sentences_without_entities"]
    kept = sum(int(s["docs"]) for s in summaries)
    order = lambda c: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))  # noqa: E731
    return {
        "inputs": dict(inputs),
        "units": len(good) + len(failed),
        "failed_units": [r["unit"] for r in failed],
        **{k: totals[k] for k in DUMP_COUNTERS},
        "sentences": totals["sentences"],
        "sentences_kept": kept,
        "anchors": totals["anchors"],
        "aligned": totals["aligned"],
        "unaligned": totals["unaligned"],
        "expanded": totals["expanded"],
        "typed": totals["typed"],
        "untyped": totals["untyped"],
        "labelled": totals["labelled"],
        "ENTITY": totals["entity"],
        "details": {k: totals[k] for k in ANNOTATE_COUNTERS},
        "redirects_collected": int(index_meta.get("redirects_from_dumps", 0)),
        "type_index": index_stats,
        "filter": {
            **plan.config.to_dict(),
            "scarce": sorted(plan.scarce),
            "top": sorted(plan.top, key=lambda name: (-before[name], name)),
            "dropped": dropped,
            "kept": kept,
        },
        "categories_before": order(before),
        "categories_after": order(after),
        "errors_total": errors_total,
        "errors": errors[:MAX_ERRORS],
    }
