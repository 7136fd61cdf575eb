import ArgumentParser
import Foundation
import HabarApp
import HabarCore
import HabarHTTP
import Logging

/// `habar`: the gateway and its operator commands. Parsing only; each subcommand hands
/// its values to the library.
@main
struct Habar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "habar",
        abstract: "Citizen notification and hotline gateway.",
        version: HabarVersion.current,
        subcommands: [Serve.self, Migrate.self, TokenCommand.self, CitizensCommand.self, AdvisoryCommand.self, SubscriberCommand.self, MessagesCommand.self, AuditCommand.self, SMSStubCommand.self, UserCommand.self, StorageCommand.self])
}

/// Options every command that touches the database shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "JSON configuration file (see deploy/habar.example.json).")
    var config: String?

    @Option(help: "Directory of the SQLite database and stub files (default ./data).")
    var dataDir: String?

    /// Defaults, then the file, then HABAR_* variables, then these flags.
    func load() throws -> HabarConfiguration {
        do {
            var configuration = try HabarConfiguration.load(file: config, environment: ProcessInfo.processInfo.environment)
            if let dataDir { configuration.dataDir = dataDir }
            try configuration.validate()
            bootstrapLogging(configuration.logLevel)
            return configuration
        } catch {
            FileHandle.standardError.write("habar: invalid configuration: \(error)\n")
            throw ExitCode(65)
        }
    }
}

/// Exit codes (sysexits): 65 bad input data, 69 unavailable peer, 70 internal error.
enum Exit {
    static let dataError = ExitCode(65)
    static let unavailable = ExitCode(69)
    static let internalError = ExitCode(70)
}

/// The whole gateway (catalogs, channels): for commands that render or send. `serving`: also
/// what `serve` alone needs (SQLite: the data directory's lock, the checkpointer).
func makeGateway(_ configuration: HabarConfiguration, serving: Bool = false) async throws -> Gateway {
    do {
        return try await Gateway.make(configuration: configuration, logger: Logger(label: "habar"), serving: serving)
    } catch let error as StartupError {
        throw exit(error)
    }
}

/// The store alone, for commands that only read or write records (no catalogs loaded).
func makeStore(_ configuration: HabarConfiguration) async throws -> any HabarStore {
    do {
        return try await openStore(configuration: configuration, logger: Logger(label: "habar")).store
    } catch {
        throw exit(error)
    }
}

private func exit(_ error: StartupError) -> ExitCode {
    FileHandle.standardError.write("habar: \(error)\n")
    return error.kind == .unavailable ? Exit.unavailable : Exit.dataError
}

/// Writes a command-line change to the audit log, as the API writes its calls: the actor is
/// `cli:<user>`, there is no token.
func audit(_ store: any OperatorStore, _ action: String, target: String?, status: Int = 0, details: [String: String] = [:]) async throws {
    _ = try await store.appendAudit(NewAuditEntry(
        id: .unsaved, at: Date(), actor: "cli:\(ProcessInfo.processInfo.userName)", actorTokenId: nil, role: nil, action: action,
        target: target, status: status, requestId: UUID().uuidString, details: details))
}

/// Logs go to standard error as text lines; standard output carries only results.
/// Called once per process, by the one command that runs.
func bootstrapLogging(_ level: String) {
    let parsed = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = parsed
        return handler
    }
}

extension FileHandle {
    func write(_ text: String) { write(Data(text.utf8)) }
}
