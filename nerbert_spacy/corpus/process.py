"""Processes of the corpus build: one build per output folder, no worker outliving its parent.

- :class:`OutputLock`: a build holds ``DIR/.nerbert-build.lock`` (JSON: pid, host, the
  process's start time) while it runs. A second build of the same folder is refused while
  the owner lives; a lock left by a dead process (``kill -9``, power loss) is taken over, with
  a note saying so. The start time guards against a recycled PID.
- :func:`die_with_parent`: called in a worker process (the pool's initializer, a Dask worker
  plugin), it makes the worker exit as soon as the process that started it is gone: on Linux
  the kernel sends SIGKILL (``prctl(PR_SET_PDEATHSIG)``), and everywhere a watchdog thread
  checks the parent PID twice a second. Without it, ``kill -9`` of the build leaves the
  workers running, writing into the output folder and then blocking on a dead pipe.
"""

import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..errors import NerbertError

__all__ = ["OutputLock", "die_with_parent", "keep_torch_out", "process_start_time", "pid_alive"]

PathLike = Union[str, Path]
_WATCHED: Optional[int] = None


def process_start_time(pid: int) -> Optional[int]:
    """The start time of a process in clock ticks since boot (Linux ``/proc``), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None  # field 22 of stat: starttime


def pid_alive(pid: int, start_time: Optional[int] = None) -> bool:
    """Whether process ``pid`` runs (and is the same process, when its start time is known)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if start_time is not None and process_start_time(pid) not in (None, start_time):
        return False  # the PID was recycled by another process
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


class OutputLock:
    """The lock of a build's output folder; use as a context manager.

    directory (Path): The output folder (must exist).
    RETURNS on enter (OutputLock): with ``notes``, the lines to show the user (a stale lock
        taken over).
    """

    NAME = ".nerbert-build.lock"

    def __init__(self, directory: PathLike) -> None:
        self.path = Path(directory) / self.NAME
        self.notes: List[str] = []
        self._held = False

    @staticmethod
    def owner_record(pid: Optional[int] = None) -> Dict[str, Any]:
        """What the lock file says about its owner (this process by default)."""
        pid = os.getpid() if pid is None else pid
        return {"pid": pid, "host": socket.gethostname(), "start_time": process_start_time(pid)}

    def _owner(self) -> Optional[Dict[str, Any]]:
        try:
            return json.loads(self.path.read_text(encoding="utf8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable: treated as stale

    def acquire(self) -> "OutputLock":
        record = json.dumps(self.owner_record())
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                self._check_owner(self._owner())
                continue
            with os.fdopen(fd, "w", encoding="utf8") as f:
                f.write(record)
            self._held = True
            return self
        raise NerbertError("could not take the build lock (another build keeps taking it)", self.path)

    def _check_owner(self, owner: Optional[Dict[str, Any]]) -> None:
        """Raise while the owner lives; remove a stale lock (with a note)."""
        if owner is None:
            return  # removed meanwhile
        pid, host = owner.get("pid"), owner.get("host")
        if isinstance(pid, int) and host == socket.gethostname() and pid_alive(pid, owner.get("start_time")):
            raise NerbertError(
                f"another build (process {pid}) is still running in this folder; wait for it or stop it first",
                self.path.parent,
            )
        if isinstance(pid, int) and host not in (None, socket.gethostname()):
            raise NerbertError(
                f"the folder is locked by process {pid} on host {host}; if that build is gone, delete {self.path}",
                self.path.parent,
            )
        what = f"process {pid}" if isinstance(pid, int) else "an unreadable lock"
        self.notes.append(f"{self.path.parent}: took over the stale lock of {what}, which is no longer running")
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def release(self) -> None:
        if self._held:
            self._held = False
            owner = self._owner()
            if owner and owner.get("pid") == os.getpid():
                self.path.unlink()

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def keep_torch_out() -> bool:
    """Keep torch out of a process that only builds the corpus (and the workers it forks).

    The build uses spaCy's tokenizer and DocBin only, but importing spaCy imports thinc, which
    imports torch whenever it is installed: 2-3 CPU seconds and a few hundred MB per process.
    Only when neither thinc nor torch is loaded yet (a fresh command-line or worker process,
    not a Python session that already uses them) is torch marked as absent, the way
    ``sys.modules`` documents. RETURNS (bool): Whether torch was kept out.
    """
    if "thinc" in sys.modules or "torch" in sys.modules:
        return False
    sys.modules["torch"] = None  # type: ignore[assignment]
    return True


def _watch(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)


def die_with_parent(kernel_signal: bool = True) -> None:
    """Make this (worker) process exit when its parent process dies. Idempotent per process.

    kernel_signal (bool): Also ask Linux for SIGKILL at the parent's death
        (``PR_SET_PDEATHSIG``). That signal follows the parent *thread* that started the
        process, so it is for workers started by a thread that lives as long as the pool
        (``ProcessPoolExecutor``); elsewhere (Dask) only the watchdog thread is used.
    """
    global _WATCHED
    if _WATCHED == os.getpid():
        return
    _WATCHED = os.getpid()
    parent = os.getppid()
    if kernel_signal and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the watchdog still works
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=_watch, args=(parent,), name="nerbert-parent-watchdog", daemon=True).start()
