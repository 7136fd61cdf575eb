import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HTTPTypes
import Hummingbird
import NIOCore

/// The advisory page (`/console/advisories/{id}`): what it is, who wrote and approved it, the
/// audience, every text as citizens get it with its SMS encoding and segments (the character
/// that forces UCS-2 and what spilled into the last segment marked), progress per channel;
/// approving (the two-person rule said plainly) and cancelling, as the API does them.
extension ConsoleController {
    func addAdvisoryRoutes(to router: Router<HabarRequestContext>) {
        router.get("console/advisories/{id}") { request, context in try await advisoryPage(request, context) }
        router.post("console/advisories/{id}/approve") { request, context in try await approve(request, context) }
        router.post("console/advisories/{id}/cancel") { request, context in try await cancel(request, context) }
        router.get("console/advisories/{id}/cap") { request, context in try await capDownload(request, context) }
        router.post("console/advisories/{id}/interrupt") { request, context in try await interrupt(request, context, resume: false) }
        router.post("console/advisories/{id}/resume") { request, context in try await interrupt(request, context, resume: true) }
    }

    func advisoryId(_ context: HabarRequestContext) -> Int64? {
        context.parameters.get("id").flatMap { Int64($0) }
    }

    func advisoryPage(
        _ request: Request, _ context: HabarRequestContext, message: String? = nil, error: Bool = false, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let language = signed.language
        guard let id = advisoryId(context), let advisory = try await gateway.roles.publishing.advisory(id: id) else {
            return html(.notFound, pages.render("message", language: language, try await frame(signed, path: "/console/").merging(["message": pages.text("console.advisory.missing", language)]) { a, _ in a }))
        }
        let preview = try await gateway.publisher.preview(advisory, now: gateway.now())
        let threshold = gateway.configuration.approval.threshold
        let recipients = preview.audience.total
        let isAuthor = signed.account.actor.isSamePerson(name: advisory.author, tokenId: advisory.authorTokenId)
        let canApprove = signed.account.role.satisfies(.approver) && (advisory.status == .draft && !advisory.isScheduled || advisory.pendingCorrection != nil)
        var values: [String: Any] = [
            "id": advisory.id, "exercise": advisory.exercise,
            "mode": pages.text(advisory.exercise ? "console.exercise.label" : "console.live.label", language),
            "kind": pages.text("console.kind." + advisory.kind.rawValue, language),
            "severity": pages.text("console.severity." + advisory.severity.rawValue, language),
            "state": pages.text("console.state." + (advisory.isScheduled ? "scheduled" : advisory.interruptedAt != nil && advisory.status == .published ? "interrupted" : advisory.status.rawValue), language),
            "template": advisory.template, "version": advisory.version, "author": advisory.author, "approver": advisory.approver ?? "—",
            "recipients": recipients, "unreachable": preview.audience.unreachable,
            "byLanguage": preview.audience.byLanguage.sorted { $0.key < $1.key }.map { ["name": $0.key, "count": $0.value] },
            "byChannel": preview.audience.byChannel.sorted { $0.key < $1.key }.map { ["name": $0.key, "count": $0.value] },
            "texts": preview.renderings.map { Self.textRow($0, pages: pages, language: language) },
            "canApprove": canApprove, "canCorrect": signed.account.role.satisfies(.operator) && advisory.status == .published && advisory.pendingCorrection == nil,
            "canCompose": signed.account.role.satisfies(.operator), "hasCAP": advisory.publishedAt != nil,
            "canInterrupt": signed.account.role.satisfies(.approver) && advisory.status == .published && advisory.interruptedAt == nil,
            "canResume": signed.account.role.satisfies(.approver) && advisory.status == .published && advisory.interruptedAt != nil, "canCancel": signed.account.role.satisfies(.approver) && (advisory.status == .draft || advisory.status == .published),
        ]
        // A correction waiting for a second person: what it would send, before anyone approves it.
        if let pending = advisory.pendingCorrection {
            values["pendingAuthor"] = pages.text("console.advisory.pending_by", language, ["name": .text(pending.author)])
            if let corrected = try? await gateway.publisher.previewCorrection(advisory, pending.correction, now: gateway.now()) {
                values["pendingGrid"] = textGrid(corrected.renderings, language)
            }
        }
        let progress = try await Dashboard.progress(gateway: gateway, advisoryId: advisory.id)
        values["progress"] = progress
        values["hasProgress"] = !progress.isEmpty
        if !progress.isEmpty { values.merge(try await outcomeValues(advisory, language)) { a, _ in a } }
        if canApprove, isAuthor, recipients > threshold {
            values["twoPerson"] = pages.text("console.advisory.two_person", language, ["count": .number(Double(recipients)), "threshold": .number(Double(threshold))])
        }
        if let message {
            values[error ? "failure" : "notice"] = message
        } else if request.uri.queryParameters.get("saved") != nil {
            values["notice"] = pages.text("console.advisory.saved", language)
        } else if let corrected = request.uri.queryParameters.get("corrected") {
            values["notice"] = pages.text(corrected == "sent" ? "console.advisory.corrected_sent" : "console.advisory.corrected_pending", language)
        }
        let page = pages.render("advisory", language: language, try await frame(signed, path: "/console/advisories/\(advisory.id)").merging(values) { a, _ in a })
        return html(status, page)
    }

    /// What happened to a published advisory: counts per language, the chart of deliveries
    /// over time, the check-in tallies, and the failed deliveries with the provider's answer.
    func outcomeValues(_ advisory: Advisory, _ language: Language) async throws -> [String: Any] {
        var values: [String: Any] = [:]
        var byLanguage: [Language: [Dashboard.Column: Int]] = [:]
        for count in try await gateway.roles.deliveries.deliveryCounts(advisoryId: advisory.id) {
            guard let column = Dashboard.Column.of(count.state) else { continue }
            byLanguage[count.language, default: [:]][column, default: 0] += count.count
        }
        values["byLanguageStats"] = [Language.kazakh, .russian, .english].filter { byLanguage[$0] != nil }.map { reading -> [String: Any] in
            var row: [String: Any] = ["language": reading.tag]
            for column in Dashboard.Column.allCases { row[column.rawValue] = byLanguage[reading]?[column] ?? 0 }
            return row
        }
        let start = advisory.publishedAt ?? advisory.createdAt
        let bucket = DeliveryChart.bucketSeconds(from: start, to: max(gateway.now(), start.addingTimeInterval(60)))
        let labels: [DeliveryState: String] = [
            .sent: pages.text("console.advisory.handed_over", language), .delivered: pages.text("console.state.delivered", language),
            .failed: pages.text("console.state.failed", language),
        ]
        if let chart = DeliveryChart.values(
            try await gateway.roles.deliveries.deliveryTimes(advisoryId: advisory.id, bucketSeconds: bucket), bucketSeconds: bucket,
            language: language.tag, labels: labels)
        {
            values["chart"] = chart
        }
        let tally = try await gateway.roles.checkins.checkinTally(advisoryId: advisory.id)
        if tally.total.values.contains(where: { $0 > 0 }) {
            values["hasTally"] = true
            values["tally"] = ["needs_help", "unreached", "no_answer", "safe"].map { key -> [String: Any] in
                ["label": pages.text("console.tally." + key, language), "count": tally.total[key] ?? 0, "key": key]
            }
        }
        let failed = try await gateway.roles.deliveries.deliveries(DeliveryFilter(advisoryId: advisory.id, state: .failed), page: PageRequest(limit: 50))
        if !failed.items.isEmpty {
            values["hasFailed"] = true
            values["failed"] = failed.items.map { delivery -> [String: Any] in
                var row: [String: Any] = [
                    "id": delivery.id, "channel": delivery.steps.indices.contains(delivery.step) ? delivery.steps[delivery.step] : "", "language": delivery.language.tag,
                    "error": delivery.lastError ?? "—", "at": ConsoleController.moment(delivery.updatedAt),
                ]
                if let citizen = delivery.citizenId { row["citizen"] = citizen }
                return row
            }
            if failed.nextAfter != nil { values["moreFailed"] = true }
        }
        return values
    }

    /// One rendering as the page shows it: SMS split where the encoding and the segments are decided.
    static func textRow(_ rendering: AdvisoryPreview.Rendering, pages: ConsolePages, language: Language) -> [String: Any] {
        var row: [String: Any] = [
            "language": rendering.language.tag, "channel": rendering.channel, "kind": rendering.kind.rawValue,
            "isSMS": rendering.kind == .sms,
        ]
        if let subject = rendering.subject { row["subject"] = subject }  // (an Optional would print "nil")
        guard rendering.kind == .sms else {
            row["pieces"] = [["text": rendering.text, "plain": true]]
            return row
        }
        let text = rendering.text
        var pieces: [[String: Any]] = []
        var cursor = text.startIndex
        let ucs2 = SMSMeasurement.firstUCS2Character(in: text)
        let spill = SMSMeasurement.lastSegmentStart(in: text)
        for (mark, index) in [("ucs2", ucs2), ("spill", spill)].compactMap({ pair in pair.1.map { (pair.0, $0) } }).sorted(by: { $0.1 < $1.1 }) {
            guard index >= cursor else { continue }
            if index > cursor { pieces.append(["text": String(text[cursor..<index]), "plain": true]) }
            if mark == "ucs2" {
                let next = text.index(after: index)
                pieces.append(["text": String(text[index..<next]), "ucs2": true])
                cursor = next
            } else {
                pieces.append(["text": String(text[index...]), "spill": true])
                cursor = text.endIndex
            }
        }
        if cursor < text.endIndex { pieces.append(["text": String(text[cursor...]), "plain": true]) }
        row["pieces"] = pieces
        row["encoding"] = rendering.encoding == .gsm7 ? "GSM-7" : "UCS-2"
        row["units"] = rendering.units ?? 0
        row["segments"] = rendering.segments ?? 0
        row["budget"] = rendering.segmentBudget ?? 0
        row["overBudget"] = rendering.overBudget ?? false
        return row
    }

    func approve(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        do { _ = try await checkedForm(request, signed) } catch Refused.csrf(let language) { return forbidden(language) }
        guard let id = advisoryId(context) else { return forbidden(signed.language) }
        let language = signed.language
        guard signed.account.role.satisfies(.approver) else {
            await accounts.audit(signed.account.name, role: signed.account.role, "console approve", target: "advisory/\(id)", status: 403, at: gateway.now())
            return try await advisoryPage(request, context, message: pages.text("console.advisory.role_needed", language), error: true, status: .forbidden)
        }
        do {
            let approval = try await gateway.publisher.approve(
                id: id, by: signed.account.actor, threshold: gateway.configuration.approval.threshold, now: gateway.now())
            await accounts.audit(signed.account.name, role: signed.account.role, "console approve", target: "advisory/\(id)", status: 200, at: gateway.now())
            let key: String
            switch approval {
            case .published: key = "console.advisory.approved"
            case .scheduled: key = "console.advisory.scheduled"
            case .correctionPublished: key = "console.advisory.correction_approved"
            }
            return try await advisoryPage(request, context, message: pages.text(key, language))
        } catch let refusal as TwoPersonRuleRefusal {
            await accounts.audit(signed.account.name, role: signed.account.role, "console approve", target: "advisory/\(id)", status: 403, at: gateway.now())
            let text = pages.text("console.advisory.two_person_refused", language, [
                "count": .number(Double(refusal.recipients)), "threshold": .number(Double(refusal.threshold)),
            ])
            return try await advisoryPage(request, context, message: text, error: true, status: .forbidden)
        } catch let failure as ValidationFailure {
            await accounts.audit(signed.account.name, role: signed.account.role, "console approve", target: "advisory/\(id)", status: 422, at: gateway.now())
            return try await advisoryPage(request, context, message: failure.errors.map(\.description).joined(separator: "; "), error: true, status: .unprocessableContent)
        } catch OperationError.conflict(let why) {
            await accounts.audit(signed.account.name, role: signed.account.role, "console approve", target: "advisory/\(id)", status: 409, at: gateway.now())
            return try await advisoryPage(request, context, message: why, error: true, status: .conflict)
        }
    }

    /// Holds (or lets go on) the sending of an advisory: approvers, as cancelling is.
    func interrupt(_ request: Request, _ context: HabarRequestContext, resume: Bool) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        do { _ = try await checkedForm(request, signed) } catch Refused.csrf(let language) { return forbidden(language) }
        guard let id = advisoryId(context) else { return forbidden(signed.language) }
        let action = resume ? "console resume" : "console interrupt"
        guard signed.account.role.satisfies(.approver) else {
            await accounts.audit(signed.account.name, role: signed.account.role, action, target: "advisory/\(id)", status: 403, at: gateway.now())
            return try await advisoryPage(request, context, message: pages.text("console.advisory.role_needed", signed.language), error: true, status: .forbidden)
        }
        do {
            _ = try await gateway.publisher.interrupt(id: id, resume: resume, by: signed.account.actor, now: gateway.now())
            await accounts.audit(signed.account.name, role: signed.account.role, action, target: "advisory/\(id)", status: 200, at: gateway.now())
            return try await advisoryPage(request, context, message: pages.text(resume ? "console.advisory.resumed" : "console.advisory.interrupted", signed.language))
        } catch OperationError.conflict(let why) {
            await accounts.audit(signed.account.name, role: signed.account.role, action, target: "advisory/\(id)", status: 409, at: gateway.now())
            return try await advisoryPage(request, context, message: why, error: true, status: .conflict)
        }
    }

    func cancel(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let fields: [String: String]
        do { fields = try await checkedForm(request, signed) } catch Refused.csrf(let language) { return forbidden(language) }
        guard let id = advisoryId(context) else { return forbidden(signed.language) }
        guard signed.account.role.satisfies(.approver) else {
            await accounts.audit(signed.account.name, role: signed.account.role, "console cancel", target: "advisory/\(id)", status: 403, at: gateway.now())
            return try await advisoryPage(request, context, message: pages.text("console.advisory.role_needed", signed.language), error: true, status: .forbidden)
        }
        do {
            let outcome = try await gateway.publisher.cancel(id: id, notice: fields["notice"] == "on", by: signed.account.actor, now: gateway.now())
            await accounts.audit(signed.account.name, role: signed.account.role, "console cancel", target: "advisory/\(id)", status: 200, at: gateway.now())
            return try await advisoryPage(request, context, message: pages.text("console.advisory.cancelled", signed.language, ["count": .number(Double(outcome.cancelled))]))
        } catch OperationError.conflict(let why) {
            await accounts.audit(signed.account.name, role: signed.account.role, "console cancel", target: "advisory/\(id)", status: 409, at: gateway.now())
            return try await advisoryPage(request, context, message: why, error: true, status: .conflict)
        }
    }

    /// The advisory's CAP 1.2 document as a file, as `GET /v1/advisories/{id}/cap` gives it.
    func capDownload(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        guard let id = advisoryId(context), let advisory = try await gateway.roles.publishing.advisory(id: id), advisory.publishedAt != nil else {
            return try await refusedPage(signed, "console.advisory.missing", status: .notFound)
        }
        let document = try await CAPDocument.make(advisory, gateway: gateway)
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/cap+xml; charset=utf-8", .cacheControl: "no-store",
                .contentDisposition: "attachment; filename=\"habar-advisory-\(id)-v\(advisory.version).cap.xml\"",
            ],
            body: .init(byteBuffer: ByteBuffer(string: document)))
    }
}
