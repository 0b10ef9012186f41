"""Image references and image-pull failure texts.

The kubelet reports a failed pull as `ErrImagePull`/`ImagePullBackOff` and puts the registry's
answer only in the `Failed` event text (and sometimes the waiting message). The fix depends on
which answer it was (the tag does not exist, the credentials are refused, the registry is
unreachable, the registry throttles) and on the registry (ACR wants a role for the kubelet
identity, Docker Hub wants credentials or a mirror).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Ordered: the first category whose needle appears in the text wins.
PULL_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rate-limit", ("toomanyrequests", "429 too many requests", "rate limit")),
    ("platform", ("no match for platform", "exec format error")),
    ("manifest-unknown", ("manifest unknown", "manifest for", "not found: manifest")),
    (
        "unauthorized",
        (
            "unauthorized",
            "authentication required",
            "401",
            "403 forbidden",
            "denied",
            "insufficient_scope",
            "no basic auth credentials",
            "authorization failed",
        ),
    ),
    ("not-found", ("not found", "repository does not exist", "name unknown", "notfound")),
    (
        "network",
        (
            "dial tcp",
            "i/o timeout",
            "no such host",
            "connection refused",
            "tls handshake",
            "deadline exceeded",
            "network is unreachable",
            "x509",
            "connection reset",
        ),
    ),
)

CATEGORY_TEXT = {
    "rate-limit": "the registry is rate-limiting pulls",
    "manifest-unknown": "the tag or digest does not exist in the repository (manifest unknown)",
    "unauthorized": "the registry refused the credentials (unauthorized)",
    "not-found": "the repository or image was not found",
    "platform": "the image has no variant for the node's CPU architecture",
    "network": "the node could not reach the registry (network)",
    "never-pull": "imagePullPolicy is Never and the image is not on the node",
    "unknown": "the pull failed for a reason the events do not state",
}


def classify_pull_failure(text: str) -> str:
    lowered = text.lower()
    for category, needles in PULL_CATEGORIES:
        if any(n in lowered for n in needles):
            return category
    return "unknown"


@dataclass(frozen=True)
class ImageRef:
    registry: str  # 'docker.io' when the reference names none
    repository: str
    tag: str | None
    digest: str | None

    @property
    def acr_name(self) -> str | None:
        """'myacr' for 'myacr.azurecr.io' (national clouds included)."""
        host = self.registry.lower()
        for suffix in (".azurecr.io", ".azurecr.cn", ".azurecr.us"):
            if host.endswith(suffix):
                return host[: -len(suffix)]
        return None


def parse_image(image: str) -> ImageRef:
    """Split a reference the way the container runtime does (docker.io/library default)."""
    ref = image.strip()
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", ref
    tag = None
    name, colon, maybe_tag = path.rpartition(":")
    if colon and "/" not in maybe_tag:
        path, tag = name, maybe_tag
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    return ImageRef(registry=registry, repository=path, tag=tag, digest=digest)


# The distribution reference grammar (what `docker pull` and the kubelet accept): an optional
# registry host, lowercase path components, an optional tag and an optional digest.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    r"(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?"
    rf"{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)


def is_image_reference(image: str) -> bool:
    """Is this a pullable image reference, not a placeholder such as `<image>` or `IMAGE`?"""
    return len(image) <= 4096 and _REFERENCE.fullmatch(image.strip()) is not None
