import Foundation
import Hummingbird

/// Refuses a body larger than the configured limit with 413 before reading it; imports
/// (`/import` paths) have their own, larger limit. Bodies without a length are limited
/// when they are read (`Request.collectBody(upTo:)`).
public struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBodyBytes: Int
    let maxImportBytes: Int

    public init(maxBodyBytes: Int, maxImportBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.maxImportBytes = maxImportBytes
    }

    public func limit(for path: String) -> Int {
        // Agencies' webhooks carry whole manifests (10,000 tourists is about 1.5 MB).
        path.hasSuffix("/import") || path.hasPrefix("/inbound/agencies/") ? maxImportBytes : maxBodyBytes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let limit = limit(for: request.uri.path)
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw Problem(.contentTooLarge, detail: "the body is \(length) bytes; the limit here is \(limit)")
        }
        return try await next(request, context)
    }
}
