"""Wikipedia: ``dump`` streams pages from dumps (.xml, .bz2, multistream blocks, redirects),
``wikitext`` turns wikitext into text with anchor spans, ``sentences`` splits sentences, and
``default_dump`` fetches the embedded default fragment.

Import the submodules directly (``from nerbert_spacy.wikipedia.dump import iter_pages``);
this package imports nothing itself.
"""
