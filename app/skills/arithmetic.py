"""Safe arithmetic: evaluate ``+ - * / ** %`` and parentheses, written or spoken, without eval.

The expression is parsed with :mod:`ast` and only number literals, the four operations, power,
modulo, unary signs and parentheses are accepted. Spoken forms ("twelve times seven", "two to
the power of ten", "15 percent of 80", "9 squared", "the square root of 16") are rewritten to
symbols first.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable

from app.skills.errors import SkillError
from app.skills.numbers import replace_number_words

MAX_EXPRESSION_CHARS = 200
"""Longer input is refused before parsing (keeps the parser and the evaluation bounded)."""

MAX_RESULT_MAGNITUDE = 1e300
"""Results (and intermediate values) beyond this are refused as too large."""

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}

# Order matters: longer phrases before their prefixes.
_SPOKEN_OPERATORS: tuple[tuple[str, str], ...] = (
    (r"\bto the power of\b", " ** "),
    (r"\braised to(?: the power of)?\b", " ** "),
    (r"\bsquared\b", " ** 2 "),
    (r"\bcubed\b", " ** 3 "),
    (r"\bmultiplied by\b", " * "),
    (r"\bdivided by\b", " / "),
    (r"\bpercent of\b|%\s*of\b", " / 100 * "),
    (r"\bmodulo\b|\bmod\b", " % "),
    (r"\btimes\b", " * "),
    (r"\bover\b", " / "),
    (r"\bplus\b", " + "),
    (r"\bminus\b", " - "),
    (r"\bopen (?:bracket|parenthesis)\b", " ( "),
    (r"\bclose (?:bracket|parenthesis)\b", " ) "),
)
_NUMBER = r"(-?\s*\d+(?:\.\d+)?)"
# Roots take the number that follows: "square root of 16" → "((16) ** 0.5)".
_ROOTS: tuple[tuple[str, str], ...] = (
    (r"\b(?:the\s+)?square root of\s+" + _NUMBER, r"((\1) ** 0.5)"),
    (r"\b(?:the\s+)?cube root of\s+" + _NUMBER, r"((\1) ** (1 / 3))"),
)
_SYMBOLS = str.maketrans({"×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "^": "**", ",": ""})
_FILLER = re.compile(r"^\s*(?:what(?:'s| is)|how much is|calculate|compute)\s+|[?=!.]+\s*$")
_DIGIT_X = re.compile(r"(?<=[\d)])\s*x\s*(?=[\d(])")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%(?!\s*[\d(])")


def normalize_expression(text: str) -> str:
    """Rewrite a written or spoken expression into plain ASCII operators.

    ``"What is twelve times seven?"`` → ``"12 * 7"``; ``"3 × 4 ÷ 2"`` → ``"3 * 4 / 2"``;
    ``"2^10"`` → ``"2**10"`` (``^`` means power here, never XOR); ``"50%"`` → ``"(50/100)"``.

    Args:
        text: the expression.

    Returns:
        The normalised expression (not yet validated).
    """
    expression = _FILLER.sub("", text.strip().lower()).translate(_SYMBOLS)
    expression = replace_number_words(expression)
    for pattern, symbol in _SPOKEN_OPERATORS + _ROOTS:
        expression = re.sub(pattern, symbol, expression)
    expression = _DIGIT_X.sub(" * ", expression)
    expression = _PERCENT.sub(r"(\1/100)", expression)
    return " ".join(expression.split())


def _check(value: float) -> float:
    if isinstance(value, complex) or not math.isfinite(value) or abs(value) > MAX_RESULT_MAGNITUDE:
        raise SkillError("That result is too large for me.")
    return value


def _power(base: float, exponent: float) -> float:
    if base == 0 and exponent < 0:
        raise SkillError("I can't divide by zero.")
    if base < 0 and not float(exponent).is_integer():
        raise SkillError("A negative number to a fractional power is not a real number.")
    if abs(base) > 1 and abs(exponent) * math.log10(abs(base)) > math.log10(MAX_RESULT_MAGNITUDE):
        raise SkillError("That result is too large for me.")
    try:
        return math.pow(base, exponent)
    except OverflowError as exc:
        raise SkillError("That result is too large for me.") from exc


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise SkillError("Only numbers can be calculated.")
        return _check(float(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        operand = _eval(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _eval(node.left)
        right = _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _check(_power(left, right))
        if isinstance(node.op, ast.Div | ast.Mod) and right == 0:
            raise SkillError("I can't divide by zero.")
        try:
            return _check(_BINARY[type(node.op)](left, right))
        except OverflowError as exc:
            raise SkillError("That result is too large for me.") from exc
    raise SkillError(
        "I can only add, subtract, multiply, divide, raise to a power and take a modulo."
    )


def evaluate(expression: str) -> float:
    """Evaluate an arithmetic expression safely.

    Supports ``+ - * / ** %`` (``%`` after a number with nothing following means percent),
    parentheses, unary signs, the symbols ``× ÷ − ^`` and spoken forms ("twelve times seven",
    "two to the power of ten", "15 percent of 80", "nine squared").

    Args:
        expression: the expression, written or spoken.

    Returns:
        The value as a float.

    Raises:
        SkillError: for empty, too long, malformed or unsupported input, division by zero and
            results too large; the message is fit to be spoken.
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise SkillError(f"That expression is too long (over {MAX_EXPRESSION_CHARS} characters).")
    normalized = normalize_expression(expression)
    if not normalized:
        raise SkillError("There is nothing to calculate.")
    try:
        tree = ast.parse(normalized, mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise SkillError(f"I couldn't read '{expression.strip()}' as arithmetic.") from exc
    return _eval(tree)
