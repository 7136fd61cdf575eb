import Crypto
import Foundation
import HabarCore
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// `Idempotency-Key` on state-changing calls: the first answer to (caller, key) is kept for
/// 24 hours; a repeat with the same method, path and body gets it again (with
/// `Idempotent-Replayed: true`) and changes nothing; the same key with a different call is
/// 422; a repeat while the first is still running is 409. Answers 5xx are not kept, so a
/// call that failed inside may be retried with the same key.
public struct IdempotencyMiddleware: RouterMiddleware {
    public typealias Context = HabarRequestContext
    let store: any OperatorStore
    let limits: BodyLimitMiddleware<HabarRequestContext>
    let retention: TimeInterval
    let now: @Sendable () -> Date

    public init(
        store: any OperatorStore, limits: BodyLimitMiddleware<HabarRequestContext>, retention: TimeInterval = 24 * 3600,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.limits = limits
        self.retention = retention
        self.now = now
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard AuditMiddleware.changing.contains(request.method), let key = request.headers[.idempotencyKey] else {
            return try await next(request, context)
        }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw Problem(.badRequest, detail: "Idempotency-Key must be 1 to 255 visible ASCII characters")
        }
        // Without a valid token the call is refused anyway; nothing to remember.
        guard let identity = context.identity else { return try await next(request, context) }
        var request = request
        let limit = limits.limit(for: request.uri.path)
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: limit) } catch {
            throw Problem(.contentTooLarge, detail: "the body is larger than the limit here, \(limit) bytes")
        }
        var hasher = SHA256()
        hasher.update(data: Data("\(request.method.rawValue) \(request.uri.description)\n".utf8))
        hasher.update(data: Data(body.readableBytesView))
        let fingerprint = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        let scope = "token:\(identity.id)"
        let time = now()
        switch try await store.beginIdempotentCall(
            scope: scope, key: key, fingerprint: fingerprint, now: time, forgetBefore: time.addingTimeInterval(-retention))
        {
        case .mismatch:
            throw Problem(.unprocessableContent, type: "urn:habar:problem:idempotency-key-reused", title: "Idempotency key reused",
                          detail: "this Idempotency-Key was used for a different request (method, path or body)")
        case .inProgress:
            throw Problem(.conflict, detail: "a request with this Idempotency-Key is still being processed; repeat it later")
        case .replay(let stored):
            context.audit.detail("idempotentReplay", "true")
            var headers: HTTPFields = [.idempotentReplayed: "true"]
            for (name, value) in stored.headers { if let field = HTTPField.Name(name) { headers[field] = value } }
            return Response(
                status: HTTPResponse.Status(code: stored.status), headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: stored.body)))
        case .proceed:
            break
        }
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            // A refusal is an answer too (kept); a failure inside is not, so the key is released.
            if let problem = Problem.from(error), problem.status.code < 500 {
                try await keep(try problem.response(from: request, context: context), scope: scope, key: key)
            } else {
                try await store.finishIdempotentCall(scope: scope, key: key, response: nil)
            }
            throw error
        }
        if response.status.code >= 500 {
            try await store.finishIdempotentCall(scope: scope, key: key, response: nil)
            return response
        }
        return try await keep(response, scope: scope, key: key)
    }

    /// Stores the response and returns it with its body buffered.
    @discardableResult
    func keep(_ response: Response, scope: String, key: String) async throws -> Response {
        let collector = BodyCollector()
        var response = response
        try await response.body.write(collector)
        let bytes = collector.bytes
        var headers: [String: String] = [:]
        for name in [HTTPField.Name.contentType, .location] { if let value = response.headers[name] { headers[name.canonicalName] = value } }
        try await store.finishIdempotentCall(
            scope: scope, key: key, response: StoredResponse(status: response.status.code, headers: headers, body: Data(bytes.readableBytesView)))
        response.body = .init(byteBuffer: bytes)
        return response
    }
}

/// A response body writer that keeps what is written.
final class BodyCollector: ResponseBodyWriter, Sendable {
    private let buffer = Mutex(ByteBuffer())

    var bytes: ByteBuffer { buffer.withLock { $0 } }

    func write(_ part: ByteBuffer) async throws {
        buffer.withLock { $0.writeImmutableBuffer(part) }
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
