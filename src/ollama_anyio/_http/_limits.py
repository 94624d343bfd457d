"""What one answer may cost, per endpoint: the one table the session consults.

A hostile or broken server decides how many bytes it sends, and the JSON it sends decides how
much memory decoding takes: a body of empty arrays (``[[],[],...]``) becomes about 24 times
its size in Python objects. So each endpoint gets the limits of what it can legitimately
return, and any body or stream line of more than `DENSE` bytes is also weighed before it is
decoded (`decoded_cost`): its count of structural characters bounds the objects it can make.

With the defaults, one call to ``chat``, ``generate``, ``show``, ``list`` or ``ps`` holds at
most its body limit in bytes (decompressed, counted as it arrives) plus a decode of at most
`DECODE_BUDGET`: a few hundred MiB at worst. (``embed`` weighs its vectors one by one as they
arrive: see ``_async_core``.) A ``max_body_size=`` or ``max_line_size=`` given
to the client replaces the table's figure for every endpoint, and the decode budget follows.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["DECODE_BUDGET", "DENSE", "Limits", "decoded_cost", "limits_for"]

MiB = 1024 * 1024
# The most memory the decoded objects of one body or one stream line may take (estimated).
DECODE_BUDGET = 256 * MiB
DENSE = 1 * MiB  # below this no answer can cost more than DECODE_BUDGET: not weighed
_PER_ELEMENT = 72  # bytes of Python objects per JSON value, at most (an empty dict, measured)


class Limits(NamedTuple):
    """``body``: the largest whole answer; ``line``: the longest line of a stream."""

    body: int
    line: int


# Figures from what the endpoint returns (SPEC), with room to spare:
# - chat/generate: a long answer with top-20 logprobs is about 1 KB per token (64 MiB: some
#   60,000 tokens of them); a stream line is one token, but a final chunk's ``context`` runs
#   to 7 bytes per token of the window: 32 MiB, 4 times the 8 MB the Go client accepts;
# - show: ``verbose=True`` lists the tokenizer (vocabulary, scores, merges: 10 to 30 MB);
# - list, ps: a few hundred bytes per model;
# - embed: about 20 bytes per float (1,000 vectors of 768 are 15 MB; 10,000 are 150 MB),
#   decoded as it arrives, each vector weighed first against the decode budget (a float is
#   32 bytes in a list, 4 in an array);
# - the progress streams (pull, push, create) and the small answers: lines of a few hundred
#   bytes.
_SMALL = Limits(body=1 * MiB, line=1 * MiB)
_TABLE: dict[str, Limits] = {
    "/api/chat": Limits(body=64 * MiB, line=32 * MiB),
    "/api/generate": Limits(body=64 * MiB, line=32 * MiB),
    "/api/show": Limits(body=128 * MiB, line=1 * MiB),
    "/api/tags": Limits(body=32 * MiB, line=1 * MiB),
    "/api/ps": Limits(body=32 * MiB, line=1 * MiB),
    "/api/embed": Limits(body=256 * MiB, line=1 * MiB),
    "/api/embeddings": Limits(body=64 * MiB, line=1 * MiB),
    "/api/pull": _SMALL,
    "/api/push": _SMALL,
    "/api/create": _SMALL,
    "/api/copy": _SMALL,
    "/api/delete": _SMALL,
    "/api/version": _SMALL,
    "/api/web_search": Limits(body=16 * MiB, line=1 * MiB),
    "/api/web_fetch": Limits(body=64 * MiB, line=1 * MiB),
}


def limits_for(path: str, body: int, line: int, *, custom_body: bool, custom_line: bool) -> Limits:
    """The limits of an answer from ``path``; ``body`` and ``line``: the client's figures,
    which apply everywhere if given by the user (``custom_*``), else where the table has none."""
    found = _TABLE.get(path)
    if found is None:
        return Limits(body, line)
    return Limits(body if custom_body else found.body, line if custom_line else found.line)


def decoded_cost(data: bytes | bytearray) -> int:
    """An upper bound of the memory decoding the JSON ``data`` takes; 0 if too small to matter.

    Every JSON value but a number or string opens with ``[`` or ``{``, and every value after
    the first in a container follows a comma: counting the three (in strings too, so the bound
    only errs upwards) bounds the number of objects; strings cost at most their bytes.
    """
    if len(data) < DENSE:
        return 0
    values = data.count(b",") + data.count(b"[") + data.count(b"{")
    return values * _PER_ELEMENT + len(data)
