#!/usr/bin/env bash
# make demo: start the lab fleet, then the change window end to end: audit and preview (check
# mode, nothing changed), remediation with the opt-in reboot and restart, verify; print the
# before/after matrix and where the HTML report is; stop the lab.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
STATE=${DEMO_STATE:-.lab-demo}
REPORT_DIR=${DEMO_REPORT_DIR:-demo-report}
LANG_REPORT=${DEMO_LANG:-en}
FORKS=${DEMO_FORKS:-20}
INVENTORY="$STATE/inventory.yml"
# Every scenario profile of the lab, the 2012 R2 mix, the failover cluster and the pairing
# fleet. Left out: s4-rdp and s4-winrm-https, whose weak certificate is also the RDP / WinRM
# listener's and is (rightly) refused without force - the integration tests show that case.
PROFILES=${DEMO_PROFILES:-compliant s1 s2 s3 s4 s4-latent s5 s6 s6-2019 s6-tls mixed-2012r2 fci-node1 fci-node2 tls10-needed app2012r2 app2016old sql2019dhe sql2022gcm}
export ANSIBLE_CONFIG="$PWD/ansible.cfg"

lab() { PYTHONPATH="$PWD/tests/lab" "$VENV/bin/python" -m winlab "$@"; }
playbook() { "$VENV/bin/ansible-playbook" -i "$INVENTORY" --forks "$FORKS" "$@"; }

profile_files=()
for name in $PROFILES; do
  [ -f "tests/lab/profiles/$name.yml" ] && profile_files+=("tests/lab/profiles/$name.yml")
done

lab down --state-dir "$STATE" >/dev/null 2>&1 || true
trap 'lab down --state-dir "$STATE" >/dev/null 2>&1 || true' EXIT

echo "==> Starting the lab fleet (${#profile_files[@]} simulated Windows hosts)"
lab up --state-dir "$STATE" --profiles "${profile_files[@]}" --inventory "$INVENTORY" --subnet 127.78.0

echo
echo "==> Audit and preview in check mode: every finding and the full plan, nothing changed"
playbook playbooks/remediate.yml --check \
  -e "mssql_tls_report_dir=$PWD/$REPORT_DIR/preview" -e "mssql_tls_report_lang=$LANG_REPORT" >/dev/null
echo "    preview report: $REPORT_DIR/preview/report.html"

echo
echo "==> The change window: fix, reboot and restart (opt-in, window open), verify, report"
lab stats --state-dir "$STATE" --reset >/dev/null
playbook playbooks/remediate.yml -e mssql_tls_reboot=true -e mssql_tls_restart=true \
  -e "mssql_tls_report_dir=$PWD/$REPORT_DIR" -e "mssql_tls_report_lang=$LANG_REPORT" \
  | sed -n '/^PLAY RECAP/,$p'

echo "==> WinRM commands per host during the change window"
lab stats --state-dir "$STATE" | "$VENV/bin/python" -c '
import json, sys
for host, counters in sorted(json.load(sys.stdin).items()):
    print("  %-14s %s" % (host, counters["commands"]))
'

echo
echo "==> A second run: nothing left to change, one WinRM command per host"
lab stats --state-dir "$STATE" --reset >/dev/null
playbook playbooks/remediate.yml -e mssql_tls_reboot=true -e mssql_tls_restart=true \
  -e "mssql_tls_report_dir=$PWD/$REPORT_DIR/second-run" | sed -n '/^PLAY RECAP/,$p'
lab stats --state-dir "$STATE" | "$VENV/bin/python" -c '
import json, sys
commands = {h: c["commands"] for h, c in json.load(sys.stdin).items()}
print("  commands per host: " + ", ".join(f"{n}" for n in sorted(set(commands.values()))))
'

echo
echo "==> Before / after ($REPORT_DIR/report.md)"
# The summary and the before/after matrix: the report's first sections.
awk '/^## /{n++} n>=1 && n<=3' "$REPORT_DIR/report.md"
echo
echo "HTML report: $PWD/$REPORT_DIR/report.html (preview: $REPORT_DIR/preview/report.html)"
