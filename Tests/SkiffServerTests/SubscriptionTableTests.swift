import SkiffBroker
import SkiffRaft
import SkiffWire
import Testing

@testable import SkiffServer

@Suite struct SubscriptionTableTests {
    let queue = ObjectName(namespace: "default", name: "q")

    /// Credit is prefetch minus unsettled deliveries; settling returns it and wakes an idle subscription.
    @Test func creditFollowsSettles() throws {
        var table = SubscriptionTable()
        let idAdded = table.add(connection: 7, queue: queue, prefetch: 3, leaseMs: 1000, node: NodeID(2))
        let id = try #require(idAdded)
        #expect(table.wantingMessages() == [id])
        table[id]?.outstanding = [LeaseID(1), LeaseID(2), LeaseID(3)]
        table[id]?.idle = true
        #expect(table[id]?.credit == 0)
        #expect(table.wantingMessages().isEmpty)
        table.settle([LeaseID(2)], queue: queue, connection: 7)
        #expect(table[id]?.credit == 1)
        #expect(table[id]?.idle == false)
        #expect(table.wantingMessages() == [id])
    }

    /// Another connection's settle of the same lease id does not return this subscription's credit.
    @Test func settleIsScopedToTheConnection() throws {
        var table = SubscriptionTable()
        let idAdded = table.add(connection: 1, queue: queue, prefetch: 2, leaseMs: 1000, node: NodeID(1))
        let id = try #require(idAdded)
        table[id]?.outstanding = [LeaseID(5)]
        table.settle([LeaseID(5)], queue: queue, connection: 2)
        #expect(table[id]?.outstanding == [LeaseID(5)])
    }

    /// Closing a connection removes exactly its subscriptions and names their consumers for lease release.
    @Test func removeConnectionReturnsConsumers() throws {
        var table = SubscriptionTable()
        let aAdded = table.add(connection: 1, queue: queue, prefetch: 1, leaseMs: 1, node: NodeID(3))
        let a = try #require(aAdded)
        #expect(table.add(connection: 2, queue: queue, prefetch: 1, leaseMs: 1, node: NodeID(3)) != nil)
        let consumers = table.removeConnection(1)
        #expect(consumers == ["n3-c1-s\(a.rawValue)"])
        #expect(table.count == 1)
    }

    /// Expired leases return credit to the subscription whose consumer held them; wake() only touches idle
    /// subscriptions of the named queue.
    @Test func expiryAndWake() throws {
        var table = SubscriptionTable()
        let idAdded = table.add(connection: 1, queue: queue, prefetch: 5, leaseMs: 1, node: NodeID(1))
        let id = try #require(idAdded)
        let consumer = try #require(table[id]?.consumer)
        table[id]?.outstanding = [LeaseID(9)]
        table[id]?.idle = true
        table.wake(namespace: "default", queue: "other")
        #expect(table[id]?.idle == true)
        table.expired([LeaseID(9)], consumer: consumer)
        #expect(table[id]?.outstanding.isEmpty == true)
        #expect(table[id]?.idle == false)
    }

    /// Prefetch is clamped to 0...prefetchMax (0 = paused: no credit, so no receive is asked for), and a
    /// connection cannot exceed its subscription bound.
    @Test func bounds() throws {
        var table = SubscriptionTable()
        let idAdded = table.add(connection: 1, queue: queue, prefetch: 0, leaseMs: 1, node: NodeID(1))
        let id = try #require(idAdded)
        #expect(table[id]?.prefetch == 0)
        #expect(table.wantingMessages().isEmpty)
        table.setPrefetch(id, connection: 1, prefetch: 2)
        #expect(table.wantingMessages() == [id])
        table.setPrefetch(id, connection: 1, prefetch: 1 << 30)
        #expect(table[id]?.prefetch == SubscriptionTable.prefetchMax)
        for _ in 1..<SubscriptionTable.perConnectionMax {
            _ = table.add(connection: 1, queue: queue, prefetch: 1, leaseMs: 1, node: NodeID(1))
        }
        #expect(table.add(connection: 1, queue: queue, prefetch: 1, leaseMs: 1, node: NodeID(1)) == nil)
    }

    /// Receives in flight hold their credit: a second receive goes out only for a worthwhile batch, at most
    /// `receivesInFlightMax` are in flight, and an ended receive frees what it asked for.
    @Test func receivesInFlightReserveCredit() throws {
        var table = SubscriptionTable()
        let idAdded = table.add(connection: 1, queue: queue, prefetch: 1000, leaseMs: 1000, node: NodeID(1))
        let id = try #require(idAdded)
        #expect(table.wantingMessages() == [id])
        table[id]?.receiveProposed(count: 1000)
        #expect(table[id]?.credit == 0)
        #expect(table.wantingMessages().isEmpty)
        // The first receive delivered 1000 leases; settling 100 of them is not yet worth a second receive.
        table[id]?.receiveEnded(count: 1000)
        table[id]?.outstanding = Set((1...1000).map { LeaseID(UInt64($0)) })
        table[id]?.receiveProposed(count: 0)
        table.settle((1...100).map { LeaseID(UInt64($0)) }, queue: queue, connection: 1)
        #expect(table[id]?.credit == 100)
        #expect(table.wantingMessages().isEmpty)
        table.settle((101...SubscriptionTable.receiveBatchMax).map { LeaseID(UInt64($0)) }, queue: queue, connection: 1)
        #expect(table.wantingMessages() == [id])
        // Never more than the bound in flight, whatever the credit.
        for _ in 1..<SubscriptionTable.receivesInFlightMax { table[id]?.receiveProposed(count: 0) }
        table.settle((1...1000).map { LeaseID(UInt64($0)) }, queue: queue, connection: 1)
        #expect(table[id]?.credit == 1000)
        #expect(table.wantingMessages().isEmpty)
        table[id]?.receiveEnded(count: 0)
        #expect(table.wantingMessages() == [id])
    }

    /// With no receive in flight any credit at all is asked for (a prefetch-1 consumer still gets messages).
    @Test func firstReceiveNeedsOnlyOneCredit() throws {
        var table = SubscriptionTable()
        let idAdded = table.add(connection: 1, queue: queue, prefetch: 1, leaseMs: 1000, node: NodeID(1))
        let id = try #require(idAdded)
        #expect(table.wantingMessages() == [id])
        table[id]?.receiveProposed(count: 1)
        #expect(table.wantingMessages().isEmpty)
        table[id]?.receiveEnded(count: 1)
        table[id]?.idle = true
        #expect(table.wantingMessages().isEmpty)
    }
}
