#!/usr/bin/env bash
# peers.sh - the side-by-side peer comparison for Kinesis PutRecords.
#
# The same load (connections, records per round trip, record size, duration)
# runs against sluice (PutRecords), Redis (pipelined XADD, fsync before every
# reply) and kinesalite (PutRecords on LevelDB). All servers stay up on their
# own loopback ports with fresh data dirs, but only one load runs at a time,
# in interleaved rounds (A B C A B C ...) so that noise from a shared machine
# spreads over every peer alike. Medians of the rounds go into a markdown
# table.
#
# Only loopback addresses are ever used. Every process started here is
# stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
PEERS_DIR=$ROOT/benches/.peers
KINESALITE_VERSION=3.3.3
STREAM=sluice-bench
SHARDS=4

rounds=3
duration=10
connections=8
batch=100
record_size=100
out=$ROOT/benches/results/kinesis-put.md
peers="sluice redis kinesalite"

usage() {
	cat <<EOF
usage: benches/peers.sh [--rounds N] [--duration S] [--connections C] [--batch B]
                        [--record-size BYTES] [--out FILE] [--peers LIST]

Runs sluice-load against sluice, redis-server and kinesalite with identical
parameters, in interleaved rounds, and writes a markdown table (default
benches/results/kinesis-put.md). The batch is the number of records per round
trip: one PutRecords of B records, or B pipelined XADDs.

  --rounds N          rounds; each runs every peer once (default $rounds)
  --duration S        seconds per run (default $duration)
  --connections C     producer connections (default $connections)
  --batch B           records per request = Redis pipeline depth (default $batch)
  --record-size BYTES payload bytes per record (default $record_size)
  --out FILE          markdown output (default benches/results/kinesis-put.md)
  --peers LIST        comma-separated subset of sluice,redis,kinesalite (default all)

Environment: SLUICE_ARGS adds server flags (e.g. "--workers 1").
SLUICE_BIN and SLUICE_LOAD override the server and load tool
binaries (default: from build/, built with meson + ninja when missing).
EOF
}

die() {
	echo "peers.sh: $*" >&2
	exit 1
}

# Numeric flags are checked here so a typo fails before anything starts.
want_int() {
	if ! [[ $2 =~ ^[0-9]{1,9}$ ]] || (($2 < 1)); then
		die "$1 wants a positive integer, got '$2'"
	fi
}

parse_args() {
	while (($#)); do
		case $1 in
		--rounds | --duration | --connections | --batch | --record-size | --out | --peers)
			(($# >= 2)) || die "$1 needs a value"
			case $1 in
			--rounds) want_int "$1" "$2"; rounds=$2 ;;
			--duration) want_int "$1" "$2"; duration=$2 ;;
			--connections) want_int "$1" "$2"; connections=$2 ;;
			--batch) want_int "$1" "$2"; batch=$2 ;;
			--record-size) want_int "$1" "$2"; record_size=$2 ;;
			--out) out=$2 ;;
			--peers) peers=${2//,/ } ;;
			esac
			shift 2
			;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown flag '$1' (see --help)" ;;
		esac
	done
	local p
	for p in $peers; do
		case $p in
		sluice | redis | kinesalite) ;;
		*) die "unknown peer '$p': want sluice, redis or kinesalite" ;;
		esac
	done
	[[ -n ${peers// /} ]] || die "--peers is empty"
}

has_peer() {
	[[ " $peers " == *" $1 "* ]]
}

# ---- installing what is missing ----

# Debian's package would start a redis service of its own on 6379; a
# policy-rc.d that refuses service starts keeps the install inert.
install_redis() {
	command -v redis-server >/dev/null && return
	(($(id -u) == 0)) || die "redis-server is missing; run as root or: apt-get install -y redis-server"
	local policy=/usr/sbin/policy-rc.d made_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
	fi
	apt-get install -y redis-server || { apt-get update && apt-get install -y redis-server; } ||
		{ ((made_policy)) && rm -f "$policy"; die "could not install redis-server"; }
	((made_policy)) && rm -f "$policy"
	return 0
}

install_kinesalite() {
	[[ -f $PEERS_DIR/node_modules/kinesalite/index.js ]] && return
	if ! command -v npm >/dev/null; then
		(($(id -u) == 0)) || die "npm is missing; run as root or: apt-get install -y nodejs npm"
		apt-get install -y nodejs npm || { apt-get update && apt-get install -y nodejs npm; }
	fi
	mkdir -p "$PEERS_DIR"
	# leveldown ships prebuilt binaries inside its package; nothing is compiled.
	npm install --prefix "$PEERS_DIR" --no-audit --no-fund "kinesalite@$KINESALITE_VERSION" >&2 ||
		die "npm install kinesalite failed"
}

find_sluice() {
	local f
	if [[ -x $BUILD/sluice ]]; then
		echo "$BUILD/sluice"
		return
	fi
	f=$(find "$BUILD" -maxdepth 3 -type f -name sluice -perm -u+x 2>/dev/null | head -n 1)
	echo "${f:-$BUILD/sluice}"
}

build_tools() {
	LOAD=${SLUICE_LOAD:-$BUILD/benches/sluice-load}
	SLUICE=${SLUICE_BIN:-$(find_sluice)}
	if [[ ! -x $LOAD ]] || { has_peer sluice && [[ ! -x $SLUICE ]]; }; then
		if [[ ! -d $BUILD ]]; then
			(cd "$ROOT" && meson setup build) >&2 || die "meson setup failed"
		fi
		ninja -C "$BUILD" >&2 || die "build failed"
		LOAD=${SLUICE_LOAD:-$BUILD/benches/sluice-load}
		SLUICE=${SLUICE_BIN:-$(find_sluice)}
	fi
	[[ -x $LOAD ]] || die "no sluice-load at $LOAD"
	if has_peer sluice; then
		[[ -x $SLUICE ]] || die "no sluice server at $SLUICE"
	fi
	return 0
}

# ---- processes ----

declare -A PORT=() PID=()
USED_PORTS=" "
TMP=""

cleanup() {
	local name pid i
	for name in "${!PID[@]}"; do
		pid=${PID[$name]}
		kill -TERM "$pid" 2>/dev/null || continue
	done
	for name in "${!PID[@]}"; do
		pid=${PID[$name]}
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	[[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
	return 0
}

port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Sets FREE_PORT (not echoed: a command substitution would run in a subshell
# and forget which ports were already handed out).
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 40000))
		[[ $USED_PORTS == *" $p "* ]] && continue
		port_busy "$p" && continue
		USED_PORTS+="$p "
		FREE_PORT=$p
		return
	done
	die "no free loopback port found"
}

# Wait until the peer accepts connections; a peer that died shows its log.
wait_ready() {
	local name=$1 i
	for ((i = 0; i < 300; i++)); do
		kill -0 "${PID[$name]}" 2>/dev/null || { tail -n 20 "$TMP/$name.log" >&2; die "$name exited at start"; }
		port_busy "${PORT[$name]}" && return
		sleep 0.1
	done
	tail -n 20 "$TMP/$name.log" >&2
	die "$name did not listen on 127.0.0.1:${PORT[$name]} within 30 s"
}

start_sluice() {
	# shellcheck disable=SC2086
	"$SLUICE" --listen "127.0.0.1:${PORT[sluice]}" --data-dir "$TMP/sluice" --durability sync \
		${SLUICE_ARGS:-} >"$TMP/sluice.log" 2>&1 &
	PID[sluice]=$!
}

# appendfsync always: the AOF is fsynced before a write is acknowledged,
# the same promise as sluice's --durability sync. No RDB snapshots.
start_redis() {
	redis-server --bind 127.0.0.1 --port "${PORT[redis]}" --dir "$TMP/redis" \
		--appendonly yes --appendfsync always --save '' --daemonize no \
		--protected-mode yes --logfile "$TMP/redis.log" >/dev/null 2>&1 &
	PID[redis]=$!
}

# kinesalite's own CLI listens on every interface; its module API lets us
# bind to loopback only, with the same options as
# `kinesalite --port P --path D --createStreamMs 0 --deleteStreamMs 0
#  --updateStreamMs 0 --shardLimit 1000`.
start_kinesalite() {
	node -e '
const [mod, path, port] = process.argv.slice(1);
const server = require(mod)({ path, createStreamMs: 0, deleteStreamMs: 0,
	updateStreamMs: 0, shardLimit: 1000 });
server.listen(Number(port), "127.0.0.1", () => console.log("listening on 127.0.0.1:" + port));
' "$PEERS_DIR/node_modules/kinesalite" "$TMP/kinesalite" "${PORT[kinesalite]}" \
		>"$TMP/kinesalite.log" 2>&1 &
	PID[kinesalite]=$!
}

start_peers() {
	local p
	for p in $peers; do
		mkdir -p "$TMP/$p"
		free_port
		PORT[$p]=$FREE_PORT
		"start_$p"
		wait_ready "$p"
		echo "peers.sh: $p listening on 127.0.0.1:${PORT[$p]} (pid ${PID[$p]})" >&2
	done
	for p in $peers; do
		[[ $p == redis ]] && continue
		"$LOAD" kinesis --endpoint "127.0.0.1:${PORT[$p]}" --stream "$STREAM" --create \
			--shards "$SHARDS" --duration 0 >&2 || die "could not create the stream on $p"
	done
}

# ---- running and collecting ----

# One load run; its JSON summary lands in $TMP/r<round>-<peer>.json.
run_one() {
	local r=$1 p=$2 mode=kinesis rc=0
	[[ $p == redis ]] && mode=redis
	"$LOAD" "$mode" --endpoint "127.0.0.1:${PORT[$p]}" --stream "$STREAM" \
		--connections "$connections" --batch "$batch" --record-size "$record_size" \
		--pipeline 1 --duration "$duration" --json-summary "$TMP/r$r-$p.json" \
		>"$TMP/r$r-$p.log" 2>&1 || rc=$?
	kill -0 "${PID[$p]}" 2>/dev/null || { tail -n 20 "$TMP/$p.log" >&2; die "$p died during round $r"; }
	if ((rc != 0)); then
		tail -n 8 "$TMP/r$r-$p.log" >&2
		echo "peers.sh: round $r on $p: sluice-load exited $rc" >&2
		rm -f "$TMP/r$r-$p.json"
		FAILED_RUNS=$((FAILED_RUNS + 1))
	fi
}

# First number for "key" in a sluice-load JSON summary (one key per line,
# the latency keys on one line), so no JSON tool is needed.
json_num() {
	sed -n "s/.*\"$2\": *\([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1
}

median() {
	sort -g | awk '{ v[NR] = $1 }
		END { if (NR == 0) print "n/a";
		      else if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a";
		else printf "%.2f\n", a / b }'
}

run_rounds() {
	local r p f
	FAILED_RUNS=0
	for ((r = 1; r <= rounds; r++)); do
		for p in $peers; do
			run_one "$r" "$p"
			f=$TMP/r$r-$p.json
			if [[ -f $f ]]; then
				printf 'peers.sh: round %d/%d %-10s %12s records/s  p99 %s ms  errors %s\n' \
					"$r" "$rounds" "$p" "$(json_num "$f" records_per_s)" \
					"$(json_num "$f" p99)" "$(json_num "$f" errors)" >&2
			fi
			sleep 1
		done
	done
}

# ---- the report ----

peer_median() {
	local p=$1 key=$2 r
	for ((r = 1; r <= rounds; r++)); do
		[[ -f $TMP/r$r-$p.json ]] && json_num "$TMP/r$r-$p.json" "$key"
	done | median
}

describe_peer() {
	case $1 in
	sluice) echo "sluice $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '(no commit)'), PutRecords, \`--durability sync${SLUICE_ARGS:+ $SLUICE_ARGS}\`" ;;
	redis) echo "$(redis-server --version | cut -d' ' -f1-3), XADD pipelined, AOF \`appendfsync always\`" ;;
	kinesalite) echo "kinesalite $KINESALITE_VERSION on Node.js $(node --version), PutRecords, LevelDB (no fsync per write)" ;;
	esac
}

report_rows() {
	local r p f
	echo "| round | peer | records/s | MB/s | p50 ms | p99 ms | p99.9 ms | errors | failed records |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
	for ((r = 1; r <= rounds; r++)); do
		for p in $peers; do
			f=$TMP/r$r-$p.json
			if [[ ! -f $f ]]; then
				echo "| $r | $p | failed | | | | | | |"
				continue
			fi
			echo "| $r | $p | $(json_num "$f" records_per_s) | $(json_num "$f" mb_per_s) |" \
				"$(json_num "$f" p50) | $(json_num "$f" p99) | $(json_num "$f" p999) |" \
				"$(json_num "$f" errors) | $(json_num "$f" failed_records) |"
		done
	done
}

report_medians() {
	local p q list i j
	read -r -a list <<<"$peers"
	echo "| peer | median records/s | median p99 ms | setup |"
	echo "|---|---:|---:|---|"
	for p in $peers; do
		echo "| $p | ${MED_RPS[$p]} | ${MED_P99[$p]} | $(describe_peer "$p") |"
	done
	((${#list[@]} > 1)) || return 0
	echo
	echo "| ratio (medians) | records/s | p99 |"
	echo "|---|---:|---:|"
	for ((i = 0; i < ${#list[@]}; i++)); do
		for ((j = i + 1; j < ${#list[@]}; j++)); do
			p=${list[i]} q=${list[j]}
			echo "| $p / $q | $(ratio "${MED_RPS[$p]}" "${MED_RPS[$q]}") |" \
				"$(ratio "${MED_P99[$p]}" "${MED_P99[$q]}") |"
		done
	done
}

write_report() {
	local p model
	declare -gA MED_RPS=() MED_P99=()
	for p in $peers; do
		MED_RPS[$p]=$(peer_median "$p" records_per_s)
		MED_P99[$p]=$(peer_median "$p" p99)
	done
	model=$(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
	mkdir -p "$(dirname "$out")"
	{
		echo "# Kinesis PutRecords: ${peers// /, }"
		echo
		echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
		echo "- Machine: $(nproc) CPUs, ${model:-unknown CPU}, Linux $(uname -r)"
		echo "- Load: sluice-load, $connections connections, $batch records per round trip" \
			"(one PutRecords, or $batch pipelined XADDs), 1 round trip in flight per connection," \
			"$record_size-byte random records, $duration s per run, $rounds interleaved rounds," \
			"stream with $SHARDS shards"
		echo "- Latency is per round trip (one batch). MB/s counts payload bytes."
		echo "- All servers run at once on loopback; one load runs at a time."
		echo
		report_medians
		echo
		echo "## Rounds"
		echo
		report_rows
	} >"$out"
	cat "$out"
}

main() {
	parse_args "$@"
	has_peer redis && install_redis
	has_peer kinesalite && install_kinesalite
	build_tools
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-peers.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	start_peers
	run_rounds
	write_report
	((FAILED_RUNS == 0)) || die "$FAILED_RUNS run(s) failed"
}

main "$@"
