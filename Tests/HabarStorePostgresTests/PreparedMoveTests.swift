import Foundation
import HabarCore
import HabarMessages
@testable import HabarStorePostgres
import HabarTesting
import Testing

/// The dispatcher's batch moves (`SentMove`, `DeliveredMove`) are prepared statements: after
/// five runs the server may plan one of them once for every batch (a generic plan, which knows
/// no batch's size). Such a plan must still find a batch's deliveries by key. The moves are
/// shaped for that (every condition on a delivery's own columns is a join with a column of the
/// batch) because a plan that compared every delivery with every row of the batch took 137 ms
/// for 1,000 reports; this checks the shape holds under a generic plan, with statistics taken
/// while everything was queued (a broadcast's first minutes).
@Suite("PostgreSQL prepared batch moves")
struct PreparedMoveTests {
    @Test("under a generic plan, a batch of 1,000 sends and then of 1,000 reports is matched to its deliveries by key, not row by row")
    func genericPlans() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let (store, database, queued) = try await DeliveryQueueTests.published(peer, citizens: 1000, poolSize: 2)
        defer { store.close() }
        #expect(queued == 1000)
        try await peer.psql("ANALYZE deliveries", database: database)
        let now = Date()
        let ids = try await store.claimDeliveries(
            channel: "sms", kind: .sms, address: .phone, limit: 1000, owner: "a", leaseUntil: now.addingTimeInterval(60), now: now
        ).map(\.deliveryId).sorted()
        #expect(ids.count == 1000)
        let list = "'{" + ids.map(String.init).joined(separator: ",") + "}'"
        let count = ids.count
        let at = now.ms

        /// Runs `Statement` through EXPLAIN ANALYZE under a generic plan (it moves the batch)
        /// and answers how many rows of the batch its joins compared and threw away.
        func removedByJoinFilter<Statement: HotStatement>(_ statement: Statement.Type, _ arguments: String) async throws -> (removed: Int, plan: String) {
            let plan = try await peer.psql(
                """
                SET plan_cache_mode = force_generic_plan;
                PREPARE move AS \(Statement.sql);
                EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE move(\(arguments));
                """, database: database)
            let removed = plan.split(separator: "\n").compactMap { line -> Int? in
                guard let range = line.range(of: "Rows Removed by Join Filter: ") else { return nil }
                return Int(line[range.upperBound...].trimmingCharacters(in: .whitespaces))
            }.reduce(0, +)
            return (removed, plan)
        }

        let sent = try await removedByJoinFilter(
            PostgresStore.SentMove.self,
            "\(at), \(at), \(list), array_fill(0, ARRAY[\(count)]), array_fill('p'::text, ARRAY[\(count)]), array_fill(true, ARRAY[\(count)]), "
                + "'sending', \(count), 'a', \(count), \(list), \(at), 'sending', 'sent', NULL")
        #expect(sent.removed < count, "\(sent.plan)")
        let delivered = try await removedByJoinFilter(
            PostgresStore.DeliveredMove.self,
            "\(list), array_fill(0, ARRAY[\(count)]), array_fill('sms'::text, ARRAY[\(count)]), array_fill(\(at)::bigint, ARRAY[\(count)]), "
                + "'sent', \(count), \(list), \(at), 'sent', 'delivered', 'delivery report'")
        #expect(delivered.removed < count, "\(delivered.plan)")
        // Both moves did what the store's would: every delivery of the batch is delivered.
        let states = try await store.deliveryCounts(advisoryId: nil).filter { $0.count > 0 }.map { "\($0.state.rawValue) \($0.count)" }
        #expect(states == ["delivered 1000"], "\(sent.plan)\n\(delivered.plan)")
    }
}
