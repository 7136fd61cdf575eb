"""An aiosmtpd server for Habar's SMTP tests, on 127.0.0.1 only.

argv: port, output directory, cert.pem, key.pem, mode ("starttls", "tls", or "login":
STARTTLS offering AUTH LOGIN only).
Requires TLS (STARTTLS, or TLS from the first byte) and AUTH with SMTP_USER/SMTP_PASSWORD.
Each accepted message is written as N.eml plus N.json (envelope and session facts).
Recipients steer the answers: temp* → 451 at RCPT, reject* → 550 at RCPT, drop* → the
connection is closed after the message's data and before the reply, once per Message-ID.
"""
import json, os, re, ssl, sys, threading, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, out, cert, key, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
USER, PASSWORD = os.environ["SMTP_USER"].encode(), os.environ["SMTP_PASSWORD"].encode()
lock = threading.Lock()
dropped = set()
count = [0]


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("temp"):
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        if address.startswith("reject"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content
        match = re.search(rb"^Message-ID: *(\S+)", data, re.M | re.I)
        message_id = match.group(1).decode() if match else ""
        if envelope.rcpt_tos[0].startswith("drop") and message_id not in dropped:
            dropped.add(message_id)
            server.transport.close()
            return "250 never sent"
        with lock:
            count[0] += 1
            name = os.path.join(out, str(count[0]))
            with open(name + ".eml", "wb") as f:
                f.write(data)
            with open(name + ".json", "w") as f:
                json.dump({"mailFrom": envelope.mail_from, "rcptTos": envelope.rcpt_tos, "mailOptions": envelope.mail_options,
                           "authenticated": bool(session.authenticated), "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
                           "peerPort": session.peer[1]}, f)
        return "250 2.0.0 Accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login == USER and auth_data.password == PASSWORD:
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
options = dict(hostname="127.0.0.1", port=port, authenticator=authenticator, auth_required=True, auth_require_tls=True,
               enable_SMTPUTF8=True)
if mode == "login":
    options["auth_exclude_mechanism"] = ["PLAIN"]
if mode == "tls":
    # aiosmtpd does not count TLS from the first byte as TLS for auth_require_tls; the
    # whole session is encrypted here anyway.
    options["auth_require_tls"] = False
    controller = Controller(Handler(), ssl_context=context, **options)
else:
    controller = Controller(Handler(), tls_context=context, require_starttls=True, **options)
controller.start()
print("ready", flush=True)
parent = os.getppid()
while os.getppid() == parent:  # gone with the test process
    time.sleep(0.5)
controller.stop()
