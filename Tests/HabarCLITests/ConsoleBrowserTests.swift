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

/// A crisis shift in the browser (Browser/console_crisis.py): the duty officer (admin: she may
/// write and approve) composes from a registered place
/// with the SMS size following the typing, the two-person rule, an exercise kept off the live
/// channel, a second approver, the check-in link on a phone, the hotline case resolved.
@Suite("Console in a browser: a crisis shift", .serialized)
struct ConsoleCrisisBrowserTests {
    @Test("compose, refuse one's own approval, exercise only on its channel, approve as a second person, answer on a phone, resolve the case — JavaScript on and off", arguments: [true, false])
    func shift(javascript: Bool) async throws {
        guard ConsoleBrowserTests.available else {
            if ExternalProcess.underCI { Issue.record("chromium and chromium-driver are missing (Tests/run-all.sh installs them)") }
            else { print("⚠️  SKIPPED: the console browser test needs /usr/bin/chromium and /usr/bin/chromedriver (Tests/run-all.sh installs them)") }
            return
        }
        let data = try Fixtures.temporaryDirectory("console-crisis")
        let port = HabarProcess.freePort()
        let base = "http://127.0.0.1:\(port)"
        let config = data.appendingPathComponent("habar.json")
        try Data(#"""
            {"dataDir": "\#(data.path)", "publicBaseURL": "\#(base)", "approval": {"threshold": 2},
             "channels": [{"name": "sms", "type": "sms-stub", "options": {"dlrDelayMilliseconds": 1000}},
                          {"name": "sms-live", "type": "sms-stub", "exercise": false}]}
            """#.utf8).write(to: config)
        var passwords: [String: String] = [:]
        for (name, role) in [("Айгерим", "admin"), ("Мария", "approver")] {
            let created = try await HabarProcess.run(["user", "create", "--name", name, "--role", role, "--config", config.path])
            try #require(created.status == 0, "\(created.stderr)")
            passwords[name] = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let csv = data.appendingPathComponent("citizens.csv")
        try Data("fullName,phone,country,language,tags\nАйгүл Серікова,+77010000001,IR,kk,pilot\nМарат Ахметов,+77010000002,IR,ru,\nDana Smith,+77010000003,IR,en,\n".utf8).write(to: csv)
        #expect(try await HabarProcess.run(["citizens", "import", csv.path, "--config", config.path]).status == 0)
        // One citizen is asked whether she is safe; her SMS carries her check-in link.
        let deadline = ISO8601DateFormatter().string(from: Date().addingTimeInterval(86_400))
        let asked = try await HabarProcess.run([
            "advisory", "send", "--config", config.path, "--template", "checkin_request.ask", "--tag", "pilot", "--channels", "sms",
            "--param", "checkinDeadline=\(deadline)", "--param", "contactPhone=+982122565933", "--param", "timeZone=Asia/Tehran",
        ])
        try #require(asked.status == 0, "\(asked.stderr)")
        let token = try await HabarProcess.run(["token", "create", "--role", "operator", "--name", "seed", "--config", config.path])
        let server = try HabarProcess.start(["serve", "--config", config.path, "--port", "\(port)"], log: data.appendingPathComponent("serve.log"))
        defer { server.terminate() }
        try await HabarProcess.waitForHealth(URL(string: base + "/health")!)
        // The meeting point in the registry, by the API.
        let place = #"""
            {"kind": "meeting_point", "name": {"kk": "ҚР елшілігі", "ru": "Посольство РК", "en": "Embassy of Kazakhstan"},
             "address": {"kk": "Нейматолла к., 4", "ru": "ул. Нейматоллы, 4", "en": "4 Neymatollah St"},
             "location": {"lat": 35.75, "lon": 51.41}, "country": "IR"}
            """#
        let placed = try await ExternalProcess.run(
            "/usr/bin/env", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(token.stdout.trimmingCharacters(in: .whitespacesAndNewlines))",
                             "-H", "Content-Type: application/json", "--data-binary", place, base + "/v1/places"], in: data, timeout: 30)
        #expect(placed.stdout == "201", "\(placed.stdout) \(placed.stderr)")
        let smsFile = data.appendingPathComponent("sms-stub.jsonl")
        var link: String?
        for _ in 0..<100 {
            let lines = (try? String(contentsOf: smsFile, encoding: .utf8)) ?? ""
            if let range = lines.range(of: base + "/c/") {
                link = String(lines[range.lowerBound...].prefix { !$0.isWhitespace && $0 != "\"" && $0 != "\\" })
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let checkinURL = try #require(link, "the check-in request reached the stub with a link")
        let shots = Fixtures.repositoryRoot.appendingPathComponent(".build/console-screenshots")
        try FileManager.default.createDirectory(at: shots, withIntermediateDirectories: true)
        let script = Fixtures.repositoryRoot.appendingPathComponent("Tests/HabarCLITests/Browser/console_crisis.py").path
        let run = try await ExternalProcess.run(
            "/usr/bin/env", ["python3", script, base, "Айгерим", passwords["Айгерим"]!, "Мария", passwords["Мария"]!, checkinURL, shots.path]
                + (javascript ? [] : ["--no-js"]),
            in: Fixtures.repositoryRoot.appendingPathComponent("Tests/HabarCLITests/Browser"), timeout: 240)
        try #require(run.status == 0, "the browser run failed: \(run.stdout)\n\(run.stderr)")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let before = seen["before"] as? [String: Any] ?? [:]
        let after = seen["after"] as? [String: Any] ?? [:]
        #expect(before["encoding"] as? String == "GSM-7" && (before["ucs2"] as? [String])?.isEmpty == true, "\(seen)")
        #expect(after["encoding"] as? String == "UCS-2" && after["ucs2"] as? [String] == ["–"], "the en dash lit up: \(seen)")
        #expect(before["units"] as? String != after["units"] as? String || before["segments"] as? String != after["segments"] as? String, "the size changed: \(seen)")
        if javascript { #expect(seen["sameLoad"] as? Bool == true, "the preview followed the typing without a reload") }
        #expect(seen["radius"] as? String == "3 получателя")
        #expect((seen["kazakhText"] as? String ?? "").contains("ҚР елшілігі"), "the place's Kazakh name: \(seen)")
        #expect((seen["savedNotice"] as? String ?? "").hasPrefix("Черновик сохранён."))
        #expect((seen["warning"] as? String ?? "").contains("Утвердить его должен другой сотрудник, не автор."))
        #expect((seen["ownApproval"] as? String ?? "").hasPrefix("Не утверждено: сообщение получат 3 человека (больше порога 2), а вы его автор."))
        #expect((seen["liveChannelError"] as? [String] ?? []).contains { $0.contains("channel 'sms-live' is live") }, "\(seen)")
        #expect(seen["exerciseSaved"] as? Bool == true)
        #expect((seen["exerciseTexts"] as? [String] ?? []).allSatisfy { $0.hasPrefix("ЖАТТЫҒУ") || $0.hasPrefix("УЧЕНИЯ") || $0.hasPrefix("EXERCISE") }, "\(seen)")
        #expect(seen["approved"] as? [String] == ["Утверждено: сообщение отправляется.", "Утверждено: сообщение отправляется."], "\(seen)")
        #expect((seen["banner"] as? String ?? "").hasPrefix("УЧЕНИЯ · Идут учения"), "\(seen)")
        #expect(seen["checkinLanguage"] as? String == "kk")
        if javascript { #expect((seen["phoneScrollWidth"] as? Int ?? 9999) <= 375, "the check-in page fits a 375 px phone") }
        if javascript {
            let widths = seen["tabletWidths"] as? [String: Int] ?? [:]
            #expect(widths.keys.sorted() == ["advisory", "compose", "dashboard"] && widths.values.allSatisfy { $0 <= 768 }, "the console fits a 768 px tablet: \(widths)")
        }
        #expect((seen["checkinAnswer"] as? String ?? "").contains("Көмек туралы өтінішіңіз қабылданды"), "\(seen)")
        #expect((seen["cases"] as? [String] ?? []).contains { $0.contains("просят помощи") && $0.contains("Айгүл Серікова") }, "\(seen)")
        #expect((seen["caseEntries"] as? [String] ?? []).contains { $0.contains("Біз үшеуміз, су жоқ") }, "the citizen's own words in the case: \(seen)")
        #expect(seen["assignee"] as? [String] == ["Айгерим"], "\(seen)")
        #expect((seen["afterResolve"] as? [String] ?? []).isEmpty, "the resolved case left the queue: \(seen)")
        // The exercise went through the exercise channel only, marked; the live one got nothing of it.
        var exerciseLines = 0
        for _ in 0..<100 {
            exerciseLines = ((try? String(contentsOf: smsFile, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.contains("Байланысты тексеру") || $0.contains("Проверка связи") || $0.contains("Communications check") }.count
            if exerciseLines >= 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(exerciseLines == 3, "the exercise reached its three citizens through the stub")
        let live = (try? String(contentsOf: data.appendingPathComponent("sms-live.jsonl"), encoding: .utf8)) ?? ""
        #expect(!live.contains("Проверка связи") && !live.contains("Байланысты тексеру"), "nothing of the exercise on the live channel")
        for name in ["console-compose", "console-two-person", "console-exercise", "console-dashboard-tablet", "checkin-phone", "checkin-answered", "console-cases", "console-citizens"] {
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
