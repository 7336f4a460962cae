import math

import pytest
import torch

from builder import build, scale
from tests.builder.helpers import inputs_for
from zoo.accounting import param_counts
from zoo.scaling import PRESETS
from zoo.specfile import load_spec, spec_paths

RECORDS = spec_paths()


@pytest.mark.parametrize("path", RECORDS, ids=[path.stem for path in RECORDS])
def test_tiny_proxy_trains_a_step_with_gradients_everywhere(path):
    proxy = scale(path.stem, "tiny")
    model = build(proxy, seed=0)
    assert model.source == f"{path.stem}@tiny" and proxy.key == path.stem
    inputs = inputs_for(model, length=24)
    _, loss = model(**inputs, labels=inputs["input_ids"])
    loss.backward()
    assert torch.isfinite(loss)
    for name, parameter in model.named_parameters():
        if name.startswith("pooler."):  # the pooler serves classification heads, not the LM loss
            continue
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("path", RECORDS, ids=[path.stem for path in RECORDS])
def test_proxies_keep_the_shape_ratios(path):
    source = load_spec(path).architecture
    for preset in ("tiny", "small"):
        proxy = scale(path.stem, preset).architecture
        assert proxy.layer_pattern == source.layer_pattern and proxy.n_layers % len(source.layer_pattern) == 0
        if source.n_kv_heads > 1:  # MQA stays MQA: one KV head whatever the query heads
            assert proxy.n_heads // proxy.n_kv_heads == source.n_heads // source.n_kv_heads
        assert proxy.attention == source.attention
        assert abs(proxy.ffn_ratio - source.ffn_ratio) / source.ffn_ratio < 0.1
        assert proxy.moe == (None if source.moe is None else source.moe.model_copy(
            update={"expert_d_ff": proxy.moe.expert_d_ff, "first_dense": proxy.moe.first_dense}))
        if source.moe is not None and source.moe.first_dense:  # leading dense layers stay, before MoE layers
            assert 1 <= proxy.moe.first_dense < proxy.n_layers
        assert proxy.vocab_size == min(source.vocab_size, PRESETS[preset].vocab_cap)
        if source.sliding_window is not None:
            wanted = source.sliding_window / source.context_length * proxy.context_length
            assert proxy.sliding_window == min(max(8, round(wanted)), proxy.context_length - 1)
        for field in ("norm", "norm_position", "activation", "position", "qk_norm", "parallel_block", "arch"):
            assert getattr(proxy, field) == getattr(source, field)


def test_small_and_1b_presets_land_near_their_targets():
    for preset, target in (("small", 100e6), ("1b", 1e9)):
        proxy = scale("llama-2-7b", preset).architecture
        assert abs(math.log(param_counts(proxy).total / target)) < math.log(1.3)
        assert 0.5 < proxy.aspect_ratio / 128 < 2  # LLaMA 2 7B: 4096 / 32


def test_integer_targets_and_invalid_targets():
    proxy = scale("mistral-7b", 300_000_000).architecture
    assert abs(math.log(param_counts(proxy).total / 3e8)) < math.log(1.3)
    with pytest.raises(ValueError, match="accepted: tiny, small, 1b"):
        scale("mistral-7b", "huge")
    with pytest.raises(ValueError, match="accepted"):
        scale("mistral-7b", -5)
