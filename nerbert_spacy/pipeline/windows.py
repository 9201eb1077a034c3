"""Transformer windows that fit the encoder, so no token goes without input.

spacy-transformers cuts every window (``get_spans``: 128 spaCy tokens, stride
96) into word pieces and then truncates each window to the tokenizer's
``model_max_length``. When the pieces of a window exceed it (CJK text, long
URLs, code, a small encoder), the tokens past the cut get no word piece: the
first-sub-word pooling then hands them a zero vector and the tagger still
labels them, so coverage looks complete while a part of the text was never
encoded.

``nerbert.TransformerModel.v1`` is spacy-transformers' ``TransformerModel.v3``
whose span getter is wrapped: after the configured getter has made its windows,
every window whose word pieces (plus the special tokens) exceed the encoder's
limit is split into consecutive sub-windows that fit, counted with the model's
own tokenizer. A single token whose pieces alone exceed the limit gets a window
of its own (its first piece, all the pooling uses, is always encoded); such
tokens are counted in ``model.attrs["nerbert_windows"]`` and reported once
with a warning.

The encoder's weights are also updated in place (:mod:`.torch_update`), which
stops a small per-update leak of thinc's PyTorch shim.
"""
import warnings
from typing import Any, Callable, Dict, List, Optional

from spacy.tokens import Doc, Span
from spacy.util import registry

from .torch_update import keep_config_floats, update_in_place

GetSpans = Callable[[List[Doc]], List[List[Span]]]


def encoder_limit(tokenizer: Any, transformer: Any = None) -> int:
    """Most word pieces (special tokens included) one window may have.

    tokenizer: The Hugging Face tokenizer (``model_max_length``).
    transformer: The Hugging Face model, for ``config.max_position_embeddings``.
    RETURNS (int): The smaller of the two known limits (512 if neither is known).
    """
    limits = []
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
        limits.append(tok_max)
    config = getattr(transformer, "config", None)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    return min(limits) if limits else 512


def pieces_per_token(tokenizer: Any, span: Span) -> List[int]:
    """Number of word pieces of each token of ``span`` (special tokens excluded).

    A piece belongs to the token its first character falls in; a fast
    tokenizer's offsets give that directly, a slow one is asked token by token.
    """
    n = len(span)
    if getattr(tokenizer, "is_fast", False):
        start = span.start_char
        enc = tokenizer(span.text, add_special_tokens=False, return_offsets_mapping=True)
        counts = [0] * n
        token_starts = [t.idx - start for t in span]
        j = 0
        for s, e in enc["offset_mapping"]:
            if e <= s:
                continue
            while j + 1 < n and token_starts[j + 1] <= s:
                j += 1
            counts[j] += 1
        return counts
    return [len(tokenizer.tokenize(t.text)) for t in span]


def split_to_fit(span: Span, counts: List[int], budget: int) -> List[Span]:
    """Cut ``span`` into consecutive sub-spans of at most ``budget`` pieces each.

    span (Span): The window.
    counts (List[int]): Pieces per token (from :func:`pieces_per_token`).
    budget (int): Pieces allowed per window, special tokens already taken off.
    RETURNS (List[Span]): Sub-spans covering ``span`` in order; a token with more
        than ``budget`` pieces is a sub-span of its own.
    """
    out: List[Span] = []
    doc = span.doc
    begin, used = span.start, 0
    for i, c in enumerate(counts):
        tok = span.start + i
        if used and used + c > budget:
            out.append(doc[begin:tok])
            begin, used = tok, 0
        used += c
    if begin < span.end:
        out.append(doc[begin : span.end])
    return out


def fit_windows(
    spans: List[List[Span]], tokenizer: Any, limit: int, stats: Optional[Dict[str, int]] = None
) -> List[List[Span]]:
    """Split every window whose pieces exceed ``limit`` (special tokens included).

    spans (List[List[Span]]): Windows per doc, as a span getter returns them.
    tokenizer: The encoder's Hugging Face tokenizer.
    limit (int): Pieces per window the encoder takes (:func:`encoder_limit`).
    stats (Optional[Dict[str, int]]): Counters to update: ``windows``,
        ``windows_split``, ``tokens_over_limit`` (tokens whose own pieces exceed
        the limit: only their first ``limit`` pieces are encoded).
    RETURNS (List[List[Span]]): Windows per doc that all fit.
    """
    stats = stats if stats is not None else {}
    specials = tokenizer.num_special_tokens_to_add(pair=False) if hasattr(tokenizer, "num_special_tokens_to_add") else 2
    budget = max(1, limit - specials)
    out: List[List[Span]] = []
    for doc_spans in spans:
        fitted: List[Span] = []
        for span in doc_spans:
            stats["windows"] = stats.get("windows", 0) + 1
            # a piece covers at least one non-space character: short windows always fit
            if sum(len(t.text) for t in span) <= budget:
                fitted.append(span)
                continue
            counts = pieces_per_token(tokenizer, span)
            if sum(counts) <= budget:
                fitted.append(span)
                continue
            stats["windows_split"] = stats.get("windows_split", 0) + 1
            over = sum(1 for c in counts if c > budget)
            if over:
                stats["tokens_over_limit"] = stats.get("tokens_over_limit", 0) + over
            fitted.extend(split_to_fit(span, counts, budget))
        out.append(fitted)
    return out


def wrap_get_spans(model: Any, get_spans: GetSpans) -> GetSpans:
    """``get_spans`` followed by :func:`fit_windows` with ``model``'s tokenizer."""
    stats: Dict[str, int] = model.attrs.setdefault("nerbert_windows", {})
    warned = {"over": 0}

    def fitting_spans(docs: List[Doc]) -> List[List[Span]]:
        spans = get_spans(docs)
        tokenizer = model.tokenizer
        if tokenizer is None:
            return spans
        transformer = model.transformer if model.layers and model.layers[0].shims else None
        fitted = fit_windows(spans, tokenizer, encoder_limit(tokenizer, transformer), stats)
        over = stats.get("tokens_over_limit", 0)
        if over > warned["over"] and warned["over"] == 0:
            warnings.warn(
                f"{over} token(s) have more word pieces than the encoder takes in one window; only "
                "their first pieces are encoded (the first sub-word, which the tagger uses, always is)",
                stacklevel=2,
            )
        warned["over"] = over
        return fitted

    return fitting_spans


@registry.architectures("nerbert.TransformerModel.v1")
def create_transformer_model(
    name: str,
    get_spans: GetSpans,
    tokenizer_config: dict = {},
    transformer_config: dict = {},
    mixed_precision: bool = False,
    grad_scaler_config: dict = {},
):
    """spacy-transformers' ``TransformerModel.v3`` whose windows always fit the encoder.

    Same arguments as ``spacy-transformers.TransformerModel.v3``; ``get_spans``
    makes the windows (e.g. ``strided_spans.v1``), which are then split by word
    pieces where they would be truncated (see the module docstring); its weights are updated
    in place and a saved encoder's config floats load exactly (:mod:`.torch_update`).
    RETURNS (TransformerModel): The model.
    """
    from spacy_transformers.architectures import create_TransformerModel_v3

    model = create_TransformerModel_v3(
        name,
        get_spans,
        tokenizer_config=dict(tokenizer_config),
        transformer_config=dict(transformer_config),
        mixed_precision=mixed_precision,
        grad_scaler_config=dict(grad_scaler_config),
    )
    model.attrs["get_spans"] = wrap_get_spans(model, get_spans)
    for shim in model.layers[0].shims:
        update_in_place(shim)
        keep_config_floats(shim)
    return model


def transformer_component_config(name: str) -> Dict[str, Any]:
    """The ``[components.transformer]`` block of ``configs/pretrain.cfg`` and
    ``configs/finetune.cfg`` (without ``factory``) over the encoder ``name``: for pipelines
    assembled in code (an encoder panel of Figure 3, an imported Hugging Face checkpoint), which
    cannot read those files because they are not part of the installed package. A test keeps the
    two in step.

    name (str): The encoder's folder or Hugging Face model name.
    RETURNS (Dict[str, Any]): The component config, for ``nlp.add_pipe("transformer", config=...)``.
    """
    return {
        "max_batch_items": 4096,
        "set_extra_annotations": {"@annotation_setters": "spacy-transformers.null_annotation_setter.v1"},
        "model": {
            "@architectures": "nerbert.TransformerModel.v1",
            "name": name,
            "mixed_precision": False,
            "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
            "grad_scaler_config": {},
            "tokenizer_config": {"use_fast": True},
            "transformer_config": {},
        },
    }
