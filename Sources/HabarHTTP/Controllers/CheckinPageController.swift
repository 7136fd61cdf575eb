import Foundation
import HabarCore
import HabarMessages
import HTTPTypes
import Hummingbird
import Synchronization

/// The citizen's one-tap check-in: `GET /c/{token}` shows a page in their language with two
/// large buttons and an optional note; `POST /c/{token}` records the answer (the later one
/// wins) and shows a confirmation. No JavaScript, no external resources, readable at 320 px.
/// A forged, altered or expired token, or one whose advisory is no longer published, gets
/// the same plain 404 page and records nothing.
struct CheckinPageController {
    let gateway: Gateway

    func addRoutes(to router: Router<HabarRequestContext>) {
        router.get("c/{token}") { _, context in try await page(context) }
        router.post("c/{token}") { request, context in try await answer(request, context) }
    }

    /// The longest note kept, in characters.
    static let noteLimit = 1000

    struct Target {
        var citizen: Citizen
        var advisory: Advisory
        var token: String
        var pages: CheckinPages.Rendered
    }

    func target(_ context: HabarRequestContext) async throws -> Target? {
        guard let token = context.parameters.get("token"), let ids = try await gateway.links.verify(token),
            let advisory = try await gateway.checkinPages.advisory(ids.advisoryId, store: gateway.roles.publishing, now: gateway.now()),
            let citizen = try await citizen(ids.citizenId)
        else { return nil }
        let pages = gateway.checkinPages.pages(advisory, language: citizen.language) { render(advisory, citizen.language) }
        return Target(citizen: citizen, advisory: advisory, token: token, pages: pages)
    }

    /// The link's citizen, or the one their record was merged into (the link still works).
    func citizen(_ id: Int64) async throws -> Citizen? {
        try await gateway.citizenRecords.current(id: id)
    }

    func page(_ context: HabarRequestContext) async throws -> Response {
        guard let target = try await target(context) else { return notFound() }
        return html(.ok, target.pages.form.replacingOccurrences(of: CheckinLinks.placeholder, with: target.token))
    }

    func answer(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        guard let target = try await target(context) else { return notFound() }
        let body = try await RequestJSON.body(request, limit: gateway.configuration.http.maxBodyBytes)
        let withToken = { (page: String) in page.replacingOccurrences(of: CheckinLinks.placeholder, with: target.token) }
        guard let text = String(validating: body.readableBytesView, as: UTF8.self),
            let fields = try? ProviderCallbacksController.formFields(text)
        else { return html(.badRequest, withToken(target.pages.formWithError)) }
        // A note with a control character is refused whole, never stored cut short.
        if let note = fields["note"], ControlCharacters.problem(in: note) != nil {
            return html(.unprocessableContent, withToken(target.pages.formWithError))
        }
        let meaning: ReplyMeaning
        switch fields["status"] {
        case "safe": meaning = .safe
        case "need_help": meaning = .needsHelp
        default: return html(.unprocessableContent, withToken(target.pages.formWithError))
        }
        let note = fields["note"].map { String($0.trimmingCharacters(in: .whitespacesAndNewlines).prefix(Self.noteLimit)) }.flatMap { $0.isEmpty ? nil : $0 }
        try await gateway.answers.submit(CheckinAnswer(
            citizenId: target.citizen.id, advisoryId: target.advisory.id, meaning: meaning, source: .link, text: note, at: gateway.now()))
        return html(.ok, withToken(meaning == .safe ? target.pages.thanksSafe : target.pages.thanksHelp))
    }

    // MARK: Pages

    /// An advisory's pages in one language, with the placeholder where the token goes.
    func render(_ advisory: Advisory, _ language: Language) -> CheckinPages.Rendered {
        let zones = gateway.publisher.zones(advisory)
        let arguments = gateway.publisher.arguments(advisory, now: gateway.now(), language: language)
        let t = { (key: String) -> String in
            HTML.escape(gateway.catalog.string(key, language: language, arguments: arguments, zones: zones)
                ?? gateway.catalog.string(key, language: .russian, arguments: arguments, zones: zones) ?? "")
        }
        let action = "/c/\(CheckinLinks.placeholder)"
        let consul = advisory.params.resolved(with: advisory.places).contactPhone != nil ? "<p>\(t("page.checkin.consul"))</p>\n" : ""
        // An exercise says so before anything else.
        let drill = advisory.exercise ? "<p class=\"exercise\" role=\"note\"><strong>\(t("marker.exercise"))</strong></p>\n" : ""
        func form(error: Bool) -> String {
            var body = drill + "<h1>\(t("page.checkin.title"))</h1>\n<p>\(t("page.checkin.intro"))</p>\n"
            if advisory.params.checkinDeadline != nil { body += "<p>\(t("page.checkin.deadline"))</p>\n" }
            if error { body += "<p class=\"error\" role=\"alert\">\(t("page.checkin.choose"))</p>\n" }
            body += """
                <form method="post" action="\(action)">
                <button class="safe" type="submit" name="status" value="safe">\(t("page.checkin.safe"))</button>
                <button class="help" type="submit" name="status" value="need_help">\(t("page.checkin.help"))</button>
                <label for="note">\(t("page.checkin.note"))</label>
                <textarea id="note" name="note" maxlength="\(Self.noteLimit)" rows="3"></textarea>
                </form>

                """
            return document(language: language, title: t("page.checkin.title"), body: body + consul)
        }
        func thanks(_ key: String) -> String {
            let body = drill + "<h1>\(t(key))</h1>\n<p><a href=\"\(action)\">\(t("page.checkin.change"))</a></p>\n" + consul
            return document(language: language, title: t("page.checkin.title"), body: body)
        }
        return CheckinPages.Rendered(
            form: form(error: false), formWithError: form(error: true), thanksSafe: thanks("page.checkin.thanks.safe"),
            thanksHelp: thanks("page.checkin.thanks.help"))
    }

    func notFound() -> Response {
        // The language is not known without a valid token: all three, Kazakh first.
        let lines = [Language.kazakh, .russian, .english].compactMap { language in
            gateway.catalog.string("page.notfound", language: language).map { "<p lang=\"\(language.tag)\">\(HTML.escape($0))</p>" }
        }
        return html(.notFound, document(language: .kazakh, title: "404", body: lines.joined(separator: "\n") + "\n"))
    }

    func document(language: Language, title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="\(language.tag)">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title)</title>
        <style>
        body{margin:0;padding:16px;font:18px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#111;background:#fff}
        main{max-width:480px;margin:0 auto}
        h1{font-size:1.35em;margin:0 0 12px}
        button{display:block;width:100%;min-height:64px;margin:14px 0;padding:12px;font-size:1.2em;font-weight:bold;border:0;border-radius:10px;color:#fff}
        .safe{background:#17703a}.help{background:#b3261e}
        label{display:block;margin-top:18px}
        textarea{width:100%;box-sizing:border-box;font-size:1em;padding:8px}
        .error{color:#b3261e;font-weight:bold}
        .exercise{background:#5b2a86;color:#fff;padding:8px 12px;border-radius:6px;text-align:center;letter-spacing:.05em}
        a{color:#0b57d0}
        </style>
        </head>
        <body><main>
        \(body)</main></body>
        </html>

        """
    }

    func html(_ status: HTTPResponse.Status, _ page: String) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                // The token is in the URL: never sent on to another site, never indexed.
                HTTPField.Name("Referrer-Policy")!: "no-referrer", HTTPField.Name("X-Robots-Tag")!: "noindex",
                HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ],
            body: .init(byteBuffer: .init(string: page)))
    }
}

/// The check-in pages' advisories and their rendered pages, kept for a second: under load
/// a page costs one token check, one citizen read and a string replacement. A second is also
/// how long a cancelled advisory's link may still open; an expired one closes at its
/// expiry to the millisecond.
public final class CheckinPages: Sendable {
    public struct Rendered: Sendable {
        var form: String
        var formWithError: String
        var thanksSafe: String
        var thanksHelp: String
    }

    struct Entry: Sendable {
        var advisory: Advisory?
        var loadedAt: Date
        var pages: [Language: Rendered] = [:]
    }

    private let entries = Mutex<[Int64: Entry]>([:])
    private let lifetime: TimeInterval

    public init(lifetime: TimeInterval = 1) { self.lifetime = lifetime }

    /// The advisory while it is published and unexpired, else nil.
    func advisory(_ id: Int64, store: any PublishingStore, now: Date) async throws -> Advisory? {
        let cached = entries.withLock { $0[id] }
        let entry: Entry
        if let cached, now.timeIntervalSince(cached.loadedAt) < lifetime, cached.loadedAt <= now {
            entry = cached
        } else {
            let advisory = try await store.advisory(id: id)
            entry = Entry(advisory: advisory, loadedAt: now)
            entries.withLock { all in
                if all.count > 1000 { all.removeAll() }
                all[id] = entry
            }
        }
        guard let advisory = entry.advisory, advisory.status == .published, advisory.expiresAt > now else { return nil }
        return advisory
    }

    /// Drops what is kept of an advisory (it was cancelled or changed).
    public func forget(_ id: Int64) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }

    func pages(_ advisory: Advisory, language: Language, render: () -> Rendered) -> Rendered {
        let id = advisory.id
        if let pages = entries.withLock({ $0[id]?.pages[language] }) { return pages }
        let rendered = render()
        entries.withLock { $0[id]?.pages[language] = rendered }
        return rendered
    }
}
