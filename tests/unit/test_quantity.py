"""Quantities parse and round exactly as resource.ParseQuantity / Value / MilliValue do."""

from __future__ import annotations

from fractions import Fraction

import pytest

from amldoctor.k8s.quantity import (
    QuantityError,
    format_amount,
    format_bytes,
    format_millicores,
    parse_quantity,
)
from tests.unit.test_scheduler_vectors import VECTORS

QUANTITY_VECTORS = [v for v in VECTORS if v.get("kind") == "quantity"]


@pytest.mark.parametrize("vector", QUANTITY_VECTORS, ids=[v["id"] for v in QUANTITY_VECTORS])
def test_quantity_vector(vector: dict) -> None:
    if not vector["valid"]:
        with pytest.raises(QuantityError) as err:
            parse_quantity(vector["input"])
        assert repr(vector["input"]) in str(err.value)
        return
    q = parse_quantity(vector["input"])
    assert q.exact == Fraction(vector["exact"])
    assert q.value() == vector["value"]
    if vector["milli_value"] is not None:
        assert q.milli_value() == vector["milli_value"]


def test_vectors_loaded() -> None:
    assert len(QUANTITY_VECTORS) >= 40


@pytest.mark.parametrize(
    ("raw", "milli", "value"),
    [(2, 2000, 2), (0.5, 500, 1), (1e-3, 1, 1), (1.5e9, 1_500_000_000_000, 1_500_000_000)],
)
def test_bare_numbers(raw, milli, value) -> None:
    """`cpu: 2` in YAML is a number, not a string; the API server accepts it."""
    q = parse_quantity(raw)
    assert (q.milli_value(), q.value()) == (milli, value)


@pytest.mark.parametrize("raw", [True, None, [1], {"a": 1}, float("nan")])
def test_non_quantities_rejected(raw) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(raw)


def test_error_is_a_value_error_naming_the_value() -> None:
    with pytest.raises(ValueError, match="'4GB'"):
        parse_quantity("4GB")


def test_sub_nano_rounds_up_away_from_zero() -> None:
    assert parse_quantity("0.1n").exact == Fraction(1, 10**9)
    assert parse_quantity("-0.1n").exact == Fraction(-1, 10**9)
    assert parse_quantity("-1.5").value() == -2


def test_negative_and_exponent_forms() -> None:
    assert parse_quantity("-100m").milli_value() == -100
    assert parse_quantity("1e+3").value() == 1000
    assert parse_quantity("5E-1").milli_value() == 500


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0"),
        (2 * 2**30, "2Gi"),
        (1610612736, "1.5Gi"),
        (512 * 2**20, "512Mi"),
        (1000, "1000"),
        (2**10, "1Ki"),
    ],
)
def test_format_bytes(n, text) -> None:
    assert format_bytes(n) == text


def test_format_millicores_and_amounts() -> None:
    assert format_millicores(500) == "500m"
    assert format_millicores(2000) == "2"
    assert format_amount("cpu", 1500) == "1500m"
    assert format_amount("memory", 16 * 2**30) == "16Gi"
    assert format_amount("hugepages-2Mi", 4 * 2**20) == "4Mi"
    assert format_amount("nvidia.com/gpu", 2) == "2"


@pytest.mark.parametrize(
    ("raw", "nanos"),
    [
        ("1e999", 10**1008),  # no bound of its own on the exponent
        ("25e300", 25 * 10**309),
        ("1e4294967296", 10**9),  # int32 wrap: 2^32 -> 0
        ("3e4294967299", 3 * 10**12),  # 2^32 + 3 -> 3
        ("1e9223372036854775807", 10**8),  # int64 max wraps to -1: 0.1
        ("1e2147483648", 1),  # wraps to -2^31: far below a nano, rounds up to 1n
        ("1e-5000", 1),
        ("0e99999", 0),
        ("8Ei", (2**63 - 1) * 10**9),  # binary suffixes are capped at the largest int64
        ("1024Ei", (2**63 - 1) * 10**9),
        ("-8Ei", -(2**63 - 1) * 10**9),
        ("9223372036854775808", 2**63 * 10**9),  # decimal values are not
    ],
)
def test_exponents_and_caps_as_upstream(raw: str, nanos: int) -> None:
    assert parse_quantity(raw).nanos == nanos


@pytest.mark.parametrize("raw", ["1e9223372036854775808", "1e-9223372036854775809", "1e1.5"])
def test_exponents_outside_int64_are_invalid(raw: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(raw)


def test_a_huge_exponent_is_refused_not_computed() -> None:
    with pytest.raises(QuantityError, match="beyond what amldoctor evaluates"):
        parse_quantity("1e2147483647")


def test_whole_number_shortcut_equals_the_general_parser() -> None:
    """`_parse_nanos` reads plain whole numbers without fractions; on every generated
    spelling, valid or not, it must give what the general parser gives (or refuse alike)."""
    import random

    from amldoctor.k8s.quantity import _parse_any_nanos, _parse_nanos

    rng = random.Random(17)
    suffixes = ["", "n", "u", "m", "k", "K", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti",
                "Pi", "Ei", "e3", "E2", "i", "mi", "kb", "e", "KiB"]  # fmt: skip
    digits = ["0", "00", "007", "1", "42", "15620", "62159114", "9" * 25, "٣", "1.5", "+3", "-2"]
    cases = [d + s for d in digits for s in suffixes]
    cases += [
        str(rng.randint(0, 10 ** rng.randint(1, 30))) + rng.choice(suffixes) for _ in range(500)
    ]
    for text in cases:
        try:
            expected: object = _parse_any_nanos(text)
        except QuantityError as exc:
            expected = type(exc)
        try:
            got: object = _parse_nanos(text)
        except QuantityError as exc:
            got = type(exc)
        assert got == expected, text
