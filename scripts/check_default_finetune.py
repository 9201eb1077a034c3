#!/usr/bin/env python
"""Consistency report for the embedded default fine-tuning set.

Reads the hand-written sources ``assets/default/finetune/source/{train,dev,test}.txt``
(the same parser as ``make_default_finetune.py``) and reports:

(a) surface strings labelled with two or more different labels anywhere in the
    three splits, each with its counts and ``file:line`` (for review: deliberate
    cases are listed in the README);
(b) surface strings that are an entity somewhere but occur unlabelled elsewhere
    (case-sensitive token-sequence match; an occurrence inside a longer entity
    does not count, an occurrence with any token outside every entity does);
(c) duplicate sentences within or across splits;
(d) test sentences identical to train sentences;
(e) the held-back demo sentence, or any sentence with both of its names, in a split;
plus how many test entities (surface + label) also occur in train, and the
per-split label counts, with a warning for a label missing from a split or
seen fewer than 15 times in train.

Exit status 1 on (c), (d) or (e), or when the sources do not parse; (a) and (b)
are printed for review only.

Usage (from the project root):
    python scripts/check_default_finetune.py
"""

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_default_finetune import (  # noqa: E402
    DEFAULT_DIR,
    LABELS,
    Sentence,
    label_counts,
    load_splits_or_say_why,
    summary,
)

DEMO_SENTENCE = "Angela Merkel met the leaders of the Social Democratic Party in Berlin."
DEMO_NAMES = ("Angela Merkel", "Social Democratic Party")
MIN_TRAIN_PER_LABEL = 15


def _norm(text: str) -> str:
    return " ".join(text.split())


def ambiguous_labels(all_sents: List[Sentence]) -> Dict[Tuple[str, ...], Dict[str, List[str]]]:
    """(a): surface token tuple -> label -> list of file:line, for surfaces with 2+ labels."""
    seen: Dict[Tuple[str, ...], Dict[str, List[str]]] = defaultdict(lambda: defaultdict(list))
    for s in all_sents:
        for start, end, label in s.spans:
            seen[tuple(s.tokens[start:end])][label].append(s.where)
    return {k: dict(v) for k, v in seen.items() if len(v) > 1}


def unlabelled_mentions(all_sents: List[Sentence]) -> Dict[Tuple[str, ...], List[Tuple[str, str]]]:
    """(b): entity surface token tuple -> [(file:line, how)] where it occurs not as that entity.

    ``how`` is ``"unlabelled"`` when every token of the occurrence is outside an
    entity and ``"partly labelled"`` when some are (an entity boundary cuts it).
    """
    surfaces = {tuple(s.tokens[a:b]) for s in all_sents for a, b, _ in s.spans}
    by_first: Dict[str, List[Tuple[str, ...]]] = defaultdict(list)
    for surf in surfaces:
        by_first[surf[0]].append(surf)
    found: Dict[Tuple[str, ...], List[Tuple[str, str]]] = defaultdict(list)
    for s in all_sents:
        inside = [None] * len(s.tokens)  # index of the covering entity
        exact = set()
        for k, (a, b, _) in enumerate(s.spans):
            exact.add((a, b))
            for i in range(a, b):
                inside[i] = k
        for i, tok in enumerate(s.tokens):
            for surf in by_first.get(tok, ()):
                j = i + len(surf)
                if tuple(s.tokens[i:j]) != surf or (i, j) in exact:
                    continue
                covering = inside[i:j]
                if all(c is not None for c in covering) and len(set(covering)) == 1:
                    continue  # part of a longer entity
                how = "unlabelled" if all(c is None for c in covering) else "partly labelled"
                found[surf].append((s.where, how))
    return dict(found)


def duplicates(splits: Dict[str, List[Sentence]]) -> Dict[str, List[str]]:
    """(c): normalised sentence text -> file:line of every copy, for texts seen 2+ times."""
    where: Dict[str, List[str]] = defaultdict(list)
    for sents in splits.values():
        for s in sents:
            where[_norm(s.text)].append(s.where)
    return {t: w for t, w in where.items() if len(w) > 1}


def test_in_train(splits: Dict[str, List[Sentence]]) -> List[Tuple[str, str]]:
    """(d): (test file:line, text) for test sentences identical to a train sentence."""
    train = {_norm(s.text) for s in splits["train"]}
    return [(s.where, s.text) for s in splits["test"] if _norm(s.text) in train]


def demo_leaks(all_sents: List[Sentence]) -> List[Tuple[str, str]]:
    """(e): sentences equal to the demo sentence or naming both of its names."""
    demo = _norm(DEMO_SENTENCE)
    return [(s.where, s.text) for s in all_sents
            if _norm(s.text) == demo or all(name in s.text for name in DEMO_NAMES)]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="folder holding source/{train,dev,test}.txt")
    parser.add_argument("--max-places", type=int, default=12, help="file:line places printed per finding")
    args = parser.parse_args(argv)
    splits = load_splits_or_say_why(args.dir)
    if splits is None:
        return 1
    all_sents = [s for sents in splits.values() for s in sents]
    cap = args.max_places

    def places(items: List[str]) -> str:
        more = f" ... (+{len(items) - cap})" if len(items) > cap else ""
        return ", ".join(items[:cap]) + more

    print(summary(splits))
    print()
    warnings = []
    for split, sents in splits.items():
        counts = label_counts(sents)
        for label in LABELS:
            if counts[label] == 0:
                warnings.append(f"label {label} is missing from {split}")
            elif split == "train" and counts[label] < MIN_TRAIN_PER_LABEL:
                warnings.append(f"label {label} occurs only {counts[label]} times in train")
    for w in warnings:
        print(f"warning: {w}")

    amb = ambiguous_labels(all_sents)
    print(f"\n(a) surface strings with more than one label: {len(amb)} (review; deliberate cases are in the README)")
    for surf in sorted(amb, key=lambda k: " ".join(k)):
        parts = [f"{label} x{len(w)} [{places(w)}]" for label, w in sorted(amb[surf].items())]
        print(f"  {' '.join(surf)!r}: " + "; ".join(parts))

    unl = unlabelled_mentions(all_sents)
    print(f"\n(b) entity strings that also occur outside an entity: {len(unl)} (review)")
    for surf in sorted(unl, key=lambda k: " ".join(k)):
        occ = unl[surf]
        print(f"  {' '.join(surf)!r}: {len(occ)} x " + places([f"{w} ({how})" for w, how in occ]))

    dups = duplicates(splits)
    print(f"\n(c) duplicate sentences: {len(dups)}")
    for text, w in sorted(dups.items()):
        print(f"  {text!r}: {', '.join(w)}")

    tit = test_in_train(splits)
    print(f"\n(d) test sentences identical to train sentences: {len(tit)}")
    for w, text in tit:
        print(f"  {w}: {text!r}")

    leaks = demo_leaks(all_sents)
    print(f"\n(e) held-back demo sentence ({DEMO_SENTENCE!r}) or both its names in one sentence: {len(leaks)}")
    for w, text in leaks:
        print(f"  {w}: {text!r}")

    train_ents = {(tuple(s.tokens[a:b]), lab) for s in splits["train"] for a, b, lab in s.spans}
    for split in ("dev", "test"):
        ents = [(tuple(s.tokens[a:b]), lab) for s in splits[split] for a, b, lab in s.spans]
        seen = sum(e in train_ents for e in ents)
        print(f"\n{split} entities whose surface and label also occur in train: {seen}/{len(ents)} "
              f"({100 * seen / max(1, len(ents)):.0f}%), unseen: {len(ents) - seen}")
    failed = bool(dups or tit or leaks)
    print("\nresult: " + ("FAIL (duplicates, test copies of train, or the demo sentence)" if failed else "ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
