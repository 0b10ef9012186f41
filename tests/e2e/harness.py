"""Start and stop a real etcd + kube-apiserver + kube-scheduler for amldoctor's e2e tests.

There is no kubelet: tests write Nodes (with status), pods, pod statuses and events themselves, and
the real scheduler places pods or explains why it cannot. The kube-controller-manager is started
only by the tests that need controllers (`ControlPlane.start_controller_manager`), with a fixed set
of controllers that make and refuse pods (no garbage collector or node lifecycle controller, which
would delete the other tests' hand-made pods or taint their Nodes).
The binaries come from `scripts/build-control-plane.sh` (built once per machine and version into
a cache outside the checkout, or supplied through KUBEBUILDER_ASSETS).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kube import ApiError, KubeClient

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-control-plane.sh"

ADMIN = "admin"
NS_READER = "ns-reader"
NO_NODES = "no-nodes"
NO_EVENTS = "no-events"
# Reads everything (get/list/watch on every served resource) and writes nothing: the user the
# read-only tests run amldoctor as, so its audit trail holds amldoctor's requests alone.
READER = "reader"
SCHEDULER = "system:kube-scheduler"
CONTROLLER_MANAGER = "system:kube-controller-manager"
# Controllers that create pods and keep quota usage: what the "pods never created" scenarios need.
CONTROLLERS = (
    "replicaset",
    "deployment",
    "job",
    "statefulset",
    "daemonset",
    "resourcequota",
    "serviceaccount",
)

DISABLED_ADMISSION = ("ServiceAccount", "TaintNodesByCondition")
DISABLED_ADMISSION_WITH_SERVICE_ACCOUNTS = ("TaintNodesByCondition",)
# What admission must do to a pod for amldoctor's what-if admission to be compared with it (the
# random cases' admission variants, the quota refusals): on by default in v1.35, named here so a
# default that changes cannot silently turn a variant into a no-op.
REQUIRED_ADMISSION = (
    "LimitRanger",
    "Priority",
    "DefaultTolerationSeconds",
    "RuntimeClass",
    "ResourceQuota",
)
_LOADED_ADMISSION = re.compile(
    r"admission controller\(s\) successfully in the following order: ([^\".]*)"
)

NAMESPACE_READER_ROLE = "amldoctor-e2e:namespace-reader"

# What a namespace-scoped amldoctor user typically gets: read access to the workload objects of
# its namespaces, nothing cluster-wide.
NAMESPACE_READER_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": [
            "pods",
            "pods/log",
            "pods/status",
            "events",
            "persistentvolumeclaims",
            "services",
            "endpoints",
            "configmaps",
            "resourcequotas",
            "limitranges",
            "replicationcontrollers",
        ],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]},
    {
        "apiGroups": ["apps"],
        "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["get", "list", "watch"]},
]

AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started; e2e tests must fail, not skip."""


def binaries_dir() -> Path:
    """Directory holding etcd, kube-apiserver, kube-scheduler and kube-controller-manager,
    building them if missing."""
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ControlPlaneError(
            f"{BUILD_SCRIPT.name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    path = Path(proc.stdout.strip().splitlines()[-1])
    for name in ("etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"):
        if not os.access(path / name, os.X_OK):
            raise ControlPlaneError(f"{path} has no executable {name}")
    return path


def pinned_version() -> str:
    """The Kubernetes tag tests/e2e/kubebin/go.mod pins (what a built apiserver reports)."""
    gomod = (Path(__file__).parent / "kubebin" / "go.mod").read_text()
    return re.search(r"^\s*k8s\.io/kubernetes (v\S+)", gomod, re.M).group(1)


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all held open while choosing, so none repeats)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _unverified_tls() -> ssl.SSLContext:
    """The scheduler serves with a self-signed in-memory cert: only reachability matters."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args)}: {proc.stderr.strip()}")


def make_pki(pki: Path) -> None:
    """A throwaway CA, the apiserver's serving cert, the admin client cert and the SA key.

    keyUsage on the CA and SKI/AKI on the leaves keep Python's strict X.509 verification happy.
    """
    pki.mkdir(parents=True)
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=amldoctor-e2e-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=pki,
    )
    leaf = [
        "basicConstraints=CA:FALSE",
        "keyUsage=digitalSignature,keyEncipherment",
        "subjectKeyIdentifier=hash",
        "authorityKeyIdentifier=keyid",
    ]
    (pki / "server.ext").write_text(
        "\n".join(
            [
                *leaf,
                "extendedKeyUsage=serverAuth",
                "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
                "DNS:kubernetes.default.svc",
            ]
        )
        + "\n"
    )
    (pki / "client.ext").write_text("\n".join([*leaf, "extendedKeyUsage=clientAuth"]) + "\n")
    for name, subject, ext in (
        ("apiserver", "/CN=kube-apiserver", "server.ext"),
        (ADMIN, f"/O=system:masters/CN={ADMIN}", "client.ext"),
    ):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            subject,
            cwd=pki,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "2",
            "-extfile",
            ext,
            cwd=pki,
        )
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM this PID, wait, then SIGKILL it."""
        if not self.alive():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class ControlPlane:
    """One running control plane; see tests/e2e/README.md for the users and their rights."""

    bin_dir: Path
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="amldoctor-e2e-")))
    processes: list[Process] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    api_url: str = ""
    scheduler_url: str = ""
    version: str = ""  # what /version reports, e.g. "v1.35.4"
    startup_seconds: dict[str, float] = field(default_factory=dict)  # cumulative, per milestone
    # Admission plugins turned off. The shared plane drops ServiceAccount (tests create pods in
    # namespaces with no `default` ServiceAccount) and TaintNodesByCondition (hand-made Nodes keep
    # exactly the taints a test gives them); a plane that runs ServiceAccount admission passes
    # `DISABLED_ADMISSION_WITH_SERVICE_ACCOUNTS`.
    disabled_admission: tuple[str, ...] = DISABLED_ADMISSION
    _etcd_dir: Path | None = None

    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    # -- start-up ------------------------------------------------------------------------------

    def start(self) -> None:
        t0 = time.monotonic()
        make_pki(self.pki)
        self.startup_seconds["pki"] = time.monotonic() - t0
        etcd_port, peer_port, api_port, sched_port = free_ports(4)
        self.api_url = f"https://127.0.0.1:{api_port}"
        self.scheduler_url = f"https://127.0.0.1:{sched_port}"
        users = (NS_READER, NO_NODES, NO_EVENTS, READER, SCHEDULER, CONTROLLER_MANAGER)
        self.tokens = {u: secrets.token_hex(16) for u in users}
        self._write_auth_files()

        shm = Path("/dev/shm")
        self._etcd_dir = Path(
            tempfile.mkdtemp(prefix="amldoctor-etcd-", dir=shm if shm.is_dir() else self.workdir)
        )
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._spawn(
            "etcd",
            [
                "--name=node0",
                f"--data-dir={self._etcd_dir}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=node0=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self._wait("etcd", lambda: _http_ok(f"{etcd_url}/health", b'"health":"true"'), 30)
        self.startup_seconds["etcd"] = time.monotonic() - t0

        self._spawn(
            "kube-apiserver",
            [
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={self.pki / 'apiserver.crt'}",
                f"--tls-private-key-file={self.pki / 'apiserver.key'}",
                f"--client-ca-file={self.pki / 'ca.crt'}",
                f"--token-auth-file={self.workdir / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={self.api_url}",
                f"--service-account-key-file={self.pki / 'sa.key'}",
                f"--service-account-signing-key-file={self.pki / 'sa.key'}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                f"--enable-admission-plugins={','.join(REQUIRED_ADMISSION)}",
                f"--disable-admission-plugins={','.join(self.disabled_admission)}",
                "--endpoint-reconciler-type=none",
                f"--audit-policy-file={self.workdir / 'audit-policy.yaml'}",
                f"--audit-log-path={self.audit_log}",
                "--v=1",
            ],
        )
        admin = self.client()
        self._wait("kube-apiserver", lambda: _readyz(admin), 90)
        self.startup_seconds["kube-apiserver"] = time.monotonic() - t0
        self.version = admin.get("/version")["gitVersion"]

        self._spawn(
            "kube-scheduler",
            [
                f"--kubeconfig={self.kubeconfig(SCHEDULER)}",
                f"--authentication-kubeconfig={self.kubeconfig(SCHEDULER)}",
                f"--authorization-kubeconfig={self.kubeconfig(SCHEDULER)}",
                "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={sched_port}",
                "--v=2",
            ],
        )
        self._wait(
            "kube-scheduler",
            lambda: _http_ok(f"{self.scheduler_url}/readyz", b"ok", _unverified_tls()),
            60,
        )
        self.startup_seconds["kube-scheduler"] = time.monotonic() - t0
        self._install_rbac()
        self.startup_seconds["total"] = time.monotonic() - t0

    def start_controller_manager(self) -> None:
        """Start kube-controller-manager with `CONTROLLERS` (once; later calls do nothing).

        It signs nothing for pods here (no kubelet mounts tokens) but the serviceaccount-token
        machinery wants the service-account key and the cluster CA, as on a real cluster.
        """
        if any(p.name == "kube-controller-manager" for p in self.processes):
            return
        t0 = time.monotonic()
        (port,) = free_ports(1)
        kubeconfig = self.kubeconfig(CONTROLLER_MANAGER)
        self._spawn(
            "kube-controller-manager",
            [
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
                f"--controllers={','.join(CONTROLLERS)}",
                f"--service-account-private-key-file={self.pki / 'sa.key'}",
                f"--root-ca-file={self.pki / 'ca.crt'}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'kcm-certs'}",
                "--v=2",
            ],
        )
        self._wait(
            "kube-controller-manager",
            lambda: _http_ok(f"https://127.0.0.1:{port}/healthz", b"ok", _unverified_tls()),
            90,
        )
        self.startup_seconds["kube-controller-manager"] = time.monotonic() - t0

    def _write_auth_files(self) -> None:
        # The scheduler's and controller-manager's identities are system:masters members: their
        # RBAC is not under test, and their own usernames keep their requests apart in the
        # audit log.
        rows = [
            f'{self.tokens[u]},{u},uid-{u},"system:masters"'
            if u in (SCHEDULER, CONTROLLER_MANAGER)
            else f"{self.tokens[u]},{u},uid-{u}"
            for u in self.tokens
        ]
        (self.workdir / "tokens.csv").write_text("\n".join(rows) + "\n")
        (self.workdir / "audit-policy.yaml").write_text(yaml.safe_dump(AUDIT_POLICY))

    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.workdir / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [str(self.bin_dir / name), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        self.processes.append(Process(name, popen, log))

    def _wait(self, name: str, ready, timeout: float) -> None:
        proc = next(p for p in self.processes if p.name == name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proc.alive():
                raise ControlPlaneError(
                    f"{name} exited with {proc.popen.returncode}:\n{proc.tail()}"
                )
            if ready():
                return
            time.sleep(0.1)
        raise ControlPlaneError(f"{name} not ready after {timeout}s:\n{proc.tail()}")

    def _install_rbac(self) -> None:
        admin = self.client()
        admin.create(
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            {"metadata": {"name": NAMESPACE_READER_ROLE}, "rules": NAMESPACE_READER_RULES},
        )
        for user, excluded in (
            (NO_NODES, {("", "nodes")}),
            (NO_EVENTS, {("", "events"), ("events.k8s.io", "events")}),
            (READER, set()),
        ):
            self.grant(user, read_all_rules(admin, excluded))

    # -- users ---------------------------------------------------------------------------------

    def admission_plugins(self) -> set[str]:
        """The admission plugins the running kube-apiserver loaded (mutating and validating),
        from its start-up log."""
        log = next(p.log for p in self.processes if p.name == "kube-apiserver")
        found: set[str] = set()
        for names in _LOADED_ADMISSION.findall(log.read_text(errors="replace")):
            found.update(n for n in names.split(",") if n)
        return found

    def kubeconfig(self, user: str = ADMIN) -> Path:
        """A kubeconfig file for `user` (client cert for admin, bearer token otherwise)."""
        path = self.workdir / f"kubeconfig-{user.replace(':', '-')}.yaml"
        if path.exists():
            return path
        ca = _b64(self.pki / "ca.crt")
        if user == ADMIN:
            creds = {
                "client-certificate-data": _b64(self.pki / f"{ADMIN}.crt"),
                "client-key-data": _b64(self.pki / f"{ADMIN}.key"),
            }
        else:
            creds = {"token": self.tokens[user]}
        name = f"e2e-{user.replace(':', '-')}"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": name,
            "clusters": [
                {
                    "name": "e2e",
                    "cluster": {"server": self.api_url, "certificate-authority-data": ca},
                }
            ],
            "users": [{"name": user, "user": creds}],
            "contexts": [{"name": name, "context": {"cluster": "e2e", "user": user}}],
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def client(self, user: str = ADMIN) -> KubeClient:
        context = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        if user == ADMIN:
            context.load_cert_chain(self.pki / f"{ADMIN}.crt", self.pki / f"{ADMIN}.key")
            return KubeClient(self.api_url, context)
        return KubeClient(self.api_url, context, token=self.tokens[user])

    def grant(
        self,
        user: str,
        rules: list[dict[str, Any]],
        namespace: str | None = None,
        name: str | None = None,
    ) -> None:
        """Give `user` these RBAC rules, cluster-wide or in one namespace (Role + RoleBinding)."""
        admin = self.client()
        name = name or f"amldoctor-e2e:{user}"
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        scope = f"{rbac}/namespaces/{namespace}" if namespace else rbac
        kind = "Role" if namespace else "ClusterRole"
        meta = {"name": name, **({"namespace": namespace} if namespace else {})}
        admin.create(f"{scope}/{kind.lower()}s", {"metadata": meta, "rules": rules})
        admin.create(
            f"{scope}/{kind.lower()}bindings",
            {
                "metadata": meta,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}
                ],
            },
        )

    def grant_namespace(self, user: str, namespace: str) -> None:
        """Let `user` read pods, events, PVCs... (NAMESPACE_READER_RULES) in `namespace`."""
        self.client().create(
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
            {
                "metadata": {"name": f"amldoctor-e2e:{user}", "namespace": namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": NAMESPACE_READER_ROLE,
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}
                ],
            },
        )

    # -- observation ---------------------------------------------------------------------------

    def audit_events(self, user: str | None = None) -> list[dict[str, Any]]:
        """Audit events (Metadata level, ResponseComplete stage), optionally for one username."""
        if not self.audit_log.exists():
            return []
        events = [json.loads(line) for line in self.audit_log.read_text().splitlines() if line]
        return [e for e in events if user is None or e.get("user", {}).get("username") == user]

    def scheduler_cache(self) -> dict[str, float]:
        """The scheduler's own view: `scheduler_cache_size` by type (nodes, pods, assumed_pods)."""
        with urllib.request.urlopen(
            f"{self.scheduler_url}/metrics", context=_unverified_tls(), timeout=10
        ) as resp:
            text = resp.read().decode()
        sizes = {}
        for line in text.splitlines():
            if line.startswith("scheduler_cache_size{"):
                labels, value = line.rsplit(" ", 1)
                kind = labels.split('type="', 1)[1].split('"', 1)[0]
                sizes[kind] = float(value)
        return sizes

    def log_tails(self, lines: int = 40) -> str:
        return "\n\n".join(
            f"--- {p.name} (pid {p.popen.pid}, log {p.log}) ---\n{p.tail(lines)}"
            for p in self.processes
        )

    # -- teardown ------------------------------------------------------------------------------

    def stop(self, keep_workdir: bool = False) -> None:
        """Stop our own processes in reverse start order, then remove the data."""
        for proc in reversed(self.processes):
            proc.stop()
        if self._etcd_dir:
            shutil.rmtree(self._etcd_dir, ignore_errors=True)
        if not keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def read_all_rules(admin: KubeClient, excluded: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """RBAC rules for get/list/watch on every served resource except `excluded` (group, name).

    RBAC has no deny rules, so "everything except nodes" has to be spelled out from discovery.
    """
    groups: dict[str, set[str]] = {"": _resource_names(admin, "/api/v1")}
    for group in admin.get("/apis").get("groups", []):
        gv = group["preferredVersion"]["groupVersion"]
        groups.setdefault(group["name"], set()).update(_resource_names(admin, f"/apis/{gv}"))
    rules = []
    for group, names in sorted(groups.items()):
        kept = sorted(n for n in names if (group, n.split("/")[0]) not in excluded)
        if not kept:
            continue
        # "*" would also grant exec/proxy; only the core group has those, so spell it out.
        whole = len(kept) == len(names) and group != ""
        rules.append(
            {
                "apiGroups": [group],
                "resources": ["*"] if whole else kept,
                "verbs": ["get", "list", "watch"],
            }
        )
    return rules


def _resource_names(admin: KubeClient, path: str) -> set[str]:
    """Readable resources and subresources, leaving out those that act (exec, proxy...)."""
    acting = {"exec", "attach", "portforward", "proxy"}
    return {
        r["name"]
        for r in admin.get(path).get("resources", [])
        if {"get", "list"} & set(r.get("verbs", [])) and r["name"].partition("/")[2] not in acting
    }


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _http_ok(url: str, expect: bytes, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as resp:
            return resp.status == 200 and expect in resp.read()
    except OSError:
        return False


def _readyz(admin: KubeClient) -> bool:
    try:
        return admin.request("GET", "/readyz", timeout=5).get("text") == "ok"
    except (ApiError, OSError):
        return False
