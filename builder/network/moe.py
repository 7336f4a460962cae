"""A routed mixture of experts: how a MoE layer scores experts, picks the top k and mixes their outputs.

Routers (keyed by the spec's `moe.router`) turn a token's logits over the experts into (weights, expert ids):
softmax over the selected top-k logits (Mixtral), softmax over all experts keeping the top-k probabilities
(Grok-1), or a sigmoid of the selected logits (LLaMA 4). The weight multiplies the expert's output, or its
input (`gate_input`, LLaMA 4); always-on shared experts are added to every token.

Weight names: `router` is a bias-free nn.Linear(d_model, n_experts); experts are stacked in the per-expert
nn.Linear layout: gated experts hold `experts.gate_up_proj` [n_experts, 2 * expert_d_ff, d_model] (gate rows,
then up rows, so one grouped matmul computes both), plain ones `experts.up_proj` [n_experts, expert_d_ff,
d_model]; `experts.down_proj` is [n_experts, d_model, expert_d_ff]; `shared_experts` is one dense MLP
of width n_shared_experts * expert_d_ff, scaled per token by sigmoid(`shared_expert_gate`) where the spec has that
gate (Qwen 1.5 / 2 MoE). Experts and router carry biases only where the spec says (gpt-oss):
`experts.input_bias` [n_experts, width], `experts.down_bias` [n_experts, d_model] and `router.bias`.
"""

from __future__ import annotations

import torch
from torch import nn

from builder.network.grouped import grouped_linear
from builder.network.init import Init, Initialised, Linear, Role
from builder.network.mlp import MLP, activation_fn, gated_unit
from zoo.schema import Architecture, GateInput, Router


class Experts(nn.Module, Initialised):
    """n_experts MLPs stored as stacked weights; `forward(x, ends)` runs each expert on its block of rows."""

    def __init__(self, arch: Architecture):
        super().__init__()
        moe = arch.moe
        self.n_experts = moe.n_experts
        self.gated = arch.gated_mlp
        self.act = activation_fn(arch)
        self.unit = gated_unit(arch) if arch.gated_mlp else None
        width = 2 * moe.expert_d_ff if self.gated else moe.expert_d_ff
        if self.gated:
            self.gate_up_proj = nn.Parameter(torch.empty(moe.n_experts, width, arch.d_model))
        else:
            self.up_proj = nn.Parameter(torch.empty(moe.n_experts, width, arch.d_model))
        self.down_proj = nn.Parameter(torch.empty(moe.n_experts, arch.d_model, moe.expert_d_ff))
        self.input_bias = nn.Parameter(torch.empty(moe.n_experts, width)) if moe.expert_bias else None
        self.down_bias = nn.Parameter(torch.empty(moe.n_experts, arch.d_model)) if moe.expert_bias else None

    @property
    def input_proj(self) -> nn.Parameter:
        """The stacked weight the tokens meet first: gate_up_proj (gated) or up_proj."""
        return self.gate_up_proj if self.gated else self.up_proj

    def forward(self, x: torch.Tensor, ends: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
        """x [M, d_model] sorted by expert, ends [E] its cumulative rows per expert, experts [M] each row's
        expert (for per-expert biases) -> [M, d_model]."""
        hidden = grouped_linear(x, self.input_proj, ends)  # [M, 2 * expert_d_ff] gated, else [M, expert_d_ff]
        if self.input_bias is not None:
            hidden = hidden + self.input_bias[experts]
        if self.gated:
            gate, up = hidden.chunk(2, dim=-1)  # [M, expert_d_ff] each
            hidden = self.unit(gate, up)
        else:
            hidden = self.act(hidden)
        out = grouped_linear(hidden, self.down_proj, ends)
        return out if self.down_bias is None else out + self.down_bias[experts]

    def init_weights(self, init: Init) -> None:
        init.normal(self.input_proj)
        init.normal(self.down_proj, Role.residual)
        for bias in (self.input_bias, self.down_bias):
            if bias is not None:
                nn.init.zeros_(bias)


def _topk_softmax(logits: torch.Tensor, choice: torch.Tensor, k: int):
    top, index = choice.topk(k, dim=-1)
    return logits.gather(-1, index).float().softmax(-1).type_as(logits), index


def _softmax_topk(logits: torch.Tensor, choice: torch.Tensor, k: int):
    probs = logits.float().softmax(-1)
    index = choice.topk(k, dim=-1).indices
    return probs.gather(-1, index).type_as(logits), index


def _topk_sigmoid(logits: torch.Tensor, choice: torch.Tensor, k: int):
    index = choice.topk(k, dim=-1).indices
    return torch.sigmoid(logits.gather(-1, index).float()).type_as(logits), index


def _sigmoid_topk(logits: torch.Tensor, choice: torch.Tensor, k: int):
    index = choice.topk(k, dim=-1).indices
    weights = torch.sigmoid(logits.float()).gather(-1, index)
    return (weights / (weights.sum(-1, keepdim=True) + 1e-20)).type_as(logits), index


# router -> function(logits, choice scores, k) -> (weights [N, k], expert ids [N, k]); experts are picked by the
# choice scores (the router's own scores, group-limited and biased where the spec says), weighted by the logits
ROUTERS = {Router.topk_softmax: _topk_softmax, Router.softmax_topk: _softmax_topk, Router.topk_sigmoid: _topk_sigmoid,
           Router.sigmoid_topk: _sigmoid_topk}
# what the router ranks experts by before group limits and biases
_CHOICE_SCORES = {Router.topk_softmax: lambda logits: logits, Router.topk_sigmoid: lambda logits: logits,
                  Router.softmax_topk: lambda logits: logits.float().softmax(-1),
                  Router.sigmoid_topk: lambda logits: torch.sigmoid(logits.float())}


def limit_to_groups(scores: torch.Tensor, n_groups: int, top_groups: int, best_two: bool) -> torch.Tensor:
    """scores [N, E] with every expert outside each token's top_groups groups set to -inf; a group scores by
    its best expert, or the sum of its best two (DeepSeek-V3)."""
    grouped = scores.unflatten(-1, (n_groups, -1))  # [N, groups, experts per group]
    group_scores = grouped.topk(2, dim=-1).values.sum(-1) if best_two else grouped.max(-1).values  # [N, groups]
    kept = group_scores.topk(top_groups, dim=-1).indices
    allowed = torch.zeros_like(group_scores, dtype=torch.bool).scatter_(1, kept, True)  # [N, groups]
    return scores.masked_fill(~allowed[..., None].expand_as(grouped).flatten(-2), float("-inf"))


class MoE(nn.Module, Initialised):
    """Top-k routed experts plus always-on shared experts."""

    def __init__(self, arch: Architecture):
        super().__init__()
        moe = arch.moe
        self.top_k = moe.experts_per_token
        self.spec = moe
        self.gate_inputs = moe.gate_input is GateInput.input  # LLaMA 4 weights the token before the expert
        self.router = Linear(arch.d_model, moe.n_experts, bias=moe.router_bias)
        self.experts = Experts(arch)
        self.shared_experts = MLP(arch, moe.n_shared_experts * moe.expert_d_ff) if moe.n_shared_experts else None
        self.shared_expert_gate = Linear(arch.d_model, 1, bias=False) if moe.shared_expert_gate else None
        if moe.selection_bias:  # learned outside the gradient (load balancing), so a buffer, not a parameter
            self.register_buffer("selection_bias", torch.zeros(moe.n_experts))

    def init_weights(self, init: Init) -> None:
        if self.spec.selection_bias:
            nn.init.zeros_(self.selection_bias)

    def route(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(weights [N, k], expert ids [N, k]) from the router's logits [N, E], as the spec's router, group limit,
        selection bias and routed scaling say."""
        moe = self.spec
        choice = _CHOICE_SCORES[moe.router](logits)
        if moe.selection_bias:
            choice = choice + self.selection_bias.float()
        if moe.n_groups is not None:
            choice = limit_to_groups(choice, moe.n_groups, moe.top_groups, best_two=moe.router is Router.sigmoid_topk)
        weights, chosen = ROUTERS[moe.router](logits, choice, self.top_k)
        return (weights * moe.routed_scaling if moe.routed_scaling != 1.0 else weights), chosen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every (token, chosen expert) pair sorted by expert once, the experts run as grouped matmuls over
        their blocks (builder.network.grouped), the weighted outputs summed back per token: no Python loop
        over experts, and no host sync where torch's grouped matmul runs."""
        tokens = x.reshape(-1, x.shape[-1])  # [N, d_model]
        weights, chosen = self.route(self.router(tokens))  # [N, k] each
        picks = chosen.flatten()  # [N * k] expert of each (token, slot) pair
        order = picks.argsort(stable=True)  # the pairs by expert, then token
        token_ids = order // self.top_k
        counts = torch.zeros(self.experts.n_experts, dtype=torch.int64, device=x.device)  # not bincount,
        ends = counts.index_add_(0, picks, torch.ones_like(picks)).cumsum(0).to(torch.int32)  # whose shape varies
        gate = weights.flatten()[order, None]  # [N * k, 1]
        routed = tokens[token_ids]  # [N * k, d_model]
        experts = picks[order]  # [N * k] the expert of each sorted pair
        if self.gate_inputs:
            routed = self.experts(routed * gate, ends, experts)
        else:
            routed = self.experts(routed, ends, experts) * gate
        out = torch.zeros_like(tokens).index_add(0, token_ids, routed)
        if self.shared_experts is not None:
            shared = self.shared_experts(tokens)
            if self.shared_expert_gate is not None:
                shared = torch.sigmoid(self.shared_expert_gate(tokens)) * shared  # [N, 1] per-token weight
            out = out + shared
        return out.reshape(x.shape)
