import Foundation
import HabarCore
import Hummingbird
import Logging

/// Turns every error into a problem+json response: validation failures with their field
/// list, the framework's own errors (404, 413, ...) with their status, anything else as a
/// 500 whose cause is logged but not shown.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            guard let problem = Problem.from(error) else {
                context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
                throw Problem(.internalServerError, detail: "an internal error occurred; it has been logged")
            }
            throw problem
        }
    }
}

extension Problem {
    /// The problem an error is answered with, or nil for an unexpected error (a 500 whose
    /// cause is logged, not shown).
    static func from(_ error: any Error) -> Problem? {
        switch error {
        case let problem as Problem: problem
        case let failure as ValidationFailure: .validation(failure)
        case OperationError.notFound(let what): Problem(.notFound, detail: "\(what) not found")
        case OperationError.conflict(let why): Problem(.conflict, detail: why)
        case OperationError.forbidden(let why): Problem(.forbidden, detail: why)
        case let refusal as TwoPersonRuleRefusal:
            Problem(.forbidden, type: "urn:habar:problem:two-person-rule", title: "Two-person rule", detail: refusal.description)
        case let error as HTTPError: Problem(error.status, detail: error.body ?? error.status.reasonPhrase)
        case let error as any HTTPResponseError: Problem(error.status, detail: error.status.reasonPhrase)
        default: nil
        }
    }

    /// The status an error is answered with.
    static func status(of error: any Error) -> Int { from(error)?.status.code ?? 500 }
}
