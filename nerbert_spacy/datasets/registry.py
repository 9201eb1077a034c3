"""The target-domain datasets of the paper (Table 3) and generic user formats,
and :func:`convert_dataset`, which writes ``{train,dev,test}.spacy`` +
``meta.json`` (+ few-shot subsets) for any of them.

Splits the source data does not publish are made deterministically:

* ``btc``: sections A, B, E, G and the first 1000 sentences of H -> train
  (6338), the rest of H -> dev (1000), section F -> test (2000): the paper's
  6.3K/1.0K/2.0K.
* ``sec``: FIN5 -> 176 sentences held out at random (``split_seed``) as dev,
  the rest train (988); FIN3 -> test (303). IO tags become BIO.
* ``re3d``: 153 sentences of re3d-train held out (``split_seed``) as dev,
  the rest train (612); re3d-test -> test (200).
* generic ``conll``/``conllu``/``iob``/``jsonl``: any missing dev/test part is
  split from train (10% each, ``split_seed``); without a training file only the
  splits given are converted (e.g. a test file to evaluate an existing model).

:func:`convert_dataset` checks everything (files, few-shot sizes) before it
writes, and writes the whole output folder at once (:func:`nerbert_spacy.util.atomic_dir`):
a failure leaves any previous result untouched.
"""
import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from ..errors import NerbertError, require_dir
from ..util import atomic_dir, atomic_path, write_json_atomic
from .fewshot import fewshot_filename, parse_fewshot, sample_fewshot
from .readers import COUNTERS, ReadStats, Sentence, read_conll, read_file, sentences_to_docs
from .splits import holdout, split_fractions, split_halves

PathLike = Union[str, Path]
SPLITS = ("train", "dev", "test")
CROSSNER_DOMAINS = ("politics", "science", "music", "literature", "ai")


@dataclass
class Loaded:
    """What a dataset loader returns: the splits, the read statistics of each
    source file (repairs, dropped tokens, ...), the files of each split and a
    note on how each split was made."""

    splits: Dict[str, List[Sentence]]
    file_stats: Dict[str, ReadStats]
    sources: Dict[str, List[str]]
    notes: Dict[str, str]


Loader = Callable[..., Loaded]


@dataclass
class DatasetInfo:
    """A known dataset: name, what it is, the paper's sizes and its loader."""

    name: str
    description: str
    loader: Loader
    paper_sizes: Optional[Tuple[int, int, int]] = None
    paper_column: Optional[str] = None
    scheme: str = "bio"


def _resolve(source: Path, sub: str, names: Sequence[str]) -> Path:
    """``source/name`` or ``source/sub/name`` for the first name that exists."""
    for base in (source, source / sub):
        for name in names:
            if (base / name).is_file():
                return base / name
    raise NerbertError(f"has no {' or '.join(names)} (also looked in {sub}/)", source)


def _read_many(paths: Sequence[Path], scheme: str, file_stats: Dict[str, ReadStats]) -> List[Sentence]:
    out: List[Sentence] = []
    for p in paths:
        sents, st = read_conll(p, scheme=scheme)
        out.extend(sents)
        file_stats[p.name] = st
    return out


def split_stats(sentences: Sequence[Sentence]) -> Dict:
    """Sentences, tokens, entities and entities per label of one split."""
    st = ReadStats(files=sorted({s.source for s in sentences}))
    st.sentences = len(sentences)
    st.tokens = sum(len(s) for s in sentences)
    for s in sentences:
        for t in s.tags:
            if t.startswith("B-"):
                st.entities += 1
                st.labels[t[2:]] = st.labels.get(t[2:], 0) + 1
    return {
        "sentences": st.sentences,
        "tokens": st.tokens,
        "entities": st.entities,
        "labels": dict(sorted(st.labels.items())),
        "files": st.files,
    }


def _published(source: Path, sub: str, names: Dict[str, Sequence[str]], scheme: str = "bio") -> Loaded:
    splits, stats, sources = {}, {}, {}
    for split in SPLITS:
        path = _resolve(source, sub, names[split])
        splits[split], stats[path.name] = read_conll(path, scheme=scheme)
        sources[split] = [str(path)]
    return Loaded(splits, stats, sources, {s: "as published" for s in SPLITS})


def load_crossner(source: PathLike, domain: str, **_) -> Loaded:
    """CrossNER domain (or CoNLL-2003 from CrossNER): ``train.txt``/``dev.txt``/``test.txt``
    in ``source`` or ``source/<domain>``."""
    src = require_dir(source, "CrossNER folder")
    return _published(src, domain, {s: [f"{s}.txt"] for s in SPLITS})


def load_bionlp(source: PathLike, name: str, **_) -> Loaded:
    """BioNLP13CG/PC TSV: ``train.tsv``/``devel.tsv``/``test.tsv``."""
    src = require_dir(source, f"{name} folder")
    return _published(src, name, {"train": ["train.tsv"], "dev": ["devel.tsv", "dev.tsv"], "test": ["test.tsv"]})


BTC_TRAIN_SECTIONS = ("a", "b", "e", "g")
BTC_DEV_SECTION = "h"
BTC_TEST_SECTION = "f"
BTC_H_TRAIN = 1000


def load_btc(source: PathLike, **_) -> Loaded:
    """Broad Twitter Corpus sections ``a b e f g h .conll`` -> the split in the module doc."""
    src = require_dir(source, "BTC folder")
    paths = {s: _resolve(src, "btc", [f"{s}.conll"]) for s in "abefgh"}
    file_stats: Dict[str, ReadStats] = {}
    train = _read_many([paths[s] for s in BTC_TRAIN_SECTIONS], "bio", file_stats)
    h = _read_many([paths[BTC_DEV_SECTION]], "bio", file_stats)
    h_train, h_dev = split_halves(h, min(BTC_H_TRAIN, len(h) - 1))
    test = _read_many([paths[BTC_TEST_SECTION]], "bio", file_stats)
    notes = {
        "train": f"sections {', '.join(s.upper() for s in BTC_TRAIN_SECTIONS)} + first {len(h_train)} sentences of H",
        "dev": f"last {len(h_dev)} sentences of section H",
        "test": "section F",
    }
    sources = {
        "train": [str(paths[s]) for s in BTC_TRAIN_SECTIONS] + [str(paths["h"])],
        "dev": [str(paths["h"])],
        "test": [str(paths["f"])],
    }
    return Loaded({"train": train + h_train, "dev": h_dev, "test": test}, file_stats, sources, notes)


SEC_DEV_SIZE = 176
RE3D_DEV_SIZE = 153


def _load_with_held_out_dev(train_file: Path, test_file: Path, scheme: str, dev_size: int, split_seed: int,
                            name: str, train_name: str, test_name: str) -> Loaded:
    """A data set shipped as a train file and a test file: dev = ``dev_size`` sentences (at most a
    fifth) of the train file held out at random with ``split_seed``."""
    file_stats: Dict[str, ReadStats] = {}
    train_all = _read_many([train_file], scheme, file_stats)
    test = _read_many([test_file], scheme, file_stats)
    train, dev = holdout(train_all, min(dev_size, len(train_all) // 5), split_seed, f"{name}-dev")
    notes = {
        "train": f"{train_name} minus {len(dev)} held-out sentences (split seed {split_seed})",
        "dev": f"{len(dev)} sentences of {train_name} held out at random (split seed {split_seed})",
        "test": test_name,
    }
    return Loaded({"train": train, "dev": dev, "test": test}, file_stats,
                  {"train": [str(train_file)], "dev": [str(train_file)], "test": [str(test_file)]}, notes)


def load_sec(source: PathLike, split_seed: int = 0, **_) -> Loaded:
    """SEC filings: FIN5 (train + held-out dev) and FIN3 (test); IO tags -> BIO."""
    src = require_dir(source, "SEC filings folder")
    fin5 = _resolve(src, "sec_filings", ["FIN5.txt"])
    fin3 = _resolve(src, "sec_filings", ["FIN3.txt"])
    return _load_with_held_out_dev(fin5, fin3, "io", SEC_DEV_SIZE, split_seed, "sec", "FIN5", "FIN3")


def load_re3d(source: PathLike, split_seed: int = 0, **_) -> Loaded:
    """re3d: re3d-train (train + held-out dev) and re3d-test."""
    src = require_dir(source, "re3d folder")
    tr = _resolve(src, "re3d", ["re3d-train.conll", "train.conll"])
    te = _resolve(src, "re3d", ["re3d-test.conll", "test.conll"])
    return _load_with_held_out_dev(tr, te, "bio", RE3D_DEV_SIZE, split_seed, "re3d", "re3d-train", "re3d-test")


_GENERIC_NAMES = {
    "train": ("train", "training"),
    "dev": ("dev", "devel", "valid", "validation"),
    "test": ("test",),
}
_GENERIC_EXT = {
    "conll": (".conll", ".txt", ".tsv", ".bio", ".iob2", ".conllu"),
    "conllu": (".conllu", ".conll", ".txt"),
    "iob": (".iob", ".txt"),
    "jsonl": (".jsonl", ".json"),
}
GENERIC_FORMATS = tuple(_GENERIC_EXT)


def _find_generic(src: Path, fmt: str, split: str) -> Optional[Path]:
    for stem in _GENERIC_NAMES[split]:
        for ext in _GENERIC_EXT[fmt]:
            if (src / f"{stem}{ext}").is_file():
                return src / f"{stem}{ext}"
    return None


def _generic_files(
    source: Optional[PathLike], fmt: str, given: Dict[str, Optional[PathLike]]
) -> Dict[str, Path]:
    """The file of each split: from SOURCE (a file = train, a folder = train.*/dev.*/test.*),
    then the explicitly given ones; NerbertError for none at all or one file in two splits."""
    files: Dict[str, Path] = {}
    if source is not None:
        src = Path(source)
        if src.is_file():
            files["train"] = src
        elif src.is_dir():
            for split in SPLITS:
                found = _find_generic(src, fmt, split)
                if found is not None:
                    files[split] = found
            if not files:
                names = "/".join(n for split in SPLITS for n in _GENERIC_NAMES[split])
                raise NerbertError(
                    f"has no {names} file with extension {', '.join(_GENERIC_EXT[fmt])} "
                    "(or pass --train/--dev/--test FILE)",
                    src,
                )
        else:
            raise NerbertError("not found", src)
    files.update({split: Path(p) for split, p in given.items() if p is not None})
    if not files:
        raise NerbertError("no input file given: pass SOURCE (folder or file) or --train/--dev/--test FILE")
    seen: Dict[Path, str] = {}
    for split in SPLITS:
        if split not in files:
            continue
        key = files[split].resolve()
        if key in seen:
            raise NerbertError(
                f"is given for both {seen[key]} and {split}; each file can feed one split only "
                "(a missing dev/test split is split from train)",
                files[split],
            )
        seen[key] = split
    return files


def load_generic(
    source: Optional[PathLike],
    fmt: str,
    split_seed: int = 0,
    train: Optional[PathLike] = None,
    dev: Optional[PathLike] = None,
    test: Optional[PathLike] = None,
    scheme: Optional[str] = None,
    dev_fraction: float = 0.1,
    test_fraction: float = 0.1,
    token_col: Optional[int] = None,
    tag_col: Optional[int] = None,
    **_,
) -> Loaded:
    """User data in ``conll``, ``conllu``, ``iob`` or ``jsonl``.

    ``source`` is a folder with ``train.*``, ``dev.*`` (or ``devel``/``valid``),
    ``test.*`` files, or one file to split; ``train``/``dev``/``test`` name files
    explicitly and win over the folder. With a training file, missing dev/test
    parts are split from it; without one, only the splits given are read (no
    split is made up). One file in two splits is refused. ``token_col`` and
    ``tag_col`` choose the columns of conll/conllu files (counted from 0).
    """
    if fmt not in _GENERIC_EXT:
        raise NerbertError(f"unknown generic format {fmt!r}; use {', '.join(GENERIC_FORMATS)}")
    files = _generic_files(source, fmt, {"train": train, "dev": dev, "test": test})
    splits: Dict[str, List[Sentence]] = {}
    file_stats: Dict[str, ReadStats] = {}
    sources: Dict[str, List[str]] = {}
    notes: Dict[str, str] = {}
    for split, path in sorted(files.items(), key=lambda kv: SPLITS.index(kv[0])):
        splits[split], file_stats[f"{split}:{path.name}"] = read_file(
            path, fmt, scheme=scheme, token_col=token_col, tag_col=tag_col
        )
        sources[split] = [str(path)]
        notes[split] = "as given"
    missing = [s for s in ("dev", "test") if s not in splits]
    if missing and "train" in splits:
        parts = split_fractions(
            splits["train"],
            dev=dev_fraction if "dev" in missing else 0.0,
            test=test_fraction if "test" in missing else 0.0,
            seed=split_seed,
            salt="generic",
        )
        splits["train"] = parts["train"]
        for split in missing:
            splits[split] = parts[split]
            sources[split] = list(sources["train"])
            frac = dev_fraction if split == "dev" else test_fraction
            notes[split] = f"{len(parts[split])} sentences ({frac:.0%}) split from train (split seed {split_seed})"
        notes["train"] = f"train minus the {' and '.join(missing)} split(s)"
        splits = {s: splits[s] for s in SPLITS}
    return Loaded(splits, file_stats, sources, notes)


def _crossner(domain: str) -> Loader:
    def load(source: PathLike, **kw) -> Loaded:
        return load_crossner(source, domain, **kw)

    return load


def _bionlp(name: str) -> Loader:
    def load(source: PathLike, **kw) -> Loaded:
        return load_bionlp(source, name, **kw)

    return load


def _generic(fmt: str) -> Loader:
    def load(source: Optional[PathLike], **kw) -> Loaded:
        return load_generic(source, fmt, **kw)

    return load


_PAPER = {
    "politics": (200, 541, 651),
    "science": (200, 450, 543),
    "music": (100, 380, 456),
    "literature": (100, 400, 416),
    "ai": (100, 350, 431),
}

DATASETS: Dict[str, DatasetInfo] = {}
for _d in CROSSNER_DOMAINS:
    DATASETS[f"crossner-{_d}"] = DatasetInfo(
        f"crossner-{_d}", f"CrossNER {_d} (train/dev/test as published)", _crossner(_d), _PAPER[_d], _d
    )
DATASETS["conll2003"] = DatasetInfo(
    "conll2003", "CoNLL-2003 English from CrossNER (source domain of Source & Target)", _crossner("conll2003"),
    (14041, 3250, 3453), None,
)
DATASETS["btc"] = DatasetInfo("btc", "Broad Twitter Corpus, sections A-H (split: see docs/datasets.md)", load_btc,
                              (6300, 1000, 2000), "btc")
DATASETS["sec"] = DatasetInfo("sec", "SEC filings (finance): FIN5 train/dev, FIN3 test; IO -> BIO", load_sec,
                              (992, 176, 305), "sec", scheme="io")
DATASETS["re3d"] = DatasetInfo("re3d", "re3d defence & security: dev held out from train", load_re3d,
                               (611, 153, 199), "re3d")
DATASETS["bionlp13cg"] = DatasetInfo("bionlp13cg", "BioNLP 2013 Cancer Genetics", _bionlp("bionlp13cg"),
                                     (3000, 1000, 1900), "bionlp13cg")
DATASETS["bionlp13pc"] = DatasetInfo("bionlp13pc", "BioNLP 2013 Pathway Curation", _bionlp("bionlp13pc"),
                                     (2500, 900, 1700), "bionlp13pc")
for _fmt, _desc in (
    ("conll", "generic token ... tag columns (tab or whitespace), optional -DOCSTART-"),
    ("conllu", "generic CoNLL-U: FORM + NER tag in MISC (NER=B-PER) or an 11th column"),
    ("iob", "generic spaCy iob: one sentence per line, word|tag or word|POS|tag"),
    ("jsonl", 'generic JSONL: {"text": ..., "spans": [{"start", "end", "label"}]}'),
):
    DATASETS[_fmt] = DatasetInfo(_fmt, _desc, _generic(_fmt))


def get_dataset(name: str) -> DatasetInfo:
    """Look a dataset up by name; NerbertError listing the known names otherwise."""
    if name not in DATASETS:
        raise NerbertError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def load_dataset(name: str, source: Optional[PathLike], **options) -> Loaded:
    """Read a dataset into train/dev/test sentences.

    name (str): A key of DATASETS.
    source (Optional[str | Path]): Its folder (or, for generic formats, a file).
    **options: ``split_seed`` and, for generic formats, ``train``/``dev``/``test``/``scheme``/
        ``token_col``/``tag_col``.
    RETURNS (Loaded): Splits, per-split stats, source files and notes.
    """
    info = get_dataset(name)
    if source is None and info.name not in GENERIC_FORMATS:
        raise NerbertError(f"dataset {name} needs a SOURCE_DIR")
    return info.loader(source, **options)


_REPAIR_FIELDS = tuple(c for c in COUNTERS if c != "entities")


def _read_summary(st: ReadStats) -> Dict[str, int]:
    return {k: getattr(st, k) for k in _REPAIR_FIELDS}


def write_docbin(sentences: Sequence[Sentence], path: PathLike) -> int:
    """Write sentences as a DocBin atomically; returns the number of docs."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    docs = sentences_to_docs(sentences, Vocab())
    db = DocBin(store_user_data=True, docs=docs)
    with atomic_path(path) as tmp:
        db.to_disk(tmp)
    return len(docs)


#: What ``convert_dataset`` writes into its output folder (an existing folder holding
#: anything else is refused rather than replaced).
CONVERT_OUTPUTS = ("*.spacy", "meta.json", ".tmp-*")


def _replaceable_output(output_dir: PathLike) -> Path:
    """The output folder as an absolute path (``.`` has no name to swap), after checking
    that an existing one holds only what an earlier conversion wrote and is not the
    current folder, so replacing it as a whole deletes nothing of the user's."""
    out = Path(os.path.abspath(output_dir))
    if not out.exists():
        return out
    if not out.is_dir():
        raise NerbertError("output exists and is not a folder", output_dir)
    if out == Path(os.getcwd()):
        raise NerbertError(
            "output is the current folder, which cannot be replaced as a whole; "
            "give its path from the folder above, or a new folder",
            output_dir,
        )
    foreign = sorted(p.name for p in out.iterdir() if not any(fnmatch.fnmatch(p.name, pat) for pat in CONVERT_OUTPUTS))
    if foreign:
        raise NerbertError(
            f"output folder holds files a conversion does not write ({', '.join(foreign[:5])}"
            f"{', ...' if len(foreign) > 5 else ''}); choose a new or empty folder",
            output_dir,
        )
    return out


def convert_dataset(
    name: str,
    source: Optional[PathLike],
    output_dir: PathLike,
    *,
    few_shot: Sequence[str] = (),
    seeds: Sequence[int] = (1,),
    split_seed: int = 0,
    **options,
) -> Dict:
    """Convert a dataset to ``output_dir/{train,dev,test}.spacy`` + ``meta.json``
    and, per few-shot size and seed, ``train-fewshot-<N>-seed<S>.spacy``.

    Generic formats given only some splits (e.g. only ``test``) write only those.
    Everything is read, checked and sampled first; the folder is then written
    under a temporary name and swapped in whole, replacing any previous result
    (:func:`nerbert_spacy.util.atomic_dir`). A failure leaves the previous result as
    it was; an existing folder with other files in it, or the current folder, is refused.

    name (str): Dataset name (see DATASETS).
    source (Optional[str | Path]): Source folder (or file for generic formats).
    output_dir (str | Path): Output folder.
    few_shot (Sequence[str]): Few-shot sizes ("50", "10%"); they need a train split.
    seeds (Sequence[int]): Few-shot sampling seeds.
    split_seed (int): Seed for held-out dev/test parts.
    **options: Passed to the loader (generic: ``train``, ``dev``, ``test``, ``scheme``,
        ``token_col``, ``tag_col``).
    RETURNS (Dict): The meta written to ``meta.json``; ``sizes`` names the splits written.
    """
    info = get_dataset(name)
    specs = [parse_fewshot(s) for s in few_shot]
    loaded = load_dataset(name, source, split_seed=split_seed, **options)
    splits = [s for s in SPLITS if s in loaded.splits]
    for split in splits:
        if not loaded.splits[split]:
            raise NerbertError(f"the {split} split of {name} is empty", source)
    if specs and "train" not in loaded.splits:
        raise NerbertError(f"few-shot subsets need a training split, and no train file was given for {name}")
    subsets = [
        (spec, seed, sample_fewshot(loaded.splits["train"], spec, seed)) for spec in specs for seed in seeds
    ]
    labels = sorted({t[2:] for split in splits for s in loaded.splits[split] for t in s.tags if t != "O"})
    out = _replaceable_output(output_dir)
    sizes, fewshot_meta = {}, []
    with atomic_dir(out) as tmp:
        for split in splits:
            sizes[split] = write_docbin(loaded.splits[split], tmp / f"{split}.spacy")
        for spec, seed, subset in subsets:
            fname = fewshot_filename(spec, seed)
            n = write_docbin(subset, tmp / fname)
            fewshot_meta.append({"size": spec.tag, "seed": seed, "sentences": n, "file": fname})
        meta = {
            "dataset": name,
            "description": info.description,
            "sizes": sizes,
            "paper_sizes": dict(zip(SPLITS, info.paper_sizes)) if info.paper_sizes else None,
            "labels": labels,
            "split_seed": split_seed,
            "splits": loaded.notes,
            "source_files": loaded.sources,
            "stats": {s: split_stats(loaded.splits[s]) for s in splits},
            "read": {name: _read_summary(st) for name, st in loaded.file_stats.items()},
            "few_shot": fewshot_meta,
        }
        write_json_atomic(tmp / "meta.json", meta)
    return meta


def write_fewshot(train_path: PathLike, spec: str, seed: int, output: Optional[PathLike] = None) -> Tuple[Path, int]:
    """Sample a few-shot subset from an existing ``train.spacy`` (used by the grid).

    train_path (str | Path): A DocBin of training sentences.
    spec (str): Count or percentage.
    seed (int): Sampling seed.
    output (Optional[str | Path]): Output file (default: ``train-fewshot-<N>-seed<S>.spacy`` beside).
    RETURNS (Tuple[Path, int]): The file and its number of sentences.
    """
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    from ..errors import require_file
    from .readers import docs_to_sentences

    train_path = require_file(train_path, "training DocBin")
    docs = list(DocBin().from_disk(train_path).get_docs(Vocab()))
    subset = sample_fewshot(docs_to_sentences(docs), spec, seed)
    out = Path(output) if output else train_path.parent / fewshot_filename(spec, seed)
    return out, write_docbin(subset, out)
