#!/usr/bin/env bash
# sns_peers.sh - the side-by-side peer comparison for topic fan-out, end to
# end.
#
# The same load (producers, consumers, messages per publish, body size,
# duration) runs against one topic with K queues behind it, for K = 1, 10
# and 100: sluice (SNS Publish/PublishBatch over the query protocol to a
# topic with K SQS queues subscribed for raw delivery; the consumers
# receive and delete over SQS JSON 1.0), RabbitMQ (a durable fanout
# exchange with K durable queues bound, classic and quorum; persistent
# messages, publisher confirms, manual acks) and fauxqs (SNS and SQS on
# Node.js, in memory). sluice and fauxqs are driven by `sluice-load sns`,
# RabbitMQ by `rabbit-load fanout`; both write the same report. A publish
# is acknowledged once the message is in every queue (durably for sluice
# and RabbitMQ), each message's body carries its publish time, and every
# one of its K deliveries is measured from that time to its receive.
#
# The servers, their start-up and the helpers are sqs_peers.sh's (sourced).
# All servers stay up on their own loopback ports with fresh data dirs, but
# only one load runs at a time, in interleaved rounds (each round runs
# every K, and for each K every peer), so noise from a shared machine
# spreads over every peer alike. Each run sets up a topic (or exchange) and
# its K queues of its own over the wire, and deletes them after it.
#
# Every run is closed loop (producers keep one publish in flight each);
# with --rate the rounds also run open loop at that many publishes/s, where
# latency means something (in a closed loop it measures the backlog).
set -euo pipefail

PROG=sns_peers.sh
# shellcheck source=benches/sqs_peers.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/sqs_peers.sh"

rounds=3
duration=10
producers=4
consumers=""
batch=10
recv_batch=10
record_size=100
fanouts="1 10 100"
# Open loop: publishes/s offered at every K. 100 makes 10,000 deliveries/s
# at K = 100, below what every peer delivered there in a closed loop on the
# 2-CPU VM (RabbitMQ with classic queues, the slowest to confirm at
# K = 100, took about 160 publishes/s; at 300/s it fell behind), so the
# latency is the fan-out's own, not a backlog's.
rate=100
rate_peers=""
out=""
peers="sluice rabbitmq-classic rabbitmq-quorum fauxqs"

usage() {
	cat <<EOF
usage: benches/sns_peers.sh [--rounds N] [--duration S] [--queues LIST] [--producers N]
                            [--consumers M] [--batch B] [--recv-batch R]
                            [--record-size BYTES] [--rate R] [--rate-peers LIST]
                            [--out FILE] [--peers LIST]

Fan-out end to end: producers publish to one topic (sluice, fauxqs: SNS with K SQS
queues subscribed, RawMessageDelivery) or one fanout exchange (RabbitMQ: K durable
queues bound), consumers drain the K queues; for each K, every peer in interleaved
rounds. Writes a markdown table (default benches/results/sns-fanout.md).

  --rounds N          rounds; each runs every K and peer once (default $rounds)
  --duration S        seconds per run (default $duration)
  --queues LIST       comma-separated K values (default ${fanouts// /,})
  --producers N       producer connections (default $producers)
  --consumers M       consumer connections (default: one per queue, at least 4)
  --batch B           messages per publish round trip, 1..10 (default $batch): one
                      PublishBatch, or B publishes and then their confirms
  --recv-batch R      messages per receive and per delete, 1..10 (default $recv_batch):
                      ReceiveMessage MaxNumberOfMessages, or the AMQP prefetch per queue
  --record-size BYTES body bytes, 20..262144 (default $record_size)
  --rate R            also run every round open loop, producers offering R messages/s
                      in total at every K (0: closed loop only; default $rate)
  --rate-peers LIST   peers of the open-loop runs (default: every peer)
  --out FILE          markdown output
  --peers LIST        comma-separated subset of sluice,rabbitmq-classic,
                      rabbitmq-quorum,fauxqs (default all)

Environment: SLUICE_ARGS adds server flags (e.g. "--workers 1"). SLUICE_BIN,
SLUICE_LOAD and RABBIT_LOAD override the server and load tool binaries (default:
from build/, built with meson + ninja when missing). Missing peers are installed:
rabbitmq-server and librabbitmq-dev with apt-get, fauxqs (and Node.js $NODE22_VERSION)
with npm into benches/.peers/.
EOF
}

parse_args() {
	while (($#)); do
		case $1 in
		--rounds | --duration | --queues | --producers | --consumers | --batch | \
			--recv-batch | --record-size | --rate | --rate-peers | --out | --peers)
			(($# >= 2)) || die "$1 needs a value"
			case $1 in
			--rounds) want_int "$1" "$2"; rounds=$2 ;;
			--duration) want_int "$1" "$2"; duration=$2 ;;
			--queues) fanouts=${2//,/ } ;;
			--producers) want_int "$1" "$2"; producers=$2 ;;
			--consumers) want_int "$1" "$2"; consumers=$2 ;;
			--batch) want_range "$1" "$2" 1 10; batch=$2 ;;
			--recv-batch) want_range "$1" "$2" 1 10; recv_batch=$2 ;;
			--record-size) want_range "$1" "$2" 20 262144; record_size=$2 ;;
			--rate)
				if [[ $2 == 0 ]]; then
					rate=""
				else
					want_int "$1" "$2"
					rate=$2
				fi
				;;
			--rate-peers) rate_peers=${2//,/ } ;;
			--out) out=$2 ;;
			--peers) peers=${2//,/ } ;;
			esac
			shift 2
			;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown flag '$1' (see --help)" ;;
		esac
	done
	check_args
}

check_args() {
	local p k
	((batch * record_size <= 262144)) || die "--batch x --record-size is over 256 KiB, PublishBatch's limit"
	for p in $peers; do
		case $p in
		sluice | rabbitmq-quorum | rabbitmq-classic | fauxqs) ;;
		*) die "unknown peer '$p': want sluice, rabbitmq-classic, rabbitmq-quorum or fauxqs" ;;
		esac
	done
	[[ -n ${peers// /} ]] || die "--peers is empty"
	for k in $fanouts; do
		want_range "--queues" "$k" 1 1000
	done
	[[ -n ${fanouts// /} ]] || die "--queues is empty"
	rate_peers=${rate_peers:-$peers}
	for p in $rate_peers; do
		has_peer "$p" || die "--rate-peers: '$p' is not among --peers"
	done
	out=${out:-$ROOT/benches/results/sns-fanout.md}
	return 0
}

# The loops a round runs: closed, and open with --rate.
loops() {
	if [[ -n $rate ]]; then
		echo "closed open"
	else
		echo "closed"
	fi
}

loop_peers() {
	if [[ $1 == open ]]; then
		echo "$rate_peers"
	else
		echo "$peers"
	fi
}

# Consumers at K = $1: --consumers, or one per queue and at least 4 (the
# tools' own default, spelled out so the report can say it).
consumers_at() {
	if [[ -n $consumers ]]; then
		echo "$consumers"
	elif (($1 > 4)); then
		echo "$1"
	else
		echo 4
	fi
}

# ---- running and collecting ----

# The load command for peer $1, without its JSON path (run_one calls it).
load_cmd() {
	local p=$1 s
	s=$(server_of "$p")
	LOAD_ARGS=(--endpoint "127.0.0.1:${PORT[$s]}" --producers "$producers" --batch "$batch"
		--recv-batch "$recv_batch" --record-size "$record_size" --duration "$duration")
	case $p in
	rabbitmq-quorum) LOAD_CMD=("$RLOAD" fanout --queue-type quorum) ;;
	rabbitmq-classic) LOAD_CMD=("$RLOAD" fanout --queue-type classic) ;;
	*) LOAD_CMD=("$LOAD" sns) ;;
	esac
}

# The flags of one run: K queues, its consumers, and --rate when open.
fan_args() {
	FAN_ARGS=(--queues "$1" --consumers "$(consumers_at "$1")")
	[[ $2 == open ]] && FAN_ARGS+=(--rate "$rate")
	return 0
}

run_rounds() {
	local r k loop p f tag
	FAILED_RUNS=0
	for ((r = 1; r <= rounds; r++)); do
		for k in $fanouts; do
			for loop in $(loops); do
				fan_args "$k" "$loop"
				for p in $(loop_peers "$loop"); do
					tag=r$r-k$k-$loop-$p
					run_one "$p" "$tag" "${FAN_ARGS[@]}"
					f=$TMP/$tag.json
					if [[ -f $f ]]; then
						printf '%s: round %d/%d K=%-3s %-6s %-16s %10s deliveries/s  %s per publish  p99 %s ms  errors %s\n' \
							"$PROG" "$r" "$rounds" "$k" "$loop" "$p" \
							"$(json_num "$f" deliveries_per_s)" \
							"$(json_num "$f" deliveries_per_publish)" \
							"$(json_num "$f" p99)" "$(json_num "$f" errors)" >&2
					fi
					sleep 1
				done
			done
		done
	done
}

# ---- the report ----

# The sum of "key" over the rounds of tag suffix $1 ("n/a" when none ran).
tag_sum() {
	local suffix=$1 key=$2 r f n=0 sum=0
	for ((r = 1; r <= rounds; r++)); do
		f=$TMP/r$r-$suffix.json
		[[ -f $f ]] || continue
		sum=$((sum + $(json_num "$f" "$key")))
		n=$((n + 1))
	done
	((n)) && echo "$sum" || echo "n/a"
}

describe_peer() {
	case $1 in
	sluice) echo "$(sluice_origin), Publish/PublishBatch (query protocol) to a topic with K SQS queues subscribed (RawMessageDelivery), ReceiveMessage + DeleteMessageBatch (JSON 1.0), \`--durability sync\` (the default: a publish is answered once every delivery is fdatasynced)${SLUICE_ARGS:+, \`$SLUICE_ARGS\`}" ;;
	rabbitmq-classic) echo "$(rabbit_version), durable fanout exchange with K classic durable queues bound, persistent messages, publisher confirms (once written to disk in every queue), manual multiple-acks" ;;
	rabbitmq-quorum) echo "$(rabbit_version), durable fanout exchange with K quorum queues bound (confirmed once every queue's Raft log is fsynced), persistent messages, publisher confirms, manual multiple-acks" ;;
	fauxqs) echo "fauxqs $FAUXQS_VERSION on Node.js $("$NODE" --version), SNS topic with K SQS queues subscribed (RawMessageDelivery), in memory (no persistence)" ;;
	esac
}

# Medians of every metric for K = $1 in loop $2, into the MED_* arrays.
medians_at() {
	local k=$1 loop=$2 p sfx
	for p in $(loop_peers "$loop"); do
		sfx=k$k-$loop-$p
		MED_DPS[$sfx]=$(tag_median "$sfx" deliveries_per_s)
		MED_PPS[$sfx]=$(tag_median "$sfx" publishes_per_s)
		MED_PER[$sfx]=$(tag_median "$sfx" deliveries_per_publish)
		MED_P50[$sfx]=$(tag_median "$sfx" p50)
		MED_P99[$sfx]=$(tag_median "$sfx" p99)
		MED_P999[$sfx]=$(tag_median "$sfx" p999)
		MED_PUB99[$sfx]=$(tag_median "$sfx" publish_latency_ms p99)
		SUM_ERR[$sfx]=$(tag_sum "$sfx" errors)
	done
}

report_k() {
	local k=$1 loop=$2 p sfx title
	title="closed loop"
	[[ $loop == open ]] && title="open loop at $rate publishes/s"
	echo "## K = $k, $title ($(consumers_at "$k") consumers)"
	echo
	echo "| peer | median deliveries/s | median publishes/s | stored deliveries/s (publishes x K) | deliveries per publish | median p50 ms | median p99 ms | median p99.9 ms | median publish p99 ms | errors (all rounds) |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for p in $(loop_peers "$loop"); do
		sfx=k$k-$loop-$p
		echo "| $p | ${MED_DPS[$sfx]} | ${MED_PPS[$sfx]} | $(times "${MED_PPS[$sfx]}" "$k") |" \
			"${MED_PER[$sfx]} | ${MED_P50[$sfx]} | ${MED_P99[$sfx]} | ${MED_P999[$sfx]} |" \
			"${MED_PUB99[$sfx]} | ${SUM_ERR[$sfx]} |"
	done
	[[ " $(loop_peers "$loop") " == *" sluice "* ]] || return 0
	[[ $(loop_peers "$loop") != sluice ]] || return 0
	echo
	echo "| ratio vs sluice (medians) | deliveries/s: sluice / peer | publishes/s: sluice / peer | p99: peer / sluice |"
	echo "|---|---:|---:|---:|"
	for p in $(loop_peers "$loop"); do
		[[ $p == sluice ]] && continue
		echo "| $p | $(ratio "${MED_DPS[k$k-$loop-sluice]}" "${MED_DPS[k$k-$loop-$p]}") |" \
			"$(ratio "${MED_PPS[k$k-$loop-sluice]}" "${MED_PPS[k$k-$loop-$p]}") |" \
			"$(ratio "${MED_P99[k$k-$loop-$p]}" "${MED_P99[k$k-$loop-sluice]}") |"
	done
}

# $1 x $2, rounded ("n/a" stays).
times() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a") print "n/a"; else printf "%.0f\n", a * b }'
}

# "met" / "missed" for value $1 against bound $2, $3 being ge or le.
verdict() {
	awk -v v="$1" -v b="$2" -v op="$3" 'BEGIN { if (v == "n/a") { print "n/a"; exit }
		ok = (op == "ge") ? (v + 0 >= b + 0) : (v + 0 <= b + 0); print ok ? "met" : "missed" }'
}

# The targets of the issue: at K = 10, sluice >= 2x RabbitMQ fanout and
# >= 10x fauxqs in deliveries/s; sluice's publish p99 at K = 100 at most 2x
# its publish p99 at K = 1. Only for K values and peers that ran.
report_targets() {
	local p want v loop how lo=${fanouts%% *} hi=${fanouts##* }
	has_peer sluice || return 0
	echo "## Targets"
	echo
	echo "| target | measured (medians) | |"
	echo "|---|---:|---|"
	if [[ " $fanouts " == *" 10 "* ]]; then
		for p in rabbitmq-classic rabbitmq-quorum fauxqs; do
			has_peer "$p" || continue
			want=2
			[[ $p == fauxqs ]] && want=10
			v=$(ratio "${MED_DPS[k10-closed-sluice]}" "${MED_DPS[k10-closed-$p]}")
			echo "| K = 10: sluice deliveries/s >= ${want}x $p (closed loop) | ${v}x | $(verdict "$v" "$want" ge) |"
		done
	fi
	[[ $lo != "$hi" ]] || return 0
	for loop in $(loops); do
		[[ " $(loop_peers "$loop") " == *" sluice "* ]] || continue
		how="closed loop"
		[[ $loop == open ]] && how="open loop, $rate publishes/s"
		# The issue's target is on the publish's own latency; the
		# delivery's (publish to receive) is shown beside it.
		v=$(ratio "${MED_PUB99[k$hi-$loop-sluice]}" "${MED_PUB99[k$lo-$loop-sluice]}")
		echo "| sluice publish p99 at K = $hi <= 2x its publish p99 at K = $lo ($how) |" \
			"${MED_PUB99[k$hi-$loop-sluice]} / ${MED_PUB99[k$lo-$loop-sluice]} ms = ${v}x | $(verdict "$v" 2 le) |"
		v=$(ratio "${MED_P99[k$hi-$loop-sluice]}" "${MED_P99[k$lo-$loop-sluice]}")
		echo "| (beside it) sluice delivery p99 at K = $hi against K = $lo ($how) |" \
			"${MED_P99[k$hi-$loop-sluice]} / ${MED_P99[k$lo-$loop-sluice]} ms = ${v}x | |"
	done
}

report_rows() {
	local r k loop p f
	echo "| round | K | loop | peer | deliveries/s | publishes/s | per publish | p50 ms | p99 ms | p99.9 ms | publish p99 ms | errors | backlog left |"
	echo "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for ((r = 1; r <= rounds; r++)); do
		for k in $fanouts; do
			for loop in $(loops); do
				for p in $(loop_peers "$loop"); do
					f=$TMP/r$r-k$k-$loop-$p.json
					if [[ ! -f $f ]]; then
						echo "| $r | $k | $loop | $p | failed | | | | | | | | |"
						continue
					fi
					echo "| $r | $k | $loop | $p | $(json_num "$f" deliveries_per_s) |" \
						"$(json_num "$f" publishes_per_s) | $(json_num "$f" deliveries_per_publish) |" \
						"$(json_num "$f" p50) | $(json_num "$f" p99) | $(json_num "$f" p999) |" \
						"$(json_sub "$f" publish_latency_ms p99) | $(json_num "$f" errors) |" \
						"$(json_num "$f" backlog_end) |"
				done
			done
		done
	done
}

write_report() {
	local k loop p per open_note
	declare -gA MED_DPS=() MED_PPS=() MED_PER=() MED_P50=() MED_P99=() MED_P999=() MED_PUB99=() SUM_ERR=()
	for k in $fanouts; do
		for loop in $(loops); do
			medians_at "$k" "$loop"
		done
	done
	open_note=""
	[[ -n $rate ]] && open_note=" The open-loop runs offer $rate publishes/s in all, at every K (${rate_peers// /, }); where a peer delivers that times K, latency is the fan-out's own and not a backlog's."
	per="messages per publish round trip (one PublishBatch, or $batch publishes and their confirms)"
	((batch == 1)) && per="message per publish round trip (one Publish, or one publish and its confirm)"
	mkdir -p "$(dirname "$out")"
	{
		echo "# Fan-out end to end: ${peers// /, }"
		echo
		machine_lines
		echo "- Load: one topic (fanout exchange) with K = ${fanouts// /, } queues; $producers producer" \
			"connections, $batch $per; consumers: ${consumers:-one per queue, at least 4}," \
			"each receiving up to $recv_batch messages (ReceiveMessage WaitTimeSeconds 20; AMQP" \
			"prefetch $recv_batch per queue) and deleting (acking) them in one request;" \
			"$record_size-byte bodies; $duration s per run, $rounds interleaved rounds" \
			"(each round runs every K, and for each K every peer)."
		echo "- A delivery is a message received from one of the K queues and then deleted (SQS)" \
			"or acked (AMQP): a publish makes K. Deliveries per publish below K means the" \
			"consumers left a backlog (the \"backlog left\" column counts what was still ready" \
			"in the queues after the run). Latency is per delivery, from the publish (the time in" \
			"the body; the scheduled time in the open loop) to the receive. Publish p99 is per" \
			"publish round trip."
		echo "- Closed loop: every producer keeps one publish in flight. Where producers outrun" \
			"consumers, the backlog grows through the run and the latency with it, so closed-loop" \
			"latency measures the backlog.$open_note"
		echo "- Each run creates its topic (exchange) and K queues and subscriptions (bindings) over" \
			"the wire before the clock starts, and deletes them after. All servers run at once on" \
			"loopback; one load runs at a time."
		echo
		for p in $peers; do
			echo "- $p: $(describe_peer "$p")"
		done
		echo
		report_targets
		for k in $fanouts; do
			for loop in $(loops); do
				echo
				report_k "$k" "$loop"
			done
		done
		echo
		echo "## Rounds"
		echo
		report_rows
	} >"$out"
	cat "$out"
}

main() {
	parse_args "$@"
	has_rabbit && install_rabbitmq
	has_peer fauxqs && install_fauxqs
	build_tools
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-sns-peers.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	start_servers
	run_rounds
	write_report
	((FAILED_RUNS == 0)) || die "$FAILED_RUNS run(s) failed"
}

main "$@"
