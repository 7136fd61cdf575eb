/// A record's id: `Int64` once stored, `Unsaved` before. Each stored record type is generic
/// over it — `Citizen` is `CitizenRecord<Int64>`, `NewCitizen` is `CitizenRecord<Unsaved>` —
/// so a record read from a store always has its id, and one on its way in has none to
/// forget or to invent: the store's insert takes the new record and returns the stored one.
public protocol RecordID: Sendable, Hashable, Codable {}

extension Int64: RecordID {}

/// The id of a record not stored yet: there is none.
public struct Unsaved: RecordID {
    public init() {}
}

extension RecordID where Self == Unsaved {
    /// `NewCitizen(id: .unsaved, …)`.
    public static var unsaved: Unsaved { Unsaved() }
}
