"""The canonical string form of Kubernetes quantities, as `Quantity.String()` prints them.

Where amldoctor repeats text that the API server writes with quantities in it (a ResourceQuota
refusal: `requested: requests.memory=1Gi, used: ...`), the numbers must be spelled as the
server spells them: the server parses every quantity and prints it back in canonical form,
whatever the user wrote (`1024Mi` is printed `1Gi`, `0.5` is `500m`, `1e3` is `1e3`).

A quantity remembers the *format* of its suffix (DecimalSI `k M G ... m n`, BinarySI
`Ki Mi Gi ...`, DecimalExponent `e3`); canonical printing (upstream `CanonicalizeBytes`):

- zero is `0`;
- BinarySI is printed with the largest binary suffix that divides the value, unless the value
  is within (-1024, 1024) or not a whole number: then as DecimalSI;
- DecimalSI and DecimalExponent move every factor of ten into the exponent and lower it to a
  multiple of three; DecimalSI then names that exponent with its suffix, and has no suffix for
  exponents past 18 (`E`), so upstream prints the bare number there (`1000E` prints as `1`, a
  quirk kept here on purpose); DecimalExponent writes `e<exponent>`.

A sum of quantities takes the format of its first non-zero term (upstream `Quantity.Add`).

What the server *stores* is not always the canonical form: `ParseQuantity` keeps the user's own
string when its fast path judges it canonical already (`007`, `+4Mi`, `1E9` and `2.75e2` come
back as written), and core/v1 defaulting rounds every resource list value up to milli-units
(`1n` is stored `1m`). `spelling` mirrors both; it is what a live snapshot shows for a pod's
requests or a quota's `hard`, and what the quota plugin prints for a single, unsummed value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from amldoctor.k8s.quantity import (
    _BINARY_SI,
    _DECIMAL_SI,
    NANO,
    QuantityError,
    _number_text,
    parse_nanos,
)

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"
# DecimalSI suffixes by power of ten (the exponents upstream can name).
_SI_BY_EXPONENT = {exp: suffix for suffix, exp in _DECIMAL_SI.items()}
_BINARY_BY_POWER = {bits // 10: suffix for suffix, bits in _BINARY_SI.items()}


def quantity_format(raw: object) -> str:
    """The format `ParseQuantity` gives a value: from its suffix, DecimalSI for bare numbers.

    A BinarySI value strictly between -1 and 1 (`0.5Ki` is not, `0.0001Ki` is) is stored as
    DecimalSI: it could never print as a whole number of binary units.
    """
    text = raw if isinstance(raw, str) else _number_text(raw)  # type: ignore[arg-type]
    nanos = parse_nanos(raw)
    if text == "0":
        return DECIMAL_SI
    suffix = text.lstrip("+-0123456789.")
    if suffix in _BINARY_SI:
        return BINARY_SI if abs(nanos) >= NANO or nanos == 0 else DECIMAL_SI
    if suffix in _DECIMAL_SI:
        return DECIMAL_SI
    return DECIMAL_EXPONENT


_PARTS = re.compile(r"^([+-]?)0*(\d*)(?:\.(\d*))?(.*)$")
MAX_INT64_FACTORS = 18  # decimal digits an int64 always holds
MILLI = NANO // 1000


def spelling(raw: object) -> str:
    """How the API server stores and prints a core/v1 resource quantity that was written `raw`.

    The user's string is kept when upstream's int64 fast path parses it and finds it canonical
    (and milli rounding does not change it); otherwise the value, rounded up to milli-units,
    is printed canonically.
    """
    text = raw if isinstance(raw, str) else _number_text(raw)  # type: ignore[arg-type]
    nanos, fmt = parse_nanos(text), quantity_format(text)
    if text == "0":
        return text
    kept, scale = _fast_path_keeps(text)
    if kept and scale >= -3:
        return text
    return format_nanos(_round_up_to_milli(nanos), fmt)


def _fast_path_keeps(text: str) -> tuple[bool, int]:
    """(ParseQuantity keeps `text` as its string form, the int64 scale) for the fast path;
    (False, -99) when the value takes the arbitrary-precision path (and so is re-spelled)."""
    found = _PARTS.match(text)
    if found is None:
        return False, -99
    num = found.group(2) or "0"
    denom = found.group(3) or ""
    suffix = found.group(4)
    if suffix in _BINARY_SI:
        exponent = _BINARY_SI[suffix]
        if denom:
            return False, -99
        precision = 15 - len(num) - (exponent * 3 // 10) - 1
        scale, mantissa = 0, 1 << exponent
    else:
        exponent = _DECIMAL_SI[suffix] if suffix in _DECIMAL_SI else int(suffix[1:])
        exponent = (exponent + 2**31) % 2**32 - 2**31  # upstream keeps it as an int32
        precision = MAX_INT64_FACTORS - (len(num) + len(denom))
        scale, mantissa = exponent, 1
    if precision < 0:
        return False, -99
    scale -= len(denom)
    if scale < -9:
        return False, -99
    shifted = num + denom
    value = int(shifted)
    if value >= 2**63 or abs(value * mantissa) >= 2**63:
        return False, -99
    if suffix in _BINARY_SI:
        return value & 0x07 != 0, scale
    keeps = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
    return keeps, scale


def _round_up_to_milli(nanos: int) -> int:
    """core/v1 defaulting's `RoundUp(-3)`: away from zero, to a whole number of milli-units."""
    whole, rest = divmod(abs(nanos), MILLI)
    rounded = (whole + (1 if rest else 0)) * MILLI
    return -rounded if nanos < 0 else rounded


def canonical(raw: object) -> str:
    """`resource.MustParse(raw).String()`: the API server's spelling of a quantity."""
    return format_nanos(parse_nanos(raw), quantity_format(raw))


def canonical_sum(values: Iterable[object]) -> str:
    """The canonical form of a sum of quantities (the format of the first non-zero term)."""
    total, fmt = 0, None
    for raw in values:
        nanos = parse_nanos(raw)
        if fmt is None or (total == 0 and nanos != 0):
            fmt = quantity_format(raw)
        total += nanos
    return format_nanos(total, fmt or DECIMAL_SI)


def format_nanos(nanos: int, fmt: str) -> str:
    """Print a value held in nano-units in the canonical form of `fmt`."""
    if nanos == 0:
        return "0"
    if fmt == BINARY_SI:
        if -1024 * NANO < nanos < 1024 * NANO or nanos % NANO:
            fmt = DECIMAL_SI
        else:
            return _binary(nanos // NANO)
    amount, exponent = _base10(nanos)
    if fmt == DECIMAL_EXPONENT:
        return f"{amount}e{exponent}" if exponent else str(amount)
    return f"{amount}{_SI_BY_EXPONENT.get(exponent, '')}"


def _binary(value: int) -> str:
    """Whole number: strip factors of 1024 into a binary suffix (`AsCanonicalBase1024Bytes`)."""
    amount, power = abs(value), 0
    while amount >= 1024 and amount % 1024 == 0:
        amount //= 1024
        power += 1
    sign = "-" if value < 0 else ""
    return f"{sign}{amount}{_BINARY_BY_POWER.get(power, '')}"


def _base10(nanos: int) -> tuple[int, int]:
    """(amount, exponent) with the exponent a multiple of three, lowered as upstream does."""
    amount, exponent = abs(nanos), -9
    while amount >= 10 and amount % 10 == 0:
        amount //= 10
        exponent += 1
    while exponent % 3:
        amount *= 10
        exponent -= 1
    return (-amount if nanos < 0 else amount), exponent


__all__ = [
    "BINARY_SI",
    "DECIMAL_EXPONENT",
    "DECIMAL_SI",
    "QuantityError",
    "canonical",
    "canonical_sum",
    "format_nanos",
    "quantity_format",
    "spelling",
]
