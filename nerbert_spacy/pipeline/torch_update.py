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


def _restore_config_floats(shim: Any, bytes_data: bytes) -> None:
    """Put back the encoder config's floats that spacy-transformers' ``HFShim.from_bytes`` loses.

    ``from_bytes`` writes the saved config dict to a temporary ``config.json`` with
    ``srsly.write_json``, whose float precision turns BERT's ``layer_norm_eps = 1e-12`` into 0.0,
    and builds the encoder from that file: a loaded pipeline's LayerNorms divide by
    ``sqrt(var + 0)``, not the ``sqrt(var + 1e-12)`` they were trained with. The saved dict
    (msgpack) keeps the exact values; every float that differs is set again on the config, and
    ``layer_norm_eps`` on the LayerNorm modules.
    """
    import srsly
    import torch

    model = getattr(shim, "_model", None)
    if model is None or getattr(model, "config", None) is None:
        return
    saved = srsly.msgpack_loads(bytes_data).get("config") or {}
    for key, value in saved.items():
        if not isinstance(value, float) or getattr(model.config, key, value) == value:
            continue
        setattr(model.config, key, value)
        if key == "layer_norm_eps":
            for module in model.modules():
                if isinstance(module, torch.nn.LayerNorm):
                    module.eps = value


def keep_config_floats(shim: Any) -> Any:
    """Make ``shim`` (a spacy-transformers ``HFShim``) load its encoder config's floats exactly
    (see :func:`_restore_config_floats`).

    shim (HFShim): The shim, e.g. ``transformer_model.layers[0].shims[0]``.
    RETURNS (HFShim): The same shim.
    """
    load = shim.from_bytes

    def from_bytes(bytes_data: bytes) -> Any:
        result = load(bytes_data)
        _restore_config_floats(shim, bytes_data)
        return result

    shim.from_bytes = from_bytes
    return shim
