"""What a source is: something that recognises a file by its shape and turns it into chunks."""
from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from ..types import Chunk

SNIFF_BYTES = 64 * 1024  # how much of a file text sources look at to decide whether it is theirs


class FileView:
    """A file as sources see it: its path, its text and its parsed JSON, each read at most once."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def suffix(self) -> str:
        """Lower-case extension without the dot ('' when there is none)."""
        return self.path.suffix.lower().lstrip(".")

    @cached_property
    def head(self) -> str:
        """The first SNIFF_BYTES of the file, decoded leniently."""
        with open(self.path, "rb") as f:
            return f.read(SNIFF_BYTES).decode("utf-8", errors="replace")

    @cached_property
    def text(self) -> str:
        """The whole file as UTF-8 text (ValueError when it is not text)."""
        data = self.path.read_bytes()
        if b"\x00" in data[:SNIFF_BYTES]:
            raise ValueError("binary file")
        return data.decode("utf-8")

    @cached_property
    def json(self) -> Any:
        """The file parsed as JSON (ValueError when it is not JSON)."""
        if not self.head.lstrip().startswith(("{", "[")):
            raise ValueError("not JSON")
        return json.loads(self.text)


class Source(Protocol):
    """Turns files of one shape into chunks.

    `check` returns None when the file is this source's shape, else a short reason why not; `load` chunks a
    file that `check` accepted. Sources are tried in registry order, so specific shapes come before generic ones.
    """

    name: str

    def check(self, file: FileView) -> str | None: ...

    def load(self, file: FileView) -> list[Chunk]: ...


def json_data(file: "FileView") -> tuple[Any, str | None]:
    """A .json file's data, or (None, the reason it is not JSON) for a source's `check`."""
    if file.suffix != "json":
        return None, "not a .json file"
    try:
        return file.json, None
    except ValueError:
        return None, "not JSON"


def split_list(value: Any, sep: str = ";") -> list[str]:
    """A `;`-separated string (or a list) as a list of stripped strings, keeping empty positions."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    return [v.strip() for v in str(value).split(sep)] if str(value).strip() else []


def unique(items: list[str]) -> list[str]:
    """Non-empty items in first-seen order, without repeats."""
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out
