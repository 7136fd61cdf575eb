import Foundation

/// An RFC 5322 message for one recipient: `multipart/alternative` with a text and an HTML
/// part (text only when there is no HTML), UTF-8, base64 bodies in 76-character lines,
/// RFC 2047 encoded words for non-ASCII header text. Every line ends in CRLF and is far
/// below the 998-octet limit.
struct MIMEMessage {
    var fromAddress: String
    var fromName: String?
    var to: String
    var replyTo: String?
    var subject: String
    var text: String
    var html: String?
    /// Without the angle brackets: `key@domain`.
    var messageId: String
    var date: Date
    /// Extra `X-` headers (ASCII values), in order.
    var extraHeaders: [(String, String)] = []

    /// The message as sent after DATA (before dot-stuffing).
    func rendered() -> String {
        var headers: [(String, String)] = [
            ("Date", Self.rfc5322Date(date)),
            ("From", Self.mailbox(fromName, fromAddress)),
            ("To", "<\(to)>"),
        ]
        if let replyTo { headers.append(("Reply-To", "<\(replyTo)>")) }
        headers += [
            ("Subject", Self.encodedWords(subject)),
            ("Message-ID", "<\(messageId)>"),
            ("MIME-Version", "1.0"),
            // A broadcast: auto-responders must not answer it (RFC 3834).
            ("Auto-Submitted", "auto-generated"),
        ]
        headers += extraHeaders
        var lines: [String] = []
        func part(_ type: String, _ body: String) -> [String] {
            ["Content-Type: \(type); charset=utf-8", "Content-Transfer-Encoding: base64", ""] + Self.base64Lines(body)
        }
        if let html {
            let boundary = "=_habar_" + String(messageId.unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) }.prefix(40))
            headers.append(("Content-Type", "multipart/alternative; boundary=\"\(boundary)\""))
            lines += headers.map { "\($0.0): \($0.1)" }
            lines += ["", "This is a message in MIME format (text and HTML).", "--\(boundary)"]
            lines += part("text/plain", text)
            lines.append("--\(boundary)")
            lines += part("text/html", html)
            lines.append("--\(boundary)--")
        } else {
            lines += headers.map { "\($0.0): \($0.1)" }
            lines += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", ""] + Self.base64Lines(text)
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// `Tue, 12 Mar 2026 08:00:00 +0000`.
    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: date)
    }

    static func mailbox(_ name: String?, _ address: String) -> String {
        guard let name, !name.isEmpty else { return "<\(address)>" }
        return "\(encodedWords(name, phrase: true)) <\(address)>"
    }

    /// RFC 2047 `=?UTF-8?B?...?=` words of at most 75 characters, split between characters
    /// (never inside a UTF-8 sequence) and folded onto continuation lines; plain ASCII text
    /// stays as it is (quoted when it is a display name with specials).
    static func encodedWords(_ text: String, phrase: Bool = false) -> String {
        if text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value != 0x7F }), text.utf8.count <= 900 {
            guard phrase, text.contains(where: { "()<>[]:;@\\,.\"".contains($0) }) else { return text }
            return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        // 75 - len("=?UTF-8?B?") - len("?=") = 63 base64 characters: 45 bytes at most.
        var words: [String] = []
        var chunk = Data()
        for character in text {
            let bytes = Data(String(character).utf8)
            if chunk.count + bytes.count > 45, !chunk.isEmpty {
                words.append("=?UTF-8?B?\(chunk.base64EncodedString())?=")
                chunk = Data()
            }
            chunk.append(bytes)
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(chunk.base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    static func base64Lines(_ text: String) -> [String] {
        let encoded = Data(text.utf8).base64EncodedString()
        var lines: [String] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            lines.append(String(encoded[index..<end]))
            index = end
        }
        return lines
    }

    /// The DATA payload: lines starting with `.` get another (RFC 5321 4.5.2), then the
    /// terminating `.` line.
    static func dataPayload(_ message: String) -> String {
        var out = ""
        out.reserveCapacity(message.utf8.count + 8)
        for line in message.split(separator: "\r\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix(".") { out += "." }
            out += line + "\r\n"
        }
        return out + ".\r\n"
    }
}
