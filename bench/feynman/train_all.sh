#!/bin/sh
# Train every Feynman network in the background, in jobs of 10 networks (each well under
# 15 minutes), resuming where the last job stopped:  nohup sh bench/feynman/train_all.sh &
cd "$(dirname "$0")/../.." || exit 1
while :; do
    out=$(nice -n 10 .venv/bin/python bench/feynman/train.py --limit 10 --seconds "${SECONDS_PER_NET:-45}" 2>/dev/null)
    [ -z "$out" ] && break
    echo "$out"
done
