"""Target-domain datasets: readers for CoNLL/CoNLL-U/IOB/TSV/JSONL formats, the
paper's datasets with deterministic splits, few-shot subsets, conversion to
DocBin (``nerbert data convert``)."""
from .fewshot import FewShotSpec, fewshot_filename, parse_fewshot, sample_fewshot
from .readers import (
    ReadStats,
    Sentence,
    docs_to_sentences,
    normalise_label,
    read_conll,
    read_conllu,
    read_file,
    read_iob,
    read_jsonl,
    sentences_to_docs,
)
from .registry import (
    DATASETS,
    convert_dataset,
    get_dataset,
    load_dataset,
    write_docbin,
    write_fewshot,
)
from .splits import holdout, split_fractions

__all__ = [
    "DATASETS",
    "FewShotSpec",
    "ReadStats",
    "Sentence",
    "convert_dataset",
    "docs_to_sentences",
    "fewshot_filename",
    "get_dataset",
    "holdout",
    "load_dataset",
    "normalise_label",
    "parse_fewshot",
    "read_conll",
    "read_conllu",
    "read_file",
    "read_iob",
    "read_jsonl",
    "sample_fewshot",
    "sentences_to_docs",
    "split_fractions",
    "write_docbin",
    "write_fewshot",
]
