"""Deterministic train/dev/test splits.

Every split draws indices with :func:`nerbert_spacy.util.make_rng` seeded by
(seed, salt), so the same input list and seed always give the same split,
independent of PYTHONHASHSEED; items keep their original order inside each
part.
"""
from typing import Dict, List, Sequence, Tuple, TypeVar

from ..errors import NerbertError
from ..util import make_rng

T = TypeVar("T")


def holdout(items: Sequence[T], n_holdout: int, seed: int, salt: str = "holdout") -> Tuple[List[T], List[T]]:
    """Hold out ``n_holdout`` items at random (seeded).

    items (Sequence[T]): The items.
    n_holdout (int): How many to hold out (0 <= n_holdout < len(items)).
    seed (int): The split seed.
    salt (str): Extra key for the RNG, so different holdouts from the same seed differ.
    RETURNS (Tuple[List[T], List[T]]): (rest, held_out), each in input order.
    """
    n = len(items)
    if n_holdout < 0 or n_holdout >= n:
        raise NerbertError(f"cannot hold out {n_holdout} of {n} sentences (need 0 <= n < {n})")
    held = set(make_rng(seed, salt, n).sample(range(n), n_holdout))
    rest = [x for i, x in enumerate(items) if i not in held]
    out = [x for i, x in enumerate(items) if i in held]
    return rest, out


def split_fractions(
    items: Sequence[T],
    dev: float = 0.1,
    test: float = 0.1,
    seed: int = 0,
    salt: str = "split",
) -> Dict[str, List[T]]:
    """Split one list into train/dev/test by fractions (seeded, sizes rounded).

    items (Sequence[T]): The items (at least 3 when dev and test are both > 0).
    dev (float): Fraction for dev (0 <= dev < 1).
    test (float): Fraction for test (0 <= test < 1, dev + test < 1).
    seed (int): The split seed.
    salt (str): Extra key for the RNG.
    RETURNS (Dict[str, List[T]]): {"train": ..., "dev": ..., "test": ...}, each in input order.
    """
    if not (0 <= dev < 1 and 0 <= test < 1 and dev + test < 1):
        raise NerbertError(f"invalid split fractions dev={dev} test={test} (each in [0, 1), sum < 1)")
    n = len(items)
    n_dev = max(1, round(n * dev)) if dev > 0 else 0
    n_test = max(1, round(n * test)) if test > 0 else 0
    if n - n_dev - n_test < 1:
        raise NerbertError(f"{n} sentences are too few to split into train/dev/test")
    order = list(range(n))
    make_rng(seed, salt, n).shuffle(order)
    dev_idx = set(order[:n_dev])
    test_idx = set(order[n_dev : n_dev + n_test])
    return {
        "train": [x for i, x in enumerate(items) if i not in dev_idx and i not in test_idx],
        "dev": [x for i, x in enumerate(items) if i in dev_idx],
        "test": [x for i, x in enumerate(items) if i in test_idx],
    }


def split_halves(items: Sequence[T], first: int) -> Tuple[List[T], List[T]]:
    """Cut a list in file order: the first ``first`` items and the rest.

    items (Sequence[T]): The items.
    first (int): Size of the first part.
    RETURNS (Tuple[List[T], List[T]]): (items[:first], items[first:]).
    """
    if not 0 <= first <= len(items):
        raise NerbertError(f"cannot cut {len(items)} sentences after {first}")
    return list(items[:first]), list(items[first:])
