import ArgumentParser
import Foundation
import HabarCore
import HabarHTTP
import HabarMessages

/// `habar advisory send`: broadcast from the command line.
struct AdvisoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "advisory", abstract: "Broadcast advisories.", subcommands: [Send.self])

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create and publish an advisory; prints its id.",
            discussion: """
                The audience is every citizen matching all the filters given (--country IR --tag pilgrims: pilgrims in Iran),
                or --all. A running `habar serve` on the same data directory sends it.
                Example:
                  habar advisory send --template green_corridor.opened --severity severe --country IR \\
                    --param route="Тегеран — Астара" --param borderCrossing=Астара --param meetingPoint="Посольство" \\
                    --param opensAt=2026-03-12T04:30:00Z --param closesAt=2026-03-12T14:30:00Z --param timeZone=Asia/Tehran \\
                    --param contactPhone=+982122565933 --wait
                """)

        @OptionGroup var common: CommonOptions
        @Option(help: "Catalog template, e.g. green_corridor.opened.") var template: String
        @Option(help: "green_corridor, meeting_point, checkin_request or general (default: the template's first word).") var kind: String?
        @Option(help: "extreme, severe, moderate, minor or unknown.") var severity: String = "severe"
        @Option(name: .customLong("param"), help: "Template parameter NAME=VALUE (times as RFC 3339); NAME.LANG=VALUE for one language's text (meetingPoint.kk=…); meetingPointId=N for a place.") var params: [String] = []
        @Option(help: "Audience: country code (repeatable).") var country: [String] = []
        @Option(help: "Audience: city (repeatable).") var city: [String] = []
        @Option(help: "Audience: group id (repeatable).") var group: [String] = []
        @Option(help: "Audience: agency id (repeatable).") var agency: [String] = []
        @Option(help: "Audience: tag (repeatable).") var tag: [String] = []
        @Flag(help: "A drill (CAP status Exercise): every text marked, only exercise channels.") var exercise = false
        @Flag(help: "Audience: every registered citizen.") var all = false
        @Option(help: "Channels in order, comma-separated (default: every configured channel).") var channels: String?
        @Option(help: "fallback (next channel only when one fails) or all (every channel).") var mode: String = "fallback"
        @Option(help: "Expiry from now: 30m, 12h, 2d.") var expiresIn: String = "24h"
        @Flag(help: "Print progress until every delivery is final.") var wait = false

        func run() async throws {
            let configuration = try common.load()
            let gateway = try await makeGateway(configuration)
            let now = Date()
            let advisory: NewAdvisory
            do { advisory = try makeAdvisory(gateway: gateway, now: now) } catch let failure as ValidationFailure {
                report(failure)
                throw Exit.dataError
            }
            let stored: Advisory
            do { stored = try await gateway.publisher.draft(advisory, now: now) } catch let failure as ValidationFailure {
                report(failure)
                throw Exit.dataError
            }
            // The command line is one person: the two-person rule applies to it as to anyone.
            let result: PublicationResult
            do {
                switch try await gateway.publisher.approve(
                    id: stored.id, by: Actor(name: "cli"), threshold: configuration.approval.threshold, now: now)
                {
                case .published(let published, _), .correctionPublished(let published, _, _): result = published
                case .scheduled: result = PublicationResult(queued: 0, unreachable: 0)
                }
            } catch let refusal as TwoPersonRuleRefusal {
                try await audit(gateway.store, "advisory send", target: "advisory/\(stored.id)", status: 403,
                                details: ["threshold": String(configuration.approval.threshold), "refused": "two-person rule", "author": refusal.author])
                FileHandle.standardError.write(
                    "habar: \(refusal)\nhabar: draft \(stored.id) is kept; an approver publishes it with POST /v1/advisories/\(stored.id)/approve\n")
                throw Exit.dataError
            }
            try await audit(gateway.store, "advisory send", target: "advisory/\(stored.id)", details: ["queued": String(result.queued)])
            print(stored.id)
            FileHandle.standardError.write("habar: advisory \(stored.id) queued \(result.queued) deliveries; \(result.unreachable) citizens have no address for its channels\n")
            if wait { try await follow(stored.id, gateway: gateway) }
        }

        func report(_ failure: ValidationFailure) {
            for error in failure.errors { FileHandle.standardError.write("habar: \(error)\n") }
        }

        func makeAdvisory(gateway: Gateway, now: Date) throws -> NewAdvisory {
            var v = Validator()
            let kindName = kind ?? String(template.split(separator: ".").first ?? "")
            let kind = AdvisoryKind(rawValue: kindName)
            v.check(kind != nil, "/kind", "'\(kindName)' is not one of \(AdvisoryKind.allCases.map(\.rawValue).joined(separator: ", "))")
            let severity = Severity(rawValue: self.severity)
            v.check(severity != nil, "/severity", "'\(self.severity)' is not one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
            let planMode = ChannelPlan.Mode(rawValue: mode)
            v.check(planMode != nil, "/channelPlan/mode", "'\(mode)' is not fallback or all")
            let expiry = Self.duration(expiresIn)
            v.check(expiry != nil, "/expiresAt", "'\(expiresIn)' is not a duration like 30m, 12h or 2d")
            var object: [String: JSONValue] = [:]
            for param in params {
                let parts = param.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else { v.add("/params", "'\(param)' is not NAME=VALUE"); continue }
                let nameAndLanguage = parts[0].split(separator: ".", maxSplits: 1).map(String.init)
                if parts[0] == "meetingPointLocation" {
                    let numbers = parts[1].split(separator: ",").compactMap { Double($0) }
                    guard numbers.count == 2 else { v.add("/params/meetingPointLocation", "must be LAT,LON"); continue }
                    object[parts[0]] = .object(["lat": .number(numbers[0]), "lon": .number(numbers[1])])
                } else if parts[0].hasSuffix("Id"), let id = Int64(parts[1]) {
                    object[parts[0]] = .number(Double(id))  // a place from the registry
                } else if nameAndLanguage.count == 2 {
                    // NAME.LANG=VALUE: one language's text (--param meetingPoint.kk=… --param meetingPoint.ru=…).
                    guard Language(rawValue: nameAndLanguage[1]) != nil else {
                        v.add("/params/\(nameAndLanguage[0])", "'\(nameAndLanguage[1])' is not a language (kk, ru, en)"); continue
                    }
                    var texts: [String: JSONValue] = [:]
                    if case .object(let existing)? = object[nameAndLanguage[0]] { texts = existing }
                    texts[nameAndLanguage[1]] = .string(parts[1])
                    object[nameAndLanguage[0]] = .object(texts)
                } else {
                    object[parts[0]] = .string(parts[1])
                }
            }
            let known = Set(AdvisoryParameters.CodingKeys.allCases.map(\.stringValue))
            for name in object.keys.sorted() where !known.contains(name) {
                v.add("/params/\(name)", "unknown parameter (known: \(known.sorted().joined(separator: ", ")))")
            }
            var parameters = AdvisoryParameters()
            do {
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .iso8601
                parameters = try decoder.decode(AdvisoryParameters.self, from: JSONEncoder().encode(object))
            } catch let DecodingError.dataCorrupted(context) {
                v.add("/params/\(context.codingPath.map(\.stringValue).joined(separator: "/"))", "is not an RFC 3339 time (2026-03-12T18:00:00Z)")
            } catch {
                v.add("/params", "\(error)")
            }
            try v.throwIfAny()
            let plan = channels.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
                ?? gateway.configuration.channels.map(\.name)
            let audience = Audience(
                all: all ? true : nil, countries: country.isEmpty ? nil : country, cities: city.isEmpty ? nil : city,
                groupIds: group.isEmpty ? nil : group, agencyIds: agency.isEmpty ? nil : agency, tags: tag.isEmpty ? nil : tag)
            return NewAdvisory(
                id: .unsaved, kind: kind!, severity: severity!, audience: audience, params: parameters, template: template,
                channelPlan: ChannelPlan(mode: planMode!, channels: plan), expiresAt: now.addingTimeInterval(expiry!), author: "cli",
                exercise: exercise)
        }

        static func duration(_ text: String) -> TimeInterval? {
            guard let unit = text.last, let value = Double(text.dropLast()), value > 0 else { return nil }
            switch unit {
            case "s": return value
            case "m": return value * 60
            case "h": return value * 3600
            case "d": return value * 86400
            default: return nil
            }
        }

        /// Prints counts by state once a second until nothing is pending.
        func follow(_ id: Int64, gateway: Gateway) async throws {
            let withReceipts = Set(gateway.adapters.filter { $0.value.capabilities.deliveryReceipts }.keys)
            while true {
                let counts = try await gateway.store.deliveryCounts(advisoryId: id)
                var byState: [DeliveryState: Int] = [:]
                var open = 0
                for count in counts {
                    byState[count.state, default: 0] += count.count
                    if !count.state.isFinal && !(count.state == .sent && !withReceipts.contains(count.channel)) { open += count.count }
                }
                let line = DeliveryState.allCases.compactMap { state in byState[state].map { "\(state.rawValue) \($0)" } }.joined(separator: ", ")
                FileHandle.standardError.write("habar: advisory \(id): \(line)\n")
                if open == 0 { return }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
