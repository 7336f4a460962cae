"""The one model class: decoder-only, encoder-only or encoder-decoder, assembled from a spec's layer plan.

Weight names (stable; checkpoint importers map onto them):
  embed_tokens.weight [vocab, embedding_dim or d_model]     shared by encoder and decoder
  embed_proj_in.weight, embed_proj_out.weight               when embedding_dim is set (OPT-350m)
  embed_positions.weight [context + position_offset, d]     learned positions
  embed_token_types.weight [token_types, d]                 segment embeddings (BERT)
  embed_norm.*                                              embedding norm (BLOOM, BERT)
  encoder_layers.{i}.*, encoder_norm.*                      encoder stack of an encoder-decoder
  encoder_relative_bias / relative_bias.relative_attention_bias.weight   T5 buckets, one table per stack
  layers.{i}.attention.{q,k,v,o}_proj, .qk_norm.{q,k}_norm, .pos_proj, .pos_bias_u, .pos_bias_v
  layers.{i}.cross_attention.*                              decoder layers of an encoder-decoder
  layers.{i}.mlp.{gate,up,down}_proj                        dense MLP
  layers.{i}.mlp.router, .experts.{gate,up,down}_proj, .shared_experts.*   mixture of experts (see moe.py)
  layers.{i}.{attn,cross_attn,mlp}_{norm,out_norm}          see block.py
  norm.*                                                    final norm of the main stack
  head_transform.dense, head_transform.norm                 BERT's MLM transform
  lm_head.weight (tied: the same tensor as embed_tokens.weight), lm_head.bias
  pooler.dense                                              BERT's [CLS] pooler
Non-persistent buffers: rotary.{key}.inv_freq and alibi.slopes, recomputed by init_weights().
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
import torch.nn.functional as F

from builder.network.block import Block
from builder.network.cache import KVCache
from builder.network.init import Embedding, Init, Initialised, Linear, Role
from builder.network.mixers.attention import SoftmaxMixer
from builder.network.mixers.inputs import StackInputs
from builder.network.mlp import activation_fn
from builder.network.norms import make_norm
from builder.network.positions import LearnedPositions, sinusoidal_table, token_positions
from builder.network.relative import AlibiBias, T5RelativeBias
from builder.network.rotary import RotaryEmbedding
from builder.network.softcap import soft_cap
from zoo.plan import plan_model
from zoo.schema import Arch, Architecture, OutputHead, Position, multiplier_value


class LossOutput(NamedTuple):
    logits: torch.Tensor
    loss: torch.Tensor


class HeadTransform(nn.Module):
    """BERT's MLM transform before the vocabulary projection: dense, activation, norm."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.dense = Linear(arch.d_model, arch.d_model, arch.linear_bias)
        self.act = activation_fn(arch)
        self.norm = make_norm(arch, arch.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.act(self.dense(x)))


class Pooler(nn.Module):
    """tanh(dense(hidden of the first token)): BERT's sentence representation."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.dense = Linear(arch.d_model, arch.d_model, arch.linear_bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))


class Transformer(nn.Module):
    """Any catalogued architecture. `spec` is its Architecture; `source` names the record it came from."""

    def __init__(self, spec: Architecture, source: str | None = None):
        super().__init__()
        self.spec, self.source = spec, source
        self.plan = plan_model(spec)
        d_model, width = spec.d_model, spec.embedding_dim or spec.d_model
        self.embed_tokens = Embedding(spec.vocab_size, width)
        self.embed_proj_in = Linear(width, d_model, bias=False) if spec.embedding_dim else None
        self.embed_proj_out = Linear(d_model, width, bias=False) if spec.embedding_dim else None
        learned = spec.position is Position.learned
        self.embed_positions = LearnedPositions(spec.context_length, d_model, spec.position_offset) if learned else None
        self.embed_token_types = Embedding(spec.token_types, d_model) if spec.token_types else None
        self.embed_norm = make_norm(spec, d_model) if spec.embedding_norm else None
        self.dropout = nn.Dropout(spec.dropout)

        rope_plans = {layer.rope.key: layer.rope for layer in self.plan.layers if layer.rope is not None}
        self.rotary = nn.ModuleDict({key: RotaryEmbedding(plan) for key, plan in rope_plans.items()})
        self.alibi = AlibiBias(spec.n_heads) if spec.position is Position.alibi else None
        relative = spec.position is Position.relative_bias
        encoder_decoder = spec.arch is Arch.encoder_decoder

        def relative_bias(bidirectional: bool):
            return T5RelativeBias(spec.relative_buckets, spec.relative_max_distance, spec.n_heads, bidirectional)

        self.encoder_relative_bias = relative_bias(True) if relative and encoder_decoder else None
        self.encoder_layers = nn.ModuleList(Block(spec, layer) for layer in self.plan.encoder) if encoder_decoder else None
        self.encoder_norm = make_norm(spec, d_model) if encoder_decoder and spec.final_norm else None
        self.relative_bias = relative_bias(spec.arch is Arch.encoder) if relative else None
        self.layers = nn.ModuleList(Block(spec, layer) for layer in self.plan.decoder)
        self.norm = make_norm(spec, d_model) if spec.final_norm else None

        self.head_transform = HeadTransform(spec) if spec.output_head is OutputHead.transform else None
        self.lm_head = Linear(width, spec.vocab_size, spec.output_bias, Role.tied if spec.tied_embeddings else Role.input)
        if spec.tied_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        self.pooler = Pooler(spec) if spec.pooler else None
        self.embedding_multiplier = multiplier_value(spec.embedding_multiplier, d_model)
        self.output_multiplier = multiplier_value(spec.output_multiplier, d_model)

    # ----- construction helpers
    @property
    def device(self) -> torch.device:
        return self.embed_tokens.weight.device

    def num_params(self) -> int:
        """Unique parameters (a tied embedding counts once)."""
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def init_weights(self, seed: int | None = None) -> None:
        """Seeded init, module by module (builder.network.init): projections and tables normal(0, 0.02),
        residual output projections 0.02 / sqrt(2 * layers), norms identity, biases 0, non-persistent buffers
        recomputed; embeddings re-tied first, so a meta build can be materialised."""
        if self.spec.tied_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        if self.device.type == "meta":
            return
        generator = None if seed is None else torch.Generator(device=self.device).manual_seed(seed)
        init = Init(n_layers=len(self.plan.layers), generator=generator)
        for name, module in self.named_modules():
            if isinstance(module, Initialised):
                module.init_weights(init)
            elif any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False)):
                raise TypeError(f"{name} ({type(module).__name__}) holds parameters but does not initialise them")

    # ----- attention backends
    def attention_modules(self):
        """(name, mixer) for every softmax-attention module (MHA/GQA or latent), self- and cross-attention."""
        return [(name, module) for name, module in self.named_modules() if isinstance(module, SoftmaxMixer)]

    def attention_backends(self, device_type: str | None = None) -> dict[str, str]:
        """The backend each attention module runs on (this model's device type unless given)."""
        device_type = device_type or self.device.type
        return {name: module.resolved_backend(device_type) for name, module in self.attention_modules()}

    def set_attention_backend(self, backend: str) -> None:
        """Force one backend ('auto', 'eager', 'sdpa', 'flex') on every attention module."""
        for _, module in self.attention_modules():
            module.set_backend(backend)

    # ----- forward
    def _embed(self, input_ids, positions, token_type_ids=None):
        """Token embeddings plus, for absolute schemes, the table rows of `positions` ([B or 1, T])."""
        x = self.embed_tokens(input_ids)
        if self.embed_proj_in is not None:
            x = self.embed_proj_in(x)
        if self.embedding_multiplier != 1.0:
            x = x * torch.tensor(self.embedding_multiplier, dtype=x.dtype)  # rounded to x's dtype, as HF Gemma does
        if self.embed_positions is not None:
            x = x + self.embed_positions(positions)
        elif self.spec.position is Position.sinusoidal:
            x = x + sinusoidal_table(positions, self.spec.d_model).to(x.dtype)
        if self.embed_token_types is not None:
            types = torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids
            x = x + self.embed_token_types(types)
        if self.embed_norm is not None:
            x = self.embed_norm(x)
        return self.dropout(x)

    def _stack_inputs(self, positions, key_valid, encoder: bool, memory=None, memory_valid=None) -> StackInputs:
        bias = self.alibi
        if self.spec.position is Position.relative_bias:
            bias = self.encoder_relative_bias if encoder else self.relative_bias
        dtype = self.embed_tokens.weight.dtype  # the activations' (tables rounded once here, not per layer)
        rope = {key: module(positions[:, None], dtype) for key, module in self.rotary.items()}  # broadcast over heads
        memory_positions = None if memory is None else torch.arange(memory.shape[1], device=memory.device)
        return StackInputs(positions, key_valid, rope, bias, memory, memory_valid, memory_positions)

    def encode(self, input_ids, attention_mask=None) -> torch.Tensor:
        """Encoder output of an encoder-decoder model."""
        positions = token_positions(input_ids.shape[1], attention_mask, device=input_ids.device)
        valid = None if attention_mask is None else attention_mask.bool()
        inputs = self._stack_inputs(positions, valid, encoder=True)
        x = self._embed(input_ids, positions)
        for layer in self.encoder_layers:
            x = layer(x, inputs)
        return x if self.encoder_norm is None else self.encoder_norm(x)

    def hidden_states(
        self, input_ids, attention_mask=None, *, position_ids=None, token_type_ids=None, encoder_input_ids=None,
        encoder_attention_mask=None, cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Final hidden states of the main stack (after the final norm).

        Positions are position_ids ([B or 1, T]) when given, else counted per row from the attention mask,
        continuing the cache's (see builder.positions.token_positions).
        """
        if position_ids is None:
            start = None if cache is None else cache.next_position
            position_ids = token_positions(input_ids.shape[1], attention_mask, start, device=input_ids.device)
        positions = torch.atleast_2d(position_ids)
        memory = memory_valid = None
        if self.encoder_layers is not None:
            if cache is not None and cache.memory is not None:
                memory, memory_valid = cache.memory, cache.memory_valid
            else:
                if encoder_input_ids is None:
                    raise ValueError("an encoder-decoder model needs encoder_input_ids")
                memory = self.encode(encoder_input_ids, encoder_attention_mask)
                memory_valid = None if encoder_attention_mask is None else encoder_attention_mask.bool()
                if cache is not None:
                    cache.memory, cache.memory_valid = memory, memory_valid
        valid = None if attention_mask is None else attention_mask.bool()
        inputs = self._stack_inputs(positions, valid, encoder=False, memory=memory, memory_valid=memory_valid)
        x = self._embed(input_ids, positions, token_type_ids)
        for index, layer in enumerate(self.layers):
            x = layer(x, inputs, None if cache is None else cache.layers[index])
        if cache is not None:
            cache.next_position = positions[:, -1:] + 1
        return x if self.norm is None else self.norm(x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Output head: [transform], [projection out], vocabulary projection, multiplier, soft-cap."""
        if self.head_transform is not None:
            hidden = self.head_transform(hidden)
        if self.embed_proj_out is not None:
            hidden = self.embed_proj_out(hidden)
        logits = self.lm_head(hidden)
        if self.output_multiplier != 1.0:
            logits = logits * self.output_multiplier
        if self.spec.final_softcap is not None:
            logits = soft_cap(logits, self.spec.final_softcap)
        return logits

    def pooled_output(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None) -> torch.Tensor:
        """The pooler's [CLS] representation (encoder models with a pooler)."""
        if self.pooler is None:
            raise ValueError("this architecture has no pooler")
        hidden = self.hidden_states(input_ids, attention_mask, position_ids=position_ids, token_type_ids=token_type_ids)
        return self.pooler(hidden)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of logits[t] against labels[t] (-100 ignored), plus z_loss * mean(logsumexp^2)."""
        flat, target = logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1)
        loss = F.cross_entropy(flat, target, ignore_index=-100)
        if self.spec.z_loss is not None:  # a masked mean: boolean indexing would make the shape data-dependent
            kept = target != -100
            log_z = flat.logsumexp(-1)
            loss = loss + self.spec.z_loss * (log_z.pow(2) * kept).sum() / kept.sum()
        return loss

    def forward(
        self, input_ids, attention_mask=None, labels=None, *, position_ids=None, token_type_ids=None,
        encoder_input_ids=None, encoder_attention_mask=None, cache: KVCache | None = None,
    ):
        """Logits [B, T, vocab]; with labels (aligned with the logits: pass ids shifted left for next-token
        prediction), LossOutput(logits, loss). attention_mask [B, T]: 1 for tokens, 0 for (left) padding, which
        takes no position; position_ids [B or 1, T] overrides the positions counted from it."""
        hidden = self.hidden_states(
            input_ids, attention_mask, position_ids=position_ids, token_type_ids=token_type_ids,
            encoder_input_ids=encoder_input_ids, encoder_attention_mask=encoder_attention_mask, cache=cache,
        )
        logits = self.logits(hidden)
        if labels is None:
            return logits
        return LossOutput(logits, self.loss(logits, labels))

    def new_cache(self, max_length: int) -> KVCache:
        """An empty KV cache for up to max_length tokens per row (the prompt and every token fed after it),
        preallocated on the first step."""
        return KVCache(max_length, [layer.window if layer.local is not None else None for layer in self.plan.decoder])

    @torch.no_grad()
    def generate(self, prompt_ids, max_new_tokens: int, attention_mask=None, *, encoder_input_ids=None,
                 encoder_attention_mask=None) -> torch.Tensor:
        """Greedy decoding with a KV cache; returns the prompt followed by the new tokens.

        A left-padded prompt (attention_mask 0 on its leading columns) decodes each row from its own positions,
        as if it were unpadded."""
        if self.spec.arch is Arch.encoder:
            raise ValueError("an encoder-only model does not generate; call it for logits")
        cache = self.new_cache(prompt_ids.shape[1] + max(max_new_tokens - 1, 0))  # the last token is not fed
        logits = self(prompt_ids, attention_mask, encoder_input_ids=encoder_input_ids,
                      encoder_attention_mask=encoder_attention_mask, cache=cache)
        tokens = [prompt_ids]
        for step in range(max_new_tokens):
            next_token = logits[:, -1].argmax(-1, keepdim=True)
            tokens.append(next_token)
            if step + 1 < max_new_tokens:
                logits = self(next_token, cache=cache)
        return torch.cat(tokens, dim=1)
