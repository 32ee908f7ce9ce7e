"""Refusal: the base of each feature's refused request (a code, and why in the user's language)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class Refusal(Exception):
    """Something asked of a feature that does not fit; nothing was changed.

    `code` says which problem; the feature's `problems` map each code to why (a lazy,
    localized string, or a pair of it and the HTTP status to answer with).
    """

    problems: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, code: str):
        self.code = code
        super().__init__(code)

    def message(self) -> str:
        """Why, localized (the code itself for one the feature does not describe)."""
        problem = self.problems.get(self.code, self.code)
        return str(problem[0] if isinstance(problem, tuple) else problem)
