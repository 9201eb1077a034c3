"""nerbert-spacy: NER-BERT pretraining and fine-tuning for spaCy.

Importing the package is cheap: heavy modules (torch, transformers, rdflib)
load only when the function that needs them is called.
"""
from .about import __version__
from .errors import NerbertError

__all__ = ["__version__", "NerbertError"]
