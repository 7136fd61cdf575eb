import Foundation
import HabarCore
import Hummingbird

/// A known path asked with a method it does not take: 405 with `Allow`, before
/// authentication, audit and idempotency act on the request (an `Idempotency-Key` is never
/// recorded for it); only the body limit answers first (413 needs no reading either). The paths
/// and methods are the OpenAPI document's, which the conformance tests hold equal to the
/// routes served. Unknown paths go on to the router's 404.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Path templates as segments (`{…}` matches any one segment) and their methods.
    let routes: [(segments: [String], methods: Set<String>)]

    init(openAPI document: Data?) {
        let paths = document.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }?["paths"] as? [String: [String: Any]] ?? [:]
        let verbs: Set<String> = ["get", "put", "post", "delete", "patch"]
        routes = paths.map { path, operations in
            (path.split(separator: "/").map(String.init), Set(operations.keys.filter(verbs.contains).map { $0.uppercased() }))
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let segments = request.uri.path.split(separator: "/").map(String.init)
        let matching = routes.filter { route in
            route.segments.count == segments.count
                && zip(route.segments, segments).allSatisfy { template, segment in template.hasPrefix("{") || template == segment }
        }
        guard !matching.isEmpty else { return try await next(request, context) }
        var allowed = matching.reduce(into: Set<String>()) { $0.formUnion($1.methods) }
        if allowed.contains("GET") { allowed.insert("HEAD") }
        let method = request.method.rawValue
        guard allowed.contains(method) || method == "OPTIONS" else {
            var problem = Problem(.methodNotAllowed, detail: "\(request.uri.path) does not take \(method); it takes \(allowed.sorted().joined(separator: ", "))")
            problem.headers[.allow] = allowed.sorted().joined(separator: ", ")
            throw problem
        }
        return try await next(request, context)
    }
}
