import SkiffRaft
import Testing

@testable import SkiffServer

@Suite struct ProposalEnvelopeTests {
    /// An envelope survives encode then decode with every header field and the body intact.
    @Test func roundTrip() throws {
        let bytes = ProposalEnvelope.encode(
            kind: .broker, proposer: NodeID(3), proposalID: 0xDEAD_BEEF_0102, timeMs: -5, bodyCapacity: 3
        ) { $0.append(contentsOf: [9, 8, 7]) }
        #expect(bytes.count == ProposalEnvelope.headerBytes + 3)
        let decoded = try ProposalEnvelope(decoding: bytes)
        #expect(decoded.kind == .broker)
        #expect(decoded.proposer == NodeID(3))
        #expect(decoded.proposalID == 0xDEAD_BEEF_0102)
        #expect(decoded.timeMs == -5)
        #expect(Array(decoded.body) == [9, 8, 7])
    }

    /// Short, foreign-version and unknown-kind entries are refused rather than misread.
    @Test func rejectsCorruptHeaders() {
        let good = ProposalEnvelope.encode(
            kind: .broker, proposer: NodeID(1), proposalID: 1, timeMs: 1, bodyCapacity: 0
        ) {
            _ in
        }
        var badVersion = good
        badVersion[0] = 9
        var badKind = good
        badKind[1] = 77
        for bytes in [Array(good.prefix(10)), badVersion, badKind] {
            #expect(throws: ProposalEnvelope.DecodeError.self) { try ProposalEnvelope(decoding: bytes) }
        }
    }

    /// Address records round-trip, and truncated or padded records are refused.
    @Test func addressRecordRoundTripAndBounds() throws {
        let record = AddressRecord(node: NodeID(5), peerAddress: "127.0.0.1:7205", clientAddress: "127.0.0.1:7105")
        var bytes: [UInt8] = []
        record.encode(into: &bytes)
        #expect(try AddressRecord(decoding: bytes[...]) == record)
        #expect(throws: ProposalEnvelope.DecodeError.self) { try AddressRecord(decoding: bytes.dropLast()) }
        #expect(throws: ProposalEnvelope.DecodeError.self) { try AddressRecord(decoding: (bytes + [0])[...]) }
    }
}
