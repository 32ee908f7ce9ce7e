"""Matter rules in JSON Logic: one evaluator for 智能预审, 秒批 and 免申即享.

A matter declares `rules`, each a JSON Logic expression with a kind (`blocking` stops a
submission, `advisory` only warns), a localized explanation and optionally the field it
is about. The same rules, evaluated by the same engine, check a draft before it is
submitted (pre-check), approve a task at routing when every value they read is trust A
(秒批), and find the holders a benefit is due to (免申即享).

JSON Logic rather than JSON Schema: the rules compare values with each other and with
today's date ("born at least 80 years ago", "the sign's area is at most 10 m²", "the
licence is in force"), which JSON Schema cannot say. The engine is datalogic-py (a
maintained Rust core, the same semantics in every runtime), kept to an allowlist of
operators: no regular expressions, no clock of its own (`today` is a variable), no
loops over built lists, an operations budget and a depth bound.

What a rule may read, checked by `problems` before a catalog is published:

- `answers.<question>`: the scenario answers (of a bundle the matter is in);
- `fields.<key>`: the matter's form fields (its shared fields and its own, side by side);
- `licences.<type>.<found|in_force|trust|issued_on|expires_on|number|data.<item>>`: the
  holder's licence of that type in the registry;
- `holder.<code|birth_date>`: the holder (a resident ID number carries the birth date);
- `today`: the day of the evaluation, `YYYY-MM-DD`.

Two operators are added here: `{"age": [birth_date, on_date]}`, the full years (周岁)
between two ISO dates, as Chinese law counts an age; and `{"days": [from, to]}`, the days
between two dates (a registration due within a month of the birth).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from typing import Any

import datalogic_py

from onething.catalog.licences import LICENCE_TYPES
from onething.catalog.problems import Text

RULE_KINDS = ("blocking", "advisory")
# The operators a rule may use: JSON Logic's comparisons, logic, arithmetic and membership,
# plus `age`. Left out: the clock (`now`), errors (`throw`), building and folding lists
# (`map`, `filter`, `reduce`, `merge`), the tensor and string extensions.
OPERATORS = frozenset({
    "var", "val", "missing", "missing_some", "==", "!=", "===", "!==", ">", ">=", "<", "<=",
    "!", "!!", "and", "or", "if", "?:", "in", "cat", "substr", "+", "-", "*", "/", "%",
    "min", "max", "some", "all", "none", "age", "days",
})
ROOTS = ("answers", "fields", "licences", "holder", "today")
LICENCE_ATTRIBUTES = ("found", "in_force", "trust", "issued_on", "expires_on", "number", "data")
HOLDER_ATTRIBUTES = ("code", "birth_date")
# A rule is read by people: a few dozen operators, not a program.
MAX_NODES = 200
MAX_DEPTH = 12
OPS_BUDGET = 10_000


def _age(arguments: str) -> str:
    """Full years from the first ISO date to the second (周岁), or null if either is none."""
    try:
        born, on = (dt.date.fromisoformat(str(value)[:10]) for value in json.loads(arguments)[:2])
    except (ValueError, TypeError):
        return "null"
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return json.dumps(years)


def _days(arguments: str) -> str:
    """Days from the first ISO date to the second, or null if either is none."""
    try:
        start, end = (dt.date.fromisoformat(str(value)[:10]) for value in json.loads(arguments)[:2])
    except (ValueError, TypeError):
        return "null"
    return json.dumps((end - start).days)


_ENGINE = datalogic_py.Engine(
    families=[], custom_operators={"age": _age, "days": _days}, strict_operator_names=True,
    config={"max_recursion_depth": MAX_DEPTH * 2, "ops_budget": OPS_BUDGET,
            # A missing value never counts as 0: the rule fails instead of passing by luck.
            "numeric_coercion": {"null_to_zero": False, "empty_string_to_zero": False}})


@dataclass
class Outcome:
    """A rule's result: passed, failed, or not evaluable on these values (counts as failed)."""

    rule: dict
    passed: bool
    error: str | None = None
    reads: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        """The rule's id within its matter."""
        return self.rule["id"]

    @property
    def blocking(self) -> bool:
        """Whether a failure stops the submission."""
        return self.rule.get("kind", "blocking") == "blocking"


def _walk(node: Any, where: tuple, depth: int, found: list, counter: list,
          variables: list | None) -> None:
    # `variables` collects (where, name) of each variable read from the data's root; inside
    # the test of some/all/none a variable is the list item's, so it is None there.
    counter[0] += 1
    if depth > MAX_DEPTH:
        found.append((where, Text("the rule is nested deeper than {limit} levels",
                                  limit=MAX_DEPTH)))
        return
    if isinstance(node, list):
        for index, item in enumerate(node):
            _walk(item, (*where, index), depth + 1, found, counter, variables)
    elif isinstance(node, dict):
        if len(node) != 1:
            found.append((where, Text("an operation is an object with exactly one operator")))
            return
        ((operator, arguments),) = node.items()
        if operator not in OPERATORS:
            found.append(((*where, operator), Text(
                "unknown operator {operator!r}; rules may use {known}", operator=operator,
                known=sorted(OPERATORS))))
            return
        if operator in ("var", "val"):
            path = arguments[0] if isinstance(arguments, list) and arguments else arguments
            if not isinstance(path, str):
                found.append(((*where, operator), Text("a variable is named by a string")))
            elif variables is not None:
                variables.append(((*where, operator), path))
            return
        if operator in ("some", "all", "none") and isinstance(arguments, list):
            for index, item in enumerate(arguments):
                _walk(item, (*where, operator, index), depth + 2, found, counter,
                      variables if index == 0 else None)
            return
        _walk(arguments, (*where, operator), depth + 1, found, counter, variables)


def variable_problem(path: list[str], known: dict) -> Text | None:
    """Why a rule may not read this variable, or None when it may.

    `known` holds the names a matter's rules may read: "fields" and "answers" sets.
    """
    if not path or path[0] not in ROOTS:
        return Text("unknown variable {name!r}; a rule reads {roots}", name=".".join(path),
                    roots=ROOTS)
    root, rest = path[0], path[1:]
    name = ".".join(path)
    if root == "today":
        return None if not rest else Text("unknown variable {name!r}: today is a date",
                                          name=name)
    if root in ("fields", "answers"):
        if not rest or rest[0] not in known.get(root, ()):
            if root == "fields":
                return Text("unknown variable {name!r}: no such form field of the matter",
                            name=name)
            return Text("unknown variable {name!r}: no such scenario question", name=name)
        return None
    if root == "holder":
        if len(rest) != 1 or rest[0] not in HOLDER_ATTRIBUTES:
            return Text("unknown variable {name!r}; the holder has {attributes}", name=name,
                        attributes=HOLDER_ATTRIBUTES)
        return None
    kind = LICENCE_TYPES.get(rest[0]) if rest else None
    if kind is None:
        return Text("unknown variable {name!r}: no such licence type", name=name)
    if len(rest) < 2 or rest[1] not in LICENCE_ATTRIBUTES:
        return Text("unknown variable {name!r}; a licence has {attributes}", name=name,
                    attributes=LICENCE_ATTRIBUTES)
    if rest[1] == "data":
        if len(rest) != 3 or kind.item(rest[2]) is None:
            return Text("unknown variable {name!r}; the licence's data items are {items}",
                        name=name, items=[item.key for item in kind.items])
    elif len(rest) != 2:
        return Text("unknown variable {name!r}", name=name)
    return None


def problems(logic: Any, known: dict) -> list[tuple[tuple, str]]:
    """Everything wrong with one rule's logic, each with where in it (a path of keys).

    Each message is a Text but the engine's own diagnostics, which are its English."""
    found: list[tuple[tuple, str]] = []
    counter = [0]
    variables: list[tuple[tuple, str]] = []
    if not isinstance(logic, dict):
        return [((), Text("a rule is a JSON Logic operation (an object)"))]
    _walk(logic, (), 0, found, counter, variables)
    if counter[0] > MAX_NODES:
        found.append(((), Text("the rule has {count} parts; at most {limit}",
                               count=counter[0], limit=MAX_NODES)))
    if found:
        return found
    for diagnostic in _ENGINE.check(logic):
        if diagnostic["severity"] == "error":
            where = tuple(p for p in diagnostic["pointer"].split("/")[1:])
            found.append((where, diagnostic["message"]))
    if found:
        return found
    for where, name in variables:
        message = variable_problem(name.split("."), known)
        if message:
            found.append((where, message))
    return found


@functools.lru_cache(maxsize=1024)
def _compiled(text: str) -> tuple[datalogic_py.Rule, tuple[str, ...]]:
    # A rule is compiled once per process (its JSON text is the key), not per submission.
    rule = _ENGINE.compile(json.loads(text))
    return rule, tuple(".".join(str(p) for p in path) for path in rule.facts()["reads"])


def _key(logic: Any) -> str:
    return json.dumps(logic, sort_keys=True, ensure_ascii=False)


def reads(logic: Any) -> list[str]:
    """The variables a rule reads, as dotted names (none for a rule that does not compile)."""
    try:
        return list(_compiled(_key(logic))[1])
    except datalogic_py.DataLogicError:
        return []


def evaluate(rules: list[dict], data: dict) -> list[Outcome]:
    """Each rule evaluated over the data (answers, fields, licences, holder, today)."""
    outcomes = []
    for rule in rules:
        try:
            result = _compiled(_key(rule["logic"]))[0].evaluate(data)
        except datalogic_py.DataLogicError as error:
            outcomes.append(Outcome(rule, False, getattr(error, "error_type", None) or "error",
                                    reads(rule["logic"])))
            continue
        outcomes.append(Outcome(rule, bool(result), None, reads(rule["logic"])))
    return outcomes


def lookup(data: dict, name: str) -> Any:
    """The value of a dotted variable in the evaluation data (None if absent)."""
    node: Any = data
    for part in name.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def birth_date_of(resident_id: str | None) -> str | None:
    """The birth date a resident ID number (GB 11643) carries, digits 7–14, as ISO."""
    code = (resident_id or "").strip()
    if len(code) != 18 or not code[6:14].isdigit():
        return None
    try:
        return dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14])).isoformat()
    except ValueError:
        return None
