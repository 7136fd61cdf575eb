import Foundation
import GRDB
import HabarCore

// MARK: The places registry

extension SQLiteStore {
    static func place(body: String) throws -> Place {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(Place.self, from: Data(body.utf8))
    }

    static func insertVersion(_ place: Place, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO place_versions (place_id, version, body, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)",
            arguments: [place.id, place.version, try json(place), place.updatedAt.ms, place.updatedBy])
    }

    public func insertPlace(_ place: NewPlace) async throws -> Place {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO places (kind, version, country, status, created_at) VALUES (?, 1, ?, ?, ?)",
                arguments: [place.kind.rawValue, place.country, place.status.rawValue, place.createdAt.ms])
            var stored = place.stored(id: db.lastInsertedRowID)
            stored.version = 1
            try Self.insertVersion(stored, db)
            return stored
        }
    }

    public func place(id: Int64, version: Int?) async throws -> Place? {
        try await writer.read { db in
            let body = try String.fetchOne(
                db,
                sql: version == nil
                    ? "SELECT v.body FROM places p JOIN place_versions v ON v.place_id = p.id AND v.version = p.version WHERE p.id = ?"
                    : "SELECT body FROM place_versions WHERE place_id = ? AND version = ?",
                arguments: version.map { [id, $0] } ?? [id])
            return try body.map(Self.place(body:))
        }
    }

    public func places(_ filter: PlaceFilter, page: PageRequest) async throws -> Page<Place> {
        var conditions = Conditions()
        conditions.equal("p.kind", filter.kind?.rawValue)
        conditions.equal("p.country", filter.country)
        conditions.equal("p.status", filter.status?.rawValue)
        let (clause, arguments) = conditions.sql(after: page.after, idColumn: "p.id", limit: page.limit)
        let fetched = try await writer.read { db in
            try String.fetchAll(
                db, sql: "SELECT v.body FROM places p JOIN place_versions v ON v.place_id = p.id AND v.version = p.version \(clause)",
                arguments: arguments
            ).map(Self.place(body:))
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    public func insertPlaceVersion(_ place: Place) async throws -> Place {
        let id = place.id
        return try await writer.write { db in
            // Only from the version the change was made against: a concurrent change wins once.
            try db.execute(
                sql: "UPDATE places SET version = ?, country = ?, status = ? WHERE id = ? AND version = ?",
                arguments: [place.version, place.country, place.status.rawValue, id, place.version - 1])
            guard db.changesCount == 1 else {
                throw OperationError.conflict("place \(id) was changed meanwhile; read it again and repeat the change")
            }
            try Self.insertVersion(place, db)
            return place
        }
    }

    public func advisoriesInForce(usingPlace id: Int64, before version: Int, now: Date) async throws -> [Advisory] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT a.* FROM advisories a
                    WHERE a.status = 'published' AND a.expires_at > ? AND EXISTS (
                        SELECT 1 FROM json_each(a.places) AS used
                        WHERE used.value ->> '$.role' IN ('meetingPoint', 'borderCrossing', 'corridor')
                          AND used.value ->> '$.place.id' = ? AND used.value ->> '$.place.version' < ?)
                    ORDER BY a.id
                    """,
                arguments: [now.ms, id, version]
            ).map(Self.advisory)
        }
    }
}
