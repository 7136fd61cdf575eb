import Foundation
import HabarCore
import HabarMessages
import PostgresNIO

/// Citizens, tokens and advisories as records.
extension PostgresStore {
    // MARK: Citizens

    public func insertCitizen(_ citizen: NewCitizen) async throws -> Citizen {
        try await write { pg in try await Self.insert(citizen, pg) }
    }

    static func insert(_ citizen: NewCitizen, _ pg: PG) async throws -> Citizen {
        guard let id = try await pg.value(
            """
            INSERT INTO citizens (full_name, language, phone, email, country, city, lat, lon, group_id, agency_id,
                tags, passport_number, birth_date, welfare_status, last_contact_at, search_words, created_at, updated_at)
            VALUES (?, ?, ?::text, ?::text, ?, ?::text, ?::double precision, ?::double precision, ?::text, ?::text, ?, ?::text, ?::text, ?, ?::bigint,
                ?, ?, ?)
            RETURNING id
            """,
            values: citizenValues(citizen) + [CitizenSearch.indexedWords(fullName: citizen.fullName), citizen.createdAt.ms, citizen.updatedAt.ms],
            as: Int64.self)
        else { throw PostgresStoreError("the citizen was not stored") }
        return citizen.stored(id: id)
    }

    static func citizenValues<ID>(_ c: CitizenRecord<ID>) -> [Bind] {
        [
            c.fullName, c.language.rawValue, c.phone?.e164, c.email, c.country, c.city, c.position?.lat, c.position?.lon,
            c.groupId, c.agencyId, tagsColumn(c.tags),
            c.passportNumber, c.birthDate, c.welfareStatus.rawValue, c.lastContactAt?.ms,
        ]
    }

    /// Tags as stored: `|tag|tag|`, empty for none.
    static func tagsColumn<S: StringProtocol>(_ tags: [S]) -> String { tags.isEmpty ? "" : "|" + tags.joined(separator: "|") + "|" }

    public func citizen(id: Int64) async throws -> Citizen? {
        try await read { pg in try await pg.row("SELECT * FROM citizens WHERE id = ?", id).map(Self.citizen) }
    }

    public func citizens(ids: [Int64]) async throws -> [Int64: Citizen] {
        guard !ids.isEmpty else { return [:] }
        let found = try await read { pg in try await pg.rows("SELECT * FROM citizens WHERE id = ANY(?)", ids).map(Self.citizen) }
        return Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func upsertCitizens(_ citizens: [NewCitizen]) async throws -> CitizenImportResult {
        let lines = citizens.enumerated().map { ImportLine($1, line: $0) }
        return try await write { pg in
            // Imports of the same people on two instances at once would each find no match and
            // both insert: the import lock makes them one after the other.
            try await pg.run("SELECT pg_advisory_xact_lock(?)", Self.importLock)
            return try await Self.importLines(lines, pg)
        }
    }

    /// Looks every line's match up in one statement, then updates and inserts in one each.
    /// Lines that could find each other (the same phone or passport twice, two lines matching
    /// one citizen) must see each other's writes: those batches go a line at a time, in order.
    private static func importLines(_ lines: [ImportLine], _ pg: PG) async throws -> CitizenImportResult {
        let found = try await pg.rows(
            """
            SELECT j.n, coalesce((SELECT id FROM citizens WHERE phone = j.phone ORDER BY id LIMIT 1),
                (SELECT id FROM citizens WHERE passport_number = j.passport ORDER BY id LIMIT 1)) AS target
            FROM jsonb_to_recordset(?::jsonb) AS j(n integer, phone text, passport text)
            """, try json(lines.map { ImportLine.Keys(n: $0.n, phone: $0.phone, passport: $0.passport) }))
        var targets: [Int: Int64] = [:]
        for row in found { targets[try row.get("n", as: Int.self)] = try row.get("target", as: Int64?.self) }
        let matched = lines.map { line in
            var line = line
            line.target = targets[line.n] ?? nil
            return line
        }
        guard lines.count == 1 || ImportLine.independent(matched) else {
            var result = CitizenImportResult(created: 0, updated: 0)
            for line in lines {
                let one = try await importLines([line], pg)
                result.created += one.created
                result.updated += one.updated
            }
            return result
        }
        let updates = matched.filter { $0.target != nil }
        let inserts = matched.filter { $0.target == nil }
        if !updates.isEmpty {
            try await pg.run(
                """
                UPDATE citizens c SET full_name = j.name, language = j.language, phone = coalesce(j.phone, c.phone), email = coalesce(j.email, c.email),
                    country = j.country, city = coalesce(j.city, c.city), lat = coalesce(j.lat, c.lat), lon = coalesce(j.lon, c.lon),
                    group_id = coalesce(j.grp, c.group_id), agency_id = coalesce(j.agency, c.agency_id), tags = coalesce(nullif(j.tags, ''), c.tags),
                    passport_number = coalesce(j.passport, c.passport_number), birth_date = coalesce(j.birth, c.birth_date),
                    search_words = j.words, updated_at = j.updated
                FROM jsonb_to_recordset(?::jsonb) AS j(\(ImportLine.columns))
                WHERE c.id = j.target
                """, try json(updates))
        }
        if !inserts.isEmpty {
            try await pg.run(
                """
                INSERT INTO citizens (full_name, language, phone, email, country, city, lat, lon, group_id, agency_id,
                    tags, passport_number, birth_date, welfare_status, last_contact_at, search_words, created_at, updated_at)
                SELECT name, language, phone, email, country, city, lat, lon, grp, agency, tags, passport, birth, welfare, contact,
                    words, created, updated
                FROM jsonb_to_recordset(?::jsonb) AS j(\(ImportLine.columns))
                ORDER BY n
                """, try json(inserts))
        }
        return CitizenImportResult(created: inserts.count, updated: updates.count)
    }

    /// One line of an import as JSON for the set-based statements; `target` is the stored
    /// citizen it updates.
    struct ImportLine: Encodable {
        var n: Int
        var target: Int64?
        var name, language, country, tags, words, welfare: String
        var phone, email, city, grp, agency, passport, birth: String?
        var lat, lon: Double?
        var contact: Int64?
        var created, updated: Int64

        /// The columns of `jsonb_to_recordset` that read it.
        static let columns = """
            n integer, target bigint, name text, language text, country text, tags text, words text, welfare text, phone text, email text, \
            city text, grp text, agency text, passport text, birth text, lat double precision, lon double precision, contact bigint, \
            created bigint, updated bigint
            """

        struct Keys: Encodable {
            var n: Int
            var phone: String?
            var passport: String?
        }

        init(_ c: NewCitizen, line: Int) {
            n = line
            name = c.fullName
            language = c.language.rawValue
            country = c.country
            tags = PostgresStore.tagsColumn(c.tags)
            words = CitizenSearch.indexedWords(fullName: c.fullName)
            welfare = c.welfareStatus.rawValue
            phone = c.phone?.e164
            email = c.email
            city = c.city
            grp = c.groupId
            agency = c.agencyId
            passport = c.passportNumber
            birth = c.birthDate
            lat = c.position?.lat
            lon = c.position?.lon
            contact = c.lastContactAt?.ms
            created = c.createdAt.ms
            updated = c.updatedAt.ms
        }

        /// No line's write can change what another line finds: phones and passport numbers
        /// differ between lines, and no two lines update the same citizen.
        static func independent(_ lines: [ImportLine]) -> Bool {
            var phones = Set<String>(), passports = Set<String>(), targets = Set<Int64>()
            for line in lines {
                if let phone = line.phone, !phones.insert(phone).inserted { return false }
                if let passport = line.passport, !passports.insert(passport).inserted { return false }
                if let target = line.target, !targets.insert(target).inserted { return false }
            }
            return true
        }
    }

    /// `pg_advisory_xact_lock` key of citizen imports: "habarimp".
    static let importLock: Int64 = 0x6861_6261_7269_6D70

    public func countCitizens() async throws -> Int {
        try await read { pg in try await pg.value("SELECT count(*) FROM citizens", as: Int.self) ?? 0 }
    }

    public func welfareTotals() async throws -> [WelfareTotal] {
        try await read { pg in
            try await pg.rows("SELECT country, welfare_status, count(*) AS n FROM citizens GROUP BY country, welfare_status").compactMap { row in
                guard let status = WelfareStatus(rawValue: try row.get("welfare_status")) else { return nil }
                return WelfareTotal(country: try row.get("country"), status: status, count: try row.get("n"))
            }
        }
    }

    // MARK: Tokens

    public func insertToken(_ token: NewAccessToken) async throws -> AccessToken {
        try await write { pg in try await Self.insert(token, pg) }
    }

    static func insert(_ token: NewAccessToken, _ pg: PG) async throws -> AccessToken {
        guard let id = try await pg.value(
            "INSERT INTO tokens (name, role, agency_id, token_hash, created_at) VALUES (?, ?, ?::text, ?, ?) RETURNING id",
            token.name, token.role.rawValue, token.agencyId, token.tokenHash, token.createdAt.ms, as: Int64.self)
        else { throw PostgresStoreError("the token was not stored") }
        return token.stored(id: id)
    }

    public func token(hash: String) async throws -> AccessToken? {
        try await read { pg in try await pg.row("SELECT * FROM tokens WHERE token_hash = ? AND revoked_at IS NULL", hash).map(Self.token) }
    }

    /// Under a transaction advisory lock: of instances starting together, the first makes it
    /// and the others, waiting for the lock, find it.
    public func insertFirstToken(_ token: NewAccessToken) async throws -> AccessToken? {
        try await write { pg in
            try await pg.run("SELECT pg_advisory_xact_lock(?)", Self.firstTokenLock)
            guard try await pg.value("SELECT EXISTS (SELECT 1 FROM tokens)", as: Bool.self) == false else { return nil }
            return try await Self.insert(token, pg)
        }
    }

    /// `pg_advisory_xact_lock` key of the first token: "habartok" as 8 bytes.
    static let firstTokenLock: Int64 = 0x6861_6261_7274_6F6B

    public func hasTokens() async throws -> Bool {
        try await read { pg in try await pg.value("SELECT EXISTS (SELECT 1 FROM tokens)", as: Bool.self) ?? false }
    }

    // MARK: Advisories

    public func insertAdvisory(_ advisory: NewAdvisory) async throws -> Advisory {
        let encoded = try Self.encodeContent(advisory)
        return try await write { pg in
            guard let id = try await pg.value(
                """
                INSERT INTO advisories (kind, severity, audience, params, template, channel_plan, expires_at, status,
                    version, author, approver, created_at, published_at, cancelled_at, scope, publish_at, author_token_id, places, exercise)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::text, ?, ?::bigint, ?::bigint, ?, ?::bigint, ?::bigint, ?, ?)
                RETURNING id
                """,
                advisory.kind.rawValue, advisory.severity.rawValue, encoded.audience, encoded.params, advisory.template,
                encoded.plan, advisory.expiresAt.ms, advisory.status.rawValue, advisory.version, advisory.author,
                advisory.approver, advisory.createdAt.ms, advisory.publishedAt?.ms, advisory.cancelledAt?.ms,
                advisory.scope.rawValue, advisory.publishAt?.ms, advisory.authorTokenId, encoded.places, advisory.exercise, as: Int64.self)
            else { throw PostgresStoreError("the advisory was not stored") }
            return advisory.stored(id: id)
        }
    }

    /// The JSON columns of an advisory.
    static func encodeContent<ID>(_ advisory: AdvisoryRecord<ID>) throws -> (audience: String, params: String, plan: String, places: String) {
        (try json(advisory.audience), try json(advisory.params), try json(advisory.channelPlan), try json(advisory.places))
    }

    public func advisory(id: Int64) async throws -> Advisory? {
        try await read { pg in try await pg.row("SELECT * FROM advisories WHERE id = ?", id).map(Self.advisory) }
    }
}
