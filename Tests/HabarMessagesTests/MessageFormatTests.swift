import Foundation
import HabarMessages
import Testing

@Suite("ICU MessageFormat")
struct MessageFormatTests {
    let tehran = MessageZones(local: TimeZone(identifier: "Asia/Tehran")!)

    func format(_ source: String, _ arguments: [String: MessageArgument], _ language: Language = .russian, html: Bool = false) throws -> String {
        try MessageFormat(source).format(arguments, language: language, zones: tehran, escapeHTML: html)
    }

    static let russianHours = "{n, plural, one {# час} few {# часа} many {# часов} other {# часа}}"

    @Test("Russian plural categories and forms (CLDR one/few/many/other)", arguments: [
        (0.0, "0 часов"), (1, "1 час"), (2, "2 часа"), (4, "4 часа"), (5, "5 часов"), (11, "11 часов"), (12, "12 часов"),
        (14, "14 часов"), (21, "21 час"), (22, "22 часа"), (25, "25 часов"), (101, "101 час"), (111, "111 часов"), (1.5, "1,5 часа"),
    ])
    func russianPlurals(_ n: Double, _ expected: String) throws {
        #expect(try format("через " + Self.russianHours, ["n": .number(n)]) == "через " + expected)
    }

    @Test("Russian minutes after «через» (accusative) and «в течение» (genitive)", arguments: [
        (1.0, "через 1 минуту", "в течение 1 минуты"), (2, "через 2 минуты", "в течение 2 минут"), (5, "через 5 минут", "в течение 5 минут"),
        (21, "через 21 минуту", "в течение 21 минуты"), (11, "через 11 минут", "в течение 11 минут"), (34, "через 34 минуты", "в течение 34 минут"),
    ])
    func russianMinutes(_ n: Double, _ accusative: String, _ genitive: String) throws {
        #expect(try format("через {n, plural, one {# минуту} few {# минуты} many {# минут} other {# минуты}}", ["n": .number(n)]) == accusative)
        #expect(try format("в течение {n, plural, one {# минуты} few {# минут} many {# минут} other {# минуты}}", ["n": .number(n)]) == genitive)
    }

    @Test("CLDR categories for kk and en", arguments: [
        (Language.kazakh, 1.0, PluralCategory.one), (.kazakh, 0, .other), (.kazakh, 2, .other), (.kazakh, 21, .other), (.kazakh, 1.5, .other),
        (.english, 1, .one), (.english, 0, .other), (.english, 2, .other), (.english, 21, .other), (.english, 1.5, .other),
        (.russian, 1, .one), (.russian, 3, .few), (.russian, 13, .many), (.russian, 0.5, .other),
    ])
    func categories(_ language: Language, _ n: Double, _ category: PluralCategory) {
        #expect(PluralRules.category(n, fractionDigits: PluralRules.fractionDigits(n), language) == category)
    }

    @Test("Kazakh and English plurals; exact matches and offset; # inside")
    func otherPlurals() throws {
        let kk = "{n, plural, one {# сағаттан кейін} other {# сағаттан кейін}}"
        #expect(try format(kk, ["n": .number(1)], .kazakh) == "1 сағаттан кейін")
        #expect(try format(kk, ["n": .number(5)], .kazakh) == "5 сағаттан кейін")
        let en = "{n, plural, =0 {no hours} one {# hour} other {# hours}}"
        #expect(try format(en, ["n": .number(0)], .english) == "no hours")
        #expect(try format(en, ["n": .number(1)], .english) == "1 hour")
        #expect(try format(en, ["n": .number(1234)], .english) == "1,234 hours")
        #expect(try format("{n, plural, offset:1 one {и ещё # человек} other {и ещё # человека}}", ["n": .number(2)]) == "и ещё 1 человек")
    }

    @Test("select, numbers, dates with month names in the right case, times in the local zone and Astana")
    func typedArguments() throws {
        let date = try Date("2026-03-12T14:30:00Z", strategy: .iso8601)
        #expect(try format("{g, select, m {Он} f {Она} other {Они}} на месте", ["g": "f"]) == "Она на месте")
        #expect(try format("{n, number}", ["n": .number(1_234_567)]) == "1\u{00A0}234\u{00A0}567")
        #expect(try format("до {t, time} {t, date} по времени Тегерана", ["t": .date(date)]) == "до 18:00 12 марта по времени Тегерана")
        #expect(try format("{t, date}, {t, time} (Астана – {t, time, astana})", ["t": .date(date)], .kazakh) == "12 наурыз, 18:00 (Астана – 19:30)")
        #expect(try format("{t, date} {t, time, utc}", ["t": .date(date)], .english) == "12 March 14:30")
        #expect(try format("{t, time, Asia/Baku}", ["t": .date(date)]) == "18:30")
    }

    @Test("values are text, never message syntax; in HTML they are escaped")
    func valuesAreText() throws {
        #expect(try format("Сбор: {place}", ["place": "{evil, plural, other {#}} '{x}'"]) == "Сбор: {evil, plural, other {#}} '{x}'")
        #expect(try format("<p>{place}</p>", ["place": "<script>alert(\"x\")</script> & 'q'"], html: true)
                == "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;</p>")
    }

    @Test("ICU quoting: '' is an apostrophe, '{…}' is literal; an apostrophe before a letter stays")
    func quoting() throws {
        #expect(try format("It''s '{literal}' {name}, don't", ["name": "ok"]) == "It's {literal} ok, don't")
    }

    @Test("syntax errors say what and where (offset in the message)", arguments: [
        ("{unclosed", 9, "after 'unclosed'"),
        ("ok } bad", 3, "without an opening"),
        ("x {not a name}", 7, "expected ',' or '}'"),
        ("{n, plural, one {#} few {#}}", 0, "no 'other'"),
        ("{n, plural, one {#} lots {#} other {#}}", 20, "not a plural category"),
        ("{n, plural, one {#} other {#} other {#}}", 30, "appears twice"),
        ("{n, number, currency}", 12, "unknown number style"),
        ("{t, time, Mars/Olympus}", 10, "unknown time zone"),
        ("{n, plural, other {# '{}}", 21, "never closed"),
        ("{n, spell}", 4, "unknown argument type"),
        ("{1x}", 1, "parameter name"),
    ])
    func syntaxErrors(_ source: String, _ offset: Int, _ detail: String) {
        #expect { try MessageFormat(source) } throws: { error in
            guard let failure = error as? MessageFormat.Failure else { return false }
            return failure.offset == offset && failure.detail.contains(detail)
        }
    }

    @Test("a missing or mistyped parameter is an error naming it")
    func missingParameter() {
        #expect { try format("{a} и {b}", ["a": "1"]) } throws: { "\($0)".contains("'b'") }
        #expect { try format("{t, time}", ["t": "вечером"]) } throws: { "\($0)".contains("'t'") }
    }

    @Test("phone numbers in international format; coordinates as a map link")
    func phonesAndLinks() {
        #expect(LocaleFormat.phone("+77011234567") == "+7 701 123 45 67")
        #expect(LocaleFormat.phone("+982122565933") == "+98 21 2256 5933")
        #expect(LocaleFormat.phone("+989121234567") == "+98 912 123 4567")
        #expect(LocaleFormat.phone("+994501234567") == "+994 50 123 45 67")
        #expect(LocaleFormat.mapLink(lat: 35.72458, lon: 51.41385) == "https://maps.google.com/?q=35.72458,51.41385")
    }
}

@Suite("Message catalog")
struct MessageCatalogTests {
    @Test("the shipped catalogs pass every check")
    func shippedCatalogs() throws {
        let catalog = try MessageCatalog.load(directory: messagesDirectory)
        #expect(catalog.languages == [.english, .kazakh, .russian])
        let problems = CatalogCheck.run(directory: messagesDirectory)
        #expect(problems.isEmpty, "\(problems.map(\.description).joined(separator: "\n"))")
    }

    /// A copy of the shipped catalogs with `edit` applied to one language's file.
    func brokenCopy(_ language: String, _ edit: (inout [String: String]) -> Void) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for file in ["kk.json", "ru.json", "en.json", "samples.json"] {
            try FileManager.default.copyItem(at: messagesDirectory.appendingPathComponent(file), to: directory.appendingPathComponent(file))
        }
        let url = directory.appendingPathComponent("\(language).json")
        var object = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: url))
        edit(&object)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(object).write(to: url)
        return directory
    }

    @Test("the checker reports a deliberately broken catalog: one precise line per problem, with file, line and column")
    func brokenCatalog() throws {
        let directory = try brokenCopy("ru") { object in
            object.removeValue(forKey: "reply.help.webhook.text")
            object["reply.safe.sms"] = "МИД РК: спасибо. Консул: {consulPhone}"
            object["checkin_request.ask.webhook.text"] = "Ответьте в течение {hoursLeft, plural, one {# часа} other {# часов}}. {checkinUrl} {contactPhone}"
            object["general.notice.sms"] = "МИД РК: {text} " + String(repeating: "Пожалуйста, соблюдайте спокойствие. ", count: 5) + "{contactPhone}"
            object["meeting_point.set.email.html"] = "<p>{meetingPoint}, {meetingPointAddress} {opensAt, date} {opensAt, time} {localZone} {opensAt, time, astana} {meetingPointLocation} {contactPhone}"
            object["advisory.correction.sms"] = "Исправление {previousSentAt, date} {previousSentAt, time:"
        }
        let problems = CatalogCheck.run(directory: directory).map(\.description)
        let ru = directory.appendingPathComponent("ru.json").path
        func has(_ key: String, _ detail: String) -> Bool { problems.contains { $0.hasPrefix(ru) && $0.contains("key '\(key)'") && $0.contains(detail) } }
        #expect(has("reply.help.webhook.text", "missing (en.json, kk.json have it)") || has("reply.help.webhook.text", "missing"))
        #expect(has("reply.safe.sms", "parameters differ"))
        #expect(has("checkin_request.ask.webhook.text", "lacks few, many"))
        // The shipped text gives an absolute deadline: the countdown is also another parameter set.
        #expect(has("checkin_request.ask.webhook.text", "parameters differ"))
        #expect(has("general.notice.sms", "segments"))
        #expect(has("meeting_point.set.email.html", "HTML: <p> is never closed"))
        #expect(has("advisory.correction.sms", "expected '}'"))
        // Every line names its place as file:line:column.
        for problem in problems where problem.hasPrefix(ru) {
            #expect(problem.range(of: #"^[^:]+:\d+:\d+: key '"#, options: .regularExpression) != nil || problem.contains("missing"), "\(problem)")
        }
        #expect(problems.count == 7, "\(problems.joined(separator: "\n"))")
    }

    @Test("a Latin letter inside a Kazakh word is caught")
    func latinInKazakh() throws {
        let directory = try brokenCopy("kk") { object in
            object["reply.safe.webhook.title"] = "Қауiпсiз екеніңіз белгіленді"  // Latin i for і
        }
        let problems = CatalogCheck.run(directory: directory).map(\.description)
        #expect(problems.count == 1 && problems[0].contains("reply.safe.webhook.title") && problems[0].contains("Latin letter"), "\(problems)")
    }

    @Test("a syntax error in the file is reported with its line and column in the file")
    func syntaxPosition() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("{\n  \"a.sms\": \"ok\",\n  \"b.sms\": \"Сбор: {place, number, x}\"\n}\n".utf8).write(to: directory.appendingPathComponent("ru.json"))
        #expect { try MessageCatalog.load(directory: directory) } throws: { error in
            "\(error)" == "\(directory.path)/ru.json:3:35: key 'b.sms': unknown number style 'x' (none or integer)"
        }
        try Data("{\n  \"a.sms\": \"ok\",\n  \"a.sms\": \"twice\"\n}\n".utf8).write(to: directory.appendingPathComponent("ru.json"))
        #expect { try MessageCatalog.load(directory: directory) } throws: { "\($0)".contains("ru.json:3:13: key 'a.sms': appears twice") }
    }
}
