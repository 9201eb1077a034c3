"""The same corpus under a coarser label set: 315 -> 212 or 4 types.

The paper compares NER-BERT pretrained on 315 categories with versions
pretrained on 212 and 4 types (Table 2's ``NER-BERT 4types`` /
``212types`` rows). To compare the label sets and nothing else, the coarse
corpora here are the balanced 315-type corpus with every entity label
compressed (:func:`nerbert_spacy.labels.compression_map`): the same sentences,
the same spans, the same train/dev split.
"""
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Union

from spacy.tokens import DocBin, Span

from ..docio import read_docs
from ..errors import NerbertError, require_dir
from ..util import atomic_dir, write_json_atomic

PathLike = Union[str, Path]
SPLITS = ("train", "dev")


def _shards(folder: Path) -> List[Path]:
    return sorted(folder.glob("*.spacy")) if folder.is_dir() else []


def relabel_docbin(path: Path, mapping: Dict[str, str], counts: Counter) -> DocBin:
    """Read one DocBin and return a new one whose ``doc.ents`` labels go through ``mapping``.

    path (Path): The DocBin shard.
    mapping (Dict[str, str]): 315 label -> label of the target set.
    counts (Counter): Updated with the target labels written.
    RETURNS (DocBin): The relabelled docs (user data kept).
    """
    docs = read_docs(path)
    out = DocBin(store_user_data=True)
    for doc in docs:
        ents = []
        for ent in doc.ents:
            if ent.label_ not in mapping:
                raise NerbertError(f"entity label {ent.label_!r} is not one of the 315 labels", path)
            ents.append(Span(doc, ent.start, ent.end, mapping[ent.label_]))
            counts[mapping[ent.label_]] += 1
        doc.ents = ents
        for key in list(doc.spans):  # weak-label spans of the source set would contradict doc.ents
            del doc.spans[key]
        out.add(doc)
    return out


def relabel_corpus(source: PathLike, label_set: str, ontology: Any, output: PathLike) -> Dict[str, Any]:
    """Write ``source``'s balanced train/dev shards under a coarser label set.

    source (str | Path): A balanced corpus folder (``train/``, ``dev/`` of
        ``nerbert corpus balance``) with the 315 labels.
    label_set (str): ``"212"`` or ``"4"`` (``"315"`` copies).
    ontology (Ontology): The DBpedia Ontology the compression follows.
    output (str | Path): Output folder (``train/``, ``dev/``, ``relabel.json``),
        swapped in only when complete.
    RETURNS (Dict[str, Any]): What ``relabel.json`` holds: sentences and entities
        per split, label counts, the source and the label set.
    """
    from ..labels import compression_map

    src = require_dir(source, "balanced corpus")
    splits = {split: _shards(src / split) for split in SPLITS}
    if not splits["train"]:
        raise NerbertError("has no train/*.spacy shards (run `nerbert corpus balance` first)", src)
    mapping = compression_map(str(label_set), ontology)
    counts: Counter = Counter()
    summary: Dict[str, Any] = {"source": str(src), "label_set": str(label_set), "splits": {}}
    with atomic_dir(output) as tmp:
        for split, shards in splits.items():
            (tmp / split).mkdir()
            n_docs = 0
            for shard in shards:
                db = relabel_docbin(shard, mapping, counts)
                n_docs += len(db)
                db.to_disk(tmp / split / shard.name)
            summary["splits"][split] = {"shards": len(shards), "sentences": n_docs}
        summary["labels"] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        write_json_atomic(tmp / "relabel.json", summary)
    return summary

