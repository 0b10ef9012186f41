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
