"""Paper §2.3 filters: every rule and every probability branch, with fixed seeds."""

import random

import pytest

from nerbert_spacy.corpus.filtering import (
    FILTER_RULES,
    FilterConfig,
    FilterPlan,
    drop_probability,
    filter_label_lists,
    filter_reason,
    make_filter_plan,
    scarce_categories,
    top_categories,
)

E = "ENTITY"


class FixedRng:
    """A stand-in for random.Random whose random() returns given values, and
    which records how often it was asked."""

    def __init__(self, *values):
        self.values = list(values)
        self.calls = 0

    def random(self):
        self.calls += 1
        return self.values.pop(0)


def plan(scarce=(), top=("person", "city", E)):
    return FilterPlan(scarce=frozenset(scarce), top=frozenset(top))


def test_scarce_categories_threshold_is_strictly_less_than_ten():
    counts = {"person": 10, "city": 9, "moss": 1, E: 3}
    assert scarce_categories(counts) == {"city", "moss"}  # ENTITY is never scarce
    assert scarce_categories(counts, min_count=2) == {"moss"}


def test_top_categories_counts_entity_and_breaks_ties_by_name():
    counts = {E: 100, "person": 50, "b": 5, "a": 5, "c": 4, "zero": 0}
    assert top_categories(counts, k=2) == {E, "person"}
    assert top_categories(counts, k=3) == {E, "person", "a"}
    assert top_categories(counts, k=10) == {E, "person", "a", "b", "c"}
    assert top_categories(counts, k=2, exclude={E}) == {"person", "a"}


def test_make_filter_plan_excludes_scarce_from_top():
    counts = {E: 1000, "person": 500, "city": 20, "moss": 3}
    p = make_filter_plan(counts, FilterConfig(min_count=10, top_k=3))
    assert p.scarce == {"moss"}
    assert p.top == {E, "person", "city"}
    assert p.key()["scarce"] == ["moss"]


def test_no_entity_and_only_entity_are_dropped():
    rng = FixedRng()
    assert filter_reason([], plan(), rng) == "no_entity"
    assert filter_reason([E], plan(), rng) == "only_entity"
    assert filter_reason([E] * 7, plan(), rng) == "only_entity"
    assert rng.calls == 0


def test_scarce_category_drops_the_sentence_before_other_rules():
    rng = FixedRng()
    assert filter_reason(["moss", "person"], plan(scarce={"moss"}), rng) == "scarce_category"
    assert filter_reason(["moss"] + [E] * 5, plan(scarce={"moss"}), rng) == "scarce_category"
    assert rng.calls == 0


@pytest.mark.parametrize("n_entity", [0, 1, 2])
def test_fewer_than_three_entity_labels_always_kept_without_drawing(n_entity):
    rng = FixedRng()
    assert filter_reason(["person"] + [E] * n_entity, plan(), rng) is None
    assert rng.calls == 0


@pytest.mark.parametrize(
    "n_entity,p,rule",
    [
        (3, 0.3, "frequent_entity_3"),
        (4, 0.5, "frequent_entity_4"),
        (5, 0.7, "frequent_entity_gt4"),
        (9, 0.7, "frequent_entity_gt4"),
    ],
)
def test_probability_branch_threshold(n_entity, p, rule):
    labels = ["person"] + [E] * n_entity
    assert drop_probability(n_entity) == p
    # a draw just below p drops, a draw at or above p keeps
    assert filter_reason(labels, plan(), FixedRng(p - 1e-9)) == rule
    assert filter_reason(labels, plan(), FixedRng(p)) is None
    # the real generator: with a fixed seed the decision equals "rng.random() < p"
    for seed in range(20):
        expected = random.Random(seed).random() < p
        assert (filter_reason(labels, plan(), random.Random(seed)) == rule) == expected


@pytest.mark.parametrize("n_entity,p", [(3, 0.3), (4, 0.5), (6, 0.7)])
def test_probability_branch_rate_with_fixed_seed(n_entity, p):
    labels = ["city"] + [E] * n_entity
    kept, dropped = filter_label_lists([labels] * 4000, plan(), random.Random(1234))
    rate = 1 - len(kept) / 4000
    assert abs(rate - p) < 0.03
    assert sum(dropped.values()) == 4000 - len(kept)


def test_not_all_frequent_is_never_dropped_probabilistically():
    rng = FixedRng()
    # "moss" is not in the top categories, so the sentence is kept whatever its ENTITY count
    assert filter_reason(["moss"] + [E] * 6, plan(), rng) is None
    assert rng.calls == 0


def test_custom_probabilities():
    cfg = FilterConfig(drop_probs=(0.0, 1.0, 1.0))
    p = FilterPlan(scarce=frozenset(), top=frozenset({"person", E}), config=cfg)
    assert filter_reason(["person", E, E, E], p, random.Random(0)) is None
    assert filter_reason(["person", E, E, E, E], p, random.Random(0)) == "frequent_entity_4"


def test_filter_label_lists_reports_every_rule_and_is_deterministic():
    sents = [[], [E], ["moss"], ["person"], ["person", E, E, E], ["person"] + [E] * 5] * 50
    p = plan(scarce={"moss"})
    kept1, dropped1 = filter_label_lists(sents, p, random.Random(7))
    kept2, dropped2 = filter_label_lists(sents, p, random.Random(7))
    assert kept1 == kept2 and dropped1 == dropped2
    assert list(dropped1) == list(FILTER_RULES)
    assert dropped1["no_entity"] == dropped1["only_entity"] == dropped1["scarce_category"] == 50
    assert dropped1["frequent_entity_4"] == 0
    assert 0 < dropped1["frequent_entity_3"] < 50 and 0 < dropped1["frequent_entity_gt4"] < 50
    assert len(kept1) + sum(dropped1.values()) == len(sents)
