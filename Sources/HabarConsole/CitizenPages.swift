import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HTTPTypes
import Hummingbird
import NIOCore

/// Citizens (`/console/citizens`): search by name in any script or by phone digits, filters
/// as the API has them, a citizen's timeline (messages with their states, replies and
/// check-ins, welfare changes, hotline cases, agency and group), and the CSV import with its
/// report shown against the file's own lines. Viewers read; importing needs an operator.
extension ConsoleController {
    func addCitizenRoutes(to router: Router<HabarRequestContext>) {
        router.get("console/citizens") { request, _ in try await citizensPage(request) }
        router.get("console/citizens/import") { request, _ in try await importPage(request) }
        router.post("console/citizens/import") { request, _ in try await importSubmit(request) }
        router.get("console/citizens/{id}") { request, context in try await citizenPage(request, context) }
    }

    /// The welfare states a filter may ask for, in the order HQ reads them.
    static let welfareOrder: [WelfareStatus] = [.needsHelp, .unreached, .unknown, .safe]

    func citizensPage(_ request: Request) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let language = signed.language
        let query = request.uri.queryParameters
        let text = { (name: String) -> String? in query.get(name).map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 } }
        var filter = CitizenFilter(
            country: text("country")?.uppercased(), city: text("city"), groupId: text("groupId"), agencyId: text("agencyId"), tag: text("tag"),
            checkinStatus: text("checkinStatus").flatMap(WelfareStatus.init(rawValue:)))
        filter.search = text("q")
        let after = text("after").flatMap(Int64.init)
        let page = try await gateway.citizens.citizens(filter, page: PageRequest(limit: 50, after: after), as: .headquarters)
        var values: [String: Any] = [
            "q": text("q") ?? "", "country": text("country") ?? "", "city": text("city") ?? "", "groupId": text("groupId") ?? "",
            "agencyId": text("agencyId") ?? "", "tag": text("tag") ?? "",
            "statuses": Self.welfareOrder.map { ["value": $0.rawValue, "label": pages.text("console.welfare." + $0.rawValue, language), "selected": $0 == filter.checkinStatus] },
            "citizens": page.items.map { citizenRow($0, language) },
            "none": page.items.isEmpty, "canImport": signed.account.role.satisfies(.operator),
        ]
        if let next = page.nextAfter {
            var items = request.uri.queryParameters.filter { $0.key != "after" }.map { "\($0.key)=\(String($0.value).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            items.append("after=\(next)")
            values["next"] = "/console/citizens?" + items.joined(separator: "&")
        }
        return html(.ok, pages.render("citizens", language: language, try await frame(signed, path: "/console/citizens").merging(values) { a, _ in a }))
    }

    func citizenRow(_ citizen: Citizen, _ language: Language) -> [String: Any] {
        var row: [String: Any] = [
            "id": citizen.id, "name": citizen.fullName, "language": citizen.language.tag, "country": citizen.country,
            "welfare": pages.text("console.welfare." + citizen.welfareStatus.rawValue, language), "welfareCode": citizen.welfareStatus.rawValue,
        ]
        if let phone = citizen.phone { row["phone"] = phone.e164 }
        if let email = citizen.email { row["email"] = email }
        if let city = citizen.city { row["city"] = city }
        if let group = citizen.groupId { row["group"] = group }
        if let agency = citizen.agencyId { row["agency"] = agency }
        return row
    }

    func citizenPage(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let language = signed.language
        guard let id = context.parameters.get("id").flatMap(Int64.init), let citizen = try await gateway.citizenRecords.current(id: id) else {
            return try await refusedPage(signed, "console.citizens.missing", status: .notFound)
        }
        let profile = try await gateway.citizenRecords.profile(citizen, historyLimit: 200)
        let deliveries = try await gateway.roles.deliveries.deliveries(DeliveryFilter(citizenId: citizen.id), page: PageRequest(limit: PageRequest.maxLimit)).items
        let cases = try await gateway.roles.checkins.cases(CaseFilter(citizenId: citizen.id), page: PageRequest(limit: PageRequest.maxLimit)).items
        var events: [(at: Date, row: [String: Any])] = []
        for delivery in deliveries {
            let channel = delivery.steps.indices.contains(delivery.step) ? delivery.steps[delivery.step] : delivery.steps.joined(separator: ", ")
            var row: [String: Any] = [
                "what": pages.text("console.citizen.message", language, [
                    "advisory": .text(String(delivery.advisoryId)), "version": .number(Double(delivery.advisoryVersion)),
                ]),
                "link": "/console/advisories/\(delivery.advisoryId)", "channel": channel,
                "state": pages.text("console.delivery_state." + delivery.state.rawValue, language), "cssClass": "state-" + delivery.state.rawValue,
            ]
            if delivery.purpose != .advisory { row["purpose"] = pages.text("console.purpose." + delivery.purpose.rawValue, language) }
            if let error = delivery.lastError { row["detail"] = error }
            events.append((delivery.updatedAt, row))
        }
        for event in profile.history {
            var row: [String: Any] = [
                "what": pages.text("console.citizen.welfare", language, ["status": .text(pages.text("console.welfare." + event.status, language))]),
                "channel": pages.text("console.from_" + event.source.rawValue, language), "cssClass": "welfare-" + event.status,
            ]
            if let advisory = event.advisoryId { row["link"] = "/console/advisories/\(advisory)" }
            if let detail = event.detail { row["detail"] = detail }
            events.append((event.at, row))
        }
        for hotlineCase in cases {
            events.append((hotlineCase.openedAt, [
                "what": pages.text("console.citizen.case", language, [
                    "id": .text(String(hotlineCase.id)), "reason": .text(pages.text("console.case_reason." + hotlineCase.reason.rawValue, language)),
                ]),
                "link": "/console/cases#case-\(hotlineCase.id)", "cssClass": "case",
                "state": pages.text("console.case_status." + hotlineCase.status.rawValue, language),
            ]))
        }
        let timeline = events.sorted { $0.at > $1.at }.map { event -> [String: Any] in
            var row = event.row
            row["at"] = Self.moment(event.at)
            return row
        }
        var values = citizenRow(citizen, language)
        values["tags"] = citizen.tags.joined(separator: ", ")
        values["timeline"] = timeline
        values["hasTimeline"] = !timeline.isEmpty
        if let contact = citizen.lastContactAt { values["lastContact"] = Self.moment(contact) }
        if citizen.id != id { values["mergedFrom"] = pages.text("console.citizen.merged", language, ["id": .text(String(id))]) }
        values["merges"] = profile.merges.map { ["id": $0.mergedId] }
        return html(.ok, pages.render("citizen", language: language, try await frame(signed, path: "/console/citizens/\(citizen.id)").merging(values) { a, _ in a }))
    }

    /// A moment as the console shows it: UTC, to the minute.
    static func moment(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: date)
    }

    // MARK: Import

    func importPage(_ request: Request) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        guard signed.account.role.satisfies(.operator) else { return try await refusedPage(signed, "console.citizens.import_role") }
        return html(.ok, pages.render("citizen_import", language: signed.language, try await frame(signed, path: "/console/citizens/import")))
    }

    /// The file from the form (`multipart/form-data`: `csrf`, `file`, `mode`), imported as
    /// `POST /v1/citizens/import` does, and the report against the file's lines.
    func importSubmit(_ request: Request) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let language = signed.language
        var request = request
        let body = try await request.collectBody(upTo: gateway.configuration.http.maxImportBytes + 64 * 1024)
        guard let type = request.headers[.contentType], let parts = MultipartForm.parse(Data(body.readableBytesView), contentType: type),
            ConsoleAccounts.csrfMatches(parts["csrf"].map { String(decoding: $0, as: UTF8.self) }, signed.session)
        else { return forbidden(language) }
        guard signed.account.role.satisfies(.operator) else {
            await accounts.audit(signed.account.name, role: signed.account.role, "console import", target: "citizens", status: 403, at: gateway.now())
            return try await refusedPage(signed, "console.citizens.import_role")
        }
        let file = parts["file"] ?? Data()
        let allOrNothing = parts["mode"].map { String(decoding: $0, as: UTF8.self) } == "all-or-nothing"
        let report = try await gateway.citizenRecords.importCSV(file, allOrNothing: allOrNothing, now: gateway.now())
        // All or nothing with a bad line: the whole file was turned away, as an unreadable one is.
        let refused = report.refused || (allOrNothing && !report.rejected.isEmpty)
        await accounts.audit(signed.account.name, role: signed.account.role, "console import", target: "citizens", status: refused ? 422 : 200, at: gateway.now())
        // The file's lines, each with its problems; long files show the lines with problems.
        let text = String(decoding: file, as: UTF8.self)
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        var problems: [Int: [String]] = [:]
        var general: [String] = []
        for error in report.rejected {
            let detail = [error.field, error.detail].compactMap { $0 }.joined(separator: ": ")
            if let line = error.line { problems[line, default: []].append(detail) } else { general.append(detail) }
        }
        let shown = lines.count <= 500 ? Array(1...max(1, lines.count)) : problems.keys.sorted()
        let rows = shown.filter { $0 <= lines.count && !(lines[$0 - 1].isEmpty && problems[$0] == nil) }.map { number -> [String: Any] in
            var row: [String: Any] = ["number": number, "text": lines[number - 1], "header": number == 1]
            if let found = problems[number] {
                row["problems"] = found
                row["bad"] = true
            }
            return row
        }
        var values: [String: Any] = [
            "reported": true, "lines": rows, "general": general, "hasGeneral": !general.isEmpty,
            "summary": pages.text(refused ? "console.citizens.import_refused" : "console.citizens.import_done", language, [
                "created": .number(Double(report.created)), "updated": .number(Double(report.updated)), "rejected": .number(Double(problems.count)),
            ]),
            "refused": refused,
        ]
        if lines.count > 500 { values["onlyProblems"] = true }
        let page = pages.render("citizen_import", language: language, try await frame(signed, path: "/console/citizens/import").merging(values) { a, _ in a })
        return html(refused ? .unprocessableContent : .ok, page)
    }
}

/// `multipart/form-data` as a browser sends a form with a file: each part's name and bytes.
enum MultipartForm {
    static func parse(_ body: Data, contentType: String) -> [String: Data]? {
        guard contentType.lowercased().hasPrefix("multipart/form-data"),
            let boundaryRange = contentType.range(of: "boundary=")
        else { return nil }
        var boundary = String(contentType[boundaryRange.upperBound...]).split(separator: ";")[0].trimmingCharacters(in: .whitespaces)
        if boundary.hasPrefix("\""), boundary.hasSuffix("\""), boundary.count >= 2 { boundary = String(boundary.dropFirst().dropLast()) }
        let delimiter = Data("--\(boundary)".utf8)
        var parts: [String: Data] = [:]
        var cursor = body.startIndex
        guard let first = body.range(of: delimiter, in: cursor..<body.endIndex) else { return nil }
        cursor = first.upperBound
        let separator = Data("\r\n\r\n".utf8)
        while cursor < body.endIndex {
            // After a delimiter: "--" ends the body, else CRLF and the part's headers.
            if body[cursor...].starts(with: Data("--".utf8)) { break }
            guard let headersEnd = body.range(of: separator, in: cursor..<body.endIndex) else { return nil }
            let headers = String(decoding: body[cursor..<headersEnd.lowerBound], as: UTF8.self)
            guard let next = body.range(of: Data("\r\n".utf8) + delimiter, in: headersEnd.upperBound..<body.endIndex) else { return nil }
            let content = body[headersEnd.upperBound..<next.lowerBound]
            if let nameRange = headers.range(of: "name=\"") {
                let name = String(headers[nameRange.upperBound...].prefix { $0 != "\"" })
                if parts[name] == nil { parts[name] = Data(content) }
            }
            cursor = next.upperBound
        }
        return parts
    }
}
