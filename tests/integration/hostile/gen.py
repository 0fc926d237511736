#!/usr/bin/python3
"""Hostile inbound messages for t-hostile.sh (issue 6 item 5), written at test
time (the big ones are not committed): gen.py OUTDIR SECRET

Writes OUTDIR/NN-name.eml and OUTDIR/manifest.json, a list of cases:
  name     file name
  config   "open" (require_auth = no) or "auth" (require_auth = yes,
           authserv_id = mx.example.com)
  exit     allowed exit codes of `ingest` via stdin (never 75, never a signal)
  deals    "unchanged": the three set-up deals keep every field and no deal
           is created; "lead": set-up deals unchanged, at most one new deal
  literal  optional: strings that must appear verbatim somewhere in the
           export (SQL/template text stored as data, not executed)
  outcome  optional: the `outcome` explain must give (apply, refuse, ignore, lead, log)
  error_to optional: an outbox row of kind "error" to this address must be queued
           (the rep is told why the whole message was refused)
  why      what the case proves
Set-up deals (t-hostile.sh): #1 ana/cliente@acme.mx/demo, #2 luis/compras@globex.com.br/qualify,
#3 bob/jane@initech.com/demo.
"""
import hashlib, hmac, json, os, random, sys

out, secret = sys.argv[1], sys.argv[2].encode()
os.makedirs(out, exist_ok=True)
cases = []
rnd = random.Random(6)

SQL = "'); DROP TABLE deals; -- \" OR 1=1; SELECT * FROM sqlite_master; --"
TPL = "{{rep.name}} {{deal.title}} {{{contact.first_name}}} {{#deal.value}}X{{/deal.value}} {{^a}} {{/b}} {{#"


def token(n):
    mac = hmac.new(secret, b"d:%d" % n, hashlib.sha256).hexdigest()[:10]
    return "%d-%s" % (n, mac)


def head(frm="Lead <lead@prospect.example>", to="ventas@example.com", subject="Hello",
         mid=None, extra=""):
    mid = mid or "<hostile-%d@test.example>" % (len(cases) + 1)
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 23 Nov 2026 08:00:00 -0600\r\n"
            "Message-ID: %s\r\nMIME-Version: 1.0\r\n%s" % (frm, to, subject, mid, extra))


def add(name, data, exit=(0, 65), deals="lead", config="open", literal=None, why="", outcome=None, error_to=None):
    fn = "%02d-%s.eml" % (len(cases) + 1, name)
    path = os.path.join(out, fn)
    with open(path, "wb") as f:
        if callable(data):
            data(f)
        else:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape"))
    cases.append({"name": fn, "config": config, "exit": list(exit), "deals": deals,
                  "literal": literal or [], "why": why, "outcome": outcome, "error_to": error_to})


AUTH_OK = "Authentication-Results: mx.example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com\r\n"
TEXT = "Content-Type: text/plain; charset=utf-8\r\n"

# ---- size and structure bombs ---------------------------------------------
def nest(f, depth=1000):
    f.write(head(subject="nested 1000").encode())
    f.write(b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n')
    for i in range(1, depth):
        f.write(b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i - 1, i))
    f.write(b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n" % (depth - 1))
    for i in range(depth - 1, -1, -1):
        f.write(b"--b%d--\r\n" % i)
add("mime-nesting-1000", nest, why="MIME nested 1,000 deep")

def big_header(f):
    f.write(head(subject="64 MB header").encode())
    f.write(b"X-Huge: ")
    chunk = (b"A" * 76 + b"\r\n ")  # folded, so no line is absurd
    for _ in range(64 * 1024 * 1024 // len(chunk) + 1):
        f.write(chunk)
    f.write(b"end\r\n" + TEXT.encode() + b"\r\nbody\r\n")
add("header-64mb", big_header, why="one folded header of 64 MB")

def many_parts(f, n=100000):
    f.write(head(subject="100000 parts").encode())
    f.write(b'Content-Type: multipart/mixed; boundary="p"\r\n\r\n')
    part = b"--p\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    f.write(part * n)
    f.write(b"--p--\r\n")
add("parts-100000", many_parts, why="100,000 MIME parts")

def rfc822_nest(f, depth=1000):
    f.write(head(subject="forward chain").encode())
    f.write(b"Content-Type: message/rfc822\r\n\r\n")
    for i in range(depth):
        f.write(b"From: a%d@x.example\r\nSubject: fwd %d\r\nContent-Type: message/rfc822\r\n\r\n" % (i, i))
    f.write(b"From: z@x.example\r\n\r\ninnermost\r\n")
add("rfc822-nesting-1000", rfc822_nest, why="message/rfc822 nested 1,000 deep")

add("long-line-4mb", head(subject="long line") + TEXT + "\r\n" + "x" * (4 << 20) + "\r\n",
    why="a 4 MB body line without a line break")

def many_headers(f):
    f.write(head(subject="many headers").encode())
    for i in range(200000):
        f.write(b"X-H%d: v\r\n" % i)
    f.write(TEXT.encode() + b"\r\nbody\r\n")
add("headers-200000", many_headers, why="200,000 header fields")

def fold_bomb(f):
    f.write(head(subject="fold bomb").encode())
    f.write(b"X-Fold: a" + b"\r\n b" * 500000 + b"\r\n" + TEXT.encode() + b"\r\nbody\r\n")
add("folding-500000", fold_bomb, why="one header folded 500,000 times")

def many_rcpts(f):
    f.write(head(to=", ".join("r%d@x%d.example" % (i, i) for i in range(100000)), subject="rcpts").encode())
    f.write(TEXT.encode() + b"\r\nbody\r\n")
add("to-100000-addresses", many_rcpts, why="100,000 addresses in To")

def many_refs(f):
    refs = " ".join("<r%d@x.example>" % i for i in range(100000))
    f.write(head(subject="refs", extra="References: %s\r\nIn-Reply-To: <r1@x.example>\r\n" % refs).encode())
    f.write(TEXT.encode() + b"\r\nbody\r\n")
add("references-100000", many_refs, why="100,000 message-ids in References")

def many_ew(f):
    f.write(head(subject=" ".join("=?UTF-8?B?w6HDqQ==?=" for _ in range(50000))).encode())
    f.write(TEXT.encode() + b"\r\nbody\r\n")
add("encoded-words-50000", many_ew, why="50,000 encoded-words in the Subject")

def ct_params(f):
    f.write(head(subject="params").encode())
    f.write(b"Content-Type: text/plain; " + b"; ".join(b"p%d=v" % i for i in range(20000)) + b"\r\n\r\nbody\r\n")
add("content-type-20000-params", ct_params, why="20,000 Content-Type parameters")

def html_nest(f):
    f.write(head(subject="html nesting").encode())
    f.write(b"Content-Type: text/html; charset=utf-8\r\n\r\n" + b"<div>" * 200000 + b"x" + b"</div>" * 200000 + b"\r\n")
add("html-div-200000-deep", html_nest, why="HTML-only mail with 200,000 nested <div>")

add("html-entity-bomb",
    head(subject="laughs") + "Content-Type: text/html; charset=utf-8\r\n\r\n"
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">'
    '<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">'
    '<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">'
    '<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]><html><body>&lol9; <img src="file:///etc/passwd"></body></html>\r\n',
    why="billion-laughs entities and an external reference in the HTML part")

# ---- bytes that are not what they claim ----------------------------------------
add("invalid-utf8", (head(frm="\xff\xfe Lead \xc3\x28 <lead@prospect.example>", subject="bad \xc3\x28 \xa0\xa1 \xf0\x28\x8c\xbc")
                     + TEXT + "\r\n\xff\xfe\xfd \xed\xa0\x80 \xc0\xaf overlong, surrogate\r\n").encode("latin-1"),
    why="invalid UTF-8 (lone bytes, surrogates, overlong) in headers and body declared utf-8")
add("nul-bytes", (head(frm="Le\0ad <lead@prospect.example>", subject="nul\0here") + TEXT
                  + "\r\nbefore\0after\r\n\0\0\0\r\n").encode(),
    why="NUL bytes in headers and body")
add("unknown-charsets", head(subject="=?x-klingon-9?Q?abc?= =?utf-99?B?////?= =?UTF-8*en?Q?ok?=")
    + 'Content-Type: text/plain; charset="x-no-such-charset"\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n\xe9t\xe9\r\n',
    why="charset names that do not exist, unknown transfer encoding")
add("utf16-odd", head(subject="utf16") + 'Content-Type: text/plain; charset="utf-16"\r\nContent-Transfer-Encoding: base64\r\n\r\n//5hAGIAYw\r\n',
    why="UTF-16 body with an odd byte count and truncated base64")
add("encoded-word-crlf", head(frm="=?UTF-8?Q?Evil=0D=0ABcc:_victim@evil.example=0D=0A?= <lead@prospect.example>",
                              subject="=?UTF-8?Q?Quote=0D=0ABcc:_victim@evil.example=0D=0A=0D=0Abody?=") + TEXT + "\r\nhi\r\n",
    literal=[], why="encoded-words that decode to CR/LF + header text (From name and Subject)")
add("garbage-bytes", bytes(rnd.getrandbits(8) for _ in range(200000)), why="200 KB of random bytes")
add("empty", b"", exit=(65,), deals="unchanged", why="0 bytes")
add("headers-only-no-eol", "From: lead@prospect.example\r\nSubject: no body", why="headers, no blank line, no final EOL")
add("cr-only-line-ends", head(subject="cr only").replace("\r\n", "\r") + TEXT.replace("\r\n", "\r") + "\rbody\r",
    why="old-Mac CR-only line ends")
add("broken-multipart", head(subject="broken") + 'Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\nContent-Type: text/plain\r\n\r\nno end\r\n',
    why="multipart with an empty boundary and no closing delimiter")
add("bad-base64-qp", head(subject="bad encodings") + 'Content-Type: multipart/mixed; boundary="z"\r\n\r\n--z\r\n'
    'Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!***===\r\n--z\r\n'
    'Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=0\r\n--z--\r\n',
    why="invalid base64 and quoted-printable")
add("long-message-id", head(subject="long id", mid="<" + "i" * 200000 + "@x>") + TEXT + "\r\nbody\r\n",
    why="a 200 KB Message-ID")
add("bidi-zero-width", head(frm="\u202eLead\u200b <lead@prospect.example>", subject="\u202egnp.exe \ufeff")
    + TEXT + "\r\nhello \u200b\u2066\r\n", why="bidi overrides and zero-width characters")

# ---- SQL and template syntax in every field ------------------------------------
add("sql-every-field",
    head(frm='"%s" <lead@prospect.example>' % SQL.replace('"', "'"), subject=SQL, mid="<'); DROP TABLE deals;--@x>",
         extra="In-Reply-To: <' OR '1'='1@x>\r\nReferences: <\"; DELETE FROM deals;--@x>\r\n")
    + TEXT + "\r\n%s\r\n" % SQL,
    literal=["DROP TABLE deals"], why="SQL in From name, Subject, Message-ID, threading headers, body: stored as text")
add("template-every-field",
    head(frm='"%s" <lead@prospect.example>' % TPL, subject=TPL, extra="X-Tpl: %s\r\n" % TPL) + TEXT + "\r\n%s\r\n" % TPL,
    literal=["{{rep.name}}"], why="template syntax in From name, Subject and body: stored verbatim, never rendered")
add("rep-sql-template-commands",
    head(frm="Ana <ana@example.com>", subject="Re: [deal #1] %s" % SQL) + TEXT + "\r\n"
    "nota: %s\r\nnota: %s\r\ntarea: %s @ 2026-12-01\r\n" % (SQL, TPL, TPL),
    exit=(0,), deals="unchanged", literal=["DROP TABLE deals", "{{deal.title}}"],
    outcome="apply", why="a rep's note/task lines carrying SQL and template syntax: stored as text, deal fields untouched")
add("rep-absurd-values",
    head(frm="Ana <ana@example.com>", subject="Re: [deal #1] values") + TEXT + "\r\n"
    "valor: 1e308 EUR\r\nprobabilidad: 1000000%%\r\npuntos: +99999999999999999999999\r\n"
    "cierre: 9999-99-99\r\netapa: %s\r\n" % SQL,
    exit=(0,), deals="unchanged", outcome="refuse", error_to="ana@example.com", why="unreadable values refuse the whole message")
add("rep-deal-tag-overflow",
    head(frm="Ana <ana@example.com>", subject="Re: [deal #99999999999999999999999] x") + TEXT + "\r\n"
    "#-1 etapa: ganado\r\n#0 etapa: ganado\r\n#18446744073709551617 etapa: ganado\r\n[deal #2] etapa: ganado\r\n",
    exit=(0,), deals="unchanged", outcome="refuse", error_to="ana@example.com", why="deal tags that overflow, are negative or name a deal of another rep")
def many_cmds(f):
    f.write((head(frm="Ana <ana@example.com>", subject="Re: [deal #1] many") + TEXT + "\r\n").encode())
    f.write(b"etapa: nosuchstage\r\n" + b"nota: n\r\n" * 20000)
add("rep-20000-commands", many_cmds, exit=(0,), deals="unchanged",
    outcome="refuse", error_to="ana@example.com", why="20,000 command lines, one invalid: all refused, bounded time")

# ---- identity and routing attacks (require_auth = yes) ------------------------
add("spoof-rep-no-auth", head(frm="Ana <ana@example.com>", subject="Re: [deal #1] x") + TEXT + "\r\netapa: ganado\r\nvalor: 1\r\n",
    exit=(0,), deals="unchanged", config="auth", outcome="ignore", why="From spoofs a rep, no Authentication-Results")
add("spoof-rep-foreign-authserv",
    "Authentication-Results: evil.example; dmarc=pass header.from=example.com\r\n"
    + head(frm="Ana <ana@example.com>", subject="Re: [deal #1] x") + TEXT + "\r\netapa: ganado\r\n",
    exit=(0,), deals="unchanged", config="auth", outcome="ignore", why="a pass from another authserv-id")
add("spoof-rep-second-header",
    "Authentication-Results: mx.example.com; dmarc=fail header.from=example.com; spf=fail\r\n"
    "Authentication-Results: mx.example.com; dmarc=pass header.from=example.com\r\n"
    + head(frm="Ana <ana@example.com>", subject="Re: [deal #1] x") + TEXT + "\r\netapa: ganado\r\n",
    exit=(0,), deals="unchanged", config="auth", outcome="ignore", why="our topmost header fails; a lower forged one says pass")
add("spoof-rep-unaligned-dkim",
    "Authentication-Results: mx.example.com; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=x@evil.example\r\n"
    + head(frm="Ana <ana@example.com>", subject="Re: [deal #1] x") + TEXT + "\r\netapa: ganado\r\n",
    exit=(0,), deals="unchanged", config="auth", outcome="ignore", why="DKIM/SPF pass for another domain (not aligned)")
add("spoof-rep-by-name", head(frm="Ana López <ana@evil.example>", subject="Re: [deal #1] x") + TEXT + "\r\netapa: ganado\r\n",
    exit=(0,), deals="lead", config="auth", outcome="lead", why="a rep's display name with another address")
add("spoof-rep-reply-to", head(frm="<attacker@evil.example>", subject="Re: [deal #1] x", extra="Reply-To: ana@example.com\r\nSender: ana@example.com\r\n")
    + TEXT + "\r\netapa: ganado\r\n", exit=(0,), deals="lead", config="auth", outcome="lead", why="Reply-To/Sender name a rep; From does not")
add("token-other-deal",
    AUTH_OK + head(frm="Ana <ana@example.com>", to="ventas+%s@example.com" % token(2), subject="Re: propuesta") + TEXT
    + "\r\netapa: ganado\r\nvalor: 1 EUR\r\n",
    exit=(0,), deals="unchanged", config="auth", outcome="ignore",
    why="an authenticated rep with a valid reply token for a deal of another rep: SPEC 3.2 treats it as an unknown sender's, no command runs")
add("token-forged",
    AUTH_OK + head(frm="Ana <ana@example.com>", to="ventas+2-%s@example.com" % token(1).split("-")[1], subject="Re: x") + TEXT
    + "\r\netapa: ganado\r\n",
    exit=(0,), deals="unchanged", config="auth", outcome="refuse", why="deal 1's MAC with deal number 2")
add("token-unknown-sender",
    head(frm="<attacker@evil.example>", to="ventas+%s@example.com" % token(1), subject="Re: x") + TEXT + "\r\netapa: ganado\r\nvalor: 1\r\n",
    exit=(0,), deals="unchanged", config="auth", outcome="log", why="a valid token from an unknown sender runs no command")
add("contact-commands",
    head(frm="<cliente@acme.mx>", subject="Re: [deal #1] ACME") + TEXT + "\r\netapa: ganado\r\nvalor: 1\r\nowner: ana@example.com\r\n",
    exit=(0,), deals="unchanged", config="auth", outcome="log", why="the deal's contact writes command lines: logged, never run")
add("dsn-hostile",
    head(frm="MAILER-DAEMON@mx.example.com", subject="Undelivered", extra='Content-Type: multipart/report; report-type=delivery-status; boundary="d"\r\n')
    .replace("MIME-Version: 1.0\r\n", "MIME-Version: 1.0\r\nReturn-Path: <>\r\n")
    + "\r\n--d\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--d\r\nContent-Type: message/delivery-status\r\n\r\n"
    + "".join("Final-Recipient: rfc822; '%d@x; DROP TABLE contacts;--\r\nStatus: 5.1.1\r\n\r\n" % i for i in range(5000))
    + "--d--\r\n", exit=(0, 65), deals="unchanged", why="a bounce with 5,000 hostile Final-Recipient fields")

with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(cases, f, indent=1)
print("gen.py: %d hostile messages in %s" % (len(cases), out))
