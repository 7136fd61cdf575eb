"""Parses one message with Python's email package (policy default, an independent MIME
parser) and prints what a reader sees, as JSON."""
import email, email.policy, email.utils, json, sys

raw = open(sys.argv[1], "rb").read()
message = email.message_from_bytes(raw, policy=email.policy.default)
name, address = email.utils.parseaddr(str(message["From"]))
plain = message.get_body(("plain",))
html = message.get_body(("html",))
print(json.dumps({
    "subject": str(message["Subject"]),
    "rawSubject": raw.split(b"\r\nSubject: ", 1)[1].split(b"\r\nMessage-ID", 1)[0].decode("ascii"),
    "fromName": str(message["From"].addresses[0].display_name),
    "fromAddress": message["From"].addresses[0].addr_spec,
    "to": str(message["To"]),
    "messageId": str(message["Message-ID"]),
    "date": str(message["Date"]),
    "dateValid": email.utils.parsedate_to_datetime(str(message["Date"])) is not None,
    "autoSubmitted": str(message["Auto-Submitted"]),
    "contentType": message.get_content_type(),
    "parts": [part.get_content_type() for part in message.iter_parts()] if message.is_multipart() else [],
    "text": plain.get_content() if plain else None,
    "html": html.get_content() if html else None,
    "charsets": sorted({part.get_content_charset() for part in message.walk() if not part.is_multipart()}),
    "longestLine": max(len(line) for line in raw.split(b"\r\n")),
    "bareLF": b"\n" in raw.replace(b"\r\n", b""),
    "defects": [str(d) for part in message.walk() for d in part.defects],
}, ensure_ascii=False))
