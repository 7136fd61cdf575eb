import Foundation
import HabarCore
import HTTPTypes
import Hummingbird
import Logging

/// Writes an audit entry for every state-changing call (POST, PUT, PATCH, DELETE) made with
/// a valid token: who, with which role, what, on what, when, the answer, and the request id
/// (also returned as `X-Request-Id`). Refusals (403, 409, 422) are kept too: who tried what
/// is part of the record. Calls without a valid token are not attributed to anyone and are
/// not written.
public struct AuditMiddleware: RouterMiddleware {
    public typealias Context = HabarRequestContext
    let store: any OperatorStore
    let now: @Sendable () -> Date

    public init(store: any OperatorStore, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.now = now
    }

    static let changing: Set<HTTPRequest.Method> = [.post, .put, .patch, .delete]

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let requestId = context.id
        guard Self.changing.contains(request.method), request.uri.path.hasPrefix("/v1/") else {
            var response = try await next(request, context)
            response.headers[.requestId] = requestId
            return response
        }
        do {
            var response = try await next(request, context)
            try await record(request, context, status: response.status.code, requestId: requestId)
            response.headers[.requestId] = requestId
            return response
        } catch {
            let status = Problem.status(of: error)
            try await record(request, context, status: status, requestId: requestId)
            throw error
        }
    }

    func record(_ request: Request, _ context: Context, status: Int, requestId: String) async throws {
        guard let identity = context.identity else { return }
        let note = context.audit.current
        _ = try await store.appendAudit(NewAuditEntry(
            id: .unsaved, at: now(), actor: identity.name, actorTokenId: identity.id, role: identity.role,
            action: "\(request.method.rawValue) \(Self.route(request.uri.path))", target: note.target, status: status,
            requestId: requestId, details: note.details))
    }

    /// The path with ids replaced by `{id}`, so actions group by operation.
    static func route(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.allSatisfy(\.isNumber) && !$0.isEmpty ? "{id}" : String($0) }
            .joined(separator: "/")
    }
}

extension HTTPField.Name {
    static let requestId = HTTPField.Name("X-Request-Id")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}
