#!/usr/bin/env bash
# sqs_10m.sh - one SQS queue of N (default 10 million) messages of 1 KiB:
# the server's resident memory per queued message, the disk it takes, and
# the time a restart after kill -9 needs before the queue serves again.
#
# Starts its own sluice on a loopback port with a fresh data dir (removed
# on exit), fills one queue with sluice-load sqs (SendMessageBatch of 10 over
# 16 connections), reads VmRSS and the data dir's size, kills the server
# with SIGKILL, restarts it, and times start-up until /health answers and the
# queue's counts are back. Writes a markdown report.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SLUICE_BIN=${SLUICE_BIN:-$ROOT/build/sluice}
SLUICE_LOAD=${SLUICE_LOAD:-$ROOT/build/benches/sluice-load}
messages=10000000
size=1024
out=$ROOT/benches/results/sqs-10m.md

while [ $# -gt 0 ]; do
	case $1 in
	--messages) messages=$2; shift 2 ;;
	--record-size) size=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help)
		echo "usage: benches/sqs_10m.sh [--messages N] [--record-size BYTES] [--out FILE]"
		exit 0 ;;
	*) echo "sqs_10m.sh: unknown flag $1" >&2; exit 2 ;;
	esac
done
case $messages$size in *[!0-9]*) echo "sqs_10m.sh: numbers only" >&2; exit 2 ;; esac
[ -x "$SLUICE_BIN" ] && [ -x "$SLUICE_LOAD" ] || { echo "sqs_10m.sh: build sluice and sluice-load first (or set SLUICE_BIN, SLUICE_LOAD)" >&2; exit 1; }

dir=$(mktemp -d /tmp/sluice-10m-XXXXXX)
port=$((20000 + RANDOM % 20000))
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

start() {
	"$SLUICE_BIN" --listen "127.0.0.1:$port" --data-dir "$dir/data" >>"$dir/server.log" 2>&1 &
	pid=$!
}
healthy() {
	curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1
}
rss_kib() {
	awk '/^VmRSS/ {print $2}' "/proc/$pid/status"
}
sqs() {
	curl -sf "http://127.0.0.1:$port/" -H 'Content-Type: application/x-amz-json-1.0' \
		-H "X-Amz-Target: AmazonSQS.$1" -H 'Authorization: AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0' \
		-d "$2"
}

start
for _ in $(seq 100); do healthy && break; sleep 0.1; done
rss0=$(rss_kib)
t0=$(date +%s.%N)
"$SLUICE_LOAD" sqs --endpoint "127.0.0.1:$port" --queue tenm --depth "$messages" \
	--fill-connections 16 --consumers 1 --duration 0.1 --record-size "$size" --keep-queue \
	--json-summary "$dir/fill.json" >"$dir/fill.log" 2>&1 || { cat "$dir/fill.log" >&2; exit 1; }
t1=$(date +%s.%N)
url=$(sqs ListQueues '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["QueueUrls"][0])')
count() {
	sqs GetQueueAttributes "{\"QueueUrl\":\"$url\",\"AttributeNames\":[\"ApproximateNumberOfMessages\"]}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["Attributes"]["ApproximateNumberOfMessages"])'
}
n_before=$(count)
sleep 2 # the last flushes, and one tick
rss1=$(rss_kib)
disk=$(du -sk "$dir/data" | cut -f1)
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
t2=$(date +%s.%N)
start
until healthy; do sleep 0.05; done
t3=$(date +%s.%N)
n_after=$(count)
t4=$(date +%s.%N)
rss2=$(rss_kib)
got=$(sqs ReceiveMessage "{\"QueueUrl\":\"$url\",\"MaxNumberOfMessages\":10}" |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("Messages",[])))')

python3 - "$out" <<EOF
import sys
n, size = $messages, $size
rss0, rss1, rss2, disk = $rss0, $rss1, $rss2, $disk
fill_s, restart_s, first_s = $t1 - $t0, $t3 - $t2, $t4 - $t2
lines = [
    "# One SQS queue of %s messages of %d bytes" % (format(n, ","), size),
    "",
    "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); commit $(git -C "$ROOT" rev-parse --short HEAD)",
    "- sluice \`--durability sync\` (the default), one queue (one partition per worker, the default); filled with \`sluice-load sqs --depth\` (SendMessageBatch of 10 over 16 connections; its 0.1 s consumer takes a few thousand, which stay in flight).",
    "",
    "| measure | value |",
    "|---|---:|",
    "| messages in the queue after the fill | $n_before |",
    "| fill time | %.1f s (%s msg/s) |" % (fill_s, format(int(n / fill_s), ",")),
    "| server RSS, empty | %.1f MiB |" % (rss0 / 1024),
    "| server RSS, full | %.1f MiB |" % (rss1 / 1024),
    "| resident bytes per queued message | %.1f |" % ((rss1 - rss0) * 1024 / n),
    "| data dir on disk | %.2f GiB (%.0f bytes per message) |" % (disk / 1048576, disk * 1024 / n),
    "| restart after kill -9 until /health (page cache dropped) | %.1f s |" % restart_s,
    "| ... until GetQueueAttributes answers | %.1f s, %s messages |" % (first_s, "$n_after"),
    "| server RSS after the restart | %.1f MiB |" % (rss2 / 1024),
    "| a ReceiveMessage after the restart | $got messages |",
]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
