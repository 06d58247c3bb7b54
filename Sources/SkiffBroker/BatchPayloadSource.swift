/// A payload source that reads the payloads of many sequences at once, so that a `receive` of N released
/// messages costs one read instead of N.
public protocol BatchPayloadSource: PayloadSource {
    /// The payloads of `sequences` (strictly ascending), in the same order. An element MAY be nil even when
    /// `payload(for:)` would find the payload (the broker then asks `payload(for:)` for that one), but a
    /// non-nil element MUST be what `payload(for:)` returns.
    func payloads(for sequences: [MessageSeq]) -> [Payload?]
}
