"""The pipeline that labels docs for export: a trained pipeline, a blank one, or
either with a ``dbpedia_labeller`` whose gazetteer comes from a names file and/or
DBpedia types (weak labels for annotation tools)."""
from pathlib import Path
from typing import Optional, Union

PathLike = Union[str, Path]


def labelling_pipeline(
    model: Optional[PathLike] = None,
    *,
    lang: str = "en",
    gazetteer: Optional[PathLike] = None,
    types: Optional[PathLike] = None,
    ontology: Optional[PathLike] = None,
    label_set: str = "315",
    redirects: Optional[PathLike] = None,
):
    """The pipeline ``nerbert export`` runs over its input.

    With ``gazetteer`` or ``types`` a ``dbpedia_labeller`` (the pipeline's own, or a new
    one added last) is initialised with them; its gazetteer is
    ``nlp.get_pipe("dbpedia_labeller").gazetteer``.

    model (Optional[str | Path]): A pipeline to load (name or folder); None: a blank
        ``lang`` pipeline if a labeller is needed.
    lang (str): Language of the blank pipeline.
    gazetteer (Optional[Path]): JSONL/TSV of names and labels.
    types (Optional[Path]): DBpedia instance types or a built type index.
    ontology (Optional[Path]): DBpedia ontology, with ``types``.
    label_set (str): Label set typing the DBpedia classes (315, 212 or 4), with ``types``.
    redirects (Optional[Path]): Extra redirects, with ``types``.
    RETURNS (Optional[Language]): The pipeline, or None when neither a model nor a
        labeller is asked for (the input is exported as stored).
    """
    import spacy

    from . import load_pipeline

    nlp = load_pipeline(model) if model is not None else None
    if gazetteer is None and types is None:
        return nlp
    if nlp is None:
        nlp = spacy.blank(lang)
    if "dbpedia_labeller" in nlp.pipe_names:
        labeller = nlp.get_pipe("dbpedia_labeller")
    else:
        labeller = nlp.add_pipe("dbpedia_labeller")
    labeller.initialize(gazetteer=gazetteer, types=types, ontology=ontology, label_set=label_set, redirects=redirects)
    return nlp
