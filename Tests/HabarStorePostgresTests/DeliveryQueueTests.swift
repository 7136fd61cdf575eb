import Foundation
import HabarCore
import HabarMessages
import HabarStorePostgres
import HabarTesting
import Logging
import Testing

/// The v3 schema's promise, as v8 left it: `delivery_queue` holds exactly the deliveries
/// waiting to be sent (queued, retrying) with their current claim columns, whatever moved them;
/// every delivery being sent is named by a lease row of its owner with its lease's expiry
/// (`delivery_leases`); and the moves of `deliveries` itself are HOT updates (no index of it
/// names a column a move changes).
@Suite("PostgreSQL delivery queue")
struct DeliveryQueueTests {
    /// A new database with `citizens` citizens and one published SMS advisory to them.
    static func published(_ peer: PostgresPeer, citizens: Int, poolSize: Int, expiresAt: Date? = nil) async throws
        -> (store: PostgresStore, database: String, queued: Int)
    {
        let url = try await peer.createDatabase()
        let store = try await PostgresStore.open(try PostgresSettings(url: url, poolSize: poolSize), logger: Logger(label: "test.queue"))
        _ = try await store.upsertCitizens((1...citizens).map { Fixtures.citizen($0) })
        let publisher = AdvisoryPublisher(
            store: store, catalog: try Fixtures.catalog(),
            channels: ["sms": ChannelCapabilities(messageKind: .sms, addressKind: .phone, deliveryReceipts: true)])
        let advisory = expiresAt.map { Fixtures.advisory(expiresAt: $0) } ?? Fixtures.advisory()
        let draft = try await publisher.draft(advisory, now: Date())
        let queued = try await publisher.publish(id: draft.id, approver: "approver", now: Date()).queued
        return (store, String(url.split(separator: "/").last ?? ""), queued)
    }

    /// `published` with every delivery claimed by instance "a": the store, its database and
    /// the claimed ids in order.
    static func claimedByA(_ peer: PostgresPeer, citizens: Int) async throws -> (store: PostgresStore, database: String, ids: [Int64]) {
        let (store, database, _) = try await published(peer, citizens: citizens, poolSize: 2)
        let now = Date()
        let ids = try await store.claimDeliveries(
            channel: "sms", kind: .sms, address: .phone, limit: citizens, owner: "a", leaseUntil: now.addingTimeInterval(30), now: now
        ).map(\.deliveryId).sorted()
        return (store, database, ids)
    }

    /// Instance "a"'s send of delivery `id`, step 0.
    static func sent(_ id: Int64) -> DeliveryOutcome {
        DeliveryOutcome(deliveryId: id, step: 0, channel: "sms", result: .sent(providerMessageId: "p-\(id)"))
    }

    @Test("the queue mirrors the waiting deliveries and the lease rows name the ones being sent, through claims, outcomes, receipts, heartbeat, take-over and expiry; moves are HOT updates")
    func mirrors() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let (store, database, _) = try await Self.published(peer, citizens: 40, poolSize: 4, expiresAt: Date().addingTimeInterval(600))

        func number(_ sql: String) async throws -> Int {
            Int(try await peer.psql(sql, database: database).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        /// Rows where the queue and the waiting deliveries disagree, both ways, and deliveries
        /// being sent that no lease row of their owner names with their lease's expiry.
        func mismatches() async throws -> Int {
            let waiting = """
                SELECT id, advisory_id, channel, priority, next_attempt_at, expires_at FROM deliveries WHERE state IN ('queued', 'retrying')
                """
            let queued = "SELECT delivery_id, advisory_id, channel, priority, due_at, expires_at FROM delivery_queue"
            let unleased = """
                SELECT 1 FROM deliveries d WHERE state = 'sending' AND NOT EXISTS (SELECT 1 FROM delivery_leases l
                    WHERE l.owner = d.lease_owner AND d.id = ANY (l.delivery_ids) AND l.expires_at = d.lease_expires_at)
                """
            return try await number(
                "SELECT (SELECT count(*) FROM ((\(waiting) EXCEPT \(queued)) UNION ALL (\(queued) EXCEPT \(waiting))) x) + (SELECT count(*) FROM (\(unleased)) y)")
        }
        func queueSize() async throws -> Int { try await number("SELECT count(*) FROM delivery_queue") }
        func leaseRows() async throws -> Int { try await number("SELECT count(*) FROM delivery_leases") }
        #expect(try await queueSize() == 40)
        #expect(try await mismatches() == 0)

        let now = Date()
        let claimed = try await store.claimDeliveries(
            channel: "sms", kind: .sms, address: .phone, limit: 25, owner: "a", leaseUntil: now.addingTimeInterval(30), now: now)
        #expect(claimed.count == 25)
        #expect(try await queueSize() == 15, "the claimed left the queue")
        #expect(try await leaseRows() == 1, "one lease row for the claim")
        #expect(try await mismatches() == 0, "after the claim")
        let ids = claimed.map(\.deliveryId)
        func outcome(_ id: Int64, _ result: DeliveryOutcome.Result) -> DeliveryOutcome { DeliveryOutcome(deliveryId: id, step: 0, channel: "sms", result: result) }
        try await store.recordOutcomes(
            ids[0..<10].map { outcome($0, .sent(providerMessageId: "p-\($0)")) }
                + ids[10..<15].map { outcome($0, .retry(at: now.addingTimeInterval(60), reason: "throttled", countsAttempt: true)) }
                + ids[15..<20].map { outcome($0, .failed(reason: "rejected")) },
            owner: "a", now: now)
        #expect(try await mismatches() == 0, "after the outcomes")
        try await store.applyReceipts(
            ids[0..<5].map { DeliveryReceipt(deliveryId: $0, step: 0, channel: "sms", status: .delivered, at: now, providerMessageId: "p-\($0)") }
                + [DeliveryReceipt(deliveryId: ids[5], step: 0, channel: "sms", status: .failed(reason: "absent subscriber"), at: now, providerMessageId: nil)],
            now: now)
        // Waiting: 15 never claimed, 5 retrying; 5 still sending.
        #expect(try await queueSize() == 20)
        #expect(try await mismatches() == 0, "after the receipts")
        // Housekeeping while the lease is live takes nothing and keeps the lease row.
        #expect(try await store.recoverLeases(now: now.addingTimeInterval(1), owner: nil) == 0)
        #expect(try await leaseRows() == 1, "a lease with deliveries still sending stays")
        // The 5 still sending: the heartbeat renews them, their lease runs out and another
        // instance takes them back; the lease row goes with them.
        #expect(try await store.renewLeases(owner: "a", until: now.addingTimeInterval(40), now: now) == 5)
        #expect(try await mismatches() == 0, "after the heartbeat")
        #expect(try await store.recoverLeases(now: now.addingTimeInterval(39), owner: nil) == 0, "the renewed lease is live")
        #expect(try await store.recoverLeases(now: now.addingTimeInterval(41), owner: nil) == 5)
        #expect(try await leaseRows() == 0, "nothing is sent under the lease any more")
        #expect(try await mismatches() == 0, "after the take-over")
        // A breaker holding the channel postpones what is due, then everything left expires.
        #expect(try await store.postponeDue(channel: "sms", until: now.addingTimeInterval(120), unlessStepStartedBefore: .distantPast, now: now.addingTimeInterval(45)) == 20)
        #expect(try await mismatches() == 0, "after the postponement")
        #expect(try await store.expireOverdue(now: now.addingTimeInterval(700)) == 25)
        #expect(try await queueSize() == 0)
        #expect(try await mismatches() == 0)

        // A server process hands its statistics over when it ends: close the pool, then read
        // until the counters stop moving.
        store.close()
        var hot = 0, updates = 0
        for _ in 0..<40 {
            try await Task.sleep(for: .milliseconds(500))
            let counts = try await peer.psql("SELECT n_tup_upd || ' ' || n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'deliveries'", database: database)
            let parts = counts.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
            guard parts.count == 2 else { continue }
            if parts[0] > 0, parts[0] == updates, parts[1] == hot { break }
            (updates, hot) = (parts[0], parts[1])
        }
        print("delivery queue test: \(hot) of \(updates) updates of deliveries were HOT")
        // Alone, all but one are HOT; beside the rest of the suite on the same server, fewer
        // (other databases' open transactions hold back the pruning of old row versions). With
        // an index on a column a move changes, none would be.
        #expect(updates > 0 && hot * 2 >= updates, "\(hot) of \(updates) updates of deliveries were HOT")
    }

    @Test("a delivery report held while its send was being recorded is applied: the record waits for the row, housekeeping's next pass applies the report")
    func earlyReportDuringRecord() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let (store, database, ids) = try await Self.claimedByA(peer, citizens: 1)
        defer { store.close() }
        let now = Date()
        let id = try #require(ids.first)
        // The provider's report comes before the send is recorded: the receipt path locks the
        // row, finds it still sending and holds the report; it commits while the record of the
        // send is waiting for that lock.
        let holder = Task {
            try await peer.psql(
                """
                BEGIN; SELECT id FROM deliveries WHERE id = \(id) FOR UPDATE;
                INSERT INTO early_receipts (delivery_id, step, status, at, provider_message_id) VALUES (\(id), 0, 'delivered', \(Int64(now.timeIntervalSince1970 * 1000)), 'p-1');
                SELECT pg_sleep(1.5); COMMIT;
                """, database: database)
        }
        try await Task.sleep(for: .milliseconds(500))
        try await store.recordOutcomes([Self.sent(id)], owner: "a", now: Date())
        _ = try await holder.value
        // The record's statement began before the report was committed, so it could not see
        // it; the send is recorded and the report still held — until housekeeping's next pass
        // (every second on every instance), which applies it.
        #expect(try await store.delivery(id: id)?.state == .sent)
        _ = try await store.expireOverdue(now: Date())
        #expect(try await store.delivery(id: id)?.state == .delivered, "the held report was applied by housekeeping")
        #expect(try await store.deliveryEvents(deliveryId: id).map(\.toState) == [.queued, .sending, .sent, .delivered])
        #expect(try await peer.psql("SELECT count(*) FROM early_receipts", database: database).trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test("held reports: one a crash left behind a recorded send is applied by housekeeping; one for a send still in flight waits for it, and is applied as it is recorded; one for another step stays held")
    func heldReportsSettle() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let (store, database, ids) = try await Self.claimedByA(peer, citizens: 3)
        defer { store.close() }
        let now = Date()
        try #require(ids.count == 3)
        let (leftByCrash, inFlight, otherStep) = (ids[0], ids[1], ids[2])
        try await store.recordOutcomes([Self.sent(leftByCrash), Self.sent(otherStep)], owner: "a", now: Date())
        // What a crash between a send's record and the transaction after it leaves: the send
        // recorded, its report still held. And a report held for a send not recorded yet, and
        // one for a step the delivery is not at.
        let at = Int64(now.timeIntervalSince1970 * 1000)
        _ = try await peer.psql(
            """
            INSERT INTO early_receipts (delivery_id, step, status, at, provider_message_id) VALUES
                (\(leftByCrash), 0, 'delivered', \(at), 'p-\(leftByCrash)'), (\(inFlight), 0, 'delivered', \(at), 'p-\(inFlight)'),
                (\(otherStep), 1, 'delivered', \(at), 'p-\(otherStep)')
            """, database: database)
        _ = try await store.expireOverdue(now: Date())
        #expect(try await store.delivery(id: leftByCrash)?.state == .delivered, "housekeeping applied the report the crash left")
        #expect(try await store.delivery(id: inFlight)?.state == .sending)
        #expect(try await store.delivery(id: otherStep)?.state == .sent, "a report for another step changes nothing")
        func held() async throws -> String {
            try await peer.psql("SELECT string_agg(delivery_id || '/' || step, ',' ORDER BY delivery_id) FROM early_receipts", database: database)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try await held() == "\(inFlight)/0,\(otherStep)/1")
        // The send in flight is recorded: its statement sees the held report, applied at once.
        try await store.recordOutcomes([Self.sent(inFlight)], owner: "a", now: Date())
        #expect(try await store.delivery(id: inFlight)?.state == .delivered)
        #expect(try await store.deliveryEvents(deliveryId: inFlight).map(\.toState) == [.queued, .sending, .sent, .delivered])
        #expect(try await held() == "\(otherStep)/1")
    }

    @Test("deliveries and advisories are never deleted: the keys v6 dropped cannot dangle")
    func neverDeleted() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let (store, database, queued) = try await Self.published(peer, citizens: 3, poolSize: 2)
        defer { store.close() }
        #expect(queued == 3)
        for statement in ["DELETE FROM deliveries", "TRUNCATE deliveries CASCADE", "DELETE FROM advisories",
                          "TRUNCATE advisories CASCADE"] {
            await #expect(throws: (any Error).self, "\(statement)") { try await peer.psql(statement, database: database) }
        }
        let left = try await peer.psql(
            "SELECT (SELECT count(*) FROM deliveries) || ' ' || (SELECT count(*) FROM delivery_queue) || ' ' || (SELECT count(*) FROM delivery_events)"
                + " || ' ' || (SELECT count(*) FROM advisories)", database: database)
        // No history row yet: a fresh delivery's `queued` event is read from its row.
        #expect(left.trimmingCharacters(in: .whitespacesAndNewlines) == "3 3 0 1")
    }
}
