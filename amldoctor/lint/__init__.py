"""`amldoctor lint`: manifest checks before they reach the cluster, and pre-flight scheduling.

Layers, in the order data flows: `source` reads files and stdin into documents that remember the
line of every field; `workloads` finds the pod templates inside them; `engine` runs the
`scope="lint"` rules (`lint/rules/`) and applies suppressions; `preflight` runs each
pod template through the why-pending engine against a snapshot or a live cluster.
"""
