"""spaCy components, architectures, readers and callbacks of nerbert-spacy.

Nothing is imported here, so importing the package stays cheap; spaCy finds
the registered functions through the ``setup.py`` entry points:

- ``bio_tagger`` (factory), ``nerbert.BioTagger.v1`` (architecture),
  ``nerbert.bio_scorer.v1`` (scorer, an alias of spaCy's ``spacy.ner_scorer.v1`` for
  configs that name it): :mod:`.bio_tagger`, :mod:`.architectures`
- ``nerbert.reduce_first.v1`` (layer): :mod:`.layers`
- ``nerbert.ShardedCorpus.v1`` (reader): :mod:`.readers`
- ``nerbert.init_from_pretrained.v1`` (callback): :mod:`.callbacks`
- BIO helpers and constrained decoding: :mod:`nerbert_spacy.bio`
"""
