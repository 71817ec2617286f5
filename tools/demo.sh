#!/usr/bin/env bash
# make demo: start the lab fleet, audit it (check mode), show what clients see, print the report.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
STATE=${DEMO_STATE:-.lab-demo}
REPORT_DIR=${DEMO_REPORT_DIR:-demo-report}
LANG_REPORT=${DEMO_LANG:-en}
INVENTORY="$STATE/inventory.yml"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"

lab() { PYTHONPATH="$PWD/tests/lab" "$VENV/bin/python" -m winlab "$@"; }

lab down --state-dir "$STATE" >/dev/null 2>&1 || true
trap 'lab down --state-dir "$STATE" >/dev/null 2>&1 || true' EXIT

echo "==> Starting the lab fleet (every profile in tests/lab/profiles)"
lab up --state-dir "$STATE" --profiles tests/lab/profiles --inventory "$INVENTORY" --subnet 127.78.0

echo
echo "==> Audit in check mode: one agent batch per host, nothing changed on any host"
"$VENV/bin/ansible-playbook" -i "$INVENTORY" playbooks/audit.yml --check \
  -e "mssql_tls_report_dir=$PWD/$REPORT_DIR" -e "mssql_tls_report_lang=$LANG_REPORT"

if [ -f playbooks/probe.yml ]; then
  echo
  echo "==> What clients see on the wire (TDS prober against every SQL instance)"
  "$VENV/bin/ansible-playbook" -i "$INVENTORY" playbooks/probe.yml
fi

echo
echo "==> WinRM commands per host during the demo"
lab stats --state-dir "$STATE" | "$VENV/bin/python" -c '
import json, sys
for host, counters in sorted(json.load(sys.stdin).items()):
    print("  %-14s %s" % (host, counters["commands"]))
'

echo
echo "==> Fleet report ($REPORT_DIR/report.md)"
# The summary and the hosts x scenarios matrix: the report's first two sections.
awk '/^## /{n++} n>=1 && n<=2' "$REPORT_DIR/report.md"
echo
echo "Full reports: $REPORT_DIR/report.html (open in a browser), report.md, report.json, junit.xml"
