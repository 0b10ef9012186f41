"""A cluster snapshot: raw API objects as plain dicts, indexed once.

Everything amldoctor analyses comes through a Snapshot, whether it was read from a live cluster
(`collect.py`) or from files a customer sent (`load.py`). Analysis never does I/O and never reads
the clock: the snapshot carries its capture time, where it came from, and which kinds could not
be read, so a rule can say "could not check" instead of "no problem".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from amldoctor.intake import DEFAULT_NAMESPACE, take_in
from amldoctor.k8s.events import event_last_time, event_sort_key, involved_object
from amldoctor.k8s.objects import TERMINAL_PHASES, meta, obj_key
from amldoctor.k8s.timeutil import parse_time

# How a `Missing.reason` starts when the cluster does not serve the kind at all (an add-on or
# CRD that is not installed), as opposed to one the user may not read.
NOT_INSTALLED = "not installed:"


@dataclass(frozen=True)
class Missing:
    """A kind that could not be read, and why (forbidden, not found, timed out...)."""

    kind: str
    reason: str
    namespace: str | None = None
    status: int | None = None

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "reason": self.reason,
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Missing:
        return cls(
            kind=str(data.get("kind", "")),
            reason=str(data.get("reason", "")),
            namespace=data["namespace"] if isinstance(data.get("namespace"), str) else None,
            status=data["status"] if type(data.get("status")) is int else None,
        )


# How many objects' events are found by scanning every event before the events are indexed.
_EVENT_SCANS_BEFORE_INDEX = 2
_NO_REF: Mapping = {}


def _reference_key(ref: Mapping) -> tuple[str, str, str]:
    """(kind, namespace, name) of an event's object, as `obj_key` names objects.

    The event's own namespace is where it was recorded, not where its object lives: node
    events sit in `default` with no namespace on the reference.
    """
    return (str(ref.get("kind", "")), ref.get("namespace") or "", ref.get("name") or "")


def _namespace_name(obj: dict) -> tuple[str, str]:
    m = obj.get("metadata")  # `meta` inlined: this is the sort key of every pod of a cluster
    if type(m) is not dict:
        m = meta(obj)
    return (str(m.get("namespace") or ""), str(m.get("name") or ""))


def _event_order(ev: dict) -> tuple:
    """Oldest first; ties in `of_kind` order (namespace, name)."""
    return (event_sort_key(ev), _namespace_name(ev))


class Snapshot:
    """Raw objects plus where they came from; indexes are built lazily, once."""

    def __init__(
        self,
        objects: Iterable[dict],
        *,
        source: str = "memory",
        server_version: str | None = None,
        captured_at: datetime | None = None,
        namespace: str | None = None,
        context: str | None = None,
        missing: Iterable[Missing] = (),
        collected_kinds: set[str] | None = None,
        checked: Collection[int] = (),
    ) -> None:
        """`checked`: ids of objects of `objects` that already have their kind's shape (what
        the loader's typed decoder built); intake does not walk them again."""
        intake = take_in(objects if isinstance(objects, list) else list(objects), checked)
        self.objects = intake.objects
        self.intake = intake
        if intake.by_kind is not None:  # `_by_kind`, built by intake's own pass
            self.__dict__["_by_kind"] = intake.by_kind
        self.source = source
        self.server_version = server_version
        self._captured_at = captured_at
        self.namespace = namespace
        self.context = context
        self.missing = list(missing)
        self.collected_kinds = set(collected_kinds) if collected_kinds is not None else None
        self._sorted_kinds: set[str] = set()  # kinds whose `_by_kind` list `of_kind` has sorted
        self._events_found: dict[tuple, list[dict]] = {}  # `events_for`, by uid and key
        self._names: dict[str, dict[tuple[str, str], dict]] = {}  # `_by_name`, per kind
        self._sorted_nodes: set[str] = set()  # nodes whose `pods_on_node` list is sorted
        # A what-if snapshot holding all of another's objects, and the objects added to them
        # (`extended`): what was worked out for the other can be carried over.
        self.extends: tuple[Snapshot, list[dict]] | None = None

    def extended(self, kinds: Iterable[str] | None, added: Iterable[dict]) -> Snapshot:
        """A what-if snapshot: this one's objects of `kinds` (all when None) plus `added` ones,
        with the same metadata.

        Only `added` go through intake: the rest were taken in when this snapshot was built,
        and checking the cluster's volumes and claims again for each pool's "would a new node
        help?" cost more than the question itself; their per-kind lists are copied, not rebuilt.
        `added` are new objects (copies under new names): they replace none of the others.
        """
        taken = take_in(added if isinstance(added, list) else list(added))
        other = Snapshot(
            (),
            source=self.source,
            server_version=self.server_version,
            captured_at=self.captured_at,
            namespace=self.namespace,
            context=self.context,
            missing=self.missing,
            collected_kinds=self.collected_kinds,
        )
        wanted = None if kinds is None else set(kinds)
        by_kind = {k: list(v) for k, v in self._by_kind.items() if wanted is None or k in wanted}
        for obj in taken.objects:
            by_kind.setdefault(str(obj.get("kind", "")), []).append(obj)
        other.objects = [o for objects in by_kind.values() for o in objects]
        other.intake = taken
        other.__dict__["_by_kind"] = by_kind  # the cached_property, filled in
        if wanted is None:  # all of this one's objects, then the added ones
            other.extends = (self, taken.objects)
        return other

    # -- indexes ---------------------------------------------------------------------------

    @cached_property
    def _by_kind(self) -> dict[str, list[dict]]:
        """kind -> objects in input order; `of_kind` sorts a kind when it is first asked for."""
        index: dict[str, list[dict]] = defaultdict(list)
        for obj in self.objects:
            index[str(obj.get("kind", ""))].append(obj)
        return dict(index)

    @cached_property
    def _by_kind_namespace(self) -> dict[tuple[str, str], list[dict]]:
        """(kind, namespace) -> objects, sorted like `of_kind`: rules ask per namespace often."""
        index: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for kind in self._by_kind:
            for obj in self.of_kind(kind):
                index[(kind, meta(obj).get("namespace") or "")].append(obj)
        return dict(index)

    def _by_name(self, kind: str) -> dict[tuple[str, str], dict]:
        """(namespace, name) -> object of one kind, indexed when the kind is first looked up:
        finding one pod must not index the cluster's 100,000 events. The last of two objects
        with one key wins, as in input order (`of_kind` sorts stably)."""
        index = self._names.get(kind)
        if index is None:
            if self.extends is not None:  # the other's index, then the objects added to it
                base, added = self.extends
                index = dict(base._by_name(kind))
                index.update((_namespace_name(o), o) for o in added if o.get("kind") == kind)
            else:
                index = {_namespace_name(o): o for o in self.unordered(kind)}
            self._names[kind] = index
        return index

    @cached_property
    def _by_uid(self) -> dict[str, dict]:
        return {uid: obj for obj in self.objects if (uid := meta(obj).get("uid"))}

    @cached_property
    def _pods_by_node(self) -> dict[str, list[dict]]:
        """node name -> its counted pods, in input order (`pods_on_node` sorts a node's list).

        Each node's few pods are sorted on their own rather than all pods of the cluster first:
        a single why-pending question needs the pods on nodes, not the sorted list of every pod.
        Both stable sorts by the same key give the same order.
        """
        index: dict[str, list[dict]] = defaultdict(list)
        for pod in self.unordered("Pod"):
            node = (pod.get("spec") or {}).get("nodeName")
            phase = (pod.get("status") or {}).get("phase")
            if node and phase not in TERMINAL_PHASES:
                index[node].append(pod)
        return dict(index)

    @cached_property
    def _events_index(self) -> tuple[dict[str, list[dict]], dict[tuple[str, str, str], list[dict]]]:
        by_uid: dict[str, list[dict]] = defaultdict(list)
        by_key: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
        # Not sorted here, neither by time nor by name: `events_for` sorts the few events it
        # returns by time, then namespace and name, which gives the order of a stable time sort
        # of `of_kind("Event")` without parsing or sorting every event in the cluster.
        for ev in self._by_kind.get("Event", ()):
            ref = involved_object(ev)
            by_key[_reference_key(ref)].append(ev)
            if ref.get("uid"):
                by_uid[ref["uid"]].append(ev)
        return dict(by_uid), dict(by_key)

    # -- queries ---------------------------------------------------------------------------

    def of_kind(self, kind: str, namespace: str | None = None) -> list[dict]:
        """Objects of one kind (sorted by namespace, name), optionally in one namespace.

        The list is the snapshot's own index: read it, never modify it.
        """
        if namespace is not None:
            return self._by_kind_namespace.get((kind, namespace), [])
        items = self._by_kind.get(kind, [])
        if kind not in self._sorted_kinds:  # sorted on first use only
            items.sort(key=_namespace_name)
            self._sorted_kinds.add(kind)
        return items

    def unordered(self, kind: str) -> list[dict]:
        """Objects of one kind in no particular order, for passes that only count or collect.

        Sorting the 50,000 pods of a large cluster costs more than a single why-pending
        question needs; `of_kind` sorts them once someone asks for the order.
        The list is the snapshot's own index: read it, never modify it.
        """
        return self._by_kind.get(kind, [])

    def get(self, kind: str, namespace: str | None, name: str) -> dict | None:
        """The object, by kind, namespace and name.

        No namespace finds cluster-scoped objects and, failing that, namespaced ones in
        `default` (where the intake puts objects that came without a namespace).
        """
        index = self._by_name(kind)
        found = index.get((namespace or "", name))
        if found is None and not namespace:
            found = index.get((DEFAULT_NAMESPACE, name))
        return found

    def by_uid(self, uid: str | None) -> dict | None:
        return self._by_uid.get(uid) if uid else None

    @property
    def nodes(self) -> list[dict]:
        return self.of_kind("Node")

    @property
    def pods(self) -> list[dict]:
        return self.of_kind("Pod")

    def node(self, name: str | None) -> dict | None:
        return self.get("Node", None, name) if name else None

    def pods_on_node(self, node_name: str, *, ordered: bool = True) -> list[dict]:
        """Non-terminal pods bound to the node, from every namespace (what the scheduler counts),
        sorted like `of_kind` unless `ordered` is false (for passes that only count or sum).

        A node's list is sorted when it is first asked for in order: a question about one pod
        sums the pods of every node but reads few of them in order.
        """
        pods = self._pods_by_node.get(node_name, [])
        if ordered and len(pods) > 1 and node_name not in self._sorted_nodes:
            pods.sort(key=_namespace_name)
            self._sorted_nodes.add(node_name)
        return pods

    def adopt_pods_by_node(self, index: dict[str, list[dict]]) -> dict[str, list[dict]]:
        """The index `pods_on_node` reads: `index` when none was built yet, else the one built.

        A caller that walks every pod for its own purposes (the scheduler's one pass over the
        cluster's pods) builds the same index in the same order on the way; handing it over
        spares the snapshot another pass over 50,000 pods.
        """
        return self.__dict__.setdefault("_pods_by_node", index)

    def events_for(self, obj: Mapping) -> list[dict]:
        """Events about an object, oldest first.

        Matched by uid when the event names one; events that name no uid (or name an older
        incarnation with the same name) are matched by kind, namespace and name, as kubectl
        describe does.
        """
        uid = meta(obj).get("uid")
        key = (uid, obj_key(obj))
        found = self._events_found.get(key)
        if found is None:  # several rules ask about each pod: match and sort its events once
            found = self._events_found[key] = self._match_events(obj, uid)
        return list(found)

    def _match_events(self, obj: Mapping, uid: str | None) -> list[dict]:
        key = obj_key(obj)
        if len(self._events_found) < _EVENT_SCANS_BEFORE_INDEX:
            same_uid, same_key = self._scan_events(key, uid)
        else:
            by_uid, by_key = self._events_index
            same_uid = by_uid.get(uid, []) if uid else []
            same_key = by_key.get(key, [])
        found = list(same_uid)
        seen = {id(e) for e in found}
        for ev in same_key:
            if id(ev) in seen:
                continue
            ref_uid = involved_object(ev).get("uid")
            # Kubelets name the node itself as the uid of node events.
            if not uid or not ref_uid or ref_uid in (uid, key[2]):
                found.append(ev)
        if len(found) > 1:
            found.sort(key=_event_order)
        return found

    def _scan_events(
        self, key: tuple[str, str, str], uid: str | None
    ) -> tuple[list[dict], list[dict]]:
        """What `_events_index` would give for one object, from one pass over the events.

        A why-pending question asks about one pod: comparing every event's object name costs a
        fraction of indexing 100,000 events. A snapshot asked about more objects (a scan)
        builds the index instead (`_EVENT_SCANS_BEFORE_INDEX`).
        """
        name = key[2]
        same_uid: list[dict] = []
        same_key: list[dict] = []
        events = self._by_kind.get("Event", ())
        if name:  # one cheap test per event first (`involved_object` inlined): name or uid
            events = [
                ev
                for ev in events
                if (ref := ev.get("involvedObject") or ev.get("regarding") or _NO_REF).get("name")
                == name
                or (uid and ref.get("uid") == uid)
            ]
        for ev in events:
            ref = involved_object(ev)
            if uid and ref.get("uid") == uid:
                same_uid.append(ev)
            if _reference_key(ref) == key:
                same_key.append(ev)
        return same_uid, same_key

    def collected(self, kind: str) -> bool:
        """Was this kind read in the snapshot's own scope?

        A bundle or live collection says exactly which kinds it read (a namespace-scoped user
        may fail to list pods cluster-wide yet have read their own); for plain files, a kind
        counts when it appears and nothing reports it missing.
        """
        if self.collected_kinds is not None:
            return kind in self.collected_kinds
        if any(m.kind == kind for m in self.missing):
            return False
        return kind in self._by_kind

    def all_pods_on_nodes_read(self) -> bool:
        """Were the pods of every namespace bound to the nodes read (`pods_on_node` complete)?

        A namespace's live scan lists them only when something there waits for a node, and a
        user may not be allowed to; either way a `Missing` Pod entry with no namespace says so.
        """
        return not any(m.kind == "Pod" and m.namespace is None for m in self.missing)

    def missing_for(self, kind: str) -> Missing | None:
        return next((m for m in self.missing if m.kind == kind), None)

    def namespaces(self) -> list[str]:
        """Namespaces that appear on namespaced objects, sorted."""
        return list(self._namespaces)

    @cached_property
    def _namespaces(self) -> tuple[str, ...]:
        return tuple(sorted({ns for o in self.objects if (ns := meta(o).get("namespace"))}))

    @property
    def captured_at(self) -> datetime:
        """When the data was read: from the manifest, else the newest timestamp in the data."""
        if self._captured_at is None:
            self._captured_at = _newest_timestamp(self.objects)
        return self._captured_at


def _newest_timestamp(objects: list[dict]) -> datetime:
    """Best estimate of capture time for a plain `kubectl get` file: the latest thing that
    happened."""
    newest: datetime | None = None

    def consider(value: object) -> None:
        nonlocal newest
        t = parse_time(value) if not isinstance(value, datetime) else value
        if t is not None and (newest is None or t > newest):
            newest = t

    for obj in objects:
        kind = obj.get("kind")
        if kind == "Event":
            consider(event_last_time(obj))
            continue
        consider(meta(obj).get("creationTimestamp"))
        status = obj.get("status") or {}
        for cond in status.get("conditions") or ():
            if isinstance(cond, dict):
                consider(cond.get("lastTransitionTime"))
                consider(cond.get("lastHeartbeatTime"))
        for key in ("containerStatuses", "initContainerStatuses"):
            for cs in status.get(key) or ():
                if not isinstance(cs, dict):
                    continue
                for state_key in ("state", "lastState"):
                    states = cs.get(state_key)
                    if not isinstance(states, dict):
                        continue
                    for state in states.values():
                        if isinstance(state, dict):
                            consider(state.get("startedAt"))
                            consider(state.get("finishedAt"))
    return newest or datetime(1970, 1, 1, tzinfo=UTC)
