"""The spec: a validated architecture plus the cited record around it.

`Architecture` holds everything the builder needs and nothing else, so scaled proxies,
imported configs and one-field counterfactuals are plain architectures. `ModelRecord`
wraps one published checkpoint: identity, published figures, training facts, sources and
per-field citations. Every categorical choice is an enum whose values are the public
spelling of COLUMNS.md, the public row's contract.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from enum import Enum
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"

# Values are read exactly as written: an integer field takes an integer (not "4096", 4096.0 or true), a
# float field a finite number, a flag true or false.
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]

# Upper bounds on every size, far beyond any language model built or in sight (the largest catalogued value
# in brackets), so that whatever validates also counts, flattens and stores in bounded time and memory.
MAX_LAYERS = 1024  # n_layers, n_encoder_layers (PaLM 118)
MAX_WIDTH = 131_072  # d_model, embedding_dim (PaLM 18,432)
MAX_HEADS = 1024  # n_heads, n_kv_heads (T5 11B 128)
MAX_HEAD_DIM = 4096  # (Gemma 256)
MAX_FF = 1_048_576  # d_ff, expert_d_ff (T5 11B 65,536)
MAX_VOCAB = 4_194_304  # (Gemma 3 262,144)
MAX_CONTEXT = 16_777_216  # context_length, windows, RoPE's original context (LLaMA 4 Scout 262,144)
MAX_EXPERTS = 4096  # routed and shared experts (LLaMA 4 Maverick 128)
MAX_PATTERN = 64  # length of layer_pattern and moe_pattern (Gemma 3 6)
MAX_BUCKETS = 4096  # relative-position buckets (T5 32)
MAX_SMALL = 1024  # token types, position offset (BERT 2, OPT 2)
MAX_FACTOR = 1e6  # multipliers, RoPE scaling factors, soft-caps (sqrt(6144) = 78.4)
MAX_THETA = 1e12  # RoPE bases (1e6)
MAX_PARAMS = 10**15  # published and reference parameter counts (grok-1 3.2e11)
MAX_TOKENS = 1e17  # training tokens (LLaMA 4 Scout 4e13)
MAX_TEXT = 20_000  # characters of one name, citation, reason or note


class Arch(str, Enum):
    decoder = "decoder"
    encoder = "encoder"
    encoder_decoder = "encoder-decoder"


class Norm(str, Enum):
    layernorm = "layernorm"
    rmsnorm = "rmsnorm"


class NormPosition(str, Enum):
    """Where each sublayer's norm sits relative to the residual add."""

    post = "post"  # x = norm(x + f(x)): the 2017 Transformer, BERT
    pre = "pre"  # x = x + f(norm(x)): GPT-2 onwards
    double = "double"  # x = x + norm(f(norm(x))): Gemma 2/3, Grok-1
    reordered = "reordered"  # x = x + norm(f(x)): OLMo 2


class Activation(str, Enum):
    relu = "relu"
    gelu = "gelu"
    silu = "silu"
    swiglu = "swiglu"
    geglu = "geglu"
    reglu = "reglu"
    clamped_swiglu = "clamped-swiglu"  # gpt-oss: (clamp(up) + 1) * g * sigmoid(alpha g), g = gate clamped above

    @property
    def gated(self) -> bool:
        return self in (Activation.swiglu, Activation.geglu, Activation.reglu, Activation.clamped_swiglu)


class Position(str, Enum):
    sinusoidal = "sinusoidal"
    learned = "learned"
    relative_bias = "relative-bias"  # T5 bucketed bias
    xl_relative = "xl-relative"  # Transformer-XL relative encoding (Gopher)
    alibi = "alibi"
    rope = "rope"
    none = "none"


class RopeLayout(str, Enum):
    """Which pairs of dimensions RoPE rotates together."""

    half = "half"  # (i, i + d/2): GPT-NeoX, LLaMA
    interleaved = "interleaved"  # (2i, 2i + 1): GPT-J, Cohere


class RopeScalingKind(str, Enum):
    linear = "linear"  # positions divided by factor (Gemma 3 global layers)
    llama3 = "llama3"  # LLaMA 3.1 / 4 frequency-dependent wavelength scaling
    yarn = "yarn"  # YaRN: per-frequency interpolation ramp and an attention factor (Peng et al. 2023)


class LocalAttention(str, Enum):
    sliding = "sliding"  # each query sees itself and the previous window-1 tokens
    chunked = "chunked"  # queries see earlier tokens of their own fixed-size chunk


class QueryScale(str, Enum):
    """What the attention logits are divided by the square root of (a spec may give the number itself)."""

    head_dim = "head_dim"
    d_model_over_heads = "d_model_over_heads"  # Gemma 2 27B, Gemma 3 query_pre_attn_scalar
    none = "none"  # T5: no scaling, folded into the initialisation


class QKNorm(str, Enum):
    none = "none"
    head = "head"  # a learned norm over each head's dims, one weight shared by all heads (Qwen3, Gemma 3)
    head_unshared = "head_unshared"  # over each head's dims, every head with its own weight (Command R+)
    projection = "projection"  # a learned norm over the whole q / k projection (OLMo 2)
    l2 = "l2"  # unweighted RMS normalisation per head, x * rsqrt(mean(x^2) + eps), after RoPE, RoPE layers only (LLaMA 4)


class TokenMixer(str, Enum):
    """How a layer mixes information across tokens; each kind is one registered module in the builder."""

    attention = "attention"  # multi-head softmax attention over cached keys and values (MHA / MQA / GQA)
    mla = "mla"  # multi-head latent attention: keys and values up-projected from a cached low-rank latent


class Router(str, Enum):
    topk_softmax = "topk-softmax"  # softmax over the selected top-k logits (Mixtral)
    softmax_topk = "softmax-topk"  # softmax over all experts, keep top-k probabilities as they are (Grok-1)
    topk_sigmoid = "topk-sigmoid"  # sigmoid of the selected top-k logits (LLaMA 4)
    sigmoid_topk = "sigmoid-topk"  # sigmoid of every logit, top-k by score (+ selection bias), weights renormalised (DeepSeek-V3)


class OutputHead(str, Enum):
    linear = "linear"  # one projection to the vocabulary
    transform = "transform"  # dense + activation + norm, then the projection (BERT's MLM head)


class SourceKind(str, Enum):
    paper = "paper"
    config = "config"
    code = "code"
    model_card = "model-card"
    blog = "blog"


Multiplier = Union[Annotated[Float, Field(gt=0, le=MAX_FACTOR)], Literal["sqrt_d_model", "inv_sqrt_d_model"]]
"""A constant, or a width-dependent factor that scaled proxies recompute from their own d_model."""


def multiplier_value(multiplier: Multiplier, d_model: int) -> float:
    if multiplier == "sqrt_d_model":
        return d_model**0.5
    if multiplier == "inv_sqrt_d_model":
        return d_model**-0.5
    return float(multiplier)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, str_max_length=MAX_TEXT)

    def _check(self, problems) -> None:
        """Raise every (field, rule) problem as its own validation error, located at its field."""
        details = [
            InitErrorDetails(type=PydanticCustomError("cross_field", "{rule}", {"rule": rule}), loc=(field,),
                             input=getattr(self, field.partition(".")[0], None))
            for field, rule in problems
        ]
        if details:
            raise ValidationError.from_exception_data(type(self).__name__, details)


class RopeScaling(_Strict):
    kind: RopeScalingKind
    factor: Float = Field(gt=0, le=MAX_FACTOR)
    low_freq_factor: Float | None = Field(default=None, gt=0, le=MAX_FACTOR)
    high_freq_factor: Float | None = Field(default=None, gt=0, le=MAX_FACTOR)
    original_context_length: Int | None = Field(default=None, gt=0, le=MAX_CONTEXT)
    global_only: Bool = False  # applied to global layers only (Gemma 3)
    # YaRN: the ramp's bounds in rotations (None: the paper's 32 and 1), whether they are rounded outwards
    # (None: yes), and the factor cos/sin are multiplied by: given, or 0.1 ln(factor) + 1, or with mscale and
    # mscale_all_dim the ratio of those formulas at each.
    beta_fast: Float | None = Field(default=None, gt=0, le=MAX_FACTOR)
    beta_slow: Float | None = Field(default=None, gt=0, le=MAX_FACTOR)
    truncate: Bool | None = None
    attention_factor: Float | None = Field(default=None, gt=0, le=MAX_FACTOR)
    mscale: Float | None = Field(default=None, ge=0, le=MAX_FACTOR)
    mscale_all_dim: Float | None = Field(default=None, ge=0, le=MAX_FACTOR)

    @model_validator(mode="after")
    def _kind_fields(self) -> RopeScaling:
        llama3 = ("low_freq_factor", "high_freq_factor")
        yarn = ("beta_fast", "beta_slow", "truncate", "attention_factor", "mscale", "mscale_all_dim")
        problems = []
        if self.kind is RopeScalingKind.llama3:
            problems += [(name, f"llama3 rope scaling needs {name}") for name in llama3 if getattr(self, name) is None]
            if not problems and self.low_freq_factor > self.high_freq_factor:  # equal: a plain step, no smoothed band
                problems.append(("low_freq_factor", "low_freq_factor must not exceed high_freq_factor"))
        else:
            problems += [(name, f"{name} applies only to llama3 rope scaling")
                         for name in llama3 if getattr(self, name) is not None]
        if self.kind is not RopeScalingKind.yarn:
            problems += [(name, f"{name} applies only to yarn rope scaling")
                         for name in yarn if getattr(self, name) is not None]
        if self.kind is RopeScalingKind.linear and self.original_context_length is not None:
            problems.append(("original_context_length", "original_context_length does not apply to linear rope scaling"))
        if self.kind is not RopeScalingKind.linear and self.original_context_length is None:
            problems.append(("original_context_length", f"{self.kind.value} rope scaling needs original_context_length"))
        self._check(problems)
        return self

    @property
    def yarn_attention_factor(self) -> float:
        """What YaRN multiplies cos and sin by (1 for the other kinds)."""
        if self.kind is not RopeScalingKind.yarn:
            return 1.0
        if self.attention_factor is not None:
            return self.attention_factor

        def mscale(scale: float) -> float:
            return 1.0 if self.factor <= 1 else 0.1 * scale * math.log(self.factor) + 1.0

        if self.mscale and self.mscale_all_dim:
            return mscale(self.mscale) / mscale(self.mscale_all_dim)
        return mscale(1.0)


class GateInput(str, Enum):
    """Where the router's weight multiplies an expert."""

    output = "output"  # weight * expert(x) (Mixtral, Grok-1)
    input = "input"  # expert(weight * x) (LLaMA 4)


class QueryTemperature(_Strict):
    """Position-dependent query scaling on NoPE layers: q * (1 + scale * log(1 + floor((pos + 1) / floor_scale)))."""

    floor_scale: Int = Field(gt=0, le=MAX_CONTEXT)
    scale: Float = Field(gt=0, le=MAX_FACTOR)


class MoE(_Strict):
    """Mixture-of-experts MLP: routed experts, optional always-on shared experts."""

    n_experts: Int = Field(gt=1, le=MAX_EXPERTS)
    experts_per_token: Int = Field(gt=0, le=MAX_EXPERTS)
    n_shared_experts: Int = Field(default=0, ge=0, le=MAX_EXPERTS)
    expert_d_ff: Int = Field(gt=0, le=MAX_FF)  # hidden width of one routed (and shared) expert
    router: Router
    gate_input: GateInput = GateInput.output
    shared_expert_gate: Bool = False  # the shared experts' output scaled by sigmoid(w . x) (Qwen 1.5 / 2 MoE)
    # Group-limited routing (DeepSeek): experts in n_groups groups, only the top_groups groups' experts eligible;
    # a group scores by its best expert (softmax routers) or the sum of its best two (sigmoid-topk)
    n_groups: Int | None = Field(default=None, gt=0, le=MAX_EXPERTS)
    top_groups: Int | None = Field(default=None, gt=0, le=MAX_EXPERTS)
    routed_scaling: Float = Field(default=1.0, gt=0, le=MAX_FACTOR)  # multiplies the routed experts' weights (DeepSeek)
    selection_bias: Bool = False  # a per-expert bias added to the scores for choosing only (DeepSeek-V3's e_score_correction_bias)
    router_bias: Bool = False  # the router's logits carry a learned bias (gpt-oss)
    expert_bias: Bool = False  # every expert's projections carry biases (gpt-oss)
    first_dense: Int = Field(default=0, ge=0, le=MAX_LAYERS)  # leading dense layers before moe_pattern starts (DeepSeek)
    moe_pattern: str = Field(default="M", max_length=MAX_PATTERN)  # repeating unit over layers: M a MoE layer, D a dense MLP of width d_ff

    @field_validator("moe_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if not re.fullmatch(r"[MD]+", value) or "M" not in value:
            raise ValueError("moe_pattern is a string of 'M' (MoE layer) and 'D' (dense layer) with at least one 'M'")
        return value

    @model_validator(mode="after")
    def _top_k(self) -> MoE:
        if self.experts_per_token > self.n_experts:
            self._check([("experts_per_token",
                          f"experts_per_token ({self.experts_per_token}) must be <= n_experts ({self.n_experts})")])
        return self


class MLA(_Strict):
    """Multi-head latent attention (DeepSeek-V2/V3, Kimi K2): queries from an optional low-rank projection,
    keys and values up-projected from one cached latent of kv_lora_rank per token, each head's key the
    concatenation of a position-free part and one RoPE key shared by every head."""

    q_lora_rank: Int | None = Field(default=None, gt=0, le=MAX_WIDTH)  # None: a full-rank query projection
    kv_lora_rank: Int = Field(gt=0, le=MAX_WIDTH)
    qk_nope_head_dim: Int = Field(gt=0, le=MAX_WIDTH)
    qk_rope_head_dim: Int = Field(gt=0, le=MAX_WIDTH)
    v_head_dim: Int = Field(gt=0, le=MAX_WIDTH)


class Architecture(_Strict):
    """Everything needed to build the network; no names, dates or sources."""

    arch: Arch
    n_layers: Int = Field(gt=0, le=MAX_LAYERS, description="decoder layers (encoder layers for an encoder-only model)")
    n_encoder_layers: Int | None = Field(default=None, gt=0, le=MAX_LAYERS)
    d_model: Int = Field(gt=0, le=MAX_WIDTH)
    n_heads: Int = Field(gt=0, le=MAX_HEADS)
    n_kv_heads: Int = Field(gt=0, le=MAX_HEADS)
    head_dim: Int = Field(gt=0, le=MAX_HEAD_DIM)
    d_ff: Int = Field(gt=0, le=MAX_FF, description="MLP hidden width; one branch of a gated MLP")
    vocab_size: Int = Field(gt=0, le=MAX_VOCAB)
    context_length: Int = Field(gt=0, le=MAX_CONTEXT)

    # Block
    norm: Norm
    norm_eps: Float = Field(gt=0, lt=1)
    norm_bias: Bool  # LayerNorm with a bias (always false for RMSNorm)
    norm_affine: Bool = True  # norms learn a scale (and bias); OLMo 1's LayerNorm learns neither
    norm_unit_offset: Bool = False  # the norm scales by (1 + w), w initialised at 0 (Gemma)
    norm_position: NormPosition
    final_norm: Bool  # a norm after the last block, before the output head
    activation: Activation
    gelu_tanh: Bool = False  # GELU (or GeGLU) uses the tanh approximation
    parallel_block: Bool
    parallel_shared_norm: Bool = True  # a parallel block reads one shared norm (GPT-J) or two (GPT-NeoX)
    linear_bias: Bool  # biases on the attention and MLP projections (q/k/v as qkv_bias says)
    qkv_bias: Bool  # biases on q/k/v (Qwen: these alone; GPT-Neo: all but these, with linear_bias)
    mlp_bias: Bool | None = None  # MLP biases where they differ from linear_bias (GPT-J: MLP only); None = linear_bias
    tied_embeddings: Bool
    output_bias: Bool = False
    output_head: OutputHead = OutputHead.linear
    dropout: Float = Field(ge=0, lt=1)
    embedding_norm: Bool
    embedding_multiplier: Multiplier = 1.0
    output_multiplier: Multiplier = 1.0
    residual_multiplier: Float = Field(default=1.0, gt=0, le=MAX_FACTOR)  # scales each sublayer's output before the add (Granite)
    embedding_dim: Int | None = Field(default=None, gt=0, le=MAX_WIDTH)  # embeddings narrower than d_model, projected in and out (OPT-350m)
    token_types: Int = Field(default=0, ge=0, le=MAX_SMALL)  # segment embeddings (BERT)
    pooler: Bool = False  # BERT's [CLS] pooler

    # Position
    position: Position
    position_offset: Int = Field(default=0, ge=0, le=MAX_SMALL)  # rows before position 0 in a learned table (OPT: 2)
    rope_theta: Float | None = Field(default=None, gt=0, le=MAX_THETA)
    rope_local_theta: Float | None = Field(default=None, gt=0, le=MAX_THETA)  # a different base on local layers (Gemma 3)
    rotary_fraction: Float | None = None
    rope_layout: RopeLayout | None = None
    rope_scaling: RopeScaling | None = None
    relative_buckets: Int | None = Field(default=None, gt=0, le=MAX_BUCKETS)
    relative_max_distance: Int | None = Field(default=None, gt=0, le=MAX_CONTEXT)

    # Attention
    # q.k is divided by the square root of this: a named width, or a number where a model gives one (Gemma 2/3's
    # query_pre_attn_scalar; Granite's attention_multiplier m is 1 / m**2)
    query_scale: QueryScale | Annotated[Float, Field(gt=0, le=MAX_THETA)] = QueryScale.head_dim
    layer_pattern: str = Field(default="G", max_length=MAX_PATTERN)
    local_attention: LocalAttention | None = None
    sliding_window: Int | None = Field(default=None, gt=0, le=MAX_CONTEXT)
    global_nope: Bool = False
    # repeating unit over layers of which use RoPE: R rotates, N has no positions (SmolLM3: RRRN); None: all R
    nope_pattern: str | None = Field(default=None, max_length=MAX_PATTERN)
    nope_query_temperature: QueryTemperature | None = None  # LLaMA 4's long-context scaling on NoPE layers
    mla: MLA | None = None  # multi-head latent attention instead of softmax attention over per-head K/V
    attention_sinks: Bool = False  # a learned per-head logit joins every softmax's denominator (gpt-oss)
    glu_limit: Float | None = Field(default=None, gt=0, le=MAX_FACTOR)  # clamped-swiglu's clamp (gpt-oss 7.0)
    glu_alpha: Float | None = Field(default=None, gt=0, le=MAX_FACTOR)  # clamped-swiglu's sigmoid slope (gpt-oss 1.702)
    # multi-token-prediction modules shipped beside the model (DeepSeek-V3): counted apart, not built
    mtp_layers: Int = Field(default=0, ge=0, le=MAX_SMALL)
    clip_qkv: Float | None = Field(default=None, gt=0, le=MAX_FACTOR)  # q, k, v clamped to +-clip_qkv after projection (OLMo)
    qk_norm: QKNorm = QKNorm.none  # of the block's norm kind (LayerNorm without bias for Command R+)

    # Stability
    z_loss: Float | None = Field(default=None, gt=0, le=1)
    attn_softcap: Float | None = Field(default=None, gt=0, le=MAX_FACTOR)
    final_softcap: Float | None = Field(default=None, gt=0, le=MAX_FACTOR)

    moe: MoE | None = None

    @field_validator("layer_pattern")
    @classmethod
    def _layer_pattern(cls, value: str) -> str:
        if not re.fullmatch(r"[GL]+", value):
            raise ValueError("layer_pattern is a string of 'G' (global) and 'L' (local) layers")
        return value

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Architecture:
        self._check(_architecture_problems(self))
        return self

    # Derived values, never typed in.
    @property
    def token_mixer(self) -> TokenMixer:
        return TokenMixer.mla if self.mla is not None else TokenMixer.attention

    @property
    def attention(self) -> str:
        if self.mla is not None:
            return "mla"
        if self.n_kv_heads == self.n_heads:
            return "mha"
        return "mqa" if self.n_kv_heads == 1 else "gqa"

    @property
    def gated_mlp(self) -> bool:
        return self.activation.gated

    @property
    def has_mlp_bias(self) -> bool:
        return self.linear_bias if self.mlp_bias is None else self.mlp_bias

    @property
    def has_local_layers(self) -> bool:
        return "L" in self.layer_pattern

    @property
    def ffn_ratio(self) -> float:
        return self.d_ff / self.d_model

    @property
    def aspect_ratio(self) -> float:
        return self.d_model / self.n_layers

    @property
    def head_ratio(self) -> float:
        return self.n_heads * self.head_dim / self.d_model


def _architecture_problems(a: Architecture):
    """Cross-field rules; each yields (field, one readable sentence naming the fields involved)."""
    if a.n_heads % a.n_kv_heads:
        yield "n_heads", f"n_heads ({a.n_heads}) must be divisible by n_kv_heads ({a.n_kv_heads})"
    if a.arch is Arch.encoder_decoder and a.n_encoder_layers is None:
        yield "n_encoder_layers", "n_encoder_layers is required for an encoder-decoder model"
    if a.arch is not Arch.encoder_decoder and a.n_encoder_layers is not None:
        yield "n_encoder_layers", "n_encoder_layers applies only to encoder-decoder models"
    if a.norm is Norm.rmsnorm and a.norm_bias:
        yield "norm_bias", "norm_bias must be false for rmsnorm (RMSNorm has no bias)"
    if not a.norm_affine and (a.norm_bias or a.norm_unit_offset):
        yield "norm_affine", "a norm without learned parameters (norm_affine false) has no bias and no unit offset"
    if a.mlp_bias is not None and a.mlp_bias == a.linear_bias:
        yield "mlp_bias", "mlp_bias is only for MLP biases that differ from linear_bias; omit it otherwise"
    if a.parallel_block and a.norm_position is not NormPosition.pre:
        yield "parallel_block", "parallel_block requires norm_position 'pre'"
    if not a.parallel_block and not a.parallel_shared_norm:
        yield "parallel_shared_norm", "parallel_shared_norm=false applies only to parallel blocks"
    if a.gelu_tanh and a.activation not in (Activation.gelu, Activation.geglu):
        yield "gelu_tanh", "gelu_tanh applies only to activation 'gelu' or 'geglu'"
    if a.output_head is OutputHead.transform and a.arch is Arch.encoder_decoder:
        yield "output_head", "output_head 'transform' applies only to decoder or encoder models"
    if a.pooler and a.arch is not Arch.encoder:
        yield "pooler", "pooler applies only to encoder models"
    if a.embedding_dim is not None and a.embedding_dim == a.d_model:
        yield "embedding_dim", "embedding_dim is only for embeddings narrower or wider than d_model; omit it otherwise"

    rope = a.position is Position.rope
    if rope:
        if a.rope_theta is None:
            yield "rope_theta", "rope_theta is required when position is 'rope'"
        if a.rotary_fraction is None:
            yield "rotary_fraction", "rotary_fraction is required when position is 'rope'"
        elif not 0 < a.rotary_fraction <= 1:
            yield "rotary_fraction", f"rotary_fraction must be in (0, 1], got {a.rotary_fraction}"
        elif (a.head_dim * a.rotary_fraction) % 2:
            yield "rotary_fraction", "rotary_fraction * head_dim must be an even number of dimensions"
        if a.rope_layout is None:
            yield "rope_layout", "rope_layout is required when position is 'rope'"
    else:
        for name in ("rope_theta", "rope_local_theta", "rotary_fraction", "rope_layout", "rope_scaling"):
            if getattr(a, name) is not None:
                yield name, f"{name} applies only when position is 'rope' (position is '{a.position.value}')"
    if a.rope_local_theta is not None and not a.has_local_layers:
        yield "rope_local_theta", "rope_local_theta needs local layers in layer_pattern"
    if a.position is Position.relative_bias:
        if a.relative_buckets is None or a.relative_max_distance is None:
            yield "relative_buckets", "relative_buckets and relative_max_distance are required when position is 'relative-bias'"
    elif a.relative_buckets is not None or a.relative_max_distance is not None:
        yield "relative_buckets", "relative_buckets and relative_max_distance apply only when position is 'relative-bias'"
    if a.position_offset and a.position is not Position.learned:
        yield "position_offset", "position_offset applies only to learned positions"

    if a.has_local_layers:
        if a.sliding_window is None:
            yield "sliding_window", f"sliding_window is required when layer_pattern ('{a.layer_pattern}') has local layers"
        elif a.sliding_window >= a.context_length:
            yield "sliding_window", f"sliding_window ({a.sliding_window}) must be smaller than context_length ({a.context_length})"
        if a.local_attention is None:
            yield "local_attention", "local_attention ('sliding' or 'chunked') is required when layer_pattern has local layers"
        if a.arch is not Arch.decoder:
            yield "layer_pattern", "local layers are only supported in decoder models"
    else:
        if a.sliding_window is not None:
            yield "sliding_window", f"sliding_window is set but layer_pattern ('{a.layer_pattern}') has no local layers"
        if a.local_attention is not None:
            yield "local_attention", f"local_attention is set but layer_pattern ('{a.layer_pattern}') has no local layers"
    if a.nope_pattern is not None:
        if not re.fullmatch(r"[RN]+", a.nope_pattern) or "N" not in a.nope_pattern:
            yield "nope_pattern", "nope_pattern is a string of 'R' (RoPE) and 'N' (no positions) with at least one 'N'"
        elif a.position is not Position.rope:
            yield "nope_pattern", "nope_pattern applies only when position is 'rope'"
        elif a.global_nope:
            yield "nope_pattern", "nope_pattern and global_nope are two ways to say which layers skip RoPE; use one"
    if a.mla is not None:
        m = a.mla
        if a.head_dim != m.qk_nope_head_dim + m.qk_rope_head_dim:
            yield "head_dim", "with mla, head_dim is the query/key width qk_nope_head_dim + qk_rope_head_dim"
        if a.n_kv_heads != a.n_heads:
            yield "n_kv_heads", "with mla every head has its own key and value: n_kv_heads equals n_heads"
        if a.position is not Position.rope or a.rotary_fraction is None or \
                round(a.head_dim * a.rotary_fraction) != m.qk_rope_head_dim:
            yield "rotary_fraction", "with mla, RoPE rotates exactly the qk_rope_head_dim dims (rotary_fraction = rope / head_dim)"
        if a.qkv_bias or a.linear_bias or a.clip_qkv is not None or a.qk_norm is not QKNorm.none:
            yield "mla", "mla has no q/k/v biases, clipping or QK-norm (its latents have their own norms)"
    if a.moe is not None:
        moe = a.moe
        if (moe.n_groups is None) != (moe.top_groups is None):
            yield "moe", "moe.n_groups and moe.top_groups go together (group-limited routing)"
        elif moe.n_groups is not None and (moe.n_experts % moe.n_groups or moe.top_groups > moe.n_groups):
            yield "moe", "moe.n_groups must divide n_experts and top_groups must not exceed n_groups"
        if moe.selection_bias and moe.router is not Router.sigmoid_topk:
            yield "moe", "moe.selection_bias applies to the sigmoid-topk router"
        if moe.first_dense >= a.n_layers:
            yield "moe", "moe.first_dense must leave at least one MoE layer"
    clamped = a.activation is Activation.clamped_swiglu
    if clamped != (a.glu_limit is not None) or clamped != (a.glu_alpha is not None):
        yield "glu_limit", "glu_limit and glu_alpha are set exactly when activation is 'clamped-swiglu'"
    if a.attention_sinks and a.mla is not None:
        yield "attention_sinks", "attention sinks are defined for softmax attention over per-head keys, not mla"
    if a.moe is not None and a.moe.shared_expert_gate and not a.moe.n_shared_experts:
        yield "moe", "moe.shared_expert_gate needs shared experts (n_shared_experts > 0)"
    if a.global_nope:
        if "G" not in a.layer_pattern or not a.has_local_layers:
            yield "global_nope", "global_nope needs both global and local layers in layer_pattern"
        if not rope:
            yield "global_nope", "global_nope applies only when position is 'rope'"
    if a.nope_query_temperature is not None and not a.global_nope:
        yield "nope_query_temperature", "nope_query_temperature applies only with global_nope layers"
    if a.qk_norm is QKNorm.l2 and not rope:
        yield "qk_norm", "qk_norm 'l2' applies only when position is 'rope'"
    if a.moe is not None and "D" in a.moe.moe_pattern and a.n_layers < len(a.moe.moe_pattern):
        yield "n_layers", "n_layers must be at least the length of moe_pattern"


class Source(_Strict):
    url: str = Field(pattern=r"^https?://\S+$")
    kind: SourceKind
    title: str = Field(min_length=1)


class Training(_Strict):
    """Published pretraining facts (null where unpublished, with a reason in `unpublished`)."""

    training_tokens: Float | None = Field(default=None, gt=0, le=MAX_TOKENS)
    weight_decay: Float | None = Field(default=None, ge=0, le=10)
    optimizer: str | None = Field(default=None, pattern=r"^[a-z0-9_-]+$")


RECORD_FIELDS = ("params_published", "params_reference", "multilingual")
TRAINING_FIELDS = tuple(Training.model_fields)
ARCHITECTURE_FIELDS = tuple(Architecture.model_fields)
NESTED_FIELDS = {
    "moe": tuple(MoE.model_fields),
    "rope_scaling": tuple(RopeScaling.model_fields),
    "nope_query_temperature": tuple(QueryTemperature.model_fields),
    "mla": tuple(MLA.model_fields),
}
CITABLE_FIELDS = frozenset(
    (*RECORD_FIELDS, *TRAINING_FIELDS, *ARCHITECTURE_FIELDS, *(f"{p}.{f}" for p, fs in NESTED_FIELDS.items() for f in fs))
)


class ModelRecord(_Strict):
    """One published checkpoint: its architecture and the cited facts around it."""

    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    family: str = Field(min_length=1)
    organization: str = Field(min_length=1)
    released: str
    params_published: Int | None = Field(default=None, gt=0, le=MAX_PARAMS)  # as the paper or model card states it ("7B")
    params_reference: Int | None = Field(default=None, gt=0, le=MAX_PARAMS)  # exact count of the official config in its reference code
    multilingual: Bool  # trained for many languages (vocabulary sized for them)
    architecture: Architecture
    training: Training
    sources: list[Source] = Field(min_length=1, max_length=64)
    citations: dict[str, str] = Field(default_factory=dict)  # field -> where the value comes from, or why it is unusual
    assumed: dict[str, str] = Field(default_factory=dict)  # architecture field -> why this unpublished value was assumed
    unpublished: dict[str, str] = Field(default_factory=dict)  # null field -> why it is null
    notes: str = ""

    @field_validator("released")
    @classmethod
    def _released(cls, value: str) -> str:
        match = re.fullmatch(r"([0-9]{4})-([0-9]{2})", value)
        if not match:
            raise ValueError(f"released must be 'YYYY-MM', got '{value}'")
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"released month must be 01-12, got '{value}'")
        today = _dt.date.today()
        if not 2017 <= year or (year, month) > (today.year, today.month):
            raise ValueError(f"released must be between 2017-01 and this month, got '{value}'")
        return value

    @model_validator(mode="after")
    def _provenance_rules(self) -> ModelRecord:
        problems = []
        for table in ("citations", "assumed", "unpublished"):
            for name in getattr(self, table):
                if name not in CITABLE_FIELDS:
                    problems.append((table, f"{table} names unknown field '{name}'"))
        for name in self.assumed:
            if name in CITABLE_FIELDS and self.field_value(name) is None:
                problems.append(("assumed", f"assumed field '{name}' needs the assumed value in the spec"))
            if name in CITABLE_FIELDS and name not in ARCHITECTURE_FIELDS and "." not in name:
                problems.append(("assumed", f"assumed field '{name}' must be an architecture field"))
        for name in self.unpublished:
            if name in CITABLE_FIELDS and self.field_value(name) is not None:
                problems.append(("unpublished", f"unpublished field '{name}' must be left out (null), not given a value"))
        for name in ("params_published", *TRAINING_FIELDS):
            if self.field_value(name) is None and name not in self.unpublished:
                problems.append(("unpublished", f"{name} is null: give its value or say why under [unpublished]"))
        self._check(problems)
        return self

    def field_value(self, name: str):
        """Value of a citable field by its flat name (`d_ff`, `moe.n_experts`, `optimizer`)."""
        if name in RECORD_FIELDS:
            return getattr(self, name)
        if name in TRAINING_FIELDS:
            return getattr(self.training, name)
        head, _, tail = name.partition(".")
        value = getattr(self.architecture, head)
        if tail:
            return None if value is None else getattr(value, tail)
        return value

    @property
    def year(self) -> int:
        return int(self.released[:4])
