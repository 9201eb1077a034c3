"""``nerbert data``: convert target-domain datasets (and users' own CoNLL/IOB/JSONL
data) to spaCy DocBins with deterministic splits and few-shot subsets."""
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import NerbertError
from ._util import App, output_option, seed_option

app = App(help="Target-domain datasets: convert to DocBin, splits, few-shot subsets.", no_args_is_help=True)


@app.command("convert")
def convert(
    dataset: str = typer.Argument(..., help="crossner-<politics|science|music|literature|ai>, conll2003, btc, sec, "
                                            "re3d, bionlp13cg, bionlp13pc, or generic conll / conllu / iob / jsonl"),
    source: Optional[Path] = typer.Argument(None, help="Source folder (generic formats: folder or one file)"),
    output: Path = output_option(..., "Output folder for {train,dev,test}.spacy + meta.json"),
    few_shot: List[str] = typer.Option([], "--few-shot", help="Few-shot size: count (50) or percentage (10%); repeatable"),
    seed: List[int] = seed_option([1], "Few-shot sampling seed; repeatable"),
    split_seed: int = typer.Option(0, "--split-seed", help="Seed for held-out dev/test parts"),
    train: Optional[Path] = typer.Option(None, "--train", help="Generic formats: training file"),
    dev: Optional[Path] = typer.Option(None, "--dev", help="Generic formats: dev file (else split from train)"),
    test: Optional[Path] = typer.Option(None, "--test", help="Generic formats: test file (else split from train); "
                                                             "alone, only test.spacy is written"),
    scheme: Optional[str] = typer.Option(None, "--scheme", help="Generic formats: tag scheme bio|io|bioes|auto"),
    token_column: Optional[int] = typer.Option(None, "--token-column", help="conll/conllu: token column, from 0 "
                                                                            "(default conll 0, conllu 1 = FORM)"),
    tag_column: Optional[int] = typer.Option(None, "--tag-column", help="conll/conllu: tag column, from 0; -1 = last "
                                                                        "(default conll last, conllu 11th or MISC)"),
) -> None:
    """Convert DATASET from SOURCE to OUTPUT/{train,dev,test}.spacy + meta.json (only the splits given, for
    generic formats without a training file). The folder is written whole or not at all."""
    from ..datasets.readers import COUNTERS
    from ..datasets.registry import GENERIC_FORMATS, SPLITS, convert_dataset

    generic = {"train": train, "dev": dev, "test": test, "scheme": scheme, "token_col": token_column,
               "tag_col": tag_column}
    options = {}
    if dataset in GENERIC_FORMATS:
        options = generic
    elif any(x is not None for x in generic.values()):
        raise NerbertError(f"--train/--dev/--test/--scheme/--token-column/--tag-column are for the generic "
                           f"formats ({', '.join(GENERIC_FORMATS)}), not {dataset}")
    meta = convert_dataset(dataset, source, output, few_shot=few_shot, seeds=seed, split_seed=split_seed, **options)
    paper = meta.get("paper_sizes") or {}
    for split, n in meta["sizes"].items():
        ref = f" (paper {paper[split]})" if split in paper else ""
        st = meta["stats"][split]
        typer.echo(f"{split:>5}: {n} sentences{ref}, {st['entities']} entities  - {meta['splits'][split]}")
    counted = [k for k in COUNTERS if k not in ("sentences", "tokens", "entities")]
    repairs = {k: sum(r[k] for r in meta["read"].values()) for k in counted}
    changed = ", ".join(f"{k} {v}" for k, v in repairs.items() if v)
    typer.echo(f"labels ({len(meta['labels'])}): {', '.join(meta['labels'])}")
    if changed:
        typer.echo(f"changes: {changed}")
    for fs in meta["few_shot"]:
        typer.echo(f"few-shot {fs['size']} seed {fs['seed']}: {fs['sentences']} sentences -> {fs['file']}")
    written = [s for s in SPLITS if s in meta["sizes"]]
    missing = [s for s in SPLITS if s not in meta["sizes"]]
    note = f" (no {'/'.join(missing)} split given)" if missing else ""
    typer.echo(f"wrote {', '.join(f'{s}.spacy' for s in written)} and meta.json to {output}{note}")


@app.command("list")
def list_datasets() -> None:
    """List the known datasets with the paper's split sizes (Table 3)."""
    from ..datasets.registry import DATASETS

    for name, info in DATASETS.items():
        sizes = "/".join(str(x) for x in info.paper_sizes) if info.paper_sizes else "-"
        typer.echo(f"{name:<20} {sizes:<18} {info.description}")


@app.command("fewshot")
def fewshot(
    train: Path = typer.Argument(..., help="A train.spacy DocBin"),
    few_shot: str = typer.Option(..., "--few-shot", help="Count (50) or percentage (10%)"),
    seed: int = seed_option(1, "Sampling seed"),
    output: Optional[Path] = output_option(None, "Output file (default: beside TRAIN)"),
) -> None:
    """Sample a few-shot subset of an existing train.spacy."""
    from ..datasets.registry import write_fewshot

    out, n = write_fewshot(train, few_shot, seed, output)
    typer.echo(f"wrote {n} sentences to {out}")
