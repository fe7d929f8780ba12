"""The one table formatter of the eval and bench reports: plain-text columns for the terminal, GitHub markdown
for report files, each with a cell format.

Two cell formats: `metric_cell` (eval: three decimals, "n/a" when missing) and `auto_cell` (bench: precision by
magnitude, thousands separators, yes/no, "-" when missing). In plain text, columns whose values are all numbers
(or missing, or "") are right-aligned and the rest left-aligned; a dashed rule sits under the headers.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Cell = Callable[[object], str]


def _missing(v: object) -> bool:
    """None or a nan float."""
    return v is None or (isinstance(v, float) and math.isnan(v))


def metric_cell(v: object) -> str:
    """A metric: three decimals for a float, "n/a" when missing, anything else as text."""
    if _missing(v):
        return "n/a"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def auto_cell(v: object) -> str:
    """A measurement: precision by magnitude, thousands separators, yes/no for booleans, "-" when missing."""
    if _missing(v):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        a = abs(v)
        return f"{v:,.0f}" if a >= 1000 else f"{v:.1f}" if a >= 100 else f"{v:.2f}" if a >= 1 else f"{v:.3f}"
    return str(v)


def _numeric(v: object) -> bool:
    """Whether a value right-aligns: a number, missing, or an empty cell."""
    return isinstance(v, (int, float)) or v is None or v == ""


def format_table(headers: Sequence[str], rows: Sequence[Sequence], title: str | None = None,
                 cell: Cell = auto_cell) -> str:
    """A plain-text table: numbers right-aligned, text left-aligned, two spaces between columns."""
    body = [[cell(v) for v in row] for row in rows]
    numeric = [bool(rows) and all(_numeric(r[i]) for r in rows) for i in range(len(headers))]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)).rstrip()

    out = [title] if title else []
    out += [line(headers), line(["-" * w for w in widths])] + [line(r) for r in body]
    return "\n".join(out)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence], cell: Cell = auto_cell) -> str:
    """The same table as GitHub markdown."""
    md = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    md += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(md)
