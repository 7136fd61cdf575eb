import Foundation
import HabarCore
import HabarMessages
import Logging
import NIOSSL

/// The `smtp` channel: e-mail through an SMTP server (submission with STARTTLS, SMTPS, or a
/// local relay), on a small pool of reused sessions.
public final class SMTPAdapter: ChannelAdapter {
    public let name: String
    public let capabilities = ChannelCapabilities(messageKind: .email, addressKind: .email, deliveryReceipts: false, boundsItsOwnSends: true)
    public var secrets: [String] { [options.password].compactMap { $0 } }

    let options: SMTPConfiguration
    let logger: Logger
    let pool: SMTPPool
    /// The domain of the sender address: the right side of every Message-ID.
    let messageIdDomain: String

    init(name: String, options: SMTPConfiguration, tls: NIOSSLContext?, logger: Logger) {
        self.name = name
        self.options = options
        self.logger = logger
        self.pool = SMTPPool(options: options, tls: tls)
        self.messageIdDomain = options.fromAddress.split(separator: "@").last.map(String.init) ?? "habar.localdomain"
    }

    /// The message for one delivery step: its Message-ID is the idempotency key, so every
    /// attempt of a step carries the same one and a receiving system can drop a repeat.
    func mime(_ message: OutboundMessage, to address: String, now: Date) -> MIMEMessage {
        MIMEMessage(
            fromAddress: options.fromAddress, fromName: options.fromName, to: address, replyTo: options.replyTo,
            subject: message.message.subject ?? "", text: message.message.text, html: message.message.html,
            messageId: "\(message.idempotencyKey)@\(messageIdDomain)", date: now,
            extraHeaders: [("X-Habar-Advisory", "\(message.advisoryId); version=\(message.advisoryVersion)")])
    }

    // Server answers, per recipient (one recipient per message):
    //   250 after the message                    → sent (SMTP has no delivery report here: final)
    //   4xx to any step (451, 452, 421 …)        → transient (greylisting, full queue, shutting down)
    //   5xx to MAIL, RCPT or the message          → permanent (unknown mailbox, refused content)
    //   5xx to EHLO, STARTTLS or AUTH             → permanent (misconfiguration: wrong password …)
    //   connect refused, timeout, connection lost mid-message, TLS failure → transient
    //   no STARTTLS offered, AUTH without TLS, a non-ASCII address without SMTPUTF8 → permanent
    public func send(_ message: OutboundMessage) async throws(HabarCore.ChannelError) -> SendReceipt {
        guard case .email(let address) = message.address else {
            throw .permanent("smtp sends to e-mail addresses, not \(message.address.kind.rawValue) addresses")
        }
        guard !address.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "<" || $0 == ">" }) else {
            throw .permanent("'\(address)' is not a usable e-mail address")
        }
        let mime = mime(message, to: address, now: Date())
        let text = mime.rendered()
        do {
            let reply = try await pool.withConnection { connection in
                try await connection.send(from: self.options.fromAddress, to: address, message: text)
            }
            logger.debug("smtp accepted", metadata: [
                "delivery": "\(message.deliveryId)", "message-id": "\(mime.messageId)", "reply": "\(reply)",
                "server": "\(options.host):\(options.portNumber)", "user": "\(options.username ?? "-")", "auth": "\(options.password ?? "-")",
            ])
            return SendReceipt(providerMessageId: mime.messageId)
        } catch let failure as SMTPFailure {
            logger.debug("smtp failed", metadata: ["delivery": "\(message.deliveryId)", "reason": "\(failure)"])
            throw Self.classify(failure)
        } catch {
            throw .transient("smtp: \(String(describing: error).prefix(200))")
        }
    }

    static func classify(_ failure: SMTPFailure) -> HabarCore.ChannelError {
        switch failure {
        case .rejected(_, let reply) where (400..<500).contains(reply.code): .transient("\(failure)")
        case .rejected: .permanent("\(failure)")
        case .timeout, .connectionLost: .transient("\(failure)")
        case .refused: .permanent("\(failure)")
        }
    }
}

/// Builds `smtp` channels.
public struct SMTPFactory: ChannelAdapterFactory {
    public let typeName = "smtp"
    public init() {}

    public func makeAdapter(
        configuration: ChannelConfiguration, keyPath: String, context: ChannelContext
    ) throws(ConfigurationError) -> any ChannelAdapter {
        let options = try configuration.decodeOptions(SMTPConfiguration.self, keyPath: keyPath)
        if options.host.isEmpty { throw ConfigurationError(keyPath: "\(keyPath).host", reason: "must not be empty") }
        if let port = options.port, !(1...65535).contains(port) { throw ConfigurationError(keyPath: "\(keyPath).port", reason: "must be 1...65535") }
        guard options.fromAddress.split(separator: "@").count == 2, options.fromAddress.allSatisfy({ !$0.isWhitespace && $0 != "<" && $0 != ">" }) else {
            throw ConfigurationError(keyPath: "\(keyPath).fromAddress", reason: "'\(options.fromAddress)' is not an e-mail address")
        }
        if (options.username == nil) != (options.password == nil) {
            throw ConfigurationError(keyPath: "\(keyPath).password", reason: "username and password go together")
        }
        if let size = options.poolSize, !(1...64).contains(size) { throw ConfigurationError(keyPath: "\(keyPath).poolSize", reason: "must be 1...64") }
        if let value = options.timeoutMilliseconds, !(50...120_000).contains(value) {
            throw ConfigurationError(keyPath: "\(keyPath).timeoutMilliseconds", reason: "must be 50...120000")
        }
        if let caFile = options.caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw ConfigurationError(keyPath: "\(keyPath).caFile", reason: "'\(caFile)' cannot be read")
        }
        let tls: NIOSSLContext?
        do { tls = options.securityMode == .none ? nil : try SMTPConnection.tlsContext(options) } catch {
            throw ConfigurationError(keyPath: "\(keyPath).caFile", reason: "TLS setup failed: \(error)")
        }
        let logger = RedactingLogHandler.wrap(context.logger, secrets: [options.password].compactMap { $0 })
        return SMTPAdapter(name: configuration.name, options: options, tls: tls, logger: logger)
    }
}
