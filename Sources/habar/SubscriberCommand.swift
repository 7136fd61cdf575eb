import ArgumentParser
import Foundation
import HabarCore
import HabarHTTP
import HabarMessages

/// `habar subscriber`: the partner systems that receive every advisory through the webhook
/// channels of its plan (signed per Standard Webhooks with their own secret).
struct SubscriberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscriber", abstract: "Manage webhook subscribers.",
        subcommands: [Add.self, List.self, Disable.self, Enable.self, RotateSecret.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a subscriber; prints its whsec_ signing secret on standard output (shown once).")
        @OptionGroup var common: CommonOptions
        @Option(help: "A unique name (letters, digits, '-', '_').") var name: String
        @Option(help: "The http(s) URL advisories are POSTed to.") var url: String
        @Option(help: "The language of the texts it receives: kk, ru or en.") var language: String = "ru"

        func validate() throws {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw ValidationError("--name must be letters, digits, '-' or '_'")
            }
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
                throw ValidationError("--url must be an http(s) URL")
            }
            guard Language(rawValue: language) != nil else { throw ValidationError("--language must be kk, ru or en") }
        }

        func run() async throws {
            let store = try await makeStore(try common.load())
            let secret = WebhookSecret.generate()
            let stored = try await store.insertSubscriber(
                NewSubscriber(id: .unsaved, name: name, url: url, secret: secret.text, language: Language(rawValue: language)!))
            try await audit(store, "subscriber add", target: "subscriber/\(stored.id)", details: ["name": name, "url": url])
            print(secret.text)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List subscribers (never their secrets).")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            let store = try await makeStore(try common.load())
            for subscriber in try await store.subscribers() {
                let state = subscriber.active ? "active" : "disabled \(subscriber.disabledAt.map { $0.formatted(.iso8601) } ?? ""): \(subscriber.disabledReason ?? "")"
                let secrets = subscriber.secret.split(separator: " ").count
                print("\(subscriber.name)\t\(subscriber.url)\t\(subscriber.language.tag)\t\(secrets) secret(s)\t\(state)")
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop sending to a subscriber.")
        @OptionGroup var common: CommonOptions
        @Argument var name: String

        func run() async throws { try await setActive(common, name, false) }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send to a subscriber again (after it answered 410 Gone, for example).")
        @OptionGroup var common: CommonOptions
        @Argument var name: String

        func run() async throws { try await setActive(common, name, true) }
    }

    struct RotateSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a secret rotation: a new secret is printed and payloads are signed with both until --finish.")
        @OptionGroup var common: CommonOptions
        @Argument var name: String
        @Flag(help: "End the rotation: keep only the newest secret.") var finish = false

        func run() async throws {
            let store = try await makeStore(try common.load())
            guard let current = try await store.subscribers().first(where: { $0.name == name }) else {
                throw ValidationError("no subscriber named '\(name)'")
            }
            if let agency = current.agencyId {
                throw ValidationError("'\(name)' is agency \(agency)'s webhook: its secrets rotate with POST /v1/agencies/\(agency)/rotate-secret")
            }
            let secrets = current.secret.split(separator: " ").map(String.init)
            if finish {
                _ = try await store.setSubscriberSecret(name: name, secret: secrets[0])
                try await audit(store, "subscriber rotate-secret --finish", target: "subscriber/\(current.id)", details: ["name": name])
                return
            }
            let fresh = WebhookSecret.generate()
            _ = try await store.setSubscriberSecret(name: name, secret: ([fresh.text] + secrets.prefix(1)).joined(separator: " "))
            try await audit(store, "subscriber rotate-secret", target: "subscriber/\(current.id)", details: ["name": name])
            print(fresh.text)
        }
    }

    static func setActive(_ common: CommonOptions, _ name: String, _ active: Bool) async throws {
        let store = try await makeStore(try common.load())
        guard let stored = try await store.setSubscriberActive(name: name, active: active, reason: active ? nil : "disabled by an operator", at: Date()) else {
            throw ValidationError("no subscriber named '\(name)'")
        }
        try await audit(store, active ? "subscriber enable" : "subscriber disable", target: "subscriber/\(stored.id)", details: ["name": name])
    }
}
