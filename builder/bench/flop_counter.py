"""A FlopCounterMode that counts what the kernels run, with attention counted by the FLOPS.md convention.

torch counts SDPA kernels as the full query x key square and has no formula at all for the CPU flash kernel or
the grouped matmuls of mixture-of-experts layers (builder.network.grouped, it counts 0); the formulas here
count the (query, key) pairs a kernel is told to attend (causal flag or mask) and the rows a grouped matmul
multiplies, so counted FLOPs can be held against zoo.flops, the convention's pure-Python form.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

import builder.network.grouped  # noqa: F401 (registers the archzoo grouped-matmul operators counted below)
from zoo.flops import BACKWARD_FACTOR


def _mask_pairs(query, key, is_causal: bool, attn_mask) -> int:
    """(query, key) pairs over batch and heads that a fused kernel attends: all, causal (top-left
    aligned, as SDPA's is_causal), or the entries of a boolean / additive mask not masked out."""
    batch, heads, q_len, head_dim = query.shape
    k_len = key.shape[-2]
    if attn_mask is not None:
        allowed = attn_mask if attn_mask.dtype == torch.bool else attn_mask > torch.finfo(attn_mask.dtype).min / 2
        return int(torch.broadcast_to(allowed, (batch, heads, q_len, k_len)).sum())
    if is_causal:
        per_head = sum(min(i + 1, k_len) for i in range(q_len))
        return batch * heads * per_head
    return batch * heads * q_len * k_len


def _pair_flops(query, value, pairs: int) -> int:
    """q.k over head_dim plus p.v over the value width, at 2 FLOPs per multiply-add."""
    return 2 * pairs * query.shape[-1] + 2 * pairs * value.shape[-1]


def _cpu_flash_forward(query, key, value, dropout_p=0.0, is_causal=False, *, attn_mask=None, scale=None, out_val=None):
    return _pair_flops(query, value, _mask_pairs(query, key, is_causal, attn_mask))


def _cpu_flash_backward(grad_out, query, key, value, out, logsumexp, dropout_p, is_causal, *, attn_mask=None,
                        scale=None, out_val=None):
    return BACKWARD_FACTOR * _pair_flops(query, value, _mask_pairs(query, key, is_causal, attn_mask))


def _flash_forward(query, key, value, dropout_p=0.0, is_causal=False, *args, out_val=None, **kwargs):
    return _pair_flops(query, value, _mask_pairs(query, key, is_causal, None))


def _flash_backward(grad_out, query, key, value, out, logsumexp, cum_seq_q, cum_seq_k, max_q, max_k, dropout_p,
                    is_causal, *args, out_val=None, **kwargs):
    return BACKWARD_FACTOR * _pair_flops(query, value, _mask_pairs(query, key, is_causal, None))


def _efficient_forward(query, key, value, attn_bias, compute_log_sumexp, dropout_p=0.0, is_causal=False, *,
                       scale=None, out_val=None):
    return _pair_flops(query, value, _mask_pairs(query, key, is_causal, attn_bias))


def _efficient_backward(grad_out, query, key, value, attn_bias, out, logsumexp, philox_seed, philox_offset,
                        dropout_p, grad_input_mask, is_causal=False, *, scale=None, out_val=None):
    return BACKWARD_FACTOR * _pair_flops(query, value, _mask_pairs(query, key, is_causal, attn_bias))


def _grouped_linear(x, weight, ends, *, out_val=None):
    """Rows [M, d_in] through their experts' weights [E, d_out, d_in]: each row meets one weight."""
    return 2 * x.shape[0] * x.shape[1] * weight.shape[1]


def _grouped_weight_grad(grad, x, ends, *, out_val=None):
    """Per expert, its rows' grad [M_e, d_out] times input [M_e, d_in], over all M rows."""
    return 2 * grad.shape[0] * grad.shape[1] * x.shape[1]


def _grouped_mm(a, b, offs=None, bias=None, out_dtype=None, *, out_val=None):
    """torch's grouped matmul, each row or column meeting one group's matrix: a [M, K] with rows split over
    b [E, K, N] (forward and input gradient), a [N, M] @ b [M, K] with M split (weight gradient), or the
    batched and column-split forms."""
    if a.dim() == 2 and b.dim() == 3:
        return 2 * a.shape[0] * a.shape[1] * b.shape[2]
    if a.dim() == 2 and b.dim() == 2:
        return 2 * a.shape[0] * a.shape[1] * b.shape[1]
    if a.dim() == 3 and b.dim() == 2:
        return 2 * a.shape[1] * a.shape[2] * b.shape[1]
    return 2 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]


def _raw(formula):
    formula._get_raw = True  # FlopCounterMode passes the tensors themselves, so masks can be read
    return formula


def attention_flop_counter():
    """FlopCounterMode (no printout) with this module's fused-attention formulas; eager attention (explicit
    matmuls) is still counted as the full square it computes."""
    aten = torch.ops.aten
    formulas = {
        aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_forward,
        aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_flash_backward,
        aten._scaled_dot_product_flash_attention: _flash_forward,
        aten._scaled_dot_product_flash_attention_backward: _flash_backward,
        aten._scaled_dot_product_efficient_attention: _efficient_forward,
        aten._scaled_dot_product_efficient_attention_backward: _efficient_backward,
        aten._grouped_mm: _grouped_mm,
        torch.ops.archzoo.grouped_linear: _grouped_linear,
        torch.ops.archzoo.grouped_weight_grad: _grouped_weight_grad,
    }
    return FlopCounterMode(display=False, custom_mapping={op: _raw(f) for op, f in formulas.items()})
