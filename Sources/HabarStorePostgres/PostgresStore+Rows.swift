import Foundation
import HabarCore
import HabarMessages
import PostgresNIO

/// Row ↔ domain mapping. Storage rows never leave this target; domain types do.
extension PostgresStore {
    static func citizen(_ row: PostgresRandomAccessRow) throws -> Citizen {
        let lat = try row.get("lat", as: Double?.self)
        let lon = try row.get("lon", as: Double?.self)
        var citizen = Citizen(
            id: try row.get("id"), fullName: try row.get("full_name"), language: Language(rawValue: try row.get("language")) ?? .russian,
            phone: try row.get("phone", as: String?.self).flatMap(PhoneNumber.init), email: try row.get("email"),
            country: try row.get("country"), city: try row.get("city"),
            position: lat.flatMap { lat in lon.map { GeoPoint(lat: lat, lon: $0) } },
            groupId: try row.get("group_id"), agencyId: try row.get("agency_id"),
            tags: try row.get("tags", as: String.self).split(separator: "|").map(String.init), passportNumber: try row.get("passport_number"),
            birthDate: try row.get("birth_date"), welfareStatus: WelfareStatus(rawValue: try row.get("welfare_status")) ?? .unknown,
            lastContactAt: try row.optionalDate("last_contact_at"),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
        citizen.lastContactSource = try row.get("last_contact_source", as: String?.self).flatMap(CheckinSource.init(rawValue:))
        return citizen
    }

    static func token(_ row: PostgresRandomAccessRow) throws -> AccessToken {
        AccessToken(
            id: try row.get("id"), name: try row.get("name"), role: Role(rawValue: try row.get("role")) ?? .viewer,
            agencyId: try row.get("agency_id"), tokenHash: try row.get("token_hash"), createdAt: try row.date("created_at"),
            revokedAt: try row.optionalDate("revoked_at"))
    }

    static func advisory(_ row: PostgresRandomAccessRow) throws -> Advisory {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        func decode<T: Decodable>(_ type: T.Type, _ column: String) throws -> T {
            try decoder.decode(T.self, from: Data(try row.get(column, as: String.self).utf8))
        }
        let pendingJSON = try row.get("pending_correction", as: String?.self)
        return Advisory(
            id: try row.get("id"), kind: AdvisoryKind(rawValue: try row.get("kind")) ?? .general,
            severity: Severity(rawValue: try row.get("severity")) ?? .unknown,
            audience: try decode(Audience.self, "audience"), params: try decode(AdvisoryParameters.self, "params"),
            template: try row.get("template"), channelPlan: try decode(ChannelPlan.self, "channel_plan"),
            expiresAt: try row.date("expires_at"), status: AdvisoryStatus(rawValue: try row.get("status")) ?? .draft,
            version: try row.get("version"), author: try row.get("author"), approver: try row.get("approver"),
            createdAt: try row.date("created_at"), publishedAt: try row.optionalDate("published_at"),
            cancelledAt: try row.optionalDate("cancelled_at"),
            scope: AdvisoryScope(rawValue: try row.get("scope")) ?? .restricted,
            publishAt: try row.optionalDate("publish_at"),
            authorTokenId: try row.get("author_token_id"), approverTokenId: try row.get("approver_token_id"),
            pendingCorrection: try pendingJSON.map { json in
                PendingCorrection(
                    correction: try decoder.decode(AdvisoryCorrection.self, from: Data(json.utf8)),
                    author: try row.get("pending_author", as: String?.self) ?? "", authorTokenId: try row.get("pending_author_token_id"))
            },
            cancelNoticeVersion: try row.get("cancel_notice_version"),
            places: try decode([PlaceUse].self, "places"), exercise: try row.get("exercise"),
            interruptedAt: try row.optionalDate("interrupted_at"), interruptedBy: try row.get("interrupted_by"))
    }

    static func delivery(_ row: PostgresRandomAccessRow, installation: String) throws -> Delivery {
        let id: Int64 = try row.get("id")
        let step: Int = try row.get("step")
        return Delivery(
            id: id, advisoryId: try row.get("advisory_id"), advisoryVersion: try row.get("advisory_version"),
            citizenId: try row.get("citizen_id"), subscriberId: try row.get("subscriber_id"),
            language: Language(rawValue: try row.get("language")) ?? .russian,
            steps: try row.get("steps", as: String.self).split(separator: ",").map(String.init), step: step,
            state: DeliveryState(rawValue: try row.get("state")) ?? .queued, attempts: try row.get("attempts"),
            nextAttemptAt: try row.date("next_attempt_at"), leaseOwner: try row.get("lease_owner"),
            leaseExpiresAt: try row.optionalDate("lease_expires_at"), providerMessageId: try row.get("provider_message_id"),
            lastError: try row.get("last_error"), expiresAt: try row.date("expires_at"), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"), stepStartedAt: try row.date("step_started_at"),
            idempotencyKey: Delivery.idempotencyKey(installation: installation, delivery: id, step: step), groupId: try row.get("agency_group"),
            purpose: DeliveryPurpose(rawValue: try row.get("purpose")) ?? .advisory)
    }

    /// A value as the JSON the store keeps (sorted keys, RFC 3339 times).
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

// State names in SQL come from the domain's enums, never typed out: `state IN \(unescaped: DeliveryState.pending.sql)`.
extension RawRepresentable where RawValue == String {
    /// `'queued'`
    var sql: String { "'\(rawValue)'" }
}

extension Array where Element: RawRepresentable, Element.RawValue == String {
    /// `('queued', 'retrying')`
    var sql: String { "(" + map(\.sql).joined(separator: ", ") + ")" }
}
