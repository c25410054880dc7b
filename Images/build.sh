#!/usr/bin/env bash
# Rebuilds Images/demo.bin from Images/demo.S with the project's own tools.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product esp32emu >/dev/null
emu=$(swift build -c release --show-bin-path)/esp32emu
"$emu" asm Images/demo.S -o Images/demo.elf --base 0x40080400
"$emu" elf2image Images/demo.elf -o Images/demo.bin --flash-mode dio --flash-size 4MB
rm Images/demo.elf
echo "Images/demo.bin rebuilt"
