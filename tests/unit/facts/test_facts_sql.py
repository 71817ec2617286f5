from ansible_collections.mssql.tls.plugins.plugin_utils.facts.sql import instance_id_of_key, service_names
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import cert_entry, make_cert
from ansible_collections.mssql.tls.tests.unit.facts.winhost import Host, Instance, facts_of

TP = "0123456789abcdef0123456789abcdef01234567"


def only_instance(**kwargs):
    return facts_of(Host(instances=[Instance(**kwargs)]))["sql"]["instances"][0]


def test_version_comes_from_sqlservr_exe_before_the_setup_key():
    instance = only_instance(id="MSSQL12.MSSQLSERVER", version="12.0.4416.0", patch_level="12.1.4100.1")
    assert (instance["version"], instance["version_source"], instance["major"]) == (
        "12.0.4416.0",
        "sqlservr.exe",
        12,
    )
    assert instance["tls12"]["supported"] is False


def test_without_the_binary_the_patch_level_is_used_with_its_minor_rounded_down():
    instance = only_instance(id="MSSQL12.MSSQLSERVER", version=None, patch_level="12.1.4100.1")
    assert (instance["version"], instance["version_source"]) == ("12.0.4100.1", "setup_patch_level")
    assert instance["tls12"]["branch"] == "2014 SP1 GDR"


def test_named_instances_use_their_own_service_names():
    assert service_names("MSSQLSERVER") == ("MSSQLSERVER", "SQLSERVERAGENT")
    assert service_names("PAYROLL") == ("MSSQL$PAYROLL", "SQLAgent$PAYROLL")
    instance = only_instance(name="PAYROLL", id="MSSQL15.PAYROLL", version="15.0.4345.5", state="Stopped")
    # the batch cannot know these names: svc.query finds them by the prefixes MSSQL$ / SQLAgent$
    assert instance["service"] == {
        "name": "MSSQL$PAYROLL", "exists": True, "state": "Stopped", "start_mode": "Automatic"
    }
    assert instance["agent"]["name"] == "SQLAgent$PAYROLL" and instance["agent"]["exists"] is True


def test_default_instance_service_and_agent_state():
    instance = only_instance(state="Stopped")
    assert instance["service"]["state"] == "Stopped"
    assert instance["agent"]["name"] == "SQLSERVERAGENT"


def test_encryption_settings_and_bound_certificate_in_lower_case():
    instance = only_instance(certificate=TP.upper(), force_encryption=1, force_strict=1, port="14330")
    assert instance["certificate"]["bound"] == TP
    assert instance["certificate"]["bound_in_store"] is False
    assert (instance["force_encryption"], instance["force_strict"], instance["tcp_port"]) == (
        True,
        True,
        "14330",
    )


def test_an_empty_certificate_value_means_no_binding_and_auto_pick_candidates_are_listed():
    host = Host(instances=[Instance(certificate="")], certificates=[cert_entry(make_cert())])
    instance = facts_of(host)["sql"]["instances"][0]
    assert instance["certificate"]["bound"] is None
    assert len(instance["certificate"]["auto_pick_candidates"]) == 1


def test_cluster_and_availability_group_detection():
    instance = only_instance(clustered=True, hadr=True)
    assert (instance["clustered"], instance["cluster_name"], instance["hadr_enabled"]) == (
        True,
        "MSSQLSERVER-VS",
        True,
    )
    assert only_instance()["clustered"] is False


def test_instance_id_is_taken_from_path_from_source_keys():
    key = r"HKLM\SOFTWARE\Microsoft\Microsoft SQL Server\MSSQL15.PAYROLL\MSSQLServer\Parameters"
    assert instance_id_of_key(key) == "MSSQL15.PAYROLL"
    assert instance_id_of_key(r"HKLM\SOFTWARE\ODBC\ODBCINST.INI\SQL Server") is None
