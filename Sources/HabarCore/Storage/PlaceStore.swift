import Foundation

/// What the places registry needs of a store: versioned places and the advisories in force
/// that were rendered from an earlier version of one.
public protocol PlaceStore: Sendable {
    /// Stores version 1 of a new place; returns it with its id.
    func insertPlace(_ place: NewPlace) async throws -> Place

    /// The current version of place `id`, or version `version` of it; nil when there is none.
    func place(id: Int64, version: Int?) async throws -> Place?

    /// Current versions in id order, filtered.
    func places(_ filter: PlaceFilter, page: PageRequest) async throws -> Page<Place>

    /// Stores `place` as the next version of its id, atomically: when the current version is no
    /// longer `place.version - 1` (someone else changed it first), throws `OperationError.conflict`
    /// and stores nothing.
    func insertPlaceVersion(_ place: Place) async throws -> Place

    /// Published advisories not yet expired at `now` whose current texts use place `id` at a
    /// version before `version` (in a role an advisory sets: meeting point, crossing, corridor).
    func advisoriesInForce(usingPlace id: Int64, before version: Int, now: Date) async throws -> [Advisory]
}
