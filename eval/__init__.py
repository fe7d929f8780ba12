"""Offline evaluation suite: run `ask()` over the gold questions and score retrieval, answers and citations."""
