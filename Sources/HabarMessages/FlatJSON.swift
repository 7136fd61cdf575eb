/// Where a JSON string value sits in its file, to turn an offset in the decoded string
/// into a line and column of the file.
public struct JSONStringPosition: Sendable, Hashable {
    /// Line and column (1-based) of the opening quote.
    let line: Int
    let column: Int
    /// For each decoded character, the columns it took in the file (`\n` escapes take 2).
    /// Raw line breaks cannot occur inside a JSON string, so the line never changes.
    let widths: [Int]

    /// The line and column of decoded character `offset` (past the end: the closing quote).
    func location(ofCharacter offset: Int) -> (line: Int, column: Int) {
        (line, column + 1 + widths.prefix(max(0, offset)).reduce(0, +))
    }
}

/// A reader for the one JSON shape catalogs have, a flat object of strings, that keeps
/// every key's position and order and sees duplicate keys (which a dictionary decoder
/// silently drops).
enum FlatJSON {
    struct Failure: Error {
        var line: Int
        var column: Int
        var detail: String
    }

    static func parse(_ text: String) throws(Failure) -> [(key: String, value: String, position: JSONStringPosition)] {
        let characters = Array(text)
        var index = 0
        var line = 1
        var lineStart = 0
        func fail(_ detail: String) -> Failure { Failure(line: line, column: index - lineStart + 1, detail: detail) }
        func skip() {
            while index < characters.count, characters[index].isWhitespace {
                if characters[index] == "\n" || characters[index] == "\r\n" { line += 1; lineStart = index + 1 }
                index += 1
            }
        }
        func string() throws(Failure) -> (String, JSONStringPosition) {
            guard index < characters.count, characters[index] == "\"" else { throw fail("expected a string") }
            let position = (line, index - lineStart + 1)
            index += 1
            var value = ""
            var widths: [Int] = []
            while true {
                guard index < characters.count else { throw fail("a string is not closed") }
                let character = characters[index]
                if character == "\"" { index += 1; break }
                if character == "\n" || character == "\r\n" { throw fail("a line break inside a string (write \\n)") }
                if character == "\\" {
                    guard index + 1 < characters.count else { throw fail("a string is not closed") }
                    let escape = characters[index + 1]
                    switch escape {
                    case "\"": value.append("\""); widths.append(2); index += 2
                    case "\\": value.append("\\"); widths.append(2); index += 2
                    case "/": value.append("/"); widths.append(2); index += 2
                    case "n": value.append("\n"); widths.append(2); index += 2
                    case "t": value.append("\t"); widths.append(2); index += 2
                    case "r": value.append("\r"); widths.append(2); index += 2
                    case "b": value.append("\u{8}"); widths.append(2); index += 2
                    case "f": value.append("\u{C}"); widths.append(2); index += 2
                    case "u":
                        guard index + 5 < characters.count, let code = UInt32(String(characters[(index + 2)...(index + 5)]), radix: 16) else {
                            throw fail("a \\u escape needs four hex digits")
                        }
                        index += 6
                        var scalarValue = code
                        var width = 6
                        if (0xD800...0xDBFF).contains(code), index + 5 < characters.count, characters[index] == "\\", characters[index + 1] == "u",
                            let low = UInt32(String(characters[(index + 2)...(index + 5)]), radix: 16), (0xDC00...0xDFFF).contains(low)
                        {
                            scalarValue = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            index += 6
                            width = 12
                        }
                        guard let scalar = Unicode.Scalar(scalarValue) else { throw fail("\\u escape is not a character") }
                        value.unicodeScalars.append(scalar)
                        widths.append(width)
                    default:
                        throw fail("unknown escape \\\(escape)")
                    }
                    continue
                }
                value.append(character)
                widths.append(1)
                index += 1
            }
            return (value, JSONStringPosition(line: position.0, column: position.1, widths: widths))
        }
        var result: [(key: String, value: String, position: JSONStringPosition)] = []
        skip()
        guard index < characters.count, characters[index] == "{" else { throw fail("a catalog is one JSON object") }
        index += 1
        skip()
        if index < characters.count, characters[index] == "}" { return [] }
        while true {
            skip()
            let (key, _) = try string()
            skip()
            guard index < characters.count, characters[index] == ":" else { throw fail("expected ':' after the key \"\(key)\"") }
            index += 1
            skip()
            guard index < characters.count, characters[index] == "\"" else { throw fail("the value of \"\(key)\" must be a string") }
            let (value, position) = try string()
            result.append((key, value, position))
            skip()
            guard index < characters.count else { throw fail("the object is not closed") }
            if characters[index] == "," { index += 1; continue }
            if characters[index] == "}" { index += 1; break }
            throw fail("expected ',' or '}'")
        }
        skip()
        guard index == characters.count else { throw fail("text after the object") }
        return result
    }
}
