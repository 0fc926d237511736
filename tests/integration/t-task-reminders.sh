#!/usr/bin/env bash
# Task reminders through `tick`: none before the due day, one on it, never two;
# none for a deal that was lost, whose task the report and digest leave out too.
set -u
D=${DEALMAIL_BIN:?}
T=$(mktemp -d /tmp/dealmail-tasks.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
check() { local what=$1; shift; if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi; }
cat > "$T/dealmail.conf" <<EOC
[dealmail]
address = ventas@example.com
timezone = America/Mexico_City
[rep "ana@example.com"]
name = Ana
language = es
[rep "luis@example.com"]
name = Luis
language = es
[rep "maria@example.com"]
name = Maria
role = manager
EOC
dm() { DEALMAIL_SECRET=0123456789abcdef0123456789abcdef "$D" -q -c "$T/dealmail.conf" --db "$T/dm.db" "$@"; }
reminders() {
	dm export --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for o in d["outbox"] if o["kind"] == "notification" and "Tarea" in o["subject"]))'
}
dm init >/dev/null
export DEALMAIL_NOW=2026-11-23T15:00:00Z
dm deal add --title ACME --contact c@acme.mx --owner ana@example.com --stage demo >/dev/null
printf 'From: Ana <ana@example.com>\nTo: ventas@example.com\nSubject: Re: [deal #1] ACME\nMessage-ID: <t1@x>\n\ntarea: Llamar a Rodrigo @ 2026-11-25\n' | dm ingest
check "the task exists" [ "$(dm export --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["due"])')" = 2026-11-25 ]
DEALMAIL_NOW=2026-11-24T15:00:00Z dm tick
check "the day before: no reminder" [ "$(reminders)" = 0 ]
DEALMAIL_NOW=2026-11-25T14:00:00Z dm tick
check "the due day: one reminder to the owner" [ "$(reminders)" = 1 ]
DEALMAIL_NOW=2026-11-25T18:00:00Z dm tick
DEALMAIL_NOW=2026-11-26T18:00:00Z dm tick
check "later ticks: still one" [ "$(reminders)" = 1 ]
# a second deal with a task, lost before the task is due: no reminder, and
# neither the report nor the digest counts its task as due
dm deal add --title Globex --contact g@globex.example --owner ana@example.com --stage demo >/dev/null
printf 'From: Ana <ana@example.com>\nTo: ventas@example.com\nSubject: Re: [deal #2] Globex\nMessage-ID: <t2@x>\n\ntarea: Llamar a Marta @ 2026-11-27\n' | dm ingest
printf 'From: Ana <ana@example.com>\nTo: ventas@example.com\nSubject: Re: [deal #2] Globex\nMessage-ID: <t3@x>\n\nperdido: precio\n' | dm ingest
DEALMAIL_NOW=2026-11-28T15:00:00Z dm tick
check "a lost deal's task: no reminder" [ "$(reminders)" = 1 ]
overdue=$(DEALMAIL_NOW=2026-11-28T15:00:00Z dm report --format json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"]["overdue"])')
check "report: the lost deal's task is not overdue (only deal 1's is: got $overdue)" [ "$overdue" = 1 ]
check "digest: the lost deal's task is not listed" \
	bash -c "! DEALMAIL_NOW=2026-11-28T15:00:00Z DEALMAIL_SECRET=0123456789abcdef0123456789abcdef '$D' -q -c '$T/dealmail.conf' --db '$T/dm.db' digest --rep ana@example.com --print | grep -q 'Llamar a Marta'"
# a deal given to another rep takes its open tasks along: the reminder goes
# to the new owner
dm deal add --title Initech --contact i@initech.example --owner ana@example.com --stage demo >/dev/null
printf 'From: Ana <ana@example.com>\nTo: ventas@example.com\nSubject: Re: [deal #3] Initech\nMessage-ID: <t4@x>\n\ntarea: Demo @ 2026-12-01\n' | dm ingest
printf 'From: Maria <maria@example.com>\nTo: ventas@example.com\nSubject: Re: [deal #3] Initech\nMessage-ID: <t5@x>\n\nowner: luis@example.com\n' | dm ingest
DEALMAIL_NOW=2026-12-01T15:00:00Z dm tick
to=$(dm export --json | /usr/bin/python3 -c '
import json, sys
print(" ".join(o["to"] for o in json.load(sys.stdin)["outbox"] if o["kind"] == "notification" and "Demo" in o["subject"]))')
check "a reassigned deal's task reminds its new owner (got: $to)" [ "$to" = luis@example.com ]
[ "$fail" = 0 ] && echo "t-task-reminders: ok"
exit $fail
