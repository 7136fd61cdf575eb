import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HTTPTypes
import Hummingbird

/// Composing (`/console/compose`) and correcting (`/console/advisories/{id}/correct`): the
/// kind, severity, exercise or live, the audience with its live size per language and
/// channel, places from the registry or typed per language, and the kk / ru / en texts side
/// by side per channel as citizens will get them, with each SMS's encoding and parts. Without
/// JavaScript the "Preview" button shows the same; with it the preview follows the typing.
/// Saving goes through the publisher, as `POST /v1/advisories` and `…/update` do.
extension ConsoleController {
    func addComposeRoutes(to router: Router<HabarRequestContext>) {
        router.get("console/compose") { request, _ in try await composePage(request) }
        router.post("console/compose") { request, _ in try await composeSubmit(request) }
        router.post("console/compose/preview") { request, _ in try await composePreview(request) }
        router.get("console/advisories/{id}/correct") { request, context in try await correctPage(request, context) }
        router.post("console/advisories/{id}/correct") { request, context in try await correctSubmit(request, context) }
        router.post("console/advisories/{id}/correct/preview") { request, context in try await correctPreview(request, context) }
    }

    var configuredChannels: [String] { gateway.configuration.channels.map(\.name) }

    /// The compose page: empty, a copy of advisory `?from=` (same audience and channels), or
    /// with `?as=all_clear` the all-clear to that advisory's audience, prefilled.
    func composePage(_ request: Request) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        guard signed.account.role.satisfies(.operator) else { return try await refusedPage(signed, "console.compose.role_needed") }
        var fields: [String: String] = [
            "kind": AdvisoryKind.greenCorridor.rawValue, "severity": Severity.severe.rawValue, "status": "actual",
            "expiresAt": ComposeForm.timeField(gateway.now().addingTimeInterval(86_400)), "mode": "fallback",
        ]
        if let first = configuredChannels.first { fields["channel.\(first)"] = "on" }
        let query = request.uri.queryParameters
        if let from = query.get("from").flatMap(Int64.init), let source = try await gateway.roles.publishing.advisory(id: from) {
            fields = ComposeForm.fields(of: source)
            fields["expiresAt"] = ComposeForm.timeField(max(source.expiresAt, gateway.now().addingTimeInterval(86_400)))
            if query.get("as") == "all_clear" {
                for key in fields.keys where key.contains(".") && !key.hasPrefix("channel.") { fields[key] = nil }
                fields["kind"] = AdvisoryKind.general.rawValue
                fields["template"] = AdvisoryKind.general.defaultTemplate
                fields["severity"] = Severity.minor.rawValue
                for language in Language.allCases { fields["text.\(language.tag)"] = pages.text("console.compose.all_clear_text", language) }
                for name in ComposeForm.timeParameters + ["meetingPointId", "borderCrossingId", "corridorId"] { fields[name] = nil }
            }
        }
        var form = ComposeForm(fields: fields)
        return html(.ok, try await composeHTML(signed, &form, preview: true))
    }

    func composeSubmit(_ request: Request) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let fields: [String: String]
        do { fields = try await checkedForm(request, signed) } catch Refused.csrf(let language) { return forbidden(language) }
        guard signed.account.role.satisfies(.operator) else {
            await accounts.audit(signed.account.name, role: signed.account.role, "console draft", target: "advisories", status: 403, at: gateway.now())
            return try await refusedPage(signed, "console.compose.role_needed")
        }
        var form = ComposeForm(fields: fields)
        guard fields["action"] == "save" else { return html(.ok, try await composeHTML(signed, &form, preview: true)) }
        let now = gateway.now()
        let draft = form.advisory(author: signed.account.actor, configuredChannels: configuredChannels, now: now)
        if form.errors.isEmpty {
            do {
                let stored = try await gateway.publisher.draft(draft, now: now)
                await accounts.audit(signed.account.name, role: signed.account.role, "console draft", target: "advisory/\(stored.id)", status: 201, at: now)
                return Self.redirect("/console/advisories/\(stored.id)?saved=1")
            } catch let failure as ValidationFailure {
                form.add(failure)
            }
        }
        await accounts.audit(signed.account.name, role: signed.account.role, "console draft", target: "advisories", status: 422, at: now)
        return html(.unprocessableContent, try await composeHTML(signed, &form, preview: true, fieldErrors: true))
    }

    /// The preview part alone, for the page's script while the operator types.
    func composePreview(_ request: Request) async throws -> Response {
        guard let signed = try await signed(request) else { return html(.unauthorized, "") }
        let fields: [String: String]
        do { fields = try await checkedForm(request, signed) } catch Refused.csrf(let language) { return forbidden(language) }
        guard signed.account.role.satisfies(.operator) else { return forbidden(signed.language) }
        var form = ComposeForm(fields: fields)
        let draft = form.advisory(author: signed.account.actor, configuredChannels: configuredChannels, now: gateway.now())
        return html(.ok, pages.render("compose_preview", language: signed.language, try await previewValues(signed.language, draft, &form)))
    }

    // MARK: Corrections

    func correctable(_ context: HabarRequestContext) async throws -> Advisory? {
        guard let id = advisoryId(context), let advisory = try await gateway.roles.publishing.advisory(id: id), advisory.status == .published else { return nil }
        return advisory
    }

    func correctPage(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        guard signed.account.role.satisfies(.operator) else { return try await refusedPage(signed, "console.compose.role_needed") }
        guard let advisory = try await correctable(context) else { return try await refusedPage(signed, "console.compose.not_correctable", status: .conflict) }
        var form = ComposeForm(fields: ComposeForm.fields(of: advisory))
        return html(.ok, try await composeHTML(signed, &form, preview: true, correcting: advisory))
    }

    func correctSubmit(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let fields: [String: String]
        do { fields = try await checkedForm(request, signed) } catch Refused.csrf(let language) { return forbidden(language) }
        let target = "advisory/\(advisoryId(context) ?? 0)"
        guard signed.account.role.satisfies(.operator) else {
            await accounts.audit(signed.account.name, role: signed.account.role, "console correct", target: target, status: 403, at: gateway.now())
            return try await refusedPage(signed, "console.compose.role_needed")
        }
        guard let advisory = try await correctable(context) else { return try await refusedPage(signed, "console.compose.not_correctable", status: .conflict) }
        var form = ComposeForm(fields: fields)
        guard fields["action"] == "save" else { return html(.ok, try await composeHTML(signed, &form, preview: true, correcting: advisory)) }
        let now = gateway.now()
        let correction = form.correction(of: advisory)
        if form.errors.isEmpty {
            do {
                let outcome = try await gateway.publisher.correct(
                    id: advisory.id, correction, by: signed.account.actor, threshold: gateway.configuration.approval.threshold, now: now)
                await accounts.audit(signed.account.name, role: signed.account.role, "console correct", target: target, status: 200, at: now)
                switch outcome {
                case .published: return Self.redirect("/console/advisories/\(advisory.id)?corrected=sent")
                case .awaitingApproval: return Self.redirect("/console/advisories/\(advisory.id)?corrected=pending")
                }
            } catch let failure as ValidationFailure {
                form.add(failure)
            } catch OperationError.conflict(let why) {
                form.fail("form", why)
            }
        }
        await accounts.audit(signed.account.name, role: signed.account.role, "console correct", target: target, status: 422, at: now)
        return html(.unprocessableContent, try await composeHTML(signed, &form, preview: true, correcting: advisory, fieldErrors: true))
    }

    func correctPreview(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        guard let signed = try await signed(request) else { return html(.unauthorized, "") }
        let fields: [String: String]
        do { fields = try await checkedForm(request, signed) } catch Refused.csrf(let language) { return forbidden(language) }
        guard signed.account.role.satisfies(.operator), let advisory = try await correctable(context) else { return forbidden(signed.language) }
        var form = ComposeForm(fields: fields)
        return html(.ok, pages.render("compose_preview", language: signed.language, try await correctionPreviewValues(signed.language, advisory, &form)))
    }

    // MARK: Rendering

    func refusedPage(_ signed: Signed, _ key: String, status: HTTPResponse.Status = .forbidden) async throws -> Response {
        html(status, pages.render("message", language: signed.language, try await frame(signed, path: "/console/").merging(["message": pages.text(key, signed.language)]) { a, _ in a }))
    }

    /// The whole page: the form as filled in, errors beside their fields, and the preview.
    /// Errors stand beside their fields only after a save was tried; before, the preview lists
    /// what is still missing.
    func composeHTML(_ signed: Signed, _ form: inout ComposeForm, preview: Bool, correcting: Advisory? = nil, fieldErrors: Bool = false) async throws -> String {
        let language = signed.language
        let now = gateway.now()
        // The form is read and checked afresh here; what a save found besides is kept, once.
        let earlier = form.errors
        form.errors = [:]
        let draft = form.advisory(author: signed.account.actor, configuredChannels: configuredChannels, now: now)
        var previewed = try await {
            if let correcting { return try await correctionPreviewValues(language, correcting, &form) }
            return try await previewValues(language, draft, &form)
        }()
        for (field, details) in earlier {
            for detail in details where !(form.errors[field] ?? []).contains(detail) { form.errors[field, default: []].append(detail) }
        }
        previewed.merge(previewProblems(language, form)) { _, b in b }
        let fields = form.fields
        let kind = correcting?.kind ?? draft.kind
        let template = draft.template
        let exerciseChannels = gateway.publisher.exerciseChannels
        var values: [String: Any] = [
            "action": correcting.map { "/console/advisories/\($0.id)/correct" } ?? "/console/compose",
            "previewAction": correcting.map { "/console/advisories/\($0.id)/correct/preview" } ?? "/console/compose/preview",
            "correcting": correcting != nil, "correctingId": correcting?.id ?? 0,
            "kinds": AdvisoryKind.allCases.map { ["value": $0.rawValue, "label": pages.text("console.kind." + $0.rawValue, language), "selected": $0 == kind] },
            "severities": Severity.allCases.map { ["value": $0.rawValue, "label": pages.text("console.severity." + $0.rawValue, language), "selected": $0 == draft.severity] },
            "templates": gateway.catalog.templateNames.filter { $0.hasPrefix(kind.rawValue + ".") }.sorted().map { ["value": $0, "selected": $0 == template] },
            "exercise": draft.exercise, "modeAll": draft.channelPlan.mode == .all, "public": draft.scope == .public,
            "channels": configuredChannels.map { ["name": $0, "checked": fields["channel.\($0)"] == "on", "exerciseCapable": exerciseChannels.contains($0)] },
            "all": fields["all"] == "on",
            "params": parameterRows(template: template, form: form, language: language, fieldErrors: fieldErrors),
            "places": try await placeChoices(template: template, form: form, language: language, fieldErrors: fieldErrors),
            "errors": fieldErrors ? form.errors.mapValues { $0 as Any } : [String: Any](),
            "previewPart": previewed,
        ]
        for name in ["countries", "cities", "tags", "groupIds", "agencyIds", "citizenIds", "expiresAt", "publishAt"] { values[name] = fields[name] ?? "" }
        let shown: Set<String> = Set(["kind", "severity", "template", "status", "audience", "channels", "expiresAt", "publishAt", "scope"])
            .union((values["params"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
            .union((values["places"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
        let elsewhere = form.errors.filter { !shown.contains($0.key) }.sorted { $0.key < $1.key }.flatMap { key, details in details.map { "\(key): \($0)" } }
        if fieldErrors, !elsewhere.isEmpty { values["formErrors"] = elsewhere; values["hasFormErrors"] = true }
        if fieldErrors, !form.errors.isEmpty { values["hasErrors"] = true }
        let title = correcting.map { pages.text("console.compose.correct_title", language, ["id": .text(String($0.id))]) } ?? pages.text("console.compose.title", language)
        values["title"] = title
        return pages.render("compose", language: language, try await frame(signed, path: correcting.map { "/console/advisories/\($0.id)/correct" } ?? "/console/compose").merging(values) { a, _ in a })
    }

    /// The parameters `template` reads, in a fixed order, each with its fields as filled in.
    func parameterRows(template: String, form: ComposeForm, language: Language, fieldErrors: Bool) -> [[String: Any]] {
        let needed = Set(gateway.catalog.placeholders(of: template).map { AdvisoryParameters.source(of: $0) })
        let order = ["route", "borderCrossing", "previousBorderCrossing", "meetingPoint", "meetingPointAddress", "previousMeetingPoint",
                     "meetingPointLocation", "opensAt", "closesAt", "checkinDeadline", "text", "contactPhone", "timeZone"]
        let timed = !needed.isDisjoint(with: ComposeForm.timeParameters) || needed.contains("localZone")
        return order.filter { needed.contains($0) || ($0 == "timeZone" && timed) }.map { name -> [String: Any] in
            var row: [String: Any] = ["name": name, "label": pages.text("console.param." + name, language), "errors": fieldErrors ? form.errors[name] ?? [] : []]
            if ComposeForm.textParameters.contains(name) {
                row["perLanguage"] = true
                row["cells"] = [Language.kazakh, .russian, .english].map { reading in
                    ["field": "\(name).\(reading.tag)", "lang": reading.tag, "value": form.fields["\(name).\(reading.tag)"] ?? "",
                     "label": "\(pages.text("console.param." + name, language)) (\(reading.tag))"]
                }
            } else if ComposeForm.timeParameters.contains(name) {
                row["time"] = true
                row["value"] = form.fields[name] ?? ""
            } else if name == "meetingPointLocation" {
                row["location"] = true
                row["lat"] = form.fields["meetingPointLocation.lat"] ?? ""
                row["lon"] = form.fields["meetingPointLocation.lon"] ?? ""
            } else {
                row["plain"] = true
                row["value"] = form.fields[name] ?? ""
            }
            return row
        }
    }

    /// A choice of registered open places for each role the template's texts take from one.
    func placeChoices(template: String, form: ComposeForm, language: Language, fieldErrors: Bool) async throws -> [[String: Any]] {
        let needed = Set(gateway.catalog.placeholders(of: template).map { AdvisoryParameters.source(of: $0) })
        var choices: [[String: Any]] = []
        for role in [PlaceUse.Role.corridor, .borderCrossing, .meetingPoint] where !needed.isDisjoint(with: role.textParameters) {
            guard let field = role.idParameter else { continue }
            let places = try await gateway.roles.places.places(PlaceFilter(kind: role.kind, status: .open), page: PageRequest(limit: PageRequest.maxLimit)).items
            let chosen = form.fields[field] ?? ""
            choices.append([
                "field": field, "label": pages.text("console.place_role." + role.rawValue, language), "errors": fieldErrors ? form.errors[field] ?? [] : [],
                "options": places.map { place in
                    ["id": place.id, "selected": String(place.id) == chosen,
                     "name": "\(place.name.value(for: language, fallback: [.russian, .english, .kazakh]) ?? "#\(place.id)") (\(place.country ?? "—"), v\(place.version))"]
                },
            ])
        }
        return choices
    }

    /// The preview of a new advisory: its audience per language and channel (when the
    /// audience names someone), its texts side by side, or what stops them rendering.
    func previewValues(_ language: Language, _ draft: NewAdvisory, _ form: inout ComposeForm) async throws -> [String: Any] {
        let now = gateway.now()
        let resolved: NewAdvisory
        do { resolved = try await gateway.publisher.resolvingPlaces(draft) } catch let failure as ValidationFailure {
            form.add(failure)
            return previewProblems(language, form)
        }
        do { try gateway.publisher.validate(resolved, now: now) } catch { form.add(error) }
        var values: [String: Any] = [:]
        if (try? resolved.audience.validate()) != nil {
            values.merge(audienceValues(try await gateway.publisher.previewAudience(resolved, now: now), draft.channelPlan.channels, language)) { a, _ in a }
        }
        if let rendered = try? gateway.publisher.render(resolved, now: now) {
            values["grid"] = textGrid(gateway.publisher.previewRenderings(resolved, rendered: rendered), language)
            values["hasGrid"] = true
        }
        return values.merging(previewProblems(language, form)) { a, _ in a }
    }

    /// The preview of a correction: the texts as the correction sends them (led by the
    /// correction notice) to the people the advisory reached.
    func correctionPreviewValues(_ language: Language, _ advisory: Advisory, _ form: inout ComposeForm) async throws -> [String: Any] {
        let now = gateway.now()
        let correction = form.correction(of: advisory)
        var values: [String: Any] = [:]
        do {
            let (next, renderings) = try await gateway.publisher.previewCorrection(advisory, correction, now: now)
            do { try gateway.publisher.validate(next, now: now) } catch { form.add(error) }
            values["grid"] = textGrid(renderings, language)
            values["hasGrid"] = true
        } catch let failure as ValidationFailure {
            form.add(failure)
        } catch {
            do { try gateway.publisher.validate(advisory.applying(correction), now: now) } catch let failure { form.add(failure) }
            if form.errors.isEmpty { form.fail("form", String(describing: error)) }
        }
        values.merge(audienceValues(try await gateway.publisher.previewAudience(advisory, now: now), advisory.channelPlan.channels, language)) { a, _ in a }
        return values.merging(previewProblems(language, form)) { a, _ in a }
    }

    func previewProblems(_ language: Language, _ form: ComposeForm) -> [String: Any] {
        let problems = form.errors.sorted { $0.key < $1.key }.flatMap { key, details in details.map { "\(key): \($0)" } }
        return problems.isEmpty ? [:] : ["problems": problems, "hasProblems": true]
    }

    func audienceValues(_ audience: AdvisoryPreview.Audience, _ channels: [String], _ language: Language) -> [String: Any] {
        [
            "hasAudience": true, "total": audience.total, "unreachable": audience.unreachable, "hasUnreachable": audience.unreachable > 0,
            "radius": pages.text("console.compose.radius", language, ["count": .number(Double(audience.total))]),
            "byLanguage": [Language.kazakh, .russian, .english].map { ["name": $0.tag, "count": audience.byLanguage[$0.tag] ?? 0] },
            "byChannel": channels.map { ["name": $0, "count": audience.byChannel[$0] ?? 0] },
        ]
    }

    /// One row per channel, one cell per language (kk, ru, en), as on the advisory page.
    func textGrid(_ renderings: [AdvisoryPreview.Rendering], _ language: Language) -> [[String: Any]] {
        var channels: [String] = []
        for rendering in renderings where !channels.contains(rendering.channel) { channels.append(rendering.channel) }
        return channels.map { channel in
            [
                "channel": channel,
                "cells": [Language.kazakh, .russian, .english].map { reading -> [String: Any] in
                    guard let rendering = renderings.first(where: { $0.channel == channel && $0.language == reading }) else { return ["language": reading.tag, "pieces": []] }
                    return Self.textRow(rendering, pages: pages, language: language)
                },
            ]
        }
    }
}
