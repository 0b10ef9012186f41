"""The Azure ML layer above the pods: instance types, AML jobs and deployments, Volcano gangs.

AML users submit a job with an instance type; the AzureML extension turns it into an AmlJob, a
Volcano Job, a PodGroup and worker pods (or a Deployment for an online endpoint). This package
recognises those objects in a snapshot and answers the questions a pod-centric view cannot:
which instance type a pod came from, whether an instance type can run anywhere, whether a gang
of N workers fits the cluster at once, and which extension component a broken pod belongs to.
Pure functions over a Snapshot; every reader tolerates malformed custom objects.
"""
