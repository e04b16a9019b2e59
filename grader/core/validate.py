"""Read typed fields from parsed YAML and explain every mistake.

Staff files (assignments, rubrics) arrive as whatever `yaml.safe_load`
returned. These helpers check one value at a time and raise `SpecError` naming
the file, the dotted field (`limits.memory_mb`, `criteria[2].points`) and what
was expected, e.g.

    assignments/digits-mlp/assignment.yaml: limits.memory_mb: expected a positive integer, got "lots"

Unknown keys are errors too, so a typo never passes silently. Booleans are
never numbers (YAML reads `yes` as true).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
from collections.abc import Collection, Iterable

from grader.core.errors import SpecError

SLUG = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
SLUG_RULE = "lowercase letters and digits, words joined by - or _"


class _Missing:
    """The value of a key that is absent."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


@dataclasses.dataclass(frozen=True)
class Where:
    """A place in a staff file: the file and a dotted field path."""

    source: str
    field: str = ""

    def at(self, key: str | int) -> Where:
        """Return the place of a key (or list index) inside this one."""
        if isinstance(key, int):
            return Where(self.source, f"{self.field}[{key}]")
        return Where(self.source, f"{self.field}.{key}" if self.field else key)

    def error(self, problem: str) -> SpecError:
        """Return a SpecError about this place."""
        return SpecError(self.source, self.field, problem)

    def expected(self, what: str, value: object) -> SpecError:
        """Return a SpecError saying what was expected here and what was found."""
        if value is MISSING:
            return self.error(f"missing; expected {what}")
        return self.error(f"expected {what}, got {describe(value)}")


def describe(value: object) -> str:
    """Describe a parsed YAML value the way its author wrote it."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 60 else text[:56] + '..."'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bounds_text(minimum: float | None, maximum: float | None, above: float | None, below: float | None) -> str:
    pairs = ((">=", minimum), ("<=", maximum), (">", above), ("<", below))
    return " and ".join(f"{sign} {bound:g}" for sign, bound in pairs if bound is not None)


def expect_int(
    value: object,
    where: Where,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    what: str | None = None,
) -> int:
    """Return value if it is an integer within bounds; raise SpecError otherwise."""
    if what is None:
        if minimum == 1 and maximum is None:
            what = "a positive integer"
        elif minimum is not None and maximum is not None:
            what = f"an integer from {minimum} to {maximum}"
        else:
            what = f"an integer {_bounds_text(minimum, maximum, None, None)}".rstrip()
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise where.expected(what, value)
    return value


def expect_number(
    value: object,
    where: Where,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    what: str | None = None,
) -> float:
    """Return value as a float if it is a finite number within bounds; raise SpecError otherwise."""
    if what is None:
        what = f"a number {_bounds_text(minimum, maximum, above, below)}".rstrip()
    if not _is_number(value) or not math.isfinite(value):
        raise where.expected(what, value)
    out_of_range = (
        (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
        or (above is not None and value <= above)
        or (below is not None and value >= below)
    )
    if out_of_range:
        raise where.expected(what, value)
    return float(value)


def expect_string(value: object, where: Where) -> str:
    """Return value if it is a non-empty string; raise SpecError otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise where.expected("a non-empty text", value)
    return value


def expect_slug(value: object, where: Where) -> str:
    """Return value if it is a slug (e.g. digits-mlp); raise SpecError otherwise."""
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise where.expected(f"a name made of {SLUG_RULE} (like digits-mlp)", value)
    return value


def expect_choice(value: object, where: Where, choices: Iterable[str]) -> str:
    """Return value if it is one of choices; raise SpecError otherwise."""
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        raise where.expected(f"one of {', '.join(choices)}", value)
    return value


def expect_bool(value: object, where: Where) -> bool:
    """Return value if it is a yes/no value (true or false); raise SpecError otherwise."""
    if not isinstance(value, bool):
        raise where.expected("true or false", value)
    return value


def expect_list(value: object, where: Where, what: str = "a non-empty list") -> list[object]:
    """Return value if it is a non-empty list; raise SpecError otherwise."""
    if not isinstance(value, list) or not value:
        raise where.expected(what, value)
    return value


def _unknown_key_problem(unknown: list[str], allowed: Collection[str], kind: str) -> str:
    quoted = ", ".join(json.dumps(key) for key in unknown)
    problem = f"unknown key{'s' if len(unknown) > 1 else ''} {quoted}"
    guesses = difflib.get_close_matches(unknown[0], list(allowed), n=1)
    if guesses:
        problem += f" (did you mean {json.dumps(guesses[0])}?)"
    return f"{problem}; allowed keys{' for ' + kind if kind else ''}: {', '.join(sorted(allowed))}"


class Section:
    """A mapping from a staff file, read key by key with its place for errors."""

    def __init__(self, value: object, where: Where, allowed: Collection[str] | None = None):
        if not isinstance(value, dict):
            raise where.expected("a mapping (key: value lines)", value)
        for key in value:
            if not isinstance(key, str):
                raise where.error(f"keys must be names, got {describe(key)}")
        self.data: dict[str, object] = value
        self.where = where
        if allowed is not None:
            self.only(allowed)

    def only(self, allowed: Collection[str], kind: str = "") -> None:
        """Raise SpecError if any key is not in allowed, listing the allowed ones."""
        unknown = sorted(key for key in self.data if key not in allowed)
        if unknown:
            raise self.where.error(_unknown_key_problem(unknown, allowed, kind))

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: object = MISSING) -> object:
        """Return the raw value of key, or default (MISSING when required)."""
        return self.data.get(key, default)

    def at(self, key: str | int) -> Where:
        """Return the place of key."""
        return self.where.at(key)

    def integer(self, key: str, default: object = MISSING, **bounds: int | str | None) -> int:
        """Read an integer field (see expect_int for bounds)."""
        return expect_int(self.get(key, default), self.at(key), **bounds)

    def number(self, key: str, default: object = MISSING, **bounds: float | str | None) -> float:
        """Read a number field (see expect_number for bounds)."""
        return expect_number(self.get(key, default), self.at(key), **bounds)

    def boolean(self, key: str, default: object = MISSING) -> bool:
        """Read a true/false field."""
        return expect_bool(self.get(key, default), self.at(key))

    def string(self, key: str) -> str:
        """Read a required non-empty text field."""
        return expect_string(self.get(key), self.at(key))

    def slug(self, key: str) -> str:
        """Read a required slug field."""
        return expect_slug(self.get(key), self.at(key))

    def choice(self, key: str, choices: Iterable[str]) -> str:
        """Read a required field that must be one of choices."""
        return expect_choice(self.get(key), self.at(key), choices)

    def section(self, key: str, allowed: Collection[str] | None, optional: bool = False) -> Section:
        """Read a nested mapping (allowed None: any keys); an optional one may be absent or empty."""
        value = self.get(key, {} if optional else MISSING)
        if optional and value is None:
            value = {}
        return Section(value, self.at(key), allowed)

    def items(self, key: str) -> list[tuple[object, Where]]:
        """Read a required non-empty list, each item with its place."""
        values = expect_list(self.get(key), self.at(key))
        return [(value, self.at(key).at(index)) for index, value in enumerate(values)]
