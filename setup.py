"""nerbert-spacy: NER-BERT (Liu et al., 2021) as spaCy software.

Weak labels from Wikipedia anchors typed with the DBpedia Ontology, a
transformer + linear BIO tagging head pretrained on them with ``spacy train``,
fine-tuning configs per target domain, evaluation, packaging and export to
annotation tools.
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_version() -> str:
    for line in (HERE / "nerbert_spacy" / "about.py").read_text(encoding="utf8").splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip('"')
    raise RuntimeError("nerbert_spacy/about.py has no __version__")


setup(
    name="nerbert-spacy",
    version=read_version(),
    description="NER-BERT weak-label pretraining, fine-tuning and annotation export for spaCy",
    long_description=(HERE / "README.md").read_text(encoding="utf8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["nerbert_spacy", "nerbert_spacy.*"]),
    package_data={"nerbert_spacy": ["py.typed", "data/*", "data/**/*"]},
    include_package_data=True,
    install_requires=[
        # torch first and pinned by the caller (`pip install torch==2.13.0`) so pip
        # never resolves a multi-GB CUDA build; any torch >= 2.0 works.
        "torch>=2.0",
        "spacy>=3.8,<3.9",
        "spacy-transformers>=1.3.5,<1.5",
        "transformers>=4.30,<4.53.3",
        "thinc>=8.2,<8.4",
        "typer>=0.9",
        "rdflib>=7.0",
        "mwparserfromhell>=0.6.5",
        "srsly>=2.4",
        "seqeval>=1.2.2",
        "numpy>=1.24",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "scikit-learn>=1.3",
        "dask[distributed]>=2024.1",
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-xdist>=3.8", "hypothesis>=6", "ruff", "pysbd>=0.3.4"],
        "pysbd": ["pysbd>=0.3.4"],
    },
    entry_points={
        "console_scripts": ["nerbert = nerbert_spacy.cli:main"],
        "spacy_factories": [
            "bio_tagger = nerbert_spacy.pipeline.bio_tagger:make_bio_tagger",
            "dbpedia_labeller = nerbert_spacy.pipeline.weak_labeller:make_dbpedia_labeller",
            "label_mapper = nerbert_spacy.pipeline.label_mapper:make_label_mapper",
        ],
        "spacy_architectures": [
            "nerbert.BioTagger.v1 = nerbert_spacy.pipeline.architectures:build_bio_tagger",
            "nerbert.TransformerModel.v1 = nerbert_spacy.pipeline.windows:create_transformer_model",
        ],
        "spacy_readers": [
            "nerbert.ShardedCorpus.v1 = nerbert_spacy.pipeline.readers:create_sharded_corpus",
        ],
        "spacy_callbacks": [
            "nerbert.init_from_pretrained.v1 = nerbert_spacy.pipeline.callbacks:create_init_from_pretrained",
            "nerbert.checkpoint_resume.v1 = nerbert_spacy.pipeline.checkpoint:create_checkpoint_resume",
            "nerbert.checkpoint_resume.v2 = nerbert_spacy.pipeline.checkpoint:create_checkpoint_resume_v2",
            "nerbert.check_training_budget.v1 = nerbert_spacy.pipeline.logger:create_check_training_budget",
        ],
        "spacy_loggers": [
            "nerbert.ConsoleLogger.v1 = nerbert_spacy.pipeline.logger:create_console_logger",
        ],
        "thinc_layers": [
            "nerbert.reduce_first.v1 = nerbert_spacy.pipeline.layers:reduce_first_safe",
        ],
        "spacy_scorers": [
            "nerbert.bio_scorer.v1 = nerbert_spacy.pipeline.bio_tagger:make_bio_scorer",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Framework :: spaCy",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
