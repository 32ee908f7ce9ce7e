"""Problems found in definitions, each with its file and JSON pointer.

A problem's message is English, as `onething check`, the JSON API and the logs print it.
Built as a `Text`, it also keeps the English template it was formatted from and the
values put into it, so that the console can say it in the administrator's language
(onething.web.i18n.say translates the template and formats it with the same values).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Text(str):
    """An English message that remembers its template (`{name}` placeholders) and values.

    It is the formatted English text, and compares, sorts and hashes as that text: code
    that takes it for a plain string sees no difference. A value that is a list or a tuple
    reads as its items joined by ", " (in the console, as the reader's language joins a
    list). The template is the msgid under which translations/*/messages.po translate it;
    babel.cfg marks `Text` as a keyword, so `pybabel extract` (and tests/test_i18n.py)
    finds every literal template.
    """

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, /, **values: Any) -> Text:
        text = super().__new__(cls, template.format(**{
            name: ", ".join(str(item) for item in value) if isinstance(value, (list, tuple))
            else value for name, value in values.items()}))
        text.template = template
        text.values = values
        return text

    def worded(self, english: str) -> Text:
        """The same message, translated alike, whose English is worded otherwise (as
        another library worded it: the console's English stays the command line's)."""
        text = str.__new__(Text, english)
        text.template = self.template
        text.values = self.values
        return text

    def __reduce__(self):
        return _restore, (str(self), self.template, self.values)


def _restore(english: str, template: str, values: dict[str, Any]) -> Text:
    return Text(template, **values).worded(english)


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
