"""Where else the host uses a certificate: the RDP listener, WinRM HTTPS listeners, http.sys.

Locations and formats: docs/reference-windows-bindings.md (the table of section 10).
- RDP (section 1): ``RDP-Tcp`` value ``SSLCertificateSHA1Hash``, REG_BINARY, the 20 thumbprint
  bytes in display order; absent = the self-signed certificate of the ``Remote Desktop`` store
  (not ``My``, so no certificate of ``My`` is in use then).
- WinRM (section 2): one key per listener ``WSMAN\\Listener\\<Address>+<Transport>`` with
  ``certThumbprint`` (REG_SZ hex), ``Port`` (DWORD), ``hostname``, ``enabled`` (absent = on,
  inference). Listeners created by Group Policy are not in this key (no source found).
- http.sys (section 3): ``SslBindingInfo\\<ip>:<port>`` and ``SslSniBindingInfo\\<any>`` (with
  ``HostnamePort``), ``SslCertHash`` binary thumbprint, ``AppId`` binary GUID,
  ``SslCertStoreName`` (absent or empty = ``MY``). The registry is read, never written.

Every thumbprint here is lower-case hex, as in ``certificates[]``.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from typing import Any

from . import registry as reg

RDP_KEY = r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp"
RDP_VALUE = "SSLCertificateSHA1Hash"
WSMAN_LISTENER_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WSMAN\Listener"
HTTP_PARAMETERS_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\HTTP\Parameters"
SSL_BINDING_KEY = HTTP_PARAMETERS_KEY + r"\SslBindingInfo"
SSL_SNI_BINDING_KEY = HTTP_PARAMETERS_KEY + r"\SslSniBindingInfo"
# WinRM's http.sys application id (reference-windows-bindings.md 2, criteo-cookbooks WINRM_APPID).
WINRM_APP_ID = "{afebb9ad-9b97-4a91-9ab5-daf4d59122f6}"
SERVICES = ("rdp", "winrm_https", "http_sys")


def _binary_hex(node: reg.Node | None, name: str) -> str | None:
    entry = reg.raw_value(node, name)
    if entry is None or entry.get("type") != "REG_BINARY" or not isinstance(entry.get("data"), str):
        return None
    try:
        raw = base64.b64decode(entry["data"], validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() or None


def _thumbprint_text(text: str | None) -> str | None:
    cleaned = (text or "").replace(" ", "").strip().lower()
    return cleaned or None


def _guid(node: reg.Node | None, name: str) -> str | None:
    hexed = _binary_hex(node, name)
    if hexed is None or len(hexed) != 32:
        return None
    return "{" + str(uuid.UUID(bytes_le=bytes.fromhex(hexed))) + "}"


def rdp_binding(node: reg.Node | None) -> dict[str, Any]:
    """``custom`` true: the listener uses ``thumbprint`` from LocalMachine\\My; false: the self-signed one."""
    if node is None:
        return {"read": False, "custom": None, "thumbprint": None}
    thumbprint = _binary_hex(node, RDP_VALUE) if reg.exists(node) else None
    return {"read": True, "custom": thumbprint is not None, "thumbprint": thumbprint}


def winrm_listeners(node: reg.Node | None) -> dict[str, Any]:
    listeners = []
    for key in reg.subkey_names(node):
        sub = reg.subkey(node, key)
        address, _plus, transport = key.rpartition("+")
        enabled = reg.dword(sub, "enabled")
        listeners.append(
            {
                "key": key,
                "address": address or None,
                "transport": transport.upper(),
                "port": reg.dword(sub, "Port"),
                "hostname": reg.text(sub, "hostname") or None,
                "enabled": enabled is None or enabled != 0,
                "thumbprint": _thumbprint_text(reg.text(sub, "certThumbprint")),
                "complete": sub is not None,
            }
        )
    return {"read": node is not None, "listeners": listeners}


def _http_entries(node: reg.Node | None, kind: str) -> list[dict[str, Any]]:
    entries = []
    for key in reg.subkey_names(node):
        sub = reg.subkey(node, key)
        store = (reg.text(sub, "SslCertStoreName") or "").strip() or "MY"
        entries.append(
            {
                "kind": kind,
                # SNI keys are matched on HostnamePort, not on the key name (section 3).
                "endpoint": (reg.text(sub, "HostnamePort") or key) if kind == "sni" else key,
                "thumbprint": _binary_hex(sub, "SslCertHash"),
                "app_id": _guid(sub, "AppId"),
                "store": store.upper(),
                "complete": sub is not None,
            }
        )
    return entries


def http_sys_bindings(ip_node: reg.Node | None, sni_node: reg.Node | None) -> dict[str, Any]:
    return {
        "read": ip_node is not None and sni_node is not None,
        "endpoints": _http_entries(ip_node, "ip") + _http_entries(sni_node, "sni"),
    }


def bindings_facts(
    rdp: reg.Node | None,
    wsman: reg.Node | None,
    ssl_ip: reg.Node | None,
    ssl_sni: reg.Node | None,
) -> dict[str, Any]:
    """The ``bindings`` facts; a node that could not be read is ``None`` (``read: false``)."""
    listeners = winrm_listeners(wsman)
    return {
        "rdp": rdp_binding(rdp),
        "winrm_https": {
            "read": listeners["read"],
            "listeners": [entry for entry in listeners["listeners"] if entry["transport"] == "HTTPS"],
        },
        "http_sys": http_sys_bindings(ssl_ip, ssl_sni),
    }


def used_by(bindings: Mapping[str, Any], thumbprint: str) -> list[dict[str, Any]]:
    """What else presents the certificate ``thumbprint`` of LocalMachine\\My."""
    thumbprint = thumbprint.lower()
    uses: list[dict[str, Any]] = []
    rdp = bindings.get("rdp") or {}
    if rdp.get("thumbprint") == thumbprint:
        uses.append({"service": "rdp", "where": "RDP-Tcp"})
    for listener in (bindings.get("winrm_https") or {}).get("listeners") or []:
        if listener.get("thumbprint") == thumbprint:
            uses.append({"service": "winrm_https", "where": listener["key"]})
    for endpoint in (bindings.get("http_sys") or {}).get("endpoints") or []:
        if endpoint.get("thumbprint") == thumbprint and endpoint.get("store") == "MY":
            uses.append(
                {"service": "http_sys", "where": endpoint["endpoint"], "app_id": endpoint.get("app_id")}
            )
    return uses


def unread(bindings: Mapping[str, Any]) -> list[str]:
    """The binding sources the gather could not read, wholly or one entry (``complete: false``):
    whether they use a certificate is unknown."""
    out = []
    for name in SERVICES:
        source = bindings.get(name) or {}
        entries = source.get("listeners") or source.get("endpoints") or []
        if not source.get("read") or any(not entry.get("complete", True) for entry in entries):
            out.append(name)
    return out
