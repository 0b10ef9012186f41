"""Masking credentials before anything leaves the process.

AML pods and their owners carry run tokens, `AZUREML_OBO_CANARY_TOKEN`, MLflow tokens, storage
connection strings and registry passwords in plain env values, and a support bundle is mailed
around. Every output path (dump bundles, JSON/YAML renderers, finding evidence) runs objects
through `redact_object`, so a value is masked the same way wherever it shows up.

Two tests decide: the *name* (an env var called `..._TOKEN` is masked whatever it holds) and the
*value* (a JWT, an `AccountKey=`, a SAS signature, `https://user:pass@`, a long key-like blob is
masked whatever it is called). Names that only point at a secret (`secretKeyRef.key`,
`secretName`) are kept: they are what a user needs to fix a missing key.
"""

from __future__ import annotations

import json
import re
from typing import Any

MASK = "***MASKED***"

# Words that make an env var (or ConfigMap key) name sensitive, matched against the name split
# into words (`AZURE_STORAGE_KEY`, `mlflowTrackingToken`, `db-password`), so that `MONKEY` or
# `SASL_MECHANISM` stay visible.
_SENSITIVE_WORDS = frozenset(
    {
        "PASSWORD", "PASSWD", "PWD", "PASS", "PASSPHRASE",
        "SECRET", "SECRETS", "TOKEN", "TOKENS",
        "KEY", "KEYS", "APIKEY", "ACCESSKEY", "PRIVATEKEY", "ACCOUNTKEY",
        "CREDENTIAL", "CREDENTIALS", "CREDS", "SAS", "CONNSTR", "CONNECTIONSTRING",
        "AUTH", "AUTHORIZATION", "COOKIE", "SIGNATURE",
    }
)  # fmt: skip
_SENSITIVE_PHRASES = ("CONNECTION_STRING", "CONNECTIONSTRING", "ACCOUNT_KEY", "SAS_TOKEN")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
# A name ending in one of these words points at a credential (a vault name, a file, a URL)
# rather than holding one: `KEY_VAULT_NAME`, `PASSWORD_FILE`, `TOKEN_URL`.
_POINTER_WORDS = frozenset(
    {"NAME", "URL", "URI", "ENDPOINT", "PATH", "FILE", "DIR", "ID", "HOST", "PORT", "REGION",
     "TYPE", "MODE", "ENABLED", "VERSION", "SCOPE", "AUDIENCE", "HEADER", "REF"}
)  # fmt: skip
# Words anywhere in a name that make "token", "key" or "pass" a count, a setting or a data key,
# as LLM servers and data pipelines use them: MAX_TOKENS, MAX_NUM_BATCHED_TOKENS, KEY_SIZE,
# PARTITION_KEY, AUTH_DISABLED, PASS_THROUGH.
_SETTING_WORDS = frozenset(
    {"MAX", "MIN", "NUM", "NUMBER", "SIZE", "LEN", "LENGTH", "COUNT", "LIMIT", "BATCHED",
     "BITS", "TTL", "TIMEOUT", "PARTITION", "SORT", "ROUTING", "SHARD", "CACHE", "PRIMARY",
     "FOREIGN", "LOOKUP", "THROUGH", "THRU", "DISABLED", "DISABLE", "ENABLE", "REQUIRED",
     "METHOD", "PROVIDER", "STRATEGY", "ALGORITHM", "ROTATION", "EXPIRY", "EXPIRATION"}
)  # fmt: skip
_FLAG_VALUES = frozenset(
    {"true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "null", ""}
)
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?[a-zA-Z]{0,3}")

# Value shapes that are credentials wherever they appear; each is replaced in place inside a
# longer text (an event message, an annotation) so the rest of the text stays readable.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_KV_SECRET = re.compile(
    r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|sig)=([^;&\s\"']+)"
)
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+):([^/\s@]+)@")
_BEARER = re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{16,}")
# A value that is nothing but a long key-like blob: base64 (storage keys are 88 chars) or hex.
_B64_BLOB = re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}")
_HEX_BLOB = re.compile(r"[0-9a-fA-F]{40,}")
_QUICK = re.compile(r"eyJ|=|://|Bearer|Basic", re.IGNORECASE)

# Fields outside env that hold whole credential-laden documents (AML job runtime spec: base64
# JSON with the run token and registry credentials).
_OPAQUE_FIELDS = frozenset({"commonRuntimeJobSpec"})
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def is_sensitive_name(name: str) -> bool:
    """Does an env var / data key name say it holds a credential?"""
    upper = name.upper()
    if any(phrase in upper for phrase in _SENSITIVE_PHRASES):
        return True
    return any(word.upper() in _SENSITIVE_WORDS for word in _WORD_SPLIT.split(name) if word)


def name_words(name: str) -> list[str]:
    """`mlflowTrackingToken` -> ["MLFLOW", "TRACKING", "TOKEN"]: the words a name is judged by."""
    return [w.upper() for w in _WORD_SPLIT.split(name) if w]


def is_pointer_name(name: str) -> bool:
    """Does the name end in a word pointing at a credential (`TOKEN_URL`) rather than holding it?"""
    words = name_words(name)
    return bool(words) and words[-1] in _POINTER_WORDS


def is_setting_name(name: str) -> bool:
    """Is a credential word in the name qualified as a setting (`MAX_TOKENS`, `KEY_SIZE`)?"""
    return not _SETTING_WORDS.isdisjoint(name_words(name))


def is_flag_or_number(value: str) -> bool:
    """A value that is a count, a size or a switch (`4096`, `2k`, `true`) holds no credential."""
    text = value.strip()
    return text.lower() in _FLAG_VALUES or bool(_NUMBER.fullmatch(text))


def _is_blob(value: str) -> bool:
    """A whole value that looks like a key: long, base64/hex, mixed character classes."""
    v = value.strip()
    if _HEX_BLOB.fullmatch(v):
        return True
    if not _B64_BLOB.fullmatch(v) or v.startswith("/"):
        return False
    return all(any(test(c) for c in v) for test in (str.isupper, str.islower, str.isdigit))


def looks_like_credential(value: str) -> bool:
    """Would `mask_text` change this value, or is the whole value a key-like blob?"""
    return mask_text(value) != value or _is_blob(value)


def mask_env_value(name: str, value: str) -> str:
    """The value to show for env var `name`: MASK if the name or the value says credential.

    A credential-shaped value is masked whatever its name. A credential word in the name masks
    any value, except where the name only points at a credential (`TOKEN_URL`, `SECRET_NAME`) or
    is a setting (`MAX_TOKENS`) whose value is a plain number or switch: masking `4096` would
    hide the figure a user needs to size a model server, and cannot leak anything.
    """
    if not isinstance(value, str) or value == "":
        return value
    if looks_like_credential(value):
        return MASK
    if not is_sensitive_name(name) or is_pointer_name(name):
        return value
    if is_setting_name(name) and is_flag_or_number(value):
        return value
    return MASK


def mask_text(text: str) -> str:
    """Mask credential-shaped substrings of a free text, keeping the rest readable."""
    if not isinstance(text, str) or not _QUICK.search(text):
        return text
    text = _JWT.sub(MASK, text)
    text = _KV_SECRET.sub(_mask_kv, text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)


def _mask_kv(m: re.Match) -> str:
    """`key=MASK`; a value masked already keeps what follows the mask (masking is idempotent)."""
    value = m.group(2)
    rest = value[len(MASK) :] if value.startswith(MASK) else ""
    return f"{m.group(1)}={MASK}{rest}"


def redact_object(obj: Any) -> Any:
    """A copy of `obj` (any API object, list or value) with credentials masked.

    Env lists (`[{name, value}]`) and env maps (`envs: {NAME: value}`) anywhere in the tree, the
    data of ConfigMaps and Secrets, and `last-applied-configuration` annotations are masked by name
    and value; every other string has credential-shaped substrings masked. The input is not
    modified.
    """
    if isinstance(obj, dict):
        if obj.get("kind") in ("ConfigMap", "Secret") and "metadata" in obj:
            return _redact_data_object(obj)
        return {key: _redact_field(key, value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [redact_object(item) for item in obj]
    if isinstance(obj, str):
        return mask_text(obj)
    return obj


def _redact_field(key: str, value: Any) -> Any:
    if key == "env" and isinstance(value, list):
        return [_redact_env_var(item) for item in value]
    if key == "envs" and isinstance(value, dict):
        return {
            k: mask_env_value(k, v) if isinstance(v, str) else redact_object(v)
            for k, v in value.items()
        }
    if key == "annotations" and isinstance(value, dict):
        return {k: _redact_annotation(k, v) for k, v in value.items()}
    if key in _OPAQUE_FIELDS and isinstance(value, str) and value:
        return MASK
    return redact_object(value)


def _redact_env_var(item: Any) -> Any:
    if not isinstance(item, dict) or "value" not in item:
        return redact_object(item)
    out = dict(item)
    out["value"] = mask_env_value(str(item.get("name", "")), item["value"])
    if "valueFrom" in out:
        out["valueFrom"] = redact_object(out["valueFrom"])
    return out


def _redact_annotation(key: str, value: Any) -> Any:
    """last-applied-configuration is a whole copy of the object: redact it as one."""
    if key == _LAST_APPLIED and isinstance(value, str):
        try:
            inner = json.loads(value)
        except ValueError:
            return MASK
        if isinstance(inner, dict) and inner.get("kind") == "Secret":
            return MASK
        return json.dumps(redact_object(inner), separators=(",", ":"), sort_keys=True)
    if isinstance(value, str):
        return _mask_data_value(key, value)
    return redact_object(value)


def _mask_data_value(key: str, value: str) -> str:
    """For a keyed text that may be a whole file: mask it whole only when it is a credential."""
    if value and (is_sensitive_name(key) or _is_blob(value)):
        return MASK
    return mask_text(value)


def _redact_data_object(obj: dict) -> dict:
    """ConfigMaps keep their keys (missing-key findings need them); values are masked like env.

    Secret values are never shown, even if a Secret object with data reached us from a file.
    """
    secret = obj.get("kind") == "Secret"
    out = {}
    for key, value in obj.items():
        if key in ("data", "binaryData", "stringData") and isinstance(value, dict):
            if secret or key == "binaryData":
                out[key] = {k: MASK for k in value}
            else:
                out[key] = {
                    k: _mask_data_value(k, v) if isinstance(v, str) else v for k, v in value.items()
                }
        else:
            out[key] = _redact_field(key, value)
    return out
