// Straight-line blocks: a run of predecoded slots that the run loop executes with one check
// for the whole run instead of one per instruction.
//
// A block starts at any decoded slot and goes on through instructions that fall through,
// leave the run early or raise an exception (`Decoded.continuesBlock`): arithmetic, loads and
// stores, moves, booleans, MAC16, floating point, conditional branches (a taken branch ends the
// run), ENTRY, RSR CCOUNT. It ends with the first other instruction (a jump, a call, RETW, a
// special-register write...), which runs as the block's last one, at the end of its 4 KiB page,
// or after `Decoded.maxBlock` instructions. The head slot records the block's
// length and its lowest gate, so one comparison covers every instruction's window check and one
// covers "no event (timer, interrupt, run budget) falls inside".
//
// What the block check does not see leaves the block instead: an exception, and any load or
// store that takes the memory slow path (MMIO can raise an interrupt, a store can drop code),
// end it after that instruction. A block also ends with the instruction that ends at LEND, so
// a zero-overhead loop's back-edge is checked where the block ends; when LEND moves, the blocks
// that could run past its new place are formed again (`loopEndMoved`).

extension Op {
    /// Instructions that never change the window, PS or the next event except by raising an
    /// exception, and that either fall through or leave the block: they may sit inside a block.
    /// (RSR CCOUNT also may; see `Decoded.continuesBlock`.)
    static let continuesBlockTable: [Bool] = {
        var t = [Bool](repeating: false, count: 1024)
        let ops: [Op] = [
            .add, .addn, .addx2, .addx4, .addx8, .sub, .subx2, .subx4, .subx8, .and, .or, .xor, .neg, .abs,
            .addi, .addmi, .addin, .movi, .movin, .movn, .extui, .slli, .srai, .srli, .src, .srl, .sll, .sra,
            .ssr, .ssl, .ssa8l, .ssa8b, .ssai, .nsa, .nsau, .min, .max, .minu, .maxu, .sext, .clamps,
            .moveqz, .movnez, .movltz, .movgez, .movf, .movt, .mul16u, .mul16s, .mull, .muluh, .mulsh,
            .quou, .quos, .remu, .rems,
            .l8ui, .l16ui, .l16si, .l32i, .l32ai, .l32e, .l32in, .l32r, .s8i, .s16i, .s32i, .s32ri, .s32e,
            .s32in, .s32c1i, .movsp,
            .isync, .rsync, .esync, .dsync, .excw, .memw, .extw, .nop, .nopn,
            .any4, .all4, .any8, .all8, .andb, .andbc, .orb, .orbc, .xorb,
            .macAA, .macAD, .macDA, .macDD, .macDAld, .macDDld, .lddec, .ldinc,
            .lsi, .lsip, .ssi, .ssip, .lsx, .lsxp, .ssx, .ssxp, .addS, .subS, .mulS, .maddS, .msubS,
            .maddnS, .divnS, .roundS, .truncS, .floorS, .ceilS, .floatS, .ufloatS, .utruncS, .movS, .absS,
            .negS, .rfr, .wfr, .constS, .div0S, .recip0S, .sqrt0S, .rsqrt0S, .nexp01S, .mksadjS, .mkdadjS,
            .addexpS, .addexpmS, .unS, .oeqS, .ueqS, .oltS, .ultS, .oleS, .uleS, .moveqzS, .movnezS,
            .movltzS, .movgezS, .movfS, .movtS,
            // Conditional branches: not taken, the block goes on; taken, it ends there.
            .beqz, .beqzn, .bnez, .bnezn, .bltz, .bgez, .beqi, .bnei, .blti, .bgei, .bltui, .bgeui, .beq, .bne,
            .blt, .bge, .bltu, .bgeu, .bany, .bnone, .ball, .bnall, .bbc, .bbs, .bbci, .bbsi, .bf, .bt,
            // ENTRY: the block goes on when the rest of it fits the callee's window (see execute).
            .entry,
        ]
        for op in ops {
            precondition(Int(op.rawValue) < t.count, "Op raw values outgrew the block table")
            t[Int(op.rawValue)] = true
        }
        return t
    }()

}

extension Decoded {
    /// Whether a block goes on after this instruction (when it falls through).
    var continuesBlock: Bool {
        (Int(op.rawValue) < Op.continuesBlockTable.count && Op.continuesBlockTable[Int(op.rawValue)])
            || (op == .rsr && imm == Int32(SR.ccount))
    }
}

extension XtensaCPU {
    /// The block threshold the run loop compares `blockGate` with: 4 - free panels.
    @inline(__always) func blockNeed(_ s: UnsafeMutablePointer<CPUState>) -> UInt8 {
        4 &- s.pointee.freePanels
    }

    /// LEND changed: forget the blocks whose heads lie close enough before the new LEND to run
    /// past it (at most `maxBlock` 3-byte instructions); they form again, ending there.
    @inline(never)
    func loopEndMoved() {
        let s = st
        let lend = s.pointee.lend
        s.pointee.blockLoopEnd = lend
        let last = lend &- 1
        guard let page = decodedTable[Int(last >> pageShift)] else { return }
        let end = Int(last & UInt32(pageSize - 1))
        for i in Swift.max(0, end - 3 * Decoded.maxBlock)...end { page[i].blockGate = 0 }
    }

    /// Makes the decoded slot `head` (at `pc`) the head of a block, and every slot after it in
    /// the block the head of the block's rest. Slots on the way are decoded if they are not yet.
    @inline(never)
    func formBlock(_ head: UnsafeMutablePointer<Decoded>, pc: UInt32) {
        let pageBase = pc & ~UInt32(pageSize - 1)
        st.pointee.blocksFormed &+= 1
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: Decoded.maxBlock) { offsets in
            var count = 0
            var off = Int(pc & UInt32(pageSize - 1))
            var p = head
            while true {
                if p.pointee.length == 0 {
                    // Decode ahead, within the page only.
                    let a = pageBase | UInt32(off)
                    guard let (word, len) = fetchWord(a), off + len <= pageSize else { break }
                    p.pointee = Decoder.decode(word, length: len, pc: a)
                }
                let len = Int(p.pointee.length)
                if count > 0 && off + len > pageSize { break }
                offsets[count] = UInt16(off)
                count += 1
                if !p.pointee.continuesBlock || count == Decoded.maxBlock || off + len >= pageSize
                    || (pageBase | UInt32(off)) &+ UInt32(len) == st.pointee.lend { break }
                off += len
                p += len
            }
            // Each slot heads the rest of the block: its count and lowest gate. The gate covers
            // the instructions up to the next ENTRY, which checks the rest against the callee's
            // window itself.
            let base = head - Int(pc & UInt32(pageSize - 1))
            var gate: UInt8 = 4
            for i in stride(from: count - 1, through: 0, by: -1) {
                let q = base + Int(offsets[i])
                gate = q.pointee.op == .entry ? q.pointee.gate : Swift.min(gate, q.pointee.gate)
                q.pointee.lengthAndCount = q.pointee.length | UInt8(count - i) &<< 2
                q.pointee.blockGate = gate
            }
        }
    }
}
