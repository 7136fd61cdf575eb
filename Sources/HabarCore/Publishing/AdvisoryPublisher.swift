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
    public let store: any HabarStore
    public let catalog: MessageCatalog
    public let channels: [String: ChannelCapabilities]
    public let fallback: LanguageFallback

    public init(store: any HabarStore, catalog: MessageCatalog, channels: [String: ChannelCapabilities], fallback: LanguageFallback = LanguageFallback()) {
        self.store = store
        self.catalog = catalog
        self.channels = channels
        self.fallback = fallback
    }

    /// Checks a draft completely; every problem is reported with its JSON Pointer.
    public func validate(_ advisory: Advisory, now: Date) throws(ValidationFailure) {
        var v = Validator()
        do { try advisory.audience.validate() } catch { for e in error.errors { v.add(e.pointer ?? "/audience", e.detail) } }
        v.check(advisory.expiresAt > now, "/expiresAt", "is in the past: an expired advisory is never sent")
        v.check(!advisory.channelPlan.channels.isEmpty, "/channelPlan/channels", "needs at least one channel")
        v.check(Set(advisory.channelPlan.channels).count == advisory.channelPlan.channels.count, "/channelPlan/channels", "names a channel twice")
        for (index, name) in advisory.channelPlan.channels.enumerated() where channels[name] == nil {
            v.add("/channelPlan/channels/\(index)", "unknown channel '\(name)' (configured: \(channels.keys.sorted().joined(separator: ", ")))")
        }
        if let zone = advisory.params.timeZone, TimeZone(identifier: zone) == nil {
            v.add("/params/timeZone", "'\(zone)' is not an IANA time zone")
        }
        let known = catalog.languages.contains { language in catalog.templates[language]?.keys.contains { $0.hasPrefix(advisory.template + ".") } ?? false }
        if !known {
            v.add("/template", "unknown template '\(advisory.template)'")
        } else {
            let arguments = advisory.params.templateArguments()
            let missing = catalog.placeholders(of: advisory.template).filter { arguments[$0] == nil }.sorted()
            for name in missing { v.add("/params/\(name)", "is required by template '\(advisory.template)'") }
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

    /// The message kinds the plan's channels need.
    func kinds(of advisory: Advisory) -> Set<MessageKind> {
        Set(advisory.channelPlan.channels.compactMap { channels[$0]?.messageKind })
    }

    func renderingLanguage(_ template: String, _ kind: MessageKind, _ language: Language) -> Language? {
        fallback.chain(for: language).first { catalog.has(template: template, kind: kind, language: $0) }
    }

    /// Every language × kind the advisory needs, rendered once.
    public func render(_ advisory: Advisory) throws -> [Language: [MessageKind: RenderedMessage]] {
        var result: [Language: [MessageKind: RenderedMessage]] = [:]
        let arguments = advisory.params.templateArguments()
        for language in Language.allCases {
            for kind in kinds(of: advisory) {
                guard let source = renderingLanguage(advisory.template, kind, language) else {
                    throw ValidationFailure(pointer: "/template", "no \(kind.rawValue) text for \(language.tag)")
                }
                result[language, default: [:]][kind] = try catalog.render(
                    template: advisory.template, kind: kind, language: source, arguments: arguments)
            }
        }
        return result
    }

    /// Validates and stores a new draft.
    public func draft(_ advisory: Advisory, now: Date) async throws -> Advisory {
        try validate(advisory, now: now)
        return try await store.insertAdvisory(advisory)
    }

    /// Publishes advisory `id`: renders it and queues its deliveries.
    public func publish(id: Int64, approver: String, now: Date) async throws -> PublicationResult {
        guard let advisory = try await store.advisory(id: id) else {
            throw ValidationFailure(pointer: "/id", "no advisory \(id)")
        }
        try validate(advisory, now: now)
        let renderings = try render(advisory)
        var plan: [String: (address: AddressKind, kind: MessageKind)] = [:]
        for name in advisory.channelPlan.channels {
            if let capabilities = channels[name] { plan[name] = (capabilities.addressKind, capabilities.messageKind) }
        }
        return try await store.publish(Publication(
            advisoryId: id, version: advisory.version, approver: approver, renderings: renderings, channels: plan, now: now))
    }
}
