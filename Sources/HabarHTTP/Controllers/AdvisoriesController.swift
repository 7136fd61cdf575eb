import Foundation
import HabarCore
import HabarMessages
import Hummingbird

/// `/v1/advisories`: drafts, preview, approval (two-person rule), corrections, cancellation,
/// stats and CAP export.
struct AdvisoriesController {
    let gateway: Gateway

    func addRoutes(to group: RouterGroup<HabarRequestContext>) {
        group.post { request, context in try await create(request, context) }
        group.get { request, context in try await list(request, context) }
        group.get("{id}") { _, context in try await show(context) }
        group.get("{id}/preview") { _, context in try await preview(context) }
        group.post("{id}/approve") { request, context in try await approve(request, context) }
        group.post("{id}/update") { request, context in try await correct(request, context) }
        group.post("{id}/cancel") { request, context in try await cancel(request, context) }
        group.post("{id}/interrupt") { request, context in try await interrupt(request, context, resume: false) }
        group.post("{id}/resume") { request, context in try await interrupt(request, context, resume: true) }
        group.get("{id}/stats") { _, context in try await stats(context) }
        group.get("{id}/cap") { _, context in try await cap(context) }
    }

    /// A new advisory as the API takes it.
    struct Input: Codable {
        var kind: AdvisoryKind
        var severity: Severity
        var audience: Audience
        var params: AdvisoryParameters?
        /// Catalog template; defaults to the kind's main one.
        var template: String?
        var channelPlan: ChannelPlan
        var expiresAt: Date
        var scope: AdvisoryScope?
        var publishAt: Date?
        /// `actual` (default) or `exercise` (CAP `<status>`).
        var status: CAPStatus?
    }

    /// An advisory as the API shows it. `state` is where it is in its life (`scheduled` for
    /// an approved draft that waits for `publishAt`); `status` is CAP's: `actual` or `exercise`.
    struct Body: Encodable {
        struct Pending: Encodable {
            var author: String
            var severity: Severity?
            var params: AdvisoryParameters?
            var template: String?
            var expiresAt: Date?
            /// The place versions the correction is rendered from (a moved place makes one).
            var places: [PlaceUse]?
        }
        var id: Int64
        var kind: AdvisoryKind
        var severity: Severity
        var audience: Audience
        var params: AdvisoryParameters
        var template: String
        var channelPlan: ChannelPlan
        var expiresAt: Date
        var scope: AdvisoryScope
        var publishAt: Date?
        var status: CAPStatus
        var state: String
        var version: Int
        var author: String
        var approver: String?
        var createdAt: Date
        var publishedAt: Date?
        var cancelledAt: Date?
        var pendingCorrection: Pending?
        /// Sending held since then, by whom (`POST …/interrupt`; `…/resume` clears it).
        var interruptedAt: Date?
        var interruptedBy: String?
        var versions: [AdvisoryVersion]?
        /// The place versions the current texts come from.
        var places: [PlaceUse]

        init(_ a: Advisory, versions: [AdvisoryVersion]? = nil) {
            id = a.id
            kind = a.kind
            severity = a.severity
            audience = a.audience
            params = a.params
            template = a.template
            channelPlan = a.channelPlan
            expiresAt = a.expiresAt
            scope = a.scope
            publishAt = a.publishAt
            status = CAPStatus(exercise: a.exercise)
            state = a.isScheduled ? "scheduled" : a.status.rawValue
            version = a.version
            author = a.author
            approver = a.approver
            createdAt = a.createdAt
            publishedAt = a.publishedAt
            cancelledAt = a.cancelledAt
            pendingCorrection = a.pendingCorrection.map {
                Pending(
                    author: $0.author, severity: $0.correction.severity, params: $0.correction.params, template: $0.correction.template,
                    expiresAt: $0.correction.expiresAt, places: $0.correction.places)
            }
            places = a.places
            interruptedAt = a.interruptedAt
            interruptedBy = a.interruptedBy
            self.versions = versions
        }
    }

    var limit: Int { gateway.configuration.http.maxBodyBytes }
    var threshold: Int { gateway.configuration.approval.threshold }

    func existing(_ context: HabarRequestContext) async throws -> Advisory {
        let id = try context.id("advisory")
        guard let advisory = try await gateway.roles.publishing.advisory(id: id) else { throw Problem(.notFound, detail: "no advisory \(id)") }
        return advisory
    }

    func create(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let identity = try context.require(.operator)
        let input = try await RequestJSON.decode(Input.self, from: request, limit: limit)
        let now = gateway.now()
        let advisory = NewAdvisory(
            id: .unsaved, kind: input.kind, severity: input.severity, audience: input.audience, params: input.params ?? AdvisoryParameters(),
            template: input.template ?? input.kind.defaultTemplate, channelPlan: input.channelPlan,
            expiresAt: input.expiresAt, author: identity.name, createdAt: now, scope: input.scope ?? .restricted,
            publishAt: input.publishAt, authorTokenId: identity.id, exercise: input.status?.isExercise ?? false)
        let stored = try await gateway.publisher.draft(advisory, now: now)
        context.audit.target("advisory/\(stored.id)")
        var response = try JSONBody.response(Body(stored), status: .created)
        response.headers[.location] = "/v1/advisories/\(stored.id)"
        return response
    }

    func list(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        // `status` is CAP's (actual, exercise); a life-cycle value there is still read as `state`.
        var state = try Listing.value(request, "state", as: ListedAdvisoryStatus.self)?.filter
        var exercise: Bool? = nil
        if let raw = try Listing.string(request, "status") {
            if let cap = CAPStatus(rawValue: raw) { exercise = cap.isExercise } else if let listed = ListedAdvisoryStatus(rawValue: raw), state == nil {
                state = listed.filter
            } else {
                throw Problem(.badRequest, detail: "status must be actual or exercise, not '\(raw)' (the life cycle is state: \(ListedAdvisoryStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        let filter = AdvisoryFilter(
            status: state?.status, scheduled: state?.scheduled, kind: try Listing.value(request, "kind", as: AdvisoryKind.self), exercise: exercise)
        return try Listing.response(try await gateway.roles.publishing.advisories(filter, page: try Listing.page(request))) { Body($0) }
    }

    func show(_ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        let advisory = try await existing(context)
        return try JSONBody.response(Body(advisory, versions: try await gateway.roles.publishing.advisoryVersions(id: advisory.id)))
    }

    func preview(_ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        return try JSONBody.response(try await gateway.publisher.preview(try await existing(context), now: gateway.now()))
    }

    /// What approve, update and cancel answer: the advisory as it now is, and what happened.
    struct OutcomeBody: Encodable {
        var advisory: Body
        /// `published`, `scheduled`, `correction_published`, `awaiting_approval`, `cancelled`.
        var outcome: String
        var recipients: Int?
        var queued: Int?
        var unreachable: Int?
        var cancelled: Int?
    }

    func approve(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let identity = try context.require(.approver)
        _ = try await RequestJSON.decode(EmptyInput.self, from: request, limit: limit, emptyIsObject: true)
        let id = try context.id("advisory")
        context.audit.target("advisory/\(id)")
        context.audit.detail("threshold", String(threshold))
        context.audit.detail("approver", identity.name)
        let approval: AdvisoryPublisher.Approval
        do {
            approval = try await gateway.publisher.approve(id: id, by: context.actor, threshold: threshold, now: gateway.now())
        } catch let refusal as TwoPersonRuleRefusal {
            context.audit.detail("author", refusal.author)
            context.audit.detail("refused", "two-person rule")
            throw refusal
        }
        // The publisher read the advisory once; this is the one read of it as it now is.
        let advisory = try await existing(context)
        if case .correctionPublished(_, _, let author) = approval { context.audit.detail("author", author) } else {
            context.audit.detail("author", advisory.author)
        }
        var body = OutcomeBody(advisory: Body(advisory), outcome: "published")
        switch approval {
        case .published(let result, let recipients):
            (body.recipients, body.queued, body.unreachable) = (recipients, result.queued, result.unreachable)
        case .scheduled(_, let recipients):
            (body.outcome, body.recipients) = ("scheduled", recipients)
        case .correctionPublished(let result, let recipients, _):
            (body.outcome, body.recipients, body.queued, body.unreachable) = ("correction_published", recipients, result.queued, result.unreachable)
        }
        context.audit.detail("outcome", body.outcome)
        context.audit.detail("recipients", String(body.recipients ?? 0))
        return try JSONBody.response(body)
    }

    struct EmptyInput: Codable {}

    func correct(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.operator)
        let correction = try await RequestJSON.decode(AdvisoryCorrection.self, from: request, limit: limit)
        if correction == AdvisoryCorrection() {
            throw ValidationFailure(pointer: "", "a correction changes at least one of severity, params, template, expiresAt")
        }
        let id = try context.id("advisory")
        context.audit.target("advisory/\(id)")
        context.audit.detail("threshold", String(threshold))
        let outcome = try await gateway.publisher.correct(id: id, correction, by: context.actor, threshold: threshold, now: gateway.now())
        let advisory = try await existing(context)
        switch outcome {
        case .published(let result, let recipients):
            context.audit.detail("outcome", "published")
            return try JSONBody.response(OutcomeBody(
                advisory: Body(advisory), outcome: "published", recipients: recipients, queued: result.queued, unreachable: result.unreachable))
        case .awaitingApproval(let recipients):
            context.audit.detail("outcome", "awaiting_approval")
            return try JSONBody.response(OutcomeBody(advisory: Body(advisory), outcome: "awaiting_approval", recipients: recipients), status: .accepted)
        }
    }

    struct CancelInput: Codable {
        /// Tell the people already reached that the advisory no longer holds.
        var notice: Bool?
    }

    func cancel(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.approver)
        let input = try await RequestJSON.decode(CancelInput.self, from: request, limit: limit, emptyIsObject: true)
        let id = try context.id("advisory")
        context.audit.target("advisory/\(id)")
        let result = try await gateway.publisher.cancel(id: id, notice: input.notice ?? false, by: context.actor, now: gateway.now())
        context.audit.detail("cancelledDeliveries", String(result.cancelled))
        context.audit.detail("notice", String(result.notice != nil))
        let advisory = try await existing(context)
        return try JSONBody.response(OutcomeBody(
            advisory: Body(advisory), outcome: "cancelled", queued: result.notice?.queued, cancelled: result.cancelled))
    }

    /// Holds the sending at once (`interrupt`) or lets it go on (`resume`); approvers.
    func interrupt(_ request: Request, _ context: HabarRequestContext, resume: Bool) async throws -> Response {
        try context.require(.approver)
        _ = try await RequestJSON.decode(EmptyInput.self, from: request, limit: limit, emptyIsObject: true)
        let id = try context.id("advisory")
        context.audit.target("advisory/\(id)")
        let advisory = try await gateway.publisher.interrupt(id: id, resume: resume, by: context.actor, now: gateway.now())
        return try JSONBody.response(OutcomeBody(advisory: Body(advisory), outcome: resume ? "resumed" : "interrupted", queued: nil, cancelled: nil))
    }

    struct StatsBody: Encodable {
        var advisoryId: Int64
        var version: Int
        var deliveries: Int
        var counts: [DeliveryCount]
        /// The recipients' welfare status now, whatever its source.
        var checkins: [String: Int]
        /// Answers to this advisory's check-in request: safe / needs_help / no_answer /
        /// unreached, in total, by country, by language, and per hour.
        var checkinAnswers: CheckinTally
        var publishedAt: Date?
        var firstSentAt: Date?
        var timeToFirstSendSeconds: Double?
        var timeTo95PercentSentSeconds: Double?
    }

    func stats(_ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        let advisory = try await existing(context)
        guard let stats = try await gateway.roles.publishing.advisoryStats(id: advisory.id) else { throw Problem(.notFound, detail: "no advisory") }
        var checkins = Dictionary(uniqueKeysWithValues: WelfareStatus.allCases.map { ($0.rawValue, 0) })
        for (status, count) in stats.checkins { checkins[status.rawValue] = count }
        func since(_ date: Date?) -> Double? {
            guard let date, let start = stats.publishedAt else { return nil }
            return (date.timeIntervalSince(start) * 1000).rounded() / 1000
        }
        return try JSONBody.response(StatsBody(
            advisoryId: advisory.id, version: advisory.version, deliveries: stats.deliveries, counts: stats.counts, checkins: checkins,
            checkinAnswers: try await gateway.roles.checkins.checkinTally(advisoryId: advisory.id), publishedAt: stats.publishedAt, firstSentAt: stats.firstSentAt, timeToFirstSendSeconds: since(stats.firstSentAt),
            timeTo95PercentSentSeconds: since(stats.ninetyFivePercentSentAt)))
    }

    func cap(_ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        let advisory = try await existing(context)
        guard advisory.publishedAt != nil else {
            throw Problem(.conflict, detail: "advisory \(advisory.id) has not been published; CAP describes published alerts")
        }
        let document = try await CAPDocument.make(advisory, gateway: gateway)
        return Response(
            status: .ok, headers: [.contentType: "application/cap+xml; charset=utf-8"],
            body: .init(byteBuffer: .init(string: document)))
    }
}
