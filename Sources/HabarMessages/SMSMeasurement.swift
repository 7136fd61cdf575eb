/// How an SMS text is encoded on the air interface.
public enum SMSEncoding: String, Sendable, Codable, Hashable {
    /// GSM 03.38 default alphabet, 7 bits a character (extension characters take two).
    case gsm7
    /// UCS-2 (UTF-16 code units), needed for Cyrillic and anything outside GSM 03.38.
    case ucs2
}

/// The exact size of one SMS text: its encoding, its length in that encoding's units, and
/// how many segments a handset receives.
public struct SMSMeasurement: Sendable, Hashable, Codable {
    public var encoding: SMSEncoding
    /// Septets for GSM-7, UTF-16 code units for UCS-2.
    public var units: Int
    public var segments: Int

    /// Measures `text` exactly as an SMSC splits it: 160/153 septets for GSM-7, 70/67 code
    /// units for UCS-2, never splitting an escape sequence or a surrogate pair across segments.
    public init(_ text: String) {
        if let septets = GSM7.septets(of: text) {
            self.encoding = .gsm7
            self.units = septets.reduce(0, +)
            self.segments = Self.segments(of: septets, single: 160, concatenated: 153)
        } else {
            let units = text.unicodeScalars.map { $0.value > 0xFFFF ? 2 : 1 }
            self.encoding = .ucs2
            self.units = units.reduce(0, +)
            self.segments = Self.segments(of: units, single: 70, concatenated: 67)
        }
    }

    /// How many units `segments` segments hold in `encoding` (one: 160 or 70; more: 153 or 67 each).
    public static func capacity(segments: Int, encoding: SMSEncoding) -> Int {
        let (single, concatenated) = encoding == .gsm7 ? (160, 153) : (70, 67)
        return segments <= 1 ? single : segments * concatenated
    }

    /// Packs indivisible pieces (one character's units) into segments.
    static func segments(of pieces: [Int], single: Int, concatenated: Int) -> Int {
        let total = pieces.reduce(0, +)
        if total == 0 { return 1 }
        if total <= single { return 1 }
        var count = 1
        var used = 0
        for piece in pieces {
            if used + piece > concatenated {
                count += 1
                used = 0
            }
            used += piece
        }
        return count
    }
}

/// The GSM 03.38 default alphabet and its extension table.
enum GSM7 {
    static let basic: Set<Unicode.Scalar> = Set(
        ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
            + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà").unicodeScalars
    )
    /// Characters reached through the escape code: each costs two septets.
    static let extended: Set<Unicode.Scalar> = Set("\u{0C}^{}\\[~]|€".unicodeScalars)

    /// Septets per character, or nil when the text needs UCS-2.
    static func septets(of text: String) -> [Int]? {
        var result: [Int] = []
        result.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if basic.contains(scalar) {
                result.append(1)
            } else if extended.contains(scalar) {
                result.append(2)
            } else {
                return nil
            }
        }
        return result
    }
}

extension SMSMeasurement {
    /// Where `text` first leaves the GSM-7 alphabet (the character that makes it UCS-2, at
    /// 70 instead of 160 a segment); nil for a GSM-7 text.
    public static func firstUCS2Character(in text: String) -> String.Index? {
        text.unicodeScalars.firstIndex { !GSM7.basic.contains($0) && !GSM7.extended.contains($0) }.map { $0.samePosition(in: text) ?? text.startIndex }
    }

    /// Where the last segment of a text of several begins (what spilled into it); nil for one
    /// segment. The split is the SMSC's: 153 septets or 67 code units a segment, never inside
    /// a character.
    public static func lastSegmentStart(in text: String) -> String.Index? {
        let measured = SMSMeasurement(text)
        guard measured.segments > 1 else { return nil }
        let concatenated = measured.encoding == .gsm7 ? 153 : 67
        var used = 0
        var start = text.unicodeScalars.startIndex
        for index in text.unicodeScalars.indices {
            let scalar = text.unicodeScalars[index]
            let units = measured.encoding == .gsm7 ? (GSM7.extended.contains(scalar) ? 2 : 1) : (scalar.value > 0xFFFF ? 2 : 1)
            if used + units > concatenated {
                used = 0
                start = index
            }
            used += units
        }
        return start.samePosition(in: text) ?? text.index(before: text.endIndex)
    }
}
