"""The FLOP convention of FLOPS.md: the analytic count against FlopCounterMode on the proxies themselves."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from builder import build, scale
from builder.bench.flop_counter import attention_flop_counter
from builder.bench.runner import model_inputs
from builder.network.mixers.masks import MaskSpec
from tests.builder.helpers import tiny_arch
from zoo.accounting import param_counts
from zoo.flops import attended_keys, attended_pairs, decode_flops_per_token, flop_breakdown, flops_per_token
from zoo.plan import plan_model
from zoo.schema import LocalAttention
from zoo.variants import load_record

SEQ = 96  # longer than every tiny proxy's window or chunk, shorter than its context
RELATIVE = 1e-9

# proxy -> what it exercises (the table in FLOPS.md)
CHECKED = {
    "gpt2-xl": "dense MHA with biased projections",
    "llama-3-8b": "GQA, gated MLP",
    "mistral-7b": "GQA with a sliding window shorter than the sequence",
    "llama-4-scout": "chunked local layers, NoPE global layers, MoE with a shared expert",
    "mixtral-8x7b": "MoE, top-2 of 8",
    "t5-11b": "encoder-decoder with relative-bias masks and cross-attention",
    "bert-large": "bidirectional encoder with an MLM transform head",
}


def _proxy(key: str):
    return build(scale(key, "tiny"), device="cpu", seed=0)


def _counted(run) -> int:
    counter = attention_flop_counter()
    with counter:
        run()
    return counter.get_total_flops()


@pytest.mark.parametrize("key", CHECKED)
def test_forward_flops_equal_the_counter(key):
    model = _proxy(key).eval()
    inputs = model_inputs(model.spec, 2, SEQ, torch.device("cpu"), seed=0)
    with torch.no_grad():
        counted = _counted(lambda: model(**inputs))
    analytic = flops_per_token(model.spec, SEQ, "forward") * 2 * SEQ
    assert analytic == pytest.approx(counted, rel=RELATIVE)


def _train_step_counted(key: str, batch: int = 2):
    model = _proxy(key).train()
    inputs = model_inputs(model.spec, batch, SEQ, torch.device("cpu"), seed=0)
    labels = inputs["input_ids"].roll(-1, dims=1)
    return model.spec, _counted(lambda: model(**inputs, labels=labels).loss.backward())


@pytest.mark.parametrize("key", ["llama-3-8b", "mistral-7b", "mixtral-8x7b"])
def test_train_step_flops_are_three_forwards_and_equal_the_counter(key):
    arch, counted = _train_step_counted(key)
    assert flops_per_token(arch, SEQ, "train") * 2 * SEQ == pytest.approx(counted, rel=RELATIVE)
    assert flops_per_token(arch, SEQ, "train") == pytest.approx(3 * flops_per_token(arch, SEQ))


def test_t5_training_runs_its_causal_biased_attention_as_the_full_square():
    """A learned bias that needs a gradient sends SDPA to its math path, which scores every pair and masks
    after: forward and backward exceed the convention by exactly the masked pairs of the decoder layers."""
    arch, counted = _train_step_counted("t5-11b", batch=1)
    masked_pairs = sum(SEQ * SEQ - attended_pairs(layer, SEQ) for layer in plan_model(arch).decoder)
    excess = 3 * 4 * arch.n_heads * arch.head_dim * masked_pairs
    assert counted - flops_per_token(arch, SEQ, "train") * SEQ == pytest.approx(excess, rel=RELATIVE)


def _forward_excess(key: str):
    """(arch, counted minus the convention's FLOPs) of one forward of a batch of 2."""
    model = _proxy(key).eval()
    inputs = model_inputs(model.spec, 2, SEQ, torch.device("cpu"), seed=0)
    with torch.no_grad():
        counted = _counted(lambda: model(**inputs))
    return model.spec, counted - flops_per_token(model.spec, SEQ, "forward") * 2 * SEQ


def test_latent_attention_on_a_cpu_scores_the_full_square():
    """MLA's values are narrower than its queries and keys, which sends CPU SDPA to its math path: it scores every
    (query, key) pair and masks after, so the counter exceeds the convention by exactly the masked pairs."""
    arch, excess = _forward_excess("deepseek-v3")
    masked_pairs = sum(SEQ * SEQ - attended_pairs(layer, SEQ) for layer in plan_model(arch).decoder)
    assert excess == pytest.approx(2 * 2 * arch.n_heads * (arch.head_dim + arch.mla.v_head_dim) * masked_pairs,
                                   rel=RELATIVE)


def test_sdpa_scores_one_zero_key_per_query_for_the_sinks():
    """SDPA takes gpt-oss's sinks as one more key of zeros per query (a logit, no value): the counter exceeds the
    convention, which counts only real keys, by one pair per query, head and layer."""
    arch, excess = _forward_excess("gpt-oss-20b")
    assert excess == pytest.approx(2 * SEQ * arch.n_layers * 4 * arch.n_heads * arch.head_dim, rel=RELATIVE)


@pytest.mark.parametrize("key", ["llama-3-8b", "mistral-7b", "llama-4-scout", "t5-11b"])
def test_a_decode_step_equals_the_counter(key):
    model = _proxy(key).eval()
    prompt = SEQ  # past every window: the cache holds only what the window keeps
    inputs = model_inputs(model.spec, 2, prompt, torch.device("cpu"), seed=0)
    cache = model.new_cache(prompt + 1)
    with torch.no_grad():
        model(**inputs, cache=cache)
        token = inputs["input_ids"][:, -1:]
        counted = _counted(lambda: model(token, cache=cache))
    analytic = flops_per_token(model.spec, prompt + 1, "decode", source_len=prompt) * 2
    assert analytic == pytest.approx(counted, rel=RELATIVE)


def test_eager_attention_counts_the_full_square_and_the_excess_is_exactly_the_masked_pairs():
    model = _proxy("gemma-2-9b").eval()  # soft-capped: eager on CPU
    arch = model.spec
    assert set(model.attention_backends().values()) == {"eager"}
    inputs = model_inputs(arch, 1, SEQ, torch.device("cpu"), seed=0)
    with torch.no_grad():
        counted = _counted(lambda: model(**inputs))
    masked_pairs = sum(SEQ * SEQ - attended_pairs(layer, SEQ) for layer in plan_model(arch).decoder)
    excess = 4 * arch.n_heads * arch.head_dim * masked_pairs
    assert counted - flops_per_token(arch, SEQ) * SEQ == pytest.approx(excess, rel=RELATIVE)


def _sdpa_counted(q, k, v, **kwargs) -> int:
    return _counted(lambda: F.scaled_dot_product_attention(q, k, v, **kwargs))


def test_cpu_flash_kernel_is_counted_by_attended_pairs():
    batch, heads, kv_heads, n, d = 2, 4, 2, 10, 8
    q = torch.randn(batch, heads, n, d)
    k, v = torch.randn(batch, kv_heads, n, d), torch.randn(batch, kv_heads, n, d)
    per_pair = 4 * d * batch * heads
    assert _sdpa_counted(q, k, v, enable_gqa=True) == per_pair * n * n
    assert _sdpa_counted(q, k, v, is_causal=True, enable_gqa=True) == per_pair * n * (n + 1) // 2
    window = torch.ones(n, n, dtype=torch.bool).tril().triu(-2)  # each query: itself and two before
    assert _sdpa_counted(q, k, v, attn_mask=window, enable_gqa=True) == per_pair * int(window.sum())
    additive = torch.zeros(n, n).masked_fill(~window, torch.finfo(torch.float32).min) + torch.randn(n, n)
    assert _sdpa_counted(q, k, v, attn_mask=additive, enable_gqa=True) == per_pair * int(window.sum())


def test_cpu_flash_backward_is_twice_the_forward():
    q, k, v = (torch.randn(1, 2, 12, 8, requires_grad=True) for _ in range(3))
    forward = _sdpa_counted(q.detach(), k.detach(), v.detach(), is_causal=True)
    both = _counted(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward())
    assert both == 3 * forward


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(1, 70),
    window=st.integers(1, 20),
    kind=st.sampled_from([None, LocalAttention.sliding, LocalAttention.chunked]),
    causal=st.booleans(),
)
def test_attended_pairs_and_keys_match_the_builders_mask(length, window, kind, causal):
    from zoo.plan import AttentionPlan
    from zoo.schema import Position, TokenMixer

    causal = causal or kind is not None  # local layers exist only in (causal) decoders
    layer = AttentionPlan(mixer=TokenMixer.attention, causal=causal, local=kind, window=window if kind else None,
                          position=Position.none, rope=None, scale=1.0, temperature=None, qk_norm=None, cross=False)
    positions = torch.arange(length)
    mask = MaskSpec(positions, positions, causal, kind, layer.window).dense()[0, 0].expand(length, length)
    assert attended_pairs(layer, length) == int(mask.sum())
    if causal:
        assert attended_keys(layer, length) == int(mask[-1].sum())


def test_llama_2_7b_matches_the_six_n_plus_attention_rule():
    """Forward FLOPs = 2 x (matmul weights, tied or not) + causal attention, written out independently."""
    arch = load_record("llama-2-7b").architecture
    n = 2048
    counts = param_counts(arch)
    norms = (2 * arch.n_layers + 1) * arch.d_model
    matmul_weights = counts.non_embedding - norms + arch.vocab_size * arch.d_model  # + output projection
    attention = arch.n_layers * 4 * arch.n_heads * arch.head_dim * (n + 1) / 2
    assert flops_per_token(arch, n) == pytest.approx(2 * matmul_weights + attention, rel=RELATIVE)
    assert flops_per_token(arch, n, "train") == pytest.approx(3 * (2 * matmul_weights + attention), rel=RELATIVE)


def test_tied_and_untied_heads_cost_the_same():
    assert flops_per_token(tiny_arch(tied_embeddings=True), 32) == flops_per_token(tiny_arch(tied_embeddings=False), 32)


def test_gqa_saves_projections_but_not_attention():
    mha, gqa = tiny_arch(n_kv_heads=4), tiny_arch(n_kv_heads=1)
    saved = 2 * 2 * 32 * (4 - 1) * 8 * 2  # k and v, 2 FLOPs per MAC, d_model 32, three fewer heads of 8, two layers
    assert flop_breakdown(mha, 32).projections - flop_breakdown(gqa, 32).projections == saved
    assert flop_breakdown(mha, 32).attention == flop_breakdown(gqa, 32).attention


def test_moe_counts_only_the_experts_a_token_visits():
    moe = dict(n_experts=8, experts_per_token=2, expert_d_ff=16, router="topk-softmax")
    two_of_eight = flop_breakdown(tiny_arch(moe=moe), 32).mlp
    two_of_sixty_four = flop_breakdown(tiny_arch(moe={**moe, "n_experts": 64}), 32).mlp
    assert two_of_sixty_four - two_of_eight == 2 * 2 * 32 * (64 - 8)  # only the router grows, two layers


def test_decode_mean_is_over_the_generated_contexts():
    arch = tiny_arch(layer_pattern="LG", local_attention="sliding", sliding_window=8)
    expected = sum(flops_per_token(arch, n, "decode") for n in range(17, 21)) / 4
    assert decode_flops_per_token(arch, prompt=16, new=4) == pytest.approx(expected)


def test_bad_mode_and_encoder_decode_are_refused():
    with pytest.raises(ValueError, match="unknown mode 'backward'"):
        flops_per_token(tiny_arch(), 8, "backward")
    encoder = load_record("bert-large").architecture
    with pytest.raises(ValueError, match="decode needs a decoder"):
        flops_per_token(encoder, 8, "decode")
