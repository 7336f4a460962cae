import math

import pytest
import torch
from torch import nn

from builder import build, scale
from builder.network.init import INIT_STD
from tests.builder.helpers import tiny_arch
from zoo.specfile import spec_paths

RECORDS = [path.stem for path in spec_paths()]


@pytest.mark.parametrize("key", RECORDS)
def test_every_parameter_and_buffer_is_reset_by_its_module(key):
    """Whatever a meta build leaves in memory, init_weights overwrites it: nothing stays NaN."""
    model = build(scale(key, "tiny"), device="meta")
    model.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point():
                tensor.fill_(float("nan"))
    model.init_weights(seed=0)
    left = [name for name, tensor in [*model.named_parameters(), *model.named_buffers()] if tensor.isnan().any()]
    assert left == []


def test_residual_output_projections_are_marked_and_scaled():
    arch = tiny_arch(d_model=256, n_heads=4, n_kv_heads=4, head_dim=64, d_ff=512, n_layers=8)
    model = build(arch, seed=0)
    layer = model.layers[3]
    residual = INIT_STD / math.sqrt(2 * 8)
    for module, std in [(layer.attention.q_proj, INIT_STD), (layer.mlp.up_proj, INIT_STD),
                        (layer.attention.o_proj, residual), (layer.mlp.down_proj, residual)]:
        assert module.weight.std().item() == pytest.approx(std, rel=0.03)


def test_a_module_holding_parameters_it_cannot_initialise_is_refused():
    model = build(tiny_arch(), seed=0)
    model.layers[0].extra = nn.Linear(4, 4)
    with pytest.raises(TypeError, match="layers.0.extra .*does not initialise"):
        model.init_weights(seed=0)


def test_a_tied_head_is_drawn_once_by_the_embedding():
    tied = build(tiny_arch(tied_embeddings=True), seed=5)
    untied = build(tiny_arch(tied_embeddings=False), seed=5)
    assert tied.lm_head.weight is tied.embed_tokens.weight
    assert torch.equal(tied.embed_tokens.weight, untied.embed_tokens.weight)
    assert torch.equal(tied.layers[0].attention.q_proj.weight, untied.layers[0].attention.q_proj.weight)
