"""Evaluation as in the paper: seqeval micro F1 over BIO tags (seqeval's
default, conlleval-compatible mode), per-type precision/recall/F1, mean and
standard deviation over seeds, and Table-2-style markdown tables.

Scores are fractions in [0, 1] in every JSON; tables show percentages.

Gold and predicted tags both come from ``doc.ents`` over the *gold*
tokenisation (the pipeline runs on a copy of each gold doc's words), so the
two tag sequences always align and are always valid BIO. On valid BIO,
seqeval's default and strict modes and spaCy's exact-match entity scorer give
the same numbers; they differ only on invalid BIO (an ``I-X`` after ``O``),
which the dataset readers repair before anything is scored.
"""
import statistics
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from .bio import doc_to_bio
from .errors import NerbertError, require_file

PathLike = Union[str, Path]

METRIC = "seqeval micro F1 over BIO tags (default mode)"

#: The paper's Table 2 (F1, %), BERT-base-cased backbone, as printed: setting, arm, then one
#: column per domain of :data:`TABLE2_DOMAINS`.
TABLE2_DOMAINS = ("politics", "science", "music", "literature", "ai", "twitter", "btc", "bionlp13cg",
                  "bionlp13pc", "sec", "re3d")
_TABLE2_ROWS = """
target        bert             66.56 63.73 66.59 59.95 50.37 83.34 75.61 78.05 83.20 76.23 68.42
target        nerbert-4types   70.76 68.31 71.02 63.91 57.03 83.40 77.26 78.80 83.91 77.55 69.22
target        nerbert-212types 73.81 71.09 75.98 68.13 58.58 83.46 77.06 79.20 85.11 77.85 70.28
target        nerbert          73.69 71.90 76.23 67.85 60.39 83.59 77.30 79.86 85.35 78.72 70.79
source-target bert             68.71 64.94 68.30 63.63 58.88 83.77 77.28 78.59 84.02 75.97 69.57
source-target nerbert-4types   71.98 69.27 75.46 66.37 59.03 83.85 77.70 79.57 84.29 77.88 70.21
source-target nerbert-212types 75.09 72.13 79.49 71.33 63.27 83.77 77.74 79.63 84.97 78.30 70.70
source-target nerbert          76.12 72.10 80.20 71.90 63.34 83.97 77.76 80.16 85.86 78.39 71.59
"""


def _parse_table2(rows: str) -> Dict[str, Dict[str, Dict[str, float]]]:
    table: Dict[str, Dict[str, Dict[str, float]]] = {}
    for line in rows.strip().splitlines():
        setting, arm, *values = line.split()
        table.setdefault(setting, {})[arm] = dict(zip(TABLE2_DOMAINS, map(float, values)))
    return table


#: Keys: setting -> arm -> domain -> F1 (%).
PAPER_TABLE2: Dict[str, Dict[str, Dict[str, float]]] = _parse_table2(_TABLE2_ROWS)

#: Published zero-shot F1 (%) on CrossNER, for zero-shot arms (issue 7).
ZERO_SHOT_REFERENCE: Dict[str, Dict[str, float]] = {
    "GLiNER-L (published, zero-shot)": dict(ai=57.2, literature=64.4, music=69.6, politics=72.6, science=62.6),
}

#: Column headers as in the paper.
DOMAIN_HEADERS = {
    "politics": "Pol.", "science": "Sci.", "music": "Mus.", "literature": "Lit.", "ai": "AI",
    "twitter": "Twi.", "btc": "BTwi.", "bionlp13cg": "BioCG", "bionlp13pc": "BioPC", "sec": "Fin.",
    "re3d": "Def.", "conll2003": "CoNLL",
}

_ALIASES = {"finance": "sec", "fin": "sec", "defence": "re3d", "defense": "re3d", "broadtwitter": "btc",
            "biocg": "bionlp13cg", "biopc": "bionlp13pc"}


def paper_domain(domain: str) -> str:
    """Map a grid domain name to the paper's key (``crossner-politics`` -> ``politics``).

    domain (str): A domain name.
    RETURNS (str): The key used in PAPER_TABLE2 (unchanged if unknown).
    """
    d = domain.lower()
    if d.startswith("crossner-"):
        d = d[len("crossner-"):]
    return _ALIASES.get(d, d)


def score_bio(
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
    mode: Optional[str] = None,
) -> Dict[str, Any]:
    """seqeval scores of predicted vs gold BIO tag sequences.

    gold (Sequence[Sequence[str]]): Gold tags per sentence.
    pred (Sequence[Sequence[str]]): Predicted tags per sentence (same lengths).
    mode (Optional[str]): None (seqeval default, as the paper) or "strict" (IOB2 scheme).
    RETURNS (Dict[str, Any]): ``precision``, ``recall``, ``f1`` (micro), ``per_type``
        ({label: {precision, recall, f1, support}}), ``n_sentences``, ``n_gold``, ``n_pred``.
    """
    from seqeval.metrics import (
        classification_report,
        f1_score,
        precision_score,
        recall_score,
    )
    from seqeval.metrics.sequence_labeling import get_entities

    gold = [list(g) for g in gold]
    pred = [list(p) for p in pred]
    if len(gold) != len(pred):
        raise NerbertError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise NerbertError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")
    kwargs: Dict[str, Any] = {"zero_division": 0}
    if mode == "strict":
        from seqeval.scheme import IOB2

        kwargs.update(mode="strict", scheme=IOB2)
    elif mode is not None:
        raise NerbertError(f"unknown seqeval mode {mode!r}; use None (default) or 'strict'")
    n_gold = sum(len(get_entities(g)) for g in gold)
    n_pred = sum(len(get_entities(p)) for p in pred)
    result: Dict[str, Any] = {
        "precision": float(precision_score(gold, pred, **kwargs)),
        "recall": float(recall_score(gold, pred, **kwargs)),
        "f1": float(f1_score(gold, pred, **kwargs)),
    }
    per_type: Dict[str, Dict[str, float]] = {}
    if n_gold or n_pred:
        report = classification_report(gold, pred, output_dict=True, **kwargs)
        for label, row in sorted(report.items()):
            if label.endswith(" avg"):
                continue
            per_type[label] = {
                "precision": float(row["precision"]),
                "recall": float(row["recall"]),
                "f1": float(row["f1-score"]),
                "support": int(row["support"]),
            }
    result.update(per_type=per_type, n_sentences=len(gold), n_gold=n_gold, n_pred=n_pred)
    return result


def score_docs(gold_docs: Sequence, pred_docs: Sequence, mode: Optional[str] = None) -> Dict[str, Any]:
    """Score predicted docs against gold docs (same tokens) with :func:`score_bio`.

    gold_docs (Sequence[Doc]): Docs with gold ``doc.ents``.
    pred_docs (Sequence[Doc]): Docs with predicted ``doc.ents``, token-aligned with gold.
    mode (Optional[str]): seqeval mode (None = default).
    RETURNS (Dict[str, Any]): See :func:`score_bio`.
    """
    if len(gold_docs) != len(pred_docs):
        raise NerbertError(f"{len(gold_docs)} gold docs but {len(pred_docs)} predicted docs")
    for i, (g, p) in enumerate(zip(gold_docs, pred_docs)):
        if len(g) != len(p) or any(a.text != b.text for a, b in zip(g, p)):
            raise NerbertError(f"doc {i}: predicted tokens differ from the gold tokens")
    return score_bio([doc_to_bio(d) for d in gold_docs], [doc_to_bio(d) for d in pred_docs], mode=mode)


def predict_docs(nlp, gold_docs: Iterable, batch_size: int = 64) -> List:
    """Run ``nlp`` over fresh copies of the gold docs' tokens (no gold annotation).

    nlp (Language): The pipeline.
    gold_docs (Iterable[Doc]): Gold docs.
    batch_size (int): Batch size for ``nlp.pipe``.
    RETURNS (List[Doc]): Predicted docs, token-aligned with the gold docs.
    """
    from spacy.tokens import Doc

    inputs = [Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in gold_docs]
    return list(nlp.pipe(inputs, batch_size=batch_size))


def load_test_docs(test_path: PathLike, vocab=None) -> List:
    """Read a DocBin of gold docs; NerbertError if missing, unreadable or empty."""
    from .docio import read_docs

    path = require_file(test_path, "test DocBin")
    docs = read_docs(path, vocab, what="test DocBin")
    if not docs:
        raise NerbertError("contains no docs", path)
    return docs


def pipeline_entity_labels(nlp) -> Optional[List[str]]:
    """The entity labels a pipeline can write to ``doc.ents``: the labels of every
    component that assigns ``doc.ents`` (BIO prefixes removed), counting only from
    the last ``label_mapper`` on (it rewrites ``doc.ents`` onto its target labels).

    nlp (Language): The pipeline.
    RETURNS (Optional[List[str]]): The labels, sorted; None when no such component
        reports any (nothing to check against).
    """
    labels: set = set()
    for name, proc in reversed(nlp.pipeline):
        meta = nlp.get_pipe_meta(name)
        if "doc.ents" not in (meta.assigns or []):
            continue
        for label in getattr(proc, "labels", None) or ():
            label = str(label)
            labels.add(label[2:] if label[:2] in ("B-", "I-", "L-", "U-", "E-", "S-") else label)
        if meta.factory == "label_mapper":
            break
    labels.discard("O")
    return sorted(labels) or None


def check_label_overlap(gold: Sequence[str], model_labels: Optional[Sequence[str]], where: PathLike) -> List[str]:
    """The gold labels the model cannot produce; NerbertError when it can produce none
    of them (every score would be 0 for a reason that is no fault of the model).

    gold (Sequence[str]): The gold labels.
    model_labels (Optional[Sequence[str]]): The model's labels (None: not known, no check).
    where (str | Path): The test file, for the message.
    RETURNS (List[str]): The gold labels missing from the model, in gold order ([] when all known).
    """
    if model_labels is None or not gold:
        return []
    missing = [g for g in gold if g not in set(model_labels)]
    if len(missing) == len(gold):
        raise NerbertError(
            f"the model predicts none of the gold labels ({', '.join(gold)}), only "
            f"{', '.join(model_labels)} (convert the test data with the model's labels, or map them "
            "with nerbert labels map and a label_mapper)",
            where,
        )
    return missing


def evaluate_pipeline(
    model: Union[PathLike, Any],
    test_path: PathLike,
    batch_size: int = 64,
    gpu_id: int = -1,
    mode: Optional[str] = None,
) -> Dict[str, Any]:
    """Evaluate a pipeline on a gold DocBin with seqeval (micro F1 + per type).

    model (str | Path | Language): Pipeline directory/package name, or a loaded pipeline.
    test_path (str | Path): DocBin with gold ``doc.ents``.
    batch_size (int): Batch size for prediction.
    gpu_id (int): GPU to use (-1 = CPU).
    mode (Optional[str]): seqeval mode (None = default, as the paper; "strict").
    RETURNS (Dict[str, Any]): :func:`score_bio`'s keys plus ``metric``, ``model``, ``test``,
        ``n_tokens``, ``seconds``, ``words_per_second``, ``model_labels`` (None when the
        pipeline does not say), ``gold_labels`` and ``gold_labels_not_predictable`` (those
        the model cannot produce). NerbertError when it can produce none of the gold labels.
    """
    import spacy

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    if isinstance(model, (str, Path)):
        from .docio import load_pipeline

        model_name = str(model)
        nlp = load_pipeline(model)
    else:
        nlp = model
        model_name = str(getattr(nlp, "path", None) or nlp.meta.get("name", "pipeline"))
    gold = load_test_docs(test_path, nlp.vocab)
    model_labels = pipeline_entity_labels(nlp)
    gold_labels = sorted({e.label_ for d in gold for e in d.ents})
    not_predictable = check_label_overlap(gold_labels, model_labels, test_path)
    start = time.perf_counter()
    pred = predict_docs(nlp, gold, batch_size=batch_size)
    seconds = time.perf_counter() - start
    result = score_docs(gold, pred, mode=mode)
    n_tokens = sum(len(d) for d in gold)
    result.update(
        metric=METRIC if mode is None else f"seqeval micro F1 over BIO tags ({mode} mode)",
        model=model_name,
        test=str(test_path),
        n_tokens=n_tokens,
        seconds=round(seconds, 3),
        words_per_second=round(n_tokens / seconds, 1) if seconds > 0 else None,
        model_labels=model_labels,
        gold_labels=gold_labels,
        gold_labels_not_predictable=not_predictable,
    )
    return result


def _mean_std(values: Sequence[float]) -> Dict[str, float]:
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": mean, "std": std}


def aggregate(results: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Mean and sample standard deviation (n-1) over runs (seeds).

    results (Sequence[Mapping]): Result dicts with ``f1``, ``precision``, ``recall``
        and optionally ``per_type`` and ``seed``.
    RETURNS (Dict[str, Any]): ``n``, ``seeds``, ``f1``/``precision``/``recall`` as
        {mean, std}, and ``per_type`` {label: {f1: {mean, std}}} over runs that have it.
    """
    if not results:
        raise NerbertError("no results to aggregate")
    out: Dict[str, Any] = {"n": len(results), "seeds": [r.get("seed") for r in results]}
    for key in ("f1", "precision", "recall"):
        values = [float(r[key]) for r in results if r.get(key) is not None]
        if len(values) != len(results):
            raise NerbertError(f"{len(results) - len(values)} of {len(results)} results have no {key!r}")
        out[key] = _mean_std(values)
    labels = sorted({lab for r in results for lab in (r.get("per_type") or {})})
    out["per_type"] = {
        lab: {"f1": _mean_std([r["per_type"][lab]["f1"] for r in results if lab in (r.get("per_type") or {})])}
        for lab in labels
    }
    return out


def format_cell(agg: Optional[Mapping[str, Any]], digits: int = 2) -> str:
    """``mean ± std`` of F1 in percent (``–`` for a missing cell)."""
    if not agg:
        return "–"
    f1 = agg["f1"]
    if agg.get("n", 1) > 1:
        return f"{100 * f1['mean']:.{digits}f} ± {100 * f1['std']:.{digits}f}"
    return f"{100 * f1['mean']:.{digits}f}"


def render_table(
    cells: Mapping[str, Mapping[str, Optional[Mapping[str, Any]]]],
    domains: Sequence[str],
    paper: Optional[Mapping[str, Mapping[str, float]]] = None,
    paper_label: str = "paper (BERT-base)",
    show_n: bool = True,
    extra_rows: Optional[Mapping[str, Mapping[str, float]]] = None,
) -> str:
    """A Table-2-style markdown table: rows = arms, columns = domains (+ Avg.).

    cells (Mapping[str, Mapping[str, agg]]): arm -> domain -> :func:`aggregate` output (or None).
    domains (Sequence[str]): Column order.
    paper (Optional[Mapping[str, Mapping[str, float]]]): Reference rows arm -> paper domain
        key -> F1 (%), e.g. ``PAPER_TABLE2["target"]``; rows for arms in ``cells`` only.
    paper_label (str): Prefix of the reference rows.
    show_n (bool): Add a column with the number of runs per cell (min-max).
    extra_rows (Optional[Mapping[str, Mapping[str, float]]]): More reference rows,
        row name -> paper domain key -> F1 (%), shown whatever the arms.
    RETURNS (str): Markdown.
    """
    refs = [(f"{paper_label}: {arm}", paper[arm]) for arm in cells if paper and paper.get(arm)]
    refs += list((extra_rows or {}).items())
    # domains the reference rows have (CoNLL-2003 is not in the paper's Table 2): a second average
    # over those alone compares like with like
    shared = [d for d in domains if refs and all(ref.get(paper_domain(d)) is not None for _, ref in refs)]
    second = 0 < len(shared) < len(domains)

    def mean_or_dash(values: Sequence[Optional[float]]) -> str:
        return f"{statistics.fmean(values):.2f}" if values and all(v is not None for v in values) else "–"

    headers = ["Model"] + [DOMAIN_HEADERS.get(paper_domain(d), d) for d in domains] + ["Avg."]
    if second:
        headers.append(f"Avg. ({len(shared)} in the paper)")
    if show_n:
        headers.append("runs")
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + [":---:"] * (len(headers) - 1)) + "|"]
    for arm, row in cells.items():
        f1 = {d: (None if row.get(d) is None else 100 * row[d]["f1"]["mean"]) for d in domains}
        vals = ["–" if row.get(d) is None else format_cell(row[d]) for d in domains]
        line = [arm] + vals + [mean_or_dash([f1[d] for d in domains])]
        if second:
            line.append(mean_or_dash([f1[d] for d in shared]))
        if show_n:
            ns = [row[d]["n"] for d in domains if row.get(d) is not None]
            line.append("–" if not ns else (str(min(ns)) if min(ns) == max(ns) else f"{min(ns)}-{max(ns)}"))
        lines.append("| " + " | ".join(line) + " |")
    for row_name, ref in refs:
        vals = [ref.get(paper_domain(d)) for d in domains]
        line = [row_name] + ["–" if v is None else f"{v:.2f}" for v in vals] + [mean_or_dash(vals)]
        if second:
            line.append(mean_or_dash([ref.get(paper_domain(d)) for d in shared]))
        if show_n:
            line.append("–")
        lines.append("| " + " | ".join(line) + " |")
    return "\n".join(lines) + "\n"


def render_per_type(result: Mapping[str, Any]) -> str:
    """Markdown table of one result's per-type P/R/F (percent) and support."""
    lines = ["| type | P | R | F1 | support |", "|---|---:|---:|---:|---:|"]
    for label, row in sorted(result.get("per_type", {}).items()):
        lines.append(
            f"| {label} | {100 * row['precision']:.2f} | {100 * row['recall']:.2f} | "
            f"{100 * row['f1']:.2f} | {row['support']} |"
        )
    lines.append(
        f"| **micro** | {100 * result['precision']:.2f} | {100 * result['recall']:.2f} | "
        f"{100 * result['f1']:.2f} | {result.get('n_gold', '')} |"
    )
    return "\n".join(lines) + "\n"
