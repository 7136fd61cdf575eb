import Foundation
import HabarCore
import HabarMessages
import PostgresNIO

/// Duplicate citizens: what the search for them reads, pairs operators dismissed, and the
/// merge that keeps every history.
extension PostgresStore {
    public func mergeCandidates() async throws -> (candidates: [MergeCandidate], dismissed: Set<[Int64]>) {
        let read = try await write { pg in
            let candidates = try await pg.rows("SELECT id, full_name, birth_date, country, passport_number FROM citizens").map { row in
                MergeCandidate(
                    id: try row.get("id"), fullName: try row.get("full_name"), birthDate: try row.get("birth_date"),
                    country: try row.get("country"), passportNumber: try row.get("passport_number"))
            }
            let dismissed = try await pg.rows("SELECT citizen_a, citizen_b FROM merge_dismissals").map {
                [try $0.get("citizen_a", as: Int64.self), try $0.get("citizen_b", as: Int64.self)]
            }
            return MergeRead(candidates: candidates, dismissed: Set(dismissed))
        }
        return (read.candidates, read.dismissed)
    }

    struct MergeRead: Sendable {
        var candidates: [MergeCandidate]
        var dismissed: Set<[Int64]>
    }

    public func dismissMergeSuggestion(_ first: Int64, _ second: Int64, actor: String, at: Date) async throws -> Bool {
        try await write { pg in
            guard try await pg.run("SELECT 1 FROM citizens WHERE id IN (?, ?) FOR SHARE", first, second) == 2 else { return false }
            try await pg.run(
                "INSERT INTO merge_dismissals (citizen_a, citizen_b, actor, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                min(first, second), max(first, second), actor, at.ms)
            return true
        }
    }

    public func citizenMerges(citizenId: Int64) async throws -> [CitizenMerge] {
        try await read { pg in
            try await pg.rows("SELECT merged_id, actor, at FROM citizen_merges WHERE citizen_id = ? ORDER BY id", citizenId).map {
                CitizenMerge(mergedId: try $0.get("merged_id"), actor: try $0.get("actor"), at: try $0.date("at"))
            }
        }
    }

    public func mergedInto(citizenId: Int64) async throws -> Int64? {
        try await read { pg in try await pg.value("SELECT citizen_id FROM citizen_merges WHERE merged_id = ?", citizenId, as: Int64.self) }
    }

    /// Everything of `duplicate` moves to `keep` (see `CitizenStore.mergeCitizens`). Both
    /// citizens are locked first, in id order, so two merges touching one citizen cannot
    /// deadlock or interleave.
    public func mergeCitizens(keep: Int64, duplicate: Int64, actor: String, at: Date) async throws -> Citizen {
        try await write { pg in
            // After the fan-outs in flight: their deliveries to the duplicate move below too.
            try await Self.deletingCitizens(pg)
            let locked = try await pg.rows("SELECT * FROM citizens WHERE id IN (?, ?) ORDER BY id FOR UPDATE", keep, duplicate)
            guard let kept = try locked.first(where: { try $0.get("id", as: Int64.self) == keep }) else { throw OperationError.notFound("citizen \(keep)") }
            guard let merged = try locked.first(where: { try $0.get("id", as: Int64.self) == duplicate }) else {
                throw OperationError.notFound("citizen \(duplicate)")
            }
            let now = at.ms
            try await pg.run(
                """
                INSERT INTO citizen_merges (citizen_id, merged_id, merged_phone, merged_record, actor, at)
                SELECT ?, c.id, c.phone, (to_jsonb(c) - 'search_words')::text, ?, ? FROM citizens c WHERE c.id = ?
                """, keep, actor, now, duplicate)
            try await pg.run("UPDATE citizen_merges SET citizen_id = ? WHERE citizen_id = ?", keep, duplicate)

            // Fields: the kept record's, its gaps filled; tags joined; the later contact's welfare.
            let keptTags = try kept.get("tags", as: String.self), mergedTags = try merged.get("tags", as: String.self)
            let tags = Set(keptTags.split(separator: "|") + mergedTags.split(separator: "|")).sorted()
            let keptContact = try kept.get("last_contact_at", as: Int64?.self) ?? -1
            let mergedContact = try merged.get("last_contact_at", as: Int64?.self) ?? -1
            let keptStatus: String = try kept.get("welfare_status")
            let mergedStatus: String = try merged.get("welfare_status")
            let fillsUnknown = keptStatus == "unknown" && mergedStatus != "unknown" && mergedContact >= keptContact
            let source = mergedContact > keptContact || fillsUnknown ? merged : kept
            try await pg.run(
                """
                UPDATE citizens SET phone = coalesce(phone, ?), email = coalesce(email, ?), passport_number = coalesce(passport_number, ?),
                    birth_date = coalesce(birth_date, ?), city = coalesce(city, ?),
                    lat = CASE WHEN lat IS NULL THEN ?::double precision ELSE lat END, lon = CASE WHEN lat IS NULL THEN ?::double precision ELSE lon END,
                    group_id = coalesce(group_id, ?), agency_id = coalesce(agency_id, ?), tags = ?,
                    welfare_status = ?, last_contact_at = ?::bigint, last_contact_source = ?::text, updated_at = ?
                WHERE id = ?
                """,
                try merged.get("phone", as: String?.self), try merged.get("email", as: String?.self),
                try merged.get("passport_number", as: String?.self), try merged.get("birth_date", as: String?.self),
                try merged.get("city", as: String?.self), try merged.get("lat", as: Double?.self), try merged.get("lon", as: Double?.self),
                try merged.get("group_id", as: String?.self), try merged.get("agency_id", as: String?.self),
                Self.tagsColumn(tags),
                try source.get("welfare_status", as: String.self), try source.get("last_contact_at", as: Int64?.self),
                try source.get("last_contact_source", as: String?.self), now, keep)

            // Deliveries: one of the same version and plan entry as the kept record's gets a plan
            // index of its own (minus its id), so both stay.
            try await pg.run(
                """
                UPDATE deliveries d SET plan_index = -d.id WHERE d.citizen_id = ? AND EXISTS (
                    SELECT 1 FROM deliveries k WHERE k.citizen_id = ? AND k.advisory_id = d.advisory_id
                        AND k.advisory_version = d.advisory_version AND k.purpose = d.purpose AND k.plan_index = d.plan_index)
                """, duplicate, keep)
            try await pg.run("UPDATE deliveries SET citizen_id = ? WHERE citizen_id = ?", keep, duplicate)

            // Answers: per check-in request the later one stays current (every one is in the history).
            try await pg.run(
                """
                DELETE FROM checkins c WHERE c.citizen_id = ? AND EXISTS (
                    SELECT 1 FROM checkins k WHERE k.citizen_id = ? AND k.advisory_id = c.advisory_id AND k.answered_at >= c.answered_at)
                """, duplicate, keep)
            try await pg.run(
                """
                DELETE FROM checkins c WHERE c.citizen_id = ? AND EXISTS (
                    SELECT 1 FROM checkins d WHERE d.citizen_id = ? AND d.advisory_id = c.advisory_id)
                """, keep, duplicate)
            for table in ["checkins", "welfare_events", "inbound_sms", "agency_tourists", "group_advisory_tourists"] {
                try await pg.run("UPDATE \(table) SET citizen_id = ? WHERE citizen_id = ?", keep, duplicate)
            }

            // The hotline: at most one open case per citizen.
            let openKept = try await pg.row("SELECT id, reason FROM cases WHERE citizen_id = ? AND status <> 'resolved'", keep)
            let openMerged = try await pg.row("SELECT id, reason FROM cases WHERE citizen_id = ? AND status <> 'resolved'", duplicate)
            if let openKept, let openMerged {
                let into: Int64 = try openKept.get("id"), from: Int64 = try openMerged.get("id")
                try await pg.run("UPDATE case_entries SET case_id = ? WHERE case_id = ?", into, from)
                if let reason = CaseReason(rawValue: try openMerged.get("reason")), let current = CaseReason(rawValue: try openKept.get("reason")),
                    reason < current
                {
                    try await pg.run("UPDATE cases SET reason = ?, priority = ? WHERE id = ?", reason.rawValue, reason.priority, into)
                }
                try await pg.run("UPDATE cases SET status = 'resolved', resolved_at = ?, updated_at = ? WHERE id = ?", now, now, from)
                try await pg.run("UPDATE cases SET updated_at = ? WHERE id = ?", now, into)
                try await pg.run(
                    "INSERT INTO case_entries (case_id, kind, author, text, at) VALUES (?, 'status', ?, ?, ?), (?, 'status', ?, ?, ?)",
                    into, actor, "case \(from) (citizen \(duplicate), merged into \(keep)) joined this case", now,
                    from, actor, "resolved: citizen \(duplicate) was merged into \(keep); its entries are in case \(into)", now)
            }
            try await pg.run("UPDATE cases SET citizen_id = ? WHERE citizen_id = ?", keep, duplicate)

            try await pg.run("DELETE FROM merge_dismissals WHERE citizen_a = ? OR citizen_b = ?", duplicate, duplicate)
            try await pg.run("DELETE FROM citizens WHERE id = ?", duplicate)
            guard let row = try await pg.row("SELECT * FROM citizens WHERE id = ?", keep) else { throw OperationError.notFound("citizen \(keep)") }
            return try Self.citizen(row)
        }
    }
}
