import Foundation
import HabarMessages

/// Which language a citizen gets when their own has no catalog: the explicit order, by
/// the citizen's language.
public struct LanguageFallback: Sendable, Hashable, Codable {
    public var chains: [Language: [Language]]

    public init(chains: [Language: [Language]] = [.kazakh: [.kazakh, .russian, .english], .russian: [.russian, .kazakh, .english], .english: [.english, .russian]]) {
        self.chains = chains
    }

    public func chain(for language: Language) -> [Language] { chains[language] ?? [language] }
}

/// Turns an advisory draft into queued deliveries: validates it against the catalogs and
/// the configured channels, renders every language × channel kind once, and hands the
/// frozen texts to the store, which queues the audience in one transaction.
public struct AdvisoryPublisher: Sendable {
    public let store: any PublishingStore & PlaceStore
    public let catalog: MessageCatalog
    public let channels: [String: ChannelCapabilities]
    public let fallback: LanguageFallback
    /// The most SMS segments a message may take, by channel (default 3 for SMS channels).
    public let smsSegmentBudgets: [String: Int]
    /// Where citizens answer check-ins (`<publicBaseURL>/c`), for `{checkinUrl}`.
    public let checkinBaseURL: String
    /// The webhook channel that carries `group.advisory` to travel agencies (nil: none).
    public let agencyChannel: String?
    /// Told of every change this publisher commits (caches drop their copy).
    public let changes: AdvisoryChanges
    /// The channels configured `exercise: true`: the only ones an exercise goes through.
    public let exerciseChannels: Set<String>

    public static let defaultSMSSegmentBudget = 3

    public init(
        store: any PublishingStore & PlaceStore, catalog: MessageCatalog, channels: [String: ChannelCapabilities], fallback: LanguageFallback = LanguageFallback(),
        smsSegmentBudgets: [String: Int] = [:], checkinBaseURL: String = "http://127.0.0.1:8080/c", agencyChannel: String? = nil,
        changes: AdvisoryChanges = AdvisoryChanges(), exerciseChannels: Set<String> = []
    ) {
        self.exerciseChannels = exerciseChannels
        self.changes = changes
        self.agencyChannel = agencyChannel
        self.store = store
        self.catalog = catalog
        self.channels = channels
        self.fallback = fallback
        self.smsSegmentBudgets = smsSegmentBudgets
        self.checkinBaseURL = checkinBaseURL
    }

    /// The channel for `group.advisory`: none for an exercise unless that channel is an
    /// exercise channel too (a drill never reaches a real agency).
    func agencyChannel<ID>(for advisory: AdvisoryRecord<ID>) -> String? {
        guard let agencyChannel, !advisory.exercise || exerciseChannels.contains(agencyChannel) else { return nil }
        return agencyChannel
    }

    /// The segment budget of an SMS channel.
    public func segmentBudget(_ channel: String) -> Int? {
        guard channels[channel]?.messageKind == .sms else { return nil }
        return smsSegmentBudgets[channel] ?? Self.defaultSMSSegmentBudget
    }

    /// The typed values `advisory`'s templates are rendered with at `now` for readers of
    /// `language` (a text parameter without a value for it takes its fallback chain's).
    public func arguments<ID>(_ advisory: AdvisoryRecord<ID>, now: Date, language: Language) -> [String: MessageArgument] {
        var arguments = advisory.params.resolved(with: advisory.places)
            .templateArguments(now: now, language: language, fallback: fallback.chain(for: language))
        // Each citizen's link: the dispatcher puts their token in the placeholder's place.
        arguments["checkinUrl"] = .text("\(checkinBaseURL)/\(CheckinLinks.placeholder)")
        return arguments
    }

    /// A follow-up of `advisory` (a reminder or a reply's confirmation) in every language,
    /// for `kinds`, with the advisory's parameters at `now`.
    public func renderFollowUp(_ advisory: Advisory, _ followUp: FollowUp, kinds: Set<MessageKind>, now: Date) throws -> [Language: [MessageKind: RenderedMessage]] {
        marked(
            try render(template: followUp.template, kinds: kinds, arguments: { arguments(advisory, now: now, language: $0) }, zones: zones(advisory)),
            exercise: advisory.exercise)
    }

    /// Where the advisory's times are shown: its own zone, and Astana.
    public func zones<ID>(_ advisory: AdvisoryRecord<ID>) -> MessageZones {
        MessageZones(local: advisory.params.timeZone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!)
    }

    /// Checks a draft completely; every problem is reported with its JSON Pointer.
    public func validate<ID>(_ advisory: AdvisoryRecord<ID>, now: Date) throws(ValidationFailure) {
        var v = Validator()
        do { try advisory.audience.validate() } catch { for e in error.errors { v.add(e.pointer ?? "/audience", e.detail) } }
        v.check(advisory.expiresAt > now, "/expiresAt", "is in the past: an expired advisory is never sent")
        if let publishAt = advisory.publishAt { v.check(publishAt < advisory.expiresAt, "/publishAt", "is not before expiresAt") }
        v.check(!advisory.channelPlan.channels.isEmpty, "/channelPlan/channels", "needs at least one channel")
        v.check(Set(advisory.channelPlan.channels).count == advisory.channelPlan.channels.count, "/channelPlan/channels", "names a channel twice")
        for (index, name) in advisory.channelPlan.channels.enumerated() where channels[name] == nil {
            v.add("/channelPlan/channels/\(index)", "unknown channel '\(name)' (configured: \(channels.keys.sorted().joined(separator: ", ")))")
        }
        if advisory.exercise {
            for (index, name) in advisory.channelPlan.channels.enumerated() where channels[name] != nil && !exerciseChannels.contains(name) {
                v.add("/channelPlan/channels/\(index)",
                      "channel '\(name)' is live; an exercise goes only through channels configured exercise: true (here: \(exerciseChannels.isEmpty ? "none" : exerciseChannels.sorted().joined(separator: ", ")))")
            }
        }
        let params = advisory.params
        if let deadline = params.checkinDeadline {
            v.check(deadline > now, "/params/checkinDeadline", "is in the past: nobody could answer in time")
        }
        if let opens = params.opensAt, let closes = params.closesAt {
            v.check(closes > opens, "/params/closesAt", "is not after opensAt: the corridor would close before it opens")
        }
        if let zone = advisory.params.timeZone, TimeZone(identifier: zone) == nil {
            v.add("/params/timeZone", "'\(zone)' is not an IANA time zone")
        }
        if !catalog.templateNames.contains(advisory.template) {
            v.add("/template", "unknown template '\(advisory.template)' (known: \(catalog.templateNames.sorted().joined(separator: ", ")))")
        } else {
            let arguments = self.arguments(advisory, now: now, language: .russian)
            let missing = catalog.placeholders(of: advisory.template).filter {
                arguments[$0] == nil && !AdvisoryParameters.optionalPlaceholders(of: advisory.template).contains($0)
            }
            for name in Set(missing.map { AdvisoryParameters.source(of: $0) }).sorted() {
                v.add("/params/\(name)", "is required by template '\(advisory.template)'")
            }
            if missing.isEmpty {
                for kind in kinds(of: advisory) {
                    for language in Language.allCases where renderingLanguage(advisory.template, kind, language) == nil {
                        v.add("/template", "'\(advisory.template)' has no \(kind.rawValue) text for \(language.tag) or its fallbacks")
                    }
                }
            }
        }
        try v.throwIfAny()
    }

    /// The message kinds the plan's channels need, and the webhook payload when agencies
    /// may get the advisory as a group advisory.
    func kinds<ID>(of advisory: AdvisoryRecord<ID>) -> Set<MessageKind> {
        var kinds = Set(advisory.channelPlan.channels.compactMap { channels[$0]?.messageKind })
        if let agencyChannel, let kind = channels[agencyChannel]?.messageKind { kinds.insert(kind) }
        return kinds
    }

    func renderingLanguage(_ template: String, _ kind: MessageKind, _ language: Language) -> Language? {
        fallback.chain(for: language).first { catalog.has(template: template, kind: kind, language: $0) }
    }

    /// Every language × kind the advisory needs, rendered once (an exercise marked).
    public func render<ID>(_ advisory: AdvisoryRecord<ID>, now: Date) throws -> [Language: [MessageKind: RenderedMessage]] {
        try render(advisory, kinds: kinds(of: advisory), now: now)
    }

    /// An exercise's texts, each led by the exercise marker of its own language («ЖАТТЫҒУ»,
    /// «УЧЕНИЯ», «EXERCISE»: the catalogs' `marker.exercise`); a live advisory's unchanged.
    public func marked(_ renderings: [Language: [MessageKind: RenderedMessage]], exercise: Bool) -> [Language: [MessageKind: RenderedMessage]] {
        guard exercise else { return renderings }
        return renderings.mapValues { byKind in
            byKind.mapValues { message in
                let marker = catalog.string("marker.exercise", language: message.language) ?? "EXERCISE"
                var marked = message
                marked.text = "\(marker): \(message.text)"
                marked.subject = message.subject.map { "\(marker): \($0)" }
                marked.html = message.html.map { "<p><strong>\(HTML.escape(marker))</strong></p>\($0)" }
                return marked
            }
        }
    }

    /// Refuses renderings whose SMS would take more segments than a plan channel allows.
    /// `extra` segments are allowed on top of each budget (a correction's lead-in).
    /// Only the languages in `languages` are checked: a text nobody will be sent cannot be too long.
    public func checkBudgets(
        _ advisory: Advisory, _ renderings: [Language: [MessageKind: RenderedMessage]], extra: Int = 0, languages: Set<Language>
    ) throws(ValidationFailure) {
        var v = Validator()
        for channel in advisory.channelPlan.channels {
            guard let budget = segmentBudget(channel).map({ $0 + extra }) else { continue }
            for language in Language.allCases where languages.contains(language) {
                guard let sms = renderings[language]?[.sms] else { continue }
                let measured = sms.sms
                v.check(measured.segments <= budget, "/template",
                        "the \(language.tag) SMS on channel '\(channel)' is \(measured.segments) segments (\(measured.units) \(measured.encoding == .gsm7 ? "GSM-7" : "UCS-2") units); its budget is \(budget): shorten the parameters")
            }
        }
        try v.throwIfAny()
    }

    /// Validates and stores a new draft, with the current versions of the places it names.
    public func draft(_ advisory: NewAdvisory, now: Date) async throws -> Advisory {
        let resolved = try await resolvingPlaces(advisory)
        try validate(resolved, now: now)
        return try await store.insertAdvisory(resolved)
    }

    /// What a channel plan needs per channel: the address and the message kind.
    func channelMap(_ plan: ChannelPlan) -> [String: (address: AddressKind, kind: MessageKind)] {
        var map: [String: (address: AddressKind, kind: MessageKind)] = [:]
        for name in plan.channels {
            if let capabilities = channels[name] { map[name] = (capabilities.addressKind, capabilities.messageKind) }
        }
        return map
    }

    func existing(_ id: Int64) async throws -> Advisory {
        guard let advisory = try await store.advisory(id: id) else { throw OperationError.notFound("advisory \(id)") }
        return advisory
    }

    /// How many citizens `recipients` are, and which languages they read.
    public struct AudienceSize: Sendable, Hashable {
        public var count: Int
        public var languages: Set<Language>
    }

    /// The size and languages of `recipients`, from one read of the audience.
    public func audienceSize(_ recipients: Recipients) async throws -> AudienceSize {
        let cells = try await store.audienceCells(recipients).filter { $0.count > 0 }
        return AudienceSize(count: cells.reduce(0) { $0 + $1.count }, languages: Set(cells.map(\.language)))
    }

    /// How many citizens `recipients` are.
    public func recipientCount(_ recipients: Recipients) async throws -> Int {
        try await audienceSize(recipients).count
    }

    /// Refuses an advisory whose per-language text parameters lack a value for a language
    /// some of its audience reads (they would get another language's name for a place).
    public func checkLanguages<ID>(_ advisory: AdvisoryRecord<ID>, languages: Set<Language>) throws(ValidationFailure) {
        var v = Validator()
        for (name, value) in advisory.params.resolved(with: advisory.places).texts {
            guard let given = value.languages else { continue }
            let missing = languages.subtracting(given).sorted()
            guard !missing.isEmpty else { continue }
            let tags = missing.map(\.tag).joined(separator: ", ")
            v.add("/params/\(name)", "has no value for \(tags), which citizens in the audience read: add \(missing.map { "\"\($0.tag)\"" }.joined(separator: " and ")) (given: \(given.sorted().map(\.tag).joined(separator: ", ")))")
        }
        try v.throwIfAny()
    }

    /// Refuses an approval by the author when more than `threshold` people would get it.
    func checkTwoPersonRule(author: String, authorTokenId: Int64?, approver: Actor, recipients: Int, threshold: Int) throws(TwoPersonRuleRefusal) {
        if recipients > threshold, approver.isSamePerson(name: author, tokenId: authorTokenId) {
            throw TwoPersonRuleRefusal(author: author, recipients: recipients, threshold: threshold)
        }
    }

    /// What an approval did.
    public enum Approval: Sendable {
        /// Deliveries were queued; `recipients` people were in the audience.
        case published(PublicationResult, recipients: Int)
        /// Approved; it goes out at this time.
        case scheduled(Date, recipients: Int)
        /// A pending correction was approved and queued.
        case correctionPublished(PublicationResult, recipients: Int, author: String)
    }

    /// Approves advisory `id`: a draft is published (or scheduled for `publishAt`); a
    /// published advisory with a pending correction gets that correction published. Above
    /// `threshold` recipients the approver must not be the author.
    public func approve(id: Int64, by approver: Actor, threshold: Int, now: Date) async throws -> Approval {
        var advisory = try await existing(id)
        switch advisory.status {
        case .draft:
            // Queue time: the texts come from the places' current versions.
            advisory = try await resolvingPlaces(advisory)
            if advisory.isScheduled { throw OperationError.conflict("advisory \(id) is already approved and scheduled for \(advisory.publishAt.map { "\($0)" } ?? "later")") }
            let audience = try await audienceSize(.audience(advisory.audience))
            let recipients = audience.count
            try checkTwoPersonRule(author: advisory.author, authorTokenId: advisory.authorTokenId, approver: approver, recipients: recipients, threshold: threshold)
            try validate(advisory, now: now)
            try checkLanguages(advisory, languages: audience.languages)
            if let publishAt = advisory.publishAt, publishAt > now {
                try checkBudgets(advisory, try render(advisory, now: now), languages: audience.languages)
                try await store.scheduleAdvisory(id: id, approver: approver.name, approverTokenId: approver.tokenId, publishAt: publishAt)
                return .scheduled(publishAt, recipients: recipients)
            }
            let result = try await publish(advisory, approver: approver, languages: audience.languages, now: now)
            return .published(result, recipients: recipients)
        case .published:
            guard let pending = advisory.pendingCorrection else {
                throw OperationError.conflict("advisory \(id) is already published and has no correction waiting for approval")
            }
            let audience = try await audienceSize(.reachedBy(advisoryId: id, beforeVersion: advisory.version + 1))
            let recipients = audience.count
            try checkTwoPersonRule(author: pending.author, authorTokenId: pending.authorTokenId, approver: approver, recipients: recipients, threshold: threshold)
            let result = try await publishCorrection(advisory, pending.correction, approver: approver, languages: audience.languages, now: now)
            return .correctionPublished(result, recipients: recipients, author: pending.author)
        case .cancelled, .expired:
            throw OperationError.conflict("advisory \(id) is \(advisory.status.rawValue)")
        }
    }

    /// Publishes draft `id` now as `approver`, without the two-person rule: for drills and
    /// tests that act as one trusted operator.
    public func publish(id: Int64, approver: String, now: Date) async throws -> PublicationResult {
        let advisory = try await resolvingPlaces(try await existing(id))
        try validate(advisory, now: now)
        return try await publish(advisory, approver: Actor(name: approver), languages: nil, now: now)
    }

    /// Publishes a first version now; `languages` are its audience's (nil: read them).
    func publish(_ advisory: Advisory, approver: Actor, languages: Set<Language>?, now: Date) async throws -> PublicationResult {
        var languages = languages ?? []
        if languages.isEmpty { languages = try await audienceSize(.audience(advisory.audience)).languages }
        try checkLanguages(advisory, languages: languages)
        let renderings = try render(advisory, now: now)
        try checkBudgets(advisory, renderings, languages: languages)
        let result = try await store.publish(Publication(
            advisory: advisory, messageType: .alert, approver: approver.name, approverTokenId: approver.tokenId,
            recipients: .audience(advisory.audience), renderings: renderings, channels: channelMap(advisory.channelPlan),
            agencyChannel: agencyChannel(for: advisory), now: now))
        changes.changed(advisory.id)
        return result
    }

    /// Publishes approved advisories whose time has come. One that cannot be published
    /// (its time passed while it waited, or a channel it names is gone) does not hold up the
    /// others: an expired one is cancelled, the others are reported and tried again later.
    @discardableResult
    public func publishDue(now: Date) async throws -> (published: Int, failures: [(id: Int64, error: any Error)]) {
        var published = 0
        var failures: [(id: Int64, error: any Error)] = []
        for advisory in try await store.dueScheduledAdvisories(now: now) {
            let id = advisory.id
            if advisory.expiresAt <= now {
                _ = try await cancelled(id, store.cancelAdvisory(id: id, at: now, by: "scheduler", notice: nil))
                failures.append((id, OperationError.conflict("advisory \(id) expired before its publishing time came; cancelled")))
                continue
            }
            do {
                let advisory = try await resolvingPlaces(advisory)
                try validate(advisory, now: now)
                _ = try await publish(
                    advisory, approver: Actor(name: advisory.approver ?? advisory.author, tokenId: advisory.approverTokenId), languages: nil, now: now)
                published += 1
            } catch {
                failures.append((id, error))
            }
        }
        return (published, failures)
    }

    /// What a correction did.
    public enum CorrectionOutcome: Sendable {
        case published(PublicationResult, recipients: Int)
        /// More than the threshold would get it: it waits for a second person's approval.
        case awaitingApproval(recipients: Int)
    }

    /// A correction of published advisory `id`: at most `threshold` recipients, it goes out
    /// now; above, it waits for an approver other than `author`.
    public func correct(id: Int64, _ correction: AdvisoryCorrection, by author: Actor, threshold: Int, now: Date) async throws -> CorrectionOutcome {
        let advisory = try await existing(id)
        guard advisory.status == .published else {
            throw OperationError.conflict("advisory \(id) is \(advisory.status.rawValue); only a published advisory can be corrected")
        }
        // A typed correction takes the places its parameters name, as they are now.
        var correction = correction
        if correction.places == nil { correction.places = try await resolvingPlaces(advisory.applying(correction)).places }
        let next = advisory.applying(correction)
        try validate(next, now: now)
        let audience = try await audienceSize(.reachedBy(advisoryId: id, beforeVersion: next.version))
        let recipients = audience.count
        try checkLanguages(next, languages: audience.languages)
        try checkBudgets(next, try await correctionRenderings(advisory, next, now: now), extra: Self.correctionExtraSegments, languages: audience.languages)
        if recipients > threshold {
            try await store.setPendingCorrection(id: id, PendingCorrection(correction: correction, author: author.name, authorTokenId: author.tokenId))
            return .awaitingApproval(recipients: recipients)
        }
        return .published(
            try await publishCorrection(advisory, correction, approver: author, languages: audience.languages, now: now), recipients: recipients)
    }

    /// A correction may take one segment more than its channel's budget: its lead-in
    /// ("Исправление сообщения от 12 марта 08:15:") is about 40 characters that cannot go.
    public static let correctionExtraSegments = 1

    /// The corrected texts, each led by the catalog's `advisory.correction` in its language.
    func correctionRenderings(_ advisory: Advisory, _ next: Advisory, now: Date) async throws -> [Language: [MessageKind: RenderedMessage]] {
        let previousSentAt = try await store.advisoryVersions(id: next.id).last?.sentAt ?? advisory.publishedAt ?? now
        let body = try unmarked(next, kinds: kinds(of: next), now: now)
        let prefix = try render(template: Self.correctionTemplate, kinds: kinds(of: next), arguments: { _ in ["previousSentAt": .date(previousSentAt)] }, zones: zones(next))
        var combined: [Language: [MessageKind: RenderedMessage]] = [:]
        for (language, byKind) in body {
            for (kind, message) in byKind {
                combined[language, default: [:]][kind] = prefix[language]?[kind].map { message.prefixed(by: $0) } ?? message
            }
        }
        return marked(combined, exercise: next.exercise)
    }

    func publishCorrection(
        _ advisory: Advisory, _ correction: AdvisoryCorrection, approver: Actor, languages: Set<Language>, now: Date
    ) async throws -> PublicationResult {
        let next = advisory.applying(correction)
        try checkLanguages(next, languages: languages)
        let combined = try await correctionRenderings(advisory, next, now: now)
        try checkBudgets(next, combined, extra: Self.correctionExtraSegments, languages: languages)
        let result = try await store.publish(Publication(
            advisory: next, messageType: .update, approver: approver.name, approverTokenId: approver.tokenId,
            recipients: .reachedBy(advisoryId: next.id, beforeVersion: next.version), renderings: combined,
            channels: channelMap(next.channelPlan), agencyChannel: agencyChannel(for: advisory), now: now))
        changes.changed(next.id)  // a new deadline or consul number shows at once
        return result
    }

    /// Holds the sending of published advisory `id` at once (nothing more goes to a provider;
    /// what a provider has goes on), or with `resume` lets it go on. `.conflict` when the
    /// advisory is not published. Its check-in links stay open.
    public func interrupt(id: Int64, resume: Bool = false, by actor: Actor, now: Date) async throws -> Advisory {
        try await store.setInterrupted(id: id, at: resume ? nil : now, by: resume ? nil : actor.name)
        changes.changed(id)
        return try await existing(id)
    }

    /// A committed cancellation: its check-in links close now, not when a cache ages.
    private func cancelled<T>(_ id: Int64, _ result: T) -> T {
        changes.changed(id)
        return result
    }

    /// Cancels advisory `id`: nothing not yet sent goes out; with `notice`, the people already
    /// reached are told it no longer holds. Returns the cancelled deliveries and the notice's queue.
    public func cancel(id: Int64, notice: Bool, by actor: Actor, now: Date) async throws -> (cancelled: Int, notice: PublicationResult?) {
        let advisory = try await existing(id)
        guard advisory.status == .draft || advisory.status == .published else {
            throw OperationError.conflict("advisory \(id) is \(advisory.status.rawValue)")
        }
        guard notice, advisory.status == .published else {
            return try await cancelled(id, store.cancelAdvisory(id: id, at: now, by: actor.name, notice: nil))
        }
        var next = advisory
        next.version += 1
        let previousSentAt = try await store.advisoryVersions(id: id).last?.sentAt ?? advisory.publishedAt ?? now
        let headline = try unmarked(advisory, kinds: [.webhook], now: now)
        var renderings: [Language: [MessageKind: RenderedMessage]] = [:]
        for language in Language.allCases {
            for kind in kinds(of: advisory) {
                guard let source = renderingLanguage(Self.cancellationTemplate, kind, language) else { continue }
                let title = headline[language]?[.webhook]?.subject ?? ""
                var arguments: [String: MessageArgument] = ["previousSentAt": .date(previousSentAt), "title": .text(title)]
                arguments["contactPhone"] = self.arguments(advisory, now: now, language: language)["contactPhone"]
                renderings[language, default: [:]][kind] = try catalog.render(
                    template: Self.cancellationTemplate, kind: kind, language: source, arguments: arguments, zones: zones(advisory))
            }
        }
        let publication = Publication(
            advisory: next, messageType: .cancel, approver: actor.name, approverTokenId: actor.tokenId,
            recipients: .reachedBy(advisoryId: id, beforeVersion: next.version), renderings: marked(renderings, exercise: advisory.exercise),
            channels: channelMap(advisory.channelPlan), agencyChannel: agencyChannel(for: advisory),
            expiresAt: max(advisory.expiresAt, now.addingTimeInterval(6 * 3600)), now: now)
        return try await cancelled(id, store.cancelAdvisory(id: id, at: now, by: actor.name, notice: publication))
    }

    /// Every language in `kinds`, whatever the plan's channels (exports such as CAP).
    public func render<ID>(_ advisory: AdvisoryRecord<ID>, kinds: Set<MessageKind>, now: Date) throws -> [Language: [MessageKind: RenderedMessage]] {
        marked(try unmarked(advisory, kinds: kinds, now: now), exercise: advisory.exercise)
    }

    /// The advisory's own texts without the exercise marker (a correction or a cancellation
    /// notice marks the whole message once).
    func unmarked<ID>(_ advisory: AdvisoryRecord<ID>, kinds: Set<MessageKind>, now: Date) throws -> [Language: [MessageKind: RenderedMessage]] {
        try render(template: advisory.template, kinds: kinds, arguments: { arguments(advisory, now: now, language: $0) }, zones: zones(advisory))
    }

    /// The catalog template that leads a correction ("replaces the message of ...").
    public static let correctionTemplate = "advisory.correction"
    /// The catalog template of a cancellation notice.
    public static let cancellationTemplate = "advisory.cancellation"

    /// `template` rendered for every language and `kinds` with its fallbacks.
    /// Each language's arguments come from `arguments(language)` for the citizens' language.
    func render(
        template: String, kinds: Set<MessageKind>, arguments: (Language) -> [String: MessageArgument], zones: MessageZones
    ) throws -> [Language: [MessageKind: RenderedMessage]] {
        var result: [Language: [MessageKind: RenderedMessage]] = [:]
        for language in Language.allCases {
            let values = arguments(language)
            for kind in kinds {
                guard let source = renderingLanguage(template, kind, language) else {
                    throw OperationError.conflict("the catalogs have no \(kind.rawValue) text of '\(template)' for \(language.tag)")
                }
                result[language, default: [:]][kind] = try catalog.render(template: template, kind: kind, language: source, arguments: values, zones: zones)
            }
        }
        return result
    }
}

extension RenderedMessage {
    /// This message led by `prefix` (same kind): subjects and texts joined, HTML as a paragraph before.
    public func prefixed(by prefix: RenderedMessage) -> RenderedMessage {
        var result = self
        switch kind {
        case .sms:
            result.text = prefix.text + " " + text
        case .email, .webhook:
            result.subject = [prefix.subject, subject].compactMap { $0 }.joined(separator: " ")
            result.text = prefix.text + "\n\n" + text
            if let html, let lead = prefix.html { result.html = lead + html }
        }
        return result
    }
}
