"""A small JSON-over-HTTPS client for the e2e control plane.

The harness talks to the apiserver with plain dicts (the shape `kubectl get -o json` prints and
amldoctor snapshots hold) instead of the official client's models, so that a helper can write
any field, including ones the models would reject, and so that each user's 403s come back as
real `Status` bodies.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class ApiError(Exception):
    """A non-2xx answer from the apiserver, with its `Status` body."""

    def __init__(self, method: str, path: str, status: int, body: dict[str, Any]):
        self.status = status
        self.reason = body.get("reason", "")
        self.body = body
        super().__init__(f"{method} {path}: {status} {body.get('message', body)}")


class KubeClient:
    """One authenticated identity against one apiserver."""

    def __init__(self, server: str, context: ssl.SSLContext, token: str | None = None):
        self.server = server.rstrip("/")
        self._context = context
        self._token = token

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> dict[str, Any]:
        url = self.server + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self._token:
            req.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(req, context=self._context, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                status_body = json.loads(raw)
            except ValueError:
                status_body = {"message": raw.decode(errors="replace")}
            raise ApiError(method, path, err.code, status_body) from None
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            return {"text": raw.decode(errors="replace")}

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.request("GET", path, params=params)

    def list(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """List a collection; items get back the `kind`/`apiVersion` that lists strip."""
        result = self.request("GET", path, params=params)
        kind = result.get("kind", "").removesuffix("List")
        items = result.get("items") or []
        for item in items:
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", result.get("apiVersion"))
        return items

    def create(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, obj)

    def merge_patch(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", path, patch, content_type="application/merge-patch+json")

    def delete(self, path: str, *, missing_ok: bool = True, **params: Any) -> dict[str, Any]:
        try:
            return self.request("DELETE", path, params=params)
        except ApiError as err:
            if err.status == 404 and missing_ok:
                return {}
            raise

    def can(self, method: str, path: str, **params: Any) -> int:
        """The HTTP status this identity gets for a request (200, 403, 404...), for RBAC checks."""
        try:
            self.request(method, path, params=params)
        except ApiError as err:
            return err.status
        return 200
