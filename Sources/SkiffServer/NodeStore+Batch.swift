import SkiffBroker
import SkiffStore

/// Batched payload reads for `receive`: the payloads of one receive come from one range query, decoded straight
/// into the deliveries. They bypass the `payloads` cache, whose per-entry bookkeeping cost more than the query
/// (a consumed message is read once; a redelivered one is simply read again).
extension NodeStore {
    /// A batched read scans at most this many sequence numbers per requested payload (plus `batchSpanSlack`);
    /// sparser requests fall back to one read per payload, so a range scan never reads mostly unwanted rows.
    static let batchSpanPerPayloadMax: UInt64 = 4
    static let batchSpanSlack: UInt64 = 64

    /// The payloads of `sequences` (strictly ascending), in order; nil for a sequence whose row is not in the
    /// database (for example one still in a checkpoint being written, which `payload(for:)` finds) or whose row
    /// does not decode (raw or LZ4-framed, see `decodeStoredPayload`). Callers fall back to `payload(for:)` for those.
    func payloads(for sequences: [MessageSeq]) -> [Payload?] {
        guard let first = sequences.first?.rawValue, let last = sequences.last?.rawValue, last >= first,
            last - first < UInt64(sequences.count) * Self.batchSpanPerPayloadMax + Self.batchSpanSlack
        else { return sequences.map { _ in nil } }
        let reader = readerLock.withLock { self.reader }
        let rows =
            (try? reader.query(
                "SELECT seq, payload FROM broker_payloads WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq",
                [.integer(Int64(bitPattern: first)), .integer(Int64(bitPattern: last))])) ?? []
        var result: [Payload?] = []
        result.reserveCapacity(sequences.count)
        var row = 0
        for sequence in sequences {
            while row < rows.count, let seq = rows[row].first?.integer, UInt64(bitPattern: seq) < sequence.rawValue {
                row += 1
            }
            guard row < rows.count, rows[row].count == 2, rows[row][0].integer == Int64(bitPattern: sequence.rawValue),
                let blob = rows[row][1].blob
            else {
                result.append(nil)
                continue
            }
            result.append(Self.decodeStoredPayload(blob))
            row += 1
        }
        return result
    }
}

extension StorePayloadSource: BatchPayloadSource {
    func payloads(for sequences: [MessageSeq]) -> [Payload?] { store.payloads(for: sequences) }
}
