#!/usr/bin/env bash
# Issue 19: evaluate ablation runs as they finish (benchmarks/beats_eval.py: DS2 + SVDB, reference
# peaks + end to end), one at a time under the beats lock, in this priority: every full_sN, then
# seed 0 of every other row, then seed 1, then seed 2. Starts no evaluation after STOP_AT (UTC,
# HH:MM; default 03:15); waits for runs still training. Writes OUT_DIR/eval/NAME.json and a
# timing line per evaluation to OUT_DIR/eval/times.txt.
# Usage: scripts/beats_eval_queue.sh OUT_DIR "ROW ..." [SEEDS...]
set -euo pipefail
out=$1; rows=$2; shift 2
seeds=${*:-0 1 2}
py=${PYTHON:-python}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
lock=${LOCK:-${TMPDIR:-/tmp}/ecgzoo-beats.lock}
niceness=${NICE:-15}
stop_at=${STOP_AT:-03:15}
mkdir -p "$out/eval"
order=""
for seed in $seeds; do order="$order full_s$seed"; done
for seed in $seeds; do
  for row in $rows; do [ "$row" = full ] || order="$order ${row}_s$seed"; done
done
while :; do
  [ "$(date -u +%H:%M)" \> "$stop_at" ] && break
  next="" pending=0
  for name in $order; do
    if [ -f "$out/eval/$name.json" ] || [ -f "$out/eval/$name.failed" ]; then continue; fi
    if [ -f "$out/$name/metrics.json" ]; then next=$name; break; fi
    pending=1
  done
  if [ -z "$next" ]; then
    [ "$pending" = 0 ] && break
    sleep 30
    continue
  fi
  start=$(date -u +%s)
  nice -n "$niceness" flock "$lock" "$py" benchmarks/beats_eval.py "$out/$next" "$out/eval/$next.json" \
    >"$out/eval/$next.log" 2>&1 || { echo "FAILED eval $next" >>"$out/failed.txt"; touch "$out/eval/$next.failed"; }
  echo "$next $(date -u +%FT%TZ) $(( $(date -u +%s) - start )) s incl. lock wait; $(uptime)" >>"$out/eval/times.txt"
done
