import Foundation
import GRDB
import HabarCore
import HabarMessages

/// Check-ins, welfare history, hotline cases, and the follow-up messages (reminders and
/// confirmations) they queue.
extension SQLiteStore {
    public func installationSecret(named name: String) async throws -> Data {
        try await writer.write { db in
            if let value = try Data.fetchOne(db, sql: "SELECT value FROM installation_secrets WHERE name = ?", arguments: [name]) {
                return value
            }
            var generator = SystemRandomNumberGenerator()
            let value = Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
            try db.execute(sql: "INSERT INTO installation_secrets (name, value) VALUES (?, ?)", arguments: [name, value])
            return value
        }
    }

    /// The id of citizen `c.id`'s open check-in request (argument: now).
    static let openCheckinSQL = """
        SELECT a.id FROM advisories a
        WHERE a.status = 'published' AND a.expires_at > ? AND a.params ->> '$.checkinDeadline' IS NOT NULL
            AND EXISTS (SELECT 1 FROM deliveries d WHERE d.advisory_id = a.id AND d.purpose = \(DeliveryPurpose.advisory.sql) AND d.citizen_id = c.id)
        ORDER BY a.published_at DESC, a.id DESC LIMIT 1
        """
    /// The id of the latest advisory, not cancelled, that reached citizen `c.id`.
    static let latestAdvisorySQL = """
        SELECT d.advisory_id FROM deliveries d JOIN advisories a ON a.id = d.advisory_id
        WHERE d.citizen_id = c.id AND d.purpose = \(DeliveryPurpose.advisory.sql) AND a.status != 'cancelled' ORDER BY d.id DESC LIMIT 1
        """

    public func replyContexts(citizenIds: [Int64], now: Date) async throws -> [Int64: ReplyContext] {
        guard !citizenIds.isEmpty else { return [:] }
        return try await writer.read { db in
            var contexts: [Int64: ReplyContext] = [:]
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: """
                    SELECT c.id, c.language, (\(Self.openCheckinSQL)), (\(Self.latestAdvisorySQL))
                    FROM citizens c WHERE c.id IN (SELECT value FROM json_each(?))
                    """),
                arguments: [now.ms, Self.idList(citizenIds)])
            while let row = try rows.next() {
                contexts[row[0]] = ReplyContext(language: Language(rawValue: row[1]) ?? .russian, openCheckinId: row[2], latestAdvisoryId: row[3])
            }
            return contexts
        }
    }

    public func openCheckinRequest(citizenId: Int64, now: Date) async throws -> Advisory? {
        guard let id = try await replyContexts(citizenIds: [citizenId], now: now)[citizenId]?.openCheckinId else { return nil }
        return try await advisory(id: id)
    }

    // MARK: Recording answers

    public func recordCheckins(_ answers: [CheckinAnswer]) async throws {
        guard !answers.isEmpty else { return }
        try await writer.write { db in
            for answer in answers { try Self.record(answer, db: db) }
        }
    }

    static func record(_ answer: CheckinAnswer, db: Database) throws {
        let at = answer.at.ms
        if let inbound = answer.inboundId {
            try db.cachedStatement(sql: "UPDATE inbound_sms SET processed_at = ? WHERE id = ? AND processed_at IS NULL")
                .execute(arguments: [at, inbound])
            guard db.changesCount == 1 else { return }  // processed before (a restart): nothing twice
        }
        guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM citizens WHERE id = ?)"), arguments: [answer.citizenId]) == true
        else { return }  // erased meanwhile
        let status = answer.recordedStatus
        if answer.meaning != .unclear {
            if let advisory = answer.advisoryId {
                try db.cachedStatement(sql: """
                    INSERT INTO checkins (citizen_id, advisory_id, status, source, note, answered_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (citizen_id, advisory_id) DO UPDATE SET status = excluded.status, source = excluded.source,
                        note = excluded.note, answered_at = excluded.answered_at
                    WHERE excluded.answered_at >= checkins.answered_at
                    """).execute(arguments: [answer.citizenId, advisory, status, answer.source.rawValue, answer.text, at])
            }
            try db.cachedStatement(sql: """
                UPDATE citizens SET welfare_status = ?, last_contact_at = ?, last_contact_source = ?, updated_at = max(updated_at, ?)
                WHERE id = ? AND (last_contact_at IS NULL OR last_contact_at <= ?)
                """).execute(arguments: [status, at, answer.source.rawValue, at, answer.citizenId, at])
        } else {
            try db.cachedStatement(sql: """
                UPDATE citizens SET last_contact_at = ?, last_contact_source = ? WHERE id = ? AND (last_contact_at IS NULL OR last_contact_at <= ?)
                """).execute(arguments: [at, answer.source.rawValue, answer.citizenId, at])
        }
        try db.cachedStatement(sql: """
            INSERT INTO welfare_events (citizen_id, advisory_id, status, source, detail, at) VALUES (?, ?, ?, ?, ?, ?)
            """).execute(arguments: [answer.citizenId, answer.advisoryId, status, answer.source.rawValue, answer.text, at])

        // The hotline: help and unclear replies open a case or join the open one; any later
        // reply is added to an open case so the operator sees it.
        let open = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT id, reason FROM cases WHERE citizen_id = ? AND status != 'resolved'"), arguments: [answer.citizenId])
        let reason: CaseReason? = switch answer.meaning {
        case .needsHelp: .needsHelp
        case .unclear: .freeText
        case .safe: nil
        }
        var caseId: Int64? = open?["id"]
        if caseId == nil, let reason {
            try db.cachedStatement(sql: """
                INSERT INTO cases (citizen_id, advisory_id, status, reason, priority, opened_at, updated_at) VALUES (?, ?, 'open', ?, ?, ?, ?)
                """).execute(arguments: [answer.citizenId, answer.advisoryId, reason.rawValue, CaseReason.priority(of: reason, for: answer), at, at])
            caseId = db.lastInsertedRowID
        } else if let id = caseId, let reason, let current = CaseReason(rawValue: open?["reason"] ?? "") {
            let priority = CaseReason.priority(of: reason, for: answer)
            if reason < current {
                try db.cachedStatement(sql: "UPDATE cases SET reason = ?, priority = ? WHERE id = ?").execute(arguments: [reason.rawValue, priority, id])
            } else {
                try db.cachedStatement(sql: "UPDATE cases SET priority = min(priority, ?) WHERE id = ?").execute(arguments: [priority, id])
            }
        }
        if let id = caseId {
            let text = answer.text.flatMap { $0.isEmpty ? nil : $0 } ?? "(\(answer.source.rawValue): \(answer.meaning))"
            let entry = answer.source == .sms ? text : "\(answer.source.rawValue), \(answer.meaning): \(text)"
            try db.cachedStatement(sql: "INSERT INTO case_entries (case_id, kind, author, text, at) VALUES (?, 'reply', NULL, ?, ?)")
                .execute(arguments: [id, entry, at])
            try db.cachedStatement(sql: "UPDATE cases SET updated_at = ? WHERE id = ?").execute(arguments: [at, id])
        }

        if let confirmation = answer.confirmation {
            try queueFollowUp(
                db, advisoryId: confirmation.advisoryId, followUp: confirmation.followUp, citizenId: answer.citizenId, planIndex: Int(answer.inboundId ?? 0),
                channel: confirmation.channel, message: confirmation.message, expiresAt: answer.at.addingTimeInterval(24 * 3600), now: answer.at)
        }
    }

    /// One follow-up delivery (a confirmation or a reminder) with its frozen text: the text is
    /// stored as the rendering of the follow-up's purpose under the advisory's current version,
    /// in the citizen's language.
    static func queueFollowUp(
        _ db: Database, advisoryId: Int64, followUp: FollowUp, citizenId: Int64, planIndex: Int, channel: String,
        message: RenderedMessage, expiresAt: Date, now: Date
    ) throws {
        guard let citizen = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT language, phone, email FROM citizens WHERE id = ?"), arguments: [citizenId])
        else { return }
        let language: String = citizen["language"]
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO renderings (advisory_id, version, purpose, language, kind, rendered_language, subject, text, html)
            VALUES (?, (SELECT version FROM advisories WHERE id = ?), ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                advisoryId, advisoryId, followUp.purpose.rawValue, language, message.kind.rawValue, message.language.rawValue, message.subject, message.text, message.html,
            ])
        try db.cachedStatement(sql: """
            INSERT INTO deliveries (advisory_id, advisory_version, purpose, plan_index, citizen_id, language, phone, email, steps, step,
                channel, state, priority, next_attempt_at, expires_at, created_at, updated_at, step_started_at)
            VALUES (?, (SELECT version FROM advisories WHERE id = ?), ?, ?, ?, ?, ?, ?, ?, 0, ?, \(DeliveryState.queued.sql), ?, ?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """).execute(arguments: [
                advisoryId, advisoryId, followUp.purpose.rawValue, planIndex, citizenId, language, citizen["phone"], citizen["email"], channel, channel,
                Severity.extreme.priority, now.ms, expiresAt.ms, now.ms, now.ms, now.ms,
            ])
        guard db.changesCount == 1 else { return }
        try appendEvent(db, id: db.lastInsertedRowID, at: now, step: 0, channel: channel, from: nil, to: .queued, attempt: 0,
                        detail: "\(followUp)", provider: nil)
    }

    public func unprocessedInboundSMS(limit: Int) async throws -> [InboundSMS] {
        try await writer.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT * FROM inbound_sms WHERE processed_at IS NULL ORDER BY received_at, id LIMIT ?"),
                arguments: [limit]
            ).map(Self.inbound)
        }
    }

    public func markInboundProcessed(ids: [Int64], at: Date) async throws {
        guard !ids.isEmpty else { return }
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE inbound_sms SET processed_at = ? WHERE processed_at IS NULL AND id IN (SELECT value FROM json_each(?))",
                arguments: [at.ms, Self.idList(ids)])
        }
    }

    static func inbound(_ row: Row) -> InboundSMS {
        InboundSMS(
            id: row["id"], channel: row["channel"], sender: row["sender"], receiver: row["receiver"], text: row["text"],
            sentAt: (row["sent_at"] as Int64?).map(Date.init(ms:)), receivedAt: Date(ms: row["received_at"]),
            providerMessageId: row["provider_message_id"], citizenId: row["citizen_id"],
            processedAt: (row["processed_at"] as Int64?).map(Date.init(ms:)))
    }

    // MARK: Reading

    public func checkins(_ filter: CheckinFilter, page: PageRequest) async throws -> Page<Checkin> {
        var conditions = Conditions()
        conditions.equal("advisory_id", filter.advisoryId)
        conditions.equal("citizen_id", filter.citizenId)
        conditions.equal("status", filter.status?.rawValue)
        let (clause, arguments) = conditions.sql(after: page.after, idColumn: "id", limit: page.limit)
        let rows = try await writer.read { db in try Row.fetchAll(db, sql: "SELECT * FROM checkins \(clause)", arguments: arguments) }
        let items = rows.map { row in
            (row["id"] as Int64, Checkin(
                citizenId: row["citizen_id"], advisoryId: row["advisory_id"], status: WelfareStatus(rawValue: row["status"]) ?? .unknown,
                source: CheckinSource(rawValue: row["source"]) ?? .sms, note: row["note"], answeredAt: Date(ms: row["answered_at"])))
        }
        let page = Page(fetched: items, limit: page.limit, id: { $0.0 })
        return Page(items: page.items.map(\.1), nextAfter: page.nextAfter)
    }

    public func welfareHistory(citizenId: Int64, limit: Int) async throws -> [WelfareEvent] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM welfare_events WHERE citizen_id = ? ORDER BY at DESC, id DESC LIMIT ?", arguments: [citizenId, limit]
            ).map { row in
                WelfareEvent(
                    status: row["status"], source: CheckinSource(rawValue: row["source"]) ?? .sms, advisoryId: row["advisory_id"],
                    detail: row["detail"], at: Date(ms: row["at"]))
            }
        }
    }

    public func cases(_ filter: CaseFilter, page: PageRequest) async throws -> Page<HotlineCase> {
        // The queue's order: open before assigned before resolved, help first, oldest first;
        // the cursor is the position in that order.
        var conditions = Conditions()
        conditions.equal("status", filter.status?.rawValue)
        conditions.equal("reason", filter.reason?.rawValue)
        conditions.equal("assignee", filter.assignee)
        conditions.equal("advisory_id", filter.advisoryId)
        conditions.equal("citizen_id", filter.citizenId)
        let offset = page.after ?? 0
        let whereClause = conditions.whereClause
        let arguments = StatementArguments(conditions.values + [page.limit + 1, offset])
        return try await writer.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM cases \(whereClause)
                    ORDER BY CASE status WHEN 'open' THEN 0 WHEN 'assigned' THEN 1 ELSE 2 END, priority, opened_at, id
                    LIMIT ? OFFSET ?
                    """,
                arguments: arguments)
            let items = try rows.prefix(page.limit).map { try Self.hotlineCase($0, db: db) }
            return Page(items: items, nextAfter: rows.count > page.limit ? offset + Int64(page.limit) : nil)
        }
    }

    public func hotlineCase(id: Int64) async throws -> HotlineCase? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM cases WHERE id = ?", arguments: [id]).map { try Self.hotlineCase($0, db: db) }
        }
    }

    static func hotlineCase(_ row: Row, db: Database) throws -> HotlineCase {
        let id: Int64 = row["id"]
        let entries = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM case_entries WHERE case_id = ? ORDER BY id"), arguments: [id]).map {
            CaseEntry(kind: CaseEntry.Kind(rawValue: $0["kind"]) ?? .note, author: $0["author"], text: $0["text"], at: Date(ms: $0["at"]))
        }
        return HotlineCase(
            id: id, citizenId: row["citizen_id"], advisoryId: row["advisory_id"], status: CaseStatus(rawValue: row["status"]) ?? .open,
            reason: CaseReason(rawValue: row["reason"]) ?? .freeText, assignee: row["assignee"], openedAt: Date(ms: row["opened_at"]),
            updatedAt: Date(ms: row["updated_at"]), resolvedAt: (row["resolved_at"] as Int64?).map(Date.init(ms:)), entries: entries)
    }

    public func updateCase(id: Int64, _ update: CaseUpdate, author: String, at: Date) async throws -> HotlineCase? {
        try await writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM cases WHERE id = ?", arguments: [id]) else { return nil }
            var status = CaseStatus(rawValue: row["status"]) ?? .open
            var assignee: String? = row["assignee"]
            func entry(_ kind: CaseEntry.Kind, _ text: String) throws {
                try db.execute(sql: "INSERT INTO case_entries (case_id, kind, author, text, at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [id, kind.rawValue, author, text, at.ms])
            }
            if let new = update.assignee {
                assignee = new.isEmpty ? nil : new
                try entry(.status, assignee.map { "assigned to \($0)" } ?? "unassigned")
                if update.status == nil, status == .open, assignee != nil { status = .assigned }
                if update.status == nil, status == .assigned, assignee == nil { status = .open }
            }
            if let new = update.status, new != status {
                if status == .resolved, let citizen = row["citizen_id"] as Int64?,
                    try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM cases WHERE citizen_id = ? AND status != 'resolved')", arguments: [citizen]) == true
                {
                    throw OperationError.conflict("the citizen has another open case; add to it instead")
                }
                try entry(.status, new.rawValue)
                status = new
            }
            if let note = update.note, !note.isEmpty { try entry(.note, note) }
            try db.execute(
                sql: "UPDATE cases SET status = ?, assignee = ?, updated_at = ?, resolved_at = ? WHERE id = ?",
                arguments: [status.rawValue, assignee, at.ms, status == .resolved ? at.ms : nil, id])
            return try Row.fetchOne(db, sql: "SELECT * FROM cases WHERE id = ?", arguments: [id]).map { try Self.hotlineCase($0, db: db) }
        }
    }

    // MARK: Reminders and escalation

    public func checkinRequestsDue(now: Date, reminderLead: TimeInterval) async throws -> (remind: [Advisory], escalate: [Advisory]) {
        let rows = try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT *, reminded_at, escalated_at FROM advisories
                    WHERE status = 'published' AND params ->> '$.checkinDeadline' IS NOT NULL AND (reminded_at IS NULL OR escalated_at IS NULL)
                    """
            ).map {
                CheckinFollowUps.Request(
                    advisory: try Self.advisory($0), reminded: ($0["reminded_at"] as Int64?) != nil, escalated: ($0["escalated_at"] as Int64?) != nil)
            }
        }
        return CheckinFollowUps.due(rows, now: now, reminderLead: reminderLead)
    }

    public func queueReminders(
        advisoryId: Int64, renderings: [Language: [MessageKind: RenderedMessage]], plan: [String], addresses: [String: AddressKind],
        expiresAt: Date, now: Date
    ) async throws -> Int {
        try await writer.write { db in
            // Recipients of the request without an answer: the channel that carried it, their addresses.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT d.citizen_id, MIN(d.channel) AS channel, c.phone, c.email, c.language FROM deliveries d
                    JOIN citizens c ON c.id = d.citizen_id
                    WHERE d.advisory_id = ? AND d.purpose = \(DeliveryPurpose.advisory.sql) AND d.state IN \(DeliveryState.live.sql)
                        AND NOT EXISTS (SELECT 1 FROM checkins k WHERE k.citizen_id = d.citizen_id AND k.advisory_id = d.advisory_id)
                    GROUP BY d.citizen_id
                    """,
                arguments: [advisoryId])
            var queued = 0
            for row in rows {
                guard let (channel, message) = CheckinFollowUps.reminder(
                    used: row["channel"], phone: row["phone"], email: row["email"], language: row["language"],
                    plan: plan, addresses: addresses, renderings: renderings)
                else { continue }
                try Self.queueFollowUp(
                    db, advisoryId: advisoryId, followUp: .reminder, citizenId: row["citizen_id"], planIndex: 0, channel: channel,
                    message: message, expiresAt: expiresAt, now: now)
                queued += db.changesCount > 0 ? 1 : 0
            }
            try db.execute(sql: "UPDATE advisories SET reminded_at = ? WHERE id = ?", arguments: [now.ms, advisoryId])
            return queued
        }
    }

    public func escalateSilent(advisoryId: Int64, now: Date) async throws -> Int {
        try await writer.write { db in
            let silent = try Int64.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT d.citizen_id FROM deliveries d
                    WHERE d.advisory_id = ? AND d.purpose = \(DeliveryPurpose.advisory.sql) AND d.citizen_id IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM checkins k WHERE k.citizen_id = d.citizen_id AND k.advisory_id = d.advisory_id)
                        AND NOT EXISTS (SELECT 1 FROM cases x WHERE x.citizen_id = d.citizen_id AND x.status != 'resolved')
                    """,
                arguments: [advisoryId])
            for citizen in silent {
                try db.cachedStatement(sql: """
                    INSERT INTO cases (citizen_id, advisory_id, status, reason, priority, opened_at, updated_at) VALUES (?, ?, 'open', 'silent', ?, ?, ?)
                    """).execute(arguments: [citizen, advisoryId, CaseReason.silent.priority, now.ms, now.ms])
                try db.cachedStatement(sql: "INSERT INTO case_entries (case_id, kind, author, text, at) VALUES (?, 'status', NULL, ?, ?)")
                    .execute(arguments: [db.lastInsertedRowID, "no answer by the check-in deadline", now.ms])
            }
            try db.execute(sql: "UPDATE advisories SET escalated_at = ? WHERE id = ?", arguments: [now.ms, advisoryId])
            return silent.count
        }
    }

    public func checkinTally(advisoryId: Int64) async throws -> CheckinTally {
        try await writer.read { db in
            // Each recipient once: their answer, else unreached when no delivery of the
            // advisory reached them and none is pending, else no answer.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT c.country, c.language,
                        CASE WHEN k.status IS NOT NULL THEN k.status
                             WHEN r.reached = 0 AND r.pending = 0 THEN 'unreached'
                             ELSE 'no_answer' END AS outcome,
                        COUNT(*)
                    FROM (SELECT citizen_id,
                                 SUM(state IN \(DeliveryState.handedOver.sql)) AS reached,
                                 SUM(state IN \(DeliveryState.unsent.sql)) AS pending
                          FROM deliveries WHERE advisory_id = ? AND purpose = \(DeliveryPurpose.advisory.sql) AND citizen_id IS NOT NULL
                          GROUP BY citizen_id) r
                    JOIN citizens c ON c.id = r.citizen_id
                    LEFT JOIN checkins k ON k.citizen_id = r.citizen_id AND k.advisory_id = ?
                    GROUP BY 1, 2, 3
                    """,
                arguments: [advisoryId, advisoryId])
            var total = Dictionary(uniqueKeysWithValues: ["safe", "needs_help", "no_answer", "unreached"].map { ($0, 0) })
            var byCountry: [String: [String: Int]] = [:], byLanguage: [String: [String: Int]] = [:]
            for row in rows {
                let outcome: String = row[2], count: Int = row[3]
                total[outcome, default: 0] += count
                byCountry[row[0], default: [:]][outcome, default: 0] += count
                byLanguage[row[1], default: [:]][outcome, default: 0] += count
            }
            let buckets = try Row.fetchAll(
                db,
                sql: """
                    SELECT answered_at / 3600000 * 3600000 AS hour, SUM(status = 'safe'), SUM(status = 'needs_help')
                    FROM checkins WHERE advisory_id = ? GROUP BY 1 ORDER BY 1
                    """,
                arguments: [advisoryId]
            ).map { CheckinTally.Bucket(hour: Date(ms: $0[0]), safe: $0[1], needsHelp: $0[2]) }
            return CheckinTally(total: total, byCountry: byCountry, byLanguage: byLanguage, overTime: buckets)
        }
    }
}
