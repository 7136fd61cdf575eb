import Foundation
import HabarCore
import HabarMessages
import PostgresNIO

/// Travel agencies: their secrets, the webhooks they sent, their groups and tourists.
extension PostgresStore {
    public func insertAgency(_ agency: Agency, secret: String, token: NewAccessToken) async throws -> Agency {
        do {
            return try await write { pg in
                try await pg.run(
                    "INSERT INTO agencies (id, name, webhook_url, language, created_at) VALUES (?, ?, ?::text, ?, ?)",
                    agency.id, agency.name, agency.webhookURL, agency.language.rawValue, agency.createdAt.ms)
                if let url = agency.webhookURL {
                    let subscriber = try await Self.insertSubscriber(pg, of: agency, url: url, secrets: [secret], at: agency.createdAt)
                    try await pg.run("UPDATE agencies SET subscriber_id = ? WHERE id = ?", subscriber, agency.id)
                }
                try await pg.run(
                    "INSERT INTO agency_secrets (agency_id, secret, created_at) VALUES (?, ?, ?)", agency.id, secret, agency.createdAt.ms)
                _ = try await Self.insert(token, pg)
                return agency
            }
        } catch where Self.isUniqueViolation(error, constraint: "agencies_pkey") {
            throw OperationError.conflict("an agency with id '\(agency.id)' exists")
        }
    }

    /// Agencies with their webhook's state (`webhook_disabled`: why it is off).
    static let agencyColumns = """
        SELECT a.*, CASE WHEN NOT s.active THEN coalesce(s.disabled_reason, 'disabled') END AS webhook_disabled
        FROM agencies a LEFT JOIN subscribers s ON s.id = a.subscriber_id
        """

    public func agencies() async throws -> [Agency] {
        try await read { pg in try await pg.rows("\(Self.agencyColumns) ORDER BY a.id").map(Self.agency) }
    }

    public func agency(id: String) async throws -> Agency? {
        try await read { pg in try await Self.agency(pg, id: id) }
    }

    static func agency(_ pg: PG, id: String) async throws -> Agency? {
        try await pg.row("\(agencyColumns) WHERE a.id = ?", id).map(agency)
    }

    static func agency(_ row: PostgresRandomAccessRow) throws -> Agency {
        let url = try row.get("webhook_url", as: String?.self)
        return Agency(
            id: try row.get("id"), name: try row.get("name"), webhookURL: url, language: Language(rawValue: try row.get("language")) ?? .russian,
            createdAt: try row.date("created_at"), webhookDisabledReason: url == nil ? nil : try row.get("webhook_disabled"))
    }

    public func updateAgency(_ agency: Agency, enableWebhook: Bool, at: Date) async throws -> Agency? {
        try await write { pg in
            guard let row = try await pg.row("SELECT subscriber_id FROM agencies WHERE id = ? FOR UPDATE", agency.id) else { return nil }
            var subscriber = try row.get("subscriber_id", as: Int64?.self)
            switch (agency.webhookURL, subscriber) {
            case (let url?, let id?):
                // Queued group advisories go to the new address: it is read when they are sent.
                try await pg.run("UPDATE subscribers SET url = ?, language = ? WHERE id = ?", url, agency.language.rawValue, id)
                if enableWebhook {
                    try await pg.run("UPDATE subscribers SET active = true, disabled_at = NULL, disabled_reason = NULL WHERE id = ?", id)
                }
            case (let url?, nil):
                subscriber = try await Self.insertSubscriber(
                    pg, of: agency, url: url, secrets: try await Self.validSecrets(pg, agencyId: agency.id, now: at), at: at)
            case (nil, let id?):
                try await pg.run(
                    "UPDATE subscribers SET active = false, disabled_at = ?, disabled_reason = ? WHERE id = ? AND active",
                    at.ms, "the agency has no webhook URL", id)
            case (nil, nil):
                break
            }
            try await pg.run(
                "UPDATE agencies SET name = ?, webhook_url = ?::text, language = ?, subscriber_id = ?::bigint WHERE id = ?",
                agency.name, agency.webhookURL, agency.language.rawValue, subscriber, agency.id)
            return try await Self.agency(pg, id: agency.id)
        }
    }

    /// The agency's outbound address as a webhook subscriber: its group advisories are signed
    /// with its secrets (read again when each is sent).
    static func insertSubscriber(_ pg: PG, of agency: Agency, url: String, secrets: [String], at: Date) async throws -> Int64 {
        guard let id = try await pg.value(
            "INSERT INTO subscribers (name, url, secret, language, agency_id, active, created_at) VALUES (?, ?, ?, ?, ?, true, ?) RETURNING id",
            "agency:\(agency.id)", url, secrets.joined(separator: " "), agency.language.rawValue, agency.id, at.ms, as: Int64.self)
        else { throw PostgresStoreError("the agency's subscriber was not stored") }
        return id
    }

    /// An agency's secrets valid at `now`, newest first: they verify its webhooks and sign Habar's.
    static func validSecrets(_ pg: PG, agencyId: String, now: Date) async throws -> [String] {
        try await pg.rows(
            "SELECT secret FROM agency_secrets WHERE agency_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY id DESC", agencyId, now.ms
        ).map { try $0.get("secret") }
    }

    public func agencyMemberships(citizenIds: [Int64], agencyId: String) async throws -> [Int64: String?] {
        guard !citizenIds.isEmpty else { return [:] }
        let rows = try await read { pg in
            try await pg.rows(
                "SELECT citizen_id, group_id FROM agency_tourists WHERE agency_id = ? AND citizen_id = ANY(?)", agencyId, citizenIds
            ).map { Membership(citizen: try $0.get("citizen_id"), group: try $0.get("group_id")) }
        }
        var groups: [Int64: String?] = [:]
        for row in rows where groups[row.citizen] == nil || row.group != nil { groups[row.citizen] = row.group }
        return groups
    }

    struct Membership: Sendable {
        var citizen: Int64
        var group: String?
    }

    public func agencySecretsWithExpiry(id: String, now: Date) async throws -> (secrets: [WebhookSecret], earliestExpiry: Date?) {
        let rows = try await read { pg in
            try await pg.rows(
                "SELECT secret, expires_at FROM agency_secrets WHERE agency_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY id DESC",
                id, now.ms
            ).map { SecretRow(secret: try $0.get("secret"), expiresAt: try $0.get("expires_at")) }
        }
        return (rows.compactMap { WebhookSecret($0.secret) }, rows.compactMap(\.expiresAt).min().map(Date.init(ms:)))
    }

    struct SecretRow: Sendable {
        var secret: String
        var expiresAt: Int64?
    }

    public func rotateAgencySecret(id: String, secret: String, overlap: TimeInterval, now: Date) async throws -> Bool {
        try await write { pg in
            guard try await pg.run("SELECT 1 FROM agencies WHERE id = ? FOR UPDATE", id) == 1 else { return false }
            let until = now.addingTimeInterval(overlap).ms
            try await pg.run(
                "UPDATE agency_secrets SET expires_at = ? WHERE agency_id = ? AND (expires_at IS NULL OR expires_at > ?)", until, id, until)
            try await pg.run("INSERT INTO agency_secrets (agency_id, secret, created_at) VALUES (?, ?, ?)", id, secret, now.ms)
            // Outbound webhooks are signed with every secret still valid, newest first.
            let valid = try await Self.validSecrets(pg, agencyId: id, now: now)
            try await pg.run(
                "UPDATE subscribers SET secret = ? WHERE id = (SELECT subscriber_id FROM agencies WHERE id = ?)", valid.joined(separator: " "), id)
            return true
        }
    }

    public func agencyEventType(agencyId: String, webhookId: String) async throws -> String? {
        try await read { pg in
            try await pg.value("SELECT type FROM agency_events WHERE agency_id = ? AND webhook_id = ?", agencyId, webhookId, as: String.self)
        }
    }

    /// How many webhooks of an agency were applied (benchmarks check their load with it).
    public func agencyEventCount(agencyId: String) async throws -> Int {
        try await read { pg in try await pg.value("SELECT count(*) FROM agency_events WHERE agency_id = ?", agencyId, as: Int.self) ?? 0 }
    }

    // MARK: Applying webhooks

    /// Each event in a savepoint of its own, which first claims its webhook-id (the row of
    /// `agency_events`, completed at the end): the same webhook delivered to two instances at
    /// once is applied by one; the other waits for that commit and answers `duplicate`. A
    /// refused event rolls back to its savepoint and leaves no trace.
    public func applyAgencyEvents(_ events: [AgencyEvent]) async throws -> [Result<AgencyEventResult, ValidationFailure>] {
        let results = try await write { pg in
            if events.contains(where: { if case .manifest = $0.command { true } else { false } }) {
                // Manifests match and create citizens like an import does: one at a time.
                try await pg.run("SELECT pg_advisory_xact_lock(?)", Self.importLock)
            }
            var results: [EventResult] = []
            for event in events {
                try await pg.run("SAVEPOINT agency_event")
                do {
                    let applied = try await Self.apply(event, pg: pg)
                    try await pg.run("RELEASE SAVEPOINT agency_event")
                    results.append(.applied(applied))
                } catch let failure as ValidationFailure {
                    try await pg.run("ROLLBACK TO SAVEPOINT agency_event")
                    results.append(.refused(failure))
                }
            }
            return results
        }
        return results.map {
            switch $0 {
            case .applied(let result): .success(result)
            case .refused(let failure): .failure(failure)
            }
        }
    }

    enum EventResult: Sendable {
        case applied(AgencyEventResult)
        case refused(ValidationFailure)
    }

    static func apply(_ event: AgencyEvent, pg: PG) async throws -> AgencyEventResult {
        let (agencyId, command, at) = (event.agencyId, event.command, event.at)
        let claimed = try await pg.run(
            """
            INSERT INTO agency_events (agency_id, webhook_id, type, body, received_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (agency_id, webhook_id) DO NOTHING RETURNING 1
            """, agencyId, event.webhookId, event.type, event.body, at.ms)
        guard claimed == 1 else { return .duplicate }
        let summary: [String: Int]
        switch command {
        case .manifest(let manifest): summary = try await Self.apply(manifest, agency: agencyId, pg: pg, at: at)
        case .groupStatus(let report): summary = try await Self.apply(report, agency: agencyId, pg: pg, at: at)
        case .touristCheckin(let checkin): summary = try await Self.apply(checkin, agency: agencyId, pg: pg, at: at)
        }
        let summaryJSON = "{" + summary.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        try await pg.run("UPDATE agency_events SET summary = ? WHERE agency_id = ? AND webhook_id = ?", summaryJSON, agencyId, event.webhookId)
        return .applied(summary: summary)
    }

    /// A manifest: the group, then each tourist — the agency's own tourist, else the citizen
    /// with the same phone, else with the same passport, else a new citizen — linked to the
    /// agency and group; tourists of the group missing from it are detached, not deleted.
    static func apply(_ manifest: Manifest, agency: String, pg: PG, at: Date) async throws -> [String: Int] {
        let group = manifest.group
        try await pg.run(
            """
            INSERT INTO agency_groups (agency_id, group_id, name, country, city, hotel, return_flight, return_date, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?::text, ?::text, ?::text, ?::text, ?, ?)
            ON CONFLICT (agency_id, group_id) DO UPDATE SET name = excluded.name, country = excluded.country, city = excluded.city,
                hotel = excluded.hotel, return_flight = excluded.return_flight, return_date = excluded.return_date, updated_at = excluded.updated_at
            """,
            agency, group.id, group.name, group.destination.country, group.destination.city, group.hotel,
            group.returnFlight?.number, group.returnFlight?.date, at.ms, at.ms)
        var created = 0, updated = 0, linked = 0
        for tourist in manifest.tourists {
            let phone = tourist.phone.flatMap(PhoneNumber.init)?.e164
            let known = try await pg.row("SELECT citizen_id, linked FROM agency_tourists WHERE agency_id = ? AND tourist_id = ?", agency, tourist.id)
            var citizenId = try known?.get("citizen_id", as: Int64.self)
            // The agency's own tourist (one its manifest created): its data is the agency's to change.
            let wasLinked = try known?.get("linked", as: Bool.self)
            let ours = known != nil && wasLinked == false
            var linkedNow = wasLinked ?? false
            if citizenId == nil, let phone {
                citizenId = try await pg.value("SELECT id FROM citizens WHERE phone = ? ORDER BY id LIMIT 1", phone, as: Int64.self)
            }
            if citizenId == nil, let passport = tourist.passportNumber {
                citizenId = try await pg.value("SELECT id FROM citizens WHERE passport_number = ? ORDER BY id LIMIT 1", passport, as: Int64.self)
            }
            if let id = citizenId {
                // A citizen HQ registered keeps its name and language; the agency's own tourist
                // takes the manifest's. Empty fields are filled either way. A citizen another
                // agency has is linked, but its agency, group and whereabouts stay that agency's.
                try await pg.run(
                    """
                    UPDATE citizens SET full_name = CASE WHEN ? THEN ? ELSE full_name END, language = CASE WHEN ? THEN ?::text ELSE language END,
                        search_words = CASE WHEN ? THEN ? ELSE search_words END,
                        phone = coalesce(phone, ?), email = coalesce(email, ?), passport_number = coalesce(passport_number, ?),
                        birth_date = coalesce(birth_date, ?),
                        country = CASE WHEN agency_id IS NULL OR agency_id = ? THEN ? ELSE country END,
                        city = CASE WHEN agency_id IS NULL OR agency_id = ? THEN coalesce(?, city) ELSE city END,
                        group_id = CASE WHEN agency_id IS NULL OR agency_id = ? THEN ? ELSE group_id END,
                        agency_id = coalesce(agency_id, ?), updated_at = ?
                    WHERE id = ?
                    """,
                    ours, tourist.fullName, ours && tourist.language != nil, tourist.language?.rawValue,
                    ours, CitizenSearch.indexedWords(fullName: tourist.fullName), phone, tourist.email,
                    tourist.passportNumber, tourist.birthDate, agency, group.destination.country, agency, group.destination.city,
                    agency, group.id, agency, at.ms, id)
                if known != nil {
                    updated += 1
                } else {
                    linked += 1
                    linkedNow = true
                }
            } else {
                let citizen = NewCitizen(
                    id: .unsaved, fullName: tourist.fullName, language: tourist.language ?? .russian, phone: phone.map(PhoneNumber.init(storedE164:)),
                    email: tourist.email, country: group.destination.country, city: group.destination.city, groupId: group.id, agencyId: agency,
                    passportNumber: tourist.passportNumber, birthDate: tourist.birthDate, createdAt: at, updatedAt: at)
                citizenId = try await insert(citizen, pg).id
                created += 1
            }
            try await pg.run(
                """
                INSERT INTO agency_tourists (agency_id, tourist_id, citizen_id, group_id, linked, manifest_name) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (agency_id, tourist_id) DO UPDATE SET citizen_id = excluded.citizen_id, group_id = excluded.group_id,
                    manifest_name = excluded.manifest_name, detached_from = NULL, detached_at = NULL
                """, agency, tourist.id, citizenId, group.id, linkedNow, tourist.fullName)
        }
        let present = manifest.tourists.map(\.id)
        let detached = try await pg.rows(
            """
            UPDATE agency_tourists SET group_id = NULL, detached_from = ?, detached_at = ?
            WHERE agency_id = ? AND group_id = ? AND NOT (tourist_id = ANY(?))
            RETURNING citizen_id
            """, group.id, at.ms, agency, group.id, present
        ).map { try $0.get("citizen_id", as: Int64.self) }
        if !detached.isEmpty {
            try await pg.run(
                "UPDATE citizens SET group_id = NULL, updated_at = ? WHERE id = ANY(?) AND agency_id = ? AND group_id = ?",
                at.ms, detached, agency, group.id)
        }
        return ["created": created, "updated": updated, "linked": linked, "detached": detached.count]
    }

    static func apply(_ report: GroupStatusReport, agency: String, pg: PG, at: Date) async throws -> [String: Int] {
        // The group's latest status is the one reported latest in time (reports may cross).
        let changed = try await pg.run(
            """
            UPDATE agency_groups SET status = CASE WHEN status_at IS NULL OR status_at <= ? THEN ? ELSE status END,
                status_place = CASE WHEN status_at IS NULL OR status_at <= ? THEN ?::text ELSE status_place END,
                status_at = greatest(coalesce(status_at, ?), ?), updated_at = ?
            WHERE agency_id = ? AND group_id = ? RETURNING 1
            """,
            report.at.ms, report.status.rawValue, report.at.ms, report.place, report.at.ms, report.at.ms, at.ms, agency, report.groupId)
        guard changed == 1 else {
            throw ValidationFailure([FieldError(pointer: "/data/groupId", detail: "this agency has no group '\(report.groupId)' (send its manifest first)")])
        }
        try await pg.run(
            "INSERT INTO agency_group_events (agency_id, group_id, status, place, at) VALUES (?, ?, ?, ?::text, ?)",
            agency, report.groupId, report.status.rawValue, report.place, report.at.ms)
        return ["groups": 1]
    }

    static func apply(_ checkin: TouristCheckin, agency: String, pg: PG, at: Date) async throws -> [String: Int] {
        guard let citizen = try await pg.value(
            "SELECT citizen_id FROM agency_tourists WHERE agency_id = ? AND tourist_id = ?", agency, checkin.touristId, as: Int64.self)
        else { throw checkin.unknownTourist() }
        let when = checkin.answeredAt(receivedAt: at)
        let open = try await pg.value("SELECT (\(openCheckinSQL)) FROM citizens c WHERE c.id = ?", when.ms, citizen, as: Int64.self)
        try await record(checkin.answer(citizenId: citizen, openRequest: open, agency: agency, receivedAt: at), pg: pg)
        return ["checkins": 1]
    }
}

// MARK: Reconciliation

extension PostgresStore {
    /// The columns of `agency_groups g` and its tally over `agency_tourists t` and `citizens c`.
    static let groupColumns = """
        g.id, g.agency_id, g.group_id, g.name, g.country, g.city, g.hotel, g.return_flight, g.return_date,
        g.status, g.status_place, g.status_at, g.created_at, g.updated_at,
        count(c.id) AS on_manifest, count(*) FILTER (WHERE c.welfare_status = \(WelfareStatus.safe.sql)) AS safe,
        count(*) FILTER (WHERE c.welfare_status = \(WelfareStatus.needsHelp.sql)) AS needs_help,
        count(*) FILTER (WHERE c.welfare_status = \(WelfareStatus.unreached.sql)) AS unreached,
        count(*) FILTER (WHERE c.welfare_status = \(WelfareStatus.unknown.sql)) AS unknown
        FROM agency_groups g
        LEFT JOIN agency_tourists t ON t.agency_id = g.agency_id AND t.group_id = g.group_id
        LEFT JOIN citizens c ON c.id = t.citizen_id
        """

    public func agencyGroups(agencyId: String, page: PageRequest) async throws -> Page<AgencyGroup>? {
        let rows = try await read { pg -> [AgencyGroup]? in
            guard try await pg.run("SELECT 1 FROM agencies WHERE id = ?", agencyId) == 1 else { return nil }
            return try await pg.rows(
                "SELECT \(Self.groupColumns) WHERE g.agency_id = ? AND g.id > ? GROUP BY g.id ORDER BY g.id LIMIT ?",
                agencyId, page.after ?? 0, page.limit + 1
            ).map(Self.agencyGroup)
        }
        return rows.map { Page(fetched: $0, limit: page.limit, id: \.id) }
    }

    public func groupReconciliation(id: Int64) async throws -> GroupReconciliation? {
        try await read { pg in
            guard let row = try await pg.row("SELECT \(Self.groupColumns) WHERE g.id = ? GROUP BY g.id", id) else { return nil }
            let group = try Self.agencyGroup(row)
            let columns = """
                t.tourist_id, t.citizen_id, t.manifest_name, t.linked, t.detached_at, c.full_name, c.phone, c.email, c.language,
                c.welfare_status, c.last_contact_at, c.last_contact_source
                FROM agency_tourists t JOIN citizens c ON c.id = t.citizen_id
                """
            let members = try await pg.rows(
                "SELECT \(columns) WHERE t.agency_id = ? AND t.group_id = ? ORDER BY t.tourist_id", group.agencyId, group.groupId
            ).map(Self.groupMember)
            let detached = try await pg.rows(
                "SELECT \(columns) WHERE t.agency_id = ? AND t.group_id IS NULL AND t.detached_from = ? ORDER BY t.tourist_id",
                group.agencyId, group.groupId
            ).map(Self.groupMember)
            let history = try await pg.rows(
                "SELECT status, place, at FROM agency_group_events WHERE agency_id = ? AND group_id = ? ORDER BY at, id", group.agencyId, group.groupId
            ).compactMap { row in
                try GroupStatus(rawValue: try row.get("status")).map { GroupStatusEvent(status: $0, place: try row.get("place"), at: try row.date("at")) }
            }
            return GroupReconciliation(group: group, members: members, detached: detached, statusHistory: history)
        }
    }

    static func agencyGroup(_ row: PostgresRandomAccessRow) throws -> AgencyGroup {
        let statusAt = try row.get("status_at", as: Int64?.self) ?? row.get("updated_at", as: Int64.self)
        let status = try row.get("status", as: String?.self).flatMap(GroupStatus.init(rawValue:)).map {
            GroupStatusEvent(status: $0, place: try row.get("status_place"), at: Date(ms: statusAt))
        }
        let flight = try row.get("return_flight", as: String?.self).map {
            Manifest.ReturnFlight(number: $0, date: try row.get("return_date", as: String?.self) ?? "")
        }
        return AgencyGroup(
            id: try row.get("id"), agencyId: try row.get("agency_id"), groupId: try row.get("group_id"), name: try row.get("name"),
            destination: Manifest.Destination(country: try row.get("country"), city: try row.get("city")), hotel: try row.get("hotel"),
            returnFlight: flight, status: status,
            tally: GroupTally(
                onManifest: try row.get("on_manifest"), safe: try row.get("safe"), needsHelp: try row.get("needs_help"),
                unreached: try row.get("unreached"), unknown: try row.get("unknown")),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    static func groupMember(_ row: PostgresRandomAccessRow) throws -> GroupMember {
        GroupMember(
            touristId: try row.get("tourist_id"), citizenId: try row.get("citizen_id"), fullName: try row.get("full_name"),
            manifestName: try row.get("manifest_name"), phone: try row.get("phone"), email: try row.get("email"),
            language: Language(rawValue: try row.get("language")) ?? .russian, linked: try row.get("linked"),
            welfareStatus: WelfareStatus(rawValue: try row.get("welfare_status")) ?? .unknown,
            lastContactAt: try row.optionalDate("last_contact_at"),
            lastContactSource: try row.get("last_contact_source", as: String?.self).flatMap(CheckinSource.init(rawValue:)),
            detachedAt: try row.optionalDate("detached_at"))
    }
}
