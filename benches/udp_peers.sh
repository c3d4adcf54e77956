#!/usr/bin/env bash
# udp_peers.sh - the kernel UDP path, side by side: `sluice-load udp-sink`
# (a bare recvmmsg receiver that only counts: the ceiling of the kernel's
# UDP path on this machine) against sluice's socket driver ingesting and
# persisting, both fed by `sluice-load udp` with the same datagrams (64-byte
# records, 10 to a datagram, 4 producers) on loopback.
#
#   blast:  the producers send as fast as their sockets take, never waiting;
#           records/s is what the receiver took (sink: counted; sluice:
#           acknowledged once durable).
#   window: sluice only, each producer with 8 datagrams in flight (closed
#           loop): what a producer that waits for acknowledgements gets.
#   half:   sluice only, open loop at half the window run's datagram rate:
#           the acknowledgement latency at 50% of the maximum.
# Each under --durability sync and batch, in interleaved rounds; one load
# runs at a time. Writes benches/results/udp-ingest.md (or --out).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
SLUICE_BIN=${SLUICE_BIN:-$repo/build/sluice}
LOAD_BIN=${LOAD_BIN:-$(dirname "$SLUICE_BIN")/benches/sluice-load}
rounds=3
duration=5
out="$repo/benches/results/udp-ingest.md"

while (($#)); do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "udp_peers.sh: unknown flag $1" >&2; exit 2 ;;
	esac
done
[[ -x $SLUICE_BIN && -x $LOAD_BIN ]] || { echo "udp_peers.sh: build sluice and sluice-load (SLUICE_BIN, LOAD_BIN)" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
num() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=d
for k in sys.argv[2:]: v=v[k]
print(v)' "$@"; }

# One sluice per durability mode, each with its own ports and data.
declare -A HTTP UDP
for mode in sync batch; do
	HTTP[$mode]=$(free_port)
	UDP[$mode]=$(free_port)
	mkdir -p "$work/$mode"
	"$SLUICE_BIN" --listen "127.0.0.1:${HTTP[$mode]}" --ingest-port "${UDP[$mode]}" \
		--data-dir "$work/$mode" --durability "$mode" >"$work/$mode.log" 2>&1 &
	pids+=($!)
done
for mode in sync batch; do
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:${HTTP[$mode]}/metrics" >/dev/null && break
		sleep 0.1
	done
	"$LOAD_BIN" kinesis --endpoint "127.0.0.1:${HTTP[$mode]}" --create --stream udp-bench \
		--shards 4 --duration 0 >/dev/null
done
SINK_PORT=$(free_port)

run_sink() { # round -> json
	local f="$work/r$1-sink.json"
	"$LOAD_BIN" udp-sink --endpoint "127.0.0.1:$SINK_PORT" --duration "$duration" --json "$f" \
		>"$work/sink.log" 2>&1 &
	local sp=$!
	sleep 0.3
	"$LOAD_BIN" udp --endpoint "127.0.0.1:$SINK_PORT" --window 0 --duration "$((duration + 1))" \
		>/dev/null 2>&1 || true
	wait "$sp" || true
	echo "$f"
}

run_sluice() { # round mode kind [rate] -> json
	local f="$work/r$1-$2-$3.json" extra=()
	case $3 in
	blast) extra=(--window 0) ;;
	window) extra=(--window 8) ;;
	half) extra=(--window 64 --rate "$4") ;;
	esac
	"$LOAD_BIN" udp --endpoint "127.0.0.1:${UDP[$2]}" --stream udp-bench --duration "$duration" \
		"${extra[@]}" --json "$f" >"$work/r$1-$2-$3.log" 2>&1 || true
	echo "$f"
}

median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print("%.1f" % statistics.median(v))' "$@"; }

declare -A V
for ((r = 1; r <= rounds; r++)); do
	f=$(run_sink "$r")
	V[sink]+=" $(num "$f" records_per_s)"
	echo "udp_peers.sh: round $r sink $(num "$f" records_per_s) records/s" >&2
	for mode in sync batch; do
		for kind in blast window; do
			f=$(run_sluice "$r" "$mode" "$kind")
			V[$mode-$kind]+=" $(num "$f" records_per_s)"
			V[$mode-$kind-p99]+=" $(num "$f" ack_latency_ms p99)"
			echo "udp_peers.sh: round $r sluice $mode $kind $(num "$f" records_per_s) records/s, ack p99 $(num "$f" ack_latency_ms p99) ms" >&2
		done
	done
done
# Half of the window runs' median rate, in datagrams/s (10 records each).
for mode in sync batch; do
	max=$(median ${V[$mode-window]})
	rate=$(python3 -c "print(int(float('$max') / 10 / 2))")
	f=$(run_sluice 0 "$mode" half "$rate")
	V[$mode-half]=$(num "$f" records_per_s)
	V[$mode-half-p99]=$(num "$f" ack_latency_ms p99)
	V[$mode-half-p50]=$(num "$f" ack_latency_ms p50)
	V[$mode-half-rate]=$rate
done

sink=$(median ${V[sink]})
{
	echo "# UDP ingest, kernel sockets: sluice against a bare recvmmsg receiver"
	echo
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr)"
	echo "- Commit: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- . ':!benches/results' || echo ', with uncommitted changes')"
	echo "- Load: \`sluice-load udp\`, 4 producers on loopback, 10 records of 64 bytes a datagram (about 850 bytes), 1,000 partition keys, stream of 4 shards; ${duration} s a run, $rounds interleaved rounds, medians."
	echo "- The ceiling: \`sluice-load udp-sink\`, one socket and recvmmsg of 64 that counts datagrams and the records in them and stores nothing, fed the same blast."
	echo
	echo "| run | records/s (median) | / recvmmsg ceiling | ack p99 ms (median) |"
	echo "|---|---:|---:|---:|"
	echo "| recvmmsg sink, blast | $sink | 1.00 | - |"
	for mode in sync batch; do
		for kind in blast window; do
			v=$(median ${V[$mode-$kind]})
			p99=-
			[[ $kind == blast ]] || p99=$(median ${V[$mode-$kind-p99]})
			echo "| sluice \`$mode\`, $kind | $v | $(python3 -c "print('%.2f' % (float('$v') / float('$sink')))") | $p99 |"
		done
	done
	echo
	echo "Acknowledgement latency at half the window runs' rate (open loop):"
	echo
	echo "| durability | offered datagrams/s | records/s | ack p50 ms | ack p99 ms |"
	echo "|---|---:|---:|---:|---:|"
	for mode in sync batch; do
		echo "| $mode | ${V[$mode-half-rate]} | ${V[$mode-half]} | ${V[$mode-half-p50]} | ${V[$mode-half-p99]} |"
	done
	echo
	echo "## Rounds"
	echo
	echo "| run | records/s per round |"
	echo "|---|---|"
	echo "| recvmmsg sink, blast |${V[sink]} |"
	for mode in sync batch; do
		for kind in blast window; do
			echo "| sluice \`$mode\`, $kind |${V[$mode-$kind]} |"
		done
	done
} >"$out"
echo "udp_peers.sh: wrote $out" >&2
