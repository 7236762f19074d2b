"""Command-line arguments of the trust-layer commands, checked where click parses them: a bad
address, a number out of range or text the chain cannot store is a one-line usage error (exit 2)
naming the argument, never a traceback from deep inside web3."""

from __future__ import annotations

import math
import re
from typing import Any

import click

from dt_platform.trust.chain import ChainError, checked_address

__all__ = ["Address", "Number", "Text"]

_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
"""ASCII decimal notation only: no exponents, signs, underscores, inf/nan or non-ASCII digits."""


class Address(click.ParamType):
    """An Ethereum address: 0x and 40 hex digits, with a valid EIP-55 checksum if mixed-case."""

    name = "address"

    def __init__(self, *, allow_zero: bool = False) -> None:
        self.allow_zero = allow_zero

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return checked_address(str(value), "address", allow_zero=self.allow_zero)
        except ChainError as exc:
            self.fail(str(exc), param, ctx)


class Number(click.ParamType):
    """A decimal number written plainly (e.g. ``30`` or ``0.5``) within ``[low, high]``;
    ``low_open`` excludes ``low`` itself. Returns a float, or an int when ``integer``."""

    name = "number"

    def __init__(
        self, low: float, high: float, *, low_open: bool = False, integer: bool = False, unit: str
    ) -> None:
        self.low = low
        self.high = high
        self.low_open = low_open
        self.integer = integer
        self.unit = unit

    def _range(self) -> str:
        low = f"more than {self.low:g}" if self.low_open else f"{self.low:g}"
        return f"{low} to {self.high:g} {self.unit}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        else:
            text = str(value).strip()
            if not _DECIMAL.fullmatch(text) or (self.integer and "." in text):
                kind = "a whole number" if self.integer else "a number"
                self.fail(f"{value!r} is not {kind} of {self.unit} ({self._range()})", param, ctx)
            number = float(text)
        too_low = number <= self.low if self.low_open else number < self.low
        if not math.isfinite(number) or too_low or number > self.high:
            self.fail(f"{value!r} is out of range: use {self._range()}", param, ctx)
        return int(number) if self.integer else number


class Text(click.ParamType):
    """Text the contracts can store: valid UTF-8 and not blank."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            self.fail(f"{text!r} is not valid UTF-8 text", param, ctx)
        if not text.strip():
            self.fail("must not be blank", param, ctx)
        return text
