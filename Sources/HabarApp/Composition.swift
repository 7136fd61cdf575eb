import ChannelKannel
import ChannelSMSStub
import ChannelSMTP
import ChannelWebhook
import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarStorePostgres
import HabarStoreSQLite
import Logging

// The composition root: the one place that knows which stores and channel adapters this build
// has. The HTTP API, the dispatcher and the CLI see only the protocols.

extension ChannelRegistry {
    /// Every adapter type Habar ships; adding one is one line here.
    public static let standard = ChannelRegistry([
        SMSStubFactory(),
        WebhookFactory(),
        KannelFactory(),
        SMTPFactory(),
    ])
}

extension StoreRegistry {
    /// Every store kind Habar ships (`storage.kind`); each passes the store conformance suite.
    public static let standard = StoreRegistry([SQLiteStoreFactory(), PostgresStoreFactory()])
}

/// Opens the configured store without what serving needs (no lock, no background services):
/// for `migrate` and the operator commands, which never load the catalogs either.
public func openStore(configuration: HabarConfiguration, logger: Logger, stores: StoreRegistry = .standard) async throws(StartupError) -> OpenedStore {
    try await open(configuration: configuration, serving: false, logger: logger, stores: stores)
}

func open(configuration: HabarConfiguration, serving: Bool, logger: Logger, stores: StoreRegistry) async throws(StartupError) -> OpenedStore {
    let location = StoreLocation(dataDirectory: URL(fileURLWithPath: configuration.dataDir), storage: configuration.storage)
    do {
        return try await stores.open(location, serving: serving, logger: logger)
    } catch let error as ConfigurationError {
        throw StartupError(kind: .configuration, description: "configuration: \(error)")
    } catch let error as DataDirectoryLock.Held {
        throw StartupError(kind: .unavailable, description: "\(error)")
    } catch {
        let place = configuration.storage.url.map(StorageConfiguration.redacting) ?? "under \(location.dataDirectory.path)"
        throw StartupError(kind: .unavailable, description: "cannot open the \(configuration.storage.kind) database \(place): \(error)")
    }
}

extension Gateway {
    /// Opens the configured store, finds and loads the catalogs and builds the channels.
    /// `serving`: the store also takes what a running gateway needs (SQLite: the data
    /// directory's lock and its checkpointer). `catalog`: catalogs already loaded (a test
    /// process shares one instead of parsing them per gateway).
    public static func make(
        configuration: HabarConfiguration, logger: Logger, registry: ChannelRegistry = .standard, stores: StoreRegistry = .standard,
        catalog loaded: MessageCatalog? = nil, serving: Bool = false, now: @escaping @Sendable () -> Date = { Date() }
    ) async throws -> Gateway {
        let catalog: MessageCatalog
        if let loaded {
            catalog = loaded
        } else {
            let directory = try CatalogLocation.find(configured: configuration.messagesDir)
            logger.info("message catalogs", metadata: ["directory": "\(directory.path)"])
            do { catalog = try MessageCatalog.load(directory: directory) } catch {
                throw StartupError(kind: .configuration, description: "message catalogs in \(directory.path): \(error)")
            }
        }
        let opened = try await open(configuration: configuration, serving: serving, logger: logger, stores: stores)
        return try assemble(configuration: configuration, opened: opened, catalog: catalog, registry: registry, logger: logger, now: now)
    }
}

/// Where the message catalogs are when the configuration does not say.
public enum CatalogLocation {
    /// The configured directory; else the first of: `messages` next to the binary, the install
    /// prefix's `share/habar/messages` (binary in `<prefix>/bin`), `./messages`.
    public static func find(
        configured: String?, executable: URL? = currentExecutable(), workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    ) throws(StartupError) -> URL {
        if let configured { return URL(fileURLWithPath: configured) }
        let candidates = searched(executable: executable, workingDirectory: workingDirectory)
        if let found = candidates.first(where: hasCatalogs) { return found }
        throw StartupError(
            kind: .configuration,
            description: "no message catalogs found (looked in \(candidates.map(\.path).joined(separator: ", "))); set messagesDir or HABAR_MESSAGES_DIR")
    }

    /// The places looked at, in order.
    public static func searched(executable: URL?, workingDirectory: URL) -> [URL] {
        var candidates: [URL] = []
        if let binDirectory = executable?.deletingLastPathComponent() {
            candidates.append(binDirectory.appendingPathComponent("messages"))
            candidates.append(binDirectory.deletingLastPathComponent().appendingPathComponent("share/habar/messages"))
        }
        candidates.append(workingDirectory.appendingPathComponent("messages"))
        return candidates.map(\.standardizedFileURL)
    }

    /// A directory with at least one catalog file (`<language>.json`).
    static func hasCatalogs(_ directory: URL) -> Bool {
        Language.allCases.contains { FileManager.default.fileExists(atPath: directory.appendingPathComponent("\($0.rawValue).json").path) }
    }

    /// The running binary, symbolic links resolved (an installed `/usr/local/bin/habar` that
    /// links into `/opt/habar/bin` finds `/opt/habar/share/habar/messages`).
    public static func currentExecutable() -> URL? {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return URL(fileURLWithPath: path) }
        #endif
        return Bundle.main.executableURL?.resolvingSymlinksInPath()
    }
}
