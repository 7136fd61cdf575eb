import Foundation
import HabarMessages

/// A person who signs in to the operator console: a name, a role (as a token's, never
/// `agency`), a bcrypt password hash, an optional TOTP secret, the console's language.
public struct OperatorAccount: Sendable, Hashable, Identifiable {
    public var id: Int64
    public var name: String
    public var role: Role
    public var passwordHash: String
    /// The TOTP secret (RFC 6238) when the second factor is on.
    public var totpSecret: String?
    public var language: Language
    public var createdAt: Date
    public var disabledAt: Date?

    public init(
        id: Int64, name: String, role: Role, passwordHash: String, totpSecret: String? = nil, language: Language = .russian,
        createdAt: Date, disabledAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.passwordHash = passwordHash
        self.totpSecret = totpSecret
        self.language = language
        self.createdAt = createdAt
        self.disabledAt = disabledAt
    }

    /// The account as the actor of what it does (the audit log, the two-person rule).
    public var actor: Actor { Actor(name: name, role: role) }
}

/// A signed-in browser: the SHA-256 of its cookie (the cookie itself is never stored), its
/// account, the CSRF token its forms carry, when it began and was last used.
public struct ConsoleSession: Sendable, Hashable {
    public var tokenHash: String
    public var operatorId: Int64
    public var csrfToken: String
    public var createdAt: Date
    public var lastSeenAt: Date

    public init(tokenHash: String, operatorId: Int64, csrfToken: String, createdAt: Date, lastSeenAt: Date) {
        self.tokenHash = tokenHash
        self.operatorId = operatorId
        self.csrfToken = csrfToken
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
    }
}

/// What the operator console keeps: accounts and sessions. Sessions live in the store so
/// that any instance serving the same database can serve them.
///
/// Every requirement is one transaction; `OperationError.conflict` is the answer a caller
/// handles, any other error is the store failing.
public protocol ConsoleStore: Sendable {
    /// Stores a new account; a name in use (compared without ASCII case; the console service
    /// also folds the case of other scripts) is a `.conflict`.
    func insertOperator(name: String, role: Role, passwordHash: String, language: Language, at: Date) async throws -> OperatorAccount
    /// The account of this name (without case), disabled or not.
    func operatorAccount(name: String) async throws -> OperatorAccount?
    /// Every account, by name.
    func operatorAccounts() async throws -> [OperatorAccount]
    /// Sets the console language of account `id`; false when there is none.
    func setOperatorLanguage(id: Int64, language: Language) async throws -> Bool
    /// Sets (or with nil removes) the TOTP secret of account `id` and ends its sessions;
    /// false when there is none.
    func setOperatorTOTP(id: Int64, secret: String?) async throws -> Bool
    /// Stores a new session.
    func insertSession(_ session: ConsoleSession) async throws
    /// The session with this token hash and its account, if it was last used after
    /// `idleSince` and its account is not disabled; it is marked used at `now` in the same
    /// transaction. A session idle longer is removed and nil returned.
    func session(tokenHash: String, idleSince: Date, now: Date) async throws -> (session: ConsoleSession, account: OperatorAccount)?
    /// Ends a session (signing out); nothing when there is none.
    func deleteSession(tokenHash: String) async throws
}
