"""Sources turn files into chunks; the registry picks one per file by the file's shape (see DESIGN.md)."""
from .base import FileView, Source
from .registry import FolderLoad, choose_source, default_sources, load_folder

__all__ = ["FileView", "FolderLoad", "Source", "choose_source", "default_sources", "load_folder"]
