import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HTTPTypes
import Hummingbird

/// The hotline queue (`/console/cases`): open and assigned cases, people asking for help
/// first, then unclear replies, then silence, oldest first; each with the citizen's phone one
/// click away and their last words; assign to me, add a note, resolve — through
/// `HotlineQueue`, as the API does it. Operators only.
extension ConsoleController {
    func addHotlineRoutes(to router: Router<HabarRequestContext>) {
        router.get("console/cases") { request, _ in try await hotlinePage(request) }
        router.post("console/cases/{id}") { request, context in try await changeCase(request, context) }
    }

    func hotlinePage(_ request: Request, message: String? = nil, error: Bool = false, status: HTTPResponse.Status = .ok) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let language = signed.language
        let frame = try await frame(signed, path: "/console/cases")
        guard signed.account.role.satisfies(.operator) else {
            return html(.forbidden, pages.render("message", language: language, frame.merging(["message": pages.text("console.cases.role_needed", language)]) { a, _ in a }))
        }
        var cases: [HotlineCase] = []
        for status in [CaseStatus.open, .assigned] {
            cases += try await gateway.roles.checkins.cases(CaseFilter(status: status), page: PageRequest(limit: PageRequest.maxLimit)).items
        }
        cases.sort { ($0.reason.priority, $0.openedAt, $0.id) < ($1.reason.priority, $1.openedAt, $1.id) }
        var rows: [[String: Any]] = []
        for hotlineCase in cases {
            let citizen = try await hotlineCase.citizenId.asyncFlatMap { try? await gateway.citizens.citizen(id: $0, as: .headquarters) }
            // (Mustache takes an empty string as true: absent values are left out, not "".)
            var row: [String: Any] = [
                "id": hotlineCase.id, "reason": pages.text("console.case_reason." + hotlineCase.reason.rawValue, language),
                "urgent": hotlineCase.reason == .needsHelp, "status": pages.text("console.case_status." + hotlineCase.status.rawValue, language),
                "mine": hotlineCase.assignee == signed.account.name,
                "opened": Self.time(hotlineCase.openedAt), "citizen": citizen?.fullName ?? "—",
                "country": citizen?.country ?? "", "citizenLanguage": citizen?.language.tag ?? "",
                "entries": hotlineCase.entries.suffix(5).map { entry -> [String: Any] in
                    var item: [String: Any] = ["kind": pages.text("console.case_entry." + entry.kind.rawValue, language), "text": entry.text, "at": Self.time(entry.at)]
                    if let author = entry.author, !author.isEmpty { item["author"] = author }
                    return item
                },
            ]
            if let assignee = hotlineCase.assignee, !assignee.isEmpty { row["assignee"] = assignee }
            if let phone = citizen?.phone?.e164 { row["phone"] = phone }
            if let id = citizen?.id { row["citizenId"] = id }
            rows.append(row)
        }
        var values: [String: Any] = ["cases": rows, "none": rows.isEmpty]
        if let message { values[error ? "failure" : "notice"] = message }
        return html(status, pages.render("cases", language: language, frame.merging(values) { a, _ in a }))
    }

    func changeCase(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let fields: [String: String]
        do { fields = try await checkedForm(request, signed) } catch Refused.csrf(let language) { return forbidden(language) }
        let language = signed.language
        guard let id = context.parameters.get("id").flatMap({ Int64($0) }) else { return forbidden(language) }
        guard signed.account.role.satisfies(.operator) else {
            await accounts.audit(signed.account.name, role: signed.account.role, "console case", target: "case/\(id)", status: 403, at: gateway.now())
            return try await hotlinePage(request, message: pages.text("console.cases.role_needed", language), error: true, status: .forbidden)
        }
        let change: CaseUpdate
        switch fields["action"] {
        case "assign": change = CaseUpdate(assignee: signed.account.name)
        case "resolve": change = CaseUpdate(status: .resolved, note: fields["note"].flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 })
        default: change = CaseUpdate(note: fields["note"] ?? "")
        }
        do {
            _ = try await gateway.hotline.update(id: id, change, by: signed.account.name, at: gateway.now())
            await accounts.audit(signed.account.name, role: signed.account.role, "console case " + (fields["action"] ?? "note"), target: "case/\(id)", status: 200, at: gateway.now())
            return Self.redirect("/console/cases#case-\(id)")
        } catch let failure as ValidationFailure {
            let text = failure.errors.map { pages.text("console.cases.invalid_note", language) + " (\($0.detail))" }.joined(separator: "; ")
            return try await hotlinePage(request, message: text, error: true, status: .unprocessableContent)
        } catch OperationError.notFound {
            return try await hotlinePage(request, message: pages.text("console.cases.missing", language), error: true, status: .notFound)
        } catch OperationError.conflict(let why) {
            return try await hotlinePage(request, message: why, error: true, status: .conflict)
        }
    }

    /// A time as HQ reads it: UTC, to the minute.
    static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day().dateTimeSeparator(.space).time(includingFractionalSeconds: false)).dropLast(3) + " UTC"
    }
}

extension Optional {
    func asyncFlatMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
