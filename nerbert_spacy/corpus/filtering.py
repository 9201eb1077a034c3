"""Data filtering of the weak-label corpus, exactly as in the paper (§2.3).

The rules, applied to one sentence at a time, in this order (the first rule
that fires names the reason a sentence is dropped):

1. ``scarce_category``: the sentence contains an entity of a category with
   fewer than ``min_count`` (10) entities in the whole corpus. The paper
   discards such categories because "data examples containing these
   categories will become noisy examples"; we therefore drop the *sentences*
   that contain them (rather than relabelling the entity to ENTITY, which
   would keep a wrongly-typed mention). ENTITY itself is never scarce: it is
   the fallback label, not a category.
2. ``no_entity`` / ``only_entity``: the sentence has no entity, or all its
   entities are ENTITY.
3. ``frequent_entity_3`` / ``_4`` / ``_gt4``: all the sentence's entities are
   within the ``top_k`` (20) most frequent categories (ENTITY counted among
   them), and the number of ENTITY labels is 3 / 4 / more than 4: the
   sentence is dropped with probability 0.3 / 0.5 / 0.7.

Everything here is a pure function over label lists, category counts and a
seeded :class:`random.Random`, so each branch is testable with a fixed seed.
The random number generator is consumed only for sentences that reach rule 3
with 3 or more ENTITY labels, so the draws (and hence the output) depend only
on the sentences of one shard and the seed, never on worker scheduling.
"""

import random
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from ..labels import ENTITY

SCARCE = "scarce_category"
NO_ENTITY = "no_entity"
ONLY_ENTITY = "only_entity"
FREQUENT_3 = "frequent_entity_3"
FREQUENT_4 = "frequent_entity_4"
FREQUENT_GT4 = "frequent_entity_gt4"
#: Every reason a sentence can be dropped, in the order the rules are applied.
FILTER_RULES: Tuple[str, ...] = (SCARCE, NO_ENTITY, ONLY_ENTITY, FREQUENT_3, FREQUENT_4, FREQUENT_GT4)


@dataclass(frozen=True)
class FilterConfig:
    """Parameters of the paper's filters (defaults = paper §2.3).

    min_count (int): Categories with fewer entities than this are scarce.
    top_k (int): How many most frequent categories (ENTITY included) count as "frequent".
    drop_probs (Tuple[float, float, float]): Drop probabilities for 3, 4 and more than 4
        ENTITY labels in a sentence whose entities are all frequent.
    """

    min_count: int = 10
    top_k: int = 20
    drop_probs: Tuple[float, float, float] = (0.3, 0.5, 0.7)

    def to_dict(self) -> Dict:
        return {"min_count": self.min_count, "top_k": self.top_k, "drop_probs": list(self.drop_probs)}


@dataclass(frozen=True)
class FilterPlan:
    """The global facts the per-sentence filter needs: which categories are
    scarce and which are the most frequent. Computed once from the counts of
    all shards, then shipped to every worker.

    scarce (FrozenSet[str]): Categories with fewer than ``min_count`` entities.
    top (FrozenSet[str]): The ``top_k`` most frequent non-scarce categories (ENTITY included).
    config (FilterConfig): The parameters.
    """

    scarce: frozenset
    top: frozenset
    config: FilterConfig = field(default_factory=FilterConfig)

    def key(self) -> Dict:
        """A JSON-able description; a finished shard is reused only if it matches."""
        return {"scarce": sorted(self.scarce), "top": sorted(self.top), **self.config.to_dict()}


def scarce_categories(counts: Mapping[str, int], min_count: int = 10) -> Set[str]:
    """Categories with fewer than ``min_count`` entities (ENTITY is never scarce).

    counts (Mapping[str, int]): Entity counts per category over the whole corpus.
    min_count (int): The threshold (paper: 10).
    RETURNS (Set[str]): The scarce categories.
    """
    return {label for label, n in counts.items() if n < min_count and label != ENTITY}


def top_categories(counts: Mapping[str, int], k: int = 20, exclude: Iterable[str] = ()) -> Set[str]:
    """The ``k`` most frequent categories, ENTITY included; ties broken by name
    so the result does not depend on dict order.

    counts (Mapping[str, int]): Entity counts per category.
    k (int): How many.
    exclude (Iterable[str]): Categories never counted (e.g. the scarce ones).
    RETURNS (Set[str]): The top categories.
    """
    skip = set(exclude)
    ranked = sorted(((-n, label) for label, n in counts.items() if n > 0 and label not in skip))
    return {label for _, label in ranked[:k]}


def make_filter_plan(counts: Mapping[str, int], config: Optional[FilterConfig] = None) -> FilterPlan:
    """Compute the scarce and top categories from global entity counts.

    counts (Mapping[str, int]): Entity counts per category over the whole (unfiltered) corpus.
    config (FilterConfig): The parameters; paper defaults if None.
    RETURNS (FilterPlan): What :func:`filter_reason` needs.
    """
    config = config or FilterConfig()
    scarce = scarce_categories(counts, config.min_count)
    top = top_categories(counts, config.top_k, exclude=scarce)
    return FilterPlan(scarce=frozenset(scarce), top=frozenset(top), config=config)


def drop_probability(n_entity: int, drop_probs: Sequence[float] = (0.3, 0.5, 0.7)) -> float:
    """Probability of dropping an all-frequent sentence with ``n_entity`` ENTITY labels.

    n_entity (int): Number of ENTITY labels in the sentence.
    drop_probs (Sequence[float]): Probabilities for 3, 4 and more than 4.
    RETURNS (float): 0.0 below 3, else the matching probability.
    """
    if n_entity < 3:
        return 0.0
    if n_entity == 3:
        return drop_probs[0]
    if n_entity == 4:
        return drop_probs[1]
    return drop_probs[2]


def filter_reason(labels: Sequence[str], plan: FilterPlan, rng: random.Random) -> Optional[str]:
    """Decide whether to drop a sentence, given the labels of its entities.

    labels (Sequence[str]): The entity labels of the sentence (one per entity, ENTITY included).
    plan (FilterPlan): Scarce and top categories.
    rng (random.Random): Seeded generator; consumed only when a probabilistic rule applies.
    RETURNS (Optional[str]): The rule that drops the sentence (one of FILTER_RULES), or None to keep it.
    """
    if not labels:
        return NO_ENTITY
    if any(label in plan.scarce for label in labels):
        return SCARCE
    n_entity = sum(1 for label in labels if label == ENTITY)
    if n_entity == len(labels):
        return ONLY_ENTITY
    p = drop_probability(n_entity, plan.config.drop_probs)
    if p > 0.0 and all(label in plan.top for label in labels):
        if rng.random() < p:
            return FREQUENT_3 if n_entity == 3 else FREQUENT_4 if n_entity == 4 else FREQUENT_GT4
    return None


def filter_label_lists(
    label_lists: Iterable[Sequence[str]], plan: FilterPlan, rng: random.Random
) -> Tuple[List[int], Dict[str, int]]:
    """Apply :func:`filter_reason` to many sentences.

    label_lists (Iterable[Sequence[str]]): Entity labels of each sentence, in order.
    plan (FilterPlan): Scarce and top categories.
    rng (random.Random): Seeded generator.
    RETURNS (Tuple[List[int], Dict[str, int]]): Indices of the kept sentences and the
        number dropped per rule (every rule present, zeros included).
    """
    kept: List[int] = []
    dropped: Dict[str, int] = {rule: 0 for rule in FILTER_RULES}
    for i, labels in enumerate(label_lists):
        reason = filter_reason(labels, plan, rng)
        if reason is None:
            kept.append(i)
        else:
            dropped[reason] += 1
    return kept, dropped

