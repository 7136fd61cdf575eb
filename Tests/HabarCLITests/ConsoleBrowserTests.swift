import Foundation
import HabarCore
import HabarTesting
import Testing

/// The console in a real headless Chromium (Selenium, Debian's chromium and chromium-driver)
/// against a live `habar serve`: signed out → the sign-in form; a wrong password; signing in;
/// the dashboard with an advisory delivered through the stub; the language; signing out. With
/// JavaScript on and off. Screenshots go to `.build/console-screenshots/` (and the README).
@Suite("Console in a browser", .serialized)
struct ConsoleBrowserTests {
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
    }

    @Test("sign in, see the dashboard, change the language, sign out — JavaScript on and off", arguments: [true, false])
    func flow(javascript: Bool) async throws {
        guard Self.available else {
            if ExternalProcess.underCI { Issue.record("chromium and chromium-driver are missing (Tests/run-all.sh installs them)") }
            else { print("⚠️  SKIPPED: the console browser test needs /usr/bin/chromium and /usr/bin/chromedriver (Tests/run-all.sh installs them)") }
            return
        }
        let data = try Fixtures.temporaryDirectory("console-browser")
        // The stub reports each delivery 5 s after its send: long enough to watch it happen.
        let config = data.appendingPathComponent("habar.json")
        try Data(#"{"dataDir": "\#(data.path)", "channels": [{"name": "sms", "type": "sms-stub", "options": {"dlrDelayMilliseconds": 5000}}]}"#.utf8).write(to: config)
        let created = try await HabarProcess.run(["user", "create", "--name", "Айгерим", "--role", "operator", "--config", config.path])
        #expect(created.status == 0, "\(created.stderr)")
        let password = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(password.count == 16)
        // Three citizens in Iran and a notice to them, sent by the stub once the server runs.
        let csv = data.appendingPathComponent("citizens.csv")
        try Data("fullName,phone,country,language\nАйгүл,+77010000001,IR,kk\nМарат,+77010000002,IR,ru\nDana,+77010000003,IR,en\n".utf8).write(to: csv)
        #expect(try await HabarProcess.run(["citizens", "import", csv.path, "--config", config.path]).status == 0)
        let sent = try await HabarProcess.run([
            "advisory", "send", "--config", config.path, "--template", "general.notice", "--country", "IR",
            "--param", "text=Проверка связи", "--param", "contactPhone=+77172000000",
        ])
        #expect(sent.status == 0, "\(sent.stderr)")
        let port = HabarProcess.freePort()
        let server = try HabarProcess.start(["serve", "--config", config.path, "--port", "\(port)"], log: data.appendingPathComponent("serve.log"))
        defer { server.terminate() }
        let base = "http://127.0.0.1:\(port)"
        try await HabarProcess.waitForHealth(URL(string: base + "/health")!)
        let shots = Fixtures.repositoryRoot.appendingPathComponent(".build/console-screenshots")
        try FileManager.default.createDirectory(at: shots, withIntermediateDirectories: true)
        let script = Fixtures.repositoryRoot.appendingPathComponent("Tests/HabarCLITests/Browser/console_flow.py").path
        let run = try await ExternalProcess.run(
            "/usr/bin/env", ["python3", script, base, "Айгерим", password, shots.path] + (javascript ? [] : ["--no-js"]), in: Fixtures.repositoryRoot,
            timeout: 120)
        try #require(run.status == 0, "the browser run failed: \(run.stdout)\n\(run.stderr)")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect((seen["failure"] as? String) == "Неверное имя пользователя, пароль или код.")
        #expect((seen["heading"] as? String) == "Обстановка")
        #expect((seen["who"] as? String) == "Айгерим (оператор)")
        #expect((seen["kazakhHeading"] as? String) == "Ахуал")
        #expect((seen["advisories"] as? [String]) == ["advisory-1"])
        #expect((seen["delivered"] as? [String]) == ["3"], "the dashboard reached every delivery: \(seen)")
        #expect((seen["percent"] as? [String]) == ["100%"])
        if javascript {
            #expect(seen["liveUpdated"] as? Bool == true, "Server-Sent Events updated the page")
            #expect(seen["sameLoad"] as? Bool == true, "the dashboard reached 100 % without a reload")
        }
        #expect((seen["advisoryState"] as? [String]) == ["отправлено"])
        #expect(Set(seen["encodings"] as? [String] ?? []) == ["UCS-2"], "Cyrillic in every language's text (the parameter is Russian): \(seen)")
        #expect((seen["afterSignOutDashboard"] as? String)?.hasSuffix("/console/login") == true)
        let cookies = seen["cookies"] as? [[String: Any]] ?? []
        let session = cookies.first { $0["name"] as? String == "habar_session" }
        #expect(session?["httpOnly"] as? Bool == true && session?["sameSite"] as? String == "Strict", "\(cookies)")
        if javascript { #expect((seen["tabletScrollWidth"] as? Int ?? 9999) <= 768, "the sign-in page fits a 768 px tablet") }
        for name in ["console-login", "console-dashboard", "console-advisory", "console-login-tablet"] {
            let file = shots.appendingPathComponent(name + (javascript ? "" : "-nojs") + ".png")
            let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
            #expect(size > 5_000, "\(file.lastPathComponent) was saved")
        }
    }
}

@Suite("Console live events")
struct ConsoleLiveEventsTests {
    @Test("the dashboard's event stream sends progress, and habar serve still stops at once while a browser listens")
    func streamAndShutdown() async throws {
        let data = try Fixtures.temporaryDirectory("console-events")
        let created = try await HabarProcess.run(["user", "create", "--name", "wall", "--role", "viewer", "--data-dir", data.path])
        let password = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let port = HabarProcess.freePort()
        let server = try HabarProcess.start(["serve", "--data-dir", data.path, "--port", "\(port)"], log: data.appendingPathComponent("serve.log"))
        defer { if server.isRunning { server.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        try await HabarProcess.waitForHealth(URL(string: base + "/health")!)
        // Sign in with curl's cookie jar, as a browser would.
        let jar = data.appendingPathComponent("cookies").path
        let form = try await ExternalProcess.run("/usr/bin/env", ["curl", "-s", "-c", jar, base + "/console/login"], in: data, timeout: 30)
        let csrf = try #require(form.stdout.range(of: "name=\"csrf\" value=\"").map { String(form.stdout[$0.upperBound...].prefix { $0 != "\"" }) })
        let signedIn = try await ExternalProcess.run(
            "/usr/bin/env", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-b", jar, "-c", jar, "--data-urlencode", "name=wall",
                             "--data-urlencode", "password=\(password)", "--data-urlencode", "csrf=\(csrf)", base + "/console/login"], in: data, timeout: 30)
        #expect(signedIn.stdout == "303")
        let stream = data.appendingPathComponent("stream")
        let listener = try HabarProcess.start(["-s", "-N", "-b", jar, base + "/console/events"], log: stream, binary: URL(fileURLWithPath: "/usr/bin/curl"))
        defer { listener.terminate() }
        try await Task.sleep(for: .seconds(2))
        let received = (try? String(contentsOf: stream, encoding: .utf8)) ?? ""
        #expect(received.contains("event: progress\ndata: []"), "\(received)")
        let asked = ContinuousClock.now
        server.terminate()
        await HabarProcess.waitForExit(server)
        #expect(ContinuousClock.now - asked < .seconds(10), "serve waited for the event stream")
    }
}
