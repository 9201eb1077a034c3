"""Run the corpus build on Dask (``dask.distributed``): a local cluster or any scheduler.

The corpus build (:func:`nerbert_spacy.corpus.build.build_corpus`) hands its
per-unit work to a *runner* ``runner(fn, tasks, workers, on_done) -> results``.
:class:`DaskRunner` is such a runner: it submits one Dask task per work unit
(one dump file, or a group of multistream blocks) with ``client.map``, collects
the results with ``as_completed`` and returns them **in task order**. The work
itself is the same code as on the local path (``annotate_unit`` /
``filter_unit``): each task writes its own shard atomically, a rerun skips the
shards that are already finished, and random draws are salted by the unit name,
so the shards and ``stats.json`` are byte-identical to the single-process build
for the same seed, whatever the number of workers.

``scheduler="local"`` starts a ``LocalCluster`` of ``workers`` processes with
one thread each on this machine (each exits when the process that started the
cluster dies: :class:`~nerbert_spacy.corpus.dask_plugins.DieWithParent`);
``scheduler="tcp://host:8786"`` connects to a
running cluster (``dask scheduler`` + ``dask worker``). On a real cluster every
worker must see the dumps, the ontology and the output directory at the same
paths (shared storage): the client builds the type index in the output
directory and the workers open it read-only.

Usage::

    with DaskRunner("local", workers=2) as runner:
        stats = build_corpus(dumps, ontology, types, out, runner=runner)
        peak = runner.worker_peak_rss()
"""

import logging
import resource
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from ..errors import NerbertError

__all__ = [
    "LOCAL",
    "DaskRunner",
    "run_tasks_dask",
    "build_corpus_dask",
    "normalize_scheduler",
    "peak_rss_bytes",
]

LOCAL = "local"
DEFAULT_TIMEOUT: Optional[float] = None  # = Dask's distributed.comm.timeouts.connect (30 s)


def normalize_scheduler(scheduler: Optional[str]) -> str:
    """``"local"`` or a scheduler address with its protocol (``host:8786`` -> ``tcp://host:8786``).

    scheduler (Optional[str]): ``"local"``, ``None`` (= local) or an address.
    RETURNS (str): The normalised value.
    """
    value = (scheduler or LOCAL).strip()
    if not value or value.lower() == LOCAL:
        return LOCAL
    if "://" not in value:
        value = f"tcp://{value}"
    protocol, _, rest = value.partition("://")
    if not protocol or not rest or " " in value:
        raise NerbertError(
            f"not a Dask scheduler address: {scheduler!r} (expected 'local' or 'tcp://HOST:PORT', e.g. tcp://10.0.0.5:8786)"
        )
    return value


def _timeout(timeout: Optional[float]) -> float:
    """Seconds to wait for the scheduler: ``timeout`` or Dask's connect timeout."""
    if timeout is not None:
        return float(timeout)
    import dask
    from dask.utils import parse_timedelta

    return float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="seconds"))


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far, in bytes (``getrusage``; Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class DaskRunner:
    """A corpus-build runner on ``dask.distributed``; use it as a context manager.

    scheduler (str): ``"local"`` (a ``LocalCluster`` on this machine) or a scheduler
        address (``tcp://host:port``).
    workers (int): Worker processes of the local cluster (ignored for an address: the
        cluster's own workers run the tasks).
    timeout (Optional[float]): Seconds to wait for a scheduler address to answer (None:
        Dask's ``distributed.comm.timeouts.connect``).
    memory_limit (Union[str, int, None]): Per-worker memory limit of the local cluster
        (Dask's ``"auto"`` = the machine's memory / workers; 0 or None = no limit).
    retries (int): Times Dask reruns a task whose worker died (tasks are idempotent:
        they write their shard atomically).
    """

    def __init__(
        self,
        scheduler: str = LOCAL,
        workers: int = 1,
        *,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        memory_limit: Union[str, int, None] = "auto",
        retries: int = 0,
    ) -> None:
        self.scheduler = normalize_scheduler(scheduler)
        if workers < 1:
            raise NerbertError(f"workers must be at least 1, got {workers}")
        self.workers = int(workers)
        self.retries = int(retries)
        self.cluster: Any = None
        self.client: Any = None
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:  # pragma: no cover - dask[distributed] is a dependency
            raise NerbertError(f"the Dask runner needs dask[distributed] ({err}); pip install 'dask[distributed]'")
        if self.scheduler == LOCAL:
            try:
                self.cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # no fixed port (8787 may be taken)
                    memory_limit=memory_limit if memory_limit else 0,
                    silence_logs=logging.ERROR,
                )
                self.client = Client(self.cluster, timeout=_timeout(timeout))
                from .dask_plugins import DieWithParent

                self.client.register_plugin(DieWithParent())
            except NerbertError:
                raise
            except Exception as err:
                self.close()
                raise NerbertError(f"could not start a local Dask cluster of {self.workers} workers ({err})") from None
        else:
            try:
                self.client = Client(self.scheduler, timeout=_timeout(timeout))
            except Exception as err:
                self.close()
                raise NerbertError(
                    f"cannot reach the Dask scheduler at {self.scheduler} within {_timeout(timeout):g}s "
                    f"({type(err).__name__}: {err}); start one with `dask scheduler` and workers with "
                    "`dask worker ADDRESS --nthreads 1`, or use --scheduler local"
                ) from None

    # -- runner protocol -------------------------------------------------
    def __call__(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        workers: int = 1,
        on_done: Optional[Callable[[int, int], None]] = None,
    ) -> List[Any]:
        """Run ``fn`` over ``tasks`` on the cluster; results come back in task order.

        fn (Callable): A picklable module-level function of one picklable argument
            (importable on the workers: the package must be installed there).
        tasks (Sequence): The arguments, one Dask task each.
        workers (int): Ignored (the cluster's size decides); kept for the runner signature.
        on_done (Optional[Callable[[int, int], None]]): Called with (done, total) after each task.
        RETURNS (List): ``[fn(t) for t in tasks]``.
        """
        from distributed import as_completed

        if self.client is None:
            raise NerbertError("the Dask runner is closed")
        tasks = list(tasks)
        if not tasks:
            return []
        token = uuid.uuid4().hex[:8]
        name = getattr(fn, "__name__", "task")
        keys = [f"nerbert-{name}-{i:06d}-{token}" for i in range(len(tasks))]
        futures = self.client.map(fn, tasks, key=keys, pure=False, retries=self.retries)
        position = {f.key: i for i, f in enumerate(futures)}
        results: List[Any] = [None] * len(tasks)
        try:
            for done, future in enumerate(as_completed(futures), 1):
                i = position[future.key]
                try:
                    results[i] = future.result()
                except NerbertError:
                    raise
                except Exception as err:
                    raise NerbertError(
                        f"task {i + 1}/{len(tasks)} of {name} failed on a Dask worker "
                        f"({type(err).__name__}: {err}); {_describe(tasks[i])}"
                    ) from None
                future.release()
                if on_done is not None:
                    on_done(done, len(tasks))
        finally:
            self.client.cancel([f for f in futures if not f.done()])
            del futures
        return results

    # -- information -----------------------------------------------------
    def worker_peak_rss(self) -> Dict[str, int]:
        """Peak resident memory of each worker process so far, in bytes.

        RETURNS (Dict[str, int]): Worker address -> ``ru_maxrss`` in bytes.
        """
        if self.client is None:
            raise NerbertError("the Dask runner is closed")
        return {str(k): int(v) for k, v in sorted(self.client.run(peak_rss_bytes).items())}

    def n_workers(self) -> int:
        """RETURNS (int): Workers currently connected to the scheduler."""
        if self.client is None:
            return 0
        return len(self.client.scheduler_info().get("workers", {}))

    def info(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): ``scheduler``, ``address``, ``workers``, ``threads`` per worker."""
        if self.client is None:
            return {"scheduler": self.scheduler, "closed": True}
        workers = self.client.scheduler_info().get("workers", {})
        return {
            "scheduler": self.scheduler,
            "address": self.client.scheduler.address,
            "workers": len(workers),
            "threads": sorted(int(w.get("nthreads", 0)) for w in workers.values()),
        }

    # -- life cycle --------------------------------------------------------
    def close(self) -> None:
        """Close the client, and the local cluster if this runner started one."""
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing must not hide the real error
                pass
        if cluster is not None:
            try:
                cluster.close()
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> "DaskRunner":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DaskRunner({self.scheduler!r}, workers={self.workers})"


def _describe(task: Any) -> str:
    """A short description of a corpus task for error messages (its unit and dump)."""
    if isinstance(task, dict):
        unit = task.get("unit")
        if isinstance(unit, dict):
            return f"unit '{unit.get('name')}' of {unit.get('dump')}"
        if "name" in task:
            return f"unit '{task['name']}'"
    return f"task {str(task)[:80]!r}"


def run_tasks_dask(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    scheduler: str = LOCAL,
    workers: int = 1,
    on_done: Optional[Callable[[int, int], None]] = None,
    *,
    timeout: Optional[float] = DEFAULT_TIMEOUT,
) -> List[Any]:
    """Run ``fn`` over ``tasks`` on Dask once (starts and closes the cluster / client).

    fn (Callable): A picklable module-level function of one argument.
    tasks (Sequence): The arguments, one Dask task each.
    scheduler (str): ``"local"`` or ``tcp://host:port``.
    workers (int): Worker processes of a local cluster.
    on_done (Optional[Callable[[int, int], None]]): Called with (done, total).
    timeout (Optional[float]): Seconds to wait for a scheduler address (None: Dask's default).
    RETURNS (List): ``[fn(t) for t in tasks]``, in task order.
    """
    with DaskRunner(scheduler, workers, timeout=timeout) as runner:
        return runner(fn, tasks, workers, on_done)


def build_corpus_dask(
    dumps: Sequence[Any],
    ontology: Any,
    type_files: Sequence[Any],
    output_dir: Any,
    *,
    scheduler: str = LOCAL,
    workers: int = 1,
    timeout: Optional[float] = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> Dict[str, Any]:
    """:func:`~nerbert_spacy.corpus.build.build_corpus` with its work units on Dask.

    dumps, ontology, type_files, output_dir: as for ``build_corpus``.
    scheduler (str): ``"local"`` or ``tcp://host:port``.
    workers (int): Worker processes of a local cluster.
    timeout (Optional[float]): Seconds to wait for a scheduler address (None: Dask's default).
    **kwargs: Other ``build_corpus`` arguments (seed, label_set, progress, ...).
    RETURNS (Dict[str, Any]): The build's statistics, with ``timings["dask"]`` = the runner's
        ``info()`` and ``timings["worker_peak_rss"]`` = bytes per worker.
    """
    from .build import build_corpus

    with DaskRunner(scheduler, workers, timeout=timeout) as runner:
        stats = build_corpus(dumps, ontology, type_files, output_dir, workers=workers, runner=runner, **kwargs)
        stats = dict(stats)
        timings = dict(stats.get("timings", {}))
        timings["dask"] = runner.info()
        timings["worker_peak_rss"] = runner.worker_peak_rss()
        stats["timings"] = timings
    return stats
