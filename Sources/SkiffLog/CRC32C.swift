import CCRC

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78). Uses the CPU's CRC-32C instruction (SSE4.2 on
/// x86-64, through the `CCRC` C shim) when present, and otherwise software slicing tables (16 bytes per step,
/// then 8, then one at a time). Both give identical results; the tests compare them.
///
/// This is the checksum of every block, segment header and state file. `checksum(of:)` of the ASCII bytes
/// "123456789" is 0xE3069283.
public enum CRC32C {
    /// The reflected Castagnoli polynomial.
    public static let polynomial: UInt32 = 0x82F6_3B78

    /// Number of slicing tables.
    static let tableCount = 16
    /// 16 tables of 256 entries: table k maps a byte to its CRC contribution k bytes further along.
    private static let tables: [UInt32] = makeTables()

    private static func makeTables() -> [UInt32] {
        var tables = [UInt32](repeating: 0, count: tableCount * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1 }
            tables[byte] = crc
        }
        for slice in 1..<tableCount {
            for byte in 0..<256 {
                let previous = tables[(slice - 1) * 256 + byte]
                tables[slice * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }

    /// The CRC-32C of `bytes`, optionally continuing from the finished CRC of preceding bytes.
    ///
    /// `checksum(of: b, continuing: checksum(of: a))` equals `checksum(of: a + b)`.
    public static func checksum(of bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        if hardwareAvailable, let base = bytes.baseAddress {
            return ~skiff_crc32c_hw_update(~previous, base, bytes.count)
        }
        return softwareChecksum(of: bytes, continuing: previous)
    }

    /// Whether `checksum(of:)` uses the CPU instruction (decided once per process).
    public static let hardwareAvailable = skiff_crc32c_hw_available() == 1

    /// The table-driven CRC-32C, whatever the CPU offers (the reference the hardware path is tested against).
    public static func softwareChecksum(of bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        tables.withUnsafeBufferPointer { table in
            ~update(~previous, bytes, table.baseAddress!)
        }
    }

    /// The CRC-32C of a byte array.
    public static func checksum(of bytes: [UInt8], continuing previous: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum(of: $0, continuing: previous) }
    }

    /// The CRC-32C of a slice of a byte array.
    public static func checksum(of bytes: ArraySlice<UInt8>, continuing previous: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum(of: $0, continuing: previous) }
    }

    @inline(__always)
    private static func update(
        _ initial: UInt32, _ bytes: UnsafeRawBufferPointer, _ table: UnsafePointer<UInt32>
    ) -> UInt32 {
        var crc = initial
        guard let base = bytes.baseAddress else { return crc }
        let count = bytes.count
        var position = 0
        // Slicing-by-16: fold 16 input bytes per step (little-endian loads).
        while position + 16 <= count {
            let first = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: position, as: UInt64.self))
            let second = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: position + 8, as: UInt64.self))
            let a = UInt32(truncatingIfNeeded: first) ^ crc
            let b = UInt32(truncatingIfNeeded: first >> 32)
            let c = UInt32(truncatingIfNeeded: second)
            let d = UInt32(truncatingIfNeeded: second >> 32)
            crc =
                table[15 * 256 + Int(a & 0xFF)] ^ table[14 * 256 + Int((a >> 8) & 0xFF)]
                ^ table[13 * 256 + Int((a >> 16) & 0xFF)] ^ table[12 * 256 + Int(a >> 24)]
                ^ table[11 * 256 + Int(b & 0xFF)] ^ table[10 * 256 + Int((b >> 8) & 0xFF)]
                ^ table[9 * 256 + Int((b >> 16) & 0xFF)] ^ table[8 * 256 + Int(b >> 24)]
                ^ table[7 * 256 + Int(c & 0xFF)] ^ table[6 * 256 + Int((c >> 8) & 0xFF)]
                ^ table[5 * 256 + Int((c >> 16) & 0xFF)] ^ table[4 * 256 + Int(c >> 24)]
                ^ table[3 * 256 + Int(d & 0xFF)] ^ table[2 * 256 + Int((d >> 8) & 0xFF)]
                ^ table[1 * 256 + Int((d >> 16) & 0xFF)] ^ table[Int(d >> 24)]
            position += 16
        }
        // Slicing-by-8 for the remainder of at least 8 bytes.
        while position + 8 <= count {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: position, as: UInt64.self))
            let low = UInt32(truncatingIfNeeded: word) ^ crc
            let high = UInt32(truncatingIfNeeded: word >> 32)
            crc =
                table[7 * 256 + Int(low & 0xFF)] ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                ^ table[5 * 256 + Int((low >> 16) & 0xFF)] ^ table[4 * 256 + Int(low >> 24)]
                ^ table[3 * 256 + Int(high & 0xFF)] ^ table[2 * 256 + Int((high >> 8) & 0xFF)]
                ^ table[1 * 256 + Int((high >> 16) & 0xFF)] ^ table[Int(high >> 24)]
            position += 8
        }
        while position < count {
            let byte = base.load(fromByteOffset: position, as: UInt8.self)
            crc = (crc >> 8) ^ table[Int((crc ^ UInt32(byte)) & 0xFF)]
            position += 1
        }
        return crc
    }
}
