import Foundation
import HabarCore
import Hummingbird

/// Per-request state: the framework's core storage and who is calling.
public struct HabarRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller's token, once `AuthenticationMiddleware` has found it valid.
    public var identity: AccessToken?
    /// Whether an `Authorization` header was sent but did not name a valid token.
    public var presentedInvalidToken = false

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }

    /// Lets the request through only for a caller whose role satisfies `role`:
    /// no or an invalid token → 401, another role → 403.
    @discardableResult
    public func require(_ role: Role) throws -> AccessToken {
        guard let identity else {
            throw Problem(.unauthorized, detail: presentedInvalidToken ? "the bearer token is not valid" : "a bearer token is required")
        }
        guard identity.role.satisfies(role) else {
            throw Problem(.forbidden, detail: "this needs the \(role.rawValue) role; the token has \(identity.role.rawValue)")
        }
        return identity
    }
}
