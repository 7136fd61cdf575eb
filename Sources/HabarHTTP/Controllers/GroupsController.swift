import Foundation
import HabarCore
import HabarMessages
import Hummingbird

/// HQ's reconciliation of agencies' groups: `GET /v1/agencies/{id}/groups` (each group with
/// its tally) and `GET /v1/groups/{id}` (who is on the manifest and how each is, who is
/// unaccounted for, who was detached, every status the agency reported). Viewers see all;
/// an agency token sees only its own groups.
struct GroupsController {
    let gateway: Gateway

    func addRoutes(to group: RouterGroup<HabarRequestContext>) {
        group.get("{id}") { _, context in try await show(context) }
    }

    /// The agency's groups, mounted under `/v1/agencies/{id}/groups`.
    func list(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let identity = try context.require(.viewer, .agency)
        let agencyId = context.parameters.get("id") ?? ""
        try Self.checkOwn(identity, agencyId, what: "agency \(agencyId)'s groups")
        guard let page = try await gateway.roles.agencies.agencyGroups(agencyId: agencyId, page: try Listing.page(request)) else {
            throw Problem(.notFound, detail: "no agency '\(agencyId)'")
        }
        return try Listing.response(page) { GroupBody($0) }
    }

    func show(_ context: HabarRequestContext) async throws -> Response {
        let identity = try context.require(.viewer, .agency)
        let id = try context.id("group")
        guard let found = try await gateway.roles.agencies.groupReconciliation(id: id) else { throw Problem(.notFound, detail: "no group \(id)") }
        try Self.checkOwn(identity, found.group.agencyId, what: "group \(id)")
        return try JSONBody.response(ReconciliationBody(found))
    }

    /// An agency token reads only its own agency's groups (403 otherwise, as for other data).
    static func checkOwn(_ identity: AccessToken, _ agencyId: String, what: String) throws {
        if identity.role == .agency, identity.agencyId != agencyId {
            throw Problem(.forbidden, detail: "\(what) belong to another agency")
        }
    }

    // MARK: Bodies

    struct TallyBody: Encodable {
        var onManifest, safe, needsHelp, unreached, unknown, unaccountedFor: Int
        init(_ tally: GroupTally) {
            onManifest = tally.onManifest
            safe = tally.safe
            needsHelp = tally.needsHelp
            unreached = tally.unreached
            unknown = tally.unknown
            unaccountedFor = tally.unaccountedFor
        }
    }

    struct GroupBody: Encodable {
        var id: Int64
        var agencyId: String
        var groupId: String
        var name: String
        var destination: Manifest.Destination
        var hotel: String?
        var returnFlight: Manifest.ReturnFlight?
        /// Always present: null until the agency reports one.
        var status: GroupStatusEvent?
        var tally: TallyBody
        var createdAt: Date
        var updatedAt: Date

        init(_ group: AgencyGroup) {
            id = group.id
            agencyId = group.agencyId
            groupId = group.groupId
            name = group.name
            destination = group.destination
            hotel = group.hotel
            returnFlight = group.returnFlight
            status = group.status
            tally = TallyBody(group.tally)
            createdAt = group.createdAt
            updatedAt = group.updatedAt
        }

        enum CodingKeys: String, CodingKey { case id, agencyId, groupId, name, destination, hotel, returnFlight, status, tally, createdAt, updatedAt }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(agencyId, forKey: .agencyId)
            try container.encode(groupId, forKey: .groupId)
            try container.encode(name, forKey: .name)
            try container.encode(destination, forKey: .destination)
            try container.encodeIfPresent(hotel, forKey: .hotel)
            try container.encodeIfPresent(returnFlight, forKey: .returnFlight)
            try container.encode(status, forKey: .status)
            try container.encode(tally, forKey: .tally)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(updatedAt, forKey: .updatedAt)
        }
    }

    struct MemberBody: Encodable {
        var touristId: String
        var citizenId: Int64
        var fullName: String
        var manifestName: String?
        var phone: String?
        var email: String?
        var language: Language
        var linked: Bool
        var checkinStatus: WelfareStatus
        var lastContactAt: Date?
        var lastContactSource: CheckinSource?
        var detachedAt: Date?

        init(_ member: GroupMember) {
            touristId = member.touristId
            citizenId = member.citizenId
            fullName = member.fullName
            manifestName = member.manifestName
            phone = member.phone
            email = member.email
            language = member.language
            linked = member.linked
            checkinStatus = member.welfareStatus
            lastContactAt = member.lastContactAt
            lastContactSource = member.lastContactSource
            detachedAt = member.detachedAt
        }
    }

    struct ReconciliationBody: Encodable {
        var group: GroupBody
        var tourists: [MemberBody]
        /// Tourist ids of the manifest HQ has no word from (status unknown or unreached).
        var unaccountedFor: [String]
        var detached: [MemberBody]
        var statusHistory: [GroupStatusEvent]

        init(_ reconciliation: GroupReconciliation) {
            group = GroupBody(reconciliation.group)
            tourists = reconciliation.members.map(MemberBody.init)
            unaccountedFor = reconciliation.members.filter(\.isUnaccountedFor).map(\.touristId)
            detached = reconciliation.detached.map(MemberBody.init)
            statusHistory = reconciliation.statusHistory
        }

        func encode(to encoder: any Encoder) throws {
            try group.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(tourists, forKey: .tourists)
            try container.encode(unaccountedFor, forKey: .unaccountedFor)
            try container.encode(detached, forKey: .detached)
            try container.encode(statusHistory, forKey: .statusHistory)
        }

        enum CodingKeys: String, CodingKey { case tourists, unaccountedFor, detached, statusHistory }
    }
}
