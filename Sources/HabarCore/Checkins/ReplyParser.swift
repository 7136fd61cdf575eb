import Foundation

/// What a citizen's SMS reply to a check-in says.
public enum ReplyMeaning: Sendable, Hashable, CustomStringConvertible {
    case safe
    case needsHelp
    /// Not understood with confidence (free text, both answers, a negation, a contrast, a
    /// question): never guessed — it opens a hotline case with the text.
    case unclear

    public var description: String {
        switch self {
        case .safe: "safe"
        case .needsHelp: "needs help"
        case .unclear: "unclear"
        }
    }
}

/// A reply as the parser read it: what it means, whether a person should read it before
/// other unclear replies (a bare «нет» / «жоқ» / "no"), and why it is not `safe` when it is not.
public struct ReplyReading: Sendable, Hashable {
    public var meaning: ReplyMeaning
    /// Read by a person first: the hotline queue puts it beside the help requests.
    public var urgent: Bool
    /// Why a person must read it, or what made it a help request (for the hotline case).
    public var reason: String?

    public init(_ meaning: ReplyMeaning, urgent: Bool = false, reason: String? = nil) {
        self.meaning = meaning
        self.urgent = urgent
        self.reason = reason
    }
}

/// Reads SMS replies in Kazakh, Russian and English, in Cyrillic or Latin letters (Latin
/// capitals standing for Cyrillic ones too: `AMAH`), with or without Kazakh letters, with
/// punctuation, extra words and common misspellings.
///
/// The costs are not symmetric, and the rules are built on that: a false "safe" can leave a
/// person behind, a false "needs help" costs one phone call, a person's reading costs a
/// minute. So `safe` is said only when a safe word is there and *nothing* in the reply argues
/// against it:
/// - a help or danger word (`көмек`, `помогите`, `в опасности`, `қауіпті`, `заберите нас`)
///   or a negated safe word (`аман емеспін`, `қауіпсіз жерде емеспін`, `небезопасно`,
///   `не в порядке`, `not safe`) is a help request — unless a safe word stands beside it,
///   then a person reads both;
/// - a "help not needed" form (`көмек керек емес`, `помощь не требуется`) counts as safe,
///   never as help; "we were helped" (`мне уже помогли`) goes to a person;
/// - any other negation, a contrast (`бірақ`, `но`, `однако`, `только`, `алайда`, `but`),
///   a question (`?`, `ба`/`ма`, `где`, `қайда`) or a word it does not know turns a safe
///   reading into a person's reading;
/// - `иә` / `да` / `yes` only agree with what else is said (`Да, помогите` needs help), and a
///   `да`/`де` after the first word is the Kazakh particle "also", not "yes";
/// - a bare «нет» / «жоқ» / "no" goes to a person first in the queue.
///
/// Fuzzy matching (one typo in five letters, two in nine, unstressed vowels folded) is
/// generous towards help words and strict towards safe ones: one typo at most, the first
/// letter kept, and never across a fused negation (`небезопасно` is not `безопасно`).
public struct ReplyParser: Sendable {
    public init() {}

    public func parse(_ text: String) -> ReplyMeaning { read(text).meaning }

    /// How a word of a reply is classed.
    enum Class: Sendable, Hashable {
        /// Says "I am safe".
        case safe
        /// "Yes": agrees with whatever else the reply says.
        case yes
        /// Asks for help or says there is danger.
        case help
        /// "Help is not needed": safe, never help.
        case helpNotNeeded
        /// A safe word negated: help.
        case negatedSafe
        /// A negation that precedes what it negates (`не`, `not`, `don't`).
        case negationBefore
        /// A negation that follows what it negates (Kazakh `емес` and its personal forms).
        case negationAfter
        /// A "no" that stands alone (`нет`, `жоқ`, `no`).
        case no
        /// "But", "only", "however": what follows may take back what came before.
        case contrast
        /// A question word or particle.
        case question
        /// Known to argue against a plain answer (`помогли`, `амансыз`): a person reads it.
        case arguing
        /// Greetings, thanks, pronouns, small words: carry no answer.
        case filler
        /// A word the parser does not know.
        case unknown
    }

    public func read(_ text: String) -> ReplyReading {
        let words = Self.words(text)
        guard !words.isEmpty else { return ReplyReading(.unclear, reason: "no words") }
        var classes = Self.classify(words)
        Self.scopeNegations(&classes, words: words)
        return Self.decide(classes, words: words, question: text.contains("?") || text.contains("¿"))
    }

    // MARK: Deciding

    static func decide(_ classes: [Class], words: [String], question: Bool) -> ReplyReading {
        func count(_ wanted: Class...) -> Int { classes.filter { wanted.contains($0) }.count }
        let safe = count(.safe, .helpNotNeeded)
        let help = count(.help, .negatedSafe)
        let yes = count(.yes)
        if help > 0 {
            if safe > 0 { return ReplyReading(.unclear, reason: "says both safe and help") }
            return ReplyReading(.needsHelp, reason: count(.negatedSafe) > 0 ? "a safe word negated" : nil)
        }
        if safe > 0 || yes > 0 {
            if count(.negationBefore, .negationAfter, .no) > 0 { return ReplyReading(.unclear, reason: "a negation") }
            if count(.contrast) > 0 { return ReplyReading(.unclear, reason: "a contrast (but, only, however)") }
            if question || count(.question) > 0 { return ReplyReading(.unclear, reason: "a question") }
            if count(.arguing) > 0 { return ReplyReading(.unclear, reason: "words that need a person") }
            if count(.unknown) > 0 { return ReplyReading(.unclear, reason: "words the parser does not know") }
            return ReplyReading(.safe)
        }
        if classes.allSatisfy({ [.no, .negationBefore, .negationAfter, .filler].contains($0) }), count(.no, .negationBefore, .negationAfter) > 0 {
            return ReplyReading(.unclear, urgent: true, reason: "a bare no")
        }
        return ReplyReading(.unclear, reason: "no answer word")
    }

    /// Marks safe words negated by a `не`/`not` up to two words before them or an `емес` up
    /// to three words after (those negations are then used up); then help words negated by
    /// the word just before or after them as `arguing`: "not dangerous" is no help request,
    /// but no plain safe either. The digits the request offers are never negated.
    static func scopeNegations(_ classes: inout [Class], words: [String]) {
        for (target, reach) in [(Class.safe, (before: 2, after: 3)), (Class.help, (before: 1, after: 1))] {
            for index in classes.indices where classes[index] == target && words[index] != "1" && words[index] != "2" {
                let before = max(0, index - reach.before)..<index
                let after = (index + 1)..<min(classes.count, index + 1 + reach.after)
                let negatedBefore = before.last { classes[$0] == .negationBefore }
                let negatedAfter = after.first { classes[$0] == .negationAfter }
                guard let negation = negatedBefore ?? negatedAfter else { continue }
                classes[index] = target == .safe ? .negatedSafe : .arguing
                classes[negation] = .filler
            }
        }
    }

    // MARK: Classifying words

    static func classify(_ words: [String]) -> [Class] {
        var classes: [Class] = []
        var index = 0
        while index < words.count {
            if let (meaning, length) = phrase(at: index, in: words) {
                classes.append(contentsOf: [meaning] + Array(repeating: .filler, count: length - 1))
                index += length
                continue
            }
            classes.append(classify(words[index], first: index == 0))
            index += 1
        }
        return classes
    }

    static func classify(_ word: String, first: Bool) -> Class {
        if word == "1" { return .safe }
        if word == "2" { return .help }
        if word.allSatisfy(\.isNumber) { return .filler }
        // «да» / «де» after the first word is the Kazakh particle "also".
        if !first, word == "da" || word == "de" { return .filler }
        if let known = lexicon[word] { return known }
        if word.hasPrefix("emes") { return .negationAfter }  // емеспін, емеспіз, емессіз, …
        // Fused Russian negation: не + a safe word is its opposite, не + a help word no help.
        if word.hasPrefix("ne"), word.count > 4 {
            let rest = String(word.dropFirst(2))
            if lexicon[rest] == .safe || fuzzy(rest, safeWords, strict: true) { return .negatedSafe }
            if lexicon[rest] == .help || fuzzy(rest, helpWords, strict: false) { return .arguing }
        }
        if fuzzy(word, helpWords, strict: false) { return .help }
        if fuzzy(word, safeWords, strict: true) { return .safe }
        if fuzzy(word, fillerWords, strict: true) { return .filler }
        return .unknown
    }

    // MARK: Vocabularies (Latin skeletons)

    /// Words that answer "I am safe".
    static let safeWords: Set<String> = skeletons([
        // Kazakh: аман, аманмын, аманбыз, амандық, жақсы(мын/быз), қауіпсіз(бін/біз/демін),
        // саумын, саубыз, тыныш, дұрыс
        "aman", "amanmyn", "amanbyz", "amanbiz", "amandyk", "amanmin", "zhaksy", "zhaksymyn", "zhaksybyz", "zhaksymyz", "jaksy", "jaksymyn",
        "jaqsy", "kauipsiz", "kauipsizbin", "kauipsizbiz", "kauipsizdemin", "kauipsizdemiz", "qauipsiz", "qauipsizbin", "saumyn", "saubyz",
        "saumiz", "tynysh", "tynyshtyk", "durys", "esen", "esenbiz", "esenmin", "esenbyz",
        // Russian: норм, нормально, в норме, хорошо, в порядке, порядок, безопасно, в безопасности,
        // жив(ы), здоров(ы), цел(ы), спасены, благополучно
        "norm", "normalno", "norme", "normal", "horosho", "harasho", "poryadke", "poryadok", "bezopasno", "bezopasnosti", "zhiv",
        "zhivy", "zhiva", "zdorov", "zdorovy", "zdorova", "tsel", "tsely", "tsela", "spaseny", "blagopoluchno", "uspeshno",
        // English
        "safe", "ok", "okay", "okey", "fine", "good", "alright", "secure",
    ])

    /// Words that agree: "yes". Alone they answer the question asked ("are you safe?").
    static let yesWords: Set<String> = skeletons(["da", "ia", "iya", "iia", "yes", "yeah", "aga"])

    /// Words that ask for help or say there is danger.
    static let helpWords: Set<String> = skeletons([
        // Kazakh: көмек, көмектесіңіз, жәрдем, құтқарыңыз, қауіп, қауіпті, қауіпте, қиын, жаман,
        // жараланды(м), атыс, жарылыс, эвакуация, алып кетіңіз
        "komek", "komektesiniz", "komektesinder", "komektes", "komektesin", "komekteseniz", "komektesinizshi", "zhardem", "kutkarynyz", "kutkaryndar",
        "kutkar", "qomek", "komeg", "kauip", "kauipti", "kauipte", "kauiptimiz", "kiyn", "kiyin", "zhaman", "zhamanmyn", "zhamanbyz",
        "zharalandy", "zharalandym", "zharalandyk", "zharaly", "zharakat", "atys", "zharylys",
        // Russian: помогите, помощь, спасите, срочно, опасно, в опасности, ранен, плохо, беда,
        // заберите, эвакуация, эвакуируйте, обстрел, стреляют, бомбят, взрывы, застряли
        "pomogite", "pomosh", "pomoshch", "pomoch", "pomogi", "spasite", "srochno", "opasno", "opasnost", "opasnosti", "ranen", "ranena",
        "raneny", "ranenye", "ploho", "plokho", "beda", "zaberite", "zabrat", "evakuatsiya", "evakuatsii", "evakuatsiyu", "evakuiruite",
        "evakuiruyte", "obstrel", "streliayut", "strelyayut", "bombyat", "bombezhka", "vzryvy", "zastryali",
        // English
        "help", "sos", "danger", "dangerous", "emergency", "injured", "urgent", "trapped", "hurt", "unsafe", "evacuate", "evacuation",
        "rescue", "shelling", "wounded", "stuck",
    ])

    /// Words that carry no answer: greetings, thanks, pronouns, places, small words.
    static let fillerWords: Set<String> = skeletons([
        // Kazakh
        "men", "biz", "bari", "barimiz", "bar", "kazir", "kazyr", "osynda", "munda", "rahmet", "rakhmet", "rakmet", "salem", "salemetsiz",
        "sizge", "ushin", "ekenbiz", "zherdemin", "zherdemiz", "zherde", "otbasym", "otbasymyz", "balalar", "balalarmen", "adam",
        "konakuide", "konakuidemin", "konakuidemiz", "uide", "uidemin", "uidemiz", "kop", "kaitadan", "zhane", "de", "ta", "te", "gana",
        "birge", "zhettik",
        // Russian
        "ya", "my", "vse", "vsyo", "u", "nas", "menya", "mne", "nam", "v", "spasibo", "spasiba", "zdravstvuite", "zdravstvuyte", "privet",
        "tut", "seichas", "sejchas", "seychas", "sem", "semya", "deti", "i", "s", "na", "eto", "ochen", "sovsem", "uzhe", "doma",
        "gostinitse", "otele", "vmeste", "detmi", "tozhe", "dobralis", "doehali", "priehali",
        // English
        "im", "am", "we", "are", "all", "here", "now", "thanks", "thank", "you", "hi", "hello", "the", "family", "is", "me", "us", "and",
        "at", "in", "hotel", "home", "kids", "very", "totally", "a", "sound",
    ])

    /// Every word known exactly, with its class: looked up before any fuzzy match, so a
    /// near-miss of one class never hides a word of another (`помогли` is no `помоги`).
    static let lexicon: [String: Class] = {
        var table: [String: Class] = [:]
        for word in fillerWords { table[word] = .filler }
        for word in safeWords { table[word] = .safe }
        for word in yesWords { table[word] = .yes }
        for word in helpWords { table[word] = .help }
        for word in skeletons(["ne", "not", "dont", "doesnt", "never", "nikak", "ni"]) { table[word] = .negationBefore }
        for word in skeletons(["emes"]) { table[word] = .negationAfter }
        for word in skeletons(["net", "zhok", "no", "nope", "nea"]) { table[word] = .no }
        // «но» is "no" in Latin letters: both argue against a plain safe.
        for word in skeletons(["birak", "biraq", "alaida", "alayda", "odnako", "tolko", "but", "however", "except", "krome", "hotya",
                               "although", "zato", "tek", "sondykan", "yet"]) { table[word] = .contrast }
        for word in skeletons(["gde", "kogda", "kak", "kuda", "pochemu", "zachem", "skolko", "kto", "chto", "li", "where", "when", "how",
                               "what", "why", "who", "kaida", "kashan", "kalai", "kansha", "kim", "nege", "ma", "me", "ba", "be", "pa",
                               "pe", "ne"]) where table[word] == nil { table[word] = .question }
        // Known to need a person: "we were helped", "are you safe?", "we cannot".
        for word in skeletons(["pomogli", "pomog", "pomogla", "komektesti", "amansyz", "amansyzdar", "amansyndar", "amansyn",
                               "zhaksysyz", "bilmeimin", "neznayu", "pogib", "pogibli", "propal", "propala", "poteryal", "poteryali",
                               "zhogaldy", "missing", "lost", "died", "dead"]) {
            table[word] = .arguing
        }
        return table
    }()

    static func skeletons(_ words: [String]) -> Set<String> { Set(words.map(normalize)) }

    // MARK: Phrases

    /// Phrases whose meaning differs from their words.
    static let phrases: [(words: [String], meaning: Class)] = phraseTable.map { (words: $0.0.map(normalize), meaning: $0.1) }

    private static let phraseTable: [([String], Class)] = [
        // Help is not needed: safe, never help.
        (["komek", "kerek", "emes"], .helpNotNeeded), (["komek", "kazhet", "emes"], .helpNotNeeded),
        (["komektin", "kazheti", "zhok"], .helpNotNeeded), (["komektin", "keregi", "zhok"], .helpNotNeeded),
        (["komek", "keregi", "zhok"], .helpNotNeeded), (["komegi", "kerek", "emes"], .helpNotNeeded),
        (["komek", "kazhet", "bolmaidy"], .helpNotNeeded),
        (["ne", "nuzhna", "pomosh"], .helpNotNeeded), (["pomosh", "ne", "nuzhna"], .helpNotNeeded), (["pomoshch", "ne", "nuzhna"], .helpNotNeeded),
        (["pomosh", "ne", "trebuetsya"], .helpNotNeeded), (["pomoshch", "ne", "trebuetsya"], .helpNotNeeded),
        (["ne", "trebuetsya", "pomosh"], .helpNotNeeded), (["pomosh", "ne", "nuzhno"], .helpNotNeeded),
        (["v", "pomoshi", "ne", "nuzhdaemsya"], .helpNotNeeded), (["v", "pomoshi", "ne", "nuzhdayus"], .helpNotNeeded),
        (["ne", "nuzhno", "pomogat"], .helpNotNeeded), (["pomogat", "ne", "nado"], .helpNotNeeded),
        (["no", "help", "needed"], .helpNotNeeded), (["dont", "need", "help"], .helpNotNeeded), (["do", "not", "need", "help"], .helpNotNeeded),
        (["need", "no", "help"], .helpNotNeeded), (["help", "not", "needed"], .helpNotNeeded),
        // Greetings that look like questions.
        (["salemetsiz", "be"], .filler), (["salemetsizder", "me"], .filler), (["salem", "berdik"], .filler),
        // Negated safe words written as one phrase.
        (["ne", "v", "bezopasnosti"], .negatedSafe), (["ne", "bezopasno"], .negatedSafe), (["ne", "v", "poryadke"], .negatedSafe),
        (["not", "safe"], .negatedSafe), (["not", "ok"], .negatedSafe), (["not", "okay"], .negatedSafe), (["not", "fine"], .negatedSafe),
        (["no", "longer", "safe"], .negatedSafe),
        // Help as two words.
        (["komek", "kerek"], .help), (["nuzhna", "pomosh"], .help), (["nuzhna", "pomoshch"], .help), (["need", "help"], .help),
        (["v", "opasnosti"], .help), (["alyp", "ketiniz"], .help), (["evakuatsiya", "kerek"], .help), (["get", "us", "out"], .help),
        (["nuzhna", "evakuatsiya"], .help),
        // Safe as two words.
        (["v", "bezopasnosti"], .safe), (["v", "poryadke"], .safe), (["vse", "horosho"], .safe), (["all", "good"], .safe),
        (["v", "norme"], .safe), (["all", "fine"], .safe),
        // People who helped, not people who need help.
        (["uzhe", "pomogli"], .arguing), (["komek", "aldyk"], .arguing), (["komek", "aldym"], .arguing), (["got", "help"], .arguing),
    ]

    static func phrase(at index: Int, in words: [String]) -> (Class, Int)? {
        for entry in phrases where entry.words.count > 1 && index + entry.words.count <= words.count {
            let matched = zip(entry.words, words[index...]).allSatisfy { expected, word in
                word == expected || (expected.count >= 5 && lexicon[word] == nil && fuzzy(word, [expected], strict: entry.meaning == .safe))
            }
            if matched { return (entry.meaning, entry.words.count) }
        }
        return nil
    }

    // MARK: Normalising

    /// Lower-case Latin skeletons of the words: Cyrillic transliterated, Kazakh letters and
    /// diacritics folded, punctuation dropped, repeated letters kept once ("помогииите").
    /// A word in Latin capitals that could be Cyrillic ones (`AMAH`, `HET`) is read as
    /// Cyrillic when only that reading is a word the parser knows.
    static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0.isWhitespace }).flatMap { token -> [String] in
            let latin = Transliteration.latinWords(String(token)).map(normalize)
            guard let cyrillic = homoglyphsAsCyrillic(String(token)) else { return latin }
            let read = Transliteration.latinWords(cyrillic).map(normalize)
            let known = { (words: [String]) in words.allSatisfy { lexicon[$0] != nil } }
            return !known(latin) && known(read) ? read : latin
        }
    }

    /// Latin capitals that look like Cyrillic ones.
    static let homoglyphs: [Character: Character] = [
        "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О", "P": "Р", "T": "Т", "X": "Х", "Y": "У",
    ]

    /// `token` with its Latin capitals made Cyrillic, when it has one that only Cyrillic reads differently.
    static func homoglyphsAsCyrillic(_ token: String) -> String? {
        let letters = token.filter(\.isLetter)
        guard letters.count >= 2, letters.allSatisfy({ homoglyphs[$0] != nil || Transliteration.isCyrillic(String($0)) }),
              letters.contains(where: { homoglyphs[$0] != nil }) else { return nil }
        return String(token.map { homoglyphs[$0] ?? $0 })
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

    /// Within the typos the word's length allows, also after folding unstressed Russian
    /// vowels the way people write them (`памагите`, `в бизапаснасти`). Generous (help
    /// words): four letters allow one swap of neighbours, five one typo, nine two. Strict
    /// (safe words): one typo at most, the first letter kept. Never across a leading `не`:
    /// a fused negation is a different word.
    static func fuzzy(_ word: String, _ vocabulary: Set<String>, strict: Bool) -> Bool {
        let letters = Array(word)
        let generous = letters.count >= 9 ? 2 : letters.count >= 5 ? 1 : 0
        let allowed = strict ? min(1, generous) : generous
        let reduced = Array(vowelsReduced(word))
        return vocabulary.contains { candidate in
            let target = Array(candidate)
            if word.hasPrefix("ne") != candidate.hasPrefix("ne") { return false }
            if strict, target.first != letters.first { return false }
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
