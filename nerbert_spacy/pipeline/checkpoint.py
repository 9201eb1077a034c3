"""Checkpoints that resume: ``nerbert.checkpoint_resume.v1`` / ``.v2``, ``[training.before_update]`` callbacks.

spaCy's training loop writes ``OUTPUT/model-last`` at every evaluation, in place
(an interrupted write leaves a broken folder) and has no way to continue from it.
These callbacks add both halves for a long pretraining run:

* **save**: every ``every`` update steps the whole pipeline is written to ``path``
  atomically (written to a temporary folder beside it, then swapped in; the previous
  checkpoint survives as ``<path>.prev`` until the swap is done), with
  ``nerbert_checkpoint.json`` = ``{"step", "epoch", "resumed_from_step", ...}``.
  ``step`` counts updates over all resumed runs.
* **resume**: at the first step of a run, if ``path`` holds a checkpoint (or only its
  ``.prev``, after a crash during the swap), the weights of every component with a
  model (the transformer *and* the ``bio_tagger`` head) are copied from it into the
  pipeline that ``spacy train`` just initialised, so training continues from them.

``v1`` stops there. ``v2`` (``configs/pretrain.cfg``) also saves and restores:

* **the position in the training stream**, when the training reader is
  ``nerbert.ShardedCorpus.v1`` with ``checkpoint`` set to the same folder. spaCy calls
  ``before_update`` after it has drawn the batch of the step from the reader, and
  before the update; the checkpoint written at step ``s`` holds the weights after
  ``s`` updates, so the position it records is the start of batch ``s``, which is
  where the reader stood when the callback saw it at step ``s - 1``. That is exact
  only when the batcher draws exactly the examples of a batch before yielding it:
  ``spacy.batch_by_sequence.v1`` (any size or size schedule) does; ``batch_by_words``
  and ``batch_by_padded`` read ahead (one example, or a whole buffer), so v2 refuses
  them with the reader's ``checkpoint`` set. It also refuses ``max_epochs`` other
  than -1 (spaCy then loads the reader's output into a list and shuffles it itself).
  The reader reads the recorded position at its first call and continues that epoch
  (see :mod:`.readers`); the callback checks at step 0 that the reader started
  where the checkpoint says.
* **the optimizer's state**: Adam's moments (``mom1``, ``mom2``), each parameter's
  update count (Adam's bias correction), parameter averages when
  ``use_averages = true``, and the position of learning-rate and other schedules.
  spaCy passes ``before_update`` no optimizer and keeps it in a local variable of
  its loop; the loop hands it to every trainable component's ``finish_update``, so
  v2 wraps the ``finish_update`` of each trainable component of the ``nlp`` it is
  given (an instance attribute; the class is untouched) to see the optimizer and,
  in a resumed run, to fill it just before its first use. thinc keys an optimizer's
  state by ``(model id, parameter name)`` and ``(shim id, torch parameter name)``;
  these ids are process-wide counters that differ between runs, so the checkpoint
  stores each entry under a name that does not change:
  ``component/index in model.walk():layer name/parameter`` (``.../shimN/torch name``
  for the transformer's weights), in ``optimizer.npz`` with ``optimizer.json``.
  A resumed run refuses a checkpoint whose names or sizes are not those of its
  own pipeline (another architecture or label set). Schedules (thinc generators)
  are advanced by the checkpoint's step count.

What is not restored: spaCy's own step counter (``training.max_steps`` counts the
steps of this run: set it to the remaining number, ``max_steps - step`` of the
checkpoint), its best score and patience, and, with an augmenter, the random
augmentations of the document the position falls in.

Config (``configs/pretrain.cfg``; with ``paths.checkpoint = null`` it does nothing)::

    [corpora.train_stream]
    @readers = "nerbert.ShardedCorpus.v1"
    checkpoint = ${paths.checkpoint}
    ...

    [training.before_update]
    @callbacks = "nerbert.checkpoint_resume.v2"
    path = ${paths.checkpoint}
    every = 1000
    resume = true

or on the command line of a config without that block::

    spacy train configs/pretrain.cfg ... --training.before_update \
      '{"@callbacks": "nerbert.checkpoint_resume.v2", "path": "training/pretrain/checkpoint-last", "every": 1000}'
"""

import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Hashable, List, Optional, Tuple, Union

import numpy
from spacy.language import Language
from spacy.util import registry
from thinc.api import Model, Optimizer, get_current_ops
from thinc.backends import get_array_ops

from ..errors import NerbertError
from ..util import default_dir_mode
from .readers import StreamPosition, stream_for_checkpoint

logger = logging.getLogger("nerbert_spacy")

MARKER = "nerbert_checkpoint.json"
PREV_SUFFIX = ".prev"
OPTIMIZER_ARRAYS = "optimizer.npz"
OPTIMIZER_INDEX = "optimizer.json"
#: Batchers that draw exactly the examples of a batch from the reader before yielding it.
EXACT_BATCHERS = ("spacy.batch_by_sequence.v1",)

__all__ = [
    "OptimizerState",
    "create_checkpoint_resume",
    "create_checkpoint_resume_v2",
    "find_checkpoint",
    "load_checkpoint_weights",
    "read_checkpoint_info",
    "save_checkpoint",
]


def is_null(value: Any) -> bool:
    """Whether a config setting means "not set": None, or a string ``""``/``null``/``none``."""
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "null", "none"))


@registry.callbacks("nerbert.checkpoint_resume.v1")
def create_checkpoint_resume(
    path: Optional[str] = None, every: int = 1000, resume: bool = True
) -> Callable[[Language, Dict[str, Any]], None]:
    """Create the ``[training.before_update]`` callback that saves and resumes weights.

    path (Optional[str]): The checkpoint folder (e.g. ``training/pretrain/checkpoint-last``);
        ``null`` = do nothing.
    every (int): Save after every this many update steps.
    resume (bool): Load the weights of an existing checkpoint at the first step.
    RETURNS (Callable[[Language, Dict[str, Any]], None]): The callback ``(nlp, {"step", "epoch"})``.
    """
    return _make_callback(path, every, resume, full=False)


@registry.callbacks("nerbert.checkpoint_resume.v2")
def create_checkpoint_resume_v2(
    path: Optional[str] = None, every: int = 1000, resume: bool = True
) -> Callable[[Language, Dict[str, Any]], None]:
    """Like v1, and also save and restore the optimizer's state and the training stream's position.

    path (Optional[str]): The checkpoint folder (e.g. ``training/pretrain/checkpoint-last``);
        ``null`` = do nothing.
    every (int): Save after every this many update steps.
    resume (bool): Continue from an existing checkpoint at the first step.
    RETURNS (Callable[[Language, Dict[str, Any]], None]): The callback ``(nlp, {"step", "epoch"})``.
    """
    return _make_callback(path, every, resume, full=True)


def _make_callback(
    path: Optional[str], every: int, resume: bool, *, full: bool
) -> Callable[[Language, Dict[str, Any]], None]:
    if is_null(path):

        def no_checkpoints(nlp: Language, args: Dict[str, Any]) -> None:
            return None

        return no_checkpoints
    if int(every) < 1:
        raise NerbertError(f"checkpoint 'every' must be at least 1 step, got {every}")
    run = _Run(Path(str(path)), int(every), bool(resume), full)

    def checkpoint_resume(nlp: Language, args: Dict[str, Any]) -> None:
        run.step(nlp, int(args.get("step", 0)), int(args.get("epoch", 0)))

    return checkpoint_resume


class _Run:
    """The state of one training run's callback."""

    def __init__(self, target: Path, every: int, resume: bool, full: bool) -> None:
        self.target, self.every, self.resume, self.full = target, every, resume, full
        self.started = False
        self.offset = 0
        self.resumed_from: Optional[Path] = None
        self.stream: Any = None  # the ShardedCorpus reporting to this checkpoint (v2)
        self.after_batch: Optional[StreamPosition] = None
        self.optimizer = OptimizerState()

    def step(self, nlp: Language, step: int, epoch: int) -> None:
        if not self.started:
            self.started = True
            self.start(nlp)
        batch_start = None
        if self.stream is not None:
            batch_start = self.after_batch if self.after_batch is not None else self.stream.start_position
            self.after_batch = self.stream.position
        if step > 0 and step % self.every == 0:
            info: Dict[str, Any] = {
                "step": self.offset + step,
                "epoch": epoch,
                "run_step": step,
                "resumed_from_step": self.offset if self.resumed_from else None,
            }
            write_extra = None
            if self.full:
                info["stream"] = self.stream.position_record(batch_start) if self.stream is not None else None
                info["optimizer"] = self.optimizer.summary()
                write_extra = lambda folder: self.optimizer.save(nlp, folder, self.offset + step)  # noqa: E731
            save_checkpoint(nlp, self.target, info, write_extra=write_extra)

    def start(self, nlp: Language) -> None:
        found = find_checkpoint(self.target) if self.resume else None
        info: Dict[str, Any] = {}
        if found is not None:
            info = load_checkpoint_weights(nlp, found)
            self.offset = int(info.get("step", 0))
            self.resumed_from = found
            nlp.meta.setdefault("nerbert", {})["resumed_from"] = {"path": str(found), "step": self.offset}
            logger.info("resumed from checkpoint %s (step %d)", found, self.offset)
        if not self.full:
            return
        self.optimizer.follow(nlp)
        if found is not None:
            self.optimizer.load(nlp, found)
        self.stream = stream_for_checkpoint(nlp, self.target)
        self._check_stream(nlp, found, info.get("stream"))

    def _check_stream(self, nlp: Language, found: Optional[Path], record: Optional[Dict[str, Any]]) -> None:
        if self.stream is None:
            if record:
                logger.warning(
                    "checkpoint %s records a position in the training stream, but the training reader "
                    "does not continue from it (nerbert.ShardedCorpus.v1 with checkpoint = %s does): "
                    "the epoch starts over",
                    found,
                    self.target,
                )
            return
        training = nlp.config.get("training", {})
        if training.get("max_epochs") != -1:
            raise NerbertError(
                f"the training reader reports its position to this checkpoint, but [training] max_epochs "
                f"is {training.get('max_epochs')}: spaCy then keeps the examples in a list and reshuffles "
                "them itself; set max_epochs = -1 to stream, or the reader's checkpoint = null",
                self.target,
            )
        batcher = training.get("batcher", {}).get("@batchers")
        if batcher not in EXACT_BATCHERS:
            raise NerbertError(
                f"the batcher {batcher} draws examples ahead of the batch it yields, so the stream position "
                f"at a checkpoint would be off; use {' or '.join(EXACT_BATCHERS)}, or set the training "
                "reader's checkpoint = null (the epoch then starts over on resume)",
                self.target,
            )
        if self.stream.resumed_record != (record or None):
            raise NerbertError(
                f"the training reader started at {self.stream.start_position} "
                f"({'from ' + str(self.stream.resumed_from) if self.stream.resumed_from else 'no checkpoint'}) but "
                f"this callback {'resumes ' + str(found) if found else 'starts without a checkpoint'}: "
                "point both at the same folder, with resume = true, or remove the checkpoint",
                self.target,
            )


def find_checkpoint(path: Union[str, Path]) -> Optional[Path]:
    """The complete checkpoint at ``path``, else its ``.prev`` (a crash during the swap), else None.

    path (str | Path): The checkpoint folder.
    RETURNS (Optional[Path]): A folder with a config and the marker file, or None when there is none.
    """
    path = Path(path)
    for candidate in (path, path.with_name(path.name + PREV_SUFFIX)):
        if (candidate / MARKER).is_file() and (candidate / "config.cfg").is_file():
            return candidate
    occupied = any(path.iterdir()) if path.is_dir() else path.exists()
    if occupied:
        raise NerbertError(
            f"not a checkpoint written by nerbert.checkpoint_resume (no {MARKER}); "
            "remove it or point the callback's path elsewhere",
            path,
        )
    return None


def read_checkpoint_info(path: Union[str, Path]) -> Dict[str, Any]:
    """The checkpoint's ``nerbert_checkpoint.json``.

    path (str | Path): A checkpoint folder (see :func:`save_checkpoint`).
    RETURNS (Dict[str, Any]): Its content (``step``, ``epoch``, ``stream``, ...).
    """
    path = Path(path)
    try:
        info = json.loads((path / MARKER).read_text(encoding="utf8"))
    except (OSError, ValueError) as err:
        raise NerbertError(f"cannot read {MARKER} ({err})", path) from None
    if not isinstance(info, dict):
        raise NerbertError(f"{MARKER} is not a JSON object", path)
    return info


def save_checkpoint(
    nlp: Language,
    path: Union[str, Path],
    info: Dict[str, Any],
    write_extra: Optional[Callable[[Path], None]] = None,
) -> Path:
    """Write ``nlp`` and ``info`` (plus a time stamp) to ``path`` atomically.

    nlp (Language): The pipeline.
    path (str | Path): The checkpoint folder (replaced).
    info (Dict[str, Any]): Written to ``nerbert_checkpoint.json`` (``step``, ``epoch``, ...).
    write_extra (Optional[Callable[[Path], None]]): Writes more files into the new
        folder before it is swapped in (the optimizer's state).
    RETURNS (Path): ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}.", dir=str(path.parent)))
    os.chmod(tmp, default_dir_mode())
    prev = path.with_name(path.name + PREV_SUFFIX)
    try:
        nlp.to_disk(tmp)
        if write_extra is not None:
            write_extra(tmp)
        meta = dict(info, saved_at=time.strftime("%Y-%m-%dT%H:%M:%S"), pipeline=list(nlp.pipe_names))
        (tmp / MARKER).write_text(json.dumps(meta, indent=2), encoding="utf8")
        if path.exists():
            if prev.exists():
                shutil.rmtree(prev)
            os.replace(path, prev)
        os.replace(tmp, path)
        if prev.exists():
            shutil.rmtree(prev)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def load_checkpoint_weights(nlp: Language, path: Union[str, Path]) -> Dict[str, Any]:
    """Copy the weights of every component with a model from the checkpoint into ``nlp``.

    The components stay the same objects (listeners stay wired, the optimizer keeps
    its parameter keys); only their models' contents change.

    nlp (Language): An initialised pipeline with the same components and labels.
    path (str | Path): A checkpoint folder (see :func:`save_checkpoint`).
    RETURNS (Dict[str, Any]): The checkpoint's ``nerbert_checkpoint.json``.
    """
    import spacy

    path = Path(path)
    info = read_checkpoint_info(path)
    try:
        src = spacy.load(path)
    except (OSError, ValueError, KeyError) as err:
        raise NerbertError(f"cannot load the checkpoint pipeline ({err})", path) from None
    for name, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if model in (None, True, False):
            continue
        if name not in src.pipe_names:
            raise NerbertError(f"the checkpoint has no component '{name}' (it has {src.pipe_names})", path)
        other = src.get_pipe(name)
        labels, other_labels = getattr(pipe, "labels", None), getattr(other, "labels", None)
        if labels is not None and other_labels is not None and tuple(labels) != tuple(other_labels):
            raise NerbertError(
                f"component '{name}' has {len(labels)} labels here but {len(other_labels)} in the "
                "checkpoint (or another order): resume with the same corpus and label set",
                path,
            )
        try:
            model.from_bytes(other.model.to_bytes())
        except (ValueError, KeyError) as err:
            raise NerbertError(f"the weights of component '{name}' do not fit this pipeline ({err})", path) from None
    return info


def _trainable(nlp: Language) -> List[Tuple[str, Any]]:
    """The components spaCy's loop calls ``finish_update`` on (as ``train_while_improving`` picks them)."""
    frozen = set(nlp.config.get("training", {}).get("frozen_components") or [])
    return [
        (name, proc)
        for name, proc in nlp.pipeline
        if name not in frozen
        and getattr(proc, "is_trainable", False)
        and getattr(proc, "model", None) not in (True, False, None)
    ]


class ParamNames:
    """Names of the optimizer's keys that are the same in every process building the same pipeline.

    thinc keys optimizer state by ``(node.id, param)`` and ``(shim.id, torch param)``;
    here every key gets ``component/i:layer/param`` (``i`` = the layer's index in
    ``model.walk()``) or ``component/i:layer/shimJ/torch param``, and back.
    """

    def __init__(self, nlp: Language) -> None:
        self.by_key: Dict[Hashable, str] = {}
        self.by_name: Dict[str, Tuple[Hashable, Optional[int]]] = {}
        self.shims: Dict[int, str] = {}
        for pipe_name, pipe in nlp.pipeline:
            model = getattr(pipe, "model", None)
            if not isinstance(model, Model):
                continue
            for i, node in enumerate(model.walk()):
                prefix = f"{pipe_name}/{i}:{node.name}"
                for param in node.param_names:
                    size = int(node.get_param(param).size) if node.has_param(param) else None
                    self._add((node.id, param), f"{prefix}/{param}", size)
                for j, shim in enumerate(node.shims):
                    if shim.id in self.shims:
                        continue
                    self.shims[shim.id] = f"{prefix}/shim{j}"
                    torch_model = getattr(shim, "_model", None)
                    for param, value in getattr(torch_model, "named_parameters", lambda: [])():
                        self._add((shim.id, param), f"{prefix}/shim{j}/{param}", int(value.numel()))

    def _add(self, key: Hashable, name: str, size: Optional[int]) -> None:
        if key not in self.by_key:
            self.by_key[key] = name
            self.by_name[name] = (key, size)


class OptimizerState:
    """Follow the optimizer of spaCy's loop, save its state by :class:`ParamNames`, restore it."""

    def __init__(self) -> None:
        self.optimizer: Optional[Optimizer] = None
        self.pending: Optional[Dict[str, Any]] = None
        self.restored: Optional[Dict[str, Any]] = None

    def follow(self, nlp: Language) -> None:
        """Wrap ``finish_update`` of each trainable component so the optimizer is seen at its first use.

        nlp (Language): The pipeline being trained.
        """
        for name, proc in _trainable(nlp):
            original = proc.finish_update

            def finish_update(sgd: Optimizer, *args: Any, _original: Callable = original, **kwargs: Any) -> Any:
                self._seen(sgd)
                return _original(sgd, *args, **kwargs)

            try:
                proc.finish_update = finish_update
            except AttributeError:
                raise NerbertError(
                    f"cannot see the optimizer through component '{name}' ({type(proc).__name__} takes no "
                    "new attributes), so its state cannot be saved; use nerbert.checkpoint_resume.v1 "
                    "(weights only)"
                ) from None

    def _seen(self, optimizer: Optimizer) -> None:
        if self.optimizer is optimizer:
            return
        self.optimizer = optimizer
        if self.pending is not None:
            pending, self.pending = self.pending, None
            restore_optimizer(optimizer, pending)
            self.restored = {"params": len(pending["entries"]), "schedule_steps": pending["schedule_steps"]}

    def summary(self) -> Optional[Dict[str, Any]]:
        """RETURNS (Optional[Dict[str, Any]]): What :meth:`save` writes, for the marker file."""
        if self.optimizer is None:
            return None
        return {"arrays": OPTIMIZER_ARRAYS, "index": OPTIMIZER_INDEX, "params": len(self.optimizer.nr_update)}

    def save(self, nlp: Language, folder: Path, step: int) -> None:
        """Write the optimizer's state into ``folder`` (nothing before the optimizer was seen).

        nlp (Language): The pipeline (names the keys).
        folder (Path): The checkpoint's new folder.
        step (int): Updates so far over all runs (how far the schedules have moved).
        """
        if self.optimizer is not None:
            write_optimizer_state(self.optimizer, ParamNames(nlp), folder, step)

    def load(self, nlp: Language, folder: Path) -> None:
        """Read and check the optimizer state of a checkpoint; it goes into the optimizer at its first use.

        nlp (Language): The pipeline (names the keys, gives the sizes).
        folder (Path): The checkpoint.
        """
        if not (folder / OPTIMIZER_INDEX).is_file():
            logger.info("checkpoint %s has no optimizer state: the optimizer starts afresh", folder)
            return
        self.pending = read_optimizer_state(ParamNames(nlp), folder)


_KINDS = ("mom1", "mom2", "averages")


def write_optimizer_state(optimizer: Optimizer, names: ParamNames, folder: Path, step: int) -> Dict[str, Any]:
    """Write ``optimizer.npz`` (moments, averages) and ``optimizer.json`` (names, update counts).

    optimizer (Optimizer): thinc's optimizer.
    names (ParamNames): The pipeline's names for the optimizer's keys.
    folder (Path): Where to write.
    step (int): The schedules' position (updates so far over all runs).
    RETURNS (Dict[str, Any]): The index written to ``optimizer.json``.
    """
    arrays: Dict[str, numpy.ndarray] = {}
    entries: List[Dict[str, Any]] = []
    unnamed = 0
    for key, count in optimizer.nr_update.items():
        name = names.by_key.get(key)
        if name is None:
            unnamed += 1
            continue
        entry: Dict[str, Any] = {"param": name, "nr_update": int(count)}
        for kind in _KINDS:
            table = getattr(optimizer, kind) or {}
            if key in table:
                label = f"{kind}_{len(entries)}"
                arrays[label] = get_array_ops(table[key]).to_numpy(table[key])
                entry[kind] = label
        entries.append(entry)
    index = {"format": 1, "schedule_steps": int(step), "entries": entries, "unnamed": unnamed}
    numpy.savez(folder / OPTIMIZER_ARRAYS, **arrays)
    (folder / OPTIMIZER_INDEX).write_text(json.dumps(index, indent=1), encoding="utf8")
    return index


def read_optimizer_state(names: ParamNames, folder: Path) -> Dict[str, Any]:
    """Read a checkpoint's optimizer state and key it for this pipeline.

    names (ParamNames): This pipeline's names for its optimizer keys.
    folder (Path): The checkpoint.
    RETURNS (Dict[str, Any]): ``{"entries": [(key, nr_update, {kind: array})], "schedule_steps"}``.
    """
    try:
        index = json.loads((folder / OPTIMIZER_INDEX).read_text(encoding="utf8"))
        data = numpy.load(folder / OPTIMIZER_ARRAYS)
        entries = []
        for entry in index["entries"]:
            if entry["param"] not in names.by_name:
                raise NerbertError(
                    f"the optimizer state has an entry for {entry['param']}, which this pipeline does not "
                    "have: resume with the config and labels of the checkpoint's run",
                    folder,
                )
            key, size = names.by_name[entry["param"]]
            arrays = {kind: data[entry[kind]] for kind in _KINDS if kind in entry}
            for kind, array in arrays.items():
                if size is not None and array.size != size:
                    raise NerbertError(
                        f"the optimizer's {kind} of {entry['param']} has {array.size} values, the parameter "
                        f"here has {size}: resume with the config and labels of the checkpoint's run",
                        folder,
                    )
            entries.append((key, int(entry["nr_update"]), arrays))
        return {"entries": entries, "schedule_steps": int(index.get("schedule_steps", 0))}
    except NerbertError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise NerbertError(f"cannot read the optimizer state ({type(err).__name__}: {err})", folder) from None


def restore_optimizer(optimizer: Optimizer, state: Dict[str, Any]) -> None:
    """Put a state from :func:`read_optimizer_state` into ``optimizer`` (on the current device).

    optimizer (Optimizer): The run's optimizer, before its first update.
    state (Dict[str, Any]): The keyed state.
    """
    ops = get_current_ops()
    for key, count, arrays in state["entries"]:
        optimizer.nr_update[key] = count
        for kind in ("mom1", "mom2"):
            if kind in arrays:
                getattr(optimizer, kind)[key] = ops.asarray1f(arrays[kind].ravel())
        if "averages" in arrays and optimizer.averages is not None:
            optimizer.averages[key] = ops.asarray_f(arrays["averages"])
    if optimizer.schedules:
        for _ in range(state["schedule_steps"]):
            optimizer.step_schedules()
