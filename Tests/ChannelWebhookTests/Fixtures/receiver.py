"""A webhook receiver for Habar's tests, on 127.0.0.1 only.

Every request to /ok is verified with the standardwebhooks reference library (not with
Habar's code) against the secret in WEBHOOK_SECRET; what verified is appended to the file
given as the second argument, one JSON line per request. Other paths answer as receivers in
trouble do: /fail 500, /ratelimit 429 with Retry-After, /gone 410, /bad 400, /redirect 302,
/hang never in time, /big a large body.
"""
import json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from standardwebhooks.webhooks import Webhook

port, log = int(sys.argv[1]), sys.argv[2]
secret = os.environ["WEBHOOK_SECRET"]
lock = threading.Lock()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        path = self.path
        if path == "/ok":
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                Webhook(secret).verify(body, headers)
                record = {"verified": True, "id": headers["webhook-id"], "body": json.loads(body), "signatures": headers["webhook-signature"].count("v1,")}
                status = 204
            except Exception as error:  # the library raises ValueError/binascii.Error too
                record = {"verified": False, "error": repr(error)}
                status = 401
            with lock, open(log, "a") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.answer(status)
        elif path == "/fail":
            self.answer(500, b"internal error")
        elif path == "/ratelimit":
            self.answer(429, b"slow down", [("Retry-After", "7")])
        elif path == "/gone":
            self.answer(410, b"unsubscribed")
        elif path == "/bad":
            self.answer(400, b"bad request")
        elif path == "/redirect":
            self.answer(302, b"", [("Location", "/ok")])
        elif path == "/hang":
            time.sleep(30)
            self.answer(204)
        elif path == "/big":
            self.answer(200, b"x" * 5_000_000)
        else:
            self.answer(404)

class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up (the hang and big-body tests) is expected

def watchdog():
    # Never outlive the test that started us: gone when the parent is, and after two minutes.
    parent, started = os.getppid(), time.time()
    while os.getppid() == parent and time.time() - started < 120:
        time.sleep(0.5)
    os._exit(0)

threading.Thread(target=watchdog, daemon=True).start()
server = Server(("127.0.0.1", port), Handler)
print("ready", flush=True)
server.serve_forever()
