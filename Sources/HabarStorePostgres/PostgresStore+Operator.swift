import Foundation
import HabarCore
import HabarMessages
import PostgresNIO

/// Lists, citizens, tokens, schedules, stats, the audit log and idempotency keys.
extension PostgresStore {
    // MARK: Lists

    typealias Conditions = SQLConditions<any PostgresThrowingDynamicTypeEncodable>

    public func citizens(_ filter: CitizenFilter, page: PageRequest) async throws -> Page<Citizen> {
        let fetched = try await read { pg in
            var conditions = Conditions()
            conditions.equal("country", filter.country)
            conditions.equal("city", filter.city)
            if let agency = filter.visibleToAgency, let group = filter.groupId {
                conditions.add("id IN (SELECT citizen_id FROM agency_tourists WHERE agency_id = ? AND group_id = ?)", agency, group)
            } else {
                conditions.equal("group_id", filter.groupId)
            }
            conditions.equal("agency_id", filter.agencyId)
            conditions.equal("welfare_status", filter.checkinStatus?.rawValue)
            if let tag = filter.tag { conditions.add("strpos(tags, '|' || ?::text || '|') > 0", tag) }
            if let search = filter.search {
                let rule = CitizenSearch(search)
                if let digits = rule.digits {
                    conditions.add("strpos(coalesce(phone, ''), ?::text) > 0", digits)
                } else {
                    for word in rule.words { conditions.add("strpos(search_words, ' ' || ?::text) > 0", word) }
                }
            }
            if let agency = filter.visibleToAgency {
                conditions.add("(agency_id = ? OR id IN (SELECT citizen_id FROM agency_tourists WHERE agency_id = ?))", agency, agency)
            }
            let (clause, values) = conditions.sql(after: page.after, idColumn: "id", limit: page.limit)
            return try await pg.rows("SELECT * FROM citizens \(clause)", values: values).map(Self.citizen)
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    public func deliveries(_ filter: DeliveryFilter, page: PageRequest) async throws -> Page<Delivery> {
        let installation = try await installationId()
        let fetched = try await read { pg in
            var conditions = Conditions()
            conditions.equal("advisory_id", filter.advisoryId)
            conditions.equal("citizen_id", filter.citizenId)
            conditions.equal("state", filter.state?.rawValue)
            conditions.equal("channel", filter.channel)
            conditions.equal("agency_group", filter.groupId)
            let (clause, values) = conditions.sql(after: page.after, idColumn: "id", limit: page.limit)
            return try await pg.rows("SELECT * FROM deliveries \(clause)", values: values).map { try Self.delivery($0, installation: installation) }
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    public func advisories(_ filter: AdvisoryFilter, page: PageRequest) async throws -> Page<Advisory> {
        let fetched = try await read { pg in
            var conditions = Conditions()
            conditions.equal("status", filter.status?.rawValue)
            if let scheduled = filter.scheduled { conditions.add(scheduled ? "approver IS NOT NULL" : "approver IS NULL") }
            conditions.equal("kind", filter.kind?.rawValue)
            if filter.publishedPublicOnly { conditions.add("scope = 'public' AND published_at IS NOT NULL") }
            if let at = filter.inForceAt { conditions.add("expires_at > ?", at.ms) }
            if let exercise = filter.exercise { conditions.add("exercise = ?", exercise) }
            let (clause, values) = conditions.sql(after: page.after, idColumn: "id", limit: page.limit)
            return try await pg.rows("SELECT * FROM advisories \(clause)", values: values).map(Self.advisory)
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    public func tokens(page: PageRequest) async throws -> Page<AccessToken> {
        let fetched = try await read { pg in
            let (clause, values) = Conditions().sql(after: page.after, idColumn: "id", limit: page.limit)
            return try await pg.rows("SELECT * FROM tokens \(clause)", values: values).map(Self.token)
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    // MARK: Citizens

    public func citizenId(phone: String) async throws -> Int64? {
        try await read { pg in try await pg.value("SELECT id FROM citizens WHERE phone = ? ORDER BY id LIMIT 1", phone, as: Int64.self) }
    }

    public func updateCitizen(_ citizen: Citizen) async throws -> Citizen? {
        try await write { pg in
            let changed = try await pg.rows(
                """
                UPDATE citizens SET full_name = ?, language = ?, phone = ?, email = ?, country = ?, city = ?, lat = ?, lon = ?,
                    group_id = ?, agency_id = ?, tags = ?, passport_number = ?, birth_date = ?, search_words = ?, updated_at = ?
                WHERE id = ? RETURNING *
                """,
                values: Self.citizenValues(citizen).dropLast(2) + [CitizenSearch.indexedWords(fullName: citizen.fullName), citizen.updatedAt.ms, citizen.id])
            return try changed.first.map(Self.citizen)
        }
    }

    public func eraseCitizen(id: Int64, at: Date) async throws -> Bool {
        try await write { pg in
            // After the fan-outs in flight: their deliveries to this citizen are cancelled below too.
            try await Self.deletingCitizens(pg)
            guard try await pg.run("SELECT 1 FROM citizens WHERE id = ? FOR UPDATE", id) == 1 else { return false }
            try await Self.transitionAll(
                pg, where: "citizen_id = ? AND state IN \(DeliveryState.pending.sql)", [id], to: .cancelled, at: at, detail: "citizen's data erased")
            // Counts stay (state, channel, language); the address and the link to the person go.
            try await pg.run("UPDATE deliveries SET phone = NULL, email = NULL WHERE citizen_id = ?", id)
            try await pg.run("DELETE FROM citizens WHERE id = ?", id)
            return true
        }
    }

    // MARK: Tokens

    public func revokeToken(id: Int64, at: Date) async throws -> TokenRevocation {
        try await write { pg in
            // The admin tokens are locked first: two admins revoking each other at once on two
            // instances cannot both see the other's still counted.
            try await pg.run("SELECT id FROM tokens WHERE role = 'admin' AND revoked_at IS NULL ORDER BY id FOR UPDATE")
            let revoked = try await pg.run(
                """
                UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL
                  AND NOT (role = 'admin' AND (SELECT count(*) FROM tokens WHERE role = 'admin' AND revoked_at IS NULL) <= 1)
                RETURNING 1
                """, at.ms, id)
            if revoked > 0 { return .revoked }
            let role = try await pg.value("SELECT role FROM tokens WHERE id = ? AND revoked_at IS NULL", id, as: String.self)
            return role == Role.admin.rawValue ? .lastAdmin : .notFound
        }
    }

    // MARK: Advisories

    public func advisoryVersions(id: Int64) async throws -> [AdvisoryVersion] {
        try await read { pg in
            try await pg.rows("SELECT * FROM advisory_versions WHERE advisory_id = ? ORDER BY version", id).map { row in
                AdvisoryVersion(
                    version: try row.get("version"), messageType: AdvisoryMessageType(rawValue: try row.get("message_type")) ?? .alert,
                    sentAt: try row.date("sent_at"), approver: try row.get("approver"))
            }
        }
    }

    public func scheduleAdvisory(id: Int64, approver: String, approverTokenId: Int64?, publishAt: Date) async throws {
        try await write { pg in
            let changed = try await pg.run(
                "UPDATE advisories SET approver = ?, approver_token_id = ?, publish_at = ? WHERE id = ? AND status = 'draft' RETURNING 1",
                approver, approverTokenId, publishAt.ms, id)
            guard changed == 1 else { throw OperationError.conflict("advisory \(id) is not a draft") }
        }
    }

    public func dueScheduledAdvisories(now: Date) async throws -> [Advisory] {
        try await read { pg in
            try await pg.rows(
                "SELECT * FROM advisories WHERE status = 'draft' AND approver IS NOT NULL AND publish_at <= ? ORDER BY publish_at", now.ms
            ).map(Self.advisory)
        }
    }

    public func setInterrupted(id: Int64, at: Date?, by: String?) async throws {
        try await write { pg in
            let changed = try await pg.run(
                "UPDATE advisories SET interrupted_at = ?::bigint, interrupted_by = ?::text WHERE id = ? AND status = \(AdvisoryStatus.published.sql) RETURNING 1",
                at?.ms, by, id)
            guard changed == 1 else { throw OperationError.conflict("advisory \(id) is not published") }
        }
    }

    public func setPendingCorrection(id: Int64, _ pending: PendingCorrection?) async throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let json = try pending.map { String(decoding: try encoder.encode($0.correction), as: UTF8.self) }
        try await write { pg in
            let changed = try await pg.run(
                """
                UPDATE advisories SET pending_correction = ?::text, pending_author = ?::text, pending_author_token_id = ?::bigint
                WHERE id = ? AND status = 'published' RETURNING 1
                """, json, pending?.author, pending?.authorTokenId, id)
            guard changed == 1 else { throw OperationError.conflict("advisory \(id) is not published") }
        }
    }

    public func advisoryStats(id: Int64) async throws -> AdvisoryStats? {
        guard let published = try await read({ pg in try await pg.row("SELECT published_at FROM advisories WHERE id = ?", id) }) else {
            return nil
        }
        let publishedAt = try published.optionalDate("published_at")
        async let grouped = read { pg in
            try await pg.rows(
                """
                SELECT state, channel, language, count(*) AS n, min(first_sent_at) AS first FROM deliveries
                WHERE advisory_id = ? AND purpose = \(DeliveryPurpose.advisory.sql)
                GROUP BY state, channel, language ORDER BY state, channel, language
                """, id
            ).map { row in
                (DeliveryCount(
                    state: DeliveryState(rawValue: try row.get("state")) ?? .queued, channel: try row.get("channel"),
                    language: Language(rawValue: try row.get("language")) ?? .russian, count: try row.get("n")),
                 try row.get("first", as: Int64?.self))
            }
        }
        // Time to 95% sent counts the deliveries that were meant to go: not the cancelled ones.
        async let sendTimes = read { pg in
            try await pg.rows(
                """
                SELECT first_sent_at FROM deliveries
                WHERE advisory_id = ? AND purpose = \(DeliveryPurpose.advisory.sql) AND state <> \(DeliveryState.cancelled.sql)
                """, id
            ).map { try $0.optionalDate("first_sent_at") }
        }
        async let welfare = read { pg in
            try await pg.rows(
                """
                SELECT c.welfare_status, count(*) AS n
                FROM (SELECT DISTINCT citizen_id FROM deliveries WHERE advisory_id = ? AND purpose = \(DeliveryPurpose.advisory.sql)) d
                JOIN citizens c ON c.id = d.citizen_id GROUP BY 1
                """, id
            ).compactMap { row -> (WelfareStatus, Int)? in
                guard let status = WelfareStatus(rawValue: try row.get("welfare_status")) else { return nil }
                return (status, try row.get("n"))
            }
        }
        let counts = try await grouped
        let times = try await sendTimes
        return AdvisoryStats(
            deliveries: counts.reduce(0) { $0 + $1.0.count }, counts: counts.map(\.0),
            checkins: Dictionary(try await welfare, uniquingKeysWith: +), publishedAt: publishedAt,
            firstSentAt: counts.compactMap(\.1).min().map(Date.init(ms:)),
            ninetyFivePercentSentAt: SendProgress.time(toSend: 0.95, of: times))
    }

    // MARK: Audit log

    public func appendAudit(_ entry: NewAuditEntry) async throws -> AuditEntry {
        try await write { pg in
            // The head row is locked until this transaction ends: every appender, on any
            // instance, reads the head after the one before it committed.
            guard let head = try await pg.row("SELECT last_id, last_hash FROM audit_head FOR UPDATE") else {
                throw PostgresStoreError("the audit log has no head row")
            }
            let lastHash: String = try head.get("last_hash")
            let linked = entry.chained(after: lastHash.isEmpty ? AuditEntry.genesisHash : lastHash)
            let details = String(decoding: try JSONEncoder.sorted.encode(linked.details), as: UTF8.self)
            guard let id = try await pg.value(
                """
                INSERT INTO audit_log (at, actor, actor_token_id, role, action, target, status, request_id, details, previous_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                """,
                linked.at.ms, linked.actor, linked.actorTokenId, linked.role?.rawValue, linked.action, linked.target,
                linked.status, linked.requestId, details, linked.previousHash, linked.hash, as: Int64.self)
            else { throw PostgresStoreError("the audit entry was not stored") }
            try await pg.run("UPDATE audit_head SET last_id = ?, last_hash = ?", id, linked.hash)
            return linked.stored(id: id)
        }
    }

    public func auditEntries(page: PageRequest) async throws -> Page<AuditEntry> {
        let fetched = try await read { pg in
            let (clause, values) = Conditions().sql(after: page.after, idColumn: "id", limit: page.limit)
            return try await pg.rows("SELECT * FROM audit_log \(clause)", values: values).map { row in
                AuditEntry(
                    id: try row.get("id"), at: try row.date("at"), actor: try row.get("actor"), actorTokenId: try row.get("actor_token_id"),
                    role: try row.get("role", as: String?.self).flatMap(Role.init(rawValue:)), action: try row.get("action"),
                    target: try row.get("target"), status: try row.get("status"), requestId: try row.get("request_id"),
                    details: (try? JSONDecoder().decode([String: String].self, from: Data(try row.get("details", as: String.self).utf8))) ?? [:],
                    previousHash: try row.get("previous_hash"), hash: try row.get("hash"))
            }
        }
        return Page(fetched: fetched, limit: page.limit, id: \.id)
    }

    // MARK: Idempotency keys

    public func beginIdempotentCall(
        scope: String, key: String, fingerprint: String, now: Date, forgetBefore: Date
    ) async throws -> IdempotencyBegin {
        try await write { pg in
            try await pg.run("DELETE FROM idempotency_keys WHERE created_at < ?", forgetBefore.ms)
            // Of two first uses at once (on any instances), one inserts; the other waits for its
            // commit and then finds the row.
            let inserted = try await pg.run(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1",
                scope, key, fingerprint, now.ms)
            if inserted == 1 { return .proceed }
            guard let row = try await pg.row("SELECT * FROM idempotency_keys WHERE scope = ? AND key = ?", scope, key) else {
                return .inProgress
            }
            guard try row.get("fingerprint", as: String.self) == fingerprint else { return .mismatch }
            guard let status = try row.get("status", as: Int?.self) else { return .inProgress }
            let headers = (try? JSONDecoder().decode([String: String].self, from: Data((try row.get("headers", as: String?.self) ?? "{}").utf8))) ?? [:]
            return .replay(StoredResponse(status: status, headers: headers, body: try row.get("body", as: Data?.self) ?? Data()))
        }
    }

    public func finishIdempotentCall(scope: String, key: String, response: StoredResponse?) async throws {
        let headers = try response.map { String(decoding: try JSONEncoder.sorted.encode($0.headers), as: UTF8.self) }
        try await write { pg in
            if let response {
                try await pg.run(
                    "UPDATE idempotency_keys SET status = ?, headers = ?, body = ? WHERE scope = ? AND key = ?",
                    response.status, headers, response.body, scope, key)
            } else {
                try await pg.run("DELETE FROM idempotency_keys WHERE scope = ? AND key = ?", scope, key)
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

extension SQLConditions where Value == any PostgresThrowingDynamicTypeEncodable {
    /// One page's clause and values, `limit` rows and one more.
    func sql(after: Int64?, idColumn: String, limit: Int) -> (String, [Value?]) {
        page(after: after, idColumn: idColumn, fetch: limit + 1)
    }
}
