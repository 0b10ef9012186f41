"""AMD807: credentials written into manifests instead of referenced from a Secret.

Detection reuses `amldoctor.redact` (the same tests that mask values in every output), so what
lint flags and what amldoctor masks agree. Values are never echoed: findings name the variable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from amldoctor.engine.registry import rule
from amldoctor.engine.report import Finding
from amldoctor.lint.engine import LintContext
from amldoctor.lint.fields import container_name, snippet
from amldoctor.lint.workloads import dotted
from amldoctor.redact import (
    is_flag_or_number,
    is_pointer_name,
    is_sensitive_name,
    is_setting_name,
    looks_like_credential,
    mask_text,
)

_HASH = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})")  # a git commit or a sha256 digest


def credential_reason(name: str, value: str) -> str | None:
    """Why a literal env value is a credential, or None.

    The value's shape is the stronger test (a JWT, an AccountKey=, a key-like blob), except for
    a lowercase 40- or 64-hex string: a git commit or sha256 digest pinning a model revision
    is a hash, not a key. The name is judged by whole words: a credential word, not qualified
    by a setting word (MAX_TOKENS is a count) and not ending in a pointer (TOKEN_URL).
    """
    text = value.strip()
    if not _HASH.fullmatch(text) and looks_like_credential(value):
        return "value looks like a credential"
    if not is_sensitive_name(name) or is_pointer_name(name) or is_setting_name(name):
        return None
    if is_flag_or_number(text):
        return None
    if value.startswith(("/", "$(", "{{")):
        return None
    return "name says it holds a credential"


@rule("AMD807", "plaintext-credential", severity="error", needs=(), scope="lint")
def plaintext_credential(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports containers that carry a credential in plain text: an `env` entry whose `value` is a
    credential by its name (`*_PASSWORD`, `*_TOKEN`, `AZURE_STORAGE_KEY`...) or by its shape (a
    JWT, an `AccountKey=`, a SAS signature, `https://user:pass@`, a long key-like blob), or
    `command`/`args` that contain such a value.

    ## Why is this bad?
    The manifest lives in git, in Helm release history, in `kubectl get -o yaml` output and in
    support bundles: everyone who can read any of them has the credential. Rotating it means a
    redeploy. Secrets referenced with `secretKeyRef` are readable only with RBAC on Secrets.

    ## Example
    ```yaml
    env:
    - name: AZURE_STORAGE_KEY
      value: "Zm9vYmFyYmF6cXV4...=="
    ```

    ## How to fix
    Put the value in a Secret and reference it:
    ```yaml
    env:
    - name: AZURE_STORAGE_KEY
      valueFrom:
        secretKeyRef: {name: train-secrets, key: AZURE_STORAGE_KEY}
    ```
    """
    for w in ctx.workloads:
        secret = f"{w.name}-secrets"
        ns = ctx.namespace_of(w)
        for path, c in w.containers(init=True):
            name = container_name(c, path)
            for i, var in enumerate(c.get("env") or []):
                if (
                    not isinstance(var, dict)
                    or not isinstance(var.get("value"), str)
                    or not var["value"]
                ):
                    continue
                env_name = str(var.get("name") or "")
                reason = credential_reason(env_name, var["value"])
                if reason is None:
                    continue
                yield ctx.finding(
                    w,
                    (*path, "env", i, "value"),
                    message=f"container {name} of {w.label} sets env {env_name} to a literal value "
                    f"({reason}; masked here): anyone who can read the manifest can read it",
                    evidence={"container": name, "env": env_name, "reason": reason},
                    remediation=f"kubectl create secret generic {secret} -n {ns} "
                    f"--from-literal={env_name}=<the value>\nthen in {dotted((*path, 'env', i))}:\n"
                    + snippet(
                        {
                            "name": env_name,
                            "valueFrom": {"secretKeyRef": {"name": secret, "key": env_name}},
                        }
                    ),
                )
            for key in ("command", "args"):
                for i, arg in enumerate(c.get(key) or []):
                    if isinstance(arg, str) and mask_text(arg) != arg:
                        yield ctx.finding(
                            w,
                            (*path, key, i),
                            message=f"container {name} of {w.label} passes a credential in "
                            f"{key}[{i}] "
                            f"({mask_text(arg)}): it shows in the manifest and in `ps` on the node",
                            evidence={
                                "container": name,
                                "argument": f"{key}[{i}]",
                                "reason": "value looks like a credential",
                            },
                            remediation=f"put it in Secret {secret}, expose it as an env var with "
                            "secretKeyRef, and write $(VAR_NAME) in the argument instead:\n"
                            + snippet(
                                {
                                    "env": [
                                        {
                                            "name": "SECRET_VALUE",
                                            "valueFrom": {
                                                "secretKeyRef": {"name": secret, "key": "value"}
                                            },
                                        }
                                    ]
                                }
                            ),
                        )
