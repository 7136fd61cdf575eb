import Foundation
import HabarApp
import HabarConsole
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import HummingbirdOTP
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// A gateway on a temporary data directory, its console module (cheap bcrypt, no delay on a
/// refusal, so the tests run fast; the defaults are 11 and one second) and a clock the test moves.
struct ConsoleRig {
    let gateway: Gateway
    let module: ConsoleModule
    let clock: TestClock
    let accounts: ConsoleAccounts

    init(idleTimeout: TimeInterval = 8 * 3600, threshold: Int = 100, channels: [ChannelConfiguration]? = nil) async throws {
        clock = TestClock(Date())
        var configuration = HabarConfiguration()
        configuration.dataDir = try Fixtures.temporaryDirectory("console").path
        configuration.messagesDir = Fixtures.messagesDirectory.path
        configuration.dispatcher.pollMilliseconds = 10
        configuration.approval.threshold = threshold
        if let channels { configuration.channels = channels }
        gateway = try await Gateway.make(configuration: configuration, logger: Logger(label: "test"), catalog: try Fixtures.catalog(), now: clock.function)
        let settings = ConsoleAccounts.Settings(idleTimeout: idleTimeout, bcryptCost: 4, failureDelay: 0)
        module = ConsoleModule(settings: settings)
        accounts = ConsoleAccounts(store: gateway.store, throttle: SignInThrottle(), settings: settings)
    }

    func account(_ name: String, _ role: Role, language: Language = .russian) async throws -> String {
        try await accounts.create(name: name, role: role, language: language, at: clock.now).password
    }

    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await buildApplication(gateway: gateway, modules: [module]).test(.router, body)
    }
}

/// A browser's view of one response: its cookies, its CSRF field.
struct Page {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: String

    init(_ response: TestResponse) {
        status = response.status
        headers = response.headers
        body = String(buffer: response.body)
    }

    /// Each `Set-Cookie` by cookie name: the whole header line.
    var setCookies: [String: String] {
        var found: [String: String] = [:]
        for field in headers where field.name == .setCookie {
            let name = String(field.value.prefix { $0 != "=" })
            found[name] = field.value
        }
        return found
    }

    func cookie(_ name: String) -> String? {
        guard let line = setCookies[name] else { return nil }
        return String(line.dropFirst(name.count + 1).prefix { $0 != ";" })
    }

    /// The value of the first `<input type="hidden" name="csrf" value="…">`.
    var csrf: String? {
        guard let range = body.range(of: "name=\"csrf\" value=\"") else { return nil }
        return String(body[range.upperBound...].prefix { $0 != "\"" })
    }
}

func form(_ fields: [String: String]) -> ByteBuffer {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let text = fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
    return ByteBuffer(string: text)
}

extension TestClientProtocol {
    func get(_ uri: String, cookies: [String: String] = [:]) async throws -> Page {
        try await execute(uri: uri, method: .get, headers: Self.cookieHeader(cookies)) { Page($0) }
    }

    func post(_ uri: String, _ fields: [String: String], cookies: [String: String] = [:]) async throws -> Page {
        var headers = Self.cookieHeader(cookies)
        headers[.contentType] = "application/x-www-form-urlencoded"
        return try await execute(uri: uri, method: .post, headers: headers, body: form(fields)) { Page($0) }
    }

    static func cookieHeader(_ cookies: [String: String]) -> HTTPFields {
        var headers = HTTPFields()
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        return headers
    }

    /// Signs in through the form; the session cookie.
    func signIn(_ name: String, _ password: String, totp: String? = nil) async throws -> String {
        let login = try await get("/console/login")
        let page = try await post(
            "/console/login", ["name": name, "password": password, "csrf": login.csrf ?? "", "totp": totp ?? ""],
            cookies: ["habar_signin": login.cookie("habar_signin") ?? ""])
        #expect(page.status == .seeOther, "signing in as \(name): \(page.status)")
        return try #require(page.cookie("habar_session"))
    }
}

@Suite("Console: sign-in, sessions, CSRF")
struct ConsoleSignInTests {
    @Test("a signed-out browser is sent to the sign-in form; the form carries a CSRF token in a strict, HttpOnly cookie")
    func signInForm() async throws {
        let rig = try await ConsoleRig()
        try await rig.test { client in
            let dashboard = try await client.get("/console/")
            #expect(dashboard.status == .seeOther)
            #expect(dashboard.headers[.location] == "/console/login")
            let login = try await client.get("/console/login")
            #expect(login.status == .ok)
            #expect(login.body.contains("<label for=\"password\">Пароль</label>"))
            #expect(!login.body.contains("role=\"alert\"") && !login.body.contains("nil"), "no error shown before a sign-in was tried")
            let csrf = try #require(login.csrf)
            #expect(csrf.count >= 40)
            let cookie = try #require(login.setCookies["habar_signin"])
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("Secure"))
            #expect(login.cookie("habar_signin") == csrf)
            let kazakh = try await client.get("/console/login?lang=kk")
            #expect(kazakh.body.contains("Құпиясөз") && kazakh.body.contains("<html lang=\"kk\">"))
        }
    }

    @Test("signing in: the session cookie is HttpOnly, SameSite=Strict, for /console; the dashboard shows who is signed in")
    func signIn() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("aigerim", .operator)
        try await rig.test { client in
            let login = try await client.get("/console/login")
            let page = try await client.post(
                "/console/login", ["name": "aigerim", "password": password, "csrf": login.csrf!], cookies: ["habar_signin": login.cookie("habar_signin")!])
            #expect(page.status == .seeOther)
            #expect(page.headers[.location] == "/console/")
            let line = try #require(page.setCookies["habar_session"])
            #expect(line.contains("HttpOnly") && line.contains("SameSite=Strict") && line.contains("Path=/console"))
            #expect(!line.contains("Secure"), "plain HTTP on loopback")
            let session = try #require(page.cookie("habar_session"))
            let dashboard = try await client.get("/console/", cookies: ["habar_session": session])
            #expect(dashboard.status == .ok)
            #expect(dashboard.body.contains("aigerim (оператор)"))
            #expect(dashboard.body.contains("Действующих сообщений сейчас нет."))
            #expect(dashboard.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'self'") == true)
        }
        // Only the cookie's hash is kept.
        let entries = try await rig.gateway.store.auditEntries(page: PageRequest()).items
        #expect(entries.contains { $0.actor == "aigerim" && $0.action == "console sign-in" && $0.status == 200 })
    }

    @Test("a sign-in without the form's CSRF token, or with another one, is refused with 403 and opens no session")
    func signInCSRF() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("aigerim", .operator)
        try await rig.test { client in
            let login = try await client.get("/console/login")
            let missing = try await client.post("/console/login", ["name": "aigerim", "password": password], cookies: ["habar_signin": login.cookie("habar_signin")!])
            #expect(missing.status == .forbidden)
            #expect(missing.cookie("habar_session") == nil)
            let other = try await client.post(
                "/console/login", ["name": "aigerim", "password": password, "csrf": String(login.csrf!.reversed())],
                cookies: ["habar_signin": login.cookie("habar_signin")!])
            #expect(other.status == .forbidden)
            let noCookie = try await client.post("/console/login", ["name": "aigerim", "password": password, "csrf": login.csrf!])
            #expect(noCookie.status == .forbidden)
        }
    }

    @Test("a wrong password or an unknown name gets the same answer, is audited, and the sixth failure within 15 minutes is refused however right")
    func wrongPasswords() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("aigerim", .operator)
        try await rig.test { client in
            for attempt in 0..<5 {
                let login = try await client.get("/console/login")
                let page = try await client.post(
                    "/console/login", ["name": attempt == 4 ? "nobody" : "aigerim", "password": "guess\(attempt)", "csrf": login.csrf!],
                    cookies: ["habar_signin": login.cookie("habar_signin")!])
                #expect(page.status == .unauthorized)
                #expect(page.body.contains("Неверное имя пользователя, пароль или код."))
                #expect(page.cookie("habar_session") == nil)
            }
            // Four failures for the name and five for the address: the address is over its limit.
            let login = try await client.get("/console/login")
            let refused = try await client.post(
                "/console/login", ["name": "aigerim", "password": password, "csrf": login.csrf!], cookies: ["habar_signin": login.cookie("habar_signin")!])
            #expect(refused.status == .tooManyRequests)
            #expect(refused.body.contains("Слишком много неудачных попыток. Повторите через 15 минут."))
            #expect(Int(refused.headers[.retryAfter] ?? "") ?? 0 > 800)
            rig.clock.advance(15 * 60 + 1)
            _ = try await client.signIn("aigerim", password)
        }
        let entries = try await rig.gateway.store.auditEntries(page: PageRequest()).items
        #expect(entries.filter { $0.action == "console sign-in" && $0.status == 401 }.count == 5)
        #expect(entries.contains { $0.action == "console sign-in" && $0.status == 429 })
    }

    @Test("signing out needs the session's CSRF token; afterwards the cookie opens nothing")
    func signOut() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("aigerim", .approver)
        try await rig.test { client in
            let session = try await client.signIn("aigerim", password)
            let dashboard = try await client.get("/console/", cookies: ["habar_session": session])
            let csrf = try #require(dashboard.csrf)
            let forged = try await client.post("/console/logout", ["csrf": "x"], cookies: ["habar_session": session])
            #expect(forged.status == .forbidden)
            #expect(try await client.get("/console/", cookies: ["habar_session": session]).status == .ok, "still signed in")
            let out = try await client.post("/console/logout", ["csrf": csrf], cookies: ["habar_session": session])
            #expect(out.status == .seeOther)
            #expect(try await client.get("/console/", cookies: ["habar_session": session]).headers[.location] == "/console/login")
        }
    }

    @Test("a session unused for the idle time ends; one in use stays")
    func idleExpiry() async throws {
        let rig = try await ConsoleRig(idleTimeout: 3600)
        let password = try await rig.account("aigerim", .viewer)
        try await rig.test { client in
            let session = try await client.signIn("aigerim", password)
            rig.clock.advance(3000)
            #expect(try await client.get("/console/", cookies: ["habar_session": session]).status == .ok)
            rig.clock.advance(3000)
            #expect(try await client.get("/console/", cookies: ["habar_session": session]).status == .ok, "used 50 minutes ago")
            rig.clock.advance(3601)
            let expired = try await client.get("/console/", cookies: ["habar_session": session])
            #expect(expired.status == .seeOther)
            #expect(expired.headers[.location] == "/console/login")
        }
    }

    @Test("the console's language is the operator's, chosen with a CSRF-checked form and remembered")
    func language() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("aigerim", .operator, language: .kazakh)
        try await rig.test { client in
            let session = try await client.signIn("aigerim", password)
            let kazakh = try await client.get("/console/", cookies: ["habar_session": session])
            #expect(kazakh.body.contains("Ахуал") && kazakh.body.contains("aigerim (оператор)"))
            let moved = try await client.post("/console/language", ["csrf": kazakh.csrf!, "language": "en"], cookies: ["habar_session": session])
            #expect(moved.status == .seeOther)
            let english = try await client.get("/console/", cookies: ["habar_session": session])
            #expect(english.body.contains("Situation") && english.body.contains("<html lang=\"en\">"))
            let forged = try await client.post("/console/language", ["csrf": "nope", "language": "ru"], cookies: ["habar_session": session])
            #expect(forged.status == .forbidden)
            #expect(try await client.get("/console/", cookies: ["habar_session": session]).body.contains("Situation"))
        }
    }

    @Test("an operator's name with markup shows as text")
    func escaping() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("<script>alert(1)</script>", .operator)
        try await rig.test { client in
            let session = try await client.signIn("<script>alert(1)</script>", password)
            let page = try await client.get("/console/", cookies: ["habar_session": session])
            #expect(!page.body.contains("<script>alert(1)</script>"))
            #expect(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        }
    }
}

@Suite("Console: exercise and live")
struct ConsoleExerciseTests {
    @Test("while an exercise is in force every page carries the exercise banner, and the exercise has its own marking; a live advisory has the live one")
    func banner() async throws {
        let rig = try await ConsoleRig()
        _ = try await rig.gateway.store.upsertCitizens([Fixtures.citizen(1), Fixtures.citizen(2)])
        var drill = Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600))
        drill.exercise = true
        let exercise = try await rig.gateway.publisher.draft(drill, now: rig.clock.now)
        _ = try await rig.gateway.publisher.publish(id: exercise.id, approver: "approver", now: rig.clock.now)
        let password = try await rig.account("aigerim", .viewer)
        try await rig.test { client in
            let session = try await client.signIn("aigerim", password)
            let page = try await client.get("/console/", cookies: ["habar_session": session])
            #expect(page.body.contains("class=\"exercise-banner\""))
            #expect(page.body.contains("Идут учения: действует 1 учебное сообщение. Это не настоящая тревога."))
            #expect(page.body.contains("class=\"card advisory exercise\" id=\"advisory-\(exercise.id)\""))
            #expect(page.body.contains("<span class=\"mode exercise\">УЧЕНИЯ</span>"))
        }
        let live = try await rig.gateway.publisher.draft(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)), now: rig.clock.now)
        _ = try await rig.gateway.publisher.publish(id: live.id, approver: "approver", now: rig.clock.now)
        _ = try await rig.gateway.publisher.cancel(id: exercise.id, notice: false, by: Actor(name: "approver"), now: rig.clock.now)
        try await rig.test { client in
            let session = try await client.signIn("aigerim", password)
            let page = try await client.get("/console/", cookies: ["habar_session": session])
            #expect(!page.body.contains("class=\"exercise-banner\""), "no exercise in force")
            #expect(page.body.contains("<span class=\"mode\">РЕАЛЬНОЕ</span>"))
        }
    }
}

@Suite("Console: account names")
struct ConsoleNameTests {
    @Test("a name is one account whatever its case, in Cyrillic too: a second is refused, and sign-in takes either case")
    func cyrillicCase() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("Дана", .operator)
        await #expect(throws: OperationError.self) { _ = try await rig.account("дана", .viewer) }
        await #expect(throws: OperationError.self) { _ = try await rig.account("ДАНА", .viewer) }
        try await rig.test { client in _ = try await client.signIn("дана", password) }
    }
}

@Suite("Console: the second factor")
struct ConsoleTOTPTests {
    @Test("with the second factor on, the password alone is refused (same answer), the app's current code lets the operator in, and the old sessions ended")
    func totp() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("aigerim", .operator)
        try await rig.test { client in
            let before = try await client.signIn("aigerim", password)
            let enabled = try await rig.accounts.enableTOTP(name: "aigerim", at: rig.clock.now)
            #expect(enabled.url.hasPrefix("otpauth://totp/aigerim?secret=") && enabled.url.contains("issuer=Habar"))
            #expect(try await client.get("/console/", cookies: ["habar_session": before]).status == .seeOther, "turning it on ends the sessions")
            for code in ["", "000000"] {
                let login = try await client.get("/console/login")
                let page = try await client.post(
                    "/console/login", ["name": "aigerim", "password": password, "totp": code, "csrf": login.csrf!],
                    cookies: ["habar_signin": login.cookie("habar_signin")!])
                #expect(page.status == .unauthorized && page.body.contains("Неверное имя пользователя, пароль или код."))
            }
            // The code an authenticator app shows at the gateway's time.
            let code = String(format: "%06d", TOTP(secret: enabled.secret).compute(date: rig.clock.now))
            _ = try await client.signIn("aigerim", password, totp: code)
        }
    }
}
