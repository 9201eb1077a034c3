"""``nerbert evaluate`` (seqeval F1 of a pipeline on a test DocBin) and
``nerbert grid`` (the paper's experiment grid with resume and Table-2 report)."""
import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ._util import App, gpu_id_option, output_option

app = App()


@app.command("evaluate")
def evaluate(
    model: str = typer.Argument(..., help="Pipeline directory or installed package"),
    test: Path = typer.Argument(..., help="Test DocBin with gold entities"),
    output: Optional[Path] = output_option(None, "Write the scores as JSON"),
    gpu_id: int = gpu_id_option(-1),
    batch_size: int = typer.Option(64, "--batch-size", help="Batch size for prediction"),
    strict: bool = typer.Option(False, "--strict", help="seqeval strict IOB2 mode instead of the default mode"),
) -> None:
    """seqeval micro F1 (BIO, as the paper) and per-type P/R/F of MODEL on TEST."""
    from ..evaluation import evaluate_pipeline, render_per_type
    from ..util import write_json_atomic

    result = evaluate_pipeline(model, test, batch_size=batch_size, gpu_id=gpu_id, mode="strict" if strict else None)
    missing = result.get("gold_labels_not_predictable") or []
    if missing:
        n_gold = len(result["gold_labels"])
        typer.secho(f"warning: the model cannot produce {len(missing)} of the {n_gold} gold labels: "
                    f"{', '.join(missing)} (their recall is 0)", fg=typer.colors.YELLOW, err=True)
    typer.echo(render_per_type(result))
    typer.echo(f"F1 {100 * result['f1']:.2f}  P {100 * result['precision']:.2f}  R {100 * result['recall']:.2f}  "
               f"({result['n_sentences']} sentences, {result['n_gold']} gold / {result['n_pred']} predicted entities, "
               f"{result['words_per_second']} words/s)")
    if output is not None:
        write_json_atomic(output, result)
        typer.echo(f"wrote {output}")


@app.command("grid")
def grid(
    spec_file: Optional[Path] = typer.Option(None, "--spec", help="Grid file (YAML/JSON); options below override it"),
    domain: List[str] = typer.Option([], "--domain", "-d", help="NAME=CORPUS_DIR (from `nerbert data convert`); repeatable"),
    arm: List[str] = typer.Option([], "--arm", "-a", help="NAME=PRETRAINED_PIPELINE or NAME=null; repeatable"),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Seeds, e.g. 1,2,3 or 1-5 (default 1-5)"),
    setting: List[str] = typer.Option([], "--setting", help="target and/or source-target (default target)"),
    few_shot: List[str] = typer.Option([], "--few-shot", help="Few-shot size (50 or 10%); repeatable"),
    no_full: bool = typer.Option(False, "--no-full", help="Only few-shot runs, no full-training-set runs"),
    source_corpus: Optional[str] = typer.Option(None, "--source-corpus", help="Converted conll2003 folder (source-target)"),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="Fine-tuning config (default configs/finetune.cfg)"),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="paths.encoder override (transformer dir/name)"),
    name: Optional[str] = typer.Option(None, "--name", help="Grid name: docs/results/<name>.md (default grid)"),
    results_dir: Optional[str] = typer.Option(None, "--results-dir", help="Result JSONs (default results/<name>)"),
    work_dir: Optional[str] = typer.Option(None, "--work-dir", help="Models and logs (default training/grid/<name>)"),
    docs_dir: Optional[str] = typer.Option(None, "--docs-dir", help="Where the markdown report goes (default docs/results)"),
    keep_models: bool = typer.Option(False, "--keep-models", help="Keep trained models (default: delete after evaluation)"),
    gpu_id: Optional[int] = gpu_id_option(None),
    max_epochs: Optional[int] = typer.Option(None, "--max-epochs", help="training.max_epochs override"),
    patience: Optional[int] = typer.Option(None, "--patience", help="training.patience override"),
    set_: List[str] = typer.Option([], "--set", help="Config override KEY=VALUE for every run; repeatable"),
    source_set: List[str] = typer.Option([], "--source-set", help="Override KEY=VALUE for CoNLL source training only"),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the runs and whether they are done; run nothing"),
    report_only: bool = typer.Option(False, "--report-only", help="Only rewrite the markdown report from existing results"),
    rerun_stale: bool = typer.Option(
        False, "--rerun-stale",
        help="Run again the results fine-tuned from other weights than the arm's pretrained pipeline now "
             "(the old result is kept as seed<N>.stale-<fingerprint>.json)"),
) -> None:
    """Run the experiment grid (domains x arms x seeds x settings, optionally x few-shot sizes); resumable.

    Several processes can run one grid at once (e.g. one per core, or per machine on a shared disk):
    each claims a run before training it and passes over the runs that another one holds.
    """
    from ..grid import (
        claim_holder,
        claim_path,
        load_spec,
        missing_inputs,
        parse_assignment,
        parse_override_value,
        parse_seeds,
        plan_status,
        run_grid,
        stale_results,
        whole_grid,
        write_grid_report,
    )

    domains = dict(parse_assignment(d, "--domain") for d in domain)
    arms = dict(parse_assignment(a, "--arm") for a in arm)
    overrides = {k: parse_override_value(v) for k, v in (parse_assignment(s, "--set") for s in set_)}
    if max_epochs is not None:
        overrides["training.max_epochs"] = max_epochs
    if patience is not None:
        overrides["training.patience"] = patience
    source_overrides = {k: parse_override_value(v) for k, v in (parse_assignment(s, "--source-set") for s in source_set)}
    spec = load_spec(
        spec_file,
        name=name, config=config, domains=domains, arms=arms,
        seeds=parse_seeds(seeds) if seeds else None, settings=list(setting), few_shot=list(few_shot),
        full=False if no_full else None, source_corpus=source_corpus, encoder=encoder,
        overrides=overrides, source_overrides=source_overrides, results_dir=results_dir, work_dir=work_dir,
        docs_dir=docs_dir, keep_models=True if keep_models else None, gpu_id=gpu_id,
        command="nerbert grid " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["grid"] else None,
    )
    if dry_run:
        status = plan_status(spec)
        stale = {run.key: (recorded, now) for run, recorded, now in stale_results(spec)}
        for run, ok in status:
            note = ""
            holder = None if ok else claim_holder(claim_path(run.log_path))
            if holder:
                note = f"  (running: {holder})"
            if run.key in stale:
                recorded, now = stale[run.key]
                note = f"  (stale: fine-tuned from {recorded or 'unrecorded'} weights, the pipeline is now {now})"
            typer.echo(f"{'done ' if ok else 'todo '} {run.key}{note}")
        typer.echo(f"{sum(ok for _, ok in status)}/{len(status)} runs done"
                   + (f", {len(stale)} of them stale (--rerun-stale runs them again)" if stale else ""))
        for what in missing_inputs(spec):
            typer.secho(f"missing: {what}", fg=typer.colors.RED, err=True)
        return
    if report_only:
        md, png = write_grid_report(whole_grid(spec))
        typer.echo(f"wrote {md}" + (f" and {png}" if png else ""))
        return
    report = run_grid(spec, progress=typer.echo, rerun_stale=rerun_stale)
    typer.echo(f"{len(report.done)} runs done, {len(report.skipped)} skipped (results exist), "
               + (f"{len(report.busy)} left to other processes, " if report.busy else "")
               + f"{len(report.failed)} failed, in {report.seconds / 60:.1f} min")
    for key, why, log in report.failed:
        typer.secho(f"failed: {key}: {why}" + (f" (log: {log})" if log else ""), fg=typer.colors.RED, err=True)
    typer.echo(f"wrote {report.markdown}" + (f" and {report.plot}" if report.plot else ""))
    if report.failed:
        raise typer.Exit(code=1)

