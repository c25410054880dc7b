#!/usr/bin/env bash
# Runs the same guest loops on esp32emu and on upstream QEMU (qemu-system-xtensa -M sim
# -cpu de233_fpu -semihosting) in one run, alternating, and prints guest MIPS and the ratio
# ours/QEMU for QEMU's default mode, -icount shift=0 and -singlestep.
#
# The loops are assembled by our own assembler: once for QEMU's reset vector 0xfe000000 (a reset
# stub there, the workload at 0xfe001000, data in low RAM) and, inside the benchmark binary, for
# ESP32 IRAM. Instruction counts are our emulator's (the programs are identical instruction for
# instruction). QEMU's process start-up is measured with an empty program and subtracted.
#
#   Benchmarks/compare-qemu.sh [ROUNDS] [SCALE]      (defaults 5 and 0.4)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SCALE=${2:-0.4}
command -v qemu-system-xtensa >/dev/null || { echo "qemu-system-xtensa not installed (apt-get install qemu-system-misc)"; exit 2; }

swift build -c release --product esp32emu >/dev/null
EMU=$(swift build -c release --show-bin-path)/esp32emu
(cd Benchmarks && swift build -c release --product CoreBenchmarks >/dev/null)
BENCH=$(cd Benchmarks && swift build -c release --show-bin-path)/CoreBenchmarks

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
BENCH_EXPORT_DIR=$work BENCH_SCALE=$SCALE "$BENCH" >/dev/null
"$EMU" asm "$work/reset.S" -o "$work/reset.bin" --base 0xfe000000
printf '    movi a2, 1\n    movi a3, 0\n    simcall\n' > "$work/empty.S"
"$EMU" asm "$work/empty.S" -o "$work/empty.bin" --base 0xfe000000

qemu() { # $1 image, $2 extra flags -> seconds
    local t0 t1
    t0=$(date +%s.%N)
    qemu-system-xtensa -M sim -cpu de233_fpu -semihosting -nographic -monitor none $2 \
        -device loader,file="$1",addr=0xfe000000,force-raw=on </dev/null >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    awk -v a="$t1" -v b="$t0" 'BEGIN {print a - b}'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN {print a - b}'; }

printf '%-16s %12s %10s %10s %10s %10s %9s %9s %9s\n' workload instructions ours qemu icount single ratio ratio-ic ratio-ss
for name in alu-loop load-mul-store windowed-call fp-loop; do
    "$EMU" asm "$work/$name.S" -o "$work/$name.bin" --base 0xfe001000
    # reset stub padded to 0x1000, then the workload
    head -c 4096 /dev/zero > "$work/pad.bin"
    dd if="$work/reset.bin" of="$work/pad.bin" conv=notrunc status=none
    cat "$work/pad.bin" "$work/$name.bin" > "$work/$name.img"
    n=$(cat "$work/$name.count")
    ours=(); q=(); qi=(); qs=()
    for _ in $(seq "$ROUNDS"); do
        ours+=("$(BENCH_WORKLOAD=$name BENCH_RUNS=1 BENCH_SCALE=$SCALE "$BENCH" | awk -v n="$name" '$1==n {print $4}')")
        base=$(qemu "$work/empty.bin" "")
        q+=("$(sub "$(qemu "$work/$name.img" "")" "$base")")
        qi+=("$(sub "$(qemu "$work/$name.img" "-icount shift=0")" "$base")")
        qs+=("$(sub "$(qemu "$work/$name.img" "-singlestep")" "$base")")
    done
    m_ours=$(printf '%s\n' "${ours[@]}" | median)
    m_q=$(printf '%s\n' "${q[@]}" | median); m_qi=$(printf '%s\n' "${qi[@]}" | median); m_qs=$(printf '%s\n' "${qs[@]}" | median)
    mips() { awk -v n="$n" -v t="$1" 'BEGIN {print n / t / 1000000}'; }
    q_m=$(mips "$m_q"); qi_m=$(mips "$m_qi"); qs_m=$(mips "$m_qs")
    printf '%-16s %12d %10.1f %10.1f %10.1f %10.1f %9.2f %9.2f %9.2f\n' "$name" "$n" "$m_ours" "$q_m" "$qi_m" "$qs_m" \
        "$(awk -v a="$m_ours" -v b="$q_m" 'BEGIN {print a / b}')" "$(awk -v a="$m_ours" -v b="$qi_m" 'BEGIN {print a / b}')" \
        "$(awk -v a="$m_ours" -v b="$qs_m" 'BEGIN {print a / b}')"
done
echo "(guest MIPS, median of $ROUNDS alternating rounds; QEMU start-up subtracted)"
