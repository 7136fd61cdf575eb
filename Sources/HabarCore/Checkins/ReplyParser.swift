import Foundation

/// What a citizen's SMS reply to a check-in says.
public enum ReplyMeaning: Sendable, Hashable, CustomStringConvertible {
    case safe
    case needsHelp
    /// Not understood with confidence (free text, both answers, a negation the parser does
    /// not know): never guessed — it opens a hotline case with the text.
    case unclear

    public var description: String {
        switch self {
        case .safe: "safe"
        case .needsHelp: "needs help"
        case .unclear: "unclear"
        }
    }
}

/// Reads SMS replies in Kazakh, Russian and English, in Cyrillic or Latin letters, with or
/// without Kazakh letters and diacritics, in any case, with punctuation, extra words and
/// common misspellings. Everything is first reduced to a Latin skeleton (`көмек`, `komek`
/// and `kömek` all become `komek`), then matched word by word against small vocabularies,
/// allowing one typo in words of five letters or more and two in words of nine or more.
///
/// The rules, in order:
/// - a phrase that negates one answer (`көмек керек емес`, `не нужна помощь`, `no help
///   needed` → safe; `қауіпсіз емес`, `не в безопасности`, `not safe` → needs help) counts
///   as that answer;
/// - `1` and `2` alone (or with words that agree) are the answers the request offers;
/// - a help word anywhere means needs help, unless a safe word is there too (both → unclear);
/// - a safe word means safe when at most three other words come with it and no "no" or
///   "not" the phrases do not explain; more is free text for a person to read (unclear);
/// - no answer word at all is unclear.
public struct ReplyParser: Sendable {
    public init() {}

    public func parse(_ text: String) -> ReplyMeaning {
        let words = Self.words(text)
        guard !words.isEmpty else { return .unclear }
        var safe = 0, help = 0, other = 0, negations = 0
        var index = 0
        while index < words.count {
            if let (meaning, length) = Self.phrase(at: index, in: words) {
                if meaning == .safe { safe += 1 } else { help += 1 }
                index += length
                continue
            }
            let word = words[index]
            if word == "1" { safe += 1 }
            else if word == "2" { help += 1 }
            else if Self.matches(word, Self.safeWords) { safe += 1 }
            else if Self.matches(word, Self.helpWords) { help += 1 }
            else if Self.negations.contains(word) { negations += 1 }
            else if word.allSatisfy(\.isNumber) || Self.matches(word, Self.fillers) { /* neutral */ }
            else { other += 1 }
            index += 1
        }
        switch (safe > 0, help > 0) {
        case (true, true), (false, false): return .unclear
        case (false, true): return .needsHelp
        case (true, false): return other <= 3 && negations == 0 ? .safe : .unclear
        }
    }

    // MARK: Vocabularies (Latin skeletons)

    /// Words that answer "I am safe".
    static let safeWords: Set<String> = skeletons([
        // Kazakh: аман, аманмын, амандық, аманбыз, жақсы, жақсымын, қауіпсіз, қауіпсізбін,
        // қауіпсіздемін, сау, саумын, иә, бәрі жақсы, тыныш
        "aman", "amanmyn", "amanbyz", "amandyk", "amanmin", "zhaksy", "zhaksymyn", "zhaksybyz", "jaksy", "jaksymyn", "jaqsy",
        "kauipsiz", "kauipsizbin", "kauipsizbiz", "kauipsizdemin", "qauipsiz", "qauipsizbin", "saumyn", "saumiz", "tynysh", "ia", "iya",
        // Russian: да, норм, нормально, хорошо, в порядке, живы, жив, цел, безопасно, спасены
        "da", "norm", "normalno", "normal", "horosho", "khorosho", "harasho", "poryadke", "bezopasno", "bezopasnosti", "zhiv", "zhivy",
        "zhiva", "tsel", "tsely", "spaseny", "uspeshno",
        // English
        "safe", "ok", "okay", "okey", "fine", "yes", "good", "alright", "secure",
    ])

    /// Words that ask for help.
    static let helpWords: Set<String> = skeletons([
        // Kazakh: көмек, көмектесіңіз, көмектесіңдер, жәрдем, құтқарыңыз, қауіп, қиын, жараланды
        "komek", "komektesiniz", "komektesinder", "komektes", "komektesin", "zhardem", "kutkarynyz", "kutkaryndar", "qomek", "komeg",
        "kauip", "qauip", "kiyn", "kiyin", "zharalandy", "zharaly",
        // Russian: помогите, помощь, помочь, спасите, срочно, опасно, ранен, плохо, беда, нужна
        "pomogite", "pomosh", "pomoshch", "pomoch", "spasite", "srochno", "opasno", "ranen", "ranena", "raneny", "ploho", "plokho",
        "beda", "pomogi",
        // English
        "help", "sos", "danger", "emergency", "injured", "urgent", "trapped", "hurt",
    ])

    /// Words that carry no answer: greetings, thanks, pronouns, small words.
    static let fillers: Set<String> = skeletons([
        "men", "biz", "bari", "barimiz", "bar", "kazir", "kazyr", "osynda", "rahmet", "rakhmet", "rakmet", "salem", "salemetsiz",
        "sizge", "ushin", "eshteme", "ekenbiz",
        "ya", "my", "vse", "vsyo", "u", "nas", "menya", "v", "spasibo", "spasiba", "zdravstvuite", "privet", "tut", "seichas", "sejchas",
        "seychas", "sem", "semya", "deti", "i", "s", "na", "eto",
        "im", "am", "we", "are", "all", "here", "now", "thanks", "thank", "you", "hi", "hello", "the", "family", "is", "me", "us", "and",
    ])

    /// "No" and "not" outside a known phrase: with a safe word, the reply is not clear.
    static let negations: Set<String> = skeletons(["net", "ne", "zhok", "emes", "no", "not", "dont"])

    static func skeletons(_ words: [String]) -> Set<String> { Set(words.map(normalize)) }

    /// Phrases whose meaning differs from their words (negations, two-word answers).
    static let phrases: [(words: [String], meaning: ReplyMeaning)] = phraseTable.map { (words: $0.0.map(normalize), meaning: $0.1) }

    private static let phraseTable: [([String], ReplyMeaning)] = [
        (["komek", "kerek", "emes"], .safe), (["komek", "kazhet", "emes"], .safe), (["komektin", "kazhet", "zhok"], .safe),
        (["ne", "nuzhna", "pomosh"], .safe), (["pomosh", "ne", "nuzhna"], .safe), (["pomoshch", "ne", "nuzhna"], .safe),
        (["ne", "nuzhno", "pomogat"], .safe),
        (["no", "help", "needed"], .safe), (["dont", "need", "help"], .safe), (["do", "not", "need", "help"], .safe),
        (["kauipsiz", "emes"], .needsHelp), (["kauipsiz", "emespin"], .needsHelp), (["aman", "emes"], .needsHelp),
        (["zhaksy", "emes"], .needsHelp),
        (["ne", "v", "bezopasnosti"], .needsHelp), (["ne", "bezopasno"], .needsHelp), (["ne", "v", "poryadke"], .needsHelp),
        (["ne", "norm"], .needsHelp), (["ne", "normalno"], .needsHelp), (["ne", "horosho"], .needsHelp),
        (["not", "safe"], .needsHelp), (["not", "ok"], .needsHelp), (["not", "okay"], .needsHelp), (["not", "fine"], .needsHelp),
        (["unsafe"], .needsHelp),
        (["komek", "kerek"], .needsHelp), (["nuzhna", "pomosh"], .needsHelp), (["nuzhna", "pomoshch"], .needsHelp),
        (["need", "help"], .needsHelp),
        (["v", "bezopasnosti"], .safe), (["v", "poryadke"], .safe), (["vse", "horosho"], .safe), (["all", "good"], .safe),
    ]

    static func phrase(at index: Int, in words: [String]) -> (ReplyMeaning, Int)? {
        for entry in phrases where index + entry.words.count <= words.count {
            if zip(entry.words, words[index...]).allSatisfy({ expected, word in matches(word, [expected]) }) {
                return (entry.meaning, entry.words.count)
            }
        }
        return nil
    }

    // MARK: Normalising

    /// Lower-case Latin skeletons of the words: Cyrillic transliterated, Kazakh letters and
    /// diacritics folded, punctuation dropped, repeated letters kept once ("помогииите").
    static func words(_ text: String) -> [String] {
        Transliteration.latinWords(text).map(normalize)
    }

    /// One Latin word in its skeleton form: Latin-script spellings of the same sounds made
    /// one (`q` → `k`, `j` → `zh`, `kh` → `h`, `w` → `v`) and repeated letters kept once.
    static func normalize(_ word: String) -> String {
        let spelled = word.replacingOccurrences(of: "q", with: "k").replacingOccurrences(of: "j", with: "zh")
            .replacingOccurrences(of: "kh", with: "h").replacingOccurrences(of: "w", with: "v")
        var result = ""
        for letter in spelled where result.last != letter || letter.isNumber { result.append(letter) }
        return result
    }

    // MARK: Fuzzy matching

    /// Exact, or within the typos the word's length allows (four letters: one swap of
    /// neighbours, `sfae`; five: one typo; nine: two), also after folding unstressed
    /// Russian vowels the way people write them (`памагите`, `в бизапаснасти`).
    static func matches(_ word: String, _ vocabulary: Set<String>) -> Bool {
        if vocabulary.contains(word) { return true }
        let letters = Array(word)
        let allowed = letters.count >= 9 ? 2 : letters.count >= 5 ? 1 : 0
        let reduced = Array(vowelsReduced(word))
        return vocabulary.contains { candidate in
            let target = Array(candidate)
            if letters.count == 4, target.count == 4, isOneSwap(letters, target) { return true }
            guard target.count >= 5, allowed > 0, abs(target.count - letters.count) <= allowed else { return false }
            return distance(letters, target, limit: allowed) <= allowed
                || distance(reduced, Array(vowelsReduced(candidate)), limit: allowed) <= allowed
        }
    }

    static func vowelsReduced(_ word: String) -> String {
        String(word.map { $0 == "o" ? "a" : $0 == "e" ? "i" : $0 })
    }

    static func isOneSwap(_ a: [Character], _ b: [Character]) -> Bool {
        let differing = a.indices.filter { a[$0] != b[$0] }
        return differing.count == 2 && differing[1] == differing[0] + 1 && a[differing[0]] == b[differing[1]] && a[differing[1]] == b[differing[0]]
    }

    /// Damerau–Levenshtein distance (adjacent swaps count one), stopping above `limit`.
    static func distance(_ a: [Character], _ b: [Character], limit: Int) -> Int {
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            current[0] = i
            var best = current[0]
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { current[j] = min(current[j], previous2[j - 2] + 1) }
                best = min(best, current[j])
            }
            if best > limit { return best }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return a.isEmpty ? b.count : b.isEmpty ? a.count : previous[b.count]
    }
}
