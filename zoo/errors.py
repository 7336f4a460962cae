"""The one error type of every failure a user can cause, and the 'did you mean' hint the messages share.

Catalog, spec, variant, build, benchmark and Hugging Face errors all derive from ZooError, so the `zoo`
command catches one type and prints each as one line per problem (some also derive from the builtin type
a Python caller expects, such as ValueError or MemoryError).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ZooError(Exception):
    """A request that cannot be carried out as given; the message says what and why in one line."""

    def lines(self) -> list[str]:
        """What the command line prints: one line per problem."""
        return [f"zoo: {printable(line)}" for line in str(self).splitlines()]


def printable(text: str) -> str:
    """Control characters escaped, so a message stays one line and cannot move the cursor or recolour a terminal."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.5) -> str:
    """'; did you mean a, b?' naming up to three close matches among `choices`, or '' when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=cutoff)
    return f"; did you mean {', '.join(close)}?" if close else ""
