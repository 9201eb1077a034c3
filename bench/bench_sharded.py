"""Pretraining input at scale: ``nerbert.ShardedCorpus.v1`` + ``nerbert.checkpoint_resume.v2``.

    nice -n 10 python bench/bench_sharded.py --work /tmp/bench_sharded \
        [--sentences 1000000] [--steps 300] [--batch 64] [--small 3000] [--reader-epoch]

1. **Corpus.** Writes ``--sentences`` sentences as DocBin shards of ``--shard-size``,
   recombined from a real corpus folder (``work/paper/wiki315/train`` or
   ``corpus/wiki315/train``, else ``--source``): sentence ``k`` is real sentence
   ``k mod N`` with every entity mention replaced by a mention of the same type
   drawn (seeded by ``k``) from the whole corpus, and ``user_data["sid"] = k``.
   Without a real corpus, sentences of random words from a fixed word list with
   one or two typed spans. Deterministic for ``--seed``.
2. **Scale run.** ``python -m spacy train configs/pretrain.cfg`` on the tiny BERT with
   ``--training.train_corpus corpora.train_stream --training.max_epochs -1``,
   ``paths.checkpoint`` set (checkpoint every ``--every`` steps), for ``--steps``
   steps of ``--batch`` sentences, in a child process whose RSS is sampled every
   0.5 s from ``/proc/PID/status``; it is killed with SIGKILL at a random step after
   its first checkpoint and resumed with the remaining steps. Every update's
   sentence ids go to a log (the ``nerbert_bench.log_updates.v1`` callback below,
   loaded with ``--code``, wraps ``nlp.update``), so the bench checks that the
   resumed run trains on exactly the sentences that follow the checkpoint's
   position and that no sentence is trained on twice within the epoch.
3. **Epochs.** The same on a ``--small`` corpus where epochs fit the budget: killed
   mid-epoch 0, resumed until epoch 1 is complete; epoch 0 (interrupted part up to
   the checkpoint + resumed part) and epoch 1 must each hold every sentence once,
   in different orders.
4. ``--reader-epoch``: one whole epoch of the reader alone over the large corpus
   in a child process (no training): every sentence id exactly once, RSS sampled.

Prints one JSON object (also written to ``WORK/results.json``) and markdown tables.
"""
import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from spacy.util import registry

ROOT = Path(__file__).resolve().parent.parent
REAL_CORPORA = [ROOT / "work/paper/wiki315/train", ROOT / "corpus/wiki315/train"]
REAL_DEV = [ROOT / "work/paper/wiki315/dev", ROOT / "corpus/wiki315/dev"]
SYNTHETIC_WORDS = ["the", "of", "and", "in", "to", "a", "was", "for", "on", "as", "by", "with", "he", "she", "it", "at", "from", "that", "his", "her", "which", "an", "city", "party", "president", "minister", "government", "election", "state", "university", "company", "band", "album", "song", "film", "book", "award", "war", "river", "country", "people", "born", "died", "member", "national", "world", "music", "science", "published"]
SYNTHETIC_TYPES = ["person", "city", "company", "band", "film", "country"]


@registry.callbacks("nerbert_bench.log_updates.v1")
def log_updates(path: str):
    """``[initialize.after_init]``: wrap ``nlp.update`` to append each update's sentence ids to ``path``.

    One line per update call: seconds since the epoch, then the ``user_data["sid"]`` of
    each example. Flushed per line, so a killed run's log ends at its last update.
    """

    def after_init(nlp):
        log = open(path, "a", buffering=1, encoding="utf8")  # noqa: SIM115  (open for the whole run)
        update = nlp.update

        def logged_update(examples, **kwargs):
            ids = " ".join(str(eg.reference.user_data.get("sid", -1)) for eg in examples)
            log.write(f"{time.time():.3f} {ids}\n")
            return update(examples, **kwargs)

        nlp.update = logged_update
        return nlp

    return after_init


# ---------------------------------------------------------------- corpus


def _real_rows(source: Path):
    """(token array, spaces, entities) of every non-empty real sentence, the DocBin attrs and strings."""
    import spacy
    from spacy.attrs import SENT_START
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    attrs: list[int] | None = None
    rows = []
    for shard in sorted(source.rglob("*.spacy")):
        db = DocBin().from_disk(shard)
        attrs = attrs or [a for a in db.attrs if a != SENT_START]
        for doc in db.get_docs(nlp.vocab):
            # at least 2 tokens besides the mentions, so no recombined sentence is 1 token long
            # (a 1-token doc counts as sentence-annotated and gold_preproc copies it without user data)
            if doc.ents and len(doc) - sum(len(e) for e in doc.ents) >= 2:
                array = doc.to_array(attrs)
                spaces = [bool(t.whitespace_) for t in doc]
                rows.append((array, spaces, [(e.start, e.end, e.label_) for e in doc.ents]))
    return rows, attrs, nlp.vocab.strings


def _synthetic_rows(rng: random.Random, n: int = 2000):
    import spacy
    from spacy.tokens import Doc, DocBin

    nlp = spacy.blank("en")
    attrs = list(DocBin().attrs)
    for label in SYNTHETIC_TYPES:
        nlp.vocab.strings.add(label)
    rows = []
    for _ in range(n):
        words = [rng.choice(SYNTHETIC_WORDS) for _ in range(rng.randint(8, 40))]
        doc = Doc(nlp.vocab, words=words)
        start = rng.randrange(len(words) - 3)
        ents = [(start, start + rng.randint(1, 3), rng.choice(SYNTHETIC_TYPES))]
        rows.append((doc.to_array(attrs), [True] * len(words), ents))
    return rows, attrs, nlp.vocab.strings


def make_corpus(out: Path, sentences: int, shard_size: int, seed: int, source: Path | None) -> dict[str, Any]:
    """Write ``sentences`` recombined sentences into ``out/shard-NNNNN.spacy``; RETURNS a summary."""
    import numpy
    from spacy.tokens import DocBin

    from nerbert_spacy.corpus.shards import add_row, write_doc_bin_file
    from nerbert_spacy.util import atomic_path, make_rng

    done = out / "corpus.json"
    if done.is_file():
        summary = json.loads(done.read_text())
        if summary["sentences"] == sentences and summary["seed"] == seed and summary["shard_size"] == shard_size:
            return summary
    t0, c0 = time.time(), time.process_time()
    if source is not None:
        rows, attrs, strings = _real_rows(source)
    else:
        rows, attrs, strings = _synthetic_rows(make_rng(seed, "synthetic"))
    mentions: dict[str, list[Any]] = {}
    for array, spaces, ents in rows:
        for start, end, label in ents:
            mentions.setdefault(label, []).append((array[start:end], spaces[start:end]))
    labels = sorted(mentions)
    out.mkdir(parents=True, exist_ok=True)
    tokens = 0
    for shard, first in enumerate(range(0, sentences, shard_size)):
        rng = make_rng(seed, "shard", shard)
        db = DocBin(attrs=attrs, store_user_data=True)
        db.attrs = list(attrs)
        for sid in range(first, min(first + shard_size, sentences)):
            array, spaces, ents = rows[sid % len(rows)]
            pieces, piece_spaces, new_ents, at, pos = [], [], [], 0, 0
            for start, end, label in ents:
                m_array, m_spaces = rng.choice(mentions[label])
                pieces += [array[at:start], m_array]
                piece_spaces += list(spaces[at:start]) + list(m_spaces[:-1]) + [spaces[end - 1]]
                pos += start - at
                new_ents.append((pos, pos + len(m_array), label, ""))
                pos += len(m_array)
                at = end
            pieces.append(array[at:])
            piece_spaces += list(spaces[at:])
            new_array = numpy.vstack(pieces)
            tokens += len(new_array)
            add_row(db, strings, new_array, piece_spaces, [], [], {}, new_ents, {"sid": sid})
        with atomic_path(out / f"shard-{shard:05d}.spacy") as tmp, open(tmp, "wb") as f:
            write_doc_bin_file(db, f)
    size = sum(p.stat().st_size for p in out.glob("*.spacy"))
    summary = {
        "sentences": sentences,
        "shard_size": shard_size,
        "shards": len(list(out.glob("*.spacy"))),
        "seed": seed,
        "source": str(source) if source else "synthetic words",
        "source_sentences": len(rows),
        "labels": labels,
        "tokens": tokens,
        "bytes": size,
        "write_cpu_s": round(time.process_time() - c0, 1),
        "write_wall_s": round(time.time() - t0, 1),
    }
    done.write_text(json.dumps(summary, indent=1))
    return summary


# ---------------------------------------------------------------- child processes


class Sampler(threading.Thread):
    """Samples VmRSS of a process every ``interval`` seconds until it exits."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.samples = pid, interval, []  # (time, MB)
        self.running = True

    def run(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while self.running:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.samples.append((time.time(), int(line.split()[1]) / 1024))
            except (OSError, ValueError):
                return
            time.sleep(self.interval)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(cmd: list[str], log: Path, kill_when=None, timeout: float = 3600, threads: int = 1) -> dict[str, Any]:
    """Run ``cmd`` (stdout+stderr to ``log``), sample its RSS; ``kill_when()`` true -> SIGKILL.

    ``threads`` caps torch/BLAS threads (on shared, loaded cores 2 spinning threads cost twice
    the CPU of one for the same steps).
    """
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false")
    cpu0, t0 = _children_cpu(), time.time()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True, env=env)
        sampler = Sampler(proc.pid)
        sampler.start()
        killed = False
        try:
            while proc.poll() is None:
                if kill_when is not None and not killed and kill_when():
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                if time.time() - t0 > timeout:
                    proc.send_signal(signal.SIGKILL)
                    raise RuntimeError(f"{cmd[:4]} ran past {timeout} s (see {log})")
                time.sleep(0.2)
        finally:
            sampler.running = False
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    if proc.returncode != 0 and not killed:
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd[:6])} ... (see {log})\n{log.read_text()[-3000:]}")
    return {
        "rc": proc.returncode,
        "killed": killed,
        "cpu_s": round(_children_cpu() - cpu0, 1),
        "wall_s": round(time.time() - t0, 1),
        "rss": sampler.samples,
    }


def read_update_log(path: Path) -> list[tuple]:
    """[(time, [sid, ...])] per update; a line cut by a kill is dropped."""
    updates = []
    if path.is_file():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2:
                updates.append((float(parts[0]), [int(p) for p in parts[1:]]))
    return updates


def train_cmd(args, corpus: Path, dev: Path, labels: list[str], ckpt: Path, out: Path, log: Path, steps: int, batch: int, every: int):
    overrides = {
        "paths.train": str(corpus),
        "paths.dev": str(dev),
        "paths.encoder": str(args.encoder),
        "paths.checkpoint": str(ckpt),
        "training.train_corpus": "corpora.train_stream",
        "training.max_epochs": -1,
        "training.max_steps": steps,
        "training.batcher.size": batch,
        "training.accumulate_gradient": 1,
        "training.eval_frequency": max(steps, 1),
        "training.before_update.every": every,
        "training.logger.heartbeat_s": 30,
        "corpora.dev.limit": 100,
        "initialize.after_init": json.dumps({"@callbacks": "nerbert_bench.log_updates.v1", "path": str(log)}),
        "initialize.components": json.dumps({"bio_tagger": {"labels": labels}}),
    }
    cmd = [sys.executable, "-m", "spacy", "train", str(ROOT / "configs/pretrain.cfg"), "--output", str(out)]
    cmd += ["--code", str(Path(__file__).resolve())]
    for key, value in overrides.items():
        cmd += [f"--{key}", str(value)]
    return cmd


def checkpoint_info(ckpt: Path) -> dict[str, Any] | None:
    try:
        return json.loads((ckpt / "nerbert_checkpoint.json").read_text())
    except (OSError, ValueError):
        return None


def rss_profile(samples: list[tuple], updates: list[tuple]) -> dict[str, Any]:
    """RSS (MB) at the first update and at 25/50/75/100 % of the updates, peak, growth after 25 %."""
    if not samples:
        return {}

    def rss_at(t: float) -> float:
        before = [mb for ts, mb in samples if ts <= t]
        return round(before[-1] if before else samples[0][1], 1)

    out: dict[str, Any] = {"peak_mb": round(max(mb for _, mb in samples), 1), "samples": len(samples)}
    if updates:
        n = len(updates)
        marks = {"first_update": 0, "25%": n // 4, "50%": n // 2, "75%": 3 * n // 4, "end": n - 1}
        out.update({f"{name}_mb": rss_at(updates[i][0]) for name, i in marks.items()})
        out["steps_at_marks"] = {name: i for name, i in marks.items()}
        after = [mb for ts, mb in samples if ts >= updates[n // 4][0]]
        out["growth_after_25%_mb"] = round(max(after) - rss_at(updates[n // 4][0]), 1) if after else 0.0
    return out


def kill_resume(args, name: str, corpus: Path, dev: Path, labels: list[str], steps: int, resumed_steps, batch: int, every: int, kill_range) -> dict[str, Any]:
    """Run, SIGKILL at a random step in ``kill_range`` after a checkpoint, resume; RETURNS logs and figures."""
    work = args.work / name
    if work.exists():
        import shutil

        shutil.rmtree(work)
    work.mkdir(parents=True)
    ckpt = work / "checkpoint-last"
    rng = random.Random(f"{args.seed}|{name}|kill")
    kill_at = rng.randint(*kill_range)
    log1 = work / "updates-1.log"

    def past_kill_step() -> bool:
        info = checkpoint_info(ckpt)
        return bool(info) and len(read_update_log(log1)) >= kill_at

    cmd = train_cmd(args, corpus, dev, labels, ckpt, work / "out1", log1, steps, batch, every)
    first = run_child(cmd, work / "train-1.txt", kill_when=past_kill_step, timeout=args.timeout, threads=args.threads)
    if not first["killed"]:
        raise RuntimeError(f"{name}: the first run ended before step {kill_at}; raise --steps")
    info = checkpoint_info(ckpt)
    assert info is not None
    log2 = work / "updates-2.log"
    remaining = resumed_steps(info)
    cmd = train_cmd(args, corpus, dev, labels, ckpt, work / "out2", log2, remaining, batch, every)
    second = run_child(cmd, work / "train-2.txt", timeout=args.timeout, threads=args.threads)
    return {
        "kill_at_step": kill_at,
        "checkpoint": {k: info.get(k) for k in ("step", "stream", "optimizer")},
        "first": first,
        "second": second,
        "updates1": read_update_log(log1),
        "updates2": read_update_log(log2),
        "resumed_steps": remaining,
    }


def check_continuation(run: dict[str, Any], epoch_size: int) -> dict[str, Any]:
    """The interrupted epoch: ids trained before the checkpoint + ids of the resumed run."""
    stream = run["checkpoint"]["stream"]
    n = stream["examples"]
    first_ids = [i for _, ids in run["updates1"] for i in ids]
    second_ids = [i for _, ids in run["updates2"] for i in ids]
    epoch_start = stream["epoch"] * epoch_size  # the first run started at epoch 0
    before = first_ids[epoch_start : epoch_start + n]
    lost = first_ids[epoch_start + n :]  # drawn and maybe trained after the checkpoint, before the kill
    rest = second_ids[: epoch_size - n]
    return {
        "position": {k: stream[k] for k in ("epoch", "shard", "doc", "example", "examples")},
        "trained_before_checkpoint": len(before),
        "redone_after_kill": len(lost),
        "resumed_continues_exactly": rest[: len(lost)] == lost,
        "no_repeat_in_epoch": len(set(before) | set(rest[: epoch_size - n])) == len(before) + len(rest),
        "epoch_ids": before + rest,
        "second_ids": second_ids,
        "first_ids": first_ids,
    }


def reader_epoch_child(corpus: Path, sentences: int) -> None:
    """One epoch of the reader alone; prints JSON (counts, seconds)."""
    import numpy
    import spacy

    from nerbert_spacy.pipeline.readers import create_sharded_corpus

    nlp = spacy.blank("en")
    reader = create_sharded_corpus(corpus, shuffle=True, seed=0, gold_preproc=True)
    counts = numpy.zeros(sentences, dtype=numpy.uint8)
    t0, c0 = time.time(), time.process_time()
    shard, rss_by_shard = -1, []  # VmRSS (MB) when each shard starts
    for eg in reader(nlp):
        counts[eg.reference.user_data["sid"]] += 1
        if reader.position.shard != shard:
            shard = reader.position.shard
            rss_by_shard.append(_own_rss_mb())
    marks = {"first shard": 0, "25%": len(rss_by_shard) // 4, "50%": len(rss_by_shard) // 2}
    marks.update({"75%": 3 * len(rss_by_shard) // 4, "last shard": len(rss_by_shard) - 1})
    print(
        json.dumps(
            {
                "examples": int(counts.sum()),
                "all_once": bool((counts == 1).all()),
                "missing": int((counts == 0).sum()),
                "repeated": int((counts > 1).sum()),
                "cpu_s": round(time.process_time() - c0, 1),
                "wall_s": round(time.time() - t0, 1),
                "shards": len(rss_by_shard),
                "rss_mb_at_shard_start": {name: rss_by_shard[i] for name, i in marks.items()},
                "growth_after_25%_mb": round(max(rss_by_shard[marks["25%"] :]) - rss_by_shard[marks["25%"]], 1),
            }
        )
    )


def _own_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_sharded"))
    parser.add_argument("--source", type=Path, default=None, help="real corpus folder (default: wiki315 train if present)")
    parser.add_argument("--sentences", type=int, default=1_000_000)
    parser.add_argument("--shard-size", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--every", type=int, default=50, help="checkpoint every N steps (scale run)")
    parser.add_argument("--small", type=int, default=3000, help="sentences of the epoch-check corpus (0 = skip)")
    parser.add_argument("--small-batch", type=int, default=64)
    parser.add_argument("--reader-epoch", action="store_true", help="also read one whole epoch of the large corpus")
    parser.add_argument("--encoder", type=Path, default=None, help="tiny BERT folder (default: written into --work)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="OMP/MKL threads of the training processes")
    parser.add_argument("--timeout", type=float, default=5400)
    parser.add_argument("--_reader-epoch-child", dest="reader_child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader_child:
        reader_epoch_child(Path(args.reader_child[0]), int(args.reader_child[1]))
        return

    args.work.mkdir(parents=True, exist_ok=True)
    source = args.source or next((p for p in REAL_CORPORA if p.is_dir()), None)
    dev = next((p for p in REAL_DEV if p.is_dir()), None)
    if args.encoder is None:
        from nerbert_spacy.tiny import make_tiny_bert

        args.encoder = args.work / "tiny_bert"
        if not (args.encoder / "config.json").is_file():
            make_tiny_bert(args.encoder)
    results: dict[str, Any] = {"load_1min_start": os.getloadavg()[0], "cores": os.cpu_count(), "threads": args.threads}
    big = make_corpus(args.work / "big", args.sentences, args.shard_size, args.seed, source)
    results["corpus"] = big
    dev = dev or (args.work / "big" / "shard-00000.spacy")
    print(f"corpus: {big['sentences']} sentences in {big['shards']} shards, {big['bytes'] / 1e6:.0f} MB", file=sys.stderr)

    # scale run: a few hundred steps over the large corpus, killed after a checkpoint, resumed
    total = args.steps
    run = kill_resume(
        args,
        "scale",
        args.work / "big",
        dev,
        big["labels"],
        total,
        lambda info: total - info["step"],
        args.batch,
        args.every,
        (args.every + 1, max(args.every + 1, (3 * total) // 4)),
    )
    check = check_continuation(run, big["sentences"])
    results["scale"] = {
        "steps": total,
        "batch": args.batch,
        "kill_at_step": run["kill_at_step"],
        "checkpoint_step": run["checkpoint"]["step"],
        "resumed_steps": run["resumed_steps"],
        "optimizer_params": (run["checkpoint"]["optimizer"] or {}).get("params"),
        "position": check["position"],
        "resumed_continues_exactly": check["resumed_continues_exactly"],
        "no_repeat_in_epoch": check["no_repeat_in_epoch"],
        "trained_before_checkpoint": check["trained_before_checkpoint"],
        "redone_after_kill": check["redone_after_kill"],
        "first": {k: v for k, v in run["first"].items() if k != "rss"},
        "second": {k: v for k, v in run["second"].items() if k != "rss"},
        "rss_first": rss_profile(run["first"]["rss"], run["updates1"]),
        "rss_second": rss_profile(run["second"]["rss"], run["updates2"]),
        "updates": [len(run["updates1"]), len(run["updates2"])],
        "seconds_to_first_update": [
            round(run["updates1"][0][0] - run["first"]["rss"][0][0], 1) if run["updates1"] else None,
            round(run["updates2"][0][0] - run["second"]["rss"][0][0], 1) if run["updates2"] else None,
        ],
    }
    results["load_1min_after_scale"] = os.getloadavg()[0]

    if args.small:
        make_corpus(args.work / "small", args.small, max(1, args.small // 6), args.seed + 1, source)
        per_epoch = -(-args.small // args.small_batch)
        run = kill_resume(
            args,
            "epochs",
            args.work / "small",
            dev,
            big["labels"],
            2 * per_epoch,
            lambda info: per_epoch - info["step"] + per_epoch,  # rest of epoch 0, then all of epoch 1
            args.small_batch,
            5,
            (6, per_epoch - 3),
        )
        check = check_continuation(run, args.small)
        n = check["position"]["examples"]
        epoch1 = check["second_ids"][args.small - n : 2 * args.small - n]
        everyone = list(range(args.small))
        results["epochs"] = {
            "sentences": args.small,
            "batch": args.small_batch,
            "kill_at_step": run["kill_at_step"],
            "checkpoint_step": run["checkpoint"]["step"],
            "position": check["position"],
            "epoch0_every_sentence_once": sorted(check["epoch_ids"]) == everyone,
            "epoch1_every_sentence_once": sorted(epoch1) == everyone,
            "epoch1_reshuffled": epoch1 != check["epoch_ids"],
            "resumed_continues_exactly": check["resumed_continues_exactly"],
            "first": {k: v for k, v in run["first"].items() if k != "rss"},
            "second": {k: v for k, v in run["second"].items() if k != "rss"},
        }

    if args.reader_epoch:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--_reader-epoch-child", str(args.work / "big"), str(args.sentences)]
        child = run_child(cmd, args.work / "reader-epoch.txt", timeout=args.timeout)
        lines = (args.work / "reader-epoch.txt").read_text().strip().splitlines()
        peak = max(mb for _, mb in child["rss"])
        results["reader_epoch"] = dict(json.loads(lines[-1]), process_cpu_s=child["cpu_s"], peak_rss_mb=round(peak, 1))
    results["load_1min_end"] = os.getloadavg()[0]
    (args.work / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    print(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    s = r["scale"]
    lines = [
        (
            f"Corpus: {r['corpus']['sentences']:,} sentences, {r['corpus']['shards']} shards, "
            f"{r['corpus']['bytes'] / 1e6:.0f} MB ({r['corpus']['source']}, {r['corpus']['source_sentences']} source sentences); "
            f"written in {r['corpus']['write_cpu_s']} CPU s. {r['cores']} cores, load (1 min) "
            f"{r['load_1min_start']:.1f} at start, {r['load_1min_end']:.1f} at end."
        ),
        "",
        "| run | steps x batch | CPU s | wall s | s to 1st update | RSS MB: 1st update / 25% / 50% / 75% / end / peak | growth after 25% |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label, t in (("first", "scale, killed", 0), ("second", "scale, resumed", 1)):
        p = s[f"rss_{key}"]
        lines.append(
            f"| {label} | {s['updates'][t]} x {s['batch']} | {s[key]['cpu_s']} | {s[key]['wall_s']} | "
            f"{s['seconds_to_first_update'][t]} | {p.get('first_update_mb')} / {p.get('25%_mb')} / {p.get('50%_mb')} / "
            f"{p.get('75%_mb')} / {p.get('end_mb')} / {p.get('peak_mb')} | {p.get('growth_after_25%_mb')} MB |"
        )
    lines += [
        "",
        (
            f"Killed (SIGKILL) after step {s['kill_at_step']}; checkpoint of step {s['checkpoint_step']} at "
            f"{s['position']}; resumed run continues exactly: {s['resumed_continues_exactly']}; no sentence twice in the "
            f"epoch: {s['no_repeat_in_epoch']}; optimizer entries restored: {s['optimizer_params']}."
        ),
    ]
    if "epochs" in r:
        e = r["epochs"]
        lines.append(
            f"Epoch check ({e['sentences']} sentences, batch {e['batch']}): killed after step {e['kill_at_step']}, "
            f"checkpoint of step {e['checkpoint_step']} at {e['position']}; epoch 0 every sentence once: "
            f"{e['epoch0_every_sentence_once']}; epoch 1 every sentence once: {e['epoch1_every_sentence_once']}, "
            f"reshuffled: {e['epoch1_reshuffled']}; CPU s {e['first']['cpu_s']} + {e['second']['cpu_s']}."
        )
    if "reader_epoch" in r:
        e = r["reader_epoch"]
        at = e["rss_mb_at_shard_start"]
        lines.append(
            f"Reader alone, one epoch of {e['examples']:,} examples over {e['shards']} shards: every sentence once: "
            f"{e['all_once']}; {e['cpu_s']} CPU s reading ({e['process_cpu_s']} for the process); RSS MB when the "
            f"first / 25% / 50% / 75% / last shard starts: {' / '.join(str(v) for v in at.values())}, peak "
            f"{e['peak_rss_mb']}; growth after 25%: {e['growth_after_25%_mb']} MB."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
