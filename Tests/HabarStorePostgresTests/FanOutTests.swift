import Foundation
import HabarCore
import HabarMessages
@testable import HabarStorePostgres
import HabarTesting
import Logging
import Testing

/// Migration v7's promises about a publication's fan-out: no row-by-row check of the citizen,
/// yet no delivery names a citizen who is gone, and an erasure racing a fan-out still cancels
/// what the fan-out queued for that citizen; and a first approval's plan does not depend on the
/// statistics autovacuum last took of `deliveries`.
@Suite("PostgreSQL fan-out")
struct FanOutTests {
    static func publisher(_ store: PostgresStore) throws -> AdvisoryPublisher {
        AdvisoryPublisher(
            store: store, catalog: try Fixtures.catalog(),
            channels: ["sms": ChannelCapabilities(messageKind: .sms, addressKind: .phone, deliveryReceipts: true)])
    }

    static func number(_ text: String) -> Int { Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1 }

    /// A new database with `citizens` registered, and `analysed` tables vacuumed and analysed
    /// as they are then (what autovacuum records on its visit): the store and the database.
    static func registry(_ peer: PostgresPeer, citizens: Int, analysed: [String]) async throws -> (store: PostgresStore, database: String) {
        let url = try await peer.createDatabase()
        let database = try PostgresPeer.databaseName(url)
        let store = try await PostgresStore.open(try PostgresSettings(url: url, poolSize: 2), logger: Logger(label: "test.fanout"))
        _ = try await store.upsertCitizens((1...citizens).map { Fixtures.citizen($0) })
        for table in analysed { try await peer.psql("VACUUM ANALYZE \(table)", database: database) }
        return (store, database)
    }

    @Test("a first approval reads the deliveries table a few times, not once per citizen, after autovacuum saw it empty")
    func planWithoutStatistics() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let citizens = 2_000
        // What autovacuum does on a new installation: the deliveries table analysed while empty.
        let (store, database) = try await Self.registry(peer, citizens: citizens, analysed: ["deliveries", "citizens"])
        let publisher = try Self.publisher(store)
        let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
        let queued = try await publisher.publish(id: draft.id, approver: "approver", now: Date()).queued
        #expect(queued == citizens)
        // The store's connections end, and with them their statistics reach the server.
        store.close()
        var scans = -1
        for _ in 0..<100 {
            let row = try await peer.psql("SELECT n_tup_ins || ' ' || seq_scan FROM pg_stat_user_tables WHERE relname = 'deliveries'", database: database)
            let parts = row.split(separator: " ").map { Self.number(String($0)) }
            if parts.count == 2, parts[0] >= citizens {
                scans = parts[1]
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(scans >= 0, "the server's statistics never showed the publication's inserts")
        #expect(scans < citizens / 10, "the publication scanned the whole deliveries table \(scans) times (a nested loop per citizen)")
    }

    @Test("after a big fan-out the planner knows the queue's size, though autovacuum last saw the queue empty")
    func queueStatisticsAfterFanOut() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let citizens = 3_000
        // At rest the queue is empty, and that is what autovacuum last recorded of it. A claim
        // planned from that read and sorted every due row for each batch (150 ms a claim at
        // 200,000 queued, measured by habar-bench, against 3 ms in the claim index's order).
        let (store, database) = try await Self.registry(peer, citizens: citizens, analysed: ["delivery_queue"])
        defer { store.close() }
        let publisher = try Self.publisher(store)
        var few = Fixtures.advisory()
        few.audience = Audience(citizenIds: try await peer.psql("SELECT id FROM citizens ORDER BY id LIMIT 10", database: database)
            .split(separator: "\n").compactMap { Int64($0.trimmingCharacters(in: .whitespaces)) })
        let small = try await publisher.draft(few, now: Date())
        #expect(try await publisher.publish(id: small.id, approver: "approver", now: Date()).queued == 10)
        #expect(Self.number(try await peer.psql("SELECT reltuples FROM pg_class WHERE relname = 'delivery_queue'", database: database)) == 0,
                "a small fan-out leaves the statistics to autovacuum")
        let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
        #expect(try await publisher.publish(id: draft.id, approver: "approver", now: Date()).queued == citizens)
        let known = Self.number(try await peer.psql("SELECT reltuples::bigint FROM pg_class WHERE relname = 'delivery_queue'", database: database))
        #expect(known >= citizens, "the planner believes the queue holds \(known) rows; it holds \(citizens + 10)")
    }

    @Test("a claim reads the deliveries it claims by key, whatever the statistics say of the advisory just fanned out")
    func claimPlanAfterFanOut() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let citizens = 3_000
        // Statistics taken before the advisory existed (here: a new installation's, empty).
        let (store, database) = try await Self.registry(peer, citizens: citizens, analysed: ["deliveries", "delivery_queue"])
        defer { store.close() }
        let publisher = try Self.publisher(store)
        let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
        #expect(try await publisher.publish(id: draft.id, approver: "approver", now: Date()).queued == citizens)
        let priority = Self.number(try await peer.psql("SELECT min(priority) FROM delivery_queue", database: database))
        let now = Date().addingTimeInterval(60).ms
        // The store's claim statement itself, executed (its row locks end with psql's statement).
        let plan = try await peer.psql(
            """
            PREPARE claim AS \(PG.numbered(PostgresStore.claimStatement).0);
            EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF) EXECUTE claim('sms', \(priority), \(now), 100, \(now));
            """, database: database)
        #expect(plan.contains("deliveries_pkey"), "the claim does not read its deliveries by key:\n\(plan)")
        #expect(!plan.contains("deliveries_once") && !plan.contains("Rows Removed by Join Filter"),
                "the claim read the advisory's deliveries beyond those it claims:\n\(plan)")
        #expect(plan.contains("rows=100 loops=1"), "the claim did not return its 100 deliveries:\n\(plan)")
    }

    @Test("an erasure waits for a fan-out in flight, then cancels and strips what it queued for the citizen")
    func erasureAfterFanOut() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let (store, database, queued) = try await DeliveryQueueTests.published(peer, citizens: 3, poolSize: 4)
        defer { store.close() }
        #expect(queued == 3)
        let citizen = Self.number(try await peer.psql("SELECT min(citizen_id) FROM deliveries", database: database))
        // A second version's fan-out, as the store runs it (the lock shared first, then the
        // statement), still open when the erasure comes.
        let fanOut = Task {
            try await peer.psql(
                """
                BEGIN; SELECT pg_advisory_xact_lock_shared(\(PostgresMigrations.citizensLockKey));
                INSERT INTO deliveries (advisory_id, advisory_version, plan_index, citizen_id, language, phone, steps, step, channel, state,
                    priority, next_attempt_at, expires_at, created_at, updated_at, step_started_at)
                SELECT advisory_id, 2, plan_index, citizen_id, language, phone, steps, 0, channel, 'queued', priority, next_attempt_at,
                    expires_at, created_at, updated_at, step_started_at FROM deliveries WHERE citizen_id = \(citizen);
                SELECT pg_sleep(1.5); COMMIT;
                """, database: database)
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await store.eraseCitizen(id: Int64(citizen), at: Date()))
        _ = try await fanOut.value
        let left = try await peer.psql(
            """
            SELECT advisory_version || ':' || state || ':' || coalesce(phone, '-') || ':' || coalesce(citizen_id::text, '-')
            FROM deliveries WHERE citizen_id IS NULL ORDER BY advisory_version
            """, database: database)
        #expect(left.split(separator: "\n").map(String.init) == ["1:cancelled:-:-", "2:cancelled:-:-"],
                "both versions' deliveries to the erased citizen are cancelled, without address or link to the person")
        #expect(Self.number(try await peer.psql("SELECT count(*) FROM delivery_queue WHERE delivery_id IN (SELECT id FROM deliveries WHERE citizen_id IS NULL)", database: database)) == 0)
    }

    @Test("a citizen deleted any way leaves its deliveries without it; subscribers and agency groups are never deleted, citizens never truncated")
    func referencesStayWhole() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let (store, database, _) = try await DeliveryQueueTests.published(peer, citizens: 3, poolSize: 2)
        defer { store.close() }
        let citizen = Self.number(try await peer.psql("SELECT min(citizen_id) FROM deliveries", database: database))
        try await peer.psql("DELETE FROM citizens WHERE id = \(citizen)", database: database)
        #expect(try await peer.psql(
            "SELECT count(*) || ' ' || count(citizen_id) || ' ' || count(*) FILTER (WHERE citizen_id = \(citizen)) FROM deliveries", database: database
        ).trimmingCharacters(in: .whitespacesAndNewlines) == "3 2 0")
        for statement in ["DELETE FROM subscribers", "TRUNCATE subscribers CASCADE", "DELETE FROM agency_groups", "TRUNCATE agency_groups CASCADE",
                          "TRUNCATE citizens CASCADE"] {
            await #expect(throws: (any Error).self, "\(statement)") { try await peer.psql(statement, database: database) }
        }
        #expect(Self.number(try await peer.psql("SELECT count(*) FROM citizens", database: database)) == 2)
    }
}
