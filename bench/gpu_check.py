"""A prepared GPU check (issue 12): pretraining throughput, then a CrossNER grid, in one lease.

Part 1, ``throughput``: ``configs/pretrain.cfg`` trained through spaCy's own loop
(``spacy.util.load_config`` + ``init_nlp`` + ``spacy.training.loop.train``) with
960 sentences per update (``training.accumulate_gradient`` sub-batches), for a
BERT-base-cased-shaped encoder with random weights and for MiniLM-L6, each in fp32
and in mixed precision. Sentence lengths come from the real-dump corpus (``--corpus``)
or are drawn from ``bench/sentence_lengths.json``. Each row: sentences/s, words/s,
peak GPU memory and the projected hours for one epoch of the paper's 16.3M sentences.

Part 2, ``quality``: MiniLM pretrained on the real-dump corpus for several epochs
(checkpointed, resumed when interrupted), then the CrossNER Target Only grid of
``bench/gpu_grid.yml`` through ``nerbert_spacy.grid`` (early stopping in epochs,
turned into update steps per domain) and its zero-shot arm.

The check keeps to ``--budget-s``: each part runs in a child process that is stopped
before the budget ends, and the results so far are written to ``--out`` as JSON
(``gpu_check.json``) and markdown (``gpu_check.md``). Running it again with the same
``--out`` skips finished rows, the finished pretraining and finished grid runs.

    bash scripts/gpu_wheelhouse.sh                 # here: slim cp312 wheels -> .gpu/wheels
    python bench/gpu_check.py --prepare            # here: corpus, CrossNER, mappings, MiniLM -> .gpu/data
    python bench/gpu_check.py --print-device-command
    python bench/gpu_check.py --out .gpu/results --budget-s 540 --export "$OUT"   # on the GPU
    python bench/gpu_check.py --out /tmp/gc --dry-run                             # CPU, tiny BERT

docs/scale.md ("GPU") has the whole recipe.
"""
import argparse
import json
import lzma
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/gpu_check.py` puts bench/ first, not the repo
    sys.path.insert(1, str(ROOT))

from nerbert_spacy.errors import NerbertError  # noqa: E402
from nerbert_spacy.util import atomic_dir, write_json_atomic, write_text_atomic  # noqa: E402

EPOCH_SENTENCES = 16_300_000  # the paper's corpus
ROWS: List[Tuple[str, str]] = [("bert-base", "fp32"), ("bert-base", "mixed"), ("minilm", "fp32"), ("minilm", "mixed")]
DOMAINS = ("politics", "science", "music", "literature", "ai")
PRETRAIN_CFG = ROOT / "configs" / "pretrain.cfg"
FINETUNE_CFG = ROOT / "configs" / "finetune.cfg"
HISTOGRAM = ROOT / "bench" / "sentence_lengths.json"
GRID_TEMPLATE = ROOT / "bench" / "gpu_grid.yml"
DEFAULT_DATA = ROOT / ".gpu" / "data"
DEFAULT_CORPORA = (DEFAULT_DATA / "wiki315" / "train", ROOT / "corpus" / "wiki315" / "train")
WEIGHTS_XZ = "model.safetensors.xz"
SYNTH_LABELS = ("person", "city", "organisation", "band", "country", "album")
BERT_BASE_VOCAB = 28996
# files of an encoder folder that travel besides its weights
ENCODER_FILES = ("config.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "vocab.txt")


@dataclass(frozen=True)
class Knobs:
    """Sizes and clock settings of one mode (GPU or dry run)."""

    sentences_per_update: int
    accumulate_gradient: int
    max_steps: int  # updates per throughput row, warm-up included
    warmup_steps: int
    train_docs: int
    dev_docs: int
    reserve_s: float  # kept at the end of the budget for stopping children and writing reports
    throughput_share: float  # of the budget left, when part 2 follows
    bert_base: Dict[str, int]


GPU = Knobs(960, 4, 12, 2, 3840, 64, 25.0, 0.45,
            dict(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, max_position_embeddings=512))
DRY = Knobs(16, 2, 3, 1, 48, 8, 3.0, 0.5,
            dict(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_position_embeddings=128))


def say(msg: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def row_key(encoder: str, precision: str) -> str:
    return f"{encoder}-{precision}"


# ------------------------------------------------------------------ encoders and data


def pack_encoder(src: Path, dest: Path) -> Dict[str, int]:
    """Copy an encoder folder with its float weights as bf16, LZMA-compressed (``model.safetensors.xz``).

    bf16 keeps fp32's exponent, so every weight is its fp32 value rounded to 8 significant
    bits; ``from_pretrained`` casts them back to fp32 exactly. Other tensors are kept as they are.
    RETURNS (Dict[str, int]): Sizes in bytes (fp32 safetensors, bf16 safetensors, compressed).
    """
    import torch
    from safetensors.torch import load_file, save

    dest.mkdir(parents=True, exist_ok=True)
    for name in ENCODER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dest / name)
    weights = src / "model.safetensors"
    if not weights.is_file():
        raise NerbertError("has no model.safetensors to pack", src)
    tensors = load_file(str(weights))
    bf16 = save({k: (v.to(torch.bfloat16) if v.is_floating_point() else v).contiguous() for k, v in tensors.items()})
    packed = lzma.compress(bf16, preset=6)
    (dest / WEIGHTS_XZ).write_bytes(packed)
    return {"fp32_bytes": weights.stat().st_size, "bf16_bytes": len(bf16), "bf16_xz_bytes": len(packed)}


def unpack_encoder(src: Path, dest: Path) -> Path:
    """An encoder folder usable as ``paths.encoder`` from :func:`pack_encoder`'s output (reused if there)."""
    if (dest / "model.safetensors").is_file():
        return dest
    if not (src / WEIGHTS_XZ).is_file():
        raise NerbertError(f"has no {WEIGHTS_XZ} (run `python bench/gpu_check.py --prepare` here first)", src)
    with atomic_dir(dest) as tmp:
        for name in ENCODER_FILES:
            if (src / name).is_file():
                shutil.copy2(src / name, tmp / name)
        (tmp / "model.safetensors").write_bytes(lzma.decompress((src / WEIGHTS_XZ).read_bytes()))
    return dest


def make_bert_base(dest: Path, vocab_file: Path, shape: Dict[str, int], seed: int = 0) -> Path:
    """A BERT-base-cased-shaped encoder with random weights and a WordPiece vocabulary of
    ``BERT_BASE_VOCAB`` entries (the first ones of ``vocab_file``, lower-cased input) (reused if there)."""
    if (dest / "config.json").is_file():
        return dest
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = vocab_file.read_text(encoding="utf8").splitlines()[:BERT_BASE_VOCAB]
    with atomic_dir(dest) as tmp:
        (tmp / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf8")
        tokenizer = BertTokenizerFast(vocab_file=str(tmp / "vocab.txt"), do_lower_case=True)
        tokenizer.model_max_length = shape["max_position_embeddings"]
        tokenizer.save_pretrained(str(tmp))
        config = BertConfig(vocab_size=len(words), hidden_size=shape["hidden_size"],
                            num_hidden_layers=shape["num_layers"], num_attention_heads=shape["num_heads"],
                            intermediate_size=shape["intermediate_size"],
                            max_position_embeddings=shape["max_position_embeddings"])
        torch.manual_seed(seed)
        BertModel(config).save_pretrained(str(tmp))
    return dest


def length_sampler(rng: random.Random) -> Callable[[], int]:
    """Draw sentence lengths (spaCy tokens) from the stored real-corpus histogram."""
    hist = json.loads(HISTOGRAM.read_text(encoding="utf8"))["counts"]
    lengths = [int(k) for k in hist]
    weights = [int(v) for v in hist.values()]
    return lambda: rng.choices(lengths, weights)[0]


def synth_docs(n: int, words: List[str], labels: List[str], seed: int, vocab=None) -> list:
    """``n`` Docs with lengths from the histogram, words from ``words`` and 1-2 labelled entities each."""
    from spacy.tokens import Doc, Span
    from spacy.vocab import Vocab

    vocab = vocab or Vocab()
    rng = random.Random(seed)
    draw = length_sampler(rng)
    docs = []
    for _ in range(n):
        length = max(3, draw())
        doc = Doc(vocab, words=[rng.choice(words) for _ in range(length)])
        ents, start = [], rng.randrange(0, 2)
        while start < length - 1 and len(ents) < 2:
            end = min(length, start + rng.randint(1, 2))
            ents.append(Span(doc, start, end, label=rng.choice(labels)))
            start = end + rng.randint(2, 8)
        doc.ents = ents
        docs.append(doc)
    return docs


def _write_docbin(docs: list, path: Path) -> Path:
    from spacy.tokens import DocBin

    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=False).to_disk(path)
    return path


def read_docs(folder: Path) -> list:
    """Every Doc of the ``.spacy`` files in ``folder`` (or of that one file)."""
    import spacy
    from spacy.tokens import DocBin

    files = [folder] if folder.is_file() else sorted(folder.glob("*.spacy"))
    if not files:
        raise NerbertError("has no .spacy files", folder)
    vocab = spacy.blank("en").vocab
    return [d for f in files for d in DocBin().from_disk(f).get_docs(vocab)]


def corpus_labels(folder: Path) -> List[str]:
    """The entity labels of a corpus folder, as the bio_tagger collects them (sorted)."""
    return sorted({e.label_ for d in read_docs(folder) for e in d.ents})


def write_mappings(data: Path, labels: List[str], ontology: Any, overrides: bool) -> None:
    """``data/mappings/<domain>.json`` for every ``data/crossner/<domain>`` (as `nerbert labels map`)."""
    from nerbert_spacy.mapping import build_mapping, bundled_mapping_path, target_labels_from_docbin

    for folder in sorted(p for p in (data / "crossner").iterdir() if p.is_dir()):
        targets = target_labels_from_docbin(folder / "train.spacy")
        ov = str(bundled_mapping_path(f"crossner-{folder.name}")) if overrides else None
        build_mapping(targets, labels, ontology, ov, strict=False).save(data / "mappings" / f"{folder.name}.json")


def make_dry_data(dest: Path) -> Path:
    """A synthetic prepared folder with the layout of :func:`prepare` (tiny BERT, one toy domain)."""
    if (dest / "manifest.json").is_file():
        return dest
    import spacy

    from nerbert_spacy.tiny import make_tiny_bert, tiny_vocab

    vocab = spacy.blank("en").vocab
    words = [w for w in tiny_vocab() if w.isalpha() and len(w) > 1]
    with atomic_dir(dest) as tmp:
        docs = synth_docs(56, words, list(SYNTH_LABELS), seed=1, vocab=vocab)
        _write_docbin(docs[:48], tmp / "wiki315" / "train" / "shard-000.spacy")
        _write_docbin(docs[48:], tmp / "wiki315" / "dev" / "shard-000.spacy")
        toy = synth_docs(32, words, ["person", "location", "organisation", "misc"], seed=2, vocab=vocab)
        for split, part in (("train", toy[:16]), ("dev", toy[16:24]), ("test", toy[24:])):
            _write_docbin(part, tmp / "crossner" / "toy" / f"{split}.spacy")
        labels = corpus_labels(tmp / "wiki315" / "train")
        (tmp / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf8")
        write_mappings(tmp, labels, None, overrides=False)
        tiny = make_tiny_bert(tmp / "_tiny", hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32)
        sizes = pack_encoder(tiny, tmp / "minilm")
        (tmp / "bert-base-vocab.txt").write_text("\n".join(tiny_vocab()) + "\n", encoding="utf8")
        shutil.rmtree(tiny)
        write_json_atomic(tmp / "manifest.json", {"dry_run": True, "minilm": sizes})
    return dest


def prepare(data: Path, corpus: Path, shared: Path) -> Dict[str, Any]:
    """Build the folder the GPU machine reads (run here, on the CPU; written whole or not at all).

    data (Path): Output folder (``.gpu/data``).
    corpus (Path): The real-dump corpus (``corpus/wiki315`` with ``train/`` and ``dev/``);
        built with the project's ``real-corpus`` commands when missing.
    shared (Path): The benchmark data folder (``../shared/data``).
    RETURNS (Dict[str, Any]): The manifest (sizes, counts).
    """
    from spacy.tokens import DocBin

    from nerbert_spacy.dbpedia.ontology import Ontology
    from nerbert_spacy.pipeline.callbacks import materialize_encoder

    py = [sys.executable, "-m", "nerbert_spacy"]
    wiki, onto = shared / "wikipedia", shared / "dbpedia" / "dbpedia_2016-10.owl"
    if not (corpus / "train").is_dir():
        dumps = sorted(str(p) for p in wiki.glob("*.xml.bz2"))
        if not dumps:
            raise NerbertError("has no Wikipedia dumps (*.xml.bz2) to build the corpus from", wiki)
        say(f"building the real-dump corpus in {corpus} (project.yml: real-corpus)")
        _check_call(py + ["corpus", "build", *dumps, "--ontology", str(onto), "--types",
                          str(shared / "dbpedia" / "instance-types-sample.nt.bz2"), "--output", str(corpus),
                          "--labels", "315", "--seed", "0", "--workers", "2"])
        _check_call(py + ["corpus", "balance", str(corpus), "--alpha", "0.7", "--seed", "0"])
    with atomic_dir(data) as tmp:
        for split in ("train", "dev"):
            shutil.copytree(corpus / split, tmp / "wiki315" / split)
        for d in DOMAINS:
            say(f"converting CrossNER {d}")
            _check_call(py + ["data", "convert", f"crossner-{d}", str(shared / "crossner" / d),
                              "--output", str(tmp / "crossner" / d)])
        labels = corpus_labels(tmp / "wiki315" / "train")
        (tmp / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf8")
        say(f"mapping the CrossNER schemas onto the corpus' {len(labels)} labels")
        write_mappings(tmp, labels, Ontology.load(onto), overrides=True)
        say("packing MiniLM (bf16, LZMA)")
        materialize_encoder("minilm", tmp / "_minilm")
        sizes = pack_encoder(tmp / "_minilm", tmp / "minilm")
        shutil.rmtree(tmp / "_minilm")
        vocab = (tmp / "minilm" / "vocab.txt").read_text(encoding="utf8").splitlines()
        (tmp / "bert-base-vocab.txt").write_text("\n".join(vocab[:BERT_BASE_VOCAB]) + "\n", encoding="utf8")
        counts = {f"{d}/{s}": len(DocBin().from_disk(tmp / "crossner" / d / f"{s}.spacy"))
                  for d in DOMAINS for s in ("train", "dev", "test")}
        counts["wiki315/train"] = sum(len(DocBin().from_disk(p)) for p in (tmp / "wiki315" / "train").glob("*.spacy"))
        manifest = {"dry_run": False, "made": time.strftime("%Y-%m-%d %H:%M:%S"), "corpus": str(corpus),
                    "labels": len(labels), "minilm": sizes, "sentences": counts}
        write_json_atomic(tmp / "manifest.json", manifest)
    manifest["bytes"] = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    return manifest


def _check_call(cmd: List[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise NerbertError(f"`{' '.join(cmd[2:5])} ...` failed: {tail[0]}")


# ------------------------------------------------------------------ workers (child processes)

_STATE: Dict[str, Any] = {}


class _OutOfTime(Exception):
    """Raised from the step timer to end a throughput row at its time limit."""


def _register_helpers() -> None:
    """The step timer ([training.before_update]) and the batcher that counts sentences and words."""
    from spacy.util import registry

    @registry.callbacks("gpu_check.step_timer.v1")
    def make_step_timer() -> Callable[[Any, Dict[str, Any]], None]:
        def step_timer(nlp: Any, info: Dict[str, Any]) -> None:
            _sync()
            times = _STATE["times"]
            times.append(time.perf_counter())
            if len(times) - 1 > _STATE["warmup"] and time.time() > _STATE["stop_at"]:
                raise _OutOfTime()

        return step_timer

    @registry.batchers("gpu_check.counting_batcher.v1")
    def make_counting_batcher(size: int, get_length: Any = None) -> Callable[[Any], Any]:
        inner = registry.batchers.get("spacy.batch_by_sequence.v1")(size=size, get_length=get_length)

        def batcher(items: Any) -> Any:
            for batch in inner(items):
                _STATE["batches"].append((len(batch), sum(len(eg.reference) for eg in batch)))
                yield batch

        return batcher


def _sync() -> None:
    if _STATE.get("cuda"):
        import torch

        torch.cuda.synchronize()


def environment(gpu_id: int) -> Dict[str, Any]:
    """Device and library versions of this process."""
    from importlib.metadata import version

    import torch

    cuda = gpu_id >= 0 and torch.cuda.is_available()
    return {
        "device": torch.cuda.get_device_name(gpu_id) if cuda else "cpu",
        "gpu_memory_gib": round(torch.cuda.get_device_properties(gpu_id).total_memory / 2**30, 1) if cuda else None,
        "python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda if cuda else None,
        **{name.replace("-", "_"): version(name) for name in ("spacy", "spacy-transformers", "thinc", "transformers")},
    }


def _use_device(gpu_id: int) -> bool:
    import torch

    if gpu_id < 0:
        return False
    if not torch.cuda.is_available():
        raise NerbertError(f"--gpu-id {gpu_id} but torch sees no CUDA device (use --dry-run on a CPU)")
    from spacy.cli._util import setup_gpu

    setup_gpu(gpu_id)
    return True


def throughput_docs(job: Dict[str, Any], knobs: Knobs, words_file: Path) -> Tuple[Path, Path, str]:
    """Training and dev DocBins for the throughput rows: ``train_docs`` sentences of the
    corpus (shuffled, repeated when short) or synthetic ones with real-corpus lengths."""
    work = Path(job["work"]) / "throughput"
    train, dev = work / "train.spacy", work / "dev.spacy"
    source = f"corpus {job['corpus']}" if job.get("corpus") else f"synthetic, lengths from {HISTOGRAM.name}"
    if train.is_file() and dev.is_file():
        return train, dev, source
    rng = random.Random(0)
    if job.get("corpus"):
        pool = read_docs(Path(job["corpus"]))
        rng.shuffle(pool)
        docs = [pool[i % len(pool)] for i in range(knobs.train_docs)]
    else:
        words = [w for w in words_file.read_text(encoding="utf8").split() if w.isalpha() and len(w) > 1]
        docs = synth_docs(knobs.train_docs, words, list(SYNTH_LABELS), seed=0)
    _write_docbin(docs[: knobs.dev_docs], dev)
    _write_docbin(docs, train)
    return train, dev, source


def throughput_row(encoder: str, precision: str, enc_dir: Path, train: Path, dev: Path, job: Dict[str, Any],
                   knobs: Knobs, cuda: bool, row_deadline: float) -> Dict[str, Any]:
    """Time ``knobs.max_steps`` updates of configs/pretrain.cfg (fewer when the row's time runs out)."""
    import torch
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train as train_loop
    from spacy.util import load_config

    mixed = precision == "mixed"
    gpu_id = int(job["gpu_id"]) if cuda else -1
    overrides: Dict[str, Any] = {
        "paths.train": str(train), "paths.dev": str(dev), "paths.encoder": str(enc_dir), "paths.checkpoint": None,
        "components.transformer.model.mixed_precision": mixed,
        "training.batcher": {"@batchers": "gpu_check.counting_batcher.v1", "size": knobs.sentences_per_update},
        "training.accumulate_gradient": knobs.accumulate_gradient,
        "training.before_update": {"@callbacks": "gpu_check.step_timer.v1"},
        "training.max_steps": knobs.max_steps, "training.eval_frequency": knobs.max_steps,
        "training.max_epochs": 0, "training.patience": 0, "corpora.dev.limit": knobs.dev_docs, "system.seed": 0,
    }
    if mixed and not cuda:  # the gradient scaler needs CUDA; autocast("cuda") turns itself off on a CPU
        overrides["components.transformer.model.grad_scaler_config"] = {"enabled": False}
    _STATE.update(times=[], batches=[], warmup=knobs.warmup_steps, stop_at=row_deadline - 3.0)
    start = time.time()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    nlp = init_nlp(load_config(PRETRAIN_CFG, overrides=overrides, interpolate=False), use_gpu=gpu_id)
    init_s = time.time() - start
    try:
        train_loop(nlp, None, use_gpu=gpu_id, stdout=sys.stdout, stderr=sys.stderr)
    except _OutOfTime:
        print(f"row {row_key(encoder, precision)}: stopped at its time limit", flush=True)
    _sync()
    times, batches, w = _STATE["times"], _STATE["batches"], knobs.warmup_steps
    last = len(times) - 1
    if last <= w:
        raise NerbertError(f"only {max(last, 0)} updates ran before the row's time limit; none was timed "
                           f"after {w} warm-up updates")
    seconds = times[last] - times[w]
    sentences = sum(b[0] for b in batches[w:last])
    words = sum(b[1] for b in batches[w:last])
    trf = nlp.get_pipe("transformer").model.transformer
    sps = sentences / seconds
    row = {
        "encoder": encoder, "precision": precision, "mixed_precision": mixed,
        "encoder_shape": {"hidden": trf.config.hidden_size, "layers": trf.config.num_hidden_layers,
                          "heads": trf.config.num_attention_heads, "vocab": trf.config.vocab_size,
                          "parameters": sum(p.numel() for p in trf.parameters())},
        "sentences_per_update": knobs.sentences_per_update, "accumulate_gradient": knobs.accumulate_gradient,
        "warmup_updates": w, "timed_updates": last - w, "seconds": seconds, "sentences": sentences, "words": words,
        "seconds_per_update": seconds / (last - w), "sentences_per_s": sps, "words_per_s": words / seconds,
        "projected_hours_per_epoch": EPOCH_SENTENCES / sps / 3600, "epoch_sentences": EPOCH_SENTENCES,
        "peak_gpu_memory_bytes": int(torch.cuda.max_memory_allocated()) if cuda else None,
        "init_seconds": init_s, "row_seconds": time.time() - start,
    }
    del nlp, trf
    _free_memory()
    return row


def _free_memory() -> None:
    """Let the next row start from an empty GPU (peak memory is per row)."""
    import gc

    gc.collect()
    if _STATE.get("cuda"):
        import torch

        torch.cuda.empty_cache()


def worker_throughput(job: Dict[str, Any]) -> None:
    knobs = DRY if job["dry_run"] else GPU
    _register_helpers()
    cuda = _use_device(int(job["gpu_id"]))
    _STATE["cuda"] = cuda
    data, work, out = Path(job["data"]), Path(job["work"]), Path(job["out"]) / "throughput"
    env = environment(int(job["gpu_id"]))
    train, dev, source = throughput_docs(job, knobs, data / "bert-base-vocab.txt")
    pending = [tuple(r) for r in job["rows"]]
    for i, (encoder, precision) in enumerate(pending):
        row_deadline = time.time() + (float(job["deadline"]) - time.time()) / (len(pending) - i)
        key = row_key(encoder, precision)
        print(f"=== throughput row {key} (until {time.strftime('%H:%M:%S', time.localtime(row_deadline))})",
              flush=True)
        try:
            if encoder == "bert-base" and job["dry_run"]:
                from nerbert_spacy.tiny import make_tiny_bert

                enc = work / "encoders" / "bert-base"
                if not (enc / "config.json").is_file():
                    make_tiny_bert(enc, **knobs.bert_base)
            elif encoder == "bert-base":
                enc = make_bert_base(work / "encoders" / "bert-base", data / "bert-base-vocab.txt", knobs.bert_base)
            else:
                enc = unpack_encoder(data / "minilm", work / "encoders" / "minilm")
            row = throughput_row(encoder, precision, enc, train, dev, job, knobs, cuda, row_deadline)
        except (NerbertError, RuntimeError, ValueError) as err:  # recorded; the other rows still run
            msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            print(f"row {key} failed: {type(err).__name__}: {msg}", flush=True)
            _free_memory()
            write_json_atomic(out / f"{key}.error.json", {"encoder": encoder, "precision": precision,
                                                          "error": f"{type(err).__name__}: {msg}"})
            continue
        row.update(corpus=source, environment=env, dry_run=bool(job["dry_run"]),
                   measured=time.strftime("%Y-%m-%d %H:%M:%S"))
        write_json_atomic(out / f"{key}.json", row)
        (out / f"{key}.error.json").unlink(missing_ok=True)
        print(f"row {key}: {row['sentences_per_s']:.1f} sentences/s, {row['words_per_s']:.0f} words/s", flush=True)


def count_docs(path: Path) -> int:
    from spacy.tokens import DocBin

    files = [path] if path.is_file() else sorted(path.glob("*.spacy"))
    return sum(len(DocBin().from_disk(f)) for f in files)


def run_pretrain(job: Dict[str, Any], cfg: Dict[str, Any], cuda: bool) -> None:
    """Pretrain MiniLM on the real-dump corpus (resumes from its checkpoint) unless it is done."""
    from spacy.cli.train import train

    from nerbert_spacy.pipeline.checkpoint import MARKER, find_checkpoint

    data, work, out = Path(job["data"]), Path(job["work"]), Path(job["out"])
    model_dir, ckpt = work / "pretrain", work / "pretrain-checkpoint"
    if (model_dir / ".complete").is_file():
        print("pretraining: done earlier in this lease", flush=True)
        return
    train_dir, dev_dir = data / "wiki315" / "train", data / "wiki315" / "dev"
    n_train = count_docs(train_dir)
    per_epoch = math.ceil(n_train / int(cfg["batch_size"]))
    total = int(cfg["epochs"]) * per_epoch
    found = find_checkpoint(ckpt)
    done = int(json.loads((found / MARKER).read_text(encoding="utf8")).get("step", 0)) if found else 0
    steps = max(total - done, per_epoch)
    mixed = bool(cfg.get("mixed_precision")) and cuda
    overrides = {
        "paths.train": str(train_dir), "paths.dev": str(dev_dir),
        "paths.encoder": str(unpack_encoder(data / "minilm", work / "encoders" / "minilm")),
        "paths.checkpoint": str(ckpt), "training.before_update.every": per_epoch,
        "training.max_steps": steps, "training.max_epochs": 0, "training.eval_frequency": min(per_epoch, steps),
        "training.patience": 0, "training.batcher.size": int(cfg["batch_size"]),
        "training.accumulate_gradient": int(cfg["accumulate_gradient"]), "system.seed": int(cfg.get("seed", 0)),
        "components.transformer.model.mixed_precision": mixed,
    }
    print(f"=== pretraining: {n_train} sentences, {cfg['epochs']} epochs x {per_epoch} updates of "
          f"{cfg['batch_size']} ({steps} to do, {done} done in a checkpoint)", flush=True)
    start = time.time()
    train(PRETRAIN_CFG, model_dir, use_gpu=int(job["gpu_id"]) if cuda else -1, overrides=overrides)
    meta = json.loads((model_dir / "model-best" / "meta.json").read_text(encoding="utf8"))
    record = {
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": round(time.time() - start, 1),
        "sentences": n_train, "epochs": int(cfg["epochs"]), "updates": total, "resumed_from_update": done,
        "batch_size": int(cfg["batch_size"]), "accumulate_gradient": int(cfg["accumulate_gradient"]),
        "mixed_precision": mixed, "dev": meta.get("performance", {}), "environment": environment(int(job["gpu_id"])),
    }
    history_path = out / "quality" / "pretrain.json"
    history = json.loads(history_path.read_text(encoding="utf8")) if history_path.is_file() else []
    write_json_atomic(history_path, history + [record])
    (model_dir / ".complete").write_text("ok\n", encoding="utf8")


def budgeted(run_fn: Callable[[Dict[str, Any], Any], Dict[str, Any]], deadline: float,
             estimate_s: float) -> Callable[[Dict[str, Any], Any], Dict[str, Any]]:
    """A grid ``run_fn`` that does not start a run the budget cannot finish (the mean time
    of this lease's runs, or ``estimate_s`` before the first)."""
    from nerbert_spacy.grid import RunFailed

    took: List[float] = []

    def run(job: Dict[str, Any], log_path: Any) -> Dict[str, Any]:
        need = sum(took) / len(took) if took else estimate_s
        if time.time() + need > deadline:
            raise RunFailed(f"not started: about {need:.0f} s needed, the check's budget is spent")
        start = time.time()
        result = run_fn(job, log_path)
        took.append(time.time() - start)
        return result

    return run


def run_quality_grid(job: Dict[str, Any], cfg: Dict[str, Any]) -> None:
    """The grid with the runner's own early stopping in epochs (converted to update steps per
    run from its training-set size), one seed at a time so the budget check sits between runs."""
    from nerbert_spacy.grid import load_spec, run_grid, run_subprocess, train_and_evaluate

    spec = load_spec(job["grid_spec"])
    spec.early_stopping = {k: int(v) for k, v in cfg["early_stopping"].items()}
    if job["dry_run"]:  # in this process: a child per run would cost more than the tiny runs
        base_fn: Callable[[Dict[str, Any], Any], Dict[str, Any]] = lambda j, log: train_and_evaluate(j)  # noqa: E731
    else:
        base_fn = run_subprocess
    run_fn = budgeted(base_fn, float(job["deadline"]), float(cfg.get("run_estimate_s", 0)))
    for seed in spec.seeds:
        arms = [a for a in spec.arms if not a.zero_shot or seed == spec.seeds[0]]
        sub = replace(spec, seeds=[seed], arms=arms)
        report = run_grid(sub, run_fn=run_fn, progress=lambda m: print(m, flush=True), write_report=False)
        for key, err, _ in report.failed:
            print(f"  {key}: {err}", flush=True)


def worker_quality(job: Dict[str, Any]) -> None:
    cfg = job["settings"]
    cuda = _use_device(int(job["gpu_id"]))
    _STATE["cuda"] = cuda
    run_pretrain(job, cfg["pretrain"], cuda)
    run_quality_grid(job, cfg)


WORKERS = {"throughput": worker_throughput, "quality": worker_quality}


def worker_main(kind: str, job_path: Path) -> int:
    job = json.loads(job_path.read_text(encoding="utf8"))
    if job["dry_run"]:
        make_dry_data(Path(job["data"]))
    try:
        WORKERS[kind](job)
    except NerbertError as err:
        print(f"error: {err}", flush=True)
        return 1
    return 0


# ------------------------------------------------------------------ the parent: clock, resume, reports


def run_child(kind: str, job: Dict[str, Any], out: Path, deadline: float) -> Optional[int]:
    """Run one part in a child process (its own process group); stop the group at ``deadline``.
    RETURNS (Optional[int]): The exit code, or None when it was stopped at the deadline."""
    work = out / "_work"
    work.mkdir(parents=True, exist_ok=True)
    job_path = work / f"{kind}.job.json"
    write_json_atomic(job_path, job)
    env = dict(os.environ)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
    with open(work / f"{kind}.log", "a", encoding="utf8") as log:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--job",
                                 str(job_path)], stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            return proc.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                try:
                    os.killpg(proc.pid, sig)
                    proc.wait(timeout=wait_s)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
            return None


def log_tail(out: Path, kind: str) -> str:
    path = out / "_work" / f"{kind}.log"
    lines = path.read_text(encoding="utf8", errors="replace").strip().splitlines() if path.is_file() else []
    return lines[-1] if lines else "no output"


def resolve_grid(out: Path, data: Path, dry_run: bool, gpu_id: int, command: str) -> Tuple[Path, Dict[str, Any]]:
    """Fill in bench/gpu_grid.yml and write it to ``out/quality/grid.yml``.
    RETURNS (Tuple[Path, Dict[str, Any]]): The spec's path and the ``gpu_check`` settings."""
    import srsly

    raw = srsly.read_yaml(GRID_TEMPLATE)
    cfg = dict(raw.pop("gpu_check", None) or {})
    dry = cfg.pop("dry_run", None) or {}
    if dry_run:
        raw.update({k: dry[k] for k in ("domains", "seeds", "overrides") if k in dry})
        cfg.update({k: v for k, v in dry.items() if k not in ("domains", "seeds", "overrides")})
    places = {"{data}": str(data.resolve()), "{out}": str(out.resolve()), "{work}": str((out / "_work").resolve())}

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            for k, v in places.items():
                value = value.replace(k, v)
            return value
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return [fill(v) for v in value] if isinstance(value, list) else value

    spec = fill(raw)
    spec.update(gpu_id=gpu_id, command=command)
    path = out / "quality" / "grid.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_yaml(path, spec)
    return path, cfg


def throughput_rows(out: Path) -> Dict[str, Dict[str, Any]]:
    folder = out / "throughput"
    return {p.stem: json.loads(p.read_text(encoding="utf8"))
            for p in sorted(folder.glob("*.json")) if not p.name.endswith(".error.json")} if folder.is_dir() else {}


def grid_state(spec_path: Path) -> Tuple[Any, List[str], List[str]]:
    """(spec, finished run keys, missing run keys) of the grid."""
    from nerbert_spacy.grid import load_spec, plan

    spec = load_spec(spec_path)
    runs = plan(spec)
    return spec, [r.key for r in runs if Path(r.result_path).is_file()], [r.key for r in runs
                                                                        if not Path(r.result_path).is_file()]


def run_check(out: Path, budget_s: float, part: str, dry_run: bool, data: Optional[Path], corpus: Optional[Path],
              gpu_id: int, command: str) -> Dict[str, Any]:
    """Run the parts that are not finished in ``out`` within ``budget_s`` seconds; write the reports.
    RETURNS (Dict[str, Any]): The content of ``out/gpu_check.json``."""
    t0 = time.time()
    knobs = DRY if dry_run else GPU
    deadline = t0 + budget_s - knobs.reserve_s
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "gpu_check.json"
    state = json.loads(state_path.read_text(encoding="utf8")) if state_path.is_file() else {"runs": []}
    if state["runs"] and bool(state.get("dry_run")) != dry_run:
        raise NerbertError(f"holds {'dry-run' if state.get('dry_run') else 'GPU'} results; use another --out", out)
    data = (data or (out / "_work" / "dry-data" if dry_run else DEFAULT_DATA)).resolve()
    if not dry_run and not (data / "manifest.json").is_file():
        raise NerbertError("is not a prepared folder (run `python bench/gpu_check.py --prepare` here first)", data)
    if corpus is None and not dry_run:
        corpus = next((c for c in DEFAULT_CORPORA if c.is_dir()), None)
    base_job = {"out": str(out.resolve()), "work": str((out / "_work").resolve()), "data": str(data),
                "dry_run": dry_run, "gpu_id": gpu_id, "corpus": str(corpus.resolve()) if corpus else None}
    run: Dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": command, "budget_s": budget_s,
                           "parts": {}}
    spec_path, cfg = resolve_grid(out, data, dry_run, gpu_id, command)
    _, grid_before, grid_missing = grid_state(spec_path)
    want = ("throughput", "quality") if part == "all" else (part,)
    if "throughput" in want:
        pending = [r for r in ROWS if row_key(*r) not in throughput_rows(out)]
        if not pending:
            run["parts"]["throughput"] = "skipped: every row was measured earlier"
        else:
            share = knobs.throughput_share if "quality" in want and grid_missing else 1.0
            part_deadline = time.time() + max(0.0, deadline - time.time()) * share
            say(f"throughput: {len(pending)} rows, until {time.strftime('%H:%M:%S', time.localtime(part_deadline))}")
            code = run_child("throughput", {**base_job, "rows": pending, "deadline": part_deadline}, out,
                             part_deadline)
            _show_failure(out, "throughput", code)
            left = [row_key(*r) for r in ROWS if row_key(*r) not in throughput_rows(out)]
            run["parts"]["throughput"] = _part_status(code, left, log_tail(out, "throughput"))
    if "quality" in want:
        if not grid_missing:
            run["parts"]["quality"] = "skipped: every grid run has a result"
        elif deadline - time.time() < 10:
            run["parts"]["quality"] = "not started: no budget left"
        else:
            say(f"quality: pretraining + {len(grid_missing)} grid runs, until "
                f"{time.strftime('%H:%M:%S', time.localtime(deadline))}")
            code = run_child("quality", {**base_job, "grid_spec": str(spec_path), "settings": cfg,
                                         "deadline": deadline}, out, deadline)
            _show_failure(out, "quality", code)
            _, _, left = grid_state(spec_path)
            run["parts"]["quality"] = _part_status(code, left, log_tail(out, "quality"))
    spec, grid_done, grid_left = grid_state(spec_path)
    run["grid_runs_finished"] = sorted(set(grid_done) - set(grid_before))
    run["wall_s"] = round(time.time() - t0, 1)
    state = write_reports(out, state, run, spec, grid_done, grid_left, dry_run)
    say(f"done in {run['wall_s']} s: " + "; ".join(f"{k}: {v}" for k, v in run["parts"].items()))
    return state


def _show_failure(out: Path, kind: str, code: Optional[int]) -> None:
    """Print the end of a failed child's log (the device reply shows only the output's tail)."""
    if code not in (0, None):
        path = out / "_work" / f"{kind}.log"
        lines = path.read_text(encoding="utf8", errors="replace").splitlines()[-15:] if path.is_file() else []
        say(f"{kind} failed (exit code {code}); end of {path.name}:\n" + "\n".join(lines))


def _part_status(code: Optional[int], left: List[str], tail: str) -> str:
    if code is None:
        return f"stopped at the budget; {len(left)} left for the next run"
    if code != 0:
        return f"failed (exit code {code}): {tail}; {len(left)} left"
    return "done" if not left else f"ran; {len(left)} left ({tail})"


def write_reports(out: Path, state: Dict[str, Any], run: Dict[str, Any], spec: Any, grid_done: List[str],
                  grid_left: List[str], dry_run: bool) -> Dict[str, Any]:
    """``gpu_check.json`` and ``gpu_check.md`` (and the grid's own markdown) from what ``out`` holds."""
    from nerbert_spacy.grid import write_grid_report

    rows = throughput_rows(out)
    errors = {p.name[: -len(".error.json")]: json.loads(p.read_text(encoding="utf8"))["error"]
              for p in sorted((out / "throughput").glob("*.error.json"))} if (out / "throughput").is_dir() else {}
    pretrain_path = out / "quality" / "pretrain.json"
    pretrainings = json.loads(pretrain_path.read_text(encoding="utf8")) if pretrain_path.is_file() else []
    grid_md = None
    if grid_done:
        grid_md, _ = write_grid_report(spec)
    env = next((r["environment"] for r in rows.values()), None) or (pretrainings[-1]["environment"]
                                                                    if pretrainings else None)
    state = {
        "check": "bench/gpu_check.py", "dry_run": dry_run, "environment": env or state.get("environment"),
        "epoch_sentences": EPOCH_SENTENCES, "runs": state.get("runs", []) + [run],
        "throughput": {"done": len(rows) == len(ROWS), "rows": [rows[row_key(*r)] for r in ROWS
                                                                 if row_key(*r) in rows], "errors": errors},
        "quality": {"done": not grid_left, "pretrainings": pretrainings, "grid_spec": str(out / "quality" / "grid.yml"),
                    "grid_finished": len(grid_done), "grid_total": len(grid_done) + len(grid_left),
                    "grid_missing": grid_left, "grid_markdown": grid_md},
    }
    write_json_atomic(out / "gpu_check.json", state)
    write_text_atomic(out / "gpu_check.md", render_markdown(state, out))
    return state


def render_markdown(state: Dict[str, Any], out: Path) -> str:
    env = state.get("environment") or {}
    lines = ["# GPU check (bench/gpu_check.py)" + (" — dry run (CPU, tiny BERT)" if state["dry_run"] else ""), ""]
    if env:
        lines.append(f"Device: {env['device']}" + (f" ({env['gpu_memory_gib']} GiB)" if env.get("gpu_memory_gib")
                                                   else "") + f"; Python {env['python']}, torch {env['torch']}"
                     + (f" (CUDA {env['cuda']})" if env.get("cuda") else "") + f", spaCy {env['spacy']}, "
                     f"spacy-transformers {env['spacy_transformers']}, thinc {env['thinc']}, "
                     f"transformers {env['transformers']}.")
        lines.append("")
    lines += ["| started | budget s | wall s | parts |", "|---|---:|---:|---|"]
    for r in state["runs"]:
        parts = "; ".join(f"{k}: {v}" for k, v in r["parts"].items()) or "-"
        lines.append(f"| {r['started']} | {r['budget_s']:.0f} | {r.get('wall_s', '-')} | {parts} |")
    rows = state["throughput"]["rows"]
    lines += ["", "## Pretraining throughput (configs/pretrain.cfg)", ""]
    if rows:
        r0 = rows[0]
        lines.append(f"{r0['sentences_per_update']} sentences per update ({r0['accumulate_gradient']} accumulated "
                     f"sub-batches); {r0['warmup_updates']} warm-up updates, then timed updates; sentences from "
                     f"{r0['corpus']}. Projected hours = {EPOCH_SENTENCES:,} / (sentences/s) / 3600.")
        lines += ["", "| encoder | params | precision | timed updates | s/update | sentences/s | words/s "
                  "| peak GPU memory GiB | hours per epoch of 16.3M sentences |",
                  "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            mem = r.get("peak_gpu_memory_bytes")
            shape = r["encoder_shape"]
            lines.append(
                f"| {r['encoder']} ({shape['layers']}x{shape['hidden']}) | {shape['parameters'] / 1e6:.1f}M | "
                f"{r['precision']} | {r['timed_updates']} | {r['seconds_per_update']:.2f} | "
                f"{r['sentences_per_s']:,.0f} | {r['words_per_s']:,.0f} | "
                f"{'-' if mem is None else f'{mem / 2**30:.1f}'} | {r['projected_hours_per_epoch']:,.1f} |")
    for key, err in state["throughput"]["errors"].items():
        lines.append(f"- {key}: {err}")
    q = state["quality"]
    lines += ["", "## Quality: MiniLM pretrained on the real-dump corpus, CrossNER Target Only", ""]
    for p in q["pretrainings"]:
        dev = p.get("dev") or {}
        lines.append(f"- pretraining finished {p['finished']}: {p['sentences']} sentences, {p['epochs']} epochs, "
                     f"{p['updates']} updates of {p['batch_size']} (mixed precision {p['mixed_precision']}), "
                     f"{p['seconds']} s; dev ents_f {100 * float(dev.get('ents_f') or 0):.1f}")
    if not q["pretrainings"]:
        lines.append("- pretraining: not finished yet")
    lines.append(f"- grid: {q['grid_finished']} of {q['grid_total']} runs have a result"
                 + (f"; table in `quality/{Path(q['grid_markdown']).name}`" if q["grid_markdown"] else ""))
    if q["grid_missing"]:
        lines.append(f"- left for the next run: {', '.join(q['grid_missing'][:8])}"
                     + (" ..." if len(q["grid_missing"]) > 8 else ""))
    if q["grid_markdown"]:
        grid_md = Path(q["grid_markdown"]).read_text(encoding="utf8")
        body = grid_md.split("## How this was run")[0].split("\n", 2)[-1]
        lines += ["", body.strip()]
    return "\n".join(lines) + "\n"


def export_results(out: Path, dest: Path) -> List[str]:
    """Copy the reports to ``dest`` plus ``gpu_results.tgz`` (all of ``out`` that a next run resumes
    from, without the ``_work`` folder but with its logs). At most 4 files, for the device's $OUT."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("gpu_check.json", "gpu_check.md"):
        if (out / name).is_file():
            shutil.copy2(out / name, dest / name)
            written.append(name)
    with tarfile.open(dest / "gpu_results.tgz", "w:gz") as tar:
        for path in sorted(out.rglob("*")):
            rel = path.relative_to(out)
            inside_work = rel.parts[0] == "_work"
            if path.is_file() and (not inside_work or path.suffix == ".log"):
                tar.add(path, arcname=str(rel))
    written.append("gpu_results.tgz")
    return written


# ------------------------------------------------------------------ the device command


def device_command(budget_s: int = 540) -> Dict[str, Any]:
    """The ``run`` tool's arguments for the lent GPU machine (docs/scale.md, "GPU")."""
    carry = [".gpu/wheels", ".gpu/data"] + ([".gpu/results"] if (ROOT / ".gpu" / "results").is_dir() else [])
    command = (
        "export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "
        "PYTHONPATH=$PWD/.gpu/site:$PWD; "
        "[ -d .gpu/site/spacy ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir "
        "--target .gpu/site .gpu/wheels/*.whl || exit 1; "
        "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; "
        f"python3 bench/gpu_check.py --out .gpu/results --budget-s {budget_s} --export $OUT 2>&1 "
        "| tee $OUT/gpu_check.log"
    )
    return {"command": command, "carry": carry, "timeout_s": 600}


def ensure_entry_points() -> None:
    """spaCy finds nerbert's factories through package metadata; write it (setup.py egg_info)
    where the package is not installed (the GPU machine: PYTHONPATH only)."""
    from importlib.metadata import entry_points

    if any(ep.name == "bio_tagger" for ep in entry_points(group="spacy_factories")):
        return
    done = subprocess.run([sys.executable, "setup.py", "-q", "egg_info"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise NerbertError(f"setup.py egg_info failed: {(done.stderr or done.stdout).strip()[-200:]}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Prepared GPU check (issue 12); docs/scale.md, GPU.")
    parser.add_argument("--out", type=Path, help="results folder; a rerun with it resumes")
    parser.add_argument("--budget-s", type=float, default=540.0, help="wall-clock budget of this run (s)")
    parser.add_argument("--part", choices=("all", "throughput", "quality"), default="all")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny BERT, synthetic data, tiny budgets")
    parser.add_argument("--corpus", type=Path, help="training shards for the throughput rows "
                        "(default .gpu/data/wiki315/train or corpus/wiki315/train; dry run: synthetic)")
    parser.add_argument("--data", type=Path, help="prepared folder (default .gpu/data; dry run: made in --out)")
    parser.add_argument("--gpu-id", type=int, default=None, help="CUDA device (default 0; dry run -1)")
    parser.add_argument("--export", type=Path, help="afterwards copy the reports + gpu_results.tgz here ($OUT)")
    parser.add_argument("--prepare", action="store_true", help="build .gpu/data here (CPU)")
    parser.add_argument("--corpus-dir", type=Path, default=ROOT / "corpus" / "wiki315",
                        help="--prepare: the real-dump corpus folder (built when missing)")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data",
                        help="--prepare: the benchmark data folder")
    parser.add_argument("--print-device-command", action="store_true", help="print the run tool's arguments")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker, args.job)
    try:
        if args.print_device_command:
            print(json.dumps(device_command(int(args.budget_s)), indent=2))
            return 0
        if args.prepare:
            manifest = prepare((args.data or DEFAULT_DATA).resolve(), args.corpus_dir, args.shared)
            say(f"prepared {args.data or DEFAULT_DATA}: {manifest['bytes'] / 2**20:.1f} MiB")
            return 0
        if args.out is None:
            parser.error("--out is required")
        ensure_entry_points()
        gpu_id = args.gpu_id if args.gpu_id is not None else (-1 if args.dry_run else 0)
        command = "python bench/gpu_check.py " + " ".join(argv if argv is not None else sys.argv[1:])
        try:
            state = run_check(args.out, args.budget_s, args.part, args.dry_run, args.data, args.corpus, gpu_id,
                              command)
        finally:
            if args.export:
                say(f"exported {', '.join(export_results(args.out, args.export))} to {args.export}")
        print(render_markdown(state, args.out), flush=True)
    except NerbertError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
