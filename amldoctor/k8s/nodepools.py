"""Which node pool a node belongs to, by the label each managed Kubernetes puts on its nodes.

AKS (`kubernetes.azure.com/agentpool`, and the older `agentpool`), EKS managed node groups and
GKE node pools; the first label present wins. A pool names the unit users scale, taint and
resize, so findings and fixes say which pool to change.
"""

from __future__ import annotations

from collections.abc import Mapping

POOL_LABELS = (
    "kubernetes.azure.com/agentpool",
    "agentpool",
    "eks.amazonaws.com/nodegroup",
    "cloud.google.com/gke-nodepool",
)


def pool_of_labels(labels: Mapping) -> str | None:
    """The pool named by a node's labels, or None."""
    return next((str(labels[k]) for k in POOL_LABELS if labels.get(k)), None)


def node_pool(node: Mapping) -> str | None:
    """The pool of a Node object (tolerates a missing or malformed `metadata.labels`)."""
    metadata = node.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    return pool_of_labels(labels) if isinstance(labels, Mapping) else None
