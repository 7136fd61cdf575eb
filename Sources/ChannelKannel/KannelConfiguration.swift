/// The `kannel` channel's options (`channels[].options`): one smsbox `sendsms` route.
/// Configure several `kannel` channels (primary, backup) and list them in a fallback plan.
public struct KannelConfiguration: Sendable, Codable, Hashable {
    /// smsbox's sendsms URL, e.g. `http://127.0.0.1:13013/cgi-bin/sendsms`.
    public var sendsmsURL: String
    /// A `sendsms-user` of smsbox.
    public var username: String
    public var password: String
    /// The sender shown to citizens (`from`): a short number or an alphanumeric sender id.
    public var from: String
    /// Habar's base URL as Kannel reaches it (`http://127.0.0.1:8080`). With it, every message
    /// carries a `dlr-url` to `{callbackBaseURL}/callbacks/sms/{channel}/dlr` and a delivery
    /// stays `sent` until Kannel reports; without it `sent` is final.
    public var callbackBaseURL: String?
    /// Signs the delivery-report URLs (HMAC-SHA256) and, when set, must come as `key=` on
    /// every incoming-SMS request (put it in the `sms-service` get-url). Without it the
    /// report URLs are signed with a key derived from the password and incoming SMS are
    /// taken without a key (acceptable only when the route is reachable from Kannel alone).
    public var callbackSecret: String?
    /// Kannel's `dlr-mask` (default 31: delivered, undelivered, buffered, SMSC accepted, SMSC rejected).
    public var dlrMask: Int?
    /// Kannel's `smsc` parameter: force one SMSC link of this Kannel.
    public var smsc: String?
    /// The whole request, connect (at most 5 s of it) to the last byte (default 10 s).
    public var timeoutMilliseconds: Int?

    public init(
        sendsmsURL: String, username: String, password: String, from: String, callbackBaseURL: String? = nil,
        callbackSecret: String? = nil, dlrMask: Int? = nil, smsc: String? = nil, timeoutMilliseconds: Int? = nil
    ) {
        self.sendsmsURL = sendsmsURL
        self.username = username
        self.password = password
        self.from = from
        self.callbackBaseURL = callbackBaseURL
        self.callbackSecret = callbackSecret
        self.dlrMask = dlrMask
        self.smsc = smsc
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    var timeout: Int { timeoutMilliseconds ?? 10_000 }
}
