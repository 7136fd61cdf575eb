import Foundation

/// Kazakh and Russian Cyrillic in Latin letters: the one transliteration Habar uses wherever
/// it compares text across scripts (SMS replies, people's names).
public enum Transliteration {
    /// Each Cyrillic letter (Kazakh's included) as the Latin letters it is most often written with.
    static let cyrillic: [Character: String] = [
        "а": "a", "ә": "a", "б": "b", "в": "v", "г": "g", "ғ": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
        "й": "i", "к": "k", "қ": "k", "л": "l", "м": "m", "н": "n", "ң": "n", "о": "o", "ө": "o", "п": "p", "р": "r", "с": "s",
        "т": "t", "у": "u", "ұ": "u", "ү": "u", "ф": "f", "х": "h", "һ": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "",
        "ы": "y", "і": "i", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    ]

    /// Latin letters of Turkish-style Kazakh spellings that stand for two letters elsewhere.
    static let latinDigraphs: [Character: String] = ["ş": "sh", "ç": "ch"]

    /// The words of `text` in lower-case Latin letters and digits: Cyrillic transliterated,
    /// Latin diacritics folded to the base letter (ö, ü, ı, ğ, á), apostrophes dropped,
    /// everything else a word break.
    public static func latinWords(_ text: String) -> [String] {
        var skeleton = ""
        for character in text.lowercased() {
            if let mapped = cyrillic[character] ?? latinDigraphs[character] {
                skeleton += mapped
            } else if character.isLetter || character.isNumber {
                let folded = String(character).folding(options: [.diacriticInsensitive, .widthInsensitive], locale: nil)
                skeleton += folded.replacingOccurrences(of: "ı", with: "i")
            } else if character == "'" || character == "’" || character == "ʼ" {
                continue  // "don't", "qazaqstan'da"
            } else {
                skeleton += " "
            }
        }
        return skeleton.split(separator: " ").map(String.init)
    }

    /// Whether `text` is written in Cyrillic letters (any of them).
    public static func isCyrillic(_ text: String) -> Bool {
        text.lowercased().contains { cyrillic[$0] != nil }
    }
}
