import Foundation
import Logging
import ServiceLifecycle

/// Which store a gateway runs on: `storage` in the configuration file, `HABAR_STORAGE_KIND`
/// and `HABAR_DATABASE_URL` in the environment. Each kind is a `StoreFactory` the
/// composition root registers.
public struct StorageConfiguration: Sendable, Codable, Hashable, CustomStringConvertible {
    /// `sqlite` (the embedded default, a WAL database under `dataDir`) or `postgres`.
    public var kind: String = "sqlite"
    /// Where a server store's database is (`postgres://user:password@host:5432/habar?sslmode=require`);
    /// unused by `sqlite`. It may hold a password: never log it, print `description`.
    public var url: String?
    /// The most connections one instance opens to a server store.
    public var poolSize: Int = 20

    public init(kind: String = "sqlite", url: String? = nil, poolSize: Int = 20) {
        self.kind = kind
        self.url = url
        self.poolSize = poolSize
    }

    /// The configuration with the URL's password left out.
    public var description: String {
        "storage(kind: \(kind), url: \(url.map(Self.redacting) ?? "none"), poolSize: \(poolSize))"
    }

    /// `url` with its password (between `user:` and `@`) replaced by `***`.
    public static func redacting(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else { return url }
        let credentials = url[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<credentials.index(after: colon)]) + "***" + String(url[at...])
    }
}

/// What opening a store gives the composition root.
public struct OpenedStore: Sendable {
    public var store: any HabarStore
    /// Background work the store needs while a gateway runs beside it (SQLite: writing its
    /// log back into the database); run as services of the gateway's application.
    public var services: [any Service]
    /// Held for as long as the gateway serves (SQLite: the data directory's lock, so a second
    /// `habar serve` cannot take the first one's leases); released when the last copy goes.
    public var hold: (any Sendable)?
    /// Whether this process is the store's only user while it serves (SQLite under its
    /// lock): every lease found at start is then a previous run's, taken back at once.
    public var exclusive: Bool
    /// How many write transactions are worth running at once (the gateway's group commits):
    /// 1 for a store with one writer (SQLite), more for a server with a pool of connections.
    public var writers: Int
    /// How many transactions of send outcomes and of delivery reports (the dispatcher's group
    /// commits, one statement a batch) are worth running at once.
    public var outcomeWriters: Int

    public init(
        store: any HabarStore, services: [any Service] = [], hold: (any Sendable)? = nil, exclusive: Bool = false, writers: Int = 1,
        outcomeWriters: Int = 1
    ) {
        self.store = store
        self.services = services
        self.hold = hold
        self.exclusive = exclusive
        self.writers = writers
        self.outcomeWriters = outcomeWriters
    }
}

/// How to reach one store kind's data from a configuration: where its files are (`dataDir`),
/// and the storage section (a server store's URL and pool size).
public struct StoreLocation: Sendable {
    public var dataDirectory: URL
    public var storage: StorageConfiguration
    public init(dataDirectory: URL, storage: StorageConfiguration = StorageConfiguration()) {
        self.dataDirectory = dataDirectory
        self.storage = storage
    }
}

/// One store kind. `open` creates or upgrades the schema; `serving` asks also for what a
/// running gateway needs (its lock, its background services), which `migrate` and the
/// operator commands do without.
public protocol StoreFactory: Sendable {
    /// The `storage.kind` that names it.
    var kind: String { get }
    func open(_ location: StoreLocation, serving: Bool, logger: Logger) async throws -> OpenedStore
}

/// The store kinds a build knows, by name.
public struct StoreRegistry: Sendable {
    public let factories: [String: any StoreFactory]

    public init(_ factories: [any StoreFactory]) {
        self.factories = Dictionary(factories.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public var kinds: [String] { factories.keys.sorted() }

    /// Opens the configured kind; an unknown kind names the known ones.
    public func open(_ location: StoreLocation, serving: Bool, logger: Logger) async throws -> OpenedStore {
        let kind = location.storage.kind
        guard let factory = factories[kind] else {
            throw ConfigurationError(keyPath: "storage.kind", reason: "'\(kind)' is not a store this build has (known: \(kinds.joined(separator: ", ")))")
        }
        return try await factory.open(location, serving: serving, logger: logger)
    }
}
