"""A tiny pipeline packaged with ``spacy package``, installed into a temporary folder,
and loaded by name in a fresh process with no project files around."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example

from nerbert_spacy.errors import NerbertError
from nerbert_spacy.export.package import package_meta, parse_source, split_package_name


def _tiny_trained_pipeline(encoder, path: Path) -> Path:
    """transformer (tiny random BERT) + bio_tagger, trained 2 steps on a toy pattern."""
    from thinc.api import fix_random_seed

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config={"model": {"name": str(encoder), "tokenizer_config": {"use_fast": True}}})
    nlp.add_pipe("bio_tagger")
    examples = []
    for first, city in [("John", "Paris"), ("Paul", "London"), ("John", "Berlin")]:
        words = ["the", "president", first, "Smith", "was", "born", "in", city, "."]
        ref = Doc(nlp.vocab, words=words)
        ref.ents = [Span(ref, 2, 4, "PER"), Span(ref, 7, 8, "LOC")]
        examples.append(Example(Doc(nlp.vocab, words=words), ref))
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(2):
        nlp.update(examples, sgd=optimizer)
    nlp.meta["performance"] = {"ents_f": 0.5}
    nlp.to_disk(path)
    return path


def test_package_name_split_and_sources():
    assert split_package_name("nerbert_politics") == ("nerbert", "politics")
    assert split_package_name("nerbert_base") == ("nerbert", "base")
    for bad in ("nerbert", "_x", "nerbert-politics", "x_"):
        with pytest.raises(NerbertError):
            split_package_name(bad)
    assert parse_source("CrossNER|https://github.com/zliucr/CrossNER|MIT") == {
        "name": "CrossNER", "url": "https://github.com/zliucr/CrossNER", "license": "MIT"}


@pytest.mark.slow
def test_package_install_and_load_by_name(tiny_bert, tmp_path):
    model = _tiny_trained_pipeline(tiny_bert, tmp_path / "model-best")
    (tmp_path / "metrics.json").write_text(json.dumps({"f1": 0.25, "precision": 0.5, "recall": 1 / 6, "metric": "seqeval micro F1"}))
    meta = package_meta(model, name="nerbert_tinytest", version="0.0.1", sources=["toy|https://example.org|CC0"],
                        metrics=tmp_path / "metrics.json")
    assert meta["performance"]["test_f1"] == 0.25 and "seqeval micro F1: 0.2500" in meta["notes"]
    assert (meta["lang"], meta["name"]) == ("nerbert", "tinytest")
    assert meta["nerbert"]["encoder"] == str(tiny_bert)
    assert meta["nerbert"]["entity_types"] == ["LOC", "PER"]
    assert meta["sources"] == [{"name": "toy", "url": "https://example.org", "license": "CC0"}]
    assert "ents_f" in meta["performance"] and meta["license"] == "MIT"

    # the CLI helper runs `python -m spacy package` with that meta
    out = tmp_path / "packages"
    proc = subprocess.run(
        [sys.executable, "-m", "nerbert_spacy", "package", str(model), str(out), "--name", "nerbert_tinytest",
         "--version", "0.0.1", "--source", "toy|https://example.org|CC0", "--metrics", str(tmp_path / "metrics.json")],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pkg_dir = out / "nerbert_tinytest-0.0.1"
    sdist = pkg_dir / "dist" / "nerbert_tinytest-0.0.1.tar.gz"
    assert sdist.exists(), proc.stdout
    pkg_meta = json.loads((pkg_dir / "meta.json").read_text())
    assert pkg_meta["nerbert"]["package"] == "nerbert_tinytest" and pkg_meta["performance"]["test_f1"] == 0.25

    # install offline into a temporary site folder (no deps, no index, no build isolation)
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--target", str(site), str(sdist)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (site / "nerbert_tinytest").is_dir()

    # load by name in a fresh process, from an empty folder
    empty = tmp_path / "empty"
    empty.mkdir()
    script = (
        "import spacy, json\n"
        "nlp = spacy.load('nerbert_tinytest')\n"
        "doc = nlp('the president John Smith was born in Paris .')\n"
        "tags = [t.ent_iob_ for t in doc]\n"
        "print(json.dumps({'pipe': nlp.pipe_names, 'iob': tags, 'name': nlp.meta['name'], "
        "'labels': nlp.get_pipe('bio_tagger').labels, 'has_scores': 'scores' in doc.spans['bio_tagger'].attrs}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(site), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=empty, env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["pipe"] == ["transformer", "bio_tagger"]
    assert result["name"] == "tinytest"
    assert sorted(result["labels"]) == ["LOC", "PER"]
    assert len(result["iob"]) == 9 and set(result["iob"]) <= {"B", "I", "O"}
    assert result["has_scores"]
