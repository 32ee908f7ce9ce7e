"""Fees computed from what the applicant enters (海域使用金: area × years × a rate).

A fee item of a matter may carry an `amount`: a formula over the matter's own form
fields, in yuan, such as ``sea_area_hectares * sea_use_term_years * 7500``. The
grammar is small on purpose, because a definition is text an administrator types and a
hostile one must neither run code nor stall the server:

* numbers in plain digits (``7500``, ``0.75``);
* the keys of the matter's form's top-level properties that hold numbers;
* ``+ - * /``, a leading minus, parentheses;
* ``min(a, b, …)``, ``max(a, b, …)``, ``round(x)`` and ``round(x, n)``.

Nothing else: no ``**``, no attribute access, no other names or calls. A formula is at
most 500 characters and 200 syntax nodes. It is parsed with Python's `ast` and walked
against that whitelist; it is never compiled or run. Values are computed with
`decimal.Decimal` and the result rounded to the fen (0.01 yuan) half up. A field not yet
entered makes the amount unknown, not zero; so does a division by zero.
"""

from __future__ import annotations

import ast
import decimal
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from onething.catalog.problems import Text

# Bounds on what a definition may ask of the server: the length is checked before parsing,
# the nodes (operators, names and numbers, each counted) before walking the tree, and the
# depth keeps every walk's recursion short.
FORMULA_MAX_LENGTH = 500
FORMULA_MAX_NODES = 200
FORMULA_MAX_DEPTH = 50
FUNCTIONS = ("min", "max", "round")
# round(x, n) keeps at most this many decimals (or rounds to at most 10^n).
ROUND_MAX_DIGITS = 8
FEN = Decimal("0.01")
_NUMBER = re.compile(r"\d+(\.\d+)?")
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_SYMBOLS = {ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@",
            ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^",
            ast.BitAnd: "&", ast.Invert: "~", ast.Not: "not"}
# What a construct is called in a refusal (a Text: the console says it in its language).
_COMPREHENSION = Text("a comprehension")
_CONSTRUCTS = {
    ast.Attribute: Text("attribute access ('.')"), ast.Subscript: Text("indexing ('[…]')"),
    ast.Compare: Text("a comparison"), ast.BoolOp: Text("'and' / 'or'"),
    ast.IfExp: Text("'if … else'"), ast.Lambda: Text("lambda"), ast.NamedExpr: Text("':='"),
    ast.Starred: Text("'*' unpacking"), ast.List: Text("a list"), ast.Tuple: Text("a tuple"),
    ast.Dict: Text("a dict"), ast.Set: Text("a set"), ast.ListComp: _COMPREHENSION,
    ast.SetComp: _COMPREHENSION, ast.DictComp: _COMPREHENSION,
    ast.GeneratorExp: _COMPREHENSION, ast.JoinedStr: Text("a string"), ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield",
}
# Plenty for yuan (up to 10^30), and bounded: no formula of 200 nodes makes numbers slow
# to multiply; what overflows is unknown, not an error.
_CONTEXT = decimal.Context(prec=28, rounding=ROUND_HALF_UP, Emax=30, Emin=-30,
                           traps=[decimal.InvalidOperation, decimal.DivisionByZero,
                                  decimal.Overflow])
# Precedence for writing a formula in words: a child binds less tightly, it gets parentheses.
_PRECEDENCE = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2}
_WORD_OPERATORS = {ast.Add: " + ", ast.Sub: " − ", ast.Mult: " × ", ast.Div: " ÷ "}


class FormulaError(ValueError):
    """A formula refused: the message (a Text, its only argument) says what is wrong, in the
    author's terms."""

    @property
    def text(self) -> Text:
        """The message as raised, with what it takes to translate it."""
        return self.args[0]


class _Unknown(Exception):
    """The amount cannot be computed from these values (a division by zero, an overflow)."""


@dataclass(frozen=True)
class Amount:
    """What a formula gives for some values: yuan to the fen, or unknown and why."""

    yuan: Decimal | None
    # The fields the formula needs that have no number yet, in the formula's order.
    missing: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        """Whether the amount could be computed."""
        return self.yuan is not None


@dataclass(frozen=True)
class Formula:
    """A checked amount formula: its text, its syntax tree and the fields it names."""

    source: str
    tree: ast.expr = field(repr=False, compare=False)
    fields: tuple[str, ...] = ()

    def evaluate(self, values: Mapping[str, Any]) -> Amount:
        """The amount in yuan for a matter's own values; unknown while a field is missing."""
        numbers = {key: number for key in self.fields
                   if (number := _decimal(values.get(key))) is not None}
        missing = tuple(key for key in self.fields if key not in numbers)
        if missing:
            return Amount(None, missing)
        try:
            result = _evaluate(self.tree, numbers).quantize(FEN, context=_CONTEXT)
        except (_Unknown, decimal.DecimalException):
            return Amount(None)
        # -0.00 reads as a negative fee.
        return Amount(result.copy_abs() if result.is_zero() else result)

    def words(self, name_of: Callable[[str], str],
              call: Callable[[str, list[str]], str] | None = None) -> str:
        """The formula for people: field names by `name_of`, × and ÷, calls by `call`."""
        return _words(self.tree, name_of, call or _plain_call)


def parse_formula(source: Any) -> Formula:
    """Check an amount formula against the grammar; FormulaError says what it breaks."""
    if not isinstance(source, str):
        raise FormulaError(Text("a formula is a string"))
    if len(source) > FORMULA_MAX_LENGTH:
        raise FormulaError(Text("a formula is at most {limit} characters, not {length}",
                                limit=FORMULA_MAX_LENGTH, length=len(source)))
    source = source.strip()
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as error:
        # Python's own words for what it cannot parse ('(' was never closed): English.
        raise FormulaError(Text("not a formula: {reason}", reason=error.msg)) from None
    except (ValueError, RecursionError, MemoryError):
        raise FormulaError(Text("not a formula: it cannot be read")) from None
    # ast.walk goes breadth first, without recursion, so it counts any tree safely.
    count = sum(1 for _ in ast.walk(tree))
    if count > FORMULA_MAX_NODES:
        raise FormulaError(Text("a formula has at most {limit} parts, not {count}",
                                limit=FORMULA_MAX_NODES, count=count))
    names: list[str] = []
    _check(tree, source, names, 0)
    return Formula(source, tree, tuple(dict.fromkeys(names)))


def _check(node: ast.AST, source: str, names: list[str], depth: int) -> None:
    if depth > FORMULA_MAX_DEPTH:
        raise FormulaError(Text("a formula nests at most {limit} levels deep",
                                limit=FORMULA_MAX_DEPTH))
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _OPERATORS:
            raise _operator_refused(node.op)
        _check(node.left, source, names, depth + 1)
        _check(node.right, source, names, depth + 1)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise _operator_refused(node.op)
        _check(node.operand, source, names, depth + 1)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise FormulaError(Text("only numbers, field keys, + - * / and min, max, round "
                                    "may stand in a formula, not {value}",
                                    value=repr(node.value)[:30]))
        text = ast.get_source_segment(source, node) or ""
        if not _NUMBER.fullmatch(text):
            raise FormulaError(Text("write numbers in plain digits, such as 7500 or 0.75, "
                                    "not {text!r}", text=text[:30]))
        # Exactly as written: 0.1 is a tenth, not the float nearest to it.
        node.value = Decimal(text)
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise FormulaError(Text("{name!r} is a function: write {name}(…)", name=node.id))
        names.append(node.id)
    elif isinstance(node, ast.Call):
        _check_call(node, source, names, depth)
    else:
        construct = _CONSTRUCTS.get(type(node), type(node).__name__)
        raise FormulaError(Text("{construct} is not allowed in a formula: only numbers, "
                                "field keys, + - * / and min, max, round",
                                construct=construct))


def _operator_refused(operator: ast.AST) -> FormulaError:
    return FormulaError(Text("{operator!r} is not allowed: only + - * / and min, max, round",
                             operator=_SYMBOLS.get(type(operator), "this operator")))


def _check_call(node: ast.Call, source: str, names: list[str], depth: int) -> None:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        called = node.func.id if isinstance(node.func, ast.Name) else \
            ast.get_source_segment(source, node.func) or "this"
        raise FormulaError(Text("only min, max and round may be called, not {called!r}",
                                called=called[:30]))
    name = node.func.id
    if node.keywords:
        raise FormulaError(Text("{name}() takes no named arguments", name=name))
    if name == "round":
        if len(node.args) not in (1, 2):
            raise FormulaError(Text("round() takes a value and, optionally, a number of "
                                    "decimals"))
        if len(node.args) == 2 and _digits(node.args[1], source) is None:
            raise FormulaError(Text("round()'s decimals are a whole number from -{limit} to "
                                    "{limit}", limit=ROUND_MAX_DIGITS))
        _check(node.args[0], source, names, depth + 1)
        return
    if len(node.args) < 2:
        raise FormulaError(Text("{name}() takes two values or more", name=name))
    for argument in node.args:
        _check(argument, source, names, depth + 1)


def _digits(node: ast.AST, source: str) -> int | None:
    """round()'s decimals: a whole number literal, possibly negative, within bounds."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -1, node.operand
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool) \
            or not isinstance(node.value, int) \
            or not (ast.get_source_segment(source, node) or "").isdigit():
        return None
    digits = sign * node.value
    return digits if abs(digits) <= ROUND_MAX_DIGITS else None


def _round_digits(node: ast.Call) -> int:
    """The decimals of a checked round() call: 0 when not given."""
    if len(node.args) < 2:
        return 0
    digits = node.args[1]
    if isinstance(digits, ast.UnaryOp):
        return -digits.operand.value
    return digits.value


def _decimal(value: Any) -> Decimal | None:
    """A JSON number as a Decimal (a float by its shortest digits); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    return number if number.is_finite() else None


def _evaluate(node: ast.AST, values: Mapping[str, Decimal]) -> Decimal:
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        if isinstance(node.op, ast.Add):
            return _CONTEXT.add(left, right)
        if isinstance(node.op, ast.Sub):
            return _CONTEXT.subtract(left, right)
        if isinstance(node.op, ast.Mult):
            return _CONTEXT.multiply(left, right)
        if right.is_zero():
            raise _Unknown
        return _CONTEXT.divide(left, right)
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values)
        return _CONTEXT.minus(operand) if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    if node.func.id == "round":
        value = _evaluate(node.args[0], values)
        return value.quantize(Decimal(1).scaleb(-_round_digits(node)), context=_CONTEXT)
    arguments = [_evaluate(argument, values) for argument in node.args]
    return min(arguments) if node.func.id == "min" else max(arguments)


def _plain_call(name: str, arguments: list[str]) -> str:
    return f"{name}({', '.join(arguments)})"


def _words(node: ast.AST, name_of: Callable[[str], str],
           call: Callable[[str, list[str]], str]) -> str:
    if isinstance(node, ast.BinOp):
        rank = _PRECEDENCE[type(node.op)]
        left = _words(node.left, name_of, call)
        right = _words(node.right, name_of, call)
        if isinstance(node.left, ast.BinOp) and _PRECEDENCE[type(node.left.op)] < rank:
            left = f"({left})"
        # a − (b − c) and a ÷ (b × c) keep their parentheses; a − b + c needs none.
        if isinstance(node.right, ast.BinOp):
            inner = _PRECEDENCE[type(node.right.op)]
            if inner < rank or (inner == rank and isinstance(node.op, ast.Sub | ast.Div)):
                right = f"({right})"
        return left + _WORD_OPERATORS[type(node.op)] + right
    if isinstance(node, ast.UnaryOp):
        operand = _words(node.operand, name_of, call)
        if isinstance(node.operand, ast.BinOp):
            operand = f"({operand})"
        return ("−" if isinstance(node.op, ast.USub) else "") + operand
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.Name):
        return name_of(node.id)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    if node.func.id == "round":
        return call("round", [_words(node.args[0], name_of, call),
                              str(_round_digits(node))])
    return call(node.func.id, [_words(a, name_of, call) for a in node.args])


# --- a matter's fees ---------------------------------------------------------------------


def field_schema(matter, key: str) -> dict | None:
    """A top-level field of a matter's form, with its library field's keywords beneath."""
    schema = matter.form.get("properties", {}).get(key)
    if not isinstance(schema, dict):
        return None
    merged, current = dict(schema), schema
    # A library field may itself $ref another (contact_name → person_name): a few steps.
    for _ in range(8):
        library = matter.catalog.field_for_ref(current.get("$ref"))
        if library is None:
            break
        current = library.data
        merged = {**{k: v for k, v in current.items() if k != "$ref"}, **merged}
        merged.pop("$ref", None)
    return merged


def is_numeric(schema: dict | None) -> bool:
    """Whether a field holds a number: type number or integer (null aside)."""
    kind = (schema or {}).get("type")
    kinds = [k for k in (kind if isinstance(kind, list) else [kind]) if k != "null"]
    return bool(kinds) and all(k in ("number", "integer") for k in kinds)


def amount_problems(matter) -> Iterator[tuple[str, Text]]:
    """(JSON pointer, message) for each amount formula of a matter that cannot be used."""
    fee = matter.data.get("fee")
    items = fee.get("items", []) if isinstance(fee, dict) else []
    properties = matter.form.get("properties", {})
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "amount" not in item:
            continue
        at = f"/fee/items/{index}/amount"
        try:
            formula = parse_formula(item["amount"])
        except FormulaError as error:
            yield at, error.text
            continue
        for key in formula.fields:
            if key not in properties:
                yield at, Text("the formula names {key!r}, which is not a field of the "
                               "matter's form", key=key)
            elif not is_numeric(field_schema(matter, key)):
                yield at, Text("the formula names {key!r}, which does not hold a number",
                               key=key)


@dataclass(frozen=True)
class ComputedFee:
    """One fee item of a matter with its formula and what it comes to for some values."""

    matter: Any
    index: int
    item: dict
    formula: Formula
    amount: Amount


def computed_fees(matter, values: Mapping[str, Any]) -> list[ComputedFee]:
    """The fee items of a matter that carry a formula, computed from the matter's own values.

    `values` are in the matter's own form's shape and units (its slice); an item whose
    formula does not parse (a catalog that was never checked) is left out.
    """
    fee = matter.data.get("fee") or {}
    if not fee.get("charged"):
        return []
    fees = []
    for index, item in enumerate(fee.get("items", [])):
        if "amount" not in item:
            continue
        try:
            formula = parse_formula(item["amount"])
        except FormulaError:
            continue
        fees.append(ComputedFee(matter, index, item, formula, formula.evaluate(values)))
    return fees


def yuan_text(amount: Decimal) -> str:
    """An amount in yuan as written on a bill: 12,345.60."""
    return f"{amount.quantize(FEN, rounding=ROUND_HALF_UP):,.2f}"
