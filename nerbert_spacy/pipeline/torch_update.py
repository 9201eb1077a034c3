"""Encoder weights updated in place, so a long training run does not leak.

thinc's ``PyTorchShim.finish_update`` (thinc 8.3) gives every parameter the
optimizer's result as a *new* tensor: ``torch_data.data = xp2torch(param)``.
On the CPU ``param`` is the numpy view ``torch2xp`` made of the old tensor
(thinc's Adam updates it in place), and the new tensor made from it through
DLPack keeps that view, which keeps the old tensor, which keeps the view
before it... The weights share one buffer, so the chain costs no weight
memory, but it grows by a few Python objects per parameter per update
(measured: about 0.4 KB per tensor per update, 43 KB per update for
MiniLM-L6; docs/benchmarks.md, "What grows") and is never freed.

:func:`update_in_place` gives one shim a ``finish_update`` that does the same
update and keeps the parameter's tensor: the optimizer works on the tensor's
own memory, and a result in other memory (an optimizer that returns a new
array) is copied into it. Same arithmetic, same optimizer keys, same grad
scaler handling as thinc's.
"""
import types
from typing import Any

from thinc.util import torch2xp, xp2torch


def _finish_update_in_place(self: Any, optimizer: Any) -> None:
    for name, torch_data in self._model.named_parameters():
        if torch_data.grad is None:
            continue
        if not self._grad_scaler.found_inf:  # skip the update if a gradient overflowed
            param, _ = optimizer((self.id, name), torch2xp(torch_data.data), torch2xp(torch_data.grad))
            result = xp2torch(param, device=torch_data.device)
            if result.data_ptr() != torch_data.data.data_ptr():
                torch_data.data.copy_(result)
        torch_data.grad.zero_()
    self._grad_scaler.update()


def update_in_place(shim: Any) -> Any:
    """Make ``shim`` (a thinc ``PyTorchShim``) update its parameters in place.

    shim (PyTorchShim): The shim, e.g. ``transformer_model.layers[0].shims[0]``.
    RETURNS (PyTorchShim): The same shim.
    """
    shim.finish_update = types.MethodType(_finish_update_in_place, shim)
    return shim
