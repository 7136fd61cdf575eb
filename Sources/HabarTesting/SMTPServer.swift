import Foundation
import HabarCore

/// A self-signed certificate for 127.0.0.1 made by `openssl` for this test run.
public struct TestCertificate: Sendable {
    public let cert: URL
    public let key: URL

    public static func make() async throws -> TestCertificate {
        let directory = try Fixtures.temporaryDirectory("smtp-cert")
        let cert = directory.appendingPathComponent("cert.pem"), key = directory.appendingPathComponent("key.pem")
        let made = try await ExternalProcess.run("openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key.path, "-out", cert.path,
        ], timeout: 60)
        guard made.status == 0 else { throw ConformanceFailure("certificate", made.stderr) }
        return TestCertificate(cert: cert, key: key)
    }
}

/// The aiosmtpd server of `Tests/ChannelSMTPTests/Fixtures/smtp_server.py` on a free port of
/// 127.0.0.1: TLS (STARTTLS or from the first byte) and AUTH required; see the script.
public final class SMTPServer: Sendable {
    public let port: Int
    public let directory: URL
    public let certificate: TestCertificate
    public let user = "habar-mailer"
    public let password = "pw-\(UInt32.random(in: 0...UInt32.max))"
    private let process: Process

    public static func isInstalled() async throws -> Bool {
        try await ExternalProcess.run("python3", ["-c", "import aiosmtpd"], timeout: 60).status == 0
    }

    public static func start(mode: String = "starttls") async throws -> SMTPServer {
        try await SMTPServer(mode: mode, certificate: try await TestCertificate.make())
    }

    private init(mode: String, certificate: TestCertificate) async throws {
        self.certificate = certificate
        port = Fixtures.freePort()
        directory = try Fixtures.temporaryDirectory("smtp-mail")
        let script = Fixtures.repositoryRoot.appendingPathComponent("Tests/ChannelSMTPTests/Fixtures/smtp_server.py")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, String(port), directory.path, certificate.cert.path, certificate.key.path, mode]
        process.environment = ProcessInfo.processInfo.environment.merging(["SMTP_USER": user, "SMTP_PASSWORD": password]) { $1 }
        let out = Pipe()
        process.standardOutput = out
        let log = directory.deletingLastPathComponent().appendingPathComponent("smtp-\(port).stderr")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let ready = await DedicatedThread.run { String(decoding: ExternalProcess.read(out.fileHandleForReading, until: "ready"), as: UTF8.self).contains("ready") }
        if !ready { throw ConformanceFailure("smtp server", "aiosmtpd did not start (see \(log.path))") }
    }

    public func stop() { kill(process.processIdentifier, SIGKILL) }
    deinit { stop() }

    /// The messages received so far, oldest first: their files and envelope facts.
    public func messages() -> [(eml: URL, envelope: [String: Any])] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".eml") }.compactMap { Int($0.dropLast(4)) }.sorted()
        return names.map { number in
            let json = directory.appendingPathComponent("\(number).json")
            let envelope = (try? JSONSerialization.jsonObject(with: Data(contentsOf: json))) as? [String: Any] ?? [:]
            return (directory.appendingPathComponent("\(number).eml"), envelope)
        }
    }
}
