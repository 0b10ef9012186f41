"""why-pending: one pod's scheduling verdict, node by node, with fixes."""

from amldoctor.whypending.analysis import analyze

__all__ = ["analyze"]
