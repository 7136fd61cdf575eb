import Foundation

/// A value a message argument takes.
public enum MessageArgument: Sendable, Hashable, ExpressibleByStringLiteral {
    case text(String)
    case number(Double)
    case date(Date)

    public init(stringLiteral value: String) { self = .text(value) }
}

/// Where dates and times are shown: `local` (the advisory's place), `astana` (Kazakhstan),
/// `utc`, or an IANA zone named in the pattern.
public struct MessageZones: Sendable, Hashable {
    public var local: TimeZone
    public var astana: TimeZone

    public init(local: TimeZone = TimeZone(identifier: "UTC")!, astana: TimeZone = TimeZone(identifier: "Asia/Almaty")!) {
        self.local = local
        self.astana = astana
    }

    func zone(_ name: String) -> TimeZone? {
        switch name {
        case "", "local": local
        case "astana": astana
        case "utc": TimeZone(identifier: "UTC")
        default: TimeZone(identifier: name)
        }
    }
}

/// One ICU MessageFormat string, parsed: literal text, `{name}`, `{name, number}`,
/// `{name, date, ZONE}`, `{name, time, ZONE}` (ZONE `local`, `astana`, `utc` or an IANA id;
/// default `local`), `{name, time, ZONE, CASE}` (Kazakh texts: `locative`, `ablative`,
/// `dative` — `08:15-те`, `08:00-ден`, `12 наурызға`), `{name, plural, [offset:N] =N {…} one {…} few {…} many {…} other {…}}`
/// with `#`, and `{name, select, key {…} other {…}}`. Apostrophes quote as in ICU: `''` is
/// one apostrophe, `'{'` a literal brace.
public struct MessageFormat: Sendable, Hashable {
    indirect enum Node: Sendable, Hashable {
        case text(String)
        case argument(name: String, type: ArgumentType)
        case plural(name: String, offset: Double, exact: [Double: [Node]], cases: [PluralCategory: [Node]], at: Int)
        case select(name: String, cases: [String: [Node]], at: Int)
        case pound
    }

    enum ArgumentType: Sendable, Hashable {
        case plain
        case number
        /// A zone name and, for Kazakh, the case the date or time stands in.
        case date(String, KazakhCase?)
        case time(String, KazakhCase?)
    }

    /// Where and why a message does not parse or render: `offset` counts characters from
    /// the start of the message.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public var offset: Int
        public var detail: String
        public var description: String { detail }
    }

    let nodes: [Node]
    public let source: String

    public init(_ source: String) throws(Failure) {
        var parser = Parser(Array(source))
        self.nodes = try parser.message(depth: 0, inPlural: false)
        if parser.index < parser.characters.count {
            throw Failure(offset: parser.index, detail: "'}' without an opening '{'")
        }
        self.source = source
    }

    // MARK: What it uses

    /// Every argument name, in order of first use.
    public var arguments: [String] {
        var names: [String] = []
        func walk(_ nodes: [Node]) {
            for node in nodes {
                switch node {
                case .argument(let name, _): if !names.contains(name) { names.append(name) }
                case .plural(let name, _, let exact, let cases, _):
                    if !names.contains(name) { names.append(name) }
                    exact.keys.sorted().forEach { walk(exact[$0]!) }
                    cases.keys.sorted().forEach { walk(cases[$0]!) }
                case .select(let name, let cases, _):
                    if !names.contains(name) { names.append(name) }
                    cases.keys.sorted().forEach { walk(cases[$0]!) }
                case .text, .pound: break
                }
            }
        }
        walk(nodes)
        return names
    }

    /// Each plural in the message: its argument, the categories it gives, and where it starts.
    public var plurals: [(name: String, categories: Set<PluralCategory>, offset: Int)] {
        var found: [(String, Set<PluralCategory>, Int)] = []
        func walk(_ nodes: [Node]) {
            for node in nodes {
                switch node {
                case .plural(let name, _, let exact, let cases, let at):
                    found.append((name, Set(cases.keys), at))
                    exact.values.forEach(walk)
                    cases.values.forEach(walk)
                case .select(_, let cases, _): cases.values.forEach(walk)
                default: break
                }
            }
        }
        walk(nodes)
        return found
    }

    /// The literal text of the message (for checks on HTML structure), arguments as `{}`.
    public var skeleton: String {
        func walk(_ nodes: [Node]) -> String {
            nodes.map { node -> String in
                switch node {
                case .text(let text): text
                case .argument, .pound: "{}"
                case .plural(_, _, _, let cases, _): cases[.other].map(walk) ?? "{}"
                case .select(_, let cases, _): cases["other"].map(walk) ?? "{}"
                }
            }.joined()
        }
        return walk(nodes)
    }

    // MARK: Rendering

    /// The message with `arguments` in `language`. Argument values are never parsed as
    /// message syntax; in HTML they are escaped.
    public func format(_ arguments: [String: MessageArgument], language: Language, zones: MessageZones, escapeHTML: Bool = false) throws(Failure) -> String {
        var output = ""
        try render(nodes, arguments, language, zones, escapeHTML, pound: nil, into: &output)
        return output
    }

    private func render(
        _ nodes: [Node], _ arguments: [String: MessageArgument], _ language: Language, _ zones: MessageZones, _ escapeHTML: Bool,
        pound: String?, into output: inout String
    ) throws(Failure) {
        func put(_ value: String) { output += escapeHTML ? HTML.escape(value) : value }
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .pound:
                put(pound ?? "#")
            case .argument(let name, let type):
                guard let value = arguments[name] else { throw Failure(offset: 0, detail: "missing parameter '\(name)'") }
                switch (type, value) {
                case (.plain, .text(let text)): put(text)
                case (.plain, .number(let number)), (.number, .number(let number)): put(LocaleFormat.number(number, language))
                case (.plain, .date(let date)): put(LocaleFormat.date(date, zones.local, language) + " " + LocaleFormat.time(date, zones.local))
                case (.date(let zoneName, let grammaticalCase), .date(let date)):
                    guard let zone = zones.zone(zoneName) else { throw Failure(offset: 0, detail: "unknown time zone '\(zoneName)'") }
                    put(LocaleFormat.date(date, zone, language, case: language == .kazakh ? grammaticalCase : nil))
                case (.time(let zoneName, let grammaticalCase), .date(let date)):
                    guard let zone = zones.zone(zoneName) else { throw Failure(offset: 0, detail: "unknown time zone '\(zoneName)'") }
                    put(LocaleFormat.time(date, zone, case: language == .kazakh ? grammaticalCase : nil))
                default:
                    throw Failure(offset: 0, detail: "parameter '\(name)' is \(value.kind), the message formats it as \(type.kind)")
                }
            case .plural(let name, let offset, let exact, let cases, _):
                guard case .number(let number)? = arguments[name] else {
                    throw Failure(offset: 0, detail: "parameter '\(name)' must be a number for its plural")
                }
                let shown = number - offset
                let body = exact[number]
                    ?? cases[PluralRules.category(shown, fractionDigits: PluralRules.fractionDigits(shown), language)]
                    ?? cases[.other] ?? []
                try render(body, arguments, language, zones, escapeHTML, pound: LocaleFormat.number(shown, language), into: &output)
            case .select(let name, let cases, _):
                guard let value = arguments[name] else { throw Failure(offset: 0, detail: "missing parameter '\(name)'") }
                let key: String
                switch value {
                case .text(let text): key = text
                case .number(let number): key = LocaleFormat.number(number, .english)
                case .date: key = "other"
                }
                try render(cases[key] ?? cases["other"] ?? [], arguments, language, zones, escapeHTML, pound: pound, into: &output)
            }
        }
    }
}

extension MessageArgument {
    var kind: String {
        switch self {
        case .text: "text"
        case .number: "a number"
        case .date: "a date"
        }
    }
}

extension MessageFormat.ArgumentType {
    var kind: String {
        switch self {
        case .plain: "text"
        case .number: "a number"
        case .date: "a date"
        case .time: "a time"
        }
    }
}

/// A recursive-descent parser over characters; `index` is the offset errors report.
struct Parser {
    let characters: [Character]
    var index = 0

    init(_ characters: [Character]) { self.characters = characters }

    typealias Node = MessageFormat.Node
    typealias Failure = MessageFormat.Failure

    var atEnd: Bool { index >= characters.count }
    var current: Character? { atEnd ? nil : characters[index] }

    /// Text and arguments up to an unmatched `}` (which the caller consumes) or the end.
    mutating func message(depth: Int, inPlural: Bool) throws(Failure) -> [Node] {
        var nodes: [Node] = []
        var text = ""
        func flush() { if !text.isEmpty { nodes.append(.text(text)); text = "" } }
        while let character = current {
            switch character {
            case "'":
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                if next == "'" {
                    text.append("'"); index += 2
                } else if let next, next == "{" || next == "}" || (inPlural && next == "#") {
                    let start = index
                    index += 1
                    while let c = current, c != "'" { text.append(c); index += 1 }
                    guard current == "'" else { throw Failure(offset: start, detail: "a quote opened here is never closed") }
                    index += 1
                } else {
                    text.append("'"); index += 1
                }
            case "{":
                flush()
                nodes.append(try argument(depth: depth))
            case "}":
                if depth == 0 { throw Failure(offset: index, detail: "'}' without an opening '{'") }
                flush()
                return nodes
            case "#" where inPlural:
                flush()
                nodes.append(.pound)
                index += 1
            default:
                text.append(character)
                index += 1
            }
        }
        if depth > 0 { throw Failure(offset: index, detail: "the message ends inside a '{…}'") }
        flush()
        return nodes
    }

    mutating func skipSpaces() { while let c = current, c.isWhitespace { index += 1 } }

    mutating func word() -> String {
        var word = ""
        while let c = current, c.isLetter || c.isNumber || c == "_" || c == "/" || c == "-" || c == "=" || c == "." || c == "+" {
            word.append(c); index += 1
        }
        return word
    }

    /// `{` name [, type [, style | cases]] `}`, starting at the `{`.
    mutating func argument(depth: Int) throws(Failure) -> Node {
        let open = index
        index += 1
        skipSpaces()
        let nameStart = index
        let name = word()
        guard !name.isEmpty, name.first!.isLetter, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw Failure(offset: nameStart, detail: "'{' must be followed by a parameter name (letters, digits, _)")
        }
        skipSpaces()
        if current == "}" { index += 1; return .argument(name: name, type: .plain) }
        guard current == "," else { throw Failure(offset: index, detail: "expected ',' or '}' after '\(name)'") }
        index += 1
        skipSpaces()
        let typeStart = index
        let type = word()
        skipSpaces()
        switch type {
        case "number", "date", "time":
            var style = ""
            var styleStart = typeStart
            var grammaticalCase: KazakhCase?
            if current == "," {
                index += 1
                skipSpaces()
                styleStart = index
                style = word()
                skipSpaces()
                if current == ",", type != "number" {
                    index += 1
                    skipSpaces()
                    let caseStart = index
                    let name = word()
                    guard let named = KazakhCase(rawValue: name) else {
                        throw Failure(offset: caseStart, detail: "unknown case '\(name)' (locative, ablative, dative, attributive)")
                    }
                    grammaticalCase = named
                    skipSpaces()
                }
            }
            guard current == "}" else { throw Failure(offset: index, detail: "expected '}' to close '{\(name), \(type)'") }
            index += 1
            switch type {
            case "number":
                guard style.isEmpty || style == "integer" else { throw Failure(offset: styleStart, detail: "unknown number style '\(style)' (none or integer)") }
                return .argument(name: name, type: .number)
            case "date":
                guard MessageZones().zone(style) != nil else { throw Failure(offset: styleStart, detail: "unknown time zone '\(style)' (local, astana, utc or an IANA id)") }
                return .argument(name: name, type: .date(style, grammaticalCase))
            default:
                guard MessageZones().zone(style) != nil else { throw Failure(offset: styleStart, detail: "unknown time zone '\(style)' (local, astana, utc or an IANA id)") }
                return .argument(name: name, type: .time(style, grammaticalCase))
            }
        case "plural":
            guard current == "," else { throw Failure(offset: index, detail: "expected ',' and the cases after 'plural'") }
            index += 1
            skipSpaces()
            var offset = 0.0
            if characters[index...].starts(with: Array("offset:")) {
                index += 7
                let value = word()
                guard let number = Double(value) else { throw Failure(offset: index, detail: "offset must be a number") }
                offset = number
                skipSpaces()
            }
            var exact: [Double: [Node]] = [:]
            var cases: [PluralCategory: [Node]] = [:]
            try selectors(depth: depth, inPlural: true) { (selector, at, body) throws(Failure) in
                if selector.hasPrefix("=") {
                    guard let number = Double(selector.dropFirst()) else { throw Failure(offset: at, detail: "'\(selector)' is not an exact value (=0, =1, …)") }
                    exact[number] = body
                } else {
                    guard let category = PluralCategory(rawValue: selector) else {
                        throw Failure(offset: at, detail: "'\(selector)' is not a plural category (zero, one, two, few, many, other) or =N")
                    }
                    if cases[category] != nil { throw Failure(offset: at, detail: "'\(selector)' appears twice") }
                    cases[category] = body
                }
            }
            guard cases[.other] != nil else { throw Failure(offset: open, detail: "plural '\(name)' has no 'other' case") }
            return .plural(name: name, offset: offset, exact: exact, cases: cases, at: open)
        case "select":
            guard current == "," else { throw Failure(offset: index, detail: "expected ',' and the cases after 'select'") }
            index += 1
            var cases: [String: [Node]] = [:]
            try selectors(depth: depth, inPlural: false) { (selector, at, body) throws(Failure) in
                if cases[selector] != nil { throw Failure(offset: at, detail: "'\(selector)' appears twice") }
                cases[selector] = body
            }
            guard cases["other"] != nil else { throw Failure(offset: open, detail: "select '\(name)' has no 'other' case") }
            return .select(name: name, cases: cases, at: open)
        default:
            throw Failure(offset: typeStart, detail: "unknown argument type '\(type)' (number, date, time, plural, select)")
        }
    }

    /// `selector {message}` pairs up to the closing `}` of the argument.
    mutating func selectors(depth: Int, inPlural: Bool, _ add: (String, Int, [Node]) throws(Failure) -> Void) throws(Failure) {
        while true {
            skipSpaces()
            if current == "}" { index += 1; return }
            guard !atEnd else { throw Failure(offset: index, detail: "the message ends inside a '{…}'") }
            let at = index
            let selector = word()
            guard !selector.isEmpty else { throw Failure(offset: at, detail: "expected a case name before '\(current.map(String.init) ?? "")'") }
            skipSpaces()
            guard current == "{" else { throw Failure(offset: index, detail: "expected '{' after '\(selector)'") }
            index += 1
            let body = try message(depth: depth + 1, inPlural: inPlural)
            guard current == "}" else { throw Failure(offset: index, detail: "the message ends inside '\(selector) {…}'") }
            index += 1
            try add(selector, at, body)
        }
    }
}
