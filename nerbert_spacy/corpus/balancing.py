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

Domain-targeted balancing (beyond the paper, issue 7) multiplies ``|E|^alpha`` by a boost
``b_E`` before normalising: ``b_E = boost`` for the categories a target schema maps to
(:func:`targets_from_mappings`), ``neighbour_boost`` for their parents and children in the
label tree, 1 elsewhere (:func:`target_boosts`; :func:`boosts_from_mappings` reads the mapping
files and the label tree of the corpus's ontology). The number of sentences drawn stays the
same, so the corpus keeps its size and only its mix moves toward the domain.

The 90/10 train/dev split is a split of the *source* sentences (an exact,
uniformly random subset of ``round(N * dev_fraction)`` sentences, spread over
shards by a multivariate hypergeometric draw); every sampled copy goes to the
side of its source sentence, so an upsampled sentence never lands in both.
"""

import contextlib
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple, Union

import numpy as np
import srsly

from ..errors import NerbertError, require_dir
from ..labels import ENTITY
from ..util import atomic_path, make_rng, write_json_atomic

ProgressFn = Callable[[str, int, int], None]


def sampling_weights(
    counts: Mapping[str, int], alpha: float = 0.7, boosts: Optional[Mapping[str, float]] = None
) -> Dict[str, float]:
    """q_E = b_E |E|^alpha / sum b_E' |E'|^alpha over the categories with at least one entity.

    counts (Mapping[str, int]): Entity counts per category.
    alpha (float): The exponent (paper: 0.7; 1 keeps the natural distribution, 0 is uniform).
    boosts (Optional[Mapping[str, float]]): Category -> b_E (> 0) for domain-targeted
        balancing; categories not listed get 1. None = the paper's plain balancing.
    RETURNS (Dict[str, float]): Category -> probability, sorted by category name.
    """
    if alpha < 0:
        raise NerbertError(f"alpha must be >= 0, got {alpha}")
    boosts = boosts or {}
    bad = {label: b for label, b in boosts.items() if not b > 0}
    if bad:
        raise NerbertError(f"boosts must be > 0, got {bad}")
    powered = {
        label: float(n) ** alpha * float(boosts.get(label, 1.0)) for label, n in sorted(counts.items()) if n > 0
    }
    total = sum(powered.values())
    if total <= 0:
        return {}
    return {label: v / total for label, v in powered.items()}


def targets_from_mappings(
    paths: Sequence[Union[str, Path]], *, max_fanout: Optional[int] = 10
) -> Tuple[List[str], List[str]]:
    """The categories one or more label mappings (``nerbert labels map --pretrained 315 ...``)
    send target labels to: the union of their pretrained sides, ENTITY left out.

    A generic target label (person, location, organisation: every schema has them) collects
    a large part of the ontology through the descendant rule; boosting all of that would aim
    the corpus at nothing. Target labels that collect more than ``max_fanout`` categories
    are therefore skipped.

    paths (Sequence[Path]): Mapping files (JSON/YAML, the format of ``nerbert labels map``).
    max_fanout (Optional[int]): Skip target labels collecting more categories (None = keep all).
    RETURNS (Tuple[List[str], List[str]]): The categories, and the skipped target labels
        (as ``file:label``), both sorted.
    """
    from ..mapping import load_head_mapping

    found: Set[str] = set()
    skipped: List[str] = []
    for path in paths:
        for target, pretrained in load_head_mapping(path).items():
            if max_fanout is not None and len(pretrained) > max_fanout:
                skipped.append(f"{Path(path).name}:{target}")
                continue
            found.update(p for p in pretrained if p != ENTITY)
    return sorted(found), sorted(skipped)


def target_boosts(
    targets: Sequence[str],
    *,
    boost: float = 4.0,
    neighbour_boost: float = 2.0,
    parent_map: Optional[Mapping[str, Optional[str]]] = None,
) -> Dict[str, float]:
    """The per-category multipliers b_E of domain-targeted balancing.

    targets (Sequence[str]): Categories the target schema maps to (:func:`targets_from_mappings`).
    boost (float): b_E of a target category.
    neighbour_boost (float): b_E of a parent or child, in the label tree, of a target category
        (``labels.label_parent_map``); not used without ``parent_map``.
    parent_map (Optional[Mapping[str, Optional[str]]]): Category -> parent category.
    RETURNS (Dict[str, float]): Category -> b_E (only categories with b_E != 1).
    """
    if not boost > 0 or not neighbour_boost > 0:
        raise NerbertError(f"boosts must be > 0, got boost={boost}, neighbour_boost={neighbour_boost}")
    wanted = {t for t in targets if t != ENTITY}
    if not wanted:
        raise NerbertError("domain-targeted balancing needs at least one target category (the mappings map nothing)")
    out: Dict[str, float] = {}
    if parent_map:
        for child, parent in parent_map.items():
            if parent in wanted and child not in wanted and child != ENTITY:
                out[child] = float(neighbour_boost)
            if child in wanted and parent and parent not in wanted and parent != ENTITY:
                out[parent] = float(neighbour_boost)
    for t in wanted:
        out[t] = float(boost)
    return {k: v for k, v in sorted(out.items()) if v != 1.0}


class MappingBoosts(NamedTuple):
    """What :func:`boosts_from_mappings` found."""

    boosts: Dict[str, float]  # category -> b_E
    targets: List[str]  # the categories boosted by ``boost``
    skipped: List[str]  # generic target labels left out, as ``file:label``
    ontology: Optional[Path]  # whose label tree gave the neighbours; None: no neighbours boosted


def boosts_from_mappings(
    corpus_dir: Union[str, Path],
    mappings: Sequence[Union[str, Path]],
    *,
    boost: float = 4.0,
    neighbour_boost: float = 2.0,
    max_fanout: Optional[int] = 10,
    ontology: Optional[Union[str, Path]] = None,
) -> MappingBoosts:
    """The b_E of domain-targeted balancing from mapping files and the ontology's label tree.

    corpus_dir (str | Path): The corpus; without ``ontology`` the one its ``stats.json``
        records is used, if that file still exists.
    mappings (Sequence[Path]): ``nerbert labels map --pretrained 315`` files.
    boost (float): b_E of a mapped category.
    neighbour_boost (float): b_E of its parents and children in the label tree.
    max_fanout (Optional[int]): Skip target labels collecting more categories (0 or None = keep all).
    ontology (Optional[Path]): The ontology of the label tree.
    RETURNS (MappingBoosts): The boosts, the boosted categories, the skipped target labels,
        and the ontology used (None: only the mapped categories are boosted).
    """
    from ..dbpedia.ontology import Ontology
    from ..labels import label_parent_map

    if ontology is None:
        stats = Path(corpus_dir) / "stats.json"
        if stats.is_file():
            recorded = (srsly.read_json(stats).get("inputs") or {}).get("ontology")
            ontology = Path(recorded) if recorded and Path(recorded).is_file() else None
    parent_map = label_parent_map(Ontology.load(ontology)) if ontology is not None else None
    targets, skipped = targets_from_mappings(mappings, max_fanout=max_fanout or None)
    boosts = target_boosts(targets, boost=boost, neighbour_boost=neighbour_boost, parent_map=parent_map)
    return MappingBoosts(boosts, targets, skipped, Path(ontology) if parent_map is not None else None)


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
    boosts: Optional[Mapping[str, float]] = None,
) -> Dict[str, Dict[str, int]]:
    """The sampling plan: how many sentences containing category E to draw from each shard.

    sentences_with (Mapping[str, Mapping[str, int]]): Shard -> category -> number of the shard's
        sentences that contain the category.
    entity_counts (Mapping[str, int]): Entity counts per category (|E|) over all shards.
    n_samples (int): Total number of sentences to draw.
    alpha (float): The exponent of p(E) ∝ |E|^alpha.
    seed (int): Random seed.
    include_entity (bool): Whether ENTITY is a category of the draw.
    boosts (Optional[Mapping[str, float]]): Domain-targeted multipliers (:func:`target_boosts`).
    RETURNS (Dict[str, Dict[str, int]]): Shard -> category -> draws (only non-zero entries), in shard order.
    """
    counts = {
        label: n
        for label, n in entity_counts.items()
        if n > 0
        and (include_entity or label != ENTITY)
        and any(s.get(label, 0) for s in sentences_with.values())
    }
    q = sampling_weights(counts, alpha, boosts)
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


def _share(counts: Mapping[str, int], labels: Mapping[str, float]) -> float:
    """The fraction of entities whose category is among ``labels``."""
    total = sum(counts.values())
    return round(sum(n for k, n in counts.items() if k in labels) / total, 6) if total else 0.0


def _shard_summary(path: Path) -> Dict:
    """Statistics of a shard (docs, entities and sentences per category), from its JSON
    sidecar when present, else by reading it."""
    sidecar = path.with_suffix(".json")
    if sidecar.exists():
        data = srsly.read_json(sidecar)
        if all(k in data for k in ("docs", "entities", "sentences_with")):
            return data
    from .shards import load_docs

    entities: Counter = Counter()
    sentences_with: Counter = Counter()
    n = 0
    for doc in load_docs(path):
        n += 1
        labels = [e.label_ for e in doc.ents]
        entities.update(labels)
        sentences_with.update(set(labels))
    return {"docs": n, "entities": dict(entities), "sentences_with": dict(sentences_with)}


BALANCE_OUTPUTS = ("train", "dev", "balance.png", "balance.json")  # swapped in this order


@contextlib.contextmanager
def staged_outputs(out_dir: Path, names: Sequence[str]) -> Iterator[Path]:
    """Yield an empty temporary folder inside ``out_dir``; when the block ends without an
    error, the entries ``names`` of ``out_dir`` are replaced by those of the folder (an entry
    the folder lacks is removed), the last name last. On an error or an interrupt ``out_dir``
    is left as it was. Leftovers of an interrupted earlier swap are removed first.

    out_dir (Path): The folder whose entries are replaced (created if missing).
    names (Sequence[str]): The files and folders that make up one result.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NerbertError(f"cannot create the output directory ({err.strerror or err})", out_dir) from None
    for leftover in list(out_dir.glob(".tmp-balance.*")) + list(out_dir.glob(".old-balance.*")):
        shutil.rmtree(leftover, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=".tmp-balance.", dir=str(out_dir)))
    try:
        yield stage
        old = Path(tempfile.mkdtemp(prefix=".old-balance.", dir=str(out_dir)))
        for name in names:
            if (out_dir / name).exists():
                os.replace(out_dir / name, old / name)
        for name in names:
            if (stage / name).exists():
                os.replace(stage / name, out_dir / name)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


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
    boosts: Optional[Mapping[str, float]] = None,
    output_dir: Optional[Union[str, Path]] = None,
) -> Dict:
    """Balance the filtered shards of ``corpus_dir/shards`` and split them into train and dev.

    Writes ``OUT/train/<shard>.spacy`` and ``OUT/dev/<shard>.spacy`` (only non-empty ones),
    ``OUT/balance.json`` and ``OUT/balance.png``, where OUT is ``output_dir`` or else
    ``corpus_dir``. All four are written into a temporary folder in OUT and swapped in when
    complete (:func:`staged_outputs`): a failure leaves the previous result as it was, and
    the new result replaces every output of the previous run.

    corpus_dir (Path): The output directory of ``build_corpus``.
    alpha (float): Exponent of p(E) ∝ |E|^alpha.
    seed (int): Random seed.
    dev_fraction (float): Fraction of source sentences for dev.
    n_samples (Optional[int]): Sentences to draw; default = number of input sentences.
    include_entity (bool): Whether ENTITY is a category of the draw.
    plot (bool): Write balance.png.
    progress (Optional[Callable[[str, int, int], None]]): Called with (stage, done, total).
    boosts (Optional[Mapping[str, float]]): Domain-targeted multipliers b_E
        (:func:`target_boosts`); None = the paper's plain balancing.
    output_dir (Optional[Path]): Where train/, dev/ and balance.json go (default
        ``corpus_dir``), so several balancings of one filtered corpus can sit side by side.
    RETURNS (Dict): The content of balance.json.
    """
    corpus_dir = require_dir(corpus_dir, "corpus directory")
    if n_samples is not None and int(n_samples) < 1:
        raise NerbertError(f"the number of sentences to draw must be at least 1, got {n_samples}", corpus_dir)
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
    out_dir = Path(output_dir) if output_dir is not None else corpus_dir
    if boosts and not any(before.get(label, 0) > 0 for label in boosts):
        raise NerbertError(
                f"none of the {len(boosts)} boosted categories occurs in the corpus "
                f"(e.g. {', '.join(sorted(boosts)[:5])}); check the mapping's label set",
                shard_dir,
            )
    plan = plan_samples(
        {name: s["sentences_with"] for name, s in summaries.items()},
        before,
        n_samples=n_out,
        alpha=alpha,
        seed=seed,
        include_entity=include_entity,
        boosts=boosts,
    )
    devs = dev_counts(sizes, dev_fraction, seed)
    with staged_outputs(out_dir, BALANCE_OUTPUTS) as stage:
        result = _draw_and_write(
            paths, sizes, plan, devs, seed, stage, before, alpha, dev_fraction, include_entity, boosts, total, progress
        )
        if plot:
            targeted = ", domain-targeted" if boosts else ""
            plot_balance(
                before,
                Counter(result["after"]),
                stage / "balance.png",
                title=f"Entity counts per category (alpha = {alpha}{targeted})",
            )
        write_json_atomic(stage / "balance.json", result)
    return result


def _draw_and_write(
    paths: List[Path],
    sizes: Mapping[str, int],
    plan: Mapping[str, Mapping[str, int]],
    devs: Mapping[str, int],
    seed: int,
    out_dir: Path,
    before: Counter,
    alpha: float,
    dev_fraction: float,
    include_entity: bool,
    boosts: Optional[Mapping[str, float]],
    total: int,
    progress: Optional[ProgressFn],
) -> Dict:
    """Pass 2 of :func:`balance_corpus`: stream one shard at a time into ``out_dir``/{train,dev};
    RETURNS the content of balance.json."""
    from .shards import load_docs, write_docs

    after: Counter = Counter()
    n_written = {"train": 0, "dev": 0}
    n_tokens = {"train": 0, "dev": 0}
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
                n_tokens[split] += len(doc)
            write_docs(out_dir / split / f"{name}.spacy", picked)
            n_written[split] += len(picked)
        if progress is not None:
            progress("balance", done, len(paths))
    q = sampling_weights({k: v for k, v in before.items() if include_entity or k != ENTITY}, alpha, boosts)
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
        "train_tokens": n_tokens["train"],
        "dev_tokens": n_tokens["dev"],
        "categories_before": len([k for k, v in before.items() if v]),
        "categories_after": len([k for k, v in after.items() if v]),
        "q": {k: round(v, 8) for k, v in q.items()},
        "before": dict(sorted(before.items(), key=lambda kv: (-kv[1], kv[0]))),
        "after": dict(sorted(after.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
    if boosts:
        result["boosts"] = dict(sorted(boosts.items()))
        result["boosted_share"] = {"before": _share(before, boosts), "after": _share(after, boosts)}
    return result
