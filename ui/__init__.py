"""Gradio chat UI for the assistant, titled with the corpus folder's collection name."""
