import Foundation
import HabarMessages

/// What revoking a token did.
public enum TokenRevocation: Sendable, Hashable {
    case revoked
    /// No unrevoked token has that id.
    case notFound
    /// It is the last unrevoked admin token: not revoked.
    case lastAdmin
}

/// What the store knows of an `Idempotency-Key` when a call begins.
public enum IdempotencyBegin: Sendable, Hashable {
    /// First use: the call runs, then its response is kept.
    case proceed
    /// The same call was answered before: here is its response.
    case replay(StoredResponse)
    /// The key was used for a different call.
    case mismatch
    /// The first call with this key is still running.
    case inProgress
}

/// A response kept for replay.
public struct StoredResponse: Sendable, Hashable {
    public var status: Int
    /// Headers worth replaying (`Content-Type`, `Location`), as name → value.
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// What authentication, the audit log, `Idempotency-Key`s and webhook subscribers need.
/// Every requirement is one transaction: it happens whole or not at all, and a caller that
/// gets an error may assume nothing changed. `OperationError.notFound` / `.conflict` are the
/// answers a caller handles; any other error is the store failing.
public protocol OperatorStore: Sendable {
    /// Stores a token (its hash only); returns it with its id.
    func insertToken(_ token: NewAccessToken) async throws -> AccessToken
    /// The unrevoked token with this hash.
    func token(hash: String) async throws -> AccessToken?
    func hasTokens() async throws -> Bool
    /// Stores `token` only when the store has no token at all (the first admin token of a new
    /// installation); nil when one exists. Instances starting together on one empty database
    /// make one between them.
    func insertFirstToken(_ token: NewAccessToken) async throws -> AccessToken?
    /// Every token, revoked ones included (hashes are never shown), in id order.
    func tokens(page: PageRequest) async throws -> Page<AccessToken>
    /// Revokes a token, atomically refusing to revoke the last unrevoked admin token (after it
    /// only shell access could issue tokens again).
    func revokeToken(id: Int64, at: Date) async throws -> TokenRevocation

    /// Appends `entry` to the hash chain: its `previousHash` is the hash of the entry stored
    /// last and its `hash` covers it, both computed in the transaction that reads the last one,
    /// so concurrent appends (from any number of callers or processes) stay one chain, in the
    /// order of their ids. Returns it as stored.
    func appendAudit(_ entry: NewAuditEntry) async throws -> AuditEntry
    /// The audit log, oldest first, paged by id.
    func auditEntries(page: PageRequest) async throws -> Page<AuditEntry>

    /// Stores a new subscriber; a name in use is a `.conflict`.
    func insertSubscriber(_ subscriber: NewSubscriber) async throws -> Subscriber
    func subscribers() async throws -> [Subscriber]
    /// Enables or disables a subscriber by name; nil when there is none.
    func setSubscriberActive(name: String, active: Bool, reason: String?, at: Date) async throws -> Subscriber?
    /// Replaces a subscriber's secret list (rotation); nil when there is none by that name.
    func setSubscriberSecret(name: String, secret: String) async throws -> Subscriber?

    /// Claims `key` for a call with `fingerprint` (method, path and body hash) by `scope`
    /// (the caller), or says how it was used before; of two concurrent first uses exactly one
    /// gets `.proceed`. Keys older than `forgetBefore` are forgotten.
    func beginIdempotentCall(scope: String, key: String, fingerprint: String, now: Date, forgetBefore: Date) async throws -> IdempotencyBegin
    /// Keeps the response for replay, or (nil) releases the key so the call may be retried.
    func finishIdempotentCall(scope: String, key: String, response: StoredResponse?) async throws
}
