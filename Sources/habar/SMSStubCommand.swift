import ArgumentParser
import Foundation
import HabarCore
import HabarHTTP

/// `habar sms-stub reply`: play a citizen answering by SMS on a stub channel, for drills and
/// for trying Habar with no SMS provider.
struct SMSStubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sms-stub", abstract: "Work with sms-stub channels (drills, development).", subcommands: [Reply.self])

    struct Reply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "An incoming SMS on a stub channel, read like a real reply.",
            discussion: """
                The SMS is stored as if the channel's gateway had delivered it and read at once: the citizen with that
                number gets their check-in answer, a hotline case when a person must read it, and the confirmation SMS
                (sent by a running `habar serve`, which may also be the one that reads it).
                Example:
                  habar sms-stub reply --from +77011234567 --text "Аманмын"
                """)

        @OptionGroup var common: CommonOptions
        @Option(help: "The sender's phone number (E.164, or a national form such as 8 701 123 45 67).") var from: String
        @Option(help: "The SMS text.") var text: String
        @Option(help: "The sms-stub channel it comes in on (default: the first one configured).") var channel: String?

        func validate() throws {
            guard PhoneNumber(from) != nil else { throw ValidationError("--from '\(from)' is not a phone number (E.164, e.g. +77011234567)") }
            if text.isEmpty { throw ValidationError("--text must not be empty") }
            if let problem = ControlCharacters.problem(in: text) { throw ValidationError("--text \(problem)") }
        }

        func run() async throws {
            let configuration = try common.load()
            let stubs = configuration.channels.filter { $0.type == "sms-stub" }.map(\.name)
            guard let name = channel ?? stubs.first else {
                FileHandle.standardError.write("habar: no sms-stub channel is configured\n")
                throw ExitCode(64)
            }
            guard stubs.contains(name) else {
                FileHandle.standardError.write("habar: '\(name)' is not an sms-stub channel (sms-stub channels: \(stubs.joined(separator: ", ")))\n")
                throw ExitCode(64)
            }
            let gateway = try await makeGateway(configuration)
            let now = Date()
            let record = try await gateway.store.recordInboundSMS(NewInboundSMS(
                id: .unsaved, channel: name, sender: PhoneNumber(from)!.e164, receiver: nil, text: text, sentAt: now, receivedAt: now,
                providerMessageId: "cli-\(UUID().uuidString)"))
            try await gateway.checkinProcessor.processBatch()
            let reading = ReplyParser().read(text)
            let meaning = switch reading.meaning {
            case .safe: "safe"
            case .needsHelp: "needs help"
            case .unclear: "a person reads it\(reading.urgent ? " first" : "")\(reading.reason.map { " (\($0))" } ?? "")"
            }
            if let citizen = record.citizenId {
                print("incoming SMS \(record.id) from \(PhoneNumber(from)!.e164) on \(name): citizen \(citizen), read as \(meaning)")
            } else {
                print("incoming SMS \(record.id) from \(PhoneNumber(from)!.e164) on \(name): no registered citizen has this number, so it is not answered")
            }
        }
    }
}
