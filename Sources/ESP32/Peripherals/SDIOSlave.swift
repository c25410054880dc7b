// The SDIO slave blocks (SLC DMA, SLCHOST, HINF) as far as the ROM's download-mode start needs
// them: with the DOWNLOAD_BOOT strappings the ROM attaches the SDIO slave next to the UARTs
// (sip_init_attach / slc_init_attach) before printing "waiting for download". No SDIO host is
// ever connected; registers store what software writes, and the SLC DMA link registers report
// their link as parked (bit 31), as an idle engine does right after a start/stop.

public final class SLC: RegisterModel, Peripheral {
    public let name = "SLC"
    public let range: Range<UInt32> = 0x5_8000..<0x5_9000
    var regs = RegisterFile(count: 0x1000 / 4)

    public override init() {}

    public func reset() { regs.reset() }

    /// SLC0/1 RX_LINK and TX_LINK (bit 31: PARK, read-only).
    static let linkRegisters: Set<UInt32> = [0x3C, 0x40, 0x44, 0x48]

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        guard offset < 0x200 else { return nil }
        let o = offset & ~3
        return SLC.linkRegisters.contains(o) ? regs[o] | 0x8000_0000 : regs[o]
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        guard offset < 0x200 else { return false }
        let o = offset & ~3
        // Interrupt clear registers (SLC0INT_CLR 0x10, SLC1INT_CLR 0x20) clear raw bits.
        regs[o] = RegisterFile.merge(regs[o], offset: offset, size: size, value: value)
        return true
    }
}
