import Foundation
import Crypto

/// An SMS a citizen sent to Habar's number, as the SMS gateway handed it over: stored
/// once (the gateway's retries are recognised by `dedupeKey`) for the check-in parser.
/// (As stored; `NewInboundSMS` before it is.)
public typealias InboundSMS = InboundSMSRecord<Int64>
/// An incoming SMS on the way into the store.
public typealias NewInboundSMS = InboundSMSRecord<Unsaved>

public struct InboundSMSRecord<ID: RecordID>: Sendable, Hashable, Codable, Identifiable {
    public var id: ID
    /// The channel instance it came through.
    public var channel: String
    /// E.164 when the sender's number could be read as one, else as the gateway gave it.
    public var sender: String
    public var receiver: String?
    public var text: String
    /// When the SMSC says it was sent, if it says.
    public var sentAt: Date?
    public var receivedAt: Date
    /// The gateway's own id for the message (Kannel's `%I`), when it gives one.
    public var providerMessageId: String?
    /// The registered citizen with the sender's number, if any.
    public var citizenId: Int64?
    /// When check-in processing took it (nil: not yet).
    public var processedAt: Date?

    public init(
        id: ID, channel: String, sender: String, receiver: String?, text: String, sentAt: Date?,
        receivedAt: Date, providerMessageId: String?, citizenId: Int64? = nil, processedAt: Date? = nil
    ) {
        self.id = id
        self.channel = channel
        self.sender = sender
        self.receiver = receiver
        self.text = text
        self.sentAt = sentAt
        self.receivedAt = receivedAt
        self.providerMessageId = providerMessageId
        self.citizenId = citizenId
        self.processedAt = processedAt
    }

    /// What makes a repeat the same message: the gateway's id when it has one, else the
    /// sender, receiver, SMSC time and text.
    public var dedupeKey: String {
        if let providerMessageId, !providerMessageId.isEmpty { return "id:" + providerMessageId }
        let material = [sender, receiver ?? "", sentAt.map { String(Int64($0.timeIntervalSince1970)) } ?? "", text].joined(separator: "\u{1F}")
        return "sha256:" + SHA256.hash(data: Data(material.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// This record under the id the store gave it.
    public func stored(id: Int64) -> InboundSMS {
        InboundSMS(id: id, channel: channel, sender: sender, receiver: receiver, text: text, sentAt: sentAt, receivedAt: receivedAt, providerMessageId: providerMessageId, citizenId: citizenId, processedAt: processedAt)
    }
}

/// What storing an incoming SMS did.
public struct InboundRecord: Sendable, Hashable {
    public var id: Int64
    /// It had been stored before (a gateway retry): nothing new was recorded.
    public var duplicate: Bool
    public var citizenId: Int64?
    public init(id: Int64, duplicate: Bool, citizenId: Int64?) {
        self.id = id
        self.duplicate = duplicate
        self.citizenId = citizenId
    }
}
