import Foundation
import HabarCore
@testable import HabarStorePostgres
import HabarTesting
import Logging
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
}
