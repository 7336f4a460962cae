"""An architecture diagram drawn from a spec: an SVG of the embeddings, the block, the head and the layer pattern.

Everything shown is read from the Architecture and its layer plan (zoo.plan): the norm placement (pre, post,
double, reordered, parallel), the token mixer with its heads and KV groups, windows or chunks, positions, the
MLP or its experts, the output head, and a strip with one cell per layer (local or global, NoPE, MoE). An
encoder-decoder gets both stacks side by side, the decoder's cross-attention included.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from zoo.labels import label
from zoo.plan import LayerPlan, plan_model
from zoo.schema import Arch, Architecture, NormPosition, Position

WIDTH = 360  # one stack's column, in pixels
BOX_HEIGHT = 30
GAP = 10
COLOURS = {
    "embed": "#E8F1FA", "norm": "#FFF4D6", "mixer": "#DCEFE8", "mlp": "#F9E3D3", "head": "#EDE4F2",
    "global": "#0072B2", "sliding": "#E69F00", "chunked": "#CC79A7", "moe": "#D55E00",
}


@dataclass(frozen=True)
class Box:
    text: str
    kind: str  # a key of COLOURS
    detail: str = ""


def _number(value: int) -> str:
    return f"{value:,}"


def _heads(arch: Architecture) -> str:
    if arch.mla is not None:
        m = arch.mla
        query = f", query latent {_number(m.q_lora_rank)}" if m.q_lora_rank else ""
        return f"MLA: {arch.n_heads} heads, KV latent {_number(m.kv_lora_rank)} + shared RoPE key {m.qk_rope_head_dim}{query}"
    kind = "MHA" if arch.n_kv_heads == arch.n_heads else "MQA" if arch.n_kv_heads == 1 else "GQA"
    groups = "" if kind == "MHA" else f" / {arch.n_kv_heads} KV head{'s' if arch.n_kv_heads > 1 else ''}"
    return f"{kind}: {arch.n_heads} heads{groups} × {arch.head_dim}"


def _positions(arch: Architecture, layers: list[LayerPlan]) -> str:
    kinds = {layer.position for layer in layers}
    if Position.rope in kinds:
        text = f"RoPE θ={arch.rope_theta:,.0f}" if arch.rope_theta else "RoPE"
        if arch.rotary_fraction < 1:
            text += f" on {arch.rotary_fraction:.0%} of dims"
        if Position.none in kinds:
            text += "; NoPE on global layers" if arch.global_nope else "; NoPE on some layers"
        if arch.rope_scaling is not None:
            text += f"; {arch.rope_scaling.kind.value} x{arch.rope_scaling.factor:g}"
        return text
    if kinds & {Position.alibi, Position.relative_bias, Position.xl_relative}:
        return label("position", next(iter(kinds)).value)
    return ""


def _mixer(arch: Architecture, layers: list[LayerPlan], causal: bool) -> Box:
    windows = {(layer.kind, layer.window) for layer in layers if layer.local is not None}
    local = "; ".join(f"{kind} window {_number(window)}" if kind == "sliding" else f"chunks of {_number(window)}"
                      for kind, window in sorted(windows))
    extras = [part for part in (_positions(arch, layers), local,
                                "QK-norm" if arch.qk_norm.value != "none" else "",
                                "learned sinks" if arch.attention_sinks else "",
                                f"soft-cap {arch.attn_softcap:g}" if arch.attn_softcap else "") if part]
    mask = "causal" if causal else "bidirectional"
    return Box(f"{mask} self-attention · {_heads(arch)}", "mixer", " · ".join(extras))


def _mlp(arch: Architecture, layers: list[LayerPlan]) -> Box:
    act = label("activation", arch.activation.value)
    if any(layer.moe for layer in layers):
        moe = arch.moe
        shared = f" + {moe.n_shared_experts} shared" if moe.n_shared_experts else ""
        shared += f", {moe.top_groups} of {moe.n_groups} groups" if moe.n_groups else ""
        shared += ", biased" if moe.expert_bias else ""
        dense = sum(not layer.moe for layer in layers)
        note = f"; {dense} dense layer{'s' if dense > 1 else ''} (d_ff {_number(arch.d_ff)})" if dense else ""
        return Box(f"MoE: {moe.n_experts} experts, top-{moe.experts_per_token}{shared}",
                   "mlp", f"{act}, expert d_ff {_number(moe.expert_d_ff)}{note}")
    return Box(f"MLP ({act})", "mlp", f"{_number(arch.d_model)} → {_number(arch.d_ff)} → {_number(arch.d_model)}")


def _norm(arch: Architecture, where: str) -> Box:
    return Box(f"{label('norm', arch.norm.value)} ({where})", "norm")


def block_boxes(arch: Architecture, layers: list[LayerPlan], causal: bool, cross: bool) -> list[Box]:
    """The sublayers of one block in order, norms placed as the spec's norm_position says."""
    mixer, mlp = _mixer(arch, layers, causal), _mlp(arch, layers)
    sublayers = [mixer] + ([Box("cross-attention to the encoder output", "mixer", _heads(arch))] if cross else [])
    sublayers.append(mlp)
    if arch.parallel_block:
        shared = "one norm feeds both" if arch.parallel_shared_norm else "a norm each"
        return [_norm(arch, f"parallel block: {shared}"),
                Box(f"{mixer.text}  ‖  {mlp.text}", "mixer", f"summed into the residual · {mlp.detail}")]
    boxes: list[Box] = []
    for sublayer in sublayers:
        position = arch.norm_position
        if position in (NormPosition.pre, NormPosition.double):
            boxes.append(_norm(arch, "pre"))
        boxes.append(sublayer)
        if position is NormPosition.double:
            boxes.append(_norm(arch, "on the output"))
        if position is NormPosition.reordered:
            boxes.append(_norm(arch, "on the output, before the add"))
        boxes.append(Box("+ residual", "embed"))
        if position is NormPosition.post:
            boxes.append(_norm(arch, "post, after the add"))
    return boxes


def _embedding(arch: Architecture) -> Box:
    parts = [f"{_number(arch.vocab_size)} × {_number(arch.embedding_dim or arch.d_model)}"]
    if arch.position is Position.learned:
        parts.append(f"+ learned positions ({_number(arch.context_length)})")
    if arch.position is Position.sinusoidal:
        parts.append("+ sinusoidal positions")
    if arch.token_types:
        parts.append(f"+ {arch.token_types} token types")
    if arch.embedding_norm:
        parts.append("+ norm")
    return Box("Token embedding", "embed", " ".join(parts))


def _head(arch: Architecture) -> list[Box]:
    boxes = [_norm(arch, "final")] if arch.final_norm else []
    tied = "tied to the embedding" if arch.tied_embeddings else "untied"
    head = "MLM transform + " if arch.output_head.value == "transform" else ""
    extra = f" · logits soft-cap {arch.final_softcap:g}" if arch.final_softcap else ""
    boxes.append(Box(f"{head}LM head → {_number(arch.vocab_size)} logits", "head", f"{tied}{extra}"))
    return boxes


def _layer_cell(layer: LayerPlan) -> tuple[str, str]:
    """(fill, marker) of one layer in the strip: colour by attention kind, N for NoPE, M for MoE."""
    marker = ("N" if layer.position is Position.none and not layer.attention.cross else "") + ("M" if layer.moe else "")
    return COLOURS[layer.kind], marker


def _text(x, y, content, size=12, weight="normal", anchor="start", fill="#222") -> str:
    return (f'<text x="{x}" y="{y}" font-size="{size}" font-weight="{weight}" text-anchor="{anchor}" '
            f'fill="{fill}" font-family="sans-serif">{escape(content)}</text>')


def _column(x: int, title: str, top: list[Box], block: list[Box], repeat: int, bottom: list[Box],
            layers: list[LayerPlan]) -> tuple[list[str], int]:
    """SVG elements of one stack drawn from y = 0 down; (elements, height)."""
    parts, y = [_text(x + WIDTH / 2, 16, title, 13, "bold", "middle")], 28

    def box(item: Box, inset: int = 0) -> None:
        nonlocal y
        height = BOX_HEIGHT + (14 if item.detail else 0)
        parts.append(f'<rect x="{x + inset}" y="{y}" width="{WIDTH - 2 * inset}" height="{height}" rx="5" '
                     f'fill="{COLOURS[item.kind]}" stroke="#888" stroke-width="0.8"/>')
        parts.append(_text(x + inset + 8, y + 19, item.text, 12, "bold" if item.kind != "norm" else "normal"))
        if item.detail:
            parts.append(_text(x + inset + 8, y + 35, item.detail, 10.5, fill="#444"))
        y += height + GAP

    for item in top:
        box(item)
    start, border = y, len(parts)  # the block's dashed frame goes under its boxes, once its height is known
    y += 22
    for item in block:
        box(item, inset=12)
    parts.insert(border, f'<rect x="{x}" y="{start}" width="{WIDTH}" height="{y - start}" rx="8" fill="none" '
                         f'stroke="#333" stroke-width="1.4" stroke-dasharray="5 3"/>')
    parts.append(_text(x + 8, start + 16, f"Block × {repeat}", 12, "bold"))
    y += GAP
    cell = max(2.0, min(14.0, (WIDTH - 16) / max(len(layers), 1)))
    parts.append(_text(x, y + 10, "Layers: blue global · orange sliding · pink chunked; ticks below: "
                                  "red experts, black no positions", 10, fill="#444"))
    y += 16
    for index, layer in enumerate(layers):
        fill, marker = _layer_cell(layer)
        cx, w = x + index * cell, max(cell - 1, 1)
        parts.append(f'<rect x="{cx:.1f}" y="{y}" width="{w:.1f}" height="16" fill="{fill}">'
                     f'<title>layer {index}: {layer.kind}{", NoPE" if "N" in marker else ""}'
                     f'{", MoE" if "M" in marker else ""}</title></rect>')
        for row, (flag, colour) in enumerate((("M", COLOURS["moe"]), ("N", "#222"))):
            if flag in marker:
                parts.append(f'<rect x="{cx:.1f}" y="{y + 18 + 5 * row}" width="{w:.1f}" height="4" fill="{colour}"/>')
    y += 28 + GAP + 4
    for item in bottom:
        box(item)
    return parts, y


def architecture_svg(arch: Architecture, title: str = "") -> str:
    """The diagram of one architecture as an SVG document (one column, or two for an encoder-decoder)."""
    plan = plan_model(arch)
    columns = []
    if arch.arch is Arch.encoder_decoder:
        encoder = block_boxes(arch, plan.encoder, causal=False, cross=False)
        columns.append(_column(0, "Encoder", [_embedding(arch)], encoder, len(plan.encoder),
                               [_norm(arch, "final")] if arch.final_norm else [], plan.encoder))
        decoder = block_boxes(arch, plan.decoder, causal=True, cross=True)
        columns.append(_column(WIDTH + 40, "Decoder", [Box("Token embedding (shared)", "embed")], decoder,
                               len(plan.decoder), _head(arch), plan.decoder))
    else:
        causal = arch.arch is Arch.decoder
        blocks = block_boxes(arch, plan.decoder, causal=causal, cross=False)
        kind = "Decoder" if causal else "Encoder"
        columns.append(_column(0, f"{kind}: {title}" if title else kind, [_embedding(arch)], blocks,
                               len(plan.decoder), _head(arch), plan.decoder))
    width = WIDTH * len(columns) + 40 * (len(columns) - 1) + 2
    height = max(h for _, h in columns) + 4
    body = "".join(element for parts, _ in columns for element in parts)
    # Scales down to its column (width 100%, height from the viewBox), never beyond its natural size.
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" style="max-width:{width}px" '
            f'viewBox="-1 0 {width} {height}" role="img" aria-label="{escape(title or "architecture")} diagram">'
            f'{body}</svg>')
