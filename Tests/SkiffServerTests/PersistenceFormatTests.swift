import SkiffRaft
import Testing

@testable import SkiffServer

@Suite struct PersistenceFormatTests {
    /// node.meta round-trips membership and addresses, including empty client addresses.
    @Test func nodeMetaRoundTrip() {
        let meta = NodeMetaFile(
            confState: ConfState(voters: [NodeID(1), NodeID(2)], learners: [NodeID(4)]),
            addresses: [
                AddressRecord(node: NodeID(2), peerAddress: "127.0.0.1:7202", clientAddress: ""),
                AddressRecord(node: NodeID(1), peerAddress: "127.0.0.1:7201", clientAddress: "127.0.0.1:7101"),
            ])
        let decoded = NodeMetaFile(decoding: meta.encoded())
        #expect(decoded == meta)
        #expect(decoded.addresses.map(\.node) == [NodeID(1), NodeID(2)])
    }

    /// A node.meta without membership lines decodes to no membership (a fresh node bootstraps from config).
    @Test func nodeMetaWithoutMembership() {
        let decoded = NodeMetaFile(decoding: "address 3 h:1 -\ngarbage line\n")
        #expect(decoded.confState == nil)
        #expect(decoded.addresses == [AddressRecord(node: NodeID(3), peerAddress: "h:1", clientAddress: "")])
    }

    /// Membership bytes carried by checkpoints round-trip, and truncated bytes are refused.
    @Test func membershipCodec() throws {
        let conf = ConfState(voters: [NodeID(1), NodeID(5)], learners: [NodeID(7)])
        let bytes = MembershipCodec.encode(conf)
        #expect(try MembershipCodec.decode(bytes) == conf)
        #expect(throws: MembershipCodec.DecodeError.self) { try MembershipCodec.decode(Array(bytes.dropLast())) }
        #expect(throws: MembershipCodec.DecodeError.self) { try MembershipCodec.decode(bytes + [0]) }
    }
}
