"""``nerbert corpus``: build the weak-label corpus, balance it, fetch the embedded default dump."""

import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import typer

from ._util import App, ontology_option, output_option, quiet_option, seed_option

app = App(help="Build the weak-label NER corpus from Wikipedia + DBpedia (paper §2).", no_args_is_help=True)

STAGES = {
    "redirects": "collect redirects",
    "types": "index DBpedia types",
    "annotate": "annotate units",
    "filter": "filter shards",
    "balance": "balance shards",
}


class _Progress:
    """One tqdm bar per stage, on stderr."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bars: Dict[str, object] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = tqdm(total=total, desc=STAGES.get(stage, stage), unit="", leave=False, file=sys.stderr)
            self.bars[stage] = bar
        bar.update(done - bar.n)  # type: ignore[attr-defined]
        if done >= total:
            bar.close()  # type: ignore[attr-defined]

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()  # type: ignore[attr-defined]


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "0%"


def _print_problems(errors: List[str], total: int) -> None:
    for line in errors:
        typer.secho(f"warning: {line}", fg=typer.colors.YELLOW, err=True)
    if total > len(errors):
        typer.secho(
            f"warning: ... and {total - len(errors)} more (see stats.json)", fg=typer.colors.YELLOW, err=True
        )


def _interrupted(output: Path, dumps: List[Path], blocks_per_unit: int) -> None:
    """Ctrl-C: say what is kept and that the same command resumes; exit 130."""
    from ..corpus.build import build_status

    status = build_status(output, dumps, blocks_per_unit=blocks_per_unit)
    typer.secho(
        f"interrupted: {status['annotated']} of {status['units']} units annotated and {status['filtered']} filtered "
        f"are kept in {output}; rerun the same command to resume (finished units are skipped)",
        fg=typer.colors.YELLOW,
        err=True,
    )
    raise typer.Exit(code=130)


def _dask_runner(scheduler: Optional[str], workers: int):
    """A DaskRunner context for ``--scheduler``, or a context yielding None (local processes)."""
    import contextlib

    if scheduler is None:
        return contextlib.nullcontext(None)
    from ..corpus.distributed import DaskRunner

    return DaskRunner(scheduler, workers)


@app.command("build")
def build(
    dumps: List[Path] = typer.Argument(
        ..., help="Wikipedia pages-articles dumps (.xml, .xml.bz2, multistream .bz2)"
    ),
    ontology: Path = ontology_option(..., "DBpedia Ontology (.owl, .nt, .ttl)", short=False),
    types: List[Path] = typer.Option(
        ..., "--types", help="DBpedia instance types (N-Triples/Turtle, plain or .bz2); repeatable"
    ),
    redirects: Optional[Path] = typer.Option(
        None, "--redirects", help="DBpedia redirects file (optional; the dumps' redirects win over it, see --no-dump-redirects)"
    ),
    output: Path = output_option(..., "Output directory (shards/, raw/, stats.json)", short=False),
    labels: str = typer.Option("315", "--labels", help="Label set: 315, 212 or 4"),
    seed: int = seed_option(0, "Random seed of the probabilistic filter"),
    workers: int = typer.Option(1, "--workers", min=1, help="Local worker processes"),
    scheduler: Optional[str] = typer.Option(
        None,
        "--scheduler",
        help="Run the work units on Dask: 'local' (a local cluster of --workers processes) or a "
        "scheduler address tcp://HOST:PORT (paths must be visible to every worker); default: no Dask",
    ),
    splitter: str = typer.Option("spacy", "--splitter", help="Sentence splitter: spacy or pysbd"),
    expand_unaligned: bool = typer.Option(
        False,
        "--expand-unaligned",
        help="Widen anchors that do not align with tokens instead of leaving them out (counted either way)",
    ),
    blocks_per_unit: int = typer.Option(
        50,
        "--blocks-per-unit",
        min=1,
        help="Multistream dumps: index blocks (about 100 pages each) per work unit",
    ),
    dump_redirects: bool = typer.Option(
        True,
        "--dump-redirects/--no-dump-redirects",
        help="Collect the redirects of the dumps (one parallel pass); --no-dump-redirects uses only --redirects",
    ),
    quiet: bool = quiet_option(),
) -> None:
    """Build the filtered weak-label corpus: DIR/shards/*.spacy and DIR/stats.json (paper §2.1-2.3)."""
    from ..corpus.process import keep_torch_out

    keep_torch_out()  # the build needs spaCy's tokenizer, not torch (2-3 CPU s per process)
    from ..corpus.build import build_corpus

    progress = _Progress(enabled=not quiet)
    start = time.perf_counter()
    try:
        with _dask_runner(scheduler, workers) as runner:
            if runner is not None and runner.scheduler != "local":  # remote workers: absolute paths
                dumps, ontology, output = [p.resolve() for p in dumps], ontology.resolve(), output.resolve()
                types, redirects = [p.resolve() for p in types], redirects.resolve() if redirects else None
            stats = build_corpus(
                dumps,
                ontology,
                types,
                output,
                redirects_file=redirects,
                label_set=labels,
                seed=seed,
                workers=workers,
                splitter=splitter,
                expand_unaligned=expand_unaligned,
                blocks_per_unit=blocks_per_unit,
                dump_redirects=dump_redirects,
                runner=runner,
                progress=progress,
            )
    except KeyboardInterrupt:
        progress.close()
        _interrupted(output, dumps, blocks_per_unit)
    finally:
        progress.close()
    elapsed = time.perf_counter() - start
    for note in stats.get("notes", []):
        typer.secho(f"note: {note}", err=True)
    _print_problems(stats["errors"], stats["errors_total"])
    resumed = stats["timings"]["resumed_units"]
    typer.secho(
        f"✔ {stats['pages']} pages ({stats['articles']} articles, {stats['redirects']} redirects, "
        f"{stats['bad_pages']} bad), {stats['sentences']} sentences -> {stats['sentences_kept']} kept; "
        f"{stats['anchors']} anchors: {_pct(stats['typed'], stats['anchors'])} typed, "
        f"{_pct(stats['ENTITY'], stats['anchors'])} ENTITY, {_pct(stats['unaligned'], stats['anchors'])} unaligned; "
        f"{len(stats['categories_after'])} categories; {stats['units']} units"
        + (f" ({resumed} resumed)" if resumed else "")
        + (f" on Dask ({scheduler})" if scheduler else "")
        + f" in {elapsed:.1f}s -> {output}",
        fg=typer.colors.GREEN,
    )


@app.command("balance")
def balance(
    corpus_dir: Path = typer.Argument(..., help="Output directory of `nerbert corpus build`"),
    alpha: float = typer.Option(0.7, "--alpha", help="p(E) ∝ |E|^alpha"),
    seed: int = seed_option(0, "Random seed"),
    dev_fraction: float = typer.Option(0.1, "--dev-fraction", help="Fraction of sentences for dev"),
    samples: Optional[int] = typer.Option(
        None, "--samples", help="Sentences to draw (default: as many as the input)"
    ),
    output: Optional[Path] = output_option(None, "Write train/, dev/, balance.json there instead of DIR"),
    target_mapping: Optional[List[Path]] = typer.Option(
        None,
        "--target-mapping",
        help="Domain-targeted balancing: a `nerbert labels map --pretrained 315` file; repeatable",
    ),
    boost: float = typer.Option(4.0, "--boost", help="Weight multiplier of the categories the mappings name"),
    neighbour_boost: float = typer.Option(
        2.0, "--neighbour-boost", help="Multiplier of their parents and children in the label tree"
    ),
    max_fanout: int = typer.Option(
        10, "--max-fanout", help="Skip generic target labels that collect more categories than this (0 = keep all)"
    ),
    ontology: Optional[Path] = ontology_option(None, "Ontology for the label tree (default: the one in DIR/stats.json)"),
    quiet: bool = quiet_option("No progress bar"),
) -> None:
    """Balance categories (paper §2.4) and split train/dev: DIR/train, DIR/dev, DIR/balance.json, DIR/balance.png.

    With --target-mapping the draw leans toward a target schema's categories (same corpus size).
    """
    from ..corpus.balancing import balance_corpus, boosts_from_mappings

    boosts = None
    if target_mapping:
        found = boosts_from_mappings(
            corpus_dir, target_mapping, boost=boost, neighbour_boost=neighbour_boost, max_fanout=max_fanout,
            ontology=ontology,
        )
        if found.ontology is None:
            typer.secho("no ontology: only the mapped categories are boosted, not their neighbours", err=True)
        if found.skipped:
            typer.secho(
                f"generic target labels not boosted (more than {max_fanout} categories): {', '.join(found.skipped)}",
                err=True,
            )
        typer.secho(f"boosted x{boost:g}: {', '.join(found.targets)}", err=True)
        boosts = found.boosts
    progress = _Progress(enabled=not quiet)
    try:
        result = balance_corpus(
            corpus_dir,
            alpha=alpha,
            seed=seed,
            dev_fraction=dev_fraction,
            n_samples=samples,
            progress=progress,
            boosts=boosts,
            output_dir=output,
        )
    finally:
        progress.close()
    out = output or corpus_dir
    targeted = ""
    if boosts:
        share = result["boosted_share"]
        targeted = (
            f"; {len(boosts)} boosted categories hold {100 * share['before']:.1f}% -> "
            f"{100 * share['after']:.1f}% of entities"
        )
    typer.secho(
        f"✔ {result['input_sentences']} sentences -> {result['train_sentences']} train + {result['dev_sentences']} dev "
        f"(alpha {alpha}); categories {result['categories_before']} -> {result['categories_after']}{targeted}; "
        f"{out / 'balance.json'}, {out / 'balance.png'}",
        fg=typer.colors.GREEN,
    )


@app.command("fetch-default")
def fetch_default(
    outdir: Path = typer.Argument(..., help="Where to put the dump (e.g. assets/wikipedia)"),
) -> None:
    """Obtain the embedded default dump: a real 206-page English Wikipedia fragment from the gensim 4.3.3 wheel."""
    from ..wikipedia.default_dump import fetch_default_dump

    path = fetch_default_dump(outdir)
    typer.secho(f"✔ {path} ({path.stat().st_size} bytes)", fg=typer.colors.GREEN)
