import Foundation
import HabarCore
import HabarMessages
import PostgresNIO

// MARK: Publishing: recipients → deliveries, set-based

extension PostgresStore {
    public func publish(_ publication: Publication) async throws -> PublicationResult {
        try await write { pg in
            try await Self.keepCitizens(pg)
            return try await Self.publish(publication, pg)
        }
    }

    /// How many deliveries a fan-out queues before it analyses the queue (a few hundred rows
    /// sort in no time, whatever the plan).
    static let queueAnalyzedAfter = 1_000

    /// The advisory row is locked first (`FOR UPDATE`): two instances publishing the same
    /// approval run one after the other, and the second finds the version's deliveries there
    /// (`ON CONFLICT DO NOTHING` on the fan-out key queues none of them again).
    static func publish(_ publication: Publication, _ pg: PG) async throws -> PublicationResult {
        guard let row = try await pg.row("SELECT * FROM advisories WHERE id = ? FOR UPDATE", publication.advisoryId) else {
            throw OperationError.notFound("advisory \(publication.advisoryId)")
        }
        let stored = try advisory(row)
        let now = publication.now.ms
        let next = publication.advisory
        switch try PublicationStep.decide(publication, stored: stored.status, version: stored.version) {
        case .markPublished:
            try await pg.run(
                """
                UPDATE advisories SET status = 'published', approver = ?, approver_token_id = ?::bigint, version = ?,
                    published_at = coalesce(published_at, ?), places = ?
                WHERE id = ?
                """, publication.approver, publication.approverTokenId, publication.version, now, try json(next.places), publication.advisoryId)
        case .applyCorrection:
            let encoded = try encodeContent(next)
            try await pg.run(
                """
                UPDATE advisories SET severity = ?, params = ?, template = ?, expires_at = ?, version = ?, places = ?,
                    pending_correction = NULL, pending_author = NULL, pending_author_token_id = NULL
                WHERE id = ?
                """, next.severity.rawValue, encoded.params, next.template, next.expiresAt.ms, publication.version, encoded.places,
                publication.advisoryId)
        case .nothing: break
        case .recordCancelNotice:
            try await pg.run(
                "UPDATE advisories SET version = ?, cancel_notice_version = ? WHERE id = ?",
                publication.version, publication.version, publication.advisoryId)
        }
        try await pg.run(
            """
            INSERT INTO advisory_versions (advisory_id, version, message_type, sent_at, approver) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """, publication.advisoryId, publication.version, publication.messageType.rawValue, now, publication.approver)
        let result = try await queue(publication, plan: next.channelPlan, severity: next.severity, pg: pg)
        if result.queued >= queueAnalyzedAfter {
            // The queue's statistics, as the planner's: autovacuum takes them when it passes,
            // and at rest the queue is empty. A claim planned from an empty queue's statistics
            // read and sorted every due row for each batch instead of the first ones in the
            // claim index's order: 150 ms a claim with 200,000 queued (3 ms with statistics),
            // until autovacuum's next visit, up to a minute into the broadcast. Analysed here,
            // in the fan-out's transaction (its own rows count), the first claim has them.
            try await pg.run("ANALYZE delivery_queue")
        }
        if publication.messageType == .update {
            // What earlier versions had not sent yet is superseded: nobody gets stale orders.
            try await transitionAll(
                pg, where: "advisory_id = ? AND advisory_version < ? AND state IN \(DeliveryState.pending.sql)",
                [publication.advisoryId, publication.version], to: .cancelled, at: publication.now,
                detail: "superseded by version \(publication.version)")
        }
        return result
    }

    /// The group advisories `d` of one advisory version queued by this transaction (with
    /// `d.agency_group IS NOT NULL`): those without a history yet (their `queued` event, which
    /// they write, comes last; a citizen's or subscriber's delivery has none stored).
    static let createdNow = """
        d.advisory_id = ? AND d.advisory_version = ? AND d.purpose = \(DeliveryPurpose.advisory.sql)
            AND NOT EXISTS (SELECT 1 FROM delivery_events e WHERE e.delivery_id = d.id)
        """

    /// Freezes the publication's texts and queues one delivery per recipient and plan lane.
    private static func queue(_ publication: Publication, plan: ChannelPlan, severity: Severity, pg: PG) async throws -> PublicationResult {
        let now = publication.now.ms
        for (language, byKind) in publication.renderings {
            for (kind, rendered) in byKind {
                try await pg.run(
                    """
                    INSERT INTO renderings (advisory_id, version, language, kind, rendered_language, subject, text, html)
                    VALUES (?, ?, ?, ?, ?, ?::text, ?, ?::text) ON CONFLICT DO NOTHING
                    """,
                    publication.advisoryId, publication.version, language.rawValue, kind.rawValue, rendered.language.rawValue,
                    rendered.subject, rendered.text, rendered.html)
            }
        }
        let recipients = RecipientsSQL(publication.recipients)
        let citizenChannels = plan.channels.filter { publication.channels[$0]?.address != .webhook }
        func reach(_ channel: String) -> String {
            switch publication.channels[channel]?.address {
            case .phone: "c.phone IS NOT NULL"
            case .email: "c.email IS NOT NULL"
            case .webhook, nil: "false"
            }
        }
        let lanes: [(index: Int, channels: [String])] =
            plan.mode == .fallback ? [(0, citizenChannels)] : citizenChannels.enumerated().map { ($0.offset, [$0.element]) }
        // Each statement writes its deliveries and answers how many: nothing travels back and
        // forth per recipient. Their `queued` events are not written: a delivery's row is its
        // own record of being queued (when, on which channel, by which version), and its
        // history opens with that event read from the row (`deliveryEvents`). A fifth of a
        // million-row fan-out was that second row and its two index entries per recipient.
        // The advisory's row lock, taken above, orders every publication of it, so nothing
        // else is queueing this version now: when none of its deliveries is there yet (every
        // first approval) the statements insert without asking, backed by the unique key
        // `deliveries_once` (a row it would refuse fails the publication, loudly). Only a
        // second approval or a re-run, which finds some, skips those already queued
        // (ON CONFLICT: a speculative insertion per row, about a fifth slower). Not with an
        // anti-join against `deliveries`: its plan follows the table's statistics, and after
        // autovacuum saw it empty or small the planner chose a nested loop scanning the whole
        // table per citizen, growing as the statement itself filled it (a million recipients on a
        // scratch server: not done after ten minutes, where this takes about 15 s).
        let versionQueued = try await pg.value(
            "SELECT EXISTS (SELECT 1 FROM deliveries WHERE advisory_id = ? AND advisory_version = ? AND purpose = \(DeliveryPurpose.advisory.sql))",
            publication.advisoryId, publication.version, as: Bool.self) ?? true
        let skipQueued = versionQueued ? "ON CONFLICT DO NOTHING" : ""
        func inserted(_ insert: String, _ values: [Bind]) async throws -> Int {
            try await pg.value("WITH created AS (\(insert) RETURNING 1) SELECT count(*) FROM created", values: values, as: Int.self) ?? 0
        }
        var queued = 0
        for lane in lanes where !lane.channels.isEmpty {
            let steps = lane.channels.map { "CASE WHEN \(reach($0)) THEN ?::text || ',' ELSE '' END" }.joined(separator: " || ")
            let values: [Bind] =
                [publication.advisoryId, publication.version, lane.index, severity.priority, now, publication.expiresAt.ms, now, now, now]
                + lane.channels.map { $0 } + recipients.values
            queued += try await inserted(
                """
                INSERT INTO deliveries (advisory_id, advisory_version, plan_index, citizen_id, language, phone, email,
                    steps, step, channel, state, priority, next_attempt_at, expires_at, created_at, updated_at, step_started_at)
                SELECT ?, ?, ?, id, language, phone, email, steps, 0, split_part(steps, ',', 1),
                    \(DeliveryState.queued.sql), ?, ?, ?, ?, ?, ?
                FROM (SELECT c.id, c.language, c.phone, c.email, rtrim(\(steps), ',') AS steps
                      FROM citizens c WHERE \(recipients.condition)) r
                WHERE steps <> '' \(skipQueued)
                """, values)
        }
        // Webhook channels of the plan reach subscribers, not citizens.
        let subscribers = SubscribersSQL(publication.recipients)
        for (index, channel) in plan.channels.enumerated() where publication.channels[channel]?.address == .webhook {
            queued += try await inserted(
                """
                INSERT INTO deliveries (advisory_id, advisory_version, plan_index, subscriber_id, language, steps, step, channel,
                    state, priority, next_attempt_at, expires_at, created_at, updated_at, step_started_at)
                SELECT ?, ?, ?, s.id, s.language, ?, 0, ?, \(DeliveryState.queued.sql), ?, ?, ?, ?, ?, ?
                FROM subscribers s WHERE s.active AND \(subscribers.condition)
                ON CONFLICT DO NOTHING
                """,
                [publication.advisoryId, publication.version, index, channel, channel, severity.priority, now,
                 publication.expiresAt.ms, now, now, now] + subscribers.values)
        }
        if let channel = publication.agencyChannel {
            queued += try await queueGroupAdvisories(publication, channel: channel, severity: severity, pg: pg)
            // The group advisories (few): those of this version without a history yet.
            try await pg.run(
                """
                INSERT INTO delivery_events (delivery_id, at, step, channel, from_state, to_state, attempt, detail)
                SELECT d.id, ?, 0, d.channel, NULL, \(DeliveryState.queued.sql), 0, ?::text FROM deliveries d
                WHERE \(createdNow) AND d.agency_group IS NOT NULL
                """, now, publication.messageType.queuedDetail(version: publication.version), publication.advisoryId, publication.version)
        }
        let anyReach = citizenChannels.isEmpty ? "false" : citizenChannels.map(reach).joined(separator: " OR ")
        let unreachable = try await pg.value(
            "SELECT count(*) FROM citizens c WHERE (\(recipients.condition)) AND NOT (\(anyReach))", values: recipients.values, as: Int.self) ?? 0
        return PublicationResult(queued: queued, unreachable: unreachable)
    }

    /// The tourists on each group's manifest whom the audience selects (`tourist_id`,
    /// `citizen_id`, `agency_id`, `group_ref`: the group's Habar id).
    static func groupMembers(_ members: AudienceSQL) -> String {
        """
        SELECT t.tourist_id, t.citizen_id, t.agency_id, g.id AS group_ref FROM agency_groups g
        JOIN agency_tourists t ON t.agency_id = g.agency_id AND t.group_id = g.group_id
        JOIN citizens c ON c.id = t.citizen_id
        WHERE \(members.condition)
        """
    }

    /// One `group.advisory` per agency group with recipients, to the agency's webhook, listing
    /// those tourists (frozen now); returns how many.
    private static func queueGroupAdvisories(_ publication: Publication, channel: String, severity: Severity, pg: PG) async throws -> Int {
        let now = publication.now.ms
        let values: [Bind] = [
            publication.advisoryId, publication.version, channel, channel, severity.priority, now, publication.expiresAt.ms, now, now, now,
        ]
        let insert = """
            INSERT INTO deliveries (advisory_id, advisory_version, plan_index, subscriber_id, agency_group, language, steps, step, channel,
                state, priority, next_attempt_at, expires_at, created_at, updated_at, step_started_at)
            """
        switch publication.recipients {
        case .audience(let audience):
            let members = AudienceSQL(audience)
            let selected = groupMembers(members)
            let queued = try await pg.run(
                """
                \(insert)
                SELECT ?, ?, g.id, s.id, g.id, s.language, ?, 0, ?, \(DeliveryState.queued.sql), ?, ?, ?, ?, ?, ?
                FROM agency_groups g JOIN agencies a ON a.id = g.agency_id JOIN subscribers s ON s.id = a.subscriber_id AND s.active
                WHERE g.id IN (SELECT group_ref FROM (\(selected)) m)
                ON CONFLICT DO NOTHING
                RETURNING 1
                """, values: values + members.values)
            try await pg.run(
                """
                INSERT INTO group_advisory_tourists (delivery_id, tourist_id, citizen_id)
                SELECT d.id, m.tourist_id, m.citizen_id FROM deliveries d JOIN (\(selected)) m ON m.group_ref = d.agency_group
                WHERE \(createdNow) AND d.agency_group IS NOT NULL
                ON CONFLICT DO NOTHING
                """, values: members.values + [publication.advisoryId, publication.version])
            return queued
        case .reachedBy(let advisoryId, let beforeVersion):
            let earlier = """
                SELECT id, subscriber_id, agency_group FROM deliveries
                WHERE advisory_id = ? AND purpose = \(DeliveryPurpose.advisory.sql) AND advisory_version < ? AND agency_group IS NOT NULL
                    AND state IN \(DeliveryState.live.sql)
                """
            let queued = try await pg.run(
                """
                \(insert)
                SELECT DISTINCT ?::bigint, ?::integer, e.agency_group, s.id, e.agency_group, s.language, ?::text, 0, ?::text,
                    \(DeliveryState.queued.sql), ?::integer, ?::bigint, ?::bigint, ?::bigint, ?::bigint, ?::bigint
                FROM (\(earlier)) e JOIN subscribers s ON s.id = e.subscriber_id AND s.active
                ON CONFLICT DO NOTHING
                RETURNING 1
                """, values: values + [advisoryId, beforeVersion])
            try await pg.run(
                """
                INSERT INTO group_advisory_tourists (delivery_id, tourist_id, citizen_id)
                SELECT d.id, t.tourist_id, t.citizen_id FROM deliveries d
                JOIN (\(earlier)) e ON e.agency_group = d.agency_group AND e.subscriber_id = d.subscriber_id
                JOIN group_advisory_tourists t ON t.delivery_id = e.id
                WHERE \(createdNow) AND d.agency_group IS NOT NULL
                ON CONFLICT DO NOTHING
                """, values: [advisoryId, beforeVersion, publication.advisoryId, publication.version])
            return queued
        }
    }

    public func cancelAdvisory(id: Int64, at: Date, by: String, notice: Publication?) async throws -> (cancelled: Int, notice: PublicationResult?) {
        let outcome = try await write { pg -> CancelOutcome in
            try await Self.keepCitizens(pg)
            guard let row = try await pg.row("SELECT * FROM advisories WHERE id = ? FOR UPDATE", id) else {
                throw OperationError.notFound("advisory \(id)")
            }
            let stored = try Self.advisory(row)
            guard stored.status == .draft || stored.status == .published else {
                throw OperationError.conflict("advisory \(id) is \(stored.status.rawValue)")
            }
            try await pg.run(
                """
                UPDATE advisories SET status = 'cancelled', cancelled_at = ?, pending_correction = NULL, interrupted_at = NULL,
                    approver = coalesce(approver, ?) WHERE id = ?
                """, at.ms, by, id)
            let cancelled = try await Self.transitionAll(
                pg, where: "advisory_id = ? AND state IN \(DeliveryState.pending.sql)", [id], to: .cancelled, at: at, detail: "advisory cancelled")
            var queued: PublicationResult? = nil
            if stored.status == .published {
                if let notice {
                    queued = try await Self.publish(notice, pg)
                } else {
                    try await pg.run("UPDATE advisories SET version = version + 1 WHERE id = ?", id)
                    try await pg.run(
                        """
                        INSERT INTO advisory_versions (advisory_id, version, message_type, sent_at, approver)
                        SELECT id, version, 'cancel', ?, ? FROM advisories WHERE id = ?
                        """, at.ms, stored.approver ?? stored.author, id)
                }
            }
            return CancelOutcome(cancelled: cancelled, notice: queued)
        }
        return (outcome.cancelled, outcome.notice)
    }

    struct CancelOutcome: Sendable {
        var cancelled: Int
        var notice: PublicationResult?
    }

    public func audienceCells(_ recipients: Recipients) async throws -> [AudienceCell] {
        try await read { pg in
            let sql = RecipientsSQL(recipients)
            return try await pg.rows(
                """
                SELECT c.language, c.phone IS NOT NULL AS has_phone, c.email IS NOT NULL AS has_email, count(*) AS n FROM citizens c
                WHERE \(sql.condition) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                """, values: sql.values
            ).map { row in
                AudienceCell(
                    language: Language(rawValue: try row.get("language")) ?? .russian, hasPhone: try row.get("has_phone"),
                    hasEmail: try row.get("has_email"), count: try row.get("n"))
            }
        }
    }

    public func groupAdvisoryCells(_ audience: Audience) async throws -> [GroupAdvisoryCell] {
        try await read { pg in
            let members = AudienceSQL(audience)
            return try await pg.rows(
                """
                SELECT a.id, s.language, count(DISTINCT m.group_ref) AS groups, count(*) AS tourists FROM (\(Self.groupMembers(members))) m
                JOIN agencies a ON a.id = m.agency_id JOIN subscribers s ON s.id = a.subscriber_id AND s.active
                GROUP BY a.id, s.language ORDER BY a.id
                """, values: members.values
            ).map { row in
                GroupAdvisoryCell(
                    agencyId: try row.get("id"), language: Language(rawValue: try row.get("language")) ?? .russian,
                    groups: try row.get("groups"), tourists: try row.get("tourists"))
            }
        }
    }
}

/// Recipients as a SQL condition on `citizens c`, with its values.
struct RecipientsSQL {
    var condition: String
    var values: [Bind]

    init(_ recipients: Recipients) {
        switch recipients {
        case .audience(let audience):
            let sql = AudienceSQL(audience)
            condition = sql.condition
            values = sql.values
        case .reachedBy(let advisoryId, let beforeVersion):
            // Reached (sending, sent, delivered) or still queued for it; not failed, expired or cancelled.
            condition = """
                c.id IN (SELECT citizen_id FROM deliveries WHERE advisory_id = ? AND advisory_version < ?
                    AND state IN \(DeliveryState.live.sql) AND citizen_id IS NOT NULL)
                """
            values = [advisoryId, beforeVersion]
        }
    }
}

/// Which webhook subscribers (`subscribers s`) a publication reaches.
struct SubscribersSQL {
    var condition: String
    var values: [Bind]

    init(_ recipients: Recipients) {
        switch recipients {
        case .audience:
            // Agencies' subscribers get their groups' advisories (`group.advisory`), not every one.
            condition = "s.agency_id IS NULL"
            values = []
        case .reachedBy(let advisoryId, let beforeVersion):
            condition = """
                s.agency_id IS NULL AND s.id IN (SELECT subscriber_id FROM deliveries WHERE advisory_id = ? AND advisory_version < ?
                    AND state IN \(DeliveryState.live.sql) AND subscriber_id IS NOT NULL AND agency_group IS NULL)
                """
            values = [advisoryId, beforeVersion]
        }
    }
}

/// An audience as a SQL condition on `citizens c`, with its values. Distances and polygons are
/// core's `Geography` written in SQL: the haversine distance on a 6,371 km sphere, and the
/// even-odd ray test over the polygon's edges (from `jsonb_array_elements` of its points).
struct AudienceSQL {
    var condition: String
    var values: [Bind]

    init(_ audience: Audience) {
        var filters: [String] = []
        var values: [Bind] = []
        func list(_ column: String, _ items: [String]?) {
            guard let items, !items.isEmpty else { return }
            filters.append("\(column) = ANY(?)")
            values.append(items)
        }
        list("c.country", audience.countries)
        list("c.city", audience.cities)
        list("c.group_id", audience.groupIds)
        list("c.agency_id", audience.agencyIds)
        if let tags = audience.tags, !tags.isEmpty {
            filters.append("EXISTS (SELECT 1 FROM unnest(?::text[]) AS tag WHERE strpos(c.tags, '|' || tag || '|') > 0)")
            values.append(tags)
        }
        if let circle = audience.circle {
            filters.append("(c.lat IS NOT NULL AND \(Self.distanceKm)(c.lat, c.lon, ?, ?) <= ?)")
            values += [circle.center.lat, circle.center.lon, circle.radiusKm]
        }
        if let polygon = audience.polygon {
            let json = String(decoding: (try? JSONEncoder().encode(polygon)) ?? Data("[]".utf8), as: UTF8.self)
            filters.append("(c.lat IS NOT NULL AND \(Self.inPolygon)(c.lat, c.lon, ?::jsonb))")
            values.append(json)
        }
        let narrowed = audience.all == true ? "true" : (filters.isEmpty ? "false" : filters.joined(separator: " AND "))
        condition = "((\(narrowed)) OR c.id = ANY(?))"
        values.append(audience.citizenIds ?? [Int64]())
        self.values = values
    }

    /// Functions of the schema (migration v1).
    static let distanceKm = "habar_distance_km"
    static let inPolygon = "habar_in_polygon"
}
