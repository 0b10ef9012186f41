"""The subset of DRA's CEL that device selectors on GPUs use, evaluated exactly or not at all.

A DeviceClass or a request selects devices with CEL over `device.driver`,
`device.attributes["domain"].name` and `device.capacity["domain"].name`. amldoctor evaluates the
shapes people write for GPUs: `==`/`!=`/`<`/`<=`/`>`/`>=` on strings, ints and bools, `&&`, `||`,
`!`, parentheses, `"name" in device.attributes["domain"]`, `has(...)`, the string methods
`startsWith`/`endsWith`/`contains`, and quantity methods on capacity
(`compareTo(quantity("40Gi"))`, `isGreaterThan`, `isLessThan`). Anything else (macros, version
attributes, other functions) raises `Unevaluable`, so that the caller says "cannot evaluate
selector X" instead of guessing.

Semantics follow the scheduler's CEL environment (dynamic-resource-allocation/cel): an attribute
name without a domain belongs to the driver's domain; an unknown domain is an empty map; reading
a name that the map lacks is a runtime error ("no such key"), which the scheduler turns into an
error for the whole attempt, so that too is `Unevaluable` here, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from amldoctor.k8s.quantity import QuantityError, parse_quantity


class Unevaluable(Exception):
    """The expression is outside the subset, or evaluating it is a CEL runtime error."""


@dataclass(frozen=True)
class DeviceView:
    """What CEL sees of a device: driver, attributes and capacity by domain."""

    driver: str
    attributes: Mapping[str, Mapping[str, Any]]
    capacity: Mapping[str, Mapping[str, Fraction]]


def _domain_name(qualified: str, driver: str) -> tuple[str, str]:
    domain, sep, name = qualified.partition("/")
    return (domain, name) if sep else (driver, qualified)


def device_view(driver: str, device: Mapping) -> DeviceView:
    """The CEL input for one ResourceSlice device. Version attributes stay a marker (semver
    comparisons are not evaluated)."""
    attrs: dict[str, dict[str, Any]] = {}
    for name, raw in (device.get("attributes") or {}).items():
        domain, short = _domain_name(str(name), driver)
        raw = raw if isinstance(raw, Mapping) else {}
        value: Any
        if "int" in raw:
            value = raw["int"]
        elif "bool" in raw:
            value = raw["bool"]
        elif "string" in raw:
            value = raw["string"]
        elif "version" in raw:
            value = _Version(str(raw["version"]))
        else:
            continue
        attrs.setdefault(domain, {})[short] = value
    caps: dict[str, dict[str, Fraction]] = {}
    for name, raw in (device.get("capacity") or {}).items():
        domain, short = _domain_name(str(name), driver)
        try:
            amount = parse_quantity((raw or {}).get("value")).exact
        except (QuantityError, AttributeError):
            continue
        caps.setdefault(domain, {})[short] = amount
    return DeviceView(driver, attrs, caps)


@dataclass(frozen=True)
class _Version:
    text: str


@dataclass(frozen=True)
class _Quantity:
    amount: Fraction


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>\d+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|\[|\]|\.|,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)

Node = Callable[[DeviceView], Any]


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Unevaluable(f"unsupported syntax at {text[pos : pos + 20]!r}")
        pos = m.end()
        if m.group("num") is not None:
            out.append(("lit", int(m.group("num"))))
        elif m.group("str") is not None:
            out.append(("lit", _unquote(m.group("str"))))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        else:
            name = m.group("name")
            if name in ("true", "false"):
                out.append(("lit", name == "true"))
            else:
                out.append(("name", name))
    return out


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    if "\\" in body:
        body = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)
    return body


class _Parser:
    """Recursive descent over the subset; each rule returns a closure over a DeviceView."""

    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise Unevaluable(f"expected {value or 'more'}")
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "op" and tok[1] == value

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() is not None:
            raise Unevaluable(f"unsupported syntax near {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def or_(self) -> Node:
        left = self.and_()
        while self.at("||"):
            self.take()
            right = self.and_()
            left = _or(left, right)
        return left

    def and_(self) -> Node:
        left = self.unary()
        while self.at("&&"):
            self.take()
            right = self.unary()
            left = _and(left, right)
        return left

    def unary(self) -> Node:
        if self.at("!"):
            self.take()
            inner = self.unary()
            return lambda d: not _bool(inner(d))
        return self.comparison()

    def comparison(self) -> Node:
        left = self.postfix()
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            right = self.postfix()
            return _compare(tok[1], left, right)
        if tok and tok == ("name", "in"):
            self.take()
            right = self.postfix()
            return lambda d: _contains_key(right(d), left(d))
        return left

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.at("["):
                self.take()
                key = self.or_()
                self.take("]")
                node = _index(node, key)
            elif self.at("."):
                self.take()
                kind, name = self.take()
                if kind != "name":
                    raise Unevaluable("unsupported member access")
                node = self.method(node, name) if self.at("(") else _index(node, _const(name))
            else:
                return node

    def method(self, target: Node, name: str) -> Node:
        self.take("(")
        args = [] if self.at(")") else [self.or_()]
        while self.at(","):
            self.take()
            args.append(self.or_())
        self.take(")")
        if len(args) != 1 or name not in _METHODS:
            raise Unevaluable(f"unsupported method {name}()")
        fn, arg = _METHODS[name], args[0]
        return lambda d: fn(target(d), arg(d))

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "lit":
            return _const(value)
        if kind == "op" and value == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if kind == "name" and value == "device":
            return lambda d: _DEVICE
        if kind == "name" and value in ("quantity", "has") and self.at("("):
            self.take("(")
            arg = self.or_() if value == "quantity" else self.postfix_has()
            self.take(")")
            return _quantity(arg) if value == "quantity" else arg
        raise Unevaluable(f"unsupported name {value!r}")

    def postfix_has(self) -> Node:
        """`has(x.y)`: whether map x has key y (no error when it does not)."""
        target = self.primary()
        last: str | None = None
        while self.at(".") or self.at("["):
            if last is not None:
                target = _index(target, _const(last))
            if self.at("["):
                self.take()
                index = self.or_()
                self.take("]")
                target = _index(target, index)
                last = None
                continue
            self.take()
            kind, name = self.take()
            if kind != "name":
                raise Unevaluable("unsupported has() argument")
            last = name
        if last is None:
            raise Unevaluable("has() needs a field selection")
        field_name = last
        return lambda d: _contains_key(target(d), field_name)


_DEVICE = object()


def _const(value: Any) -> Node:
    return lambda d: value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Unevaluable(f"expected a bool, got {type(value).__name__}")
    return value


def _or(left: Node, right: Node) -> Node:
    def run(d: DeviceView) -> bool:
        # CEL's || is commutative over errors: true wins even if the other side fails.
        try:
            if _bool(left(d)):
                return True
        except Unevaluable:
            if _bool(right(d)):
                return True
            raise
        return _bool(right(d))

    return run


def _and(left: Node, right: Node) -> Node:
    def run(d: DeviceView) -> bool:
        try:
            if not _bool(left(d)):
                return False
        except Unevaluable:
            if not _bool(right(d)):
                return False
            raise
        return _bool(right(d))

    return run


def _index(target: Node, key: Node) -> Node:
    def run(d: DeviceView) -> Any:
        obj, k = target(d), key(d)
        if obj is _DEVICE:
            if k == "driver":
                return d.driver
            if k == "attributes":
                return _Domains(d.attributes)
            if k == "capacity":
                return _Domains(d.capacity)
            raise Unevaluable(f"device.{k} is not evaluated")
        if isinstance(obj, _Domains):
            return obj.get(k)
        if isinstance(obj, Mapping):
            if k not in obj:
                raise Unevaluable(f"no such key: {k}")
            value = obj[k]
            if isinstance(value, _Version):
                raise Unevaluable(f"version attribute {k} is not evaluated")
            return _Quantity(value) if isinstance(value, Fraction) else value
        raise Unevaluable("unsupported index")

    return run


class _Domains:
    """`device.attributes` / `device.capacity`: an unknown domain reads as an empty map."""

    def __init__(self, by_domain: Mapping[str, Mapping[str, Any]]) -> None:
        self.by_domain = by_domain

    def get(self, domain: Any) -> Mapping[str, Any]:
        return self.by_domain.get(domain) or {}


def _contains_key(container: Any, key: Any) -> bool:
    if isinstance(container, _Domains):
        return key in container.by_domain
    if isinstance(container, Mapping):
        return key in container
    raise Unevaluable("`in` is evaluated only on attribute and capacity maps")


_ORDER: dict[str, Callable[[int], bool]] = {
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


def _compare(op: str, left: Node, right: Node) -> Node:
    def run(d: DeviceView) -> bool:
        a, b = left(d), right(d)
        if isinstance(a, _Quantity) or isinstance(b, _Quantity):
            raise Unevaluable("quantities compare with compareTo(), not operators")
        if type(a) is not type(b):
            if op in ("==", "!="):
                # CEL has no implicit conversion: mixed types are a "no such overload" error.
                raise Unevaluable(f"comparing {type(a).__name__} with {type(b).__name__}")
            raise Unevaluable(f"ordering {type(a).__name__} against {type(b).__name__}")
        if op == "==":
            return bool(a == b)
        if op == "!=":
            return bool(a != b)
        if isinstance(a, bool):
            raise Unevaluable("ordering booleans is not evaluated")
        return _ORDER[op]((a > b) - (a < b))

    return run


def _quantity(arg: Node) -> Node:
    def run(d: DeviceView) -> _Quantity:
        text = arg(d)
        if not isinstance(text, str):
            raise Unevaluable("quantity() needs a string")
        try:
            return _Quantity(parse_quantity(text).exact)
        except QuantityError as exc:
            raise Unevaluable(f"quantity({text!r}) is not a valid quantity") from exc

    return run


def _cmp_quantity(a: Any, b: Any) -> int:
    if not isinstance(a, _Quantity) or not isinstance(b, _Quantity):
        raise Unevaluable("compareTo() is evaluated on quantities only")
    return (a.amount > b.amount) - (a.amount < b.amount)


def _string_method(test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def run(a: Any, b: Any) -> bool:
        if not isinstance(a, str) or not isinstance(b, str):
            raise Unevaluable("string method on a non-string")
        return test(a, b)

    return run


_METHODS: dict[str, Callable[[Any, Any], Any]] = {
    "compareTo": _cmp_quantity,
    "isGreaterThan": lambda a, b: _cmp_quantity(a, b) > 0,
    "isLessThan": lambda a, b: _cmp_quantity(a, b) < 0,
    "startsWith": _string_method(str.startswith),
    "endsWith": _string_method(str.endswith),
    "contains": _string_method(lambda a, b: b in a),
}


@lru_cache(maxsize=512)
def compile_selector(expression: str) -> Node:
    """The expression as a function of a DeviceView; raises Unevaluable outside the subset.

    The result must be a bool for the scheduler to accept it: checked when it runs."""
    return _Parser(expression).parse()


def matches(expression: str, device: DeviceView) -> bool:
    """Does `device` satisfy the selector? Raises Unevaluable (with the reason) when amldoctor
    cannot say for sure."""
    return _bool(compile_selector(expression)(device))
