import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// One reply of an SMTP server: its code and its text lines (multi-line replies joined).
struct SMTPReply: Sendable, CustomStringConvertible {
    var code: Int
    var lines: [String]
    var description: String { "\(code) \(lines.joined(separator: " / ").prefix(300))" }
    var isPositive: Bool { (200..<400).contains(code) }
}

/// Why an SMTP exchange failed; `SMTPAdapter` maps these to retryable or permanent.
enum SMTPFailure: Error, CustomStringConvertible {
    /// The server answered a step with a negative reply.
    case rejected(step: String, reply: SMTPReply)
    /// Connect, TLS or a reply took longer than the configured timeout.
    case timeout(step: String)
    /// The connection closed or broke before the step's reply.
    case connectionLost(step: String)
    /// Something this client will not do (STARTTLS missing, AUTH without TLS, UTF-8 address
    /// without SMTPUTF8, a reply that is not SMTP).
    case refused(String)

    var description: String {
        switch self {
        case .rejected(let step, let reply): "\(step): \(reply)"
        case .timeout(let step): "\(step): no reply in time"
        case .connectionLost(let step): "\(step): connection lost"
        case .refused(let reason): reason
        }
    }
}

/// Splits the byte stream into replies: `250-first`, `250-more`, `250 last` is one reply.
final class SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply
    private var lines: [String] = []

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 4096 { throw SMTPFailure.refused("the server sent a line longer than 4096 bytes") }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex + 1
        var bytes = buffer.readBytes(length: length) ?? []
        // Without the line end ("\r\n" is one Character in Swift: trim bytes, not characters).
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard bytes.count >= 3, let code = Int(String(decoding: bytes.prefix(3), as: UTF8.self)) else {
            throw SMTPFailure.refused("the server sent a line that is not an SMTP reply")
        }
        let continued = bytes.count > 3 && bytes[3] == UInt8(ascii: "-")
        lines.append(bytes.count > 4 ? String(decoding: bytes.dropFirst(4), as: UTF8.self) : "")
        if continued { return .continue }
        context.fireChannelRead(wrapInboundOut(SMTPReply(code: code, lines: lines)))
        lines = []
        return .continue
    }
}

/// Hands each reply to the oldest waiting request, keeping a reply that came first (the
/// greeting) for the request that follows; a 421 marks the session as closing.
final class SMTPReplyHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = SMTPReply
    // `waiting` and `early` are only touched on the channel's event loop.
    private var waiting = CircularBuffer<EventLoopPromise<SMTPReply>>()
    private var early = CircularBuffer<SMTPReply>()
    /// Set on the event loop, read by the pool from any thread: hence an atomic.
    private let closingFlag = Atomic<Bool>(false)
    var closing: Bool { closingFlag.load(ordering: .acquiring) }

    func expect(_ promise: EventLoopPromise<SMTPReply>) {
        if let reply = early.popFirst() {
            promise.succeed(reply)
        } else {
            waiting.append(promise)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        if reply.code == 421 { closingFlag.store(true, ordering: .releasing) }
        if let promise = waiting.popFirst() {
            promise.succeed(reply)
        } else {
            early.append(reply)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closingFlag.store(true, ordering: .releasing)
        failAll(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    private func failAll(_ error: any Error) {
        while let promise = waiting.popFirst() { promise.fail(error) }
    }
}

/// One SMTP session: connected, greeted, `EHLO`d, TLS and AUTH done as configured. Not for
/// concurrent use: the pool lends it to one send at a time.
final class SMTPConnection: @unchecked Sendable {
    let channel: any Channel
    private let handler: SMTPReplyHandler
    private let options: SMTPConfiguration
    /// EHLO keywords in upper case (`PIPELINING`, `8BITMIME`, `SMTPUTF8`, `STARTTLS`, `AUTH`) with their parameters.
    private(set) var extensions: [String: String] = [:]
    private(set) var used = false

    private init(channel: any Channel, handler: SMTPReplyHandler, options: SMTPConfiguration) {
        self.channel = channel
        self.handler = handler
        self.options = options
    }

    var isUsable: Bool { channel.isActive && !handler.closing }

    static func tlsContext(_ options: SMTPConfiguration) throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if options.verifyCertificate == false { tls.certificateVerification = .none }
        if let caFile = options.caFile { tls.trustRoots = .file(caFile) }
        return try NIOSSLContext(configuration: tls)
    }

    /// A TLS handler for the server: SNI and name check by host name, or by the connected
    /// IP address when the configured host is one.
    static func tlsHandler(_ context: NIOSSLContext, host: String) throws -> NIOSSLClientHandler {
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        return try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : host)
    }

    /// Connects and prepares a session ready for `MAIL FROM`.
    static func open(_ options: SMTPConfiguration, tls: NIOSSLContext?) async throws -> SMTPConnection {
        let handler = SMTPReplyHandler()
        let timeout = TimeAmount.milliseconds(Int64(options.timeout))
        let implicitTLS = options.securityMode == .tls
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(timeout)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if implicitTLS, let tls { try channel.pipeline.syncOperations.addHandler(try tlsHandler(tls, host: options.host)) }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
                .connect(host: options.host, port: options.portNumber).get()
        } catch let error as ChannelError where error == .connectTimeout(timeout) {
            throw SMTPFailure.timeout(step: "connect to \(options.host):\(options.portNumber)")
        }
        let connection = SMTPConnection(channel: channel, handler: handler, options: options)
        do {
            try await connection.prepare(tls: tls)
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    private func prepare(tls: NIOSSLContext?) async throws {
        try check(try await reply(step: "greeting"), "greeting")
        try await hello()
        if options.securityMode == .starttls {
            guard extensions["STARTTLS"] != nil, let tls else {
                throw SMTPFailure.refused("the server does not offer STARTTLS (set security to \"tls\" or, for a local relay only, \"none\")")
            }
            try check(try await command("STARTTLS", step: "STARTTLS"), "STARTTLS")
            try await channel.pipeline.addHandler(try Self.tlsHandler(tls, host: options.host), position: .first).get()
            try await hello()  // RFC 3207: forget what was learnt before TLS
        }
        if let username = options.username, let password = options.password {
            try await authenticate(username: username, password: password)
        }
    }

    private func hello() async throws {
        let reply = try await command("EHLO \(options.heloName ?? "habar.localdomain")", step: "EHLO")
        try check(reply, "EHLO")
        extensions = [:]
        for line in reply.lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard let keyword = parts.first else { continue }
            extensions[keyword.uppercased()] = parts.count > 1 ? String(parts[1]) : ""
        }
    }

    /// AUTH PLAIN when offered, else LOGIN; never over a connection without TLS unless allowed.
    private func authenticate(username: String, password: String) async throws {
        if options.securityMode == .none, options.allowPlaintextAuth != true {
            throw SMTPFailure.refused("AUTH over a connection without TLS is refused (allowPlaintextAuth)")
        }
        let mechanisms = Set((extensions["AUTH"] ?? "").uppercased().split(separator: " ").map(String.init))
        func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        if mechanisms.contains("PLAIN") {
            try check(try await command("AUTH PLAIN " + base64("\0\(username)\0\(password)"), step: "AUTH PLAIN"), "AUTH PLAIN")
        } else if mechanisms.contains("LOGIN") {
            let start = try await command("AUTH LOGIN", step: "AUTH LOGIN")
            guard start.code == 334 else { throw SMTPFailure.rejected(step: "AUTH LOGIN", reply: start) }
            let user = try await command(base64(username), step: "AUTH LOGIN")
            guard user.code == 334 else { throw SMTPFailure.rejected(step: "AUTH LOGIN", reply: user) }
            try check(try await command(base64(password), step: "AUTH LOGIN"), "AUTH LOGIN")
        } else {
            throw SMTPFailure.refused("the server offers neither AUTH PLAIN nor LOGIN (offered: \(mechanisms.sorted().joined(separator: " ")))")
        }
    }

    /// One transaction: RSET when the session was used before, MAIL FROM, RCPT TO, DATA
    /// (pipelined when the server offers PIPELINING), then the message.
    func send(from: String, to: String, message: String) async throws -> SMTPReply {
        let utf8 = !(from + to).allSatisfy(\.isASCII)
        if utf8, extensions["SMTPUTF8"] == nil {
            throw SMTPFailure.refused("the address \(to) is not ASCII and the server does not offer SMTPUTF8")
        }
        var mail = "MAIL FROM:<\(from)>"
        if extensions["8BITMIME"] != nil { mail += " BODY=8BITMIME" }
        if utf8 { mail += " SMTPUTF8" }
        var steps: [(String, String)] = []
        if used { steps.append(("RSET", "RSET")) }
        used = true
        steps += [(mail, "MAIL FROM"), ("RCPT TO:<\(to)>", "RCPT TO"), ("DATA", "DATA")]
        var replies: [SMTPReply] = []
        if extensions["PIPELINING"] != nil {
            replies = try await commands(steps.map(\.0), step: "MAIL/RCPT/DATA")
        } else {
            for (line, step) in steps {
                let reply = try await command(line, step: step)
                replies.append(reply)
                if !reply.isPositive { break }
            }
        }
        for (reply, step) in zip(replies, steps) where step.1 == "DATA" ? reply.code != 354 : !reply.isPositive {
            // A server that still said 354 to a pipelined DATA waits for a message: this
            // session cannot be reused.
            if replies.last?.code == 354 { close() }
            throw SMTPFailure.rejected(step: step.1, reply: reply)
        }
        let final = try await command(nil, payload: MIMEMessage.dataPayload(message), step: "end of DATA")
        try check(final, "end of DATA")
        return final
    }

    func quit() async {
        if isUsable { _ = try? await command("QUIT", step: "QUIT") }
        close()
    }

    func close() {
        channel.close(promise: nil)
    }

    private func check(_ reply: SMTPReply, _ step: String) throws {
        guard reply.isPositive else { throw SMTPFailure.rejected(step: step, reply: reply) }
    }

    private func reply(step: String) async throws -> SMTPReply {
        try await commands([], expecting: 1, step: step)[0]
    }

    private func command(_ line: String?, payload: String? = nil, step: String) async throws -> SMTPReply {
        try await commands(line.map { [$0] } ?? [], payload: payload, expecting: 1, step: step)[0]
    }

    private func commands(_ lines: [String], step: String) async throws -> [SMTPReply] {
        try await commands(lines, expecting: lines.count, step: step)
    }

    /// Writes `lines` (each + CRLF) and `payload` in one flush and waits for `expecting`
    /// replies, each within the timeout.
    private func commands(_ lines: [String], payload: String? = nil, expecting: Int, step: String) async throws -> [SMTPReply] {
        guard channel.isActive else { throw SMTPFailure.connectionLost(step: step) }
        let loop = channel.eventLoop
        let timeout = TimeAmount.milliseconds(Int64(options.timeout))
        let futures: [EventLoopFuture<SMTPReply>] = try await loop.submit { [handler, channel] in
            let promises = (0..<expecting).map { _ in loop.makePromise(of: SMTPReply.self) }
            for promise in promises {
                handler.expect(promise)
                let timer = loop.scheduleTask(in: timeout) {
                    promise.fail(SMTPFailure.timeout(step: step))
                    channel.close(promise: nil)
                }
                promise.futureResult.whenComplete { _ in timer.cancel() }
            }
            var buffer = channel.allocator.buffer(capacity: 256 + (payload?.utf8.count ?? 0))
            for line in lines { buffer.writeString(line + "\r\n") }
            if let payload { buffer.writeString(payload) }
            if buffer.readableBytes > 0 { channel.writeAndFlush(buffer, promise: nil) }
            return promises.map(\.futureResult)
        }.get()
        var replies: [SMTPReply] = []
        for future in futures {
            do { replies.append(try await future.get()) } catch let failure as SMTPFailure {
                throw failure
            } catch {
                throw SMTPFailure.connectionLost(step: step)
            }
        }
        return replies
    }
}
