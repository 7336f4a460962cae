import math

import pytest
import torch

from builder.network.positions import sinusoidal_table
from builder.network.relative import AlibiBias, T5RelativeBias, alibi_slopes, t5_relative_bucket
from builder.network.rotary import RotaryEmbedding, apply_rotary, rope_inverse_frequencies
from zoo.plan import RopePlan
from zoo.schema import RopeLayout, RopeScaling


def _paper_slopes(n: int) -> list[float]:
    """Press et al.: for n a power of 2, 2^(-8i/n); otherwise the first 2^k, then every other slope of 2^(k+1)."""
    def power_of_two(m):
        return [2 ** (-8 * (i + 1) / m) for i in range(m)]

    if math.log2(n).is_integer():
        return power_of_two(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_two(closest) + power_of_two(2 * closest)[0::2][: n - closest]


@pytest.mark.parametrize("n_heads", [1, 4, 8, 12, 16, 112])
def test_alibi_slopes_match_the_paper(n_heads):
    torch.testing.assert_close(alibi_slopes(n_heads), torch.tensor(_paper_slopes(n_heads)), rtol=1e-6, atol=0)


def test_alibi_bias_is_slope_times_key_minus_query():
    bias = AlibiBias(4)(torch.arange(3), torch.arange(3)).dense()[0]
    assert bias[1, 2, 0] == pytest.approx(-2 * 2 ** (-4))
    assert torch.all(bias.diagonal(dim1=-2, dim2=-1) == 0)


def _mesh_tf_bucket(relative: int, bidirectional: bool, buckets: int, max_distance: int) -> int:
    """Scalar transcription of Mesh TensorFlow's _relative_position_bucket."""
    result, n = 0, -relative
    if bidirectional:
        buckets //= 2
        result += buckets if n < 0 else 0
        n = abs(n)
    else:
        n = max(n, 0)
    max_exact = buckets // 2
    if n < max_exact:
        return result + n
    large = max_exact + int(math.log(n / max_exact) / math.log(max_distance / max_exact) * (buckets - max_exact))
    return result + min(large, buckets - 1)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_t5_buckets_match_mesh_tensorflow(bidirectional):
    relative = torch.arange(-300, 300)
    got = t5_relative_bucket(relative, bidirectional, 32, 128)
    expected = [_mesh_tf_bucket(int(r), bidirectional, 32, 128) for r in relative]
    assert got.tolist() == expected


def test_t5_bucket_known_values():
    # bidirectional, 32 buckets, max distance 128: exact up to 7, logarithmic after, keys after the query offset by 16
    got = t5_relative_bucket(torch.tensor([0, -1, -7, -8, -127, -500, 1, 500]), True, 32, 128).tolist()
    assert got == [0, 1, 7, 8, 15, 15, 17, 31]


@pytest.mark.parametrize("layout", list(RopeLayout))
@pytest.mark.parametrize("fraction", [1.0, 0.25])
def test_rope_dot_products_depend_only_on_relative_position(layout, fraction):
    rope = RotaryEmbedding(RopePlan(theta=10000.0, rotary_dim=int(16 * fraction), layout=layout, scaling=None))
    q, k = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)

    def rotated(x, position):
        cos, sin = rope(torch.tensor([position]))
        return apply_rotary(x[None], cos.double(), sin.double(), layout)[0]

    first = rotated(q, 7) @ rotated(k, 3)
    shifted = rotated(q, 107) @ rotated(k, 103)
    assert first.item() == pytest.approx(shifted.item(), rel=1e-5)  # cos/sin tables are float32
    assert not torch.allclose(rotated(q, 5), q)
    torch.testing.assert_close(rotated(q, 5).norm(), q.norm())
    torch.testing.assert_close(rotated(q, 5)[int(16 * fraction):], q[int(16 * fraction):])


def test_rope_layouts_are_the_same_rotation_under_a_permutation():
    tables = {layout: RotaryEmbedding(RopePlan(10000.0, 8, layout, None))(torch.arange(5)) for layout in RopeLayout}
    x = torch.randn(5, 8)
    interleave = torch.tensor([0, 4, 1, 5, 2, 6, 3, 7])  # half-layout index of each interleaved slot
    half = apply_rotary(x, *tables[RopeLayout.half], RopeLayout.half)
    interleaved = apply_rotary(x[:, interleave], *tables[RopeLayout.interleaved], RopeLayout.interleaved)
    torch.testing.assert_close(interleaved, half[:, interleave])


def test_llama3_scaling_keeps_high_and_divides_low_frequencies():
    scaling = RopeScaling(kind="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                          original_context_length=8192)
    base = rope_inverse_frequencies(RopePlan(500000.0, 128, RopeLayout.half, None))
    scaled = rope_inverse_frequencies(RopePlan(500000.0, 128, RopeLayout.half, scaling))
    wavelength = 2 * math.pi / base
    high, low = wavelength < 8192 / 4, wavelength > 8192 / 1
    torch.testing.assert_close(scaled[high], base[high])
    torch.testing.assert_close(scaled[low], base[low] / 8)
    middle = ~(high | low)
    assert middle.any() and torch.all(scaled[middle] < base[middle]) and torch.all(scaled[middle] > base[middle] / 8)


def test_linear_scaling_divides_positions():
    scaling = RopeScaling(kind="linear", factor=4.0)
    torch.testing.assert_close(rope_inverse_frequencies(RopePlan(10000.0, 8, RopeLayout.half, scaling)),
                               rope_inverse_frequencies(RopePlan(10000.0, 8, RopeLayout.half, None)) / 4)


def test_sinusoidal_table_follows_vaswani():
    table = sinusoidal_table(torch.arange(10), 8)
    pos, i = 7, 2
    assert table[pos, 2 * i].item() == pytest.approx(math.sin(pos / 10000 ** (2 * i / 8)), abs=1e-6)
    assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(pos / 10000 ** (2 * i / 8)), abs=1e-6)


def test_sinusoidal_table_keeps_every_position_of_long_batched_inputs():
    """More positions than features, and a batch dimension: the width is cut, never the sequence."""
    positions = torch.arange(40)[None].expand(3, 40)
    for interleaved in (True, False):
        table = sinusoidal_table(positions, 6, interleaved=interleaved)
        assert table.shape == (3, 40, 6)
        torch.testing.assert_close(table[0], sinusoidal_table(torch.arange(40), 6, interleaved=interleaved))


@pytest.mark.parametrize("buckets, max_distance", [(32, 128), (8, 6)])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_t5_bias_table_of_clamped_distances_equals_the_bucket_of_every_distance(buckets, max_distance, bidirectional):
    """T5RelativeBias reads a table over distances clamped to +-max_distance; far beyond it nothing changes."""
    module = T5RelativeBias(buckets, max_distance, 4, bidirectional)
    positions = torch.arange(5 * max_distance)
    relative = positions[None, :] - positions[:, None]
    expected = module.relative_attention_bias(t5_relative_bucket(relative, bidirectional, buckets, max_distance))
    assert torch.equal(module(positions, positions).dense()[0], expected.movedim(-1, 0))


def test_llama3_scaling_with_equal_frequency_factors_is_a_step():
    """LLaMA 4 Scout: low = high frequency factor, so wavelengths beyond the original context are divided by
    the factor and all others kept, with no smoothed band in between."""
    scaling = RopeScaling(kind="llama3", factor=16.0, low_freq_factor=1.0, high_freq_factor=1.0,
                          original_context_length=8192)
    base = rope_inverse_frequencies(RopePlan(500000.0, 128, RopeLayout.half, None))
    scaled = rope_inverse_frequencies(RopePlan(500000.0, 128, RopeLayout.half, scaling))
    beyond = 2 * math.pi / base > 8192
    assert beyond.any() and (~beyond).any()
    torch.testing.assert_close(scaled, torch.where(beyond, base / 16.0, base))
