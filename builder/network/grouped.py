"""The grouped matmul of mixture-of-experts layers: rows sorted by expert, each block through its expert's weight.

Eagerly, where torch's grouped matmul (F.grouped_mm) runs the device, dtype and widths, `grouped_linear` calls it
with its own autograd. Under torch.compile, and where it does not run, `grouped_linear` is one operator (a
torch.library custom op with a shape-only fake and its own backward), so a traced forward and backward hold no
loop over experts, no data-dependent shape and no host sync; inside, it runs F.grouped_mm where it can and one
matmul per expert's rows elsewhere. Eager code skips the custom op because its Python dispatch, paid per call and
per backward, shows in small steps.
"""

from __future__ import annotations

import torch
from torch import Tensor
import torch.nn.functional as F


def _has_grouped_mm(x: Tensor, d_out: int) -> bool:
    """F.grouped_mm exists and runs this device, dtype and shape: any float on a CPU, bf16 on CUDA, with input
    rows x [M, d_in] and output rows [M, d_out] whole multiples of 16 bytes (its kernels refuse other strides)."""
    aligned = all(width * x.element_size() % 16 == 0 for width in (x.shape[1], d_out))
    return hasattr(F, "grouped_mm") and aligned and (x.device.type == "cpu" or x.dtype == torch.bfloat16)


def _starts_and_ends(ends: Tensor) -> list[tuple[int, int]]:
    bounds = [0, *ends.tolist()]
    return list(zip(bounds[:-1], bounds[1:]))


@torch.library.custom_op("archzoo::grouped_linear", mutates_args=())
def _grouped_linear(x: Tensor, weight: Tensor, ends: Tensor) -> Tensor:
    if _has_grouped_mm(x, weight.shape[1]):
        return F.grouped_mm(x, weight.transpose(1, 2), offs=ends)
    return torch.cat([F.linear(x[start:end], weight[expert]) for expert, (start, end) in enumerate(_starts_and_ends(ends))])


@_grouped_linear.register_fake
def _(x: Tensor, weight: Tensor, ends: Tensor) -> Tensor:
    return x.new_empty(x.shape[0], weight.shape[1])


@torch.library.custom_op("archzoo::grouped_weight_grad", mutates_args=())
def _grouped_weight_grad(grad: Tensor, x: Tensor, ends: Tensor) -> Tensor:
    """Per expert e, grad[rows of e]^T @ x[rows of e]: [E, d_out, d_in]."""
    if _has_grouped_mm(x, grad.shape[1]):
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
    if torch.compiler.is_compiling() or not _has_grouped_mm(x, weight.shape[1]):
        return _grouped_linear(x, weight, ends)
    out = F.grouped_mm(x, weight.transpose(1, 2), offs=ends)
    if out.requires_grad:  # torch's grouped_mm backward refuses a broadcast or transposed gradient
        out.register_hook(Tensor.contiguous)
    return out
