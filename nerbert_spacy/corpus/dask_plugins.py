"""Dask worker plugins of the corpus build (imported only on the Dask path: it imports distributed)."""

from distributed.diagnostics.plugin import WorkerPlugin

from .process import die_with_parent, keep_torch_out

__all__ = ["DieWithParent"]


class DieWithParent(WorkerPlugin):
    """Makes each worker of a local cluster exit when the process that started it (the build's
    client, where the local cluster's nannies run) dies, e.g. on ``kill -9``; workers that the
    nanny restarts get it too. The cluster's workers only run corpus tasks, so torch is kept
    out of them as well (:func:`~nerbert_spacy.corpus.process.keep_torch_out`)."""

    name = "nerbert-die-with-parent"

    def setup(self, worker) -> None:  # noqa: ANN001 - distributed's signature
        keep_torch_out()
        die_with_parent(kernel_signal=False)
