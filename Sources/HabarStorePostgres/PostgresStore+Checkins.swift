import Foundation
import HabarCore
import HabarMessages
import PostgresNIO

/// Check-ins, welfare history, hotline cases, and the follow-up messages (reminders and
/// confirmations) they queue. What two instances could do at once for one citizen or one
/// advisory takes that row's lock first (`FOR UPDATE`): answers for one citizen apply one
/// after the other, and reminders and escalation of one advisory happen once, whichever
/// instance's scheduler comes first (the second finds it marked and does nothing).
extension PostgresStore {
    /// The id of citizen `c.id`'s open check-in request (value: now).
    static let openCheckinSQL = """
        SELECT a.id FROM advisories a
        WHERE a.status = 'published' AND a.expires_at > ? AND (a.params::jsonb ->> 'checkinDeadline') IS NOT NULL
            AND EXISTS (SELECT 1 FROM deliveries d WHERE d.advisory_id = a.id AND d.purpose = \(DeliveryPurpose.advisory.sql) AND d.citizen_id = c.id)
        ORDER BY a.published_at DESC, a.id DESC LIMIT 1
        """
    /// The id of the latest advisory, not cancelled, that reached citizen `c.id`.
    static let latestAdvisorySQL = """
        SELECT d.advisory_id FROM deliveries d JOIN advisories a ON a.id = d.advisory_id
        WHERE d.citizen_id = c.id AND d.purpose = \(DeliveryPurpose.advisory.sql) AND a.status <> 'cancelled' ORDER BY d.id DESC LIMIT 1
        """

    public func replyContexts(citizenIds: [Int64], now: Date) async throws -> [Int64: ReplyContext] {
        guard !citizenIds.isEmpty else { return [:] }
        let rows = try await read { pg in
            try await pg.rows(
                """
                SELECT c.id, c.language, (\(Self.openCheckinSQL)) AS open_checkin, (\(Self.latestAdvisorySQL)) AS latest
                FROM citizens c WHERE c.id = ANY(?)
                """, now.ms, citizenIds
            ).map { row in
                (try row.get("id", as: Int64.self),
                 ReplyContext(
                    language: Language(rawValue: try row.get("language")) ?? .russian, openCheckinId: try row.get("open_checkin"),
                    latestAdvisoryId: try row.get("latest")))
            }
        }
        return Dictionary(rows, uniquingKeysWith: { first, _ in first })
    }

    public func openCheckinRequest(citizenId: Int64, now: Date) async throws -> Advisory? {
        guard let id = try await replyContexts(citizenIds: [citizenId], now: now)[citizenId]?.openCheckinId else { return nil }
        return try await advisory(id: id)
    }

    // MARK: Recording answers

    public func recordCheckins(_ answers: [CheckinAnswer]) async throws {
        guard !answers.isEmpty else { return }
        // Citizens locked in id order (one citizen's answers in the order given): batches
        // written at once by two connections or instances wait for each other, never deadlock.
        let ordered = answers.enumerated().sorted { ($0.element.citizenId, $0.offset) < ($1.element.citizenId, $1.offset) }.map(\.element)
        try await write { pg in
            for answer in ordered { try await Self.record(answer, pg: pg) }
        }
    }

    static func record(_ answer: CheckinAnswer, pg: PG) async throws {
        let at = answer.at.ms
        if let inbound = answer.inboundId {
            let marked = try await pg.run("UPDATE inbound_sms SET processed_at = ? WHERE id = ? AND processed_at IS NULL RETURNING 1", at, inbound)
            guard marked == 1 else { return }  // processed before (a restart, another instance): nothing twice
        }
        guard try await pg.run("SELECT 1 FROM citizens WHERE id = ? FOR UPDATE", answer.citizenId) == 1 else { return }  // erased meanwhile
        let status = answer.recordedStatus
        if answer.meaning != .unclear {
            if let advisory = answer.advisoryId {
                try await pg.run(
                    """
                    INSERT INTO checkins (citizen_id, advisory_id, status, source, note, answered_at) VALUES (?, ?, ?, ?, ?::text, ?)
                    ON CONFLICT (citizen_id, advisory_id) DO UPDATE SET status = excluded.status, source = excluded.source,
                        note = excluded.note, answered_at = excluded.answered_at
                    WHERE excluded.answered_at >= checkins.answered_at
                    """, answer.citizenId, advisory, status, answer.source.rawValue, answer.text, at)
            }
            try await pg.run(
                """
                UPDATE citizens SET welfare_status = ?, last_contact_at = ?, last_contact_source = ?, updated_at = greatest(updated_at, ?)
                WHERE id = ? AND (last_contact_at IS NULL OR last_contact_at <= ?)
                """, status, at, answer.source.rawValue, at, answer.citizenId, at)
        } else {
            try await pg.run(
                """
                UPDATE citizens SET last_contact_at = ?, last_contact_source = ? WHERE id = ? AND (last_contact_at IS NULL OR last_contact_at <= ?)
                """, at, answer.source.rawValue, answer.citizenId, at)
        }
        try await pg.run(
            "INSERT INTO welfare_events (citizen_id, advisory_id, status, source, detail, at) VALUES (?, ?::bigint, ?, ?, ?::text, ?)",
            answer.citizenId, answer.advisoryId, status, answer.source.rawValue, answer.text, at)

        // The hotline: help and unclear replies open a case or join the open one; any later
        // reply is added to an open case so the operator sees it.
        let open = try await pg.row("SELECT id, reason FROM cases WHERE citizen_id = ? AND status <> 'resolved'", answer.citizenId)
        let reason: CaseReason? = switch answer.meaning {
        case .needsHelp: .needsHelp
        case .unclear: .freeText
        case .safe: nil
        }
        var caseId: Int64? = try open?.get("id", as: Int64.self)
        if caseId == nil, let reason {
            caseId = try await pg.value(
                """
                INSERT INTO cases (citizen_id, advisory_id, status, reason, priority, opened_at, updated_at) VALUES (?, ?::bigint, 'open', ?, ?, ?, ?)
                RETURNING id
                """, answer.citizenId, answer.advisoryId, reason.rawValue, CaseReason.priority(of: reason, for: answer), at, at, as: Int64.self)
        } else if let id = caseId, let reason, let current = CaseReason(rawValue: try open?.get("reason", as: String.self) ?? "") {
            let priority = CaseReason.priority(of: reason, for: answer)
            if reason < current {
                try await pg.run("UPDATE cases SET reason = ?, priority = ? WHERE id = ?", reason.rawValue, priority, id)
            } else {
                try await pg.run("UPDATE cases SET priority = least(priority, ?) WHERE id = ?", priority, id)
            }
        }
        if let id = caseId {
            let text = answer.text.flatMap { $0.isEmpty ? nil : $0 } ?? "(\(answer.source.rawValue): \(answer.meaning))"
            let entry = answer.source == .sms ? text : "\(answer.source.rawValue), \(answer.meaning): \(text)"
            try await pg.run("INSERT INTO case_entries (case_id, kind, author, text, at) VALUES (?, 'reply', NULL, ?, ?)", id, entry, at)
            try await pg.run("UPDATE cases SET updated_at = ? WHERE id = ?", at, id)
        }

        if let confirmation = answer.confirmation {
            _ = try await queueFollowUp(
                pg, advisoryId: confirmation.advisoryId, followUp: confirmation.followUp, citizenId: answer.citizenId,
                planIndex: Int(answer.inboundId ?? 0), channel: confirmation.channel, message: confirmation.message,
                expiresAt: answer.at.addingTimeInterval(24 * 3600), now: answer.at)
        }
    }

    /// One follow-up delivery (a confirmation or a reminder) with its frozen text, stored as
    /// the rendering of the follow-up's purpose under the advisory's current version, in the
    /// citizen's language; false when it was queued before.
    static func queueFollowUp(
        _ pg: PG, advisoryId: Int64, followUp: FollowUp, citizenId: Int64, planIndex: Int, channel: String,
        message: RenderedMessage, expiresAt: Date, now: Date
    ) async throws -> Bool {
        // Locked against erasure until the delivery is written (what a foreign key's check did).
        guard let citizen = try await pg.row("SELECT language, phone, email FROM citizens WHERE id = ? FOR KEY SHARE", citizenId) else {
            return false
        }
        let language: String = try citizen.get("language")
        try await pg.run(
            """
            INSERT INTO renderings (advisory_id, version, purpose, language, kind, rendered_language, subject, text, html)
            VALUES (?, (SELECT version FROM advisories WHERE id = ?), ?, ?, ?, ?, ?::text, ?, ?::text) ON CONFLICT DO NOTHING
            """,
            advisoryId, advisoryId, followUp.purpose.rawValue, language, message.kind.rawValue, message.language.rawValue, message.subject,
            message.text, message.html)
        guard let id = try await pg.value(
            """
            INSERT INTO deliveries (advisory_id, advisory_version, purpose, plan_index, citizen_id, language, phone, email, steps, step,
                channel, state, priority, next_attempt_at, expires_at, created_at, updated_at, step_started_at)
            VALUES (?, (SELECT version FROM advisories WHERE id = ?), ?, ?, ?, ?, ?::text, ?::text, ?, 0, ?, \(DeliveryState.queued.sql), ?, ?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING RETURNING id
            """,
            advisoryId, advisoryId, followUp.purpose.rawValue, planIndex, citizenId, language, try citizen.get("phone", as: String?.self),
            try citizen.get("email", as: String?.self), channel, channel, Severity.extreme.priority, now.ms, expiresAt.ms, now.ms, now.ms, now.ms,
            as: Int64.self)
        else { return false }
        try await appendEvent(pg, id: id, at: now, step: 0, channel: channel, from: nil, to: .queued, attempt: 0, detail: "\(followUp)", provider: nil)
        return true
    }

    public func unprocessedInboundSMS(limit: Int) async throws -> [InboundSMS] {
        try await read { pg in
            try await pg.rows("SELECT * FROM inbound_sms WHERE processed_at IS NULL ORDER BY received_at, id LIMIT ?", limit).map(Self.inbound)
        }
    }

    public func markInboundProcessed(ids: [Int64], at: Date) async throws {
        guard !ids.isEmpty else { return }
        try await write { pg in
            try await pg.run("UPDATE inbound_sms SET processed_at = ? WHERE processed_at IS NULL AND id = ANY(?)", at.ms, ids)
        }
    }

    // MARK: Reading

    public func checkins(_ filter: CheckinFilter, page: PageRequest) async throws -> Page<Checkin> {
        let items = try await read { pg in
            var conditions = Conditions()
            conditions.equal("advisory_id", filter.advisoryId)
            conditions.equal("citizen_id", filter.citizenId)
            conditions.equal("status", filter.status?.rawValue)
            let (clause, values) = conditions.sql(after: page.after, idColumn: "id", limit: page.limit)
            return try await pg.rows("SELECT * FROM checkins \(clause)", values: values).map { row in
                IdentifiedCheckin(id: try row.get("id"), checkin: Checkin(
                    citizenId: try row.get("citizen_id"), advisoryId: try row.get("advisory_id"),
                    status: WelfareStatus(rawValue: try row.get("status")) ?? .unknown,
                    source: CheckinSource(rawValue: try row.get("source")) ?? .sms, note: try row.get("note"), answeredAt: try row.date("answered_at")))
            }
        }
        let page = Page(fetched: items, limit: page.limit, id: \.id)
        return Page(items: page.items.map(\.checkin), nextAfter: page.nextAfter)
    }

    struct IdentifiedCheckin: Sendable {
        var id: Int64
        var checkin: Checkin
    }

    public func welfareHistory(citizenId: Int64, limit: Int) async throws -> [WelfareEvent] {
        try await read { pg in
            try await pg.rows("SELECT * FROM welfare_events WHERE citizen_id = ? ORDER BY at DESC, id DESC LIMIT ?", citizenId, limit).map { row in
                WelfareEvent(
                    status: try row.get("status"), source: CheckinSource(rawValue: try row.get("source")) ?? .sms,
                    advisoryId: try row.get("advisory_id"), detail: try row.get("detail"), at: try row.date("at"))
            }
        }
    }

    public func cases(_ filter: CaseFilter, page: PageRequest) async throws -> Page<HotlineCase> {
        // The queue's order: open before assigned before resolved, help first, oldest first;
        // the cursor is the position in that order.
        let offset = page.after ?? 0
        return try await read { pg in
            var conditions = Conditions()
            conditions.equal("status", filter.status?.rawValue)
            conditions.equal("reason", filter.reason?.rawValue)
            conditions.equal("assignee", filter.assignee)
            conditions.equal("advisory_id", filter.advisoryId)
            conditions.equal("citizen_id", filter.citizenId)
            let whereClause = conditions.whereClause
            let rows = try await pg.rows(
                """
                SELECT * FROM cases \(whereClause)
                ORDER BY CASE status WHEN 'open' THEN 0 WHEN 'assigned' THEN 1 ELSE 2 END, priority, opened_at, id
                LIMIT ? OFFSET ?
                """, values: conditions.values + [page.limit + 1, offset])
            var items: [HotlineCase] = []
            for row in rows.prefix(page.limit) { items.append(try await Self.hotlineCase(row, pg: pg)) }
            return Page(items: items, nextAfter: rows.count > page.limit ? offset + Int64(page.limit) : nil)
        }
    }

    public func hotlineCase(id: Int64) async throws -> HotlineCase? {
        try await read { pg in
            guard let row = try await pg.row("SELECT * FROM cases WHERE id = ?", id) else { return nil }
            return try await Self.hotlineCase(row, pg: pg)
        }
    }

    static func hotlineCase(_ row: PostgresRandomAccessRow, pg: PG) async throws -> HotlineCase {
        let id: Int64 = try row.get("id")
        let entries = try await pg.rows("SELECT * FROM case_entries WHERE case_id = ? ORDER BY id", id).map {
            CaseEntry(
                kind: CaseEntry.Kind(rawValue: try $0.get("kind")) ?? .note, author: try $0.get("author"), text: try $0.get("text"),
                at: try $0.date("at"))
        }
        return HotlineCase(
            id: id, citizenId: try row.get("citizen_id"), advisoryId: try row.get("advisory_id"),
            status: CaseStatus(rawValue: try row.get("status")) ?? .open, reason: CaseReason(rawValue: try row.get("reason")) ?? .freeText,
            assignee: try row.get("assignee"), openedAt: try row.date("opened_at"), updatedAt: try row.date("updated_at"),
            resolvedAt: try row.optionalDate("resolved_at"), entries: entries)
    }

    public func updateCase(id: Int64, _ update: CaseUpdate, author: String, at: Date) async throws -> HotlineCase? {
        try await write { pg in
            guard let row = try await pg.row("SELECT * FROM cases WHERE id = ? FOR UPDATE", id) else { return nil }
            var status = CaseStatus(rawValue: try row.get("status")) ?? .open
            var assignee: String? = try row.get("assignee")
            func entry(_ kind: CaseEntry.Kind, _ text: String) async throws {
                try await pg.run("INSERT INTO case_entries (case_id, kind, author, text, at) VALUES (?, ?, ?, ?, ?)", id, kind.rawValue, author, text, at.ms)
            }
            if let new = update.assignee {
                assignee = new.isEmpty ? nil : new
                try await entry(.status, assignee.map { "assigned to \($0)" } ?? "unassigned")
                if update.status == nil, status == .open, assignee != nil { status = .assigned }
                if update.status == nil, status == .assigned, assignee == nil { status = .open }
            }
            if let new = update.status, new != status {
                if status == .resolved, let citizen = try row.get("citizen_id", as: Int64?.self),
                    try await pg.run("SELECT 1 FROM cases WHERE citizen_id = ? AND status <> 'resolved' LIMIT 1", citizen) == 1
                {
                    throw OperationError.conflict("the citizen has another open case; add to it instead")
                }
                try await entry(.status, new.rawValue)
                status = new
            }
            if let note = update.note, !note.isEmpty { try await entry(.note, note) }
            guard let updated = try await pg.row(
                "UPDATE cases SET status = ?, assignee = ?::text, updated_at = ?, resolved_at = ?::bigint WHERE id = ? RETURNING *",
                status.rawValue, assignee, at.ms, status == .resolved ? at.ms : nil, id)
            else { return nil }
            return try await Self.hotlineCase(updated, pg: pg)
        }
    }

    // MARK: Reminders and escalation

    public func checkinRequestsDue(now: Date, reminderLead: TimeInterval) async throws -> (remind: [Advisory], escalate: [Advisory]) {
        let rows = try await read { pg in
            try await pg.rows(
                """
                SELECT * FROM advisories
                WHERE status = 'published' AND (params::jsonb ->> 'checkinDeadline') IS NOT NULL AND (reminded_at IS NULL OR escalated_at IS NULL)
                """
            ).map { row in
                CheckinFollowUps.Request(
                    advisory: try Self.advisory(row), reminded: try row.get("reminded_at", as: Int64?.self) != nil,
                    escalated: try row.get("escalated_at", as: Int64?.self) != nil)
            }
        }
        return CheckinFollowUps.due(rows, now: now, reminderLead: reminderLead)
    }

    public func queueReminders(
        advisoryId: Int64, renderings: [Language: [MessageKind: RenderedMessage]], plan: [String], addresses: [String: AddressKind],
        expiresAt: Date, now: Date
    ) async throws -> Int {
        try await write { pg in
            // Once per advisory across instances: the advisory row is locked and checked first.
            guard try await pg.run("SELECT 1 FROM advisories WHERE id = ? AND reminded_at IS NULL FOR UPDATE", advisoryId) == 1 else { return 0 }
            // Recipients of the request without an answer: the channel that carried it, their addresses.
            let rows = try await pg.rows(
                """
                SELECT d.citizen_id, min(d.channel) AS channel, c.phone, c.email, c.language FROM deliveries d
                JOIN citizens c ON c.id = d.citizen_id
                WHERE d.advisory_id = ? AND d.purpose = \(DeliveryPurpose.advisory.sql) AND d.state IN \(DeliveryState.live.sql)
                    AND NOT EXISTS (SELECT 1 FROM checkins k WHERE k.citizen_id = d.citizen_id AND k.advisory_id = d.advisory_id)
                GROUP BY d.citizen_id, c.phone, c.email, c.language
                """, advisoryId)
            var queued = 0
            for row in rows {
                guard let (channel, message) = CheckinFollowUps.reminder(
                    used: try row.get("channel"), phone: try row.get("phone"), email: try row.get("email"), language: try row.get("language"),
                    plan: plan, addresses: addresses, renderings: renderings)
                else { continue }
                if try await Self.queueFollowUp(
                    pg, advisoryId: advisoryId, followUp: .reminder, citizenId: try row.get("citizen_id"), planIndex: 0, channel: channel,
                    message: message, expiresAt: expiresAt, now: now)
                {
                    queued += 1
                }
            }
            try await pg.run("UPDATE advisories SET reminded_at = ? WHERE id = ?", now.ms, advisoryId)
            return queued
        }
    }

    public func escalateSilent(advisoryId: Int64, now: Date) async throws -> Int {
        try await write { pg in
            guard try await pg.run("SELECT 1 FROM advisories WHERE id = ? AND escalated_at IS NULL FOR UPDATE", advisoryId) == 1 else { return 0 }
            let silent = try await pg.rows(
                """
                SELECT DISTINCT d.citizen_id FROM deliveries d
                WHERE d.advisory_id = ? AND d.purpose = \(DeliveryPurpose.advisory.sql) AND d.citizen_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM checkins k WHERE k.citizen_id = d.citizen_id AND k.advisory_id = d.advisory_id)
                    AND NOT EXISTS (SELECT 1 FROM cases x WHERE x.citizen_id = d.citizen_id AND x.status <> 'resolved')
                ORDER BY d.citizen_id
                """, advisoryId
            ).map { try $0.get("citizen_id", as: Int64.self) }
            var opened = 0
            for citizen in silent {
                // A case opened meanwhile by an answer (the unique index) leaves that one.
                guard let id = try await pg.value(
                    """
                    INSERT INTO cases (citizen_id, advisory_id, status, reason, priority, opened_at, updated_at) VALUES (?, ?, 'open', 'silent', ?, ?, ?)
                    ON CONFLICT (citizen_id) WHERE status <> 'resolved' DO NOTHING RETURNING id
                    """, citizen, advisoryId, CaseReason.silent.priority, now.ms, now.ms, as: Int64.self)
                else { continue }
                try await pg.run(
                    "INSERT INTO case_entries (case_id, kind, author, text, at) VALUES (?, 'status', NULL, ?, ?)",
                    id, "no answer by the check-in deadline", now.ms)
                opened += 1
            }
            try await pg.run("UPDATE advisories SET escalated_at = ? WHERE id = ?", now.ms, advisoryId)
            return opened
        }
    }

    public func checkinTally(advisoryId: Int64) async throws -> CheckinTally {
        try await read { pg in
            // Each recipient once: their answer, else unreached when no delivery of the
            // advisory reached them and none is pending, else no answer.
            let rows = try await pg.rows(
                """
                SELECT c.country, c.language,
                    CASE WHEN k.status IS NOT NULL THEN k.status
                         WHEN r.reached = 0 AND r.pending = 0 THEN 'unreached'
                         ELSE 'no_answer' END AS outcome,
                    count(*) AS n
                FROM (SELECT citizen_id,
                             count(*) FILTER (WHERE state IN \(DeliveryState.handedOver.sql)) AS reached,
                             count(*) FILTER (WHERE state IN \(DeliveryState.unsent.sql)) AS pending
                      FROM deliveries WHERE advisory_id = ? AND purpose = \(DeliveryPurpose.advisory.sql) AND citizen_id IS NOT NULL
                      GROUP BY citizen_id) r
                JOIN citizens c ON c.id = r.citizen_id
                LEFT JOIN checkins k ON k.citizen_id = r.citizen_id AND k.advisory_id = ?
                GROUP BY 1, 2, 3
                """, advisoryId, advisoryId)
            var total = Dictionary(uniqueKeysWithValues: ["safe", "needs_help", "no_answer", "unreached"].map { ($0, 0) })
            var byCountry: [String: [String: Int]] = [:], byLanguage: [String: [String: Int]] = [:]
            for row in rows {
                let outcome: String = try row.get("outcome"), count: Int = try row.get("n")
                total[outcome, default: 0] += count
                byCountry[try row.get("country"), default: [:]][outcome, default: 0] += count
                byLanguage[try row.get("language"), default: [:]][outcome, default: 0] += count
            }
            let buckets = try await pg.rows(
                """
                SELECT answered_at / 3600000 * 3600000 AS hour, count(*) FILTER (WHERE status = 'safe') AS safe,
                    count(*) FILTER (WHERE status = 'needs_help') AS help
                FROM checkins WHERE advisory_id = ? GROUP BY 1 ORDER BY 1
                """, advisoryId
            ).map { CheckinTally.Bucket(hour: try $0.date("hour"), safe: try $0.get("safe"), needsHelp: try $0.get("help")) }
            return CheckinTally(total: total, byCountry: byCountry, byLanguage: byLanguage, overTime: buckets)
        }
    }
}
