// The Raft quantities that appear in wire messages (cluster status, NOT_LEADER hints) are re-exported so
// that users of SkiffWire and SkiffClient need not import the Raft core themselves.
@_exported import struct SkiffRaft.LogIndex
@_exported import struct SkiffRaft.NodeID
@_exported import struct SkiffRaft.Term
