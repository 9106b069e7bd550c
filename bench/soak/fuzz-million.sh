#!/bin/sh
# Dedicated fuzz run: every target in its own process (so RSS start/end is per target), N inputs each (default
# 1,000,000), one JSON line per target appended to OUT. Usage: bench/soak/fuzz-million.sh [RUNS] [OUT] [SEED] [TARGET,…]
# Run it niced: nice -n 10 bench/soak/fuzz-million.sh 1000000 /tmp/fuzz.jsonl 1
set -eu
RUNS=${1:-1000000}
OUT=${2:-bench/results/fuzz-million.jsonl}
SEED=${3:-1}
cd "$(dirname "$0")/../.."
if [ -n "${4:-}" ]; then TARGETS=$(echo "$4" | tr ',' ' '); else
  TARGETS=$(node --import tsx -e "import('./test/fuzz/targets.ts').then((m) => console.log(m.TARGETS.map((t) => t.name).join(' ')))"); fi
for t in $TARGETS; do
  start=$(date -u +%FT%TZ)
  node --import tsx scripts/fuzz.ts --target "$t" --runs "$RUNS" --seed "$SEED" --json --save /tmp/iosdevice-fuzz-million \
    | node -e "let s='';process.stdin.on('data',(d)=>s+=d).on('end',()=>{const r=JSON.parse(s);r.started='$start';r.finished=new Date().toISOString();r.load=require('os').loadavg().map((x)=>x.toFixed(2)).join(' ');console.log(JSON.stringify(r))})" >> "$OUT" || true
done
