import Foundation
import HabarCore
import Hummingbird

/// `?limit=` and `?cursor=` as the contract has them, and `{"items": [...], "nextCursor": ...}`.
enum Listing {
    /// The page a request asks for: limit 1...500 (default 50), an opaque cursor.
    static func page(_ request: Request) throws -> PageRequest {
        let query = request.uri.queryParameters
        var page = PageRequest()
        if let raw = query["limit"] {
            guard let limit = Int(raw), (1...PageRequest.maxLimit).contains(limit) else {
                throw Problem(.badRequest, detail: "limit must be an integer from 1 to \(PageRequest.maxLimit), not '\(raw)'")
            }
            page.limit = limit
        }
        if let raw = query["cursor"], !raw.isEmpty {
            guard let after = decodeCursor(String(raw)) else {
                throw Problem(.badRequest, detail: "cursor '\(raw)' is not one this server gave out")
            }
            page.after = after
        }
        return page
    }

    static func encodeCursor(_ after: Int64) -> String {
        Data("after:\(after)".utf8).base64URLEncoded()
    }

    static func decodeCursor(_ cursor: String) -> Int64? {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8), text.hasPrefix("after:") else {
            return nil
        }
        return Int64(text.dropFirst(6))
    }

    /// A list response; `nextCursor` is always present (null on the last page).
    struct Body<Item: Encodable>: Encodable {
        var items: [Item]
        var nextCursor: String?

        enum CodingKeys: String, CodingKey { case items, nextCursor }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(items, forKey: .items)
            try container.encode(nextCursor, forKey: .nextCursor)
        }
    }

    static func response<Item: Sendable, Out: Encodable>(_ page: Page<Item>, _ transform: (Item) -> Out) throws -> Response {
        try JSONBody.response(Body(items: page.items.map(transform), nextCursor: page.nextAfter.map(encodeCursor)))
    }

    /// A query parameter that must be one of an enumeration's values.
    static func value<T: RawRepresentable & CaseIterable>(_ request: Request, _ name: String, as type: T.Type) throws -> T? where T.RawValue == String {
        guard let raw = try present(request, name) else { return nil }
        guard let value = T(rawValue: raw) else {
            throw Problem(.badRequest, detail: "\(name) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), not '\(raw)'")
        }
        return value
    }

    static func int(_ request: Request, _ name: String) throws -> Int64? {
        guard let raw = try present(request, name) else { return nil }
        guard let value = Int64(raw) else { throw Problem(.badRequest, detail: "\(name) must be an integer id, not '\(raw)'") }
        return value
    }

    /// A text filter; given but empty → 400, as a bad value is.
    static func string(_ request: Request, _ name: String) throws -> String? {
        try present(request, name)
    }

    /// A query parameter's value; nil when it is not there; given empty (`?state=`) → 400,
    /// since an empty filter silently ignored would show more than was asked for.
    static func present(_ request: Request, _ name: String) throws -> String? {
        guard let raw = request.uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard !raw.isEmpty else { throw Problem(.badRequest, detail: "\(name) is empty: give a value, or leave the parameter out") }
        return raw
    }
}

extension HabarRequestContext {
    /// The `{id}` path parameter; not an integer → 404 (no such thing).
    func id(_ what: String) throws -> Int64 {
        guard let id = parameters.get("id", as: Int64.self) else { throw Problem(.notFound, detail: "no such \(what)") }
        return id
    }
}
