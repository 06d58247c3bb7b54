import CLZ4

/// LZ4 block compression through the system liblz4.
enum LZ4 {
    /// Compresses `source`; returns nil when the result would not be smaller (the caller then stores raw).
    static func compress(_ source: UnsafeRawBufferPointer) -> [UInt8]? {
        guard source.count > 0, source.count <= Int(LZ4_MAX_INPUT_SIZE) else { return nil }
        let capacity = source.count - 1
        var written: Int32 = 0
        let output = [UInt8](unsafeUninitializedCapacity: max(capacity, 1)) { buffer, initialized in
            written = LZ4_compress_default(
                source.baseAddress!.assumingMemoryBound(to: CChar.self),
                UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self),
                Int32(source.count), Int32(capacity))
            initialized = max(0, Int(written))
        }
        return written > 0 ? output : nil
    }

    /// Decompresses exactly `originalBytes` bytes; nil when the input is malformed or has another size.
    static func decompress(_ source: UnsafeRawBufferPointer, originalBytes: Int) -> [UInt8]? {
        guard source.count > 0, originalBytes > 0 else { return nil }
        var produced: Int32 = 0
        let output = [UInt8](unsafeUninitializedCapacity: originalBytes) { buffer, initialized in
            produced = LZ4_decompress_safe(
                source.baseAddress!.assumingMemoryBound(to: CChar.self),
                UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self),
                Int32(source.count), Int32(originalBytes))
            initialized = produced == Int32(originalBytes) ? originalBytes : 0
        }
        return produced == Int32(originalBytes) ? output : nil
    }
}
