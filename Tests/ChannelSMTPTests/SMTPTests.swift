@testable import ChannelSMTP
import Foundation
import HabarCore
import HabarMessages
import HabarTesting
import Logging
import Synchronization
import Testing

extension SMTPServer {
    /// A running aiosmtpd, or nil (a loud skip locally, a failure under CI) without it.
    static func startForTest(mode: String = "starttls") async throws -> SMTPServer? {
        guard try await isInstalled() else {
            if ExternalProcess.underCI {
                Issue.record("python3 with aiosmtpd is missing (Tests/run-all.sh installs it)")
            } else {
                print("⚠️  SKIPPED: SMTP tests need python3 -m pip install aiosmtpd")
            }
            return nil
        }
        return try await start(mode: mode)
    }

    func options(security: SMTPConfiguration.Security = .starttls, password: String? = nil, poolSize: Int? = nil, timeout: Int = 5000) -> SMTPConfiguration {
        SMTPConfiguration(
            host: "127.0.0.1", port: port, security: security, username: user, password: password ?? self.password,
            fromAddress: "alerts@mfa.habar.test", fromName: "ҚР СІМ Дағдарыс орталығы", heloName: "habar.test",
            caFile: certificate.cert.path, poolSize: poolSize, timeoutMilliseconds: timeout)
    }
}

/// What Python's email package reads in a message file.
func parseMail(_ file: URL) async throws -> [String: Any] {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/parse_mail.py")
    let result = try await ExternalProcess.run("python3", [script.path, file.path], timeout: 60)
    guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
        throw ConformanceFailure("parse", result.stderr)
    }
    return object
}

func smtpAdapter(_ options: SMTPConfiguration, logger: Logger = Logger(label: "t")) throws -> SMTPAdapter {
    let adapter = try SMTPFactory().makeAdapter(
        configuration: ChannelConfiguration(name: "email", type: "smtp", options: try JSONValue(encoding: options)),
        keyPath: "channels[0].options",
        context: ChannelContext(logger: logger, receipts: DiscardingReceiptSink(), dataDirectory: try Fixtures.temporaryDirectory("smtp")))
    return try #require(adapter as? SMTPAdapter)
}

let advisorySubject = "ҚР СІМ: Тегеран — Астара жасыл дәлізі ашық / МИД РК: зелёный коридор Тегеран — Астара открыт"
let advisoryText = "Жасыл дәліз 12 наурыз 11:00-де ашылады.\n.Нүктеден басталатын жол.\nЗелёный коридор открыт с 11:00 12 марта."
let advisoryHTML = "<p>Жасыл дәліз <b>ашық</b>.</p><p>Зелёный коридор <b>открыт</b> — «Астара».</p>"

func emailMessage(_ key: String, to address: String) -> OutboundMessage {
    OutboundMessage(
        deliveryId: 21, step: 0, idempotencyKey: key, address: .email(address),
        message: RenderedMessage(language: .kazakh, kind: .email, subject: advisorySubject, text: advisoryText, html: advisoryHTML),
        advisoryId: 3, advisoryVersion: 1, severity: .severe, expiresAt: Date().addingTimeInterval(3600))
}

/// The conformance suite against aiosmtpd: recipients steer its answers.
struct SMTPHarness: ChannelConformanceHarness {
    let server: SMTPServer
    let silent: SilentListener
    let timeout: Duration = .milliseconds(500)
    final class Target: Sendable { let recipient = Mutex("ok@citizen.test") }
    let target = Target()

    func makeAdapter(_ scenario: ConformanceScenario, logger: Logger) async throws -> any ChannelAdapter {
        target.recipient.withLock {
            $0 = ["success": "ok@citizen.test", "permanent": "reject@citizen.test", "transient": "temp@citizen.test", "unresponsive": "ok@citizen.test"][scenario.name]!
        }
        var options = server.options(timeout: 500)
        if scenario == .unresponsive { options.port = silent.port }
        return try smtpAdapter(options, logger: logger)
    }

    func message(key: String) -> OutboundMessage { emailMessage(key, to: target.recipient.withLock { $0 }) }

    func received() async throws -> [String] {
        server.messages().compactMap { try? String(contentsOf: $0.eml, encoding: .utf8) }
    }
}

@Suite("smtp channel against aiosmtpd", .serialized)
struct SMTPTests {
    @Test("passes the channel conformance suite", arguments: ChannelConformance.cases)
    func conformance(_ name: String) async throws {
        guard let server = try await SMTPServer.startForTest() else { return }
        defer { server.stop() }
        try await ChannelConformance(harness: SMTPHarness(server: server, silent: try SilentListener())).run(name)
    }

    @Test("the message an independent MIME parser reads: exact Cyrillic subject and From name, text and HTML in UTF-8, Message-ID from the idempotency key, Date; STARTTLS and AUTH were used")
    func messageAsParsed() async throws {
        guard let server = try await SMTPServer.startForTest() else { return }
        defer { server.stop() }
        let adapter = try smtpAdapter(server.options())
        let receipt = try await adapter.send(emailMessage("inst42-7-0", to: "aigul@citizen.test"))
        #expect(receipt.providerMessageId == "inst42-7-0@mfa.habar.test")
        let stored = try #require(server.messages().first)
        #expect(stored.envelope["authenticated"] as? Bool == true && stored.envelope["tls"] as? Bool == true)
        #expect(stored.envelope["mailFrom"] as? String == "alerts@mfa.habar.test")
        // aiosmtpd offers 8BITMIME, so the body is declared as such.
        #expect(stored.envelope["mailOptions"] as? [String] == ["BODY=8BITMIME"], "\(stored.envelope)")
        #expect(stored.envelope["rcptTos"] as? [String] == ["aigul@citizen.test"])
        let mail = try await parseMail(stored.eml)
        #expect(mail["subject"] as? String == advisorySubject)
        #expect(mail["fromName"] as? String == "ҚР СІМ Дағдарыс орталығы" && mail["fromAddress"] as? String == "alerts@mfa.habar.test")
        #expect(mail["to"] as? String == "aigul@citizen.test")
        #expect(mail["messageId"] as? String == "<inst42-7-0@mfa.habar.test>")
        #expect(mail["dateValid"] as? Bool == true && mail["autoSubmitted"] as? String == "auto-generated")
        #expect(mail["contentType"] as? String == "multipart/alternative")
        #expect(mail["parts"] as? [String] == ["text/plain", "text/html"])
        #expect((mail["text"] as? String)?.replacingOccurrences(of: "\r\n", with: "\n") == advisoryText + "\n" || (mail["text"] as? String) == advisoryText, "\(mail["text"] ?? "")")
        #expect((mail["html"] as? String)?.hasPrefix(advisoryHTML) == true, "\(mail["html"] ?? "")")
        #expect(mail["charsets"] as? [String] == ["utf-8"])
        #expect((mail["longestLine"] as? Int ?? 999) <= 998 && mail["bareLF"] as? Bool == false)
        #expect((mail["defects"] as? [String])?.isEmpty == true, "\(mail["defects"] ?? "")")
        // The long subject is folded into encoded words of at most 75 characters.
        let raw = try #require(mail["rawSubject"] as? String)
        #expect(raw.components(separatedBy: "\r\n ").allSatisfy { $0.count <= 75 && $0.hasPrefix("=?UTF-8?B?") }, "\(raw)")
    }

    @Test("4xx at RCPT is retryable, 5xx permanent, a wrong password permanent, an untrusted certificate refused (verification is on by default)")
    func answersMapped() async throws {
        guard let server = try await SMTPServer.startForTest() else { return }
        defer { server.stop() }
        let adapter = try smtpAdapter(server.options())
        func outcome(_ adapter: SMTPAdapter, _ to: String) async -> HabarCore.ChannelError? {
            do { _ = try await adapter.send(emailMessage("k-\(UUID().uuidString.prefix(8))-0", to: to)); return nil } catch { return error }
        }
        let temporary = await outcome(adapter, "temp@citizen.test")
        #expect(temporary?.isRetryable == true && temporary?.reason.contains("451") == true, "\(String(describing: temporary))")
        let rejected = await outcome(adapter, "reject@citizen.test")
        #expect(rejected?.isRetryable == false && rejected?.reason.contains("550") == true, "\(String(describing: rejected))")
        #expect(await outcome(adapter, "ok@citizen.test") == nil)  // the session survives both refusals
        let badPassword = await outcome(try smtpAdapter(server.options(password: "wrong")), "ok@citizen.test")
        #expect(badPassword?.isRetryable == false && badPassword?.reason.contains("AUTH") == true, "\(String(describing: badPassword))")
        var untrusted = server.options()
        untrusted.caFile = nil
        let refused = await outcome(try smtpAdapter(untrusted), "ok@citizen.test")
        #expect(refused != nil && refused?.isRetryable == true, "\(String(describing: refused))")
        var optOut = untrusted
        optOut.verifyCertificate = false
        #expect(await outcome(try smtpAdapter(optOut), "ok@citizen.test") == nil)
        #expect(server.messages().count == 2)
    }

    @Test("a connection dropped after the message's data is retried on a fresh session; the message arrives once, with the same Message-ID")
    func droppedConnection() async throws {
        guard let server = try await SMTPServer.startForTest() else { return }
        defer { server.stop() }
        let adapter = try smtpAdapter(server.options())
        let message = emailMessage("inst-9-0", to: "drop@citizen.test")
        do {
            _ = try await adapter.send(message)
            Issue.record("the first attempt should have lost its connection")
        } catch {
            #expect(error.isRetryable, "\(error)")
        }
        _ = try await adapter.send(message)  // what the dispatcher's retry does
        let stored = server.messages()
        #expect(stored.count == 1)
        #expect(try await parseMail(try #require(stored.first?.eml))["messageId"] as? String == "<inst-9-0@mfa.habar.test>")
    }

    @Test("a server offering only AUTH LOGIN gets LOGIN")
    func authLogin() async throws {
        guard let server = try await SMTPServer.startForTest(mode: "login") else { return }
        defer { server.stop() }
        _ = try await smtpAdapter(server.options()).send(emailMessage("inst-login-0", to: "ok@citizen.test"))
        #expect(server.messages().first?.envelope["authenticated"] as? Bool == true)
        let wrong = try smtpAdapter(server.options(password: "nope"))
        await #expect(throws: HabarCore.ChannelError.self) { _ = try await wrong.send(emailMessage("inst-login-1", to: "ok@citizen.test")) }
        #expect(server.messages().count == 1)
    }

    @Test("implicit TLS (SMTPS) works; a pool of two sessions carries 30 concurrent messages, each arriving once")
    func implicitTLSAndPool() async throws {
        guard let server = try await SMTPServer.startForTest(mode: "tls") else { return }
        defer { server.stop() }
        let adapter = try smtpAdapter(server.options(security: .tls, poolSize: 2))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<30 {
                group.addTask { _ = try await adapter.send(emailMessage("inst-\(index)-0", to: "person\(index)@citizen.test")) }
            }
            try await group.waitForAll()
        }
        let stored = server.messages()
        #expect(stored.count == 30)
        #expect(Set(stored.compactMap { ($0.envelope["rcptTos"] as? [String])?.first }).count == 30)
        #expect(Set(stored.compactMap { $0.envelope["peerPort"] as? Int }).count <= 2, "sessions are reused")
        #expect(stored.allSatisfy { $0.envelope["tls"] as? Bool == true })
    }
}

@Suite("MIME message building")
struct MIMEMessageTests {
    @Test("dot-stuffing doubles a leading dot on every line and ends with the lone dot")
    func dotStuffing() {
        #expect(MIMEMessage.dataPayload("a\r\n.b\r\n..c\r\n\r\n") == "a\r\n..b\r\n...c\r\n\r\n.\r\n")
    }

    @Test("encoded words never split a character and stay within 75 characters; ASCII names with specials are quoted")
    func encodedWords() {
        let words = MIMEMessage.encodedWords(String(repeating: "Қазақстан 🇰🇿 ", count: 8)).components(separatedBy: "\r\n ")
        #expect(words.count > 1 && words.allSatisfy { $0.count <= 75 })
        let decoded = words.map { word -> String in
            let base64 = word.dropFirst("=?UTF-8?B?".count).dropLast(2)
            return String(decoding: Data(base64Encoded: String(base64))!, as: UTF8.self)
        }.joined()
        #expect(decoded == String(repeating: "Қазақстан 🇰🇿 ", count: 8))
        #expect(MIMEMessage.mailbox("MFA, Crisis Centre", "a@b.kz") == "\"MFA, Crisis Centre\" <a@b.kz>")
        #expect(MIMEMessage.mailbox(nil, "a@b.kz") == "<a@b.kz>")
    }
}
