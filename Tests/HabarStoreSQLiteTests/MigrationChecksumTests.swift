import Foundation
import GRDB
import HabarCore
import HabarMessages
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
        // (v8 was pinned while it was the last block, without the newline every other block
        // ends with; the checksum now always includes it — the migration itself is unchanged.)
        ("v8: merged phones where v6 lacked them", "9d051bb6ee1b3cf1"),
        ("v9: delivery purposes instead of negative versions", "c6228ace8b51649f"),
        ("v10: CHECK lists SQLite evaluates without a temporary index", "fafc39f34fcd99d5"),
        ("v11: console accounts and sessions", "9927603fbf6b4b67"),
        ("v12: exercise advisories", "39346b316e0f0561"),
        ("v13: interrupted advisories", "57df660ac25850a2"),
        ("v14: welfare totals from an index", "5e7e9f05a54bafd0"),
    ]

    /// Each `registerMigration` block of Migrations.swift, by name, FNV-1a 64 over its UTF-8 text.
    static func checksums() throws -> [(String, String)] {
        let source = try String(
            contentsOf: Fixtures.repositoryRoot.appendingPathComponent("Sources/HabarStoreSQLite/Migrations.swift"), encoding: .utf8)
        let marker = "        migrator.registerMigration(\""
        return source.components(separatedBy: marker).dropFirst().map { block in
            let name = String(block.prefix { $0 != "\"" })
            var body = marker + (block.components(separatedBy: "\n        return migrator").first ?? block)
            // The last block is cut before `return migrator`, the others end with a newline.
            if !body.hasSuffix("\n") { body += "\n" }
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
        let reply = try await store.recordInboundSMS(NewInboundSMS(
            id: .unsaved, channel: "sms", sender: "+905321112233", receiver: nil, text: "Аманмын", sentAt: nil, receivedAt: Date(), providerMessageId: "m1"))
        #expect(reply.citizenId == 1)
        #expect(try await store.mergedInto(citizenId: 7) == 1)
        #expect(try store.isSchemaKnown())
    }

    @Test("v9 gives follow-ups stored as versions -1…-4 their purpose and the advisory's version; they are still sent and counted apart")
    func purposesFromNegativeVersions() async throws {
        let directory = try Fixtures.temporaryDirectory("migrate-v8")
        let path = directory.appendingPathComponent("habar.sqlite").path
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let expires = now + 3_600_000
        do {
            let pool = try DatabasePool(path: path, configuration: SQLiteStore.configuration())
            try Migrations.migrator.migrate(pool, upTo: "v8: merged phones where v6 lacked them")
            // A published check-in request (now at version 2), its delivery, a reminder (-1) and a
            // confirmation (-2, plan_index = the SMS it answers), as v8 stored them.
            try await pool.write { db in
                try db.execute(sql: """
                    INSERT INTO citizens (full_name, language, phone, country, created_at, updated_at)
                        VALUES ('Айгүл Серікова', 'kk', '+77015550102', 'IR', \(now), \(now));
                    INSERT INTO advisories (kind, severity, audience, params, template, channel_plan, expires_at, status, version,
                        author, approver, created_at, published_at)
                        VALUES ('checkin_request', 'severe', '{"countries":["IR"]}', '{}', 'checkin_request.ask',
                        '{"mode":"fallback","channels":["sms"]}', \(expires), 'published', 2, 'op', 'ap', \(now), \(now));
                    INSERT INTO renderings (advisory_id, version, language, kind, rendered_language, text)
                        VALUES (1, 2, 'kk', 'sms', 'kk', 'request'), (1, -1, 'kk', 'sms', 'kk', 'reminder'), (1, -2, 'kk', 'sms', 'kk', 'thanks');
                    INSERT INTO deliveries (advisory_id, advisory_version, plan_index, citizen_id, language, phone, steps, step, channel,
                        state, priority, next_attempt_at, expires_at, created_at, updated_at, step_started_at)
                        VALUES (1, 2, 0, 1, 'kk', '+77015550102', 'sms', 0, 'sms', 'delivered', 1, \(now), \(expires), \(now), \(now), \(now)),
                               (1, -1, 0, 1, 'kk', '+77015550102', 'sms', 0, 'sms', 'queued', 0, \(now), \(expires), \(now), \(now), \(now)),
                               (1, -2, 17, 1, 'kk', '+77015550102', 'sms', 0, 'sms', 'queued', 0, \(now), \(expires), \(now), \(now), \(now));
                    INSERT INTO delivery_events (delivery_id, at, step, channel, from_state, to_state, attempt)
                        VALUES (1, \(now), 0, 'sms', NULL, 'queued', 0), (2, \(now), 0, 'sms', NULL, 'queued', 0), (3, \(now), 0, 'sms', NULL, 'queued', 0);
                    """)
            }
        }
        let store = try SQLiteStore.open(directory: directory)
        let deliveries = try await store.deliveries(DeliveryFilter(advisoryId: 1), page: PageRequest()).items
        #expect(deliveries.map(\.purpose) == [.advisory, .reminder, .confirmSafe])
        #expect(deliveries.map(\.advisoryVersion) == [2, 2, 2], "every version is 1 or more; a follow-up takes the advisory's")
        #expect(try await store.deliveryEvents(deliveryId: 3).count == 1, "the history stays with its delivery")
        // Both follow-ups are still sent, with their own frozen texts.
        let claimed = try await store.claimDeliveries(
            channel: "sms", kind: .sms, address: .phone, limit: 10, owner: "w", leaseUntil: Date().addingTimeInterval(60), now: Date())
        #expect(Set(claimed.map(\.message.message.text)) == ["reminder", "thanks"])
        // Stats count the advisory's own delivery only.
        #expect(try await store.advisoryStats(id: 1)?.deliveries == 1)
        #expect(try store.isSchemaKnown())
    }

    @Test("v10 rewrites the CHECK lists in place: rows stay, every allowed value is still taken, every other refused, the file checks out")
    func equivalentCheckLists() async throws {
        let directory = try Fixtures.temporaryDirectory("migrate-v9")
        let path = directory.appendingPathComponent("habar.sqlite").path
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let pool = try DatabasePool(path: path, configuration: SQLiteStore.configuration())
        try Migrations.migrator.migrate(pool, upTo: "v9: delivery purposes instead of negative versions")
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO citizens (full_name, language, phone, country, created_at, updated_at)
                    VALUES ('Марат Ахметов', 'ru', '+77015550103', 'TR', \(now), \(now));
                INSERT INTO advisories (kind, severity, audience, params, template, channel_plan, expires_at, status, version,
                    author, created_at) VALUES ('general', 'minor', '{}', '{}', 'general.notice',
                    '{"mode":"fallback","channels":["sms"]}', \(now + 1000), 'draft', 1, 'op', \(now));
                """)
        }
        let before = try await pool.read { db in try String.fetchAll(db, sql: "SELECT sql FROM sqlite_schema WHERE type = 'table' ORDER BY name") }
        try Migrations.migrator.migrate(pool, upTo: "v10: CHECK lists SQLite evaluates without a temporary index")
        try await pool.write { db in
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
            let tables = try String.fetchAll(db, sql: "SELECT sql FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            #expect(tables.count == before.count)
            #expect(!tables.contains { $0.range(of: #"[a-z_]+ IN\s*\('"#, options: .regularExpression) != nil }, "no CHECK list is left")
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM citizens") == 1)
            func insert(purpose: String, state: String, language: String) throws {
                try db.execute(sql: """
                    INSERT INTO deliveries (advisory_id, advisory_version, purpose, citizen_id, language, phone, steps, channel, state,
                        priority, next_attempt_at, expires_at, created_at, updated_at, step_started_at)
                    VALUES (1, 1, ?, 1, ?, '+77015550103', 'sms', 'sms', ?, 1, \(now), \(now), \(now), \(now), \(now))
                    """, arguments: [purpose, language, state])
                try db.execute(sql: "DELETE FROM deliveries")
            }
            for purpose in DeliveryPurpose.allCases { try insert(purpose: purpose.rawValue, state: "queued", language: "kk") }
            for state in DeliveryState.allCases where state != .sending { try insert(purpose: "advisory", state: state.rawValue, language: "ru") }
            for language in Language.allCases { try insert(purpose: "advisory", state: "queued", language: language.rawValue) }
            for (purpose, state, language) in [("advisor", "queued", "kk"), ("advisory", "queue", "kk"), ("advisory", "queued", "de"), ("", "queued", "kk")] {
                #expect(throws: DatabaseError.self, "purpose '\(purpose)', state '\(state)', language '\(language)' is refused") {
                    try insert(purpose: purpose, state: state, language: language)
                }
            }
            #expect(throws: DatabaseError.self, "a citizen's language is still checked") {
                try db.execute(sql: "UPDATE citizens SET language = 'de'")
            }
        }
    }
}
