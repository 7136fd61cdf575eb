import Foundation

/// The hotline queue as operators work it, from the API or the console: one case changed
/// at a time, each change checked the same way and recorded under the operator's name.
public struct HotlineQueue: Sendable {
    let store: any CheckinStore

    public init(store: any CheckinStore) { self.store = store }

    /// Checks a change before anything is stored: something to change, an assignee of at
    /// most 100 characters, a note that says something in at most 4000.
    public static func validate(_ update: CaseUpdate) throws(ValidationFailure) {
        var v = Validator()
        v.check(update.status != nil || update.assignee != nil || update.note != nil, "", "give status, assignee or note")
        v.check((update.assignee ?? "").count <= 100, "/assignee", "at most 100 characters")
        v.check((update.note ?? "").count <= 4000, "/note", "at most 4000 characters")
        v.check(update.note.map { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty } ?? true, "/note", "must not be empty")
        try v.throwIfAny()
    }

    /// Applies a checked change to case `id`: `.notFound` when there is none, `.conflict`
    /// when reopening it while another case of the citizen is open.
    public func update(id: Int64, _ update: CaseUpdate, by operatorName: String, at now: Date) async throws -> HotlineCase {
        try Self.validate(update)
        guard let updated = try await store.updateCase(id: id, update, author: operatorName, at: now) else {
            throw OperationError.notFound("case \(id)")
        }
        return updated
    }
}
