import Foundation
import HabarCore
import Hummingbird
import NIOCore

/// An RFC 9457 problem: every error the API returns is one, as `application/problem+json`.
public struct Problem: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var type: String
    public var title: String
    public var detail: String
    /// Field errors, for validation problems.
    public var errors: [FieldError]?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, type: String = "about:blank", title: String? = nil, detail: String, errors: [FieldError]? = nil) {
        self.status = status
        self.type = type
        self.title = title ?? status.reasonPhrase
        self.detail = detail
        self.errors = errors
    }

    /// A request body that does not satisfy the contract; every problem is listed.
    public static func validation(_ failure: ValidationFailure) -> Problem {
        Problem(.unprocessableContent, type: "urn:habar:problem:validation", title: "Invalid request",
                detail: failure.errors.count == 1 ? failure.errors[0].description : "\(failure.errors.count) problems in the request",
                errors: failure.errors)
    }

    struct Body: Encodable {
        var type: String
        var title: String
        var status: Int
        var detail: String
        var errors: [FieldError]?
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(Body(type: type, title: title, status: status.code, detail: detail, errors: errors))
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
