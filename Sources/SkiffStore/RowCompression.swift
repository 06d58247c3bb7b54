import CLZ4

/// LZ4 compression of large BLOB column values (the broker's payload rows), so that a checkpoint writes fewer
/// bytes into SQLite: into its write-ahead log, then again into the database file, then into snapshot files.
///
/// A stored value is either the caller's raw bytes, as they are, or a compressed frame:
/// `compressedTag` (1 byte), the original length (`u32` big-endian), then one LZ4 block. The caller's raw format
/// SHOULD NOT begin with `compressedTag` (the broker's payload encoding begins with its version byte, 1); a raw
/// value that does is always framed, even when LZ4 does not shrink it, so `decode` is never ambiguous.
public enum RowCompression {
    /// The first byte of a compressed frame.
    public static let compressedTag: UInt8 = 0xC4
    /// Bytes before the LZ4 block: the tag and the original length.
    public static let frameHeaderBytes = 5
    /// Values shorter than this are stored raw: LZ4 rarely shrinks them, and the frame header would eat the gain.
    public static let compressBytesMin = 128
    /// A compressed frame is kept only when it saves at least `1 / keepRatioDivisor` of the raw size (else the
    /// raw value is stored: reading it back then costs no decompression).
    public static let keepRatioDivisor = 8
    /// The largest original length a frame may declare (a bound against damaged rows; far above any payload).
    public static let originalBytesMax = 1 << 30

    /// The value to store for `raw`: a compressed frame when that is clearly smaller, else `raw` itself. Sets up
    /// LZ4's state for this one call; a run of values should use one `Compressor`.
    public static func encode(_ raw: [UInt8]) -> [UInt8] { Compressor().encode(raw) }

    /// Encodes many values with one LZ4 state, reset cheaply between values (`LZ4_resetStream_fast`) instead of
    /// zeroing LZ4's 16 KiB hash table for each one as `LZ4_compress_default` does: for 1 KiB values that zeroing
    /// cost about as much as the compression. Each value is still an independent block. Values are compressed
    /// into a reused scratch buffer, so a stored frame is one allocation of its own size, and a value that does not
    /// compress well allocates nothing.
    ///
    /// Not thread-safe: one compressor per thread (the checkpoint thread makes one per checkpoint).
    public final class Compressor {
        /// The largest scratch buffer kept between values; larger values get a buffer of their own.
        public static let scratchBytesMax = 1 << 20

        private let stream: UnsafeMutablePointer<LZ4_stream_t>
        private var scratch: [UInt8] = []

        public init() {
            guard let stream = LZ4_createStream() else { preconditionFailure("LZ4_createStream: out of memory") }
            self.stream = stream
        }

        deinit { LZ4_freeStream(stream) }

        /// The value to store for `raw` (see `RowCompression.encode`).
        public func encode(_ raw: [UInt8]) -> [UInt8] {
            let mustFrame = raw.first == compressedTag
            guard raw.count >= compressBytesMin || mustFrame, raw.count <= originalBytesMax else { return raw }
            let capacity = frameHeaderBytes + Int(LZ4_compressBound(Int32(raw.count)))
            var buffer: [UInt8] = []
            if capacity <= Self.scratchBytesMax {
                if scratch.count < capacity { scratch = [UInt8](repeating: 0, count: capacity) }
                swap(&buffer, &scratch)
            } else {
                buffer = [UInt8](repeating: 0, count: capacity)
            }
            defer { if buffer.count <= Self.scratchBytesMax { swap(&buffer, &scratch) } }
            LZ4_resetStream_fast(stream)
            let written = buffer.withUnsafeMutableBytes { frame in
                raw.withUnsafeBytes { source in
                    LZ4_compress_fast_continue(
                        stream, source.baseAddress!.assumingMemoryBound(to: CChar.self),
                        (frame.baseAddress! + frameHeaderBytes).assumingMemoryBound(to: CChar.self),
                        Int32(raw.count), Int32(capacity - frameHeaderBytes), 1)
                }
            }
            guard written > 0 else {
                precondition(!mustFrame, "LZ4 failed on \(raw.count) bytes within its own bound")
                return raw
            }
            let total = frameHeaderBytes + Int(written)
            guard mustFrame || total <= raw.count - raw.count / keepRatioDivisor else { return raw }
            let length = UInt32(raw.count)
            buffer[0] = compressedTag
            for shift in 0..<4 { buffer[1 + shift] = UInt8(truncatingIfNeeded: length >> (24 - 8 * UInt32(shift))) }
            return Array(buffer[0..<total])
        }
    }

    /// The original length a stored value declares: its own length when raw; nil for a damaged frame header.
    public static func originalLength(_ stored: [UInt8]) -> Int? {
        guard stored.first == compressedTag else { return stored.count }
        guard stored.count > frameHeaderBytes else { return nil }
        let length = stored[1...4].reduce(0) { $0 << 8 | Int($1) }
        return length <= originalBytesMax ? length : nil
    }

    /// The raw bytes of a stored value (`encode`'s input); nil when a compressed frame is damaged.
    public static func decode(_ stored: [UInt8]) -> [UInt8]? {
        guard stored.first == compressedTag else { return stored }
        guard let length = originalLength(stored), length > 0 else { return nil }
        var produced: Int32 = 0
        let raw = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            produced = stored.withUnsafeBytes { source in
                LZ4_decompress_safe(
                    (source.baseAddress! + frameHeaderBytes).assumingMemoryBound(to: CChar.self),
                    UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self),
                    Int32(stored.count - frameHeaderBytes), Int32(length))
            }
            initialized = produced == Int32(length) ? length : 0
        }
        return produced == Int32(length) ? raw : nil
    }
}
