import Foundation
import HabarMessages

/// Reads citizens from CSV as HQ and agencies export it (API.md, "Citizen CSV columns"):
/// a header row naming the columns in any order, `,` or `;` separators, RFC 4180 quoting,
/// UTF-8 with or without a BOM. Each bad row is reported with its line, field and reason;
/// the good rows are returned.
public struct CitizenCSV: Sendable {
    public static let columns: [String] = [
        "fullName", "language", "phone", "email", "country", "city", "groupId", "agencyId", "tags",
        "passportNumber", "birthDate", "lat", "lon",
    ]

    /// The result of reading a file: citizens from the good rows and a report on the bad.
    public struct Parsed: Sendable {
        public var citizens: [NewCitizen]
        /// Line numbers (1 is the header) of the citizens above, in order.
        public var lines: [Int]
        public var rejected: [FieldError]
    }

    /// The whole file is refused (unknown columns, no header, not UTF-8).
    public struct Refused: Error, Sendable, CustomStringConvertible {
        public var errors: [FieldError]
        public var description: String { errors.map(\.description).joined(separator: "; ") }
    }

    public static func parse(_ data: Data, now: Date = Date()) throws(Refused) -> Parsed {
        var bytes = data
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw Refused(errors: [FieldError(line: 1, detail: "the file is not UTF-8 text")])
        }
        let records = records(of: text)
        guard let header = records.first, !(header.fields.count == 1 && header.fields[0].isEmpty) else {
            throw Refused(errors: [FieldError(line: 1, detail: "no header row")])
        }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        let unknown = names.filter { !columns.contains($0) }
        if !unknown.isEmpty {
            throw Refused(errors: [FieldError(line: 1, detail: "unknown column(s): \(unknown.joined(separator: ", ")) (known: \(columns.joined(separator: ", ")))")])
        }
        var seen: Set<String> = []
        for name in names where !seen.insert(name).inserted {
            throw Refused(errors: [FieldError(line: 1, field: name, detail: "column appears twice")])
        }
        for required in ["fullName", "country"] where !names.contains(required) {
            throw Refused(errors: [FieldError(line: 1, field: required, detail: "required column is missing")])
        }
        if !names.contains("phone") && !names.contains("email") {
            throw Refused(errors: [FieldError(line: 1, field: "phone", detail: "a phone or an email column is required")])
        }

        if let broken = header.error {
            throw Refused(errors: [FieldError(line: 1, detail: broken)])
        }
        var parsed = Parsed(citizens: [], lines: [], rejected: [])
        var phones: [String: Int] = [:]
        var passports: [String: Int] = [:]
        for record in records.dropFirst() {
            if let broken = record.error {
                parsed.rejected.append(FieldError(line: record.line, detail: broken))
                continue
            }
            if record.fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            if record.fields.count != names.count {
                parsed.rejected.append(FieldError(
                    line: record.line, detail: "has \(record.fields.count) fields, the header has \(names.count)"))
                continue
            }
            var row: [String: String] = [:]
            var controls: [FieldError] = []
            for (name, value) in zip(names, record.fields) {
                if let problem = ControlCharacters.problem(in: value) { controls.append(FieldError(line: record.line, field: name, detail: problem)) }
                let trimmed = value.trimmingCharacters(in: .whitespaces)
                if !trimmed.isEmpty { row[name] = trimmed }
            }
            if !controls.isEmpty {
                parsed.rejected += controls
                continue
            }
            switch citizen(row, line: record.line, now: now) {
            case .success(let citizen):
                // The same person twice in one file is a mistake in the file, not an update.
                if let phone = citizen.phone?.e164, let first = phones[phone] {
                    parsed.rejected.append(FieldError(line: record.line, field: "phone", detail: "\(phone) is already on line \(first) of this file"))
                    continue
                }
                if let passport = citizen.passportNumber, let first = passports[passport] {
                    parsed.rejected.append(FieldError(line: record.line, field: "passportNumber", detail: "\(passport) is already on line \(first) of this file"))
                    continue
                }
                if let phone = citizen.phone?.e164 { phones[phone] = record.line }
                if let passport = citizen.passportNumber { passports[passport] = record.line }
                parsed.citizens.append(citizen)
                parsed.lines.append(record.line)
            case .failure(let failure):
                parsed.rejected += failure.errors
            }
        }
        return parsed
    }

    static func citizen(_ row: [String: String], line: Int, now: Date) -> Result<NewCitizen, ValidationFailure> {
        var errors: [FieldError] = []
        func fail(_ field: String, _ detail: String) { errors.append(FieldError(line: line, field: field, detail: detail)) }

        let language: Language
        if let raw = row["language"] {
            if let value = Language(rawValue: raw.lowercased()) { language = value } else {
                fail("language", "'\(raw)' is not one of kk, ru, en"); language = .russian
            }
        } else {
            language = .russian
        }
        var phone: PhoneNumber? = nil
        if let raw = row["phone"] {
            phone = PhoneNumber(raw)
            if phone == nil { fail("phone", "'\(raw)' is not a phone number (E.164, e.g. +77011234567, or 8 701 123 45 67)") }
        }
        var position: GeoPoint? = nil
        switch (row["lat"], row["lon"]) {
        case (nil, nil): break
        case (let lat?, let lon?):
            if let lat = Double(lat), let lon = Double(lon) { position = GeoPoint(lat: lat, lon: lon) } else {
                fail("lat", "lat and lon must be decimal degrees")
            }
        default: fail(row["lat"] == nil ? "lat" : "lon", "lat and lon go together")
        }
        let citizen = NewCitizen(
            id: .unsaved, fullName: row["fullName"] ?? "", language: language, phone: phone, email: row["email"],
            country: (row["country"] ?? "").uppercased(), city: row["city"], position: position, groupId: row["groupId"],
            agencyId: row["agencyId"], tags: (row["tags"] ?? "").split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            passportNumber: row["passportNumber"], birthDate: row["birthDate"], createdAt: now, updatedAt: now)
        do {
            try citizen.validate()
        } catch {
            for e in error.errors {
                var field = String((e.pointer ?? "").dropFirst())
                if field == "phone", row["phone"] != nil, phone == nil { continue }  // already reported
                if field == "phone", row["phone"] == nil { field = "phone" }
                if field == "country", row["country"] == nil { errors.append(FieldError(line: line, field: "country", detail: "is required")); continue }
                if field == "fullName", row["fullName"] == nil { errors.append(FieldError(line: line, field: "fullName", detail: "is required")); continue }
                errors.append(FieldError(line: line, field: field, detail: e.detail))
            }
        }
        return errors.isEmpty ? .success(citizen) : .failure(ValidationFailure(errors))
    }

    struct Record {
        var line: Int
        var fields: [String]
        /// Why the record's quoting is broken; its fields are then not to be trusted.
        var error: String? = nil
    }

    /// RFC 4180 records with the line each starts on; the separator is the header's `;` or `,`.
    /// A quote inside an unquoted field, text after a closing quote, or a quote never
    /// closed marks the record as broken (an unclosed quote swallows the rest of the file,
    /// which is then reported as one broken record from the line the quote opened).
    static func records(of text: String) -> [Record] {
        let firstLine = text.prefix { $0 != "\n" && $0 != "\r\n" }
        let separator: Character = firstLine.filter { $0 == ";" }.count > firstLine.filter { $0 == "," }.count ? ";" : ","
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var afterQuote = false
        var error: String? = nil
        var line = 1
        var recordLine = 1
        var quoteLine = 1
        var iterator = Array(text).makeIterator()
        var pending: Character? = nil
        func next() -> Character? {
            if let p = pending { pending = nil; return p }
            return iterator.next()
        }
        while let character = next() {
            if quoted {
                if character == "\"" {
                    if let after = next() {
                        if after == "\"" { field.append("\"") } else { quoted = false; afterQuote = true; pending = after }
                    } else { quoted = false; afterQuote = true }
                } else {
                    if character == "\n" || character == "\r\n" || character == "\r" { line += 1 }
                    field.append(character == "\r\n" ? "\n" : character)
                }
                continue
            }
            switch character {
            case separator:
                fields.append(field); field = ""; afterQuote = false
            case "\n", "\r\n", "\r":
                fields.append(field); field = ""; afterQuote = false
                records.append(Record(line: recordLine, fields: fields, error: error)); fields = []; error = nil
                line += 1
                recordLine = line
            case "\"" where field.isEmpty && !afterQuote:
                quoted = true
                quoteLine = line
            case "\"":
                error = error ?? "a quote inside an unquoted field (quote the whole field and double the quote: \"\"\")"
                field.append(character)
            default:
                if afterQuote, !character.isWhitespace {
                    error = error ?? "text after a closing quote (a quoted field must end at the separator)"
                }
                field.append(character)
            }
        }
        if quoted {
            error = "a quote opened on line \(quoteLine) is never closed"
        }
        if !field.isEmpty || !fields.isEmpty || quoted {
            fields.append(field)
            records.append(Record(line: recordLine, fields: fields, error: error))
        }
        return records
    }
}

/// A CSV import as the HTTP API and the command line run it: parse, report every bad line,
/// keep the good ones (or, all-or-nothing, none when any line is bad), in one transaction.
public struct CitizenImport: Sendable {
    public let store: any CitizenStore

    public init(store: any CitizenStore) { self.store = store }

    public struct Report: Sendable {
        public var created: Int
        public var updated: Int
        /// Bad lines, each with its line number, field and reason.
        public var rejected: [FieldError]
        /// The whole file was refused (no header, unknown columns, not UTF-8).
        public var refused: Bool
    }

    public func run(_ data: Data, allOrNothing: Bool, now: Date) async throws -> Report {
        // A 10 MiB file takes seconds to parse: on a thread of its own, so other requests' tasks run meanwhile.
        let outcome = await DedicatedThread.run("habar.import") { () -> Result<CitizenCSV.Parsed, CitizenCSV.Refused> in
            do throws(CitizenCSV.Refused) { return .success(try CitizenCSV.parse(data, now: now)) } catch { return .failure(error) }
        }
        let parsed: CitizenCSV.Parsed
        switch outcome {
        case .success(let value): parsed = value
        case .failure(let error): return Report(created: 0, updated: 0, rejected: error.errors, refused: true)
        }
        if allOrNothing, !parsed.rejected.isEmpty {
            return Report(created: 0, updated: 0, rejected: parsed.rejected, refused: false)
        }
        let result = try await store.upsertCitizens(parsed.citizens)
        return Report(created: result.created, updated: result.updated, rejected: parsed.rejected, refused: false)
    }
}
