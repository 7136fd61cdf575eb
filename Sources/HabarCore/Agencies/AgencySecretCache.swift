import Foundation
import Synchronization

/// The secrets that verify each agency's webhooks, kept in memory for a second so that a
/// webhook costs at most one database read per agency and second. A rotation through this
/// gateway drops the agency's entry at once; one through another instance sharing the
/// database is seen within `lifetime` (a bounded age rather than a notification: nothing to
/// lose when a connection drops, and the same on SQLite). An entry never outlives
/// the earliest expiry of a secret in it.
public final class AgencySecretCache: Sendable {
    private struct Entry {
        var secrets: [WebhookSecret]
        var until: Date
    }

    private let store: any AgencyStore
    private let lifetime: TimeInterval
    private let entries = Mutex<[String: Entry]>([:])
    /// Unknown agency ids are cached too (empty); past this many entries the cache starts over.
    private let capacity = 10_000

    public init(store: any AgencyStore, lifetime: TimeInterval = 1) {
        self.store = store
        self.lifetime = lifetime
    }

    public func secrets(agencyId: String, now: Date) async throws -> [WebhookSecret] {
        if let entry = entries.withLock({ $0[agencyId] }), entry.until > now { return entry.secrets }
        let (secrets, earliestExpiry) = try await store.agencySecretsWithExpiry(id: agencyId, now: now)
        let until = min(now.addingTimeInterval(lifetime), earliestExpiry ?? .distantFuture)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[agencyId] = Entry(secrets: secrets, until: until)
        }
        return secrets
    }

    /// Forgets what is known of an agency (its secrets changed here).
    public func invalidate(agencyId: String) {
        _ = entries.withLock { $0.removeValue(forKey: agencyId) }
    }
}
