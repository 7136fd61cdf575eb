import Foundation
import GRDB
import HabarCore
import HabarMessages
import Synchronization

/// Habar's storage on SQLite through GRDB: a WAL `DatabasePool` in its own directory in
/// production, an in-memory queue in tests. Reads go through the reader, writes through
/// the single writer, each call one transaction.
public final class SQLiteStore: HabarStore {
    let writer: any DatabaseWriter
    /// Set once by the first migration and never changed; read on every claim.
    private let installation = Mutex<String?>(nil)
    /// The delivery counts of advisories whose deliveries are all final (`deliveryCounts`).
    let finalCounts = FinalDeliveryCounts()

    /// The connection that checkpoints a file database's log, beside the pool's writer.
    private let checkpointer: DatabaseQueue?

    /// The database's file name in its directory.
    public static let fileName = "habar.sqlite"

    /// Opens (and creates or upgrades) the database `habar.sqlite` in `directory`.
    public static func open(directory: URL) throws -> SQLiteStore {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(fileName).path
        let pool = try DatabasePool(path: path, configuration: configuration())
        let store = try SQLiteStore(writer: pool, checkpointer: try DatabaseQueue(path: path, configuration: checkpointerConfiguration()))
        return store
    }

    static func checkpointerConfiguration() -> Configuration {
        var configuration = Configuration()
        // Never wait: a busy database (a long import) is checkpointed next time.
        configuration.busyMode = .immediateError
        configuration.label = "habar.checkpoint"
        return configuration
    }

    /// A PASSIVE checkpoint: copies what it can and waits for nobody; when the database is
    /// busy it does nothing this time.
    public func checkpoint() async throws {
        guard let checkpointer else { return }
        do {
            try await checkpointer.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            return
        }
    }

    /// A private in-memory database, for tests.
    public static func inMemory() throws -> SQLiteStore {
        try SQLiteStore(writer: DatabaseQueue(configuration: configuration()))
    }

    init(writer: any DatabaseWriter, checkpointer: DatabaseQueue? = nil) throws {
        self.writer = writer
        self.checkpointer = checkpointer
        try Migrations.migrator.migrate(writer)
    }

    /// Whether the database has migrations this build does not know (a newer Habar wrote it).
    public func isSchemaKnown() throws -> Bool {
        try writer.read { db in try Migrations.migrator.hasBeenSuperseded(db) == false }
    }

    static func configuration() -> Configuration {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // The log is written back by `checkpoint()` in the background (SQLiteCheckpointer)
            // often enough that SQLite's own checkpoint in a commit (past 1,000 pages, its
            // default) seldom comes; a larger log slowed every read and write (measured).
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 1000")
            db.add(function: distanceFunction)
            db.add(function: polygonFunction)
            db.add(function: searchFunction)
        }
        return configuration
    }

    /// `habar_distance_km(lat, lon, centerLat, centerLon)`.
    static let distanceFunction = DatabaseFunction("habar_distance_km", argumentCount: 4, pure: true) { values in
        guard let lat = Double.fromDatabaseValue(values[0]), let lon = Double.fromDatabaseValue(values[1]),
            let centerLat = Double.fromDatabaseValue(values[2]), let centerLon = Double.fromDatabaseValue(values[3])
        else { return nil }
        return Geography.distanceKm(GeoPoint(lat: lat, lon: lon), GeoPoint(lat: centerLat, lon: centerLon))
    }

    /// `habar_citizen_search(full_name, phone, query)`: core's `CitizenSearch` rule.
    static let searchFunction = DatabaseFunction("habar_citizen_search", argumentCount: 3, pure: true) { values in
        guard let name = String.fromDatabaseValue(values[0]), let query = String.fromDatabaseValue(values[2]) else { return false }
        return CitizenSearch(query).matches(fullName: name, phone: String.fromDatabaseValue(values[1]))
    }

    /// `habar_in_polygon(lat, lon, polygonJSON)`.
    static let polygonFunction = DatabaseFunction("habar_in_polygon", argumentCount: 3, pure: true) { values in
        guard let lat = Double.fromDatabaseValue(values[0]), let lon = Double.fromDatabaseValue(values[1]),
            let json = String.fromDatabaseValue(values[2]),
            let polygon = try? JSONDecoder().decode([GeoPoint].self, from: Data(json.utf8))
        else { return false }
        return Geography.contains(polygon, GeoPoint(lat: lat, lon: lon))
    }

    public func installationId() async throws -> String {
        if let known = installation.withLock({ $0 }) { return known }
        let id = try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'installation_id'") ?? "habar"
        }
        installation.withLock { $0 = id }
        return id
    }

    // MARK: Citizens

    public func insertCitizen(_ citizen: NewCitizen) async throws -> Citizen {
        try await writer.write { db in try Self.insert(citizen, db) }
    }

    static func insert(_ citizen: NewCitizen, _ db: Database) throws -> Citizen {
        try db.cachedStatement(
            sql: """
                INSERT INTO citizens (full_name, language, phone, email, country, city, lat, lon, group_id, agency_id,
                    tags, passport_number, birth_date, welfare_status, last_contact_at, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: StatementArguments(citizenValues(citizen) + [citizen.createdAt.ms, citizen.updatedAt.ms]))
        return citizen.stored(id: db.lastInsertedRowID)
    }

    static func citizenValues<ID>(_ c: CitizenRecord<ID>) -> [(any DatabaseValueConvertible)?] {
        [
            c.fullName, c.language.rawValue, c.phone?.e164, c.email, c.country, c.city, c.position?.lat, c.position?.lon,
            c.groupId, c.agencyId, c.tags.isEmpty ? "" : "|" + c.tags.joined(separator: "|") + "|",
            c.passportNumber, c.birthDate, c.welfareStatus.rawValue, c.lastContactAt?.ms,
        ]
    }

    public func citizen(id: Int64) async throws -> Citizen? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM citizens WHERE id = ?", arguments: [id]).map(Self.citizen)
        }
    }

    public func upsertCitizens(_ citizens: [NewCitizen]) async throws -> CitizenImportResult {
        try await writer.write { db in
            var result = CitizenImportResult(created: 0, updated: 0)
            for citizen in citizens {
                var existing: Int64? = nil
                if let phone = citizen.phone {
                    existing = try Int64.fetchOne(
                        db.cachedStatement(sql: "SELECT id FROM citizens WHERE phone = ? ORDER BY id LIMIT 1"), arguments: [phone.e164])
                }
                if existing == nil, let passport = citizen.passportNumber {
                    existing = try Int64.fetchOne(
                        db.cachedStatement(sql: "SELECT id FROM citizens WHERE passport_number = ? ORDER BY id LIMIT 1"), arguments: [passport])
                }
                if let existing {
                    try db.cachedStatement(
                        sql: """
                            UPDATE citizens SET full_name = ?, language = ?, phone = coalesce(?, phone), email = coalesce(?, email),
                                country = ?, city = coalesce(?, city), lat = coalesce(?, lat), lon = coalesce(?, lon),
                                group_id = coalesce(?, group_id), agency_id = coalesce(?, agency_id), tags = coalesce(nullif(?, ''), tags),
                                passport_number = coalesce(?, passport_number), birth_date = coalesce(?, birth_date), updated_at = ?
                            WHERE id = ?
                            """
                    ).execute(arguments: StatementArguments(Self.citizenValues(citizen).dropLast(2) + [citizen.updatedAt.ms, existing]))
                    result.updated += 1
                } else {
                    _ = try Self.insert(citizen, db)
                    result.created += 1
                }
            }
            return result
        }
    }

    public func countCitizens() async throws -> Int {
        try await writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM citizens") ?? 0 }
    }

    public func welfareTotals() async throws -> [WelfareTotal] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT country, welfare_status, COUNT(*) AS n FROM citizens GROUP BY country, welfare_status").compactMap { row in
                guard let status = WelfareStatus(rawValue: row["welfare_status"]) else { return nil }
                return WelfareTotal(country: row["country"], status: status, count: row["n"])
            }
        }
    }

    // MARK: Tokens

    public func insertToken(_ token: NewAccessToken) async throws -> AccessToken {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO tokens (name, role, agency_id, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [token.name, token.role.rawValue, token.agencyId, token.tokenHash, token.createdAt.ms])
            return token.stored(id: db.lastInsertedRowID)
        }
    }

    public func token(hash: String) async throws -> AccessToken? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tokens WHERE token_hash = ? AND revoked_at IS NULL", arguments: [hash]).map(Self.token)
        }
    }

    public func insertFirstToken(_ token: NewAccessToken) async throws -> AccessToken? {
        try await writer.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM tokens)") == false else { return nil }
            try db.execute(
                sql: "INSERT INTO tokens (name, role, agency_id, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [token.name, token.role.rawValue, token.agencyId, token.tokenHash, token.createdAt.ms])
            return token.stored(id: db.lastInsertedRowID)
        }
    }

    public func hasTokens() async throws -> Bool {
        try await writer.read { db in try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM tokens)") ?? false }
    }

    // MARK: Advisories

    public func insertAdvisory(_ advisory: NewAdvisory) async throws -> Advisory {
        let encoded = try Self.encodeContent(advisory)
        return try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO advisories (kind, severity, audience, params, template, channel_plan, expires_at, status,
                        version, author, approver, created_at, published_at, cancelled_at, scope, publish_at, author_token_id, places, exercise)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    advisory.kind.rawValue, advisory.severity.rawValue, encoded.audience, encoded.params, advisory.template,
                    encoded.plan, advisory.expiresAt.ms, advisory.status.rawValue, advisory.version, advisory.author,
                    advisory.approver, advisory.createdAt.ms, advisory.publishedAt?.ms, advisory.cancelledAt?.ms,
                    advisory.scope.rawValue, advisory.publishAt?.ms, advisory.authorTokenId, encoded.places, advisory.exercise,
                ])
            return advisory.stored(id: db.lastInsertedRowID)
        }
    }

    /// The JSON columns of an advisory.
    static func encodeContent<ID>(_ advisory: AdvisoryRecord<ID>) throws -> (audience: String, params: String, plan: String, places: String) {
        (try json(advisory.audience), try json(advisory.params), try json(advisory.channelPlan), try json(advisory.places))
    }

    /// A value as the JSON the store keeps (sorted keys, RFC 3339 times).
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    public func advisory(id: Int64) async throws -> Advisory? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM advisories WHERE id = ?", arguments: [id]).map(Self.advisory)
        }
    }
}

// MARK: Time as integer milliseconds

extension Date {
    /// Milliseconds since 1970, as stored.
    var ms: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    init(ms: Int64) { self.init(timeIntervalSince1970: Double(ms) / 1000) }
}

extension SQLiteStore {
    /// Runs raw SQL; for tests that check what the schema itself refuses.
    public func rawExecute(_ sql: String) async throws {
        try await writer.write { db in try db.execute(sql: sql) }
    }
}
