"""The capacity package: admission refusals, quota lines, the autoscaler's status and events,
pools, and the "would a new node help?" simulation.

Message formats are those the real components write (ResourceQuota, LimitRanger, PodSecurity
admission; cluster-autoscaler's status ConfigMap and pod events, pinned from its source since the
Go module proxy does not serve the cluster-autoscaler module). Variants are generated so that a
class is tested, not one example.
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime

import pytest
import yaml

from amldoctor.capacity import admission, autoscaler
from amldoctor.capacity.azure import quota_error
from amldoctor.capacity.controllers import create_failure
from amldoctor.capacity.newnode import largest_shortfall, new_node_answers, summary
from amldoctor.capacity.pools import group_pool
from amldoctor.capacity.quota import exhausted_lines, watched
from amldoctor.snapshot import Snapshot

PREFIXES = ["", "Error creating: ", "create Pod web-0 in StatefulSet web failed error: "]
QUOTA_RESOURCES = [
    ("requests.nvidia.com/gpu", "4", "4", "4"),
    ("requests.memory", "64Gi", "200Gi", "256Gi"),
    ("pods", "1", "20", "20"),
    ("count/pods", "1", "5", "5"),
]


def _pairs(items, index):
    return ",".join(f"{r[0]}={r[index]}" for r in items)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_quota_refusal_any_resources(prefix: str, n: int) -> None:
    for combo in itertools.combinations(QUOTA_RESOURCES, n):
        msg = (
            f'{prefix}pods "p-1" is forbidden: exceeded quota: team-q, requested: '
            f"{_pairs(combo, 1)}, used: {_pairs(combo, 2)}, limited: {_pairs(combo, 3)}"
        )
        r = admission.classify(msg)
        assert r.kind == admission.QUOTA
        assert r.details["quota"] == "team-q"
        assert r.details["resources"] == [
            {"resource": c[0], "requested": c[1], "used": c[2], "limited": c[3]}
            for c in sorted(combo)
        ]
        assert r.text.startswith("exceeded quota")


@pytest.mark.parametrize(
    "what, must, containers",
    [
        ("limits.memory for: eval", ["limits.memory"], ["eval"]),
        (
            "limits.memory for: a,b; requests.memory for: a",
            ["limits.memory", "requests.memory"],
            ["a", "b"],
        ),
        ("limits.cpu,limits.memory", ["limits.cpu", "limits.memory"], []),
    ],
)
def test_quota_must_specify(what: str, must: list[str], containers: list[str]) -> None:
    r = admission.classify(f'pods "x" is forbidden: failed quota: q1: must specify {what}')
    assert r.kind == admission.QUOTA_UNSPECIFIED
    assert r.details == {"quota": "q1", "must": must, "containers": containers}


LIMITS = [
    ("maximum", "memory", "Container", "limit", "8Gi", "16Gi"),
    ("minimum", "cpu", "Container", "request", "100m", "10m"),
    ("maximum", "nvidia.com/gpu", "Pod", "limit", "2", "4"),
]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_limit_range_violations(n: int) -> None:
    for combo in itertools.permutations(LIMITS, n):
        parts = [f"{b} {res} usage per {s} is {a}, but {f} is {v}" for b, res, s, f, a, v in combo]
        body = parts[0] if n == 1 else "[" + ", ".join(parts) + "]"
        r = admission.classify(f'pods "x" is forbidden: {body}')
        assert r.kind == admission.LIMIT_RANGE
        assert [tuple(v.values()) for v in r.details["violations"]] == list(combo)


def test_limit_range_ratio() -> None:
    r = admission.classify(
        'pods "x" is forbidden: memory max limit to request ratio per Container is 2, but '
        "provided ratio is 4.000000"
    )
    assert r.kind == admission.LIMIT_RANGE
    assert r.details["violations"][0]["bound"] == "ratio"
    assert r.details["violations"][0]["actual"] == "4.000000"


PSA_CHECKS = [
    (
        "allowPrivilegeEscalation != false",
        'container "c" must set securityContext.allowPrivilegeEscalation=false',
        "securityContext.allowPrivilegeEscalation=false",
    ),
    (
        "unrestricted capabilities",
        'containers "a", "b" must set securityContext.capabilities.drop=["ALL"]',
        'securityContext.capabilities.drop=["ALL"]',
    ),
    (
        "runAsNonRoot != true",
        'pod or container "c" must set securityContext.runAsNonRoot=true',
        "securityContext.runAsNonRoot=true",
    ),
    ("privileged", 'container "c" must not set securityContext.privileged=true',
     "securityContext.privileged=true"),
    ("hostPath volumes", 'volume "data" uses restricted volume type "hostPath"', None),
]  # fmt: skip


@pytest.mark.parametrize("level", ["baseline", "restricted"])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_pod_security(level: str, n: int) -> None:
    checks = PSA_CHECKS[:n]
    rest = ", ".join(f"{c} ({d})" for c, d, _ in checks)
    r = admission.classify(
        f'Error creating: pods "x" is forbidden: violates PodSecurity "{level}:latest": {rest}'
    )
    assert r.kind == admission.POD_SECURITY
    assert r.details["level"] == level
    assert [(c["check"], c["detail"], c["set"]) for c in r.details["checks"]] == checks


@pytest.mark.parametrize(
    "message, kind, details",
    [
        (
            'Error creating: admission webhook "v.gatekeeper.sh" denied the request: no owner',
            admission.WEBHOOK,
            {"webhook": "v.gatekeeper.sh", "reason": "no owner"},
        ),
        (
            "Error creating: pods \"x\" is forbidden: ValidatingAdmissionPolicy 'p' with binding "
            "'pb' denied request: pods need an owner",
            admission.ADMISSION_POLICY,
            {"policy": "p", "binding": "pb", "reason": "pods need an owner"},
        ),
        (
            'Error creating: pods "x-" is forbidden: error looking up service account ml/trainer: '
            'serviceaccount "trainer" not found',
            admission.SERVICE_ACCOUNT,
            {"namespace": "ml", "name": "trainer"},
        ),
        ("Error creating: Internal error occurred: etcd timeout", admission.OTHER, {}),
    ],
)
def test_other_refusals(message: str, kind: str, details: dict) -> None:
    r = admission.classify(message)
    assert (r.kind, r.details) == (kind, details)


def _job(**status) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "namespace": "ml", "uid": "u1"},
        "spec": {"parallelism": 2},
        "status": status,
    }


def _event(reason: str, when: str, message: str = "x") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"j.{reason}.{when}", "namespace": "ml"},
        "involvedObject": {"kind": "Job", "name": "j", "namespace": "ml", "uid": "u1"},
        "reason": reason,
        "message": message,
        "lastTimestamp": when,
    }


QUOTA_MSG = (
    'Error creating: pods "j-1" is forbidden: exceeded quota: q, requested: pods=1, used: '
    "pods=2, limited: pods=2"
)


@pytest.mark.parametrize(
    "status, events, current",
    [
        ({}, [("FailedCreate", "2026-01-01T10:00:00Z")], True),
        ({"active": 1}, [("FailedCreate", "2026-01-01T10:00:00Z")], True),
        ({"active": 2}, [("FailedCreate", "2026-01-01T10:00:00Z")], False),
        (
            {},
            [("FailedCreate", "2026-01-01T10:00:00Z"),
             ("SuccessfulCreate", "2026-01-01T10:05:00Z")],
            False,
        ),
        (
            {},
            [("SuccessfulCreate", "2026-01-01T09:00:00Z"),
             ("FailedCreate", "2026-01-01T10:00:00Z")],
            True,
        ),
        ({"conditions": [{"type": "Complete", "status": "True"}]},
         [("FailedCreate", "2026-01-01T10:00:00Z")], False),
        ({}, [], False),
    ],
)  # fmt: skip
def test_create_failure_is_current_only_when_it_is(status, events, current) -> None:
    job = _job(**status)
    snap = Snapshot([job, *(_event(r, t, QUOTA_MSG) for r, t in events)])
    assert (create_failure(snap, job) is not None) is current


def test_replica_failure_condition() -> None:
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "rs", "namespace": "ml", "uid": "r1"},
        "spec": {"replicas": 3},
        "status": {
            "replicas": 1,
            "conditions": [{"type": "ReplicaFailure", "status": "True", "message": QUOTA_MSG[16:]}],
        },
    }
    failure = create_failure(Snapshot([rs]), rs)
    assert failure and failure.source == "condition" and failure.refusal.kind == admission.QUOTA
    assert (failure.wanted, failure.existing) == (3, 1)


@pytest.mark.parametrize(
    "resource, expected",
    [
        ("requests.nvidia.com/gpu", True),
        ("requests.amd.com/gpu", True),
        ("limits.memory", True),
        ("memory", True),
        ("requests.cpu", True),
        ("pods", True),
        ("count/pods", True),
        ("services", False),
        ("requests.storage", False),
        ("count/jobs.batch", False),
    ],
)
def test_quota_watched_lines(resource: str, expected: bool) -> None:
    assert watched(resource) is expected


@pytest.mark.parametrize(
    "hard, used, exhausted",
    [("4", "4", True), ("4", "3", False), ("1Gi", "1024Mi", True), ("1Gi", "1023Mi", False),
     ("2", "2000m", True), ("0", "0", True), ("8", "9", True)],
)  # fmt: skip
def test_quota_exhaustion_is_exact(hard: str, used: str, exhausted: bool) -> None:
    quota = {"status": {"hard": {"limits.memory": hard}, "used": {"limits.memory": used}}}
    assert bool(exhausted_lines(quota)) is exhausted


# -- the autoscaler ----------------------------------------------------------------------------

YAML_STATUS = """\
time: 2026-11-28 08:59:50.5 +0000 UTC
autoscalerStatus: Running
nodeGroups:
- name: aks-gpupool-12345678-vmss
  health:
    status: Healthy
    nodeCounts: {registered: {total: 2, ready: 2}}
    cloudProviderTarget: 2
    minSize: 0
    maxSize: 2
  scaleUp: {status: NoActivity}
- name: aks-a100-55512345-vmss
  health: {status: Healthy, cloudProviderTarget: 1, minSize: 0, maxSize: 4}
  scaleUp:
    status: Backoff
    backoffInfo: {errorCode: QuotaExceeded, errorMessage: "quota!"}
"""

TEXT_STATUS = """\
Cluster-autoscaler status at 2026-11-28 08:59:50.5 +0000 UTC:
Cluster-wide:
  Health:      Healthy (ready=3 unready=0 (resourceUnready=0) notStarted=0 longNotStarted=0 registered=3 longUnregistered=0)
  ScaleUp:     NoActivity (ready=3 registered=3)

NodeGroups:
  Name:        aks-gpupool-12345678-vmss
  Health:      Healthy (ready=2 unready=0 (resourceUnready=0) notStarted=0 longNotStarted=0 registered=2 longUnregistered=0 cloudProviderTarget=2 (minSize=0, maxSize=2))
  ScaleUp:     NoActivity (ready=2 cloudProviderTarget=2)
  Name:        aks-a100-55512345-vmss
  Health:      Healthy (ready=1 unready=0 (resourceUnready=0) notStarted=0 longNotStarted=0 registered=1 longUnregistered=0 cloudProviderTarget=1 (minSize=0, maxSize=4))
  ScaleUp:     Backoff (ready=1 cloudProviderTarget=1)
"""  # noqa: E501 (the autoscaler's own line lengths)

# The same status as the autoscaler prints it in full: every condition line is followed by its
# probe and transition times, indented under it, with Go's monotonic-clock suffix.
_PROBES = (
    "               LastProbeTime:      2026-11-28 08:59:50.5 +0000 UTC m=+3600.25\n"
    "               LastTransitionTime: 2026-11-28 08:12:19.1 +0000 UTC m=+0.01\n"
)
TEXT_STATUS_WITH_PROBES = "".join(
    line + "\n" + (_PROBES if line.strip().startswith(("Health:", "ScaleUp:")) else "")
    for line in TEXT_STATUS.splitlines()
)


def _status_cm(text: str, annotated: bool = True) -> dict:
    annotations = {autoscaler.LAST_UPDATED: "2026-11-28 08:59:50.5 +0000 UTC"} if annotated else {}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "cluster-autoscaler-status",
            "namespace": "kube-system",
            "annotations": annotations,
        },
        "data": {"status": text},
    }


@pytest.mark.parametrize(
    "text, form",
    [(YAML_STATUS, "yaml"), (TEXT_STATUS, "text"), (TEXT_STATUS_WITH_PROBES, "text")],
)
@pytest.mark.parametrize("annotated", [True, False])
def test_status_both_forms(text: str, form: str, annotated: bool) -> None:
    status = autoscaler.read_status(Snapshot([_status_cm(text, annotated)]))
    assert status is not None and status.form == form
    assert status.updated == datetime(2026, 11, 28, 8, 59, 50, tzinfo=UTC)
    gpu, a100 = status.groups
    assert (gpu.name, gpu.min_size, gpu.max_size, gpu.target, gpu.at_max) == (
        "aks-gpupool-12345678-vmss", 0, 2, 2, True,
    )  # fmt: skip
    assert (a100.max_size, a100.target, a100.at_max, a100.scale_up) == (4, 1, False, "Backoff")


def test_no_status_config_map() -> None:
    assert autoscaler.read_status(Snapshot([])) is None


@pytest.mark.parametrize(
    "message, reasons",
    [
        ("pod didn't trigger scale-up: 1 max node group size reached",
         [(1, "max node group size reached")]),
        ("pod didn't trigger scale-up: 2 node(s) didn't match Pod's node affinity/selector, "
         "1 Insufficient nvidia.com/gpu, 1 not ready for scale-up",
         [(2, "node(s) didn't match Pod's node affinity/selector"),
          (1, "Insufficient nvidia.com/gpu"), (1, "not ready for scale-up")]),
        ("pod didn't trigger scale-up: max total nodes in cluster reached",
         [(0, "max total nodes in cluster reached")]),
        ("pod didn't trigger scale-up (it wouldn't fit if a new node is added)",
         [(0, "it wouldn't fit if a new node is added")]),
        ("pod didn't trigger scale-up: 1 node(s) had untolerated taint {sku: gpu}",
         [(1, "node(s) had untolerated taint {sku: gpu}")]),
    ],
)  # fmt: skip
def test_not_triggered_reasons(message: str, reasons: list) -> None:
    assert autoscaler.not_triggered_reasons(message) == reasons


def test_triggered_scale_up_groups() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p", "namespace": "ml", "uid": "p1"}}
    ev = {
        "kind": "Event",
        "metadata": {"name": "p.1", "namespace": "ml"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ml", "uid": "p1"},
        "reason": "TriggeredScaleUp",
        "message": "pod triggered scale-up: [{aks-gpupool-1-vmss 1->3 (max: 4)} "
        "{aks-cpu-2-vmss 0->1 (max: 2)}]",
        "lastTimestamp": "2026-11-28T08:00:00Z",
    }
    said = autoscaler.pod_scale_up(Snapshot([pod, ev]), pod)
    assert said and said.triggered
    assert said.groups == [
        {"group": "aks-gpupool-1-vmss", "from": 1, "to": 3, "max": 4},
        {"group": "aks-cpu-2-vmss", "from": 0, "to": 1, "max": 2},
    ]


AZURE = (
    "Operation could not be completed as it results in exceeding approved {family} Cores quota. "
    "Additional details - Deployment Model: Resource Manager, Location: {loc}, Current Limit: "
    "{limit}, Current Usage: {usage}, Additional Required: {req}, (Minimum) New Limit Required: "
    "{new}. Submit a request for Quota increase."
)


@pytest.mark.parametrize(
    "family, loc",
    [("standardNCADSA100v4Family", "westeurope"), ("Total Regional", "eastus2"),
     ("standardNDSH100v5Family", "southcentralus")],
)  # fmt: skip
def test_azure_quota_error(family: str, loc: str) -> None:
    text = AZURE.format(family=family, loc=loc, limit=24, usage=24, req=24, new=48)
    assert quota_error(text) == {
        "family": family, "location": loc, "limit": 24, "usage": 24, "required": 24,
        "new_limit": 48,
    }  # fmt: skip
    assert quota_error("Code=AllocationFailed: no capacity") is None


# -- pools and new nodes -----------------------------------------------------------------------


def _node(name: str, pool: str, vmss: str | None, gpus: int = 4, taints=None, ready=True) -> dict:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "labels": {"kubernetes.azure.com/agentpool": pool, "kubernetes.io/hostname": name},
        },
        "spec": {"taints": taints or []},
        "status": {
            "allocatable": {
                "cpu": "24",
                "memory": "200Gi",
                "pods": "110",
                "nvidia.com/gpu": str(gpus),
            },
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }
    if vmss:
        node["spec"]["providerID"] = (
            "azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/"
            f"virtualMachineScaleSets/{vmss}/virtualMachines/0"
        )
    return node


def _pod(name: str, node: str | None = None, gpus: int = 4, owner: str | None = None) -> dict:
    meta: dict = {"name": name, "namespace": "ml", "uid": f"uid-{name}"}
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "name": owner,
                "uid": "ds",
                "controller": True,
            }
        ]
    spec: dict = {
        "containers": [
            {"name": "c", "image": "i", "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}
        ],
        "tolerations": [{"key": "sku", "operator": "Exists"}],
    }
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
            "status": {"phase": "Running" if node else "Pending"}}  # fmt: skip


def test_group_pool_by_provider_id_and_by_name() -> None:
    snap = Snapshot([_node("n1", "gpu", "aks-renamed-99-vmss")])
    assert group_pool(snap, "aks-renamed-99-vmss") == "gpu"
    assert group_pool(snap, "aks-zeropool-12345678-vmss") == "zeropool"
    assert group_pool(snap, "some-asg") is None


def _snapshot_with_status(objects: list[dict], max_size: int) -> Snapshot:
    status = copy.deepcopy(yaml.safe_load(YAML_STATUS))
    status["nodeGroups"][0]["health"]["maxSize"] = max_size
    return Snapshot([*objects, _status_cm(yaml.safe_dump(status))])


@pytest.mark.parametrize("max_size, at_max", [(2, True), (5, False)])
def test_new_node_fits_and_autoscaler_state(max_size: int, at_max: bool) -> None:
    gpu_taint = [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]
    objects = [
        _node("g0", "gpupool", "aks-gpupool-12345678-vmss", taints=gpu_taint),
        _node("g1", "gpupool", "aks-gpupool-12345678-vmss", taints=gpu_taint),
        _pod("busy-0", "g0"),
        _pod("busy-1", "g1"),
        _pod("train", None),
    ]
    snap = _snapshot_with_status(objects, max_size)
    answers = {a.pool: a for a in new_node_answers(snap, snap.get("Pod", "ml", "train"))}
    gpu = answers["gpupool"]
    assert gpu.fits is True and gpu.at_max is at_max
    if at_max:
        assert (
            gpu.text == "a new node of pool gpupool would fit, but the pool is at its maximum 2/2"
        )
    # a100 has no node: scaled to zero, unknown.
    assert answers["a100"].fits is None and "unknown" in answers["a100"].text


def test_new_node_keeps_daemonset_pods_and_drops_lifecycle_taints() -> None:
    # The only pool node is cordoned and not-ready-tainted: a fresh node would be neither. Its
    # DaemonSet pod holds 1 of 4 GPUs on every node of the pool, so a 4-GPU pod never fits.
    node = _node("g0", "gpupool", None, ready=False, taints=[
        {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
        {"key": "ToBeDeletedByClusterAutoscaler", "effect": "NoSchedule"},
    ])  # fmt: skip
    node["spec"]["unschedulable"] = True
    objects = [
        node,
        _pod("exporter", "g0", gpus=1, owner="gpu-exporter"),
        _pod("train", None, gpus=3),
    ]
    snap = Snapshot(objects)
    (answer,) = new_node_answers(snap, snap.get("Pod", "ml", "train"))
    assert answer.fits is True, answer.failures
    big = _pod("big", None, gpus=4)
    snap = Snapshot([*objects, big])
    (answer,) = new_node_answers(snap, big)
    assert answer.fits is False
    assert answer.reasons == ["Insufficient nvidia.com/gpu"]


def test_no_pool_fits_names_the_shortfall() -> None:
    objects = [_node("g0", "gpupool", None, gpus=4), _node("c0", "cpupool", None, gpus=0)]
    pod = _pod("huge", None, gpus=8)
    snap = Snapshot([*objects, pod])
    answers = new_node_answers(snap, pod)
    line = summary(answers, largest_shortfall(snap, pod, None, answers))
    assert line == (
        "no pool's new node fits: the pod asks for 8 nvidia.com/gpu and the largest node "
        "(pool gpupool) has 4 allocatable"
    )


def test_existing_pods_anti_affinity_reaches_the_new_node() -> None:
    """Another pod's required anti-affinity over the zone blocks a new node in that zone too:
    the simulation must then see the whole cluster, not the template node alone."""
    node = _node("g0", "gpupool", None, gpus=4)
    node["metadata"]["labels"]["topology.kubernetes.io/zone"] = "westeurope-1"
    guard = _pod("guard", "g0", gpus=0)
    guard["spec"]["affinity"] = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app": "train"}},
                    "topologyKey": "topology.kubernetes.io/zone",
                }
            ]
        }
    }
    train = _pod("train", None, gpus=1)
    train["metadata"]["labels"] = {"app": "train"}
    other = _pod("other", None, gpus=1)
    snap = Snapshot([node, guard, train, other])
    (blocked,) = new_node_answers(snap, train)
    assert blocked.fits is False
    assert blocked.reasons == ["node(s) didn't satisfy existing pods anti-affinity rules"]
    (free,) = new_node_answers(snap, other)
    assert free.fits is True


def test_karpenter_notes() -> None:
    from amldoctor.capacity.karpenter import provisioning_notes

    pool = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "gpu"},
        "spec": {"limits": {"nvidia.com/gpu": "8", "cpu": "1000"}},
        "status": {
            "resources": {"nvidia.com/gpu": "8", "cpu": "96"},
            "conditions": [
                {"type": "Ready", "status": "False", "message": "NodeClassReady=False"},
                {"type": "ValidDefinition", "status": "True"},
            ],
        },
    }
    claim = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {"name": "gpu-x7k2p"},
        "status": {
            "conditions": [
                {
                    "type": "Launched",
                    "status": "False",
                    "reason": "InsufficientCapacity",
                    "message": "all requested instance types were unavailable during launch",
                }
            ]
        },
    }
    pod = {"kind": "Pod", "metadata": {"name": "p", "namespace": "ml", "uid": "p1"}}
    event = {
        "kind": "Event",
        "metadata": {"name": "p.k", "namespace": "ml"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ml", "uid": "p1"},
        "reason": "FailedScheduling",
        "source": {"component": "karpenter"},
        "message": "Failed to schedule pod, all available instance types exceed limits for "
        "nodepool",
        "lastTimestamp": "2026-11-28T08:00:00Z",
    }
    assert provisioning_notes(Snapshot([pool, claim, pod, event]), pod) == [
        "NodePool gpu: Ready=False (NodeClassReady=False)",
        "NodePool gpu is at its limits: nvidia.com/gpu 8 of limit 8",
        "NodeClaim gpu-x7k2p: Launched=False (all requested instance types were unavailable "
        "during launch)",
        "karpenter on the pod (FailedScheduling): Failed to schedule pod, all available instance "
        "types exceed limits for nodepool",
    ]


@pytest.mark.parametrize(
    "spec, status, current",
    [
        ({"parallelism": 4, "completions": 10}, {"succeeded": 9, "active": 1}, False),
        ({"parallelism": 4, "completions": 10}, {"succeeded": 8, "active": 1}, True),
        ({"parallelism": 4, "completions": 10}, {"succeeded": 2, "active": 4}, False),
        ({"parallelism": 4}, {"active": 3}, True),
    ],
)
def test_job_wants_only_the_completions_still_to_go(spec, status, current) -> None:
    job = _job(**status)
    job["spec"] = spec
    snap = Snapshot([job, _event("FailedCreate", "2026-01-01T10:00:00Z", QUOTA_MSG)])
    assert (create_failure(snap, job) is not None) is current
