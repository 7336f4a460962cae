import math

import pytest
import torch
import torch.nn.functional as F

from builder.network import grouped as grouped_module
from builder.network.mlp import MLP, activation_fn
from builder.network.moe import ROUTERS, MoE
from tests.builder.helpers import tiny_arch
from zoo.schema import Router


def test_gelu_variants_match_their_formulas():
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    exact = activation_fn(tiny_arch(activation="gelu"))(x)
    tanh = activation_fn(tiny_arch(activation="gelu", gelu_tanh=True))(x)
    torch.testing.assert_close(exact, 0.5 * x * (1 + torch.erf(x / math.sqrt(2))))
    torch.testing.assert_close(tanh, 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))))
    assert (exact - tanh).abs().max() > 1e-5


@pytest.mark.parametrize("activation, base", [("swiglu", torch.nn.functional.silu), ("reglu", torch.relu),
                                              ("geglu", torch.nn.functional.gelu)])
def test_gated_mlp_multiplies_activated_gate_by_up(activation, base):
    mlp = MLP(tiny_arch(activation=activation), 16)
    x = torch.randn(3, 32)
    expected = mlp.down_proj(base(mlp.gate_proj(x)) * mlp.up_proj(x))
    torch.testing.assert_close(mlp(x), expected)


def test_plain_mlp_has_no_gate_and_mlp_bias_overrides_linear_bias():
    mlp = MLP(tiny_arch(activation="relu", mlp_bias=True), 16)
    assert mlp.gate_proj is None and mlp.up_proj.bias is not None and mlp.down_proj.bias is not None


def test_routers_against_their_definitions():
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0]])
    weights, index = ROUTERS[Router.topk_softmax](logits, logits, 2)
    assert index.tolist() == [[0, 1]]
    torch.testing.assert_close(weights, torch.tensor([[math.e / (math.e + 1), 1 / (math.e + 1)]]))
    weights, _ = ROUTERS[Router.softmax_topk](logits, logits.softmax(-1), 2)
    torch.testing.assert_close(weights, logits.softmax(-1)[:, :2])
    weights, _ = ROUTERS[Router.topk_sigmoid](logits, logits, 1)
    torch.testing.assert_close(weights, torch.sigmoid(torch.tensor([[2.0]])))


def _expert(moe, x, e):
    """Expert e of a MoE on x, written out from its stacked weights."""
    experts = moe.experts
    if not experts.gated:
        return F.linear(experts.act(F.linear(x, experts.up_proj[e])), experts.down_proj[e])
    gate, up = experts.gate_up_proj[e].chunk(2, dim=0)  # gate rows, then up rows
    return F.linear(experts.act(F.linear(x, gate)) * F.linear(x, up), experts.down_proj[e])


@pytest.mark.parametrize("grouped", [True, False], ids=["grouped_mm", "per-expert matmuls"])
@pytest.mark.parametrize("router, gate_input, activation", [
    ("topk-softmax", "output", "swiglu"), ("softmax-topk", "output", "gelu"), ("topk-sigmoid", "input", "swiglu")])
def test_moe_equals_a_per_token_loop(router, gate_input, activation, grouped, monkeypatch):
    monkeypatch.setattr(grouped_module, "_has_grouped_mm", lambda x, d_out: grouped)
    moe_spec = {"n_experts": 4, "experts_per_token": 2, "n_shared_experts": 1, "expert_d_ff": 16,
                "router": router, "gate_input": gate_input}
    torch.manual_seed(0)
    moe = MoE(tiny_arch(moe=moe_spec, activation=activation))
    for tensor in (moe.experts.input_proj, moe.experts.down_proj):
        torch.nn.init.normal_(tensor, std=0.2)
    x = torch.randn(2, 5, 32)
    expected = torch.zeros(10, 32)
    for t, token in enumerate(x.reshape(10, 32)):
        weights, chosen = moe.route(moe.router(token[None]))
        for weight, expert in zip(weights[0], chosen[0]):
            e = int(expert)
            if gate_input == "input":
                expected[t] += _expert(moe, token[None] * weight, e)[0]
            else:
                expected[t] += weight * _expert(moe, token[None], e)[0]
        expected[t] += moe.shared_experts(token)
    torch.testing.assert_close(moe(x), expected.reshape(2, 5, 32), atol=1e-6, rtol=1e-5)


def test_experts_no_token_chose_and_gradients_reach_every_chosen_expert():
    moe_spec = {"n_experts": 8, "experts_per_token": 1, "expert_d_ff": 16, "router": "topk-softmax"}
    torch.manual_seed(0)
    moe = MoE(tiny_arch(moe=moe_spec))
    for tensor in (moe.experts.gate_up_proj, moe.experts.down_proj):
        torch.nn.init.normal_(tensor, std=0.2)
    x = torch.randn(1, 3, 32)  # 3 tokens for 8 experts: at least 5 receive nothing
    chosen = set(moe.router(x.reshape(3, 32)).argmax(-1).tolist())
    (moe(x) * torch.randn(1, 3, 32)).sum().backward()
    touched = {e for e in range(8) if moe.experts.gate_up_proj.grad[e].abs().sum() > 0}
    assert touched == chosen and len(chosen) <= 3


def test_group_limited_routing_picks_only_from_the_best_groups():
    from builder.network.moe import limit_to_groups

    scores = torch.tensor([[0.9, 0.1, 0.5, 0.45, 0.2, 0.2, 0.8, 0.0]])  # 4 groups of 2
    best_one = limit_to_groups(scores, 4, 2, best_two=False)  # groups by max: 0.9, 0.5, 0.2, 0.8 -> groups 0, 3
    assert torch.isinf(best_one).tolist() == [[False, False, True, True, True, True, False, False]]
    best_two = limit_to_groups(scores, 4, 2, best_two=True)  # sums: 1.0, 0.95, 0.4, 0.8 -> groups 0, 1
    assert torch.isinf(best_two).tolist() == [[False, False, False, False, True, True, True, True]]


def test_deepseek_v3_routing_weights_the_unbiased_scores_of_experts_the_bias_chose():
    moe_spec = {"n_experts": 4, "experts_per_token": 2, "expert_d_ff": 16, "router": "sigmoid-topk",
                "selection_bias": True, "routed_scaling": 2.5, "n_shared_experts": 1}
    moe = MoE(tiny_arch(moe=moe_spec))
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    moe.selection_bias.copy_(torch.tensor([0.0, 0.0, 5.0, 0.0]))  # expert 2 chosen for its bias alone
    weights, chosen = moe.route(logits)
    assert sorted(chosen[0].tolist()) == [0, 2]
    expected = torch.sigmoid(torch.tensor([2.0, 0.0]))
    torch.testing.assert_close(weights[0][chosen[0].argsort()], 2.5 * expected / expected.sum())
