import Foundation

/// A person's name reduced so that its Cyrillic and Latin spellings meet: «Айгүл Серікова»,
/// "Aigul Serikova", "Aygül Serikova" and "SERIKOVA Aigul" have the same key.
///
/// Each word is transliterated (`Transliteration`), then the ways Latin writes the same
/// sounds are made one: `y` and `i` (Aygul/Aigul, Aliyev/Алиев), a word-initial `ye`/`e`
/// (Yerlan/Ерлан), `ie`/`e` (Andreyev/Андреев), `kh`/`h`, `q`/`k`, `j` and `dzh`/`zh`,
/// `shch`/`sch`/`sh`, `x`/`ks`, `w`/`u` (Kazakh's ў); repeated letters count once (Zhanna/Жана).
/// Initials (one letter) are left out, and the words are sorted, so the order of given name,
/// surname and patronymic does not matter.
public struct NameKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The folded words, sorted.
    public let words: [String]

    public init(_ name: String) {
        words = Transliteration.latinWords(name).map(Self.fold).filter { $0.count > 1 && !$0.allSatisfy(\.isNumber) }.sorted()
    }

    /// One Latin word folded as described above.
    static func fold(_ word: String) -> String {
        var text = word
        for (from, to) in [("shch", "sh"), ("sch", "sh"), ("dzh", "zh"), ("kh", "h"), ("q", "k"), ("j", "zh"), ("x", "ks"), ("w", "u"), ("y", "i")] {
            text = text.replacingOccurrences(of: from, with: to)
        }
        return collapsed(collapsed(text).replacingOccurrences(of: "ie", with: "e"))
    }

    /// Repeated letters once.
    static func collapsed(_ text: String) -> String {
        var result = ""
        for letter in text where result.last != letter { result.append(letter) }
        return result
    }

    /// The keys of every part of this name with at least two words (a name with a
    /// patronymic also matches the same name without it).
    public var parts: [NameKey] {
        guard words.count > 2, words.count <= 5 else { return [self] }
        var result: [NameKey] = []
        let count = words.count
        for mask in 1..<(1 << count) where mask.nonzeroBitCount >= 2 {
            result.append(NameKey(words: (0..<count).filter { mask & (1 << $0) != 0 }.map { words[$0] }))
        }
        return result
    }

    init(words: [String]) { self.words = words }

    /// Worth comparing: at least a given name and a surname.
    public var isUsable: Bool { words.count >= 2 }

    public var description: String { words.joined(separator: " ") }

    public static func < (lhs: NameKey, rhs: NameKey) -> Bool { lhs.words.lexicographicallyPrecedes(rhs.words) }
}
