"""The CI gate: minimum values for the headline metrics, read from eval/thresholds.toml."""
from __future__ import annotations

import math
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

THRESHOLDS_PATH = Path(__file__).resolve().parent / "thresholds.toml"


def load_thresholds(path: str | Path = THRESHOLDS_PATH) -> dict[str, float]:
    """The `[minimum]` table of a thresholds file: metric name -> lowest acceptable value."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    table = data.get("minimum", data)
    return {str(k): float(v) for k, v in table.items()}


def load_maxima(path: str | Path = THRESHOLDS_PATH) -> dict[str, float]:
    """The `[maximum]` table of a thresholds file: metric name -> highest acceptable value (lower is better)."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    return {str(k): float(v) for k, v in data.get("maximum", {}).items()}


def check(headline: dict[str, float], minimum: dict[str, float], maximum: dict[str, float] | None = None) -> list[str]:
    """One line per metric below its minimum or above its maximum (missing or nan fails too); empty when all pass."""
    failures = []
    for name, high in (maximum or {}).items():
        value = headline.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            failures.append(f"FAIL {name}: measured n/a, maximum {high:.3f}")
        elif value > high:
            failures.append(f"FAIL {name}: measured {value:.3f} > maximum {high:.3f}")
    for name, low in minimum.items():
        value = headline.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            failures.append(f"FAIL {name}: measured n/a, minimum {low:.3f}")
        elif value < low:
            failures.append(f"FAIL {name}: measured {value:.3f} < minimum {low:.3f}")
    return failures
