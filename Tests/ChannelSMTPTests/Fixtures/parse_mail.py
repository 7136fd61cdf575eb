"""Parses one message with Python's email package (policy default, an independent MIME
parser) and prints what a reader sees, as JSON."""
import email, email.policy, email.utils, json, re, sys

raw = open(sys.argv[1], "rb").read()
# As received on the wire (aiosmtpd keeps CRLF) or as a Maildir stores it (LF).
wire = b"\r\n" in raw
message = email.message_from_bytes(raw, policy=email.policy.default)
name, address = email.utils.parseaddr(str(message["From"]))
plain = message.get_body(("plain",))
html = message.get_body(("html",))
print(json.dumps({
    "subject": str(message["Subject"]),
    "rawSubject": re.search(rb"\nSubject: (.*?)\r?\n(?! )", raw, re.S).group(1).decode("ascii").replace("\r\n", "\n").replace("\n", "\r\n"),
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
    "longestLine": max(len(line) for line in re.split(rb"\r?\n", raw)),
    "bareLF": b"\n" in raw.replace(b"\r\n", b"") if wire else None,
    "defects": [str(d) for part in message.walk() for d in part.defects],
}, ensure_ascii=False))
