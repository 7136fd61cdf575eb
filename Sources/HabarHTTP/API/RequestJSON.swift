import Foundation
import HabarCore
import Hummingbird
import NIOCore

/// Request bodies the way the contract reads them: UTF-8 JSON (else 400), no unknown fields
/// (400 naming each by JSON Pointer), values of the right type (else 422 with the pointer),
/// RFC 3339 timestamps.
enum RequestJSON {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.date(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an RFC 3339 timestamp (2026-03-12T08:00:00Z)")
            }
            return date
        }
        return decoder
    }()

    /// The body, read up to `limit` bytes (413 above).
    static func body(_ request: Request, limit: Int) async throws -> ByteBuffer {
        var request = request
        do { return try await request.collectBody(upTo: limit) } catch {
            throw Problem(.contentTooLarge, detail: "the body is larger than the limit here, \(limit) bytes")
        }
    }

    /// The body as a JSON object; an empty body is `{}` when `emptyIsObject`.
    static func object(_ buffer: ByteBuffer, emptyIsObject: Bool = false) throws -> [String: Any] {
        let data = Data(buffer.readableBytesView)
        if data.isEmpty || data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            if emptyIsObject { return [:] }
            throw Problem(.badRequest, detail: "the body is empty; a JSON object is expected")
        }
        guard String(validating: data, as: UTF8.self) != nil else {
            throw Problem(.badRequest, detail: "the body is not valid UTF-8")
        }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw Problem(.badRequest, detail: "the body is not valid JSON: \(describe(error))")
        }
        guard let object = parsed as? [String: Any] else {
            throw Problem(.badRequest, detail: "the body must be a JSON object")
        }
        let controls = ControlCharacters.problems(inJSON: object)
        if !controls.isEmpty { throw Problem.validation(ValidationFailure(controls)) }
        return object
    }

    /// Decodes `T` from a JSON object, refusing fields `T` does not have (400), and `null` for
    /// a field it has (422: no request schema takes null; leaving a field out gives its default,
    /// and in a merge patch null removes a field before this is called).
    static func decode<T: Codable>(_ type: T.Type, from object: [String: Any]) throws -> T {
        let value = try decodeValue(T.self, from: object)
        let unknown = try unknownFields(of: T.self, in: object, decoded: value)
        if !unknown.isEmpty {
            throw Problem(
                .badRequest, type: "urn:habar:problem:unknown-fields", title: "Unknown fields",
                detail: "unknown field\(unknown.count == 1 ? "" : "s"): \(unknown.joined(separator: ", "))",
                errors: unknown.map { FieldError(pointer: $0, detail: "is not a field of this request") })
        }
        let nulls = nullPaths(in: object, at: [])
        if !nulls.isEmpty {
            throw Problem.validation(ValidationFailure(nulls.map {
                FieldError(pointer: pointer($0), detail: "is null: give a value, or leave the field out for its default")
            }))
        }
        return value
    }

    /// JSON Merge Patch (RFC 7396): the fields of `patch` replace those of `current`, `null`
    /// removes one, an object merges into an object field (`{"name": {"en": "…"}}` keeps the
    /// other languages); the result decoded as `T` (unknown fields refused).
    static func merging<T: Codable>(_ patch: [String: Any], into current: T) throws -> T {
        let target = try JSONSerialization.jsonObject(with: JSONEncoder().encode(current)) as? [String: Any] ?? [:]
        return try decode(T.self, from: mergePatch(target, patch))
    }

    /// RFC 7396 section 2, for objects.
    static func mergePatch(_ target: [String: Any], _ patch: [String: Any]) -> [String: Any] {
        var merged = target
        for (key, value) in patch {
            if value is NSNull {
                merged.removeValue(forKey: key)
            } else if let object = value as? [String: Any] {
                merged[key] = mergePatch(merged[key] as? [String: Any] ?? [:], object)
            } else {
                merged[key] = value
            }
        }
        return merged
    }

    /// Reads the whole body and decodes it.
    static func decode<T: Codable>(_ type: T.Type, from request: Request, limit: Int, emptyIsObject: Bool = false) async throws -> T {
        try decode(T.self, from: object(try await body(request, limit: limit), emptyIsObject: emptyIsObject))
    }

    static func decodeValue<T: Decodable>(_ type: T.Type, from object: Any) throws -> T {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed])
        do { return try decoder.decode(T.self, from: data) } catch let error as DecodingError {
            // Foundation's decoder says "not valid JSON", with no path, for a number no Swift
            // integer holds: find and name those numbers instead.
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                let oversized = oversizedNumbers(in: object, at: [])
                if !oversized.isEmpty {
                    throw Problem.validation(ValidationFailure(oversized.map {
                        FieldError(pointer: pointer($0), detail: "is a number too large to store (at most \(Int64.max))")
                    }))
                }
            }
            throw Problem.validation(ValidationFailure([fieldError(error)]))
        }
    }

    /// Paths of the nulls in a JSON value.
    static func nullPaths(in value: Any, at path: [String]) -> [[String]] {
        switch value {
        case is NSNull: return [path]
        case let object as [String: Any]: return object.keys.sorted().flatMap { nullPaths(in: object[$0]!, at: path + [$0]) }
        case let array as [Any]: return array.enumerated().flatMap { nullPaths(in: $0.element, at: path + [String($0.offset)]) }
        default: return []
        }
    }

    /// Paths of whole numbers beyond what a 64-bit integer holds.
    static func oversizedNumbers(in value: Any, at path: [String]) -> [[String]] {
        switch value {
        case let number as NSNumber where !(value is Bool):
            let double = number.doubleValue
            return double.rounded() == double && double.magnitude >= 9.2e18 ? [path] : []
        case let object as [String: Any]:
            return object.keys.sorted().flatMap { oversizedNumbers(in: object[$0]!, at: path + [$0]) }
        case let array as [Any]:
            return array.enumerated().flatMap { oversizedNumbers(in: $0.element, at: path + [String($0.offset)]) }
        default:
            return []
        }
    }

    /// The input's fields that decoding ignored: every key the re-encoded value lacks. A
    /// null (which encodes to nothing) is probed with a value of the wrong shape: a field the
    /// type has fails to decode or comes back.
    static func unknownFields<T: Codable>(of type: T.Type, in input: Any, decoded: T) throws -> [String] {
        let output = try JSONSerialization.jsonObject(with: JSONEncoder().encode(decoded), options: [.fragmentsAllowed])
        var unknown: [String] = []
        var nulls: [[String]] = []
        func compare(_ input: Any, _ output: Any?, _ path: [String]) {
            if let object = input as? [String: Any] {
                let out = output as? [String: Any]
                for (key, value) in object {
                    if let present = out?[key] {
                        compare(value, present, path + [key])
                    } else if value is NSNull {
                        nulls.append(path + [key])
                    } else {
                        unknown.append(pointer(path + [key]))
                    }
                }
            } else if let array = input as? [Any], let out = output as? [Any] {
                for (index, item) in array.enumerated() where index < out.count { compare(item, out[index], path + [String(index)]) }
            }
        }
        compare(input, output, [])
        for path in nulls {
            let probe = replacing(input, at: path[...], with: ["\u{1}probe": 1])
            guard let value = try? decoder.decode(T.self, from: JSONSerialization.data(withJSONObject: probe)) else { continue }
            let back = try JSONSerialization.jsonObject(with: JSONEncoder().encode(value))
            if lookup(back, path[...]) == nil { unknown.append(pointer(path)) }
        }
        return unknown.sorted()
    }

    static func replacing(_ value: Any, at path: ArraySlice<String>, with replacement: Any) -> Any {
        guard let key = path.first else { return replacement }
        if var object = value as? [String: Any] {
            object[key] = replacing(object[key] ?? NSNull(), at: path.dropFirst(), with: replacement)
            return object
        }
        if var array = value as? [Any], let index = Int(key), array.indices.contains(index) {
            array[index] = replacing(array[index], at: path.dropFirst(), with: replacement)
            return array
        }
        return value
    }

    static func lookup(_ value: Any, _ path: ArraySlice<String>) -> Any? {
        guard let key = path.first else { return value }
        if let object = value as? [String: Any] { return object[key].flatMap { lookup($0, path.dropFirst()) } }
        if let array = value as? [Any], let index = Int(key), array.indices.contains(index) { return lookup(array[index], path.dropFirst()) }
        return nil
    }

    /// A JSON Pointer (RFC 6901) from path segments.
    static func pointer(_ path: [String]) -> String {
        path.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }.joined()
    }

    static func pointer(_ codingPath: [any CodingKey]) -> String {
        pointer(codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue })
    }

    /// A decoding error as a field error with the pointer of the value at fault.
    static func fieldError(_ error: DecodingError) -> FieldError {
        switch error {
        case .typeMismatch(let type, let context):
            return FieldError(pointer: pointer(context.codingPath), detail: "must be \(describe(type))")
        case .valueNotFound(let type, let context):
            return FieldError(pointer: pointer(context.codingPath), detail: "must be \(describe(type)), not null")
        case .keyNotFound(let key, let context):
            return FieldError(pointer: pointer(context.codingPath + [key]), detail: "is required")
        case .dataCorrupted(let context):
            let detail = context.debugDescription.contains("Cannot initialize") ? "is not one of the allowed values" : context.debugDescription
            return FieldError(pointer: pointer(context.codingPath), detail: detail)
        @unknown default:
            return FieldError(pointer: "", detail: "\(error)")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is [Any].Type: "an array"
        default: type == [String: Any].self ? "an object" : "a \(type)"
        }
    }

    static func describe(_ error: any Error) -> String {
        let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
        return text
    }
}

/// RFC 3339 timestamps, with or without fractional seconds.
enum RFC3339 {
    static func date(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
