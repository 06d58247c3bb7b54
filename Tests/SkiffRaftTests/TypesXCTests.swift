import XCTest

@testable import SkiffRaft

/// XCTest twin of the strong-type checks, so CI's log shows XCTest's suite summary next to Swift Testing's.
final class TypesXCTests: XCTestCase {
    /// Proves index arithmetic never silently wraps at zero: `previous` of index 1 is the "before the log" index.
    func testIndexStepsDownToZero() {
        XCTAssertEqual(LogIndex(1).previous, LogIndex.zero)
        XCTAssertEqual(LogIndex.zero.advanced(by: 5), LogIndex(5))
        XCTAssertLessThan(Term.zero, Term(1))
    }
}
