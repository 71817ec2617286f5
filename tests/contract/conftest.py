"""The agent script and the bootstrap, parsed once per session with the tree-sitter PowerShell grammar."""

from __future__ import annotations

import ps_ast
import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent import client


@pytest.fixture(scope="session")
def agent_source() -> bytes:
    return client.AGENT_PATH.read_bytes()


@pytest.fixture(scope="session")
def agent_tree(agent_source):
    return ps_ast.parse(agent_source)


@pytest.fixture(scope="session")
def bootstrap_tree(agent_source):
    return ps_ast.parse(client.bootstrap_script(agent_source))
