"""Training supervision: a budget guard and a console logger with signs of life.

spaCy's ``patience``, ``eval_frequency`` and ``max_steps`` count update steps,
not epochs, and spaCy evaluates after step 0 and then every
``eval_frequency`` steps. A budget that ends before the first evaluation after
step 0 (``patience`` 3 with ``eval_frequency`` 20, or 2 epochs of 10 steps)
silently ships the step-0 model as ``model-best``.

- ``nerbert.check_training_budget.v1`` (``[initialize.before_init]`` of both
  configs) refuses such a budget with one clear message before anything is
  loaded or written, so an earlier ``model-best`` in the output folder survives.
- ``nerbert.ConsoleLogger.v1`` checks the same when training starts (for
  training driven from Python rather than ``spacy train``) and is spaCy's
  ``ConsoleLogger.v3`` (progress bar on a terminal) that, when the output is
  not a terminal (a log file, a grid run), prints a progress line every
  ``heartbeat_s`` seconds, so a long CPU run
  between two evaluations is never silent. At the end it says which step
  ``model-best`` comes from, and warns if that is step 0 only. It also stamps
  the pipeline's ``meta.json`` with ``nerbert_build`` (:func:`build_info`): the
  torch version, the number of CPU threads torch trained with and the CPU
  instruction set its kernels ran on. On the CPU the same run gives the same
  bytes only at the same thread count (torch's reductions are split by
  thread), so a digest of the weights can only be compared between builds
  with the same ``torch_threads`` and ``cpu_capability``.
"""
import math
import sys
import time
import weakref
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

from spacy.training.loggers import console_logger_v3
from spacy.util import registry
from wasabi import Printer

from ..errors import NerbertError

LogStep = Callable[[Optional[Dict[str, Any]]], None]


def _steps_reaching(nlp, epochs: int, needed: int) -> Optional[Tuple[int, bool]]:
    """Update steps that ``epochs`` passes over the training corpus give, counted
    only up to ``needed`` (enough to decide the guard), and whether that count is
    the whole budget (the first epoch ended before ``needed`` was reached) or only
    a lower bound; None if the corpus cannot be resolved here (the check is then
    left to spaCy)."""
    config = nlp.config.interpolate()
    T = config["training"]
    try:
        block: Any = config
        for part in str(T["train_corpus"]).split("."):
            block = block[part]
        corpus = registry.resolve({"corpus": block})["corpus"]
        batcher = registry.resolve({"batcher": T["batcher"]})["batcher"]
    except Exception:  # noqa: BLE001 - an unresolvable corpus is spaCy's own error to report
        return None
    per_epoch = 0
    limit = math.ceil(needed / max(epochs, 1))
    whole = True
    for _ in batcher(corpus(nlp)):
        if per_epoch >= limit:
            whole = False  # more batches than the guard needs: the count is a lower bound
            break
        per_epoch += 1
    return per_epoch * epochs, whole


def check_training_budget(nlp) -> Dict[str, int]:
    """Refuse a training budget that stops before the first evaluation after step 0.

    Reads ``[training]`` of ``nlp.config``: ``eval_frequency``, ``patience``,
    ``max_steps`` and, when ``max_epochs > 0``, the number of batches per epoch
    (counted from the training corpus with the configured batcher, stopping as
    soon as the answer is known).

    nlp (Language): The initialised pipeline with its full config.
    RETURNS (Dict[str, int]): The checked values (``steps`` is the number of
        updates the epoch budget allows, or -1 when unbounded or not counted to
        the end: a corpus with more batches than the guard needs is not read
        through).
    """
    T = nlp.config["training"]
    eval_frequency = int(T.get("eval_frequency") or 0)
    patience = int(T.get("patience") or 0)
    max_steps = int(T.get("max_steps") or 0)
    max_epochs = int(T.get("max_epochs") or 0)
    hint = (
        "spaCy counts training.patience, training.eval_frequency and training.max_steps in update "
        "steps, not epochs (one step = one batch)"
    )
    if eval_frequency <= 0:
        raise NerbertError(f"training.eval_frequency must be a positive number of steps, not {eval_frequency}")
    if 0 < patience < eval_frequency:
        raise NerbertError(
            f"training.patience = {patience} is shorter than training.eval_frequency = {eval_frequency}: "
            f"training would stop before its first evaluation after step 0 and model-best would be the "
            f"step-0 model; {hint}. Use patience >= eval_frequency, or 0 to train the whole budget"
        )
    if 0 < max_steps < eval_frequency:
        raise NerbertError(
            f"training.max_steps = {max_steps} is smaller than training.eval_frequency = {eval_frequency}: "
            f"no evaluation after step 0, so model-best would be the step-0 model; {hint}"
        )
    steps = -1
    if max_epochs > 0:
        needed = eval_frequency + 1  # the step index eval_frequency is the (eval_frequency+1)-th update
        reached = _steps_reaching(nlp, max_epochs, needed)
        if reached is not None:
            counted, whole = reached
            steps = counted if whole else -1
            if counted == 0:
                raise NerbertError("the training corpus is empty: no update step would run")
            if counted < needed and (max_steps == 0 or max_steps >= needed):
                per_epoch = counted // max_epochs
                raise NerbertError(
                    f"training.max_epochs = {max_epochs} gives only {counted} update steps "
                    f"({per_epoch} per epoch), fewer than the {needed} needed to reach the first evaluation "
                    f"after step 0 (training.eval_frequency = {eval_frequency}), so model-best would be the "
                    f"step-0 model; lower eval_frequency to at most {max(1, counted - 1)} or train more epochs"
                )
    return {"eval_frequency": eval_frequency, "patience": patience, "max_steps": max_steps, "steps": steps}


def _inside_spacy_train_cli() -> bool:
    """True when called (indirectly) from ``spacy train`` / ``spacy.cli.train.train``."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "train" and code.co_filename.replace("\\", "/").endswith("spacy/cli/train.py"):
            return True
        frame = frame.f_back
    return False


def _refuse_or_report(nlp, msg: Printer, out: IO) -> None:
    """Check the budget once per pipeline object; one line and exit 1 when refused."""
    if nlp in _CHECKED:
        return
    try:
        budget = check_training_budget(nlp)
    except NerbertError as err:
        out.write(msg.fail(f"Training budget refused: {err}") + "\n")
        out.flush()
        sys.exit(1)
    _CHECKED.add(nlp)
    steps = f", {budget['steps']} update steps in all" if budget["steps"] > 0 else ""
    patience = f", patience {budget['patience']} steps" if budget["patience"] else ""
    out.write(msg.info(f"Evaluating every {budget['eval_frequency']} update steps{steps}{patience}") + "\n")


_CHECKED: "weakref.WeakSet[Any]" = weakref.WeakSet()


@registry.callbacks("nerbert.check_training_budget.v1")
def create_check_training_budget() -> Callable[[Any], Any]:
    """The ``[initialize.before_init]`` callback: under ``spacy train``, run
    :func:`check_training_budget` before anything is loaded or written (so an
    earlier ``model-best`` survives a refused budget). Initialising without
    training (``init_nlp`` in a script, ``spacy init labels``) is not checked;
    ``nerbert.ConsoleLogger.v1`` checks again when training really starts.

    RETURNS (Callable[[Language], Language]): The callback.
    """

    def check(nlp):
        if _inside_spacy_train_cli():
            _refuse_or_report(nlp, Printer(no_print=True), sys.stdout)
        return nlp

    return check


def build_info() -> Dict[str, Any]:
    """What a trained pipeline's bytes depend on beyond its config and data: the torch version,
    the number of CPU threads torch uses (``OMP_NUM_THREADS`` or ``torch.set_num_threads``) and the
    instruction set its CPU kernels were dispatched for (``AVX512``, ``AVX2``, ...). A CPU training
    run repeats byte for byte at the same thread count, not across counts; on another instruction
    set the kernels (and their rounding) differ too."""
    try:
        import torch
    except ImportError:  # a pipeline without a transformer
        return {}
    info = {"torch": torch.__version__.split("+")[0], "torch_threads": int(torch.get_num_threads())}
    try:
        info["cpu_capability"] = str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):  # a torch without the query
        pass
    return info


#: What the last training run in this process ended with (``best_step``, ``best_score``,
#: ``first_score`` (of its first evaluation, the untrained model at step 0), ``evaluations``,
#: ``last_evaluated_step``); empty when it made no evaluation. The grid reads it to retry a run
#: that did not learn.
LAST_RUN: Dict[str, Any] = {}


@registry.loggers("nerbert.ConsoleLogger.v1")
def create_console_logger(
    progress_bar: Optional[str] = "eval",
    console_output: bool = True,
    output_file: Optional[str] = None,
    heartbeat_s: float = 60.0,
) -> Callable[[Any, IO, IO], Tuple[LogStep, Callable[[], None]]]:
    """spaCy's ``ConsoleLogger.v3`` plus progress lines and a closing summary.

    progress_bar (Optional[str]): spaCy's bar on a terminal: "eval" (steps to
        the next evaluation), "train" (steps to max_steps) or null.
    console_output (bool): Print the table of evaluations.
    output_file (Optional[str]): Also write every evaluation as JSONL here.
    heartbeat_s (float): When stderr is not a terminal, print a progress line
        (step, seconds since the start) at most every this many seconds; 0 = never.
    RETURNS: The logger setup function spaCy's training loop calls.
    """
    base = console_logger_v3(progress_bar=progress_bar, console_output=console_output, output_file=output_file)

    def setup(nlp, stdout: IO = sys.stdout, stderr: IO = sys.stderr) -> Tuple[LogStep, Callable[[], None]]:
        msg = Printer(no_print=True)
        _refuse_or_report(nlp, msg, stdout)
        build = build_info()
        if build:  # saved with model-best / model-last in meta.json (not part of a weights digest)
            nlp.meta["nerbert_build"] = build
        log_step, finalize = base(nlp, stdout, stderr)
        heartbeat = heartbeat_s > 0 and not (hasattr(stderr, "isatty") and stderr.isatty())
        state = {"step": -1, "last": time.monotonic(), "start": time.monotonic()}
        evaluations: List[Tuple[float, int]] = []

        def log(info: Optional[Dict[str, Any]]) -> None:
            state["step"] += 1
            if info is not None:
                state["step"] = int(info["step"])
                evaluations.append((float(info["score"]), int(info["step"])))
            log_step(info)
            now = time.monotonic()
            if heartbeat and info is None and now - state["last"] >= heartbeat_s:
                state["last"] = now
                elapsed = now - state["start"]
                stderr.write(f"  ... step {state['step']}, {elapsed:.0f} s since the start of training\n")
                stderr.flush()
            elif info is not None:
                state["last"] = now

        def close() -> None:
            finalize()
            LAST_RUN.clear()
            if not evaluations:
                return
            best_score, best_step = max((s, -st) for s, st in evaluations)
            best_step = -best_step
            first_score = min(evaluations, key=lambda e: e[1])[0]
            LAST_RUN.update(best_step=best_step, best_score=best_score, first_score=first_score,
                            evaluations=len(evaluations), last_evaluated_step=max(st for _, st in evaluations))
            if max(st for _, st in evaluations) == 0:
                stderr.write(
                    msg.warn(
                        "Training stopped before its first evaluation after step 0: model-best is the step-0 "
                        "model. Train more steps or lower training.eval_frequency."
                    )
                    + "\n"
                )
            elif best_step == 0:
                stderr.write(
                    msg.warn(
                        f"model-best is the step-0 model: none of the {len(evaluations) - 1} evaluations after "
                        "step 0 beat it (training.patience ran out before the model learned). Raise "
                        "training.patience or the learning rate."
                    )
                    + "\n"
                )
            else:
                stdout.write(
                    msg.info(f"model-best: step {best_step}, score {best_score:.4f} ({len(evaluations)} evaluations)")
                    + "\n"
                )

        return log, close

    return setup
