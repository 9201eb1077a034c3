"""Checkpoints that resume: ``nerbert.checkpoint_resume.v1``, a ``[training.before_update]`` callback.

spaCy's training loop writes ``OUTPUT/model-last`` at every evaluation, in place
(an interrupted write leaves a broken folder) and has no way to continue from it.
This callback adds both halves for a long pretraining run:

* **save**: every ``every`` update steps the whole pipeline is written to ``path``
  atomically (written to a temporary folder beside it, then swapped in; the previous
  checkpoint survives as ``<path>.prev`` until the swap is done), with
  ``nerbert_checkpoint.json`` = ``{"step", "epoch", "resumed_from_step", ...}``.
  ``step`` counts updates over all resumed runs.
* **resume**: at the first step of a run, if ``path`` holds a checkpoint (or only its
  ``.prev``, after a crash during the swap), the weights of every component with a
  model (the transformer *and* the ``bio_tagger`` head) are copied from it into the
  pipeline that ``spacy train`` just initialised, so training continues from them.

What is not restored (spaCy gives callbacks no access to them): the optimizer's Adam
moments (they restart from zero; the paper's schedule is a constant learning rate),
the position in the training stream (the reader restarts its epoch) and spaCy's step
counter (``training.max_steps`` counts the steps of this run: set it to the remaining
number, ``max_steps - step`` of the checkpoint).

Config (``configs/pretrain.cfg``, with ``path = null`` it does nothing)::

    [training.before_update]
    @callbacks = "nerbert.checkpoint_resume.v1"
    path = ${paths.checkpoint}
    every = 1000
    resume = true

or on the command line of a config without that block::

    spacy train configs/pretrain.cfg ... --training.before_update \
      '{"@callbacks": "nerbert.checkpoint_resume.v1", "path": "training/pretrain/checkpoint-last", "every": 1000}'
"""

import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Union

from spacy.language import Language
from spacy.util import registry

from ..errors import NerbertError

logger = logging.getLogger("nerbert_spacy")

MARKER = "nerbert_checkpoint.json"
PREV_SUFFIX = ".prev"

__all__ = ["create_checkpoint_resume", "find_checkpoint", "load_checkpoint_weights", "save_checkpoint"]


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "null", "none"))


@registry.callbacks("nerbert.checkpoint_resume.v1")
def create_checkpoint_resume(
    path: Optional[str] = None, every: int = 1000, resume: bool = True
) -> Callable[[Language, Dict[str, Any]], None]:
    """Create the ``[training.before_update]`` callback that saves and resumes checkpoints.

    path (Optional[str]): The checkpoint folder (e.g. ``training/pretrain/checkpoint-last``);
        ``null`` = do nothing.
    every (int): Save after every this many update steps.
    resume (bool): Load the weights of an existing checkpoint at the first step.
    RETURNS (Callable[[Language, Dict[str, Any]], None]): The callback ``(nlp, {"step", "epoch"})``.
    """
    if _is_null(path):

        def no_checkpoints(nlp: Language, args: Dict[str, Any]) -> None:
            return None

        return no_checkpoints
    if int(every) < 1:
        raise NerbertError(f"checkpoint 'every' must be at least 1 step, got {every}")
    target = Path(str(path))
    state: Dict[str, Any] = {"started": False, "offset": 0, "resumed_from": None}

    def checkpoint_resume(nlp: Language, args: Dict[str, Any]) -> None:
        step, epoch = int(args.get("step", 0)), int(args.get("epoch", 0))
        if not state["started"]:
            state["started"] = True
            found = find_checkpoint(target) if resume else None
            if found is not None:
                info = load_checkpoint_weights(nlp, found)
                state["offset"] = int(info.get("step", 0))
                state["resumed_from"] = str(found)
                nlp.meta.setdefault("nerbert", {})["resumed_from"] = {"path": str(found), "step": state["offset"]}
                logger.info("resumed from checkpoint %s (step %d)", found, state["offset"])
        if step > 0 and step % int(every) == 0:
            save_checkpoint(
                nlp,
                target,
                {
                    "step": state["offset"] + step,
                    "epoch": epoch,
                    "run_step": step,
                    "resumed_from_step": state["offset"] if state["resumed_from"] else None,
                },
            )

    return checkpoint_resume


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
            f"not a checkpoint written by nerbert.checkpoint_resume.v1 (no {MARKER}); "
            "remove it or point the callback's path elsewhere",
            path,
        )
    return None


def save_checkpoint(nlp: Language, path: Union[str, Path], info: Dict[str, Any]) -> Path:
    """Write ``nlp`` and ``info`` (plus a time stamp) to ``path`` atomically.

    nlp (Language): The pipeline.
    path (str | Path): The checkpoint folder (replaced).
    info (Dict[str, Any]): Written to ``nerbert_checkpoint.json`` (``step``, ``epoch``, ...).
    RETURNS (Path): ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}.", dir=str(path.parent)))
    prev = path.with_name(path.name + PREV_SUFFIX)
    try:
        nlp.to_disk(tmp)
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
    try:
        info = json.loads((path / MARKER).read_text(encoding="utf8"))
    except (OSError, ValueError) as err:
        raise NerbertError(f"cannot read {MARKER} ({err})", path) from None
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
