"""Over HTTPS the winrm connection validates the host's certificate, and the lab does not turn that off."""

from __future__ import annotations

import yaml
from winlab.testing import PROFILES_DIR, running_lab

from .ansible_run import run


def test_agent_ping_over_https_with_certificate_validation_on() -> None:
    with running_lab([PROFILES_DIR / "s3.yml"], https=True, tds=False) as lab:
        settings = yaml.safe_load(lab.inventory.read_text())["all"]["children"]["windows"]["vars"]
        assert settings["ansible_winrm_scheme"] == "https"
        assert "ansible_winrm_server_cert_validation" not in settings  # the plugin's default: validate

        trusted = run("ansible", "-i", str(lab.inventory), "all", "-m", "mssql.tls.agent_ping")
        assert trusted.returncode == 0, trusted.stdout + trusted.stderr
        assert '"ping": "pong"' in trusted.stdout

        # The same host with the system CAs only: its certificate is not trusted, so no connection.
        untrusted = run(
            "ansible", "-i", str(lab.inventory), "all", "-m", "mssql.tls.agent_ping",
            "-e", "ansible_winrm_ca_trust_path=/etc/ssl/certs/ca-certificates.crt",
        )  # fmt: skip
        assert untrusted.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stdout + untrusted.stderr
        assert lab.stats()["s3"]["commands"] == 1  # only the trusted run reached the host
