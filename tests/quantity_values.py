"""Generated quantity strings of every shape the API server parses, for canonical-form tests.

Shared by the unit test (properties of amldoctor's formatter) and the e2e test (the real API
server's spelling of the same values). Non-negative only: the objects that carry quantities
reject negative ones, so the server could not be asked about them.
"""

from __future__ import annotations

import random

DECIMAL = ["", "n", "u", "m", "k", "M", "G", "T", "P", "E"]
BINARY = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
EXPONENTS = ["e0", "e1", "e2", "e3", "e-1", "e-2", "e-3", "e6", "e-9", "e-10", "E3", "e+2", "e20"]


def _number(rng: random.Random) -> str:
    whole = rng.choice(["0", "1", "2", "5", "10", "12", "100", "1000", "1024", "1536", "999"])
    whole = whole if rng.random() < 0.95 else "007"
    whole = whole if rng.random() < 0.8 else str(rng.randint(0, 10 ** rng.randint(1, 12)))
    if rng.random() < 0.35:
        frac = rng.choice(["5", "25", "125", "0001", "1", "000000001", "0000000001", "75", "50"])
        return f"{whole}.{frac}" if rng.random() < 0.9 else f".{frac}"
    return whole


def quantity_values(count: int, seed: int = 0) -> list[str]:
    """`count` distinct non-negative quantity strings, drawn from every format and edge."""
    rng = random.Random(seed)
    fixed = [
        "1Gi", "1024Mi", "1536Mi", "0.5", "1e3", "1000", "1k", "1.5Ki", "0.5Ki", "0.0001Ki",
        "100m", "0.1", "1.0000000001", "3500m", "12e6", "1E", "1e-3", "2048", "1025Ki", "+5",
        "007", ".5Gi", "5.", "1E9", "1000E", "8Ei", "7Ei", "1023", "1024", "1023Ki", "1Mi",
        "16Gi", "32768Mi", "64Gi", "1e2", "1.5e3", "0.001", "1n", "1u", "999m", "1000m",
        # Exponents as upstream takes them: no bound of their own, int64-parsed, int32-wrapped.
        "1e999", "25e300", "1e4294967296", "3e4294967299", "1e9223372036854775807", "1e-5000",
    ]  # fmt: skip
    values: list[str] = []
    seen: set[str] = set()
    for value in fixed:
        if value not in seen:
            seen.add(value)
            values.append(value)
    while len(values) < count:
        kind = rng.random()
        number = _number(rng)
        if kind < 0.45:
            value = number + rng.choice(DECIMAL)
        elif kind < 0.8:
            value = number + rng.choice(BINARY)
        else:
            value = number + rng.choice(EXPONENTS)
        if rng.random() < 0.05:
            value = "+" + value
        if value not in seen:
            seen.add(value)
            values.append(value)
    return values[:count]
