import Foundation
import GRDB
import HabarCore
import HabarMessages

/// Duplicate citizens: what the search for them reads, pairs operators dismissed, and the
/// merge that keeps every history.
extension SQLiteStore {
    public func mergeCandidates() async throws -> (candidates: [MergeCandidate], dismissed: Set<[Int64]>) {
        try await writer.read { db in
            let candidates = try Row.fetchAll(db, sql: "SELECT id, full_name, birth_date, country, passport_number FROM citizens").map { row in
                MergeCandidate(id: row[0], fullName: row[1], birthDate: row[2], country: row[3], passportNumber: row[4])
            }
            let dismissed = try Row.fetchAll(db, sql: "SELECT citizen_a, citizen_b FROM merge_dismissals").map { [$0[0] as Int64, $0[1] as Int64] }
            return (candidates, Set(dismissed))
        }
    }

    public func dismissMergeSuggestion(_ first: Int64, _ second: Int64, actor: String, at: Date) async throws -> Bool {
        try await writer.write { db in
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM citizens WHERE id IN (?, ?)", arguments: [first, second]) ?? 0
            guard count == 2 else { return false }
            try db.execute(
                sql: "INSERT OR IGNORE INTO merge_dismissals (citizen_a, citizen_b, actor, at) VALUES (?, ?, ?, ?)",
                arguments: [min(first, second), max(first, second), actor, at.ms])
            return true
        }
    }

    public func citizens(ids: [Int64]) async throws -> [Int64: Citizen] {
        guard !ids.isEmpty else { return [:] }
        return try await writer.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM citizens WHERE id IN (SELECT value FROM json_each(?))", arguments: [Self.idList(ids)])
            return Dictionary(rows.map(Self.citizen).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    public func citizenMerges(citizenId: Int64) async throws -> [CitizenMerge] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT merged_id, actor, at FROM citizen_merges WHERE citizen_id = ? ORDER BY id", arguments: [citizenId])
                .map { CitizenMerge(mergedId: $0[0], actor: $0[1], at: Date(ms: $0[2])) }
        }
    }

    public func mergedInto(citizenId: Int64) async throws -> Int64? {
        try await writer.read { db in
            try Int64.fetchOne(db, sql: "SELECT citizen_id FROM citizen_merges WHERE merged_id = ?", arguments: [citizenId])
        }
    }

    /// Everything of `duplicate` moves to `keep`: deliveries (with their events), welfare
    /// history, check-in answers (the later answer per request stays current), hotline cases
    /// (two open cases become one, the other resolved with a note), incoming SMS, agency
    /// links and group advisory lists. `keep`'s fields stay; its empty ones are filled from
    /// `duplicate`; the later contact decides the welfare status. `duplicate`'s record is kept
    /// as it was in `citizen_merges`, then removed.
    public func mergeCitizens(keep: Int64, duplicate: Int64, actor: String, at: Date) async throws -> Citizen {
        try await writer.write { db in
            guard let kept = try Row.fetchOne(db, sql: "SELECT * FROM citizens WHERE id = ?", arguments: [keep]) else {
                throw OperationError.notFound("citizen \(keep)")
            }
            guard let merged = try Row.fetchOne(db, sql: "SELECT * FROM citizens WHERE id = ?", arguments: [duplicate]) else {
                throw OperationError.notFound("citizen \(duplicate)")
            }
            let now = at.ms
            try db.execute(
                sql: "INSERT INTO citizen_merges (citizen_id, merged_id, merged_phone, merged_record, actor, at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [keep, duplicate, merged["phone"] as String?, Self.json(merged), actor, now])
            try db.execute(sql: "UPDATE citizen_merges SET citizen_id = ? WHERE citizen_id = ?", arguments: [keep, duplicate])

            // Fields: the kept record's, its gaps filled; tags joined; the later contact's welfare.
            let tags = Set((kept["tags"] as String).split(separator: "|") + (merged["tags"] as String).split(separator: "|")).sorted()
            let keptContact: Int64 = kept["last_contact_at"] ?? -1
            let mergedContact: Int64 = merged["last_contact_at"] ?? -1
            let keptStatus: String = kept["welfare_status"]
            let mergedStatus: String = merged["welfare_status"]
            let fillsUnknown = keptStatus == "unknown" && mergedStatus != "unknown" && mergedContact >= keptContact
            let takeWelfare = mergedContact > keptContact || fillsUnknown
            let source = takeWelfare ? merged : kept
            try db.execute(
                sql: """
                    UPDATE citizens SET phone = coalesce(phone, ?), email = coalesce(email, ?), passport_number = coalesce(passport_number, ?),
                        birth_date = coalesce(birth_date, ?), city = coalesce(city, ?),
                        lat = CASE WHEN lat IS NULL THEN ? ELSE lat END, lon = CASE WHEN lat IS NULL THEN ? ELSE lon END,
                        group_id = coalesce(group_id, ?), agency_id = coalesce(agency_id, ?), tags = ?,
                        welfare_status = ?, last_contact_at = ?, last_contact_source = ?, updated_at = ?
                    WHERE id = ?
                    """,
                arguments: [
                    merged["phone"] as String?, merged["email"] as String?, merged["passport_number"] as String?,
                    merged["birth_date"] as String?, merged["city"] as String?, merged["lat"] as Double?, merged["lon"] as Double?,
                    merged["group_id"] as String?, merged["agency_id"] as String?, tags.isEmpty ? "" : "|" + tags.joined(separator: "|") + "|",
                    source["welfare_status"] as String, source["last_contact_at"] as Int64?, source["last_contact_source"] as String?, now, keep,
                ])

            // Deliveries: one of the same version and plan entry as the kept record's gets a plan
            // index of its own (minus its id), so both stay.
            try db.execute(
                sql: """
                    UPDATE deliveries SET plan_index = -id WHERE citizen_id = ? AND EXISTS (
                        SELECT 1 FROM deliveries k WHERE k.citizen_id = ? AND k.advisory_id = deliveries.advisory_id
                            AND k.advisory_version = deliveries.advisory_version AND k.purpose = deliveries.purpose
                            AND k.plan_index = deliveries.plan_index)
                    """,
                arguments: [duplicate, keep])
            try db.execute(sql: "UPDATE deliveries SET citizen_id = ? WHERE citizen_id = ?", arguments: [keep, duplicate])

            // Answers: per check-in request the later one stays current (every one is in the history).
            try db.execute(
                sql: """
                    DELETE FROM checkins WHERE citizen_id = ? AND EXISTS (
                        SELECT 1 FROM checkins k WHERE k.citizen_id = ? AND k.advisory_id = checkins.advisory_id AND k.answered_at >= checkins.answered_at)
                    """,
                arguments: [duplicate, keep])
            try db.execute(
                sql: """
                    DELETE FROM checkins WHERE citizen_id = ? AND EXISTS (
                        SELECT 1 FROM checkins d WHERE d.citizen_id = ? AND d.advisory_id = checkins.advisory_id)
                    """,
                arguments: [keep, duplicate])
            for table in ["checkins", "welfare_events", "inbound_sms", "agency_tourists", "group_advisory_tourists"] {
                try db.execute(sql: "UPDATE \(table) SET citizen_id = ? WHERE citizen_id = ?", arguments: [keep, duplicate])
            }

            // The hotline: at most one open case per citizen.
            let openKept = try Row.fetchOne(db, sql: "SELECT id, reason FROM cases WHERE citizen_id = ? AND status != 'resolved'", arguments: [keep])
            let openMerged = try Row.fetchOne(db, sql: "SELECT id, reason FROM cases WHERE citizen_id = ? AND status != 'resolved'", arguments: [duplicate])
            if let openKept, let openMerged {
                let into: Int64 = openKept["id"], from: Int64 = openMerged["id"]
                try db.execute(sql: "UPDATE case_entries SET case_id = ? WHERE case_id = ?", arguments: [into, from])
                if let reason = CaseReason(rawValue: openMerged["reason"]), let current = CaseReason(rawValue: openKept["reason"]), reason < current {
                    try db.execute(sql: "UPDATE cases SET reason = ?, priority = ? WHERE id = ?", arguments: [reason.rawValue, reason.priority, into])
                }
                try db.execute(sql: "UPDATE cases SET status = 'resolved', resolved_at = ?, updated_at = ? WHERE id = ?", arguments: [now, now, from])
                try db.execute(sql: "UPDATE cases SET updated_at = ? WHERE id = ?", arguments: [now, into])
                try db.execute(
                    sql: "INSERT INTO case_entries (case_id, kind, author, text, at) VALUES (?, 'status', ?, ?, ?), (?, 'status', ?, ?, ?)",
                    arguments: [into, actor, "case \(from) (citizen \(duplicate), merged into \(keep)) joined this case", now,
                                from, actor, "resolved: citizen \(duplicate) was merged into \(keep); its entries are in case \(into)", now])
            }
            try db.execute(sql: "UPDATE cases SET citizen_id = ? WHERE citizen_id = ?", arguments: [keep, duplicate])

            try db.execute(sql: "DELETE FROM merge_dismissals WHERE citizen_a = ? OR citizen_b = ?", arguments: [duplicate, duplicate])
            try db.execute(sql: "DELETE FROM citizens WHERE id = ?", arguments: [duplicate])
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM citizens WHERE id = ?", arguments: [keep]) else {
                throw OperationError.notFound("citizen \(keep)")
            }
            return Self.citizen(row)
        }
    }

    /// A row as a JSON object, column by column.
    static func json(_ row: Row) -> String {
        var object: [String: Any] = [:]
        for (column, value) in row {
            switch value.storage {
            case .null: object[column] = NSNull()
            case .int64(let number): object[column] = number
            case .double(let number): object[column] = number
            case .string(let text): object[column] = text
            case .blob(let data): object[column] = data.base64EncodedString()
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
