"""Training throughput (words/s) of configs/finetune.cfg, e.g. with the offline MiniLM.

    python bench/bench_train.py --encoder /tmp/minilm \
        --data ../shared/data/crossner/politics/train.txt --sentences 200 --steps 30

Converts the first N sentences of a CoNLL-style file (token TAB tag, blank line
between sentences) to a DocBin, builds the pipeline from the config with
``init_nlp``, then times ``--steps`` updates exactly as ``spacy train`` does them
(``nlp.update`` with ``sgd=False``, then ``finish_update`` on every trainable
component) on batches of ``training.batcher.size`` sentences, after
``--warmup`` untimed steps. Also times prediction (``nlp.pipe``) over the same
sentences. Prints one JSON object and a markdown table row.
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_conll(path: Path, limit: int):
    """The first ``limit`` sentences of a token<TAB>tag file as (words, tags)."""
    sents, words, tags = [], [], []
    for line in path.read_text(encoding="utf8").splitlines() + [""]:
        line = line.strip()
        if not line:
            if words:
                sents.append((words, tags))
                words, tags = [], []
                if len(sents) >= limit:
                    break
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        tag = parts[-1]
        if tag.startswith("I-") and (not tags or tags[-1][2:] != tag[2:]):
            tag = "B-" + tag[2:]  # repair I- after O / another type
        words.append(parts[0])
        tags.append(tag)
    return sents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", required=True, help="paths.encoder (e.g. /tmp/minilm from `nerbert model encoder minilm`)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/crossner/politics/train.txt")
    parser.add_argument("--config", type=Path, default=ROOT / "configs/finetune.cfg")
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    args = parser.parse_args()

    import spacy
    import torch
    from spacy.tokens import Doc, DocBin
    from spacy.training import Example
    from spacy.training.initialize import init_nlp
    from spacy.util import load_config, minibatch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.gpu_id >= 0:
        spacy.require_gpu(args.gpu_id)
    sents = read_conll(args.data, args.sentences)
    vocab = spacy.blank("en").vocab
    tmp = Path(tempfile.mkdtemp(prefix="bench_train."))
    db = DocBin()
    for words, tags in sents:
        db.add(Doc(vocab, words=words, ents=tags))
    db.to_disk(tmp / "train.spacy")
    overrides = {"paths.train": str(tmp / "train.spacy"), "paths.dev": str(tmp / "train.spacy"), "paths.encoder": args.encoder}
    config = load_config(args.config, overrides=overrides, interpolate=False)
    batch_size = int(config["training"]["batcher"]["size"])
    t0 = time.perf_counter()
    nlp = init_nlp(config, use_gpu=args.gpu_id)
    init_s = time.perf_counter() - t0
    examples = [Example(Doc(nlp.vocab, words=w), Doc(nlp.vocab, words=w, ents=t)) for w, t in sents]
    optimizer = nlp.create_optimizer()
    batches = [list(b) for b in minibatch(examples, batch_size)]
    words = 0
    start = None
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            start = time.perf_counter()
        batch = batches[step % len(batches)]
        nlp.update(batch, sgd=False, losses={})
        for _, proc in nlp.pipeline:
            if getattr(proc, "is_trainable", False):
                proc.finish_update(optimizer)
        if step >= args.warmup:
            words += sum(len(eg.predicted) for eg in batch)
    train_s = time.perf_counter() - start
    texts = [" ".join(w) for w, _ in sents]
    t1 = time.perf_counter()
    n_pred = sum(len(doc) for doc in nlp.pipe(texts, batch_size=64))
    pred_s = time.perf_counter() - t1
    trf = nlp.get_pipe("transformer").model.transformer
    result = {
        "encoder": args.encoder,
        "encoder_params": sum(p.numel() for p in trf.parameters()),
        "hidden": trf.config.hidden_size,
        "layers": trf.config.num_hidden_layers,
        "config": str(args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config),
        "sentences": len(sents),
        "batch_size": batch_size,
        "steps": args.steps,
        "train_words": words,
        "train_seconds": round(train_s, 2),
        "train_words_per_s": round(words / train_s, 1),
        "train_sentences_per_s": round(args.steps * batch_size / train_s, 2),
        "predict_words_per_s": round(n_pred / pred_s, 1),
        "init_seconds": round(init_s, 2),
        "device": f"cuda:{args.gpu_id}" if args.gpu_id >= 0 else "cpu",
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
    }
    print(json.dumps(result, indent=2))
    print(
        f"| {result['device']} ({result['torch_threads']} threads) | {Path(args.encoder).name} "
        f"({result['layers']}x{result['hidden']}) | {result['batch_size']} | {result['steps']} "
        f"| {result['train_words_per_s']:.0f} | {result['predict_words_per_s']:.0f} |"
    )


if __name__ == "__main__":
    main()
