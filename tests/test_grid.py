"""The experiment grid: plan, resume, source-target, few-shot, report (training mocked),
plus one real tiny run through ``spacy train`` in a subprocess (slow)."""
import json
from pathlib import Path

import pytest
import srsly

from nerbert_spacy.cli import app
from nerbert_spacy.datasets import convert_dataset
from nerbert_spacy.errors import NerbertError
from nerbert_spacy.grid import (
    RunFailed,
    load_spec,
    parse_seeds,
    plan,
    result_path,
    run_grid,
    run_subprocess,
    train_and_evaluate,
)

ROOT = Path(__file__).resolve().parent.parent


def _corpus(tmp_path, name="dom", n=30):
    src = tmp_path / f"src-{name}"
    src.mkdir()
    text = "\n\n".join(f"Tok{i}\tB-PER\nsaid\tO\nParis\tB-LOC" for i in range(n)) + "\n"
    (src / "train.conll").write_text(text, encoding="utf8")
    out = tmp_path / "corpus" / name
    convert_dataset("conll", src, out)
    return out


class FakeTrainer:
    """Stands in for the subprocess: records jobs, returns a score from the seed."""

    def __init__(self, fail_on=None):
        self.jobs = []
        self.fail_on = fail_on or (lambda job: False)

    def __call__(self, job, log_path):
        self.jobs.append(job)
        if self.fail_on(job):
            raise RunFailed("boom", str(log_path))
        Path(job["output"]).mkdir(parents=True, exist_ok=True)
        (Path(job["output"]) / "model-best").mkdir(exist_ok=True)
        if "test" not in job:
            return {"train_seconds": 1.0}
        seed = job["overrides"]["system.seed"]
        bonus = 0.1 if job["overrides"]["paths.pretrained"] else 0.0
        f1 = 0.5 + bonus + 0.01 * seed
        return {"f1": f1, "precision": f1, "recall": f1, "per_type": {"per": {"f1": f1}},
                "train_seconds": 2.0, "eval_seconds": 1.0}


def _spec(tmp_path, corpus, **kw):
    base = dict(
        name="t", config="configs/finetune.cfg", domains={"crossner-politics": str(corpus)},
        arms={"bert": None, "nerbert": "pre/model-best"}, seeds=[1, 2, 3],
        results_dir=str(tmp_path / "results"), work_dir=str(tmp_path / "work"), docs_dir=str(tmp_path / "docs"),
    )
    base.update(kw)
    return load_spec(None, **base)


def test_parse_seeds_and_spec_validation(tmp_path):
    assert parse_seeds("1-5") == [1, 2, 3, 4, 5] and parse_seeds("3,1") == [3, 1]
    with pytest.raises(NerbertError):
        parse_seeds("a")
    with pytest.raises(NerbertError, match="no domains"):
        load_spec(None, arms={"bert": None})
    with pytest.raises(NerbertError, match="needs --source-corpus"):
        load_spec(None, domains={"d": "x"}, arms={"bert": None}, settings=["source-target"])
    with pytest.raises(NerbertError, match="unknown setting"):
        load_spec(None, domains={"d": "x"}, arms={"bert": None}, settings=["both"])
    spec = load_spec(None, domains={"d": "x"}, arms={"bert": None})
    assert spec.seeds == [1, 2, 3, 4, 5] and spec.settings == ["target"]  # paper defaults
    assert spec.results_path == Path("results/grid")


def test_spec_from_yaml_with_cli_override(tmp_path):
    f = tmp_path / "grid.yml"
    srsly.write_yaml(f, {
        "name": "yml", "domains": {"politics": "corpus/p"}, "seeds": "1-3",
        "arms": {"bert": None, "nerbert": "training/pretrain/model-best",
                 "nerbert-head": {"pretrained": "training/pretrain/model-best", "head_mapping": "m.json"}},
        "few_shot": ["10%", 50], "overrides": {"training.max_epochs": 3},
    })
    spec = load_spec(f, seeds=[7], overrides={"training.patience": 5})
    assert spec.seeds == [7]
    assert [a.name for a in spec.arms] == ["bert", "nerbert", "nerbert-head"]
    assert spec.arms[0].pretrained is None and spec.arms[2].head_mapping == "m.json"
    assert spec.few_shot == ["10pct", "50"]
    assert spec.overrides == {"training.max_epochs": 3, "training.patience": 5}
    srsly.write_yaml(f, {"domain": {}})
    with pytest.raises(NerbertError, match="unknown keys"):
        load_spec(f)


def test_plan_order_and_paths(tmp_path):
    spec = _spec(tmp_path, "c", few_shot=["5"])
    runs = plan(spec)
    assert len(runs) == 3 * 2 * 2  # seeds x (full, few-shot) x arms
    assert [r.key for r in runs[:4]] == [
        "target/crossner-politics/bert/seed1", "target/crossner-politics/nerbert/seed1",
        "target/crossner-politics/bert/fewshot-5/seed1", "target/crossner-politics/nerbert/fewshot-5/seed1",
    ]
    assert runs[2].result_path == str(tmp_path / "results/target/crossner-politics/bert/fewshot-5/seed1.json")


def test_plan_status_says_which_runs_are_done(tmp_path):
    from nerbert_spacy.grid import plan_status

    spec = _spec(tmp_path, "c")
    runs = plan(spec)
    Path(runs[1].result_path).parent.mkdir(parents=True)
    Path(runs[1].result_path).write_text("{}")
    status = plan_status(spec)
    assert [r.key for r, _ in status] == [r.key for r in runs]
    assert [ok for _, ok in status] == [i == 1 for i in range(len(runs))]


def test_grid_runs_resumes_and_reports(tmp_path):
    corpus = _corpus(tmp_path)
    spec = _spec(tmp_path, corpus, overrides={"training.max_epochs": 2})
    fake = FakeTrainer()
    rep = run_grid(spec, run_fn=fake)
    assert len(rep.done) == 6 and not rep.skipped and not rep.failed
    job = fake.jobs[1]
    assert job["overrides"]["paths.pretrained"] == "pre/model-best"
    assert job["overrides"]["system.seed"] == 1 and job["overrides"]["training.max_epochs"] == 2
    assert job["overrides"]["paths.train"] == str(corpus / "train.spacy")
    assert job["test"] == str(corpus / "test.spacy")
    res = srsly.read_json(result_path(spec.results_path, "target", "crossner-politics", "nerbert", 2))
    assert res["f1"] == pytest.approx(0.62) and res["n_train"] == 24 and res["arm"] == "nerbert"
    # models are deleted after evaluation
    assert not any((tmp_path / "work" / "runs").rglob("model-best"))
    md = Path(rep.markdown).read_text(encoding="utf8")
    assert "| bert | 52.00 ± 1.00 | 52.00 | 3 |" in md
    assert "| nerbert | 62.00 ± 1.00 | 62.00 | 3 |" in md
    assert "| paper (BERT-base): nerbert | 73.69 | 73.69 | – |" in md
    # resume: nothing left to do
    fake2 = FakeTrainer()
    rep2 = run_grid(spec, run_fn=fake2)
    assert fake2.jobs == [] and len(rep2.skipped) == 6
    # delete one result: only that run is redone
    Path(result_path(spec.results_path, "target", "crossner-politics", "bert", 3)).unlink()
    fake3 = FakeTrainer()
    rep3 = run_grid(spec, run_fn=fake3)
    assert rep3.done == ["target/crossner-politics/bert/seed3"] and len(fake3.jobs) == 1


def test_grid_failure_does_not_stop_and_is_retried(tmp_path):
    corpus = _corpus(tmp_path)
    spec = _spec(tmp_path, corpus, keep_models=True)
    fake = FakeTrainer(fail_on=lambda job: job["overrides"]["system.seed"] == 2 and job["overrides"]["paths.pretrained"])
    rep = run_grid(spec, run_fn=fake)
    assert len(rep.done) == 5 and [f[0] for f in rep.failed] == ["target/crossner-politics/nerbert/seed2"]
    assert any((tmp_path / "work" / "runs").rglob("model-best"))  # --keep-models
    rep2 = run_grid(spec, run_fn=FakeTrainer())
    assert rep2.done == ["target/crossner-politics/nerbert/seed2"]


def test_source_target_trains_source_once_per_arm_and_seed(tmp_path):
    corpus = _corpus(tmp_path)
    conll = _corpus(tmp_path, "conll2003")
    spec = _spec(tmp_path, corpus, settings=["source-target"], source_corpus=str(conll), seeds=[1, 2],
                 domains={"crossner-politics": str(corpus), "crossner-ai": str(corpus)},
                 source_overrides={"training.max_epochs": 1})
    fake = FakeTrainer()
    rep = run_grid(spec, run_fn=fake)
    source_jobs = [j for j in fake.jobs if "test" not in j]
    assert len(source_jobs) == 4  # 2 arms x 2 seeds, shared by both domains
    assert {j["overrides"]["paths.pretrained"] for j in source_jobs} == {None, "pre/model-best"}
    assert all(j["overrides"]["paths.train"] == str(conll / "train.spacy") for j in source_jobs)
    assert all(j["overrides"]["training.max_epochs"] == 1 for j in source_jobs)
    target_jobs = [j for j in fake.jobs if "test" in j]
    assert len(target_jobs) == 8 and len(rep.done) == 8
    assert all(j["overrides"]["paths.pretrained"].endswith("model-best") for j in target_jobs)
    assert all("/source/" in j["overrides"]["paths.pretrained"] for j in target_jobs)
    # a result names the arm's pretrained pipeline (not the source model, which is deleted) and
    # the source model it was fine-tuned from
    res = srsly.read_json(result_path(spec.results_path, "source-target", "crossner-ai", "nerbert", 2))
    assert res["pretrained"] == "pre/model-best" and res["pretrained_fingerprint"] is None  # no such folder
    assert res["source_model"] == str(tmp_path / "work" / "source" / "nerbert" / "seed2" / "model-best")
    assert res["source_fingerprint"] and len(res["source_fingerprint"]) == 16
    assert srsly.read_json(result_path(spec.results_path, "source-target", "crossner-ai", "bert", 1))["pretrained"] is None
    # source models are removed once every run that needs them has a result
    assert not (tmp_path / "work" / "source" / "bert" / "seed1").exists()
    md = Path(rep.markdown).read_text(encoding="utf8")
    assert "Source & Target" in md and "| paper (BERT-base): bert | 68.71 | 58.88 | 63.80 | – |" in md


def test_a_source_model_outlives_a_run_narrowed_to_one_domain(tmp_path):
    """`--domain` narrows one invocation; the source model serves the grid file's other
    domains too, so it is kept (not trained again) until they all have results."""
    corpus = _corpus(tmp_path)
    conll = _corpus(tmp_path, "conll2003")
    grid_file = tmp_path / "grid.yml"
    srsly.write_yaml(grid_file, {
        "name": "st", "config": "configs/finetune.cfg", "settings": ["source-target"], "seeds": [1],
        "source_corpus": str(conll), "arms": {"bert": None},
        "domains": {"crossner-politics": str(corpus), "crossner-ai": str(corpus)},
        "results_dir": str(tmp_path / "results"), "work_dir": str(tmp_path / "work"), "docs_dir": str(tmp_path / "docs"),
    })
    source = tmp_path / "work" / "source" / "bert" / "seed1"
    fake = FakeTrainer()
    first = run_grid(load_spec(grid_file, domains={"crossner-politics": str(corpus)}), run_fn=fake)
    assert first.done == ["source-target/crossner-politics/bert/seed1"] and first.source_trained == ["source/bert/seed1"]
    assert (source / "model-best").is_dir()  # crossner-ai still needs it
    second = run_grid(load_spec(grid_file, domains={"crossner-ai": str(corpus)}), run_fn=fake)
    assert second.done == ["source-target/crossner-ai/bert/seed1"] and second.source_trained == []
    assert len([j for j in fake.jobs if "test" not in j]) == 1  # trained once for both domains
    assert not source.exists()  # every domain of the grid file has its result now
    # the narrowed invocation's report covers the whole grid file: both domains, both results
    md = Path(second.markdown).read_text(encoding="utf8")
    row = next(line for line in md.splitlines() if line.startswith("| bert |"))
    assert row.count("61.00") == 3, row  # Pol., AI and their average (the fake trainer's seed-1 F1)
    # so does one narrowed by --arm and --seeds: arms and seeds of the file are kept in the report
    spec = load_spec(grid_file, domains={"crossner-ai": str(corpus)}, arms={"nerbert": "pre/model-best"}, seeds=[2])
    assert [a.name for a in spec.arms] == ["nerbert"] and spec.seeds == [2]
    third = run_grid(spec, run_fn=fake)
    assert third.done == ["source-target/crossner-ai/nerbert/seed2"]
    md = Path(third.markdown).read_text(encoding="utf8")
    assert "| bert | 61.00 | 61.00 | 61.00 | 1 |" in md and "| nerbert | – | 62.00 | – | 1 |" in md, md


def test_fewshot_runs_and_plot(tmp_path):
    corpus = _corpus(tmp_path)
    spec = _spec(tmp_path, corpus, few_shot=["5", "50%"], seeds=[1, 2])
    fake = FakeTrainer()
    rep = run_grid(spec, run_fn=fake)
    assert len(rep.done) == 2 * 3 * 2
    fs_jobs = [j for j in fake.jobs if "fewshot" in Path(j["overrides"]["paths.train"]).name]
    assert {Path(j["overrides"]["paths.train"]).name for j in fs_jobs} == {
        "train-fewshot-5-seed1.spacy", "train-fewshot-5-seed2.spacy",
        "train-fewshot-50pct-seed1.spacy", "train-fewshot-50pct-seed2.spacy"}
    res = srsly.read_json(result_path(spec.results_path, "target", "crossner-politics", "bert", 1, "50pct"))
    assert res["n_train"] == 12 and res["few_shot"] == "50pct"
    assert rep.plot and Path(rep.plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = Path(rep.markdown).read_text(encoding="utf8")
    assert "few-shot 5" in md and "t-fewshot.png" in md
    # a spec names its figure (the paper script's Figure 2 grid: plot: figure2.png)
    spec = _spec(tmp_path, corpus, few_shot=["5", "50%"], seeds=[1, 2], plot="figure2.png")
    rep = run_grid(spec, run_fn=FakeTrainer())
    assert rep.plot == str(tmp_path / "docs" / "figure2.png") and Path(rep.plot).is_file()
    assert "](figure2.png)" in Path(rep.markdown).read_text(encoding="utf8")
    with pytest.raises(NerbertError, match="plot must be a .png file name"):
        _spec(tmp_path, corpus, few_shot=["5"], plot="../figure2.png")


def test_zero_shot_arm_runs_once_per_domain_without_training(tmp_path):
    corpus = _corpus(tmp_path)
    arms = {"bert": None, "zs": {"pretrained": "pre/model-best", "zero_shot": "maps/{domain}.json", "unmapped": "misc"}}
    spec = _spec(tmp_path, corpus, arms=arms, seeds=[1, 2], few_shot=["5"],
                 domains={"crossner-politics": str(corpus), "crossner-ai": str(corpus)})
    keys = [r.key for r in plan(spec) if r.arm == "zs"]
    assert keys == ["target/crossner-politics/zs/seed1", "target/crossner-ai/zs/seed1"]
    fake = FakeTrainer()
    rep = run_grid(spec, run_fn=fake)
    zs_jobs = [j for j in fake.jobs if "zero_shot" in j]
    assert [j["zero_shot"] for j in zs_jobs] == [
        {"pretrained": "pre/model-best", "mapping": "maps/crossner-politics.json", "unmapped": "misc"},
        {"pretrained": "pre/model-best", "mapping": "maps/crossner-ai.json", "unmapped": "misc"}]
    res = srsly.read_json(result_path(spec.results_path, "target", "crossner-ai", "zs", 1))
    assert res["n_train"] == 0
    md = Path(rep.markdown).read_text(encoding="utf8")
    assert "| GLiNER-L (published, zero-shot) | 72.60 | 57.20 | 64.90 | – |" in md
    assert "| zs | 61.00 | 61.00 | 61.00 | 1 |" in md
    with pytest.raises(NerbertError, match="needs a pretrained"):
        _spec(tmp_path, corpus, arms={"zs": {"zero_shot": "m.json"}})


def test_cli_grid_dry_run_and_report_only(tmp_path, cli_runner):
    corpus = _corpus(tmp_path)
    args = ["grid", "--domain", f"politics={corpus}", "--arm", "bert=null", "--arm", "nerbert=pre/model-best",
            "--seeds", "1,2", "--name", "cli", "--results-dir", str(tmp_path / "res"),
            "--work-dir", str(tmp_path / "work"), "--docs-dir", str(tmp_path / "docs")]
    r = cli_runner.invoke(app, args + ["--dry-run"])
    assert r.exit_code == 0, r.output
    assert "todo  target/politics/bert/seed1" in r.output and "0/4 runs done" in r.output
    p = result_path(tmp_path / "res", "target", "politics", "bert", 1)
    p.parent.mkdir(parents=True)
    srsly.write_json(p, {"f1": 0.5, "precision": 0.5, "recall": 0.5})
    r = cli_runner.invoke(app, args + ["--dry-run"])
    assert "done  target/politics/bert/seed1" in r.output and "1/4 runs done" in r.output
    r = cli_runner.invoke(app, args + ["--report-only"])
    assert r.exit_code == 0, r.output
    assert "| bert | 50.00 | 50.00 | 1 |\n| nerbert | – | – | – |" in (tmp_path / "docs" / "cli.md").read_text(encoding="utf8")
    r = cli_runner.invoke(app, ["grid", "--domain", "nodir", "--arm", "bert=null"])
    assert r.exit_code == 1 and "NAME=VALUE" in r.output


def test_missing_inputs_stop_the_grid_before_its_first_run(tmp_path, cli_runner):
    """A head mapping that one domain lacks (the Figure 2 grid once lacked conll2003's) is named
    up front with the runs that need it, instead of failing those runs hours into the grid."""
    from nerbert_spacy.grid import missing_inputs

    a, b = _corpus(tmp_path, "a"), _corpus(tmp_path, "b")
    pre = tmp_path / "pre"
    pre.mkdir()
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "a.json").write_text("{}", encoding="utf8")
    spec = _spec(tmp_path, a, domains={"a": str(a), "b": str(b), "c": str(tmp_path / "nope")},
                 arms={"bert": None, "head": {"pretrained": str(pre), "head_mapping": str(maps / "{domain}.json")}},
                 seeds=[1, 2])
    missing = missing_inputs(spec)
    assert missing == [  # in plan order
        f"head mapping {maps / 'b.json'} (target/b/head/seed1 and 1 more runs)",
        f"domain corpus {tmp_path / 'nope'} (target/c/bert/seed1 and 3 more runs)",
        f"head mapping {maps / 'c.json'} (target/c/head/seed1 and 1 more runs)",
    ]
    with pytest.raises(NerbertError, match=r"3 input\(s\) missing, nothing was run: head mapping .*b\.json"):
        run_grid(spec)
    assert not (tmp_path / "work").exists() and not (tmp_path / "results").exists()
    # finished runs need nothing: only seed 2 of domain b still needs b's mapping
    for arm in ("bert", "head"):
        for seed in (1, 2):
            p = result_path(spec.results_path, "target", "c", arm, seed)
            p.parent.mkdir(parents=True, exist_ok=True)
            srsly.write_json(p, {"f1": 0.5, "precision": 0.5, "recall": 0.5})
    p = result_path(spec.results_path, "target", "b", "head", 1)
    p.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(p, {"f1": 0.5, "precision": 0.5, "recall": 0.5})
    assert missing_inputs(spec) == [f"head mapping {maps / 'b.json'} (target/b/head/seed2)"]
    r = cli_runner.invoke(app, ["grid", "--domain", f"b={b}", "--arm", f"head={pre}", "--arm", "x=gone/model-best",
                                "--seeds", "1", "--results-dir", str(tmp_path / "r2"), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "missing: pretrained pipeline gone/model-best (target/b/x/seed1)" in r.output


@pytest.mark.slow
def test_real_subprocess_run_with_tiny_bert(tmp_path, tiny_bert):
    """spacy train (2 steps) + evaluation in a subprocess, through the real config."""
    corpus = tmp_path / "corpus"
    convert_dataset("conll", ROOT / "assets" / "default" / "finetune", corpus)
    job = {
        "config": str(ROOT / "configs" / "finetune.cfg"),
        "output": str(tmp_path / "model"),
        "overrides": {"paths.train": str(corpus / "train.spacy"), "paths.dev": str(corpus / "dev.spacy"),
                      "paths.encoder": str(tiny_bert), "paths.pretrained": None, "paths.head_mapping": None,
                      "system.seed": 1, "training.max_steps": 2, "training.eval_frequency": 1},
        "gpu_id": -1, "test": str(corpus / "test.spacy"), "batch_size": 8,
    }
    res = run_subprocess(job, tmp_path / "logs" / "run.log")
    assert 0.0 <= res["f1"] <= 1.0 and res["n_sentences"] == 204 and res["train_seconds"] > 0
    assert "dev_performance" in res
    # zero-shot through a label mapping: no training, scored exactly like the fine-tuned run
    mapping = tmp_path / "map.json"
    srsly.write_json(mapping, {"politician": ["politician"], "nation": ["country"]})
    zs = train_and_evaluate({"zero_shot": {"pretrained": str(tmp_path / "model" / "model-best"), "mapping": str(mapping),
                                           "unmapped": "drop"}, "test": str(corpus / "test.spacy")})
    assert zs["train_seconds"] == 0.0 and zs["n_sentences"] == 204
    assert set(zs["per_type"]) <= {"politician", "nation", "country", "person", "organisation", "politicalparty",
                                   "location", "election", "event", "misc"}
    # a failing run raises RunFailed with its log, and does not kill the caller
    bad = dict(job, output=str(tmp_path / "m2"), overrides=dict(job["overrides"], **{"paths.train": "nope.spacy"}))
    with pytest.raises(RunFailed) as info:
        run_subprocess(bad, tmp_path / "logs" / "bad.log")
    assert info.value.log and Path(info.value.log).is_file()
    json.dumps(res)  # plain JSON


def test_head_mapping_path_takes_the_domain():
    from nerbert_spacy.grid import Arm, GridSpec, run_overrides

    arm = Arm("nerbert-head", pretrained="pre", head_mapping="maps/{domain}.json")
    ov = run_overrides(GridSpec(), arm, 3, "t.spacy", "d.spacy", "pre", domain="politics")
    assert ov["paths.head_mapping"] == "maps/politics.json"
    assert ov["paths.pretrained"] == "pre" and ov["system.seed"] == 3


def test_early_stopping_in_epochs_becomes_steps_per_run(tmp_path):
    from nerbert_spacy.grid import Arm, GridSpec, epoch_budget

    spec = GridSpec(config=str(ROOT / "configs" / "finetune.cfg"),
                    early_stopping={"patience_epochs": 3, "max_epochs": 30})
    # 200 sentences at the config's batch of 16 -> 13 steps per epoch
    assert epoch_budget(spec, 200) == {"training.eval_frequency": 13, "training.patience": 39,
                                       "training.max_epochs": 30, "training.max_steps": 0}
    spec.early_stopping["evals_per_epoch"] = 2
    spec.overrides = {"training.batcher.size": 32}
    assert epoch_budget(spec, 100)["training.eval_frequency"] == 2  # 4 steps per epoch, 2 evaluations
    assert epoch_budget(GridSpec(), 100) == {}
    # a floor in update steps for few-shot sets: 10 sentences are 1 step an epoch, 25 are 2
    spec = GridSpec(config=str(ROOT / "configs" / "finetune.cfg"),
                    early_stopping={"patience_epochs": 3, "max_epochs": 30, "min_patience_steps": 30})
    assert [epoch_budget(spec, n)["training.patience"] for n in (10, 25, 100, 200)] == [30, 30, 30, 39]
    assert epoch_budget(spec, 10)["training.eval_frequency"] == 1
    with pytest.raises(NerbertError, match="min_patience_steps must be 0 or"):
        GridSpec(domains={"d": "x"}, arms=[Arm("bert")],
                 early_stopping={"patience_epochs": 3, "max_epochs": 3, "min_patience_steps": -1}).validate()
    with pytest.raises(NerbertError, match="patience_epochs must be a positive"):
        GridSpec(domains={"d": "x"}, arms=[Arm("bert")], early_stopping={"patience_epochs": 0, "max_epochs": 3}).validate()


def test_grid_passes_epoch_budget_and_cap_to_each_run(tmp_path):
    from nerbert_spacy.grid import Arm, GridSpec, run_grid

    corpus = tmp_path / "c"
    convert_dataset("conll", ROOT / "assets" / "default" / "finetune", corpus)
    spec = GridSpec(name="es", config=str(ROOT / "configs" / "finetune.cfg"), domains={"pol": str(corpus)},
                    arms=[Arm("bert")], seeds=[1], results_dir=str(tmp_path / "r"), work_dir=str(tmp_path / "w"),
                    docs_dir=str(tmp_path / "docs"), train_cap=300,
                    early_stopping={"patience_epochs": 2, "max_epochs": 10})
    jobs = []

    def fake(job, log):
        jobs.append(job)
        return {"f1": 0.5, "precision": 0.5, "recall": 0.5}

    run_grid(spec, run_fn=fake)
    ov = jobs[0]["overrides"]
    assert ov["training.eval_frequency"] == 19 and ov["training.patience"] == 38  # ceil(300/16) = 19
    assert ov["training.max_epochs"] == 10 and ov["training.max_steps"] == 0
    assert ov["paths.train"].endswith("cap-train-fewshot-300-seed1.spacy")
    from spacy.tokens import DocBin
    assert len(DocBin().from_disk(ov["paths.train"])) == 300
    res = srsly.read_json(tmp_path / "r" / "target" / "pol" / "bert" / "seed1.json")
    assert res["n_train"] == 300
    md = (tmp_path / "docs" / "es.md").read_text()
    assert "patience 2 epochs, at most 10 epochs" in md and "random 300-sentence subset" in md
    assert "under 1 point above its step-0 score is trained once more" in md
    spec.early_stopping["min_patience_steps"] = 60
    spec.results_dir = str(tmp_path / "r2")
    jobs.clear()
    run_grid(spec, run_fn=fake)
    assert jobs[0]["overrides"]["training.patience"] == 60  # the floor over 2 epochs of 19 steps
    assert "patience 2 epochs and at least 60 update steps, at most 10 epochs" in (tmp_path / "docs" / "es.md").read_text()


def test_a_run_stuck_at_its_step_0_model_is_retrained_with_the_whole_budget():
    """A plain encoder on 100 sentences scored 0 for its first 3 epochs, so patience (3 epochs)
    ran out and model-best was the untrained step-0 model: train once more with patience =
    max_epochs epochs; runs that learned are not retrained."""
    from nerbert_spacy.grid import train_until_learned
    from nerbert_spacy.pipeline.logger import LAST_RUN

    calls = []
    outcomes = [dict(best_step=0, best_score=0.007, evaluations=4, last_evaluated_step=21),
                dict(best_step=63, best_score=0.41, evaluations=14, last_evaluated_step=91)]

    def fake_train(config, output, use_gpu, overrides):
        calls.append(dict(overrides))
        LAST_RUN.clear()
        LAST_RUN.update(outcomes[min(len(calls), len(outcomes)) - 1])

    job = {"config": "c.cfg", "output": "out", "overrides": {"training.patience": 21}, "max_patience": 210}
    retries = train_until_learned(fake_train, job)
    assert [c["training.patience"] for c in calls] == [21, 210]
    assert retries == [{"patience": 21, "best_score": 0.007, "last_evaluated_step": 21}]
    assert job["overrides"]["training.patience"] == 21  # the job itself is left as it was

    calls.clear()
    outcomes[:] = [dict(best_step=0, best_score=0.0, evaluations=4, last_evaluated_step=21)]
    assert len(train_until_learned(fake_train, job)) == 1 and len(calls) == 2  # one retry at most

    calls.clear()
    outcomes[:] = [dict(best_step=7, best_score=0.2, first_score=0.03, evaluations=4, last_evaluated_step=28)]
    assert train_until_learned(fake_train, job) == [] and len(calls) == 1  # it learned
    # 10 SEC sentences, NER-BERT, seed 1: best at step 1, 0.0016 above step 0, stopped at step 4
    # (test F1 0.5%): it did not learn either, and is retried
    calls.clear()
    outcomes[:] = [dict(best_step=1, best_score=0.0343, first_score=0.0327, evaluations=5, last_evaluated_step=4),
                   dict(best_step=24, best_score=0.62, first_score=0.0327, evaluations=31, last_evaluated_step=30)]
    assert train_until_learned(fake_train, dict(job, overrides={"training.patience": 3}, max_patience=30)) == [
        {"patience": 3, "best_score": 0.0343, "last_evaluated_step": 4, "best_step": 1, "first_score": 0.0327}]
    assert [c["training.patience"] for c in calls] == [3, 30]
    calls.clear()
    outcomes[:] = [dict(best_step=0, best_score=0.0, evaluations=4, last_evaluated_step=21)]
    assert train_until_learned(fake_train, dict(job, max_patience=0)) == [] and len(calls) == 1


def test_results_record_a_fingerprint_of_the_pretrained_weights(tmp_path):
    """Pretrained pipelines are rebuilt per session at the same path: each result says which
    weights it was fine-tuned from, and the plain-encoder arm says none."""
    from nerbert_spacy.grid import pipeline_fingerprint

    corpus = _corpus(tmp_path)
    pre = tmp_path / "pre" / "model-best"
    (pre / "transformer").mkdir(parents=True)
    (pre / "transformer" / "model").write_bytes(b"weights v1")
    (pre / "meta.json").write_text('{"performance": {"ents_f": 0.3}}')
    spec = _spec(tmp_path, corpus, arms={"bert": None, "nerbert": str(pre)}, seeds=[1])
    run_grid(spec, run_fn=FakeTrainer())
    read = lambda arm: srsly.read_json(result_path(spec.results_path, "target", "crossner-politics", arm, 1))  # noqa: E731
    first = read("nerbert")["pretrained_fingerprint"]
    assert read("bert")["pretrained_fingerprint"] is None
    assert first == pipeline_fingerprint(pre) and len(first) == 16
    # scores in meta.json do not count; other weights do
    (pre / "meta.json").write_text('{"performance": {"ents_f": 0.9}}')
    assert pipeline_fingerprint(pre) == first
    (pre / "transformer" / "model").write_bytes(b"weights v2")
    assert pipeline_fingerprint(pre) != first
    assert pipeline_fingerprint(tmp_path / "missing") is None


def test_rerun_stale_runs_again_what_other_weights_gave_and_keeps_the_old_result(tmp_path, cli_runner):
    """After the pretrained pipeline is rebuilt with other weights, the report flags the mixed
    weights, --dry-run marks the stale runs, and --rerun-stale sets their results aside (kept on
    disk) and fine-tunes them again; the plain-encoder arm is never stale."""
    from nerbert_spacy.grid import pipeline_fingerprint, render_grid_markdown, stale_results

    corpus = _corpus(tmp_path)
    pre = tmp_path / "pre" / "model-best"
    (pre / "transformer").mkdir(parents=True)
    (pre / "transformer" / "model").write_bytes(b"weights v1")
    spec = _spec(tmp_path, corpus, arms={"bert": None, "nerbert": str(pre)}, seeds=[1, 2])
    run_grid(spec, run_fn=FakeTrainer())
    old = pipeline_fingerprint(pre)
    assert stale_results(spec) == []
    assert f"2 from `{old}` (the pipeline on disk now)" in render_grid_markdown(spec)
    # a result written before fingerprints existed, then the pipeline pretrained again
    seed1 = result_path(spec.results_path, "target", "crossner-politics", "nerbert", 1)
    res = srsly.read_json(seed1)
    del res["pretrained_fingerprint"]
    srsly.write_json(seed1, res)
    (pre / "transformer" / "model").write_bytes(b"weights v2")
    new = pipeline_fingerprint(pre)
    stale = {run.key: (recorded, now) for run, recorded, now in stale_results(spec)}
    assert stale == {"target/crossner-politics/nerbert/seed1": (None, new),
                     "target/crossner-politics/nerbert/seed2": (old, new)}
    md = render_grid_markdown(spec)
    assert "1 from unrecorded weights" in md and f"1 from `{old}`" in md and "**mixed weights**" in md
    args = ["grid", "--domain", f"crossner-politics={corpus}", "--arm", "bert=null", "--arm", f"nerbert={pre}",
            "--seeds", "1,2", "--results-dir", str(spec.results_path), "--work-dir", str(spec.work_path),
            "--docs-dir", str(tmp_path / "docs"), "--name", "t", "--dry-run"]
    r = cli_runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert f"done  target/crossner-politics/nerbert/seed2  (stale: fine-tuned from {old} weights" in r.output
    assert "4/4 runs done, 2 of them stale" in r.output
    # without --rerun-stale nothing runs; with it, the two stale runs go again from the new weights
    trainer = FakeTrainer()
    assert run_grid(spec, run_fn=trainer).done == [] and trainer.jobs == []
    report = run_grid(spec, run_fn=trainer, rerun_stale=True)
    assert sorted(report.done) == sorted(stale) and len(trainer.jobs) == 2
    assert sorted(Path(p).name for p in report.set_aside) == ["seed1.stale-unknown.json", f"seed2.stale-{old}.json"]
    assert srsly.read_json(seed1.with_name(f"seed2.stale-{old}.json"))["pretrained_fingerprint"] == old
    assert srsly.read_json(seed1)["pretrained_fingerprint"] == new
    assert stale_results(spec) == []
    assert "mixed weights" not in render_grid_markdown(spec)


def test_source_target_results_go_stale_with_the_pretraining_and_their_source_model_is_retrained(tmp_path):
    """A Source & Target result records the fingerprint of the pipeline its source model started
    from; after the pipeline is pretrained again the run is stale, and --rerun-stale trains a new
    source model from the new weights instead of reusing the old one."""
    from nerbert_spacy.grid import pipeline_fingerprint, render_grid_markdown, source_provenance, stale_results

    corpus = _corpus(tmp_path)
    conll = _corpus(tmp_path, "conll2003")
    pre = tmp_path / "pre" / "model-best"
    (pre / "transformer").mkdir(parents=True)
    (pre / "transformer" / "model").write_bytes(b"weights v1")
    spec = _spec(tmp_path, corpus, arms={"nerbert": str(pre)}, seeds=[1], settings=["source-target"],
                 source_corpus=str(conll), keep_models=True,
                 domains={"crossner-politics": str(corpus), "crossner-ai": str(corpus)})
    fake = FakeTrainer()
    run_grid(spec, run_fn=fake)
    old = pipeline_fingerprint(pre)
    source = tmp_path / "work" / "source" / "nerbert" / "seed1"
    assert source_provenance(source) == {"complete": True, "pretrained": str(pre), "pretrained_fingerprint": old}
    res = srsly.read_json(result_path(spec.results_path, "source-target", "crossner-ai", "nerbert", 1))
    assert res["pretrained"] == str(pre) and res["pretrained_fingerprint"] == old
    assert f"2 from `{old}` (the pipeline on disk now)" in render_grid_markdown(spec)
    assert stale_results(spec) == []
    (pre / "transformer" / "model").write_bytes(b"weights v2")
    new = pipeline_fingerprint(pre)
    assert sorted(run.key for run, _, _ in stale_results(spec)) == [
        "source-target/crossner-ai/nerbert/seed1", "source-target/crossner-politics/nerbert/seed1"]
    trainer = FakeTrainer()
    report = run_grid(spec, run_fn=trainer, rerun_stale=True)
    assert report.source_trained == ["source/nerbert/seed1"] and len(report.done) == 2
    assert source_provenance(source)["pretrained_fingerprint"] == new
    assert {srsly.read_json(result_path(spec.results_path, "source-target", d, "nerbert", 1))["pretrained_fingerprint"]
            for d in ("crossner-ai", "crossner-politics")} == {new}
    # a source model finished before provenance was recorded (".complete" holds "ok") is reused
    (source / ".complete").write_text("ok\n", encoding="utf8")
    assert source_provenance(source) == {"complete": True}


def test_report_names_the_spec_files_command_over_the_invocation(tmp_path):
    """A grid file's `command` (the line that reproduces the whole grid) is what its report shows,
    also when the report is written by a partial invocation (--seeds 2, --report-only); without one
    the invocation is recorded."""
    corpus = _corpus(tmp_path)
    spec_file = tmp_path / "g.yml"
    spec_file.write_text(f"name: g\ndomains: {{pol: {corpus}}}\narms: {{bert: null}}\n"
                         "command: bash scripts/paper_experiments.sh grid-g\n", encoding="utf8")
    spec = load_spec(spec_file, command="nerbert grid --spec g.yml --seeds 2", seeds=[2])
    assert spec.command == "bash scripts/paper_experiments.sh grid-g" and spec.seeds == [2]
    spec_file.write_text(f"name: g\ndomains: {{pol: {corpus}}}\narms: {{bert: null}}\n", encoding="utf8")
    assert load_spec(spec_file, command="nerbert grid --spec g.yml").command == "nerbert grid --spec g.yml"


# ---------------------------------------------------------------- several processes on one grid


def _other_process():
    """A live process that is not this one, to hold a claim."""
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def _hold(path, pid):
    import socket

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "since": "2026-12-03T00:00:00Z"}),
                    encoding="utf8")


def test_a_run_claimed_by_a_live_process_is_passed_over_and_taken_over_when_it_dies(tmp_path, cli_runner):
    from nerbert_spacy.grid import claim_path

    corpus = _corpus(tmp_path)
    spec = _spec(tmp_path, corpus, seeds=[1])
    runs = {r.key: r for r in plan(spec)}
    held = runs["target/crossner-politics/nerbert/seed1"]
    other = _other_process()
    try:
        _hold(claim_path(held.log_path), other.pid)
        trainer = FakeTrainer()
        report = run_grid(spec, run_fn=trainer)
        assert report.done == ["target/crossner-politics/bert/seed1"]
        assert report.busy == [held.key] and len(trainer.jobs) == 1
        assert not Path(held.result_path).exists()
        assert claim_path(held.log_path).exists()  # the other process's claim is left alone
        r = cli_runner.invoke(app, ["grid", "--domain", f"crossner-politics={corpus}", "--arm", "bert=null",
                                    "--arm", "nerbert=pre/model-best", "--seeds", "1",
                                    "--results-dir", spec.results_dir, "--work-dir", spec.work_dir, "--dry-run"])
        assert f"todo  {held.key}  (running: pid {other.pid} on" in r.output, r.output
    finally:
        other.kill()
        other.wait()
    # its process is gone (killed, machine restarted): the next grid process takes the run over
    report = run_grid(spec, run_fn=FakeTrainer())
    assert report.done == [held.key] and not report.busy
    assert srsly.read_json(held.result_path)["arm"] == "nerbert"
    assert not claim_path(held.log_path).exists()  # released after the run


def test_two_grid_workers_at_once_train_every_run_exactly_once(tmp_path):
    import threading
    import time

    corpus = _corpus(tmp_path)
    spec_a = _spec(tmp_path, corpus, seeds=[1, 2, 3], domains={"crossner-politics": str(corpus), "crossner-ai": str(corpus)})
    spec_b = _spec(tmp_path, corpus, seeds=[1, 2, 3], domains={"crossner-politics": str(corpus), "crossner-ai": str(corpus)})
    lock = threading.Lock()
    trained = []

    class Slow(FakeTrainer):
        def __call__(self, job, log_path):
            with lock:
                trained.append(str(log_path))
            time.sleep(0.05)
            return super().__call__(job, log_path)

    reports = [None, None]

    def work(i, spec):
        reports[i] = run_grid(spec, run_fn=Slow(), write_report=False)

    threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate((spec_a, spec_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [r.key for r in plan(spec_a)]
    assert len(keys) == 12
    assert sorted(trained) == sorted(set(trained)) and len(trained) == 12  # no run trained twice
    done = reports[0].done + reports[1].done
    assert sorted(done) == sorted(keys)
    assert reports[0].done and reports[1].done  # both did part of the work
    assert all(Path(r.result_path).is_file() for r in plan(spec_a))
    assert not list((tmp_path / "work").rglob("*.claim"))


def test_a_source_model_in_training_elsewhere_holds_back_only_its_own_runs(tmp_path):
    from nerbert_spacy.grid import claim_path

    corpus = _corpus(tmp_path)
    conll = _corpus(tmp_path, "conll2003")
    spec = _spec(tmp_path, corpus, settings=["source-target"], source_corpus=str(conll), seeds=[1])
    other = _other_process()
    try:
        _hold(claim_path(tmp_path / "work" / "logs" / "source__nerbert__seed1.log"), other.pid)
        trainer = FakeTrainer()
        report = run_grid(spec, run_fn=trainer)
    finally:
        other.kill()
        other.wait()
    assert report.done == ["source-target/crossner-politics/bert/seed1"]
    assert report.busy == ["source-target/crossner-politics/nerbert/seed1"]
    assert [j["overrides"]["paths.pretrained"] for j in trainer.jobs if "test" not in j] == [None]
    assert not report.failed
