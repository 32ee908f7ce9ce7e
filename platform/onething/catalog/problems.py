"""Problems found in definitions, each with its file and JSON pointer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a definition: where it is, what it is, and which matters it touches."""

    file: str
    pointer: str
    message: str
    matters: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        """Format as `file#/pointer: message [matters: a, b]`."""
        text = f"{self.file}#{self.pointer}: {self.message}"
        if self.matters:
            text += f" [matters: {', '.join(self.matters)}]"
        return text

    def as_dict(self) -> dict:
        """Return the problem as plain JSON data."""
        return {
            "file": self.file,
            "pointer": self.pointer,
            "message": self.message,
            "matters": list(self.matters),
        }


class DefinitionError(Exception):
    """A set of definitions was refused whole; `problems` says every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(problem) for problem in self.problems))


def pointer(*parts: object) -> str:
    """Build a JSON pointer (RFC 6901) from path parts."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)
