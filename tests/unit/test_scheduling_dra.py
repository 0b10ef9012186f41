"""The DynamicResources plugin on fixture snapshots: every message, every explanation.

The same situations run against the real kube-scheduler in tests/e2e/test_scenarios_dra.py (and
at random in the agreement test); here each text and each explanation is pinned, and classes of
inputs (counts against free devices, CEL shapes) are generated as variants.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from amldoctor.engine.runner import run_rules
from amldoctor.load import load_snapshot
from amldoctor.scheduling.framework import simulate
from amldoctor.scheduling.plugins import dracel
from amldoctor.snapshot import Snapshot
from amldoctor.whypending import analyze

DRIVER = "gpu.example.com"
NS = "ml"
TAIL = "preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling."
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "whypending" / "dra-devices-taken.yaml"


def node(name: str, **labels: str) -> dict:
    alloc = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "spec": {},
        "status": {"allocatable": alloc, "capacity": dict(alloc)},
    }


def device(name: str, model: str = "A100", memory: str = "80Gi", **attrs) -> dict:
    return {
        "name": name,
        "attributes": {"model": {"string": model}, **attrs},
        "capacity": {"memory": {"value": memory}},
    }


def slice_(node_name: str | None, devices: list[dict], pool: str | None = None, **spec) -> dict:
    body = {
        "driver": DRIVER,
        "pool": {"name": pool or node_name or "net", "generation": 1, "resourceSliceCount": 1},
        "devices": devices,
        **spec,
    }
    if node_name:
        body["nodeName"] = node_name
    return {
        "kind": "ResourceSlice",
        "apiVersion": "resource.k8s.io/v1",
        "metadata": {"name": f"s-{pool or node_name}"},
        "spec": body,
    }


def device_class(name: str = "gpu", *selectors: str) -> dict:
    exprs = [f'device.driver == "{DRIVER}"', *selectors]
    return {
        "kind": "DeviceClass",
        "metadata": {"name": name},
        "spec": {"selectors": [{"cel": {"expression": e}} for e in exprs]},
    }


def claim(name: str, count: int = 1, cls: str = "gpu", selectors=(), mode="ExactCount", **kw):
    exactly = {"deviceClassName": cls, "allocationMode": mode, "count": count}
    if selectors:
        exactly["selectors"] = [{"cel": {"expression": e}} for e in selectors]
    request = {"name": "gpu", "exactly": exactly}
    if "first_available" in kw:
        request = {"name": "gpu", "firstAvailable": kw.pop("first_available")}
    obj = {
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": NS, **kw.pop("meta", {})},
        "spec": {"devices": {"requests": [request], **kw.pop("devices", {})}},
    }
    if kw:
        obj["status"] = kw["status"]
    return obj


def allocated(name: str, node_name: str, devices: list[str], reserved=()) -> dict:
    c = claim(name, count=len(devices))
    c["status"] = {
        "allocation": {
            "devices": {
                "results": [
                    {"request": "gpu", "driver": DRIVER, "pool": node_name, "device": d}
                    for d in devices
                ]
            },
            "nodeSelector": {
                "nodeSelectorTerms": [
                    {
                        "matchFields": [
                            {"key": "metadata.name", "operator": "In", "values": [node_name]}
                        ]
                    }
                ]
            },
        },
        "reservedFor": [{"resource": "pods", "name": r, "uid": f"uid-{r}"} for r in reserved],
    }
    return c


def pod(name: str = "trainer", claims=None, templates=None, uid: str | None = "uid-trainer"):
    entries = [{"name": k, "resourceClaimName": v} for k, v in (claims or {}).items()]
    entries += [{"name": k, "resourceClaimTemplateName": v} for k, v in (templates or {}).items()]
    meta = {"name": name, "namespace": NS}
    if uid:
        meta["uid"] = uid
    return {
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}],
            "resourceClaims": entries,
        },
        "status": {"phase": "Pending"},
    }


def cluster(devices: dict[str, int], *extra: dict) -> list[dict]:
    objs: list[dict] = [device_class()]
    for name, n in devices.items():
        objs.append(node(name))
        if n:
            objs.append(slice_(name, [device(f"gpu-{i}") for i in range(n)]))
    return [*objs, *extra]


def run(objects: list[dict], subject: dict):
    return simulate(Snapshot([*objects, subject]), subject)


def rows(result) -> dict:
    return {v.name: v for v in result.verdicts}


# --- the allocator's verdicts, as a class of variants ---------------------------------------


@pytest.mark.parametrize(
    ("count", "devices", "held"),
    list(itertools.product([1, 2, 3], [(0, 1, 2), (3, 2, 0), (2, 2, 2)], [0, 1, 2])),
)
def test_a_node_fits_when_its_free_matching_devices_cover_the_count(count, devices, held):
    """Generated: every node with at least `count` free devices fits, no other does."""
    names = [f"n{i}" for i in range(len(devices))]
    objs = cluster(dict(zip(names, devices, strict=True)))
    holders = []
    if held and devices[0] >= held:
        holders.append(allocated("other", "n0", [f"gpu-{i}" for i in range(held)]))
    subject = pod(claims={"gpu": "mine"})
    result = run([*objs, *holders, claim("mine", count=count)], subject)
    free = {
        n: d - (held if holders and n == "n0" else 0) for n, d in zip(names, devices, strict=True)
    }
    assert set(result.feasible) == {n for n, f in free.items() if f >= count}
    if not result.feasible:
        n = len(names)
        assert result.message == (
            f"0/{n} nodes are available: {n} cannot allocate all claims. still not "
            f"schedulable, {TAIL.format(n=n)}"
        )


def test_the_explanation_counts_what_each_node_offers() -> None:
    objs = cluster({"n0": 0, "n1": 2, "n2": 3}, allocated("busy", "n2", ["gpu-0", "gpu-1"]))
    result = run([*objs, claim("mine", count=3)], pod(claims={"gpu": "mine"}))
    verdict = rows(result)
    assert (
        "no ResourceSlice publishes devices for this node" in verdict["n0"].status.items[0].detail
    )
    assert (
        verdict["n1"].status.items[0].detail.endswith("needs 3 device(s), the node has 2 matching")
    )
    assert (
        verdict["n2"]
        .status.items[0]
        .detail.endswith(
            "needs 3 device(s), the node has 3 matching, 2 allocated to other claims, 1 free"
        )
    )
    doc = analyze(
        Snapshot([*objs, claim("mine", count=3), pod(claims={"gpu": "mine"})]),
        pod(claims={"gpu": "mine"}),
    )
    text = "\n".join(f["text"] for f in doc["fixes"])
    assert "no node has 3 free matching device(s); the most is 2 on n1" in text
    assert "no ResourceSlice publishes devices for 1 node(s) (n0)" in text


def test_devices_held_by_other_claims_are_named() -> None:
    objs = cluster({"n0": 2}, allocated("a", "n0", ["gpu-0"]), allocated("b", "n0", ["gpu-1"]))
    result = run([*objs, claim("mine")], pod(claims={"gpu": "mine"}))
    detail = rows(result)["n0"].status.items[0].detail
    assert "all 2 matching device(s) are allocated to claim(s) ml/a, ml/b" in detail


def test_a_request_selector_that_excludes_every_device() -> None:
    wanted = f'device.attributes["{DRIVER}"].model == "H100"'
    objs = cluster({"n0": 2})
    result = run([*objs, claim("mine", selectors=[wanted])], pod(claims={"gpu": "mine"}))
    item = rows(result)["n0"].status.items[0]
    assert item.text == "cannot allocate all claims"
    assert f"the request's selector {wanted} excludes all 2 device(s)" in item.detail
    assert item.evidence["cause"] == "selector-excludes"


def test_a_class_selector_that_excludes_every_device() -> None:
    objs = cluster({"n0": 2})
    objs[0] = device_class(
        "gpu", f'device.capacity["{DRIVER}"].memory.compareTo(quantity("100Gi")) >= 0'
    )
    result = run([*objs, claim("mine")], pod(claims={"gpu": "mine"}))
    assert rows(result)["n0"].status.items[0].evidence["cause"] == "class-excludes"


def test_a_missing_device_class_is_rejected_in_prefilter() -> None:
    objs = cluster({"n0": 1, "n1": 1})
    result = run([*objs, claim("mine", cls="nope")], pod(claims={"gpu": "mine"}))
    assert result.message == (
        "0/2 nodes are available: request gpu: device class nope does not exist. "
        f"no new claims to deallocate, {TAIL.format(n=2)}"
    )
    doc = analyze(Snapshot([*objs, claim("mine", cls="nope")]), pod(claims={"gpu": "mine"}))
    assert "DeviceClass nope, which does not exist" in doc["fixes"][0]["text"]
    assert "use one of gpu" in doc["fixes"][0]["text"]


@pytest.mark.parametrize(
    ("claims", "extra", "error"),
    [
        ({"gpu": "absent"}, [claim("other")], 'could not find ResourceClaim "ml/absent"'),
        (
            {"gpu": "going"},
            [claim("going", meta={"deletionTimestamp": "2026-01-01T00:00:00Z"})],
            'resourceclaim "going" is being deleted',
        ),
    ],
)
def test_claims_the_scheduler_waits_for_hold_the_pod_before_any_attempt(claims, extra, error):
    objs = cluster({"n0": 1}, *extra)
    subject = pod(claims=claims)
    doc = analyze(Snapshot([*objs, subject]), subject)
    assert doc["status"]["state"] == "resource-claim-blocked"
    assert doc["status"]["scheduler_error"] == error
    assert doc["scheduler_message"] is None and doc["agrees_with_scheduler"] is None
    assert doc["findings"][0]["rule"] == "AMD101"
    report = run_rules(Snapshot([*objs, subject]), only=["AMD101"])
    assert [f.message for f in report.findings] == [doc["status"]["summary"]]


def test_a_template_claim_not_generated_yet_or_owned_by_another_pod() -> None:
    template = {
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": "tmpl", "namespace": NS},
        "spec": {"spec": claim("x")["spec"]},
    }
    objs = cluster({"n0": 1}, template, claim("unrelated"))
    subject = pod(templates={"gpu": "tmpl"})
    doc = analyze(Snapshot([*objs, subject]), subject)
    assert doc["status"]["scheduler_error"] == 'pod "ml/trainer": ResourceClaim not created yet'
    subject["status"]["resourceClaimStatuses"] = [{"name": "gpu", "resourceClaimName": "gen"}]
    foreign = claim("gen", meta={"ownerReferences": [{"uid": "someone", "controller": True}]})
    doc = analyze(Snapshot([*objs, foreign, subject]), subject)
    assert doc["status"]["scheduler_error"] == (
        "ResourceClaim ml/gen was not created for pod ml/trainer (pod is not owner)"
    )
    mine = claim("gen", meta={"ownerReferences": [{"uid": "uid-trainer", "controller": True}]})
    assert run([*objs, mine], subject).feasible == ["n0"]


def test_what_if_pods_get_their_claims_from_the_template() -> None:
    template = {
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": "tmpl", "namespace": NS},
        "spec": {"spec": claim("x", count=2)["spec"]},
    }
    objs = cluster({"n0": 1, "n1": 2}, template, claim("unrelated"))
    subject = pod(templates={"gpu": "tmpl"}, uid=None)
    assert run(objs, subject).feasible == ["n1"]
    missing = pod(templates={"gpu": "nope"}, uid=None)
    result = run(objs, missing)
    assert result.prefilter_status.message() == "ResourceClaimTemplate ml/nope not found"


def test_an_allocated_claim_fits_only_where_its_devices_are() -> None:
    objs = cluster({"n0": 1, "n1": 1}, allocated("mine", "n1", ["gpu-0"], reserved=["trainer"]))
    result = run(objs, pod(claims={"gpu": "mine"}))
    assert result.feasible == ["n1"]


@pytest.mark.parametrize(
    ("reserved", "postfilter"),
    [((), "deallocation of ResourceClaim completed"), (("holder",), "still not schedulable")],
)
def test_a_claim_allocated_on_a_node_that_is_gone(reserved, postfilter) -> None:
    objs = cluster({"n0": 1}, allocated("mine", "gone", ["gpu-0"], reserved=reserved))
    subject = pod(claims={"gpu": "mine"})
    result = run(objs, subject)
    assert result.message == (
        "0/1 nodes are available: 1 resourceclaim not available on the node. "
        f"{postfilter}, {TAIL.format(n=1)}"
    )
    doc = analyze(Snapshot([*objs, subject]), subject)
    text = doc["fixes"][0]["text"]
    assert "allocated to devices on a node that no longer exists" in text
    if reserved:
        assert "still reserved for pod(s) holder (uid uid-holder) that no longer exist" in text
    else:
        assert "the scheduler clears that allocation by itself" in text


def test_all_mode_needs_every_matching_device_free() -> None:
    objs = cluster({"n0": 2, "n1": 2}, allocated("other", "n0", ["gpu-1"]))
    result = run([*objs, claim("mine", mode="All")], pod(claims={"gpu": "mine"}))
    assert result.feasible == ["n1"]
    assert "asks for all 2 matching device(s), 1 of them allocated" in (
        rows(result)["n0"].status.items[0].detail
    )


def test_first_available_takes_the_first_subrequest_that_fits() -> None:
    objs = cluster({"n0": 1})
    alts = [
        {"name": "big", "deviceClassName": "gpu", "count": 2},
        {"name": "small", "deviceClassName": "gpu", "count": 1},
    ]
    result = run([*objs, claim("mine", first_available=alts)], pod(claims={"gpu": "mine"}))
    assert result.feasible == ["n0"]
    alts[1]["deviceClassName"] = "missing"
    result = run([*objs, claim("mine", first_available=alts)], pod(claims={"gpu": "mine"}))
    assert (
        result.prefilter_status.message()
        == "request gpu/small: device class missing does not exist"
    )


def test_match_attribute_needs_one_value_across_the_devices() -> None:
    devs = [device("gpu-0", numa={"int": 0}), device("gpu-1", numa={"int": 1})]
    objs = [device_class(), node("n0"), slice_("n0", devs)]
    constraint = {"constraints": [{"matchAttribute": f"{DRIVER}/numa"}]}
    mine = claim("mine", count=2, devices=constraint)
    result = run([*objs, mine], pod(claims={"gpu": "mine"}))
    assert result.feasible == []
    assert rows(result)["n0"].status.items[0].evidence["cause"] == "combination"
    devs[1]["attributes"]["numa"] = {"int": 0}
    assert run([*objs, mine], pod(claims={"gpu": "mine"})).feasible == ["n0"]


def test_network_attached_and_incomplete_pools() -> None:
    net = slice_(None, [device("net-0")], pool="net")
    net["spec"]["nodeSelector"] = {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "agentpool", "operator": "In", "values": ["gpu"]}]}
        ]
    }
    objs = [device_class(), node("n0", agentpool="gpu"), node("n1", agentpool="cpu"), net]
    result = run([*objs, claim("mine")], pod(claims={"gpu": "mine"}))
    assert result.feasible == ["n0"]
    net["spec"]["pool"]["resourceSliceCount"] = 2  # the second slice is not published yet
    result = run([*objs, claim("mine")], pod(claims={"gpu": "mine"}))
    assert result.feasible == []
    assert "pool gpu.example.com/net is incomplete" in rows(result)["n0"].status.items[0].detail
    everywhere = slice_(None, [device("any-0")], pool="all", allNodes=True)
    assert set(run([*objs, everywhere, claim("mine")], pod(claims={"gpu": "mine"})).feasible) == {
        "n0",
        "n1",
    }


def test_a_selector_outside_the_subset_is_never_guessed() -> None:
    objs = cluster({"n0": 1})
    odd = claim("mine", selectors=["size(device.driver) > 3"])
    subject = pod(claims={"gpu": "mine"})
    result = run([*objs, odd], subject)
    status = rows(result)["n0"].status
    assert status.code == "Error"
    assert status.items[0].text == "cannot evaluate selector size(device.driver) > 3"
    assert any("the scheduler's verdict on 1 node(s) is unknown" in n for n in result.not_modelled)
    doc = analyze(Snapshot([*objs, odd, subject]), subject)
    assert doc["agrees_with_scheduler"] is None


def test_without_collected_claims_dra_is_not_simulated() -> None:
    objs = [device_class(), node("n0")]
    result = run(objs, pod(claims={"gpu": "mine"}))
    assert result.feasible == ["n0"]
    assert any("ResourceClaim" in n and "not simulated" in n for n in result.not_modelled)


def test_a_bundle_with_dra_objects_loads_and_explains() -> None:
    snap = load_snapshot(str(FIXTURE))
    subject = snap.get("Pod", NS, "trainer")
    doc = analyze(snap, subject)
    assert doc["scheduler_message"] == doc["observed_message"]
    assert doc["agrees_with_scheduler"] is True
    assert "allocated to claim(s) ml/first" in "\n".join(f["text"] for f in doc["fixes"])


# --- the CEL subset -------------------------------------------------------------------------

VIEW = dracel.device_view(
    DRIVER,
    {
        "attributes": {
            "model": {"string": "A100"},
            "index": {"int": 3},
            "mig": {"bool": False},
            "other.io/x": {"int": 1},
            "driverVersion": {"version": "535.1.0"},
        },
        "capacity": {"memory": {"value": "80Gi"}},
    },
)
A = f'device.attributes["{DRIVER}"]'
C = f'device.capacity["{DRIVER}"]'


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        (f'device.driver == "{DRIVER}"', True),
        (f"device.driver != '{DRIVER}'", False),
        (f'{A}.model == "A100"', True),
        (f'{A}["model"] == "H100"', False),
        (f"{A}.index >= 2 && {A}.index < 4", True),
        (f"{A}.index > 3 || !{A}.mig", True),
        (f"!({A}.index == 3)", False),
        (f'{C}.memory.compareTo(quantity("40Gi")) >= 0', True),
        (f'{C}.memory.compareTo(quantity("80Gi")) == 0', True),
        (f'{C}.memory.isLessThan(quantity("80Gi"))', False),
        (f'{C}.memory.isGreaterThan(quantity("79Gi"))', True),
        ('device.attributes["other.io"].x == 1', True),
        (f'"model" in {A}', True),
        (f"has({A}.nothere)", False),
        (f'{A}.model.startsWith("A1") && {A}.model.endsWith("00")', True),
        (f'{A}.model.contains("H")', False),
        # Error on one side, true on the other: CEL's || is true.
        (f'{A}.nothere == 1 || {A}.model == "A100"', True),
        (f'{A}.nothere == 1 && {A}.model == "H100"', False),
    ],
)
def test_cel_subset_evaluates_gpu_selectors(expr: str, want: bool) -> None:
    assert dracel.matches(expr, VIEW) is want


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        (f"{A}.nothere == 1", "no such key: nothere"),
        (f'{A}.driverVersion == "535"', "version attribute"),
        ("size(device.driver) > 1", "unsupported name 'size'"),
        (f"{A}.model == 1", "comparing str with int"),
        (f"{C}.memory > 1", "quantities compare with compareTo()"),
        (f"{A}.model.lowerAscii()", "unsupported method lowerAscii()"),
        (f"{A}.index", "expected a bool"),
        ('device.attributes["x"', "expected ]"),
    ],
)
def test_cel_outside_the_subset_says_why(expr: str, reason: str) -> None:
    with pytest.raises(dracel.Unevaluable, match=None) as err:
        dracel.matches(expr, VIEW)
    assert reason in str(err.value)


def test_a_new_node_of_the_pool_brings_its_own_free_devices() -> None:
    """ "Would a new node help?": the driver publishes the same devices for a new node, none of
    them allocated yet."""
    objs = [device_class(), node("n0", agentpool="gpupool"), slice_("n0", [device("gpu-0")])]
    subject = pod(claims={"gpu": "mine"})
    snap = Snapshot([*objs, allocated("other", "n0", ["gpu-0"]), claim("mine"), subject])
    doc = analyze(snap, subject)
    assert doc["scheduler_message"].startswith("0/1 nodes are available: 1 cannot allocate")
    pools = {p["pool"]: p for p in doc["new_nodes"]["pools"]}
    assert pools["gpupool"]["fits"] is True, doc["new_nodes"]
    two = Snapshot([*objs, claim("mine", count=2), subject])
    pools = {p["pool"]: p for p in analyze(two, subject)["new_nodes"]["pools"]}
    assert pools["gpupool"]["fits"] is False
    assert pools["gpupool"]["reasons"] == ["cannot allocate all claims"]


def test_scan_names_the_missing_claim_even_after_an_earlier_attempt() -> None:
    """The claim went away after the scheduler's last attempt: its message is stale, and the
    pod waits for the claim, not for devices."""
    snap = load_snapshot(str(FIXTURE))
    pod_ = snap.get("Pod", NS, "trainer")
    pod_["spec"]["resourceClaims"][0]["resourceClaimName"] = "absent"
    (finding,) = run_rules(snap, only=["AMD101"]).findings
    assert 'could not find ResourceClaim "ml/absent"' in finding.message
    assert finding.evidence["scheduler_message"].startswith("0/2 nodes are available")
    assert "create the claim in namespace ml" in finding.remediation


def test_the_new_node_is_shaped_like_a_node_the_driver_serves() -> None:
    snap = load_snapshot(str(FIXTURE))  # pool gpu: n-a has no devices, n-b two (both taken)
    doc = analyze(snap, snap.get("Pod", NS, "trainer"))
    (answer,) = doc["new_nodes"]["pools"]
    assert answer["template_node"] == "n-b" and answer["fits"] is True, answer
