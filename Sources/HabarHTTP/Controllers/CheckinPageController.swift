import Foundation
import HabarCore
import HabarMessages
import HTTPTypes
import Hummingbird

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
    }

    func target(_ context: HabarRequestContext) async throws -> Target? {
        guard let token = context.parameters.get("token"), let ids = try await gateway.links.verify(token),
            let citizen = try await gateway.store.citizen(id: ids.citizenId),
            let advisory = try await gateway.store.advisory(id: ids.advisoryId),
            advisory.status == .published, advisory.expiresAt > gateway.now()
        else { return nil }
        return Target(citizen: citizen, advisory: advisory, token: token)
    }

    func page(_ context: HabarRequestContext) async throws -> Response {
        guard let target = try await target(context) else { return notFound() }
        return html(.ok, form(target, error: nil))
    }

    func answer(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        guard let target = try await target(context) else { return notFound() }
        let body = try await RequestJSON.body(request, limit: gateway.configuration.http.maxBodyBytes)
        guard let text = String(validating: body.readableBytesView, as: UTF8.self),
            let fields = try? ProviderCallbacksController.formFields(text)
        else { return html(.badRequest, form(target, error: "page.checkin.choose")) }
        let meaning: ReplyMeaning
        switch fields["status"] {
        case "safe": meaning = .safe
        case "need_help": meaning = .needsHelp
        default: return html(.unprocessableContent, form(target, error: "page.checkin.choose"))
        }
        let note = fields["note"].map { String($0.trimmingCharacters(in: .whitespacesAndNewlines).prefix(Self.noteLimit)) }.flatMap { $0.isEmpty ? nil : $0 }
        try await gateway.store.recordCheckins([CheckinAnswer(
            citizenId: target.citizen.id!, advisoryId: target.advisory.id, meaning: meaning, source: .link, text: note, at: gateway.now())])
        return html(.ok, confirmation(target, meaning))
    }

    // MARK: Pages

    func strings(_ target: Target) -> (String, [String: MessageArgument]) -> String {
        let language = target.citizen.language
        let zones = gateway.publisher.zones(target.advisory)
        let arguments = gateway.publisher.arguments(target.advisory, now: gateway.now())
        return { key, extra in
            let text = gateway.catalog.string(key, language: language, arguments: arguments.merging(extra) { $1 }, zones: zones)
                ?? gateway.catalog.string(key, language: .russian, arguments: arguments.merging(extra) { $1 }, zones: zones) ?? ""
            return HTML.escape(text)
        }
    }

    func form(_ target: Target, error: String?) -> String {
        let t = strings(target)
        var body = "<h1>\(t("page.checkin.title", [:]))</h1>\n<p>\(t("page.checkin.intro", [:]))</p>\n"
        if target.advisory.params.checkinDeadline != nil { body += "<p>\(t("page.checkin.deadline", [:]))</p>\n" }
        if let error { body += "<p class=\"error\" role=\"alert\">\(t(error, [:]))</p>\n" }
        body += """
            <form method="post" action="/c/\(target.token)">
            <button class="safe" type="submit" name="status" value="safe">\(t("page.checkin.safe", [:]))</button>
            <button class="help" type="submit" name="status" value="need_help">\(t("page.checkin.help", [:]))</button>
            <label for="note">\(t("page.checkin.note", [:]))</label>
            <textarea id="note" name="note" maxlength="\(Self.noteLimit)" rows="3"></textarea>
            </form>

            """
        if target.advisory.params.contactPhone != nil { body += "<p>\(t("page.checkin.consul", [:]))</p>\n" }
        return document(language: target.citizen.language, title: t("page.checkin.title", [:]), body: body)
    }

    func confirmation(_ target: Target, _ meaning: ReplyMeaning) -> String {
        let t = strings(target)
        var body = "<h1>\(t(meaning == .safe ? "page.checkin.thanks.safe" : "page.checkin.thanks.help", [:]))</h1>\n"
        body += "<p><a href=\"/c/\(target.token)\">\(t("page.checkin.change", [:]))</a></p>\n"
        if target.advisory.params.contactPhone != nil { body += "<p>\(t("page.checkin.consul", [:]))</p>\n" }
        return document(language: target.citizen.language, title: t("page.checkin.title", [:]), body: body)
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
