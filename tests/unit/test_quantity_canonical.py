"""The canonical spelling of quantities (`Quantity.String()`), over generated values.

The real API server's spelling of the same generated values is checked in
`tests/e2e/test_quantity_spelling.py`; here, the properties any canonical form must have.
"""

from __future__ import annotations

import pytest

from amldoctor.k8s.canonical import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    canonical,
    canonical_sum,
    quantity_format,
)
from amldoctor.k8s.quantity import parse_nanos
from tests.quantity_values import quantity_values

VALUES = quantity_values(400)


@pytest.mark.parametrize("value", VALUES)
def test_canonical_form_keeps_the_value_and_is_a_fixed_point(value: str) -> None:
    text = canonical(value)
    if parse_nanos(value) < 10**21 * 10**9:  # upstream has no DecimalSI suffix past E (1e18)
        assert parse_nanos(text) == parse_nanos(value), text
    assert canonical(text) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1536Mi", "1536Mi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Ki", "512"),
        ("0.0001Ki", "102400u"),
        ("1.5Ki", "1536"),
        ("1000", "1k"),
        ("0.5", "500m"),
        ("1.0000000001", "1000000001n"),
        ("1e3", "1e3"),
        ("1E9", "1e9"),
        ("1.5e3", "1500"),
        ("1000E", "1"),
        ("8Ei", "9223372036854775807"),
        ("1024Ei", "9223372036854775807"),
        ("7Ei", "7Ei"),
        ("007", "7"),
        ("+5", "5"),
        ("0", "0"),
        ("0Gi", "0"),
        (2, "2"),
        (0.5, "500m"),
    ],
)
def test_known_spellings(value: object, expected: str) -> None:
    assert canonical(value) == expected


@pytest.mark.parametrize(
    ("value", "fmt"),
    [("1Gi", BINARY_SI), ("0.5Ki", BINARY_SI), ("0.0001Ki", DECIMAL_SI), ("1k", DECIMAL_SI),
     ("1e3", DECIMAL_EXPONENT), ("1E", DECIMAL_SI), ("0", DECIMAL_SI)],
)  # fmt: skip
def test_format_follows_the_suffix(value: str, fmt: str) -> None:
    assert quantity_format(value) == fmt


def test_sum_takes_the_format_of_its_first_non_zero_term() -> None:
    assert canonical_sum(["512Mi", "512Mi"]) == "1Gi"
    assert canonical_sum(["0", "1Gi"]) == "1Gi"
    assert canonical_sum(["1G", "1Gi"]) == "2073741824"
    assert canonical_sum(["1Gi", "1G"]) == "2073741824"
    assert canonical_sum(["1Gi", "1Mi"]) == "1025Mi"
    assert canonical_sum(["500m", "500m"]) == "1"
    assert canonical_sum([]) == "0"
