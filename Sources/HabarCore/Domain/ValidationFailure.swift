/// One precise complaint about an input: where (JSON Pointer, or CSV line and field) and why.
public struct FieldError: Sendable, Hashable, Codable, CustomStringConvertible {
    /// JSON Pointer into the request body (`/phone`), or nil for CSV.
    public var pointer: String?
    /// CSV line (1 is the header row) for imports.
    public var line: Int?
    /// CSV column or configuration key path.
    public var field: String?
    public var detail: String

    public init(pointer: String? = nil, line: Int? = nil, field: String? = nil, detail: String) {
        self.pointer = pointer
        self.line = line
        self.field = field
        self.detail = detail
    }

    public var description: String {
        var location: [String] = []
        if let line { location.append("line \(line)") }
        if let field { location.append(field) }
        if let pointer { location.append(pointer) }
        return location.isEmpty ? detail : "\(location.joined(separator: ", ")): \(detail)"
    }
}

/// An input was refused; nothing was changed.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    public var errors: [FieldError]

    public init(_ errors: [FieldError]) { self.errors = errors }
    public init(pointer: String, _ detail: String) { self.errors = [FieldError(pointer: pointer, detail: detail)] }

    public var description: String { errors.map(\.description).joined(separator: "; ") }
}

/// Collects field errors while a value is validated, then throws them all at once.
public struct Validator: Sendable {
    public private(set) var errors: [FieldError] = []
    public init() {}

    public mutating func add(_ pointer: String, _ detail: String) {
        errors.append(FieldError(pointer: pointer, detail: detail))
    }

    public mutating func check(_ condition: Bool, _ pointer: String, _ detail: @autoclosure () -> String) {
        if !condition { add(pointer, detail()) }
    }

    public func throwIfAny() throws(ValidationFailure) {
        if !errors.isEmpty { throw ValidationFailure(errors) }
    }
}
