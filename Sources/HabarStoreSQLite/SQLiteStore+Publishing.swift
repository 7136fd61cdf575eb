import Foundation
import GRDB
import HabarCore
import HabarMessages

// MARK: Publishing: recipients → deliveries, in SQL

extension SQLiteStore {
    public func publish(_ publication: Publication) async throws -> PublicationResult {
        try await writer.write { db in try Self.publish(publication, db) }
    }

    static func publish(_ publication: Publication, _ db: Database) throws -> PublicationResult {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM advisories WHERE id = ?", arguments: [publication.advisoryId]) else {
            throw OperationError.notFound("advisory \(publication.advisoryId)")
        }
        let stored = try advisory(row)
        let now = publication.now.ms
        let next = publication.advisory
        switch try PublicationStep.decide(publication, stored: stored.status, version: stored.version) {
        case .markPublished:
            // The place versions resolved at queue time are the ones the texts were rendered from.
            try db.execute(
                sql: """
                    UPDATE advisories SET status = 'published', approver = ?, approver_token_id = ?, version = ?,
                        published_at = coalesce(published_at, ?), places = ?
                    WHERE id = ?
                    """,
                arguments: [publication.approver, publication.approverTokenId, publication.version, now, try json(next.places), publication.advisoryId])
        case .applyCorrection:
            let encoded = try encodeContent(next)
            try db.execute(
                sql: """
                    UPDATE advisories SET severity = ?, params = ?, template = ?, expires_at = ?, version = ?, places = ?,
                        pending_correction = NULL, pending_author = NULL, pending_author_token_id = NULL
                    WHERE id = ?
                    """,
                arguments: [
                    next.severity.rawValue, encoded.params, next.template, next.expiresAt.ms, publication.version, encoded.places,
                    publication.advisoryId,
                ])
        case .nothing: break
        case .recordCancelNotice:
            try db.execute(
                sql: "UPDATE advisories SET version = ?, cancel_notice_version = ? WHERE id = ?",
                arguments: [publication.version, publication.version, publication.advisoryId])
        }
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO advisory_versions (advisory_id, version, message_type, sent_at, approver)
                VALUES (?, ?, ?, ?, ?)
                """,
            arguments: [publication.advisoryId, publication.version, publication.messageType.rawValue, now, publication.approver])
        let result = try queue(publication, plan: next.channelPlan, severity: next.severity, db: db)
        if publication.messageType == .update {
            // What earlier versions had not sent yet is superseded: nobody gets stale orders.
            let pending = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, step, channel, state, attempts FROM deliveries
                    WHERE advisory_id = ? AND advisory_version < ? AND state IN \(DeliveryState.pending.sql)
                    """,
                arguments: [publication.advisoryId, publication.version])
            for row in pending {
                try transition(db, row: row, to: .cancelled, at: publication.now, detail: "superseded by version \(publication.version)")
            }
        }
        return result
    }

    /// The deliveries `d` of one advisory version (arguments: advisory id, version) queued in
    /// this transaction: every one of the version when it had none before (`first`), else
    /// those without a history yet (their `queued` event comes last). No id arithmetic:
    /// nothing here assumes it is the only writer.
    static func createdNow(first: Bool) -> String {
        let version = "d.advisory_id = ? AND d.advisory_version = ? AND d.purpose = \(DeliveryPurpose.advisory.sql)"
        return first ? version : version + " AND NOT EXISTS (SELECT 1 FROM delivery_events e WHERE e.delivery_id = d.id)"
    }

    /// Freezes the publication's texts and queues one delivery per recipient and plan lane.
    private static func queue(_ publication: Publication, plan: ChannelPlan, severity: Severity, db: Database) throws -> PublicationResult {
        let now = publication.now.ms
        for (language, byKind) in publication.renderings {
            for (kind, rendered) in byKind {
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO renderings (advisory_id, version, language, kind, rendered_language, subject, text, html)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        publication.advisoryId, publication.version, language.rawValue, kind.rawValue,
                        rendered.language.rawValue, rendered.subject, rendered.text, rendered.html,
                    ])
            }
        }
        let recipients = RecipientsSQL(publication.recipients)
        // Publishing a version again (the same approval twice) queues only who is new.
        let first = try Bool.fetchOne(
            db, sql: "SELECT NOT EXISTS (SELECT 1 FROM deliveries WHERE advisory_id = ? AND advisory_version = ? AND purpose = \(DeliveryPurpose.advisory.sql))",
            arguments: [publication.advisoryId, publication.version]) ?? false
        let citizenChannels = plan.channels.filter { publication.channels[$0]?.address != .webhook }
        func reach(_ channel: String) -> String {
            switch publication.channels[channel]?.address {
            case .phone: "c.phone IS NOT NULL"
            case .email: "c.email IS NOT NULL"
            case .webhook, nil: "0"
            }
        }
        let lanes: [(index: Int, channels: [String])] =
            plan.mode == .fallback ? [(0, citizenChannels)] : citizenChannels.enumerated().map { ($0.offset, [$0.element]) }
        for lane in lanes where !lane.channels.isEmpty {
            let steps = lane.channels.map { "CASE WHEN \(reach($0)) THEN ? || ',' ELSE '' END" }.joined(separator: " || ")
            let arguments: [(any DatabaseValueConvertible)?] =
                [publication.advisoryId, publication.version, lane.index, severity.priority, now,
                 publication.expiresAt.ms, now, now, now]
            try db.execute(
                sql: """
                    INSERT INTO deliveries (advisory_id, advisory_version, plan_index, citizen_id, language, phone, email,
                        steps, step, channel, state, priority, next_attempt_at, expires_at, created_at, updated_at, step_started_at)
                    SELECT ?, ?, ?, id, language, phone, email, steps, 0, substr(steps, 1, instr(steps || ',', ',') - 1),
                        \(DeliveryState.queued.sql), ?, ?, ?, ?, ?, ?
                    FROM (SELECT c.id, c.language, c.phone, c.email, rtrim(\(steps), ',') AS steps
                          FROM citizens c WHERE \(recipients.condition))
                    WHERE steps != ''
                    ON CONFLICT (advisory_id, advisory_version, purpose, citizen_id, plan_index) DO NOTHING
                    """,
                arguments: StatementArguments(arguments) + StatementArguments(lane.channels) + recipients.arguments)
        }
        // Webhook channels of the plan reach subscribers, not citizens: every active general
        // subscriber for a first publication, those earlier versions reached for the rest.
        let subscribers = SubscribersSQL(publication.recipients)
        for (index, channel) in plan.channels.enumerated() where publication.channels[channel]?.address == .webhook {
            try db.execute(
                sql: """
                    INSERT INTO deliveries (advisory_id, advisory_version, plan_index, subscriber_id, language, steps, step, channel,
                        state, priority, next_attempt_at, expires_at, created_at, updated_at, step_started_at)
                    SELECT ?, ?, ?, s.id, s.language, ?, 0, ?, \(DeliveryState.queued.sql), ?, ?, ?, ?, ?, ?
                    FROM subscribers s WHERE s.active = 1 AND \(subscribers.condition)
                    ON CONFLICT DO NOTHING
                    """,
                arguments: [publication.advisoryId, publication.version, index, channel, channel, severity.priority, now,
                            publication.expiresAt.ms, now, now, now] + subscribers.arguments)
        }
        if let channel = publication.agencyChannel {
            try queueGroupAdvisories(publication, channel: channel, severity: severity, first: first, db: db)
        }
        try db.execute(
            sql: """
                INSERT INTO delivery_events (delivery_id, at, step, channel, from_state, to_state, attempt, detail)
                SELECT d.id, ?, 0, d.channel, NULL, \(DeliveryState.queued.sql), 0, ? FROM deliveries d
                WHERE \(Self.createdNow(first: first))
                """,
            arguments: [now, publication.messageType.queuedDetail(version: publication.version),
                        publication.advisoryId, publication.version])
        let queued = db.changesCount
        let anyReach = citizenChannels.isEmpty ? "0" : citizenChannels.map(reach).joined(separator: " OR ")
        let unreachable = try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM citizens c WHERE (\(recipients.condition)) AND NOT (\(anyReach))",
            arguments: recipients.arguments) ?? 0
        return PublicationResult(queued: queued, unreachable: unreachable)
    }

    /// The tourists on each group's manifest whom the audience selects (`tourist_id`,
    /// `citizen_id`, `agency_id`, `group_ref`: the group's Habar id); `members.arguments` go with it. From
    /// the groups to their tourists to each one's citizen (CROSS JOIN keeps that order): the
    /// tourists are a few thousand, an audience can be every citizen of a country.
    static func groupMembers(_ members: AudienceSQL) -> String {
        """
        SELECT t.tourist_id, t.citizen_id, t.agency_id, g.id AS group_ref FROM agency_groups g
        CROSS JOIN agency_tourists t ON t.agency_id = g.agency_id AND t.group_id = g.group_id
        CROSS JOIN citizens c ON c.id = t.citizen_id
        WHERE \(members.condition)
        """
    }

    /// One `group.advisory` per agency group with recipients, to the agency's webhook, listing
    /// those tourists (frozen now). A first publication goes to the groups whose tourists the
    /// audience selects; a correction or cancellation notice to the groups earlier versions'
    /// group advisories reached, about the same tourists.
    private static func queueGroupAdvisories(_ publication: Publication, channel: String, severity: Severity, first: Bool, db: Database) throws {
        let now = publication.now.ms
        let values: StatementArguments = [
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
            try db.execute(
                sql: """
                    \(insert)
                    SELECT ?, ?, g.id, s.id, g.id, s.language, ?, 0, ?, \(DeliveryState.queued.sql), ?, ?, ?, ?, ?, ?
                    FROM agency_groups g JOIN agencies a ON a.id = g.agency_id JOIN subscribers s ON s.id = a.subscriber_id AND s.active = 1
                    WHERE g.id IN (SELECT group_ref FROM (\(selected)))
                    ON CONFLICT DO NOTHING
                    """,
                arguments: values + members.arguments)
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO group_advisory_tourists (delivery_id, tourist_id, citizen_id)
                    SELECT d.id, m.tourist_id, m.citizen_id FROM deliveries d JOIN (\(selected)) m ON m.group_ref = d.agency_group
                    WHERE \(Self.createdNow(first: first)) AND d.agency_group IS NOT NULL
                    """,
                arguments: members.arguments + [publication.advisoryId, publication.version])
        case .reachedBy(let advisoryId, let beforeVersion):
            let earlier = """
                SELECT id, subscriber_id, agency_group FROM deliveries
                WHERE advisory_id = ? AND purpose = \(DeliveryPurpose.advisory.sql) AND advisory_version < ? AND agency_group IS NOT NULL
                    AND state IN \(DeliveryState.live.sql)
                """
            try db.execute(
                sql: """
                    \(insert)
                    SELECT DISTINCT ?, ?, e.agency_group, s.id, e.agency_group, s.language, ?, 0, ?, \(DeliveryState.queued.sql), ?, ?, ?, ?, ?, ?
                    FROM (\(earlier)) e JOIN subscribers s ON s.id = e.subscriber_id AND s.active = 1
                    ON CONFLICT DO NOTHING
                    """,
                arguments: values + [advisoryId, beforeVersion])
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO group_advisory_tourists (delivery_id, tourist_id, citizen_id)
                    SELECT d.id, t.tourist_id, t.citizen_id FROM deliveries d
                    JOIN (\(earlier)) e ON e.agency_group = d.agency_group AND e.subscriber_id = d.subscriber_id
                    JOIN group_advisory_tourists t ON t.delivery_id = e.id
                    WHERE \(Self.createdNow(first: first)) AND d.agency_group IS NOT NULL
                    """,
                arguments: [advisoryId, beforeVersion, publication.advisoryId, publication.version])
        }
    }

    public func cancelAdvisory(id: Int64, at: Date, by: String, notice: Publication?) async throws -> (cancelled: Int, notice: PublicationResult?) {
        try await writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM advisories WHERE id = ?", arguments: [id]) else {
                throw OperationError.notFound("advisory \(id)")
            }
            let stored = try Self.advisory(row)
            guard stored.status == .draft || stored.status == .published else {
                throw OperationError.conflict("advisory \(id) is \(stored.status.rawValue)")
            }
            try db.execute(
                sql: "UPDATE advisories SET status = 'cancelled', cancelled_at = ?, pending_correction = NULL, interrupted_at = NULL, approver = coalesce(approver, ?) WHERE id = ?",
                arguments: [at.ms, by, id])
            let pending = try Row.fetchAll(
                db,
                sql: "SELECT id, step, channel, state, attempts FROM deliveries WHERE advisory_id = ? AND state IN \(DeliveryState.pending.sql)",
                arguments: [id])
            for row in pending {
                try Self.transition(db, row: row, to: .cancelled, at: at, detail: "advisory cancelled")
            }
            var queued: PublicationResult? = nil
            if stored.status == .published {
                if let notice {
                    queued = try Self.publish(notice, db)
                } else {
                    try db.execute(
                        sql: "UPDATE advisories SET version = version + 1 WHERE id = ?", arguments: [id])
                    try db.execute(
                        sql: """
                            INSERT INTO advisory_versions (advisory_id, version, message_type, sent_at, approver)
                            SELECT id, version, 'cancel', ?, ? FROM advisories WHERE id = ?
                            """,
                        arguments: [at.ms, stored.approver ?? stored.author, id])
                }
            }
            return (pending.count, queued)
        }
    }

    public func audienceCells(_ recipients: Recipients) async throws -> [AudienceCell] {
        let sql = RecipientsSQL(recipients)
        return try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT c.language, c.phone IS NOT NULL, c.email IS NOT NULL, COUNT(*) FROM citizens c
                    WHERE \(sql.condition) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                    """,
                arguments: sql.arguments
            ).map { row in
                AudienceCell(language: Language(rawValue: row[0]) ?? .russian, hasPhone: row[1], hasEmail: row[2], count: row[3])
            }
        }
    }
}

extension SQLiteStore {
    public func groupAdvisoryCells(_ audience: Audience) async throws -> [GroupAdvisoryCell] {
        let members = AudienceSQL(audience)
        return try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT a.id, s.language, COUNT(DISTINCT m.group_ref), COUNT(*) FROM (\(Self.groupMembers(members))) m
                    JOIN agencies a ON a.id = m.agency_id JOIN subscribers s ON s.id = a.subscriber_id AND s.active = 1
                    GROUP BY a.id, s.language ORDER BY a.id
                    """,
                arguments: members.arguments
            ).map { row in
                GroupAdvisoryCell(agencyId: row[0], language: Language(rawValue: row[1]) ?? .russian, groups: row[2], tourists: row[3])
            }
        }
    }
}

/// Recipients as a SQL condition on `citizens c`, with its arguments.
struct RecipientsSQL {
    var condition: String
    var arguments: StatementArguments

    init(_ recipients: Recipients) {
        switch recipients {
        case .audience(let audience):
            let sql = AudienceSQL(audience)
            self.condition = sql.condition
            self.arguments = sql.arguments
        case .reachedBy(let advisoryId, let beforeVersion):
            // Reached (sending, sent, delivered) or still queued for it; not failed, expired or cancelled.
            self.condition = """
                c.id IN (SELECT citizen_id FROM deliveries WHERE advisory_id = ? AND advisory_version < ?
                    AND state IN \(DeliveryState.live.sql) AND citizen_id IS NOT NULL)
                """
            self.arguments = [advisoryId, beforeVersion]
        }
    }
}

/// Which webhook subscribers (`subscribers s`) a publication reaches.
struct SubscribersSQL {
    var condition: String
    var arguments: StatementArguments

    init(_ recipients: Recipients) {
        switch recipients {
        case .audience:
            // Agencies' subscribers get their groups' advisories (`group.advisory`), not every one.
            self.condition = "s.agency_id IS NULL"
            self.arguments = []
        case .reachedBy(let advisoryId, let beforeVersion):
            // Not agencies: their group advisories follow their own rule.
            self.condition = """
                s.agency_id IS NULL AND s.id IN (SELECT subscriber_id FROM deliveries WHERE advisory_id = ? AND advisory_version < ?
                    AND state IN \(DeliveryState.live.sql) AND subscriber_id IS NOT NULL AND agency_group IS NULL)
                """
            self.arguments = [advisoryId, beforeVersion]
        }
    }
}

/// An audience as a SQL condition on `citizens c`, with its arguments.
struct AudienceSQL {
    var condition: String
    var arguments: StatementArguments

    init(_ audience: Audience) {
        var filters: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        func list(_ column: String, _ values: [String]?) {
            guard let values, !values.isEmpty else { return }
            filters.append("\(column) IN (\(Array(repeating: "?", count: values.count).joined(separator: ", ")))")
            arguments += values.map { $0 as (any DatabaseValueConvertible)? }
        }
        list("c.country", audience.countries)
        list("c.city", audience.cities)
        list("c.group_id", audience.groupIds)
        list("c.agency_id", audience.agencyIds)
        if let tags = audience.tags, !tags.isEmpty {
            filters.append("(" + tags.map { _ in "instr(c.tags, '|' || ? || '|') > 0" }.joined(separator: " OR ") + ")")
            arguments += tags.map { $0 as (any DatabaseValueConvertible)? }
        }
        if let circle = audience.circle {
            filters.append("(c.lat IS NOT NULL AND habar_distance_km(c.lat, c.lon, ?, ?) <= ?)")
            arguments += [circle.center.lat, circle.center.lon, circle.radiusKm]
        }
        if let polygon = audience.polygon {
            let json = String(decoding: (try? JSONEncoder().encode(polygon)) ?? Data("[]".utf8), as: UTF8.self)
            filters.append("(c.lat IS NOT NULL AND habar_in_polygon(c.lat, c.lon, ?))")
            arguments.append(json)
        }
        let narrowed = audience.all == true ? "1" : (filters.isEmpty ? "0" : filters.joined(separator: " AND "))
        let ids = audience.citizenIds ?? []
        let idsJSON = "[" + ids.map(String.init).joined(separator: ",") + "]"
        self.condition = "((\(narrowed)) OR c.id IN (SELECT value FROM json_each(?)))"
        self.arguments = StatementArguments(arguments + [idsJSON])
    }
}
