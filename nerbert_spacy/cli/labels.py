"""``nerbert labels``: label sets, target-schema mappings, zero-shot evaluation
and infobox typing."""
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import NerbertError
from ..labels import ENTITY
from ._util import App, ontology_option, output_option

app = App(
    help="Label sets, mapping a target schema onto the pretrained types, zero-shot evaluation, infobox types.",
    no_args_is_help=True,
)


def _ontology(path: Optional[Path]):
    if path is None:
        return None
    from ..dbpedia.ontology import Ontology

    return Ontology.load(path)


@app.command("map")
def map_cmd(
    target_labels: Optional[List[str]] = typer.Argument(None, help="Target schema labels (or use --from-data)."),
    pretrained: str = typer.Option(
        ..., "--pretrained", "-p", help="Pretrained pipeline dir, label file (one per line / JSON list), or 315|212|4."
    ),
    ontology: Optional[Path] = ontology_option(None, "DBpedia ontology (.owl/.nt/.ttl)."),
    overrides: Optional[str] = typer.Option(
        None, "--overrides", help="Override file (JSON/YAML) or a bundled name such as crossner-politics."
    ),
    from_data: Optional[Path] = typer.Option(None, "--from-data", help="Take target labels from this DocBin's doc.ents."),
    output: Path = output_option(..., "Mapping JSON to write."),
    lenient: bool = typer.Option(False, "--lenient", help="Skip (and note) override labels that do not exist."),
    keep_entity: bool = typer.Option(
        False, "--keep-entity/--drop-entity",
        help="ENTITY (anchors with no DBpedia type): dropped by default, so zero-shot --unmapped misc never turns "
        "every untyped prediction into misc; --keep-entity lets it follow --unmapped.",
    ),
) -> None:
    """Map target labels onto a pretrained label set (exact, synonym, descendant, ancestor, override)."""
    from ..mapping import map_labels

    result = map_labels(
        target_labels, pretrained, output, ontology=_ontology(ontology), overrides=overrides, from_data=from_data,
        strict=not lenient, keep_entity=keep_entity,
    )
    _print_mapping(result.mapping, result.candidates)
    if result.left_on_purpose:
        typer.echo(
            f"left unmapped on purpose (intentionally_unmapped in {result.overrides}): {', '.join(result.left_on_purpose)}"
        )
    typer.echo(f"wrote {output}")
    if result.edit is not None:
        typer.echo(f'to map them: edit {result.edit} (pretrained labels under "map") and rerun with --overrides {result.edit}')


def _print_mapping(mapping, candidates=None) -> None:
    width = max([len(t) for t in mapping.targets] + [6])
    typer.echo(f"{'target'.ljust(width)}  {'rule':<10}  pretrained")
    for t in mapping.targets:
        pairs = mapping.pairs.get(t, {})
        if not pairs:
            typer.echo(f"{t.ljust(width)}  {'-':<10}  (unmapped)")
            continue
        by_rule = {}
        for p, r in pairs.items():
            by_rule.setdefault(r, []).append(p)
        first = True
        for r, ps in by_rule.items():
            typer.echo(f"{(t if first else '').ljust(width)}  {r:<10}  {', '.join(ps)}")
            first = False
    c = mapping.counts()
    typer.echo(
        f"pairs: {c['exact']} exact, {c['synonym']} synonym, {c['descendant']} descendant, {c['ancestor']} ancestor, "
        f"{c['override']} override"
    )
    typer.echo(f"unmapped target labels ({len(mapping.unmapped_target)}): {', '.join(mapping.unmapped_target) or '-'}")
    for t, cands in (candidates or {}).items():
        shown = [f"{p} (now {mapping.target_of(p)})" if mapping.target_of(p) else p for p in cands]
        typer.echo(f"  {t}: closest pretrained labels: {', '.join(shown) or '-'}")
    typer.echo(
        f"unmapped pretrained labels ({len(mapping.unmapped_pretrained)}): "
        f"{', '.join(mapping.unmapped_pretrained) or '-'}"
    )
    if mapping.dropped:
        why = {ENTITY: f"{ENTITY} (anchors with no DBpedia type; --keep-entity keeps it)"}
        typer.echo(
            f"dropped ({len(mapping.dropped)}): {', '.join(why.get(p, p) for p in mapping.dropped)}; "
            "never turned into the zero-shot --unmapped label"
        )
    for note in mapping.notes:
        typer.echo(f"note: {note}")


@app.command("show")
def show_cmd(mapping_path: Path = typer.Argument(..., help="Mapping JSON/YAML.")) -> None:
    """Print a mapping as a table, with the unmapped labels."""
    from ..mapping import LabelMapping

    _print_mapping(LabelMapping.load(mapping_path))


@app.command("list")
def list_cmd(
    name: str = typer.Argument(..., help="Label set: 315, 212 or 4."),
    ontology: Optional[Path] = ontology_option(None, "DBpedia ontology (needed for 212 and 4)."),
) -> None:
    """List the labels of one of the paper's label sets."""
    from ..mapping import label_set_labels

    if name not in ("315", "212", "4"):
        raise NerbertError(f"unknown label set '{name}' (valid: 315, 212, 4)")
    labels = label_set_labels(name, _ontology(ontology))
    for label in labels:
        typer.echo(label)
    typer.echo(f"{len(labels)} labels", err=True)


@app.command("relabel")
def relabel_cmd(
    corpus: Path = typer.Argument(..., help="Balanced 315-type corpus folder (train/, dev/ of `nerbert corpus balance`)."),
    to: str = typer.Option(..., "--to", help="Coarser label set: 212 or 4."),
    ontology: Path = ontology_option(..., "DBpedia ontology the compression follows."),
    output: Path = output_option(..., "Output folder (train/, dev/, relabel.json)."),
) -> None:
    """The same corpus (sentences, spans, split) under the 212- or 4-type label set (Table 2's ablations)."""
    from ..corpus.relabel import relabel_corpus

    if to not in ("315", "212", "4"):
        raise NerbertError(f"unknown label set '{to}' (valid: 315, 212, 4)")
    summary = relabel_corpus(corpus, to, _ontology(ontology), output)
    sizes = ", ".join(f"{k} {v['sentences']}" for k, v in summary["splits"].items())
    typer.echo(f"{sizes} sentences -> {output}; {len(summary['labels'])} labels: "
               f"{', '.join(list(summary['labels'])[:12])}{' ...' if len(summary['labels']) > 12 else ''}")


@app.command("zeroshot")
def zeroshot_cmd(
    pretrained: str = typer.Argument(..., help="Pretrained NER-BERT pipeline."),
    test: Path = typer.Argument(..., help="Gold test DocBin (.spacy)."),
    mapping: str = typer.Option(..., "--mapping", "-m", help="Mapping JSON (nerbert labels map)."),
    unmapped: str = typer.Option("drop", "--unmapped", help='"drop" or the label for unmapped types, e.g. misc.'),
    output: Optional[Path] = output_option(None, "Scores JSON to write."),
    save_pipeline: Optional[Path] = typer.Option(None, "--save-pipeline", help="Also save the zero-shot pipeline here."),
    limit: int = typer.Option(0, "--limit", help="Evaluate only the first N docs (0: all)."),
) -> None:
    """Zero-shot: run a pretrained pipeline, collapse its types through the mapping, score."""
    from ..pipeline.label_mapper import evaluate_zero_shot, zero_shot_pipeline
    from ..util import write_json_atomic

    nlp = zero_shot_pipeline(pretrained, mapping, unmapped=unmapped)
    scores = evaluate_zero_shot(nlp, test, limit=limit)
    result = {
        "pretrained": str(pretrained),
        "test": str(test),
        "mapping": str(mapping),
        "unmapped": unmapped,
        **scores,
    }
    if output is not None:
        write_json_atomic(output, result)
    if save_pipeline is not None:
        nlp.to_disk(save_pipeline)
    typer.echo(
        f"zero-shot on {scores.get('n_sentences')} docs: P {scores['precision']:.4f}  R {scores['recall']:.4f}  "
        f"F1 {scores['f1']:.4f}" + (f"  -> {output}" if output else "")
    )


@app.command("infobox-types")
def infobox_types_cmd(
    dumps: List[Path] = typer.Argument(..., help="Wikipedia pages-articles dumps (.xml/.bz2)."),
    mappings: Path = typer.Option(..., "--mappings", help="DBpedia infobox mappings (Mapping_en.xml)."),
    output: Path = output_option(..., "N-Triples type file to write (.nt or .nt.bz2)."),
    ontology: Optional[Path] = ontology_option(None, "DBpedia ontology (recommended)."),
    instance_types: Optional[List[Path]] = typer.Option(
        None, "--instance-types", help="Instance-types files that take precedence: write only the gaps they leave."
    ),
    exact_case: bool = typer.Option(False, "--exact-case", help="No case-insensitive template name fallback."),
    template_redirects: bool = typer.Option(
        False, "--template-redirects", help="First read Template: redirects from the dumps (full dumps have them)."
    ),
) -> None:
    """Type articles from their infobox templates; write N-Triples for TypeIndex.build."""
    from ..dbpedia.infobox import write_infobox_types

    stats = write_infobox_types(
        dumps, mappings, output, ontology=_ontology(ontology), instance_types=instance_types,
        case_insensitive=not exact_case, template_redirects=template_redirects, progress=typer.echo,
    )
    for err in stats.get("errors", []):
        typer.echo(f"warning: {err}", err=True)
    typer.echo(
        f"{stats.get('articles', 0)} articles, {stats.get('articles_typed', 0)} typed by infobox, "
        f"{stats.get('skipped_already_typed', 0)} left to the instance types, "
        f"{stats.get('entities_written', 0)} written ({stats.get('triples', 0)} triples) -> {output}"
    )


@app.command("infobox-agreement")
def infobox_agreement_cmd(
    dumps: List[Path] = typer.Argument(..., help="Wikipedia dumps."),
    mappings: Path = typer.Option(..., "--mappings", help="DBpedia infobox mappings (Mapping_en.xml)."),
    instance_types: List[Path] = typer.Option(..., "--instance-types", help="Reference instance-types files."),
    ontology: Path = ontology_option(..., "DBpedia ontology."),
    output: Optional[Path] = output_option(None, "JSON with the numbers."),
) -> None:
    """Agreement of infobox types with instance types on the articles both type."""
    from ..dbpedia.infobox import agreement_with_instance_types
    from ..util import write_json_atomic

    result = agreement_with_instance_types(dumps, mappings, instance_types, _ontology(ontology))
    if output is not None:
        write_json_atomic(output, result)
    typer.echo(f"{'dump':<60} {'articles':>8} {'infobox':>8} {'ref':>6} {'both':>6} {'exact':>7} {'up-to-anc':>9}")
    for name, r in [*result["dumps"].items(), ("TOTAL", result["total"])]:
        ex = f"{r['exact_rate']:.3f}" if r["exact_rate"] is not None else "-"
        up = f"{r['up_to_ancestors_rate']:.3f}" if r["up_to_ancestors_rate"] is not None else "-"
        typer.echo(
            f"{name[:60]:<60} {r['articles']:>8} {r['infobox_typed']:>8} {r['reference_typed']:>6} {r['both']:>6} {ex:>7} {up:>9}"
        )
