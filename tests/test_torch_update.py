"""The encoder's weights are updated in place: the same weights as thinc's own update,
without the chain of tensors thinc's ``PyTorchShim.finish_update`` leaves behind."""
import gc
import types

import numpy
import spacy
from helpers import person_city_examples
from thinc.api import fix_random_seed
from thinc.shims.pytorch import PyTorchShim

from nerbert_spacy.pipeline.torch_update import update_in_place


def _tagger(tiny_bert, *, thinc_update: bool):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    model = {
        "@architectures": "nerbert.TransformerModel.v1",
        "name": str(tiny_bert),
        "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
    }
    nlp.add_pipe("transformer", config={"model": model})
    nlp.add_pipe("bio_tagger", config={"model": {
        "@architectures": "nerbert.BioTagger.v1",
        "tok2vec": {"@architectures": "spacy-transformers.TransformerListener.v1", "grad_factor": 1.0,
                    "pooling": {"@layers": "nerbert.reduce_first.v1"}},
    }})
    shim = nlp.get_pipe("transformer").model.layers[0].shims[0]
    if thinc_update:
        shim.finish_update = types.MethodType(PyTorchShim.finish_update, shim)
    examples = person_city_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 1e-3
    return nlp, shim, examples, optimizer


def _objects_per_update(nlp, examples, optimizer, updates: int) -> float:
    fix_random_seed(1)  # the encoder's own dropout draws from torch's generator
    nlp.update(examples, sgd=optimizer, drop=0.0)  # warm-up: lazily made objects
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(updates):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    gc.collect()
    return (len(gc.get_objects()) - before) / updates


def test_same_weights_as_thinc_update_and_no_growing_chain(tiny_bert):
    ours, our_shim, examples, our_opt = _tagger(tiny_bert, thinc_update=False)
    theirs, their_shim, their_examples, their_opt = _tagger(tiny_bert, thinc_update=True)
    n_params = sum(1 for _ in our_shim._model.parameters())
    assert n_params > 10

    ptr_before = {name: p.data_ptr() for name, p in our_shim._model.named_parameters()}
    start = {name: p.detach().numpy().copy() for name, p in our_shim._model.named_parameters()}
    leak_ours = _objects_per_update(ours, examples, our_opt, updates=6)
    leak_theirs = _objects_per_update(theirs, their_examples, their_opt, updates=6)
    # thinc's update leaves an object per updated parameter per update (the pooler gets no
    # gradient from the tagger); ours leaves none
    assert leak_theirs >= n_params * 0.9, (leak_theirs, leak_ours, n_params)
    assert leak_ours < n_params / 4, (leak_theirs, leak_ours, n_params)
    assert {name: p.data_ptr() for name, p in our_shim._model.named_parameters()} == ptr_before

    mine = dict(our_shim._model.named_parameters())
    for name, param in their_shim._model.named_parameters():
        numpy.testing.assert_allclose(mine[name].detach().numpy(), param.detach().numpy(), rtol=1e-5, atol=1e-6)
    moved = [name for name, p in mine.items() if not numpy.array_equal(p.detach().numpy(), start[name])]
    assert len(moved) >= n_params * 0.9


def test_an_optimizer_result_in_other_memory_is_copied_in(tiny_bert):
    nlp, shim, examples, optimizer = _tagger(tiny_bert, thinc_update=False)
    name, param = next(iter(shim._model.named_parameters()))
    before = param.detach().numpy().copy()
    param.grad = param.data.clone().fill_(1.0)

    def new_array(key, weights, gradient):  # an optimizer that returns fresh memory
        return weights - 0.5 * gradient, gradient

    for _, other in shim._model.named_parameters():
        if other is not param:
            other.grad = None
    update_in_place(shim).finish_update(new_array)
    numpy.testing.assert_allclose(param.detach().numpy(), before - 0.5)
    assert float(param.grad.abs().sum()) == 0.0


def test_a_saved_encoder_loads_with_its_layer_norm_epsilon(tiny_bert, tmp_path):
    """spacy-transformers rebuilds a saved encoder from its config written as JSON by srsly, which
    rounds BERT's layer_norm_eps 1e-12 to 0.0; the pipelines of this package get it back, so the
    loaded encoder is the one that was trained and its outputs are the same."""
    import torch

    nlp, shim, examples, _ = _tagger(tiny_bert, thinc_update=False)
    assert shim._model.config.layer_norm_eps == 1e-12
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    encoder = loaded.get_pipe("transformer").model.layers[0].shims[0]._model
    eps = {m.eps for m in encoder.modules() if isinstance(m, torch.nn.LayerNorm)}
    assert eps == {1e-12} and encoder.config.layer_norm_eps == 1e-12
    # saved again, it stays exact; and both pipelines give the same encoder output
    loaded.to_disk(tmp_path / "q")
    again = spacy.load(tmp_path / "q").get_pipe("transformer").model.layers[0].shims[0]._model
    assert again.config.layer_norm_eps == 1e-12
    text = "Ada Lovelace was born in London ."
    before = nlp("Ada Lovelace was born in London .")._.trf_data.model_output.last_hidden_state
    after = loaded(text)._.trf_data.model_output.last_hidden_state
    numpy.testing.assert_allclose(numpy.asarray(before), numpy.asarray(after), rtol=0, atol=0)
