import pytest
import torch
import torch.nn.functional as F

from builder.network import grouped as grouped_module
from builder.network.grouped import grouped_linear

ENDS = [3, 3, 9, 12]  # expert 1 gets no rows


def _per_expert(x, weight, ends):
    """Each expert's block of rows through its own nn.Linear-layout weight, written out."""
    bounds = [0, *ends.tolist()]
    return torch.cat([F.linear(x[start:end], weight[e]) for e, (start, end) in enumerate(zip(bounds, bounds[1:]))])


def _output_and_grads(linear, d_in, d_out, broadcast_grad):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(ENDS[-1], d_in, generator=generator, requires_grad=True)
    weight = torch.randn(len(ENDS), d_out, d_in, generator=generator, requires_grad=True)
    out = linear(x, weight, torch.tensor(ENDS, dtype=torch.int32))
    if broadcast_grad:
        out.sum().backward()  # hands the op a gradient with zero strides
    else:
        out.backward(torch.randn(out.shape, generator=generator))
    return out.detach(), x.grad, weight.grad


@pytest.mark.parametrize("broadcast_grad", [False, True], ids=["dense gradient", "broadcast gradient"])
@pytest.mark.parametrize("d_in, d_out", [(8, 12), (6, 12), (8, 5)], ids=["aligned", "odd input", "odd output"])
@pytest.mark.parametrize("path", ["eager", "custom op", "custom op, per-expert matmuls"])
def test_every_path_gives_the_per_expert_outputs_and_gradients(path, d_in, d_out, broadcast_grad, monkeypatch):
    if path == "custom op, per-expert matmuls":
        monkeypatch.setattr(grouped_module, "_has_grouped_mm", lambda x, d_out: False)
    linear = grouped_linear if path == "eager" else torch.ops.archzoo.grouped_linear
    expected = _output_and_grads(_per_expert, d_in, d_out, broadcast_grad)
    for got, want in zip(_output_and_grads(linear, d_in, d_out, broadcast_grad), expected):
        torch.testing.assert_close(got, want)
    assert expected[2][1].abs().sum() == 0  # the expert with no rows gets no gradient


def test_grouped_mm_is_used_only_where_its_kernels_accept_the_strides():
    x = torch.randn(4, 8)
    assert grouped_module._has_grouped_mm(x, 12) == hasattr(F, "grouped_mm")
    assert not grouped_module._has_grouped_mm(x, 5)  # 20-byte output rows
    assert not grouped_module._has_grouped_mm(torch.randn(4, 6), 12)  # 24-byte input rows
