"""Inspection: displaCy HTML of weak labels / predictions, and the paper's Figure 3.

Figure 3 of the NER-BERT paper shows t-SNE projections of entity
representations — the encoder's output for the FIRST sub-word token of each
gold entity — coloured by gold type, for several models side by side. Here
any set of spaCy pipelines with a spacy-transformers ``transformer`` component
(or a ``tok2vec``, which sets ``doc.tensor``) can be compared on a test DocBin.
"""
import hashlib
import warnings
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy

from .errors import NerbertError
from .util import atomic_path, make_rng, write_text_atomic

WIKIPEDIA_URL = "https://en.wikipedia.org/wiki/{}"


def label_color(label: str) -> str:
    """A stable pastel colour for a label (displaCy only knows colours for a few)."""
    h = int(hashlib.md5(label.encode("utf8")).hexdigest()[:6], 16)
    hue = h % 360
    return f"hsl({hue}, 70%, 80%)"


def render_displacy(
    docs: Iterable,
    output: Union[str, Path],
    *,
    spans_key: Optional[str] = None,
    max_docs: Optional[int] = None,
    kb_url_template: Optional[str] = WIKIPEDIA_URL,
) -> Dict[str, int]:
    """Write a standalone displaCy HTML page (no server) of entities or a span group.

    docs (Iterable[Doc]): The documents.
    output (str | Path): The ``.html`` file (written atomically).
    spans_key (Optional[str]): Show ``doc.spans[spans_key]`` (overlaps allowed,
        ``span`` style) instead of ``doc.ents`` (``ent`` style).
    max_docs (Optional[int]): Show at most this many docs.
    kb_url_template (Optional[str]): Link entities with a ``kb_id`` (Wikipedia
        titles for weak labels) through this template.
    RETURNS (Dict[str, int]): ``docs`` and ``spans`` shown.
    """
    from spacy import displacy

    shown = []
    n_spans = 0
    labels = set()
    for i, doc in enumerate(docs):
        if max_docs is not None and i >= max_docs:
            break
        if spans_key is not None:
            if spans_key not in doc.spans:
                doc.spans[spans_key] = []
            spans = list(doc.spans[spans_key])
        else:
            spans = list(doc.ents)
        n_spans += len(spans)
        labels.update(s.label_ for s in spans)
        shown.append(doc)
    options: Dict[str, Any] = {"colors": {lab: label_color(lab) for lab in sorted(labels)}}
    if spans_key is not None:
        options["spans_key"] = spans_key
        style = "span"
    else:
        style = "ent"
        if kb_url_template:
            options["kb_url_template"] = kb_url_template
    if shown:
        with warnings.catch_warnings():
            # W117: a doc with an empty span group; showing its plain text is intended
            warnings.filterwarnings("ignore", message=r".*W117")
            html = displacy.render(shown, style=style, page=True, options=options)
    else:
        html = "<!DOCTYPE html><html><body>no documents</body></html>"
    write_text_atomic(output, html)
    return {"docs": len(shown), "spans": n_spans}


# --------------------------------------------------------------------------- t-SNE (Figure 3)


def _encoder_pipes(nlp) -> Tuple[List[str], str]:
    """Names of the pipes to run to get token representations, and the kind."""
    try:
        from spacy_transformers import Transformer
    except ImportError:  # pragma: no cover
        Transformer = None  # type: ignore
    from spacy.pipeline import Tok2Vec

    names = nlp.pipe_names
    for i, (name, pipe) in enumerate(nlp.pipeline):
        if Transformer is not None and isinstance(pipe, Transformer):
            return names[: i + 1], "transformer"
    for i, (name, pipe) in enumerate(nlp.pipeline):
        if isinstance(pipe, Tok2Vec):
            return names[: i + 1], "tok2vec"
    raise NerbertError("pipeline has no transformer or tok2vec component to take entity representations from")


def transformer_settings(nlp) -> Optional[Dict[str, Any]]:
    """The ``transformer`` component's config of a loaded pipeline (a deep copy, without its
    ``factory`` key), or None when it has no spacy-transformers ``transformer``."""
    import copy

    for name in nlp.pipe_names:
        block = nlp.config["components"].get(name, {})
        if block.get("factory") == "transformer":
            settings = copy.deepcopy(dict(block))
            settings.pop("factory", None)
            return settings
    return None


def encoder_pipeline(encoder: Union[str, Path], lang: str = "en", settings: Optional[Dict[str, Any]] = None):
    """A pipeline of one ``transformer`` component over a plain encoder folder (a Hugging Face
    model such as ``nerbert model encoder minilm DIR`` writes), with no training: the paper's
    "BERT" panel of Figure 3.

    encoder (str | Path): Folder with the encoder's ``config.json``, weights and tokenizer.
    lang (str): Language of the blank pipeline.
    settings (Optional[Dict[str, Any]]): The ``transformer`` component's config to copy (windows,
        stride, tokenizer settings; see :func:`transformer_settings`), with the model name replaced
        by ``encoder``. Default: those of ``configs/*.cfg``
        (:func:`~nerbert_spacy.pipeline.windows.transformer_component_config`).
    RETURNS (Language): The initialised pipeline.
    """
    import copy

    import spacy

    folder = Path(encoder)
    if not (folder / "config.json").is_file():
        raise NerbertError("not an encoder folder (no config.json)", folder)
    from .pipeline.windows import transformer_component_config

    if settings is None:
        config = transformer_component_config(str(folder))
    else:
        config = copy.deepcopy(dict(settings))
        config.pop("factory", None)
        config["model"] = dict(config.get("model", {}), name=str(folder))
    nlp = spacy.blank(lang)
    try:
        nlp.add_pipe("transformer", config=config)
        nlp.initialize()
    except Exception as err:  # noqa: BLE001 - a broken encoder folder is one line naming it
        raise NerbertError(f"cannot load the encoder ({str(err).strip().splitlines()[0]})", folder) from None
    return nlp


def _is_encoder_folder(model: Union[str, Path]) -> bool:
    path = Path(str(model))
    return path.is_dir() and not (path / "config.cfg").is_file() and (path / "config.json").is_file()


def _panel_pipelines(models: Sequence[Union[str, Path]]) -> List[Any]:
    """One pipeline per panel: saved pipelines or package names are loaded; plain encoder folders
    (see :func:`encoder_pipeline`) get the transformer settings of the first loaded pipeline that
    has a ``transformer``, so every panel reads its sentences through the same windows."""
    from .docio import load_pipeline

    loaded: Dict[int, Any] = {i: load_pipeline(m) for i, m in enumerate(models) if not _is_encoder_folder(m)}
    settings = next((s for s in (transformer_settings(nlp) for nlp in loaded.values()) if s is not None), None)
    return [loaded[i] if i in loaded else encoder_pipeline(m, settings=settings) for i, m in enumerate(models)]


def first_subword_vectors(doc, token_indices: Sequence[int]) -> numpy.ndarray:
    """Rows of the transformer output for the first word piece of each given token.

    Reads ``doc._.trf_data`` (spacy-transformers 1.x ``TransformerData``):
    ``model_output.last_hidden_state`` flattened to (pieces, width) and
    ``align``, whose row i lists the pieces of token i. A token without word
    pieces gets a zero vector.
    """
    trf = doc._.trf_data
    hidden = trf.model_output.last_hidden_state
    hidden = numpy.asarray(hidden.get() if hasattr(hidden, "get") else hidden)
    width = hidden.shape[-1]
    flat = hidden.reshape(-1, width)
    lengths = numpy.asarray(trf.align.lengths)
    data = numpy.asarray(trf.align.dataXd).reshape(-1)
    starts = numpy.cumsum(lengths) - lengths
    out = numpy.zeros((len(token_indices), width), dtype="float32")
    for j, i in enumerate(token_indices):
        if lengths[i] > 0:
            out[j] = flat[data[starts[i]]]
    return out


def entity_representations(nlp, gold_docs: Sequence, entities: Sequence[Tuple[int, int]]) -> numpy.ndarray:
    """First-sub-word representations of gold entities under pipeline ``nlp``.

    nlp (Language): The pipeline (its transformer, or tok2vec, is run; nothing after it).
    gold_docs (Sequence[Doc]): The test docs (their tokenisation is kept).
    entities (Sequence[Tuple[int, int]]): ``(doc index, first token index)`` per entity.
    RETURNS (numpy.ndarray): One row per entity.
    """
    from spacy.tokens import Doc

    pipes, kind = _encoder_pipes(nlp)
    by_doc: Dict[int, List[Tuple[int, int]]] = {}
    for row, (d, t) in enumerate(entities):
        by_doc.setdefault(d, []).append((row, t))
    doc_ids = sorted(by_doc)
    fresh = [
        Doc(nlp.vocab, words=[t.text for t in gold_docs[d]], spaces=[bool(t.whitespace_) for t in gold_docs[d]])
        for d in doc_ids
    ]
    rows: Dict[int, numpy.ndarray] = {}
    with nlp.select_pipes(enable=pipes):
        for d, doc in zip(doc_ids, nlp.pipe(fresh, batch_size=16)):
            idx = [t for _, t in by_doc[d]]
            if kind == "transformer":
                vecs = first_subword_vectors(doc, idx)
            else:
                tensor = numpy.asarray(doc.tensor)
                vecs = tensor[idx]
            for (row, _), v in zip(by_doc[d], vecs):
                rows[row] = v
    return numpy.stack([rows[r] for r in range(len(entities))])


def sample_entities(gold_docs: Sequence, max_entities: int, seed: int) -> List[Tuple[int, int, str]]:
    """``(doc index, first token, label)`` of the gold entities, a seeded sample if more than ``max_entities``."""
    ents = [(d, e.start, e.label_) for d, doc in enumerate(gold_docs) for e in doc.ents]
    if len(ents) > max_entities:
        rng = make_rng(seed, "tsne-sample")
        ents = sorted(rng.sample(ents, max_entities))
    return ents


def tsne_figure(
    test_path: Union[str, Path],
    models: Sequence[Union[str, Path]],
    output: Union[str, Path],
    *,
    names: Optional[Sequence[str]] = None,
    max_entities: int = 2000,
    seed: int = 0,
    perplexity: float = 30.0,
    max_types: int = 12,
    lang: str = "en",
) -> Dict[str, Any]:
    """The paper's Figure 3: t-SNE of first-sub-word entity representations, one panel per pipeline.

    test_path (str | Path): Test DocBin with gold ``doc.ents``.
    models (Sequence[str | Path]): Pipelines (names or paths), or plain encoder folders (the
        paper's "BERT" panel, :func:`encoder_pipeline`, with the transformer settings of the
        first saved pipeline), one panel each.
    output (str | Path): The PNG (written atomically).
    names (Optional[Sequence[str]]): Panel titles (default: the model paths' names).
    max_entities (int): Seeded sample of at most this many entities (the same for all panels).
    seed (int): Seed of the sample and of t-SNE.
    perplexity (float): t-SNE perplexity (lowered for small samples).
    max_types (int): Colour the most frequent types; the rest are grey "other".
    lang (str): Language of the vocab used to read the DocBin.
    RETURNS (Dict[str, Any]): ``entities``, ``types`` (counts), and per model the
        ``silhouette`` of the gold types in the representation space (cosine;
        higher = types better separated) and t-SNE's ``kl_divergence``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import spacy
    from sklearn.manifold import TSNE
    from sklearn.metrics import silhouette_score

    from .docio import read_docs
    from .errors import require_file

    if not models:
        raise NerbertError("give at least one pipeline (--model)")
    test_path = require_file(test_path, "test DocBin")
    names = list(names) if names else [Path(str(m)).name or str(m) for m in models]
    if len(names) != len(models):
        raise NerbertError(f"{len(names)} names for {len(models)} pipelines")
    gold = read_docs(test_path, spacy.blank(lang).vocab, what="test DocBin")
    ents = sample_entities(gold, max_entities, seed)
    if len(ents) < 5:
        raise NerbertError(f"only {len(ents)} gold entities; t-SNE needs at least 5", test_path)
    labels = [lab for _, _, lab in ents]
    counts: Dict[str, int] = {}
    for lab in labels:
        counts[lab] = counts.get(lab, 0) + 1
    top = [lab for lab, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_types]]
    cmap = plt.get_cmap("tab20" if len(top) > 10 else "tab10")
    color_of = {lab: cmap(i % cmap.N) for i, lab in enumerate(top)}
    per_model: Dict[str, Dict[str, float]] = {}
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models) + 2, 5), squeeze=False)
    perp = float(min(perplexity, max(2.0, (len(ents) - 1) / 3)))
    for ax, nlp, title in zip(axes[0], _panel_pipelines(models), names):
        X = entity_representations(nlp, gold, [(d, t) for d, t, _ in ents])
        tsne = TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed, learning_rate="auto")
        Y = tsne.fit_transform(X.astype("float64"))
        stats: Dict[str, float] = {"kl_divergence": float(tsne.kl_divergence_)}
        if 1 < len(set(labels)) < len(labels) and float(numpy.abs(X).sum()) > 0:
            stats["silhouette"] = float(silhouette_score(X, labels, metric="cosine"))
        per_model[title] = stats
        other = [i for i, lab in enumerate(labels) if lab not in color_of]
        if other:
            ax.scatter(Y[other, 0], Y[other, 1], s=6, c="lightgrey", label="other")
        for lab in top:
            idx = [i for i, x in enumerate(labels) if x == lab]
            ax.scatter(Y[idx, 0], Y[idx, 1], s=8, color=color_of[lab], label=lab)
        sil = f" (silhouette {stats['silhouette']:.3f})" if "silhouette" in stats else ""
        ax.set_title(f"{title}{sil}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, leg_labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, leg_labels, loc="center right", fontsize=8, markerscale=2, frameon=False)
    fig.suptitle(f"t-SNE of first-sub-word entity representations ({len(ents)} gold entities)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1 - 1.6 / (5 * len(models) + 2), 0.95))
    output = Path(output)
    with atomic_path(output) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return {"entities": len(ents), "types": dict(sorted(counts.items())), "models": per_model, "perplexity": perp}
