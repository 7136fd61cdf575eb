import Foundation
import HabarCore
import HabarTesting
import Testing

@Suite("Standard Webhooks signatures")
struct StandardWebhooksTests {
    static let secret = WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!
    static let body = Data(#"{"test": 2432232314}"#.utf8)

    @Test("the specification's own test vector")
    func specificationVector() {
        #expect(Self.secret.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Self.body)
                == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test("verification: valid, wrong secret, altered body, altered id, stale and future timestamps, several signatures while rotating")
    func verification() throws {
        let now = Date(timeIntervalSince1970: 1_614_265_330)
        let other = WebhookSecret.generate()
        let headers = StandardWebhooks.headers(id: "msg_1", timestamp: now, body: Self.body, secrets: [other, Self.secret])
        func verify(id: String = "msg_1", body: Data = Self.body, secrets: [WebhookSecret] = [Self.secret], at: Date = now) -> StandardWebhooks.Failure? {
            do {
                try StandardWebhooks.verify(
                    id: id, timestamp: headers["webhook-timestamp"], signature: headers["webhook-signature"], body: body, secrets: secrets, now: at)
                return nil
            } catch { return error }
        }
        #expect(headers["webhook-signature"]?.split(separator: " ").count == 2)
        #expect(verify() == nil)
        #expect(verify(secrets: [other]) == nil)
        #expect(verify(secrets: [WebhookSecret.generate()]) == .noMatchingSignature)
        #expect(verify(body: Data(#"{"test": 2432232315}"#.utf8)) == .noMatchingSignature)
        #expect(verify(id: "msg_2") == .noMatchingSignature)
        #expect(verify(at: now.addingTimeInterval(301)) == .staleTimestamp)
        #expect(verify(at: now.addingTimeInterval(-301)) == .futureTimestamp)
        #expect(verify(at: now.addingTimeInterval(299)) == nil)
        #expect(throws: StandardWebhooks.Failure.missingHeader("webhook-signature")) {
            try StandardWebhooks.verify(id: "x", timestamp: "1", signature: nil, body: Data(), secrets: [Self.secret], now: now)
        }
        #expect(WebhookSecret("whsec_not base64") == nil && WebhookSecret("sk_live_abc") == nil)
        #expect(!"\(Self.secret)".contains("MfKQ9r8G"))
    }

    /// Runs Python with the `standardwebhooks` reference library, if installed; `arguments`
    /// reach the script as `sys.argv[1...]`.
    func python(_ script: String, _ arguments: [String] = []) async throws -> (status: Int32, output: String)? {
        guard try await ExternalProcess.run("python3", ["-c", "import standardwebhooks"], timeout: 60).status == 0 else {
            if ExternalProcess.underCI {
                Issue.record("the standardwebhooks reference library is missing (pip install standardwebhooks; Tests/run-all.sh installs it)")
            } else {
                print("⚠️  SKIPPED: python3 -m pip install standardwebhooks to check signatures against the reference library")
            }
            return nil
        }
        let result = try await ExternalProcess.run("python3", ["-c", script] + arguments, timeout: 60)
        return (result.status, result.stdout + result.stderr)
    }

    @Test("the standardwebhooks reference library verifies what Habar signs, and Habar verifies what it signs")
    func referenceLibrary() async throws {
        let secret = WebhookSecret.generate()
        let now = Date()
        let body = Data(#"{"type":"advisory.published","data":{"title":"Открыт зелёный коридор"}}"#.utf8)
        let headers = StandardWebhooks.headers(id: "hb-1-2-0", timestamp: now, body: body, secrets: [WebhookSecret.generate(), secret])
        // The body and the headers reach Python as arguments, read as JSON there: written into
        // the script's source, JSON's escaped slash (`\/`, which a base64 signature may hold)
        // stays two characters in a Python literal, and the signature no longer matches.
        let script = """
            import json, sys
            from datetime import datetime, timezone
            from standardwebhooks.webhooks import Webhook
            wh = Webhook(sys.argv[1])
            body = sys.argv[2].encode()
            wh.verify(body, json.loads(sys.argv[3]))
            print("verified")
            print(wh.sign("msg_ref", datetime.fromtimestamp(\(Int(now.timeIntervalSince1970)), tz=timezone.utc), body.decode()))
            """
        let arguments = [secret.text, String(decoding: body, as: UTF8.self), String(decoding: try JSONSerialization.data(withJSONObject: headers), as: UTF8.self)]
        guard let result = try await python(script, arguments) else { return }
        #expect(result.status == 0, "\(result.output)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "verified")
        let theirs = try #require(lines.last)
        #expect(throws: Never.self) {
            try StandardWebhooks.verify(
                id: "msg_ref", timestamp: String(Int(now.timeIntervalSince1970)), signature: theirs, body: body, secrets: [secret], now: now)
        }
    }
}
