import Foundation
import HabarCore
import HabarMessages
import HabarStoreSQLite

/// Ready-made domain values and stores for tests.
public enum Fixtures {
    /// A citizen in Iran with a Kazakh mobile number derived from `index`.
    public static func citizen(_ index: Int, language: Language = .russian, email: Bool = false, country: String = "IR") -> NewCitizen {
        NewCitizen(
            id: .unsaved, fullName: "Citizen \(index)", language: language,
            phone: PhoneNumber(String(format: "+7701%07d", index)),
            email: email ? "citizen\(index)@example.kz" : nil, country: country)
    }

    /// A published-ready green corridor advisory for everyone in `country`.
    public static func advisory(
        country: String = "IR", channels: [String] = ["sms"], mode: ChannelPlan.Mode = .fallback,
        severity: Severity = .severe, expiresAt: Date = Date().addingTimeInterval(3600), template: String = "green_corridor.opened"
    ) -> NewAdvisory {
        NewAdvisory(
            id: .unsaved, kind: .greenCorridor, severity: severity, audience: Audience(countries: [country]),
            params: AdvisoryParameters(
                route: "Тегеран — Астара", borderCrossing: "Астара", opensAt: Date(timeIntervalSince1970: 1_773_300_600),
                closesAt: Date(timeIntervalSince1970: 1_773_338_400),
                meetingPoint: "Посольство РК", contactPhone: "+982100000000", timeZone: "Asia/Tehran"),
            template: template, channelPlan: ChannelPlan(mode: mode, channels: channels), expiresAt: expiresAt, author: "operator-1")
    }

    /// A check-in request in Iran ("are you safe? reply 1 or 2, or use the link") due at `deadline`.
    public static func checkinRequest(
        deadline: Date = Date().addingTimeInterval(6 * 3600), channels: [String] = ["sms"], expiresAt: Date = Date().addingTimeInterval(24 * 3600)
    ) -> NewAdvisory {
        NewAdvisory(
            id: .unsaved, kind: .checkinRequest, severity: .severe, audience: Audience(countries: ["IR"]),
            params: AdvisoryParameters(contactPhone: "+982122565933", timeZone: "Asia/Tehran", checkinDeadline: deadline),
            template: "checkin_request.ask", channelPlan: ChannelPlan(mode: .fallback, channels: channels), expiresAt: expiresAt,
            author: "operator-1")
    }

    /// The repository's own catalogs (`messages/`), parsed once per test process: a full
    /// parallel run builds a hundred gateways, and parsing the catalogs for each was a third
    /// of the CPU in its first seconds (perf), enough to make timers fire seconds late.
    public static func catalog() throws -> MessageCatalog { try sharedCatalog.get() }

    /// Where `catalog()` comes from.
    public static let messagesDirectory = repositoryRoot.appendingPathComponent("messages")

    private static let sharedCatalog = Result { try MessageCatalog.load(directory: messagesDirectory) }

    /// The package root, found from this file's location.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A fresh directory under the system temporary directory.
    public static func temporaryDirectory(_ name: String = "habar") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The two stores storage tests run against: in memory and a WAL pool on disk.
    public static func stores() throws -> [(name: String, store: SQLiteStore)] {
        [("in-memory queue", try SQLiteStore.inMemory()), ("file pool", try SQLiteStore.open(directory: temporaryDirectory("store")))]
    }
}

extension JSONValue {
    /// An adapter's typed options as the configuration's JSON value.
    public init(encoding value: some Encodable) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

}

extension Fixtures {
    /// A free TCP port on 127.0.0.1, below the kernel's ephemeral range: a port the kernel
    /// hands out for `bind(0)` comes from the range outgoing connections also take their
    /// local ports from, so a peer started on it a moment later could find it taken by one
    /// of another test's connections (it happened: smsbox "Address already in use").
    public static func freePort() -> Int {
        let ephemeralStart = ephemeralPortRange.lowerBound
        let low = min(10_000, ephemeralStart - 1)
        for _ in 0..<1_000 {
            let candidate = Int.random(in: low..<ephemeralStart)
            if canBind(candidate) { return candidate }
        }
        return kernelChosenPort()
    }

    private static func kernelChosenPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return address
    }

    /// `net.ipv4.ip_local_port_range` (Linux's default when it cannot be read).
    static let ephemeralPortRange: ClosedRange<Int> = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let bounds = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard bounds.count == 2, bounds[0] > 1_024, bounds[0] <= bounds[1] else { return 32_768...60_999 }
        return bounds[0]...bounds[1]
    }()

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: port)
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } } == 0
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
