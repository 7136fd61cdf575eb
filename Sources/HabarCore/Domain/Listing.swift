import Foundation

/// One page of a list: up to `limit` items after the item with id `after`, in id order.
public struct PageRequest: Sendable, Hashable {
    public static let defaultLimit = 50
    public static let maxLimit = 500

    public var limit: Int
    public var after: Int64?

    public init(limit: Int = PageRequest.defaultLimit, after: Int64? = nil) {
        self.limit = limit
        self.after = after
    }
}

/// A page of items and the id to continue after, nil on the last page.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextAfter: Int64?

    public init(items: [Item], nextAfter: Int64?) {
        self.items = items
        self.nextAfter = nextAfter
    }

    /// Builds a page from up to `limit + 1` fetched items: the extra one only says there is more.
    public init(fetched: [Item], limit: Int, id: (Item) -> Int64?) {
        if fetched.count > limit {
            self.items = Array(fetched.prefix(limit))
            self.nextAfter = items.last.flatMap(id)
        } else {
            self.items = fetched
            self.nextAfter = nil
        }
    }
}

/// Which citizens a list shows; every set field must match.
public struct CitizenFilter: Sendable, Hashable {
    public var country: String?
    public var city: String?
    public var groupId: String?
    public var agencyId: String?
    public var tag: String?
    public var checkinStatus: WelfareStatus?
    /// A phone or name query (`CitizenSearch`'s rule); nil or empty: everyone.
    public var search: String?
    /// Only what this agency may see: its own citizens and the tourists on its manifests.
    public var visibleToAgency: String?

    public init(
        country: String? = nil, city: String? = nil, groupId: String? = nil, agencyId: String? = nil, tag: String? = nil,
        checkinStatus: WelfareStatus? = nil
    ) {
        self.country = country
        self.city = city
        self.groupId = groupId
        self.agencyId = agencyId
        self.tag = tag
        self.checkinStatus = checkinStatus
    }
}

/// Which deliveries a list shows; every set field must match.
public struct DeliveryFilter: Sendable, Hashable {
    public var advisoryId: Int64?
    public var citizenId: Int64?
    public var state: DeliveryState?
    public var channel: String?
    /// Group advisories about this group.
    public var groupId: Int64?

    public init(advisoryId: Int64? = nil, citizenId: Int64? = nil, state: DeliveryState? = nil, channel: String? = nil, groupId: Int64? = nil) {
        self.groupId = groupId
        self.advisoryId = advisoryId
        self.citizenId = citizenId
        self.state = state
        self.channel = channel
    }
}

/// Which advisories a list shows.
public struct AdvisoryFilter: Sendable, Hashable {
    public var status: AdvisoryStatus?
    /// With `status` draft: only approved drafts waiting for `publishAt` (true, the API's
    /// `scheduled`) or only those not yet approved (false, the API's `draft`).
    public var scheduled: Bool?
    public var kind: AdvisoryKind?
    /// Only `public` ones that have been published (the CAP feed).
    public var publishedPublicOnly: Bool
    /// Only those whose expiry is after this time.
    public var inForceAt: Date?
    /// Only exercises (true) or only live advisories (false).
    public var exercise: Bool?

    public init(
        status: AdvisoryStatus? = nil, scheduled: Bool? = nil, kind: AdvisoryKind? = nil, publishedPublicOnly: Bool = false, inForceAt: Date? = nil,
        exercise: Bool? = nil
    ) {
        self.exercise = exercise
        self.status = status
        self.scheduled = scheduled
        self.kind = kind
        self.publishedPublicOnly = publishedPublicOnly
        self.inForceAt = inForceAt
    }
}

/// An advisory's status as the API shows and filters it: a draft that was approved and waits
/// for its `publishAt` is `scheduled`.
public enum ListedAdvisoryStatus: String, Sendable, CaseIterable {
    case draft, scheduled, published, cancelled, expired

    /// The store's filter for this status.
    public var filter: (status: AdvisoryStatus, scheduled: Bool?) {
        switch self {
        case .draft: (.draft, false)
        case .scheduled: (.draft, true)
        case .published: (.published, nil)
        case .cancelled: (.cancelled, nil)
        case .expired: (.expired, nil)
        }
    }
}
