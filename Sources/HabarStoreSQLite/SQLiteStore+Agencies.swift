import Foundation
import GRDB
import HabarCore
import HabarMessages

/// Travel agencies: their secrets, the webhooks they sent, their groups and tourists.
extension SQLiteStore {
    public func insertAgency(_ agency: Agency, secret: String, token: NewAccessToken) async throws -> Agency {
        try await writer.write { db in
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM agencies WHERE id = ?)", arguments: [agency.id]) == true {
                throw OperationError.conflict("an agency with id '\(agency.id)' exists")
            }
            let subscriber = try agency.webhookURL.map { url in
                try Self.insertSubscriber(db, of: agency, url: url, secrets: [secret], at: agency.createdAt)
            }
            try db.execute(
                sql: "INSERT INTO agencies (id, name, webhook_url, language, subscriber_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [agency.id, agency.name, agency.webhookURL, agency.language.rawValue, subscriber, agency.createdAt.ms])
            try db.execute(
                sql: "INSERT INTO agency_secrets (agency_id, secret, created_at) VALUES (?, ?, ?)", arguments: [agency.id, secret, agency.createdAt.ms])
            try db.execute(
                sql: "INSERT INTO tokens (name, role, agency_id, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [token.name, token.role.rawValue, token.agencyId, token.tokenHash, token.createdAt.ms])
            return agency
        }
    }

    /// Agencies with their webhook's state (`webhook_disabled`: why it is off).
    static let agencyColumns = """
        SELECT a.*, CASE WHEN s.active = 0 THEN coalesce(s.disabled_reason, 'disabled') END AS webhook_disabled
        FROM agencies a LEFT JOIN subscribers s ON s.id = a.subscriber_id
        """

    public func agencies() async throws -> [Agency] {
        try await writer.read { db in try Row.fetchAll(db, sql: "\(Self.agencyColumns) ORDER BY a.id").map(Self.agency) }
    }

    public func agency(id: String) async throws -> Agency? {
        try await writer.read { db in try Self.agency(db, id: id) }
    }

    static func agency(_ db: Database, id: String) throws -> Agency? {
        try Row.fetchOne(db, sql: "\(agencyColumns) WHERE a.id = ?", arguments: [id]).map(agency)
    }

    static func agency(_ row: Row) -> Agency {
        Agency(id: row["id"], name: row["name"], webhookURL: row["webhook_url"], language: Language(rawValue: row["language"]) ?? .russian,
               createdAt: Date(ms: row["created_at"]), webhookDisabledReason: row["webhook_url"] == nil ? nil : row["webhook_disabled"])
    }

    public func updateAgency(_ agency: Agency, enableWebhook: Bool, at: Date) async throws -> Agency? {
        try await writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT subscriber_id FROM agencies WHERE id = ?", arguments: [agency.id]) else { return nil }
            var subscriber: Int64? = row[0]
            switch (agency.webhookURL, subscriber) {
            case (let url?, let id?):
                // Queued group advisories go to the new address: it is read when they are sent.
                try db.execute(sql: "UPDATE subscribers SET url = ?, language = ? WHERE id = ?", arguments: [url, agency.language.rawValue, id])
                if enableWebhook {
                    try db.execute(sql: "UPDATE subscribers SET active = 1, disabled_at = NULL, disabled_reason = NULL WHERE id = ?", arguments: [id])
                }
            case (let url?, nil):
                subscriber = try Self.insertSubscriber(db, of: agency, url: url, secrets: try Self.validSecrets(db, agencyId: agency.id, now: at), at: at)
            case (nil, let id?):
                try db.execute(
                    sql: "UPDATE subscribers SET active = 0, disabled_at = ?, disabled_reason = ? WHERE id = ? AND active = 1",
                    arguments: [at.ms, "the agency has no webhook URL", id])
            case (nil, nil):
                break
            }
            try db.execute(
                sql: "UPDATE agencies SET name = ?, webhook_url = ?, language = ?, subscriber_id = ? WHERE id = ?",
                arguments: [agency.name, agency.webhookURL, agency.language.rawValue, subscriber, agency.id])
            return try Self.agency(db, id: agency.id)
        }
    }

    /// The agency's outbound address as a webhook subscriber: its group advisories are signed
    /// with its secrets (read again when each is sent).
    static func insertSubscriber(_ db: Database, of agency: Agency, url: String, secrets: [String], at: Date) throws -> Int64 {
        try db.execute(
            sql: "INSERT INTO subscribers (name, url, secret, language, agency_id, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)",
            arguments: ["agency:\(agency.id)", url, secrets.joined(separator: " "), agency.language.rawValue, agency.id, at.ms])
        return db.lastInsertedRowID
    }

    /// An agency's secrets valid at `now`, newest first: they verify its webhooks and sign Habar's.
    static func validSecrets(_ db: Database, agencyId: String, now: Date) throws -> [String] {
        try String.fetchAll(
            db, sql: "SELECT secret FROM agency_secrets WHERE agency_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY id DESC",
            arguments: [agencyId, now.ms])
    }

    public func agencyMemberships(citizenIds: [Int64], agencyId: String) async throws -> [Int64: String?] {
        guard !citizenIds.isEmpty else { return [:] }
        return try await writer.read { db in
            var groups: [Int64: String?] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT citizen_id, group_id FROM agency_tourists WHERE agency_id = ? AND citizen_id IN (SELECT value FROM json_each(?))",
                arguments: [agencyId, Self.idList(citizenIds)])
            {
                let group: String? = row[1]
                if groups[row[0]] == nil || group != nil { groups[row[0]] = group }
            }
            return groups
        }
    }

    public func agencySecretsWithExpiry(id: String, now: Date) async throws -> (secrets: [WebhookSecret], earliestExpiry: Date?) {
        try await writer.read { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT secret, expires_at FROM agency_secrets WHERE agency_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY id DESC
                    """),
                arguments: [id, now.ms])
            let expiry = rows.compactMap { $0[1] as Int64? }.min().map(Date.init(ms:))
            return (rows.compactMap { WebhookSecret($0[0] as String) }, expiry)
        }
    }

    public func rotateAgencySecret(id: String, secret: String, overlap: TimeInterval, now: Date) async throws -> Bool {
        try await writer.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM agencies WHERE id = ?)", arguments: [id]) == true else { return false }
            let until = now.addingTimeInterval(overlap).ms
            try db.execute(
                sql: "UPDATE agency_secrets SET expires_at = ? WHERE agency_id = ? AND (expires_at IS NULL OR expires_at > ?)",
                arguments: [until, id, until])
            try db.execute(sql: "INSERT INTO agency_secrets (agency_id, secret, created_at) VALUES (?, ?, ?)", arguments: [id, secret, now.ms])
            // Outbound webhooks are signed with every secret still valid, newest first.
            let valid = try Self.validSecrets(db, agencyId: id, now: now)
            try db.execute(
                sql: "UPDATE subscribers SET secret = ? WHERE id = (SELECT subscriber_id FROM agencies WHERE id = ?)",
                arguments: [valid.joined(separator: " "), id])
            return true
        }
    }

    public func agencyEventType(agencyId: String, webhookId: String) async throws -> String? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT type FROM agency_events WHERE agency_id = ? AND webhook_id = ?", arguments: [agencyId, webhookId])
        }
    }

    /// How many webhooks of an agency were applied (benchmarks check their load with it).
    public func agencyEventCount(agencyId: String) async throws -> Int {
        try await writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM agency_events WHERE agency_id = ?", arguments: [agencyId]) ?? 0 }
    }

    // MARK: Applying webhooks

    public func applyAgencyEvents(_ events: [AgencyEvent]) async throws -> [Result<AgencyEventResult, ValidationFailure>] {
        try await writer.write { db in
            try events.map { event in
                do {
                    guard case .manifest = event.command else { return .success(try Self.apply(event, db: db)) }
                    // A manifest writes many rows: in a savepoint of its own, whatever happens.
                    var applied = AgencyEventResult.duplicate
                    try db.inSavepoint {
                        applied = try Self.apply(event, db: db)
                        return .commit
                    }
                    return .success(applied)
                } catch let failure as ValidationFailure {
                    return .failure(failure)
                }
            }
        }
    }

    /// Applies one event and stores it with what it did. Nothing is written before an event is
    /// known to be valid against the stored data (a refusal leaves no trace), and the
    /// statements are cached: this runs for every webhook.
    static func apply(_ event: AgencyEvent, db: Database) throws -> AgencyEventResult {
        let (agencyId, command, at) = (event.agencyId, event.command, event.at)
        if try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM agency_events WHERE agency_id = ? AND webhook_id = ?)"),
            arguments: [agencyId, event.webhookId]) == true
        {
            return .duplicate
        }
        let summary: [String: Int]
        switch command {
        case .manifest(let manifest): summary = try Self.apply(manifest, agency: agencyId, db: db, at: at)
        case .groupStatus(let report): summary = try Self.apply(report, agency: agencyId, db: db, at: at)
        case .touristCheckin(let checkin): summary = try Self.apply(checkin, agency: agencyId, db: db, at: at)
        }
        let summaryJSON = "{" + summary.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        try db.cachedStatement(sql: """
            INSERT INTO agency_events (agency_id, webhook_id, type, body, received_at, summary) VALUES (?, ?, ?, ?, ?, ?)
            """).execute(arguments: [agencyId, event.webhookId, event.type, event.body, at.ms, summaryJSON])
        return .applied(summary: summary)
    }

    /// A manifest: the group, then each tourist — the agency's own tourist, else the citizen
    /// with the same phone, else with the same passport, else a new citizen — linked to the
    /// agency and group; tourists of the group missing from it are detached, not deleted.
    static func apply(_ manifest: Manifest, agency: String, db: Database, at: Date) throws -> [String: Int] {
        let group = manifest.group
        try db.execute(
            sql: """
                INSERT INTO agency_groups (agency_id, group_id, name, country, city, hotel, return_flight, return_date, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (agency_id, group_id) DO UPDATE SET name = excluded.name, country = excluded.country, city = excluded.city,
                    hotel = excluded.hotel, return_flight = excluded.return_flight, return_date = excluded.return_date, updated_at = excluded.updated_at
                """,
            arguments: [agency, group.id, group.name, group.destination.country, group.destination.city, group.hotel,
                        group.returnFlight?.number, group.returnFlight?.date, at.ms, at.ms])
        var created = 0, updated = 0, linked = 0
        for tourist in manifest.tourists {
            let phone = tourist.phone.flatMap(PhoneNumber.init)?.e164
            let known = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT citizen_id, linked FROM agency_tourists WHERE agency_id = ? AND tourist_id = ?"), arguments: [agency, tourist.id])
            var citizenId: Int64? = known?["citizen_id"]
            // The agency's own tourist (one its manifest created): its data is the agency's to change.
            let ours = known != nil && known?["linked"] == false
            var linkedNow = known?["linked"] ?? false
            if citizenId == nil, let phone {
                citizenId = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM citizens WHERE phone = ? ORDER BY id LIMIT 1"), arguments: [phone])
            }
            if citizenId == nil, let passport = tourist.passportNumber {
                citizenId = try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT id FROM citizens WHERE passport_number = ? ORDER BY id LIMIT 1"), arguments: [passport])
            }
            if let id = citizenId {
                // A citizen HQ registered keeps its name and language; the agency's own tourist
                // takes the manifest's. Empty fields are filled either way. A citizen another
                // agency has is linked, but its agency, group and whereabouts stay that agency's.
                try db.cachedStatement(sql: """
                    UPDATE citizens SET full_name = CASE WHEN ? THEN ? ELSE full_name END, language = CASE WHEN ? THEN ? ELSE language END,
                        phone = coalesce(phone, ?), email = coalesce(email, ?), passport_number = coalesce(passport_number, ?),
                        birth_date = coalesce(birth_date, ?),
                        country = CASE WHEN agency_id IS NULL OR agency_id = ? THEN ? ELSE country END,
                        city = CASE WHEN agency_id IS NULL OR agency_id = ? THEN coalesce(?, city) ELSE city END,
                        group_id = CASE WHEN agency_id IS NULL OR agency_id = ? THEN ? ELSE group_id END,
                        agency_id = coalesce(agency_id, ?), updated_at = ?
                    WHERE id = ?
                    """).execute(arguments: [
                        ours, tourist.fullName, ours && tourist.language != nil, tourist.language?.rawValue, phone, tourist.email,
                        tourist.passportNumber, tourist.birthDate, agency, group.destination.country, agency, group.destination.city,
                        agency, group.id, agency, at.ms, id,
                    ])
                if known != nil { updated += 1 } else { linked += 1; linkedNow = true }
            } else {
                let citizen = NewCitizen(
                    id: .unsaved, fullName: tourist.fullName, language: tourist.language ?? .russian, phone: phone.map(PhoneNumber.init(storedE164:)),
                    email: tourist.email, country: group.destination.country, city: group.destination.city, groupId: group.id, agencyId: agency,
                    passportNumber: tourist.passportNumber, birthDate: tourist.birthDate, createdAt: at, updatedAt: at)
                citizenId = try insert(citizen, db).id
                created += 1
            }
            try db.cachedStatement(sql: """
                INSERT INTO agency_tourists (agency_id, tourist_id, citizen_id, group_id, linked, manifest_name) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (agency_id, tourist_id) DO UPDATE SET citizen_id = excluded.citizen_id, group_id = excluded.group_id,
                    manifest_name = excluded.manifest_name, detached_from = NULL, detached_at = NULL
                """).execute(arguments: [agency, tourist.id, citizenId, group.id, linkedNow, tourist.fullName])
        }
        let present = Set(manifest.tourists.map(\.id))
        var detached = 0
        for row in try Row.fetchAll(
            db, sql: "SELECT tourist_id, citizen_id FROM agency_tourists WHERE agency_id = ? AND group_id = ?", arguments: [agency, group.id])
        where !present.contains(row["tourist_id"]) {
            try db.execute(
                sql: "UPDATE agency_tourists SET group_id = NULL, detached_from = ?, detached_at = ? WHERE agency_id = ? AND tourist_id = ?",
                arguments: [group.id, at.ms, agency, row["tourist_id"]])
            try db.execute(
                sql: "UPDATE citizens SET group_id = NULL, updated_at = ? WHERE id = ? AND agency_id = ? AND group_id = ?",
                arguments: [at.ms, row["citizen_id"], agency, group.id])
            detached += 1
        }
        return ["created": created, "updated": updated, "linked": linked, "detached": detached]
    }

    static func apply(_ report: GroupStatusReport, agency: String, db: Database, at: Date) throws -> [String: Int] {
        // The group's latest status is the one reported latest in time (reports may cross).
        try db.cachedStatement(sql: """
            UPDATE agency_groups SET status = CASE WHEN status_at IS NULL OR status_at <= ?4 THEN ?1 ELSE status END,
                status_place = CASE WHEN status_at IS NULL OR status_at <= ?4 THEN ?2 ELSE status_place END,
                status_at = max(coalesce(status_at, ?4), ?4), updated_at = ?3
            WHERE agency_id = ?5 AND group_id = ?6
            """).execute(arguments: [report.status.rawValue, report.place, at.ms, report.at.ms, agency, report.groupId])
        guard db.changesCount == 1 else {
            throw ValidationFailure([FieldError(pointer: "/data/groupId", detail: "this agency has no group '\(report.groupId)' (send its manifest first)")])
        }
        try db.cachedStatement(sql: "INSERT INTO agency_group_events (agency_id, group_id, status, place, at) VALUES (?, ?, ?, ?, ?)")
            .execute(arguments: [agency, report.groupId, report.status.rawValue, report.place, report.at.ms])
        return ["groups": 1]
    }

    static func apply(_ checkin: TouristCheckin, agency: String, db: Database, at: Date) throws -> [String: Int] {
        guard let citizen = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT citizen_id FROM agency_tourists WHERE agency_id = ? AND tourist_id = ?"), arguments: [agency, checkin.touristId])
        else { throw checkin.unknownTourist() }
        let when = checkin.answeredAt(receivedAt: at)
        let open = try Int64.fetchOne(db.cachedStatement(sql: "SELECT (\(openCheckinSQL)) FROM citizens c WHERE c.id = ?"), arguments: [when.ms, citizen])
        try record(checkin.answer(citizenId: citizen, openRequest: open, agency: agency, receivedAt: at), db: db)
        return ["checkins": 1]
    }
}

// MARK: Reconciliation

extension SQLiteStore {
    /// The columns of `agency_groups g` and its tally over `agency_tourists t` and `citizens c`.
    static let groupColumns = """
        g.id, g.agency_id, g.group_id, g.name, g.country, g.city, g.hotel, g.return_flight, g.return_date,
        g.status, g.status_place, g.status_at, g.created_at, g.updated_at,
        COUNT(c.id) AS on_manifest, TOTAL(c.welfare_status = \(WelfareStatus.safe.sql)) AS safe, TOTAL(c.welfare_status = \(WelfareStatus.needsHelp.sql)) AS needs_help,
        TOTAL(c.welfare_status = \(WelfareStatus.unreached.sql)) AS unreached, TOTAL(c.welfare_status = \(WelfareStatus.unknown.sql)) AS unknown
        FROM agency_groups g
        LEFT JOIN agency_tourists t ON t.agency_id = g.agency_id AND t.group_id = g.group_id
        LEFT JOIN citizens c ON c.id = t.citizen_id
        """

    public func agencyGroups(agencyId: String, page: PageRequest) async throws -> Page<AgencyGroup>? {
        try await writer.read { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM agencies WHERE id = ?)", arguments: [agencyId]) == true else { return nil }
            let rows = try Row.fetchAll(
                db, sql: "SELECT \(Self.groupColumns) WHERE g.agency_id = ? AND g.id > ? GROUP BY g.id ORDER BY g.id LIMIT ?",
                arguments: [agencyId, page.after ?? 0, page.limit + 1])
            return Page(fetched: rows.map(Self.agencyGroup), limit: page.limit, id: \.id)
        }
    }

    public func groupReconciliation(id: Int64) async throws -> GroupReconciliation? {
        try await writer.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.groupColumns) WHERE g.id = ? GROUP BY g.id", arguments: [id]) else { return nil }
            let group = Self.agencyGroup(row)
            let columns = """
                t.tourist_id, t.citizen_id, t.manifest_name, t.linked, t.detached_at, c.full_name, c.phone, c.email, c.language,
                c.welfare_status, c.last_contact_at, c.last_contact_source
                FROM agency_tourists t JOIN citizens c ON c.id = t.citizen_id
                """
            let members = try Row.fetchAll(
                db, sql: "SELECT \(columns) WHERE t.agency_id = ? AND t.group_id = ? ORDER BY t.tourist_id",
                arguments: [group.agencyId, group.groupId]
            ).map(Self.groupMember)
            let detached = try Row.fetchAll(
                db, sql: "SELECT \(columns) WHERE t.agency_id = ? AND t.group_id IS NULL AND t.detached_from = ? ORDER BY t.tourist_id",
                arguments: [group.agencyId, group.groupId]
            ).map(Self.groupMember)
            let history = try Row.fetchAll(
                db, sql: "SELECT status, place, at FROM agency_group_events WHERE agency_id = ? AND group_id = ? ORDER BY at, id",
                arguments: [group.agencyId, group.groupId]
            ).compactMap { row in
                GroupStatus(rawValue: row["status"]).map { GroupStatusEvent(status: $0, place: row["place"], at: Date(ms: row["at"])) }
            }
            return GroupReconciliation(group: group, members: members, detached: detached, statusHistory: history)
        }
    }

    static func agencyGroup(_ row: Row) -> AgencyGroup {
        let status = (row["status"] as String?).flatMap(GroupStatus.init(rawValue:)).map {
            GroupStatusEvent(status: $0, place: row["status_place"], at: Date(ms: row["status_at"] ?? row["updated_at"]))
        }
        let flight = (row["return_flight"] as String?).map { Manifest.ReturnFlight(number: $0, date: row["return_date"] ?? "") }
        return AgencyGroup(
            id: row["id"], agencyId: row["agency_id"], groupId: row["group_id"], name: row["name"],
            destination: Manifest.Destination(country: row["country"], city: row["city"]), hotel: row["hotel"], returnFlight: flight,
            status: status,
            tally: GroupTally(
                onManifest: row["on_manifest"], safe: Int(row["safe"] as Double), needsHelp: Int(row["needs_help"] as Double),
                unreached: Int(row["unreached"] as Double), unknown: Int(row["unknown"] as Double)),
            createdAt: Date(ms: row["created_at"]), updatedAt: Date(ms: row["updated_at"]))
    }

    static func groupMember(_ row: Row) -> GroupMember {
        GroupMember(
            touristId: row["tourist_id"], citizenId: row["citizen_id"], fullName: row["full_name"], manifestName: row["manifest_name"],
            phone: row["phone"], email: row["email"], language: Language(rawValue: row["language"]) ?? .russian, linked: row["linked"],
            welfareStatus: WelfareStatus(rawValue: row["welfare_status"]) ?? .unknown,
            lastContactAt: (row["last_contact_at"] as Int64?).map(Date.init(ms:)),
            lastContactSource: (row["last_contact_source"] as String?).flatMap(CheckinSource.init(rawValue:)),
            detachedAt: (row["detached_at"] as Int64?).map(Date.init(ms:)))
    }
}
