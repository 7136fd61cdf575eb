import Foundation
import HabarMessages

/// One of an agency's tourist groups as HQ sees it: what the latest manifest says, where the
/// agency last reported the group, and how its tourists are doing.
public struct AgencyGroup: Sendable, Hashable, Identifiable {
    /// Habar's id for the group (`/v1/groups/{id}`).
    public var id: Int64
    public var agencyId: String
    /// The agency's own id for the group, as its webhooks name it.
    public var groupId: String
    public var name: String
    public var destination: Manifest.Destination
    public var hotel: String?
    public var returnFlight: Manifest.ReturnFlight?
    /// The agency's latest `group.status`, if any.
    public var status: GroupStatusEvent?
    public var tally: GroupTally
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: Int64, agencyId: String, groupId: String, name: String, destination: Manifest.Destination, hotel: String?,
        returnFlight: Manifest.ReturnFlight?, status: GroupStatusEvent?, tally: GroupTally, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.agencyId = agencyId
        self.groupId = groupId
        self.name = name
        self.destination = destination
        self.hotel = hotel
        self.returnFlight = returnFlight
        self.status = status
        self.tally = tally
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Where a group was, as its agency reported it.
public struct GroupStatusEvent: Sendable, Hashable, Codable {
    public var status: GroupStatus
    public var place: String?
    public var at: Date

    public init(status: GroupStatus, place: String?, at: Date) {
        self.status = status
        self.place = place
        self.at = at
    }
}

/// The tourists on a group's manifest by their welfare status. `unaccountedFor` is everyone
/// HQ has no word from: status unknown, or every message to them failed.
public struct GroupTally: Sendable, Hashable, Codable {
    public var onManifest: Int
    public var safe: Int
    public var needsHelp: Int
    public var unreached: Int
    public var unknown: Int

    public init(onManifest: Int = 0, safe: Int = 0, needsHelp: Int = 0, unreached: Int = 0, unknown: Int = 0) {
        self.onManifest = onManifest
        self.safe = safe
        self.needsHelp = needsHelp
        self.unreached = unreached
        self.unknown = unknown
    }

    public var unaccountedFor: Int { unknown + unreached }
}

/// One tourist of a group: the agency's id for them, the citizen they are, and what HQ knows
/// of their safety.
public struct GroupMember: Sendable, Hashable {
    public var touristId: String
    public var citizenId: Int64
    /// The citizen's name (HQ's, for a tourist linked to a citizen HQ registered).
    public var fullName: String
    /// The name the agency's manifest gives.
    public var manifestName: String?
    public var phone: String?
    public var email: String?
    public var language: Language
    /// Matched to a citizen registered before the manifest (by phone or passport).
    public var linked: Bool
    public var welfareStatus: WelfareStatus
    public var lastContactAt: Date?
    public var lastContactSource: CheckinSource?
    /// For a tourist detached from the group: when a later manifest left them out.
    public var detachedAt: Date?

    public init(
        touristId: String, citizenId: Int64, fullName: String, manifestName: String?, phone: String?, email: String?, language: Language,
        linked: Bool, welfareStatus: WelfareStatus, lastContactAt: Date?, lastContactSource: CheckinSource?, detachedAt: Date? = nil
    ) {
        self.touristId = touristId
        self.citizenId = citizenId
        self.fullName = fullName
        self.manifestName = manifestName
        self.phone = phone
        self.email = email
        self.language = language
        self.linked = linked
        self.welfareStatus = welfareStatus
        self.lastContactAt = lastContactAt
        self.lastContactSource = lastContactSource
        self.detachedAt = detachedAt
    }

    /// HQ has no word from them (status unknown, or every message failed).
    public var isUnaccountedFor: Bool { welfareStatus == .unknown || welfareStatus == .unreached }
}

/// HQ's reconciliation of one group: who is on the manifest and how each is, who was taken
/// off it, and every status the agency reported.
public struct GroupReconciliation: Sendable, Hashable {
    public var group: AgencyGroup
    public var members: [GroupMember]
    /// Tourists a later manifest of this group left out (detached, not deleted).
    public var detached: [GroupMember]
    /// Every `group.status` the agency sent for this group, oldest first.
    public var statusHistory: [GroupStatusEvent]

    public init(group: AgencyGroup, members: [GroupMember], detached: [GroupMember], statusHistory: [GroupStatusEvent]) {
        self.group = group
        self.members = members
        self.detached = detached
        self.statusHistory = statusHistory
    }
}
