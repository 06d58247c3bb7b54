/// Protocol constants and bounds shared by both ends of a Skiff client connection.
///
/// See `docs/protocol.md` for the byte-level specification.
public enum WireProtocol {
    /// The four bytes `SKIF` that open every `hello` payload.
    public static let magic: UInt32 = 0x534B_4946
    /// The protocol version this build speaks. Bumped only for incompatible changes.
    public static let version: UInt16 = 2
    /// The oldest protocol version this build still accepts.
    public static let minimumVersion: UInt16 = 1
    /// The first version with `Push.deliveries` (many deliveries of one subscription per push frame).
    public static let deliveryBatchVersion: UInt16 = 2
    /// The most deliveries one `DeliveryBatch` may carry.
    public static let deliveriesPerBatchMax = 1_024
    /// Bytes in the length prefix that starts every frame.
    public static let lengthPrefixBytes = 4
    /// Bytes in the frame header that follows the length prefix: kind, flags, opcode, request id.
    public static let headerBytes = 12
    /// The default largest frame (header + payload, excluding the length prefix) either end accepts.
    public static let frameBytesMaxDefault = 16 * 1024 * 1024
    /// The largest frame any configuration may allow; the length prefix is a `UInt32`, but nothing needs more.
    public static let frameBytesMaxLimit = 256 * 1024 * 1024
    /// The longest UTF-8 string field (names, header keys and values, addresses, messages).
    public static let stringBytesMax = 64 * 1024
}
