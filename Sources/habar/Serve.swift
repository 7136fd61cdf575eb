import ArgumentParser
import Foundation
import HabarCore
import HabarConsole
import HabarHTTP
import Hummingbird

/// `habar serve`: HTTP API, dispatcher and channels in one process.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway: HTTP API, dispatcher and channels.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (default 8080).") var port: Int?

    func run() async throws {
        var configuration = try common.load()
        if let host { configuration.http.host = host }
        if let port { configuration.http.port = port }
        do { try configuration.validate() } catch {
            FileHandle.standardError.write("habar: invalid configuration: \(error)\n")
            throw Exit.dataError
        }
        // The store takes what serving needs itself (SQLite: the data directory's lock).
        let gateway = try await makeGateway(configuration, serving: true)
        if let token = try await gateway.bootstrapAdminToken() {
            FileHandle.standardError.write("""
                habar: this is a new database; the first admin token (shown once, stored only as a hash):
                \(token)

                """)
        }
        do {
            try await buildApplication(gateway: gateway, modules: [ConsoleModule()]).runService()
        } catch {
            // NIO's bind failure ("bind(descriptor:ptr:bytes:): Address already in use (errno: 98)"),
            // possibly wrapped by the service group: an unavailable resource, not an internal error.
            let text = String(describing: error)
            guard text.contains("bind(") || text.contains("Address already in use") || text.contains("Cannot assign requested address") else {
                throw error
            }
            let reason = text.contains("Address already in use") ? "the address is already in use" : text
            FileHandle.standardError.write("habar: cannot listen on \(configuration.http.host):\(configuration.http.port): \(reason)\n")
            throw Exit.unavailable
        }
        withExtendedLifetime(gateway) {}
    }
}

/// `habar migrate`: create or upgrade the database and exit (the catalogs are not read).
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the database and exit.")
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.load()
        let id = try await makeStore(configuration).installationId()
        let place = configuration.storage.url.map { "at " + StorageConfiguration.redacting($0) } ?? "under \(configuration.dataDir)"
        FileHandle.standardError.write("habar: \(configuration.storage.kind) database \(place) is up to date (installation \(id))\n")
    }
}
