"""Dask worker plugins of the corpus build (imported only on the Dask path: it imports distributed)."""

from distributed.diagnostics.plugin import WorkerPlugin

from .process import die_with_parent

__all__ = ["DieWithParent"]


class DieWithParent(WorkerPlugin):
    """Makes each worker of a local cluster exit when the process that started it (the build's
    client, where the local cluster's nannies run) dies, e.g. on ``kill -9``; workers that the
    nanny restarts get it too."""

    name = "nerbert-die-with-parent"

    def setup(self, worker) -> None:  # noqa: ANN001 - distributed's signature
        die_with_parent(kernel_signal=False)
