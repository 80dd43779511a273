#!/bin/sh
# The compose monitor: salescast-monitor every $SALESCAST_MONITOR_EVERY seconds (default 900)
# on $SALESCAST_NEW_DATA, reports to $SALESCAST_REPORTS_DIR (a volume the UI reads). Exit code 1
# (alerts raised) is a result, not a failure of the loop; the alert log keeps it.
set -u
every=${SALESCAST_MONITOR_EVERY:-900}
while :; do
    salescast-monitor
    code=$?
    [ "$code" -gt 1 ] && echo "monitor: exit $code (see the message above)" >&2
    sleep "$every" &
    wait $!
done
