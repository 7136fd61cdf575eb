import Foundation
import GRDB
import HabarCore
@testable import HabarStoreSQLite
import HabarTesting
import Testing

/// Landed migrations are append-only: each one's source is pinned by a checksum, so an edit
/// fails here (a change is a new migration, whose checksum is added below when it lands).
@Suite("Migrations are append-only")
struct MigrationChecksumTests {
    static let pinned: [(String, String)] = [
        ("v1: core", "778de0827120e526"),
        ("v2: operator API", "ec44392250e4adc9"),
        ("v3: channels", "cb4b28fb24141419"),
        ("v4: check-ins and hotline", "fd1815a11efe78cf"),
        ("v5: agencies", "584b80509ec0c4f2"),
        ("v6: agency groups, group advisories, merges", "318dbce77a863fa5"),
        ("v7: places", "0282ede506e3c170"),
        ("v8: merged phones where v6 lacked them", "2aa63c3690248cc1"),
    ]

    /// Each `registerMigration` block of Migrations.swift, by name, FNV-1a 64 over its UTF-8 text.
    static func checksums() throws -> [(String, String)] {
        let source = try String(
            contentsOf: Fixtures.repositoryRoot.appendingPathComponent("Sources/HabarStoreSQLite/Migrations.swift"), encoding: .utf8)
        let marker = "        migrator.registerMigration(\""
        return source.components(separatedBy: marker).dropFirst().map { block in
            let name = String(block.prefix { $0 != "\"" })
            let body = marker + (block.components(separatedBy: "\n        return migrator").first ?? block)
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in body.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            return (name, String(format: "%016llx", hash))
        }
    }

    @Test("every landed migration is unchanged, in its order, and the migrator registers exactly these")
    func pinnedChecksums() throws {
        let found = try Self.checksums()
        #expect(found.map(\.0) == Self.pinned.map(\.0), "migrations were added, removed or reordered: pin a new one here when it lands")
        for ((name, expected), (_, actual)) in zip(Self.pinned, found) where expected != actual {
            Issue.record("migration '\(name)' was edited after it landed (checksum \(actual), pinned \(expected)): make the change a new migration")
        }
        #expect(Migrations.migrator.migrations == Self.pinned.map(\.0))
    }

    @Test("a database whose v6 predates merged_phone gets it, filled from the merged records, and a merged number leads to the kept citizen")
    func mergedPhoneBackfill() async throws {
        let directory = try Fixtures.temporaryDirectory("migrate-v6-early")
        let path = directory.appendingPathComponent("habar.sqlite").path
        do {
            let pool = try DatabasePool(path: path, configuration: SQLiteStore.configuration())
            try Migrations.migrator.migrate(pool, upTo: "v7: places")
            // citizen_merges as v6 first shipped it: no merged_phone, merged_id not unique.
            try await pool.write { db in
                try db.execute(sql: """
                    DROP INDEX citizen_merges_by_phone;
                    DROP TABLE citizen_merges;
                    CREATE TABLE citizen_merges (
                        id INTEGER PRIMARY KEY,
                        citizen_id INTEGER NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
                        merged_id INTEGER NOT NULL,
                        merged_record TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        at INTEGER NOT NULL
                    );
                    CREATE INDEX citizen_merges_by_citizen ON citizen_merges (citizen_id);
                    INSERT INTO citizens (full_name, language, phone, country, created_at, updated_at)
                        VALUES ('Айгүл Серікова', 'kk', '+77015550102', 'TR', 1000, 1000);
                    INSERT INTO citizen_merges (citizen_id, merged_id, merged_record, actor, at)
                        VALUES (1, 7, '{"id": 7, "full_name": "Aigul Serikova", "phone": "+905321112233"}', 'operator', 2000);
                    """)
            }
        }
        let store = try SQLiteStore.open(directory: directory)
        // An SMS reply from the merged record's number reaches the kept citizen.
        let reply = try await store.recordInboundSMS(InboundSMS(
            channel: "sms", sender: "+905321112233", receiver: nil, text: "Аманмын", sentAt: nil, receivedAt: Date(), providerMessageId: "m1"))
        #expect(reply.citizenId == 1)
        #expect(try await store.mergedInto(citizenId: 7) == 1)
        #expect(try store.isSchemaKnown())
    }
}
