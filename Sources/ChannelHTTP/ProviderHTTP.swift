import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// What the HTTP-based channels (webhook, kannel) share: one client for the process, a
/// bounded read of a provider's answer, `Retry-After`, and form encoding.
public enum ProviderHTTP {
    /// One client (one connection pool per host) for every HTTP channel of the process, living
    /// as long as it: redirects are never followed (a provider's or subscriber's URL is
    /// exact), connections are reused for a minute, and each request has its channel's own
    /// deadline.
    public static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5)))
        configuration.httpVersion = .http1Only
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// A provider's answer: its status, headers and at most the first 512 bytes of its body.
    public struct Answer: Sendable {
        public var status: Int
        public var reasonPhrase: String
        public var headers: HTTPHeaders
        public var text: String

        /// The provider's `Retry-After`, if it sent one.
        public func retryAfter(now: Date) -> Duration? {
            ProviderHTTP.retryAfter(headers.first(name: "retry-after"), now: now)
        }

        /// `404 Not Found: <first 200 characters of the body>`, for the event history.
        public var summary: String {
            "\(status) \(reasonPhrase)" + (text.isEmpty ? "" : ": \(text.prefix(200))")
        }
    }

    /// Sends `request` within `timeout` and reads at most `responseLimit` bytes of the answer;
    /// a provider cannot flood the gateway. Throws what the client throws (refused, timed out).
    public static func execute(_ request: HTTPClientRequest, timeoutMilliseconds: Int, responseLimit: Int, logger: Logger) async throws -> Answer {
        let response = try await client.execute(request, timeout: .milliseconds(Int64(timeoutMilliseconds)), logger: logger)
        var text = ""
        do {
            var collected = 0
            for try await var chunk in response.body {
                if collected < 512, let part = chunk.readString(length: min(chunk.readableBytes, 512 - collected)) { text += part }
                collected += chunk.readableBytes
                if collected > responseLimit { break }
            }
        } catch {
            // The status is what counts; a broken body after it changes nothing.
        }
        return Answer(status: Int(response.status.code), reasonPhrase: response.status.reasonPhrase, headers: response.headers, text: text)
    }

    /// `Retry-After` as seconds or an HTTP date.
    public static func retryAfter(_ value: String?, now: Date) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int(value), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .seconds(max(0, Int(date.timeIntervalSince(now).rounded(.up))))
    }

    /// An error as a short line for the event history.
    public static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }

    /// `application/x-www-form-urlencoded` / query encoding: everything but RFC 3986's
    /// unreserved characters percent-encoded as UTF-8 (so `+` is `%2B`, a space `%20`).
    public static func formEncode(_ fields: [(String, String)]) -> String {
        fields.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    public static func percentEncode(_ value: String) -> String {
        var result = ""
        result.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                result.unicodeScalars.append("%")
                result.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                result.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0F)]))
            }
        }
        return result
    }
}
