import Foundation
import HabarCore
import HabarMessages
import PostgresNIO

// MARK: The operator console's accounts and sessions

extension PostgresStore {
    static func operatorAccount(_ row: PostgresRandomAccessRow) throws -> OperatorAccount {
        OperatorAccount(
            id: try row.get("id"), name: try row.get("name"), role: Role(rawValue: try row.get("role")) ?? .viewer,
            passwordHash: try row.get("password_hash"), totpSecret: try row.get("totp_secret"),
            language: Language(rawValue: try row.get("language")) ?? .russian, createdAt: try row.date("created_at"),
            disabledAt: try row.optionalDate("disabled_at"))
    }

    public func insertOperator(name: String, role: Role, passwordHash: String, language: Language, at: Date) async throws -> OperatorAccount {
        do {
            return try await write { pg in
                guard let id = try await pg.value(
                    "INSERT INTO operators (name, role, password_hash, language, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                    name, role.rawValue, passwordHash, language.rawValue, at.ms, as: Int64.self)
                else { throw PostgresStoreError("the account was not stored") }
                return OperatorAccount(id: id, name: name, role: role, passwordHash: passwordHash, language: language, createdAt: Date(ms: at.ms))
            }
        } catch where Self.isUniqueViolation(error, constraint: "operators_by_name") {
            throw OperationError.conflict("an account named '\(name)' exists")
        }
    }

    public func operatorAccount(name: String) async throws -> OperatorAccount? {
        try await read { pg in try await pg.row("SELECT * FROM operators WHERE lower(name) = lower(?)", name).map(Self.operatorAccount) }
    }

    public func operatorAccounts() async throws -> [OperatorAccount] {
        try await read { pg in try await pg.rows("SELECT * FROM operators ORDER BY name").map(Self.operatorAccount) }
    }

    public func setOperatorLanguage(id: Int64, language: Language) async throws -> Bool {
        try await write { pg in try await pg.run("UPDATE operators SET language = ? WHERE id = ? RETURNING 1", language.rawValue, id) == 1 }
    }

    public func setOperatorTOTP(id: Int64, secret: String?) async throws -> Bool {
        try await write { pg in
            guard try await pg.run("UPDATE operators SET totp_secret = ?::text WHERE id = ? RETURNING 1", secret, id) == 1 else { return false }
            try await pg.run("DELETE FROM console_sessions WHERE operator_id = ?", id)
            return true
        }
    }

    public func insertSession(_ session: ConsoleSession) async throws {
        try await write { pg in
            try await pg.run(
                "INSERT INTO console_sessions (token_hash, operator_id, csrf_token, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
                session.tokenHash, session.operatorId, session.csrfToken, session.createdAt.ms, session.lastSeenAt.ms)
        }
    }

    public func session(tokenHash: String, idleSince: Date, now: Date) async throws -> (session: ConsoleSession, account: OperatorAccount)? {
        let found = try await write { pg -> FoundSession? in
            guard let row = try await pg.row(
                """
                SELECT s.token_hash, s.csrf_token, s.created_at AS session_created_at, s.last_seen_at, o.*
                FROM console_sessions s JOIN operators o ON o.id = s.operator_id WHERE s.token_hash = ? FOR UPDATE OF s
                """, tokenHash)
            else { return nil }
            let lastSeen: Int64 = try row.get("last_seen_at")
            guard lastSeen > idleSince.ms, try row.get("disabled_at", as: Int64?.self) == nil else {
                try await pg.run("DELETE FROM console_sessions WHERE token_hash = ?", tokenHash)
                return nil
            }
            try await pg.run("UPDATE console_sessions SET last_seen_at = ? WHERE token_hash = ?", now.ms, tokenHash)
            let account = try Self.operatorAccount(row)
            return FoundSession(
                session: ConsoleSession(
                    tokenHash: tokenHash, operatorId: account.id, csrfToken: try row.get("csrf_token"),
                    createdAt: try row.date("session_created_at"), lastSeenAt: Date(ms: now.ms)),
                account: account)
        }
        return found.map { ($0.session, $0.account) }
    }

    struct FoundSession: Sendable {
        var session: ConsoleSession
        var account: OperatorAccount
    }

    public func deleteSession(tokenHash: String) async throws {
        try await write { pg in try await pg.run("DELETE FROM console_sessions WHERE token_hash = ?", tokenHash) }
    }
}

// MARK: The places registry

extension PostgresStore {
    static func place(body: String) throws -> Place {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(Place.self, from: Data(body.utf8))
    }

    static func insertVersion(_ place: Place, _ pg: PG) async throws {
        try await pg.run(
            "INSERT INTO place_versions (place_id, version, body, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)",
            place.id, place.version, try json(place), place.updatedAt.ms, place.updatedBy)
    }

    public func insertPlace(_ place: NewPlace) async throws -> Place {
        try await write { pg in
            guard let id = try await pg.value(
                "INSERT INTO places (kind, version, country, status, created_at) VALUES (?, 1, ?::text, ?, ?) RETURNING id",
                place.kind.rawValue, place.country, place.status.rawValue, place.createdAt.ms, as: Int64.self)
            else { throw PostgresStoreError("the place was not stored") }
            var stored = place.stored(id: id)
            stored.version = 1
            try await Self.insertVersion(stored, pg)
            return stored
        }
    }

    public func place(id: Int64, version: Int?) async throws -> Place? {
        try await read { pg in
            let body: String?
            if let version {
                body = try await pg.value("SELECT body FROM place_versions WHERE place_id = ? AND version = ?", id, version, as: String.self)
            } else {
                body = try await pg.value(
                    "SELECT v.body FROM places p JOIN place_versions v ON v.place_id = p.id AND v.version = p.version WHERE p.id = ?", id,
                    as: String.self)
            }
            return try body.map(Self.place(body:))
        }
    }

    public func places(_ filter: PlaceFilter, page: PageRequest) async throws -> Page<Place> {
        let fetched = try await read { pg in
            var conditions = Conditions()
            conditions.equal("p.kind", filter.kind?.rawValue)
            conditions.equal("p.country", filter.country)
            conditions.equal("p.status", filter.status?.rawValue)
            let (clause, values) = conditions.sql(after: page.after, idColumn: "p.id", limit: page.limit)
            return try await pg.rows(
                "SELECT v.body FROM places p JOIN place_versions v ON v.place_id = p.id AND v.version = p.version \(clause)", values: values
            ).map { try Self.place(body: try $0.get("body")) }
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    public func insertPlaceVersion(_ place: Place) async throws -> Place {
        try await write { pg in
            // Only from the version the change was made against: a concurrent change wins once.
            let changed = try await pg.run(
                "UPDATE places SET version = ?, country = ?::text, status = ? WHERE id = ? AND version = ? RETURNING 1",
                place.version, place.country, place.status.rawValue, place.id, place.version - 1)
            guard changed == 1 else {
                throw OperationError.conflict("place \(place.id) was changed meanwhile; read it again and repeat the change")
            }
            try await Self.insertVersion(place, pg)
            return place
        }
    }

    public func advisoriesInForce(usingPlace id: Int64, before version: Int, now: Date) async throws -> [Advisory] {
        try await read { pg in
            try await pg.rows(
                """
                SELECT a.* FROM advisories a
                WHERE a.status = 'published' AND a.expires_at > ? AND EXISTS (
                    SELECT 1 FROM jsonb_array_elements(a.places::jsonb) AS used
                    WHERE used ->> 'role' IN ('meetingPoint', 'borderCrossing', 'corridor')
                      AND (used -> 'place' ->> 'id')::bigint = ? AND (used -> 'place' ->> 'version')::integer < ?)
                ORDER BY a.id
                """, now.ms, id, version
            ).map(Self.advisory)
        }
    }
}

// MARK: Webhook subscribers and incoming SMS

extension PostgresStore {
    public func insertSubscriber(_ subscriber: NewSubscriber) async throws -> Subscriber {
        do {
            return try await write { pg in try await Self.insert(subscriber, pg) }
        } catch where Self.isUniqueViolation(error, constraint: "subscribers_name_key") {
            throw OperationError.conflict("a subscriber named '\(subscriber.name)' exists")
        }
    }

    static func insert(_ subscriber: NewSubscriber, _ pg: PG) async throws -> Subscriber {
        guard let id = try await pg.value(
            """
            INSERT INTO subscribers (name, url, secret, language, agency_id, active, created_at) VALUES (?, ?, ?, ?, ?::text, ?, ?)
            RETURNING id
            """,
            subscriber.name, subscriber.url, subscriber.secret, subscriber.language.rawValue, subscriber.agencyId, subscriber.active,
            subscriber.createdAt.ms, as: Int64.self)
        else { throw PostgresStoreError("the subscriber was not stored") }
        return subscriber.stored(id: id)
    }

    public func subscribers() async throws -> [Subscriber] {
        try await read { pg in try await pg.rows("SELECT * FROM subscribers ORDER BY id").map(Self.subscriber) }
    }

    public func setSubscriberActive(name: String, active: Bool, reason: String?, at: Date) async throws -> Subscriber? {
        try await write { pg in
            try await pg.rows(
                "UPDATE subscribers SET active = ?, disabled_at = ?::bigint, disabled_reason = ?::text WHERE name = ? RETURNING *",
                active, active ? nil : at.ms, active ? nil : reason, name
            ).first.map(Self.subscriber)
        }
    }

    public func setSubscriberSecret(name: String, secret: String) async throws -> Subscriber? {
        try await write { pg in
            try await pg.rows("UPDATE subscribers SET secret = ? WHERE name = ? RETURNING *", secret, name).first.map(Self.subscriber)
        }
    }

    static func subscriber(_ row: PostgresRandomAccessRow) throws -> Subscriber {
        Subscriber(
            id: try row.get("id"), name: try row.get("name"), url: try row.get("url"), secret: try row.get("secret"),
            language: Language(rawValue: try row.get("language")) ?? .russian, agencyId: try row.get("agency_id"), active: try row.get("active"),
            createdAt: try row.date("created_at"), disabledAt: try row.optionalDate("disabled_at"), disabledReason: try row.get("disabled_reason"))
    }

    public func recordInboundSMS(_ messages: [NewInboundSMS]) async throws -> [InboundRecord] {
        try await write { pg in
            var records: [InboundRecord] = []
            for message in messages { records.append(try await Self.recordInbound(message, pg: pg)) }
            return records
        }
    }

    /// Once per (channel, dedupe key), whichever instance the gateway's retry reached: the
    /// insert that loses a race inserts nothing and reads the winner's row.
    private static func recordInbound(_ message: NewInboundSMS, pg: PG) async throws -> InboundRecord {
        // The citizen with this number, else the one a record with it was merged into.
        let citizenId = try await pg.value(
            """
            SELECT coalesce((SELECT id FROM citizens WHERE phone = ? ORDER BY id LIMIT 1),
                (SELECT citizen_id FROM citizen_merges WHERE merged_phone = ? ORDER BY id DESC LIMIT 1))
            """, message.sender, message.sender, as: Int64.self)
        if let id = try await pg.value(
            """
            INSERT INTO inbound_sms (channel, dedupe_key, sender, receiver, text, citizen_id, provider_message_id, sent_at, received_at)
            VALUES (?, ?, ?, ?::text, ?, ?::bigint, ?::text, ?::bigint, ?)
            ON CONFLICT (channel, dedupe_key) DO NOTHING RETURNING id
            """,
            message.channel, message.dedupeKey, message.sender, message.receiver, message.text, citizenId, message.providerMessageId,
            message.sentAt?.ms, message.receivedAt.ms, as: Int64.self)
        {
            return InboundRecord(id: id, duplicate: false, citizenId: citizenId)
        }
        guard let row = try await pg.row(
            "SELECT id, citizen_id FROM inbound_sms WHERE channel = ? AND dedupe_key = ?", message.channel, message.dedupeKey)
        else { throw PostgresStoreError("an incoming SMS was neither stored nor found") }
        return InboundRecord(id: try row.get("id"), duplicate: true, citizenId: try row.get("citizen_id"))
    }

    public func inboundSMS(page: PageRequest) async throws -> Page<InboundSMS> {
        let fetched = try await read { pg in
            let (clause, values) = Conditions().sql(after: page.after, idColumn: "id", limit: page.limit)
            return try await pg.rows("SELECT * FROM inbound_sms \(clause)", values: values).map(Self.inbound)
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    static func inbound(_ row: PostgresRandomAccessRow) throws -> InboundSMS {
        InboundSMS(
            id: try row.get("id"), channel: try row.get("channel"), sender: try row.get("sender"), receiver: try row.get("receiver"),
            text: try row.get("text"), sentAt: try row.optionalDate("sent_at"), receivedAt: try row.date("received_at"),
            providerMessageId: try row.get("provider_message_id"), citizenId: try row.get("citizen_id"),
            processedAt: try row.optionalDate("processed_at"))
    }
}
