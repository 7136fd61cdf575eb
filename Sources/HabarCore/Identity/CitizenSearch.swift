import Foundation

/// What an operator types to find someone: a part of a phone number, or parts of a name in
/// any script. A query of digits (with `+`, spaces, dashes, brackets) matches phone numbers
/// containing those digits; otherwise each word of the query must begin a word of the
/// citizen's name once both are folded as `NameKey` folds them, so «серикова», "Serikova"
/// and "SERIKOVA" all find «Айгүл Серікова». Every store applies exactly this rule.
public struct CitizenSearch: Sendable, Hashable {
    /// The digits of a phone query (at least three), or nil for a name query.
    public let digits: String?
    /// The folded words of a name query.
    public let words: [String]

    public init(_ query: String) {
        let trimmed = query.trimmingCharacters(in: .whitespacesAndNewlines)
        let phoneLike = !trimmed.isEmpty && trimmed.allSatisfy { $0.isNumber || "+-() .".contains($0) }
        let digits = trimmed.filter(\.isNumber)
        if phoneLike, digits.count >= 3 {
            self.digits = String(digits)
            words = []
        } else {
            self.digits = nil
            words = Transliteration.latinWords(trimmed).map(NameKey.fold).filter { !$0.isEmpty }
        }
    }

    /// Whether the query asks for anything.
    public var isEmpty: Bool { digits == nil && words.isEmpty }

    /// A name as a store keeps it for this search (a server store cannot run `matches`): each
    /// folded word after a space, so a query word matches where ` word` occurs in it.
    public static func indexedWords(fullName: String) -> String {
        Transliteration.latinWords(fullName).map(NameKey.fold).filter { !$0.isEmpty }.map { " " + $0 }.joined()
    }

    public func matches(fullName: String, phone: String?) -> Bool {
        if let digits { return phone?.contains(digits) ?? false }
        guard !words.isEmpty else { return true }
        let nameWords = Transliteration.latinWords(fullName).map(NameKey.fold)
        return words.allSatisfy { word in nameWords.contains { $0.hasPrefix(word) } }
    }
}
