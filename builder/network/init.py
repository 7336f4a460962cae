"""Module-owned initialisation: each module resets its own parameters and buffers, and a model init is a walk.

A module that holds parameters or buffers directly is `Initialised`: `init_weights(init)` resets exactly those
(`Transformer.init_weights` visits every module once, in `modules()` order, so a seed gives the same weights
whichever device the model was built on). The roles of projections are fixed when they are constructed:
`Linear(..., role=Role.residual)` marks an output projection into the residual stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import torch
from torch import nn

INIT_STD = 0.02


class Role(str, Enum):
    """What a projection's weight is initialised as."""

    input = "input"  # normal(0, std)
    residual = "residual"  # writes into the residual stream: normal(0, std / sqrt(2 * layers))
    tied = "tied"  # shares the token embedding's weight, which the embedding initialises


@dataclass(frozen=True)
class Init:
    """One model's initialisation: normal(0, 0.02), residual outputs scaled by 1/sqrt(2 * layers), seeded."""

    n_layers: int
    generator: torch.Generator | None = None
    std: float = INIT_STD

    @property
    def residual_std(self) -> float:
        return self.std / math.sqrt(2 * self.n_layers)

    def normal(self, tensor: torch.Tensor, role: Role = Role.input) -> None:
        std = self.residual_std if role is Role.residual else self.std
        nn.init.normal_(tensor, mean=0.0, std=std, generator=self.generator)


class Initialised:
    """A module that resets the parameters and buffers it holds directly (not its children's)."""

    def init_weights(self, init: Init) -> None:
        raise NotImplementedError


class Linear(nn.Linear, Initialised):
    """nn.Linear whose role, given at construction, decides its init; biases start at zero."""

    def __init__(self, d_in: int, d_out: int, bias: bool, role: Role = Role.input):
        super().__init__(d_in, d_out, bias=bias)
        self.role = role

    def init_weights(self, init: Init) -> None:
        if self.role is not Role.tied:
            init.normal(self.weight, self.role)
        if self.bias is not None:
            nn.init.zeros_(self.bias)


class Embedding(nn.Embedding, Initialised):
    """nn.Embedding initialised normal(0, std)."""

    def init_weights(self, init: Init) -> None:
        init.normal(self.weight)
