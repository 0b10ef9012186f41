"""Kubernetes resource quantities, parsed exactly as `resource.ParseQuantity` does.

A parsed quantity is kept as an integer count of nano-units: the API server rounds every
non-zero value up (away from zero) to a multiple of 1e-9 when it parses it, so nano-units are
exact, and sums of integers stay exact without floats or `Fraction` arithmetic. The scheduler
reads CPU through `MilliValue()` and everything else through `Value()`; both round up.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

NANO = 10**9

_DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
# ParseQuantity caps the magnitude of a BinarySI value (`Ki` ... `Ei`) at the largest int64; a
# decimal value of any size is kept as it is.
MAX_BINARY_NANOS = (2**63 - 1) * NANO
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_EXPONENT = 4096  # see `_wrapped_exponent`
_SUFFIX_LETTERS = frozenset("eEinumkKMGTP")
_SUFFIX_CHARS = "".join(sorted(_SUFFIX_LETTERS))
_DIGITS = frozenset("0123456789")


class QuantityError(ValueError):
    """A value that Kubernetes would reject as a quantity; the message quotes it."""

    def __init__(self, value: object, problem: str = "is not a valid Kubernetes quantity") -> None:
        self.value = value
        super().__init__(f"{value!r} {problem}")


@dataclass(frozen=True, slots=True)
class Quantity:
    """An exact quantity: `nanos` is the value times 1e9 (always an integer after parsing)."""

    nanos: int

    @property
    def exact(self) -> Fraction:
        return Fraction(self.nanos, NANO)

    def value(self) -> int:
        """`Quantity.Value()`: the integer value, rounded up away from zero."""
        return ceil_div(self.nanos, NANO)

    def milli_value(self) -> int:
        """`Quantity.MilliValue()`: the value in thousandths, rounded up away from zero."""
        return ceil_div(self.nanos, NANO // 1000)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.nanos + other.nanos)


ZERO = Quantity(0)


def ceil_div(n: int, d: int) -> int:
    """Division rounding away from zero, as resource.Quantity does for Value/MilliValue."""
    q, r = divmod(abs(n), d)
    q += 1 if r else 0
    return q if n >= 0 else -q


# Parsed strings -> nanos. Real clusters repeat a few hundred distinct values ("500m", "1Gi").
QUANTITY_CACHE: dict[str, int] = {}


def parse_quantity(raw: object) -> Quantity:
    """Parse a quantity string or a bare JSON/YAML number (`cpu: 2`), as the API server would."""
    return Quantity(parse_nanos(raw))


def parse_nanos(raw: object) -> int:
    """Like `parse_quantity`, returning the value in nano-units (the hot path of big clusters)."""
    if type(raw) is str:
        nanos = QUANTITY_CACHE.get(raw)
        if nanos is not None:
            return nanos
        text = raw
    elif isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise QuantityError(raw)
    else:
        text = _number_text(raw)
    nanos = _parse_nanos(text)
    if len(QUANTITY_CACHE) < 65536:
        QUANTITY_CACHE[text] = nanos
    return nanos


def _number_text(number: int | float) -> str:
    if isinstance(number, float) and (number != number or number in (float("inf"), float("-inf"))):
        raise QuantityError(number)
    return repr(number) if isinstance(number, float) else str(number)


# Nano-units per unit of each suffix, for the whole numbers nodes and pods mostly carry
# ("62159114Ki", "15620m", "110"): exact integers, no fractions needed.
_WHOLE_SCALES = {
    **{suffix: 10 ** (exp + 9) for suffix, exp in _DECIMAL_SI.items()},
    **{suffix: 2**shift * NANO for suffix, shift in _BINARY_SI.items()},
}


def _parse_nanos(text: str) -> int:
    if text == "0":
        return 0
    if not text:
        raise QuantityError(text, "is not a valid Kubernetes quantity (empty)")
    digits = text.rstrip(_SUFFIX_CHARS)
    if digits.isdigit() and digits.isascii():
        scale = _WHOLE_SCALES.get(text[len(digits) :])
        if scale is not None:
            nanos = int(digits) * scale
            return min(nanos, MAX_BINARY_NANOS) if text[-1] == "i" else nanos
    return _parse_any_nanos(text)


def _parse_any_nanos(text: str) -> int:
    """Any quantity the API server accepts: signs, fractions, exponents."""
    negative, mantissa, suffix = _split(text)
    try:
        scale = _interpret_suffix(text, suffix)
    except _TooLarge:
        if mantissa == 0:
            return 0
        raise
    value = mantissa * scale
    nanos = value * NANO
    # Round any sub-nano remainder up, away from zero (the API server does the same).
    whole = nanos.numerator // nanos.denominator
    if whole * nanos.denominator != nanos.numerator:
        whole += 1
    if suffix in _BINARY_SI and whole > MAX_BINARY_NANOS:
        whole = MAX_BINARY_NANOS  # upstream caps binary-suffixed values at 2^63-1 (`8Ei`)
    return -whole if negative else whole


def _split(text: str) -> tuple[bool, Fraction, str]:
    """Split `<sign><digits>.<digits><suffix>` the way parseQuantityString does."""
    pos, end = 0, len(text)
    negative = False
    if text[0] in "+-":
        negative = text[0] == "-"
        pos = 1
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    integer = text[start:pos]
    fraction = ""
    if pos < end and text[pos] == ".":
        pos += 1
        fstart = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        fraction = text[fstart:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_LETTERS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos != end:
        raise QuantityError(text)
    digits = (integer + fraction) or "0"
    mantissa = Fraction(int(digits), 10 ** len(fraction))
    return negative, mantissa, text[suffix_start:]


def _interpret_suffix(text: str, suffix: str) -> Fraction:
    if suffix in _DECIMAL_SI:
        return Fraction(10) ** _DECIMAL_SI[suffix]
    if suffix in _BINARY_SI:
        return Fraction(2 ** _BINARY_SI[suffix])
    if len(suffix) > 1 and suffix[0] in "eE":
        exponent = suffix[1:]
        body = exponent[1:] if exponent[0] in "+-" else exponent
        if body and body.isdigit() and len(body) <= 20 and INT64_MIN <= int(exponent) <= INT64_MAX:
            return Fraction(10) ** _wrapped_exponent(text, int(exponent))
    raise QuantityError(text, "is not a valid Kubernetes quantity (unknown suffix)")


def _wrapped_exponent(text: str, exponent: int) -> int:
    """The exponent as upstream uses it: parsed as an int64, then kept as an int32 (so it wraps:
    `1e4294967296` is 1), with no bound of its own (`1e999` is a valid quantity).

    Far below a nano-unit every non-zero value rounds up to `1n`, so very negative exponents
    are clamped without changing the result; a positive one past `MAX_EXPONENT` is refused
    (by `_parse_nanos`, unless the number is zero) rather than costing a hostile manifest
    seconds of big-number arithmetic: no real resource comes near 10^4096.
    """
    wrapped = (exponent + 2**31) % 2**32 - 2**31
    if wrapped > MAX_EXPONENT:
        raise _TooLarge(text, f"is beyond what amldoctor evaluates (10^{wrapped})")
    return max(wrapped, -MAX_EXPONENT)


class _TooLarge(QuantityError):
    """A valid quantity too large to hold exactly; zero times it is still zero."""


# --- formatting for people -------------------------------------------------------------------

_BINARY_UNITS = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")  # by power of 1024
BYTE_RESOURCES = frozenset({"memory", "ephemeral-storage", "storage"})


def format_bytes(n: int) -> str:
    """2147483648 -> "2Gi", 1610612736 -> "1.5Gi"; exact units when they divide, else 1 decimal.

    The largest binary unit not above |n|, found from its bit length (a node row of why-pending
    formats several amounts for each of thousands of nodes)."""
    power = min((abs(n).bit_length() - 1) // 10, 6) if n else 0
    if power <= 0:
        return str(n)
    size = 1 << (10 * power)
    if n % size == 0:
        return f"{n // size}{_BINARY_UNITS[power]}"
    return f"{n / size:.1f}".rstrip("0").rstrip(".") + _BINARY_UNITS[power]


def format_millicores(milli: int) -> str:
    """500 -> "500m", 2000 -> "2"."""
    if milli % 1000 == 0:
        return str(milli // 1000)
    return f"{milli}m"


def format_amount(resource: str, amount: int) -> str:
    """Format a scheduler integer (milli-CPU, bytes or units) in the unit users write."""
    if resource == "cpu":
        return format_millicores(amount)
    if resource in BYTE_RESOURCES or resource.startswith("hugepages-"):
        return format_bytes(amount)
    return str(amount)
