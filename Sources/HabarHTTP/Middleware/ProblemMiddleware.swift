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
        } catch let problem as Problem {
            throw problem
        } catch let failure as ValidationFailure {
            throw Problem.validation(failure)
        } catch let error as HTTPError {
            throw Problem(error.status, detail: error.body ?? error.status.reasonPhrase)
        } catch let error as any HTTPResponseError {
            throw Problem(error.status, detail: error.status.reasonPhrase)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            throw Problem(.internalServerError, detail: "an internal error occurred; it has been logged")
        }
    }
}
