import Foundation

/// Creating, changing, merging and erasing citizen records, with the rules every front end
/// (the API, the CLI, the console) must apply alike: one record per phone number, an
/// operator's word on someone's welfare answering their open check-in, a merged record's id
/// still finding the person.
public struct CitizenRecords: Sendable {
    /// What an operator who spoke to the citizen records about their welfare.
    public struct OperatorWelfare: Sendable, Equatable {
        public var meaning: ReplyMeaning
        public var note: String?
        public init(meaning: ReplyMeaning, note: String?) {
            self.meaning = meaning
            self.note = note
        }
    }

    /// A citizen with their recent welfare history and the records merged into them.
    public struct Profile: Sendable {
        public var citizen: Citizen
        public var history: [WelfareEvent]
        public var merges: [CitizenMerge]
    }

    let store: any CitizenStore & CheckinStore

    public init(store: any CitizenStore & CheckinStore) { self.store = store }

    /// Stores a new citizen. `.conflict` when another record has the phone number (the
    /// caller updates that one instead).
    public func create(_ citizen: NewCitizen) async throws -> Citizen {
        if let phone = citizen.phone, let existing = try await store.citizenId(phone: phone.e164) {
            throw OperationError.conflict("citizen \(existing) already has the phone number \(phone.e164); update that record instead")
        }
        return try await store.insertCitizen(citizen)
    }

    /// Replaces `existing` by `citizen` (same id) and, when the operator spoke to them,
    /// records their welfare as an answer to their open check-in request (by `operatorName`).
    /// `.conflict` when the new phone number is another record's, `.notFound` when the
    /// record is gone.
    public func update(
        _ citizen: Citizen, existing: Citizen, welfare: OperatorWelfare?, by operatorName: String, at now: Date
    ) async throws -> Citizen {
        let id = existing.id
        if let phone = citizen.phone, phone != existing.phone, let other = try await store.citizenId(phone: phone.e164), other != id {
            throw OperationError.conflict("citizen \(other) already has the phone number \(phone.e164)")
        }
        guard let stored = try await store.updateCitizen(citizen) else { throw OperationError.notFound("citizen \(id)") }
        guard let welfare else { return stored }
        let open = try await store.openCheckinRequest(citizenId: id, now: now)
        try await store.recordCheckins([CheckinAnswer(
            citizenId: id, advisoryId: open?.id, meaning: welfare.meaning, source: .operator,
            text: [operatorName, welfare.note].compactMap { $0 }.joined(separator: ": "), at: now)])
        return try await store.citizen(id: id) ?? stored
    }

    /// The citizen and what happened to them: the last `historyLimit` welfare changes and
    /// the records merged into theirs.
    public func profile(_ citizen: Citizen, historyLimit: Int = 50) async throws -> Profile {
        let id = citizen.id
        return Profile(
            citizen: citizen, history: try await store.welfareHistory(citizenId: id, limit: historyLimit),
            merges: try await store.citizenMerges(citizenId: id))
    }

    /// Citizen `id`, or the one their record was merged into (links and replies sent to the
    /// old record still reach the person).
    public func current(id: Int64) async throws -> Citizen? {
        if let citizen = try await store.citizen(id: id) { return citizen }
        guard let survivor = try await store.mergedInto(citizenId: id) else { return nil }
        return try await store.citizen(id: survivor)
    }

    /// Moves `duplicate`'s histories to `keep` and removes it (kept in the merge log).
    public func merge(keep: Int64, duplicate: Int64, by operatorName: String, at now: Date) async throws -> Profile {
        guard keep != duplicate else { throw OperationError.conflict("a citizen cannot be merged into itself") }
        return try await profile(try await store.mergeCitizens(keep: keep, duplicate: duplicate, actor: operatorName, at: now))
    }

    /// Records that the two are two people; `.notFound` when either does not exist.
    public func dismissSuggestion(_ a: Int64, _ b: Int64, by operatorName: String, at now: Date) async throws {
        guard try await store.dismissMergeSuggestion(a, b, actor: operatorName, at: now) else {
            throw OperationError.notFound("citizens \(a) and \(b)")
        }
    }

    /// One page of possible duplicates (after `position`), each with both records.
    public func suggestions(after position: Int64?, limit: Int) async throws -> (items: [(MergeSuggestion, Citizen, Citizen)], next: Int64?) {
        let (candidates, dismissed) = try await store.mergeCandidates()
        let after = position ?? -1
        let found = Array(MergeSuggestions.find(candidates, dismissed: dismissed).lazy.filter { $0.position > after }.prefix(limit + 1))
        let shown = Page(fetched: found, limit: limit, id: \.position)
        let records = try await store.citizens(ids: shown.items.flatMap { [$0.citizenIds.0, $0.citizenIds.1] })
        let items = shown.items.compactMap { suggestion -> (MergeSuggestion, Citizen, Citizen)? in
            guard let a = records[suggestion.citizenIds.0], let b = records[suggestion.citizenIds.1] else { return nil }
            return (suggestion, a, b)
        }
        return (items, shown.nextAfter)
    }

    /// Erases the citizen's personal data; `.notFound` when there is no such citizen.
    public func erase(id: Int64, at now: Date) async throws {
        guard try await store.eraseCitizen(id: id, at: now) else { throw OperationError.notFound("citizen \(id)") }
    }

    /// Imports a CSV file (`CitizenImport`).
    public func importCSV(_ data: Data, allOrNothing: Bool, now: Date) async throws -> CitizenImport.Report {
        try await CitizenImport(store: store).run(data, allOrNothing: allOrNothing, now: now)
    }
}
