"""AMD4xx: exit-code meanings, image-pull classification, config errors without Secret data."""

from __future__ import annotations

import pytest
from runtime_helpers import event, findings, pod

from amldoctor.k8s.containers import explain_exit, signal_of
from amldoctor.k8s.images import classify_pull_failure, parse_image


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        (1, "application error"),
        (2, "command-line usage"),
        (126, "not executable"),
        (127, "command not found"),
        (134, "SIGABRT"),
        (137, "SIGKILL"),
        (139, "SIGSEGV"),
        (143, "SIGTERM"),
        (135, "/dev/shm"),
    ],
)
def test_exit_code_meanings(code, needle):
    assert needle in explain_exit(code)


def test_signal_names():
    assert signal_of(137) == "SIGKILL"
    assert signal_of(1) is None
    assert signal_of(128 + 40) == "signal 40"


@pytest.mark.parametrize(
    ("image", "registry", "repository", "tag", "acr"),
    [
        ("myacr.azurecr.io/team/scorer:1.4", "myacr.azurecr.io", "team/scorer", "1.4", "myacr"),
        ("python:3.11", "docker.io", "library/python", "3.11", None),
        ("localhost:5000/x", "localhost:5000", "x", None, None),
        (
            "mcr.microsoft.com/azureml/base@sha256:abc",
            "mcr.microsoft.com",
            "azureml/base",
            None,
            None,
        ),
    ],
)
def test_parse_image(image, registry, repository, tag, acr):
    ref = parse_image(image)
    assert (ref.registry, ref.repository, ref.tag, ref.acr_name) == (registry, repository, tag, acr)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("failed to resolve reference: docker.io/x:1: not found", "not-found"),
        ('manifest unknown: manifest tagged by "2" is not found', "manifest-unknown"),
        ("unexpected status from HEAD request: 401 Unauthorized", "unauthorized"),
        (
            "429 Too Many Requests - toomanyrequests: You have reached your pull rate limit",
            "rate-limit",
        ),
        ("dial tcp: lookup myacr.azurecr.io: no such host", "network"),
        ("no match for platform in manifest: not found", "platform"),
        ("something else", "unknown"),
    ],
)
def test_pull_failure_classification(text, category):
    assert classify_pull_failure(text) == category


def _pulling(image: str) -> dict:
    return pod(
        "pull",
        containers=[{"name": "c", "image": image}],
        statuses=[{"name": "c", "state": {"waiting": {"reason": "ImagePullBackOff"}}}],
    )


def test_acr_unauthorized_gets_acrpull_advice():
    p = _pulling("myacr.azurecr.io/scorer:1")
    ev = event(
        p,
        "Failed",
        'Failed to pull image "myacr.azurecr.io/scorer:1": 401 Unauthorized',
        count=4,
        container="c",
    )
    found = findings([p, ev], "AMD402")
    assert found[0].evidence["category"] == "unauthorized"
    assert "--attach-acr myacr" in found[0].remediation
    assert "4 failed pulls" in found[0].message


def test_pull_without_events_says_they_expired():
    found = findings([_pulling("python:3.11")], "AMD402")
    assert "events expire" in found[0].message


def test_missing_pull_secret_is_named_when_secrets_were_collected():
    p = _pulling("registry.example.com/x:1")
    p["spec"]["imagePullSecrets"] = [{"name": "regcred"}]
    other = {"kind": "Secret", "metadata": {"name": "unrelated", "namespace": "ml"}}
    found = findings([p, other], "AMD402")
    assert found[0].evidence["missing_pull_secrets"] == ["regcred"]


def test_config_error_names_reference_and_never_secret_data():
    p = pod(
        "cfg",
        containers=[
            {
                "name": "c",
                "env": [
                    {
                        "name": "TOKEN",
                        "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}},
                    }
                ],
            }
        ],
        statuses=[
            {
                "name": "c",
                "state": {
                    "waiting": {
                        "reason": "CreateContainerConfigError",
                        "message": "couldn't find key token in Secret ml/api",
                    }
                },
            }
        ],
    )
    secret = {
        "kind": "Secret",
        "metadata": {"name": "api", "namespace": "ml"},
        "data": {"other": "c3VwZXJzZWNyZXQ="},
    }
    found = findings([p, secret], "AMD403")
    assert (found[0].evidence["kind"], found[0].evidence["name"], found[0].evidence["key"]) == (
        "Secret",
        "api",
        "token",
    )
    assert found[0].evidence["referenced_by"] == ["env TOKEN"]
    text = repr(found[0].to_dict())
    assert "c3VwZXJzZWNyZXQ=" not in text and "supersecret" not in text


def test_crash_loop_skips_oom_and_start_errors():
    oom = pod(
        "oom",
        statuses=[
            {
                "name": "c",
                "restartCount": 2,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
            }
        ],
    )
    start = pod(
        "start",
        statuses=[
            {
                "name": "c",
                "restartCount": 2,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {
                    "terminated": {
                        "reason": "StartError",
                        "exitCode": 128,
                        "message": 'exec: "x": executable file not found in $PATH',
                    }
                },
            }
        ],
    )
    found = findings([oom, start], "AMD401", "AMD405", "AMD201")
    assert sorted((f.rule, f.object.name) for f in found) == [
        ("AMD201", "oom"),
        ("AMD405", "start"),
    ]


def test_cuda_oom_is_not_a_container_oom():
    p = pod(
        "t",
        restartPolicy="Never",
        phase="Failed",
        statuses=[
            {
                "name": "c",
                "state": {
                    "terminated": {
                        "reason": "Error",
                        "exitCode": 1,
                        "message": "torch.OutOfMemoryError: CUDA out of memory.",
                    }
                },
            }
        ],
    )
    found = findings([p], "AMD407", "AMD201")
    assert [f.rule for f in found] == ["AMD407"]
    assert "GPU memory, not a container OOM" in found[0].message


def test_crash_loop_with_plain_sigkill_is_explained_once():
    p = pod(
        "k",
        statuses=[
            {
                "name": "c",
                "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 137}},
            }
        ],
    )
    found = findings([p], "AMD401", "AMD206", "AMD302")
    assert [f.rule for f in found] == ["AMD206"]
