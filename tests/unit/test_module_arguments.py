"""Bad arguments to every module fail before any work, with a message naming the field and its form.

Each case runs the module's action plugin as Ansible does, over a connection that records
commands and a socket layer that refuses to connect: a bad argument must cost no round trip to
the host (nor a probe), and must raise AnsibleActionFail (Ansible shows its message; any other
exception is shown as a traceback). The message starts with, or names, the field.
"""

from __future__ import annotations

import importlib
import re
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible_collections.mssql.tls.tests.unit.facts.winhost import compliant_2022_host, facts_of

MODULES_DIR = Path(__file__).resolve().parents[2] / "plugins" / "modules"
# Modules being written (issue 12): their cases are added when they land.
NOT_YET: set[str] = set()

FACTS = facts_of(compliant_2022_host())
RUN_ID = "20261207T191500Z-ab12cd"


def facts_with(**changes: Any) -> dict[str, Any]:
    return {**FACTS, **changes}


class RecordingConnection:
    """A connection that must not be used: validation comes before any round trip."""

    _shell = SimpleNamespace(tmpdir=None)

    def __init__(self) -> None:
        self.commands: list[str] = []

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self.commands.append(cmd)
        raise AssertionError("a bad argument reached the host")


class Templar:
    def template(self, value):
        return value


def run_action(module: str, args: dict[str, Any], task_vars: dict[str, Any] | None = None):
    plugin = importlib.import_module(f"ansible_collections.mssql.tls.plugins.action.{module}")
    task = SimpleNamespace(args=args, check_mode=False, async_val=0, diff=False, action=f"mssql.tls.{module}")
    connection = RecordingConnection()
    action = plugin.ActionModule(task, connection, play_context=None, loader=None, templar=Templar())
    return action.run(task_vars=task_vars or {}), connection


# (module, args, task vars, the start of the message)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    # every module: an unknown argument, named with the ones that exist
    *[
        (m, {"bogus": 1}, {}, "Unsupported parameters for (None) module: bogus. Supported parameters")
        for m in (
            "agent_ping",
            "assess",
            "reboot",
            "rollback",
            "schannel_protocols",
            "cipher_suites",
            "certificate_purpose",
            "sql_encryption",
            "tds_probe",
        )
    ],
    ("tls_facts", {"gather_subset": ["all"]}, {}, "Unsupported parameters for (None) module: gather_subset"),
    ("audit_report", {"hosts": ["h"], "dest": "/tmp/r", "bogus": 1}, {}, "Unsupported parameters for (None)"),
    ("pairing", {"hosts": ["h"], "bogus": 1}, {}, "Unsupported parameters for (None) module: bogus"),
    # assess
    ("assess", {"lang": "fr"}, {}, "value of lang must be one of: en, ja, got: fr"),
    ("assess", {"expiry_warning_days": "soon"}, {}, "argument 'expiry_warning_days' is of type str"),
    (
        "assess",
        {"facts": FACTS, "expiry_warning_days": -3},
        {},
        "expiry_warning_days: expected a non-negative",
    ),
    (
        "assess",
        {"facts": "nope"},
        {},
        "argument 'facts' is of type str and we were unable to convert to dict",
    ),
    ("assess", {"facts": {"schema_version": 99}}, {}, "facts.schema_version: expected 1, got 99"),
    ("assess", {"facts": {"schema_version": 1}}, {}, "facts.os: expected a dict"),
    ("assess", {}, {}, "facts: no mssql_tls facts for this host; run mssql.tls.tls_facts first"),
    # audit_report
    ("audit_report", {"hosts": ["h"]}, {"hostvars": {"h": {}}}, "missing required arguments: dest"),
    (
        "audit_report",
        {"hosts": ["ghost"], "dest": "/tmp/r"},
        {"hostvars": {}},
        "hosts: not in the inventory: ghost",
    ),
    (
        "audit_report",
        {"hosts": ["h"], "dest": "/tmp/r", "formats": ["pdf"]},
        {"hostvars": {"h": {}}},
        "value of formats must be one or more of: json, md, html, junit. Got no match for: pdf",
    ),
    (
        "audit_report",
        {"hosts": ["h"], "dest": "/tmp/r", "fail_on": "sometimes"},
        {"hostvars": {"h": {}}},
        "value of fail_on must be one of: none, ",
    ),
    (
        "audit_report",
        {"hosts": ["h"], "dest": "/tmp/r", "before_facts_var": "before"},
        {"hostvars": {"h": {}}},
        "missing parameter(s) required by 'before_facts_var': before_assessment_var",
    ),
    (
        "audit_report",
        {"hosts": ["h"], "dest": "/proc/mssql-tls-report"},
        {"hostvars": {"h": {}}},
        "dest: cannot write the report into /proc/mssql-tls-report",
    ),
    # tds_probe (no agent: the check is that no socket is opened)
    ("tds_probe", {"targets": ["sql01:x"]}, {}, "targets[0]: expected 'host', 'host:port' or '[ipv6]:port'"),
    (
        "tds_probe",
        {"targets": [{"host": "a", "port": 99999}]},
        {},
        "targets[0].port: expected an integer 1..65535",
    ),
    ("tds_probe", {"targets": [{"host": "a", "bad": 1}]}, {}, "targets[0].bad: expected only the keys"),
    ("tds_probe", {"mode": "tds8"}, {}, "value of mode must be one of: tds, strict, tls, both, got: tds8"),
    (
        "tds_probe",
        {"targets": ["a"], "profiles": ["nope"]},
        {},
        "profiles[0]: expected one of ['dotnet45-default'",
    ),
    (
        "tds_probe",
        {"targets": ["a"], "mode": "strict", "profiles": ["odbc17"]},
        {},
        "profiles: expected profiles",
    ),
    ("tds_probe", {"targets": ["a"], "timeout": -1}, {}, "timeout: expected positive seconds, got -1.0"),
    (
        "tds_probe",
        {"targets": ["a"], "exchange_timeout": 0},
        {},
        "exchange_timeout: expected positive seconds",
    ),
    ("tds_probe", {"targets": ["a"], "timeout": "soon"}, {}, "argument 'timeout' is of type str"),
    ("tds_probe", {"targets": ["a"], "delay": -1}, {}, "delay: expected seconds >= 0, got -1.0"),
    ("tds_probe", {"targets": ["a"], "max_workers": 0}, {}, "max_workers: expected an integer >= 1, got 0"),
    ("tds_probe", {"targets": ["a"], "baseline": "yesterday"}, {}, "baseline: expected a registered"),
    ("tds_probe", {"targets": ["a"], "baseline": [{"x": 1}]}, {}, "baseline[0]: expected a probe result"),
    (
        "tds_probe",
        {},
        {"inventory_hostname": "h"},
        "targets: not given, and the host var mssql_tls_instances",
    ),
    (
        "tds_probe",
        {},
        {"inventory_hostname": "h", "mssql_tls_instances": "sql01"},
        "mssql_tls_instances: expected a list of {name, port} mappings",
    ),
    (
        "tds_probe",
        {},
        {"inventory_hostname": "h", "mssql_tls_instances": [{"name": 1, "port": 1433}]},
        "mssql_tls_instances[0].name: expected an instance name (string), got 1",
    ),
    # schannel_protocols
    ("schannel_protocols", {"protocols": {"TLS 9": "enabled"}}, {}, "protocols: unknown protocol 'TLS 9'"),
    ("schannel_protocols", {"protocols": {"TLS 1.2": "maybe"}}, {}, "protocols['TLS 1.2']: expected one of"),
    (
        "schannel_protocols",
        {"protocols": {"TLS 1.2": {"Server": 1}}},
        {},
        "protocols['TLS 1.2']: unknown side",
    ),
    ("schannel_protocols", {"protocols": "tls12"}, {}, "argument 'protocols' is of type str"),
    (
        "schannel_protocols",
        {"force": "perhaps"},
        {},
        "argument 'force' is of type str and we were unable to convert",
    ),
    ("schannel_protocols", {"run_id": "a b"}, {}, "run_id: expected a run id like 20261207T191500Z-ab12cd"),
    ("schannel_protocols", {"lang": "de"}, {}, "value of lang must be one of: en, ja, got: de"),
    (
        "schannel_protocols",
        {"facts": {"schema_version": 2}},
        {},
        "facts: expected mssql_tls facts of schema_version 1",
    ),
    ("schannel_protocols", {"facts": facts_with(schannel="on")}, {}, "facts.schannel: expected a dict"),
    ("schannel_protocols", {"facts": facts_with(certificates={})}, {}, "facts.certificates: expected a list"),
    # reboot
    (
        "reboot",
        {"delay_s": "soon"},
        {},
        "argument 'delay_s' is of type str and we were unable to convert to int",
    ),
    ("reboot", {"delay_s": -5}, {}, "delay_s: expected 0..600 seconds, got -5"),
    ("reboot", {"delay_s": 601}, {}, "delay_s: expected 0..600 seconds, got 601"),
    (
        "reboot",
        {"reason": "it's time"},
        {},
        "reason: expected 1-200 printable ASCII characters without quotes",
    ),
    ("reboot", {"reason": ""}, {}, "reason: expected 1-200 printable ASCII characters"),
    ("reboot", {"reason": "x" * 201}, {}, "reason: expected 1-200 printable ASCII characters"),
    ("reboot", {"reason": "$(Restart-Computer)\n"}, {}, "reason: expected 1-200 printable ASCII characters"),
    ("reboot", {"reboot_timeout": 0}, {}, "reboot_timeout: expected a positive number of seconds, got 0"),
    ("reboot", {"window_start": "22:00"}, {}, "window_start/window_end: set both, or neither"),
    ("reboot", {"window_start": "25:00", "window_end": "26:00"}, {}, "window_start: expected HH:MM"),
    ("reboot", {"run_id": "../etc"}, {}, "run_id: expected a run id like"),
    (
        "reboot",
        {"window_start": "22:00", "window_end": "23:00", "facts": facts_with(host=[])},
        {},
        "facts.host: expected a dict",
    ),
    # rollback
    ("rollback", {"run": "../../journal"}, {}, "mssql.tls.rollback: run: expected a run id like"),
    ("rollback", {"run_id": "today"}, {}, "mssql.tls.rollback: run_id: expected a run id like"),
    ("rollback", {"force": "perhaps"}, {}, "argument 'force' is of type str"),
    ("rollback", {"lang": "fr"}, {}, "value of lang must be one of: en, ja, got: fr"),
    # cipher_suites
    ("cipher_suites", {"remove": [""]}, {}, "remove[0]: '' is not a suite-name pattern"),
    ("cipher_suites", {"order": ["bogus suite"]}, {}, "order[0]: 'bogus suite' is not a cipher-suite name"),
    ("cipher_suites", {"policy_owned": "maybe"}, {}, "value of policy_owned must be one of"),
    (
        "cipher_suites",
        {"restore_for_certificates": "x"},
        {},
        "argument 'restore_for_certificates' is of type",
    ),
    ("cipher_suites", {"run_id": "1"}, {}, "run_id: expected a run id like"),
    ("cipher_suites", {"facts": facts_with(cipher_suites=None)}, {}, "facts.cipher_suites: expected a dict"),
    # certificate_purpose
    ("certificate_purpose", {"hashes": ["md4"]}, {}, "hashes[0]: expected one of ['md5', 'sha1'"),
    (
        "certificate_purpose",
        {"thumbprints": ["../x"]},
        {},
        "thumbprints[0]: expected 40 hex digits, got '../x'",
    ),
    (
        "certificate_purpose",
        {"keep_if_unrestricted": ["all"]},
        {},
        "keep_if_unrestricted[0]: expected one of",
    ),
    ("certificate_purpose", {"force": "perhaps"}, {}, "argument 'force' is of type str"),
    ("certificate_purpose", {"run_id": "x"}, {}, "run_id: expected a run id like"),
    ("certificate_purpose", {"facts": facts_with(sql=[])}, {}, "facts.sql: expected a dict"),
    # sql_encryption
    ("sql_encryption", {"certificate": "'; DROP TABLE x"}, {}, "certificate"),
    ("sql_encryption", {"hashes": ["md4"]}, {}, "hashes[0]: expected one of ['md5', 'sha1'"),
    ("sql_encryption", {"force_encryption": "maybe"}, {}, "argument 'force_encryption' is of type str"),
    ("sql_encryption", {"instances": {"a": 1}}, {}, "argument 'instances' is of type dict"),
    ("sql_encryption", {"run_id": "x"}, {}, "run_id: expected a run id like"),
    ("sql_encryption", {"facts": facts_with(certificates={})}, {}, "facts.certificates: expected a list"),
    # sql_service
    ("sql_service", {}, {}, "missing required arguments: instances"),
    ("sql_service", {"instances": [], "bogus": 1}, {}, "Unsupported parameters for (None) module: bogus"),
    ("sql_service", {"instances": ["NOPE"], "facts": FACTS}, {}, "instances: no SQL Server instance NOPE"),
    ("sql_service", {"instances": ["MSSQLSERVER"], "timeout": 0}, {}, "timeout: expected a positive number"),
    (
        "sql_service",
        {"instances": ["MSSQLSERVER"], "window_start": "10:00"},
        {},
        "window_start/window_end: set",
    ),
    (
        "sql_service",
        {"instances": ["MSSQLSERVER"], "window_start": "25:00", "window_end": "01:00"},
        {},
        "window_start: expected HH:MM",
    ),
    ("sql_service", {"instances": ["MSSQLSERVER"], "run_id": "x"}, {}, "run_id: expected a run id like"),
    (
        "sql_service",
        {"instances": ["MSSQLSERVER"], "facts": facts_with(host=1)},
        {},
        "facts.host: expected a dict",
    ),
    (
        "sql_service",
        {"instances": ["MSSQLSERVER"], "allow_primary_restart": "x"},
        {},
        "argument 'allow_primary",
    ),
    # pairing (controller only)
    ("pairing", {}, {}, "missing required arguments: hosts"),
    ("pairing", {"hosts": ["ghost"]}, {"hostvars": {}}, "hosts: not in the inventory: ghost"),
    (
        "pairing",
        {"hosts": ["h"], "lang": "fr"},
        {"hostvars": {"h": {}}},
        "value of lang must be one of: en, ja",
    ),
    (
        "pairing",
        {"hosts": ["h"]},
        {"hostvars": {"h": {"ansible_facts": {"mssql_tls": {"schema_version": 1}}}}},
        "hostvars[h]: facts.os: expected a dict",
    ),
    (
        "pairing",
        {"hosts": ["h"]},
        {"hostvars": {"h": {"ansible_facts": {"mssql_tls": FACTS}, "mssql_tls_connects_to": [3]}}},
        "hostvars[h].mssql_tls_connects_to: expected a list of host names",
    ),
]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a bad argument led to a connection attempt")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize(
    ("module", "args", "task_vars", "message"),
    CASES,
    ids=[f"{m}-{i}" for i, (m, *_rest) in enumerate(CASES)],
)
def test_a_bad_argument_fails_naming_the_field_before_any_round_trip(module, args, task_vars, message):
    with pytest.raises(AnsibleActionFail) as raised:
        run_action(module, args, task_vars)
    assert str(raised.value.message).startswith(message), raised.value.message


def test_every_module_has_bad_argument_cases():
    modules = {p.stem for p in MODULES_DIR.glob("*.py") if p.stem != "__init__"}
    covered = {module for module, *_rest in CASES}
    assert modules - NOT_YET <= covered, sorted(modules - NOT_YET - covered)
    assert not covered & NOT_YET
    unknown_argument = {m for m, _a, _v, message in CASES if message.startswith("Unsupported parameters")}
    assert unknown_argument == modules - NOT_YET


def test_facts_of_an_older_collection_version_are_gathered_again_not_refused():
    # A section the older version did not have is missing: the module gathers (one command).
    older = {k: v for k, v in FACTS.items() if k != "bindings"}
    with pytest.raises(AnsibleConnectionFailure, match="reached the host"):
        run_action("schannel_protocols", {"facts": older, "run_id": RUN_ID})


SECRET_NAME = re.compile(r"pass|secret|token|credential|private|pfx|pin$", re.I)


def test_an_argument_that_could_carry_a_secret_is_no_log():
    # Today no module takes one (docs/security.md); a new one must hide it from logs and output.
    for path in (MODULES_DIR.parent / "action").glob("*.py"):
        if path.stem in NOT_YET:
            continue
        spec = importlib.import_module(
            f"ansible_collections.mssql.tls.plugins.action.{path.stem}"
        ).ARGUMENT_SPEC
        for name, option in spec.items():
            if SECRET_NAME.search(name):
                assert option.get("no_log") is True, f"{path.stem}.{name}"
