"""The grouped matmul of mixture-of-experts layers: rows sorted by expert, each block through its expert's weight.

`grouped_linear` is one operator to torch.compile (a torch.library custom op with a shape-only fake and its own
backward), so a traced forward and backward hold no loop over experts, no data-dependent shape and no host
sync. Inside, it runs torch's grouped matmul (F.grouped_mm, torch 2.8+) on a CPU or in bf16, and one matmul per
expert's rows elsewhere.
"""

from __future__ import annotations

import torch
from torch import Tensor
import torch.nn.functional as F


def _has_grouped_mm(x: Tensor) -> bool:
    """F.grouped_mm exists and runs this device and dtype: any float on a CPU, bf16 on CUDA."""
    return hasattr(F, "grouped_mm") and (x.device.type == "cpu" or x.dtype == torch.bfloat16)


def _starts_and_ends(ends: Tensor) -> list[tuple[int, int]]:
    bounds = [0, *ends.tolist()]
    return list(zip(bounds[:-1], bounds[1:]))


@torch.library.custom_op("archzoo::grouped_linear", mutates_args=())
def _grouped_linear(x: Tensor, weight: Tensor, ends: Tensor) -> Tensor:
    if _has_grouped_mm(x):
        return F.grouped_mm(x, weight.transpose(1, 2), offs=ends)
    return torch.cat([F.linear(x[start:end], weight[expert]) for expert, (start, end) in enumerate(_starts_and_ends(ends))])


@_grouped_linear.register_fake
def _(x: Tensor, weight: Tensor, ends: Tensor) -> Tensor:
    return x.new_empty(x.shape[0], weight.shape[1])


@torch.library.custom_op("archzoo::grouped_weight_grad", mutates_args=())
def _grouped_weight_grad(grad: Tensor, x: Tensor, ends: Tensor) -> Tensor:
    """Per expert e, grad[rows of e]^T @ x[rows of e]: [E, d_out, d_in]."""
    if _has_grouped_mm(x):
        return F.grouped_mm(grad.t(), x, offs=ends)
    return torch.stack([grad[start:end].t() @ x[start:end] for start, end in _starts_and_ends(ends)])


@_grouped_weight_grad.register_fake
def _(grad: Tensor, x: Tensor, ends: Tensor) -> Tensor:
    return grad.new_empty(ends.shape[0], grad.shape[1], x.shape[1])


def _setup(ctx, inputs, output) -> None:
    x, weight, ends = inputs
    ctx.save_for_backward(x, weight, ends)


def _backward(ctx, grad: Tensor):
    x, weight, ends = ctx.saved_tensors
    grad = grad.contiguous()
    return _grouped_linear(grad, weight.transpose(1, 2), ends), _grouped_weight_grad(grad, x, ends), None


_grouped_linear.register_autograd(_backward, setup_context=_setup)


def grouped_linear(x: Tensor, weight: Tensor, ends: Tensor) -> Tensor:
    """x [M, d_in], its rows sorted by expert, each block through its expert's weight [E, d_out, d_in] (nn.Linear
    layout) -> [M, d_out]; ends [E] (int32) are the cumulative row counts per expert."""
    return _grouped_linear(x, weight, ends)
