import Foundation
import GRDB
import HabarCore
import HabarMessages

/// Row ↔ domain mapping. Storage rows never leave this target; domain types do.
extension SQLiteStore {
    static func citizen(_ row: Row) -> Citizen {
        let lat: Double? = row["lat"]
        let lon: Double? = row["lon"]
        let tags: String = row["tags"]
        var citizen = Citizen(
            id: row["id"], fullName: row["full_name"], language: Language(rawValue: row["language"]) ?? .russian,
            phone: (row["phone"] as String?).flatMap(PhoneNumber.init), email: row["email"], country: row["country"],
            city: row["city"], position: lat.flatMap { lat in lon.map { GeoPoint(lat: lat, lon: $0) } },
            groupId: row["group_id"], agencyId: row["agency_id"],
            tags: tags.split(separator: "|").map(String.init), passportNumber: row["passport_number"],
            birthDate: row["birth_date"], welfareStatus: WelfareStatus(rawValue: row["welfare_status"]) ?? .unknown,
            lastContactAt: (row["last_contact_at"] as Int64?).map(Date.init(ms:)),
            createdAt: Date(ms: row["created_at"]), updatedAt: Date(ms: row["updated_at"]))
        citizen.lastContactSource = (row["last_contact_source"] as String?).flatMap(CheckinSource.init(rawValue:))
        return citizen
    }

    static func token(_ row: Row) -> AccessToken {
        AccessToken(
            id: row["id"], name: row["name"], role: Role(rawValue: row["role"]) ?? .viewer, agencyId: row["agency_id"],
            tokenHash: row["token_hash"], createdAt: Date(ms: row["created_at"]),
            revokedAt: (row["revoked_at"] as Int64?).map(Date.init(ms:)))
    }

    static func advisory(_ row: Row) throws -> Advisory {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        func decode<T: Decodable>(_ type: T.Type, _ column: String) throws -> T {
            try decoder.decode(T.self, from: Data((row[column] as String).utf8))
        }
        return Advisory(
            id: row["id"], kind: AdvisoryKind(rawValue: row["kind"]) ?? .general,
            severity: Severity(rawValue: row["severity"]) ?? .unknown,
            audience: try decode(Audience.self, "audience"), params: try decode(AdvisoryParameters.self, "params"),
            template: row["template"], channelPlan: try decode(ChannelPlan.self, "channel_plan"),
            expiresAt: Date(ms: row["expires_at"]), status: AdvisoryStatus(rawValue: row["status"]) ?? .draft,
            version: row["version"], author: row["author"], approver: row["approver"], createdAt: Date(ms: row["created_at"]),
            publishedAt: (row["published_at"] as Int64?).map(Date.init(ms:)),
            cancelledAt: (row["cancelled_at"] as Int64?).map(Date.init(ms:)),
            scope: AdvisoryScope(rawValue: row["scope"]) ?? .restricted,
            publishAt: (row["publish_at"] as Int64?).map(Date.init(ms:)),
            authorTokenId: row["author_token_id"], approverTokenId: row["approver_token_id"],
            pendingCorrection: try (row["pending_correction"] as String?).map { json in
                PendingCorrection(
                    correction: try decoder.decode(AdvisoryCorrection.self, from: Data(json.utf8)),
                    author: row["pending_author"] ?? "", authorTokenId: row["pending_author_token_id"])
            },
            cancelNoticeVersion: row["cancel_notice_version"],
            places: try decode([PlaceUse].self, "places"), exercise: row["exercise"] as Bool? ?? false,
            interruptedAt: (row["interrupted_at"] as Int64?).map { Date(ms: $0) }, interruptedBy: row["interrupted_by"])
    }

    static func delivery(_ row: Row, installation: String) -> Delivery {
        let id: Int64 = row["id"]
        let step: Int = row["step"]
        return Delivery(
            id: id, advisoryId: row["advisory_id"], advisoryVersion: row["advisory_version"], citizenId: row["citizen_id"],
            subscriberId: row["subscriber_id"], language: Language(rawValue: row["language"]) ?? .russian,
            steps: (row["steps"] as String).split(separator: ",").map(String.init), step: step,
            state: DeliveryState(rawValue: row["state"]) ?? .queued, attempts: row["attempts"],
            nextAttemptAt: Date(ms: row["next_attempt_at"]), leaseOwner: row["lease_owner"],
            leaseExpiresAt: (row["lease_expires_at"] as Int64?).map(Date.init(ms:)), providerMessageId: row["provider_message_id"],
            lastError: row["last_error"], expiresAt: Date(ms: row["expires_at"]), createdAt: Date(ms: row["created_at"]),
            updatedAt: Date(ms: row["updated_at"]), stepStartedAt: Date(ms: row["step_started_at"]),
            idempotencyKey: Delivery.idempotencyKey(installation: installation, delivery: id, step: step), groupId: row["agency_group"],
            purpose: DeliveryPurpose(rawValue: row["purpose"]) ?? .advisory)
    }
}
