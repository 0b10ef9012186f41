"""Long clauses the incident view already printed for an earlier cause, referred to by number.

Causes of the same rule share much of their wording: the CrashLoopBackOff exit-code explanation,
the AML note on tolerations, the "no PodMetrics" caveat of an OOM fix. Repeated for each of 33
causes it wraps into a hundred rows on a 100-column terminal; the second time round the view
says "(as in cause N)" instead. Only identical text is folded: a clause that names another
object, number or command differs from the earlier one and is printed in full.
"""

from __future__ import annotations

import re

MIN_CLAUSE = 40
MIN_ASIDE = 30
MIN_WORDS = 5  # "(pool gpua100, Standard_ND96asr_v4)" is a fact of its object, not wording
# An aside in parentheses, with at most one level of parentheses inside it.
_ASIDE = re.compile(r" \((?:[^()]|\([^()]*\))*\)")


class SaidBefore:
    """Remembers the clauses printed so far, with the number of the cause that printed them."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def fold(self, text: str, number: int) -> str:
        """`text` with clauses and asides already printed by another cause replaced by a pointer."""
        text = _ASIDE.sub(lambda m: self._aside(m.group(0), number), text)
        clauses = text.split("; ")
        if any(c.count("(") != c.count(")") for c in clauses):
            return text
        out: list[str] = []
        for index, clause in enumerate(clauses):
            # The lead clause says what this cause is or what to do first: always in full.
            if index == 0 or len(clause) < MIN_CLAUSE or len(clause.split()) < MIN_WORDS:
                out.append(clause)
                continue
            first = self._seen.setdefault(clause, number)
            out.append(clause if first == number else f"(as in cause {first})")
        return "; ".join(out)

    def _aside(self, aside: str, number: int) -> str:
        if len(aside) < MIN_ASIDE or len(aside.split()) < MIN_WORDS:
            return aside
        first = self._seen.setdefault(aside, number)
        return aside if first == number else f" (as in cause {first})"
