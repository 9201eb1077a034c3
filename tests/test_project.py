"""The `all` workflow of project.yml, end to end, on the embedded default.

Runs exactly the commands a user runs (`spacy project run all`) in a copy of the
project, with tiny overrides: the random tiny BERT as encoder, 2 pretraining
steps, 1 fine-tuning epoch. The built package is pip-installed into a temporary
target (not the test environment) and loaded by name in a fresh process.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import srsly

ROOT = Path(__file__).resolve().parent.parent
DUMP_NAME = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def _copy_project(dest: Path) -> None:
    shutil.copy(ROOT / "project.yml", dest / "project.yml")
    shutil.copytree(ROOT / "configs", dest / "configs")
    shutil.copytree(ROOT / "assets" / "default", dest / "assets" / "default")


def test_project_yml_commands_have_help_deps_outputs():
    project = srsly.read_yaml(ROOT / "project.yml")
    assert list(project)[:6] == ["title", "description", "vars", "directories", "assets", "workflows"]
    names = {c["name"] for c in project["commands"]}
    for step in project["workflows"]["all"]:
        assert step in names
    for command in project["commands"]:
        assert command.get("help"), command["name"]
        assert "deps" in command and "outputs" in command, command["name"]


@pytest.mark.slow
def test_all_workflow_on_embedded_default(tmp_path, shared_data_or_none):
    project = tmp_path / "project"
    project.mkdir()
    _copy_project(project)
    if shared_data_or_none is not None:
        # the same file `fetch-default` extracts from the gensim wheel (MD5-checked there),
        # so the test needs no download when the shared data is around
        src = shared_data_or_none / "wikipedia" / DUMP_NAME
        if src.exists():
            (project / "assets" / "wikipedia").mkdir(parents=True)
            shutil.copy(src, project / "assets" / "wikipedia" / DUMP_NAME)
    site = tmp_path / "site"
    env = dict(os.environ)
    env.update(
        PIP_TARGET=str(site),
        PYTHONPATH=os.pathsep.join([str(site), env.get("PYTHONPATH", "")]),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    overrides = [
        "--vars.encoder", "tiny",
        "--vars.pretrain_steps", "2",
        "--vars.pretrain_eval_frequency", "1",
        "--vars.finetune_epochs", "1",
        "--vars.workers", "1",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "project", "run", "all", str(project), *overrides],
        cwd=project, env=env, capture_output=True, text=True, timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    stats = srsly.read_json(project / "corpus" / "pretrain" / "stats.json")
    assert stats["pages"] > 100 and stats["sentences_kept"] > 100
    assert (project / "corpus" / "pretrain" / "balance.png").stat().st_size > 0
    assert (project / "training" / "pretrain" / "model-best" / "bio_tagger").is_dir()
    metrics = srsly.read_json(project / "metrics" / "default.json")
    assert "f1" in metrics and "per_type" in metrics
    # the package was installed into the temporary target and loaded by name
    assert any(p.name.startswith("nerbert_default") for p in site.iterdir())
    assert "spacy.load" not in result.stderr
    tasks = srsly.read_json(project / "exports" / "default-predictions.json")
    assert isinstance(tasks, list) and tasks and "predictions" in tasks[0]
    assert (project / "exports" / "weak-labels.json").exists()
