"""What grows in a ``spacy train configs/pretrain.cfg`` process: RSS, malloc, vocab, Python objects.

    nice -n 19 python bench/bench_train_memory.py --work /tmp/memprobe --name stream \
        [--steps 300] [--batch 64] [--every 25] [--reader stream|corpus] [--trace 100] \
        [--env MALLOC_ARENA_MAX=2 ...] [--trim] [--corpus DIR] [--checkpoint 50]

Trains the tiny BERT (``nerbert_spacy.tiny``, written into ``--work``) with
``python -m spacy train configs/pretrain.cfg`` in a child process (1 thread), on
``--corpus`` (default ``work/paper/wiki315/train``): the streaming reader
(``corpora.train_stream``, ``max_epochs = -1``) or ``spacy.Corpus.v1``
(``corpora.train``, ``max_epochs = 0``: examples loaded once), batch ``--batch``,
one update per batch, evaluation only after the last step (100 dev sentences).

The ``nerbert_bench.memprobe.v1`` callback (``[initialize.after_init]``, loaded with
``--code``) wraps ``nlp.update`` and every ``--every`` updates appends one JSON line to
``WORK/NAME.jsonl``: step, VmRSS, glibc's ``mallinfo2`` (``arena`` = heap obtained with
brk, ``hblkhd`` = mmapped chunks, ``uordblks`` = bytes in use, ``fordblks`` = free bytes
the heap keeps), ``len(nlp.vocab)``, ``len(nlp.vocab.strings)`` and the number of Python
objects the gc tracks. ``--trim``: after the last sample, ``malloc_trim(0)`` and VmRSS
again (how much of RSS is free memory the allocator had kept). ``--trace S``: start
``tracemalloc`` (10 frames) at step ``S``, snapshot at ``2 S`` and at the end, and write
the top differences by traceback to ``WORK/NAME.tracemalloc.txt``.
Prints a table of the samples.
"""
import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from spacy.util import registry

ROOT = Path(__file__).resolve().parent.parent


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]


def _libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        return libc
    except (OSError, AttributeError):
        return None


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sample(nlp, step: int, libc) -> dict:
    row = {"step": step, "t": round(time.time(), 2), "rss": round(rss_mb(), 1)}
    if libc is not None:
        info = libc.mallinfo2()
        for field in ("arena", "hblkhd", "uordblks", "fordblks"):
            row[field] = round(getattr(info, field) / 2**20, 1)
    row["vocab"] = len(nlp.vocab)
    row["strings"] = len(nlp.vocab.strings)
    row["gc_objects"] = len(gc.get_objects())
    return row


@registry.callbacks("nerbert_bench.memprobe.v1")
def memprobe(path: str, every: int = 25, last: int = 0, trace: int = 0, trim: bool = False):
    """``[initialize.after_init]``: wrap ``nlp.update`` to sample memory every ``every`` updates."""

    def after_init(nlp):
        import tracemalloc

        libc = _libc()
        out = open(path, "a", buffering=1, encoding="utf8")  # noqa: SIM115  (open for the whole run)
        update = nlp.update
        state = {"step": 0, "snap": None}

        def probed_update(examples, **kwargs):
            result = update(examples, **kwargs)
            state["step"] += 1
            step = state["step"]
            if trace and step == trace:
                tracemalloc.start(10)
            if trace and step == 2 * trace:
                gc.collect()
                state["snap"] = tracemalloc.take_snapshot()
            if step == 1 or step % every == 0 or step == last:
                row = sample(nlp, step, libc)
                if step == last and trim and libc is not None:
                    gc.collect()
                    libc.malloc_trim(0)
                    row["rss_after_trim"] = round(rss_mb(), 1)
                out.write(json.dumps(row) + "\n")
            if trace and step == last and state["snap"] is not None:
                gc.collect()
                end = tracemalloc.take_snapshot()
                stats = end.compare_to(state["snap"], "traceback")
                with open(path.replace(".jsonl", ".tracemalloc.txt"), "w", encoding="utf8") as f:
                    total = sum(s.size_diff for s in stats)
                    f.write(f"steps {2 * trace} -> {last}: {total / 2**20:+.2f} MB traced in all\n\n")
                    for s in stats[:15]:
                        f.write(f"{s.size_diff / 2**10:+.1f} KB, {s.count_diff:+d} blocks\n")
                        for line in s.traceback.format()[-12:]:
                            f.write(f"    {line}\n")
                        f.write("\n")
                tracemalloc.stop()
            return result

        nlp.update = probed_update
        return nlp

    return after_init


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/memprobe"))
    parser.add_argument("--name", required=True)
    parser.add_argument("--corpus", type=Path, default=ROOT / "work/paper/wiki315/train")
    parser.add_argument("--dev", type=Path, default=ROOT / "work/paper/wiki315/dev")
    parser.add_argument("--reader", choices=["stream", "corpus"], default="stream")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--trace", type=int, default=0)
    parser.add_argument("--trim", action="store_true")
    parser.add_argument("--checkpoint", type=int, default=0, help="checkpoint every N steps (0 = none)")
    parser.add_argument("--env", nargs="*", default=[], help="KEY=VALUE for the training process")
    parser.add_argument("--set", nargs="*", default=[], help="more config overrides KEY=VALUE")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    encoder = args.work / "tiny_bert"
    if not (encoder / "config.json").is_file():
        from nerbert_spacy.tiny import make_tiny_bert

        make_tiny_bert(encoder)
    log = args.work / f"{args.name}.jsonl"
    log.unlink(missing_ok=True)
    probe = {"@callbacks": "nerbert_bench.memprobe.v1", "path": str(log), "every": args.every,
             "last": args.steps, "trace": args.trace, "trim": args.trim}
    overrides = {
        "paths.train": str(args.corpus),
        "paths.dev": str(args.dev),
        "paths.encoder": str(encoder),
        "paths.checkpoint": str(args.work / f"{args.name}-ckpt") if args.checkpoint else "null",
        "training.train_corpus": "corpora.train_stream" if args.reader == "stream" else "corpora.train",
        "training.max_epochs": -1 if args.reader == "stream" else 0,
        "training.max_steps": args.steps,
        "training.batcher.size": args.batch,
        "training.accumulate_gradient": 1,
        "training.eval_frequency": args.steps,
        "training.before_update.every": max(args.checkpoint, 1),
        "corpora.dev.limit": 100,
        "initialize.after_init": json.dumps(probe),
    }
    for item in args.set:
        key, value = item.split("=", 1)
        overrides[key] = value
    cmd = [sys.executable, "-m", "spacy", "train", str(ROOT / "configs/pretrain.cfg"),
           "--output", str(args.work / f"{args.name}-out"), "--code", str(Path(__file__).resolve())]
    for key, value in overrides.items():
        cmd += [f"--{key}", str(value)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env.update(dict(item.split("=", 1) for item in args.env))
    t0 = time.time()
    with open(args.work / f"{args.name}.log", "w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    usage = os.times()
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    print(f"{args.name}: exit {proc.returncode}, {time.time() - t0:.0f} s wall, "
          f"child CPU {usage.children_user + usage.children_system:.1f} s, load {os.getloadavg()}, env {args.env}")
    keys = [k for k in (rows[0] if rows else {}) if k != "t"]
    print(" ".join(f"{k:>10}" for k in keys))
    for row in rows:
        print(" ".join(f"{row.get(k, ''):>10}" for k in keys))
    if rows and "rss_after_trim" in rows[-1]:
        print(f"after malloc_trim(0): {rows[-1]['rss_after_trim']} MB")
    if proc.returncode:
        print((args.work / f"{args.name}.log").read_text()[-3000:])


if __name__ == "__main__":
    main()
