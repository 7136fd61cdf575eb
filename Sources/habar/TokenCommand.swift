import ArgumentParser
import Foundation
import HabarCore
import HabarHTTP

/// `habar token create`: issue a token; only the token is printed.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Manage API tokens.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a token and print it on standard output (shown once).")
        @OptionGroup var common: CommonOptions
        @Option(help: "admin, operator, approver, viewer or agency.") var role: String
        @Option(help: "Who or what the token is for.") var name: String
        @Option(help: "The agency an agency token is bound to.") var agency: String?

        func validate() throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError("--role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if role == .agency, agency == nil { throw ValidationError("an agency token needs --agency ID") }
            if role != .agency, agency != nil { throw ValidationError("--agency goes only with --role agency") }
            if name.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--name must not be empty") }
        }

        func run() async throws {
            let store = try await makeStore(try common.load())
            let (token, hash) = AccessToken.generate()
            let stored = try await store.insertToken(NewAccessToken(id: .unsaved, name: name, role: Role(rawValue: role)!, agencyId: agency, tokenHash: hash))
            try await audit(store, "token create", target: "token/\(stored.id)", details: ["role": role, "name": name])
            print(token)
        }
    }
}
