"""The weak-label corpus (paper §2): annotate (sentences + typed anchors -> Docs),
filtering (§2.3), balancing (§2.4) and the resumable, parallel build.

Import the submodules directly (``from nerbert_spacy.corpus.build import build_corpus``);
this package imports nothing heavy.
"""
