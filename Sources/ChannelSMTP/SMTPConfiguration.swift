/// The `smtp` channel's options (`channels[].options`).
public struct SMTPConfiguration: Sendable, Codable, Hashable {
    /// How the connection is protected.
    public enum Security: String, Sendable, Codable, Hashable {
        /// Plain TCP, then `STARTTLS` (required: a server that does not offer it is refused).
        case starttls
        /// TLS from the first byte (port 465, "SMTPS").
        case tls
        /// No TLS at all: only for a relay on the same host.
        case none
    }

    public var host: String
    /// Default 587 for `starttls`, 465 for `tls`, 25 for `none`.
    public var port: Int?
    public var security: Security?
    public var username: String?
    public var password: String?
    /// The envelope sender and `From` address.
    public var fromAddress: String
    /// `From` display name (any script, RFC 2047 encoded): "ҚР СІМ Дағдарыс орталығы".
    public var fromName: String?
    public var replyTo: String?
    /// The name Habar gives in EHLO (default `habar.localdomain`).
    public var heloName: String?
    /// PEM file of the certificate authorities to trust instead of the system's.
    public var caFile: String?
    /// Verify the server's certificate (default true). `false` is for test servers only.
    public var verifyCertificate: Bool?
    /// Allow AUTH over a connection without TLS (default false: the password would travel in clear).
    public var allowPlaintextAuth: Bool?
    /// Connections kept open to the server and reused (default 4).
    public var poolSize: Int?
    /// The longest wait for any one step: connect, TLS handshake, each reply (default 10 s).
    public var timeoutMilliseconds: Int?

    public init(
        host: String, port: Int? = nil, security: Security? = nil, username: String? = nil, password: String? = nil,
        fromAddress: String, fromName: String? = nil, replyTo: String? = nil, heloName: String? = nil, caFile: String? = nil,
        verifyCertificate: Bool? = nil, allowPlaintextAuth: Bool? = nil, poolSize: Int? = nil, timeoutMilliseconds: Int? = nil
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.fromAddress = fromAddress
        self.fromName = fromName
        self.replyTo = replyTo
        self.heloName = heloName
        self.caFile = caFile
        self.verifyCertificate = verifyCertificate
        self.allowPlaintextAuth = allowPlaintextAuth
        self.poolSize = poolSize
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    var securityMode: Security { security ?? .starttls }
    var portNumber: Int {
        port ?? {
            switch securityMode {
            case .starttls: 587
            case .tls: 465
            case .none: 25
            }
        }()
    }
    var timeout: Int { timeoutMilliseconds ?? 10_000 }
    var pool: Int { poolSize ?? 4 }
}
