import ChannelSMTP
import Foundation
import HabarCore
import HabarTesting
import Testing

/// Debian's Postfix, configured by the test for loopback only: an smtpd on a free port of
/// 127.0.0.1 requiring STARTTLS with the test's certificate, one virtual domain
/// (`citizen.test`) delivering to a Maildir under a temporary directory, nothing relayed
/// anywhere else. Postfix's configuration is machine-wide: the test saves /etc/postfix's
/// main.cf and master.cf and puts them back when it stops Postfix.
final class PostfixServer: Sendable {
    let port = Fixtures.freePort()
    let directory: URL
    let certificate: TestCertificate
    private let savedMain: Data
    private let savedMaster: Data

    static func run(_ body: (PostfixServer) async throws -> Void) async throws {
        guard ExternalProcess.exists("/usr/sbin/postfix"), ExternalProcess.exists("/usr/sbin/postconf"), geteuid() == 0 else {
            if ExternalProcess.underCI {
                Issue.record("Postfix is missing or the tests do not run as root (Tests/run-all.sh installs postfix)")
            } else {
                print("⚠️  SKIPPED: the Postfix test needs Debian's postfix and root (Tests/run-all.sh installs it)")
            }
            return
        }
        let server = try await PostfixServer(certificate: try await TestCertificate.make())
        do {
            try await server.start()
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    private init(certificate: TestCertificate) async throws {
        self.certificate = certificate
        directory = try Fixtures.temporaryDirectory("postfix")
        savedMain = try Data(contentsOf: URL(fileURLWithPath: "/etc/postfix/main.cf"))
        savedMaster = try Data(contentsOf: URL(fileURLWithPath: "/etc/postfix/master.cf"))
    }

    var mailbox: URL { directory.appendingPathComponent("mail/aigul/new") }

    private func start() async throws {
        // A Postfix left running by an earlier, interrupted run would hold the queue: stop it.
        _ = try? await ExternalProcess.run("/usr/sbin/postfix", ["stop"], timeout: 60)
        let mail = directory.appendingPathComponent("mail")
        try FileManager.default.createDirectory(at: mail, withIntermediateDirectories: true)
        // Virtual delivery runs as nobody: it writes the Maildir, Postfix reads the maps.
        try FileManager.default.setAttributes([.ownerAccountID: 65534, .groupOwnerAccountID: 65534], ofItemAtPath: mail.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        try Data("aigul@citizen.test aigul/\n".utf8).write(to: directory.appendingPathComponent("vmailbox"))
        try Data("temp@citizen.test 450 4.2.0 try again later\n".utf8).write(to: directory.appendingPathComponent("access"))
        let settings = [
            "compatibility_level = 3.6", "inet_interfaces = loopback-only", "inet_protocols = ipv4", "mydestination =",
            "myhostname = habar-test.localdomain", "mynetworks = 127.0.0.0/8",
            "virtual_mailbox_domains = citizen.test", "virtual_mailbox_base = \(mail.path)",
            "virtual_mailbox_maps = texthash:\(directory.path)/vmailbox", "virtual_uid_maps = static:65534", "virtual_gid_maps = static:65534",
            "default_transport = error:nothing leaves the test", "relay_transport = error:nothing is relayed in the test",
            "smtpd_tls_cert_file = \(certificate.cert.path)", "smtpd_tls_key_file = \(certificate.key.path)",
            "smtpd_tls_security_level = encrypt", "smtpd_tls_loglevel = 1",
            "smtpd_recipient_restrictions = check_recipient_access texthash:\(directory.path)/access, permit_mynetworks, reject_unauth_destination",
            "maillog_file = /dev/stdout",
        ]
        for arguments in [["-e"] + settings, ["-M#", "smtp/inet"], ["-Me", "127.0.0.1:\(port)/inet=127.0.0.1:\(port) inet n - n - - smtpd"]] {
            let result = try await ExternalProcess.run("/usr/sbin/postconf", arguments, timeout: 60)
            guard result.status == 0 else { throw ConformanceFailure("postfix", "postconf \(arguments): \(result.stderr)") }
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/postfix")
        process.arguments = ["start-fg"]
        let logFile = directory.appendingPathComponent("postfix.log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: logFile)
        process.standardError = try FileHandle(forWritingTo: logFile)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if Fixtures.accepts(port) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ConformanceFailure("postfix", "smtpd did not listen on \(port): \(log())")
    }

    func log() -> String { (try? String(contentsOf: directory.appendingPathComponent("postfix.log"), encoding: .utf8)) ?? "" }

    private func stop() async {
        _ = try? await ExternalProcess.run("/usr/sbin/postfix", ["stop"], timeout: 60)
        try? savedMain.write(to: URL(fileURLWithPath: "/etc/postfix/main.cf"))
        try? savedMaster.write(to: URL(fileURLWithPath: "/etc/postfix/master.cf"))
    }

    func delivered() -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: mailbox, includingPropertiesForKeys: nil)) ?? []).sorted { $0.path < $1.path }
    }
}

@Suite("smtp channel against Postfix", .serialized)
struct PostfixTests {
    @Test("Postfix with STARTTLS on the test's certificate: messages arrive intact in the Maildir (pipelined), 450 is retryable and an unknown mailbox permanent")
    func throughPostfix() async throws {
        try await PostfixServer.run { postfix in
            let options = SMTPConfiguration(
                host: "127.0.0.1", port: postfix.port, security: .starttls, fromAddress: "alerts@mfa.habar.test",
                fromName: "ҚР СІМ Дағдарыс орталығы", caFile: postfix.certificate.cert.path, poolSize: 2, timeoutMilliseconds: 5000)
            let adapter = try smtpAdapter(options)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<5 { group.addTask { _ = try await adapter.send(emailMessage("pf-\(index)-0", to: "aigul@citizen.test")) } }
                try await group.waitForAll()
            }
            func outcome(_ to: String) async -> HabarCore.ChannelError? {
                do { _ = try await adapter.send(emailMessage("pf-x-\(to.prefix(4))", to: to)); return nil } catch { return error }
            }
            let later = await outcome("temp@citizen.test")
            #expect(later?.isRetryable == true && later?.reason.contains("450") == true, "\(String(describing: later))")
            let unknown = await outcome("nobody@citizen.test")
            #expect(unknown?.isRetryable == false && unknown?.reason.contains("550") == true, "\(String(describing: unknown))")

            var files: [URL] = []
            for _ in 0..<200 where files.count < 5 {
                try await Task.sleep(for: .milliseconds(50))
                files = postfix.delivered()
            }
            #expect(files.count == 5, "\(postfix.log())")
            var ids: Set<String> = []
            for file in files {
                let mail = try await parseMail(file)
                #expect(mail["subject"] as? String == advisorySubject)
                #expect(mail["fromName"] as? String == "ҚР СІМ Дағдарыс орталығы")
                #expect((mail["text"] as? String)?.hasPrefix(advisoryText) == true)
                #expect((mail["html"] as? String)?.hasPrefix(advisoryHTML) == true)
                ids.insert(mail["messageId"] as? String ?? "")
            }
            #expect(ids == Set((0..<5).map { "<pf-\($0)-0@mfa.habar.test>" }))
            #expect(!postfix.log().contains("improper command pipelining"), "\(postfix.log())")
            #expect(postfix.log().contains("TLS connection established") || postfix.log().contains("Anonymous TLS connection established"))
        }
    }
}
