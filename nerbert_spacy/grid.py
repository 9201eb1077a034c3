"""The paper's experiment grid: domains x arms x seeds x settings (x few-shot sizes).

An *arm* is a way to initialise the encoder before fine-tuning: ``bert``
(``paths.pretrained = null``: the plain encoder), ``nerbert`` /
``nerbert-4types`` / ``nerbert-212types`` (a pretrained NER-BERT pipeline), or
anything else a user names (optionally with a ``head_mapping`` for head
transfer). Settings:

* ``target`` (Target Only): fine-tune ``configs/finetune.cfg`` on the domain;
* ``source-target`` (Source & Target): first train on CoNLL-2003 from the arm's
  initialisation, then fine-tune on the domain with ``paths.pretrained`` = that
  CoNLL-trained pipeline. One source model per (arm, seed) serves all domains.

Each run is ``spacy train`` in its own Python subprocess (memory is freed, a
crash does not stop the grid; its log goes to ``WORK_DIR/logs``), then the
best model is evaluated on the domain's ``test.spacy`` (seqeval micro F1) and
the metrics are written atomically to
``RESULTS_DIR/<setting>/<domain>/<arm>/seed<N>.json`` (few-shot:
``.../<arm>/fewshot-<size>/seed<N>.json``). A run whose result exists is
skipped, so an interrupted grid resumes where it stopped. Several ``nerbert grid``
processes may work on one grid at once (one per core, or per machine on a
shared disk): each run, and each source model, is claimed first by an
exclusive ``.claim`` file beside its log (see :func:`claim`), and a process
passes over what another one holds. Trained models are
deleted after evaluation unless ``keep_models``. The same seeds serve every
arm (the paper: five seeds); seed N also picks few-shot subset N.
"""
import dataclasses
import hashlib
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import srsly

from .cache import update_hash
from .errors import NerbertError, require_file
from .evaluation import PAPER_TABLE2, ZERO_SHOT_REFERENCE, aggregate, render_table
from .util import write_json_atomic, write_text_atomic

PathLike = Union[str, Path]
SETTINGS = ("target", "source-target")
DEFAULT_SEEDS = (1, 2, 3, 4, 5)
PAPER_ARMS = ("bert", "nerbert-4types", "nerbert-212types", "nerbert")


@dataclass
class Arm:
    """One row of the table: how the encoder is initialised.

    name (str): Row name (``bert``, ``nerbert``, ...; paper rows match these names).
    pretrained (Optional[str]): ``paths.pretrained`` (a NER-BERT pipeline) or None.
    head_mapping (Optional[str]): ``paths.head_mapping`` for head transfer, or None.
    overrides (Dict[str, Any]): Extra config overrides for this arm only.
    zero_shot (Optional[str]): Zero-shot arm (issue 7): a label-mapping file (from
        ``nerbert labels map``; ``{domain}`` in the path is replaced by the domain
        name). No training: ``pretrained`` + a ``label_mapper`` is evaluated on the
        test set, once per domain (first seed only; it is deterministic), Target Only,
        full test set.
    unmapped (str): Zero-shot: "drop" predictions of unmapped types, or a label for them.
    """

    name: str
    pretrained: Optional[str] = None
    head_mapping: Optional[str] = None
    overrides: Dict[str, Any] = field(default_factory=dict)
    zero_shot: Optional[str] = None
    unmapped: str = "drop"


@dataclass
class GridSpec:
    """Everything a grid needs. See the module docstring and ``docs/datasets.md``."""

    name: str = "grid"
    config: str = "configs/finetune.cfg"
    domains: Dict[str, str] = field(default_factory=dict)
    arms: List[Arm] = field(default_factory=list)
    seeds: List[int] = field(default_factory=lambda: list(DEFAULT_SEEDS))
    settings: List[str] = field(default_factory=lambda: ["target"])
    few_shot: List[str] = field(default_factory=list)
    full: bool = True
    source_corpus: Optional[str] = None
    encoder: Optional[str] = None
    overrides: Dict[str, Any] = field(default_factory=dict)
    source_overrides: Dict[str, Any] = field(default_factory=dict)
    results_dir: Optional[str] = None
    work_dir: Optional[str] = None
    docs_dir: str = "docs/results"
    keep_models: bool = False
    gpu_id: int = -1
    eval_batch_size: int = 64
    command: Optional[str] = None
    early_stopping: Dict[str, Any] = field(default_factory=dict)
    train_cap: Optional[int] = None
    plot: Optional[str] = None
    # the grid file's own domains, arms and seeds (set by load_spec, not by a file or option): an
    # invocation narrowed by --domain, --arm or --seeds still reports on them (see whole_grid)
    file_domains: Dict[str, str] = field(default_factory=dict, init=False, repr=False)
    file_arms: List[Arm] = field(default_factory=list, init=False, repr=False)
    file_seeds: List[int] = field(default_factory=list, init=False, repr=False)

    @property
    def plot_name(self) -> str:
        """File name of the few-shot curves in ``docs_dir`` (``plot``, default ``<name>-fewshot.png``)."""
        return self.plot or f"{self.name}-fewshot.png"

    @property
    def results_path(self) -> Path:
        return Path(self.results_dir or f"results/{self.name}")

    @property
    def work_path(self) -> Path:
        return Path(self.work_dir or f"training/grid/{self.name}")

    def validate(self) -> "GridSpec":
        """Check names and settings; NerbertError on the first problem."""
        if not self.domains:
            raise NerbertError("the grid has no domains (give --domain NAME=CORPUS_DIR)")
        if not self.arms:
            raise NerbertError("the grid has no arms (give --arm NAME=PRETRAINED_PIPELINE or NAME=null)")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise NerbertError(f"arm names must be unique: {names}")
        for n in list(self.domains) + names:
            if not n or "/" in n or n.startswith("."):
                raise NerbertError(f"invalid domain/arm name {n!r}")
        for a in self.arms:
            if a.zero_shot and not a.pretrained:
                raise NerbertError(f"zero-shot arm {a.name!r} needs a pretrained pipeline")
        bad = [s for s in self.settings if s not in SETTINGS]
        if bad:
            raise NerbertError(f"unknown setting(s) {bad}; use {', '.join(SETTINGS)}")
        if not self.seeds:
            raise NerbertError("the grid has no seeds")
        if len(set(self.seeds)) != len(self.seeds):
            raise NerbertError(f"seeds must be unique: {self.seeds}")
        if "source-target" in self.settings and not self.source_corpus:
            raise NerbertError("the source-target setting needs --source-corpus (a converted conll2003 folder)")
        if not self.full and not self.few_shot:
            raise NerbertError("nothing to run: no full-data runs and no few-shot sizes")
        if self.plot is not None and (Path(self.plot).name != self.plot or not self.plot.endswith(".png")):
            raise NerbertError(f"plot must be a .png file name (it is written to docs_dir), not {self.plot!r}")
        if self.early_stopping:
            unknown = set(self.early_stopping) - {"patience_epochs", "max_epochs", "evals_per_epoch",
                                                  "min_patience_steps"}
            if unknown:
                raise NerbertError(f"early_stopping has unknown keys {sorted(unknown)} "
                                   "(patience_epochs, max_epochs, evals_per_epoch, min_patience_steps)")
            if int(self.early_stopping.get("min_patience_steps", 0)) < 0:
                raise NerbertError("early_stopping.min_patience_steps must be 0 or a number of update steps")
            for key in ("patience_epochs", "max_epochs"):
                if int(self.early_stopping.get(key, 0)) <= 0:
                    raise NerbertError(f"early_stopping.{key} must be a positive number of epochs")
        if self.train_cap is not None and int(self.train_cap) <= 0:
            raise NerbertError(f"train_cap must be a positive number of sentences, not {self.train_cap}")
        from .datasets.fewshot import parse_fewshot

        self.few_shot = [parse_fewshot(s).tag for s in self.few_shot]
        return self


def _parse_arm_value(name: str, value: Any) -> Arm:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null", "none")):
        return Arm(name)
    if isinstance(value, str):
        return Arm(name, pretrained=value)
    if isinstance(value, dict):
        unknown = set(value) - {"pretrained", "head_mapping", "overrides", "zero_shot", "unmapped"}
        if unknown:
            raise NerbertError(f"arm {name!r} has unknown keys {sorted(unknown)}")
        pre = value.get("pretrained")
        pre = None if pre is None or str(pre).lower() in ("", "null", "none") else str(pre)
        hm = value.get("head_mapping")
        zs = value.get("zero_shot")
        return Arm(name, pre, str(hm) if hm else None, dict(value.get("overrides") or {}),
                   str(zs) if zs else None, str(value.get("unmapped") or "drop"))
    raise NerbertError(f"arm {name!r}: expected a path, null or a mapping, got {value!r}")


def parse_assignment(text: str, what: str) -> Tuple[str, str]:
    """Split ``NAME=VALUE`` (NerbertError naming ``what`` otherwise)."""
    if "=" not in text:
        raise NerbertError(f"{what} must look like NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    if not name.strip():
        raise NerbertError(f"{what} has an empty name: {text!r}")
    return name.strip(), value.strip()


def parse_override_value(value: str) -> Any:
    """Parse a ``--set`` value like spaCy's CLI does (JSON if it parses, else string)."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def load_spec(path: Optional[PathLike] = None, **cli: Any) -> GridSpec:
    """Build a GridSpec from an optional YAML/JSON file plus CLI values (CLI wins
    where given, i.e. not None and not empty).

    path (Optional[str | Path]): Grid file (``.yml``/``.yaml``/``.json``).
    **cli: GridSpec fields; ``domains`` as {name: dir}, ``arms`` as {name: value}.
    RETURNS (GridSpec): The validated spec.
    """
    data: Dict[str, Any] = {}
    if path is not None:
        p = require_file(path, "grid file")
        try:
            data = srsly.read_json(p) if p.suffix == ".json" else srsly.read_yaml(p)
        except Exception as err:
            raise NerbertError(f"cannot be parsed ({type(err).__name__}: {err})", p) from None
        if not isinstance(data, dict):
            raise NerbertError("must be a mapping of grid settings", p)
        known = {name for name, f in GridSpec.__dataclass_fields__.items() if f.init}
        unknown = set(data) - known
        if unknown:
            raise NerbertError(f"has unknown keys {sorted(unknown)}; known: {sorted(known)}", p)
    file_domains, file_arms, file_seeds = data.get("domains"), data.get("arms"), data.get("seeds")
    for key, value in cli.items():
        if value is None or (isinstance(value, (list, dict, tuple)) and not value):
            continue
        if key == "command" and data.get("command"):
            continue  # the file's command reproduces the whole grid; keep it over this invocation's
        if key in ("overrides", "source_overrides") and key in data:
            data[key] = {**(data[key] or {}), **value}
        else:
            data[key] = value
    seeds = data.pop("seeds", None)
    spec = GridSpec(domains=_parse_domains(data.pop("domains", None)), arms=_parse_arms(data.pop("arms", None)), **data)
    if seeds is not None:
        spec.seeds = _parse_seed_list(seeds)
    spec.few_shot = [str(s) for s in spec.few_shot]
    spec.file_domains = _parse_domains(file_domains)
    spec.file_arms = _parse_arms(file_arms)
    spec.file_seeds = _parse_seed_list(file_seeds)
    return spec.validate()


def _parse_domains(raw: Any) -> Dict[str, str]:
    return {str(k): str(v) for k, v in (raw or {}).items()}


def _parse_arms(raw: Any) -> List[Arm]:
    """Arms from a mapping ``{name: value}`` or a list of Arm objects / mappings with a ``name``."""
    if isinstance(raw, list):
        return [a if isinstance(a, Arm) else _parse_arm_value(a["name"], {k: v for k, v in a.items() if k != "name"})
                for a in raw]
    return [_parse_arm_value(str(n), v) for n, v in (raw or {}).items()]


def _parse_seed_list(raw: Any) -> List[int]:
    """Seeds as a list of ints, from ``"1-3"``/``"1,2"`` or a list (None: no seeds)."""
    return [int(x) for x in (parse_seeds(raw) if isinstance(raw, str) else raw or [])]


def whole_grid(spec: GridSpec) -> GridSpec:
    """The grid as its file defines it, widened by what this invocation adds: the union of the
    file's domains, arms and seeds with ``spec``'s (the invocation's values win for the same
    name). An invocation narrowed by ``--domain``, ``--arm`` or ``--seeds`` runs only its slice,
    but its report covers the whole grid, and a Source & Target source model, which serves every
    domain, stays until they all have results. A spec without a file is returned unchanged."""
    domains = {**spec.file_domains, **spec.domains}
    arms = {a.name: a for a in spec.file_arms}
    arms.update({a.name: a for a in spec.arms})
    seeds = list(spec.file_seeds)
    seeds += [x for x in spec.seeds if x not in seeds]
    return dataclasses.replace(spec, domains=domains, arms=list(arms.values()), seeds=seeds)


def parse_seeds(text: str) -> List[int]:
    """``"1,2,3"`` or ``"1-5"`` -> [1, 2, 3(, 4, 5)]."""
    out: List[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                a, b = part.split("-", 1)
                out.extend(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise NerbertError(f"invalid seeds {text!r}: use 1,2,3 or 1-5") from None
    if not out:
        raise NerbertError(f"invalid seeds {text!r}: none given")
    return out


@dataclass
class Run:
    """One fine-tuning run of the grid."""

    setting: str
    domain: str
    arm: str
    seed: int
    few_shot: Optional[str]
    corpus: str
    result_path: str
    model_dir: str
    log_path: str

    @property
    def key(self) -> str:
        fs = f"/fewshot-{self.few_shot}" if self.few_shot else ""
        return f"{self.setting}/{self.domain}/{self.arm}{fs}/seed{self.seed}"


def result_path(results_dir: PathLike, setting: str, domain: str, arm: str, seed: int,
                few_shot: Optional[str] = None) -> Path:
    """``RESULTS_DIR/<setting>/<domain>/<arm>[/fewshot-<size>]/seed<N>.json``."""
    p = Path(results_dir) / setting / domain / arm
    if few_shot:
        p = p / f"fewshot-{few_shot}"
    return p / f"seed{seed}.json"


def plan(spec: GridSpec) -> List[Run]:
    """All runs of the grid in execution order: setting, seed, domain, size, arm
    (so an interrupted grid has whole seeds for every arm)."""
    runs = []
    sizes: List[Optional[str]] = ([None] if spec.full else []) + list(spec.few_shot)
    for setting in spec.settings:
        for seed in spec.seeds:
            for domain, corpus in spec.domains.items():
                for size in sizes:
                    for arm in spec.arms:
                        if arm.zero_shot and (setting != "target" or size is not None or seed != spec.seeds[0]):
                            continue
                        key = f"{setting}/{domain}/{arm.name}" + (f"/fewshot-{size}" if size else "") + f"/seed{seed}"
                        runs.append(Run(
                            setting, domain, arm.name, seed, size, corpus,
                            str(result_path(spec.results_path, setting, domain, arm.name, seed, size)),
                            str(spec.work_path / "runs" / key),
                            str(spec.work_path / "logs" / (key.replace("/", "__") + ".log")),
                        ))
    return runs


def plan_status(spec: GridSpec) -> List[Tuple[Run, bool]]:
    """The runs of :func:`plan`, each with whether it is done (its result file exists)."""
    return [(run, Path(run.result_path).is_file()) for run in plan(spec)]


def missing_inputs(spec: GridSpec) -> List[str]:
    """What the grid's unfinished runs need and is not on disk: domain corpora, the source
    corpus, arms' pretrained pipelines (a folder or an installed package) and head or zero-shot
    mappings (``{domain}`` filled in). Finished runs need nothing, so a complete grid's report
    can be rewritten without its inputs.

    spec (GridSpec): The grid.
    RETURNS (List[str]): One ``"<what> <path> (<runs>)"`` entry per missing path, in plan order.
    """
    import spacy

    arms = {a.name: a for a in spec.arms}
    needed: Dict[Tuple[str, str], List[str]] = {}

    def need(what: str, path: Optional[str], run: Run, package_ok: bool = False) -> None:
        if not path or Path(path).exists() or (package_ok and spacy.util.is_package(path)):
            return
        needed.setdefault((what, path), []).append(run.key)

    for run in plan(spec):
        if Path(run.result_path).is_file():
            continue
        arm = arms[run.arm]
        need("domain corpus", run.corpus, run)
        need("pretrained pipeline", arm.pretrained, run, package_ok=True)
        for what, path in (("head mapping", arm.head_mapping), ("zero-shot mapping", arm.zero_shot)):
            need(what, path.replace("{domain}", run.domain) if path else None, run)
        if run.setting == "source-target":
            need("source corpus", spec.source_corpus, run)
    out = []
    for (what, path), keys in needed.items():
        runs = keys[0] if len(keys) == 1 else f"{keys[0]} and {len(keys) - 1} more runs"
        out.append(f"{what} {path} ({runs})")
    return out


def stale_results(spec: GridSpec) -> List[Tuple[Run, Optional[str], str]]:
    """Finished runs whose recorded ``pretrained_fingerprint`` is not that of the arm's pretrained
    pipeline as it is on disk now (None: the result predates fingerprints): they were fine-tuned
    from other weights, e.g. before the pipeline was pretrained again. Runs of arms with a
    pretrained pipeline only; a Source & Target run records the weights its source model started
    from (a stale source model is trained again before its runs). An arm whose pipeline is missing
    has nothing to compare with.

    spec (GridSpec): The grid.
    RETURNS (List[Tuple[Run, Optional[str], str]]): (run, recorded fingerprint, current fingerprint).
    """
    arms = {a.name: a for a in spec.arms}
    current: Dict[str, Optional[str]] = {}
    stale = []
    for run in plan(spec):
        arm = arms[run.arm]
        if not arm.pretrained or not Path(run.result_path).is_file():
            continue
        if arm.name not in current:
            current[arm.name] = pipeline_fingerprint(arm.pretrained)
        now = current[arm.name]
        if now is None:
            continue
        recorded = _read_result(Path(run.result_path)).get("pretrained_fingerprint")
        if recorded != now:
            stale.append((run, recorded, now))
    return stale


def set_aside(run: Run, recorded: Optional[str]) -> Path:
    """Rename a stale result to ``seed<N>.stale-<fingerprint or unknown>[-K].json`` beside it, so
    that the grid runs it again and the old figures stay on disk (reports ignore them)."""
    src = Path(run.result_path)
    base = f"{src.stem}.stale-{recorded or 'unknown'}"
    dst = src.with_name(base + ".json")
    k = 1
    while dst.exists():
        k += 1
        dst = src.with_name(f"{base}-{k}.json")
    src.rename(dst)
    return dst


def _read_result(path: Path) -> Dict[str, Any]:
    try:
        res = srsly.read_json(path)
    except ValueError as err:
        raise NerbertError(f"is not valid JSON ({err}); delete it to re-run", path) from None
    if not isinstance(res, dict):
        raise NerbertError("is not a grid result (a JSON object); delete it to re-run", path)
    return res


def source_model_dir(spec: GridSpec, arm: str, seed: int) -> Path:
    """Where the CoNLL-2003-trained pipeline of (arm, seed) lives."""
    return spec.work_path / "source" / arm / f"seed{seed}"


def _train_paths(spec: GridSpec, run: Run) -> Tuple[Path, Path, Path, int]:
    """(train, dev, test, n_train) of a run; few-shot subsets are made on demand."""
    corpus = Path(run.corpus)
    train, dev, test = corpus / "train.spacy", corpus / "dev.spacy", corpus / "test.spacy"
    for p in (train, dev, test):
        require_file(p, f"{run.domain} corpus file (run `nerbert data convert` first)")
    if run.few_shot:
        from .datasets.fewshot import fewshot_filename
        from .datasets.registry import write_fewshot

        fs = corpus / fewshot_filename(run.few_shot, run.seed)
        if not fs.is_file():
            write_fewshot(train, run.few_shot, run.seed, fs)
        train = fs
    return train, dev, test, _count_docs(train)


def _capped_train(train: Path, cap: int, seed: int) -> Path:
    """A random ``cap``-sentence subset of a large training set (per seed, written once
    beside it, like a few-shot subset)."""
    from .datasets.fewshot import fewshot_filename
    from .datasets.registry import write_fewshot

    out = train.parent / ("cap-" + fewshot_filename(str(cap), seed))
    if not out.is_file():
        write_fewshot(train, str(cap), seed, out)
    return out


def _count_docs(path: Path) -> int:
    from .docio import count_docs

    return count_docs(path)


def run_overrides(spec: GridSpec, arm: Arm, seed: int, train: PathLike, dev: PathLike,
                  pretrained: Optional[str], extra: Optional[Dict[str, Any]] = None,
                  domain: Optional[str] = None) -> Dict[str, Any]:
    """The ``spacy train`` overrides of one run (paths, seed, arm, user overrides).

    ``{domain}`` in the arm's ``head_mapping`` is replaced by ``domain`` (one mapping
    file per target schema, as written by ``nerbert labels map``).
    """
    head_mapping = arm.head_mapping
    if head_mapping and domain:
        head_mapping = head_mapping.replace("{domain}", domain)
    ov: Dict[str, Any] = {
        "paths.train": str(train),
        "paths.dev": str(dev),
        "paths.pretrained": pretrained,
        "paths.head_mapping": head_mapping,
        "system.seed": int(seed),
    }
    if spec.encoder:
        ov["paths.encoder"] = spec.encoder
    ov.update(spec.overrides)
    ov.update(extra or {})
    ov.update(arm.overrides)
    return ov


def batch_size(spec: GridSpec, extra: Optional[Dict[str, Any]] = None) -> int:
    """Sentences per update of the grid's runs: ``training.batcher.size`` from the
    overrides, else from the config file."""
    for ov in (extra or {}, spec.overrides):
        if "training.batcher.size" in ov:
            return int(ov["training.batcher.size"])
    from spacy.util import load_config

    size = load_config(require_file(spec.config, "fine-tuning config"))["training"]["batcher"]["size"]
    if not isinstance(size, int):
        raise NerbertError(f"early stopping in epochs needs a fixed training.batcher.size, not {size!r}", spec.config)
    return size


def steps_per_epoch(spec: GridSpec, n_train: int, extra: Optional[Dict[str, Any]] = None) -> int:
    """Update steps in one epoch of ``n_train`` sentences (ceil(n_train / batch size))."""
    return max(1, math.ceil(n_train / batch_size(spec, extra)))


def max_patience(spec: GridSpec, n_train: int, extra: Optional[Dict[str, Any]] = None) -> int:
    """The most patience a retry may get (:func:`train_until_learned`): ``max_epochs`` epochs of
    steps; 0 (no retries) without early stopping in epochs."""
    if not spec.early_stopping:
        return 0
    return int(spec.early_stopping["max_epochs"]) * steps_per_epoch(spec, n_train, extra)


def epoch_budget(spec: GridSpec, n_train: int, extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """``early_stopping`` in epochs as spaCy's update-step settings for ``n_train`` sentences.

    One epoch = ceil(n_train / batch size) steps; evaluation ``evals_per_epoch``
    times per epoch (default 1); ``patience`` = patience_epochs epochs of steps, at least
    ``min_patience_steps`` (default 0: few-shot sets have one or two steps an epoch, and 3 epochs
    of patience, 3 updates, can stop a run before it starts learning); ``max_epochs`` as given.
    Empty when the spec has no ``early_stopping``.
    RETURNS (Dict[str, Any]): ``training.*`` overrides.
    """
    if not spec.early_stopping:
        return {}
    per_epoch = steps_per_epoch(spec, n_train, extra)
    evals = max(1, int(spec.early_stopping.get("evals_per_epoch", 1)))
    return {
        "training.eval_frequency": max(1, per_epoch // evals),
        "training.patience": max(int(spec.early_stopping["patience_epochs"]) * per_epoch,
                                 int(spec.early_stopping.get("min_patience_steps", 0))),
        "training.max_epochs": int(spec.early_stopping["max_epochs"]),
        "training.max_steps": 0,
    }


# ---------------------------------------------------------------- execution


class Claim:
    """An exclusive claim on one run (or source model) of a grid, held by this process: a
    ``.claim`` file created with ``O_EXCL`` that names the holder; :meth:`release` removes it.
    Use :func:`claim` to take one."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def release(self) -> None:
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _holder_alive(holder: Dict[str, Any]) -> bool:
    """Whether the process named in a claim may still run: False only when it was on this host
    and its pid is gone (a claim from another host cannot be checked, so it is kept)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def claim(path: PathLike) -> Tuple[Optional[Claim], Optional[str]]:
    """Claim the run whose claim file is ``path``.

    A claim left by a process of this host that no longer runs (killed, machine restarted) is
    taken over; one held by a live process, or by a process on another host, is not.

    path (str | Path): The claim file (``<log>.claim``).
    RETURNS (Tuple[Optional[Claim], Optional[str]]): (the claim, None) when taken, or
        (None, who holds it) when another process does.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for _ in range(2):
        try:
            fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = claim_holder(p)
            if holder is None:
                p.unlink(missing_ok=True)  # its process is gone
                continue
            return None, holder
        with os.fdopen(fd, "w", encoding="utf8") as fh:
            json.dump(me, fh)
        return Claim(p), None
    return None, f"a claim {p} that keeps coming back"


def claim_holder(path: PathLike) -> Optional[str]:
    """Who holds the claim file ``path`` ("pid N on HOST since T"), or None when there is no
    claim or its process, on this host, no longer runs."""
    p = Path(path)
    try:
        holder = json.loads(p.read_text(encoding="utf8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return f"an unreadable claim {p}"  # being written, or damaged: treat it as held
    if not isinstance(holder, dict):
        return f"an unreadable claim {p}"
    if not _holder_alive(holder):
        return None
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('since', '?')}"


def claim_path(log_path: PathLike) -> Path:
    """The claim file of a run (or source model) whose log is ``log_path``."""
    return Path(log_path).with_suffix(".claim")


class RunBusy(Exception):
    """Another process holds the claim on what a run needs (its source model)."""


class RunFailed(Exception):
    """A training/evaluation subprocess failed; ``log`` has its output."""

    def __init__(self, message: str, log: Optional[str] = None) -> None:
        super().__init__(message)
        self.log = log


#: A run "learned" when its best dev score beats its step-0 score by at least this much (F1 in
#: 0-1). With 10 training sentences (one update per epoch) a run can peak at step 1 a hair above
#: the untrained model and exhaust 3 epochs of patience at step 4 (SEC, NER-BERT, seed 1: dev F1
#: 0.034 against 0.033 at step 0, test F1 0.5%): that run did not learn either.
LEARNED_MARGIN = 0.01


def did_not_learn(run: Dict[str, Any]) -> bool:
    """Whether a training run (:data:`~nerbert_spacy.pipeline.logger.LAST_RUN`) evaluated after
    step 0 yet its model-best is the step-0 model or scores less than :data:`LEARNED_MARGIN`
    above it."""
    if not run.get("last_evaluated_step"):
        return False
    if run.get("best_step") == 0:
        return True
    first = run.get("first_score")
    return first is not None and run.get("best_score", 0.0) - first < LEARNED_MARGIN


def train_until_learned(train_fn: Callable[..., Any], job: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Train; when the run did not learn (:func:`did_not_learn`: a plain encoder on a tiny
    training set can score 0 for the first epochs, so patience runs out before it learns),
    train once more from scratch with patience ``job["max_patience"]`` steps (``max_epochs``
    epochs, so the whole budget; no retry without it). Runs that learned are never retrained.

    train_fn: ``spacy.cli.train.train``-like: (config, output, use_gpu=, overrides=).
    job (Dict[str, Any]): See :func:`train_and_evaluate`.
    RETURNS (List[Dict[str, Any]]): One entry per retry (the patience that ran out).
    """
    from .pipeline.logger import LAST_RUN

    def attempt(overrides: Dict[str, Any]) -> bool:
        """Train; RETURNS whether the run did not learn."""
        LAST_RUN.clear()
        train_fn(job["config"], job["output"], use_gpu=int(job.get("gpu_id", -1)), overrides=overrides)
        return did_not_learn(LAST_RUN)

    patience = int(job["overrides"].get("training.patience") or 0)
    budget = int(job.get("max_patience") or 0)
    if not attempt(job["overrides"]) or not 0 < patience < budget:
        return []
    retry = {"patience": patience, "best_score": LAST_RUN.get("best_score"),
             "last_evaluated_step": LAST_RUN.get("last_evaluated_step")}
    if LAST_RUN.get("best_step"):
        retry.update(best_step=LAST_RUN["best_step"], first_score=LAST_RUN.get("first_score"))
    # same seed, same first steps: a second try only helps with the whole budget
    attempt({**job["overrides"], "training.patience": budget})
    return [retry]


def train_and_evaluate(job: Dict[str, Any]) -> Dict[str, Any]:
    """Train one pipeline and evaluate its best model (runs inside the subprocess).

    job (Dict[str, Any]): ``config``, ``output``, ``overrides``, ``gpu_id`` and
        optionally ``test`` and ``batch_size`` (no ``test``: train only).
    RETURNS (Dict[str, Any]): The evaluation result plus ``train_seconds``,
        ``eval_seconds`` and ``dev_performance`` (from the model's meta).
    """
    from spacy.cli.train import train

    from .evaluation import evaluate_pipeline

    if job.get("zero_shot"):
        from .pipeline.label_mapper import zero_shot_pipeline

        zs = job["zero_shot"]
        start = time.perf_counter()
        nlp = zero_shot_pipeline(zs["pretrained"], zs["mapping"], zs.get("unmapped", "drop"))
        result = evaluate_pipeline(nlp, job["test"], batch_size=int(job.get("batch_size", 64)),
                                   gpu_id=int(job.get("gpu_id", -1)))
        result.update(train_seconds=0.0, eval_seconds=round(time.perf_counter() - start, 1))
        return result
    start = time.perf_counter()
    retries = train_until_learned(train, job)
    train_seconds = time.perf_counter() - start
    best = Path(job["output"]) / "model-best"
    if not best.is_dir():
        raise RunFailed(f"training wrote no model-best in {job['output']}")
    meta = srsly.read_json(best / "meta.json") if (best / "meta.json").is_file() else {}
    result: Dict[str, Any] = {"train_seconds": round(train_seconds, 1), "dev_performance": meta.get("performance", {}),
                              "build": meta.get("nerbert_build")}
    if retries:
        result["retries"] = retries
    if job.get("test"):
        start = time.perf_counter()
        result.update(evaluate_pipeline(best, job["test"], batch_size=int(job.get("batch_size", 64)),
                                        gpu_id=int(job.get("gpu_id", -1))))
        result["eval_seconds"] = round(time.perf_counter() - start, 1)
    return result


def run_subprocess(job: Dict[str, Any], log_path: PathLike) -> Dict[str, Any]:
    """Run :func:`train_and_evaluate` in a fresh Python process; output goes to ``log_path``.

    job (Dict[str, Any]): See :func:`train_and_evaluate`.
    log_path (str | Path): Log file (stdout + stderr of the subprocess).
    RETURNS (Dict[str, Any]): The subprocess's result.
    """
    log = Path(log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    job_file = log.with_suffix(".job.json")
    out_file = log.with_suffix(".result.json")
    if out_file.exists():
        out_file.unlink()
    write_json_atomic(job_file, {**job, "result_file": str(out_file)})
    env = dict(os.environ)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    with open(log, "w", encoding="utf8") as fh:
        proc = subprocess.run([sys.executable, "-m", "nerbert_spacy.grid", str(job_file)],
                              stdout=fh, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0 or not out_file.is_file():
        tail = log.read_text(encoding="utf8", errors="replace").strip().splitlines()[-1:] if log.exists() else []
        raise RunFailed(f"exit code {proc.returncode}: {tail[0] if tail else 'no output'}", str(log))
    result = srsly.read_json(out_file)
    out_file.unlink()
    job_file.unlink()
    return result


RunFn = Callable[[Dict[str, Any], PathLike], Dict[str, Any]]


@dataclass
class GridReport:
    """What :func:`run_grid` did."""

    done: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    busy: List[str] = field(default_factory=list)  # claimed by another process when reached
    failed: List[Tuple[str, str, Optional[str]]] = field(default_factory=list)
    source_trained: List[str] = field(default_factory=list)
    set_aside: List[str] = field(default_factory=list)
    seconds: float = 0.0
    markdown: Optional[str] = None
    plot: Optional[str] = None


def _ensure_source(spec: GridSpec, arm: Arm, seed: int, run_fn: RunFn, report: GridReport,
                   progress: Callable[[str], None]) -> Optional[Path]:
    out = source_model_dir(spec, arm.name, seed)
    best = out / "model-best"
    if _source_is_current(out, arm):
        return best
    log = spec.work_path / "logs" / f"source__{arm.name}__seed{seed}.log"
    held, holder = claim(claim_path(log))
    if held is None:
        raise RunBusy(holder)
    with held:
        if _source_is_current(out, arm):  # another process trained it meanwhile
            return best
        return _train_source(spec, arm, seed, run_fn, report, progress, log)


def source_provenance(out: Path) -> Dict[str, Any]:
    """What a finished source model under ``out`` was trained from: ``pretrained`` (the arm's
    pipeline, None for the plain encoder) and its ``pretrained_fingerprint``; {} when ``out``
    holds no finished source model, and only ``{"complete": True}`` for one finished before
    the grid recorded its provenance."""
    done = out / ".complete"
    if not (out / "model-best").is_dir() or not done.is_file():
        return {}
    try:
        info = json.loads(done.read_text(encoding="utf8"))
    except ValueError:
        info = None
    return {"complete": True, **(info if isinstance(info, dict) else {})}


def _source_is_current(out: Path, arm: Arm) -> bool:
    """A finished source model trained from the arm's pretrained weights as they are now (one
    without a recorded fingerprint is taken as current)."""
    info = source_provenance(out)
    if not info:
        return False
    if "pretrained_fingerprint" not in info or not arm.pretrained:
        return True
    return info["pretrained_fingerprint"] == pipeline_fingerprint(arm.pretrained)


def _train_source(spec: GridSpec, arm: Arm, seed: int, run_fn: RunFn, report: GridReport,
                  progress: Callable[[str], None], log: Path) -> Optional[Path]:
    out = source_model_dir(spec, arm.name, seed)
    best = out / "model-best"
    corpus = Path(spec.source_corpus or "")
    train, dev = corpus / "train.spacy", corpus / "dev.spacy"
    for p in (train, dev):
        require_file(p, "source-domain corpus file (run `nerbert data convert conll2003 ...` first)")
    if out.exists():
        shutil.rmtree(out)
    key = f"source/{arm.name}/seed{seed}"
    progress(f"training source model {key}")
    ov = run_overrides(spec, arm, seed, train, dev, arm.pretrained, spec.source_overrides)
    n_source = _count_docs(train)
    if spec.train_cap and n_source > int(spec.train_cap):
        ov["paths.train"] = str(_capped_train(train, int(spec.train_cap), seed))
        n_source = int(spec.train_cap)
    ov.update(epoch_budget(spec, n_source, spec.source_overrides))
    most = max_patience(spec, n_source, spec.source_overrides)
    # the source model is trained from the arm; head transfer applies to the target head only
    ov["paths.head_mapping"] = None
    job = {"config": spec.config, "output": str(out), "overrides": ov, "gpu_id": spec.gpu_id, "max_patience": most}
    fingerprint = pipeline_fingerprint(arm.pretrained) if arm.pretrained else None
    try:
        run_fn(job, log)
    except RunFailed as err:
        report.failed.append((key, str(err), err.log))
        return None
    write_json_atomic(out / ".complete", {"pretrained": arm.pretrained, "pretrained_fingerprint": fingerprint})
    report.source_trained.append(key)
    return best


def _run_one(spec: GridSpec, run: Run, arm: Arm, counter: str, sources: Dict[Tuple[str, int], Optional[Path]],
             run_fn: RunFn, report: GridReport, say: Callable[[str], None]) -> None:
    """Train and evaluate one claimed run of :func:`run_grid` and write its result; a failure, or
    a source model that another process is training, is recorded in ``report`` instead."""
    pretrained = arm.pretrained
    provenance: Dict[str, Any] = {"pretrained": arm.pretrained}
    if run.setting == "source-target":
        sk = (arm.name, run.seed)
        if sk not in sources:
            try:
                sources[sk] = _ensure_source(spec, arm, run.seed, run_fn, report, say)
            except RunBusy as busy:  # not cached: a later run of this arm and seed looks again
                report.busy.append(run.key)
                say(f"{counter} {run.key}: its source model is being trained in another process ({busy}), passed over")
                return
        if sources[sk] is None:
            report.failed.append((run.key, "its source model failed to train", None))
            return
        pretrained = str(sources[sk])
        # the result names the arm's pretrained weights the source model started from, and the
        # source model itself (deleted once every domain has its result)
        info = source_provenance(Path(pretrained).parent)
        if "pretrained_fingerprint" in info:
            provenance["pretrained_fingerprint"] = info["pretrained_fingerprint"]
        provenance.update(source_model=pretrained, source_fingerprint=pipeline_fingerprint(pretrained))
    if "pretrained_fingerprint" not in provenance:
        provenance["pretrained_fingerprint"] = pipeline_fingerprint(arm.pretrained) if arm.pretrained else None
    say(f"{counter} {run.key}")
    try:
        train, dev, test, n_train = _train_paths(spec, run)
    except NerbertError as err:
        report.failed.append((run.key, str(err), None))
        return
    ov = run_overrides(spec, arm, run.seed, train, dev, pretrained, domain=run.domain)
    if spec.train_cap and n_train > int(spec.train_cap):
        train = _capped_train(train, int(spec.train_cap), run.seed)
        ov["paths.train"] = str(train)
        n_train = int(spec.train_cap)
    ov.update(epoch_budget(spec, n_train))
    job = {"config": spec.config, "output": run.model_dir, "overrides": ov, "gpu_id": spec.gpu_id,
           "max_patience": max_patience(spec, n_train),
           "test": str(test), "batch_size": spec.eval_batch_size}
    if arm.zero_shot:
        mapping = arm.zero_shot.replace("{domain}", run.domain)
        job["zero_shot"] = {"pretrained": arm.pretrained, "mapping": mapping, "unmapped": arm.unmapped}
        ov = {"zero_shot_mapping": mapping, "unmapped": arm.unmapped}
        n_train = 0
    try:
        result = run_fn(job, run.log_path)
    except RunFailed as err:
        report.failed.append((run.key, str(err), err.log))
        say(f"  failed: {err} (log: {err.log})")
        return
    result.update(setting=run.setting, domain=run.domain, arm=run.arm, seed=run.seed,
                  few_shot=run.few_shot, n_train=n_train, **provenance,
                  head_mapping=arm.head_mapping, config=spec.config,
                  overrides={k: v for k, v in ov.items()})
    write_json_atomic(run.result_path, result)
    report.done.append(run.key)
    say(f"  F1 {100 * result['f1']:.2f}")
    if not spec.keep_models and Path(run.model_dir).exists():
        shutil.rmtree(run.model_dir)


def run_grid(spec: GridSpec, run_fn: Optional[RunFn] = None,
             progress: Optional[Callable[[str], None]] = None, write_report: bool = True,
             rerun_stale: bool = False) -> GridReport:
    """Run every missing run of the grid, then write the markdown report and plot.

    spec (GridSpec): The grid.
    run_fn (Optional[RunFn]): ``(job, log_path) -> result``; default :func:`run_subprocess`
        (tests pass a mock).
    progress (Optional[Callable[[str], None]]): Called with one line per step.
    write_report (bool): Write ``docs_dir/<name>.md`` (+ few-shot PNG) at the end.
    rerun_stale (bool): Set aside the results of :func:`stale_results` (see :func:`set_aside`)
        and run them again from the arm's current pretrained pipeline.
    RETURNS (GridReport): Done, skipped and failed runs, and the report paths.

    With the default runner, inputs that unfinished runs need and that are missing
    (:func:`missing_inputs`) stop the grid before its first run, named in one NerbertError.
    """
    spec.validate()
    missing = missing_inputs(spec) if run_fn is None else []  # a test's runner reads no files
    if missing:
        raise NerbertError(f"grid {spec.name!r}: {len(missing)} input(s) missing, nothing was run: "
                           + "; ".join(missing))
    run_fn = run_fn or run_subprocess
    say = progress or (lambda msg: None)
    report = GridReport()
    t0 = time.perf_counter()
    if rerun_stale:
        for run, recorded, now in stale_results(spec):
            kept = set_aside(run, recorded)
            report.set_aside.append(str(kept))
            say(f"stale: {run.key} was fine-tuned from {recorded or 'unrecorded'} weights, the pipeline is now "
                f"{now}; its result is kept as {kept.name} and the run goes again")
    arms = {a.name: a for a in spec.arms}
    runs = plan(spec)
    sources: Dict[Tuple[str, int], Optional[Path]] = {}
    for i, run in enumerate(runs, 1):
        if Path(run.result_path).is_file():
            report.skipped.append(run.key)
            continue
        held, holder = claim(claim_path(run.log_path))
        if held is None:
            report.busy.append(run.key)
            say(f"[{i}/{len(runs)}] {run.key}: running in another process ({holder}), passed over")
            continue
        with held:
            if Path(run.result_path).is_file():  # another process finished it meanwhile
                report.skipped.append(run.key)
                continue
            _run_one(spec, run, arms[run.arm], f"[{i}/{len(runs)}]", sources, run_fn, report, say)
    # source models are no longer needed once every run that uses them has a result, in the
    # domains of this invocation and of the grid file (a run narrowed by --domain keeps them)
    if not spec.keep_models:
        everywhere = plan(whole_grid(spec))
        for (arm_name, seed) in list(sources):
            needed = [r for r in everywhere if r.setting == "source-target" and r.arm == arm_name and r.seed == seed]
            if all(Path(r.result_path).is_file() for r in needed):
                d = source_model_dir(spec, arm_name, seed)
                if d.exists():
                    shutil.rmtree(d)
    report.seconds = time.perf_counter() - t0
    if write_report:
        report.markdown, report.plot = write_grid_report(whole_grid(spec))
    return report


_FINGERPRINTS: Dict[Tuple[str, Tuple], Optional[str]] = {}


def pipeline_fingerprint(path: PathLike) -> Optional[str]:
    """A digest of a saved pipeline's files (weights included; ``meta.json`` left out, it holds
    scores and versions only): two results with the same fingerprint were fine-tuned from the same
    pretrained weights, whatever session rebuilt the folder at the same path.

    path (str | Path): A pipeline folder.
    RETURNS (Optional[str]): 16 hex digits, or None when ``path`` is not a folder.
    """
    folder = Path(path)
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "meta.json")
    key = (str(folder.resolve()), tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if key in _FINGERPRINTS:  # the same files, unchanged since: hashed once per process
        return _FINGERPRINTS[key]
    h = hashlib.sha1()
    for p in files:
        h.update(p.relative_to(folder).as_posix().encode("utf8") + b"\0")
        update_hash(h, p)
    _FINGERPRINTS[key] = digest = h.hexdigest()[:16]
    return digest


# ---------------------------------------------------------------- reporting


def collect_results(spec: GridSpec) -> Dict[Tuple[str, str, str, Optional[str]], List[Dict[str, Any]]]:
    """Existing results of the grid's runs: (setting, domain, arm, few_shot) -> [result per seed]."""
    out: Dict[Tuple[str, str, str, Optional[str]], List[Dict[str, Any]]] = {}
    for run in plan(spec):
        p = Path(run.result_path)
        if not p.is_file():
            continue
        res = _read_result(p)
        res.setdefault("seed", run.seed)
        out.setdefault((run.setting, run.domain, run.arm, run.few_shot), []).append(res)
    return out


def render_grid_markdown(spec: GridSpec, results: Optional[Dict] = None, plot_name: Optional[str] = None) -> str:
    """The grid's markdown report: one Table-2-style table per setting (mean ± std
    over seeds, paper rows beside), few-shot tables, and how it was run."""
    results = collect_results(spec) if results is None else results
    domains = list(spec.domains)
    lines = [f"# Experiment grid: {spec.name}", ""]
    lines.append(
        "F1 = seqeval micro F1 over BIO tags on each domain's test set, in %, mean ± sample std over seeds; "
        "`runs` = seeds per cell. Paper rows: NER-BERT paper Table 2 (BERT-base-cased backbone, 5 seeds)."
    )
    lines.append("")
    setting_titles = {"target": "Target Only", "source-target": "Source & Target (CoNLL-2003 first)"}
    total_train = total_eval = 0.0
    n_runs = 0
    for rs in results.values():
        for r in rs:
            total_train += float(r.get("train_seconds") or 0)
            total_eval += float(r.get("eval_seconds") or 0)
            n_runs += 1

    def cells_of(setting: str, size: Optional[str]) -> Dict[str, Dict[str, Any]]:
        """Arm -> domain -> aggregated result over seeds (None where nothing ran)."""
        return {arm.name: {d: (aggregate(results[(setting, d, arm.name, size)])
                               if results.get((setting, d, arm.name, size)) else None) for d in domains}
                for arm in spec.arms}

    for setting in spec.settings:
        if spec.full:
            lines += [f"## {setting_titles[setting]}", ""]
            cells = cells_of(setting, None)
            extra = ZERO_SHOT_REFERENCE if setting == "target" and any(a.zero_shot for a in spec.arms) else None
            lines.append(render_table(cells, domains, paper=PAPER_TABLE2.get(setting), extra_rows=extra))
        for size in spec.few_shot:
            lines += [f"## {setting_titles[setting]}, few-shot {size}", ""]
            lines.append(render_table(cells_of(setting, size), domains, paper=None))
            ns = {d: sorted({r.get("n_train") for a in spec.arms for r in results.get((setting, d, a.name, size), [])
                             if r.get("n_train") is not None}) for d in domains}
            lines.append("Training sentences per domain: " + ", ".join(
                f"{d} {'/'.join(map(str, v)) if v else '–'}" for d, v in ns.items()) + ".")
            lines.append("")
    if plot_name:
        lines += ["## Few-shot curves", "", f"![few-shot F1]({plot_name})", ""]
    lines += ["## How this was run", ""]
    if spec.command:
        lines += ["```", spec.command, "```", ""]
    lines.append(f"- config: `{spec.config}`; encoder: `{spec.encoder or '(from the config)'}`")
    for arm in spec.arms:
        extra = f", head mapping `{arm.head_mapping}`" if arm.head_mapping else ""
        if arm.zero_shot:
            extra += f", zero-shot through `{arm.zero_shot}` (unmapped: {arm.unmapped}; no training, one run)"
        lines.append(f"- arm `{arm.name}`: pretrained `{arm.pretrained or 'null (plain encoder)'}`{extra}")
        if arm.pretrained:
            lines.append(_weights_line(arm, [r for (_, _, name, _), rs in results.items()
                                             if name == arm.name for r in rs]))
    lines.append(f"- seeds: {', '.join(map(str, spec.seeds))}; settings: {', '.join(spec.settings)}"
                 + (f"; few-shot sizes: {', '.join(spec.few_shot)}" if spec.few_shot else ""))
    if spec.overrides:
        lines.append(f"- overrides: `{json.dumps(spec.overrides, sort_keys=True)}`")
    if spec.early_stopping:
        es = spec.early_stopping
        floor = int(es.get("min_patience_steps", 0))
        lines.append(f"- early stopping in epochs: patience {es['patience_epochs']} epochs"
                     + (f" and at least {floor} update steps" if floor else "")
                     + f", at most {es['max_epochs']} "
                     f"epochs, {es.get('evals_per_epoch', 1)} dev evaluation(s) per epoch (converted to update "
                     "steps per run from its number of training sentences); a run whose best dev F1 is under "
                     f"{100 * LEARNED_MARGIN:g} point above its step-0 score is trained once more with the whole budget")
    if spec.train_cap:
        lines.append(f"- training sets larger than {spec.train_cap} sentences: a random {spec.train_cap}-sentence "
                     "subset per seed")
    if "source-target" in spec.settings:
        lines.append(f"- source corpus: `{spec.source_corpus}`"
                     + (f", source overrides `{json.dumps(spec.source_overrides, sort_keys=True)}`"
                        if spec.source_overrides else ""))
    lines.append(f"- {n_runs} finished runs; summed wall time {total_train / 60:.1f} min training + "
                 f"{total_eval / 60:.1f} min evaluation (source-domain training not included)")
    lines.append(f"- raw results: `{spec.results_path}/<setting>/<domain>/<arm>/seed<N>.json`")
    return "\n".join(lines) + "\n"


def _weights_line(arm: Arm, results: List[Dict[str, Any]]) -> str:
    """Which pretrained weights (``pretrained_fingerprint``) the arm's results started from
    (through their source model, in Source & Target), and whether that is the pipeline on disk
    now (``--rerun-stale`` runs the others again)."""
    counts: Dict[Optional[str], int] = {}
    for r in results:
        fp = r.get("pretrained_fingerprint")
        counts[fp] = counts.get(fp, 0) + 1
    if not counts:
        return "  - no results yet"
    now = pipeline_fingerprint(arm.pretrained) if arm.pretrained else None
    parts = []
    for fp, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        what = f"`{fp}`" if fp else "unrecorded weights (written before fingerprints)"
        if fp and fp == now:
            what += " (the pipeline on disk now)"
        parts.append(f"{n} from {what}")
    mixed = " — **mixed weights**: `--rerun-stale` runs the others again" if len(counts) > 1 and now else ""
    return f"  - pretrained weights of its runs: {'; '.join(parts)}{mixed}"


def plot_fewshot(spec: GridSpec, path: PathLike, results: Optional[Dict] = None) -> Optional[Path]:
    """Few-shot curves like the paper's Figure 2: F1 vs number of training
    sentences, one line per arm (mean ± std over seeds), one panel per
    (setting, domain); bars on a right axis show the gain of ``nerbert`` over
    ``bert`` when both arms are present. Returns None when there are no few-shot results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = collect_results(spec) if results is None else results
    panels = [(s, d) for s in spec.settings for d in spec.domains
              if any(results.get((s, d, a.name, f)) for a in spec.arms for f in spec.few_shot)]
    if not panels:
        return None
    ncols = min(3, len(panels))
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
    sizes: List[Optional[str]] = list(spec.few_shot) + ([None] if spec.full else [])
    for ax, (setting, domain) in zip(axes.flat, panels):
        curves: Dict[str, Dict[float, Tuple[float, float]]] = {}
        for arm in spec.arms:
            pts: Dict[float, Tuple[float, float]] = {}
            for size in sizes:
                rs = results.get((setting, domain, arm.name, size))
                if not rs:
                    continue
                ns = [r.get("n_train") for r in rs if r.get("n_train")]
                if not ns:
                    continue
                agg = aggregate(rs)
                pts[sum(ns) / len(ns)] = (100 * agg["f1"]["mean"], 100 * agg["f1"]["std"])
            if pts:
                xs = sorted(pts)
                ax.errorbar(xs, [pts[x][0] for x in xs], yerr=[pts[x][1] for x in xs], marker="o",
                            capsize=3, label=arm.name)
                curves[arm.name] = pts
        if "bert" in curves and "nerbert" in curves:
            common = sorted(set(curves["bert"]) & set(curves["nerbert"]))
            if common:
                ax2 = ax.twinx()
                gains = [curves["nerbert"][x][0] - curves["bert"][x][0] for x in common]
                width = [0.25 * x for x in common]
                ax2.bar(common, gains, width=width, alpha=0.3, color="grey")
                ax2.axhline(0.0, color="grey", linewidth=0.6)
                lim = max(1.0, max(abs(g) for g in gains)) * 1.15
                ax2.set_ylim(-lim, lim)  # zero in the middle: gains and losses read alike
                ax2.set_ylabel("NER-BERT − BERT (F1, bars)")
                ax.set_zorder(ax2.get_zorder() + 1)  # the curves over the bars
                ax.patch.set_visible(False)
        ax.set_xscale("log")
        xs_all = sorted({x for pts in curves.values() for x in pts})
        ax.set_xticks(xs_all)
        ax.set_xticklabels([f"{x:g}" for x in xs_all])
        ax.minorticks_off()
        ax.set_xlabel("training sentences")
        ax.set_ylabel("F1 (%)")
        ax.set_title(f"{domain} ({setting})")
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}")
    fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    os.replace(tmp, out)
    return out


def write_grid_report(spec: GridSpec) -> Tuple[str, Optional[str]]:
    """Write ``docs_dir/<name>.md`` (and the few-shot curves, :attr:`GridSpec.plot_name`, when
    there are few-shot results).

    spec (GridSpec): The grid.
    RETURNS (Tuple[str, Optional[str]]): Paths of the markdown file and of the plot (or None).
    """
    results = collect_results(spec)
    docs = Path(spec.docs_dir)
    plot = None
    if spec.few_shot:
        plot = plot_fewshot(spec, docs / spec.plot_name, results)
    md = render_grid_markdown(spec, results, plot.name if plot else None)
    md_path = docs / f"{spec.name}.md"
    write_text_atomic(md_path, md)
    return str(md_path), str(plot) if plot else None


def _main(argv: Sequence[str]) -> int:
    """Subprocess entry: ``python -m nerbert_spacy.grid JOB.json``."""
    job = srsly.read_json(argv[0])
    result = train_and_evaluate(job)
    write_json_atomic(job["result_file"], result)
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through run_subprocess
    sys.exit(_main(sys.argv[1:]))
