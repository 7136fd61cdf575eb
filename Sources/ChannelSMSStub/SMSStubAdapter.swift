import Foundation
import HabarCore
import HabarMessages
import Logging
import Synchronization

/// The `sms-stub` channel: an SMS provider simulated on local files, for drills and
/// development. Each accepted message is one JSON line; delivery reports follow after a
/// delay, failing a seeded share of messages. Pending reports survive a restart: on start
/// the stub re-reads its files and reports whatever it had not reported yet.
public final class SMSStubAdapter: ChannelAdapter {
    public let name: String
    public let capabilities = ChannelCapabilities(
        messageKind: .sms, addressKind: .phone, maxSegments: nil, encodings: [.gsm7, .ucs2], deliveryReceipts: true,
        boundsItsOwnSends: true)
    public var secrets: [String] { [options.accountToken].compactMap { $0 } }

    let options: SMSStubConfiguration
    let messagesFile: URL
    let reportsFile: URL
    private let receipts: any DeliveryReceiptSink
    private let logger: Logger
    private let output: Mutex<AppendOnlyFile?>
    private let pending = Mutex<[PendingReport]>([])

    struct PendingReport: Sendable {
        var due: Date
        var deliveryId: Int64
        var step: Int
        var providerId: String
        var key: String
    }

    /// One line of the messages file.
    public struct Line: Codable, Sendable, Hashable {
        public var id: String
        public var idempotencyKey: String
        public var deliveryId: Int64
        public var step: Int
        public var to: String
        public var text: String
        public var encoding: SMSEncoding
        public var segments: Int
        public var time: Date
    }

    /// One line of the reports file.
    public struct ReportLine: Codable, Sendable, Hashable {
        public var id: String
        public var idempotencyKey: String
        public var status: String
        public var time: Date
    }

    public init(name: String, options: SMSStubConfiguration, file: URL, context: ChannelContext) {
        self.name = name
        self.options = options
        self.messagesFile = file
        self.reportsFile = URL(fileURLWithPath: file.path + ".dlr")
        self.receipts = context.receipts
        self.logger = context.logger
        self.output = Mutex(nil)
        // Read before the first send, so only what an earlier run accepted is resumed.
        resumeUnreported()
    }

    public func send(_ message: OutboundMessage) async throws(ChannelError) -> SendReceipt {
        guard case .phone(let phone) = message.address else {
            throw .permanent("sms-stub sends to phone numbers only")
        }
        if let latency = options.latencyMilliseconds, latency > 0 {
            let timeout = options.timeoutMilliseconds ?? 10_000
            do { try await Task.sleep(for: .milliseconds(min(latency, timeout))) } catch { throw .transient("send cancelled") }
            if latency > timeout { throw .transient("provider did not answer within \(timeout) ms") }
        }
        if options.rejectNumbers?.contains(phone.e164) == true {
            throw .permanent("provider refused the number \(phone.e164)")
        }
        if options.unavailableNumbers?.contains(phone.e164) == true {
            throw .transient("provider unavailable")
        }
        let measurement = message.message.sms
        let providerId = "stub-\(message.idempotencyKey)"
        let now = Date()
        let line = Line(
            id: providerId, idempotencyKey: message.idempotencyKey, deliveryId: message.deliveryId, step: message.step,
            to: phone.e164, text: message.message.text, encoding: measurement.encoding, segments: measurement.segments, time: now)
        do {
            try append(line, to: messagesFile, handle: output)
        } catch {
            throw .transient("cannot write \(messagesFile.lastPathComponent): \(error)")
        }
        // Logged like a provider request line, credential included: the channel's logger
        // redacts it (the conformance suite checks that it never reaches the output).
        logger.debug("sms-stub request", metadata: [
            "request": "stub://\(options.accountToken ?? "anonymous")@sms-stub/send?delivery=\(message.deliveryId)",
            "segments": "\(measurement.segments)",
        ])
        schedule(PendingReport(
            due: now.addingTimeInterval(Double(options.dlrDelayMilliseconds ?? 2000) / 1000),
            deliveryId: message.deliveryId, step: message.step, providerId: providerId, key: message.idempotencyKey))
        return SendReceipt(providerMessageId: providerId)
    }

    /// Emits due delivery reports until cancelled (including those an earlier run accepted
    /// but never reported, picked up when the adapter was built).
    public func run() async throws {
        let reportsOutput = Mutex<AppendOnlyFile?>(nil)
        while !Task.isCancelled {
            let now = Date()
            let due: [PendingReport] = pending.withLock { list in
                let count = list.prefix { $0.due <= now }.count
                let batch = Array(list.prefix(min(count, 2000)))
                list.removeFirst(batch.count)
                return batch
            }
            if due.isEmpty {
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            let reported = await report(due)
            for line in reported { try append(line, to: reportsFile, handle: reportsOutput) }
        }
    }

    /// Hands a batch of reports to the gateway; returns the lines to record once they are
    /// stored (none if they were not: they stay pending for the next run, as a provider's would).
    private func report(_ reports: [PendingReport]) async -> [ReportLine] {
        let now = Date()
        let receipts = reports.map { report in
            DeliveryReceipt(
                deliveryId: report.deliveryId, step: report.step, channel: name,
                status: fails(report.key) ? .failed(reason: "simulated non-delivery") : .delivered, at: now,
                providerMessageId: report.providerId)
        }
        do {
            try await self.receipts.accept(receipts)
        } catch {
            logger.debug("delivery reports not stored; kept for the next run", metadata: ["count": "\(reports.count)"])
            return []
        }
        return zip(reports, receipts).map { report, receipt in
            ReportLine(id: report.providerId, idempotencyKey: report.key, status: receipt.status == .delivered ? "delivered" : "failed", time: now)
        }
    }

    /// Whether the seeded simulation fails this message (the same key and seed always agree).
    func fails(_ key: String) -> Bool {
        let rate = options.failureRate ?? 0
        guard rate > 0 else { return false }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ (options.seed ?? 1)
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return Double(hash % 1_000_000) / 1_000_000 < rate
    }

    private func schedule(_ report: PendingReport) {
        pending.withLock { $0.append(report) }
    }

    private func resumeUnreported() {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let reported = Set(Self.lines(of: reportsFile).compactMap { try? decoder.decode(ReportLine.self, from: $0) }.map(\.idempotencyKey))
        var resumed: [PendingReport] = []
        var seen: Set<String> = []
        for data in Self.lines(of: messagesFile) {
            guard let line = try? decoder.decode(Line.self, from: data), !reported.contains(line.idempotencyKey),
                seen.insert(line.idempotencyKey).inserted
            else { continue }
            resumed.append(PendingReport(
                due: line.time.addingTimeInterval(Double(options.dlrDelayMilliseconds ?? 2000) / 1000),
                deliveryId: line.deliveryId, step: line.step, providerId: line.id, key: line.idempotencyKey))
        }
        if !resumed.isEmpty {
            logger.info("sms-stub resumes unreported messages", metadata: ["count": "\(resumed.count)"])
            pending.withLock { $0.insert(contentsOf: resumed, at: 0) }
        }
    }

    static func lines(of url: URL) -> [Data] {
        guard let data = try? Data(contentsOf: url) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).map { Data($0) }
    }

    private func append(_ line: some JSONLine, to url: URL, handle: borrowing Mutex<AppendOnlyFile?>) throws {
        var text = line.jsonLine
        text.append("\n")
        let data = Data(text.utf8)
        try handle.withLock { file in
            if file == nil { file = try AppendOnlyFile(url: url) }
            try file!.write(data)
        }
    }
}

/// A value written as one line of JSON (sorted keys, like `JSONEncoder` with `.sortedKeys`),
/// by hand: the stub writes one per message and the generic encoder dominated its cost.
protocol JSONLine {
    var jsonLine: String { get }
}

extension SMSStubAdapter.Line: JSONLine {
    var jsonLine: String {
        "{\"deliveryId\":\(deliveryId),\"encoding\":\"\(encoding.rawValue)\",\"id\":\(JSONText.quote(id)),"
            + "\"idempotencyKey\":\(JSONText.quote(idempotencyKey)),\"segments\":\(segments),\"step\":\(step),"
            + "\"text\":\(JSONText.quote(text)),\"time\":\"\(JSONText.time(time))\",\"to\":\(JSONText.quote(to))}"
    }
}

extension SMSStubAdapter.ReportLine: JSONLine {
    var jsonLine: String {
        "{\"id\":\(JSONText.quote(id)),\"idempotencyKey\":\(JSONText.quote(idempotencyKey)),\"status\":\(JSONText.quote(status)),"
            + "\"time\":\"\(JSONText.time(time))\"}"
    }
}

extension JSONText {
    /// RFC 3339 UTC to the second (`2026-03-12T08:00:00Z`). Written digit by digit: the stub
    /// stamps two lines per message, and `String(format:)` was a tenth of a dispatch's CPU.
    static func time(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20)
        func digits(_ value: Int32, _ count: Int, then separator: Character) {
            var divisor: Int32 = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = max(0, value)
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
            bytes.append(separator.asciiValue!)
        }
        digits(parts.tm_year + 1900, 4, then: "-")
        digits(parts.tm_mon + 1, 2, then: "-")
        digits(parts.tm_mday, 2, then: "T")
        digits(parts.tm_hour, 2, then: ":")
        digits(parts.tm_min, 2, then: ":")
        digits(parts.tm_sec, 2, then: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A file opened for appending; each `write` is one `write(2)` of a whole line.
struct AppendOnlyFile: ~Copyable {
    let descriptor: Int32

    init(url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        self.descriptor = fd
    }

    func write(_ data: Data) throws {
        let written = data.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard written == data.count else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    deinit { close(descriptor) }
}

// MARK: Incoming SMS, played by a drill or a newcomer

extension SMSStubAdapter: SMSGatewayCallbacks {
    /// The stub reports its own deliveries; nobody else may.
    public func deliveryReport(_ request: ProviderRequest, now: Date) throws(ProviderRequestRefusal) -> DeliveryReceipt {
        throw .init(status: 404, "the sms-stub channel reports its own deliveries")
    }

    /// An incoming SMS in the gateways' fields (`from`, `text`, optional `to`, `id`, `time`),
    /// with `key` equal to the channel's `inboundKey`.
    public func incomingMessage(_ request: ProviderRequest, now: Date) throws(ProviderRequestRefusal) -> NewInboundSMS {
        guard let expected = options.inboundKey else {
            throw .forbidden("this sms-stub channel has no inboundKey: it takes incoming SMS only from `habar sms-stub reply`")
        }
        guard let key = request.fields["key"], ConstantTime.equal(key, expected) else {
            throw .forbidden("the incoming-SMS request has no valid key")
        }
        return try request.incomingSMS(channel: name, now: now)
    }
}
