"""VolumeRestrictions, NodeVolumeLimits, VolumeBinding and VolumeZone.

These read PersistentVolumeClaims, PersistentVolumes, StorageClasses and CSINodes from the
snapshot. When a kind was not collected the plugin cannot judge; the framework lists that under
`not_modelled` instead of guessing (see `missing_inputs`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from amldoctor.k8s.nodeaffinity import NodeSelector
from amldoctor.k8s.quantity import QuantityError, parse_quantity
from amldoctor.scheduling import names
from amldoctor.scheduling.cluster import NodeInfo, pod_key
from amldoctor.scheduling.plugins.base import Plugin
from amldoctor.scheduling.status import SUCCESS, Code, PreFilterOutcome, Reason, Status, fail

DISK_CONFLICT = "node(s) had no available disk"
RWOP_CONFLICT = (
    "node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod access mode "
    "already in-use by another pod"
)
# The wording before v1.29 (per-node check of the node's own pods).
RWOP_CONFLICT_LEGACY = (
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
)
MAX_VOLUME_COUNT = "node(s) exceed max volume count"
UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
NODE_CONFLICT = "node(s) didn't match PersistentVolume's node affinity"
NODE_CONFLICT_LEGACY = "node(s) had volume node affinity conflict"
NOT_ENOUGH_SPACE = "node(s) did not have enough free storage"
PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ZONE_CONFLICT = "node(s) had no available volume zone"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
SELECTED_NODE = "volume.kubernetes.io/selected-node"

ZONE_LABELS = (
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
)
_GA_LABEL = {
    "failure-domain.beta.kubernetes.io/zone": "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region": "topology.kubernetes.io/region",
}


def claim_names(pod: Mapping) -> list[tuple[str, str, bool]]:
    """(volume name, PVC name, generic-ephemeral?) for every PVC-backed volume of a pod."""
    name = (pod.get("metadata") or {}).get("name") or ""
    out = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        if vol.get("persistentVolumeClaim"):
            out.append(
                (vol.get("name", ""), vol["persistentVolumeClaim"].get("claimName", ""), False)
            )
        elif vol.get("ephemeral"):
            out.append((vol.get("name", ""), f"{name}-{vol.get('name', '')}", True))
    return out


def _is_bound(pvc: Mapping) -> bool:
    """The PVC is bound to a PV (volumeName set and the bind completed)."""
    if not (pvc.get("spec") or {}).get("volumeName"):
        return False
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    return BIND_COMPLETED in annotations or (pvc.get("status") or {}).get("phase") == "Bound"


def _class_name(pvc: Mapping) -> str:
    spec = pvc.get("spec") or {}
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    return (
        spec.get("storageClassName")
        or annotations.get("volume.beta.kubernetes.io/storage-class")
        or ""
    )


def _pv_matches_node(pv: Mapping, labels: Mapping[str, str]) -> bool:
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if required is None:
        return True
    return NodeSelector(required).matches({"metadata": {"labels": dict(labels)}})


def _storage(obj: Mapping, path: tuple[str, ...]) -> int:
    cur: object = obj
    for key in path:
        cur = (cur or {}).get(key) if isinstance(cur, Mapping) else None
    try:
        return parse_quantity(cur).value() if cur is not None else 0
    except QuantityError:
        return 0


# --- VolumeRestrictions -------------------------------------------------------------------


def _inline_disk_ids(pod: Mapping) -> list[tuple[str, str, bool]]:
    """(kind, identity, readOnly) of inline disks that allow a single writer per node."""
    out = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        if gce := vol.get("gcePersistentDisk"):
            out.append(("gce-pd", gce.get("pdName", ""), bool(gce.get("readOnly"))))
        elif ebs := vol.get("awsElasticBlockStore"):
            out.append(("aws-ebs", ebs.get("volumeID", ""), False))
        elif iscsi := vol.get("iscsi"):
            out.append(("iscsi", iscsi.get("iqn", ""), bool(iscsi.get("readOnly"))))
        elif rbd := vol.get("rbd"):
            monitors = ",".join(rbd.get("monitors") or [])
            ident = f"{monitors}/{rbd.get('pool', '')}/{rbd.get('image', '')}"
            out.append(("rbd", ident, bool(rbd.get("readOnly"))))
    return out


class VolumeRestrictions(Plugin):
    name = names.VOLUME_RESTRICTIONS
    short = "vol-excl"
    funnel = "have the pod's disks free"
    funnel_rank = 7
    advice = "another pod holds the volume exclusively"

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        self.disks = _inline_disk_ids(self.pod)
        self.rwop_holders: list[str] = []  # one entry per (pod, claim) in use: the ref count
        self.rwop: set[str] = set()

    def pre_filter(self) -> PreFilterOutcome:
        self.rwop = self._rwop_claims()
        if not self.disks and not self.rwop:
            return PreFilterOutcome.skip()
        if self.rwop:
            for other, node in self.cluster.bound_pods():
                self.add_pod(other, node)
        return SUCCESS

    def _rwop_uses(self, other: Mapping) -> int:
        """How many of this pod's ReadWriteOncePod claims `other` uses (same namespace)."""
        if not self.rwop or pod_key(other)[0] != pod_key(self.pod)[0]:
            return 0
        return len(self.rwop & {c for _, c, _ in claim_names(other)})

    def add_pod(self, pod: Mapping, node: NodeInfo) -> None:
        """AddPod: upstream adds the pod's uses of the claims to `conflictingPVCRefCount`."""
        self.rwop_holders.extend(["/".join(pod_key(pod))] * self._rwop_uses(pod))

    def remove_pod(self, pod: Mapping, node: NodeInfo) -> None:
        """RemovePod: a preemption victim holding the claim releases it."""
        holder = "/".join(pod_key(pod))
        for _ in range(self._rwop_uses(pod)):
            if holder in self.rwop_holders:
                self.rwop_holders.remove(holder)

    def clone(self) -> VolumeRestrictions:
        twin = copy.copy(self)
        twin.rwop_holders = list(self.rwop_holders)
        return twin

    def _rwop_claims(self) -> set[str]:
        ns = pod_key(self.pod)[0]
        out = set()
        for _, claim, _ in claim_names(self.pod):
            pvc = self.cluster.pvc(ns, claim)
            if pvc and "ReadWriteOncePod" in ((pvc.get("spec") or {}).get("accessModes") or []):
                out.add(claim)
        return out

    def filter(self, node: NodeInfo) -> Status | None:
        if self.disks:
            for other in node.pods:
                for kind, ident, ro in _inline_disk_ids(other):
                    for mine_kind, mine_ident, mine_ro in self.disks:
                        if kind == mine_kind and ident == mine_ident and not (ro and mine_ro):
                            return fail(
                                self.name,
                                Code.UNSCHEDULABLE,
                                DISK_CONFLICT,
                                f"{kind} disk {ident} is already used on node {node.name} by pod "
                                + "/".join(pod_key(other)),
                            )
        if self.rwop_holders:
            return fail(
                self.name,
                Code.UNSCHEDULABLE,
                RWOP_CONFLICT if self.profile.at_least(1, 29) else RWOP_CONFLICT_LEGACY,
                "a ReadWriteOncePod claim of this pod is already in use by "
                + ", ".join(sorted(self.rwop_holders)),
                holders=sorted(self.rwop_holders),
            )
        return None


# --- NodeVolumeLimits (CSI) ---------------------------------------------------------------


class NodeVolumeLimits(Plugin):
    """Counts unique CSI volumes per driver against CSINode `allocatable.count`."""

    name = names.NODE_VOLUME_LIMITS
    short = "vol-limit"
    funnel = "have room for more volumes"
    funnel_rank = 8
    advice = "nodes reached their volume attach limit"

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        self.new = self._volumes(self.pod)

    def _volumes(self, pod: Mapping) -> dict[str, str]:
        """volume identity -> CSI driver, for the PVC-backed volumes of a pod."""
        ns = pod_key(pod)[0]
        out: dict[str, str] = {}
        for _, claim, _ in claim_names(pod):
            pvc = self.cluster.pvc(ns, claim)
            if pvc is None:
                continue
            pv_name = (pvc.get("spec") or {}).get("volumeName")
            pv = self.cluster.pv(pv_name) if pv_name else None
            if pv is not None:
                csi = (pv.get("spec") or {}).get("csi") or {}
                if csi.get("driver"):
                    out[f"{csi['driver']}/{csi.get('volumeHandle', pv_name)}"] = csi["driver"]
                continue
            sc = self.cluster.storage_class(_class_name(pvc))
            if sc and sc.get("provisioner"):
                out[f"{sc['provisioner']}/{ns}/{claim}"] = sc["provisioner"]
        return out

    def pre_filter(self) -> PreFilterOutcome:
        return SUCCESS if self.new else PreFilterOutcome.skip()

    def filter(self, node: NodeInfo) -> Status | None:
        if not self.new:
            return None
        csinode = self.cluster.snap.get("CSINode", None, node.name)
        if csinode is None:
            return None
        limits = {
            d.get("name"): (d.get("allocatable") or {}).get("count")
            for d in (csinode.get("spec") or {}).get("drivers") or []
        }
        attached: dict[str, str] = {}
        for other in node.pods:
            attached.update(self._volumes(other))
        for driver in sorted(set(self.new.values())):
            limit = limits.get(driver)
            if not isinstance(limit, int):
                continue
            used = {v for v, d in attached.items() if d == driver}
            extra = {v for v, d in self.new.items() if d == driver} - used
            if len(used) + len(extra) > limit:
                return fail(
                    self.name,
                    Code.UNSCHEDULABLE,
                    MAX_VOLUME_COUNT,
                    f"node {node.name} already has {len(used)} {driver} volumes of {limit} "
                    "allowed; "
                    f"the pod adds {len(extra)}",
                    driver=driver,
                    used=len(used),
                    limit=limit,
                )
        return None


# --- VolumeBinding ------------------------------------------------------------------------


class VolumeBinding(Plugin):
    name = names.VOLUME_BINDING
    short = "volumes"
    funnel = "can bind the pod's volumes"
    funnel_rank = 6
    advice = "check the pod's PersistentVolumeClaims (kubectl describe pvc)"

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        self.claims = claim_names(self.pod)
        self.bound: list[tuple[Mapping, Mapping | None]] = []  # (pvc, pv or None)
        self.delayed: list[Mapping] = []

    def pre_filter(self) -> PreFilterOutcome:
        if not self.claims:
            return PreFilterOutcome.skip()
        ns = pod_key(self.pod)[0]
        immediate: list[tuple[str, str, Mapping | None]] = []
        for _vol, claim, _ephemeral in self.claims:
            pvc = self.cluster.pvc(ns, claim)
            if pvc is None:
                return self._reject(
                    f'persistentvolumeclaim "{claim}" not found',
                    f"the pod mounts PersistentVolumeClaim {ns}/{claim}, which does not exist",
                    claim,
                )
            if (pvc.get("metadata") or {}).get("deletionTimestamp"):
                return self._reject(
                    f'persistentvolumeclaim "{claim}" is being deleted',
                    f"PersistentVolumeClaim {ns}/{claim} is being deleted",
                    claim,
                )
            if _is_bound(pvc):
                pv_name = pvc["spec"]["volumeName"]
                self.bound.append((pvc, self.cluster.pv(pv_name)))
                continue
            class_name = _class_name(pvc)
            sc = self.cluster.storage_class(class_name)
            if sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer":
                self.delayed.append(pvc)
            else:
                immediate.append((claim, class_name, sc))
        if immediate:
            return self._reject(
                UNBOUND_IMMEDIATE,
                "; ".join(self._why_unbound(ns, *item) for item in immediate),
                immediate[0][0],
            )
        return SUCCESS

    def _why_unbound(self, ns: str, claim: str, class_name: str, sc: Mapping | None) -> str:
        """Why a claim the scheduler must wait for is still unbound, as far as the snapshot
        shows."""
        head = f"PersistentVolumeClaim {ns}/{claim} is not bound"
        if not class_name:
            return f"{head}: it names no StorageClass and waits for a matching PersistentVolume"
        if sc is None and self.cluster.collected("StorageClass"):
            return (
                f"{head}: its StorageClass {class_name!r} does not exist, so nothing will "
                "provision it"
            )
        return (
            f"{head} and its StorageClass {class_name!r} binds immediately: the provisioner "
            "has not created a volume yet (kubectl describe pvc shows its events)"
        )

    def _reject(self, text: str, detail: str, claim: str) -> PreFilterOutcome:
        return PreFilterOutcome.reject(
            Status(
                self.name, Code.UNRESOLVABLE, (Reason(text, detail, {"claim": claim}),), "PreFilter"
            )
        )

    def filter(self, node: NodeInfo) -> Status | None:
        items: list[Reason] = []
        conflict = self._bound_conflicts(node)
        missing = [pvc["spec"]["volumeName"] for pvc, pv in self.bound if pv is None]
        if conflict:
            text = NODE_CONFLICT if self.profile.at_least(1, 33) else NODE_CONFLICT_LEGACY
            items.append(
                Reason(
                    text,
                    f"node {node.name} does not match the node affinity of PersistentVolume "
                    + ", ".join(conflict),
                    {"volumes": conflict},
                )
            )
        unmatched = self._unbound_unsatisfied(node)
        if unmatched:
            items.append(
                Reason(
                    BIND_CONFLICT,
                    f"no available PersistentVolume or provisioner can serve claim "
                    f"{', '.join(unmatched)} on node {node.name}",
                    {"claims": unmatched},
                )
            )
        if missing:
            items.append(
                Reason(
                    PV_NOT_EXIST,
                    "claims are bound to PersistentVolume "
                    + ", ".join(missing)
                    + ", which does not exist",
                    {"volumes": missing},
                )
            )
        return Status(self.name, Code.UNRESOLVABLE, tuple(items)) if items else None

    def _bound_conflicts(self, node: NodeInfo) -> list[str]:
        return [
            (pv.get("metadata") or {}).get("name", "")
            for _pvc, pv in self.bound
            if pv is not None and not _pv_matches_node(pv, node.labels)
        ]

    def _unbound_unsatisfied(self, node: NodeInfo) -> list[str]:
        if not self.delayed:
            return []
        taken: set[str] = set()
        bad = []
        for pvc in self.delayed:
            name = (pvc.get("metadata") or {}).get("name", "")
            selected = ((pvc.get("metadata") or {}).get("annotations") or {}).get(SELECTED_NODE)
            if selected is not None:
                if selected != node.name:
                    return [name]
                continue
            pv = self._find_pv(pvc, node, taken)
            if pv is not None:
                taken.add((pv.get("metadata") or {}).get("name", ""))
                continue
            if not self._can_provision(pvc, node):
                bad.append(name)
        return bad

    def _find_pv(self, pvc: Mapping, node: NodeInfo, taken: set[str]) -> Mapping | None:
        """The smallest available PV that fits the claim and the node (`FindMatchingVolume`)."""
        spec = pvc.get("spec") or {}
        want = _storage(pvc, ("spec", "resources", "requests", "storage"))
        modes = set(spec.get("accessModes") or [])
        cls = _class_name(pvc)
        mode = spec.get("volumeMode") or "Filesystem"
        meta = pvc.get("metadata") or {}
        best, best_size = None, None
        for pv in self.cluster.persistent_volumes:
            pv_meta = pv.get("metadata") or {}
            pv_spec = pv.get("spec") or {}
            if pv_meta.get("name") in taken or pv_meta.get("deletionTimestamp"):
                continue
            ref = pv_spec.get("claimRef")
            if ref and (ref.get("name"), ref.get("namespace")) != (
                meta.get("name"),
                meta.get("namespace"),
            ):
                continue
            if (pv_spec.get("storageClassName") or "") != cls:
                continue
            if (pv_spec.get("volumeMode") or "Filesystem") != mode:
                continue
            if not modes <= set(pv_spec.get("accessModes") or []):
                continue
            size = _storage(pv, ("spec", "capacity", "storage"))
            if size < want or not _pv_matches_node(pv, node.labels):
                continue
            if (pv.get("status") or {}).get("phase") not in (
                None,
                "Available",
                "Pending",
            ) and not ref:
                continue
            if best_size is None or size < best_size:
                best, best_size = pv, size
        return best

    def _can_provision(self, pvc: Mapping, node: NodeInfo) -> bool:
        sc = self.cluster.storage_class(_class_name(pvc))
        if sc is None or sc.get("provisioner") in (None, "", NO_PROVISIONER):
            return False
        terms = sc.get("allowedTopologies") or []
        if not terms:
            return True
        for term in terms:
            exprs = term.get("matchLabelExpressions") or []
            if all(node.labels.get(e.get("key")) in (e.get("values") or []) for e in exprs):
                return True
        return False


# --- VolumeZone ---------------------------------------------------------------------------


class VolumeZone(Plugin):
    name = names.VOLUME_ZONE
    short = "vol-zone"
    funnel = "are in the volume's zone"
    funnel_rank = 5
    advice = (
        "the pod's volume lives in another zone than those nodes: schedule into that "
        "zone or recreate the volume"
    )

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        self.topologies: list[tuple[str, str, set[str]]] = []  # (pv, label, allowed values)

    def pre_filter(self) -> PreFilterOutcome:
        ns = pod_key(self.pod)[0]
        for _vol, claim, _eph in claim_names(self.pod):
            pvc = self.cluster.pvc(ns, claim)
            pv_name = (pvc.get("spec") or {}).get("volumeName") if pvc else None
            pv = self.cluster.pv(pv_name) if pv_name else None
            if pv is None:
                continue
            labels = (pv.get("metadata") or {}).get("labels") or {}
            for key in ZONE_LABELS:
                if key in labels:
                    self.topologies.append((str(pv_name), key, set(str(labels[key]).split("__"))))
        return SUCCESS if self.topologies else PreFilterOutcome.skip()

    def filter(self, node: NodeInfo) -> Status | None:
        if not self.topologies or not any(k in node.labels for k in ZONE_LABELS):
            return None
        for pv_name, key, allowed in self.topologies:
            value = node.labels.get(key, node.labels.get(_GA_LABEL.get(key, key)))
            if value is None or value not in allowed:
                return fail(
                    self.name,
                    Code.UNRESOLVABLE,
                    ZONE_CONFLICT,
                    f"PersistentVolume {pv_name} is in {key}={'/'.join(sorted(allowed))}; node "
                    f"{node.name} is in {value or 'no zone'}",
                    volume=pv_name,
                    label=key,
                    volume_zones=sorted(allowed),
                    node_zone=value,
                )
        return None
