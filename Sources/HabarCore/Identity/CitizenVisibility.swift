import Foundation

/// What a caller may see of citizens: HQ every record; a travel agency its own citizens and
/// the tourists on its manifests — a tourist it shares with another agency shown with this
/// agency and its own group, never the other's. The API and any other front end read
/// citizens through this, so the rule lives in one place.
public struct CitizenVisibility: Sendable {
    /// Who is looking.
    public enum Viewer: Sendable, Hashable {
        /// An HQ role: every record as stored.
        case headquarters
        /// A travel agency's token.
        case agency(String)

        public init(_ token: AccessToken) {
            self = token.role == .agency ? .agency(token.agencyId ?? "") : .headquarters
        }
    }

    let store: any CitizenStore & AgencyStore

    public init(store: any CitizenStore & AgencyStore) { self.store = store }

    /// One page of citizens the viewer may see. An agency asking for another agency's
    /// citizens is refused (`OperationError.forbidden`).
    public func citizens(_ filter: CitizenFilter, page: PageRequest, as viewer: Viewer) async throws -> Page<Citizen> {
        guard case .agency(let agency) = viewer else { return try await store.citizens(filter, page: page) }
        if let asked = filter.agencyId, asked != agency {
            throw OperationError.forbidden("an agency token reads only its own agency's citizens")
        }
        var scoped = filter
        scoped.agencyId = nil
        scoped.visibleToAgency = agency
        var result = try await store.citizens(scoped, page: page)
        result.items = try await seen(by: agency, result.items)
        return result
    }

    /// Citizen `id` as the viewer may see it: `.notFound` when there is none, `.forbidden`
    /// when an agency asks for someone who is neither its own nor on its manifests.
    public func citizen(id: Int64, as viewer: Viewer) async throws -> Citizen {
        guard let citizen = try await store.citizen(id: id) else { throw OperationError.notFound("citizen \(id)") }
        guard case .agency(let agency) = viewer, citizen.agencyId != agency else { return citizen }
        guard let seen = try await seen(by: agency, [citizen]).first, seen.agencyId == agency else {
            throw OperationError.forbidden("citizen \(id) is not one of this agency's")
        }
        return seen
    }

    /// Citizens as `agency` sees them: one on its manifests shows this agency and its group.
    func seen(by agency: String, _ citizens: [Citizen]) async throws -> [Citizen] {
        let shared = citizens.compactMap { $0.agencyId == agency ? nil : $0.id }
        guard !shared.isEmpty else { return citizens }
        let groups = try await store.agencyMemberships(citizenIds: shared, agencyId: agency)
        return citizens.map { citizen in
            guard citizen.agencyId != agency, let group = groups[citizen.id] else { return citizen }
            var seen = citizen
            seen.agencyId = agency
            seen.groupId = group
            return seen
        }
    }
}
