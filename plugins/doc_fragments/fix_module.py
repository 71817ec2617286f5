# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The options every fix module shares: where its facts come from, the run its journal
    # records belong to, the language of its messages (plugin_utils/ansible_adapter.py run_fix).
    DOCUMENTATION = r"""
options:
  facts:
    description:
      - The C(mssql_tls) facts to plan from. Defaults to C(ansible_facts.mssql_tls) of the host;
        when there are none the module gathers them itself (one round trip).
    type: dict
  run_id:
    description:
      - Groups the journal records of one change window (C(20261207T191500Z-ab12cd)); rollback
        restores a run. Generated when not given; the roles pass C(mssql_tls_run_id).
    type: str
  lang:
    description: Language of the messages in the result.
    type: str
    choices: [en, ja]
    default: en
"""
