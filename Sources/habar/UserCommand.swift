import ArgumentParser
import Foundation
import HabarConsole
import HabarCore
import HabarMessages

/// `habar user create`: a console account with a one-time password.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Manage operator console accounts.", subcommands: [Create.self, TOTPCommand.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a console account and print its one-time password on standard output (shown once, stored as a bcrypt hash).")
        @OptionGroup var common: CommonOptions
        @Option(help: "The name the operator signs in with (1 to 100 characters).") var name: String
        @Option(help: "admin, operator, approver or viewer.") var role: String
        @Option(help: "The console's language for this operator: kk, ru or en (default ru).") var language: String = "ru"

        func validate() throws {
            guard let role = Role(rawValue: role), ConsoleAccounts.roles.contains(role) else {
                throw ValidationError("--role must be one of \(ConsoleAccounts.roles.map(\.rawValue).joined(separator: ", "))")
            }
            guard Language(rawValue: language) != nil else { throw ValidationError("--language must be kk, ru or en") }
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, trimmed.count <= 100 else { throw ValidationError("--name must be 1 to 100 characters") }
        }

        func run() async throws {
            let store = try await makeStore(try common.load())
            let accounts = ConsoleAccounts(store: store, throttle: SignInThrottle())
            do {
                let (account, password) = try await accounts.create(
                    name: name, role: Role(rawValue: role)!, language: Language(rawValue: language)!, at: Date())
                try await audit(store, "user create", target: "operator/\(account.id)", details: ["role": role, "name": account.name])
                print(password)
            } catch OperationError.conflict(let why) {
                FileHandle.standardError.write("habar: \(why)\n")
                throw Exit.dataError
            }
        }
    }

    struct TOTPCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "totp",
            abstract: "Turn on the second factor of a console account: prints the otpauth:// address for the operator's authenticator app (shown once); the account's sessions end.")
        @OptionGroup var common: CommonOptions
        @Option(help: "The account's name.") var name: String

        func run() async throws {
            let store = try await makeStore(try common.load())
            let accounts = ConsoleAccounts(store: store, throttle: SignInThrottle())
            do {
                let enabled = try await accounts.enableTOTP(name: name, at: Date())
                print(enabled.url)
            } catch OperationError.notFound(let what) {
                FileHandle.standardError.write("habar: no \(what)\n")
                throw Exit.dataError
            }
        }
    }
}
