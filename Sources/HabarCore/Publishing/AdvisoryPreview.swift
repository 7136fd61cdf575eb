import Foundation
import HabarMessages

/// The "blast radius" of an advisory before anyone approves it: every language × channel
/// rendering (with the language actually used after fallback, and exact SMS size), and how
/// many citizens each language and channel reaches), and the group advisories travel agencies
/// would get.
public struct AdvisoryPreview: Sendable, Encodable {
    public struct Rendering: Sendable, Encodable {
        /// The citizens' language this rendering is for.
        public var language: Language
        public var channel: String
        public var kind: MessageKind
        /// The catalog language the text comes from (differs when the fallback chain was used).
        public var renderedLanguage: Language
        public var subject: String?
        public var text: String
        public var html: String?
        /// SMS only: `gsm7` or `ucs2`, characters in that encoding's units, and segments.
        public var encoding: SMSEncoding?
        public var units: Int?
        public var segments: Int?
        /// SMS only: the channel's segment budget, and whether this text exceeds it (approval
        /// refuses an advisory with such a text).
        public var segmentBudget: Int?
        public var overBudget: Bool?
    }

    public struct Part: Sendable, Encodable {
        public var language: Language
        /// The channel that reaches them first (fallback plans), or each channel (all-at-once plans).
        public var channel: String
        public var renderedLanguage: Language
        public var count: Int
    }

    public struct Audience: Sendable, Encodable {
        public var total: Int
        /// Citizens no channel of the plan can reach (no phone for SMS, no e-mail for e-mail).
        public var unreachable: Int
        public var byLanguage: [String: Int]
        public var byChannel: [String: Int]
        public var parts: [Part]
    }

    /// The `group.advisory` webhooks a publication would send to travel agencies: one per
    /// group with tourists in the audience (whatever the plan), through `channel`.
    public struct GroupAdvisories: Sendable, Encodable {
        /// The webhook channel that carries them; nil when agencies get none.
        public var channel: String?
        public var groups: Int
        public var tourists: Int
        public var byAgency: [GroupAdvisoryCell]
    }

    public var advisoryId: Int64?
    public var version: Int
    public var renderings: [Rendering]
    public var audience: Audience
    public var groupAdvisories: GroupAdvisories
}

extension AdvisoryPublisher {
    /// The preview of `advisory` as it stands (a draft, or the current version; an unsaved
    /// one too, as the console's compose page shows it while the operator types).
    public func preview<ID>(_ advisory: AdvisoryRecord<ID>, now: Date) async throws -> AdvisoryPreview {
        // A draft shows the places as they are now: what approving it would queue.
        let advisory = advisory.status == .draft ? try await resolvingPlaces(advisory) : advisory
        let renderings = previewRenderings(advisory, rendered: try render(advisory, now: now))
        let audience = try await previewAudience(advisory, now: now)
        let agencies = agencyChannel == nil ? [] : try await store.groupAdvisoryCells(advisory.audience)
        return AdvisoryPreview(
            advisoryId: (advisory.id as Any) as? Int64, version: advisory.version, renderings: renderings, audience: audience,
            groupAdvisories: AdvisoryPreview.GroupAdvisories(
                channel: agencyChannel, groups: agencies.reduce(0) { $0 + $1.groups }, tourists: agencies.reduce(0) { $0 + $1.tourists },
                byAgency: agencies))
    }

    /// The texts a correction of `advisory` would send, each led by the correction notice, and
    /// the corrected advisory they come from (its places as they are now, unless it names its own).
    public func previewCorrection(_ advisory: Advisory, _ correction: AdvisoryCorrection, now: Date) async throws -> (next: Advisory, renderings: [AdvisoryPreview.Rendering]) {
        var correction = correction
        if correction.places == nil { correction.places = try await resolvingPlaces(advisory.applying(correction)).places }
        let next = advisory.applying(correction)
        return (next, previewRenderings(next, rendered: try await correctionRenderings(advisory, next, now: now)))
    }

    /// Every language × channel text of `rendered` (the advisory's, or its correction's) as
    /// the plan's channels carry them, with each SMS's size against its channel's budget.
    public func previewRenderings<ID>(_ advisory: AdvisoryRecord<ID>, rendered: [Language: [MessageKind: RenderedMessage]]) -> [AdvisoryPreview.Rendering] {
        var renderings: [AdvisoryPreview.Rendering] = []
        for language in Language.allCases {
            for channel in advisory.channelPlan.channels {
                guard let kind = channels[channel]?.messageKind, let message = rendered[language]?[kind] else { continue }
                let sms = kind == .sms ? message.sms : nil
                let budget = segmentBudget(channel)
                renderings.append(AdvisoryPreview.Rendering(
                    language: language, channel: channel, kind: kind, renderedLanguage: message.language, subject: message.subject,
                    text: message.text, html: message.html, encoding: sms?.encoding, units: sms?.units, segments: sms?.segments,
                    segmentBudget: budget, overBudget: sms.flatMap { measured in budget.map { measured.segments > $0 } }))
            }
        }
        return renderings
    }

    /// Who `advisory` reaches: per language, per channel (the first reachable one in a
    /// fallback plan), and who no channel of the plan can reach. Its texts need not render.
    public func previewAudience<ID>(_ advisory: AdvisoryRecord<ID>, now: Date) async throws -> AdvisoryPreview.Audience {
        let rendered = (try? render(advisory, now: now)) ?? [:]
        let cells = try await store.audienceCells(.audience(advisory.audience))
        var parts: [String: AdvisoryPreview.Part] = [:]
        var byLanguage: [String: Int] = [:]
        var byChannel: [String: Int] = [:]
        var unreachable = 0
        var total = 0
        for cell in cells {
            total += cell.count
            byLanguage[cell.language.tag, default: 0] += cell.count
            let reaching = advisory.channelPlan.channels.filter { name in
                switch channels[name]?.addressKind {
                case .phone: cell.hasPhone
                case .email: cell.hasEmail
                case .webhook, nil: false
                }
            }
            let counted = advisory.channelPlan.mode == .fallback ? Array(reaching.prefix(1)) : reaching
            if counted.isEmpty { unreachable += cell.count }
            for channel in counted {
                byChannel[channel, default: 0] += cell.count
                let key = "\(cell.language.tag)/\(channel)"
                let renderedLanguage = channels[channel].flatMap { rendered[cell.language]?[$0.messageKind]?.language } ?? cell.language
                parts[key, default: AdvisoryPreview.Part(language: cell.language, channel: channel, renderedLanguage: renderedLanguage, count: 0)].count += cell.count
            }
        }
        return AdvisoryPreview.Audience(
            total: total, unreachable: unreachable, byLanguage: byLanguage, byChannel: byChannel,
            parts: parts.values.sorted { ($0.language.tag, $0.channel) < ($1.language.tag, $1.channel) })
    }
}
