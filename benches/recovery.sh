#!/usr/bin/env bash
# recovery.sh - restart-to-healthy time of a shard holding GBs, with the
# sealed segments' index footers and without them (a full scan), from a cold
# page cache. Needs root (drop_caches). Loopback only.
#   benches/recovery.sh [SECONDS_OF_LOAD]   (default 25: about 2 GB at 1 KB records)
# SLUICE_BIN and SLUICE_LOAD override build/sluice and build/benches/sluice-load.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SLUICE_BIN:-build/sluice}
load=${SLUICE_LOAD:-build/benches/sluice-load}
secs=${1:-25}
tmp=$(mktemp -d /var/tmp/sluice-recovery-XXXXXX)
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
port=$((20000 + RANDOM % 20000))
ep=127.0.0.1:$port
health() { for _ in $(seq 1 6000); do curl -sf "http://$ep/health" >/dev/null && return 0; sleep 0.01; done; return 1; }
"$bin" --listen "$ep" --data-dir "$tmp/data" --workers 1 >"$tmp/load.log" 2>&1 & pid=$!
health
"$load" kinesis --endpoint "$ep" --create --shards 1 --connections 4 --batch 100 \
  --record-size 1000 --duration "$secs" | grep throughput
kill "$pid"; wait "$pid" || true
echo "data: $(du -sh "$tmp/data/logs" | cut -f1) in $(find "$tmp/data/logs" -name '*.seg' | wc -l) segments, $(find "$tmp/data/logs" -name '*.idx' | wc -l) footers"
for mode in footers scan footers scan; do
  [ "$mode" = scan ] && find "$tmp/data/logs" -name '*.idx' -delete
  sync; echo 3 >/proc/sys/vm/drop_caches
  t0=$(date +%s.%N)
  "$bin" --listen "$ep" --data-dir "$tmp/data" --workers 1 >"$tmp/run.log" 2>&1 & pid=$!
  health
  t1=$(date +%s.%N)
  kill "$pid"; wait "$pid" || true
  echo "$mode: restart to healthy $(echo "$t1 - $t0" | bc) s"
done
