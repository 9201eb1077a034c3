"""Every option of every ``nerbert`` command reaches the library call it is for.

(A past bug: ``corpus build --blocks-per-unit`` was accepted and never passed on.)

For each command of the Typer tree, ``CASES`` holds one or more runs. A run sets
parameters to values other than their defaults, replaces the library functions the
command calls with recorders, and says, parameter by parameter, what a recorder must
have received. The test walks the Click tree: a command without a case, a parameter
that no run sets, or a run whose expectations do not name exactly the parameters it
sets, fails it, so a new option comes with a line here.
"""
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import pytest
import typer.main

from nerbert_spacy.cli import app

# --------------------------------------------------------------------------- machinery


class Recorder:
    """Stands in for a library function: records its calls, returns ``returns``
    (called with the same arguments when it is a function)."""

    def __init__(self, returns: Any = None) -> None:
        self.returns = returns
        self.calls: List[Tuple[tuple, dict]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        return self.returns(*args, **kwargs) if callable(self.returns) else self.returns


Where = Union[int, str]  # a positional index or a keyword name
# an expectation: (recorder name, where, value), or a check of (recorders, output, tmp)
Expect = Union[Tuple[str, Where, Any], Callable[[Dict[str, Recorder], str, Path], None]]


@dataclass
class Run:
    args: Dict[str, List[str]]  # parameter name -> its command-line words, in order
    expect: Dict[str, Expect]  # parameter name -> what shows it arrived
    patches: Dict[str, Recorder] = field(default_factory=dict)  # "module:attr" -> recorder; names without ":" are only named
    setup: Optional[Callable[[Path], None]] = None


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, Path) or isinstance(got, Path):
        return got is not None and str(Path(got)) == str(Path(want))
    if isinstance(want, (list, tuple)) and isinstance(got, (list, tuple)):
        return len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want))
    return got == want


def _received(recorder: Recorder, where: Where) -> Any:
    assert recorder.calls, "the library function was never called"
    args, kwargs = recorder.calls[-1]
    if isinstance(where, int):
        return args[where]
    assert where in kwargs, f"keyword {where!r} not passed (got {sorted(kwargs)})"
    return kwargs[where]


def _commands(command, path=()) -> Dict[str, Any]:
    """Leaf commands of the Click tree by their space-separated path."""
    subs = getattr(command, "commands", None)
    if subs is None:
        return {" ".join(path): command}
    out: Dict[str, Any] = {}
    for name, sub in subs.items():
        out.update(_commands(sub, (*path, name)))
    return out


COMMANDS = _commands(typer.main.get_command(app))


def ns(**kw: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(**kw)


ONTO = Recorder(lambda path: ("ontology", str(path)))  # Ontology.load, shared by the labels commands


def onto(path: Path) -> Tuple[str, str]:
    return ("ontology", str(path))


# --------------------------------------------------------------------------- top level


def case_evaluate(tmp: Path) -> List[Run]:
    result = {"gold_labels_not_predictable": [], "gold_labels": ["A"], "f1": 1.0, "precision": 1.0, "recall": 1.0,
              "n_sentences": 1, "n_gold": 1, "n_pred": 1, "words_per_second": 1}
    ev = "nerbert_spacy.evaluation:evaluate_pipeline"
    return [Run(
        args={"model": ["m1"], "test": [str(tmp / "t.spacy")], "output": ["-o", str(tmp / "s.json")],
              "gpu_id": ["-g", "2"], "batch_size": ["--batch-size", "7"], "strict": ["--strict"]},
        expect={"model": (ev, 0, "m1"), "test": (ev, 1, tmp / "t.spacy"), "output": ("nerbert_spacy.util:write_json_atomic", 0, tmp / "s.json"),
                "gpu_id": (ev, "gpu_id", 2), "batch_size": (ev, "batch_size", 7), "strict": (ev, "mode", "strict")},
        patches={ev: Recorder(result), "nerbert_spacy.evaluation:render_per_type": Recorder(""),
                 "nerbert_spacy.util:write_json_atomic": Recorder()},
    )]


def case_grid(tmp: Path) -> List[Run]:
    spec = "nerbert_spacy.grid:load_spec"
    report = ns(done=[], skipped=[], busy=[], failed=[], seconds=0.0, markdown="g.md", plot=None)

    def overrides(key: str, value: Any) -> Callable:
        def check(rec: Dict[str, Recorder], out: str, tmp: Path) -> None:
            assert _received(rec[spec], "overrides")[key] == value

        return check

    full = Run(
        args={
            "spec_file": ["--spec", str(tmp / "g.yml")], "domain": ["-d", "politics=data/p"], "arm": ["-a", "base=null"],
            "seeds": ["--seeds", "2,3"], "setting": ["--setting", "source-target"], "few_shot": ["--few-shot", "50"],
            "no_full": ["--no-full"], "source_corpus": ["--source-corpus", "data/conll"], "config": ["-c", "ft.cfg"],
            "encoder": ["--encoder", "enc"], "name": ["--name", "g1"], "results_dir": ["--results-dir", "r"],
            "work_dir": ["--work-dir", "w"], "docs_dir": ["--docs-dir", "d"], "keep_models": ["--keep-models"],
            "gpu_id": ["-g", "1"], "max_epochs": ["--max-epochs", "3"], "patience": ["--patience", "2"],
            "set_": ["--set", "training.dropout=0.2"], "source_set": ["--source-set", "training.max_steps=9"],
            "rerun_stale": ["--rerun-stale"],
        },
        expect={
            "spec_file": (spec, 0, tmp / "g.yml"), "domain": (spec, "domains", {"politics": "data/p"}),
            "arm": (spec, "arms", {"base": "null"}), "seeds": (spec, "seeds", [2, 3]),
            "setting": (spec, "settings", ["source-target"]), "few_shot": (spec, "few_shot", ["50"]),
            "no_full": (spec, "full", False), "source_corpus": (spec, "source_corpus", "data/conll"),
            "config": (spec, "config", "ft.cfg"), "encoder": (spec, "encoder", "enc"), "name": (spec, "name", "g1"),
            "results_dir": (spec, "results_dir", "r"), "work_dir": (spec, "work_dir", "w"),
            "docs_dir": (spec, "docs_dir", "d"), "keep_models": (spec, "keep_models", True),
            "gpu_id": (spec, "gpu_id", 1), "max_epochs": overrides("training.max_epochs", 3),
            "patience": overrides("training.patience", 2), "set_": overrides("training.dropout", 0.2),
            "source_set": (spec, "source_overrides", {"training.max_steps": 9}),
            "rerun_stale": ("nerbert_spacy.grid:run_grid", "rerun_stale", True),
        },
        patches={spec: Recorder("SPEC"), "nerbert_spacy.grid:run_grid": Recorder(report)},
    )
    dry = Run(args={"dry_run": ["--dry-run"]}, expect={"dry_run": ("nerbert_spacy.grid:plan_status", 0, "SPEC")},
              patches={spec: Recorder("SPEC"), "nerbert_spacy.grid:plan_status": Recorder([]),
                       "nerbert_spacy.grid:stale_results": Recorder([]),
                       "nerbert_spacy.grid:missing_inputs": Recorder([])})
    report_only = Run(
        args={"report_only": ["--report-only"]},
        expect={"report_only": ("nerbert_spacy.grid:write_grid_report", 0, "WHOLE")},
        patches={spec: Recorder("SPEC"), "nerbert_spacy.grid:whole_grid": Recorder("WHOLE"),
                 "nerbert_spacy.grid:write_grid_report": Recorder(("g.md", None))},
    )
    return [full, dry, report_only]


def case_export(tmp: Path) -> List[Run]:
    lab, exp = "nerbert_spacy.export.labelling:labelling_pipeline", "nerbert_spacy.export:export_docs"
    nlp = ns(get_pipe=lambda name: ns(gazetteer=["a", "b"]))
    stats = {"docs": 1, "spans": 1, "label_source": "corpus", "labels": 1, "labels_not_in_set": 0}
    return [Run(
        args={
            "input_path": [str(tmp / "in.txt")], "fmt": ["-f", "doccano"], "output": ["-o", str(tmp / "o.jsonl")],
            "model": ["-m", "m1"], "spans_key": ["--spans-key", "sk"], "gazetteer": ["--gazetteer", str(tmp / "g.jsonl")],
            "types": ["--types", str(tmp / "t.nt")], "ontology": ["--ontology", str(tmp / "o.owl")],
            "label_set": ["--label-set", "4"], "redirects": ["--redirects", str(tmp / "r.ttl")], "lang": ["--lang", "de"],
            "text_unit": ["--text-unit", "paragraph"], "doccano_shape": ["--doccano-shape", "entities"],
            "labels": ["--labels", "a,b"], "order": ["--order", "uncertainty"],
        },
        expect={
            "input_path": (exp, 0, tmp / "in.txt"), "fmt": (exp, 1, "doccano"), "output": (exp, 2, tmp / "o.jsonl"),
            "model": (lab, 0, "m1"), "spans_key": (exp, "spans_key", "sk"), "gazetteer": (lab, "gazetteer", tmp / "g.jsonl"),
            "types": (lab, "types", tmp / "t.nt"), "ontology": (lab, "ontology", tmp / "o.owl"),
            "label_set": (lab, "label_set", "4"), "redirects": (lab, "redirects", tmp / "r.ttl"),
            "lang": lambda rec, out, tmp: (_received(rec[lab], "lang"), _received(rec[exp], "lang")) == ("de", "de"),
            "text_unit": (exp, "text_unit", "paragraph"), "doccano_shape": (exp, "shape", "entities"),
            "labels": (exp, "labels", ["a", "b"]), "order": (exp, "order", "uncertainty"),
        },
        patches={lab: Recorder(nlp), exp: Recorder(stats)},
    )]


def case_import(tmp: Path) -> List[Run]:
    imp, load = "nerbert_spacy.export:import_docs", "nerbert_spacy.export:load_pipeline"
    issues = ["issue one", "issue two"]
    report = ns(issues=issues, summary=lambda: "2 records")

    def patches() -> Dict[str, Recorder]:
        return {imp: Recorder(report), load: Recorder("NLP")}

    def shown_one(rec: Dict[str, Recorder], out: str, tmp: Path) -> None:
        assert "issue one" in out and "issue two" not in out and "1 more report entries" in out

    labelstudio = Run(
        args={"path": [str(tmp / "ls.json")], "fmt": ["-f", "labelstudio"], "output": ["-o", str(tmp / "b.spacy")],
              "lang": ["--lang", "de"], "model": ["-m", "m1"], "snap": ["--snap"], "spans_key": ["--spans-key", "sk"],
              "predictions": ["--predictions"], "report_path": ["--report", str(tmp / "r.json")], "show": ["--show", "1"]},
        expect={"path": (imp, 0, tmp / "ls.json"), "fmt": (imp, 1, "labelstudio"), "output": (imp, 2, tmp / "b.spacy"),
                "lang": (imp, "lang", "de"), "model": (load, 0, "m1"), "snap": (imp, "snap", True),
                "spans_key": (imp, "spans_key", "sk"), "predictions": (imp, "use_predictions", True),
                "report_path": (imp, "report_path", tmp / "r.json"), "show": shown_one},
        patches=patches(),
    )
    doccano = Run(
        args={"fmt": ["-f", "doccano"], "doccano_labels": ["--doccano-labels", str(tmp / "labels.json")]},
        expect={"fmt": (imp, 1, "doccano"), "doccano_labels": (imp, "label_map", tmp / "labels.json")},
        patches=patches(),
    )
    prodigy = Run(
        args={"fmt": ["-f", "prodigy"], "conflicts": ["--conflicts", "both"]},
        expect={"fmt": (imp, 1, "prodigy"), "conflicts": (imp, "conflicts", "both")},
        patches=patches(),
    )
    for run in (doccano, prodigy):  # the required ones
        run.args = {"path": [str(tmp / "x.jsonl")], "output": ["-o", str(tmp / "b.spacy")], **run.args}
        run.expect = {"path": (imp, 0, tmp / "x.jsonl"), "output": (imp, 2, tmp / "b.spacy"), **run.expect}
    return [labelstudio, doccano, prodigy]


def case_package(tmp: Path) -> List[Run]:
    pkg = "nerbert_spacy.export.package:build_package"
    return [Run(
        args={"model": [str(tmp / "model")], "output_dir": [str(tmp / "pkg")], "name": ["--name", "nerbert_x"],
              "version": ["--version", "1.2.3"], "description": ["--description", "desc"],
              "license_": ["--license", "CC-BY-4.0"], "source": ["--source", "a|b|c", "--source", "d|e|f"],
              "encoder": ["--encoder", "enc"], "metrics": ["--metrics", str(tmp / "m.json")], "build": ["--build", "wheel"]},
        expect={"model": (pkg, 0, tmp / "model"), "output_dir": (pkg, 1, tmp / "pkg"), "name": (pkg, "name", "nerbert_x"),
                "version": (pkg, "version", "1.2.3"), "description": (pkg, "description", "desc"),
                "license_": (pkg, "license", "CC-BY-4.0"), "source": (pkg, "sources", ["a|b|c", "d|e|f"]),
                "encoder": (pkg, "encoder", "enc"), "metrics": (pkg, "metrics", tmp / "m.json"), "build": (pkg, "build", "wheel")},
        patches={pkg: Recorder({"package_dir": "p", "artifacts": []})},
    )]


# --------------------------------------------------------------------------- corpus


class FakeRunner:
    def __init__(self, scheduler: str, workers: int) -> None:
        self.scheduler, self.workers = scheduler, workers

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def case_corpus_build(tmp: Path) -> List[Run]:
    build = "nerbert_spacy.corpus.build:build_corpus"
    stats = {"errors": [], "errors_total": 0, "timings": {"resumed_units": 0}, "pages": 1, "articles": 1, "redirects": 0,
             "bad_pages": 0, "sentences": 1, "sentences_kept": 1, "anchors": 1, "typed": 1, "ENTITY": 0, "unaligned": 0,
             "categories_after": {}, "units": 1}

    def runner(attr: str, value: Any) -> Callable:
        def check(rec: Dict[str, Recorder], out: str, tmp: Path) -> None:
            assert getattr(_received(rec[build], "runner"), attr) == value

        return check

    def quiet(rec: Dict[str, Recorder], out: str, tmp: Path) -> None:
        assert _received(rec[build], "progress").enabled is False

    dumps = [str(tmp / "a.xml.bz2"), str(tmp / "b.xml.bz2")]
    return [Run(
        args={"dumps": dumps, "ontology": ["--ontology", str(tmp / "o.ttl")],
              "types": ["--types", str(tmp / "t1.nt"), "--types", str(tmp / "t2.nt")],
              "redirects": ["--redirects", str(tmp / "r.ttl")], "output": ["--output", str(tmp / "out")],
              "labels": ["--labels", "4"], "seed": ["--seed", "7"], "workers": ["--workers", "3"],
              "scheduler": ["--scheduler", "local"], "splitter": ["--splitter", "pysbd"],
              "expand_unaligned": ["--expand-unaligned"], "blocks_per_unit": ["--blocks-per-unit", "9"],
              "dump_redirects": ["--no-dump-redirects"], "quiet": ["--quiet"]},
        expect={"dumps": (build, 0, [Path(d) for d in dumps]), "ontology": (build, 1, tmp / "o.ttl"),
                "types": (build, 2, [tmp / "t1.nt", tmp / "t2.nt"]), "output": (build, 3, tmp / "out"),
                "redirects": (build, "redirects_file", tmp / "r.ttl"), "labels": (build, "label_set", "4"),
                "seed": (build, "seed", 7), "workers": lambda rec, out, tmp: (
                    _received(rec[build], "workers") == 3 and runner("workers", 3)(rec, out, tmp)),
                "scheduler": runner("scheduler", "local"), "splitter": (build, "splitter", "pysbd"),
                "expand_unaligned": (build, "expand_unaligned", True), "blocks_per_unit": (build, "blocks_per_unit", 9),
                "dump_redirects": (build, "dump_redirects", False), "quiet": quiet},
        patches={build: Recorder(stats), "nerbert_spacy.corpus.distributed:DaskRunner": Recorder(FakeRunner)},
    )]


def case_corpus_balance(tmp: Path) -> List[Run]:
    from nerbert_spacy.corpus.balancing import MappingBoosts

    bal, boosts = "nerbert_spacy.corpus.balancing:balance_corpus", "nerbert_spacy.corpus.balancing:boosts_from_mappings"
    result = {"input_sentences": 1, "train_sentences": 1, "dev_sentences": 0, "categories_before": 1,
              "categories_after": 1, "boosted_share": {"before": 0.1, "after": 0.2}}

    def quiet(rec: Dict[str, Recorder], out: str, tmp: Path) -> None:
        assert _received(rec[bal], "progress").enabled is False

    return [Run(
        args={"corpus_dir": [str(tmp / "c")], "alpha": ["--alpha", "0.5"], "seed": ["--seed", "3"],
              "dev_fraction": ["--dev-fraction", "0.2"], "samples": ["--samples", "40"], "output": ["-o", str(tmp / "o")],
              "target_mapping": ["--target-mapping", str(tmp / "m1.json"), "--target-mapping", str(tmp / "m2.json")],
              "boost": ["--boost", "5"], "neighbour_boost": ["--neighbour-boost", "1.5"], "max_fanout": ["--max-fanout", "4"],
              "ontology": ["-O", str(tmp / "o.owl")], "quiet": ["--quiet"]},
        expect={"corpus_dir": lambda rec, out, tmp: _same(_received(rec[bal], 0), tmp / "c") and _same(_received(rec[boosts], 0), tmp / "c"),
                "alpha": (bal, "alpha", 0.5), "seed": (bal, "seed", 3), "dev_fraction": (bal, "dev_fraction", 0.2),
                "samples": (bal, "n_samples", 40), "output": (bal, "output_dir", tmp / "o"),
                "target_mapping": lambda rec, out, tmp: (
                    _same(_received(rec[boosts], 1), [tmp / "m1.json", tmp / "m2.json"])
                    and _received(rec[bal], "boosts") == {"city": 2.0}),
                "boost": (boosts, "boost", 5.0), "neighbour_boost": (boosts, "neighbour_boost", 1.5),
                "max_fanout": (boosts, "max_fanout", 4), "ontology": (boosts, "ontology", tmp / "o.owl"), "quiet": quiet},
        patches={bal: Recorder(result), boosts: Recorder(MappingBoosts({"city": 2.0}, ["city"], [], tmp / "o.owl"))},
    )]


def case_corpus_fetch_default(tmp: Path) -> List[Run]:
    fetch = "nerbert_spacy.wikipedia.default_dump:fetch_default_dump"
    dump = tmp / "dump.bz2"
    return [Run(args={"outdir": [str(tmp / "assets")]}, expect={"outdir": (fetch, 0, tmp / "assets")},
                patches={fetch: Recorder(dump)}, setup=lambda tmp: dump.write_bytes(b"BZh"))]


# --------------------------------------------------------------------------- model


def case_model_tiny(tmp: Path) -> List[Run]:
    w = "nerbert_spacy.tiny:write_tiny_bert"
    return [Run(
        args={"output_dir": [str(tmp / "tiny")], "hidden": ["--hidden", "8"], "layers": ["--layers", "3"],
              "heads": ["--heads", "4"], "seed": ["--seed", "5"], "force": ["--force"]},
        expect={"output_dir": (w, 0, tmp / "tiny"), "hidden": (w, "hidden_size", 8), "layers": (w, "num_layers", 3),
                "heads": (w, "num_heads", 4), "seed": (w, "seed", 5), "force": (w, "force", True)},
        patches={w: Recorder(tmp / "tiny")},
    )]


def case_model_encoder(tmp: Path) -> List[Run]:
    mat = "nerbert_spacy.pipeline.callbacks:materialize_encoder"
    return [Run(args={"name": ["minilm"], "output_dir": [str(tmp / "enc")], "force": ["--force"]},
                expect={"name": (mat, 0, "minilm"), "output_dir": (mat, 1, tmp / "enc"), "force": (mat, "force", True)},
                patches={mat: Recorder()})]


def case_model_info(tmp: Path) -> List[Run]:
    load = "nerbert_spacy.pipeline.callbacks:load_pipeline"
    config = ns(model_type="bert", hidden_size=8, num_hidden_layers=1)
    trf = ns(model=ns(transformer=ns(config=config, parameters=list)))
    nlp = ns(pipe_names=["transformer", "bio_tagger"], meta={})
    return [Run(args={"pipeline": [str(tmp / "p")]}, expect={"pipeline": (load, 0, tmp / "p")},
                patches={load: Recorder(nlp), "nerbert_spacy.pipeline.callbacks:find_transformer": Recorder(trf),
                         "nerbert_spacy.pipeline.callbacks:find_bio_tagger": Recorder(ns(labels=["A"], tags=["O", "B-A", "I-A"]))})]


def case_model_export_hf(tmp: Path) -> List[Run]:
    exp = "nerbert_spacy.hf:export_and_check"
    info = {"architecture": "BertForTokenClassification", "parameters": 1, "tags": ["O"], "temperature": 1.0}
    return [Run(
        args={"pipeline": [str(tmp / "p")], "output_dir": [str(tmp / "hf")], "check": ["--check", str(tmp / "d.spacy")],
              "check_limit": ["--check-limit", "3"], "force": ["--force"]},
        expect={"pipeline": (exp, 0, tmp / "p"), "output_dir": (exp, 1, tmp / "hf"), "check": (exp, "check", tmp / "d.spacy"),
                "check_limit": (exp, "check_limit", 3), "force": (exp, "force", True)},
        patches={exp: Recorder((info, None))},
    )]


def case_model_import_hf(tmp: Path) -> List[Run]:
    imp = "nerbert_spacy.hf:import_hf"
    return [Run(
        args={"hf_dir": [str(tmp / "hf")], "output_dir": [str(tmp / "p")], "lang": ["--lang", "de"], "force": ["--force"]},
        expect={"hf_dir": (imp, 0, tmp / "hf"), "output_dir": (imp, 1, tmp / "p"), "lang": (imp, "lang", "de"),
                "force": (imp, "force", True)},
        patches={imp: Recorder({"architecture": "BertForTokenClassification", "hidden_size": 8, "labels": ["A"]})},
    )]


def case_model_calibrate(tmp: Path) -> List[Run]:
    cal = "nerbert_spacy.calibration:calibrate_pipeline"
    side = {"entities": 1, "accuracy": 1.0, "ece": 0.1, "mean_confidence": 0.9, "nll": 0.2}
    result = {"temperature": 1.5, "previous_temperature": 1.0, "output": "o", "dev": {"before": side, "after": side}}
    return [Run(
        args={"pipeline": [str(tmp / "p")], "dev": [str(tmp / "dev.spacy")], "output": ["-o", str(tmp / "out")],
              "eval_path": ["--eval", str(tmp / "test.spacy")], "report": ["--report", str(tmp / "r.json")]},
        expect={"pipeline": (cal, 0, tmp / "p"), "dev": (cal, 1, tmp / "dev.spacy"), "output": (cal, 2, tmp / "out"),
                "eval_path": (cal, "eval_path", tmp / "test.spacy"),
                "report": ("nerbert_spacy.util:write_json_atomic", 0, tmp / "r.json")},
        patches={cal: Recorder(result), "nerbert_spacy.util:write_json_atomic": Recorder()},
    )]


# --------------------------------------------------------------------------- data


def case_data_convert(tmp: Path) -> List[Run]:
    conv = "nerbert_spacy.datasets.registry:convert_dataset"
    meta = {"paper_sizes": {}, "sizes": {"train": 1}, "stats": {"train": {"entities": 1}}, "splits": {"train": "t"},
            "read": {}, "labels": ["A"], "few_shot": []}
    return [Run(
        args={"dataset": ["conll"], "source": [str(tmp / "src")], "output": ["-o", str(tmp / "out")],
              "few_shot": ["--few-shot", "50", "--few-shot", "10%"], "seed": ["--seed", "3", "--seed", "4"],
              "split_seed": ["--split-seed", "2"], "train": ["--train", str(tmp / "tr.conll")],
              "dev": ["--dev", str(tmp / "dv.conll")], "test": ["--test", str(tmp / "te.conll")], "scheme": ["--scheme", "io"],
              "token_column": ["--token-column", "1"], "tag_column": ["--tag-column", "-1"]},
        expect={"dataset": (conv, 0, "conll"), "source": (conv, 1, tmp / "src"), "output": (conv, 2, tmp / "out"),
                "few_shot": (conv, "few_shot", ["50", "10%"]), "seed": (conv, "seeds", [3, 4]),
                "split_seed": (conv, "split_seed", 2), "train": (conv, "train", tmp / "tr.conll"),
                "dev": (conv, "dev", tmp / "dv.conll"), "test": (conv, "test", tmp / "te.conll"), "scheme": (conv, "scheme", "io"),
                "token_column": (conv, "token_col", 1), "tag_column": (conv, "tag_col", -1)},
        patches={conv: Recorder(meta)},
    )]


def case_data_list(tmp: Path) -> List[Run]:
    return [Run(args={}, expect={})]


def case_data_fewshot(tmp: Path) -> List[Run]:
    few = "nerbert_spacy.datasets.registry:write_fewshot"
    return [Run(
        args={"train": [str(tmp / "train.spacy")], "few_shot": ["--few-shot", "10%"], "seed": ["--seed", "4"],
              "output": ["-o", str(tmp / "few.spacy")]},
        expect={"train": (few, 0, tmp / "train.spacy"), "few_shot": (few, 1, "10%"), "seed": (few, 2, 4),
                "output": (few, 3, tmp / "few.spacy")},
        patches={few: Recorder((tmp / "few.spacy", 3))},
    )]


# --------------------------------------------------------------------------- viz


def case_viz_displacy(tmp: Path) -> List[Run]:
    load, render = "nerbert_spacy.export:load_docs", "nerbert_spacy.visualize:render_displacy"
    return [Run(
        args={"input_path": [str(tmp / "in.txt")], "output": ["-o", str(tmp / "v.html")], "spans_key": ["--spans-key", "sk"],
              "model": ["-m", "m1"], "limit": ["--limit", "5"], "lang": ["--lang", "de"]},
        expect={"input_path": (load, 0, tmp / "in.txt"), "output": (render, 1, tmp / "v.html"),
                "spans_key": (render, "spans_key", "sk"), "model": (load, "model", "m1"), "limit": (render, "max_docs", 5),
                "lang": (load, "lang", "de")},
        patches={load: Recorder(["DOC"]), render: Recorder({"docs": 1, "spans": 0})},
    )]


def case_viz_tsne(tmp: Path) -> List[Run]:
    tsne = "nerbert_spacy.visualize:tsne_figure"
    return [Run(
        args={"test_path": [str(tmp / "t.spacy")], "model": ["-m", "a", "-m", "b"], "output": ["-o", str(tmp / "f.png")],
              "name": ["--name", "A", "--name", "B"], "max_entities": ["--max-entities", "10"], "seed": ["--seed", "2"],
              "perplexity": ["--perplexity", "5"], "max_types": ["--max-types", "3"], "lang": ["--lang", "de"]},
        expect={"test_path": (tsne, 0, tmp / "t.spacy"), "model": (tsne, 1, ["a", "b"]), "output": (tsne, 2, tmp / "f.png"),
                "name": (tsne, "names", ["A", "B"]), "max_entities": (tsne, "max_entities", 10), "seed": (tsne, "seed", 2),
                "perplexity": (tsne, "perplexity", 5.0), "max_types": (tsne, "max_types", 3), "lang": (tsne, "lang", "de")},
        patches={tsne: Recorder({"entities": 1, "types": [], "models": {}})},
    )]


# --------------------------------------------------------------------------- labels


def case_labels_map(tmp: Path) -> List[Run]:
    from nerbert_spacy.mapping import LabelMapping, MapResult

    mp = "nerbert_spacy.mapping:map_labels"
    mapping = LabelMapping(targets=["t1", "t2"], pretrained=["x"], pairs={"t1": {"x": "exact"}})
    return [Run(
        args={"target_labels": ["t1"], "pretrained": ["-p", "315"], "ontology": ["-O", str(tmp / "o.owl")],
              "overrides": ["--overrides", "crossner-politics"], "from_data": ["--from-data", str(tmp / "d.spacy")],
              "output": ["-o", str(tmp / "m.json")], "lenient": ["--lenient"], "keep_entity": ["--keep-entity"]},
        expect={"target_labels": (mp, 0, ["t1"]), "pretrained": (mp, 1, "315"), "output": (mp, 2, tmp / "m.json"),
                "ontology": (mp, "ontology", onto(tmp / "o.owl")), "overrides": (mp, "overrides", "crossner-politics"),
                "from_data": (mp, "from_data", tmp / "d.spacy"), "lenient": (mp, "strict", False),
                "keep_entity": (mp, "keep_entity", True)},
        patches={mp: Recorder(MapResult(mapping, tmp / "m.json", candidates={"t2": ["x"]}, edit=tmp / "m.overrides.json")),
                 "nerbert_spacy.dbpedia.ontology:Ontology.load": ONTO},
    )]


def case_labels_show(tmp: Path) -> List[Run]:
    from nerbert_spacy.mapping import LabelMapping

    load = "nerbert_spacy.mapping:LabelMapping.load"
    return [Run(args={"mapping_path": [str(tmp / "m.json")]}, expect={"mapping_path": (load, 0, tmp / "m.json")},
                patches={load: Recorder(LabelMapping(targets=["t"], pretrained=["x"]))})]


def case_labels_list(tmp: Path) -> List[Run]:
    labels = "nerbert_spacy.mapping:label_set_labels"
    return [Run(args={"name": ["212"], "ontology": ["-O", str(tmp / "o.owl")]},
                expect={"name": (labels, 0, "212"), "ontology": (labels, 1, onto(tmp / "o.owl"))},
                patches={labels: Recorder(["a"]), "nerbert_spacy.dbpedia.ontology:Ontology.load": ONTO})]


def case_labels_relabel(tmp: Path) -> List[Run]:
    rel = "nerbert_spacy.corpus.relabel:relabel_corpus"
    return [Run(
        args={"corpus": [str(tmp / "c")], "to": ["--to", "4"], "ontology": ["-O", str(tmp / "o.owl")],
              "output": ["-o", str(tmp / "out")]},
        expect={"corpus": (rel, 0, tmp / "c"), "to": (rel, 1, "4"), "ontology": (rel, 2, onto(tmp / "o.owl")),
                "output": (rel, 3, tmp / "out")},
        patches={rel: Recorder({"splits": {"train": {"sentences": 1}}, "labels": {"a": 1}}),
                 "nerbert_spacy.dbpedia.ontology:Ontology.load": ONTO},
    )]


def case_labels_zeroshot(tmp: Path) -> List[Run]:
    zs, ev = "nerbert_spacy.pipeline.label_mapper:zero_shot_pipeline", "nerbert_spacy.pipeline.label_mapper:evaluate_zero_shot"
    to_disk = Recorder()
    nlp = ns(to_disk=to_disk)
    return [Run(
        args={"pretrained": ["p1"], "test": [str(tmp / "t.spacy")], "mapping": ["-m", str(tmp / "m.json")],
              "unmapped": ["--unmapped", "misc"], "output": ["-o", str(tmp / "s.json")],
              "save_pipeline": ["--save-pipeline", str(tmp / "zs")], "limit": ["--limit", "4"]},
        expect={"pretrained": (zs, 0, "p1"), "test": (ev, 1, tmp / "t.spacy"), "mapping": (zs, 1, str(tmp / "m.json")),
                "unmapped": (zs, "unmapped", "misc"), "output": ("nerbert_spacy.util:write_json_atomic", 0, tmp / "s.json"),
                "save_pipeline": ("to_disk", 0, tmp / "zs"), "limit": (ev, "limit", 4)},
        patches={zs: Recorder(nlp), ev: Recorder({"n_sentences": 1, "precision": 1.0, "recall": 1.0, "f1": 1.0}),
                 "nerbert_spacy.util:write_json_atomic": Recorder(), "to_disk": to_disk},
    )]


def case_labels_infobox_types(tmp: Path) -> List[Run]:
    w = "nerbert_spacy.dbpedia.infobox:write_infobox_types"
    dumps = [str(tmp / "a.xml"), str(tmp / "b.xml")]
    return [Run(
        args={"dumps": dumps, "mappings": ["--mappings", str(tmp / "Mapping_en.xml")], "output": ["-o", str(tmp / "t.nt")],
              "ontology": ["-O", str(tmp / "o.owl")], "instance_types": ["--instance-types", str(tmp / "it.ttl")],
              "exact_case": ["--exact-case"], "template_redirects": ["--template-redirects"]},
        expect={"dumps": (w, 0, [Path(d) for d in dumps]), "mappings": (w, 1, tmp / "Mapping_en.xml"),
                "output": (w, 2, tmp / "t.nt"), "ontology": (w, "ontology", onto(tmp / "o.owl")),
                "instance_types": (w, "instance_types", [tmp / "it.ttl"]), "exact_case": (w, "case_insensitive", False),
                "template_redirects": (w, "template_redirects", True)},
        patches={w: Recorder({}), "nerbert_spacy.dbpedia.ontology:Ontology.load": ONTO},
    )]


def case_labels_infobox_agreement(tmp: Path) -> List[Run]:
    agree = "nerbert_spacy.dbpedia.infobox:agreement_with_instance_types"
    total = {"articles": 1, "infobox_typed": 1, "reference_typed": 1, "both": 1, "exact_rate": None,
             "up_to_ancestors_rate": None}
    dumps = [str(tmp / "a.xml")]
    return [Run(
        args={"dumps": dumps, "mappings": ["--mappings", str(tmp / "Mapping_en.xml")],
              "instance_types": ["--instance-types", str(tmp / "it.ttl")], "ontology": ["-O", str(tmp / "o.owl")],
              "output": ["-o", str(tmp / "agree.json")]},
        expect={"dumps": (agree, 0, [Path(d) for d in dumps]), "mappings": (agree, 1, tmp / "Mapping_en.xml"),
                "instance_types": (agree, 2, [tmp / "it.ttl"]), "ontology": (agree, 3, onto(tmp / "o.owl")),
                "output": ("nerbert_spacy.util:write_json_atomic", 0, tmp / "agree.json")},
        patches={agree: Recorder({"dumps": {}, "total": total}), "nerbert_spacy.util:write_json_atomic": Recorder(),
                 "nerbert_spacy.dbpedia.ontology:Ontology.load": ONTO},
    )]


CASES: Dict[str, Callable[[Path], List[Run]]] = {
    "evaluate": case_evaluate,
    "grid": case_grid,
    "export": case_export,
    "import": case_import,
    "package": case_package,
    "corpus build": case_corpus_build,
    "corpus balance": case_corpus_balance,
    "corpus fetch-default": case_corpus_fetch_default,
    "model tiny": case_model_tiny,
    "model encoder": case_model_encoder,
    "model info": case_model_info,
    "model export-hf": case_model_export_hf,
    "model import-hf": case_model_import_hf,
    "model calibrate": case_model_calibrate,
    "data convert": case_data_convert,
    "data list": case_data_list,
    "data fewshot": case_data_fewshot,
    "viz displacy": case_viz_displacy,
    "viz tsne": case_viz_tsne,
    "labels map": case_labels_map,
    "labels show": case_labels_show,
    "labels list": case_labels_list,
    "labels relabel": case_labels_relabel,
    "labels zeroshot": case_labels_zeroshot,
    "labels infobox-types": case_labels_infobox_types,
    "labels infobox-agreement": case_labels_infobox_agreement,
}


# --------------------------------------------------------------------------- the tests


def test_every_command_has_a_case():
    assert sorted(COMMANDS) == sorted(CASES), "a new command needs a case in CASES"


def _patch(monkeypatch: pytest.MonkeyPatch, target: str, recorder: Recorder) -> None:
    import importlib

    module_name, attr = target.split(":")
    obj: Any = importlib.import_module(module_name)
    *owners, name = attr.split(".")
    for owner in owners:
        obj = getattr(obj, owner)
    monkeypatch.setattr(obj, name, recorder)


def _argv(command: str, run: Run) -> List[str]:
    """Arguments first, in the command's parameter order, then the options."""
    params = COMMANDS[command].params
    positional = [w for p in params if not getattr(p, "opts", [""])[0].startswith("-") for w in run.args.get(p.name, [])]
    options = [w for p in params if getattr(p, "opts", [""])[0].startswith("-") for w in run.args.get(p.name, [])]
    return command.split() + positional + options


@pytest.mark.parametrize("command", sorted(CASES))
def test_every_option_reaches_the_library(command, cli_runner, tmp_path, monkeypatch):
    params = {p.name: p for p in COMMANDS[command].params}
    runs = CASES[command](tmp_path)
    covered = set().union(*(set(run.args) for run in runs)) if runs else set()
    assert covered == set(params), f"parameters without a line in CASES[{command!r}]: {sorted(set(params) - covered)}"
    for n, run in enumerate(runs):
        assert set(run.expect) == set(run.args), f"run {n}: every parameter set needs an expectation and no other"
        for name, words in run.args.items():
            opts = [o for o in getattr(params[name], "opts", []) + getattr(params[name], "secondary_opts", []) if o.startswith("-")]
            assert not opts or any(w in opts for w in words), f"{name}: {words} does not use its flag {opts}"
        with monkeypatch.context() as mp:
            for target, recorder in run.patches.items():
                if ":" in target:
                    _patch(mp, target, recorder)
            if run.setup is not None:
                run.setup(tmp_path)
            result = cli_runner.invoke(app, _argv(command, run))
            assert result.exit_code == 0, (run.args, result.output)
            for name, expect in run.expect.items():
                if callable(expect):
                    assert expect(run.patches, result.output, tmp_path) is not False, f"{command} {name}"
                else:
                    target, where, want = expect
                    got = _received(run.patches[target], where)
                    assert _same(got, want), f"{command} {name}: the library got {got!r}, not {want!r}"
