"""The shapes of the Kubernetes objects amldoctor reads: the fields it uses, and their types.

Declared once for `shapes.conform` (see there for why): a snapshot's objects are held to these
shapes when it is built, a what-if pod when it is read, and lint reports every value that does
not fit as a finding. Only fields that some part of amldoctor reads are listed; the rest of an
object passes through untouched.
"""

from __future__ import annotations

from typing import Any

from amldoctor.k8s.templates import POD_TEMPLATE_PATHS as POD_TEMPLATES_AT
from amldoctor.shapes import ListOf, MapOf, Obj

STR, INT, BOOL, TIME, QTY, PORT = "str", "int", "bool", "time", "quantity", "port"
STRS = ListOf(STR)
RESOURCE_LIST = MapOf(QTY)
RESOURCES = Obj({"requests": RESOURCE_LIST, "limits": RESOURCE_LIST, "claims": ListOf(Obj({}))})
LABEL_SELECTOR = Obj(
    {
        "matchLabels": MapOf(STR),
        "matchExpressions": ListOf(Obj({"key": STR, "operator": STR, "values": STRS})),
    }
)
CONDITION = Obj(
    {
        "type": STR,
        "status": STR,
        "reason": STR,
        "message": STR,
        "lastTransitionTime": TIME,
        "lastHeartbeatTime": TIME,
        "lastProbeTime": TIME,
    }
)
CONDITIONS = ListOf(CONDITION)
OWNER_REF = Obj({"apiVersion": STR, "kind": STR, "name": STR, "uid": STR, "controller": BOOL})
METADATA = Obj(
    {
        "name": STR,
        "generateName": STR,
        "namespace": STR,
        "uid": STR,
        "labels": MapOf(STR),
        "annotations": MapOf(STR),
        "ownerReferences": ListOf(OWNER_REF),
        "creationTimestamp": TIME,
        "deletionTimestamp": TIME,
        "resourceVersion": STR,
        "generation": INT,
        "finalizers": STRS,
    }
)
_ACTION = {
    "httpGet": Obj(
        {
            "path": STR,
            "port": PORT,
            "scheme": STR,
            "host": STR,
            "httpHeaders": ListOf(Obj({"name": STR, "value": STR})),
        }
    ),
    "tcpSocket": Obj({"port": PORT, "host": STR}),
    "exec": Obj({"command": STRS}),
    "grpc": Obj({"port": INT, "service": STR}),
}
PROBE = Obj(
    {
        **_ACTION,
        "initialDelaySeconds": INT,
        "periodSeconds": INT,
        "timeoutSeconds": INT,
        "failureThreshold": INT,
        "successThreshold": INT,
        "terminationGracePeriodSeconds": INT,
    }
)
_KEY_REF = Obj({"name": STR, "key": STR, "optional": BOOL})
ENV_VAR = Obj(
    {
        "name": STR,
        "value": STR,
        "valueFrom": Obj(
            {
                "secretKeyRef": _KEY_REF,
                "configMapKeyRef": _KEY_REF,
                "fieldRef": Obj({"fieldPath": STR}),
                "resourceFieldRef": Obj({"resource": STR, "containerName": STR, "divisor": QTY}),
            }
        ),
    }
)
_NAME_REF = Obj({"name": STR, "optional": BOOL})
CONTAINER = Obj(
    {
        "name": STR,
        "image": STR,
        "imagePullPolicy": STR,
        "command": STRS,
        "args": STRS,
        "workingDir": STR,
        "restartPolicy": STR,
        "resources": RESOURCES,
        "env": ListOf(ENV_VAR),
        "envFrom": ListOf(Obj({"prefix": STR, "secretRef": _NAME_REF, "configMapRef": _NAME_REF})),
        "ports": ListOf(
            Obj(
                {
                    "name": STR,
                    "containerPort": INT,
                    "hostPort": INT,
                    "protocol": STR,
                    "hostIP": STR,
                }
            )
        ),
        "livenessProbe": PROBE,
        "readinessProbe": PROBE,
        "startupProbe": PROBE,
        "lifecycle": Obj({"preStop": Obj(_ACTION), "postStart": Obj(_ACTION)}),
        "volumeMounts": ListOf(
            Obj(
                {
                    "name": STR,
                    "mountPath": STR,
                    "subPath": STR,
                    "subPathExpr": STR,
                    "readOnly": BOOL,
                }
            )
        ),
        "securityContext": Obj(
            {
                "privileged": BOOL,
                "runAsUser": INT,
                "runAsNonRoot": BOOL,
                "readOnlyRootFilesystem": BOOL,
                "allowPrivilegeEscalation": BOOL,
                "capabilities": Obj({"add": STRS, "drop": STRS}),
            }
        ),
        "resizePolicy": ListOf(Obj({"resourceName": STR, "restartPolicy": STR})),
        "stdin": BOOL,
        "tty": BOOL,
    }
)
TOLERATION = Obj(
    {"key": STR, "operator": STR, "value": STR, "effect": STR, "tolerationSeconds": INT}
)
_REQUIREMENT = Obj({"key": STR, "operator": STR, "values": STRS})
NODE_SELECTOR_TERM = Obj(
    {"matchExpressions": ListOf(_REQUIREMENT), "matchFields": ListOf(_REQUIREMENT)}
)
NODE_SELECTOR = Obj({"nodeSelectorTerms": ListOf(NODE_SELECTOR_TERM)})
_POD_AFFINITY_TERM = Obj(
    {
        "labelSelector": LABEL_SELECTOR,
        "namespaceSelector": LABEL_SELECTOR,
        "namespaces": STRS,
        "topologyKey": STR,
        "matchLabelKeys": STRS,
        "mismatchLabelKeys": STRS,
    }
)
_POD_AFFINITY = Obj(
    {
        "requiredDuringSchedulingIgnoredDuringExecution": ListOf(_POD_AFFINITY_TERM),
        "preferredDuringSchedulingIgnoredDuringExecution": ListOf(
            Obj({"weight": INT, "podAffinityTerm": _POD_AFFINITY_TERM})
        ),
    }
)
AFFINITY = Obj(
    {
        "nodeAffinity": Obj(
            {
                "requiredDuringSchedulingIgnoredDuringExecution": NODE_SELECTOR,
                "preferredDuringSchedulingIgnoredDuringExecution": ListOf(
                    Obj({"weight": INT, "preference": NODE_SELECTOR_TERM})
                ),
            }
        ),
        "podAffinity": _POD_AFFINITY,
        "podAntiAffinity": _POD_AFFINITY,
    }
)
_KEY_PATHS = ListOf(Obj({"key": STR, "path": STR}))
PVC_SPEC = Obj(
    {
        "accessModes": STRS,
        "storageClassName": STR,
        "volumeName": STR,
        "volumeMode": STR,
        "resources": RESOURCES,
        "selector": LABEL_SELECTOR,
    }
)
VOLUME = Obj(
    {
        "name": STR,
        "persistentVolumeClaim": Obj({"claimName": STR, "readOnly": BOOL}),
        "configMap": Obj({"name": STR, "optional": BOOL, "items": _KEY_PATHS}),
        "secret": Obj({"secretName": STR, "optional": BOOL, "items": _KEY_PATHS}),
        "emptyDir": Obj({"medium": STR, "sizeLimit": QTY}),
        "hostPath": Obj({"path": STR, "type": STR}),
        "csi": Obj({"driver": STR, "volumeAttributes": MapOf(STR)}),
        "ephemeral": Obj({"volumeClaimTemplate": Obj({"metadata": METADATA, "spec": PVC_SPEC})}),
        "projected": Obj(
            {
                "sources": ListOf(
                    Obj(
                        {
                            "secret": Obj({"name": STR, "optional": BOOL, "items": _KEY_PATHS}),
                            "configMap": Obj({"name": STR, "optional": BOOL, "items": _KEY_PATHS}),
                        }
                    )
                )
            }
        ),
    }
)
TOPOLOGY_SPREAD = Obj(
    {
        "maxSkew": INT,
        "topologyKey": STR,
        "whenUnsatisfiable": STR,
        "labelSelector": LABEL_SELECTOR,
        "minDomains": INT,
        "nodeAffinityPolicy": STR,
        "nodeTaintsPolicy": STR,
        "matchLabelKeys": STRS,
    }
)
POD_SPEC = Obj(
    {
        "containers": ListOf(CONTAINER),
        "initContainers": ListOf(CONTAINER),
        "ephemeralContainers": ListOf(CONTAINER),
        "nodeName": STR,
        "nodeSelector": MapOf(STR),
        "tolerations": ListOf(TOLERATION),
        "affinity": AFFINITY,
        "topologySpreadConstraints": ListOf(TOPOLOGY_SPREAD),
        "volumes": ListOf(VOLUME),
        "schedulerName": STR,
        "priorityClassName": STR,
        "priority": INT,
        "preemptionPolicy": STR,
        "restartPolicy": STR,
        "runtimeClassName": STR,
        "overhead": RESOURCE_LIST,
        "resources": RESOURCES,
        "serviceAccountName": STR,
        "hostNetwork": BOOL,
        "hostPID": BOOL,
        "hostIPC": BOOL,
        "terminationGracePeriodSeconds": INT,
        "activeDeadlineSeconds": INT,
        "imagePullSecrets": ListOf(_NAME_REF),
        "schedulingGates": ListOf(Obj({"name": STR})),
        "securityContext": Obj({"runAsUser": INT, "runAsNonRoot": BOOL, "fsGroup": INT}),
        "os": Obj({"name": STR}),
        "resourceClaims": ListOf(
            Obj({"name": STR, "resourceClaimName": STR, "resourceClaimTemplateName": STR})
        ),
    }
)
POD_TEMPLATE = Obj({"metadata": METADATA, "spec": POD_SPEC})
_STATE = Obj(
    {
        "waiting": Obj({"reason": STR, "message": STR}),
        "running": Obj({"startedAt": TIME}),
        "terminated": Obj(
            {
                "exitCode": INT,
                "signal": INT,
                "reason": STR,
                "message": STR,
                "startedAt": TIME,
                "finishedAt": TIME,
            }
        ),
    }
)
CONTAINER_STATUS = Obj(
    {
        "name": STR,
        "ready": BOOL,
        "started": BOOL,
        "restartCount": INT,
        "image": STR,
        "imageID": STR,
        "state": _STATE,
        "lastState": _STATE,
        "allocatedResources": RESOURCE_LIST,
        "resources": RESOURCES,
    }
)
POD_STATUS = Obj(
    {
        "phase": STR,
        "reason": STR,
        "message": STR,
        "qosClass": STR,
        "nominatedNodeName": STR,
        "startTime": TIME,
        "hostIP": STR,
        "podIP": STR,
        "resize": STR,
        "conditions": CONDITIONS,
        "containerStatuses": ListOf(CONTAINER_STATUS),
        "initContainerStatuses": ListOf(CONTAINER_STATUS),
        "ephemeralContainerStatuses": ListOf(CONTAINER_STATUS),
        "resourceClaimStatuses": ListOf(Obj({"name": STR, "resourceClaimName": STR})),
    }
)
NODE = Obj(
    {
        "spec": Obj(
            {
                "unschedulable": BOOL,
                "providerID": STR,
                "taints": ListOf(Obj({"key": STR, "value": STR, "effect": STR, "timeAdded": TIME})),
            }
        ),
        "status": Obj(
            {
                "capacity": RESOURCE_LIST,
                "allocatable": RESOURCE_LIST,
                "conditions": CONDITIONS,
                "addresses": ListOf(Obj({"type": STR, "address": STR})),
                # Not listed, as nothing reads them: nodeInfo, volumesAttached, volumesInUse,
                # runtimeHandlers and images (a fifth of a node's bytes). Unlisted fields of
                # a node are not decoded at all (`selective`): list a field before reading it.
            }
        ),
    }
)
_OBJECT_REF = Obj(
    {
        "apiVersion": STR,
        "kind": STR,
        "namespace": STR,
        "name": STR,
        "uid": STR,
        "fieldPath": STR,
    }
)
EVENT = Obj(
    {
        "involvedObject": _OBJECT_REF,
        "regarding": _OBJECT_REF,
        "reason": STR,
        "message": STR,
        "note": STR,
        "type": STR,
        "count": INT,
        "deprecatedCount": INT,
        "firstTimestamp": TIME,
        "lastTimestamp": TIME,
        "eventTime": TIME,
        "deprecatedFirstTimestamp": TIME,
        "deprecatedLastTimestamp": TIME,
        "series": Obj({"count": INT, "lastObservedTime": TIME}),
        "source": Obj({"component": STR, "host": STR}),
        "reportingComponent": STR,
        "reportingController": STR,
    }
)
PVC = Obj(
    {
        "spec": PVC_SPEC,
        "status": Obj(
            {
                "phase": STR,
                "accessModes": STRS,
                "capacity": RESOURCE_LIST,
                "conditions": CONDITIONS,
            }
        ),
    }
)
PV = Obj(
    {
        "spec": Obj(
            {
                "capacity": RESOURCE_LIST,
                "accessModes": STRS,
                "storageClassName": STR,
                "persistentVolumeReclaimPolicy": STR,
                "volumeMode": STR,
                "claimRef": _OBJECT_REF,
                "nodeAffinity": Obj({"required": NODE_SELECTOR}),
                "csi": Obj({"driver": STR, "volumeHandle": STR}),
            }
        ),
        "status": Obj({"phase": STR, "reason": STR, "message": STR}),
    }
)
STORAGE_CLASS = Obj(
    {
        "provisioner": STR,
        "volumeBindingMode": STR,
        "reclaimPolicy": STR,
        "allowVolumeExpansion": BOOL,
        "parameters": MapOf(STR),
        "allowedTopologies": ListOf(
            Obj({"matchLabelExpressions": ListOf(Obj({"key": STR, "values": STRS}))})
        ),
    }
)
_WORKLOAD_STATUS = Obj(
    {
        "replicas": INT,
        "readyReplicas": INT,
        "availableReplicas": INT,
        "updatedReplicas": INT,
        "active": INT,
        "succeeded": INT,
        "failed": INT,
        "conditions": CONDITIONS,
    }
)


# Dynamic Resource Allocation (resource.k8s.io/v1): what the DynamicResources filter reads.
_CEL_SELECTORS = ListOf(Obj({"cel": Obj({"expression": STR})}))
_DEVICE_REQUEST = {
    "deviceClassName": STR,
    "selectors": _CEL_SELECTORS,
    "allocationMode": STR,
    "count": INT,
    "adminAccess": BOOL,
}
_CLAIM_SPEC = Obj(
    {
        "devices": Obj(
            {
                "requests": ListOf(
                    Obj(
                        {
                            "name": STR,
                            "exactly": Obj(_DEVICE_REQUEST),
                            "firstAvailable": ListOf(Obj({"name": STR, **_DEVICE_REQUEST})),
                        }
                    )
                ),
                "constraints": ListOf(Obj({"requests": STRS, "matchAttribute": STR})),
            }
        )
    }
)
RESOURCE_CLAIM = Obj(
    {
        "spec": _CLAIM_SPEC,
        "status": Obj(
            {
                "allocation": Obj(
                    {
                        "devices": Obj(
                            {
                                "results": ListOf(
                                    Obj(
                                        {
                                            "request": STR,
                                            "driver": STR,
                                            "pool": STR,
                                            "device": STR,
                                            "adminAccess": BOOL,
                                        }
                                    )
                                )
                            }
                        ),
                        "nodeSelector": NODE_SELECTOR,
                    }
                ),
                "reservedFor": ListOf(Obj({"resource": STR, "name": STR, "uid": STR})),
            }
        ),
    }
)
_ATTRIBUTE = Obj({"int": INT, "bool": BOOL, "string": STR, "version": STR})
RESOURCE_SLICE = Obj(
    {
        "spec": Obj(
            {
                "driver": STR,
                "pool": Obj({"name": STR, "generation": INT, "resourceSliceCount": INT}),
                "nodeName": STR,
                "nodeSelector": NODE_SELECTOR,
                "allNodes": BOOL,
                "perDeviceNodeSelection": BOOL,
                "devices": ListOf(
                    Obj(
                        {
                            "name": STR,
                            "attributes": MapOf(_ATTRIBUTE),
                            "capacity": MapOf(Obj({"value": QTY})),
                        }
                    )
                ),
            }
        )
    }
)


def _nested(path: tuple[str, ...], leaf: Obj) -> Obj:
    """An object shape with `leaf` at `path` (the template paths have one home)."""
    for key in reversed(path):
        leaf = Obj({key: leaf})
    return leaf


def _workload(spec: dict[str, Any]) -> Obj:
    return Obj(
        {
            "spec": Obj(
                {"replicas": INT, "selector": LABEL_SELECTOR, "template": POD_TEMPLATE, **spec}
            ),
            "status": _WORKLOAD_STATUS,
        }
    )


# (apiVersion group or None for any, kind) -> the shape of the object besides `metadata`.
_BY_KIND: dict[str, Obj] = {
    "Pod": Obj({"spec": POD_SPEC, "status": POD_STATUS}),
    "Node": NODE,
    "Event": EVENT,
    "PersistentVolumeClaim": PVC,
    "PersistentVolume": PV,
    "StorageClass": STORAGE_CLASS,
    "Deployment": _workload({}),
    "ReplicaSet": _workload({}),
    "StatefulSet": _workload(
        {"volumeClaimTemplates": ListOf(Obj({"metadata": METADATA, "spec": PVC_SPEC}))}
    ),
    "DaemonSet": _workload({}),
    "ReplicationController": _workload({"selector": MapOf(STR)}),
    "Job": _workload(
        {
            "parallelism": INT,
            "completions": INT,
            "backoffLimit": INT,
            "minAvailable": INT,
            "queue": STR,
            "schedulerName": STR,
            "tasks": ListOf(
                Obj({"name": STR, "replicas": INT, "minAvailable": INT, "template": POD_TEMPLATE})
            ),
        }
    ),
    "CronJob": _nested(POD_TEMPLATES_AT["CronJob"], POD_TEMPLATE),
    "ResourceClaim": RESOURCE_CLAIM,
    "ResourceClaimTemplate": Obj({"spec": Obj({"metadata": METADATA, "spec": _CLAIM_SPEC})}),
    "DeviceClass": Obj({"spec": Obj({"selectors": _CEL_SELECTORS})}),
    "ResourceSlice": RESOURCE_SLICE,
    "PodGroup": Obj(
        {
            "spec": Obj(
                {
                    "minMember": INT,
                    "minResources": RESOURCE_LIST,
                    "queue": STR,
                    "priorityClassName": STR,
                }
            ),
            "status": Obj(
                {
                    "phase": STR,
                    "running": INT,
                    "succeeded": INT,
                    "failed": INT,
                    "conditions": CONDITIONS,
                }
            ),
        }
    ),
    "Queue": Obj(
        {
            "spec": Obj(
                {
                    "weight": INT,
                    "reclaimable": BOOL,
                    "capability": RESOURCE_LIST,
                    "deserved": RESOURCE_LIST,
                    "guarantee": Obj({"resource": RESOURCE_LIST}),
                }
            ),
            "status": Obj({"state": STR, "allocated": RESOURCE_LIST}),
        }
    ),
    "InstanceType": Obj(
        {
            "spec": Obj(
                {
                    # AMD705 tells the user which values are not strings: keep them for it.
                    "nodeSelector": MapOf("scalar"),
                    "resources": RESOURCES,
                    "tolerations": ListOf(TOLERATION),
                }
            )
        }
    ),
    "LimitRange": Obj(
        {
            "spec": Obj(
                {
                    "limits": ListOf(
                        Obj(
                            {
                                "type": STR,
                                "default": RESOURCE_LIST,
                                "defaultRequest": RESOURCE_LIST,
                                "max": RESOURCE_LIST,
                                "min": RESOURCE_LIST,
                            }
                        )
                    )
                }
            )
        }
    ),
    "CSINode": Obj(
        {
            "spec": Obj(
                {
                    "drivers": ListOf(
                        Obj({"name": STR, "nodeID": STR, "allocatable": Obj({"count": INT})})
                    )
                }
            )
        }
    ),
}
_ANY_OBJECT = Obj({"metadata": METADATA, "spec": Obj({}), "status": Obj({})})


# One object per kind: `shapes.checker` compiles (and keeps) a checker per schema object, so a
# new shape per call compiled one per object of a snapshot and kept them all (about 1.3 KB
# each: 217 MiB for a 5,000-node cluster's 165,000 objects).
_SHAPES = {kind: Obj({**_ANY_OBJECT.fields, **own.fields}) for kind, own in _BY_KIND.items()}


def shape_of(kind: object) -> Obj:
    """The shape of an object of this kind: its own fields, metadata, spec and status objects."""
    return _SHAPES.get(kind, _ANY_OBJECT) if isinstance(kind, str) else _ANY_OBJECT
