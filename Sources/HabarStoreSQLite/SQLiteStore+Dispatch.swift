import Foundation
import GRDB
import HabarCore
import HabarMessages
import Synchronization

extension SQLiteStore {
    // MARK: Claiming

    public func claimDeliveries(
        channel: String, kind: MessageKind, address: AddressKind, limit: Int, owner: String, leaseUntil: Date, now: Date
    ) async throws -> [ClaimedDelivery] {
        try await recordAndClaim(
            [], channel: channel, kind: kind, address: address, limit: limit, owner: owner, leaseUntil: leaseUntil, now: now)
    }

    /// Records the previous batch's outcomes and claims the next batch in one transaction:
    /// the dispatcher's steady state costs one commit per batch.
    public func recordAndClaim(
        _ outcomes: [DeliveryOutcome], channel: String, kind: MessageKind, address: AddressKind, limit: Int, owner: String,
        leaseUntil: Date, now: Date
    ) async throws -> [ClaimedDelivery] {
        // An idle channel's poll only reads: SQLite's one writer stays free for the rest.
        if outcomes.isEmpty, try await !anyDue(channel: channel, now: now) { return [] }
        let installation = try await installationId()
        let recording = Recording(outcomes)
        return try await writer.write { db in
            try Self.record(recording, owner: owner, now: now, db: db)
            return try Self.claim(
                channel: channel, kind: kind, address: address, limit: limit, owner: owner, leaseUntil: leaseUntil, now: now,
                installation: installation, db: db)
        }
    }

    /// Whether a delivery of `channel` is due now (what a claim would look at).
    func anyDue(channel: String, now: Date) async throws -> Bool {
        try await writer.read { db in
            try Bool.fetchOne(
                db.cachedStatement(sql: """
                    SELECT EXISTS (SELECT 1 FROM deliveries WHERE channel = ? AND state IN \(DeliveryState.pending.sql) AND next_attempt_at <= ?
                        AND advisory_id NOT IN (SELECT id FROM advisories WHERE interrupted_at IS NOT NULL))
                    """),
                arguments: [channel, now.ms]) ?? false
        }
    }

    private static func claim(
        channel: String, kind: MessageKind, address: AddressKind, limit: Int, owner: String, leaseUntil: Date, now: Date,
        installation: String, db: Database
    ) throws -> [ClaimedDelivery] {
        var claimed: [ClaimedDelivery] = []
        var closing: [(row: Row, state: DeliveryState, detail: String)] = []
        var texts = RenderingCache(kind: kind)
        var plans = StepPlans()
        for priority in stride(from: Severity.extreme.priority, through: Severity.unknown.priority, by: -1) {
            let wanted = limit - claimed.count
            if wanted <= 0 { break }
            // A cursor, read by column position: this runs for every delivery sent.
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: """
                    SELECT d.id, d.advisory_id, d.advisory_version, d.step, d.steps, d.channel, d.state, d.attempts,
                        d.step_started_at, d.expires_at, d.phone, d.email, d.language, a.status, a.severity, d.subscriber_id,
                        a.cancel_notice_version, a.kind, a.params, d.citizen_id, d.agency_group, d.purpose
                    FROM deliveries d JOIN advisories a ON a.id = d.advisory_id
                    WHERE d.channel = ? AND d.state IN \(DeliveryState.pending.sql) AND d.priority = ? AND d.next_attempt_at <= ?
                        AND a.interrupted_at IS NULL
                    ORDER BY d.next_attempt_at, d.id
                    LIMIT ?
                    """),
                arguments: [channel, priority, now.ms, wanted])
            while let row = try rows.next() {
                let due = DueDelivery(
                    id: row[0], advisoryId: row[1], version: row[2], step: row[3], steps: row[4], channel: row[5], state: row[6],
                    attempts: row[7], stepStartedAt: Date(ms: row[8]), expiresAt: Date(ms: row[9]), phone: row[10], email: row[11],
                    language: row[12], status: row[13], severity: row[14], subscriberId: row[15], cancelNoticeVersion: row[16],
                    kind: row[17], params: row[18], citizenId: row[19], agencyGroup: row[20], purpose: row[21])
                if let close = due.closedBeforeSend(now: now) {
                    closing.append((row.copy(), close.state, close.detail))
                    continue
                }
                let recipient = try address == .webhook
                    ? due.subscriberId.flatMap { try Self.subscriberAddress(db, id: $0, now: now) } : due.storedAddress(address)
                let text = recipient == nil ? nil : try texts.rendering(db, due.advisoryId, due.version, due.purpose, due.language)
                if let close = DueDelivery.closedForLack(of: address, kind: kind, recipient: recipient, text: text) {
                    closing.append((row.copy(), close.state, close.detail))
                    continue
                }
                guard let recipient, let text else { continue }
                let group = try due.agencyGroup.map { try Self.groupAdvisoryScope(db, delivery: due.id, group: $0) }
                let message = due.message(to: recipient, text: text, address: address, installation: installation, group: group)
                claimed.append(ClaimedDelivery(message: message, steps: plans.steps(due.steps), attempts: due.attempts, stepStartedAt: due.stepStartedAt))
            }
        }
        for item in closing { try Self.transition(db, row: item.row, to: item.state, at: now, detail: item.detail) }
        try Self.lease(claimed.map(\.deliveryId), owner: owner, leaseUntil: leaseUntil, now: now, db: db)
        return claimed
    }

    /// The frozen texts of the advisories in one claim, read once each.
    struct RenderingCache {
        let kind: MessageKind
        var texts: [String: RenderedMessage?] = [:]

        mutating func rendering(
            _ db: Database, _ advisoryId: Int64, _ version: Int, _ purpose: DeliveryPurpose, _ language: String
        ) throws -> RenderedMessage? {
            let key = "\(advisoryId)/\(version)/\(purpose.rawValue)/\(language)"
            if let cached = texts[key] { return cached }
            let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT rendered_language, subject, text, html FROM renderings
                    WHERE advisory_id = ? AND version = ? AND purpose = ? AND language = ? AND kind = ?
                    """),
                arguments: [advisoryId, version, purpose.rawValue, language, kind.rawValue])
            let rendered = row.flatMap { row -> RenderedMessage? in
                guard let language = Language(rawValue: row[0]) else { return nil }
                return RenderedMessage(language: language, kind: kind, subject: row[1], text: row[2], html: row[3])
            }
            texts[key] = rendered
            return rendered
        }
    }

    /// The group a group advisory is about and the tourists it lists (by tourist id).
    static func groupAdvisoryScope(_ db: Database, delivery: Int64, group: Int64) throws -> GroupAdvisoryScope {
        let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT group_id, name FROM agency_groups WHERE id = ?"), arguments: [group])
        let tourists = try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT t.tourist_id, c.full_name FROM group_advisory_tourists t JOIN citizens c ON c.id = t.citizen_id
                WHERE t.delivery_id = ? ORDER BY t.tourist_id
                """),
            arguments: [delivery]
        ).map { GroupAdvisoryScope.Tourist(id: $0[0], fullName: $0[1]) }
        return GroupAdvisoryScope(groupId: row?[0] ?? "", name: row?[1] ?? "", tourists: tourists)
    }

    /// A subscriber's URL and the secrets its webhooks are signed with: an agency's are its
    /// secrets valid right now (a rotated-out one stops signing when its overlap ends).
    static func subscriberAddress(_ db: Database, id: Int64, now: Date) throws -> Address? {
        try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT s.url, coalesce((SELECT group_concat(secret, ' ') FROM (
                        SELECT secret FROM agency_secrets WHERE agency_id = s.agency_id AND (expires_at IS NULL OR expires_at > ?) ORDER BY id DESC)),
                    s.secret)
                FROM subscribers s WHERE s.id = ? AND s.active = 1
                """),
            arguments: [now.ms, id]
        ).map { .webhook(url: $0[0], secret: $0[1]) }
    }

    /// Moves the claimed rows to `sending` under this owner's lease, with their events: two
    /// statements for the whole batch.
    private static func lease(_ ids: [Int64], owner: String, leaseUntil: Date, now: Date, db: Database) throws {
        guard !ids.isEmpty else { return }
        let json = "[" + ids.map(String.init).joined(separator: ",") + "]"
        try db.cachedStatement(sql: """
            INSERT INTO delivery_events (delivery_id, at, step, channel, from_state, to_state, attempt)
            SELECT id, ?, step, channel, state, \(DeliveryState.sending.sql), attempts + 1 FROM deliveries WHERE id IN (SELECT value FROM json_each(?))
            """).execute(arguments: [now.ms, json])
        try db.cachedStatement(sql: """
            UPDATE deliveries SET state = \(DeliveryState.sending.sql), lease_owner = ?, lease_expires_at = ?, updated_at = ?
            WHERE id IN (SELECT value FROM json_each(?))
            """).execute(arguments: [owner, leaseUntil.ms, now.ms, json])
    }

    // MARK: Recording outcomes

    public func recordOutcomes(_ outcomes: [DeliveryOutcome], owner: String, now: Date) async throws {
        let recording = Recording(outcomes)
        try await writer.write { db in try Self.record(recording, owner: owner, now: now, db: db) }
    }

    /// Outcomes with the `sent` ones prepared as JSON outside the transaction, so the writer
    /// is held only for SQL.
    struct Recording: Sendable {
        var outcomes: [DeliveryOutcome]
        var sent: [SentRow]
        var sentJSON: String

        init(_ outcomes: [DeliveryOutcome]) {
            self.outcomes = outcomes
            self.sent = outcomes.compactMap { outcome -> SentRow? in
                guard case .sent(let provider) = outcome.result else { return nil }
                return SentRow(i: outcome.deliveryId, s: outcome.step, p: provider)
            }
            self.sentJSON = SQLiteStore.json(sent)
        }
    }

    private static func record(_ recording: Recording, owner: String, now: Date, db: Database) throws {
        guard !recording.outcomes.isEmpty else { return }
        let outcomes = recording.outcomes
        let sent = recording.sent
        let sentJSON = recording.sentJSON
        let hasEarlyReceipts = try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM early_receipts)")) ?? false
        // The common case, `sent`, for the whole batch in two statements; a lost lease
        // updates nothing and records nothing. (`+` keeps the planner on the primary key:
        // the partial index on `sending` rows would make this a scan per row.)
        if !sent.isEmpty {
            let updated = try Int64.fetchAll(
                db.cachedStatement(sql: """
                    UPDATE deliveries SET state = \(DeliveryState.sent.sql), attempts = attempts + 1, provider_message_id = j.value ->> '$.p',
                        first_sent_at = coalesce(first_sent_at, ?), last_error = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
                    FROM json_each(?) AS j
                    WHERE deliveries.id = j.value ->> '$.i' AND deliveries.step = j.value ->> '$.s'
                        AND +deliveries.state = \(DeliveryState.sending.sql) AND +deliveries.lease_owner = ?
                    RETURNING deliveries.id
                    """),
                arguments: [now.ms, now.ms, sentJSON, owner])
            try Self.appendEvents(db, ids: updated, at: now, from: "sending", to: .sent, detail: nil)
            if hasEarlyReceipts {
                let steps = Dictionary(sent.map { ($0.i, $0.s) }, uniquingKeysWith: { first, _ in first })
                for id in updated { try Self.applyEarlyReceipt(db, id: id, step: steps[id] ?? 0, now: now) }
            }
        }
        for outcome in outcomes {
            if case .sent = outcome.result { continue }
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT id, step, steps, channel, state, attempts FROM deliveries
                    WHERE id = ? AND state = \(DeliveryState.sending.sql) AND lease_owner = ? AND step = ?
                    """),
                arguments: [outcome.deliveryId, owner, outcome.step])
            else { continue }
            try Self.apply(outcome.result, to: row, db: db, now: now)
        }
    }

    private static func apply(_ result: DeliveryOutcome.Result, to row: Row, db: Database, now: Date) throws {
        let id: Int64 = row["id"]
        let attempts: Int = row["attempts"]
        switch result {
        case .sent(let provider):
            try db.cachedStatement(sql: """
                UPDATE deliveries SET state = \(DeliveryState.sent.sql), attempts = attempts + 1, provider_message_id = ?, last_error = NULL,
                    first_sent_at = coalesce(first_sent_at, ?), lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?
                """).execute(arguments: [provider, now.ms, now.ms, id])
            try appendEvent(db, id: id, at: now, step: row["step"], channel: row["channel"], from: "sending", to: .sent,
                            attempt: attempts + 1, detail: nil, provider: provider)
        case .retry(let at, let reason, let counts):
            try db.cachedStatement(sql: """
                UPDATE deliveries SET state = \(DeliveryState.retrying.sql), attempts = attempts + ?, next_attempt_at = ?, last_error = ?,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?
                """).execute(arguments: [counts ? 1 : 0, at.ms, reason, now.ms, id])
            try appendEvent(db, id: id, at: now, step: row["step"], channel: row["channel"], from: "sending", to: .retrying,
                            attempt: attempts + (counts ? 1 : 0), detail: "\(reason); next attempt \(ISO8601DateFormatter().string(from: at))", provider: nil)
        case .fallback(let next, let reason):
            try failStep(db, row: row, from: "sending", reason: reason, next: next, now: now)
        case .failed(let reason):
            try failStep(db, row: row, from: "sending", reason: reason, next: nil, now: now)
        case .addressGone(let next, let reason):
            try db.cachedStatement(sql: """
                UPDATE subscribers SET active = 0, disabled_at = ?, disabled_reason = ?
                WHERE active = 1 AND id = (SELECT subscriber_id FROM deliveries WHERE id = ?)
                """).execute(arguments: [now.ms, reason, id])
            try failStep(db, row: row, from: "sending", reason: reason, next: next, now: now)
        case .expired:
            try transition(db, row: row, to: .expired, at: now, detail: "expired before it could be sent")
        case .released:
            try db.cachedStatement(sql: """
                UPDATE deliveries SET state = CASE WHEN attempts > 0 THEN \(DeliveryState.retrying.sql) ELSE \(DeliveryState.queued.sql) END,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?
                """).execute(arguments: [now.ms, id])
            try appendEvent(db, id: id, at: now, step: row["step"], channel: row["channel"], from: "sending",
                            to: attempts > 0 ? .retrying : .queued, attempt: attempts, detail: "released unsent at shutdown", provider: nil)
        }
    }

    /// A citizen whose welfare is unknown becomes `unreached` when this (finally failed)
    /// delivery was the last hope: no other delivery to them has been sent or is pending.
    private static func markUnreachedIfNothingArrived(_ db: Database, delivery: Int64, now: Date) throws {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT c.id, c.welfare_status, (SELECT COUNT(*) FROM deliveries o WHERE o.citizen_id = c.id
                    AND o.purpose = \(DeliveryPurpose.advisory.sql) AND o.state IN \(DeliveryState.live.sql))
                FROM deliveries d JOIN citizens c ON c.id = d.citizen_id WHERE d.id = ? AND d.purpose = \(DeliveryPurpose.advisory.sql)
                """), arguments: [delivery]),
            let current = WelfareStatus(rawValue: row[1])
        else { return }
        let citizen: Int64 = row[0]
        let next = current.afterFinalFailure(liveDeliveries: row[2])
        guard next != current else { return }
        try db.cachedStatement(sql: "UPDATE citizens SET welfare_status = ? WHERE id = ? AND welfare_status = ?")
            .execute(arguments: [next.rawValue, citizen, current.rawValue])
        guard db.changesCount == 1 else { return }
        try db.cachedStatement(sql: "INSERT INTO welfare_events (citizen_id, status, source, detail, at) VALUES (?, ?, 'delivery', ?, ?)")
            .execute(arguments: [citizen, next.rawValue, "every delivery failed", now.ms])
    }

    /// The current step failed: queue the next step of the plan, or fail the delivery.
    private static func failStep(_ db: Database, row: Row, from: String, reason: String, next: Int?, now: Date) throws {
        let id: Int64 = row["id"]
        let step: Int = row["step"]
        let steps = (row["steps"] as String).split(separator: ",").map(String.init)
        guard let next, next < steps.count else {
            try db.cachedStatement(sql: """
                UPDATE deliveries SET state = \(DeliveryState.failed.sql), last_error = ?, lease_owner = NULL, lease_expires_at = NULL,
                    updated_at = ? WHERE id = ?
                """).execute(arguments: [reason, now.ms, id])
            try appendEvent(db, id: id, at: now, step: step, channel: row["channel"], from: from, to: .failed,
                            attempt: row["attempts"], detail: reason, provider: nil)
            try markUnreachedIfNothingArrived(db, delivery: id, now: now)
            return
        }
        try appendEvent(db, id: id, at: now, step: step, channel: row["channel"], from: from, to: .failed,
                        attempt: row["attempts"], detail: reason, provider: nil)
        try db.cachedStatement(sql: """
            UPDATE deliveries SET state = \(DeliveryState.queued.sql), step = ?, channel = ?, attempts = 0, next_attempt_at = ?, step_started_at = ?,
                provider_message_id = NULL, last_error = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
            WHERE id = ?
            """).execute(arguments: [next, steps[next], now.ms, now.ms, reason, now.ms, id])
        try appendEvent(db, id: id, at: now, step: next, channel: steps[next], from: nil, to: .queued, attempt: 0,
                        detail: "fallback after \(steps[step]) failed", provider: nil)
    }

    /// Moves a row to a final state that involves no send (expired, cancelled, failed).
    static func transition(_ db: Database, row: Row, to state: DeliveryState, at: Date, detail: String) throws {
        try db.cachedStatement(sql: """
            UPDATE deliveries SET state = ?, last_error = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?
            """).execute(arguments: [state.rawValue, state == .failed ? detail : nil, at.ms, row["id"]])
        try appendEvent(db, id: row["id"], at: at, step: row["step"], channel: row["channel"], from: row["state"], to: state,
                        attempt: row["attempts"], detail: detail, provider: nil)
    }

    static func appendEvent(
        _ db: Database, id: Int64, at: Date, step: Int, channel: String, from: String?, to: DeliveryState,
        attempt: Int, detail: String?, provider: String?
    ) throws {
        try db.cachedStatement(sql: """
            INSERT INTO delivery_events (delivery_id, at, step, channel, from_state, to_state, attempt, detail, provider_message_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [id, at.ms, step, channel, from, to.rawValue, attempt, detail, provider])
    }

    // MARK: Receipts

    public func applyReceipts(_ receipts: [DeliveryReceipt], now: Date) async throws {
        // `delivered` for the whole batch in two statements; anything else (early, failed,
        // intermediate, repeated) one by one. Prepared outside the transaction.
        var seen = Set<Int64>()
        let delivered = receipts.compactMap { receipt -> ReceiptRow? in
            guard receipt.status == .delivered, seen.insert(receipt.deliveryId).inserted else { return nil }
            return ReceiptRow(i: receipt.deliveryId, s: receipt.step, c: receipt.channel, t: receipt.at.ms, p: receipt.providerMessageId)
        }
        let json = Self.json(delivered)
        try await writer.write { db in
            var applied = Set<Int64>()
            if !delivered.isEmpty {
                let updated = try Int64.fetchAll(
                    db.cachedStatement(sql: """
                        UPDATE deliveries SET state = \(DeliveryState.delivered.sql), updated_at = j.value ->> '$.t'
                        FROM json_each(?) AS j
                        WHERE deliveries.id = j.value ->> '$.i' AND deliveries.step = j.value ->> '$.s'
                            AND +deliveries.channel = j.value ->> '$.c' AND +deliveries.state = \(DeliveryState.sent.sql)
                        RETURNING deliveries.id
                        """),
                    arguments: [json])
                try Self.appendEvents(db, ids: updated, at: now, from: "sent", to: .delivered, detail: "delivery report")
                applied = Set(updated)
            }
            var skipped = Set<Int64>()
            for receipt in receipts {
                // The first `delivered` report of each updated row is done; repeats fall through and change nothing.
                if receipt.status == .delivered, applied.contains(receipt.deliveryId), skipped.insert(receipt.deliveryId).inserted {
                    continue
                }
                try Self.apply(receipt, db: db, now: now)
            }
        }
    }

    /// One `sent` outcome as JSON for a set-based update.
    struct SentRow: Encodable, Sendable {
        var i: Int64
        var s: Int
        var p: String?
    }

    /// One delivery report as JSON for a set-based update.
    struct ReceiptRow: Encodable {
        var i: Int64
        var s: Int
        var c: String
        var t: Int64
        var p: String?
    }

    static func json(_ rows: [SentRow]) -> String {
        "[" + rows.map { "{\"i\":\($0.i),\"s\":\($0.s),\"p\":\(JSONText.quote($0.p))}" }.joined(separator: ",") + "]"
    }

    static func json(_ rows: [ReceiptRow]) -> String {
        "[" + rows.map { "{\"i\":\($0.i),\"s\":\($0.s),\"c\":\(JSONText.quote($0.c)),\"t\":\($0.t),\"p\":\(JSONText.quote($0.p))}" }
            .joined(separator: ",") + "]"
    }

    static func idList(_ ids: [Int64]) -> String {
        "[" + ids.map(String.init).joined(separator: ",") + "]"
    }

    /// The same transition's event for many rows, read from the rows as they now are.
    static func appendEvents(_ db: Database, ids: [Int64], at: Date, from: String, to: DeliveryState, detail: String?) throws {
        guard !ids.isEmpty else { return }
        try db.cachedStatement(sql: """
            INSERT INTO delivery_events (delivery_id, at, step, channel, from_state, to_state, attempt, detail, provider_message_id)
            SELECT id, ?, step, channel, ?, ?, attempts, ?, provider_message_id FROM deliveries WHERE id IN (SELECT value FROM json_each(?))
            """).execute(arguments: [at.ms, from, to.rawValue, detail, idList(ids)])
    }

    private static func apply(_ receipt: DeliveryReceipt, db: Database, now: Date) throws {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT id, step, steps, channel, state, attempts FROM deliveries WHERE id = ?"),
            arguments: [receipt.deliveryId]),
            row["step"] == receipt.step, row["channel"] == receipt.channel
        else { return }
        let state: String = row["state"]
        guard let current = DeliveryState(rawValue: state) else { return }
        let steps = (row["steps"] as String).split(separator: ",").map(String.init)
        switch ReceiptEffect.of(receipt.status, state: current, step: receipt.step, steps: steps) {
        case .delivered:
            try db.cachedStatement(sql: "UPDATE deliveries SET state = \(DeliveryState.delivered.sql), updated_at = ? WHERE id = ?")
                .execute(arguments: [receipt.at.ms, receipt.deliveryId])
            try appendEvent(db, id: receipt.deliveryId, at: receipt.at, step: receipt.step, channel: receipt.channel, from: state,
                            to: .delivered, attempt: row["attempts"], detail: "delivery report", provider: receipt.providerMessageId)
        case .stepFailed(let reason, let next):
            try failStep(db, row: row, from: state, reason: reason, next: next, now: receipt.at)
        case .holdUntilSent:
            var reason: String? = nil
            if case .failed(let text) = receipt.status { reason = text }
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO early_receipts (delivery_id, step, status, reason, at, provider_message_id)
                VALUES (?, ?, ?, ?, ?, ?)
                """).execute(arguments: [receipt.deliveryId, receipt.step, reason == nil ? "delivered" : "failed", reason, receipt.at.ms, receipt.providerMessageId])
        case .note(let text):
            try appendEvent(db, id: receipt.deliveryId, at: receipt.at, step: receipt.step, channel: receipt.channel, from: state,
                            to: current, attempt: row["attempts"], detail: text, provider: receipt.providerMessageId)
        case .ignore:
            break
        }
    }

    private static func applyEarlyReceipt(_ db: Database, id: Int64, step: Int, now: Date) throws {
        guard let early = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM early_receipts WHERE delivery_id = ? AND step = ?"), arguments: [id, step])
        else { return }
        try db.cachedStatement(sql: "DELETE FROM early_receipts WHERE delivery_id = ? AND step = ?").execute(arguments: [id, step])
        guard let channel = try String.fetchOne(db.cachedStatement(sql: "SELECT channel FROM deliveries WHERE id = ?"), arguments: [id])
        else { return }
        let status: DeliveryReceipt.Status = early["status"] == "delivered" ? .delivered : .failed(reason: early["reason"] ?? "failed")
        try apply(DeliveryReceipt(deliveryId: id, step: step, channel: channel, status: status, at: max(now, Date(ms: early["at"])),
                                  providerMessageId: early["provider_message_id"]), db: db, now: now)
    }

    // MARK: Housekeeping

    public func postponeDue(channel: String, until: Date, unlessStepStartedBefore: Date, now: Date) async throws -> Int {
        try await writer.write { db in
            try db.cachedStatement(sql: """
                UPDATE deliveries SET next_attempt_at = ?
                WHERE channel = ? AND state IN \(DeliveryState.pending.sql) AND next_attempt_at <= ? AND step_started_at >= ?
                """).execute(arguments: [until.ms, channel, now.ms, unlessStepStartedBefore.ms])
            return db.changesCount
        }
    }

    public func renewLeases(owner: String, until: Date, now: Date) async throws -> Int {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE deliveries SET lease_expires_at = ? WHERE state = \(DeliveryState.sending.sql) AND lease_owner = ?",
                arguments: [until.ms, owner])
            return db.changesCount
        }
    }

    public func recoverLeases(expiredBy: Date, owner: String?, now: Date) async throws -> Int {
        try await writer.write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, step, channel, state, attempts, lease_owner FROM deliveries
                    WHERE state = \(DeliveryState.sending.sql) AND (lease_expires_at <= ? OR lease_owner = ?)
                    """,
                arguments: [expiredBy.ms, owner])
            for row in rows {
                try db.cachedStatement(sql: """
                    UPDATE deliveries SET state = \(DeliveryState.retrying.sql), attempts = attempts + 1, next_attempt_at = ?, lease_owner = NULL,
                        lease_expires_at = NULL, last_error = ?, updated_at = ? WHERE id = ?
                    """).execute(arguments: [now.ms, "lease of \(row["lease_owner"] ?? "?") ended mid-send", now.ms, row["id"]])
                try Self.appendEvent(db, id: row["id"], at: now, step: row["step"], channel: row["channel"], from: "sending", to: .retrying,
                                attempt: row["attempts"] + 1, detail: "lease of \(row["lease_owner"] ?? "?") ended mid-send; taken over",
                                provider: nil)
            }
            return rows.count
        }
    }

    public func expireOverdue(now: Date) async throws -> Int {
        try await writer.write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, step, channel, state, attempts FROM deliveries
                    WHERE state IN \(DeliveryState.pending.sql) AND expires_at <= ? LIMIT 10000
                    """,
                arguments: [now.ms])
            for row in rows { try Self.transition(db, row: row, to: .expired, at: now, detail: "expired before it could be sent") }
            try db.cachedStatement(sql: "UPDATE advisories SET status = 'expired' WHERE status = 'published' AND expires_at <= ?")
                .execute(arguments: [now.ms])
            return rows.count
        }
    }

    // MARK: Reading

    public func delivery(id: Int64) async throws -> Delivery? {
        let installation = try await installationId()
        return try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM deliveries WHERE id = ?", arguments: [id]).map {
                Self.delivery($0, installation: installation)
            }
        }
    }

    public func deliveryEvents(deliveryId: Int64) async throws -> [DeliveryEvent] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM delivery_events WHERE delivery_id = ? ORDER BY id", arguments: [deliveryId]).map { row in
                DeliveryEvent(
                    deliveryId: row["delivery_id"], at: Date(ms: row["at"]), step: row["step"], channel: row["channel"],
                    fromState: (row["from_state"] as String?).flatMap(DeliveryState.init), toState: DeliveryState(rawValue: row["to_state"]) ?? .queued,
                    attempt: row["attempt"], detail: row["detail"], providerMessageId: row["provider_message_id"])
            }
        }
    }

    public func deliveryTimes(advisoryId: Int64, bucketSeconds: Int) async throws -> [DeliveryTimeBucket] {
        let bucket = Int64(max(1, bucketSeconds)) * 1000
        let states = [DeliveryState.sent, .delivered, .failed]
        return try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT (updated_at / ?) * ? AS start, state, COUNT(*) AS n FROM deliveries
                    WHERE advisory_id = ? AND (state = ? OR state = ? OR state = ?) GROUP BY 1, 2 ORDER BY 1
                    """,
                arguments: [bucket, bucket, advisoryId] + StatementArguments(states.map(\.rawValue))
            ).compactMap { row in
                guard let state = DeliveryState(rawValue: row["state"]) else { return nil }
                return DeliveryTimeBucket(start: Date(timeIntervalSince1970: Double(row["start"] as Int64) / 1000), state: state, count: row["n"])
            }
        }
    }

    public func deliveryCounts(advisoryId: Int64?) async throws -> [DeliveryCount] {
        try await writer.read { db in
            func counts(_ rows: [Row]) -> [DeliveryCount] {
                rows.compactMap { row in
                    guard let state = DeliveryState(rawValue: row["state"]), let language = Language(rawValue: row["language"]) else { return nil }
                    return DeliveryCount(state: state, channel: row["channel"], language: language, count: row["n"])
                }
            }
            guard let advisoryId else {
                return counts(try Row.fetchAll(db, sql: "SELECT state, channel, language, COUNT(*) AS n FROM deliveries GROUP BY 1, 2, 3"))
            }
            // Final counts are kept until the advisory gets another delivery (`FinalDeliveryCounts`):
            // probed only when some are kept; counted afresh, the probe comes with the counts.
            if finalCounts.keeps(advisoryId: advisoryId) {
                let probe = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT COUNT(*) AS n, MAX(id) AS last FROM deliveries WHERE advisory_id = ?"), arguments: [advisoryId])
                let key = FinalDeliveryCounts.Probe(rows: probe?["n"] ?? 0, lastId: probe?["last"] ?? 0)
                if let kept = finalCounts.counts(advisoryId: advisoryId, probe: key) { return kept }
            }
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT state, channel, language, COUNT(*) AS n, MAX(id) AS last FROM deliveries WHERE advisory_id = ? GROUP BY 1, 2, 3"),
                arguments: [advisoryId])
            let fresh = counts(rows)
            let key = FinalDeliveryCounts.Probe(rows: rows.reduce(0) { $0 + ($1["n"] as Int) }, lastId: rows.map { $0["last"] as Int64 }.max() ?? 0)
            finalCounts.offer(advisoryId: advisoryId, probe: key, counts: fresh)
            return fresh
        }
    }
}

