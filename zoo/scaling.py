"""Scaled proxies: shrink a catalogued architecture while keeping its shape ratios.

The rule, for a proxy width d (tiny: d = 64; otherwise the multiple of 64 whose total parameter count is
nearest the target on a log scale):
- head_dim = min(source head_dim, max(16, largest power of two <= d / 4)), raised until the rotary fraction
  rotates an even number of dims; query heads = head_ratio * d / head_dim, rounded to whole KV groups so the
  query-to-KV group ratio stays; MHA stays MHA, MQA stays MQA, GQA keeps at least 2 KV heads.
- d_ff = ffn_ratio * d and expert_d_ff scaled by d / source d_model (multiples of 8); experts, top-k,
  shared experts, router and every categorical choice stay.
- layers = d / aspect_ratio rounded to whole repeating units of layer_pattern (and moe_pattern when it has
  dense layers), at least two layers (whole units) and at most the source depth; encoder layers keep their share.
- context = min(source, preset context); the local window keeps its fraction of the context (at least 8
  tokens, below the context); vocabulary = min(source, preset cap); embedding_dim keeps its ratio to d.
- multi-head latent attention: the position-free, RoPE and value head widths shrink with head_dim (even
  numbers, at least 2), the query and KV latent ranks with d (multiples of 8); leading dense layers keep
  their share of the depth, at least one where the source has any and at least one MoE layer after them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zoo.accounting import param_counts
from zoo.schema import Architecture


@dataclass(frozen=True)
class Preset:
    target_params: int | None  # None: fixed width `d_model`
    context_length: int
    vocab_cap: int
    d_model: int | None = None


PRESETS = {
    "tiny": Preset(target_params=None, context_length=128, vocab_cap=512, d_model=64),
    "small": Preset(target_params=100_000_000, context_length=1024, vocab_cap=32_768),
    "1b": Preset(target_params=1_000_000_000, context_length=2048, vocab_cap=65_536),
}
MIN_WINDOW = 8


def _multiple(value: float, step: int, minimum: int | None = None) -> int:
    return max(minimum or step, step * round(value / step))


def _head_dim(arch: Architecture, d_model: int) -> int:
    head_dim = min(arch.head_dim, max(16, 2 ** int(math.log2(d_model / 4))))
    if arch.rotary_fraction is not None and arch.mla is None:  # MLA sets its rotated width itself
        while (head_dim * arch.rotary_fraction) % 2:
            head_dim += 2
    return head_dim


def _heads(arch: Architecture, d_model: int, head_dim: int) -> tuple[int, int]:
    wanted = max(1, round(arch.head_ratio * d_model / head_dim))
    if arch.n_kv_heads == arch.n_heads:
        return wanted, wanted
    if arch.n_kv_heads == 1:
        return wanted, 1
    group = arch.n_heads // arch.n_kv_heads
    n_kv = max(2, round(wanted / group))
    return n_kv * group, n_kv


def _layer_unit(arch: Architecture) -> int:
    unit = len(arch.layer_pattern)
    if arch.moe is not None and "D" in arch.moe.moe_pattern:
        unit = math.lcm(unit, len(arch.moe.moe_pattern))
    return unit


def shrink(arch: Architecture, d_model: int, context_length: int, vocab_cap: int) -> Architecture:
    """The proxy of `arch` at width d_model under the rule in this module's docstring."""
    ratio = d_model / arch.d_model
    head_dim = _head_dim(arch, d_model)
    n_heads, n_kv_heads = _heads(arch, d_model, head_dim)
    unit = _layer_unit(arch)
    fewest = unit * math.ceil(min(2, arch.n_layers) / unit)
    n_layers = min(max(fewest, _multiple(d_model / arch.aspect_ratio, unit)), max(fewest, arch.n_layers // unit * unit))
    context = min(arch.context_length, context_length)
    updates = dict(
        d_model=d_model, head_dim=head_dim, n_heads=n_heads, n_kv_heads=n_kv_heads, n_layers=n_layers,
        d_ff=_multiple(arch.ffn_ratio * d_model, 8), context_length=context,
        vocab_size=min(arch.vocab_size, vocab_cap),
    )
    if arch.n_encoder_layers is not None:
        updates["n_encoder_layers"] = max(1, round(arch.n_encoder_layers * n_layers / arch.n_layers))
    if arch.sliding_window is not None:
        window = max(MIN_WINDOW, round(arch.sliding_window * context / arch.context_length))
        updates["sliding_window"] = min(window, context - 1)
    if arch.embedding_dim is not None:
        embedding_dim = _multiple(arch.embedding_dim * ratio, 8)
        updates["embedding_dim"] = embedding_dim if embedding_dim != d_model else embedding_dim // 2
    if arch.mla is not None:
        updates.update(_latent_attention(arch, head_dim, ratio))
    document = arch.model_dump()
    document.update(updates)
    if arch.moe is not None:
        document["moe"]["expert_d_ff"] = _multiple(arch.moe.expert_d_ff * ratio, 8)
        if arch.moe.first_dense:
            share = round(arch.moe.first_dense * n_layers / arch.n_layers)
            document["moe"]["first_dense"] = min(max(1, share), n_layers - 1)
    return Architecture.model_validate(document)


def _latent_attention(arch: Architecture, head_dim: int, ratio: float) -> dict:
    """MLA's widths for a proxy whose head_dim shrinks from the source's (see the module docstring)."""
    m, shrunk = arch.mla, head_dim / arch.head_dim
    nope, rope = _multiple(m.qk_nope_head_dim * shrunk, 2), _multiple(m.qk_rope_head_dim * shrunk, 2)
    return {
        "head_dim": nope + rope, "rotary_fraction": rope / (nope + rope),
        "mla": {"q_lora_rank": None if m.q_lora_rank is None else _multiple(m.q_lora_rank * ratio, 8),
                "kv_lora_rank": _multiple(m.kv_lora_rank * ratio, 8), "qk_nope_head_dim": nope,
                "qk_rope_head_dim": rope, "v_head_dim": _multiple(m.v_head_dim * shrunk, 2)},
    }


def _nearest_preset(target: int) -> Preset:
    sized = [preset for preset in PRESETS.values() if preset.target_params]
    return min(sized, key=lambda preset: abs(math.log(preset.target_params / target)))


def proxy_architecture(arch: Architecture, target: str | int) -> Architecture:
    """The proxy of `arch` for a preset ('tiny', 'small', '1b') or a total parameter count.

    Raises ValueError for any other target; zoo.variants.scale wraps this for keys, records and variants.
    """
    if isinstance(target, str):
        if target not in PRESETS:
            raise ValueError(f"unknown scale '{target}'; accepted: {', '.join(PRESETS)} or a parameter count")
        preset = PRESETS[target]
        target_params = preset.target_params
    elif isinstance(target, int) and not isinstance(target, bool) and target > 0:
        preset, target_params = _nearest_preset(target), target
    else:
        raise ValueError(f"invalid scale target {target!r}; accepted: {', '.join(PRESETS)} or a positive parameter count")
    if preset.d_model is not None:
        return shrink(arch, preset.d_model, preset.context_length, preset.vocab_cap)
    widths = range(64, max(64, arch.d_model) + 1, 64)
    candidates = [shrink(arch, d, preset.context_length, preset.vocab_cap) for d in widths]
    return min(candidates, key=lambda a: abs(math.log(param_counts(a).total / target_params)))
