"""Token mixers: the registered modules a layer plan can name, keyed by the spec's TokenMixer.

Softmax attention over per-head keys and values, and multi-head latent attention (both on the eager, SDPA and
flex backends); another mixer is one more module here and one more entry in MIXERS, read by Block,
zoo.accounting and zoo.flops alike.
"""

from __future__ import annotations

from torch import nn

from builder.network.mixers.attention import Attention
from builder.network.mixers.latent import LatentAttention
from zoo.plan import AttentionPlan
from zoo.schema import Architecture, TokenMixer

MIXERS: dict[TokenMixer, type[nn.Module]] = {TokenMixer.attention: Attention, TokenMixer.mla: LatentAttention}


def make_mixer(arch: Architecture, plan: AttentionPlan) -> nn.Module:
    """The token mixer the plan names."""
    return MIXERS[plan.mixer](arch, plan)
