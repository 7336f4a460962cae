import math
import warnings

import pytest
import torch

from builder.attention import ATTENTION_BACKENDS, MaskSpec, eager_attention
from zoo.schema import LocalAttention

warnings.filterwarnings("ignore", message=".*flex_attention called without torch.compile.*")


def _naive(q, k, v, scale, allowed, bias, softcap):
    """Per-head loop with K/V copied per query head: an independent reference for the eager path."""
    groups = q.shape[1] // k.shape[1]
    out = torch.empty_like(q)
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            scores = q[b, h] @ k[b, h // groups].T * scale
            if bias is not None:
                scores = scores + bias[0, h]
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
    "softcap": dict(causal=True, softcap=5.0),
    "offset_queries": dict(causal=True, local=LocalAttention.sliding, window=6, offset=True),
}


def _case(name, heads=4, kv_heads=2):
    case = dict(CASES[name])
    torch.manual_seed(0)
    q_len = 4 if case.pop("offset", False) else 13
    q, k, v = torch.randn(2, heads, q_len, 8), torch.randn(2, kv_heads, 13, 8), torch.randn(2, kv_heads, 13, 8)
    valid = None
    if case.pop("padded", False):
        valid = torch.ones(2, 13, dtype=torch.bool)
        valid[1, :3] = False
    mask = MaskSpec(torch.arange(13 - q_len, 13), torch.arange(13), key_valid=valid, **{
        key: case[key] for key in ("causal", "local", "window") if key in case})
    bias = torch.randn(1, heads, q_len, 13) if case.get("bias") else None
    return q, k, v, mask, bias, case.get("softcap")


def _assert_close_where_defined(got, expected, mask):
    """Compare query rows that see at least one key (a fully padded row's output is arbitrary)."""
    rows = mask.dense().any(-1, keepdim=True).expand_as(got) if mask.restricts else torch.ones_like(got, dtype=torch.bool)
    torch.testing.assert_close(got[rows], expected[rows], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", list(CASES))
def test_eager_matches_a_naive_per_head_loop(name):
    q, k, v, mask, bias, softcap = _case(name)
    got = eager_attention(q, k, v, 8**-0.5, mask, bias, softcap)
    _assert_close_where_defined(got, _naive(q, k, v, 8**-0.5, mask.dense(), bias, softcap), mask)


@pytest.mark.parametrize("name", [name for name in CASES if name != "softcap"])
def test_sdpa_matches_eager(name):
    q, k, v, mask, bias, softcap = _case(name)
    _assert_close_where_defined(ATTENTION_BACKENDS["sdpa"](q, k, v, 0.3, mask, bias, softcap),
                                eager_attention(q, k, v, 0.3, mask, bias, softcap), mask)


@pytest.mark.parametrize("name", ["sliding", "chunked", "bias", "softcap", "padded"])
def test_flex_matches_eager(name):
    q, k, v, mask, bias, softcap = _case(name)
    _assert_close_where_defined(ATTENTION_BACKENDS["flex"](q, k, v, 0.3, mask, bias, softcap),
                                eager_attention(q, k, v, 0.3, mask, bias, softcap), mask)


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


def test_compiled_flex_the_cuda_path_matches_eager_and_compiles_once(monkeypatch):
    """The compiled flex_attention CUDA runs, exercised on CPU (inference: flex has no CPU backward):
    sliding + soft-cap (Gemma 2), chunked + NoPE (LLaMA 4 Scout) and ALiBi bias (BLOOM) match the eager
    reference, and a second forward of the same shapes compiles nothing new."""
    from torch._dynamo.utils import counters
    from torch.nn.attention.flex_attention import flex_attention

    from builder import attention, build, scale

    compiled = torch.compile(flex_attention, dynamic=False)
    monkeypatch.setattr(attention, "_flex_function", lambda device: compiled)
    with torch.no_grad():
        for key in ("gemma-2-27b", "llama-4-scout", "bloom-176b"):
            model = build(scale(key, "tiny"), seed=0)
            ids = torch.randint(0, model.spec.vocab_size, (2, 96), generator=torch.Generator().manual_seed(0))
            model.set_attention_backend("eager")
            reference = model(ids)
            model.set_attention_backend("flex")
            torch.testing.assert_close(model(ids), reference, atol=1e-5, rtol=1e-5)
            graphs = counters["stats"]["unique_graphs"]
            assert graphs >= 1  # flex really went through torch.compile
            model(ids)
            assert counters["stats"]["unique_graphs"] == graphs, key
