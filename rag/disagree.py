"""Whether two cited sources give different figures for the same result: one sentence saying so, or None."""
from __future__ import annotations

import re

from .heuristics import WEIGHTS
from .text import content_tokens, numbers_in

# A figure with its unit, or a range of them: "3.6×-12.8×", "up to 40%", "12 ms".
_FIGURE_SPAN = re.compile(r"\d+(?:\.\d+)?\s?(?:×|x\b|%)?(?:\s?[-–]\s?\d+(?:\.\d+)?)?\s?(×|x\b|%|ms\b|GB\b)")


def disagreement(chosen: list[tuple[str, str]], markers: dict[str, int]) -> str | None:
    """One sentence saying that two cited sources give different figures for the same result, or None.

    `chosen` holds (sentence, chunk id) pairs; two sentences of different chunks state the same result when they
    share most of their words, and disagree when their first figures of one unit differ."""
    for i, (a, ca) in enumerate(chosen):
        for b, cb in chosen[i + 1:]:
            if ca == cb or ca not in markers or cb not in markers:
                continue
            wa, wb = set(content_tokens(_FIGURE_SPAN.sub(" ", a))), set(content_tokens(_FIGURE_SPAN.sub(" ", b)))
            if not wa or not wb or len(wa & wb) / len(wa | wb) < WEIGHTS.same_claim:
                continue
            for unit in dict.fromkeys(m.group(1) for m in _FIGURE_SPAN.finditer(a)):
                fa = [m.group(0) for m in _FIGURE_SPAN.finditer(a) if m.group(1) == unit]
                fb = [m.group(0) for m in _FIGURE_SPAN.finditer(b) if m.group(1) == unit]
                if fa and fb and numbers_in(fa[0]) != numbers_in(fb[0]):
                    return (f"The sources give different figures for this: {fa[0]} [{markers[ca]}] and "
                            f"{fb[0]} [{markers[cb]}].")
    return None
