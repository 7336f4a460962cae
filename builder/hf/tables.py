"""Hugging Face config tables: for each transformers model type, how its config keys encode our spec fields.

A table is a list of codecs. Each codec owns some top-level `Architecture` fields and knows the config
keys that hold them: `read(config, notes)` returns those fields' values from a transformers config object,
`write(values)` returns the config keywords that express them. A field no codec of a type mentions is fixed
at the schema default (what a model type that lacks the feature has). Whether a spec fits a type is decided
by writing it and reading it back: whatever does not survive is what that type's code cannot express.

Pure Python: nothing here imports transformers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zoo.errors import ZooError

_MISSING = object()

# hidden_act spellings in transformers' ACT2FN: name -> (base activation, tanh-approximated GELU)
ACTIVATION_NAMES = {
    "relu": ("relu", False),
    "gelu": ("gelu", False),
    "gelu_new": ("gelu", True),
    "gelu_fast": ("gelu", True),
    "gelu_pytorch_tanh": ("gelu", True),
    "silu": ("silu", False),
    "swish": ("silu", False),
}
GATED_ACTIVATIONS = {"relu": "reglu", "gelu": "geglu", "silu": "swiglu"}
_BASE_OF_GATED = {gated: base for base, gated in GATED_ACTIVATIONS.items()}

# layer_types entries -> our layer_pattern letters and local attention kind
LAYER_TYPE_NAMES = {"full_attention": ("G", None), "sliding_attention": ("L", "sliding"),
                    "chunked_attention": ("L", "chunked")}
_LAYER_TYPE_OF_LOCAL = {"sliding": "sliding_attention", "chunked": "chunked_attention"}


class NotExpressible(ZooError, ValueError):
    """A config (or spec) value that the other side has no way to say."""


def _get(config, key: str, default=_MISSING):
    value = getattr(config, key, default)
    if value is _MISSING:
        raise NotExpressible(f"config has no '{key}'")
    return value


def _repeating_unit(items: list) -> list:
    """The shortest prefix that, repeated from the start and cut at len(items), gives items."""
    for period in range(1, len(items) + 1):
        if all(items[i] == items[i % period] for i in range(len(items))):
            return items[:period]
    return items


@dataclass(frozen=True)
class Key:
    """One spec field stored under one config key (also written to `also`; `default` when a config lacks it)."""

    field: str
    key: str
    default: Any = _MISSING
    also: tuple[str, ...] = ()

    @property
    def fields(self):
        return (self.field,)

    def read(self, config, notes):
        value = getattr(config, self.key, None)
        if value is None and self.default is not _MISSING:
            if self.default is not None:
                notes[self.field] = f"the config has no {self.key}; {self.default!r} is a placeholder"
            return {self.field: self.default}
        return {self.field: _get(config, self.key)}

    def write(self, values):
        value = values[self.field]
        if value is None and self.default is None:
            return {}
        return {key: value for key in (self.key, *self.also)}


@dataclass(frozen=True)
class Fixed:
    """Fields the model type's code hard-wires; nothing in the config says them."""

    values: dict

    @property
    def fields(self):
        return tuple(self.values)

    def read(self, config, notes):
        return dict(self.values)

    def write(self, values):
        return {}


def fixed(**values) -> Fixed:
    return Fixed(values)


@dataclass(frozen=True)
class Switch:
    """A config flag (or choice) that selects a set of field values; written back under `write_key`."""

    key: str
    cases: dict  # config value -> {field: value}
    write_key: str | None = None

    @property
    def fields(self):
        return tuple(next(iter(self.cases.values())))

    def read(self, config, notes):
        value = _get(config, self.key)
        if value not in self.cases:
            raise NotExpressible(f"{self.key}={value!r} is not one of {sorted(self.cases, key=repr)}")
        return dict(self.cases[value])

    def write(self, values):
        for choice, case in self.cases.items():
            if all(values[name] == value for name, value in case.items()):
                return {self.write_key or self.key: choice}
        return {}  # no case fits: the read-back shows the mismatch


@dataclass(frozen=True)
class Quotient:
    """A field the reference derives as numerator // denominator (head_dim = hidden_size // n_heads), or reads
    from `key` where the type stores one and the config holds it (null or absent: the quotient, as the Qwen 2,
    OLMo 2, Cohere and Mixtral configs are published)."""

    field: str
    numerator: str
    denominator: str
    key: str | None = None  # None: never stored, always the quotient

    @property
    def fields(self):
        return (self.field,)

    def read(self, config, notes):
        value = getattr(config, self.key, None) if self.key else None
        return {self.field: value if value is not None else _get(config, self.numerator) // _get(config, self.denominator)}

    def write(self, values):
        return {self.key: values[self.field]} if self.key else {}


@dataclass(frozen=True)
class Width:
    """A width stored under `key` that the reference replaces by factor * `base` when it is null (GPT-2 n_inner)."""

    field: str
    key: str | None  # None: never stored, always factor * base
    base: str
    factor: int = 4

    @property
    def fields(self):
        return (self.field,)

    def read(self, config, notes):
        value = getattr(config, self.key, None) if self.key else None
        return {self.field: value if value is not None else self.factor * _get(config, self.base)}

    def write(self, values):
        return {self.key: values[self.field]} if self.key else {}


@dataclass(frozen=True)
class OptionalWidth:
    """Embedding width that is omitted from the spec when it equals d_model (OPT word_embed_proj_dim)."""

    field: str
    key: str
    d_model_key: str

    @property
    def fields(self):
        return (self.field,)

    def read(self, config, notes):
        value = getattr(config, self.key, None)
        return {self.field: None if value in (None, _get(config, self.d_model_key)) else value}

    def write(self, values):
        return {self.key: values[self.field] if values[self.field] is not None else values["d_model"]}


@dataclass(frozen=True)
class Activation:
    """`activation` and `gelu_tanh` from an ACT2FN name; `gated` is a bool or the config key that says it."""

    key: str
    gated: bool | str
    write_key: str | None = None  # where a config takes the name, when it derives `key` from it (T5)
    gated_prefix: str = ""  # how `write_key` spells gating ("gated-" in T5's feed_forward_proj)
    names: dict = field(default_factory=lambda: ACTIVATION_NAMES)
    tanh_name: str = "gelu_new"

    @property
    def fields(self):
        return ("activation", "gelu_tanh")

    def read(self, config, notes):
        name = _get(config, self.key)
        if name not in self.names:
            raise NotExpressible(f"{self.key}={name!r} is not one of {sorted(self.names)}")
        base, tanh = self.names[name]
        gated = self.gated if isinstance(self.gated, bool) else bool(_get(config, self.gated))
        return {"activation": GATED_ACTIVATIONS[base] if gated else base, "gelu_tanh": tanh}

    def write(self, values):
        activation = values["activation"]
        gated = activation in _BASE_OF_GATED
        base = _BASE_OF_GATED.get(activation, activation)
        if base == "gelu":
            name = self.tanh_name if values["gelu_tanh"] else "gelu"
        else:
            name = base
        if self.write_key is None:
            return {self.key: name}
        if base == "gelu" and gated and self.gated_prefix:
            name = "gelu"  # T5: "gated-gelu" is its tanh GeGLU
        return {self.write_key: (self.gated_prefix if gated else "") + name}


@dataclass(frozen=True)
class Biases:
    """Which projections carry biases: q/k/v, the attention output, the MLP; each a config key or a constant."""

    qkv: str | bool
    out: str | bool
    mlp: str | bool

    @property
    def fields(self):
        return ("qkv_bias", "linear_bias", "mlp_bias")

    @staticmethod
    def _value(config, source):
        return source if isinstance(source, bool) else bool(_get(config, source))

    def read(self, config, notes):
        qkv, out, mlp = (self._value(config, s) for s in (self.qkv, self.out, self.mlp))
        return {"qkv_bias": qkv, "linear_bias": out, "mlp_bias": None if mlp == out else mlp}

    def write(self, values):
        mlp = values["linear_bias"] if values["mlp_bias"] is None else values["mlp_bias"]
        written = {}
        for source, value in ((self.qkv, values["qkv_bias"]), (self.out, values["linear_bias"]), (self.mlp, mlp)):
            if isinstance(source, str):
                written.setdefault(source, value)
        return written


# YaRN's optional rope_parameters, by our RopeScaling field
_YARN_KEYS = {"beta_fast": "beta_fast", "beta_slow": "beta_slow", "truncate": "truncate",
              "attention_factor": "attention_factor", "mscale": "mscale", "mscale_all_dim": "mscale_all_dim"}


@dataclass(frozen=True)
class Rope:
    """RoPE: base, scaling and rotated fraction from `rope_parameters` (per layer type when `per_layer_type`)."""

    layout: str
    fraction: str | float = 1.0  # "partial_rotary_factor" (in rope_parameters), "rotary_dim" (a key), or fixed
    per_layer_type: bool = False  # Gemma 3: {"full_attention": {...}, "sliding_attention": {...}}
    fixed_theta: float | None = None  # GPT-J: the base is in the model code, the config has no rope_parameters
    layout_key: str | None = None  # DeepSeek: rope_interleave true (interleaved pairs) or false (halves)

    @property
    def fields(self):
        return ("position", "rope_theta", "rope_local_theta", "rotary_fraction", "rope_layout", "rope_scaling")

    @staticmethod
    def _scaling(params: dict):
        kind = params.get("rope_type", "default")
        if kind == "default":
            return None
        if kind == "linear":
            return {"kind": "linear", "factor": params["factor"]}
        if kind == "llama3":
            return {"kind": "llama3", "factor": params["factor"], "low_freq_factor": params["low_freq_factor"],
                    "high_freq_factor": params["high_freq_factor"],
                    "original_context_length": params["original_max_position_embeddings"]}
        if kind == "yarn":
            return {"kind": "yarn", "factor": params["factor"],
                    "original_context_length": params["original_max_position_embeddings"],
                    **{ours: params.get(theirs) for ours, theirs in _YARN_KEYS.items()}}
        raise NotExpressible(f"rope_type {kind!r} (only default, linear, llama3 and yarn are in the schema)")

    @staticmethod
    def _parameters(theta, scaling) -> dict:
        params = {"rope_type": "default", "rope_theta": theta}
        if scaling:
            params.update(rope_type=scaling["kind"], factor=scaling["factor"])
            if scaling["kind"] == "llama3":
                params.update(low_freq_factor=scaling["low_freq_factor"], high_freq_factor=scaling["high_freq_factor"],
                              original_max_position_embeddings=scaling["original_context_length"])
            if scaling["kind"] == "yarn":
                params["original_max_position_embeddings"] = scaling["original_context_length"]
                params.update({theirs: scaling[ours] for ours, theirs in _YARN_KEYS.items() if scaling[ours] is not None})
        return params

    def read(self, config, notes):
        params = {"rope_theta": self.fixed_theta} if self.fixed_theta else _get(config, "rope_parameters")
        local_theta = None
        if self.per_layer_type:
            params, local = params["full_attention"], params.get("sliding_attention")
            scaling = self._scaling(params)
            if local is not None:
                local_theta = local["rope_theta"] if local["rope_theta"] != params["rope_theta"] else None
                if "sliding_attention" in config.layer_types and scaling is not None:
                    local_scaling = self._scaling(local)
                    if local_scaling not in (None, scaling):
                        raise NotExpressible("local and global layers use different RoPE scalings")
                    scaling = {**scaling, "global_only": local_scaling is None}
        else:
            scaling = self._scaling(params)
        layout = self.layout
        if self.layout_key is not None:
            layout = "interleaved" if _get(config, self.layout_key) else "half"
        if isinstance(self.fraction, float):
            fraction = self.fraction
        elif self.fraction == "mla":
            rope = _get(config, "qk_rope_head_dim")
            fraction = rope / (rope + _get(config, "qk_nope_head_dim"))
        elif self.fraction == "rotary_dim":
            rotary_dim = getattr(config, "rotary_dim", None)
            head_dim = config.n_embd // config.n_head
            fraction = 1.0 if rotary_dim is None else rotary_dim / head_dim
        else:
            fraction = float(params.get("partial_rotary_factor", 1.0))
        return {"position": "rope", "rope_theta": float(params["rope_theta"]), "rope_local_theta": local_theta,
                "rotary_fraction": fraction, "rope_layout": layout, "rope_scaling": scaling}

    def write(self, values):
        if values["position"] != "rope":
            return {}
        scaling = values["rope_scaling"]
        params = self._parameters(values["rope_theta"], scaling)
        written = {}
        if self.layout_key is not None:
            written[self.layout_key] = values["rope_layout"] == "interleaved"
        if self.fraction == "partial_rotary_factor":
            params["partial_rotary_factor"] = values["rotary_fraction"]
        elif self.fraction == "rotary_dim":
            written["rotary_dim"] = round(values["rotary_fraction"] * values["head_dim"])
        if self.fixed_theta:
            return written
        if self.per_layer_type:
            local_scaling = None if scaling is None or scaling.get("global_only") else scaling
            local_theta = values["rope_local_theta"] or values["rope_theta"]
            params = {"full_attention": params, "sliding_attention": self._parameters(local_theta, local_scaling)}
        written["rope_parameters"] = params
        return written


@dataclass(frozen=True)
class LayerTypes:
    """Global and local layers from `layer_types` (or one window for every layer when `uniform`).

    `nope`: where NoPE layers are read from: None (no NoPE), "global" (every full-attention layer, Cohere 2),
    "windowed" (every full-attention layer of a config with a sliding window, EXAONE 4), or "no_rope_layers"
    (LLaMA 4's per-layer 0/1 list).
    """

    window_key: str = "sliding_window"
    uniform: bool = False  # Mistral: sliding_window applies to every layer, no layer_types
    flag_key: str | None = None  # Qwen: use_sliding_window must be set for sliding layers to exist
    nope: str | None = None

    @property
    def fields(self):
        return ("layer_pattern", "local_attention", "sliding_window", "global_nope")

    def read(self, config, notes):
        window = getattr(config, self.window_key, None)
        if self.uniform:
            kinds = ["sliding_attention" if window is not None else "full_attention"]
        else:
            kinds = list(getattr(config, "layer_types", None) or ["full_attention"] * config.num_hidden_layers)
            if window is None and any(k != "full_attention" for k in kinds):
                raise NotExpressible(f"local layers in layer_types but no {self.window_key}")
        unknown = sorted(set(kinds) - set(LAYER_TYPE_NAMES))
        if unknown:
            raise NotExpressible(f"layer_types {unknown} (known: {sorted(LAYER_TYPE_NAMES)})")
        unit = _repeating_unit(kinds)
        pattern = "".join(LAYER_TYPE_NAMES[k][0] for k in unit)
        locals_ = {LAYER_TYPE_NAMES[k][1] for k in unit} - {None}
        if len(locals_) > 1:
            raise NotExpressible("both sliding and chunked layers in one model")
        local = next(iter(locals_), None)
        global_nope = False
        if self.nope == "global":
            global_nope = local is not None
        elif self.nope == "windowed":  # EXAONE 4: no RoPE on full-attention layers whenever a window is set
            global_nope = window is not None and "full_attention" in kinds
        elif self.nope == "no_rope_layers":
            uses_rope = list(config.no_rope_layers)
            nope_layers = [not r for r in uses_rope]
            global_layers = [k == "full_attention" for k in kinds]
            if any(nope_layers) and nope_layers != global_layers:
                raise NotExpressible("no_rope_layers do not coincide with the full-attention layers")
            global_nope = any(nope_layers)
        return {"layer_pattern": pattern, "local_attention": local,
                "sliding_window": window if local is not None else None, "global_nope": global_nope}

    def write(self, values):
        pattern, local = values["layer_pattern"], values["local_attention"]
        n_layers = values["n_layers"]
        written = {self.window_key: values["sliding_window"]}
        if self.uniform:
            return written
        kinds = ["full_attention" if pattern[i % len(pattern)] == "G" else _LAYER_TYPE_OF_LOCAL[local]
                 for i in range(n_layers)]
        written["layer_types"] = kinds
        if self.flag_key:
            written[self.flag_key] = local is not None
            written["max_window_layers"] = 0
        if self.nope == "no_rope_layers":
            written["no_rope_layers"] = [int(not (values["global_nope"] and k == "full_attention")) for k in kinds]
        return written


def _query_scalar(values) -> float:
    """The s of q.k / sqrt(s) that the spec's query_scale names (or is)."""
    scale = values["query_scale"]
    if not isinstance(scale, str):
        return scale
    return {"head_dim": values["head_dim"], "d_model_over_heads": values["d_model"] / values["n_heads"], "none": 1}[scale]


@dataclass(frozen=True)
class QueryPreAttnScalar:
    """Gemma 2/3 scale queries by query_pre_attn_scalar**-0.5: head_dim, d_model / n_heads, or any number."""

    key: str = "query_pre_attn_scalar"

    @property
    def fields(self):
        return ("query_scale",)

    def read(self, config, notes):
        scalar = _get(config, self.key)
        if scalar == config.head_dim:
            return {"query_scale": "head_dim"}
        if scalar == config.hidden_size / config.num_attention_heads:
            return {"query_scale": "d_model_over_heads"}
        return {"query_scale": float(scalar)}

    def write(self, values):
        if values["query_scale"] == "none":
            return {}  # no scalar says "unscaled"; the read-back names what differs
        scalar = _query_scalar(values)  # transformers types the scalar as an int where it is one
        return {self.key: int(scalar) if float(scalar).is_integer() else scalar}


@dataclass(frozen=True)
class Experts:
    """Routed experts: counts, top-k and width from config keys; the router and shared experts are the type's."""

    n_experts: str
    top_k: str
    expert_d_ff: str
    router: str
    gate_input: str = "output"
    n_shared_experts: int = 0
    interleave_key: str | None = None  # LLaMA 4: interleave_moe_layer_step s, MoE on layers s-1, 2s-1, ...
    biased: bool = False  # gpt-oss: the router and every expert projection carry biases

    @property
    def fields(self):
        return ("moe",)

    def read(self, config, notes):
        pattern = "M"
        if self.interleave_key:
            moe_layers = set(_get(config, "moe_layers"))
            kinds = ["M" if i in moe_layers else "D" for i in range(config.num_hidden_layers)]
            pattern = "".join(_repeating_unit(kinds))
        return {"moe": {"n_experts": _get(config, self.n_experts), "experts_per_token": _get(config, self.top_k),
                        "n_shared_experts": self.n_shared_experts, "expert_d_ff": _get(config, self.expert_d_ff),
                        "router": self.router, "gate_input": self.gate_input, "moe_pattern": pattern,
                        "router_bias": self.biased, "expert_bias": self.biased}}

    def write(self, values):
        moe = values["moe"]
        if moe is None:
            return {}
        written = {self.n_experts: moe["n_experts"], self.top_k: moe["experts_per_token"],
                   self.expert_d_ff: moe["expert_d_ff"]}
        pattern = moe["moe_pattern"]
        if self.interleave_key and pattern == "D" * (len(pattern) - 1) + "M":
            step = len(pattern)
            written[self.interleave_key] = step
            written["moe_layers"] = list(range(step - 1, values["n_layers"], step))
        return written


@dataclass(frozen=True)
class FlaggedGroup:
    """A nested spec field that is null unless `flag_key` is set; its members live under config keys."""

    field: str
    flag_key: str
    keys: dict  # member -> config key
    only_if: str | None = None  # another field that must be truthy for the group to apply (LLaMA 4: global_nope)

    @property
    def fields(self):
        return (self.field,)

    def read(self, config, notes):
        applies = bool(_get(config, self.flag_key))
        if self.only_if == "global_nope":
            applies = applies and not all(_get(config, "no_rope_layers"))
        return {self.field: {name: _get(config, key) for name, key in self.keys.items()} if applies else None}

    def write(self, values):
        group = values[self.field]
        if group is None:
            return {self.flag_key: False}
        return {self.flag_key: True, **{key: group[name] for name, key in self.keys.items()}}


@dataclass(frozen=True)
class DenseWidth:
    """d_ff of a model whose dense and expert MLPs have separate widths (LLaMA 4's intermediate_size_mlp):
    with no dense layer, d_ff is the expert width (it sizes the shared expert)."""

    dense_key: str
    expert_key: str

    @property
    def fields(self):
        return ("d_ff",)

    def read(self, config, notes):
        has_dense = len(set(_get(config, "moe_layers"))) < _get(config, "num_hidden_layers")
        return {"d_ff": _get(config, self.dense_key if has_dense else self.expert_key)}

    def write(self, values):
        moe = values["moe"]
        return {self.dense_key: values["d_ff"]} if moe and "D" in moe["moe_pattern"] else {}


@dataclass(frozen=True)
class SparseExperts:
    """Qwen's MoE layers: every `decoder_sparse_step`-th layer routes to experts unless listed in
    `mlp_only_layers`; the router's top-k probabilities are renormalised when `norm_topk_prob` (which is a
    softmax over the top-k logits) or kept as they are. d_ff is the dense layers' width (`intermediate_size`),
    or the expert width when no layer is dense. Qwen 2 MoE adds one sigmoid-gated shared expert of width
    `shared_key`, which the spec counts in expert widths."""

    shared_key: str | None = None

    @property
    def fields(self):
        return ("moe", "d_ff")

    def _shared(self, config, expert_d_ff: int) -> dict:
        if self.shared_key is None:
            return {"n_shared_experts": 0, "shared_expert_gate": False}
        width = _get(config, self.shared_key)
        if width % expert_d_ff:
            raise NotExpressible(f"{self.shared_key}={width} is not a whole number of experts of width {expert_d_ff}")
        return {"n_shared_experts": width // expert_d_ff, "shared_expert_gate": True}

    def read(self, config, notes):
        step, dense = _get(config, "decoder_sparse_step"), set(getattr(config, "mlp_only_layers", None) or [])
        kinds = ["M" if i not in dense and (i + 1) % step == 0 else "D" for i in range(_get(config, "num_hidden_layers"))]
        pattern = "".join(_repeating_unit(kinds))
        router = "topk-softmax" if _get(config, "norm_topk_prob") else "softmax-topk"
        expert_d_ff = _get(config, "moe_intermediate_size")
        moe = {"n_experts": _get(config, "num_experts"), "experts_per_token": _get(config, "num_experts_per_tok"),
               **self._shared(config, expert_d_ff), "expert_d_ff": expert_d_ff, "router": router,
               "gate_input": "output", "moe_pattern": pattern}
        return {"moe": moe, "d_ff": _get(config, "intermediate_size") if "D" in pattern else moe["expert_d_ff"]}

    def write(self, values):
        moe = values["moe"]
        if moe is None:
            return {"num_experts": 0, "intermediate_size": values["d_ff"]}
        pattern = moe["moe_pattern"]
        dense = [i for i in range(values["n_layers"]) if pattern[i % len(pattern)] == "D"]
        router = {"topk-softmax": True, "softmax-topk": False}.get(moe["router"])
        written = {"num_experts": moe["n_experts"], "num_experts_per_tok": moe["experts_per_token"],
                   "moe_intermediate_size": moe["expert_d_ff"], "norm_topk_prob": router, "decoder_sparse_step": 1,
                   "mlp_only_layers": dense, "intermediate_size": values["d_ff"]}
        if self.shared_key is not None:
            written[self.shared_key] = moe["n_shared_experts"] * moe["expert_d_ff"]
        return written


@dataclass(frozen=True)
class NoRopeLayers:
    """SmolLM3's `no_rope_layers`, one 0/1 per layer (1: RoPE), as the repeating unit of nope_pattern."""

    @property
    def fields(self):
        return ("nope_pattern",)

    def read(self, config, notes):
        uses_rope = [bool(flag) for flag in _get(config, "no_rope_layers")]
        return {"nope_pattern": None if all(uses_rope) else "".join(_repeating_unit(["R" if r else "N" for r in uses_rope]))}

    def write(self, values):
        pattern = values["nope_pattern"] or "R"
        return {"no_rope_layers": [int(pattern[i % len(pattern)] == "R") for i in range(values["n_layers"])]}


@dataclass(frozen=True)
class AttentionMultiplier:
    """Granite's `attention_multiplier` m: q.k times m, which is the schema's query_scale 1 / m**2."""

    key: str = "attention_multiplier"

    @property
    def fields(self):
        return ("query_scale",)

    def read(self, config, notes):
        return {"query_scale": _get(config, self.key) ** -2}

    def write(self, values):
        return {self.key: _query_scalar(values) ** -0.5}


@dataclass(frozen=True)
class Reciprocal:
    """A field stored as its reciprocal (Granite divides the logits by `logits_scaling`)."""

    field: str
    key: str

    @property
    def fields(self):
        return (self.field,)

    def read(self, config, notes):
        return {self.field: 1 / _get(config, self.key)}

    def write(self, values):
        value = values[self.field]
        return {self.key: 1 / value} if isinstance(value, (int, float)) else {}


@dataclass(frozen=True)
class FalconLayout:
    """Falcon's KV heads and block shape from its flags: the original layout (multi_query: one KV head, else
    as many as query heads; parallel_attn: one shared norm, else a serial block) or new_decoder_architecture
    (num_kv_heads groups, parallel, with num_ln_in_parallel_attn norms)."""

    @property
    def fields(self):
        return ("n_kv_heads", "parallel_block", "parallel_shared_norm")

    def read(self, config, notes):
        if _get(config, "new_decoder_architecture"):
            norms = getattr(config, "num_ln_in_parallel_attn", None) or 2
            return {"n_kv_heads": _get(config, "num_kv_heads"), "parallel_block": True,
                    "parallel_shared_norm": norms == 1}
        heads = 1 if _get(config, "multi_query") else _get(config, "num_attention_heads")
        return {"n_kv_heads": heads, "parallel_block": bool(_get(config, "parallel_attn")), "parallel_shared_norm": True}

    def write(self, values):
        kv, heads = values["n_kv_heads"], values["n_heads"]
        if values["parallel_block"] and (not values["parallel_shared_norm"] or kv not in (1, heads)):
            return {"new_decoder_architecture": True, "num_kv_heads": kv, "parallel_attn": True,
                    "num_ln_in_parallel_attn": 1 if values["parallel_shared_norm"] else 2}
        return {"new_decoder_architecture": False, "multi_query": kv == 1, "num_kv_heads": kv,
                "parallel_attn": values["parallel_block"]}


@dataclass(frozen=True)
class LatentAttentionCodec:
    """DeepSeek's multi-head latent attention: its ranks and head widths; head_dim is the query/key width
    (qk_nope + qk_rope) and every head has its own key and value."""

    @property
    def fields(self):
        return ("mla", "head_dim", "n_kv_heads")

    def read(self, config, notes):
        nope, rope = _get(config, "qk_nope_head_dim"), _get(config, "qk_rope_head_dim")
        mla = {"q_lora_rank": getattr(config, "q_lora_rank", None), "kv_lora_rank": _get(config, "kv_lora_rank"),
               "qk_nope_head_dim": nope, "qk_rope_head_dim": rope, "v_head_dim": _get(config, "v_head_dim")}
        return {"mla": mla, "head_dim": nope + rope, "n_kv_heads": _get(config, "num_attention_heads")}

    def write(self, values):
        mla = values["mla"]
        if mla is None:
            return {}
        return {"q_lora_rank": mla["q_lora_rank"], "kv_lora_rank": mla["kv_lora_rank"],
                "qk_nope_head_dim": mla["qk_nope_head_dim"], "qk_rope_head_dim": mla["qk_rope_head_dim"],
                "v_head_dim": mla["v_head_dim"], "num_key_value_heads": values["n_kv_heads"]}


@dataclass(frozen=True)
class DeepSeekExperts:
    """DeepSeekMoE: n_routed_experts fine-grained experts, n_shared_experts always on, every layer from
    first_k_dense_replace on, weights scaled by routed_scaling_factor. V3 scores by sigmoid with a selection bias,
    group-limited to topk_group of n_group groups, the chosen scores renormalised (norm_topk_prob); V2 keeps the
    softmax probabilities of its top-k, group-limited where topk_method is group_limited_greedy. d_ff is the
    leading dense layers' width."""

    version: int = 3

    @property
    def fields(self):
        return ("moe", "d_ff")

    def _groups(self, config) -> tuple[int | None, int | None]:
        groups, top_groups = getattr(config, "n_group", None), getattr(config, "topk_group", None)
        if self.version == 2 and getattr(config, "topk_method", "greedy") != "group_limited_greedy":
            return None, None
        limited = groups not in (None, 1) and top_groups not in (None, groups)
        return (groups, top_groups) if limited else (None, None)

    def read(self, config, notes):
        if self.version == 3 and not _get(config, "norm_topk_prob"):
            raise NotExpressible("norm_topk_prob=False (the sigmoid-topk router renormalises its weights)")
        groups, top_groups = self._groups(config)
        limited = groups is not None
        first_dense = _get(config, "first_k_dense_replace")
        expert_d_ff = _get(config, "moe_intermediate_size")
        moe = {"n_experts": _get(config, "n_routed_experts"), "experts_per_token": _get(config, "num_experts_per_tok"),
               "n_shared_experts": _get(config, "n_shared_experts"), "expert_d_ff": expert_d_ff,
               "router": "sigmoid-topk" if self.version == 3 else "softmax-topk", "gate_input": "output",
               "shared_expert_gate": False, "n_groups": groups if limited else None,
               "top_groups": top_groups if limited else None,
               "routed_scaling": float(_get(config, "routed_scaling_factor")), "selection_bias": self.version == 3,
               "first_dense": first_dense, "moe_pattern": "M"}
        return {"moe": moe, "d_ff": _get(config, "intermediate_size") if first_dense else expert_d_ff}

    def write(self, values):
        moe = values["moe"]
        if moe is None or moe["moe_pattern"] != "M":
            return {}  # the read-back shows what a DeepSeek config cannot say
        written = {"n_routed_experts": moe["n_experts"], "num_experts_per_tok": moe["experts_per_token"],
                   "n_shared_experts": moe["n_shared_experts"], "moe_intermediate_size": moe["expert_d_ff"],
                   "first_k_dense_replace": moe["first_dense"], "routed_scaling_factor": moe["routed_scaling"],
                   "n_group": moe["n_groups"] or 1, "topk_group": moe["top_groups"] or 1,
                   "intermediate_size": values["d_ff"]}
        if self.version == 3:
            return {**written, "norm_topk_prob": True}
        return {**written, "norm_topk_prob": False,
                "topk_method": "group_limited_greedy" if moe["n_groups"] else "greedy"}


@dataclass(frozen=True)
class NeoLayers:
    """GPT-Neo's `attention_types` ([[["global", "local"], 12]]) and `window_size`: its local layers are
    sliding windows over the previous window_size tokens."""

    @property
    def fields(self):
        return ("layer_pattern", "local_attention", "sliding_window", "global_nope")

    def read(self, config, notes):
        kinds = [{"global": "G", "local": "L"}[kind] for kind in _get(config, "attention_layers")]
        pattern = "".join(_repeating_unit(kinds))
        local = "L" in pattern
        return {"layer_pattern": pattern, "local_attention": "sliding" if local else None,
                "sliding_window": _get(config, "window_size") if local else None, "global_nope": False}

    def write(self, values):
        pattern, n_layers = values["layer_pattern"], values["n_layers"]
        if n_layers % len(pattern) or values["local_attention"] not in (None, "sliding"):
            return {}  # attention_types repeats whole units of sliding windows; the read-back shows what differs
        unit = [{"G": "global", "L": "local"}[letter] for letter in pattern]
        return {"attention_types": [[unit, n_layers // len(pattern)]], "num_layers": n_layers,
                "window_size": values["sliding_window"] or 256}


@dataclass(frozen=True)
class HFType:
    """One transformers model type: its config codecs, the class transformers builds it with, and weight names."""

    model_type: str
    model_class: str
    codecs: tuple


# ---- config tables -------------------------------------------------------------------------------------------

def _decoder(**values) -> Fixed:
    return fixed(arch="decoder", **values)


_LLAMA_SIZES = (
    Key("n_layers", "num_hidden_layers"), Key("d_model", "hidden_size"), Key("n_heads", "num_attention_heads"),
    Key("n_kv_heads", "num_key_value_heads"), Quotient("head_dim", "hidden_size", "num_attention_heads", key="head_dim"),
    Key("d_ff", "intermediate_size"),
    Key("vocab_size", "vocab_size"), Key("context_length", "max_position_embeddings"),
    Key("dropout", "attention_dropout"), Key("tied_embeddings", "tie_word_embeddings"),
)
_RMS_PRE = dict(norm="rmsnorm", norm_bias=False, norm_position="pre", final_norm=True, parallel_block=False,
                embedding_norm=False)
_Z_LOSS = Key("z_loss", "z_loss", default=None)  # a training setting no transformers config holds; kept verbatim

_LLAMA = (*_LLAMA_SIZES, Key("norm_eps", "rms_norm_eps"), Activation("hidden_act", gated=True), _Z_LOSS)
_SIZES = tuple(codec for codec in _LLAMA_SIZES if codec.fields != ("dropout",))  # for types with other dropout keys
_SIZES_NO_FFN = tuple(codec for codec in _SIZES if codec.fields != ("d_ff",))
_LAYERNORM_PRE = dict(norm="layernorm", norm_bias=True, norm_position="pre", final_norm=True, parallel_block=False,
                      embedding_norm=False)

TYPES = {t.model_type: t for t in (
    HFType("openai-gpt", "OpenAIGPTLMHeadModel", (
        _decoder(norm="layernorm", norm_bias=True, norm_position="post", final_norm=False, parallel_block=False,
                 embedding_norm=False, position="learned"),
        Key("n_layers", "n_layer"), Key("d_model", "n_embd"), Key("n_heads", "n_head"), Key("n_kv_heads", "n_head"),
        Quotient("head_dim", "n_embd", "n_head"), Width("d_ff", None, "n_embd"), Key("vocab_size", "vocab_size"),
        Key("context_length", "n_positions"), Key("norm_eps", "layer_norm_epsilon"),
        Key("dropout", "resid_pdrop", also=("embd_pdrop", "attn_pdrop")), Key("tied_embeddings", "tie_word_embeddings"),
        Activation("afn", gated=False, names={**ACTIVATION_NAMES, "gelu": ("gelu", True)}, tanh_name="gelu"),
        Biases(True, True, True), _Z_LOSS,
    )),
    HFType("bert", "BertForMaskedLM", (
        fixed(arch="encoder", norm="layernorm", norm_bias=True, norm_position="post", final_norm=False,
              parallel_block=False, embedding_norm=True, position="learned", output_head="transform",
              output_bias=True),
        Key("n_layers", "num_hidden_layers"), Key("d_model", "hidden_size"), Key("n_heads", "num_attention_heads"),
        Key("n_kv_heads", "num_attention_heads"), Quotient("head_dim", "hidden_size", "num_attention_heads"),
        Key("d_ff", "intermediate_size"), Key("vocab_size", "vocab_size"),
        Key("context_length", "max_position_embeddings"), Key("norm_eps", "layer_norm_eps"),
        Key("dropout", "hidden_dropout_prob", also=("attention_probs_dropout_prob",)),
        Key("tied_embeddings", "tie_word_embeddings"), Key("token_types", "type_vocab_size"),
        Activation("hidden_act", gated=False), Biases(True, True, True), _Z_LOSS,
    )),
    HFType("gpt2", "GPT2LMHeadModel", (
        _decoder(norm="layernorm", norm_bias=True, norm_position="pre", final_norm=True, parallel_block=False,
                 embedding_norm=False, position="learned"),
        Key("n_layers", "n_layer"), Key("d_model", "n_embd"), Key("n_heads", "n_head"), Key("n_kv_heads", "n_head"),
        Quotient("head_dim", "n_embd", "n_head"), Width("d_ff", "n_inner", "n_embd"), Key("vocab_size", "vocab_size"),
        Key("context_length", "n_positions"), Key("norm_eps", "layer_norm_epsilon"),
        Key("dropout", "resid_pdrop", also=("embd_pdrop", "attn_pdrop")), Key("tied_embeddings", "tie_word_embeddings"),
        Activation("activation_function", gated=False), Biases(True, True, True),
        Switch("scale_attn_weights", {True: {"query_scale": "head_dim"}, False: {"query_scale": "none"}}), _Z_LOSS,
    )),
    HFType("t5", "T5ForConditionalGeneration", (
        fixed(arch="encoder-decoder", norm="rmsnorm", norm_bias=False, norm_position="pre", final_norm=True,
              parallel_block=False, embedding_norm=False, position="relative-bias", query_scale="none"),
        Key("n_layers", "num_decoder_layers"), Key("n_encoder_layers", "num_layers"), Key("d_model", "d_model"),
        Key("n_heads", "num_heads"), Key("n_kv_heads", "num_heads"), Key("head_dim", "d_kv"), Key("d_ff", "d_ff"),
        Key("vocab_size", "vocab_size"), Key("context_length", "n_positions", default=512),
        Key("norm_eps", "layer_norm_epsilon"), Key("dropout", "dropout_rate"),
        Key("relative_buckets", "relative_attention_num_buckets"),
        Key("relative_max_distance", "relative_attention_max_distance"),
        Activation("dense_act_fn", gated="is_gated_act", write_key="feed_forward_proj", gated_prefix="gated-"),
        Biases(False, False, False),
        # T5 v1 ties the output projection to the embeddings and rescales by d_model**-0.5 before it; v1.1 does
        # neither. transformers 5 records the choice as scale_decoder_outputs (from the tie_word_embeddings kwarg).
        Switch("scale_decoder_outputs", {
            True: {"tied_embeddings": True, "output_multiplier": "inv_sqrt_d_model"},
            False: {"tied_embeddings": False, "output_multiplier": 1.0}}, write_key="tie_word_embeddings"),
        _Z_LOSS,
    )),
    HFType("gptj", "GPTJForCausalLM", (
        _decoder(norm="layernorm", norm_bias=True, norm_position="pre", final_norm=True, parallel_block=True,
                 embedding_norm=False, output_bias=True),
        Key("n_layers", "n_layer"), Key("d_model", "n_embd"), Key("n_heads", "n_head"), Key("n_kv_heads", "n_head"),
        Quotient("head_dim", "n_embd", "n_head"), Width("d_ff", "n_inner", "n_embd"), Key("vocab_size", "vocab_size"),
        Key("context_length", "n_positions"), Key("norm_eps", "layer_norm_epsilon"),
        Key("dropout", "resid_pdrop", also=("embd_pdrop", "attn_pdrop")), Key("tied_embeddings", "tie_word_embeddings"),
        Activation("activation_function", gated=False), Biases(False, False, True),
        Rope("interleaved", fraction="rotary_dim", fixed_theta=10000.0), _Z_LOSS,
    )),
    HFType("gpt_neox", "GPTNeoXForCausalLM", (
        _decoder(norm="layernorm", norm_bias=True, norm_position="pre", final_norm=True, embedding_norm=False),
        Key("n_layers", "num_hidden_layers"), Key("d_model", "hidden_size"), Key("n_heads", "num_attention_heads"),
        Key("n_kv_heads", "num_attention_heads"), Quotient("head_dim", "hidden_size", "num_attention_heads"),
        Key("d_ff", "intermediate_size"), Key("vocab_size", "vocab_size"),
        Key("context_length", "max_position_embeddings"), Key("norm_eps", "layer_norm_eps"),
        Key("dropout", "hidden_dropout", also=("attention_dropout",)), Key("tied_embeddings", "tie_word_embeddings"),
        Activation("hidden_act", gated=False), Biases("attention_bias", "attention_bias", True),
        Switch("use_parallel_residual", {True: {"parallel_block": True, "parallel_shared_norm": False},
                                         False: {"parallel_block": False, "parallel_shared_norm": True}}),
        Rope("half", fraction="partial_rotary_factor"), _Z_LOSS,
    )),
    HFType("opt", "OPTForCausalLM", (
        _decoder(norm="layernorm", norm_bias=True, norm_eps=1e-5, parallel_block=False, embedding_norm=False,
                 position="learned", position_offset=2),
        Key("n_layers", "num_hidden_layers"), Key("d_model", "hidden_size"), Key("n_heads", "num_attention_heads"),
        Key("n_kv_heads", "num_attention_heads"), Quotient("head_dim", "hidden_size", "num_attention_heads"),
        Key("d_ff", "ffn_dim"), Key("vocab_size", "vocab_size"), Key("context_length", "max_position_embeddings"),
        Key("dropout", "dropout"), Key("tied_embeddings", "tie_word_embeddings"),
        OptionalWidth("embedding_dim", "word_embed_proj_dim", "hidden_size"),
        Activation("activation_function", gated=False), Biases("enable_bias", "enable_bias", "enable_bias"),
        Switch("do_layer_norm_before", {True: {"norm_position": "pre", "final_norm": True},
                                        False: {"norm_position": "post", "final_norm": False}}), _Z_LOSS,
    )),
    HFType("bloom", "BloomForCausalLM", (
        _decoder(norm="layernorm", norm_bias=True, norm_position="pre", final_norm=True, parallel_block=False,
                 embedding_norm=True, position="alibi", activation="gelu", gelu_tanh=True),
        Key("n_layers", "n_layer"), Key("d_model", "hidden_size"), Key("n_heads", "n_head"), Key("n_kv_heads", "n_head"),
        Quotient("head_dim", "hidden_size", "n_head"), Width("d_ff", None, "hidden_size"),
        Key("vocab_size", "vocab_size"), Key("context_length", "seq_length", default=2048),
        Key("norm_eps", "layer_norm_epsilon"), Key("dropout", "hidden_dropout", also=("attention_dropout",)),
        Key("tied_embeddings", "tie_word_embeddings"), Biases(True, True, True), _Z_LOSS,
    )),
    HFType("llama", "LlamaForCausalLM", (
        _decoder(**_RMS_PRE), *_LLAMA, Biases("attention_bias", "attention_bias", "mlp_bias"), Rope("half"),
    )),
    HFType("mistral", "MistralForCausalLM", (
        _decoder(**_RMS_PRE), *_LLAMA, Biases(False, False, False), Rope("half"), LayerTypes(uniform=True),
    )),
    HFType("mixtral", "MixtralForCausalLM", (
        _decoder(**_RMS_PRE), *_LLAMA, Biases(False, False, False), Rope("half"), LayerTypes(uniform=True),
        Experts("num_local_experts", "num_experts_per_tok", "intermediate_size", "topk-softmax"),
    )),
    HFType("qwen2", "Qwen2ForCausalLM", (
        _decoder(**_RMS_PRE), *_LLAMA, Biases(True, False, False), Rope("half"),
        LayerTypes(flag_key="use_sliding_window"),
    )),
    HFType("qwen3", "Qwen3ForCausalLM", (
        _decoder(**_RMS_PRE, qk_norm="head"), *_LLAMA, Biases("attention_bias", "attention_bias", False),
        Rope("half"), LayerTypes(flag_key="use_sliding_window"),
    )),
    HFType("olmo2", "Olmo2ForCausalLM", (
        _decoder(**{**_RMS_PRE, "norm_position": "reordered"}, qk_norm="projection"), *_LLAMA,
        Biases("attention_bias", "attention_bias", False), Rope("half"),
    )),
    HFType("gemma", "GemmaForCausalLM", (
        _decoder(**_RMS_PRE, norm_unit_offset=True, embedding_multiplier="sqrt_d_model"), *_LLAMA,
        Biases("attention_bias", "attention_bias", False), Rope("half"),
    )),
    HFType("gemma2", "Gemma2ForCausalLM", (
        _decoder(**{**_RMS_PRE, "norm_position": "double"}, norm_unit_offset=True, embedding_multiplier="sqrt_d_model"),
        *_LLAMA_SIZES, Key("norm_eps", "rms_norm_eps"), Activation("hidden_activation", gated=True,
                                                                   tanh_name="gelu_pytorch_tanh"), _Z_LOSS,
        Biases("attention_bias", "attention_bias", False), Rope("half"), LayerTypes(), QueryPreAttnScalar(),
        Key("attn_softcap", "attn_logit_softcapping"), Key("final_softcap", "final_logit_softcapping"),
    )),
    HFType("gemma3_text", "Gemma3ForCausalLM", (
        _decoder(**{**_RMS_PRE, "norm_position": "double"}, norm_unit_offset=True, embedding_multiplier="sqrt_d_model",
                 qk_norm="head"),
        *_LLAMA_SIZES, Key("norm_eps", "rms_norm_eps"), Activation("hidden_activation", gated=True,
                                                                   tanh_name="gelu_pytorch_tanh"), _Z_LOSS,
        Biases("attention_bias", "attention_bias", False), Rope("half", per_layer_type=True), LayerTypes(),
        QueryPreAttnScalar(), Key("attn_softcap", "attn_logit_softcapping"),
        Key("final_softcap", "final_logit_softcapping"),
    )),
    HFType("cohere", "CohereForCausalLM", (
        _decoder(norm="layernorm", norm_bias=False, norm_position="pre", final_norm=True, parallel_block=True,
                 embedding_norm=False),
        *_LLAMA_SIZES, Key("norm_eps", "layer_norm_eps"), Activation("hidden_act", gated=True), _Z_LOSS,
        Key("output_multiplier", "logit_scale"), Biases("attention_bias", "attention_bias", False),
        Rope("interleaved"), Switch("use_qk_norm", {True: {"qk_norm": "head_unshared"}, False: {"qk_norm": "none"}}),
    )),
    HFType("cohere2", "Cohere2ForCausalLM", (
        _decoder(norm="layernorm", norm_bias=False, norm_position="pre", final_norm=True, parallel_block=True,
                 embedding_norm=False),
        *_LLAMA_SIZES, Key("norm_eps", "layer_norm_eps"), Activation("hidden_act", gated=True), _Z_LOSS,
        Key("output_multiplier", "logit_scale"), Biases("attention_bias", "attention_bias", False),
        Rope("interleaved"), LayerTypes(nope="global"),
    )),
    HFType("qwen3_moe", "Qwen3MoeForCausalLM", (
        _decoder(**_RMS_PRE, qk_norm="head"), *_SIZES_NO_FFN, Key("dropout", "attention_dropout"),
        Key("norm_eps", "rms_norm_eps"), Activation("hidden_act", gated=True), _Z_LOSS,
        Biases("attention_bias", "attention_bias", False), Rope("half"), LayerTypes(flag_key="use_sliding_window"),
        SparseExperts(),
    )),
    HFType("olmo3", "Olmo3ForCausalLM", (
        _decoder(**{**_RMS_PRE, "norm_position": "reordered"}, qk_norm="projection"), *_LLAMA,
        Biases("attention_bias", "attention_bias", False), Rope("half", per_layer_type=True), LayerTypes(),
    )),
    HFType("exaone4", "Exaone4ForCausalLM", (
        _decoder(**{**_RMS_PRE, "norm_position": "reordered"}, qk_norm="head"), *_LLAMA, Biases(False, False, False),
        Rope("half"), LayerTypes(nope="windowed"),
    )),
    HFType("glm4", "Glm4ForCausalLM", (
        _decoder(**{**_RMS_PRE, "norm_position": "double"}), *_LLAMA, Biases("attention_bias", False, False),
        Rope("interleaved", fraction="partial_rotary_factor"),
    )),
    HFType("phi3", "Phi3ForCausalLM", (
        _decoder(**_RMS_PRE), *_SIZES, Key("dropout", "resid_pdrop", also=("embd_pdrop", "attention_dropout")),
        Key("norm_eps", "rms_norm_eps"), Activation("hidden_act", gated=True), _Z_LOSS, Biases(False, False, False),
        Rope("half", fraction="partial_rotary_factor"), LayerTypes(uniform=True),
    )),
    HFType("starcoder2", "Starcoder2ForCausalLM", (
        _decoder(**_LAYERNORM_PRE), *_SIZES,
        Key("dropout", "residual_dropout", also=("embedding_dropout", "attention_dropout")),
        Key("norm_eps", "norm_epsilon"), Activation("hidden_act", gated=False), _Z_LOSS,
        Biases("use_bias", "use_bias", "use_bias"), Rope("half"), LayerTypes(uniform=True),
    )),
    HFType("stablelm", "StableLmForCausalLM", (
        _decoder(**{name: value for name, value in _LAYERNORM_PRE.items() if name != "parallel_block"},
                 parallel_shared_norm=True), *_SIZES,
        Key("dropout", "hidden_dropout", also=("attention_dropout",)), Key("norm_eps", "layer_norm_eps"),
        Activation("hidden_act", gated=True), _Z_LOSS, Biases("use_qkv_bias", False, False),
        Rope("half", fraction="partial_rotary_factor"), Switch("use_parallel_residual", {True: {"parallel_block": True},
                                                                                      False: {"parallel_block": False}}),
        Switch("qk_layernorm", {False: {"qk_norm": "none"}}),
    )),
    HFType("qwen2_moe", "Qwen2MoeForCausalLM", (
        _decoder(**_RMS_PRE), *_SIZES_NO_FFN, Key("dropout", "attention_dropout"), Key("norm_eps", "rms_norm_eps"),
        Activation("hidden_act", gated=True), _Z_LOSS, Biases("qkv_bias", False, False), Rope("half"),
        LayerTypes(flag_key="use_sliding_window"), SparseExperts(shared_key="shared_expert_intermediate_size"),
    )),
    HFType("smollm3", "SmolLM3ForCausalLM", (
        _decoder(**_RMS_PRE), *_LLAMA, Biases("attention_bias", "attention_bias", "mlp_bias"), Rope("half"),
        LayerTypes(flag_key="use_sliding_window"), NoRopeLayers(),
    )),
    HFType("granite", "GraniteForCausalLM", (
        _decoder(**_RMS_PRE), *_LLAMA, Biases("attention_bias", "attention_bias", "mlp_bias"), Rope("half"),
        Key("embedding_multiplier", "embedding_multiplier"), Key("residual_multiplier", "residual_multiplier"),
        AttentionMultiplier(), Reciprocal("output_multiplier", "logits_scaling"),
    )),
    HFType("olmo", "OlmoForCausalLM", (
        _decoder(**{**_LAYERNORM_PRE, "norm_bias": False}, norm_affine=False, norm_eps=1e-5), *_SIZES,
        Key("dropout", "attention_dropout"), Activation("hidden_act", gated=True), _Z_LOSS,
        Biases("attention_bias", "attention_bias", False), Rope("half"), Key("clip_qkv", "clip_qkv", default=None),
    )),
    HFType("falcon", "FalconForCausalLM", (
        _decoder(**{name: value for name, value in _LAYERNORM_PRE.items() if name != "parallel_block"}),
        Key("n_layers", "num_hidden_layers"), Key("d_model", "hidden_size"), Key("n_heads", "num_attention_heads"),
        Quotient("head_dim", "hidden_size", "num_attention_heads"), FalconLayout(),
        Width("d_ff", "ffn_hidden_size", "hidden_size"), Key("vocab_size", "vocab_size"),
        Key("context_length", "max_position_embeddings"), Key("norm_eps", "layer_norm_epsilon"),
        Key("dropout", "hidden_dropout", also=("attention_dropout",)), Key("tied_embeddings", "tie_word_embeddings"),
        Activation("activation", gated=False), Biases("bias", "bias", "bias"), _Z_LOSS,
        Switch("alibi", {False: {}}), Rope("half"),
    )),
    HFType("deepseek_v3", "DeepseekV3ForCausalLM", (
        _decoder(**_RMS_PRE), Key("n_layers", "num_hidden_layers"), Key("d_model", "hidden_size"),
        Key("n_heads", "num_attention_heads"), LatentAttentionCodec(), DeepSeekExperts(),
        Key("vocab_size", "vocab_size"), Key("context_length", "max_position_embeddings"),
        Key("dropout", "attention_dropout"), Key("tied_embeddings", "tie_word_embeddings"),
        Key("norm_eps", "rms_norm_eps"), Activation("hidden_act", gated=True), _Z_LOSS,
        Biases("attention_bias", "attention_bias", False),
        Rope("interleaved", fraction="mla", layout_key="rope_interleave"),
        Key("mtp_layers", "num_nextn_predict_layers", default=0),
    )),
    HFType("deepseek_v2", "DeepseekV2ForCausalLM", (
        _decoder(**_RMS_PRE), Key("n_layers", "num_hidden_layers"), Key("d_model", "hidden_size"),
        Key("n_heads", "num_attention_heads"), LatentAttentionCodec(), DeepSeekExperts(version=2),
        Key("vocab_size", "vocab_size"), Key("context_length", "max_position_embeddings"),
        Key("dropout", "attention_dropout"), Key("tied_embeddings", "tie_word_embeddings"),
        Key("norm_eps", "rms_norm_eps"), Activation("hidden_act", gated=True), _Z_LOSS,
        Biases("attention_bias", "attention_bias", False), Rope("interleaved", fraction="mla"),
    )),
    HFType("glm4_moe", "Glm4MoeForCausalLM", (
        _decoder(**_RMS_PRE), *_SIZES_NO_FFN, Key("dropout", "attention_dropout"), Key("norm_eps", "rms_norm_eps"),
        Activation("hidden_act", gated=True), _Z_LOSS, Biases("attention_bias", False, False),
        Rope("half", fraction="partial_rotary_factor"), DeepSeekExperts(version=3),
        Switch("use_qk_norm", {True: {"qk_norm": "head"}, False: {"qk_norm": "none"}}),
        Key("mtp_layers", "num_nextn_predict_layers", default=0),
    )),
    HFType("gpt_oss", "GptOssForCausalLM", (
        _decoder(**_RMS_PRE, activation="clamped-swiglu", gelu_tanh=False, attention_sinks=True), *_LLAMA_SIZES,
        Key("norm_eps", "rms_norm_eps"), Key("glu_limit", "swiglu_limit"), Key("glu_alpha", "swiglu_alpha"), _Z_LOSS,
        Biases("attention_bias", "attention_bias", "attention_bias"), Rope("half"), LayerTypes(),
        Experts("num_local_experts", "num_experts_per_tok", "intermediate_size", "topk-softmax", biased=True),
    )),
    HFType("gpt_neo", "GPTNeoForCausalLM", (
        _decoder(**_LAYERNORM_PRE, position="learned", query_scale="none"),
        Key("n_layers", "num_layers"), Key("d_model", "hidden_size"), Key("n_heads", "num_heads"),
        Key("n_kv_heads", "num_heads"), Quotient("head_dim", "hidden_size", "num_heads"),
        Width("d_ff", "intermediate_size", "hidden_size"), Key("vocab_size", "vocab_size"),
        Key("context_length", "max_position_embeddings"), Key("norm_eps", "layer_norm_epsilon"),
        Key("dropout", "resid_dropout", also=("embed_dropout", "attention_dropout")),
        Key("tied_embeddings", "tie_word_embeddings"), Activation("activation_function", gated=False),
        Biases(False, True, True), NeoLayers(), _Z_LOSS,
    )),
    HFType("llama4_text", "Llama4ForCausalLM", (
        _decoder(**_RMS_PRE), *_LLAMA_SIZES[:5], DenseWidth("intermediate_size_mlp", "intermediate_size"),
        *_LLAMA_SIZES[6:],
        Key("norm_eps", "rms_norm_eps"), Activation("hidden_act", gated=True), _Z_LOSS,
        Biases("attention_bias", "attention_bias", False), Rope("interleaved"),
        LayerTypes(window_key="attention_chunk_size", nope="no_rope_layers"),
        Switch("use_qk_norm", {True: {"qk_norm": "l2"}, False: {"qk_norm": "none"}}),
        Experts("num_local_experts", "num_experts_per_tok", "intermediate_size", "topk-sigmoid", gate_input="input",
                n_shared_experts=1, interleave_key="interleave_moe_layer_step"),
        FlaggedGroup("nope_query_temperature", "attn_temperature_tuning", {"floor_scale": "floor_scale",
                                                                          "scale": "attn_scale"}, only_if="global_nope"),
    )),
)}

# transformers types without a table: the supported type closest to each, and what its code does that the
# spec's vocabulary (or that type's table) does not say.
NEAREST = {
    "qwen3_next": ("qwen2_moe", "Gated DeltaNet linear-attention layers and output-gated attention between them"),
    "jamba": ("mixtral", "Mamba state-space layers between its attention layers"),
    "falcon_h1": ("llama", "Mamba-2 heads running in parallel with attention in every layer"),
    "deepseek_v32": ("deepseek_v3", "DeepSeek Sparse Attention's lightning indexer, which picks the keys each query sees"),
    "kimi_linear": ("deepseek_v3", "Kimi Delta Attention linear-attention layers between its MLA layers"),
}

# model types of remote code that transformers later took in under another name, and what to import instead
_FALCON_BEFORE_TRANSFORMERS = ("Falcon's remote-code config from before transformers' falcon type; the checkpoint's "
                              "current config.json (model_type 'falcon') imports")
RENAMED = {"RefinedWeb": _FALCON_BEFORE_TRANSFORMERS, "RefinedWebModel": _FALCON_BEFORE_TRANSFORMERS}

# The order in which a spec is matched to a type: the plainest reference that expresses it wins.
TYPE_ORDER = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "olmo2", "gemma", "gemma2", "gemma3_text", "cohere",
              "cohere2", "llama4_text", "gpt2", "openai-gpt", "gptj", "gpt_neox", "opt", "bloom", "bert", "t5",
              "qwen3_moe", "olmo3", "exaone4", "glm4", "phi3", "starcoder2", "stablelm", "gpt_neo", "qwen2_moe",
              "smollm3", "granite", "olmo", "falcon", "deepseek_v3", "deepseek_v2", "glm4_moe", "gpt_oss")
