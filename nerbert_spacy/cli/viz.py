"""``nerbert viz``: displaCy pages and the t-SNE figure (paper Figure 3)."""
from pathlib import Path
from typing import List, Optional

import typer

from ._util import (
    App,
    lang_option,
    model_option,
    output_option,
    seed_option,
    spans_key_option,
)

app = App(help="Inspect weak labels, predictions and entity representations.", no_args_is_help=True)


@app.command("displacy")
def displacy_cmd(
    input_path: Path = typer.Argument(..., help="DocBin (.spacy) or folder; with --model also .txt/.jsonl"),
    output: Path = output_option(..., "Output .html"),
    spans_key: Optional[str] = spans_key_option("Show doc.spans[KEY] (e.g. anchors, bio_tagger) instead of doc.ents"),
    model: Optional[str] = model_option("Run this pipeline first (predictions)"),
    limit: int = typer.Option(200, "--limit", help="Show at most this many docs"),
    lang: str = lang_option(),
) -> None:
    """Write a standalone displaCy HTML page of entities or a span group."""
    from ..export import load_docs
    from ..visualize import render_displacy

    docs = load_docs(input_path, model=model, lang=lang)
    stats = render_displacy(docs, output, spans_key=spans_key, max_docs=limit)
    typer.echo(f"displaCy: {stats['docs']} docs, {stats['spans']} spans -> {output}")


@app.command("tsne")
def tsne_cmd(
    test_path: Path = typer.Argument(..., help="Test DocBin with gold entities"),
    model: List[str] = typer.Option(..., "--model", "-m", help="Pipeline, or plain encoder folder for the untrained panel (repeatable; one panel each)"),
    output: Path = output_option(..., "Output .png"),
    name: List[str] = typer.Option([], "--name", help="Panel title per --model (repeatable)"),
    max_entities: int = typer.Option(2000, "--max-entities"),
    seed: int = seed_option(0),
    perplexity: float = typer.Option(30.0, "--perplexity"),
    max_types: int = typer.Option(12, "--max-types", help="Colour this many most frequent types"),
    lang: str = lang_option(),
) -> None:
    """The paper's Figure 3: t-SNE of first-sub-word entity representations, side by side."""
    from ..visualize import tsne_figure

    stats = tsne_figure(
        test_path, model, output, names=name or None, max_entities=max_entities, seed=seed,
        perplexity=perplexity, max_types=max_types, lang=lang,
    )
    typer.echo(f"t-SNE of {stats['entities']} entities ({len(stats['types'])} types) -> {output}")
    for title, s in stats["models"].items():
        sil = f"silhouette {s['silhouette']:.4f}, " if "silhouette" in s else ""
        typer.echo(f"  {title}: {sil}KL {s['kl_divergence']:.4f}")
