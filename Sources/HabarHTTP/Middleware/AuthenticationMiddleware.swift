import Foundation
import HabarCore
import Hummingbird

/// Finds the caller's token from `Authorization: Bearer <token>`. Only the token's hash is
/// looked up; the token itself is never stored or logged. Whether the caller may do what
/// it asks is each handler's `context.require(role)`.
public struct AuthenticationMiddleware: RouterMiddleware {
    public typealias Context = HabarRequestContext
    let store: any OperatorStore

    public init(store: any OperatorStore) { self.store = store }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer",
                let token = try await store.token(hash: AccessToken.hash(String(parts[1]).trimmingCharacters(in: .whitespaces)))
            {
                context.identity = token
            } else {
                context.presentedInvalidToken = true
            }
        }
        return try await next(request, context)
    }
}
