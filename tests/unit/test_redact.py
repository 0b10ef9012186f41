"""Credential masking: by env var name, by value shape, in every place AML puts secrets."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amldoctor.redact import MASK, is_sensitive_name, mask_env_value, mask_text, redact_object

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbWwtcnVuIn0.c2lnbmF0dXJlLXBhcnQ"
STORAGE_KEY = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFla0123456789ab=="


@pytest.mark.parametrize(
    "name",
    [
        "AZUREML_OBO_CANARY_TOKEN",
        "MLFLOW_TRACKING_TOKEN",
        "DB_PASSWORD",
        "client_secret",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_CONNECTION_STRING",
        "storageSasToken",
        "AWS_SECRET_ACCESS_KEY",
        "API_KEY",
        "registry-password",
    ],
)
def test_sensitive_names_mask_any_value(name):
    assert is_sensitive_name(name)
    assert mask_env_value(name, "plain") == MASK


@pytest.mark.parametrize(
    "name",
    ["EPOCHS", "MONKEY_BUSINESS", "SASL_MECHANISM", "AZUREML_RUN_ID", "NVIDIA_VISIBLE_DEVICES"],
)
def test_ordinary_names_keep_ordinary_values(name):
    assert not is_sensitive_name(name)
    assert mask_env_value(name, "value-1") == "value-1"


@pytest.mark.parametrize(
    "value",
    [
        JWT,
        f"Bearer {JWT}",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc123==;EndpointSuffix=core",
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=xyz=",
        "https://acct.blob.core.windows.net/c/f?sv=2021-08-06&se=2026&sig=AbCdEf%2B123",
        "SharedAccessSignature sr=x&sig=abc&se=1",
        "https://amluser:hunter2@registry.example.com/v2",
        STORAGE_KEY,
        "0123456789abcdef0123456789abcdef0123456789abcdef",
    ],
)
def test_credential_shaped_values_mask_under_any_name(value):
    assert mask_env_value("SETTING", value) == MASK


@pytest.mark.parametrize(
    "value",
    [
        "",
        "10",
        "/usr/local/nvidia/lib64:/usr/local/cuda/lib64",
        "0123456789abcdef0123456789abcdef",
        "https://pypi.org/simple",
        "aml-compute-0123456789abcdef0123456789abcdef-worker-0",
        "/mnt/azureml/cr/j/0123456789abcdef0123456789abcdef/exe/wd",
    ],
)
def test_ordinary_values_are_kept(value):
    # A 32-hex AML job id is an identifier the user needs, not a key.
    assert mask_env_value("SETTING", value) == value


def test_mask_text_keeps_the_readable_part():
    text = 'Failed to pull "https://bot:s3cret@acr.io/img": unauthorized; sig=abcdef in url'
    masked = mask_text(text)
    assert "s3cret" not in masked and "abcdef" not in masked
    assert masked.startswith('Failed to pull "https://bot:' + MASK + "@acr.io/img")


def _pod() -> dict:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": "ml-job-worker-0",
            "namespace": "aml",
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                    {
                        "kind": "Pod",
                        "spec": {"containers": [{"env": [{"name": "TOKEN", "value": "abc"}]}]},
                    }
                ),
                "checksum/config": "a" * 64,
                "volcano.sh/job-name": "ml-job",
            },
        },
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "args": ["--storage", "AccountKey=abc123;x=y"],
                    "env": [
                        {"name": "AZUREML_RUN_TOKEN", "value": "t0k"},
                        {"name": "EPOCHS", "value": "10"},
                        {"name": "CALLBACK", "value": JWT},
                        {
                            "name": "DB_PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
                        },
                    ],
                }
            ]
        },
    }


def test_redact_pod_env_args_and_annotations():
    original = _pod()
    snapshot = copy.deepcopy(original)
    out = redact_object(original)
    assert original == snapshot, "the input is not modified"
    env = out["spec"]["containers"][0]["env"]
    assert [e.get("value") for e in env] == [MASK, "10", MASK, None]
    assert env[3]["valueFrom"] == {"secretKeyRef": {"name": "db", "key": "password"}}
    assert out["spec"]["containers"][0]["args"] == ["--storage", f"AccountKey={MASK};x=y"]
    annotations = out["metadata"]["annotations"]
    applied = json.loads(annotations["kubectl.kubernetes.io/last-applied-configuration"])
    assert applied["spec"]["containers"][0]["env"] == [{"name": "TOKEN", "value": MASK}]
    assert annotations["checksum/config"] == MASK
    assert annotations["volcano.sh/job-name"] == "ml-job"


def test_redact_pod_templates_and_aml_job_specs():
    deployment = {
        "kind": "Deployment",
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "c", "env": [{"name": "MLFLOW_TRACKING_TOKEN", "value": "x"}]}
                    ]
                }
            }
        },
    }
    aml_job = {
        "kind": "AmlJob",
        "spec": {
            "job": {
                "options": {
                    "envs": {"AZUREML_NODE_COUNT": "2", "AZUREML_RUN_TOKEN": "secret"},
                    "commonRuntimeJobSpec": "eyJpbWFnZSI6ICJ4In0=",
                }
            }
        },
    }
    template = redact_object(deployment)["spec"]["template"]
    assert template["spec"]["containers"][0]["env"][0]["value"] == MASK
    options = redact_object(aml_job)["spec"]["job"]["options"]
    assert options["envs"] == {"AZUREML_NODE_COUNT": "2", "AZUREML_RUN_TOKEN": MASK}
    assert options["commonRuntimeJobSpec"] == MASK


def test_config_maps_keep_keys_and_secrets_lose_values():
    cm = {
        "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"hostfile": "worker-0 slots=1", "storage_key": "abc", "conn": f"Bearer {JWT}"},
    }
    out = redact_object(cm)
    assert out["data"] == {
        "hostfile": "worker-0 slots=1",
        "storage_key": MASK,
        "conn": f"Bearer {MASK}",
    }
    secret = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"user": "YQ==", "pw": "Yg=="}}
    assert redact_object(secret)["data"] == {"user": MASK, "pw": MASK}


def test_event_messages_are_masked_in_place():
    event = {"kind": "Event", "message": f"token {JWT} rejected", "reason": "Failed"}
    assert redact_object(event)["message"] == f"token {MASK} rejected"


env_items = st.lists(
    st.fixed_dictionaries(
        {"name": st.text(min_size=1, max_size=20), "value": st.text(max_size=60)}
    ),
    max_size=5,
)


@given(env_items)
def test_redaction_is_idempotent_and_never_shows_masked_values(env):
    pod = {"kind": "Pod", "spec": {"containers": [{"name": "c", "env": env}]}}
    once = redact_object(pod)
    assert redact_object(once) == once
    for before, after in zip(env, once["spec"]["containers"][0]["env"], strict=True):
        assert after["value"] in (before["value"], MASK)
        if is_sensitive_name(before["name"]) and before["value"]:
            assert after["value"] == MASK


@pytest.mark.parametrize(
    "text",
    [
        "AccountKey=abc123==;EndpointSuffix=core.windows.net",
        "Password=hunter2, then more",
        "https://bot:s3cr3t@registry.example/v2/",
        "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345",
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl end",
    ],
)
def test_masking_twice_changes_nothing_more(text: str) -> None:
    """Findings are masked when made and again at the output boundary: the text must survive."""
    once = mask_text(text)
    assert once != text
    assert mask_text(once) == once


@pytest.mark.parametrize("key", ["sig", "AccountKey", "Password", "SharedAccessSignature"])
@pytest.mark.parametrize("after", ["): it shows", ";next=1", "&sv=2024", '"', ")"])
def test_a_message_quoting_a_masked_value_survives_masking(key: str, after: str) -> None:
    """A rule quotes a value it masked, then the output boundary masks the message again."""
    message = f"in args[1] (https://st.example/d?{mask_text(f'{key}=abcdef123')}{after} and on"
    assert MASK in message
    assert mask_text(message) == message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_TOKENS", "4096"),
        ("MAX_NUM_BATCHED_TOKENS", "8192"),
        ("KEY_SIZE", "2048"),
        ("AUTH_DISABLED", "true"),
        ("TOKEN_URL", "https://login.example.com/token"),
        ("SECRET_NAME", "train-secrets"),
        ("KEY_VAULT_NAME", "aml-kv"),
        ("AZURE_CREDENTIAL_FILE", "/var/run/secrets/azure/credentials.json"),
    ],
)
def test_settings_and_pointers_keep_their_plain_values(name, value):
    # A count or a vault name is what the user needs to read; it cannot leak a credential.
    assert mask_env_value(name, value) == value


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_TOKENS", "hunter2"),  # a setting word does not excuse a word-like value
        ("DB_PASSWORD", "123456"),  # a numeric password is still a password
        ("API_KEY", "true-but-not-a-flag"),
        ("TOKEN_URL", f"https://x/?token={JWT}"),  # a pointer holding a JWT is masked
    ],
)
def test_credential_names_mask_values_that_are_not_plain_settings(name, value):
    assert mask_env_value(name, value) == MASK


_NAME_WORDS = st.sampled_from(
    ["DB", "AZURE", "MLFLOW", "MAX", "NUM", "TOKEN", "KEY", "PASSWORD", "SECRET", "URL", "NAME",
     "SIZE", "RUN", "ID", "LIMIT", "STORAGE", "ACCOUNT", "AUTH", "BATCHED"]
)  # fmt: skip
_VALUES = st.one_of(
    st.integers(0, 10**9).map(str),
    st.sampled_from(["true", "off", "hunter2", "prod-pass", JWT, STORAGE_KEY, "/etc/pw", "x"]),
)


@given(words=st.lists(_NAME_WORDS, min_size=1, max_size=4), value=_VALUES)
def test_what_lint_calls_a_credential_is_masked_in_output(words, value):
    # One policy: a value AMD807 reports as a plaintext credential never shows in any output.
    from amldoctor.lint.rules.secrets import credential_reason

    name = "_".join(words)
    if credential_reason(name, value) is not None:
        assert mask_env_value(name, value) == MASK
