"""One fleet report from the report.json of several slices of the same run (docs/scaling.md).

A fleet audited in slices (AWX/AAP job slicing, or ``--limit`` per site) writes one
report.json per slice. ``merge_reports`` turns them into the document a single run over
every host would have written: the hosts of all slices, sorted by name, with the summary
counted again over all of them (``summary.remediation`` too, for before/after reports).
Pure: documents in, document out; reading the files is the action plugin's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .changes import is_change_report, remediation_summary
from .document import SCHEMA_VERSION, HostResult, build_report, host_entry


class MergeError(ValueError):
    """The slices cannot make one report; the message names the slice and the field."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise MergeError(message)


def _shape(index: int, report: Any) -> Mapping[str, Any]:
    where = f"report {index + 1}"
    _check(isinstance(report, Mapping), f"{where}: expected a report.json document (an object)")
    _check(
        report.get("schema_version") == SCHEMA_VERSION,
        f"{where}: field 'schema_version': expected {SCHEMA_VERSION}, got {report.get('schema_version')!r}",
    )
    for name, kind in (
        ("lang", str),
        ("generated_utc", str),
        ("summary", Mapping),
        ("scenarios", list),
        ("checks", list),
        ("hosts", list),
    ):
        _check(isinstance(report.get(name), kind), f"{where}: field {name!r}: expected {kind.__name__}")
    for position, host in enumerate(report["hosts"]):
        _check(
            isinstance(host, Mapping)
            and isinstance(host.get("name"), str)
            and isinstance(host.get("findings"), list),
            f"{where}: field 'hosts[{position}]': expected a host entry with a name and findings",
        )
    return report


def _base_result(host: Mapping[str, Any]) -> HostResult:
    return HostResult(
        name=host["name"],
        findings=list(host["findings"]),
        os_build=host.get("os_build"),
        sql_instances=list(host.get("sql_instances") or []),
        error=host.get("error"),
    )


def merge_reports(reports: Sequence[Any], generated_utc: str | None = None) -> dict[str, Any]:
    """The fleet report of several slice reports.

    The slices must share ``schema_version``, ``lang``, the scenario titles and the kind of
    report (audit, or before/after with ``summary.remediation``). A host may appear in more
    than one slice only with the same entry (merging a report with itself is harmless);
    different entries for one host raise MergeError. ``checks`` is the union of the slices'.
    ``generated_utc`` defaults to the latest of the slices'.
    """
    _check(len(reports) > 0, "expected at least one report to merge")
    checked = [_shape(i, r) for i, r in enumerate(reports)]
    first = checked[0]
    change = is_change_report(first)
    for index, report in enumerate(checked[1:], start=2):
        _check(
            report["lang"] == first["lang"],
            f"report {index}: field 'lang': {report['lang']!r}, report 1 is {first['lang']!r} "
            "(the texts of a report are written in its language; audit every slice in one language)",
        )
        _check(
            report["scenarios"] == first["scenarios"],
            f"report {index}: field 'scenarios': differs from report 1 "
            "(written by another version of mssql.tls?)",
        )
        _check(
            is_change_report(report) == change,
            f"report {index}: a {'before/after' if is_change_report(report) else 'audit'} report, "
            f"report 1 is {'a before/after' if change else 'an audit'} report",
        )

    hosts: dict[str, Mapping[str, Any]] = {}
    for index, report in enumerate(checked, start=1):
        for host in report["hosts"]:
            seen = hosts.get(host["name"])
            _check(
                seen is None or seen == host,
                f"report {index}: host {host['name']!r} is also in an earlier report, with other results",
            )
            hosts[host["name"]] = host
    entries = [dict(hosts[name]) for name in sorted(hosts)]
    for entry in entries:
        recomputed = host_entry(_base_result(entry))
        _check(
            all(entry.get(k) == v for k, v in recomputed.items()),
            f"host {entry['name']!r}: its scenarios, max_severity or finding order do not follow from its "
            "findings (an edited report.json?)",
        )

    titles = {s["scenario"]: s["title"] for s in first["scenarios"]}
    checks = sorted({c for report in checked for c in report["checks"]})
    merged = build_report(
        (_base_result(e) for e in entries),
        checks=checks,
        scenario_titles=titles,
        lang=first["lang"],
        generated_utc=generated_utc or max(r["generated_utc"] for r in checked),
    )
    merged["hosts"] = entries
    if change:
        merged["summary"] = {**merged["summary"], "remediation": remediation_summary(entries)}
    return merged
