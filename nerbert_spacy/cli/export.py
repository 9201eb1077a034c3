"""``nerbert export`` / ``nerbert import`` / ``nerbert package``: annotation-tool
round trip and pipeline packaging. Thin: parse, call ``nerbert_spacy.export``, print."""
from pathlib import Path
from typing import List, Optional

import typer

FORMAT_HELP = "prodigy | labelstudio | doccano | brat | conll"


def register(app: typer.Typer) -> None:
    """Add this module's top-level commands to the root app."""

    @app.command("export")
    def export_cmd(
        input_path: Path = typer.Argument(..., help="DocBin (.spacy) or folder of them; with --model/--gazetteer also .txt or .jsonl"),
        fmt: str = typer.Option(..., "--format", "-f", help=FORMAT_HELP),
        output: Path = typer.Option(..., "--output", "-o", help="Output file (folder for brat)"),
        model: Optional[str] = typer.Option(None, "--model", "-m", help="Pipeline (name or path) to run over the input"),
        spans_key: Optional[str] = typer.Option(None, "--spans-key", help="Export doc.spans[KEY] instead of doc.ents"),
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
        lang: str = typer.Option("en", "--lang", help="Language of the blank pipeline when no --model is given"),
        text_unit: str = typer.Option("line", "--text-unit", help="For .txt input: one doc per 'line' or 'paragraph'"),
        doccano_shape: str = typer.Option("label", "--doccano-shape", help="Doccano: 'label' or 'entities'"),
    ) -> None:
        """Export weak labels or a pipeline's predictions to an annotation tool's format."""
        import spacy

        from ..errors import NerbertError
        from ..export import export_docs, get_format

        get_format(fmt)
        nlp = None
        if model is not None:
            try:
                nlp = spacy.load(model)
            except OSError as err:
                raise NerbertError(f"cannot load pipeline: {err}", model) from None
        if gazetteer is not None or types is not None:
            nlp = nlp if nlp is not None else spacy.blank(lang)
            if "dbpedia_labeller" in nlp.pipe_names:
                labeller = nlp.get_pipe("dbpedia_labeller")
            else:
                labeller = nlp.add_pipe("dbpedia_labeller")
            labeller.initialize(
                gazetteer=gazetteer, types=types, ontology=ontology, label_set=label_set, redirects=redirects
            )
            source = ", ".join(str(p) for p in (gazetteer, types) if p is not None)
            typer.echo(f"gazetteer: {len(labeller.gazetteer)} names from {source}")
        opts = {"shape": doccano_shape} if fmt == "doccano" else {}
        stats = export_docs(
            input_path, fmt, output, nlp=nlp, spans_key=spans_key, lang=lang, text_unit=text_unit, **opts
        )
        extra = "".join(f", {k}: {v}" for k, v in stats.items() if k not in ("docs", "spans") and v)
        typer.echo(f"wrote {stats['docs']} docs, {stats['spans']} spans as {fmt} to {output}{extra}")
        if fmt == "labelstudio":
            from ..export.labelstudio import config_path_for

            typer.echo(f"labelling config: {config_path_for(output)}")

    @app.command("import")
    def import_cmd(
        path: Path = typer.Argument(..., help="The tool's export (file, or folder for brat)"),
        fmt: str = typer.Option(..., "--format", "-f", help=FORMAT_HELP),
        output: Path = typer.Option(..., "--output", "-o", help="Output DocBin (.spacy)"),
        lang: str = typer.Option("en", "--lang", help="Language whose tokenizer maps the spans onto tokens"),
        model: Optional[str] = typer.Option(None, "--model", "-m", help="Use this pipeline's tokenizer instead"),
        snap: bool = typer.Option(False, "--snap", help="Expand spans not on token edges instead of skipping them"),
        spans_key: Optional[str] = typer.Option(None, "--spans-key", help="Also keep all spans in doc.spans[KEY]"),
        predictions: bool = typer.Option(
            False, "--predictions", help="Label Studio: use predictions for tasks without annotations"
        ),
        report_path: Optional[Path] = typer.Option(None, "--report", help="Write the full report as JSON here"),
        show: int = typer.Option(20, "--show", help="Print at most this many report entries"),
    ) -> None:
        """Import an annotation tool's file into a DocBin, reporting every span not taken as is."""
        import spacy

        from ..errors import NerbertError
        from ..export import import_docs
        from ..util import write_json_atomic

        nlp = None
        if model is not None:
            try:
                nlp = spacy.load(model)
            except OSError as err:
                raise NerbertError(f"cannot load pipeline: {err}", model) from None
        opts = {"snap": snap, "spans_key": spans_key}
        if fmt == "labelstudio":
            opts["use_predictions"] = predictions
        report = import_docs(path, fmt, output, nlp=nlp, lang=lang, **opts)
        for issue in report.issues[:show]:
            typer.echo(str(issue))
        if len(report.issues) > show:
            typer.echo(f"... {len(report.issues) - show} more report entries" + (f" in {report_path}" if report_path else ""))
        if report_path is not None:
            write_json_atomic(report_path, report.to_dict())
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
