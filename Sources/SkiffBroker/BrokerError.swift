/// A typed failure of one command: a stable numeric `code` for the wire plus a human-readable `message`.
///
/// A command that fails changes nothing (commands validate before they mutate).
public struct BrokerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable error codes. Raw values are part of the wire and checkpoint format: never renumber.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// The command bytes could not be decoded.
        public static let malformedCommand = Code(rawValue: 1)
        /// A field is out of range or inconsistent (the message says which).
        public static let invalidArgument = Code(rawValue: 2)
        /// A name is empty, too long or has characters outside `[A-Za-z0-9._:-]`.
        public static let invalidName = Code(rawValue: 3)
        /// A size or count bound in `BrokerLimits` would be exceeded.
        public static let limitExceeded = Code(rawValue: 4)
        /// The log index was already applied (the shell replayed an entry twice).
        public static let alreadyApplied = Code(rawValue: 5)
        public static let namespaceNotFound = Code(rawValue: 10)
        public static let namespaceExists = Code(rawValue: 11)
        public static let namespaceNotEmpty = Code(rawValue: 12)
        public static let queueNotFound = Code(rawValue: 20)
        /// A queue of that name exists with different arguments.
        public static let queueExists = Code(rawValue: 21)
        /// A `rejectPublish` queue is at its max length or bytes.
        public static let queueFull = Code(rawValue: 22)
        /// A queue with `ifEmpty` deletion still holds messages.
        public static let queueNotEmpty = Code(rawValue: 23)
        /// Another consumer is the single active consumer of this queue.
        public static let notActiveConsumer = Code(rawValue: 24)
        /// The lease is unknown: already acked, expired, released or never existed.
        public static let leaseNotFound = Code(rawValue: 25)
        public static let exchangeNotFound = Code(rawValue: 30)
        public static let exchangeExists = Code(rawValue: 31)
        /// No binding matched and there is no (working) alternate exchange.
        public static let unroutable = Code(rawValue: 32)
        public static let bindingNotFound = Code(rawValue: 33)
        public static let topicNotFound = Code(rawValue: 40)
        public static let topicExists = Code(rawValue: 41)
        public static let partitionNotFound = Code(rawValue: 42)
        /// The offset is below the log start or above the end of the partition.
        public static let offsetOutOfRange = Code(rawValue: 43)
        public static let groupNotFound = Code(rawValue: 50)
        public static let memberNotFound = Code(rawValue: 51)
        /// The generation named by the member is not the group's current one: rejoin.
        public static let staleGeneration = Code(rawValue: 52)
        /// The member does not own the partition in the current generation.
        public static let notPartitionOwner = Code(rawValue: 53)
        public static let producerNotFound = Code(rawValue: 60)
        /// The sequence number skips ahead of the next expected one.
        public static let sequenceGap = Code(rawValue: 61)
        /// The sequence number is older than the remembered window of results.
        public static let staleSequence = Code(rawValue: 62)
        public static let transactionNotFound = Code(rawValue: 70)
        /// The transaction was aborted (explicitly, by timeout or by a failed commit).
        public static let transactionAborted = Code(rawValue: 71)
        /// The transaction already committed; it accepts no more operations.
        public static let transactionCommitted = Code(rawValue: 72)
        public static let halfMessageNotFound = Code(rawValue: 80)

        public var description: String { "E\(rawValue)" }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
