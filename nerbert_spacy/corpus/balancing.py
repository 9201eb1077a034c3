"""Data balancing (paper §2.4) and the train/dev split, from per-shard statistics.

Sentences are sampled so that category E is drawn with probability

    q_E = |E|^alpha / sum_E' |E'|^alpha        (alpha = 0.7 by default)

where |E| is the number of entities of category E in the filtered corpus; a
drawn category is then turned into a sentence drawn uniformly (with
replacement) among the sentences that contain it. ENTITY is one of the
categories, as in the paper's label list (``include_entity=False`` leaves it
out of the draw; its sentences then appear only through their other entities).

The sampling never needs all docs at once (issue 6). The same distribution is
drawn in three steps:

1. how many draws per category: ``Multinomial(n_samples, q)``;
2. how a category's draws spread over shards: ``Multinomial(k_E, n_E,s / n_E)``
   where ``n_E,s`` is the number of sentences of shard s that contain E (a
   uniform pick among all sentences containing E is a pick of a shard in
   proportion to ``n_E,s`` followed by a uniform pick inside it);
3. a second pass streams one shard at a time and draws its quota of sentences.

The 90/10 train/dev split is a split of the *source* sentences (an exact,
uniformly random subset of ``round(N * dev_fraction)`` sentences, spread over
shards by a multivariate hypergeometric draw); every sampled copy goes to the
side of its source sentence, so an upsampled sentence never lands in both.
"""

from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

import numpy as np
import srsly

from ..errors import NerbertError, require_dir
from ..util import atomic_path, make_rng, write_json_atomic

from ..labels import ENTITY

ProgressFn = Callable[[str, int, int], None]


def sampling_weights(counts: Mapping[str, int], alpha: float = 0.7) -> Dict[str, float]:
    """q_E = |E|^alpha / sum |E'|^alpha over the categories with at least one entity.

    counts (Mapping[str, int]): Entity counts per category.
    alpha (float): The exponent (paper: 0.7; 1 keeps the natural distribution, 0 is uniform).
    RETURNS (Dict[str, float]): Category -> probability, sorted by category name.
    """
    if alpha < 0:
        raise NerbertError(f"alpha must be >= 0, got {alpha}")
    powered = {label: float(n) ** alpha for label, n in sorted(counts.items()) if n > 0}
    total = sum(powered.values())
    if total <= 0:
        return {}
    return {label: v / total for label, v in powered.items()}


def numpy_rng(seed: int, *salt: Union[str, int]) -> np.random.Generator:
    """A numpy Generator seeded like :func:`make_rng` (stable, salted)."""
    return np.random.default_rng(make_rng(seed, *salt).getrandbits(128))


def category_draws(q: Mapping[str, float], n_samples: int, rng: np.random.Generator) -> Dict[str, int]:
    """How many sentences to draw for each category: Multinomial(n_samples, q)."""
    labels = sorted(q)
    if not labels or n_samples <= 0:
        return {label: 0 for label in labels}
    p = np.array([q[label] for label in labels], dtype="float64")
    p = p / p.sum()
    ks = rng.multinomial(n_samples, p)
    return {label: int(k) for label, k in zip(labels, ks)}


def plan_samples(
    sentences_with: Mapping[str, Mapping[str, int]],
    entity_counts: Mapping[str, int],
    *,
    n_samples: int,
    alpha: float = 0.7,
    seed: int = 0,
    include_entity: bool = True,
) -> Dict[str, Dict[str, int]]:
    """The sampling plan: how many sentences containing category E to draw from each shard.

    sentences_with (Mapping[str, Mapping[str, int]]): Shard -> category -> number of the shard's
        sentences that contain the category.
    entity_counts (Mapping[str, int]): Entity counts per category (|E|) over all shards.
    n_samples (int): Total number of sentences to draw.
    alpha (float): The exponent of p(E) ∝ |E|^alpha.
    seed (int): Random seed.
    include_entity (bool): Whether ENTITY is a category of the draw.
    RETURNS (Dict[str, Dict[str, int]]): Shard -> category -> draws (only non-zero entries), in shard order.
    """
    counts = {
        label: n
        for label, n in entity_counts.items()
        if n > 0
        and (include_entity or label != ENTITY)
        and any(s.get(label, 0) for s in sentences_with.values())
    }
    q = sampling_weights(counts, alpha)
    rng = numpy_rng(seed, "balance", "plan")
    per_label = category_draws(q, n_samples, rng)
    shards = sorted(sentences_with)
    plan: Dict[str, Dict[str, int]] = {shard: {} for shard in shards}
    for label in sorted(per_label):
        k = per_label[label]
        if k == 0:
            continue
        weights = np.array([sentences_with[s].get(label, 0) for s in shards], dtype="float64")
        split = rng.multinomial(k, weights / weights.sum())
        for shard, n in zip(shards, split):
            if n:
                plan[shard][label] = int(n)
    return plan


def dev_counts(shard_sizes: Mapping[str, int], dev_fraction: float, seed: int) -> Dict[str, int]:
    """How many of each shard's sentences go to dev: an exact ``round(N * dev_fraction)``
    (at least 1 and at most N - 1 when N >= 2 and the fraction is > 0), spread over shards
    by a multivariate hypergeometric draw (= a uniform random subset of all sentences).

    shard_sizes (Mapping[str, int]): Shard -> number of sentences.
    dev_fraction (float): Fraction of sentences for dev, in [0, 1).
    seed (int): Random seed.
    RETURNS (Dict[str, int]): Shard -> number of dev sentences.
    """
    if not 0.0 <= dev_fraction < 1.0:
        raise NerbertError(f"dev fraction must be in [0, 1), got {dev_fraction}")
    shards = sorted(shard_sizes)
    total = sum(shard_sizes.values())
    n_dev = int(round(total * dev_fraction))
    if dev_fraction > 0 and total >= 2:
        n_dev = min(max(n_dev, 1), total - 1)
    if n_dev == 0 or not shards:
        return {s: 0 for s in shards}
    rng = numpy_rng(seed, "balance", "dev")
    split = rng.multivariate_hypergeometric([shard_sizes[s] for s in shards], n_dev)
    return {s: int(n) for s, n in zip(shards, split)}


def draw_in_shard(
    label_sets: Sequence[Set[str]], quota: Mapping[str, int], n_dev: int, seed: int, shard: str
) -> Tuple[List[int], List[int]]:
    """Second pass, one shard: draw its quota and split by source sentence.

    label_sets (Sequence[Set[str]]): For each sentence of the shard, the set of its categories.
    quota (Mapping[str, int]): Category -> how many sentences containing it to draw here.
    n_dev (int): How many of the shard's sentences are dev sentences.
    seed (int): Random seed.
    shard (str): Shard name (salts the generator, so shards are independent of each other).
    RETURNS (Tuple[List[int], List[int]]): Indices of the sampled train and dev sentences
        (with repetitions, shuffled).
    """
    rng = make_rng(seed, "balance", "shard", shard)
    dev = set(rng.sample(range(len(label_sets)), n_dev)) if n_dev else set()
    pools: Dict[str, List[int]] = {}
    for i, labels in enumerate(label_sets):
        for label in labels:
            pools.setdefault(label, []).append(i)
    drawn: List[int] = []
    for label in sorted(quota):
        pool = pools.get(label)
        if not pool:
            raise NerbertError(
                f"the statistics of shard '{shard}' list category '{label}' but no sentence has it"
            )
        drawn.extend(rng.choices(pool, k=quota[label]))
    rng.shuffle(drawn)
    return [i for i in drawn if i not in dev], [i for i in drawn if i in dev]


def plot_balance(
    before: Mapping[str, int], after: Mapping[str, int], path: Union[str, Path], *, title: str = ""
) -> None:
    """The paper's Figure 1: entity counts per category before and after sampling,
    bars on a log scale, categories ordered by their count before.

    before (Mapping[str, int]): Entity counts per category before balancing.
    after (Mapping[str, int]): Entity counts per category after balancing.
    path (Path): The PNG to write (atomically).
    title (str): Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted(set(before) | set(after), key=lambda name: (-before.get(name, 0), name))
    x = np.arange(len(labels))
    width = 0.42
    fig, ax = plt.subplots(figsize=(max(8.0, 0.14 * len(labels) + 2), 5.0), dpi=100)
    ax.bar(
        x - width / 2,
        [before.get(name, 0) for name in labels],
        width,
        label="before sampling",
        color="#4c72b0",
    )
    ax.bar(
        x + width / 2, [after.get(name, 0) for name in labels], width, label="after sampling", color="#dd8452"
    )
    ax.set_yscale("log")
    ax.set_ylabel("entities per category (log scale)")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=90, fontsize=6 if len(labels) > 40 else 8)
    ax.set_xlim(-1, len(labels))
    ax.legend()
    ax.set_title(title or "Entity counts per category before and after balancing")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _shard_summary(path: Path) -> Dict:
    """Statistics of a shard (docs, entities and sentences per category), from its JSON
    sidecar when present, else by reading it."""
    sidecar = path.with_suffix(".json")
    if sidecar.exists():
        data = srsly.read_json(sidecar)
        if all(k in data for k in ("docs", "entities", "sentences_with")):
            return data
    from .build import load_docs

    entities: Counter = Counter()
    sentences_with: Counter = Counter()
    n = 0
    for doc in load_docs(path):
        n += 1
        labels = [e.label_ for e in doc.ents]
        entities.update(labels)
        sentences_with.update(set(labels))
    return {"docs": n, "entities": dict(entities), "sentences_with": dict(sentences_with)}


def balance_corpus(
    corpus_dir: Union[str, Path],
    *,
    alpha: float = 0.7,
    seed: int = 0,
    dev_fraction: float = 0.1,
    n_samples: Optional[int] = None,
    include_entity: bool = True,
    plot: bool = True,
    progress: Optional[ProgressFn] = None,
) -> Dict:
    """Balance the filtered shards of ``corpus_dir/shards`` and split them into train and dev.

    Writes ``corpus_dir/train/<shard>.spacy`` and ``corpus_dir/dev/<shard>.spacy`` (only
    non-empty ones; stale shards of an earlier run are removed), ``corpus_dir/balance.json``
    and ``corpus_dir/balance.png``.

    corpus_dir (Path): The output directory of ``build_corpus``.
    alpha (float): Exponent of p(E) ∝ |E|^alpha.
    seed (int): Random seed.
    dev_fraction (float): Fraction of source sentences for dev.
    n_samples (Optional[int]): Sentences to draw; default = number of input sentences.
    include_entity (bool): Whether ENTITY is a category of the draw.
    plot (bool): Write balance.png.
    progress (Optional[Callable[[str, int, int], None]]): Called with (stage, done, total).
    RETURNS (Dict): The content of balance.json.
    """
    from .build import load_docs, write_docs

    corpus_dir = require_dir(corpus_dir, "corpus directory")
    shard_dir = corpus_dir / "shards"
    paths = sorted(shard_dir.glob("*.spacy")) if shard_dir.is_dir() else []
    if not paths:
        raise NerbertError("no shards to balance (run `nerbert corpus build` first)", shard_dir)
    # pass 1: per-shard statistics only
    summaries = {p.stem: _shard_summary(p) for p in paths}
    sizes = {name: int(s["docs"]) for name, s in summaries.items()}
    total = sum(sizes.values())
    if total == 0:
        raise NerbertError("the shards hold no sentences (every sentence was filtered out)", shard_dir)
    before: Counter = Counter()
    for s in summaries.values():
        before.update({k: int(v) for k, v in s["entities"].items()})
    n_out = total if n_samples is None else int(n_samples)
    plan = plan_samples(
        {name: s["sentences_with"] for name, s in summaries.items()},
        before,
        n_samples=n_out,
        alpha=alpha,
        seed=seed,
        include_entity=include_entity,
    )
    devs = dev_counts(sizes, dev_fraction, seed)
    # pass 2: stream one shard at a time
    after: Counter = Counter()
    written: Dict[str, Set[str]] = {"train": set(), "dev": set()}
    n_written = {"train": 0, "dev": 0}
    for done, path in enumerate(paths, 1):
        name = path.stem
        docs = list(load_docs(path))
        if len(docs) != sizes[name]:
            raise NerbertError(
                f"shard has {len(docs)} sentences but its statistics say {sizes[name]}; rebuild the corpus",
                path,
            )
        label_sets = [{e.label_ for e in doc.ents} for doc in docs]
        train_idx, dev_idx = draw_in_shard(label_sets, plan.get(name, {}), devs.get(name, 0), seed, name)
        for split, idx in (("train", train_idx), ("dev", dev_idx)):
            if not idx:
                continue
            picked = [docs[i] for i in idx]
            for doc in picked:
                after.update(e.label_ for e in doc.ents)
            write_docs(corpus_dir / split / f"{name}.spacy", picked)
            written[split].add(f"{name}.spacy")
            n_written[split] += len(picked)
        if progress is not None:
            progress("balance", done, len(paths))
    for split in ("train", "dev"):
        for old in (corpus_dir / split).glob("*.spacy") if (corpus_dir / split).is_dir() else []:
            if old.name not in written[split]:
                old.unlink()
    q = sampling_weights({k: v for k, v in before.items() if include_entity or k != ENTITY}, alpha)
    result = {
        "alpha": alpha,
        "seed": seed,
        "dev_fraction": dev_fraction,
        "include_entity": include_entity,
        "input_sentences": total,
        "output_sentences": n_written["train"] + n_written["dev"],
        "train_sentences": n_written["train"],
        "dev_sentences": n_written["dev"],
        "dev_source_sentences": sum(devs.values()),
        "categories_before": len([k for k, v in before.items() if v]),
        "categories_after": len([k for k, v in after.items() if v]),
        "q": {k: round(v, 8) for k, v in q.items()},
        "before": dict(sorted(before.items(), key=lambda kv: (-kv[1], kv[0]))),
        "after": dict(sorted(after.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
    if plot:
        plot_balance(
            before, after, corpus_dir / "balance.png", title=f"Entity counts per category (alpha = {alpha})"
        )
    write_json_atomic(corpus_dir / "balance.json", result)
    return result
