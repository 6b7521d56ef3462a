"""Typed hyperparameter schema shared by models, datasets and training settings.

One `Param` describes one knob: the training page turns it into a slider or select, the CLI
parses `--set key=value` through it, and validation messages come from it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping


def log_ladder(param: "Param") -> list:
    """The values a log-scale slider offers: a 1-2-3-5 ladder (floats) or powers of two (ints)
    between low and high, plus 0 when allowed and the default."""
    low, high = param.low, param.high
    if param.kind == "int":
        values = {2 ** i for i in range(20) if low <= 2 ** i <= high}
    else:
        start = max(low, 1e-6) if low <= 0 else low
        exponents = range(math.floor(math.log10(start)), math.ceil(math.log10(high)) + 1)
        ladder = (float(f"{mantissa}e{exponent}") for exponent in exponents for mantissa in (1, 2, 3, 5))
        values = {v for v in ladder if start <= v <= high} | ({0.0} if low <= 0 else set())
    return sorted(values | {param.default})


class ParamError(ValueError):
    """A setting a person gave is not acceptable; the message says what to change."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "int" | "float" | "choice" | "bool"
    default: Any
    help: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    log: bool = False  # show on a log-scale slider (learning rate, weight decay)
    # What a person reads beside the widget, when the name alone is cryptic or ambiguous ("training
    # seed" beside a dataset's "data seed"); the name stays the key of the URL and of `--set`.
    label: str = ""
    # Used only while other settings of the same schema have these values, e.g. momentum only for
    # {"optimizer": ("momentum", "nesterov")}: the page hides it otherwise and `unused` refuses it.
    # Given as a dict, kept as (name, values) pairs so that a Param stays hashable.
    when: Mapping[str, tuple] | tuple = ()

    def __post_init__(self):
        if self.kind not in ("int", "float", "choice", "bool"):
            raise ValueError(f"unknown Param kind {self.kind!r}")
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"default {self.default!r} of {self.name} is not among its choices")
        pairs = self.when.items() if isinstance(self.when, Mapping) else self.when
        object.__setattr__(self, "when", tuple((name, tuple(values)) for name, values in pairs))

    @property
    def title(self) -> str:
        """The words beside its widget: its label, else its name with spaces."""
        return self.label or self.name.replace("_", " ")

    def applies(self, values: Mapping[str, Any]) -> bool:
        """Whether this setting is used, given the others (a setting not among `values` is unknown
        here, and does not hide it)."""
        return all(values[name] in allowed for name, allowed in self.when if name in values)

    def needs(self) -> str:
        """When it is used, in words: "optimizer is momentum or nesterov"."""
        return " and ".join(f"{name} is {' or '.join(str(v) for v in allowed)}" for name, allowed in self.when)

    def coerce(self, value: Any) -> Any:
        """Turn a widget value or a CLI string into this param's type, or raise ParamError."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ParamError(f"{self.name} must be true or false, not {value!r}")
        if self.kind == "choice":
            for choice in self.choices:
                if value == choice or str(value).strip().lower() == str(choice).lower():
                    return choice
            options = ", ".join(str(c) for c in self.choices)
            raise ParamError(f"{self.name} must be one of {options}; got {value!r}")
        try:
            if isinstance(value, str) and not value.isascii():
                raise ValueError  # float() reads "٣" as 3: digits are ASCII here, as everywhere (numbers.py)
            if self.kind == "int":
                number = float(value)
                if number != int(number):
                    raise ValueError
                number = int(number)
            else:
                number = float(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: int() of "inf" or "1e999"
            raise ParamError(f"{self.name} must be {'a whole number' if self.kind == 'int' else 'a number'}, not {value!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ParamError(f"{self.name} must be a finite number, not {value!r}")
        if self.low is not None and number < self.low or self.high is not None and number > self.high:
            raise ParamError(f"{self.name} must be between {_fmt(self.low)} and {_fmt(self.high)}; got {_fmt(number)}")
        return number


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def resolve(params: Iterable[Param], values: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with `values`, every value coerced. Unknown keys are an error."""
    params = list(params)
    values = dict(values or {})
    known = {p.name for p in params}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ParamError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return {p.name: p.coerce(values[p.name]) if p.name in values else p.default for p in params}


def unused(params: Iterable[Param], given: Iterable[str], resolved: dict[str, Any]) -> list[str]:
    """A message for each setting in `given` that the others make unused (momentum with Adam): a run
    would silently ignore it, so it is refused rather than stored as if it had mattered."""
    return [f"{p.name} is used only when {p.needs()} (here {', '.join(f'{n} is {resolved[n]}' for n, _ in p.when)}): "
            f"leave it out, or change {' and '.join(n for n, _ in p.when)}"
            for p in params if p.name in set(given) and not p.applies(resolved)]
