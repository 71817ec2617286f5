"""The client of a running host's control routes (``/winlab/<route>`` next to ``/wsman``)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from .errors import LabError
from .server import HostAddress


def control_request(host: HostAddress, method: str, route: str, body: Any = None, timeout: float = 30) -> Any:
    """Call a host's /winlab/<route>; non-2xx answers raise LabError with the server's message."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        f"{host.scheme}://{host.address}:{host.port}/winlab/{route}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    context = ssl._create_unverified_context() if host.scheme == "https" else None  # lab certificate
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        raise LabError(f"{host.name}: {method} /winlab/{route} answered {exc.code}: {detail}") from None


def answers(host: HostAddress) -> bool:
    """True when the host's control route answers with the host's own name."""
    try:
        return control_request(host, "GET", "host", timeout=2).get("name") == host.name
    except (OSError, LabError):
        return False
