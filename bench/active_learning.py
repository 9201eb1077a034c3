"""Active-learning simulation: uncertainty-ordered vs random annotation on a converted domain.

    nerbert data convert crossner-politics ../shared/data/crossner/politics -o work/politics
    nerbert model encoder minilm work/minilm
    nice -n 10 python bench/active_learning.py run --data work/politics --encoder work/minilm \
        --work work/al --seeds 1 2 3 --epochs 10
    python bench/active_learning.py report --work work/al --plot docs/results/active_learning.png \
        --json docs/results/active_learning.json

Each seed starts from ``--initial`` sentences drawn from ``train.spacy`` (the same for both
strategies) and runs ``--rounds`` rounds: fine-tune ``configs/finetune.cfg`` on the labelled
sentences, score it on ``test.spacy``, then add ``--step`` sentences of the rest of train:
``uncertainty`` takes the ones the model is least sure of (the score ``nerbert export --order
uncertainty`` sorts by: the least confident predicted entity, else the smallest token margin),
``random`` a seeded random draw. The gold annotation of the chosen sentences plays the annotator.

Training runs ``spacy train`` in a subprocess for a fixed number of epochs, given as steps
(``max_steps = epochs x ceil(n / 16)``, ``max_epochs = 0``, ``patience = 0``) with one
evaluation per epoch (``eval_frequency = ceil(n / 16)``) on the first ``--dev-limit`` dev
sentences; ``model-best`` is scored. A run with the same seed and labelled set is trained
once (round 0 is shared by both strategies).

Resumable: every (strategy, seed, round) writes ``WORK/results/<strategy>-s<seed>-r<round>.json``
(atomically) and a rerun skips the ones that exist. Several processes may share a work folder
(e.g. one per seed): a step being run holds ``<name>.lock`` (with its pid; a lock whose process
is gone is taken over), and a process skips locked steps and the rounds that wait for them. ``report`` prints the F1 table per round
(mean ± std over seeds) and draws the curves.
"""
import argparse
import hashlib
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("uncertainty", "random")
BATCH = 16


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _write_json(path: Path, data: Any) -> None:
    from nerbert_spacy.util import write_json_atomic

    write_json_atomic(path, data)


def _docs(path: Path, vocab) -> list:
    from nerbert_spacy.calibration import read_reference_docs

    return read_reference_docs(path, vocab)


def _words_doc(vocab, ref):
    from spacy.tokens import Doc

    return Doc(vocab, words=[t.text for t in ref], spaces=[bool(t.whitespace_) for t in ref])


def train_folder(args, seed: int, labelled: Sequence[int]) -> Path:
    """Where the run of this seed and labelled set (and budget) trains: one per distinct run."""
    key_src = json.dumps([seed, sorted(labelled), args.epochs, args.dev_limit, str(args.pretrained), args.learn_rate])
    return args.work / "train" / f"s{seed}-n{len(labelled)}-{hashlib.sha1(key_src.encode()).hexdigest()[:12]}"


def train(args, seed: int, labelled: Sequence[int], train_docs: list) -> Dict[str, Any]:
    """Fine-tune on ``labelled`` (cached by seed + labelled set) and score model-best on test."""
    folder = train_folder(args, seed, labelled)
    lock = folder.parent / (folder.name + ".lock")
    folder.parent.mkdir(parents=True, exist_ok=True)
    while not _lock(lock):  # another process trains the same run (round 0 of the other strategy)
        time.sleep(20)
    try:
        return _train_locked(args, seed, labelled, train_docs, folder)
    finally:
        lock.unlink(missing_ok=True)


def _train_locked(args, seed: int, labelled: Sequence[int], train_docs: list, folder: Path) -> Dict[str, Any]:
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Example

    scores_path = folder / "scores.json"
    if scores_path.is_file() and (folder / "model-best").is_dir():
        return json.loads(scores_path.read_text())
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    DocBin(docs=[train_docs[i] for i in labelled]).to_disk(folder / "train.spacy")
    per_epoch = math.ceil(len(labelled) / BATCH)
    steps = args.epochs * per_epoch
    cmd = [
        sys.executable, "-m", "spacy", "train", str(args.config), "--output", str(folder),
        "--paths.train", str(folder / "train.spacy"), "--paths.dev", str(args.data / "dev.spacy"),
        "--paths.encoder", str(args.encoder), "--system.seed", str(seed),
        "--corpora.dev.limit", str(args.dev_limit), "--training.max_epochs", "0",
        "--training.max_steps", str(steps), "--training.eval_frequency", str(per_epoch),
        "--training.patience", "0", "--training.batcher.size", str(BATCH),
    ]
    if args.pretrained is not None:
        cmd += ["--paths.pretrained", str(args.pretrained)]
    if args.learn_rate is not None:
        cmd += ["--training.optimizer.learn_rate", str(args.learn_rate)]
    load_before = os.getloadavg()[0]
    cpu0, wall0 = _cpu_children(), time.time()
    with (folder / "train.log").open("w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
    train_cpu, train_wall = _cpu_children() - cpu0, time.time() - wall0
    if proc.returncode != 0:
        raise SystemExit(f"spacy train failed (exit {proc.returncode}); see {folder / 'train.log'}")
    shutil.rmtree(folder / "model-last", ignore_errors=True)
    cpu1, wall1 = _cpu_self(), time.time()
    nlp = spacy.load(folder / "model-best")
    test = [Example(_words_doc(nlp.vocab, ref), ref) for ref in _docs(args.data / "test.spacy", nlp.vocab)]
    scores = nlp.evaluate(test, batch_size=32)
    meta = json.loads((folder / "model-best" / "meta.json").read_text())
    result = {
        "n_labelled": len(labelled),
        "steps": steps,
        "eval_frequency": per_epoch,
        "epochs": args.epochs,
        "test": {k: round(float(scores[k]), 4) for k in ("ents_p", "ents_r", "ents_f")},
        "dev_best_f": round(float(meta.get("performance", {}).get("ents_f", 0.0)), 4),
        "train_cpu_s": round(train_cpu, 1),
        "train_wall_s": round(train_wall, 1),
        "test_cpu_s": round(_cpu_self() - cpu1, 1),
        "test_wall_s": round(time.time() - wall1, 1),
        "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    _write_json(scores_path, result)
    return result


def select(args, strategy: str, seed: int, rnd: int, folder: Path, pool: List[int], train_docs: list) -> Dict[str, Any]:
    """The ``--step`` pool sentences to label next, with their scores (uncertainty)."""
    from nerbert_spacy.util import make_rng

    if strategy == "random":
        return {"selected": sorted(make_rng(seed, "al-random", rnd).sample(sorted(pool), min(args.step, len(pool))))}
    import spacy

    from nerbert_spacy.export import uncertainty_score

    nlp = spacy.load(folder / "model-best")
    docs = list(nlp.pipe((_words_doc(nlp.vocab, train_docs[i]) for i in pool), batch_size=32))
    scored = [(uncertainty_score(doc), i) for doc, i in zip(docs, pool)]
    scored.sort(key=lambda t: (t[0] is None, t[0] if t[0] is not None else 0.0, t[1]))
    chosen = scored[: args.step]
    return {"selected": [i for _, i in chosen], "selected_scores": [s for s, _ in chosen]}


def _lock(path: Path) -> bool:
    """Take the lock file ``path`` (created with our pid); False if a live process holds it."""
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(path.read_text().strip() or 0)
                os.kill(pid, 0)
                return False
            except (ValueError, ProcessLookupError, FileNotFoundError):
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            except PermissionError:
                return False
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


def run(args) -> None:
    import spacy

    from nerbert_spacy.util import make_rng

    vocab = spacy.blank("en").vocab
    train_docs = _docs(args.data / "train.spacy", vocab)
    results = args.work / "results"
    results.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        initial = sorted(make_rng(seed, "al-initial").sample(range(len(train_docs)), args.initial))
        for rnd in range(args.rounds + 1):
            for strategy in args.strategies:
                path = results / f"{strategy}-s{seed}-r{rnd}.json"
                prev_path = results / f"{strategy}-s{seed}-r{rnd - 1}.json"
                if path.is_file() or (rnd > 0 and not prev_path.is_file()):
                    continue  # done, or waiting for a round another process is running
                lock = path.with_suffix(".lock")
                if not _lock(lock):
                    continue
                try:
                    _step(args, strategy, seed, rnd, initial, prev_path, path, train_docs)
                finally:
                    lock.unlink(missing_ok=True)


def _step(
    args, strategy: str, seed: int, rnd: int, initial: List[int], prev_path: Path, path: Path, train_docs: list
) -> None:
    """One (strategy, seed, round): train (or reuse), score, select, write the result JSON."""
    if rnd == 0:
        labelled = initial
    else:
        prev = json.loads(prev_path.read_text())
        labelled = sorted(prev["labelled"] + prev["selected"])
    wall0, cpu0, cpu_c0 = time.time(), _cpu_self(), _cpu_children()
    scores = train(args, seed, labelled, train_docs)
    folder = train_folder(args, seed, labelled)
    pool = [i for i in range(len(train_docs)) if i not in set(labelled)]
    chosen = select(args, strategy, seed, rnd, folder, pool, train_docs) if rnd < args.rounds else {"selected": []}
    record = {
        "strategy": strategy,
        "seed": seed,
        "round": rnd,
        "labelled": labelled,
        **chosen,
        **scores,
        "step_cpu_s": round(_cpu_self() - cpu0 + _cpu_children() - cpu_c0, 1),
        "step_wall_s": round(time.time() - wall0, 1),
        "encoder": str(args.encoder),
        "pretrained": str(args.pretrained) if args.pretrained else None,
    }
    _write_json(path, record)
    print(
        f"{strategy:11s} seed {seed} round {rnd}: {len(labelled):3d} labelled, test F1 "
        f"{scores['test']['ents_f'] * 100:.2f} (step {record['step_wall_s']:.0f} s wall, "
        f"{record['step_cpu_s']:.0f} CPU s, load {scores['load_avg_1min']})",
        flush=True,
    )


def _mean_std(values: Sequence[float]) -> str:
    if not values:
        return "–"
    mean = statistics.mean(values) * 100
    std = statistics.stdev(values) * 100 if len(values) > 1 else 0.0
    return f"{mean:.2f} ± {std:.2f}"


def report(args) -> None:
    records = [json.loads(p.read_text()) for p in sorted((args.work / "results").glob("*.json"))]
    if not records:
        raise SystemExit(f"no results in {args.work / 'results'}")
    rounds = sorted({r["round"] for r in records})
    seeds = sorted({r["seed"] for r in records})
    table = {s: {r: {} for r in rounds} for s in STRATEGIES}
    for r in records:
        table[r["strategy"]][r["round"]][r["seed"]] = r
    lines = [
        "| round | labelled | uncertainty F1 | random F1 | uncertainty per seed | random per seed |",
        "|---|---|---|---|---|---|",
    ]
    summary: Dict[str, Any] = {"rounds": []}
    for rnd in rounds:
        n = next(r["n_labelled"] for r in records if r["round"] == rnd)
        row: Dict[str, Any] = {"round": rnd, "labelled": n}
        cells = []
        for strategy in STRATEGIES:
            f1 = [table[strategy][rnd][s]["test"]["ents_f"] for s in seeds if s in table[strategy][rnd]]
            row[strategy] = f1
            cells.append(_mean_std(f1))
        per_seed = [
            ", ".join(f"{table[st][rnd][s]['test']['ents_f'] * 100:.1f}" if s in table[st][rnd] else "–" for s in seeds)
            for st in STRATEGIES
        ]
        lines.append(f"| {rnd} | {n} | {cells[0]} | {cells[1]} | {per_seed[0]} | {per_seed[1]} |")
        summary["rounds"].append(row)
    trainings = {json.dumps(r["labelled"]) + str(r["seed"]): r for r in records}
    cpu = sum(r["train_cpu_s"] + r["test_cpu_s"] for r in trainings.values())
    steps_cpu = sum(r["step_cpu_s"] for r in records)
    loads = [x for r in records for x in r["load_avg_1min"]]
    summary.update(
        seeds=seeds,
        trainings=len(trainings),
        train_and_test_cpu_s=round(cpu, 1),
        all_steps_cpu_s=round(steps_cpu, 1),
        load_avg_1min_range=[min(loads), max(loads)],
        load_avg_1min_mean=round(statistics.mean(loads), 2),
    )
    print("\n".join(lines))
    print(
        f"\n{len(records)} results, {len(trainings)} trainings; CPU s: {steps_cpu:.0f} over all steps "
        f"(training + test scoring + selection; a shared round-0 training counted once: {cpu:.0f} s for "
        f"training + scoring); 1-min load average {min(loads)}–{max(loads)} (mean {summary['load_avg_1min_mean']})"
    )
    if args.json is not None:
        _write_json(args.json, {**summary, "table": lines})
    if args.plot is not None:
        _plot(summary, args.plot)


def _plot(summary: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for strategy, marker in zip(STRATEGIES, "os"):
        xs, means, stds = [], [], []
        for row in summary["rounds"]:
            if row[strategy]:
                xs.append(row["labelled"])
                means.append(statistics.mean(row[strategy]) * 100)
                stds.append(statistics.stdev(row[strategy]) * 100 if len(row[strategy]) > 1 else 0.0)
        ax.errorbar(xs, means, yerr=stds, marker=marker, capsize=3, label=strategy)
    ax.set_xlabel("labelled training sentences")
    ax.set_ylabel("test F1 (mean ± std over seeds)")
    ax.set_title(f"Active learning (seeds {', '.join(map(str, summary['seeds']))})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run (or resume) the simulation")
    p_run.add_argument("--data", type=Path, required=True, help="output of `nerbert data convert` (train/dev/test.spacy)")
    p_run.add_argument("--encoder", type=Path, required=True, help="paths.encoder (e.g. `nerbert model encoder minilm DIR`)")
    p_run.add_argument("--pretrained", type=Path, default=None, help="paths.pretrained: fine-tune this NER-BERT pipeline")
    p_run.add_argument("--work", type=Path, required=True, help="working folder (results/, train/)")
    p_run.add_argument("--config", type=Path, default=ROOT / "configs" / "finetune.cfg")
    p_run.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p_run.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    p_run.add_argument("--initial", type=int, default=20)
    p_run.add_argument("--step", type=int, default=20)
    p_run.add_argument("--rounds", type=int, default=5)
    p_run.add_argument("--epochs", type=int, default=10)
    p_run.add_argument("--dev-limit", type=int, default=200)
    p_run.add_argument("--learn-rate", type=float, default=None, help="training.optimizer.learn_rate (default: the config's)")
    p_rep = sub.add_parser("report", help="table and plot of the finished results")
    p_rep.add_argument("--work", type=Path, required=True)
    p_rep.add_argument("--plot", type=Path, default=None)
    p_rep.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
