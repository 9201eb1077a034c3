"""Shared fixtures: a tiny offline BERT, the shared benchmark data, CLI runner, a tiny
trained transformer + bio_tagger pipeline. Constants and builders shared by several test
modules are in helpers.py; test modules never import each other (test_layout.py checks).

Markers: ``slow`` (run by default, as in CI; deselect with ``-m "not slow"``
while iterating) and ``gpu`` (skipped unless torch sees a CUDA device). pytest.ini runs the
suite on pytest-xdist workers; ``-n0`` runs it in one process.
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import spacy
from helpers import person_city_examples, train_and_save
from spacy.tokens import Doc, DocBin, Span
from spacy.vocab import Vocab

# Under pytest-xdist (pytest.ini: `-n auto --dist loadfile`) each worker gets an equal share of the
# cores, for torch in its own process and (through the environment) in the training
# subprocesses it starts, instead of every worker using as many threads as there are cores.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(_share))
    os.environ.setdefault("MKL_NUM_THREADS", str(_share))
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))  # thinc may have imported torch already
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# the on-disk cache (nerbert_spacy.cache) of the test run: its own, empty, never the user's
os.environ["NERBERT_CACHE_DIR"] = tempfile.mkdtemp(prefix="nerbert-test-cache-")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("NERBERT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: end-to-end or training runs (seconds to minutes)")
    config.addinivalue_line("markers", "gpu: needs a CUDA device")
    config.addinivalue_line("markers", "shared_data: reads ../shared/data (skipped when absent)")


def pytest_unconfigure(config):
    shutil.rmtree(os.environ["NERBERT_CACHE_DIR"], ignore_errors=True)


# Modules that take minutes (end-to-end workflows) run first, so that under xdist one worker
# starts on them while the others take the short modules, instead of one of them coming last.
FIRST = ("test_project.py",)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.path.name not in FIRST)  # stable: the rest keep their order
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except Exception:  # pragma: no cover
        has_gpu = False
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(pytest.mark.skip(reason="no CUDA device"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real benchmark data folder; tests that use it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_data_or_none():
    """The shared data folder, or None when it is absent (for tests that only use it as a shortcut)."""
    return SHARED_DATA if SHARED_DATA.is_dir() else None


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """Path of a randomly initialised 2-layer BERT (hidden 32) with its WordPiece vocab."""
    from nerbert_spacy.tiny import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture
def cli_runner():
    from typer.testing import CliRunner

    return CliRunner()


def _write_tiny_corpus(folder: Path, n_shards: int = 2, per_shard: int = 6) -> Path:
    """Tiny DocBin shards with PER/LOC entities (plus an empty doc per shard)."""
    vocab = Vocab()
    folder.mkdir(parents=True, exist_ok=True)
    for s in range(n_shards):
        db = DocBin(store_user_data=True)
        for i in range(per_shard):
            words = ["the", "president", "John", "Smith", "was", "born", "in", ["Paris", "London"][i % 2], "."]
            doc = Doc(vocab, words=words)
            doc.ents = [Span(doc, 2, 4, "PER"), Span(doc, 7, 8, "LOC")]
            db.add(doc)
        db.add(Doc(vocab, words=[]))
        db.to_disk(folder / f"shard-{s:03d}.spacy")
    return folder


@pytest.fixture
def write_tiny_corpus():
    """``write(folder, n_shards=2, per_shard=6)``: tiny PER/LOC DocBin shards (+ one empty doc each)."""
    return _write_tiny_corpus


@pytest.fixture
def tiny_train_overrides(tmp_path, tiny_bert):
    """Config overrides for 2 training steps of the tiny BERT on tiny PER/LOC shards."""
    train_dir = _write_tiny_corpus(tmp_path / "train")
    dev_dir = _write_tiny_corpus(tmp_path / "dev", n_shards=1, per_shard=3)
    overrides = {
        "paths.train": str(train_dir),
        "paths.dev": str(dev_dir),
        "paths.encoder": str(tiny_bert),
        "training.max_steps": 2,
        "training.max_epochs": 0,
        "training.eval_frequency": 1,
        "training.batcher.size": 4,
        "training.accumulate_gradient": 2,
    }
    return overrides


class _FakeTagger:
    """Stands in for a pretrained bio_tagger: tags fixed words with 315-style types."""

    labels = ("president", "scientist", "country", "film")
    TYPES = {"Obama": "president", "Curie": "scientist", "France": "country", "Inception": "film"}

    def __call__(self, doc):
        doc.ents = [Span(doc, t.i, t.i + 1, label=self.TYPES[t.text]) for t in doc if t.text in self.TYPES]
        return doc


@spacy.Language.factory("_test_fake_tagger")
def _make_fake_tagger(nlp, name):
    return _FakeTagger()


@pytest.fixture
def fake_pretrained(tmp_path) -> Path:
    """A saved pipeline whose only component tags Obama/Curie/France/Inception with
    president/scientist/country/film, standing in for a pretrained NER-BERT."""
    nlp = spacy.blank("en")
    nlp.add_pipe("_test_fake_tagger")
    nlp.to_disk(tmp_path / "pretrained")
    return tmp_path / "pretrained"


@pytest.fixture(scope="module")
def pipeline_dir(tiny_bert, tmp_path_factory) -> Path:
    """A transformer + bio_tagger (LOC, PER) trained a few steps on the tiny BERT, saved
    (one per test module, so a module may change its copy)."""
    from thinc.api import fix_random_seed

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config={"model": {"name": str(tiny_bert)}})
    nlp.add_pipe("bio_tagger")
    path = tmp_path_factory.mktemp("hf") / "pipeline"
    return train_and_save(nlp, person_city_examples(nlp), path, learn_rate=3e-3, steps=6)
