import Foundation
import HabarMessages

/// What a change of a place does to an advisory in force that was rendered from an earlier
/// version of it: a correction with the new version, and the template that names old and new.
public enum PlaceCorrections {
    /// The correction `advisory` needs now that place `new.id` is at version `new`; nil when the
    /// advisory does not use the place. The old name is the one the advisory's citizens read.
    public static func correction<ID>(for advisory: AdvisoryRecord<ID>, new: Place) -> AdvisoryCorrection? {
        let current = advisory.places.filter { $0.role.idParameter != nil }
        // Only what citizens were told differs from: a place changed back needs no correction.
        let affected = current.filter { $0.place.id == new.id && $0.place.version < new.version && new.differs(from: $0.place) }
        guard !affected.isEmpty else { return nil }
        var uses = current.map { $0.place.id == new.id ? PlaceUse(role: $0.role, place: new) : $0 }
        func moved(_ old: Place) -> Bool { old.name != new.name || old.address != new.address || old.location != new.location }
        var template = advisory.template
        for use in affected {
            let old = use.place
            switch (advisory.kind, use.role) {
            case (.meetingPoint, .meetingPoint) where moved(old):
                template = "meeting_point.moved"
                uses.append(PlaceUse(role: .previousMeetingPoint, place: old))
            case (.greenCorridor, .corridor) where new.status == .closed:
                template = "green_corridor.closed"
            case (.greenCorridor, .borderCrossing) where new.status == .closed:
                template = "green_corridor.closed"
            case (.greenCorridor, _) where template != "green_corridor.closed":
                template = "green_corridor.changed"
                if use.role == .borderCrossing, old.name != new.name { uses.append(PlaceUse(role: .previousBorderCrossing, place: old)) }
                if use.role == .meetingPoint, moved(old) { uses.append(PlaceUse(role: .previousMeetingPoint, place: old)) }
            default:
                break  // the same template with the new values
            }
        }
        return AdvisoryCorrection(template: template == advisory.template ? nil : template, places: uses)
    }
}

/// The places registry as the API, CLI and console use it: versioned places, and on every
/// change a pending correction for each advisory in force that used an earlier version.
public struct PlaceRegistry: Sendable {
    public let store: any PlaceStore
    public let publisher: AdvisoryPublisher

    public init(store: any PlaceStore, publisher: AdvisoryPublisher) {
        self.store = store
        self.publisher = publisher
    }

    /// Validates and stores version 1 of a new place.
    public func create(_ place: NewPlace) async throws -> Place {
        try place.validate()
        return try await store.insertPlace(Self.normalised(place))
    }

    /// What a change did to one advisory in force.
    public struct AffectedAdvisory: Sendable, Hashable, Encodable {
        public var advisoryId: Int64
        public var kind: AdvisoryKind
        /// The template of the pending correction.
        public var template: String
        /// Everyone the advisory reached or queued for: the correction's recipients.
        public var recipients: Int
        /// Whether the correction waits for approval; false with `errors` when it could not be made.
        public var pendingCorrection: Bool
        public var errors: [FieldError]?
    }

    /// Stores `changed` as the next version of place `id` (nothing when it says nothing new) and
    /// leaves a pending correction, by `author`, on every advisory in force that used an earlier
    /// version. A correction that cannot be made (a template needs what the place lacks) is
    /// reported, not made.
    public func change(id: Int64, to changed: NewPlace, by author: Actor, now: Date) async throws -> (place: Place, advisories: [AffectedAdvisory]) {
        guard let current = try await store.place(id: id, version: nil) else { throw OperationError.notFound("place \(id)") }
        var next = Self.normalised(changed).stored(id: id)
        next.kind = current.kind
        next.createdAt = current.createdAt
        try next.validate()
        guard next.differs(from: current) else { return (current, []) }
        next.version = current.version + 1
        next.updatedAt = now
        next.updatedBy = author.name
        let stored = try await store.insertPlaceVersion(next)
        var affected: [AffectedAdvisory] = []
        for advisory in try await store.advisoriesInForce(usingPlace: id, before: stored.version, now: now) {
            let advisoryId = advisory.id
            guard let correction = PlaceCorrections.correction(for: advisory, new: stored) else { continue }
            let template = correction.template ?? advisory.template
            do {
                let recipients = try await publisher.propose(advisory, correction, by: author, now: now)
                affected.append(AffectedAdvisory(advisoryId: advisoryId, kind: advisory.kind, template: template, recipients: recipients, pendingCorrection: true))
            } catch let failure as ValidationFailure {
                affected.append(AffectedAdvisory(
                    advisoryId: advisoryId, kind: advisory.kind, template: template, recipients: 0, pendingCorrection: false, errors: failure.errors))
            }
        }
        return (stored, affected)
    }

    /// Phones in E.164, as everywhere in Habar.
    static func normalised<ID>(_ place: PlaceRecord<ID>) -> PlaceRecord<ID> {
        var result = place
        if let phone = place.contactPhone, let number = PhoneNumber(phone) { result.contactPhone = number.e164 }
        return result
    }
}

extension AdvisoryPublisher {
    /// `advisory` with the current versions of the places its parameters name by id; a place
    /// that does not exist or is of another kind, or a name given both typed and by id, is
    /// refused by pointer.
    public func resolvingPlaces<ID>(_ advisory: AdvisoryRecord<ID>) async throws -> AdvisoryRecord<ID> {
        var v = Validator()
        var uses: [PlaceUse] = []
        for role in [PlaceUse.Role.meetingPoint, .borderCrossing, .corridor] {
            guard let id = advisory.params.placeId(role), let parameter = role.idParameter else { continue }
            let named = role.textParameters.first!
            if advisory.params.texts.contains(where: { $0.name == named }) {
                v.add("/params/\(named)", "give either \(named) or \(parameter), not both")
            }
            guard let place = try await store.place(id: id, version: nil) else {
                v.add("/params/\(parameter)", "there is no place \(id)")
                continue
            }
            guard place.kind == role.kind else {
                v.add("/params/\(parameter)", "place \(id) is a \(place.kind.rawValue), not a \(role.kind.rawValue)")
                continue
            }
            uses.append(PlaceUse(role: role, place: place))
        }
        try v.throwIfAny()
        var resolved = advisory
        resolved.places = uses
        return resolved
    }

    /// Leaves `correction` of published `advisory` waiting for approval by `author`'s
    /// colleagues (or `author`, at or below the threshold), after checking it completely;
    /// returns how many people it would reach.
    public func propose(_ advisory: Advisory, _ correction: AdvisoryCorrection, by author: Actor, now: Date) async throws -> Int {
        let id = advisory.id
        guard advisory.status == .published else {
            throw OperationError.conflict("only a published advisory can be corrected")
        }
        let next = advisory.applying(correction)
        try validate(next, now: now)
        let audience = try await audienceSize(.reachedBy(advisoryId: id, beforeVersion: next.version))
        try checkLanguages(next, languages: audience.languages)
        try checkBudgets(next, try await correctionRenderings(advisory, next, now: now), extra: Self.correctionExtraSegments, languages: audience.languages)
        try await store.setPendingCorrection(id: id, PendingCorrection(correction: correction, author: author.name, authorTokenId: author.tokenId))
        return audience.count
    }
}
