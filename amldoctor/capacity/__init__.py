"""Nodes and pods that never come: admission refusals, quotas, the cluster autoscaler.

Why-pending explains the nodes that exist and scan the pods that exist; this package reads what
the controllers and the autoscaler said about the pods and nodes that were never made:
`admission` classifies a controller's FailedCreate text, `quota` compares ResourceQuota usage
with its hard limits, `autoscaler` reads the cluster-autoscaler's status ConfigMap and pod events,
`pools` maps node groups to AKS pools, `newnode` asks whether an empty node of each pool would
fit a pod, and `karpenter` reads node auto-provisioning's NodePools and NodeClaims.
"""
