import pytest

from tests.builder.helpers import tiny_arch
from zoo.plan import QKNormStage, plan_model
from zoo.schema import LocalAttention, Position, TokenMixer


def test_layer_pattern_repeats_from_layer_zero_with_local_first():
    arch = tiny_arch(n_layers=5, layer_pattern="LG", local_attention="sliding", sliding_window=4)
    kinds = [layer.kind for layer in plan_model(arch).decoder]
    assert kinds == ["sliding", "global", "sliding", "global", "sliding"]
    assert [layer.window for layer in plan_model(arch).decoder] == [4, None, 4, None, 4]


def test_global_nope_and_per_layer_rope_bases_and_global_only_scaling():
    arch = tiny_arch(
        n_layers=4, layer_pattern="LLLG", local_attention="chunked", sliding_window=8, global_nope=True,
        rope_theta=500000.0, rope_local_theta=10000.0,
        rope_scaling={"kind": "linear", "factor": 8.0, "global_only": True},
    )
    layers = plan_model(arch).decoder
    assert [layer.position for layer in layers] == [Position.rope] * 3 + [Position.none]
    assert layers[3].rope is None and layers[0].local is LocalAttention.chunked
    assert {layer.rope.theta for layer in layers[:3]} == {10000.0}
    assert all(layer.rope.scaling is None for layer in layers[:3])


def test_global_layers_get_the_global_base_and_scaling():
    arch = tiny_arch(n_layers=2, layer_pattern="LG", local_attention="sliding", sliding_window=4,
                     rope_local_theta=10000.0, rope_theta=1e6,
                     rope_scaling={"kind": "linear", "factor": 8.0, "global_only": True})
    local, global_ = plan_model(arch).decoder
    assert (local.rope.theta, global_.rope.theta) == (10000.0, 1e6)
    assert global_.rope.scaling.factor == 8.0 and local.rope.key != global_.rope.key


def test_moe_pattern_marks_moe_layers():
    moe = {"n_experts": 4, "experts_per_token": 2, "expert_d_ff": 16, "router": "topk-softmax", "moe_pattern": "DM"}
    layers = plan_model(tiny_arch(n_layers=4, moe=moe)).decoder
    assert [layer.moe for layer in layers] == [False, True, False, True]


def test_encoder_decoder_plans_both_stacks():
    arch = tiny_arch(arch="encoder-decoder", n_encoder_layers=3, position="sinusoidal", rope_theta=None,
                     rotary_fraction=None, rope_layout=None)
    plan = plan_model(arch)
    assert len(plan.encoder) == 3 and len(plan.decoder) == 2
    assert not any(layer.causal or layer.cross_attention for layer in plan.encoder)
    assert all(layer.causal and layer.cross_attention for layer in plan.decoder)


def test_encoder_only_layers_are_bidirectional():
    arch = tiny_arch(arch="encoder")
    assert not any(layer.causal for layer in plan_model(arch).decoder)


@pytest.mark.parametrize("kind, stage", [("none", None), ("projection", QKNormStage.projection),
                                         ("head", QKNormStage.head), ("head_unshared", QKNormStage.head),
                                         ("l2", QKNormStage.rotated)])
def test_each_qk_norm_kind_has_one_stage(kind, stage):
    assert {layer.attention.qk_norm for layer in plan_model(tiny_arch(qk_norm=kind)).decoder} == {stage}


def test_the_after_rope_norm_is_planned_only_where_rope_rotates():
    arch = tiny_arch(n_layers=4, layer_pattern="LLLG", local_attention="chunked", sliding_window=8, global_nope=True,
                     nope_query_temperature={"floor_scale": 8, "scale": 0.1}, qk_norm="l2")
    layers = plan_model(arch).decoder
    assert [layer.attention.qk_norm for layer in layers] == [QKNormStage.rotated] * 3 + [None]
    assert [layer.attention.temperature for layer in layers] == [None] * 3 + [arch.nope_query_temperature]


@pytest.mark.parametrize("query_scale, expected", [("head_dim", 16**-0.5), ("d_model_over_heads", (32 / 4) ** -0.5),
                                                   ("none", 1.0)])
def test_query_scale_is_a_number_in_the_plan(query_scale, expected):
    arch = tiny_arch(head_dim=16, d_model=32, n_heads=4, query_scale=query_scale)
    assert [layer.attention.scale for layer in plan_model(arch).decoder] == pytest.approx([expected] * 2)


def test_cross_attention_has_no_positions_mask_or_rotation():
    arch = tiny_arch(arch="encoder-decoder", n_encoder_layers=1, position="relative-bias", relative_buckets=32,
                     relative_max_distance=128, rope_theta=None, rotary_fraction=None, rope_layout=None,
                     qk_norm="head")
    layer = plan_model(arch).decoder[0]
    cross = layer.cross_attention
    assert cross.cross and not layer.attention.cross
    assert (cross.causal, cross.local, cross.position, cross.rope, cross.temperature) == (
        False, None, Position.none, None, None)
    assert layer.attention.position is Position.relative_bias and cross.qk_norm is QKNormStage.head


def test_every_layer_names_its_token_mixer():
    assert {layer.attention.mixer for layer in plan_model(tiny_arch(n_layers=3)).layers} == {TokenMixer.attention}
