import CLZ4

/// LZ4 block compression through the system liblz4.
enum LZ4 {
    /// Compresses `source` into `destination`; returns the bytes written, or 0 when the result does not fit
    /// (the caller then stores raw: pass a destination smaller than the source to get only a shrinking result).
    static func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int {
        guard source.count > 0, source.count <= Int(LZ4_MAX_INPUT_SIZE), destination.count > 0 else { return 0 }
        let written = LZ4_compress_default(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            destination.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(source.count),
            Int32(min(destination.count, Int(Int32.max))))
        return max(0, Int(written))
    }

    /// The largest compressed size of `sourceBytes` input (LZ4's worst case for incompressible data).
    static func compressBound(_ sourceBytes: Int) -> Int {
        Int(LZ4_compressBound(Int32(sourceBytes)))
    }

    /// Decompresses `source` into all of `destination`; false when the input is malformed or decodes to
    /// another size.
    static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        guard source.count > 0, destination.count > 0 else { return false }
        let produced = LZ4_decompress_safe(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            destination.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(source.count),
            Int32(destination.count))
        return produced == Int32(destination.count)
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
