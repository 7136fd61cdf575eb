import Foundation
import GRDB
import HabarCore
import HabarMessages

/// What channels keep beyond deliveries: webhook subscribers and incoming SMS.
extension SQLiteStore {
    // MARK: Webhook subscribers

    public func insertSubscriber(_ subscriber: NewSubscriber) async throws -> Subscriber {
        try await writer.write { db in
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM subscribers WHERE name = ?)", arguments: [subscriber.name]) == true {
                throw OperationError.conflict("a subscriber named '\(subscriber.name)' exists")
            }
            try db.execute(
                sql: """
                    INSERT INTO subscribers (name, url, secret, language, agency_id, active, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [subscriber.name, subscriber.url, subscriber.secret, subscriber.language.rawValue, subscriber.agencyId,
                            subscriber.active, subscriber.createdAt.ms])
            return subscriber.stored(id: db.lastInsertedRowID)
        }
    }

    public func subscribers() async throws -> [Subscriber] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM subscribers ORDER BY id").map(Self.subscriber)
        }
    }

    public func setSubscriberActive(name: String, active: Bool, reason: String?, at: Date) async throws -> Subscriber? {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE subscribers SET active = ?, disabled_at = ?, disabled_reason = ? WHERE name = ?",
                arguments: [active, active ? nil : at.ms, active ? nil : reason, name])
            return try Row.fetchOne(db, sql: "SELECT * FROM subscribers WHERE name = ?", arguments: [name]).map(Self.subscriber)
        }
    }

    public func setSubscriberSecret(name: String, secret: String) async throws -> Subscriber? {
        try await writer.write { db in
            try db.execute(sql: "UPDATE subscribers SET secret = ? WHERE name = ?", arguments: [secret, name])
            return try Row.fetchOne(db, sql: "SELECT * FROM subscribers WHERE name = ?", arguments: [name]).map(Self.subscriber)
        }
    }

    static func subscriber(_ row: Row) -> Subscriber {
        Subscriber(
            id: row["id"], name: row["name"], url: row["url"], secret: row["secret"],
            language: Language(rawValue: row["language"]) ?? .russian, agencyId: row["agency_id"], active: row["active"],
            createdAt: Date(ms: row["created_at"]), disabledAt: (row["disabled_at"] as Int64?).map(Date.init(ms:)),
            disabledReason: row["disabled_reason"])
    }

    // MARK: Incoming SMS

    public func recordInboundSMS(_ messages: [NewInboundSMS]) async throws -> [InboundRecord] {
        try await writer.write { db in try messages.map { try Self.recordInbound($0, db: db) } }
    }

    private static func recordInbound(_ message: NewInboundSMS, db: Database) throws -> InboundRecord {
        let key = message.dedupeKey
        if let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT id, citizen_id FROM inbound_sms WHERE channel = ? AND dedupe_key = ?"),
            arguments: [message.channel, key])
        {
            return InboundRecord(id: row[0], duplicate: true, citizenId: row[1])
        }
        // The citizen with this number, else the one a record with it was merged into.
        let citizenId = try Int64.fetchOne(
            db.cachedStatement(sql: """
                SELECT coalesce((SELECT id FROM citizens WHERE phone = ? ORDER BY id LIMIT 1),
                    (SELECT citizen_id FROM citizen_merges WHERE merged_phone = ? ORDER BY id DESC LIMIT 1))
                """),
            arguments: [message.sender, message.sender])
        try db.cachedStatement(sql: """
            INSERT INTO inbound_sms (channel, dedupe_key, sender, receiver, text, citizen_id, provider_message_id, sent_at, received_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                message.channel, key, message.sender, message.receiver, message.text, citizenId, message.providerMessageId,
                message.sentAt?.ms, message.receivedAt.ms,
            ])
        return InboundRecord(id: db.lastInsertedRowID, duplicate: false, citizenId: citizenId)
    }

    public func inboundSMS(page: PageRequest) async throws -> Page<InboundSMS> {
        let (clause, arguments) = Conditions().sql(after: page.after, idColumn: "id", limit: page.limit)
        let fetched = try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM inbound_sms \(clause)", arguments: arguments).map { row in
                InboundSMS(
                    id: row["id"], channel: row["channel"], sender: row["sender"], receiver: row["receiver"], text: row["text"],
                    sentAt: (row["sent_at"] as Int64?).map(Date.init(ms:)), receivedAt: Date(ms: row["received_at"]),
                    providerMessageId: row["provider_message_id"], citizenId: row["citizen_id"],
                    processedAt: (row["processed_at"] as Int64?).map(Date.init(ms:)))
            }
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }
}
