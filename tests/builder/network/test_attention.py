import math
import warnings

import pytest
import torch

from builder.network.mixers.backends import ATTENTION_BACKENDS, DenseBias, eager_attention
from builder.network.mixers.masks import MaskSpec
from builder.network.positions import token_positions
from builder.network.relative import AlibiBias, T5RelativeBias
from tests.builder.helpers import inputs_for
from zoo.schema import LocalAttention

warnings.filterwarnings("ignore", message=".*flex_attention called without torch.compile.*")


def _naive(q, k, v, scale, allowed, bias, softcap):
    """Per-head loop with K/V copied per query head: an independent reference for the eager path (bias dense)."""
    groups = q.shape[1] // k.shape[1]
    out = torch.empty_like(q)
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            scores = q[b, h] @ k[b, h // groups].T * scale
            if bias is not None:
                scores = scores + bias[min(b, bias.shape[0] - 1), h]
            if softcap is not None:
                scores = softcap * torch.tanh(scores / softcap)
            scores = scores.masked_fill(~allowed[min(b, allowed.shape[0] - 1), 0], float("-inf"))
            out[b, h] = scores.softmax(-1) @ v[b, h // groups]
    return out


def test_sliding_window_sees_itself_and_window_minus_one_previous():
    mask = MaskSpec(torch.arange(6), torch.arange(6), causal=True, local=LocalAttention.sliding, window=3).dense()[0, 0]
    assert mask[5].tolist() == [False, False, False, True, True, True]
    assert mask[1].tolist() == [True, True, False, False, False, False]


def test_chunked_attention_stays_inside_the_chunk():
    mask = MaskSpec(torch.arange(7), torch.arange(7), causal=True, local=LocalAttention.chunked, window=3).dense()[0, 0]
    assert mask[4].tolist() == [False, False, False, True, True, False, False]
    assert mask[6].tolist() == [False] * 6 + [True]


CASES = {
    "causal": dict(causal=True),
    "bidirectional": dict(causal=False),
    "sliding": dict(causal=True, local=LocalAttention.sliding, window=4),
    "chunked": dict(causal=True, local=LocalAttention.chunked, window=5),
    "padded": dict(causal=True, padded=True),
    "bias": dict(causal=True, bias=True),
    "alibi": dict(causal=True, alibi=True, padded=True, offset=True),
    "buckets": dict(causal=False, buckets=True, padded=True),  # T5, max distance 6 < 13 tokens: clamped distances
    "softcap": dict(causal=True, softcap=5.0),
    "offset_queries": dict(causal=True, local=LocalAttention.sliding, window=6, offset=True),
}


def _case(name, heads=4, kv_heads=2):
    case = dict(CASES[name])
    torch.manual_seed(0)
    q_len = 4 if case.pop("offset", False) else 13
    q, k, v = torch.randn(2, heads, q_len, 8), torch.randn(2, kv_heads, 13, 8), torch.randn(2, kv_heads, 13, 8)
    valid, k_pos = None, torch.arange(13)
    if case.pop("padded", False):
        valid = torch.ones(2, 13, dtype=torch.bool)
        valid[1, :3] = False
        k_pos = token_positions(13, valid)  # per row: row 1 starts at its first real token
    q_pos = k_pos[..., 13 - q_len:]
    flags = {key: case[key] for key in ("causal", "local", "window") if key in case}
    mask = MaskSpec(q_pos, k_pos, key_valid=valid, **flags)
    bias = None
    if case.get("bias"):
        bias = DenseBias(torch.randn(1, heads, q_len, 13))
    elif case.get("alibi"):
        bias = AlibiBias(heads)(q_pos, k_pos)
    elif case.get("buckets"):
        bias = _t5_bias(heads)(q_pos, k_pos)
    return q, k, v, mask, bias, case.get("softcap")


def _t5_bias(heads):
    """T5 buckets with random weights and a max distance shorter than the cases' 13 tokens."""
    module = T5RelativeBias(num_buckets=8, max_distance=6, n_heads=heads, bidirectional=True)
    torch.nn.init.normal_(module.relative_attention_bias.weight, generator=torch.Generator().manual_seed(1))
    return module


def _assert_close_where_defined(got, expected, mask):
    """Compare query rows that see at least one key (a fully padded row's output is arbitrary)."""
    rows = mask.dense().any(-1, keepdim=True).expand_as(got) if mask.restricts else torch.ones_like(got, dtype=torch.bool)
    torch.testing.assert_close(got[rows], expected[rows], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", list(CASES))
def test_eager_matches_a_naive_per_head_loop(name):
    q, k, v, mask, bias, softcap = _case(name)
    got = eager_attention(q, k, v, 8**-0.5, mask, bias, softcap)
    dense_bias = None if bias is None else bias.dense()
    _assert_close_where_defined(got, _naive(q, k, v, 8**-0.5, mask.dense(), dense_bias, softcap), mask)


@pytest.mark.parametrize("name", [name for name in CASES if name != "softcap"])
def test_sdpa_matches_eager(name):
    q, k, v, mask, bias, softcap = _case(name)
    _assert_close_where_defined(ATTENTION_BACKENDS["sdpa"](q, k, v, 0.3, mask, bias, softcap),
                                eager_attention(q, k, v, 0.3, mask, bias, softcap), mask)


@pytest.mark.parametrize("name", ["sliding", "chunked", "bias", "alibi", "buckets", "softcap", "padded"])
def test_flex_matches_eager(name):
    q, k, v, mask, bias, softcap = _case(name)
    _assert_close_where_defined(ATTENTION_BACKENDS["flex"](q, k, v, 0.3, mask, bias, softcap),
                                eager_attention(q, k, v, 0.3, mask, bias, softcap), mask)


@pytest.mark.parametrize("name", ["causal", "sliding", "padded", "offset_queries"])
@pytest.mark.parametrize("backend", ["sdpa", "flex"])
def test_sinks_join_every_softmax_the_same_way_on_every_backend(name, backend):
    """gpt-oss's per-head sink logits: eager against the definition (a softmax over the scores plus one more
    logit, which weighs no value), then SDPA and flex against eager."""
    q, k, v, mask, _, _ = _case(name)
    sinks = torch.tensor([0.5, -1.0, 2.0, 0.0])
    got = eager_attention(q, k, v, 0.3, mask, None, None, sinks)
    kv = k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1)
    scores = (q @ kv[0].transpose(-1, -2)) * 0.3
    scores = scores.masked_fill(~mask.dense(), float("-inf"))
    with_sink = torch.cat((scores, sinks[None, :, None, None].expand(*scores.shape[:3], 1)), dim=-1).softmax(-1)
    _assert_close_where_defined(got, with_sink[..., :-1] @ kv[1], mask)
    plain = eager_attention(q, k, v, 0.3, mask, None, None)
    assert (got - plain).abs().max() > 1e-3  # the sinks take some of each softmax's mass
    _assert_close_where_defined(ATTENTION_BACKENDS[backend](q, k, v, 0.3, mask, None, None, sinks), got, mask)


def test_flex_t5_table_gradient_matches_eager():
    """flex's score_mod reads T5's per-distance table; the table's gradient through it equals eager's dense one.
    (On CPU flex has no backward for q, k, v; it does differentiate the tensors score_mod reads.)"""
    q, k, v, mask, _, _ = _case("buckets")
    module = _t5_bias(q.shape[1])
    grads = []
    for backend in ("eager", "flex"):
        out = ATTENTION_BACKENDS[backend](q, k, v, 0.3, mask, module(mask.q_pos, mask.k_pos), None)
        (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        grads.append(module.relative_attention_bias.weight.grad)
        module.relative_attention_bias.weight.grad = None
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0], atol=1e-5, rtol=1e-5)


def test_sdpa_refuses_softcap():
    q, k, v, mask, bias, softcap = _case("softcap")
    with pytest.raises(ValueError, match="soft-cap"):
        ATTENTION_BACKENDS["sdpa"](q, k, v, 0.3, mask, bias, softcap)


def test_softcap_bounds_attention_logits():
    """With huge logits the capped softmax keeps every allowed key's weight above exp(-2 cap)."""
    q = torch.full((1, 1, 2, 4), 100.0)
    k = torch.tensor([[[[100.0] * 4, [-100.0] * 4]]])
    v = torch.eye(2)[None, None, :, :].expand(1, 1, 2, 2).contiguous()
    v = torch.cat((v, torch.zeros(1, 1, 2, 2)), dim=-1)
    mask = MaskSpec(torch.tensor([5, 6]), torch.tensor([0, 1]), causal=False)
    out = eager_attention(q, k, v, 1.0, mask, None, softcap=2.0)
    assert out[0, 0, 0, 1].item() == pytest.approx(1 / (1 + math.exp(4)), rel=1e-4)


# (proxy, left-padded batch, create_block_mask calls per forward): one per distinct mask, not one per layer
COMPILED_CASES = [
    ("gemma-2-27b", False, 2),  # sliding + soft-cap, one mask for every row: a local and a global mask
    ("llama-4-scout", True, 2),  # chunked + NoPE, per-row masks: three chunked layers share one
    ("bloom-176b", True, 1),  # ALiBi, computed in score_mod from the slopes
    ("t5-11b", True, 3),  # T5 buckets from a per-distance table; encoder, decoder and cross-attention masks
]


def test_compiled_flex_the_cuda_path_matches_eager_and_compiles_once(monkeypatch):
    """The compiled flex_attention CUDA runs, exercised on CPU (inference: flex has no CPU backward) on tiny
    proxies, unpadded and left-padded: it matches the eager reference, builds one block mask per distinct mask
    per forward, and a second forward of the same shapes compiles nothing new."""
    from torch._dynamo.utils import counters
    from torch.nn.attention import flex_attention as flex_module

    from builder import build, scale
    from builder.network.mixers import backends

    compiled = torch.compile(flex_module.flex_attention, dynamic=False)
    monkeypatch.setattr(backends, "_flex_function", lambda device: compiled)
    calls = []
    create_block_mask = flex_module.create_block_mask

    def counted_create_block_mask(*args, **kwargs):
        calls.append(1)
        return create_block_mask(*args, **kwargs)

    monkeypatch.setattr(flex_module, "create_block_mask", counted_create_block_mask)
    # 128 tokens, past gemma tiny's 64-token window and a whole number of blocks: torch 2.13's compiled CPU flex
    # kernel gives NaN or wrong rows at 40 tokens with 16-wide heads on an AVX2 CPU (the CUDA kernel does not)
    padding = torch.ones(2, 128, dtype=torch.long)
    padding[1, :7] = 0
    with torch.no_grad():
        for key, padded, block_masks in COMPILED_CASES:
            model = build(scale(key, "tiny"), seed=0).eval()
            kwargs = inputs_for(model, length=128)
            if padded:
                kwargs["attention_mask"] = padding
                if model.encoder_layers is not None:
                    kwargs["encoder_attention_mask"] = torch.cat((padding, padding[:, :3]), dim=1)
            model.set_attention_backend("eager")
            reference = model(**kwargs)
            model.set_attention_backend("flex")
            calls.clear()
            torch.testing.assert_close(model(**kwargs), reference, atol=1e-5, rtol=1e-5)
            assert len(calls) == block_masks, (key, padded)
            graphs = counters["stats"]["unique_graphs"]
            assert graphs >= 1  # flex really went through torch.compile
            model(**kwargs)
            assert counters["stats"]["unique_graphs"] == graphs, (key, padded)


@pytest.mark.parametrize("changes, backend, masks", [
    (dict(layer_pattern="LG", local_attention="sliding", attn_softcap=30.0), "eager", 2),  # a local and a global mask
    (dict(layer_pattern="L", local_attention="sliding"), "sdpa", 1),  # every layer sliding: one
    (dict(layer_pattern="LLLG", local_attention="chunked"), "sdpa", 1),  # global layers use SDPA's plain causal
])
def test_eager_and_sdpa_build_each_distinct_mask_once_per_forward(changes, backend, masks, monkeypatch):
    from builder import build
    from builder.network.mixers.masks import MaskSpec
    from tests.builder.helpers import tiny_arch

    model = build(tiny_arch(n_layers=8, sliding_window=8, **changes), seed=0).eval()
    model.set_attention_backend(backend)
    built = []
    dense = MaskSpec.dense
    monkeypatch.setattr(MaskSpec, "dense", lambda self: built.append(1) or dense(self))
    with torch.no_grad():
        model(**inputs_for(model, length=24))
    assert len(built) == masks
