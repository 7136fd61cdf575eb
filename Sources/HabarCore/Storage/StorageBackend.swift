import Foundation
import Logging
import ServiceLifecycle

/// Which store a gateway runs on: `storage` in the configuration file, `HABAR_STORAGE_KIND`
/// in the environment. Each kind is a `StoreFactory` the composition root registers.
public struct StorageConfiguration: Sendable, Codable, Hashable {
    /// `sqlite` (the embedded default, a WAL database under `dataDir`).
    public var kind: String = "sqlite"
    public init(kind: String = "sqlite") { self.kind = kind }
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

    public init(store: any HabarStore, services: [any Service] = [], hold: (any Sendable)? = nil) {
        self.store = store
        self.services = services
        self.hold = hold
    }
}

/// How to reach one store kind's data from a configuration: where its files are (`dataDir`).
public struct StoreLocation: Sendable {
    public var dataDirectory: URL
    public init(dataDirectory: URL) { self.dataDirectory = dataDirectory }
}

/// One store kind. `open` creates or upgrades the schema; `serving` asks also for what a
/// running gateway needs (its lock, its background services), which `migrate` and the
/// operator commands do without.
public protocol StoreFactory: Sendable {
    /// The `storage.kind` that names it.
    var kind: String { get }
    func open(_ location: StoreLocation, serving: Bool, logger: Logger) throws -> OpenedStore
}

/// The store kinds a build knows, by name.
public struct StoreRegistry: Sendable {
    public let factories: [String: any StoreFactory]

    public init(_ factories: [any StoreFactory]) {
        self.factories = Dictionary(factories.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public var kinds: [String] { factories.keys.sorted() }

    /// Opens the configured kind; an unknown kind names the known ones.
    public func open(_ configuration: StorageConfiguration, at location: StoreLocation, serving: Bool, logger: Logger) throws -> OpenedStore {
        guard let factory = factories[configuration.kind] else {
            throw ConfigurationError(keyPath: "storage.kind", reason: "'\(configuration.kind)' is not a store this build has (known: \(kinds.joined(separator: ", ")))")
        }
        return try factory.open(location, serving: serving, logger: logger)
    }
}
