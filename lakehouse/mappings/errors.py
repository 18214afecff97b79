"""The one error a source mapping raises when it cannot be used as written.

A user writes a mapping by hand for their own export, usually without reading our code, so
the message must be enough to fix it: which mapping file, which key inside it (a dotted path
such as ``fields.price.cast``), what is wrong, and what to do about it.
"""

from __future__ import annotations

from pathlib import Path


class MappingError(ValueError):
    """A mapping file (or the data file it is applied to) that cannot be mapped as declared."""

    def __init__(self, file: str | Path, key: str, problem: str, hint: str = "") -> None:
        self.file = str(file)
        self.key = key or "(top level)"
        self.problem = problem
        self.hint = hint
        message = f"{self.file}: {self.key}: {problem}"
        if hint:
            message += f" -> {hint}"
        super().__init__(message)
