"""``nerbert export`` / ``nerbert import`` / ``nerbert package``: annotation-tool
round trip and pipeline packaging. Thin: parse, call ``nerbert_spacy.export``, print."""
import contextlib
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from ..errors import NerbertError
from ._util import App, lang_option, model_option, output_option, spans_key_option

app = App()

FORMAT_HELP = "prodigy | labelstudio | doccano | brat | conll"


def _label_list(value: Optional[str]) -> Optional[List[str]]:
    """``--labels``: a label file (one a line, or JSON) or a comma-separated list."""
    from ..mapping import read_label_file

    if value is None:
        return None
    labels = read_label_file(value) if Path(value).is_file() else [x.strip() for x in value.split(",") if x.strip()]
    if not labels:
        raise NerbertError(f"--labels {value!r} names no label (give a label file or a comma-separated list)")
    return labels


@contextlib.contextmanager
def _interrupt_note(output: Path) -> Iterator[None]:
    """On Ctrl-C say that nothing was written (outputs are swapped in only when complete)."""
    try:
        yield
    except KeyboardInterrupt:
        message = f"interrupted: {output} was left as it was; run the command again"
        typer.secho(message, fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(130) from None


@app.command("export")
def export_cmd(
    input_path: Path = typer.Argument(..., help="DocBin (.spacy) or folder of them; with --model/--gazetteer also .txt or .jsonl"),
    fmt: str = typer.Option(..., "--format", "-f", help=FORMAT_HELP),
    output: Path = output_option(..., "Output file (folder for brat)"),
    model: Optional[str] = model_option("Pipeline (name or path) to run over the input"),
    spans_key: Optional[str] = spans_key_option("Export doc.spans[KEY] instead of doc.ents"),
    gazetteer: Optional[Path] = typer.Option(
        None, "--gazetteer", help="Add a dbpedia_labeller with this JSONL/TSV of names and labels (weak labels)"
    ),
    types: Optional[Path] = typer.Option(
        None, "--types", help="Weak labels from DBpedia: instance-types file or type index (.sqlite) for the gazetteer"
    ),
    ontology: Optional[Path] = typer.Option(None, "--ontology", help="DBpedia Ontology, with --types"),
    label_set: str = typer.Option("315", "--label-set", help="Label set typing the DBpedia classes, with --types"),
    redirects: Optional[Path] = typer.Option(
        None, "--redirects", help="Extra redirects (Wikipedia dump, DBpedia redirects .ttl, TSV), with --types"
    ),
    lang: str = lang_option("Language of the blank pipeline when no --model is given"),
    text_unit: str = typer.Option("line", "--text-unit", help="For .txt input: one doc per 'line' or 'paragraph'"),
    doccano_shape: str = typer.Option("label", "--doccano-shape", help="Doccano: 'label' or 'entities'"),
    labels: Optional[str] = typer.Option(
        None,
        "--labels",
        help="labelstudio/brat: label set of the labelling config, a file (one a line, or JSON) or 'a,b,c' "
        "(default: the pipeline's labels, else the corpus's)",
    ),
    order: Optional[str] = typer.Option(
        None,
        "--order",
        help="prodigy/labelstudio: 'uncertainty' (least confident entity, else smallest token margin, first) "
        "or 'file'; writes each task's score (Label Studio predictions[].score, Prodigy meta.score)",
    ),
) -> None:
    """Export weak labels or a pipeline's predictions to an annotation tool's format."""
    from ..export import export_docs, get_format
    from ..export.labelling import labelling_pipeline

    f = get_format(fmt)
    label_list = _label_list(labels)
    nlp = labelling_pipeline(
        model, lang=lang, gazetteer=gazetteer, types=types, ontology=ontology, label_set=label_set, redirects=redirects
    )
    if gazetteer is not None or types is not None:
        source = ", ".join(str(p) for p in (gazetteer, types) if p is not None)
        typer.echo(f"gazetteer: {len(nlp.get_pipe('dbpedia_labeller').gazetteer)} names from {source}")
    opts = {"shape": doccano_shape} if fmt == "doccano" else {}
    with _interrupt_note(output):
        stats = export_docs(
            input_path,
            fmt,
            output,
            nlp=nlp,
            spans_key=spans_key,
            lang=lang,
            text_unit=text_unit,
            labels=label_list,
            order=order,
            **opts,
        )
    shown = {k: v for k, v in stats.items() if k not in ("docs", "spans") and not k.startswith("label")}
    extra = "".join(f", {k}: {v}" for k, v in shown.items() if v)
    ordered = f" in {order} order" if order is not None else ""
    typer.echo(f"wrote {stats['docs']} docs, {stats['spans']} spans as {fmt}{ordered} to {output}{extra}")
    if f.label_config:
        from ..export.labelstudio import config_path_for

        config = config_path_for(output) if fmt == "labelstudio" else output / "annotation.conf"
        source = "--labels" if label_list is not None else stats["label_source"]
        typer.echo(f"labelling config: {config} ({stats['labels']} labels from {source})")
        if stats["labels_not_in_set"]:
            typer.echo(
                f"note: {stats['labels_not_in_set']} exported labels not in {source} were added to the config"
            )

@app.command("import")
def import_cmd(
    path: Path = typer.Argument(..., help="The tool's export (file, or folder for brat)"),
    fmt: str = typer.Option(..., "--format", "-f", help=FORMAT_HELP),
    output: Path = output_option(..., "Output DocBin (.spacy)"),
    lang: str = lang_option("Language whose tokenizer maps the spans onto tokens"),
    model: Optional[str] = model_option("Use this pipeline's tokenizer instead"),
    snap: bool = typer.Option(False, "--snap", help="Expand spans not on token edges instead of skipping them"),
    spans_key: Optional[str] = spans_key_option("Also keep all spans in doc.spans[KEY]"),
    predictions: bool = typer.Option(
        False, "--predictions", help="Label Studio: use predictions for tasks without annotations"
    ),
    doccano_labels: Optional[Path] = typer.Option(
        None, "--doccano-labels", help="Doccano: JSON {id: name} or Doccano's label list, to name numeric label ids"
    ),
    conflicts: Optional[str] = typer.Option(
        None,
        "--conflicts",
        help="Prodigy: records of one _input_hash with different spans: keep 'first' (default), 'both', or 'drop'",
    ),
    report_path: Optional[Path] = typer.Option(None, "--report", help="Write the full report as JSON here"),
    show: int = typer.Option(20, "--show", help="Print at most this many report entries"),
) -> None:
    """Import an annotation tool's file into a DocBin, reporting every span not taken as is."""
    from ..export import get_format, import_docs, load_pipeline

    get_format(fmt)
    format_options = (("--doccano-labels", doccano_labels, "doccano"), ("--conflicts", conflicts, "prodigy"))
    for option, value, wanted in format_options:
        if value is not None and fmt != wanted:
            raise NerbertError(f"{option} applies to --format {wanted} only, not {fmt}")
    nlp = load_pipeline(model) if model is not None else None
    opts = {"snap": snap, "spans_key": spans_key}
    if fmt == "labelstudio":
        opts["use_predictions"] = predictions
    if doccano_labels is not None:
        opts["label_map"] = doccano_labels
    if fmt == "prodigy":
        opts["conflicts"] = conflicts or "first"
    with _interrupt_note(output):
        report = import_docs(path, fmt, output, nlp=nlp, lang=lang, report_path=report_path, **opts)
    for issue in report.issues[:show]:
        typer.echo(str(issue))
    if len(report.issues) > show:
        typer.echo(f"... {len(report.issues) - show} more report entries" + (f" in {report_path}" if report_path else ""))
    typer.echo(f"{fmt}: {report.summary()} -> {output}")

@app.command("package")
def package_cmd(
    model: Path = typer.Argument(..., help="Trained pipeline folder (e.g. training/politics/model-best)"),
    output_dir: Path = typer.Argument(..., help="Folder for the package (created)"),
    name: str = typer.Option(..., "--name", help="Package name, e.g. nerbert_politics (importable name)"),
    version: str = typer.Option("0.0.1", "--version", help="Package version"),
    description: Optional[str] = typer.Option(None, "--description"),
    license_: str = typer.Option("MIT", "--license", help="Licence of the pipeline"),
    source: List[str] = typer.Option(
        [], "--source", help="Data source 'name|url|license' (repeatable)"
    ),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="Encoder name for the meta (default: from config)"),
    metrics: Optional[Path] = typer.Option(None, "--metrics", help="JSON of nerbert evaluate: test scores for the meta"),
    build: str = typer.Option("sdist", "--build", help="spacy package --build: sdist, wheel, sdist,wheel or none"),
) -> None:
    """Package a trained pipeline with spacy package under exactly NAME (meta: labels, scores, encoder, sources, licence)."""
    from ..export.package import build_package

    result = build_package(
        model,
        output_dir,
        name=name,
        version=version,
        description=description,
        license=license_,
        sources=source,
        encoder=encoder,
        metrics=metrics,
        build=build,
    )
    typer.echo(f"package {name} {version}: {result['package_dir']}")
    for art in result["artifacts"]:
        typer.echo(f"  built {art}")
