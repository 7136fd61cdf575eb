import Foundation

/// Numbers, dates, times and phone numbers written the way each language writes them.
/// Done by hand, not with Foundation's locale data, so the texts are exactly the ones the
/// catalogs were reviewed with, on every platform.
public enum LocaleFormat {
    /// `1 234 567` (ru, kk: no-break space, decimal comma `1,5`) or `1,234,567` (en, `1.5`).
    public static func number(_ value: Double, _ language: Language) -> String {
        let negative = value < 0
        let magnitude = abs(value)
        let digits = PluralRules.fractionDigits(magnitude)
        let integer = Int(magnitude.rounded(.towardZero))
        let separator = language == .english ? "," : "\u{00A0}"
        var grouped = ""
        let text = String(integer)
        for (offset, character) in text.enumerated() {
            if offset > 0 && (text.count - offset) % 3 == 0 { grouped += separator }
            grouped.append(character)
        }
        if digits > 0 {
            let fraction = String(format: "%.\(digits)f", magnitude).split(separator: ".").last.map(String.init) ?? ""
            grouped += (language == .english ? "." : ",") + fraction
        }
        return (negative ? "-" : "") + grouped
    }

    /// Month names as they stand after a day number: Russian genitive (`12 марта`), Kazakh
    /// (`12 наурыз`), English (`12 March`).
    static let months: [Language: [String]] = [
        .russian: ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"],
        .kazakh: ["қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым", "шілде", "тамыз", "қыркүйек", "қазан", "қараша", "желтоқсан"],
        .english: ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"],
    ]

    /// Year, month, day, hour and minute of `date` in `zone`: the zone's offset at that
    /// instant, then the proleptic Gregorian calendar by arithmetic (no Calendar object per
    /// call: this runs for every rendered time).
    static func components(_ date: Date, _ zone: TimeZone) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int) {
        let seconds = Int((date.timeIntervalSince1970).rounded(.down)) + zone.secondsFromGMT(for: date)
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        let secondOfDay = seconds - days * 86_400
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, secondOfDay / 3600, secondOfDay % 3600 / 60)
    }

    /// `12 марта`, `12 наурыз`, `12 March` in `zone`; with a Kazakh case, `12 наурызда`.
    public static func date(_ date: Date, _ zone: TimeZone, _ language: Language, case grammaticalCase: KazakhCase? = nil) -> String {
        let c = components(date, zone)
        let month = months[language]![c.month - 1]
        return "\(c.day) \(grammaticalCase?.attach(to: month) ?? month)"
    }

    /// `14:30` (24-hour) in `zone`; with a Kazakh case, `14:30-да`.
    public static func time(_ date: Date, _ zone: TimeZone, case grammaticalCase: KazakhCase? = nil) -> String {
        let c = components(date, zone)
        let written = (c.hour < 10 ? "0" : "") + String(c.hour) + (c.minute < 10 ? ":0" : ":") + String(c.minute)
        return grammaticalCase?.attach(toTime: c.hour, c.minute, written: written) ?? written
    }

    /// An E.164 number grouped for reading: `+7 701 123 45 67`, `+98 21 1234 5678`, else
    /// the country code then groups of three or four.
    public static func phone(_ e164: String) -> String {
        guard e164.hasPrefix("+"), e164.dropFirst().allSatisfy(\.isNumber) else { return e164 }
        let digits = String(e164.dropFirst())
        if digits.hasPrefix("7"), digits.count == 11 {
            let d = Array(digits)
            return "+7 \(String(d[1...3])) \(String(d[4...6])) \(String(d[7...8])) \(String(d[9...10]))"
        }
        let code = countryCodes.first { digits.hasPrefix($0) } ?? String(digits.prefix(digits.count > 10 ? 3 : 2))
        let rest = Array(digits.dropFirst(code.count))
        // Iranian landlines have a two-digit area code (21 Tehran), mobiles a three-digit prefix.
        let sizes: [Int]
        switch rest.count {
        case 10 where code == "98" && rest.first != "9": sizes = [2, 4, 4]
        case 10: sizes = [3, 3, 4]
        case 9: sizes = [2, 3, 2, 2]
        case 8: sizes = [2, 3, 3]
        default: sizes = [rest.count]
        }
        var groups: [String] = []
        var start = 0
        for size in sizes where start < rest.count {
            groups.append(String(rest[start..<min(rest.count, start + size)]))
            start += size
        }
        return "+\(code) " + groups.joined(separator: " ")
    }

    /// Calling codes of the region's countries, longest first where they share a prefix.
    static let countryCodes = ["994", "993", "992", "996", "998", "374", "995", "971", "972", "973", "974", "961", "962", "963", "964", "965", "966", "967", "968", "90", "98", "20", "44", "49", "86", "1"]

    /// A map link for a point, short enough for an SMS; without `scheme` it starts at the host name.
    public static func mapLink(lat: Double, lon: Double, scheme: Bool = true) -> String {
        (scheme ? "https://" : "") + "maps.google.com/?q=\(String(format: "%.5f", lat)),\(String(format: "%.5f", lon))"
    }
}
