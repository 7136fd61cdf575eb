import Foundation
import HabarCore
import NIOSSL
import PostgresNIO

/// Where the database is and how to reach it, from `storage.url` (or `HABAR_DATABASE_URL`):
/// `postgres://user:password@host:5432/database?sslmode=…&sslrootcert=…`, as libpq reads it.
///
/// - `sslmode`: `disable` (plain), `prefer` (the default: TLS when the server offers it,
///   unverified), `require` (TLS, unverified), `verify-ca` (TLS, the chain checked against
///   `sslrootcert`), `verify-full` (also the host name). `sslrootcert` is a PEM file of the
///   CAs to trust; without it `verify-*` use the system's.
/// - `host=/dir` in the query (or an empty host) connects over the Unix socket in `/dir`.
/// - `application_name` defaults to `habar`.
///
/// The password never appears in an error or a log line: `redactedURL` replaces it.
public struct PostgresSettings: Sendable {
    public var host: String
    public var port: Int
    public var socketDirectory: String?
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: String
    public var rootCertificate: String?
    /// Seconds a new connection may take to be made (`connect_timeout`; 10 by default).
    public var connectTimeout = 10
    public var poolSize: Int
    public var applicationName: String
    public let redactedURL: String

    static let sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

    /// Parses `url`; a problem is a `ConfigurationError` at `keyPath` that never quotes the password.
    public init(url: String, poolSize: Int = 20, keyPath: String = "storage.url") throws(ConfigurationError) {
        redactedURL = StorageConfiguration.redacting(url)
        func refuse(_ reason: String) -> ConfigurationError {
            ConfigurationError(keyPath: keyPath, reason: "\(reason) (\(StorageConfiguration.redacting(url)))")
        }
        guard let components = URLComponents(string: url) else { throw refuse("is not a URL") }
        guard components.scheme == "postgres" || components.scheme == "postgresql" else {
            throw refuse("must start with postgres:// or postgresql://")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let known: Set = ["sslmode", "sslrootcert", "host", "application_name", "connect_timeout"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw refuse("has the parameter '\(unknown)', which Habar does not know (known: \(known.sorted().joined(separator: ", ")))")
        }
        host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        port = components.port ?? 5432
        if let socket = query["host"], socket.hasPrefix("/") {
            socketDirectory = socket
        } else if let other = query["host"], !other.isEmpty {
            host = other
        }
        guard let user = components.user.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else { throw refuse("must name a user") }
        self.user = user
        password = components.password?.removingPercentEncoding
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? user : (path.removingPercentEncoding ?? path)
        sslMode = query["sslmode"] ?? "prefer"
        guard Self.sslModes.contains(sslMode) else {
            throw refuse("sslmode '\(sslMode)' is not one of \(Self.sslModes.joined(separator: ", "))")
        }
        rootCertificate = query["sslrootcert"]
        if let file = rootCertificate, !FileManager.default.isReadableFile(atPath: file) {
            throw refuse("sslrootcert '\(file)' is not a readable file")
        }
        guard (1...500).contains(poolSize) else {
            throw ConfigurationError(keyPath: "storage.poolSize", reason: "must be 1...500")
        }
        self.poolSize = poolSize
        applicationName = query["application_name"] ?? "habar"
        if let text = query["connect_timeout"] {
            guard let seconds = Int(text), seconds > 0 else { throw refuse("connect_timeout '\(text)' is not a whole number of seconds above 0") }
            connectTimeout = seconds
        }
    }

    /// From the configuration's storage section; `storage.url` is required.
    public init(_ storage: StorageConfiguration) throws(ConfigurationError) {
        guard let url = storage.url, !url.isEmpty else {
            throw ConfigurationError(keyPath: "storage.url", reason: "the postgres store needs a URL (storage.url or HABAR_DATABASE_URL)")
        }
        try self.init(url: url, poolSize: storage.poolSize)
    }

    /// TLS as `sslmode` asks: none (`disable`), or whether it is required and how the
    /// server's certificate is checked.
    var tlsPolicy: (required: Bool, configuration: TLSConfiguration)? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case "disable": return nil
        case "allow", "prefer":
            configuration.certificateVerification = .none
            return (false, configuration)
        case "require":
            configuration.certificateVerification = .none
            return (true, configuration)
        case "verify-ca":
            configuration.certificateVerification = .noHostnameVerification
        default:
            configuration.certificateVerification = .fullVerification
        }
        if let rootCertificate { configuration.trustRoots = .file(rootCertificate) }
        return (true, configuration)
    }

    var tls: PostgresClient.Configuration.TLS {
        guard let policy = tlsPolicy else { return .disable }
        return policy.required ? .require(policy.configuration) : .prefer(policy.configuration)
    }

    var clientConfiguration: PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socketDirectory {
            configuration = PostgresClient.Configuration(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            configuration = PostgresClient.Configuration(
                host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(connectTimeout)
        configuration.options.maximumConnections = poolSize
        configuration.options.minimumConnections = 0
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }

    /// One connection like the pool's (server, user, TLS, timeout): `PostgresStore.open` makes it first.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socketDirectory {
            configuration = PostgresConnection.Configuration(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            var connectionTLS = PostgresConnection.Configuration.TLS.disable
            if let policy = tlsPolicy {
                let context = try NIOSSLContext(configuration: policy.configuration)
                connectionTLS = policy.required ? .require(context) : .prefer(context)
            }
            configuration = PostgresConnection.Configuration(
                host: host, port: port, username: user, password: password, database: database, tls: connectionTLS)
        }
        configuration.options.connectTimeout = .seconds(Int64(connectTimeout))
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }
}
