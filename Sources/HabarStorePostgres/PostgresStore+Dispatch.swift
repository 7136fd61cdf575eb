import Foundation
import HabarCore
import HabarMessages
import PostgresNIO
import Synchronization

extension PostgresStore {
    // MARK: Claiming

    public func claimDeliveries(
        channel: String, kind: MessageKind, address: AddressKind, limit: Int, owner: String, leaseUntil: Date, now: Date
    ) async throws -> [ClaimedDelivery] {
        try await recordAndClaim(
            [], channel: channel, kind: kind, address: address, limit: limit, owner: owner, leaseUntil: leaseUntil, now: now)
    }

    /// Records the previous batch's outcomes and claims the next batch in one transaction.
    /// Claims skip rows another instance has locked (`FOR UPDATE SKIP LOCKED`): instances
    /// claiming at once get disjoint batches and never wait for each other.
    public func recordAndClaim(
        _ outcomes: [DeliveryOutcome], channel: String, kind: MessageKind, address: AddressKind, limit: Int, owner: String,
        leaseUntil: Date, now: Date
    ) async throws -> [ClaimedDelivery] {
        // An idle channel's poll only reads; a channel whose last claim was full has more.
        let key = owner + "\u{0}" + channel
        if outcomes.isEmpty, !claimedFull.withLock({ $0.contains(key) }), try await !anyDue(channel: channel, now: now) { return [] }
        let installation = try await installationId()
        let claimed = try await write { pg in
            let moved = try await Self.recordSent(outcomes, owner: owner, now: now, pg: pg)
            try await Self.record(outcomes, after: moved, owner: owner, now: now, pg: pg)
            return try await Self.claim(
                channel: channel, kind: kind, address: address, limit: limit, owner: owner, leaseUntil: leaseUntil, now: now,
                installation: installation, pg: pg)
        }
        claimedFull.withLock { full in
            if claimed.count >= limit { full.insert(key) } else { full.remove(key) }
        }
        return claimed
    }

    /// Whether a delivery of `channel` is due now (what a claim would look at), from the queue.
    func anyDue(channel: String, now: Date) async throws -> Bool {
        try await read { pg in
            try await pg.value(
                """
                SELECT EXISTS (SELECT 1 FROM delivery_queue WHERE channel = ? AND due_at <= ?
                    AND advisory_id NOT IN (SELECT id FROM advisories WHERE interrupted_at IS NOT NULL))
                """, channel, now.ms, as: Bool.self) ?? false
        }
    }

    /// A due delivery as the claim reads it (the columns of the claim's SELECT, in order).
    static func due(_ row: PostgresRandomAccessRow) throws -> DueDelivery {
        func at<T: PostgresDecodable>(_ index: Int, _ type: T.Type = T.self) throws -> T { try row[index].decode(T.self) }
        return DueDelivery(
            id: try at(0), advisoryId: try at(1), version: try at(2), step: try at(3), steps: try at(4), channel: try at(5),
            state: try at(6), attempts: try at(7), stepStartedAt: Date(ms: try at(8)), expiresAt: Date(ms: try at(9)),
            phone: try at(10), email: try at(11), language: try at(12), status: try at(13), severity: try at(14),
            subscriberId: try at(15), cancelNoticeVersion: try at(16), kind: try at(17), params: try at(18), citizenId: try at(19),
            agencyGroup: try at(20), purpose: try at(21))
    }

    /// A claim's statement for one priority (binds: channel, priority, now, how many, now).
    ///
    /// The queue's rows are taken first, alone, in the claim index's order: the first ones no
    /// other claim holds. (Joined with the deliveries in one SELECT, the planner could hash-join
    /// the whole table for every claim: 144 ms a claim at 200,000 queued.) Then each one's
    /// delivery, still due, by primary key — a lateral subquery with its own row lock, which the
    /// planner cannot turn into a join: as a join, its plan followed the statistics of
    /// `deliveries`, which know nothing of an advisory just fanned out (autovacuum took them
    /// before), and with the queue's statistics right the planner read all of the advisory's
    /// deliveries through its index and compared each with every queue row: 30 s for one claim
    /// of 500 at 200,000 queued. Both steps skip locked rows and never wait, so a cancellation
    /// or a receipt (deliveries first, then the queue through the trigger) cannot deadlock
    /// with a claim.
    static let claimStatement = """
        WITH due AS MATERIALIZED (
            SELECT delivery_id FROM delivery_queue
            WHERE channel = ? AND priority = ? AND due_at <= ?
                AND advisory_id NOT IN (SELECT id FROM advisories WHERE interrupted_at IS NOT NULL)
            ORDER BY due_at, delivery_id
            LIMIT ?
            FOR UPDATE SKIP LOCKED)
        SELECT d.id, d.advisory_id, d.advisory_version, d.step, d.steps, d.channel, d.state, d.attempts,
            d.step_started_at, d.expires_at, d.phone, d.email, d.language, a.status, a.severity, d.subscriber_id,
            a.cancel_notice_version, a.kind, a.params, d.citizen_id, d.agency_group, d.purpose
        FROM due CROSS JOIN LATERAL (
            SELECT id, advisory_id, advisory_version, step, steps, channel, state, attempts, step_started_at, expires_at, phone, email,
                language, subscriber_id, citizen_id, agency_group, purpose, next_attempt_at
            FROM deliveries
            WHERE id = due.delivery_id AND state IN \(DeliveryState.pending.sql) AND next_attempt_at <= ?
            FOR UPDATE SKIP LOCKED) d
        JOIN advisories a ON a.id = d.advisory_id
        WHERE a.interrupted_at IS NULL
        ORDER BY d.next_attempt_at, d.id
        """

    private static func claim(
        channel: String, kind: MessageKind, address: AddressKind, limit: Int, owner: String, leaseUntil: Date, now: Date,
        installation: String, pg: PG
    ) async throws -> [ClaimedDelivery] {
        var claimed: [ClaimedDelivery] = []
        var states: [String] = []  // the state each claimed delivery leaves, as the claim read it (locked)
        var closing: [(row: Moving, state: DeliveryState, detail: String)] = []
        var texts = RenderingCache(kind: kind)
        var plans = StepPlans()
        for priority in stride(from: Severity.extreme.priority, through: Severity.unknown.priority, by: -1) {
            let wanted = limit - claimed.count
            if wanted <= 0 { break }
            let rows = try await pg.rows(Self.claimStatement, channel, priority, now.ms, wanted, now.ms)
            for row in rows {
                let due = try Self.due(row)
                let moving = Moving(id: due.id, step: due.step, channel: due.channel, state: due.state, attempts: due.attempts)
                if let close = due.closedBeforeSend(now: now) {
                    closing.append((moving, close.state, close.detail))
                    continue
                }
                let recipient = try await address == .webhook
                    ? due.subscriberId.asyncFlatMap { try await Self.subscriberAddress(pg, id: $0, now: now) } : due.storedAddress(address)
                let text = recipient == nil ? nil : try await texts.rendering(pg, due.advisoryId, due.version, due.purpose, due.language)
                if let close = DueDelivery.closedForLack(of: address, kind: kind, recipient: recipient, text: text) {
                    closing.append((moving, close.state, close.detail))
                    continue
                }
                guard let recipient, let text else { continue }
                let group = try await due.agencyGroup.asyncFlatMap { try await Self.groupAdvisoryScope(pg, delivery: due.id, group: $0) }
                let message = due.message(to: recipient, text: text, address: address, installation: installation, group: group)
                claimed.append(ClaimedDelivery(message: message, steps: plans.steps(due.steps), attempts: due.attempts, stepStartedAt: due.stepStartedAt))
                states.append(due.state)
            }
        }
        for item in closing { try await Self.transition(pg, item.row, to: item.state, at: now, detail: item.detail) }
        try await Self.lease(claimed.map(\.deliveryId), leaving: states, owner: owner, leaseUntil: leaseUntil, now: now, pg: pg)
        return claimed
    }

    /// The frozen texts of the advisories in one claim, read once each.
    struct RenderingCache {
        let kind: MessageKind
        var texts: [String: RenderedMessage?] = [:]

        mutating func rendering(_ pg: PG, _ advisoryId: Int64, _ version: Int, _ purpose: DeliveryPurpose, _ language: String) async throws
            -> RenderedMessage?
        {
            let key = "\(advisoryId)/\(version)/\(purpose.rawValue)/\(language)"
            if let cached = texts[key] { return cached }
            let row = try await pg.row(
                """
                SELECT rendered_language, subject, text, html FROM renderings
                WHERE advisory_id = ? AND version = ? AND purpose = ? AND language = ? AND kind = ?
                """, advisoryId, version, purpose.rawValue, language, kind.rawValue)
            let rendered = try row.flatMap { row -> RenderedMessage? in
                guard let language = Language(rawValue: try row.get("rendered_language")) else { return nil }
                return RenderedMessage(
                    language: language, kind: kind, subject: try row.get("subject"), text: try row.get("text"), html: try row.get("html"))
            }
            texts[key] = rendered
            return rendered
        }
    }

    /// The group a group advisory is about and the tourists it lists (by tourist id).
    static func groupAdvisoryScope(_ pg: PG, delivery: Int64, group: Int64) async throws -> GroupAdvisoryScope {
        let row = try await pg.row("SELECT group_id, name FROM agency_groups WHERE id = ?", group)
        let tourists = try await pg.rows(
            """
            SELECT t.tourist_id, c.full_name FROM group_advisory_tourists t JOIN citizens c ON c.id = t.citizen_id
            WHERE t.delivery_id = ? ORDER BY t.tourist_id
            """, delivery
        ).map { GroupAdvisoryScope.Tourist(id: try $0.get("tourist_id"), fullName: try $0.get("full_name")) }
        return GroupAdvisoryScope(
            groupId: try row?.get("group_id", as: String.self) ?? "", name: try row?.get("name", as: String.self) ?? "", tourists: tourists)
    }

    /// A subscriber's URL and the secrets its webhooks are signed with: an agency's are its
    /// secrets valid right now (a rotated-out one stops signing when its overlap ends).
    static func subscriberAddress(_ pg: PG, id: Int64, now: Date) async throws -> Address? {
        try await pg.row(
            """
            SELECT s.url, coalesce((SELECT string_agg(secret, ' ' ORDER BY id DESC) FROM agency_secrets
                    WHERE agency_id = s.agency_id AND (expires_at IS NULL OR expires_at > ?)), s.secret) AS secrets
            FROM subscribers s WHERE s.id = ? AND s.active
            """, now.ms, id
        ).map { .webhook(url: try $0.get("url"), secret: try $0.get("secrets")) }
    }

    /// Moves the claimed rows to `sending` under this owner's lease, with their events (from
    /// `states`, the state each left as the claim read it with the row locked; the attempt
    /// about to be made), and records the claim's lease: one statement for the whole batch.
    /// The queue's trigger drops their queue rows (the claim holds them locked); the lease row
    /// is what the heartbeat renews and the take-over reads.
    private static func lease(_ ids: [Int64], leaving states: [String], owner: String, leaseUntil: Date, now: Date, pg: PG) async throws {
        guard !ids.isEmpty else { return }
        try await pg.run(
            """
            WITH moved AS (
                UPDATE deliveries d SET state = \(DeliveryState.sending.sql), lease_owner = ?, lease_expires_at = ?, updated_at = ?
                FROM unnest(?::bigint[], ?::text[]) AS old(id, state)
                WHERE d.id = ANY(?) AND d.id = old.id
                RETURNING d.id, d.step, d.channel, old.state AS from_state, d.attempts),
            events AS (
                INSERT INTO delivery_events (delivery_id, at, step, channel, from_state, to_state, attempt)
                SELECT id, ?, step, channel, from_state, \(DeliveryState.sending.sql), attempts + 1 FROM moved)
            INSERT INTO delivery_leases (owner, expires_at, delivery_ids) VALUES (?, ?, ?)
            """, owner, leaseUntil.ms, now.ms, ids, states, ids, now.ms, owner, leaseUntil.ms, ids)
    }

    // MARK: Recording outcomes

    /// Outcomes as their sends complete (the dispatcher's group commit). The common case, a
    /// batch of `sent`, is one statement committed on its own: one round trip, where a
    /// transaction took four (BEGIN, the move, the question for held reports, COMMIT), and the
    /// senders wait for it. The batch's other outcomes, and the reports held for its sends
    /// that the statement saw, follow in one transaction (`record`).
    public func recordOutcomes(_ outcomes: [DeliveryOutcome], owner: String, now: Date) async throws {
        guard !outcomes.isEmpty else { return }
        let moved = try await autocommit { pg in try await Self.recordSent(outcomes, owner: owner, now: now, pg: pg) }
        let others = outcomes.filter { if case .sent = $0.result { false } else { true } }
        guard moved.contains(where: \.held) || !others.isEmpty else { return }
        try await write { pg in try await Self.record(others, after: moved, owner: owner, now: now, pg: pg) }
    }

    /// Inside a transaction: applies the reports held for the sends `moved` that their
    /// statement saw, then records `outcomes` other than `sent`. A report held while that
    /// statement waited for a row's lock was committed after its snapshot, and one a crash
    /// left between the two transactions is still held: housekeeping applies both within a
    /// second (`settleHeldReports`).
    private static func record(_ outcomes: [DeliveryOutcome], after moved: [Moved], owner: String, now: Date, pg: PG) async throws {
        for send in moved where send.held { try await applyEarlyReceipt(pg, id: send.id, step: send.step, now: now) }
        try await recordOthers(outcomes, owner: owner, now: now, pg: pg)
    }

    /// The batch's `sent` outcomes in one statement: the rows moved, with their events; a
    /// lost lease updates nothing and records nothing (`BatchRows` says how the rows are
    /// matched).
    private static func recordSent(_ outcomes: [DeliveryOutcome], owner: String, now: Date, pg: PG) async throws -> [Moved] {
        let sent = outcomes.compactMap { outcome -> (id: Int64, step: Int, provider: String?)? in
            guard case .sent(let provider) = outcome.result else { return nil }
            return (outcome.deliveryId, outcome.step, provider)
        }
        guard !sent.isEmpty else { return [] }
        return try await moveWithEvents(
            pg, SentMove.self,
            [now.ms, now.ms, sent.map(\.id), sent.map { Int32($0.step) }, sent.map { $0.provider ?? "" }, sent.map { $0.provider != nil },
             DeliveryState.sending.rawValue, sent.count, owner, sent.count, sent.map(\.id)],
            from: "sending", to: .sent, detail: nil, at: now)
    }

    /// A batch of sends recorded: `sending` → `sent` where the lease is still this owner's.
    struct SentMove: HotStatement {
        static let numbered: (sql: String, placeholders: Int) = PG.numbered(movesWithEvents("""
            UPDATE deliveries d SET state = \(DeliveryState.sent.sql), attempts = d.attempts + 1,
                provider_message_id = CASE WHEN j.known THEN j.provider END,
                first_sent_at = coalesce(d.first_sent_at, ?), last_error = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
            FROM unnest(?::bigint[], ?::integer[], ?::text[], ?::boolean[], \(BatchRows.repeated), \(BatchRows.repeated))
                AS j(id, step, provider, known, state, owner)
            WHERE d.id = ANY(?) AND d.id = j.id AND d.step = j.step AND d.state = j.state AND d.lease_owner = j.owner
            """))
        let binds: PostgresBindings
    }

    /// A batch of `delivered` reports applied: `sent` → `delivered` on the reported step and channel.
    struct DeliveredMove: HotStatement {
        static let numbered: (sql: String, placeholders: Int) = PG.numbered(movesWithEvents("""
            UPDATE deliveries d SET state = \(DeliveryState.delivered.sql), updated_at = j.at
            FROM unnest(?::bigint[], ?::integer[], ?::text[], ?::bigint[], \(BatchRows.repeated)) AS j(id, step, channel, at, state)
            WHERE d.id = ANY(?) AND d.id = j.id AND d.step = j.step AND d.channel = j.channel AND d.state = j.state
            """))
        let binds: PostgresBindings
    }

    /// The outcomes other than `sent` (retries, failures, fallbacks, expiry, releases), one by
    /// one in delivery-id order: batches recorded at once lock rows in the same order.
    private static func recordOthers(_ outcomes: [DeliveryOutcome], owner: String, now: Date, pg: PG) async throws {
        for outcome in outcomes.sorted(by: { $0.deliveryId < $1.deliveryId }) {
            if case .sent = outcome.result { continue }
            guard let row = try await pg.row(
                """
                SELECT id, step, steps, channel, state, attempts FROM deliveries
                WHERE id = ? AND state = \(DeliveryState.sending.sql) AND lease_owner = ? AND step = ?
                """, outcome.deliveryId, owner, outcome.step)
            else { continue }
            try await Self.apply(outcome.result, to: try Moving(row), pg: pg, now: now)
        }
    }

    /// The columns of a delivery a move reads (`steps` only where a step can fail).
    struct Moving {
        var id: Int64
        var step: Int
        var channel: String
        var state: String
        var attempts: Int
        var steps: String = ""

        init(id: Int64, step: Int, channel: String, state: String, attempts: Int, steps: String = "") {
            self.id = id
            self.step = step
            self.channel = channel
            self.state = state
            self.attempts = attempts
            self.steps = steps
        }

        init(_ row: PostgresRandomAccessRow) throws {
            id = try row.get("id")
            step = try row.get("step")
            channel = try row.get("channel")
            state = try row.get("state")
            attempts = try row.get("attempts")
            if row.contains("steps") { steps = try row.get("steps") }
        }
    }

    private static func apply(_ result: DeliveryOutcome.Result, to row: Moving, pg: PG, now: Date) async throws {
        let id = row.id
        switch result {
        case .sent(let provider):
            try await pg.run(
                """
                UPDATE deliveries SET state = \(DeliveryState.sent.sql), attempts = attempts + 1, provider_message_id = ?, last_error = NULL,
                    first_sent_at = coalesce(first_sent_at, ?), lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?
                """, provider, now.ms, now.ms, id)
            try await appendEvent(pg, id: id, at: now, step: row.step, channel: row.channel, from: "sending", to: .sent,
                                  attempt: row.attempts + 1, detail: nil, provider: provider)
        case .retry(let at, let reason, let counts):
            try await pg.run(
                """
                UPDATE deliveries SET state = \(DeliveryState.retrying.sql), attempts = attempts + ?, next_attempt_at = ?, last_error = ?,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?
                """, counts ? 1 : 0, at.ms, reason, now.ms, id)
            try await appendEvent(pg, id: id, at: now, step: row.step, channel: row.channel, from: "sending", to: .retrying,
                                  attempt: row.attempts + (counts ? 1 : 0),
                                  detail: "\(reason); next attempt \(ISO8601DateFormatter().string(from: at))", provider: nil)
        case .fallback(let next, let reason):
            try await failStep(pg, row: row, from: "sending", reason: reason, next: next, now: now)
        case .failed(let reason):
            try await failStep(pg, row: row, from: "sending", reason: reason, next: nil, now: now)
        case .addressGone(let next, let reason):
            try await pg.run(
                """
                UPDATE subscribers SET active = false, disabled_at = ?, disabled_reason = ?
                WHERE active AND id = (SELECT subscriber_id FROM deliveries WHERE id = ?)
                """, now.ms, reason, id)
            try await failStep(pg, row: row, from: "sending", reason: reason, next: next, now: now)
        case .expired:
            try await transition(pg, row, to: .expired, at: now, detail: "expired before it could be sent")
        case .released:
            let back: DeliveryState = row.attempts > 0 ? .retrying : .queued
            try await pg.run(
                "UPDATE deliveries SET state = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?",
                back.rawValue, now.ms, id)
            try await appendEvent(pg, id: id, at: now, step: row.step, channel: row.channel, from: "sending", to: back,
                                  attempt: row.attempts, detail: "released unsent at shutdown", provider: nil)
        }
    }

    /// A citizen whose welfare is unknown becomes `unreached` when this (finally failed)
    /// delivery was the last hope: no other delivery to them has been sent or is pending.
    private static func markUnreachedIfNothingArrived(_ pg: PG, delivery: Int64, now: Date) async throws {
        guard let row = try await pg.row(
            """
            SELECT c.id, c.welfare_status, (SELECT count(*) FROM deliveries o WHERE o.citizen_id = c.id
                AND o.purpose = \(DeliveryPurpose.advisory.sql) AND o.state IN \(DeliveryState.live.sql)) AS live
            FROM deliveries d JOIN citizens c ON c.id = d.citizen_id WHERE d.id = ? AND d.purpose = \(DeliveryPurpose.advisory.sql)
            FOR UPDATE OF c
            """, delivery),
            let current = WelfareStatus(rawValue: try row.get("welfare_status"))
        else { return }
        let citizen: Int64 = try row.get("id")
        let next = current.afterFinalFailure(liveDeliveries: try row.get("live"))
        guard next != current else { return }
        let changed = try await pg.run(
            "UPDATE citizens SET welfare_status = ? WHERE id = ? AND welfare_status = ? RETURNING 1", next.rawValue, citizen, current.rawValue)
        guard changed == 1 else { return }
        try await pg.run(
            "INSERT INTO welfare_events (citizen_id, status, source, detail, at) VALUES (?, ?, 'delivery', ?, ?)",
            citizen, next.rawValue, "every delivery failed", now.ms)
    }

    /// The current step failed: queue the next step of the plan, or fail the delivery.
    private static func failStep(_ pg: PG, row: Moving, from: String, reason: String, next: Int?, now: Date) async throws {
        let steps = row.steps.split(separator: ",").map(String.init)
        guard let next, next < steps.count else {
            try await pg.run(
                """
                UPDATE deliveries SET state = \(DeliveryState.failed.sql), last_error = ?, lease_owner = NULL, lease_expires_at = NULL,
                    updated_at = ? WHERE id = ?
                """, reason, now.ms, row.id)
            try await appendEvent(pg, id: row.id, at: now, step: row.step, channel: row.channel, from: from, to: .failed,
                                  attempt: row.attempts, detail: reason, provider: nil)
            try await markUnreachedIfNothingArrived(pg, delivery: row.id, now: now)
            return
        }
        try await appendEvent(pg, id: row.id, at: now, step: row.step, channel: row.channel, from: from, to: .failed,
                              attempt: row.attempts, detail: reason, provider: nil)
        try await pg.run(
            """
            UPDATE deliveries SET state = \(DeliveryState.queued.sql), step = ?, channel = ?, attempts = 0, next_attempt_at = ?, step_started_at = ?,
                provider_message_id = NULL, last_error = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
            WHERE id = ?
            """, next, steps[next], now.ms, now.ms, reason, now.ms, row.id)
        try await appendEvent(pg, id: row.id, at: now, step: next, channel: steps[next], from: nil, to: .queued, attempt: 0,
                              detail: "fallback after \(steps[row.step]) failed", provider: nil)
    }

    /// Moves a row to a final state that involves no send (expired, cancelled, failed).
    static func transition(_ pg: PG, _ row: Moving, to state: DeliveryState, at: Date, detail: String) async throws {
        try await pg.run(
            "UPDATE deliveries SET state = ?, last_error = ?::text, lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?",
            state.rawValue, state == .failed ? detail : nil, at.ms, row.id)
        try await appendEvent(pg, id: row.id, at: at, step: row.step, channel: row.channel, from: row.state, to: state,
                              attempt: row.attempts, detail: detail, provider: nil)
    }

    /// Moves every delivery `condition` selects (locking them) to a final state, with their
    /// events, in one statement; returns how many.
    @discardableResult
    static func transitionAll(_ pg: PG, where condition: String, _ values: [Bind], to state: DeliveryState, at: Date, detail: String) async throws
        -> Int
    {
        try await pg.run(
            """
            WITH old AS (SELECT id, state FROM deliveries WHERE \(condition) ORDER BY id FOR UPDATE),
            moved AS (
                UPDATE deliveries d SET state = ?, last_error = ?::text, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
                FROM old WHERE d.id = old.id
                RETURNING d.id, d.step, d.channel, old.state AS from_state, d.attempts)
            INSERT INTO delivery_events (delivery_id, at, step, channel, from_state, to_state, attempt, detail)
            SELECT id, ?, step, channel, from_state, ?, attempts, ?::text FROM moved
            RETURNING 1
            """,
            values: values + [state.rawValue, state == .failed ? detail : nil, at.ms, at.ms, state.rawValue, detail])
    }

    static func appendEvent(
        _ pg: PG, id: Int64, at: Date, step: Int, channel: String, from: String?, to: DeliveryState, attempt: Int, detail: String?,
        provider: String?
    ) async throws {
        try await pg.run(
            """
            INSERT INTO delivery_events (delivery_id, at, step, channel, from_state, to_state, attempt, detail, provider_message_id)
            VALUES (?, ?, ?, ?, ?::text, ?, ?, ?::text, ?::text)
            """, id, at.ms, step, channel, from, to.rawValue, attempt, detail, provider)
    }

    /// A delivery a batch moved: its step, and whether a report is held for that step (as the
    /// statement's snapshot saw `early_receipts`).
    struct Moved {
        var id: Int64
        var step: Int
        var held: Bool
    }

    /// Moves deliveries by one of the batch moves (`SentMove`, `DeliveredMove`: an UPDATE of
    /// `deliveries d` wrapped by `movesWithEvents`, whose own parameters are `values`) and
    /// writes the same transition's event for each row it moved, read from the row as it now
    /// is, in one statement; returns the moved rows.
    static func moveWithEvents<Statement: HotStatement>(
        _ pg: PG, _ statement: Statement.Type, _ values: [Bind], from: String, to: DeliveryState, detail: String?, at: Date
    ) async throws -> [Moved] {
        let binds = try PG.bindings(values + [at.ms, from, to.rawValue, detail], placeholders: Statement.numbered.placeholders, Statement.sql)
        return try await pg.rows(Statement(binds: binds)).map { Moved(id: try $0.get("id"), step: try $0.get("step"), held: try $0.get("held")) }
    }

    /// `update` (of deliveries `d`, for a batch) with an event for each row it moved, answering
    /// each moved row's id and step and whether a report is held for it: binds the update's
    /// values, then the events' time, from-state, to-state and detail.
    static func movesWithEvents(_ update: String) -> String {
        """
        WITH moved AS (\(update)
            RETURNING d.id, d.step, d.channel, d.attempts, d.provider_message_id),
        events AS (
            INSERT INTO delivery_events (delivery_id, at, step, channel, from_state, to_state, attempt, detail, provider_message_id)
            SELECT id, ?, step, channel, ?::text, ?, attempts, ?::text, provider_message_id FROM moved)
        SELECT id, step, EXISTS (SELECT 1 FROM early_receipts e WHERE e.delivery_id = moved.id AND e.step = moved.step) AS held FROM moved
        """
    }

    // MARK: Receipts

    public func applyReceipts(_ receipts: [DeliveryReceipt], now: Date) async throws {
        guard !receipts.isEmpty else { return }
        // `delivered` for the whole batch in one statement committed on its own (one round
        // trip); anything else (early, failed, intermediate, repeated) one by one, in a
        // transaction after it. A report is applied once: the move needs `sent`.
        var seen = Set<Int64>()
        let delivered = receipts.filter { $0.status == .delivered && seen.insert($0.deliveryId).inserted }
        var applied = Set<Int64>()
        if !delivered.isEmpty {
            applied = Set(try await autocommit { pg in
                try await Self.moveWithEvents(
                    pg, DeliveredMove.self,
                    [delivered.map(\.deliveryId), delivered.map { Int32($0.step) }, delivered.map(\.channel), delivered.map(\.at.ms),
                     DeliveryState.sent.rawValue, delivered.count, delivered.map(\.deliveryId)],
                    from: "sent", to: .delivered, detail: "delivery report", at: now)
            }.map(\.id))
        }
        // In delivery-id order (one delivery's reports as given): batches applied at once lock
        // rows in the same order. The first `delivered` report of each moved row is done;
        // repeats go on and change nothing.
        var skipped = Set<Int64>()
        let rest = receipts.enumerated().sorted { ($0.element.deliveryId, $0.offset) < ($1.element.deliveryId, $1.offset) }.map(\.element)
            .filter { !($0.status == .delivered && applied.contains($0.deliveryId) && skipped.insert($0.deliveryId).inserted) }
        guard !rest.isEmpty else { return }
        try await write { pg in
            for receipt in rest { try await Self.apply(receipt, pg: pg, now: now) }
        }
    }

    private static func apply(_ receipt: DeliveryReceipt, pg: PG, now: Date) async throws {
        guard let found = try await pg.row(
            "SELECT id, step, steps, channel, state, attempts FROM deliveries WHERE id = ? FOR UPDATE", receipt.deliveryId)
        else { return }
        let row = try Moving(found)
        guard row.step == receipt.step, row.channel == receipt.channel, let current = DeliveryState(rawValue: row.state) else { return }
        let steps = row.steps.split(separator: ",").map(String.init)
        switch ReceiptEffect.of(receipt.status, state: current, step: receipt.step, steps: steps) {
        case .delivered:
            try await pg.run(
                "UPDATE deliveries SET state = \(DeliveryState.delivered.sql), updated_at = ? WHERE id = ?", receipt.at.ms, receipt.deliveryId)
            try await appendEvent(pg, id: receipt.deliveryId, at: receipt.at, step: receipt.step, channel: receipt.channel, from: row.state,
                                  to: .delivered, attempt: row.attempts, detail: "delivery report", provider: receipt.providerMessageId)
        case .stepFailed(let reason, let next):
            try await failStep(pg, row: row, from: row.state, reason: reason, next: next, now: receipt.at)
        case .holdUntilSent:
            var reason: String? = nil
            if case .failed(let text) = receipt.status { reason = text }
            try await pg.run(
                """
                INSERT INTO early_receipts (delivery_id, step, status, reason, at, provider_message_id) VALUES (?, ?, ?, ?::text, ?, ?::text)
                ON CONFLICT (delivery_id, step) DO UPDATE SET status = excluded.status, reason = excluded.reason, at = excluded.at,
                    provider_message_id = excluded.provider_message_id
                """, receipt.deliveryId, receipt.step, reason == nil ? "delivered" : "failed", reason, receipt.at.ms, receipt.providerMessageId)
        case .note(let text):
            try await appendEvent(pg, id: receipt.deliveryId, at: receipt.at, step: receipt.step, channel: receipt.channel, from: row.state,
                                  to: current, attempt: row.attempts, detail: text, provider: receipt.providerMessageId)
        case .ignore:
            break
        }
    }

    /// Applies the report held for delivery `id`'s step, if one is still held. The delivery's
    /// row is locked first, as every other path locks it before its held report, so two
    /// appliers of the same report (a send's record and housekeeping) queue instead of
    /// deadlocking; the second finds nothing held.
    private static func applyEarlyReceipt(_ pg: PG, id: Int64, step: Int, now: Date) async throws {
        guard let channel = try await pg.value("SELECT channel FROM deliveries WHERE id = ? FOR UPDATE", id, as: String.self),
            let early = try await pg.row(
                "DELETE FROM early_receipts WHERE delivery_id = ? AND step = ? RETURNING status, reason, at, provider_message_id", id, step)
        else { return }
        let status: DeliveryReceipt.Status =
            try early.get("status", as: String.self) == "delivered" ? .delivered : .failed(reason: try early.get("reason", as: String?.self) ?? "failed")
        try await apply(
            DeliveryReceipt(
                deliveryId: id, step: step, channel: channel, status: status, at: max(now, try early.date("at")),
                providerMessageId: try early.get("provider_message_id")), pg: pg, now: now)
    }

    // MARK: Housekeeping

    // Each finds its rows in the queue and then the deliveries by key, `id = ANY (ARRAY(…))`:
    // the array is read first and the primary key probed for each. As a join or `IN` of the two
    // tables, the plan was the planner's guess from statistics taken while everything was
    // queued: a read of every delivery for each pass (110–120 ms a call at 200,000, run every
    // second by every instance).

    public func postponeDue(channel: String, until: Date, unlessStepStartedBefore: Date, now: Date) async throws -> Int {
        try await write { pg in
            try await pg.run(
                """
                UPDATE deliveries SET next_attempt_at = ?
                WHERE id IN (SELECT id FROM deliveries
                    WHERE id = ANY (ARRAY(SELECT delivery_id FROM delivery_queue WHERE channel = ? AND due_at <= ?))
                        AND channel = ? AND state IN \(DeliveryState.pending.sql) AND next_attempt_at <= ? AND step_started_at >= ?
                    FOR UPDATE SKIP LOCKED)
                RETURNING 1
                """, until.ms, channel, now.ms, channel, now.ms, unlessStepStartedBefore.ms)
        }
    }

    public func renewLeases(owner: String, until: Date, now: Date) async throws -> Int {
        try await write { pg in
            // This owner's lease rows with nothing left to send go; the rest are renewed, with
            // the deliveries they name that are still sending under it. Rows this instance is
            // recording meanwhile are locked by it; they leave `sending`.
            try await Self.dropSpentLeases(pg, where: "l.owner = ?", owner)
            return try await pg.run(
                """
                WITH leases AS (UPDATE delivery_leases SET expires_at = ? WHERE owner = ? RETURNING delivery_ids)
                UPDATE deliveries SET lease_expires_at = ?
                WHERE id = ANY (ARRAY(SELECT unnest(delivery_ids) FROM leases))
                    AND state = \(DeliveryState.sending.sql) AND lease_owner = ?
                RETURNING 1
                """, until.ms, owner, until.ms, owner)
        }
    }

    /// Drops the lease rows (among those `condition` picks, `l` being the lease row) none of
    /// whose deliveries is still being sent under their owner: all recorded, or taken over.
    /// First the rows picked, a plain read — usually none, and then nothing else runs — then
    /// those locked, skipping any another transaction holds (an owner renewing them, another
    /// instance dropping them: this never waits), and dropped if spent, up to 500 a pass.
    /// Each row's deliveries are looked up by key, one by one, in a subquery with a `LIMIT`,
    /// which the planner cannot turn into a join (as `NOT EXISTS` it became an anti-join
    /// reading every delivery being sent). In one statement over the whole table its estimate
    /// passed PostgreSQL's `jit_above_cost`, and compiling it took 17 ms of every pass.
    static func dropSpentLeases(_ pg: PG, where condition: String, _ values: Bind...) async throws {
        let picked = try await pg.rows("SELECT id FROM delivery_leases l WHERE \(condition) ORDER BY id LIMIT 500", values: values)
            .map { try $0.get("id", as: Int64.self) }
        guard !picked.isEmpty else { return }
        try await pg.run(
            """
            DELETE FROM delivery_leases l WHERE id IN (SELECT id FROM delivery_leases WHERE id = ANY(?) FOR UPDATE SKIP LOCKED)
                AND (SELECT 1 FROM unnest(l.delivery_ids) AS u(id) JOIN deliveries d ON d.id = u.id
                    WHERE d.state = \(DeliveryState.sending.sql) AND d.lease_owner = l.owner LIMIT 1) IS NULL
            """, picked)
    }

    public func recoverLeases(expiredBy: Date, owner: String?, now: Date) async throws -> Int {
        try await write { pg in
            // Rows a live instance is recording right now are locked by it: skipped, and its
            // record wins (or its lease runs out again and the next pass takes it). One
            // statement for every row taken, with their events: a dead instance's whole claim
            // comes back in one short transaction, however loaded the machine (row by row, a
            // claim of 120 took seconds beside the test suite, and the take-over with it).
            let taken = try await pg.run(
                """
                WITH taken AS (
                    SELECT id, lease_owner FROM deliveries
                    WHERE id = ANY (ARRAY(SELECT unnest(delivery_ids) FROM delivery_leases WHERE expires_at <= ? OR owner = ?::text))
                        AND state = \(DeliveryState.sending.sql) AND (lease_expires_at <= ? OR lease_owner = ?::text)
                    ORDER BY id FOR UPDATE SKIP LOCKED),
                moved AS (
                    UPDATE deliveries d SET state = \(DeliveryState.retrying.sql), attempts = d.attempts + 1, next_attempt_at = ?,
                        lease_owner = NULL, lease_expires_at = NULL, last_error = 'lease of ' || taken.lease_owner || ' ended mid-send',
                        updated_at = ?
                    FROM taken WHERE d.id = taken.id
                    RETURNING d.id, d.step, d.channel, d.attempts, taken.lease_owner AS previous)
                INSERT INTO delivery_events (delivery_id, at, step, channel, from_state, to_state, attempt, detail)
                SELECT id, ?, step, channel, \(DeliveryState.sending.sql), \(DeliveryState.retrying.sql), attempts,
                    'lease of ' || previous || ' ended mid-send; taken over' FROM moved
                RETURNING 1
                """, expiredBy.ms, owner, expiredBy.ms, owner, now.ms, now.ms, now.ms)
            // The lease rows just read: those with nothing left under their owner go (a live
            // owner drops its own as it renews the rest).
            try await Self.dropSpentLeases(pg, where: "(l.expires_at <= ? OR l.owner = ?::text)", expiredBy.ms, owner)
            return taken
        }
    }

    public func expireOverdue(now: Date) async throws -> Int {
        try await write { pg in
            try await Self.settleHeldReports(pg, now: now)
            let expired = try await Self.transitionAll(
                pg,
                where: """
                    id IN (SELECT id FROM deliveries
                        WHERE id = ANY (ARRAY(SELECT delivery_id FROM delivery_queue WHERE expires_at <= ? AND due_at IS NOT NULL ORDER BY expires_at LIMIT 10000))
                            AND state IN \(DeliveryState.pending.sql) AND expires_at <= ? FOR UPDATE SKIP LOCKED)
                    """,
                [now.ms, now.ms], to: .expired, at: now, detail: "expired before it could be sent")
            try await pg.run("UPDATE advisories SET status = 'expired' WHERE status = 'published' AND expires_at <= ?", now.ms)
            return expired
        }
    }

    /// Applies the reports held for sends that are recorded by now (`recordOutcomes` leaves
    /// one held while its move waited for the row, or one a crash left between the move and
    /// its transaction): at most 1,000 a pass, by key from the small `early_receipts` table,
    /// skipping rows another transaction holds (it is recording or applying them).
    static func settleHeldReports(_ pg: PG, now: Date) async throws {
        let rows = try await pg.rows(
            """
            SELECT d.id, d.step FROM deliveries d
            WHERE d.id = ANY (ARRAY(SELECT delivery_id FROM early_receipts ORDER BY delivery_id LIMIT 1000)) AND d.state = \(DeliveryState.sent.sql)
                AND EXISTS (SELECT 1 FROM early_receipts e WHERE e.delivery_id = d.id AND e.step = d.step)
            ORDER BY d.id FOR UPDATE OF d SKIP LOCKED
            """)
        for row in rows { try await applyEarlyReceipt(pg, id: try row.get("id"), step: try row.get("step"), now: now) }
    }

    // MARK: Reading

    public func delivery(id: Int64) async throws -> Delivery? {
        let installation = try await installationId()
        return try await read { pg in
            try await pg.row("SELECT * FROM deliveries WHERE id = ?", id).map { try Self.delivery($0, installation: installation) }
        }
    }

    /// A delivery's history. A publication's fan-out does not write its deliveries' `queued`
    /// events (a second row and two index entries per recipient): the delivery row records it
    /// — queued when created, on its first step's channel, by its advisory version — and the
    /// history opens with that event, read from the row, as the store would have written it.
    /// Only an advisory delivery to a citizen or subscriber whose stored history has no opening
    /// event (no from-state) has one read: every other delivery, and every one queued before,
    /// has it stored.
    public func deliveryEvents(deliveryId: Int64) async throws -> [DeliveryEvent] {
        try await read { pg in
            let stored = try await pg.rows("SELECT * FROM delivery_events WHERE delivery_id = ? ORDER BY id", deliveryId).map { row in
                DeliveryEvent(
                    deliveryId: try row.get("delivery_id"), at: try row.date("at"), step: try row.get("step"), channel: try row.get("channel"),
                    fromState: try row.get("from_state", as: String?.self).flatMap(DeliveryState.init),
                    toState: DeliveryState(rawValue: try row.get("to_state")) ?? .queued,
                    attempt: try row.get("attempt"), detail: try row.get("detail"), providerMessageId: try row.get("provider_message_id"))
            }
            if stored.contains(where: { $0.fromState == nil }) { return stored }
            let opening = try await pg.row(
                """
                SELECT d.created_at, split_part(d.steps, ',', 1) AS channel, d.advisory_version, v.message_type
                FROM deliveries d JOIN advisory_versions v ON v.advisory_id = d.advisory_id AND v.version = d.advisory_version
                WHERE d.id = ? AND d.purpose = \(DeliveryPurpose.advisory.sql) AND d.agency_group IS NULL
                """, deliveryId
            ).map { row in
                DeliveryEvent(
                    deliveryId: deliveryId, at: try row.date("created_at"), step: 0, channel: try row.get("channel"), fromState: nil,
                    toState: .queued, attempt: 0,
                    detail: AdvisoryMessageType(rawValue: try row.get("message_type"))?.queuedDetail(version: try row.get("advisory_version")))
            }
            return (opening.map { [$0] } ?? []) + stored
        }
    }

    public func deliveryTimes(advisoryId: Int64, bucketSeconds: Int) async throws -> [DeliveryTimeBucket] {
        let bucket = Int64(max(1, bucketSeconds)) * 1000
        return try await read { pg in
            try await pg.rows(
                """
                SELECT (updated_at / ?) * ? AS start, state, count(*) AS n FROM deliveries
                WHERE advisory_id = ? AND state IN \([DeliveryState.sent, .delivered, .failed].sql) GROUP BY 1, 2 ORDER BY 1
                """, bucket, bucket, advisoryId
            ).compactMap { row in
                guard let state = DeliveryState(rawValue: try row.get("state")) else { return nil }
                return DeliveryTimeBucket(start: try row.date("start"), state: state, count: try row.get("n"))
            }
        }
    }

    public func deliveryCounts(advisoryId: Int64?) async throws -> [DeliveryCount] {
        let finalCounts = self.finalCounts
        return try await read { pg in
            func counts(_ rows: [PostgresRandomAccessRow]) throws -> [DeliveryCount] {
                try rows.compactMap { row in
                    guard let state = DeliveryState(rawValue: try row.get("state")), let language = Language(rawValue: try row.get("language"))
                    else { return nil }
                    return DeliveryCount(state: state, channel: try row.get("channel"), language: language, count: try row.get("n"))
                }
            }
            guard let advisoryId else {
                return try counts(try await pg.rows("SELECT state, channel, language, count(*) AS n FROM deliveries GROUP BY 1, 2, 3"))
            }
            // Final counts are kept until the advisory gets another delivery (`FinalDeliveryCounts`):
            // probed only when some are kept; counted afresh, the probe comes with the counts
            // (one read of the advisory's deliveries instead of two).
            if finalCounts.keeps(advisoryId: advisoryId) {
                let probe = try await pg.row("SELECT count(*) AS n, coalesce(max(id), 0) AS last FROM deliveries WHERE advisory_id = ?", advisoryId)
                let key = FinalDeliveryCounts.Probe(rows: try probe?.get("n", as: Int.self) ?? 0, lastId: try probe?.get("last", as: Int64.self) ?? 0)
                if let kept = finalCounts.counts(advisoryId: advisoryId, probe: key) { return kept }
            }
            let rows = try await pg.rows(
                "SELECT state, channel, language, count(*) AS n, max(id) AS last FROM deliveries WHERE advisory_id = ? GROUP BY 1, 2, 3", advisoryId)
            let fresh = try counts(rows)
            let key = FinalDeliveryCounts.Probe(
                rows: try rows.reduce(0) { $0 + (try $1.get("n", as: Int.self)) }, lastId: try rows.map { try $0.get("last", as: Int64.self) }.max() ?? 0)
            finalCounts.offer(advisoryId: advisoryId, probe: key, counts: fresh)
            return fresh
        }
    }
}

/// How a batch moves many deliveries, each with values of its own, in one statement: the
/// values come as parallel arrays (`unnest`), joined to the deliveries they name, which are
/// found by primary key (`d.id = ANY(ids)`: from statistics taken while everything was queued
/// the planner would otherwise guess no row is `sending` and read the whole table).
///
/// Every condition on a delivery's own columns (its state, its lease owner) is a join
/// condition with a column of the batch (`repeated`: one value for every row), not a
/// condition on the deliveries alone. Alone, the same stale statistics made the planner
/// expect one matching delivery and join by nested loop: each delivery compared with every
/// row of the batch, 137 ms for a batch of 1,000 (999,000 comparisons) where the hash join
/// it now chooses takes 23 ms.
enum BatchRows {
    /// A column of one text value for each row of the batch: binds the value, then the count.
    static let repeated = "array_fill(?::text, ARRAY[?::integer])"
}

extension Optional {
    /// `flatMap` with an asynchronous transform.
    func asyncFlatMap<U>(_ transform: (Wrapped) async throws -> U?) async rethrows -> U? {
        guard let self else { return nil }
        return try await transform(self)
    }
}

// MARK: The cluster's rate limits

extension PostgresStore: RateLimitStore {
    /// The bucket's row is locked for the draw: instances drawing at once take turns, and
    /// together never take more than the refill since the last draw allows.
    public func takeTokens(bucket name: String, want: Int, rate: Double, burst: Double, now: Date) async throws -> Int {
        try await write { pg in
            try await pg.run(
                "INSERT INTO rate_buckets (name, tokens, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING", name, burst, now.ms)
            guard let row = try await pg.row("SELECT tokens, updated_at FROM rate_buckets WHERE name = ? FOR UPDATE", name) else { return 0 }
            let tokens: Double = try row.get("tokens")
            let updated: Int64 = try row.get("updated_at")
            // A clock behind the last draw's (another machine's) refills nothing.
            let refilled = min(burst, tokens + Double(max(0, now.ms - updated)) / 1000 * rate)
            let granted = max(0, min(want, Int(refilled.rounded(.down))))
            try await pg.run(
                "UPDATE rate_buckets SET tokens = ?, updated_at = ? WHERE name = ?", refilled - Double(granted), max(updated, now.ms), name)
            return granted
        }
    }
}
