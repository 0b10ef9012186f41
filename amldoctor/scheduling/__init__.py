"""A faithful re-implementation of the kube-scheduler's default filters and its messages.

`framework.simulate(snapshot, pod)` runs one scheduling cycle (PreFilter, Filter on every node,
the FitError text and the preemption suffix); `message.parse_fit_error(text)` reads any
release's FailedScheduling message back into structured causes. docs/scheduler-semantics.md is
the specification this package follows.
"""
