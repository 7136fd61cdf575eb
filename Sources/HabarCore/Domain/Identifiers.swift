import Foundation

/// A phone number in E.164 form (`+77011234567`).
public struct PhoneNumber: Sendable, Hashable, Codable, CustomStringConvertible {
    public let e164: String

    /// Normalises what people type: spaces, dashes, dots and brackets are dropped; a Kazakh
    /// or Russian trunk prefix `8` followed by 10 digits becomes `+7`; anything else must
    /// start with `+` (or `00`) and have 8 to 15 digits with a non-zero country code.
    public init?(_ input: String) {
        let trimmed = input.trimmingCharacters(in: .whitespaces)
        var digits = ""
        var plus = false
        for (offset, character) in trimmed.enumerated() {
            if character == "+" && offset == 0 { plus = true; continue }
            if character.isASCII, character.isNumber { digits.append(character); continue }
            if " -.()\u{00A0}".contains(character) { continue }
            return nil
        }
        if !plus, digits.hasPrefix("00") { digits.removeFirst(2); plus = true }
        if !plus {
            if digits.count == 11, digits.hasPrefix("8") || digits.hasPrefix("7") {
                digits = "7" + digits.dropFirst()
            } else if digits.count == 10, digits.hasPrefix("7") {
                digits = "7" + digits
            } else {
                return nil
            }
        }
        guard (8...15).contains(digits.count), digits.first != "0" else { return nil }
        if digits.hasPrefix("7"), digits.count != 11 { return nil }
        self.e164 = "+" + digits
    }

    /// A number already normalised and checked (read back from the store).
    public init(storedE164 e164: String) {
        self.e164 = e164
    }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let value = PhoneNumber(raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a phone number"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(e164)
    }

    public var description: String { e164 }
}

/// Plain checks for the other identifiers citizens carry.
public enum Identifiers {
    /// A conservative e-mail address check: one `@`, a local part, a dotted domain, no spaces.
    public static func isEmail(_ value: String) -> Bool {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64, value.count <= 254 else { return false }
        let domain = parts[1]
        guard domain.contains("."), !domain.hasPrefix("."), !domain.hasSuffix("."), !domain.contains("..") else { return false }
        return !value.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "," })
    }

    /// ISO 3166-1 alpha-2: two upper-case ASCII letters that name an assigned country
    /// (user-assigned codes such as `ZZ` or `XA` are refused; `XK`, Kosovo, is accepted).
    public static func isCountryCode(_ value: String) -> Bool {
        countryCodes.contains(value)
    }

    static let countryCodes: Set<String> = {
        let userAssigned: (String) -> Bool = { code in
            code == "AA" || code == "ZZ" || ("QM"..."QZ").contains(code) || (code.hasPrefix("X") && code != "XK")
        }
        return Set(Locale.Region.isoRegions.map(\.identifier).filter { code in
            code.count == 2 && code.allSatisfy { $0.isASCII && $0.isUppercase } && !userAssigned(code)
        })
    }()
}
