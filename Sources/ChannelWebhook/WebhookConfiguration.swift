/// The `webhook` channel's options (`channels[].options`).
public struct WebhookConfiguration: Sendable, Codable, Hashable {
    /// The whole request, connect (at most 5 s of it) to the last byte read (default 10 s).
    public var timeoutMilliseconds: Int?
    /// Most bytes of a receiver's answer read (default 64 KiB); the rest is dropped.
    public var maxResponseBytes: Int?
    /// Send to link-local and cloud-metadata addresses (169.254.0.0/16, fe80::/10, …);
    /// refused by default so a subscriber URL cannot reach the host's metadata service.
    public var allowLinkLocal: Bool?
    public var userAgent: String?

    public init(
        timeoutMilliseconds: Int? = nil, maxResponseBytes: Int? = nil,
        allowLinkLocal: Bool? = nil, userAgent: String? = nil
    ) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxResponseBytes = maxResponseBytes
        self.allowLinkLocal = allowLinkLocal
        self.userAgent = userAgent
    }

    var timeout: Int { timeoutMilliseconds ?? 10_000 }
    var responseLimit: Int { maxResponseBytes ?? 65_536 }
}
