import Foundation

/// C0 control characters in text from outside. Tab, CR and LF are text; every other one (NUL
/// above all, which SQLite's C interface reads as the end of the string) is refused wherever
/// text comes in — API bodies, agency webhooks, CSV imports, check-in notes — so nothing is
/// stored cut short or altered.
public enum ControlCharacters {
    /// Why `text` is refused, or nil: the first control character, by name and position.
    public static func problem(in text: String) -> String? {
        guard text.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) else { return nil }
        for (offset, scalar) in text.unicodeScalars.enumerated() where scalar.value < 0x20 && ![0x09, 0x0A, 0x0D].contains(scalar.value) {
            let name = scalar.value == 0 ? "NUL" : String(format: "U+%04X", scalar.value)
            return "contains the control character \(name) at character \(offset + 1); only tab, CR and LF are allowed"
        }
        return nil
    }

    /// Every string in a parsed JSON value (object keys too) that has a control character,
    /// with its JSON Pointer.
    public static func problems(inJSON value: Any, at pointer: String = "") -> [FieldError] {
        switch value {
        case let text as String:
            return problem(in: text).map { [FieldError(pointer: pointer, detail: $0)] } ?? []
        case let object as [String: Any]:
            return object.sorted { $0.key < $1.key }.flatMap { key, item -> [FieldError] in
                let child = pointer + "/" + key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
                let keyProblem = problem(in: key).map { [FieldError(pointer: child, detail: "the field name " + $0)] } ?? []
                return keyProblem + problems(inJSON: item, at: child)
            }
        case let array as [Any]:
            return array.enumerated().flatMap { problems(inJSON: $0.element, at: "\(pointer)/\($0.offset)") }
        default:
            return []
        }
    }
}
