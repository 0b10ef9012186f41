"""Owner chains: Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob, Pod -> Volcano Job, ...

Findings and suppression need the workload a user actually manages, not the pod the controller
made. Chains follow `ownerReferences` by uid when the owner is in the snapshot, and fall back to
the reference itself (kind and name) when it is not, so the answer degrades instead of vanishing.
"""

from __future__ import annotations

from amldoctor.k8s.objects import ObjectIndex, meta


def controller_ref(obj: dict) -> dict | None:
    """The controlling owner reference, else the first one."""
    refs = [r for r in meta(obj).get("ownerReferences") or () if isinstance(r, dict)]
    return next((r for r in refs if r.get("controller")), refs[0] if refs else None)


def owner_chain(snap: ObjectIndex, obj: dict, limit: int = 8) -> list[dict]:
    """Owners from the nearest to the top, as objects, or as stub dicts built from the reference.

    A stub has `kind`, `apiVersion` and `metadata.name/namespace/uid` only and is marked with
    `"_stub": True`, so callers can say "owned by Job train-1 (not in the snapshot)".
    """
    chain: list[dict] = []
    current = obj
    namespace = meta(obj).get("namespace")
    for _ in range(limit):
        ref = controller_ref(current)
        if ref is None:
            break
        owner = snap.by_uid(ref.get("uid")) or snap.get(
            ref.get("kind", ""), namespace, ref.get("name", "")
        )
        if owner is None:
            chain.append(
                {
                    "kind": ref.get("kind", ""),
                    "apiVersion": ref.get("apiVersion", ""),
                    "metadata": {
                        "name": ref.get("name", ""),
                        "namespace": namespace,
                        "uid": ref.get("uid"),
                    },
                    "_stub": True,
                }
            )
            break
        chain.append(owner)
        current = owner
    return chain


def top_owner(snap: ObjectIndex, obj: dict) -> dict:
    """The workload a user manages (e.g. the Deployment of a pod), or the object itself."""
    chain = owner_chain(snap, obj)
    return chain[-1] if chain else obj
