import Foundation

/// A strict reading of a JSON text (RFC 8259: no trailing commas, no comments, no duplicate
/// keys) that remembers where every value starts, so that a configuration error can name its
/// line and column: Foundation's decoder accepts some malformed files and locates no value.
struct JSONSourceMap {
    struct Position: Hashable, CustomStringConvertible {
        var line: Int
        var column: Int
        var description: String { "\(line):\(column)" }
    }

    struct SyntaxError: Error {
        var position: Position
        var reason: String
    }

    /// Key path (`http.port`, `channels[0].options.url`) → where its value starts.
    private(set) var positions: [String: Position] = [:]

    /// Where `keyPath`'s value starts, or its nearest enclosing value that is in the file.
    func position(of keyPath: String) -> Position? {
        var path = keyPath
        while true {
            if let position = positions[path] { return position }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { return positions[""] }
            path = String(path[..<cut])
        }
    }

    init(_ data: Data) throws(SyntaxError) {
        var scanner = Scanner(bytes: [UInt8](data))
        scanner.skipWhitespace()
        if scanner.peek == 0xEF, scanner.bytes.count >= 3, scanner.bytes[1] == 0xBB, scanner.bytes[2] == 0xBF { scanner.advance(3) }
        try scanner.value(path: "", into: &positions)
        scanner.skipWhitespace()
        if scanner.peek != nil { throw scanner.error("unexpected text after the end of the JSON value") }
    }

    private struct Scanner {
        let bytes: [UInt8]
        var offset = 0
        var line = 1
        var column = 1
        var depth = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        var peek: UInt8? { offset < bytes.count ? bytes[offset] : nil }
        var position: Position { Position(line: line, column: column) }

        mutating func advance(_ count: Int = 1) {
            for _ in 0..<count where offset < bytes.count {
                if bytes[offset] == 0x0A { line += 1; column = 1 }
                // Columns count characters: continuation bytes of UTF-8 do not move them.
                else if bytes[offset] & 0xC0 != 0x80 { column += 1 }
                offset += 1
            }
        }

        func error(_ reason: String) -> SyntaxError { SyntaxError(position: position, reason: reason) }

        func describePeek() -> String {
            guard let byte = peek else { return "the end of the file" }
            if byte >= 0x21 && byte < 0x7F { return "'\(Character(UnicodeScalar(byte)))'" }
            return String(format: "byte 0x%02X", byte)
        }

        mutating func skipWhitespace() {
            while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { advance() }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
            skipWhitespace()
            guard peek == byte else { throw error("expected \(what), found \(describePeek())") }
            advance()
        }

        mutating func value(path: String, into positions: inout [String: Position]) throws(SyntaxError) {
            skipWhitespace()
            positions[path] = position
            guard let byte = peek else { throw error("expected a value, found the end of the file") }
            switch byte {
            case UInt8(ascii: "{"):
                depth += 1
                guard depth <= 64 else { throw error("nested too deeply") }
                advance()
                skipWhitespace()
                if peek == UInt8(ascii: "}") { advance(); depth -= 1; return }
                var seen = Set<String>()
                while true {
                    skipWhitespace()
                    guard peek == UInt8(ascii: "\"") else {
                        throw error(peek == UInt8(ascii: "}") ? "a comma before '}' (trailing commas are not JSON)" : "expected a key in double quotes, found \(describePeek())")
                    }
                    let keyPosition = position
                    let key = try string()
                    guard seen.insert(key).inserted else {
                        throw SyntaxError(position: keyPosition, reason: "key '\(key)' appears twice in this object")
                    }
                    try expect(UInt8(ascii: ":"), "':' after the key")
                    try value(path: path.isEmpty ? key : "\(path).\(key)", into: &positions)
                    skipWhitespace()
                    if peek == UInt8(ascii: ",") { advance(); continue }
                    if peek == UInt8(ascii: "}") { advance(); depth -= 1; return }
                    throw error("expected ',' or '}', found \(describePeek())")
                }
            case UInt8(ascii: "["):
                depth += 1
                guard depth <= 64 else { throw error("nested too deeply") }
                advance()
                skipWhitespace()
                if peek == UInt8(ascii: "]") { advance(); depth -= 1; return }
                var index = 0
                while true {
                    skipWhitespace()
                    if peek == UInt8(ascii: "]") { throw error("a comma before ']' (trailing commas are not JSON)") }
                    try value(path: "\(path)[\(index)]", into: &positions)
                    index += 1
                    skipWhitespace()
                    if peek == UInt8(ascii: ",") { advance(); continue }
                    if peek == UInt8(ascii: "]") { advance(); depth -= 1; return }
                    throw error("expected ',' or ']', found \(describePeek())")
                }
            case UInt8(ascii: "\""):
                _ = try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try number()
            default:
                throw error("expected a value, found \(describePeek())\(byte == UInt8(ascii: "'") ? " (JSON strings take double quotes)" : "")")
            }
        }

        mutating func literal(_ word: String) throws(SyntaxError) {
            let start = position
            for expected in word.utf8 {
                guard peek == expected else { throw SyntaxError(position: start, reason: "expected a value (\(word)?), found \(describePeek())") }
                advance()
            }
        }

        mutating func number() throws(SyntaxError) {
            func digits(_ scanner: inout Scanner) -> Int {
                var count = 0
                while let byte = scanner.peek, byte >= 0x30 && byte <= 0x39 { scanner.advance(); count += 1 }
                return count
            }
            if peek == UInt8(ascii: "-") { advance() }
            if peek == UInt8(ascii: "0") {
                advance()
                if let byte = peek, byte >= 0x30 && byte <= 0x39 { throw error("a number must not start with 0") }
            } else if digits(&self) == 0 { throw error("expected digits, found \(describePeek())") }
            if peek == UInt8(ascii: ".") {
                advance()
                if digits(&self) == 0 { throw error("expected digits after '.', found \(describePeek())") }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                advance()
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { advance() }
                if digits(&self) == 0 { throw error("expected digits in the exponent, found \(describePeek())") }
            }
        }

        mutating func string() throws(SyntaxError) -> String {
            advance()  // the opening quote
            var raw: [UInt8] = []
            while true {
                guard let byte = peek else { throw error("a string is not closed before the end of the file") }
                if byte == UInt8(ascii: "\"") { advance(); break }
                if byte < 0x20 { throw error(byte == 0x0A ? "a string is not closed before the end of the line" : "a control character in a string (escape it)") }
                if byte == UInt8(ascii: "\\") {
                    advance()
                    guard let escaped = peek else { throw error("a string is not closed before the end of the file") }
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): raw.append(escaped)
                    case UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"): raw.append(0x20)
                    case UInt8(ascii: "u"):
                        for _ in 0..<4 {
                            advance()
                            guard let hex = peek, (0x30...0x39).contains(hex) || (0x41...0x46).contains(hex) || (0x61...0x66).contains(hex) else {
                                throw error("\\u needs four hexadecimal digits")
                            }
                        }
                        raw.append(0x3F)
                    default: throw error("unknown escape '\\\(Character(UnicodeScalar(escaped)))' in a string")
                    }
                    advance()
                    continue
                }
                raw.append(byte)
                advance()
            }
            guard let text = String(validating: raw, as: UTF8.self) else { throw error("a string that is not UTF-8") }
            return text
        }
    }
}
