"""mssql.tls.audit_report: write the fleet report of an audit on the controller."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.findings import CHECK_IDS
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES, message
from ansible_collections.mssql.tls.plugins.plugin_utils.report.changes import add_changes
from ansible_collections.mssql.tls.plugins.plugin_utils.report.collect import host_result, host_run
from ansible_collections.mssql.tls.plugins.plugin_utils.report.document import (
    SCENARIOS,
    SEVERITIES,
    build_report,
    reaches_fail_level,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.report.files import (
    previous_generated_utc,
    write_files,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.report.html_report import render_html
from ansible_collections.mssql.tls.plugins.plugin_utils.report.junit import render_junit
from ansible_collections.mssql.tls.plugins.plugin_utils.report.markdown import render_markdown
from ansible_collections.mssql.tls.plugins.plugin_utils.report.summary import fail_message, summary_lines

FORMATS = ("json", "md", "html", "junit")
FILE_NAMES = {"json": "report.json", "md": "report.md", "html": "report.html", "junit": "junit.xml"}

ARGUMENT_SPEC = {
    "hosts": {"type": "list", "elements": "str", "required": True},
    "dest": {"type": "path", "required": True},
    "lang": {"type": "str", "default": "en", "choices": list(LANGUAGES)},
    "fail_on": {"type": "str", "default": "none", "choices": ["none", *SEVERITIES[1:]]},
    "formats": {"type": "list", "elements": "str", "default": list(FORMATS), "choices": list(FORMATS)},
    "facts_var": {"type": "str", "default": "audit_facts_result"},
    "assessment_var": {"type": "str", "default": "audit_assessment"},
    "before_facts_var": {"type": "str"},
    "before_assessment_var": {"type": "str"},
    "change_vars": {"type": "list", "elements": "str", "default": []},
}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super().run(task_vars=task_vars)
        args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC, required_by={"before_facts_var": ["before_assessment_var"]}
        )[1]
        task_vars = task_vars or {}
        hostvars = task_vars.get("hostvars") or {}
        unknown = [h for h in args["hosts"] if h not in hostvars]
        if unknown:
            raise AnsibleActionFail(f"hosts: not in the inventory: {', '.join(unknown)}")

        lang = args["lang"]

        def text(key: str, **params: object) -> str:
            return message(key, lang, **params)

        facts_var, assessment_var = args["facts_var"], args["assessment_var"]
        change = bool(args["before_assessment_var"] or args["change_vars"])
        runs = {}
        if change:
            # Hosts of this play that a failed or unreachable task removed from it.
            play_all = task_vars.get("ansible_play_hosts_all") or []
            active = set(task_vars.get("ansible_play_hosts") or play_all)
            hosts = []
            for name in args["hosts"]:
                after, runs[name] = host_run(
                    name,
                    hostvars[name],
                    facts_var=facts_var,
                    assessment_var=assessment_var,
                    before_facts_var=args["before_facts_var"],
                    before_assessment_var=args["before_assessment_var"],
                    change_vars=args["change_vars"],
                    left_play=name in play_all and name not in active,
                    not_audited_after=text("report.change.not_audited_after"),
                )
                hosts.append(after)
        else:
            hosts = [host_result(name, hostvars[name], facts_var, assessment_var) for name in args["hosts"]]
        titles = {n: message(f"scenario.{n}", lang) for n in SCENARIOS}
        dest = Path(args["dest"])

        def build(generated_utc: str) -> dict:
            report = build_report(
                hosts, checks=CHECK_IDS, scenario_titles=titles, lang=lang, generated_utc=generated_utc
            )
            return add_changes(report, runs, lang, text) if change else report

        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        report = build(now)
        report = build(previous_generated_utc(dest, report) or now)

        renderers = {
            "json": lambda: json.dumps(report, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
            "md": lambda: render_markdown(report, text),
            "html": lambda: render_html(report, text),
            "junit": lambda: render_junit(report, text),
        }
        files = {FILE_NAMES[f]: renderers[f]() for f in args["formats"]}
        try:
            written = write_files(dest, files)
        except OSError as exc:
            raise AnsibleActionFail(f"dest: cannot write the report into {dest}: {exc}") from None

        failing = reaches_fail_level(report, args["fail_on"])
        result.update(
            changed=bool(written),
            dest=str(dest),
            files=sorted(str(dest / name) for name in files),
            written=sorted(written),
            summary=report["summary"],
            summary_lines=summary_lines(report, lang),
            fail_level_reached=failing,
            fail_message=fail_message(report, args["fail_on"], lang) if failing else "",
        )
        return result
