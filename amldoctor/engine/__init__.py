"""The rule engine, shared by `scan` and `lint`: the registry (`@rule`, `Context`), the runner
(`run_rules`: scope, skips, suppression, ordering) and the findings and report they produce.

It sits below the feature packages that hold rules and above `scheduling/`, `k8s/` and the
snapshot: it knows how to run a rule, never what any rule checks.
"""
