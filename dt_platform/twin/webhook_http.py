"""One bounded HTTP POST for the webhook deliverer, on the standard library (``urllib``).

Bounded three ways: a socket timeout on connecting and on every read, a deadline on the whole
response, and at most ``max_body`` bytes of response body read (a receiver's answer only tells
success or failure; nobody needs a megabyte of it). Redirects are not followed: a webhook URL
that moved is a configuration error to fix, and following a POST elsewhere would send signed
alarm data to an address nobody configured.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

CHUNK = 8_192


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    truncated: bool = False
    """The receiver sent more than ``max_body`` bytes; the rest was not read."""


class HttpPost(Protocol):
    """POST ``body`` to ``url``; return the response whatever its status, raise ``OSError``
    (``TimeoutError``, ``ConnectionError``, ``urllib.error.URLError``) if none came."""

    def __call__(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float, max_body: int
    ) -> HttpResponse: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirect)


def _read(resp, max_body: int, deadline: float) -> tuple[bytes, bool]:
    data = bytearray()
    while len(data) <= max_body:
        if time.monotonic() > deadline:
            raise TimeoutError("the receiver took longer than the timeout to send its response")
        chunk = resp.read(min(CHUNK, max_body + 1 - len(data)))
        if not chunk:
            return bytes(data), False
        data += chunk
    return bytes(data[:max_body]), True


def urllib_post(
    url: str, body: bytes, headers: Mapping[str, str], timeout: float, max_body: int
) -> HttpResponse:
    """:class:`HttpPost` with ``urllib.request`` (see the module doc for its bounds)."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        resp = _OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:  # a response, just not a 2xx one
        with exc:
            data, cut = _read(exc, max_body, deadline)
            return HttpResponse(exc.code, data, dict(exc.headers or {}), cut)
    with resp:
        data, cut = _read(resp, max_body, deadline)
        return HttpResponse(resp.status, data, dict(resp.headers), cut)
