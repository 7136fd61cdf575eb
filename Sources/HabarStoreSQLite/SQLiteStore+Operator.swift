import Foundation
import GRDB
import HabarCore
import HabarMessages

/// What HQ's API reads and changes besides publishing: lists, citizens, tokens, schedules,
/// stats, the audit log and idempotency keys.
extension SQLiteStore {
    // MARK: Lists

    typealias Conditions = SQLConditions<any DatabaseValueConvertible>

    public func citizens(_ filter: CitizenFilter, page: PageRequest) async throws -> Page<Citizen> {
        var conditions = Conditions()
        conditions.equal("country", filter.country)
        conditions.equal("city", filter.city)
        if let agency = filter.visibleToAgency, let group = filter.groupId {
            // The agency's own group of that id.
            conditions.add("id IN (SELECT citizen_id FROM agency_tourists WHERE agency_id = ? AND group_id = ?)", agency, group)
        } else {
            conditions.equal("group_id", filter.groupId)
        }
        conditions.equal("agency_id", filter.agencyId)
        conditions.equal("welfare_status", filter.checkinStatus?.rawValue)
        if let tag = filter.tag { conditions.add("instr(tags, '|' || ? || '|') > 0", tag) }
        if let search = filter.search, !CitizenSearch(search).isEmpty { conditions.add("habar_citizen_search(full_name, phone, ?)", search) }
        if let agency = filter.visibleToAgency {
            conditions.add("(agency_id = ? OR id IN (SELECT citizen_id FROM agency_tourists WHERE agency_id = ?))", agency, agency)
        }
        let (clause, arguments) = conditions.sql(after: page.after, idColumn: "id", limit: page.limit)
        let fetched = try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM citizens \(clause)", arguments: arguments).map(Self.citizen)
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    public func deliveries(_ filter: DeliveryFilter, page: PageRequest) async throws -> Page<Delivery> {
        var conditions = Conditions()
        conditions.equal("advisory_id", filter.advisoryId)
        conditions.equal("citizen_id", filter.citizenId)
        conditions.equal("state", filter.state?.rawValue)
        conditions.equal("channel", filter.channel)
        conditions.equal("agency_group", filter.groupId)
        let (clause, arguments) = conditions.sql(after: page.after, idColumn: "id", limit: page.limit)
        let installation = try await installationId()
        let fetched = try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM deliveries \(clause)", arguments: arguments)
                .map { Self.delivery($0, installation: installation) }
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    public func advisories(_ filter: AdvisoryFilter, page: PageRequest) async throws -> Page<Advisory> {
        var conditions = Conditions()
        conditions.equal("status", filter.status?.rawValue)
        if let scheduled = filter.scheduled { conditions.add(scheduled ? "approver IS NOT NULL" : "approver IS NULL") }
        conditions.equal("kind", filter.kind?.rawValue)
        if filter.publishedPublicOnly { conditions.add("scope = 'public' AND published_at IS NOT NULL") }
        if let at = filter.inForceAt { conditions.add("expires_at > ?", at.ms) }
        if let exercise = filter.exercise { conditions.add("exercise = ?", exercise) }
        let (clause, arguments) = conditions.sql(after: page.after, idColumn: "id", limit: page.limit)
        let fetched = try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM advisories \(clause)", arguments: arguments).map(Self.advisory)
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    public func tokens(page: PageRequest) async throws -> Page<AccessToken> {
        let (clause, arguments) = Conditions().sql(after: page.after, idColumn: "id", limit: page.limit)
        let fetched = try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tokens \(clause)", arguments: arguments).map(Self.token)
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    // MARK: Citizens

    public func citizenId(phone: String) async throws -> Int64? {
        try await writer.read { db in
            try Int64.fetchOne(db, sql: "SELECT id FROM citizens WHERE phone = ? ORDER BY id LIMIT 1", arguments: [phone])
        }
    }

    public func updateCitizen(_ citizen: Citizen) async throws -> Citizen? {
        let id = citizen.id
        return try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE citizens SET full_name = ?, language = ?, phone = ?, email = ?, country = ?, city = ?, lat = ?, lon = ?,
                        group_id = ?, agency_id = ?, tags = ?, passport_number = ?, birth_date = ?, updated_at = ?
                    WHERE id = ?
                    """,
                arguments: StatementArguments(Self.citizenValues(citizen).dropLast(2) + [citizen.updatedAt.ms, id]))
            guard db.changesCount > 0 else { return nil }
            return try Row.fetchOne(db, sql: "SELECT * FROM citizens WHERE id = ?", arguments: [id]).map(Self.citizen)
        }
    }

    public func eraseCitizen(id: Int64, at: Date) async throws -> Bool {
        try await writer.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM citizens WHERE id = ?)", arguments: [id]) == true else {
                return false
            }
            let pending = try Row.fetchAll(
                db,
                sql: "SELECT id, step, channel, state, attempts FROM deliveries WHERE citizen_id = ? AND state IN \(DeliveryState.pending.sql)",
                arguments: [id])
            for row in pending { try Self.transition(db, row: row, to: .cancelled, at: at, detail: "citizen's data erased") }
            // Counts stay (state, channel, language); the address and the link to the person go.
            try db.execute(sql: "UPDATE deliveries SET phone = NULL, email = NULL WHERE citizen_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM citizens WHERE id = ?", arguments: [id])
            return true
        }
    }

    // MARK: Tokens

    public func revokeToken(id: Int64, at: Date) async throws -> TokenRevocation {
        try await writer.write { db in
            // One statement in the write transaction: two admins revoking each other at once
            // cannot both pass the count.
            try db.execute(
                sql: """
                    UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL
                      AND NOT (role = 'admin' AND (SELECT count(*) FROM tokens WHERE role = 'admin' AND revoked_at IS NULL) <= 1)
                    """,
                arguments: [at.ms, id])
            if db.changesCount > 0 { return .revoked }
            let role = try String.fetchOne(db, sql: "SELECT role FROM tokens WHERE id = ? AND revoked_at IS NULL", arguments: [id])
            return role == Role.admin.rawValue ? .lastAdmin : .notFound
        }
    }

    // MARK: Advisories

    public func advisoryVersions(id: Int64) async throws -> [AdvisoryVersion] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM advisory_versions WHERE advisory_id = ? ORDER BY version", arguments: [id]
            ).map { row in
                AdvisoryVersion(
                    version: row["version"], messageType: AdvisoryMessageType(rawValue: row["message_type"]) ?? .alert,
                    sentAt: Date(ms: row["sent_at"]), approver: row["approver"])
            }
        }
    }

    public func scheduleAdvisory(id: Int64, approver: String, approverTokenId: Int64?, publishAt: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE advisories SET approver = ?, approver_token_id = ?, publish_at = ? WHERE id = ? AND status = 'draft'",
                arguments: [approver, approverTokenId, publishAt.ms, id])
            guard db.changesCount == 1 else { throw OperationError.conflict("advisory \(id) is not a draft") }
        }
    }

    public func dueScheduledAdvisories(now: Date) async throws -> [Advisory] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM advisories WHERE status = 'draft' AND approver IS NOT NULL AND publish_at <= ? ORDER BY publish_at",
                arguments: [now.ms]
            ).map(Self.advisory)
        }
    }

    public func setInterrupted(id: Int64, at: Date?, by: String?) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE advisories SET interrupted_at = ?, interrupted_by = ? WHERE id = ? AND status = \(AdvisoryStatus.published.sql)",
                arguments: [at?.ms, by, id])
            guard db.changesCount == 1 else { throw OperationError.conflict("advisory \(id) is not published") }
        }
    }

    public func setPendingCorrection(id: Int64, _ pending: PendingCorrection?) async throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let json = try pending.map { String(decoding: try encoder.encode($0.correction), as: UTF8.self) }
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE advisories SET pending_correction = ?, pending_author = ?, pending_author_token_id = ?
                    WHERE id = ? AND status = 'published'
                    """,
                arguments: [json, pending?.author, pending?.authorTokenId, id])
            guard db.changesCount == 1 else { throw OperationError.conflict("advisory \(id) is not published") }
        }
    }

    /// Three independent reads, run at once on the pool's readers: counts (with the first
    /// send), the send times for the 95th percentile, and the welfare of the distinct citizens.
    public func advisoryStats(id: Int64) async throws -> AdvisoryStats? {
        let advisory = try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT published_at FROM advisories WHERE id = ?", arguments: [id])
        }
        guard let published = advisory else { return nil }
        async let grouped = writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT state, channel, language, COUNT(*), MIN(first_sent_at) FROM deliveries WHERE advisory_id = ? AND purpose = \(DeliveryPurpose.advisory.sql)
                    GROUP BY state, channel, language ORDER BY state, channel, language
                    """,
                arguments: [id]
            ).map { row in
                (DeliveryCount(
                    state: DeliveryState(rawValue: row[0]) ?? .queued, channel: row[1], language: Language(rawValue: row[2]) ?? .russian,
                    count: row[3]), row[4] as Int64?)
            }
        }
        // Time to 95% sent counts the deliveries that were meant to go: not the cancelled ones
        // (unordered: SendProgress orders the times itself).
        async let sendTimes = writer.read { db in
            try Int64?.fetchAll(
                db,
                sql: """
                    SELECT first_sent_at FROM deliveries WHERE advisory_id = ? AND purpose = \(DeliveryPurpose.advisory.sql) AND state != \(DeliveryState.cancelled.sql)
                    """,
                arguments: [id])
        }
        async let welfare = writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT c.welfare_status, COUNT(*) FROM (SELECT DISTINCT citizen_id FROM deliveries WHERE advisory_id = ? AND purpose = \(DeliveryPurpose.advisory.sql)) d
                    JOIN citizens c ON c.id = d.citizen_id GROUP BY 1
                    """,
                arguments: [id]
            ).compactMap { row in WelfareStatus(rawValue: row[0]).map { ($0, row[1] as Int) } }
        }
        let counts = try await grouped
        let times = try await sendTimes
        return AdvisoryStats(
            deliveries: counts.reduce(0) { $0 + $1.0.count }, counts: counts.map(\.0),
            checkins: Dictionary(try await welfare, uniquingKeysWith: +),
            publishedAt: (published[0] as Int64?).map(Date.init(ms:)),
            firstSentAt: counts.compactMap(\.1).min().map(Date.init(ms:)),
            ninetyFivePercentSentAt: SendProgress.time(toSend: 0.95, of: times.map { $0.map(Date.init(ms:)) }))
    }

    // MARK: Audit log

    public func appendAudit(_ entry: NewAuditEntry) async throws -> AuditEntry {
        try await writer.write { db in
            let previous = try String.fetchOne(db, sql: "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1") ?? AuditEntry.genesisHash
            let linked = entry.chained(after: previous)
            let details = String(decoding: try JSONEncoder.sorted.encode(linked.details), as: UTF8.self)
            try db.execute(
                sql: """
                    INSERT INTO audit_log (at, actor, actor_token_id, role, action, target, status, request_id, details, previous_hash, hash)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    linked.at.ms, linked.actor, linked.actorTokenId, linked.role?.rawValue, linked.action, linked.target,
                    linked.status, linked.requestId, details, linked.previousHash, linked.hash,
                ])
            return linked.stored(id: db.lastInsertedRowID)
        }
    }

    public func auditEntries(page: PageRequest) async throws -> Page<AuditEntry> {
        let (clause, arguments) = Conditions().sql(after: page.after, idColumn: "id", limit: page.limit)
        let fetched = try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audit_log \(clause)", arguments: arguments).map { row in
                AuditEntry(
                    id: row["id"], at: Date(ms: row["at"]), actor: row["actor"], actorTokenId: row["actor_token_id"],
                    role: (row["role"] as String?).flatMap(Role.init(rawValue:)), action: row["action"], target: row["target"],
                    status: row["status"], requestId: row["request_id"],
                    details: (try? JSONDecoder().decode([String: String].self, from: Data((row["details"] as String).utf8))) ?? [:],
                    previousHash: row["previous_hash"], hash: row["hash"])
            }
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    // MARK: Idempotency keys

    public func beginIdempotentCall(
        scope: String, key: String, fingerprint: String, now: Date, forgetBefore: Date
    ) async throws -> IdempotencyBegin {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM idempotency_keys WHERE created_at < ?", arguments: [forgetBefore.ms])
            guard let row = try Row.fetchOne(
                db, sql: "SELECT * FROM idempotency_keys WHERE scope = ? AND key = ?", arguments: [scope, key])
            else {
                try db.execute(
                    sql: "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES (?, ?, ?, ?)",
                    arguments: [scope, key, fingerprint, now.ms])
                return .proceed
            }
            guard row["fingerprint"] == fingerprint else { return .mismatch }
            guard let status: Int = row["status"] else { return .inProgress }
            let headers = (try? JSONDecoder().decode([String: String].self, from: Data(((row["headers"] as String?) ?? "{}").utf8))) ?? [:]
            return .replay(StoredResponse(status: status, headers: headers, body: row["body"] ?? Data()))
        }
    }

    public func finishIdempotentCall(scope: String, key: String, response: StoredResponse?) async throws {
        let headers = try response.map { String(decoding: try JSONEncoder.sorted.encode($0.headers), as: UTF8.self) }
        try await writer.write { db in
            if let response {
                try db.execute(
                    sql: "UPDATE idempotency_keys SET status = ?, headers = ?, body = ? WHERE scope = ? AND key = ?",
                    arguments: [response.status, headers, response.body, scope, key])
            } else {
                try db.execute(sql: "DELETE FROM idempotency_keys WHERE scope = ? AND key = ?", arguments: [scope, key])
            }
        }
    }
}

extension JSONEncoder {
    /// Keys sorted, so equal values encode to equal text.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }
}

extension SQLConditions where Value == any DatabaseValueConvertible {
    /// One page's clause and arguments, `limit` rows and one more.
    func sql(after: Int64?, idColumn: String, limit: Int) -> (String, StatementArguments) {
        let page = page(after: after, idColumn: idColumn, fetch: limit + 1)
        return (page.sql, StatementArguments(page.values))
    }
}
