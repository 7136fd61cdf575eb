import Foundation

/// What the search for duplicate citizens needs to know of each one.
public struct MergeCandidate: Sendable, Hashable {
    public var id: Int64
    public var fullName: String
    public var birthDate: String?
    public var country: String
    public var passportNumber: String?

    public init(id: Int64, fullName: String, birthDate: String?, country: String, passportNumber: String?) {
        self.id = id
        self.fullName = fullName
        self.birthDate = birthDate
        self.country = country
        self.passportNumber = passportNumber
    }
}

/// Two citizen records that may be one person, and why.
public struct MergeSuggestion: Sendable, Hashable {
    /// Why the two may be one person.
    public enum Reason: String, Sendable, Hashable, Codable, CaseIterable {
        /// The same name, once in Cyrillic and once in Latin letters (or the other way round).
        case nameInAnotherScript = "name_in_another_script"
        /// The same name in the same script.
        case sameName = "same_name"
        case sameBirthDate = "same_birth_date"
        /// The same country (cities are often spelled in different scripts).
        case sameDestination = "same_destination"
    }

    /// The lower id first.
    public var citizenIds: (Int64, Int64)
    public var reasons: [Reason]

    public init(_ a: Int64, _ b: Int64, reasons: [Reason]) {
        citizenIds = (min(a, b), max(a, b))
        self.reasons = reasons
    }

    /// One number per pair, for paging in pair order.
    public var position: Int64 { citizenIds.0 << 32 | citizenIds.1 }

    public static func == (lhs: MergeSuggestion, rhs: MergeSuggestion) -> Bool {
        lhs.citizenIds == rhs.citizenIds && lhs.reasons == rhs.reasons
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(citizenIds.0)
        hasher.combine(citizenIds.1)
        hasher.combine(reasons)
    }
}

/// Finds the weaker matches that identity resolution does not link by itself (linking needs
/// the same E.164 phone or passport number): the same name — across scripts, or with a
/// patronymic on one side only — together with the same birth date or the same destination.
/// A pair whose birth dates or passport numbers are both known and differ is two people; a
/// pair an operator dismissed is not suggested again.
public enum MergeSuggestions {
    public static func find(_ candidates: [MergeCandidate], dismissed: Set<[Int64]> = []) -> [MergeSuggestion] {
        let keyed = candidates.map { (candidate: $0, key: NameKey($0.fullName)) }.filter { $0.key.isUsable }
        var byName: [NameKey: [Int]] = [:]
        for (index, item) in keyed.enumerated() { byName[item.key, default: []].append(index) }
        var seen = Set<[Int64]>()
        var found: [MergeSuggestion] = []
        for (index, item) in keyed.enumerated() {
            // Every other record whose whole name is this name or a part of it (≥ 2 words).
            for part in item.key.parts {
                for other in byName[part] ?? [] where other != index {
                    let (a, b) = (item.candidate, keyed[other].candidate)
                    let pair = [min(a.id, b.id), max(a.id, b.id)]
                    guard !seen.contains(pair), !dismissed.contains(pair) else { continue }
                    seen.insert(pair)
                    if let reasons = reasons(a, b) { found.append(MergeSuggestion(a.id, b.id, reasons: reasons)) }
                }
            }
        }
        return found.sorted { $0.position < $1.position }
    }

    /// Why `a` and `b` (whose names match) may be one person; nil when they are not.
    static func reasons(_ a: MergeCandidate, _ b: MergeCandidate) -> [MergeSuggestion.Reason]? {
        if let x = a.passportNumber, let y = b.passportNumber, normalizedPassport(x) != normalizedPassport(y) { return nil }
        if let x = a.birthDate, let y = b.birthDate, x != y { return nil }
        var reasons: [MergeSuggestion.Reason] = [
            Transliteration.isCyrillic(a.fullName) == Transliteration.isCyrillic(b.fullName) ? .sameName : .nameInAnotherScript,
        ]
        if a.birthDate != nil, a.birthDate == b.birthDate { reasons.append(.sameBirthDate) }
        if a.country == b.country { reasons.append(.sameDestination) }
        return reasons.count > 1 ? reasons : nil
    }

    static func normalizedPassport(_ number: String) -> String {
        number.uppercased().filter { $0.isLetter || $0.isNumber }
    }
}

/// A record merged into a citizen: its old id (check-in links made for it still work), who
/// merged it and when.
public struct CitizenMerge: Sendable, Hashable, Codable {
    public var mergedId: Int64
    public var actor: String
    public var at: Date

    public init(mergedId: Int64, actor: String, at: Date) {
        self.mergedId = mergedId
        self.actor = actor
        self.at = at
    }
}
