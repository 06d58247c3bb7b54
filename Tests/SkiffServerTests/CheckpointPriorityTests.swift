import Foundation
import Testing

@testable import SkiffServer

@Suite struct CheckpointPriorityTests {
    /// Lowering a thread's priority changes that thread's nice value only, and never raises it back.
    @Test func lowersOnlyTheCallingThread() throws {
        #if os(Linux)
            let before = try #require(currentThreadNiceness())
            let observed = NiceValues()
            let thread = Thread {
                lowerCurrentThreadPriority(to: before + 3)
                observed.afterLowering = currentThreadNiceness()
                // A request for a higher priority than the thread has is ignored (it would need privilege).
                lowerCurrentThreadPriority(to: before + 1)
                observed.afterRaiseAttempt = currentThreadNiceness()
                observed.done.signal()
            }
            thread.start()
            #expect(observed.done.wait(timeout: .now() + 10) == .success)
            #expect(observed.afterLowering == before + 3)
            #expect(observed.afterRaiseAttempt == before + 3)
            #expect(currentThreadNiceness() == before)
        #endif
    }

    /// The checkpoint thread's niceness is a real reduction and within the range the kernel accepts.
    @Test func checkpointNicenessIsInRange() {
        #expect(Node.checkpointThreadNiceness > 0)
        #expect(Node.checkpointThreadNiceness <= 19)
    }
}

/// Values written by the test thread and read after `done` is signalled.
private final class NiceValues: @unchecked Sendable {
    var afterLowering: Int32?
    var afterRaiseAttempt: Int32?
    let done = DispatchSemaphore(value: 0)
}
