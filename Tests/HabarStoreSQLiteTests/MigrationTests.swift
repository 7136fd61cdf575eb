import Foundation
import GRDB
import HabarCore
@testable import HabarStoreSQLite
import HabarTesting
import Testing

@Suite("Migrations")
struct MigrationTests {
    @Test("a database with agency data from before v6 upgrades: its groups get ids and keep their data, status and tourists")
    func fromV5() async throws {
        let directory = try Fixtures.temporaryDirectory("migrate-v5")
        let path = directory.appendingPathComponent("habar.sqlite").path
        // Given a database as the previous release left it (migrated up to v5, with data),
        do {
            let pool = try DatabasePool(path: path, configuration: SQLiteStore.configuration())
            try Migrations.migrator.migrate(pool, upTo: "v5: agencies")
            try await pool.write { db in
                try db.execute(sql: """
                    INSERT INTO agencies (id, name, language, created_at) VALUES ('silkway', 'Silk Way', 'kk', 1000);
                    INSERT INTO citizens (full_name, language, phone, country, group_id, agency_id, created_at, updated_at)
                        VALUES ('Айгүл', 'kk', '+77015550001', 'TR', 'G-17', 'silkway', 1000, 1000);
                    INSERT INTO agency_groups (agency_id, group_id, name, country, city, hotel, status, status_place, status_at, updated_at)
                        VALUES ('silkway', 'G-17', 'Стамбұл', 'TR', 'Istanbul', 'Grand Sirkeci', 'boarded', 'IST', 2000, 2000),
                               ('silkway', 'G-18', 'Анталья', 'TR', NULL, NULL, NULL, NULL, NULL, 1500);
                    INSERT INTO agency_tourists (agency_id, tourist_id, citizen_id, group_id, linked) VALUES ('silkway', 'T-1', 1, 'G-17', 0);
                    INSERT INTO agency_group_events (agency_id, group_id, status, place, at) VALUES ('silkway', 'G-17', 'boarded', 'IST', 2000);
                    """)
            }
        }
        // when this release opens it,
        let store = try SQLiteStore.open(directory: directory)
        // then every group has an id (oldest first) and kept what it had.
        let groups = try #require(try await store.agencyGroups(agencyId: "silkway", page: PageRequest())).items
        #expect(groups.map(\.groupId) == ["G-18", "G-17"] && groups.map(\.id) == [1, 2])
        let g17 = try #require(try await store.groupReconciliation(id: 2))
        #expect(g17.group.hotel == "Grand Sirkeci" && g17.group.destination.city == "Istanbul" && g17.group.status?.status == .boarded)
        #expect(g17.members.map(\.touristId) == ["T-1"] && g17.statusHistory.count == 1 && g17.group.tally.onManifest == 1)
        #expect(try store.isSchemaKnown())
    }
}
