import torch
from torch import nn

from builder.network.norms import HeadwiseNorm, UnitOffsetNorm, make_norm
from tests.builder.helpers import tiny_arch


def test_registry_picks_torch_norms_with_and_without_bias():
    assert isinstance(make_norm(tiny_arch(), 8), nn.RMSNorm)
    with_bias = make_norm(tiny_arch(norm="layernorm", norm_bias=True), 8)
    without = make_norm(tiny_arch(norm="layernorm", norm_bias=False), 8)
    assert isinstance(with_bias, nn.LayerNorm) and with_bias.bias is not None and without.bias is None


def test_unit_offset_rmsnorm_scales_by_one_plus_weight():
    norm = UnitOffsetNorm(6, eps=1e-6, rms=True, bias=False)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(-0.5, 0.5, 6))
    x = torch.randn(3, 6)
    expected = x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-6) * (1 + norm.weight)
    torch.testing.assert_close(norm(x), expected)


def test_unit_offset_norm_starts_as_identity_scale():
    norm = make_norm(tiny_arch(norm_unit_offset=True), 8)
    assert isinstance(norm, UnitOffsetNorm) and torch.all(norm.weight == 0)


def test_headwise_norm_has_a_weight_per_head():
    arch = tiny_arch(norm="layernorm", norm_bias=False, norm_eps=1e-5)
    norm = HeadwiseNorm(arch, heads=3)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(3, arch.head_dim))
    x = torch.randn(2, 3, 5, arch.head_dim)
    centred = x - x.mean(-1, keepdim=True)
    expected = centred / torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + 1e-5) * norm.weight[:, None, :]
    torch.testing.assert_close(norm(x), expected)
