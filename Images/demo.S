# esp32emu demo: a bare-metal program for the ESP32, assembled by `esp32emu asm`.
#
# It runs as a 2nd-stage image: loaded by the real mask ROM from flash 0x1000, or started
# directly by the emulator when no ROM is available. It talks to the hardware only through
# registers: UART0 for output, the timer group and RTC watchdogs (turned off, as bootloaders
# do), CCOUNT for timing, PRID for the core id.
#
# Build: esp32emu asm Images/demo.S -o Images/demo.elf --base 0x40080400
#        esp32emu elf2image Images/demo.elf -o Images/demo.bin --flash-mode dio --flash-size 4MB

    .text
    j _start
    .literal_position

    .align 4
_start:
    entry a1, 64
    call0 disable_watchdogs
    rsr.ccount a12                      # a12: start time

    movi a2, banner
    call0 print
    movi a2, core_msg
    call0 print
    rsr.prid a2
    call0 print_hex
    call0 newline

    # The first 16 primes, by trial division (QUOU/REMU).
    movi a2, primes_msg
    call0 print
    movi a13, 2                         # candidate
    movi a14, 16                        # primes left to find
next_candidate:
    movi a15, 2                         # divisor
try_divisor:
    mull a3, a15, a15
    bltu a13, a3, is_prime              # divisor^2 > candidate: prime
    remu a3, a13, a15
    beqz a3, not_prime
    addi a15, a15, 1
    j try_divisor
is_prime:
    mov a2, a13
    call0 print_dec
    movi a2, ' '
    call0 putc
    addi a14, a14, -1
    beqz a14, primes_done
not_prime:
    addi a13, a13, 1
    j next_candidate
primes_done:
    call0 newline

    # Fibonacci numbers with a zero-overhead loop.
    movi a2, fib_msg
    call0 print
    movi a13, 0
    movi a14, 1
    movi a15, 24
    loop a15, fib_end
    add a3, a13, a14
    mov a13, a14
    mov a14, a3
fib_end:
    mov a2, a13
    call0 print_dec
    call0 newline

    # Single-precision FPU: 1/3 with the divide sequence, printed as raw bits.
    movi a2, 1
    wsr.cpenable a2
    rsync
    movi a2, fp_msg
    call0 print
    movi a3, 0x3F800000
    wfr f1, a3
    movi a3, 0x40400000
    wfr f2, a3
    div0.s f3, f2
    nexp01.s f4, f2
    const.s f5, 1
    maddn.s f5, f4, f3
    mov.s f6, f3
    mov.s f7, f2
    nexp01.s f2, f1
    maddn.s f6, f5, f6
    const.s f5, 1
    const.s f0, 0
    neg.s f8, f2
    maddn.s f5, f4, f6
    maddn.s f0, f8, f3
    mkdadj.s f7, f1
    maddn.s f6, f5, f6
    maddn.s f8, f4, f0
    const.s f3, 1
    maddn.s f3, f4, f6
    maddn.s f0, f8, f6
    neg.s f2, f2
    maddn.s f6, f3, f6
    maddn.s f2, f4, f0
    addexpm.s f0, f7
    addexp.s f6, f7
    divn.s f0, f2, f6
    rfr a2, f0
    call0 print_hex
    call0 newline

    rsr.ccount a2
    sub a2, a2, a12
    movi a3, cycles_msg
    mov a13, a2
    mov a2, a3
    call0 print
    mov a2, a13
    call0 print_dec
    call0 newline
    movi a2, done_msg
    call0 print
idle:
    waiti 0
    j idle

# ---- helpers (CALL0 ABI: argument in a2, return address in a0; use a2-a11) ----

    .align 4
disable_watchdogs:
    movi a3, 0x50D83AA1                 # write-protect key
    movi a4, 0
    movi a5, 0x3FF5F064                 # TIMG0_WDTWPROTECT
    s32i a3, a5, 0
    movi a6, 0x3FF5F048                 # TIMG0_WDTCONFIG0
    s32i a4, a6, 0
    s32i a4, a5, 0
    movi a5, 0x3FF480A4                 # RTC_CNTL_WDTWPROTECT
    s32i a3, a5, 0
    movi a6, 0x3FF4808C                 # RTC_CNTL_WDTCONFIG0
    s32i a4, a6, 0
    s32i a4, a5, 0
    memw
    ret

    .align 4
putc:                                   # a2: byte
    movi a3, 0x3FF40000                 # UART0
1:  l32i a4, a3, 0x1C                   # UART_STATUS: TXFIFO_CNT in bits 23:16
    extui a4, a4, 16, 8
    bgeui a4, 128, 1b                   # wait while the 128-byte FIFO is full
    s32i a2, a3, 0                      # UART_FIFO
    memw
    ret

    .align 4
print:                                  # a2: NUL-terminated string (in IRAM: word loads only)
    mov a7, a0
    mov a8, a2
1:  srli a2, a8, 2                      # load the aligned word holding the byte...
    slli a2, a2, 2
    l32i a2, a2, 0
    ssa8l a8                            # ...and shift the byte down
    srl a2, a2
    extui a2, a2, 0, 8
    beqz a2, 2f
    call0 putc
    addi a8, a8, 1
    j 1b
2:  mov a0, a7
    ret

    .align 4
newline:
    mov a7, a0
    movi a2, 13
    call0 putc
    movi a2, 10
    call0 putc
    mov a0, a7
    ret

    .align 4
print_dec:                              # a2: unsigned value, digits built in DRAM
    mov a9, a0
    movi a10, digits_end
    movi a3, 0
    s8i a3, a10, 0                      # terminating NUL
    movi a11, 10
1:  remu a3, a2, a11
    quou a2, a2, a11
    addi a3, a3, '0'
    addi a10, a10, -1
    s8i a3, a10, 0
    bnez a2, 1b
    mov a8, a10
2:  l8ui a2, a8, 0
    beqz a2, 3f
    call0 putc
    addi a8, a8, 1
    j 2b
3:  mov a0, a9
    ret

    .align 4
print_hex:                              # a2: value, printed as 0x%08x
    mov a9, a0
    mov a10, a2
    movi a2, '0'
    call0 putc
    movi a2, 'x'
    call0 putc
    movi a11, 8
1:  extui a2, a10, 28, 4
    slli a10, a10, 4
    addi a2, a2, '0'
    movi a3, 0x3A
    blt a2, a3, 2f
    addi a2, a2, 39                     # 'a' - '0' - 10
2:  call0 putc
    addi a11, a11, -1
    bnez a11, 1b
    mov a0, a9
    ret

    .align 4
banner:     .asciz "esp32emu demo: bare-metal Xtensa code on an emulated ESP32\r\n"
core_msg:   .asciz "running on core PRID "
primes_msg: .asciz "first primes: "
fib_msg:    .asciz "fib(24) = "
fp_msg:     .asciz "1.0f / 3.0f = "
cycles_msg: .asciz "cycles: "
done_msg:   .asciz "demo done\r\n"

    .equ digits_end, 0x3FFB0010         # a scratch buffer in DRAM (byte stores are fine there)
