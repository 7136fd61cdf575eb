import Crypto
import Foundation
import Synchronization
import HabarCore
import HabarMessages
import HummingbirdBcrypt
import HummingbirdOTP

/// Console accounts and sign-in: bcrypt passwords, an optional TOTP second factor, sessions
/// kept in the store (only the cookie's SHA-256), a CSRF token per session, sign-in attempts
/// limited per name and per address, every sign-in and refusal in the audit log.
public struct ConsoleAccounts: Sendable {
    public struct Settings: Sendable {
        /// A session unused this long ends (a 24-hour shift's half by default).
        public var idleTimeout: TimeInterval
        /// bcrypt's cost (2^cost rounds).
        public var bcryptCost: UInt8
        /// How long a refused sign-in waits before it answers.
        public var failureDelay: Double
        public init(idleTimeout: TimeInterval = 8 * 3600, bcryptCost: UInt8 = 11, failureDelay: Double = 1) {
            self.idleTimeout = idleTimeout
            self.bcryptCost = bcryptCost
            self.failureDelay = failureDelay
        }
    }

    /// A sign-in that worked: the cookie value (shown to the browser once) and the session.
    public struct SignedIn: Sendable {
        public var cookie: String
        public var session: ConsoleSession
        public var account: OperatorAccount
    }

    public enum SignInRefusal: Error, Sendable, Equatable {
        /// Wrong name, password or code (which one is not said).
        case wrongCredentials
        /// Too many failures for this name or address; try again after this many seconds.
        case throttled(retryAfter: Int)
    }

    let store: any ConsoleStore & OperatorStore
    let throttle: SignInThrottle
    public let settings: Settings

    public init(store: any ConsoleStore & OperatorStore, throttle: SignInThrottle, settings: Settings = Settings()) {
        self.store = store
        self.throttle = throttle
        self.settings = settings
    }

    /// The roles a console account may have (an agency uses its API token).
    public static let roles: [Role] = [.admin, .operator, .approver, .viewer]

    /// Creates an account with a one-time password, returned once (only its bcrypt hash is
    /// kept). `.conflict` when the name is taken.
    public func create(name: String, role: Role, language: Language = .russian, at now: Date) async throws -> (account: OperatorAccount, password: String) {
        var v = Validator()
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        v.check(!trimmed.isEmpty && trimmed.count <= 100, "/name", "1 to 100 characters")
        v.check(Self.roles.contains(role), "/role", "one of admin, operator, approver, viewer")
        try v.throwIfAny()
        // Names are one person whatever their case, in any script (SQLite folds ASCII only).
        if let taken = try await account(named: trimmed) {
            throw OperationError.conflict("an account named '\(taken.name)' exists")
        }
        let password = Self.generatePassword()
        let account = try await store.insertOperator(
            name: trimmed, role: role, passwordHash: Bcrypt.hash(password, cost: settings.bcryptCost), language: language, at: now)
        return (account, password)
    }

    /// Turns the second factor on for `name`: a new random TOTP secret (RFC 6238, 30 s, six
    /// digits, SHA-1 as authenticator apps expect), returned once as the `otpauth://` address
    /// the operator's app reads; every session of the account ends. `.notFound` when there is
    /// no such account.
    public func enableTOTP(name: String, issuer: String = "Habar", at now: Date) async throws -> (secret: String, url: String) {
        guard let account = try await account(named: name) else { throw OperationError.notFound("account '\(name)'") }
        let secret = Self.generatePassword() + Self.generatePassword()
        guard try await store.setOperatorTOTP(id: account.id, secret: secret) else { throw OperationError.notFound("account '\(name)'") }
        await audit(account.name, role: account.role, "console second factor on", target: "operator/\(account.id)", status: 200, at: now)
        return (secret, TOTP(secret: secret).createAuthenticatorURL(label: account.name, issuer: issuer))
    }

    /// Checks a sign-in and opens a session. Whatever fails, the answer takes about as long
    /// (an unknown name is checked against a hash too) and says nothing of which part was
    /// wrong; failures count against the name and the address and are audited.
    public func signIn(name: String, password: String, totp: String?, address: String, at now: Date) async throws(SignInRefusal) -> SignedIn {
        let name = name.trimmingCharacters(in: .whitespaces)
        let keys = ["name:" + name.lowercased(), "address:" + address]
        if let wait = throttle.refusal(keys, now: now) {
            await audit(name, role: nil, "console sign-in", status: 429, at: now)
            throw .throttled(retryAfter: wait)
        }
        let account = try? await self.account(named: name)
        let passwordOK = Bcrypt.verify(password, hash: account?.passwordHash ?? Self.dummyHash)
        let codeOK = account?.totpSecret.map { Self.checkTOTP(totp ?? "", secret: $0, at: now) } ?? true
        guard let account, passwordOK, codeOK, account.disabledAt == nil else {
            throttle.failed(keys, now: now)
            await audit(name, role: account?.role, "console sign-in", status: 401, at: now)
            // Slowed: a second per wrong guess, on top of bcrypt's own cost.
            try? await Task.sleep(for: .seconds(settings.failureDelay))
            throw .wrongCredentials
        }
        throttle.succeeded(keys)
        let cookie = Self.randomToken()
        let session = ConsoleSession(
            tokenHash: AccessToken.hash(cookie), operatorId: account.id, csrfToken: Self.randomToken(), createdAt: now, lastSeenAt: now)
        do { try await store.insertSession(session) } catch { throw .wrongCredentials }
        await audit(account.name, role: account.role, "console sign-in", status: 200, at: now)
        return SignedIn(cookie: cookie, session: session, account: account)
    }

    /// The session a cookie belongs to, if it is still open (it is marked used now).
    public func session(cookie: String, at now: Date) async throws -> (session: ConsoleSession, account: OperatorAccount)? {
        guard !cookie.isEmpty, cookie.utf8.count <= 200 else { return nil }
        return try await store.session(tokenHash: AccessToken.hash(cookie), idleSince: now.addingTimeInterval(-settings.idleTimeout), now: now)
    }

    /// Ends the session of this cookie.
    public func signOut(cookie: String, account: OperatorAccount, at now: Date) async throws {
        try await store.deleteSession(tokenHash: AccessToken.hash(cookie))
        await audit(account.name, role: account.role, "console sign-out", status: 200, at: now)
    }

    /// The account of this name, its case in any script aside ("Дана" is "дана").
    func account(named name: String) async throws -> OperatorAccount? {
        if let exact = try await store.operatorAccount(name: name) { return exact }
        let wanted = name.lowercased()
        return try await store.operatorAccounts().first { $0.name.lowercased() == wanted }
    }

    /// Whether a form's CSRF token is the session's (constant time).
    public static func csrfMatches(_ given: String?, _ session: ConsoleSession) -> Bool {
        guard let given else { return false }
        return ConstantTime.equal(given, session.csrfToken)
    }

    /// A 6-digit code of `secret` for the current 30-second step or the one on either side.
    public static func checkTOTP(_ code: String, secret: String, at now: Date) -> Bool {
        let digits = code.filter { !$0.isWhitespace }
        guard digits.count == 6, let value = Int(digits) else { return false }
        let totp = TOTP(secret: secret)
        return [-30.0, 0, 30].reduce(false) { found, offset in found || totp.compute(date: now.addingTimeInterval(offset)) == value }
    }

    /// An entry in the audit log under the operator's name (the console's actions are the
    /// operator's, as the API's are a token's).
    func audit(_ actor: String, role: Role?, _ action: String, target: String? = nil, status: Int, at now: Date) async {
        _ = try? await store.appendAudit(NewAuditEntry(
            id: .unsaved, at: now, actor: actor.isEmpty ? "(no name)" : String(actor.prefix(100)), actorTokenId: nil, role: role,
            action: action, target: target, status: status, requestId: ""))
    }

    /// 32 random bytes, base64url without padding.
    static func randomToken() -> String {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// 16 characters without look-alikes (no 0/O, 1/l/I), about 90 bits.
    static func generatePassword() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// Checked when the name is unknown, so that such an attempt costs what a wrong password does.
    static let dummyHash = Bcrypt.hash("no such account", cost: 11)
}

/// Failed sign-ins per key (a name, an address) in a sliding window: after `limit` failures
/// within `window` the key is refused until the oldest of them leaves the window. Kept in
/// this process (several instances each keep their own).
public final class SignInThrottle: Sendable {
    let limit: Int
    let window: TimeInterval
    let failures = Mutex<[String: [Date]]>([:])

    public init(limit: Int = 5, window: TimeInterval = 15 * 60) {
        self.limit = limit
        self.window = window
    }

    /// Seconds to wait when any key is over its limit, else nil.
    func refusal(_ keys: [String], now: Date) -> Int? {
        failures.withLock { table in
            keys.compactMap { key -> Int? in
                let recent = (table[key] ?? []).filter { now.timeIntervalSince($0) < window }
                table[key] = recent
                guard recent.count >= limit, let oldest = recent.first else { return nil }
                return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
            }.max()
        }
    }

    func failed(_ keys: [String], now: Date) {
        failures.withLock { table in for key in keys { table[key, default: []].append(now) } }
    }

    func succeeded(_ keys: [String]) {
        failures.withLock { table in table[keys[0]] = nil }
    }
}
