"""Offline evaluation suite: run `ask()` over the gold questions and score retrieval, answers and citations.

Importing any `eval` module first runs this file, which turns ragas' usage analytics off (`ragas_tracking_off`)
before ragas can be imported: nothing but a configured judge endpoint is ever contacted.
"""
from __future__ import annotations

import os
import sys


def ragas_tracking_off() -> None:
    """Set RAGAS_DO_NOT_TRACK (the one place it is set) and drop ragas' cached reading of it, if ragas is loaded."""
    os.environ["RAGAS_DO_NOT_TRACK"] = "true"
    analytics = sys.modules.get("ragas._analytics")
    if analytics is not None:  # ragas caches the switch on first use; an earlier import may have read it unset
        analytics.do_not_track.cache_clear()


ragas_tracking_off()
