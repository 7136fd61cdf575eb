import Foundation
import HabarCore
import Hummingbird
import Synchronization

/// What a handler adds to the audit entry of its call (target, names, counts). A reference,
/// so the audit middleware sees what the handler wrote.
public final class AuditNote: Sendable {
    private let state = Mutex<(target: String?, details: [String: String])>((nil, [:]))

    public init() {}

    public func target(_ target: String) { state.withLock { $0.target = target } }
    public func detail(_ key: String, _ value: String) { state.withLock { $0.details[key] = value } }
    public var current: (target: String?, details: [String: String]) { state.withLock { $0 } }
}

/// Per-request state: the framework's core storage and who is calling.
public struct HabarRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller's token, once `AuthenticationMiddleware` has found it valid.
    public var identity: AccessToken?
    /// Whether an `Authorization` header was sent but did not name a valid token.
    public var presentedInvalidToken = false
    public var audit = AuditNote()
    /// The peer's IP address as the socket has it ("" when unknown): sign-in attempts are
    /// counted per address.
    public let remoteAddress: String

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress?.ipAddress ?? ""
    }

    /// Lets the request through only for a caller whose role satisfies one of `roles`:
    /// no or an invalid token → 401, another role → 403.
    @discardableResult
    public func require(_ roles: Role...) throws -> AccessToken {
        guard let identity else {
            throw Problem(.unauthorized, detail: presentedInvalidToken ? "the bearer token is not valid" : "a bearer token is required")
        }
        guard roles.contains(where: identity.role.satisfies) else {
            throw Problem(.forbidden, detail: "this needs the \(roles.map(\.rawValue).joined(separator: " or ")) role; the token has \(identity.role.rawValue)")
        }
        return identity
    }

    /// The caller as an actor of the domain (after `require`).
    public var actor: Actor { identity.map(Actor.init) ?? Actor(name: "anonymous") }
}
