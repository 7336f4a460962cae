"""Step times and their spread: the median, the interquartile range, and whether two runs differ beyond noise.

Torch-free, so commands that only read stored rows can compare them without importing torch.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass
class Timing:
    """Per-iteration step times in seconds."""

    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def quartiles(self) -> tuple[float, float]:
        """The first and third quartile of the step times."""
        if len(self.times) < 2:
            return self.times[0], self.times[0]
        low, _, high = statistics.quantiles(self.times, n=4, method="inclusive")
        return low, high

    @property
    def iqr(self) -> float:
        low, high = self.quartiles
        return high - low

    def within_noise_of(self, other: "Timing") -> bool:
        """The two interquartile ranges overlap: their medians' ratio is not a measured difference."""
        (low, high), (other_low, other_high) = self.quartiles, other.quartiles
        return low <= other_high and other_low <= high
