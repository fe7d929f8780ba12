"""Gradio chat UI for the MLSys 2026 assistant."""
