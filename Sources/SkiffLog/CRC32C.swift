/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), computed with slicing-by-8 tables.
///
/// This is the checksum of every block, segment header and state file. `checksum(of:)` of the ASCII bytes
/// "123456789" is 0xE3069283.
public enum CRC32C {
    /// The reflected Castagnoli polynomial.
    public static let polynomial: UInt32 = 0x82F6_3B78

    /// 8 tables of 256 entries: table k maps a byte to its CRC contribution k bytes further along.
    private static let tables: [UInt32] = makeTables()

    private static func makeTables() -> [UInt32] {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1 }
            tables[byte] = crc
        }
        for slice in 1..<8 {
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
        // Slicing-by-8: fold 8 input bytes per step (little-endian load).
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
