"""mssql.tls.audit_report: write the fleet report of an audit on the controller (or merge slices' reports)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.findings import CHECK_IDS
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES, message
from ansible_collections.mssql.tls.plugins.plugin_utils.report import pairing as report_pairing
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
from ansible_collections.mssql.tls.plugins.plugin_utils.report.merge import MergeError, merge_reports
from ansible_collections.mssql.tls.plugins.plugin_utils.report.pairing_render import summary_line
from ansible_collections.mssql.tls.plugins.plugin_utils.report.summary import fail_message, summary_lines

FORMATS = ("json", "md", "html", "junit")
FILE_NAMES = {"json": "report.json", "md": "report.md", "html": "report.html", "junit": "junit.xml"}

ARGUMENT_SPEC = {
    "hosts": {"type": "list", "elements": "str"},
    "merge_reports": {"type": "list", "elements": "path"},
    "dest": {"type": "path", "required": True},
    "lang": {"type": "str", "default": "en", "choices": list(LANGUAGES)},
    "fail_on": {"type": "str", "default": "none", "choices": ["none", *SEVERITIES[1:]]},
    "formats": {"type": "list", "elements": "str", "default": list(FORMATS), "choices": list(FORMATS)},
    "facts_var": {"type": "str", "default": "audit_facts_result"},
    "assessment_var": {"type": "str", "default": "audit_assessment"},
    "before_facts_var": {"type": "str"},
    "before_assessment_var": {"type": "str"},
    "change_vars": {"type": "list", "elements": "str", "default": []},
    "pairing_var": {"type": "str", "default": "audit_pairing_result"},
    "before_pairing_var": {"type": "str"},
}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super().run(task_vars=task_vars)
        args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            required_by={"before_facts_var": ["before_assessment_var"]},
            required_one_of=[["hosts", "merge_reports"]],
            mutually_exclusive=[
                ["hosts", "merge_reports"],
                ["merge_reports", "before_facts_var"],
                ["merge_reports", "before_assessment_var"],
            ],
        )[1]
        task_vars = task_vars or {}
        lang = args["lang"]

        def text(key: str, **params: object) -> str:
            return message(key, lang, **params)

        dest = Path(args["dest"])
        if args["merge_reports"] is not None:
            if args["change_vars"]:
                raise AnsibleActionFail("parameters are mutually exclusive: merge_reports|change_vars")
            report = self._merged(args["merge_reports"], lang, dest)
            result.update(self._write(report, args, dest, lang))
            return result

        hostvars = task_vars.get("hostvars") or {}
        unknown = [h for h in args["hosts"] if h not in hostvars]
        if unknown:
            raise AnsibleActionFail(f"hosts: not in the inventory: {', '.join(unknown)}")

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
        # Fleet pairing (mssql.tls.pairing, run once): its findings join the hosts, its matrix the report.
        pairing = report_pairing.pairing_result(hostvars, args["hosts"], args["pairing_var"])
        before_pairing = report_pairing.pairing_result(hostvars, args["hosts"], args["before_pairing_var"])
        hosts = report_pairing.with_pair_findings(hosts, pairing)
        runs = report_pairing.with_before_pair_findings(runs, before_pairing)

        def build(generated_utc: str) -> dict:
            report = build_report(
                hosts,
                checks=(*CHECK_IDS, *report_pairing.checks(pairing)),
                scenario_titles=titles,
                lang=lang,
                generated_utc=generated_utc,
            )
            report = add_changes(report, runs, lang, text) if change else report
            if pairing is not None:
                report["pairing"] = report_pairing.pairing_section(pairing, before_pairing, args["hosts"])
            return report

        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        report = build(now)
        report = build(previous_generated_utc(dest, report) or now)
        result.update(self._write(report, args, dest, lang))
        return result

    @staticmethod
    def _merged(sources: list, lang: str, dest: Path) -> dict:
        """The fleet report of the slices' report.json files (a directory stands for its report.json)."""
        documents = []
        for source in sources:
            path = Path(source)
            if path.is_dir():
                path = path / FILE_NAMES["json"]
            try:
                documents.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                raise AnsibleActionFail(f"merge_reports: cannot read {path}: {exc}") from None
        try:
            report = merge_reports(documents)
        except MergeError as exc:
            raise AnsibleActionFail(
                f"merge_reports: {exc} (in the order given: {', '.join(map(str, sources))})"
            ) from None
        if report["lang"] != lang:
            raise AnsibleActionFail(
                f"lang: the slices' reports are in {report['lang']!r}; "
                f"set lang: {report['lang']} to merge them"
            )
        # The same timestamp as an identical report already in dest, so an unchanged merge writes nothing.
        previous = previous_generated_utc(dest, report)
        return {**report, "generated_utc": previous} if previous else report

    @staticmethod
    def _write(report: dict, args: dict, dest: Path, lang: str) -> dict:
        def text(key: str, **params: object) -> str:
            return message(key, lang, **params)

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
        return {
            "changed": bool(written),
            "dest": str(dest),
            "files": sorted(str(dest / name) for name in files),
            "written": sorted(written),
            "summary": report["summary"],
            "summary_lines": summary_lines(report, lang)
            + ([summary_line(report["pairing"], text)] if report.get("pairing") else []),
            "fail_level_reached": failing,
            "fail_message": fail_message(report, args["fail_on"], lang) if failing else "",
        }
