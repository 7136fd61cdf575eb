import Foundation
import HabarCore
@testable import HabarStorePostgres
import HabarTesting
import Logging
import PostgresNIO
import Testing

/// Landed PostgreSQL migrations are append-only, and instances that start together migrate once.
@Suite("PostgreSQL migrations")
struct PostgresMigrationTests {
    static let pinned: [(String, String)] = [
        ("v1: schema", "df8d77675255efc0"),
        ("v2: shared rate buckets", "f7bcf207b4aa3d77"),
        ("v3: a small queue beside the deliveries", "e3aecac5c8df3246"),
        ("v4: lookups ordered by id", "db2871c57f6a8e9c"),
        ("v5: the claim in index order", "eb38055f50f379d2"),
        ("v6: delivery rows checked by construction", "e9529c2b6c8a31fa"),
        ("v7: a fan-out without row-by-row checks", "cd1e075630dc9ecc"),
        ("v8: leases by the claim", "d98362a380b125d0"),
        ("v9: events without a primary key index", "3ace2694497384a6"),
    ]

    @Test("every landed migration is unchanged, in its order")
    func pinnedChecksums() {
        #expect(PostgresMigrations.all.map(\.name) == Self.pinned.map(\.0), "migrations were added, removed or reordered: pin a new one here when it lands")
        for (migration, (name, expected)) in zip(PostgresMigrations.all, Self.pinned) where PostgresMigrations.checksum(migration) != expected {
            Issue.record("migration '\(name)' was edited after it landed (checksum \(PostgresMigrations.checksum(migration)), pinned \(expected)): make the change a new migration")
        }
    }

    @Test("four instances opening one empty database at once: the schema is made once, every one opens it")
    func concurrentStart() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let url = try await peer.createDatabase()
        let settings = try PostgresSettings(url: url, poolSize: 2)
        let log = LogCapture()
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let store = try await PostgresStore.open(settings, logger: log.logger)
                    defer { store.close() }
                    return try await store.installationId()
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(ids).count == 1 && ids.count == 4, "\(ids)")
        let runs = try await peer.psql("SELECT count(*) FROM habar_migrations", database: String(url.split(separator: "/").last!))
        #expect(runs.trimmingCharacters(in: .whitespacesAndNewlines) == "\(PostgresMigrations.all.count)")
        // Each migration ran once: one instance logged running it, the others found it done.
        let ran = log.text.split(separator: "\n").filter { $0.contains("postgres migration") }
        #expect(ran.count == PostgresMigrations.all.count, "\(ran)")
    }

    @Test("a database that ran a migration this build does not know is refused, naming it")
    func newerDatabase() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let url = try await peer.createDatabase()
        let store = try await PostgresStore.open(try PostgresSettings(url: url), logger: Logger(label: "test"))
        store.close()
        let database = String(url.split(separator: "/").last!)
        try await peer.psql("INSERT INTO habar_migrations (name, checksum) VALUES ('v99: from the future', 'x')", database: database)
        await #expect { try await PostgresStore.open(try PostgresSettings(url: url), logger: Logger(label: "test")) } throws: { error in
            "\(error)".contains("v99: from the future")
        }
    }

    @Test("v8 on a database with deliveries being sent: each owner's become a lease row, they leave the queue, and the take-over finds them when each lease runs out")
    func leasesLeaveTheQueue() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let url = try await peer.createDatabase()
        let database = String(url.split(separator: "/").last!)
        let settings = try PostgresSettings(url: url, poolSize: 2)
        // The database as v7 left it, mid-broadcast: deliveries leased by two instances (one
        // lease ends at 1 s, the other at 2 s after the epoch), one still queued.
        let client = PostgresClient(configuration: settings.clientConfiguration, backgroundLogger: Logger(label: "test"))
        let running = Task { await client.run() }
        let v7 = try #require(PostgresMigrations.all.firstIndex { $0.name.hasPrefix("v7:") }) + 1
        try await PostgresMigrations.migrate(client, logger: Logger(label: "test"), through: v7)
        running.cancel()
        _ = await running.value
        let far = 4_000_000_000_000
        try await peer.psql(
            """
            INSERT INTO advisories (id, kind, severity, audience, params, template, channel_plan, expires_at, status, author, approver, created_at)
                VALUES (1, 'general', 'severe', '{}', '{}', 'general', '[]', \(far), 'published', 'author', 'approver', 0);
            INSERT INTO deliveries (advisory_id, advisory_version, plan_index, language, steps, channel, state, priority, next_attempt_at,
                    lease_owner, lease_expires_at, expires_at, created_at, updated_at, step_started_at) VALUES
                (1, 1, 0, 'kk', 'sms', 'sms', 'sending', 3, 0, 'a', 1000, \(far), 0, 0, 0),
                (1, 1, 1, 'kk', 'sms', 'sms', 'sending', 3, 0, 'a', 1000, \(far), 0, 0, 0),
                (1, 1, 2, 'ru', 'sms', 'sms', 'sending', 3, 0, 'b', 2000, \(far), 0, 0, 0),
                (1, 1, 3, 'ru', 'sms', 'sms', 'queued', 3, 0, NULL, NULL, \(far), 0, 0, 0);
            """, database: database)
        #expect(try await peer.psql("SELECT count(*) FROM delivery_queue", database: database).trimmingCharacters(in: .whitespacesAndNewlines) == "4")

        let store = try await PostgresStore.open(settings, logger: Logger(label: "test"))
        defer { store.close() }
        func text(_ sql: String) async throws -> String { try await peer.psql(sql, database: database).trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(try await text("SELECT string_agg(delivery_id::text, ',' ORDER BY delivery_id) FROM delivery_queue") == "4", "only the queued one waits")
        #expect(try await text("SELECT string_agg(owner || ':' || expires_at || ':' || array_to_string(delivery_ids, '+'), ' ' ORDER BY owner) FROM delivery_leases")
            == "a:1000:1+2 b:2000:3")
        #expect(try await store.recoverLeases(now: Date(timeIntervalSince1970: 1.5), owner: nil) == 2, "a's lease ran out")
        #expect(try await store.recoverLeases(now: Date(timeIntervalSince1970: 2.5), owner: nil) == 1, "then b's")
        #expect(try await text("SELECT count(*) FROM delivery_leases") == "0")
        #expect(try await text("SELECT string_agg(id || ':' || state, ',' ORDER BY id) FROM deliveries") == "1:retrying,2:retrying,3:retrying,4:queued")
        #expect(try await text("SELECT count(*) FROM delivery_queue") == "4", "the taken-over wait again")
    }
}
