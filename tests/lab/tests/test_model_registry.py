"""The registry behaves like Windows': case-insensitive, typed, '/' inside key names."""

from __future__ import annotations

import pytest
from winlab import registry as reg


def test_names_are_case_insensitive_and_keep_their_case() -> None:
    r = reg.new_registry()
    reg.set_value(r, "HKLM\\SOFTWARE\\Vendor", "MixedCase", "REG_SZ", "x")
    assert reg.get_value(r, "hklm\\software\\VENDOR", "mixedcase").data == "x"
    key = reg.find_key(r, "HKEY_LOCAL_MACHINE\\Software\\vendor")
    assert key is not None and key.name == "Vendor"
    assert [v.name for v in key.values.values()] == ["MixedCase"]


def test_slash_is_part_of_a_key_name() -> None:
    r = reg.new_registry()
    path = "HKLM\\SYSTEM\\S\\Ciphers\\AES 128/128"
    reg.set_value(r, path, "Enabled", "REG_DWORD", 0xFFFFFFFF)
    ciphers = reg.find_key(r, "HKLM\\SYSTEM\\S\\Ciphers")
    assert list(ciphers.subkeys) == ["aes 128/128"]
    assert reg.find_key(r, "HKLM\\SYSTEM\\S\\Ciphers\\AES 128") is None


def test_ensure_key_creates_only_missing_levels_and_keeps_siblings() -> None:
    r = reg.new_registry()
    reg.set_value(r, "HKLM\\A\\B", "Sibling", "REG_DWORD", 7)
    created = reg.set_value(r, "HKLM\\A\\B\\C\\D", "V", "REG_SZ", "x")
    assert created == ["HKLM\\A\\B\\C", "HKLM\\A\\B\\C\\D"]
    assert reg.get_value(r, "HKLM\\A\\B", "Sibling").data == 7
    assert reg.set_value(r, "HKLM\\A\\B\\C\\D", "V", "REG_SZ", "y") == []


@pytest.mark.parametrize(
    ("type_", "stored", "wire"),
    [
        ("REG_DWORD", 0xFFFFFFFF, -1),
        ("REG_DWORD", 1, 1),
        ("REG_QWORD", 0xFFFFFFFFFFFFFFFF, -1),
        ("REG_BINARY", b"\x00\x01", "AAE="),
        ("REG_MULTI_SZ", ["a", "b"], ["a", "b"]),
        ("REG_EXPAND_SZ", "%SystemRoot%", "%SystemRoot%"),
    ],
)
def test_wire_form_is_what_dotnet_returns(type_: str, stored: object, wire: object) -> None:
    assert reg.to_wire(reg.RegValue("v", type_, stored)) == {"type": type_, "data": wire}


def test_check_data_accepts_signed_and_unsigned_dwords() -> None:
    assert reg.check_data("REG_DWORD", -1) == 0xFFFFFFFF
    assert reg.check_data("REG_DWORD", 4294967295) == 0xFFFFFFFF
    assert reg.check_data("REG_BINARY", "AAE=") == b"\x00\x01"


@pytest.mark.parametrize(
    ("type_", "data", "message"),
    [
        ("REG_DWORD", 1 << 32, "does not fit in 32 bits"),
        ("REG_DWORD", "1", "expected an integer"),
        ("REG_DWORD", True, "expected an integer"),
        ("REG_SZ", 5, "expected a string"),
        ("REG_MULTI_SZ", "a", "expected a list of strings"),
        ("REG_BINARY", "***", "expected valid base64"),
        ("REG_LINK", "x", "expected one of"),
    ],
)
def test_bad_data_names_the_field_and_what_was_expected(type_: str, data: object, message: str) -> None:
    with pytest.raises(reg.RegistryError, match=message):
        reg.check_data(type_, data)


def test_bad_paths_are_rejected_with_the_expected_form() -> None:
    with pytest.raises(reg.RegistryError, match="HKLM, HKCR or HKU"):
        reg.split_path("HKXX\\A")
    with pytest.raises(reg.RegistryError, match="empty key name"):
        reg.split_path("HKLM\\A\\\\B")


def test_delete_key_needs_recurse_for_subkeys() -> None:
    r = reg.new_registry()
    reg.ensure_key(r, "HKLM\\A\\B\\C")
    with pytest.raises(reg.RegistryError, match="recurse"):
        reg.delete_key(r, "HKLM\\A\\B", recurse=False)
    assert reg.delete_key(r, "HKLM\\A\\B", recurse=True)
    assert not reg.key_exists(r, "HKLM\\A\\B")
    assert reg.delete_key(r, "HKLM\\A\\B", recurse=True) is False


def test_match_keys_expands_star_segments() -> None:
    r = reg.new_registry()
    for inst in ("MSSQL15.A", "MSSQL16.B"):
        reg.set_value(r, f"HKLM\\SQL\\{inst}\\Setup", "SQLBinRoot", "REG_SZ", inst)
    reg.ensure_key(r, "HKLM\\SQL\\Other")
    found = reg.match_keys(r, "HKLM\\SQL\\*\\Setup")
    assert [p for p, _subkey in found] == ["HKLM\\SQL\\MSSQL15.A\\Setup", "HKLM\\SQL\\MSSQL16.B\\Setup"]


def test_json_round_trip_keeps_types_and_names() -> None:
    r = reg.new_registry()
    reg.set_value(r, "HKLM\\K/1", "Bin", "REG_BINARY", b"\xff")
    reg.set_value(r, "HKLM\\K/1", "D", "REG_DWORD", 0xFFFFFFFF)
    reg.set_value(r, "HKCR\\CLSID\\{X}", "", "REG_SZ", "default")
    back = reg.registry_from_json(reg.registry_to_json(r))
    assert reg.get_value(back, "HKLM\\k/1", "bin").data == b"\xff"
    assert reg.get_value(back, "HKLM\\K/1", "D").data == 0xFFFFFFFF
    assert reg.get_value(back, "HKCR\\CLSID\\{X}", "").data == "default"
