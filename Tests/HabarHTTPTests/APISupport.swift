import Foundation
import HabarCore
import HabarHTTP
import HabarTesting
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// One answer, read whole.
struct Answer {
    var status: Int
    var headers: HTTPFields
    var body: Data

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var contentType: String { headers[.contentType] ?? "" }
    /// The problem's pointers (or CSV lines) in order.
    var errorPointers: [String] { (json["errors"] as? [[String: Any]] ?? []).compactMap { $0["pointer"] as? String } }
}

/// A caller of the API through the real router (or a live server).
struct API {
    let client: any TestClientProtocol
    var token: String?

    func call(
        _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, body: Data? = nil, contentType: String? = nil,
        headers: HTTPFields = [:], as token: String?? = .none
    ) async throws -> Answer {
        var fields = headers
        if let bearer = token ?? self.token { fields[.authorization] = "Bearer \(bearer)" }
        var buffer: ByteBuffer? = nil
        if let json {
            buffer = ByteBuffer(string: json)
            fields[.contentType] = contentType ?? "application/json"
        } else if let body {
            buffer = ByteBuffer(bytes: body)
            if let contentType { fields[.contentType] = contentType }
        }
        return try await client.execute(uri: uri, method: method, headers: fields, body: buffer) { response in
            Answer(status: Int(response.status.code), headers: response.headers, body: Data(response.body.readableBytesView))
        }
    }
}

/// The repository's OpenAPI document, and a small JSON Schema checker for the parts of
/// 2020-12 it uses: $ref, type (one or a list), properties, required, additionalProperties,
/// items, enum.
struct OpenAPIDocument: @unchecked Sendable {  // an immutable parsed JSON tree
    let root: [String: Any]

    static func load() throws -> OpenAPIDocument {
        let url = Fixtures.repositoryRoot.appendingPathComponent("Sources/HabarHTTP/Resources/openapi.json")
        return OpenAPIDocument(root: try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any])
    }

    var paths: [String: [String: Any]] { root["paths"] as! [String: [String: Any]] }

    /// Every (method, path template) the document describes.
    var operations: [(method: String, path: String, operation: [String: Any])] {
        paths.flatMap { path, item in
            item.compactMap { method, operation in (operation as? [String: Any]).map { (method.uppercased(), path, $0) } }
        }.sorted { ($0.path, $0.method) < ($1.path, $1.method) }
    }

    func resolve(_ value: Any) -> Any {
        guard let object = value as? [String: Any], let ref = object["$ref"] as? String else { return value }
        var node: Any = root
        for part in ref.dropFirst(2).split(separator: "/") { node = (node as! [String: Any])[String(part)]! }
        return resolve(node)
    }

    /// The path template matching a concrete path (`/v1/citizens/12` → `/v1/citizens/{id}`).
    func template(for path: String) -> String? {
        let parts = path.split(separator: "/")
        // A literal segment wins over a capture (`/v1/citizens/import` is not `/v1/citizens/{id}`).
        return paths.keys.filter { template in
            let t = template.split(separator: "/")
            return t.count == parts.count && zip(t, parts).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }.min { $0.filter { $0 == "{" }.count < $1.filter { $0 == "{" }.count }
    }

    /// Problems of `answer` against what the document says `method path` answers.
    func check(_ method: String, _ path: String, _ answer: Answer) -> [String] {
        guard let template = template(for: path), let operation = paths[template]?[method.lowercased()] as? [String: Any] else {
            return ["\(method) \(path) is not documented"]
        }
        guard let responses = operation["responses"] as? [String: Any], let declared = responses[String(answer.status)] else {
            return ["\(method) \(template) answered \(answer.status), which is not documented"]
        }
        let response = resolve(declared) as! [String: Any]
        guard let content = response["content"] as? [String: Any] else {
            return answer.body.isEmpty ? [] : ["\(method) \(template) \(answer.status) has a body but none is documented"]
        }
        let mediaType = answer.contentType.split(separator: ";").first.map(String.init) ?? ""
        guard let media = content[mediaType] as? [String: Any] else {
            return ["\(method) \(template) \(answer.status): content type \(mediaType) is not documented (\(content.keys.sorted()))"]
        }
        guard mediaType.hasSuffix("json"), let schema = media["schema"] else { return [] }
        guard let value = try? JSONSerialization.jsonObject(with: answer.body, options: [.fragmentsAllowed]) else {
            return ["\(method) \(template) \(answer.status): the body is not JSON"]
        }
        return validate(value, schema, at: "\(method) \(template) \(answer.status) ")
    }

    func validate(_ value: Any, _ schemaValue: Any, at pointer: String) -> [String] {
        let schema = resolve(schemaValue) as! [String: Any]
        var problems: [String] = []
        if let type = schema["type"] {
            let types = (type as? [String]) ?? [type as! String]
            if !types.contains(where: { matches(value, $0) }) {
                return ["\(pointer): \(value) is not \(types.joined(separator: " or "))"]
            }
        }
        if let allowed = schema["enum"] as? [String], let text = value as? String, !allowed.contains(text) {
            problems.append("\(pointer): '\(text)' is not one of \(allowed)")
        }
        if let object = value as? [String: Any] {
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for name in schema["required"] as? [String] ?? [] where object[name] == nil {
                problems.append("\(pointer)/\(name): required but missing")
            }
            for (key, item) in object {
                if let property = properties[key] {
                    problems += validate(item, property, at: "\(pointer)/\(key)")
                } else if let additional = schema["additionalProperties"] {
                    if let allowed = additional as? Bool {
                        if !allowed { problems.append("\(pointer)/\(key): not in the schema") }
                    } else {
                        problems += validate(item, additional, at: "\(pointer)/\(key)")
                    }
                }
            }
        }
        if let array = value as? [Any], let items = schema["items"] {
            for (index, item) in array.enumerated() { problems += validate(item, items, at: "\(pointer)/\(index)") }
        }
        return problems
    }

    func matches(_ value: Any, _ type: String) -> Bool {
        switch type {
        case "null": return value is NSNull
        case "object": return value is [String: Any]
        case "array": return value is [Any]
        case "string": return value is String
        case "boolean": return (value as? NSNumber).map(isBool) ?? false
        case "integer":
            guard let number = value as? NSNumber, !isBool(number) else { return false }
            return number.doubleValue.rounded() == number.doubleValue
        case "number":
            guard let number = value as? NSNumber else { return false }
            return !isBool(number)
        default: return true
        }
    }

    func isBool(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }
}
