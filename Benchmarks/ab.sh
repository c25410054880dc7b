#!/usr/bin/env bash
# Side-by-side timing of two (or more) builds: each round runs every build once, in turn, so
# that the machine's load falls on all of them alike; prints the median and the minimum per
# build. The run loop's speed can change by tens of percent with small edits (see README, "The
# core"), so compare a change with its base this way rather than with figures from earlier.
#
#   Benchmarks/ab.sh zephyr ROUNDS esp32emu-A esp32emu-B ...   ROM -> Zephyr "Thread A running"
#   Benchmarks/ab.sh hello  ROUNDS esp32emu-A esp32emu-B ...   ROM -> hello_world v4.2.3
#   Benchmarks/ab.sh WORKLOAD ROUNDS CoreBenchmarks-A ...      a guest loop (alu-loop,
#                                    load-mul-store, windowed-call, fp-loop; BENCH_SCALE applies)
#
# The boots read the firmware corpus from $ESP32EMU_FIRMWARE (default ../shared/firmware).
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
what=$1 rounds=$2; shift 2
fw=${ESP32EMU_FIRMWARE:-$(cd "$(dirname "$0")/../.." && pwd)/shared/firmware}
run_one() { # $1 binary -> seconds
    case $what in
    zephyr|hello)
        local app args text
        # The same boots as the benchmark table (CoreBenchmarks/MIPSTable.swift).
        if [ "$what" = zephyr ]; then
            app=$fw/app/zephyr-esp32-devkitc-wrover-Brunoarico; image=zephyr.bin; text="Thread A running"
        else
            app=$fw/app/idf-v4.2.3-hello_world-guopung; image=hello-world.bin; text="Hello world!"
        fi
        args=(--part "0x1000=$app/bootloader.bin" --part "0x8000=$app/partitions_singleapp.bin" --part "0x10000=$app/$image")
        [ -d "$app" ] || { echo "ab.sh: firmware not found: $app" >&2; exit 2; }
        "$1" run --rom "$fw/rom/esp32-v3-rom.bin" "${args[@]}" --expect-text "$text" --stats 2>&1 >/dev/null \
            | grep -o 'wall_s=[0-9.]*' | cut -d= -f2 ;;
    *)
        BENCH_WORKLOAD=$what BENCH_RUNS=1 "$1" | awk -v w="$what" '$1 == w { print $3 }' ;;
    esac
}
for _ in $(seq "$rounds"); do
    for b in "$@"; do
        t=$(run_one "$b" || true)
        [ -n "$t" ] || { echo "ab.sh: no time from $b" >&2; exit 1; }
        echo "$b $t"
    done
done | python3 -c '
import collections, statistics, sys
d = collections.OrderedDict()
for line in sys.stdin:
    k, v = line.split(); d.setdefault(k, []).append(float(v))
for k, v in d.items():
    print(f"{k}  median {statistics.median(v):.3f} s  min {min(v):.3f} s  ({len(v)} runs)")
'
