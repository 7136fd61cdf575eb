import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real Kannel on 127.0.0.1: bearerbox, smsbox, a fakesmsc that receives what Kannel
/// sends (MT) and one that injects incoming SMS (MO), on free ports, with the configuration
/// in `Tests/ChannelKannelTests/Fixtures/kannel.conf`. Each test (or benchmark) starts its
/// own and stops it.
public final class KannelPeer: Sendable {
    public let directory: URL
    public let sendsmsPort: Int
    public let adminPort: Int
    public let password = "pw-\(UInt32.random(in: 0...UInt32.max))"
    public let adminPassword = "admin-\(UInt32.random(in: 0...UInt32.max))"
    private let processes = Mutex<[Process]>([])
    private let moInput = Mutex<FileHandle?>(nil)

    static let bearerbox = "/usr/sbin/bearerbox"
    static let smsbox = "/usr/sbin/smsbox"
    static let fakesmsc = "/usr/lib/kannel/test/fakesmsc"

    /// Starts Kannel whose incoming SMS go to `habarURL`'s `/inbound/sms/{channel}?key={key}`.
    public static var isInstalled: Bool { [bearerbox, smsbox, fakesmsc].allSatisfy(ExternalProcess.exists) }

    public static func start(habarURL: String = "http://127.0.0.1:9", channel: String = "sms", key: String = "k") async throws -> KannelPeer {
        // Its five ports are chosen free but bound only when Kannel starts; if one was taken
        // in between, Kannel exits and starts again on other ports.
        var attempt = 1
        while true {
            let peer = try KannelPeer()
            do {
                try await peer.launch(habarURL: habarURL, channel: channel, key: key)
                return peer
            } catch {
                let exited = peer.someProcessExited
                peer.stop()
                guard attempt < 3, exited else { throw error }
                attempt += 1
            }
        }
    }

    /// Whether bearerbox, smsbox or a fakesmsc is no longer running.
    var someProcessExited: Bool { processes.withLock { $0.contains { !$0.isRunning } } }

    private let ports: (box: Int, mt: Int, mo: Int)

    private init() throws {
        directory = try Fixtures.temporaryDirectory("kannel")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("log"), withIntermediateDirectories: true)
        var chosen = Set<Int>()
        func port() -> Int {
            while true {
                let candidate = Fixtures.freePort()
                if chosen.insert(candidate).inserted { return candidate }
            }
        }
        sendsmsPort = port()
        adminPort = port()
        ports = (port(), port(), port())
    }

    public var sendsmsURL: String { "http://127.0.0.1:\(sendsmsPort)/cgi-bin/sendsms" }

    private func launch(habarURL: String, channel: String, key: String) async throws {
        let template = try String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("Tests/ChannelKannelTests/Fixtures/kannel.conf"), encoding: .utf8)
        let values = [
            "@ADMIN_PORT@": "\(adminPort)", "@ADMIN_PASSWORD@": adminPassword, "@BOX_PORT@": "\(ports.box)", "@MT_PORT@": "\(ports.mt)",
            "@MO_PORT@": "\(ports.mo)", "@SENDSMS_PORT@": "\(sendsmsPort)", "@PASSWORD@": password, "@HABAR_URL@": habarURL,
            "@CHANNEL@": channel, "@KEY@": key,
        ]
        var configuration = template
        for (name, value) in values { configuration = configuration.replacingOccurrences(of: name, with: value) }
        let file = directory.appendingPathComponent("kannel.conf")
        try Data(configuration.utf8).write(to: file)

        try spawn(Self.bearerbox, [file.path], log: "bearerbox.out")
        try await waitUntil("bearerbox answers") { try await self.status() != nil }
        // fakesmsc and smsbox exit on "connection refused": the SMSC ports must be open first.
        try await waitUntil("bearerbox opens the fake SMSC ports") { Fixtures.accepts(self.ports.mt) && Fixtures.accepts(self.ports.mo) && Fixtures.accepts(self.ports.box) }
        try spawn(Self.fakesmsc, ["-H", "127.0.0.1", "-r", "\(ports.mt)", "-i", "0", "-m", "0", "1 2 text x"], log: "mt.out")
        let input = Pipe()
        // -i: its interactive mode otherwise takes one line a second and drops what comes between.
        try spawn(Self.fakesmsc, ["-H", "127.0.0.1", "-r", "\(ports.mo)", "-i", "0.01"], log: "mo.out", input: input)
        moInput.withLock { $0 = input.fileHandleForWriting }
        try spawn(Self.smsbox, [file.path], log: "smsbox.out")
        try await waitUntil("both SMSC links online and smsbox connected") {
            guard let status = try await self.status() else { return false }
            return status.components(separatedBy: "(online").count - 1 >= 2 && status.contains("smsbox:") && Fixtures.accepts(self.sendsmsPort)
        }
    }

    private func spawn(_ executable: String, _ arguments: [String], log: String, input: Pipe? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let output = directory.appendingPathComponent(log)
        FileManager.default.createFile(atPath: output.path, contents: nil)
        // Their own files, not the test's: an inherited stderr would keep `swift test` waiting.
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: output)
        process.standardInput = input ?? FileHandle.nullDevice
        try process.run()
        processes.withLock { $0.append(process) }
    }

    /// bearerbox's status page, or nil while it does not answer.
    public func status() async throws -> String? {
        guard let url = URL(string: "http://127.0.0.1:\(adminPort)/status.txt?password=\(adminPassword)"),
            let (data, response) = try? await URLSession.shared.data(from: url), (response as? HTTPURLResponse)?.statusCode == 200
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    private func waitUntil(_ what: String, timeout: TimeInterval = 20, _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return }
            if someProcessExited {
                throw KannelPeerError(description: "Kannel did not come up: a process exited (logs in \(directory.path))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw KannelPeerError(description: "Kannel did not come up: \(what) (logs in \(directory.path))")
    }

    /// One message as the MT fakesmsc got it, its parts joined.
    public struct MTMessage: Sendable, Hashable {
        public var from: String
        public var to: String
        /// `text` (7-bit), `ucs-2`, or `udh` (a concatenated message, reassembled here).
        public var coding: String
        public var text: String
        public var parts: Int
    }

    /// What the SMSC received, in order: `Got message N: <from to type data>` lines, the data
    /// URL-encoded (UCS-2 as UTF-16BE bytes, `+` a 0x20 byte); a long message arrives as
    /// `udh <header> data <part>` lines, joined here by its concatenation reference. Only
    /// UCS-2 texts are long enough to be split in these tests, so parts are read as UTF-16BE.
    public func mtMessages() -> [MTMessage] {
        let log = (try? String(contentsOf: directory.appendingPathComponent("mt.out"), encoding: .utf8)) ?? ""
        var messages: [MTMessage] = []
        var partial: [String: (index: Int, parts: [Int: [UInt8]], total: Int)] = [:]
        func utf16(_ bytes: [UInt8]) -> String {
            String(decoding: stride(from: 0, to: bytes.count - 1, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }, as: UTF16.self)
        }
        for line in log.split(separator: "\n") {
            guard line.contains("Got message"), let start = line.range(of: ": <"), line.hasSuffix(">") else { continue }
            let fields = line[start.upperBound..<line.index(before: line.endIndex)].split(separator: " ", maxSplits: 3).map(String.init)
            guard fields.count == 4 else { continue }
            if fields[2] == "udh" {
                let rest = fields[3].split(separator: " ").map(String.init)
                guard rest.count == 3, rest[1] == "data" else { continue }
                let header = Self.percentDecodedBytes(rest[0])
                // 8-bit reference concatenation: 05 00 03 ref total sequence.
                guard header.count == 6, header[1] == 0 else { continue }
                let key = "\(fields[1])/\(header[3])"
                if partial[key] == nil {
                    partial[key] = (messages.count, [:], Int(header[4]))
                    messages.append(MTMessage(from: fields[0], to: fields[1], coding: "udh", text: "", parts: 0))
                }
                partial[key]!.parts[Int(header[5])] = Self.percentDecodedBytes(rest[2])
                let entry = partial[key]!
                messages[entry.index].parts = entry.parts.count
                messages[entry.index].text = utf16(entry.parts.keys.sorted().flatMap { entry.parts[$0]! })
            } else {
                let bytes = Self.percentDecodedBytes(fields[3])
                let text = fields[2] == "ucs-2" ? utf16(bytes) : String(decoding: bytes, as: UTF8.self)
                messages.append(MTMessage(from: fields[0], to: fields[1], coding: fields[2], text: text, parts: 1))
            }
        }
        return messages
    }

    static func percentDecodedBytes(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                let high = iterator.next().flatMap { UInt8(String(UnicodeScalar($0)), radix: 16) } ?? 0
                let low = iterator.next().flatMap { UInt8(String(UnicodeScalar($0)), radix: 16) } ?? 0
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return bytes
    }

    /// bearerbox's access log: one `Sent SMS` line per message taken by the SMSC link.
    public func accessLog() -> String {
        (try? String(contentsOf: directory.appendingPathComponent("log/access.log"), encoding: .utf8)) ?? ""
    }

    /// smsbox's access log: each incoming SMS with the URL it was sent to.
    public func smsboxAccessLog() -> String {
        (try? String(contentsOf: directory.appendingPathComponent("log/smsbox-access.log"), encoding: .utf8)) ?? ""
    }

    /// Injects an incoming SMS through the MO fakesmsc, as UCS-2 (any script). One line per
    /// call; fakesmsc reads lines of at most 255 bytes.
    public func inject(from: String, to: String, text: String) throws {
        let utf16 = text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        let encoded = utf16.map { byte -> String in
            let scalar = Unicode.Scalar(byte)
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) { return String(scalar) }
            return String(format: "%%%02X", byte)
        }.joined()
        let line = "\(from) \(to) ucs2 \(encoded)\n"
        guard line.utf8.count <= 255 else { throw KannelPeerError(description: "an injected line must be at most 255 bytes") }
        try moInput.withLock { handle in try handle?.write(contentsOf: Data(line.utf8)) }
    }

    public func stop() {
        processes.withLock { list in
            for process in list where process.isRunning { kill(process.processIdentifier, SIGKILL) }
            list.removeAll()
        }
    }

    deinit { stop() }
}

public struct KannelPeerError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}
