#!/usr/bin/python3
"""Writes tests/corpus/cases/*.eml and *.json (both are committed).

Run from anywhere: /usr/bin/python3 tests/corpus/gen.py
The messages imitate what real clients deliver (Gmail, Outlook desktop/365/OWA,
Apple Mail on iPhone, Thunderbird, Android Gmail, Postfix DSNs, list servers):
their header shapes, Received chains, DKIM noise, MIME structure, charsets and
transfer encodings.  The clock of every case is DEALMAIL_NOW=2026-11-23T15:00:00Z
(09:00 in America/Mexico_City), so message dates are just before it.
"""
import base64
import hashlib
import json
import os
import quopri

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")

# ---------------------------------------------------------------- helpers

def noise(seed, n):
    """Deterministic base64-looking noise (DKIM b=, bh=, ids)."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(("%s/%d" % (seed, i)).encode()).digest()
        i += 1
    return base64.b64encode(out).decode()[:n]


def hexnoise(seed, n):
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def qword(s, charset="UTF-8"):
    """RFC 2047 Q encoding of a display name or subject."""
    raw = s.encode(charset)
    out = []
    for b in raw:
        c = chr(b)
        if c == " ":
            out.append("_")
        elif c.isalnum() and b < 128 or c in "!*+-/":
            out.append(c)
        else:
            out.append("=%02X" % b)
    return "=?%s?Q?%s?=" % (charset, "".join(out))


def bword(s, charset="UTF-8"):
    return "=?%s?B?%s?=" % (charset, base64.b64encode(s.encode(charset)).decode())


def name_addr(name, addr):
    try:
        name.encode("ascii")
        if any(c in name for c in ',.;:"()<>@'):
            return '"%s" <%s>' % (name, addr)
        return "%s <%s>" % (name, addr)
    except UnicodeEncodeError:
        return "%s <%s>" % (qword(name), addr)


def qp(text, charset="utf-8"):
    return quopri.encodestring(text.encode(charset)).decode("ascii")


def b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.encodebytes(data).decode("ascii")


def dkim(domain, selector, seed, headers="from:to:subject:date:message-id:mime-version"):
    return ("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n"
            "        d=%s; s=%s; t=1795449482; x=1796054282;\n"
            "        h=%s;\n"
            "        bh=%s;\n"
            "        b=%s\n"
            "         %s\n"
            "         %s==\n" % (domain, selector, headers, noise(seed + "bh", 43) + "=",
                                  noise(seed + "b1", 70), noise(seed + "b2", 70), noise(seed + "b3", 44)))


def auth_results(server="mx.example.com", dom="example.com", dmarc="pass", dkim_r="pass", spf="pass"):
    return ("Authentication-Results: %s;\n"
            "\tdkim=%s (2048-bit key; unprotected) header.d=%s header.i=@%s header.a=rsa-sha256 header.s=google header.b=Xk3vN2qP;\n"
            "\tspf=%s (%s: domain of ana@%s designates 209.85.221.41 as permitted sender) smtp.mailfrom=ana@%s;\n"
            "\tdmarc=%s (p=quarantine dis=none) header.from=%s\n" % (server, dkim_r, dom, dom, spf, server, dom, dom, dmarc, dom))


RCV_LMTP = ("Received: from mx.example.com\n"
            "\tby imap.example.com with LMTP\n"
            "\tid {lid}\n"
            "\t(envelope-from <{env}>)\n"
            "\tfor <ventas@example.com>; Mon, 23 Nov 2026 {t} +0000\n")


def received_gmail(env, seed, t="14:58:03"):
    return (RCV_LMTP.format(lid=noise(seed + "lmtp", 22), env=env, t=t) +
            "Received: from mail-wr1-f41.google.com (mail-wr1-f41.google.com [209.85.221.41])\n"
            "\t(using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)\n"
            "\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\n"
            "\t(No client certificate requested)\n"
            "\tby mx.example.com (Postfix) with ESMTPS id 4Ck2X%s\n"
            "\tfor <ventas@example.com>; Mon, 23 Nov 2026 %s +0000 (UTC)\n"
            "Received: by mail-wr1-f41.google.com with SMTP id ffacd0b85a97d-3a4f7f1b1b6so%sf8f.2\n"
            "        for <ventas@example.com>; Mon, 23 Nov 2026 06:58:02 -0800 (PST)\n"
            % (hexnoise(seed + "q", 7), t, hexnoise(seed + "g", 6)))


def received_outlook(env, seed, t="14:51:40"):
    return (RCV_LMTP.format(lid=noise(seed + "lmtp", 22), env=env, t=t) +
            "Received: from NAM12-BN8-obe.outbound.protection.outlook.com (mail-bn8nam12on2101.outbound.protection.outlook.com [40.107.237.101])\n"
            "\t(using TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits))\n"
            "\t(No client certificate requested)\n"
            "\tby mx.example.com (Postfix) with ESMTPS id 4Ck2W%s\n"
            "\tfor <ventas@example.com>; Mon, 23 Nov 2026 %s +0000 (UTC)\n"
            "Received: from BN8PR12MB3361.namprd12.prod.outlook.com (2603:10b6:408:67::22)\n"
            " by SA1PR12MB6703.namprd12.prod.outlook.com (2603:10b6:806:253::12) with\n"
            " Microsoft SMTP Server (version=TLS1_2,\n"
            " cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.8207.14; Mon, 23 Nov\n"
            " 2026 14:51:38 +0000\n"
            % (hexnoise(seed + "q", 7), t))


def ms_noise(seed):
    return ("X-MS-Has-Attach: \n"
            "X-MS-TNEF-Correlator: \n"
            "msip_labels: \n"
            "x-ms-publictraffictype: Email\n"
            "x-ms-traffictypediagnostic: BN8PR12MB3361:EE_|SA1PR12MB6703:EE_\n"
            "x-ms-office365-filtering-correlation-id: %s-%s-4c1e-8d2f-%s\n"
            "x-microsoft-antispam: BCL:0;ARA:13230040|366016|1800799024|376014|38070700018;\n"
            "x-microsoft-antispam-message-info:\n"
            " %s\n"
            " %s\n"
            "x-forefront-antispam-report:\n"
            " CIP:255.255.255.255;CTRY:;LANG:es;SCL:1;SRV:;IPV:NLI;SFV:NSPM;H:BN8PR12MB3361.namprd12.prod.outlook.com;PTR:;CAT:NONE;SFS:(13230040)(366016)(1800799024);DIR:OUT;SFP:1102;\n"
            "X-OriginatorOrg: example.com\n"
            "X-MS-Exchange-CrossTenant-AuthAs: Internal\n"
            "X-MS-Exchange-CrossTenant-id: 7a1c2e3f-0b4d-4e5f-9a8b-1c2d3e4f5a6b\n"
            % (hexnoise(seed + "1", 8), hexnoise(seed + "2", 4), hexnoise(seed + "3", 12),
               noise(seed + "m1", 76), noise(seed + "m2", 60)))


def gmail_quote_text(attribution_lines, quoted):
    q = "\n".join(("> " + l) if l else ">" for l in quoted.split("\n"))
    return "\n".join(attribution_lines) + "\n\n" + q + "\n"


def html_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def gmail_html(new_lines, attribution, quoted_lines):
    new = "".join('<div dir="ltr">%s</div>' % (html_escape(l) if l else "<br>") for l in new_lines)
    q = "<br>".join(html_escape(l) for l in quoted_lines)
    return ('<div dir="ltr">%s</div><br><div class="gmail_quote gmail_quote_container">'
            '<div dir="ltr" class="gmail_attr">%s<br></div><blockquote class="gmail_quote" '
            'style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">'
            '%s</blockquote></div>\n' % (new, html_escape(attribution), q))


def part(ctype, body, cte=None, charset="UTF-8", extra=""):
    h = 'Content-Type: %s; charset="%s"%s\n' % (ctype, charset, extra)
    if cte == "qp":
        h += "Content-Transfer-Encoding: quoted-printable\n"
        body = qp(body, charset.lower())
    elif cte == "b64":
        h += "Content-Transfer-Encoding: base64\n"
        body = b64(body.encode(charset.lower()))
    elif cte:
        h += "Content-Transfer-Encoding: %s\n" % cte
    if not body.endswith("\n"):
        body += "\n"
    return h + "\n" + body


def alternative(boundary, text_part, html_part, close=True):
    s = "--%s\n%s\n--%s\n%s" % (boundary, text_part, boundary, html_part)
    if close:
        s += "\n--%s--\n" % boundary
    return s


def needs_qp(s):
    try:
        s.encode("ascii")
        return max((len(l) for l in s.split("\n")), default=0) > 76
    except UnicodeEncodeError:
        return True


# A dealmail confirmation or digest as quoted by a rep.
CONF_ES = ("Hola Ana,\n\nRegistré estos cambios en la oportunidad #1 (ACME renewal):\n"
           "  Etapa: Demo\n\nResponde a este mensaje con \"etapa: ...\" para actualizarla.\n\n"
           "--\nAsistente de ventas")


def gmail_rep(seed, frm_name, frm, subject, new_text, attribution, quoted, msgid=None,
              irt=None, to="Asistente de ventas <ventas@example.com>", date="Mon, 23 Nov 2026 08:57:51 -0600",
              auth=True, extra_headers="", html=True, cc=None, envelope=None):
    """A Gmail (web) reply: multipart/alternative, attribution wrapped as Gmail does."""
    msgid = msgid or "<CAF%s+%s@mail.gmail.com>" % (noise(seed + "mid", 22).replace("/", "x").replace("+", "Q"),
                                                    noise(seed + "mid2", 18).replace("/", "y").replace("+", "Z"))
    irt = irt or "<dealmail.%s@example.com>" % hexnoise(seed + "irt", 16)
    domain = frm.split("@")[1]
    h = ""
    h += "Return-Path: <%s>\nDelivered-To: ventas@example.com\n" % (envelope or frm)
    h += received_gmail(envelope or frm, seed)
    if auth:
        h += auth_results(dom=domain)
    h += dkim(domain, "google", seed, "to:subject:message-id:date:from:in-reply-to:references:mime-version\n"
              "         :from:to:cc:subject:date:message-id:reply-to")
    h += "X-Google-DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n        d=1e100.net; s=20230601; t=1795449482; x=1796054282;\n        bh=%s;\n        b=%s\n" % (noise(seed + "gbh", 44), noise(seed + "gb", 70))
    h += "X-Gm-Message-State: AOJu0Y%s\n" % noise(seed + "gms", 60)
    h += "X-Google-Smtp-Source: AGHT+I%s\n" % noise(seed + "gss", 60)
    h += "X-Received: by 2002:a05:6000:1a8e:b0:3a4:f70e:abcd with SMTP id ffacd0b85a97d-3a4f70eabcdmr%sf8f.12;\n        Mon, 23 Nov 2026 06:58:02 -0800 (PST)\n" % hexnoise(seed + "xr", 7)
    h += extra_headers
    h += "MIME-Version: 1.0\n"
    h += "References: %s\nIn-Reply-To: %s\n" % (irt, irt)
    h += "From: %s\n" % name_addr(frm_name, frm)
    h += "Date: %s\n" % date
    if msgid != "none":
        h += "Message-ID: %s\n" % msgid
    h += "Subject: %s\n" % subject
    h += "To: %s\n" % to
    if cc:
        h += "Cc: %s\n" % cc
    text = new_text + "\n\n" + gmail_quote_text(attribution, quoted) if attribution else new_text + "\n"
    if not html:
        return h + part("text/plain", text, "qp" if needs_qp(text) else None), msgid
    boundary = "000000000000%s" % hexnoise(seed + "bd", 16)
    h += 'Content-Type: multipart/alternative; boundary="%s"\n\n' % boundary
    if attribution:
        hp = gmail_html(new_text.split("\n"), "".join(attribution), quoted.split("\n"))
    else:
        hp = '<div dir="ltr">%s</div>\n' % "".join('<div>%s</div>' % (html_escape(l) if l else "<br>")
                                                  for l in new_text.split("\n"))
    body = alternative(boundary,
                       part("text/plain", text, "qp" if needs_qp(text) else None),
                       part("text/html", hp, "qp" if needs_qp(hp) else None))
    return h + body, msgid


ATTR_EN = ["On Mon, Nov 23, 2026 at 8:02 AM Asistente de ventas <",
           "ventas@example.com> wrote:"]
ATTR_ES = ["El lun, 23 nov 2026 a las 8:02, Asistente de ventas (<",
           "ventas@example.com>) escribió:"]
ATTR_PT = ["Em seg., 23 de nov. de 2026 às 11:02, Asistente de ventas <",
           "ventas@example.com> escreveu:"]

# ---------------------------------------------------------------- expectations

SETUP = [
    ["deal", "add", "--title", "ACME renewal", "--contact", "cliente@acme.mx", "--owner", "ana@example.com",
     "--stage", "demo", "--value", "12000"],
    ["deal", "add", "--title", "Globex rollout", "--contact", "compras@globex.com.br", "--owner", "luis@example.com",
     "--stage", "qualify", "--value", "8000"],
    ["deal", "add", "--title", "Initech pilot", "--contact", "jane@initech.com", "--owner", "bob@example.com",
     "--stage", "demo", "--value", "5000"],
]
ORIG = {
    "1": {"stage": "demo", "status": "open", "value": 12000, "owner": "ana@example.com"},
    "2": {"stage": "qualify", "status": "open", "value": 8000, "owner": "luis@example.com"},
    "3": {"stage": "demo", "status": "open", "value": 5000, "owner": "bob@example.com"},
}
PROPOSAL_TASK = {"text": "Llamar para confirmar", "due": "2026-11-25", "done": False}


def confirmed(rep):
    return {"count": [[{"kind": "confirmation", "to": rep}, 1]], "not_contains": [{"kind": "error"}]}


def refused(rep):
    return {"count": [[{"kind": "error", "to": rep}, 1]], "not_contains": [{"kind": "confirmation"}]}


def nothing_from(msgid):
    return {"not_contains": [{"message_id": msgid}]}


def stage_ev(deal, frm, to, by, msgid=None):
    e = {"deal": deal, "type": "stage", "from": frm, "to": to, "by": by}
    if msgid:
        e["message_id"] = msgid
    return e


def unchanged(*ids):
    return {i: ORIG[i] for i in ids}


CASES = []


def case(name, eml, spec, crlf=False):
    if isinstance(eml, str):
        eml = eml.encode("utf-8")
    if crlf:
        eml = eml.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    spec = dict(spec)
    spec.setdefault("config", "dealmail.conf")
    spec.setdefault("setup", SETUP)
    CASES.append((name, eml, spec))


def rep_apply_explain(sender, deal, route, commands, visible_has=None, visible_not=None):
    e = {"class": "rep", "sender": sender, "deal": deal, "route": route, "outcome": "apply",
         "commands": commands}
    vt = {}
    if visible_has:
        vt["contains_text"] = visible_has
    if visible_not:
        vt["not_contains_text"] = visible_not
    if vt:
        e["visible_text"] = vt
    return e


def cmd(keyword, value, ok=True):
    return {"keyword": keyword, "value": value, "ok": ok}


# ================================================================ cases

# --- 001 Gmail web, plain+html alternative, en attribution wrapped by Gmail
eml, mid = gmail_rep("001", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "etapa: propuesta\n\nLes mandé la cotización esta mañana.",
                     ATTR_EN, CONF_ES.replace("Etapa: Demo", "Etapa: Demo\n  etapa: ganado (ejemplo)"))
case("001-gmail-alternative-etapa-propuesta", eml, {
    "why": "Gmail reply (text+html alternative) with a wrapped 'On … wrote:' attribution: the stage command "
           "above it applies, entering proposal fires the sequence and the task; the quoted example line does not run",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("stage", "propuesta")],
                                 "etapa: propuesta", ["wrote:", "ganado", "Registré"]),
    "export": {
        "deals_by_id": {"1": {"stage": "proposal", "status": "open", "value": 12000}, "2": ORIG["2"], "3": ORIG["3"]},
        "events": {"contains": [stage_ev(1, "demo", "proposal", "ana@example.com", mid)],
                   "not_contains": [{"type": "stage", "to": "won"}]},
        "tasks": {"contains": [dict(PROPOSAL_TASK, deal=1)]},
        "enrollments": {"contains": [{"deal": 1, "sequence": "proposal-followup", "status": "active"}]},
        "outbox": confirmed("ana@example.com"),
        "quarantine": {"len": 0},
    }})

# --- 002 Gmail es attribution, perdido: precio
eml, mid = gmail_rep("002", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "perdido: precio\n\nSe fueron con la competencia por 20% menos.\n\nAna",
                     ATTR_ES, CONF_ES)
case("002-gmail-es-escribio-perdido-precio", eml, {
    "why": "Gmail reply with a wrapped 'El … escribió:' attribution; 'perdido: precio' moves the deal to lost "
           "with the canonical reason price",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("lost", "precio")], None, ["escribió", "Registré"]),
    "export": {
        "deals_by_id": {"1": {"stage": "lost", "status": "lost", "reason": "price"}},
        "events": {"contains": [stage_ev(1, "demo", "lost", "ana@example.com", mid)]},
        "outbox": confirmed("ana@example.com"),
    }})


# --- Outlook desktop (Word HTML + text) helpers
def outlook_desktop(seed, frm_name, frm, subject, text, html_body, date="Mon, 23 Nov 2026 14:51:37 +0000",
                    charset="utf-8", lang="es-MX", thread_topic=None, msgid=None, to="Asistente de ventas <ventas@example.com>",
                    auth=True):
    msgid = msgid or "<BN8PR12MB3361%s@BN8PR12MB3361.namprd12.prod.outlook.com>" % hexnoise(seed, 20).upper()
    bnd = "_000_BN8PR12MB3361%sBN8PR12MB3361namp_" % hexnoise(seed + "b", 20).upper()
    domain = frm.split("@")[1]
    h = "Return-Path: <%s>\nDelivered-To: ventas@example.com\n" % frm
    h += received_outlook(frm, seed)
    if auth:
        h += auth_results(dom=domain).replace("header.s=google", "header.s=selector1")
    h += dkim(domain, "selector1", seed, "From:Date:Subject:Message-ID:Content-Type:MIME-Version:X-MS-Exchange-SenderADCheck")
    h += "From: %s\n" % name_addr(frm_name, frm)
    h += "To: %s\n" % to
    h += "Subject: %s\n" % subject
    h += "Thread-Topic: %s\n" % (thread_topic or subject.replace("RE: ", "").replace("Re: ", ""))
    h += "Thread-Index: AQHbPZ%s\n" % noise(seed + "ti", 30)
    h += "Date: %s\n" % date
    h += "Message-ID: %s\n" % msgid
    h += "References: <dealmail.%s@example.com>\n" % hexnoise(seed + "r", 16)
    h += "In-Reply-To: <dealmail.%s@example.com>\n" % hexnoise(seed + "r", 16)
    h += "Accept-Language: %s, en-US\nContent-Language: %s\n" % (lang, lang)
    h += ms_noise(seed)
    h += 'Content-Type: multipart/alternative;\n\tboundary="%s"\nMIME-Version: 1.0\n\n' % bnd
    tp = part("text/plain", text, "qp", charset=charset)
    hp = part("text/html", html_body, "qp", charset=charset)
    return h + alternative(bnd, tp, hp), msgid


def word_html(paras, header_block, quoted_paras, lang="ES-MX"):
    p = "\n".join('<p class="MsoNormal"><span lang="%s">%s<o:p></o:p></span></p>' % (lang, html_escape(x) if x else "&nbsp;")
                  for x in paras)
    hb = "<br>\n".join("<b>%s</b> %s" % (html_escape(k), html_escape(v)) for k, v in header_block)
    q = "\n".join('<p class="MsoNormal">%s<o:p></o:p></p>' % (html_escape(x) if x else "&nbsp;") for x in quoted_paras)
    return ('<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
            'xmlns:w="urn:schemas-microsoft-com:office:word" xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" '
            'xmlns="http://www.w3.org/TR/REC-html40">\n<head>\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n'
            '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">\n<style><!--\n'
            '/* Font Definitions */\n@font-face\n\t{font-family:"Cambria Math";\n\tpanose-1:2 4 5 3 5 4 6 3 2 4;}\n'
            'p.MsoNormal, li.MsoNormal, div.MsoNormal\n\t{margin:0cm;\n\tfont-size:11.0pt;\n\tfont-family:"Calibri",sans-serif;}\n'
            '--></style>\n</head>\n<body lang="%s" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">\n'
            '<div class="WordSection1">\n%s\n'
            '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">\n'
            '<p class="MsoNormal">%s<o:p></o:p></p>\n</div>\n%s\n</div>\n</body>\n</html>\n'
            % (lang, p, hb, q))


# --- 003 Outlook desktop es: "De: / Enviado el: / Para: / Asunto:" block
hb = [("De:", "Asistente de ventas <ventas@example.com>"), ("Enviado el:", "lunes, 23 de noviembre de 2026 08:02"),
      ("Para:", "Ana López <ana@example.com>"), ("Asunto:", "[deal #1] ACME renewal")]
quoted = ["Hola Ana,", "", "Registré estos cambios en la oportunidad #1 (ACME renewal):", "  Etapa: Demo",
          "", "Responde con \"etapa: perdido\" si ya no sigue."]
new = ["cierre: 15/12/2026", "", "Saludos,", "Ana"]
text = "\n".join(new) + "\n\n" + "\n".join("%s %s" % kv for kv in hb) + "\n\n" + "\n".join(quoted) + "\n"
eml, mid = outlook_desktop("003", "Ana López", "ana@example.com", "RE: [deal #1] ACME renewal", text,
                           word_html(new, hb, quoted))
case("003-outlook-desktop-es-header-block-cierre", eml, {
    "why": "Outlook desktop reply: the quoted part starts with a 'De: / Enviado el: / Para: / Asunto:' block "
           "(no '>' prefixes); only 'cierre: 15/12/2026' above it runs, the quoted 'etapa: perdido' does not",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("close", "15/12/2026")], "cierre: 15/12/2026",
                                 ["Enviado el:", "perdido", "Registré"]),
    "export": {"deals_by_id": {"1": {"stage": "demo", "status": "open", "close_date": "2026-12-15"}},
               "events": {"contains": [{"deal": 1, "type": "close", "by": "ana@example.com", "message_id": mid}],
                          "not_contains": [{"type": "stage", "message_id": mid}]},
               "outbox": confirmed("ana@example.com")}}, crlf=True)


# --- 004 Outlook 365 pt: "De: / Enviado: / Para: / Assunto:" block, utf-8 QP accent in keyword
hb = [("De:", "Asistente de ventas <ventas@example.com>"), ("Enviado:", "segunda-feira, 23 de novembro de 2026 11:02"),
      ("Para:", "Luís Souza <luis@example.com>"), ("Assunto:", "[deal #2] Globex rollout")]
quoted = ["Olá Luís,", "", "Registrei estas mudanças na oportunidade #2 (Globex rollout):", "  Estágio: Qualificar"]
new = ["estágio: proposta", "", "Abraço,", "Luís"]
text = "\n".join(new) + "\n\n________________________________\n" + "\n".join("%s %s" % kv for kv in hb) + "\n\n" + "\n".join(quoted) + "\n"
html = ('<html><head>\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n'
        '<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style>\n</head>\n'
        '<body dir="ltr">\n' +
        "".join('<div class="elementToProof" style="font-family: Aptos, Aptos_EmbeddedFont, Aptos_MSFontService, Calibri, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);">\n%s</div>\n'
                % (html_escape(l) or "<br>") for l in new) +
        '<div id="appendonsend"></div>\n<hr style="display:inline-block;width:98%" tabindex="-1">\n'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">'
        + "<br>\n".join("<b>%s</b> %s" % (k, html_escape(v)) for k, v in hb) +
        '</font>\n<div>&nbsp;</div>\n</div>\n<div>' + "<br>\n".join(html_escape(l) for l in quoted) + '</div>\n</body>\n</html>\n')
eml, mid = outlook_desktop("004", "Luís Souza", "luis@example.com", "RE: [deal #2] Globex rollout", text, html,
                           lang="pt-BR", date="Mon, 23 Nov 2026 14:40:12 +0000")
case("004-outlook365-pt-header-block-estagio", eml, {
    "why": "Outlook 365 reply in Portuguese: 'De: / Enviado: / Para: / Assunto:' block after an underscore rule; "
           "'estágio: proposta' (QP-encoded UTF-8) moves deal 2 to proposal",
    "explain": rep_apply_explain("luis@example.com", 2, "tag", [cmd("stage", "proposta")], "estágio: proposta",
                                 ["Assunto:", "Registrei"]),
    "export": {"deals_by_id": {"2": {"stage": "proposal", "status": "open"}, "1": ORIG["1"]},
               "events": {"contains": [stage_ev(2, "qualify", "proposal", "luis@example.com", mid)]},
               "tasks": {"contains": [dict(PROPOSAL_TASK, deal=2)]},
               "enrollments": {"contains": [{"deal": 2, "sequence": "proposal-followup", "status": "active"}]},
               "outbox": confirmed("luis@example.com")}})

# --- 005 Outlook en "-----Original Message-----"
text = ("probability: 60%\n\nThanks,\nBob\n\n-----Original Message-----\nFrom: Asistente de ventas <ventas@example.com>\n"
        "Sent: Monday, November 23, 2026 8:02 AM\nTo: Bob Smith <bob@example.com>\nSubject: [deal #3] Initech pilot\n\n"
        "Hi Bob,\n\nDeal #3 (Initech pilot) is in stage Demo.\nReply with \"probability: 10%\" to override it.\n")
html = ("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=us-ascii\"></head><body>"
        "<div>probability: 60%</div><div>&nbsp;</div><div>Thanks,</div><div>Bob</div><div>&nbsp;</div>"
        "<div>-----Original Message-----<br>From: Asistente de ventas &lt;ventas@example.com&gt;<br>"
        "Sent: Monday, November 23, 2026 8:02 AM<br>To: Bob Smith &lt;bob@example.com&gt;<br>"
        "Subject: [deal #3] Initech pilot<br><br>Hi Bob,<br><br>Deal #3 (Initech pilot) is in stage Demo.<br>"
        "Reply with &quot;probability: 10%&quot; to override it.</div></body></html>\n")
eml, mid = outlook_desktop("005", "Bob Smith", "bob@example.com", "RE: [deal #3] Initech pilot", text, html,
                           charset="us-ascii", lang="en-US")
case("005-outlook-en-original-message-probability", eml, {
    "why": "Outlook 'Original Message' separator with From:/Sent: block; 'probability: 60%' overrides the "
           "stage probability, the quoted 10% is ignored",
    "explain": rep_apply_explain("bob@example.com", 3, "tag", [cmd("probability", "60%")], "probability: 60%",
                                 ["Original Message", "10%"]),
    "export": {"deals_by_id": {"3": {"stage": "demo", "probability": 60}}, "outbox": confirmed("bob@example.com")}},
    crlf=True)

# --- 006 HTML-only Outlook (OWA) with divRplyFwdMsg
html = ('<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">\n'
        '<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style>\n</head>\n<body dir="ltr">\n'
        '<div style="font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);">\n'
        'fase: negociaci&oacute;n</div>\n'
        '<div style="font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);">\n<br>\n</div>\n'
        '<div style="font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);">\n'
        'Ya tienen la propuesta firmada por compras.</div>\n'
        '<div id="appendonsend"></div>\n<hr style="display:inline-block;width:98%" tabindex="-1">\n'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">'
        '<b>De:</b> Asistente de ventas &lt;ventas@example.com&gt;<br>\n<b>Enviado:</b> lunes, 23 de noviembre de 2026 08:02<br>\n'
        '<b>Para:</b> Ana L&oacute;pez &lt;ana@example.com&gt;<br>\n<b>Asunto:</b> [deal #1] ACME renewal</font>\n'
        '<div>&nbsp;</div>\n</div>\n<div class="BodyFragment"><font size="2"><span style="font-size:11pt;">\n'
        '<div class="PlainText">Hola Ana,<br>\n<br>\nEtapa actual: Demo<br>\netapa: perdido<br>\n</div>\n</span></font></div>\n'
        '</body>\n</html>\n')
h = ("Return-Path: <ana@example.com>\nDelivered-To: ventas@example.com\n" + received_outlook("ana@example.com", "006") +
     auth_results() + dkim("example.com", "selector1", "006") +
     "From: =?iso-8859-1?Q?Ana_L=F3pez?= <ana@example.com>\nTo: Asistente de ventas <ventas@example.com>\n"
     "Subject: RE: [deal #1] ACME renewal\nThread-Topic: [deal #1] ACME renewal\nThread-Index: AQHbPZx%s\n"
     "Date: Mon, 23 Nov 2026 14:45:02 +0000\n"
     "Message-ID: <SA1PR12MB6703C0FFEE0006@SA1PR12MB6703.namprd12.prod.outlook.com>\n"
     "References: <dealmail.0006a@example.com>\nIn-Reply-To: <dealmail.0006a@example.com>\n"
     "Accept-Language: es-MX, en-US\nContent-Language: es-MX\n" % noise("006ti", 20) + ms_noise("006") +
     'Content-Type: text/html; charset="iso-8859-1"\nContent-Transfer-Encoding: quoted-printable\nMIME-Version: 1.0\n\n')
case("006-outlook-html-only-divRplyFwdMsg", h + qp(html, "iso-8859-1"), {
    "why": "HTML-only Outlook on the web reply: converted to text, cut at the divRplyFwdMsg header block; "
           "'fase: negociación' (HTML entity) applies, the quoted 'etapa: perdido' does not",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("stage", "negociación")], "fase: negociación",
                                 ["perdido", "Enviado:"]),
    "export": {"deals_by_id": {"1": {"stage": "negotiation", "status": "open"}},
               "events": {"contains": [stage_ev(1, "demo", "negotiation", "ana@example.com",
                                                "<SA1PR12MB6703C0FFEE0006@SA1PR12MB6703.namprd12.prod.outlook.com>")]},
               "outbox": confirmed("ana@example.com")}})


# --- Apple Mail on iPhone
def iphone(seed, frm_name, frm, subject, body, date, msgid, irt, to="Asistente de ventas <ventas@example.com>",
           xmailer="iPhone Mail (22B91)"):
    h = "Return-Path: <%s>\nDelivered-To: ventas@example.com\n" % frm
    h += received_gmail(frm, seed)
    h += auth_results(dom=frm.split("@")[1])
    h += dkim(frm.split("@")[1], "google", seed, "to:in-reply-to:date:message-id:subject:mime-version:from")
    h += ("Content-Type: text/plain;\n\tcharset=utf-8\nContent-Transfer-Encoding: quoted-printable\n"
          "From: %s\nMime-Version: 1.0 (1.0)\nSubject: %s\nDate: %s\nMessage-Id: %s\nReferences: %s\n"
          "In-Reply-To: %s\nTo: %s\nX-Mailer: %s\n\n" % (name_addr(frm_name, frm), subject, date, msgid, irt, irt, to, xmailer))
    return h + qp(body)


body = ("Ganado: referencia\n\nEnviado desde mi iPhone\n\n> El 23 nov 2026, a las 8:02, Asistente de ventas <ventas@example.com> escribió:\n"
        ">\n> \ufeffHola Ana,\n>\n> La oportunidad #1 (ACME renewal) está en Demo.\n> perdido: precio\n")
mid = "<7E1B2C4D-0007-4A2B-9C3D-5E6F7A8B9C0D@example.com>"
case("007-iphone-es-ganado", iphone("007", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", body,
                                    "Mon, 23 Nov 2026 08:49:30 -0600", mid, "<dealmail.0007@example.com>"), {
    "why": "Apple Mail on iPhone: 'Ganado: referencia' (capitalised keyword) then 'Enviado desde mi iPhone' and a "
           "'>' quote; the deal is won, the quoted 'perdido' is ignored",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("won", "referencia")], "Ganado: referencia",
                                 ["iPhone", "perdido"]),
    "export": {"deals_by_id": {"1": {"stage": "won", "status": "won"}},
               "events": {"contains": [stage_ev(1, "demo", "won", "ana@example.com", mid)]},
               "outbox": confirmed("ana@example.com")}})

body = ("Perdido: preço\n\nEnviado do meu iPhone\n\n> Em 23 de nov. de 2026, à(s) 11:02, Asistente de ventas <ventas@example.com> escreveu:\n"
        ">\n> \ufeffOlá Luís,\n>\n> A oportunidade #2 (Globex rollout) está em Qualificar.\n> ganho: relacionamento\n")
mid = "<0C9B8A7F-0008-4E5D-8C7B-6A5F4E3D2C1B@example.com>"
case("008-iphone-pt-perdido-preco", iphone("008", "Luís Souza", "luis@example.com", "Re: [deal #2] Globex rollout", body,
                                           "Mon, 23 Nov 2026 11:49:30 -0300", mid, "<dealmail.0008@example.com>"), {
    "why": "Apple Mail on iPhone in Portuguese: 'Perdido: preço' then 'Enviado do meu iPhone'; lost with the "
           "canonical reason price",
    "explain": rep_apply_explain("luis@example.com", 2, "tag", [cmd("lost", "preço")], "Perdido: preço",
                                 ["iPhone", "ganho"]),
    "export": {"deals_by_id": {"2": {"stage": "lost", "status": "lost", "reason": "price"}},
               "events": {"contains": [stage_ev(2, "qualify", "lost", "luis@example.com", mid)]},
               "outbox": confirmed("luis@example.com")}})

# --- 009 Thunderbird format=flowed, soft-wrapped note
note = ("Spoke with Jane; they want the pilot extended to the Denver office and need the security "
        "questionnaire answered before legal signs off on the renewal.")
body = ("stage: proposal\n"
        "note: Spoke with Jane; they want the pilot extended to the Denver office and \n"
        "need the security questionnaire answered before legal signs off on the \n"
        "renewal.\n\n"
        "On 11/23/26 8:02 AM, Asistente de ventas wrote:\n"
        "> Hi Bob,\n>\n> Deal #3 (Initech pilot) is in stage Demo. Reply with a line such as \n"
        "> \"stage: lost\" to update it.\n\n"
        "-- \nBob Smith\nAccount Executive, Example Inc.\n")
mid = "<b3f1c2d4-0009-4c1e-9f00-7a1b2c3d4e5f@example.com>"
h = ("Return-Path: <bob@example.com>\nDelivered-To: ventas@example.com\n" +
     RCV_LMTP.format(lid=noise("009l", 22), env="bob@example.com", t="14:53:10") +
     "Received: from [192.168.1.34] (201-141-18-7.example-isp.net [201.141.18.7])\n"
     "\t(Authenticated sender: bob@example.com)\n\tby smtp.example.com (Postfix) with ESMTPSA id 4Ck2Y0Rf1Tz9sRk\n"
     "\tfor <ventas@example.com>; Mon, 23 Nov 2026 14:53:09 +0000 (UTC)\n" +
     dkim("example.com", "mail", "009") +
     "Message-ID: %s\nDate: Mon, 23 Nov 2026 08:53:08 -0600\nMIME-Version: 1.0\n"
     "User-Agent: Mozilla Thunderbird\nSubject: Re: [deal #3] Initech pilot\nContent-Language: en-US\n"
     "To: Asistente de ventas <ventas@example.com>\nReferences: <dealmail.0009@example.com>\n"
     "From: Bob Smith <bob@example.com>\nIn-Reply-To: <dealmail.0009@example.com>\n"
     "Content-Type: text/plain; charset=UTF-8; format=flowed\nContent-Transfer-Encoding: 7bit\n\n" % mid)
case("009-thunderbird-flowed-note", h + body, {
    "why": "Thunderbird format=flowed: the long note line is soft-wrapped (trailing spaces) and must be rejoined; "
           "'stage: lost' in the quote and the '-- ' signature are cut",
    "explain": rep_apply_explain("bob@example.com", 3, "tag", [cmd("stage", "proposal"), cmd("note", note)], None,
                                 ["wrote:", "stage: lost", "Account Executive"]),
    "export": {"deals_by_id": {"3": {"stage": "proposal", "status": "open"}},
               "events": {"contains": [stage_ev(3, "demo", "proposal", "bob@example.com", mid),
                                       {"deal": 3, "type": "note", "message_id": mid}]},
               "outbox": confirmed("bob@example.com")}})

# --- 010 Android Gmail: tarea with @ date
eml, mid = gmail_rep("010", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "tarea: Enviar contrato @ 2026-11-27",
                     ["El lun., 23 nov. 2026 8:02 a. m., Asistente de ventas <ventas@example.com>",
                      "escribió:"], CONF_ES,
                     msgid="<CAJx0010androidQm9vK2p_Vw8nR@mail.gmail.com>")
case("010-android-gmail-tarea-fecha", eml, {
    "why": "Gmail for Android reply (attribution split after the address); 'tarea: Enviar contrato @ 2026-11-27' "
           "creates a task for the owner due that day",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("task", "Enviar contrato @ 2026-11-27")]),
    "export": {"tasks": {"contains": [{"deal": 1, "text": "Enviar contrato", "due": "2026-11-27", "done": False}]},
               "deals_by_id": {"1": ORIG["1"]},
               "outbox": confirmed("ana@example.com")}})

# --- 011 iso-8859-1 QP "Negociación"
body = "Etapa: Negociaci\u00f3n\n\nSaludos,\nAna\n\n-----Mensaje original-----\nDe: Asistente de ventas\nEnviado el: lunes, 23 de noviembre de 2026 08:02\nPara: Ana\nAsunto: [deal #1] ACME renewal\n\nEtapa: Demo\n"
h = ("Return-Path: <ana@example.com>\nDelivered-To: ventas@example.com\n" + received_outlook("ana@example.com", "011") +
     "From: =?iso-8859-1?Q?Ana_L=F3pez?= <ana@example.com>\nTo: <ventas@example.com>\n"
     "Subject: RE: [deal #1] ACME renewal\nDate: Mon, 23 Nov 2026 08:44:00 -0600\n"
     "Message-ID: <000b01db3d9a$4c2f1e20$e48d5a60$@example.com>\nMIME-Version: 1.0\n"
     "X-Mailer: Microsoft Outlook 16.0\nThread-Index: AQHbPZx%s\nContent-Language: es-mx\n"
     'Content-Type: text/plain;\n\tcharset="iso-8859-1"\nContent-Transfer-Encoding: quoted-printable\n\n' % noise("011", 20))
case("011-iso-8859-1-qp-negociacion", h + qp(body, "iso-8859-1"), {
    "why": "Latin-1 quoted-printable body ('Negociaci=F3n'): decoded to UTF-8 and matched to the stage name",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("stage", "Negociación")], "Negociación",
                                 ["Mensaje original"]),
    "export": {"deals_by_id": {"1": {"stage": "negotiation"}},
               "events": {"contains": [stage_ev(1, "demo", "negotiation", "ana@example.com",
                                                "<000b01db3d9a$4c2f1e20$e48d5a60$@example.com>")]},
               "outbox": confirmed("ana@example.com")}})

# --- 012 windows-1252 euro sign
body = "valor: 12.000,50 \u20ac\r\n\r\nUn saludo,\r\nAna\r\n"
h = ("Return-Path: <ana@example.com>\r\nDelivered-To: ventas@example.com\r\n" + received_outlook("ana@example.com", "012").replace("\n", "\r\n") +
     "From: =?Windows-1252?Q?Ana_L=F3pez?= <ana@example.com>\r\nTo: \"Asistente de ventas\" <ventas@example.com>\r\n"
     "Subject: RE: [deal #1] ACME renewal\r\nDate: Mon, 23 Nov 2026 08:40:00 -0600\r\n"
     "Message-ID: <000c01db3d9a$5d3a2b10$17ae8130$@example.com>\r\nMIME-Version: 1.0\r\n"
     "X-Mailer: Microsoft Outlook 16.0\r\nContent-Language: es\r\n"
     'Content-Type: text/plain;\r\n\tcharset="windows-1252"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n')
case("012-windows-1252-euro-valor", (h + quopri.encodestring(body.encode("cp1252")).decode("ascii").replace("\r\n", "\n").replace("\n", "\r\n")).encode(), {
    "why": "windows-1252 QP body with the euro sign as =80: 'valor: 12.000,50 €' sets value 12000.50 EUR (CRLF message)",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("value", "12.000,50 €")]),
    "export": {"deals_by_id": {"1": {"value": 12000.5, "currency": "EUR", "stage": "demo"}},
               "events": {"contains": [{"deal": 1, "type": "value", "by": "ana@example.com"}]},
               "outbox": confirmed("ana@example.com")}})

# --- 013 base64 utf-8 body
body = "estágio: negociação\n\nAtt,\nLuís Souza\nExecutivo de contas\n"
h = ("Return-Path: <luis@example.com>\nDelivered-To: ventas@example.com\n" + received_gmail("luis@example.com", "013") +
     auth_results() + dkim("example.com", "google", "013") +
     "MIME-Version: 1.0\nFrom: %s\nDate: Mon, 23 Nov 2026 11:41:00 -0300\n"
     "Message-ID: <CAB64bodyLuis0013xYz@mail.gmail.com>\nSubject: Re: [deal #2] Globex rollout\n"
     "To: ventas@example.com\nContent-Type: text/plain; charset=\"UTF-8\"\nContent-Transfer-Encoding: base64\n\n"
     % name_addr("Luís Souza", "luis@example.com"))
case("013-base64-utf8-body-negociacao", h + b64(body), {
    "why": "base64-encoded UTF-8 body: 'estágio: negociação' decoded and applied to deal 2",
    "explain": rep_apply_explain("luis@example.com", 2, "tag", [cmd("stage", "negociação")], "negociação"),
    "export": {"deals_by_id": {"2": {"stage": "negotiation"}},
               "events": {"contains": [stage_ev(2, "qualify", "negotiation", "luis@example.com",
                                                "<CAB64bodyLuis0013xYz@mail.gmail.com>")]},
               "outbox": confirmed("luis@example.com")}})

# --- 014 RFC 2047 B subject with [deal #2]
subj = "Re: [deal #2] Proposta Globex – revisão"
eml, mid = gmail_rep("014", "Luís Souza", "luis@example.com",
                     bword(subj[:26]) + "\n " + bword(subj[26:]),
                     "fase: demo\n\nAbraço", ATTR_PT, "Olá Luís,\n\nA oportunidade #2 está em Qualificar.")
case("014-rfc2047-b-subject-deal-tag", eml, {
    "why": "Subject is RFC 2047 base64 (split over two encoded words) and contains '[deal #2]': routed by tag",
    "explain": rep_apply_explain("luis@example.com", 2, "tag", [cmd("stage", "demo")], None, ["escreveu"]),
    "export": {"deals_by_id": {"2": {"stage": "demo"}},
               "events": {"contains": [stage_ev(2, "qualify", "demo", "luis@example.com", mid)]},
               "outbox": confirmed("luis@example.com")}})

# --- 015 RFC 2047 Q subject (iso-8859-1), Monto: $12,000.50
body = "Monto: $12,000.50\n\nAna\n"
h = ("Return-Path: <ana@example.com>\nDelivered-To: ventas@example.com\n" + received_outlook("ana@example.com", "015") +
     auth_results() +
     "From: =?iso-8859-1?Q?Ana_L=F3pez?= <ana@example.com>\nTo: ventas@example.com\n"
     "Subject: =?iso-8859-1?Q?RE:_[deal_#1]_Renovaci=F3n_contrato_ACME?=\n"
     "Date: Mon, 23 Nov 2026 08:38:00 -0600\nMessage-ID: <000f01db3d9a$aa11bb22$cc33dd44$@example.com>\n"
     "MIME-Version: 1.0\nX-Mailer: Microsoft Outlook 16.0\n"
     'Content-Type: text/plain; charset="us-ascii"\nContent-Transfer-Encoding: 7bit\n\n')
case("015-rfc2047-q-subject-monto-usd", h + body, {
    "why": "Subject is RFC 2047 Q-encoded Latin-1 containing '[deal #1]'; 'Monto: $12,000.50' sets USD 12000.50",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("value", "$12,000.50")]),
    "export": {"deals_by_id": {"1": {"value": 12000.5, "currency": "USD"}}, "outbox": confirmed("ana@example.com")}})

# --- 016 HTML-only webmail rep reply (Yahoo-like)
html = ('<html><head></head><body><div class="ydp3f1e yahoo-style-wrap" style="font-family:Helvetica Neue, Helvetica, Arial, sans-serif;font-size:13px;">'
        '<div dir="ltr" data-setdir="false">stage: negotiation</div><div dir="ltr" data-setdir="false">close: 2026-12-15</div>'
        '<div dir="ltr" data-setdir="false"><br></div><div dir="ltr" data-setdir="false">Bob</div></div>'
        '<div id="ydp9c0yahoo_quoted_0016" class="ydp9c0yahoo_quoted"><div style="font-family:\'Helvetica Neue\', Helvetica, Arial, sans-serif;font-size:13px;color:#26282a;">'
        '<div>On Monday, November 23, 2026 at 08:02:11 AM CST, Asistente de ventas &lt;ventas@example.com&gt; wrote:</div>'
        '<div><br></div><div><br></div><div><div dir="ltr">Deal #3 is in stage Demo.<br>stage: lost</div></div></div></div></body></html>\n')
h = ("Return-Path: <bob@example.com>\nDelivered-To: ventas@example.com\n" + received_gmail("bob@example.com", "016") +
     "Date: Mon, 23 Nov 2026 14:55:40 +0000 (UTC)\nFrom: Bob Smith <bob@example.com>\nTo: Asistente de ventas <ventas@example.com>\n"
     "Message-ID: <1638246011.0016.1795445740123@mail.example.com>\nIn-Reply-To: <dealmail.0016@example.com>\n"
     "References: <dealmail.0016@example.com>\nSubject: Re: [deal #3] Initech pilot\nMIME-Version: 1.0\n"
     "Content-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: 7bit\nX-Mailer: WebService/1.1.22876 YMailNorrin\n\n")
case("016-html-only-webmail-stage-close", h + html, {
    "why": "HTML-only rep reply from webmail: converted to text (one command per div), quote after 'wrote:' cut",
    "explain": rep_apply_explain("bob@example.com", 3, "tag", [cmd("stage", "negotiation"), cmd("close", "2026-12-15")],
                                 "stage: negotiation", ["stage: lost", "<div"]),
    "export": {"deals_by_id": {"3": {"stage": "negotiation", "close_date": "2026-12-15"}},
               "outbox": confirmed("bob@example.com")}})

# --- 017 upper-case accent-less keyword
eml, mid = gmail_rep("017", "Luís Souza", "luis@example.com", "Re: [deal #2] Globex rollout",
                     "ESTAGIO: PROPOSTA", ATTR_PT, "Olá Luís,\n\nA oportunidade #2 está em Qualificar.", html=False)
case("017-uppercase-accentless-estagio", eml, {
    "why": "'ESTAGIO: PROPOSTA' in capitals without the accent still matches the stage keyword and the proposal alias",
    "explain": rep_apply_explain("luis@example.com", 2, "tag", [cmd("stage", "PROPOSTA")]),
    "export": {"deals_by_id": {"2": {"stage": "proposal"}},
               "events": {"contains": [stage_ev(2, "qualify", "proposal", "luis@example.com", mid)]},
               "outbox": confirmed("luis@example.com")}})

# --- 018 valor R$ → BRL
eml, mid = gmail_rep("018", "Luís Souza", "luis@example.com", "Re: [deal #2] Globex rollout",
                     "valor: R$ 3.200,00\n\nObrigado!", ATTR_PT, "A oportunidade #2 está em Qualificar.")
case("018-valor-reais-brl", eml, {
    "why": "'valor: R$ 3.200,00' (Brazilian format) sets value 3200 in BRL",
    "explain": rep_apply_explain("luis@example.com", 2, "tag", [cmd("value", "R$ 3.200,00")]),
    "export": {"deals_by_id": {"2": {"value": 3200, "currency": "BRL", "stage": "qualify"}},
               "outbox": confirmed("luis@example.com")}})

# --- 019 fechamento +14d
eml, mid = gmail_rep("019", "Luís Souza", "luis@example.com", "Re: [deal #2] Globex rollout",
                     "fechamento: +14d", ATTR_PT, "A oportunidade #2 está em Qualificar.")
case("019-fechamento-relativo", eml, {
    "why": "'fechamento: +14d' is relative to today (2026-11-23 in America/Mexico_City at DEALMAIL_NOW) → 2026-12-07",
    "explain": rep_apply_explain("luis@example.com", 2, "tag", [cmd("close", "+14d")]),
    "export": {"deals_by_id": {"2": {"close_date": "2026-12-07"}}, "outbox": confirmed("luis@example.com")}})

# --- 020 manager reassigns (asignar)
eml, mid = gmail_rep("020", "María García", "maria@example.com", "Re: [deal #1] ACME renewal",
                     "asignar: bob@example.com\n\nBob lleva las cuentas de Monterrey desde hoy.", ATTR_ES, CONF_ES)
case("020-manager-asignar", eml, {
    "why": "A manager reassigns a deal she does not own: owner changes, the contact's owner follows "
           "(sync_contact_owner default yes)",
    "explain": rep_apply_explain("maria@example.com", 1, "tag", [cmd("owner", "bob@example.com")]),
    "export": {"deals_by_id": {"1": {"owner": "bob@example.com", "stage": "demo"}},
               "contacts": {"contains": [{"email": "cliente@acme.mx", "owner": "bob@example.com"}]},
               "events": {"contains": [{"deal": 1, "type": "owner", "by": "maria@example.com", "message_id": mid}]},
               "outbox": confirmed("maria@example.com")}})

# --- 021 owner reassigns by name with accent (responsable)
eml, mid = gmail_rep("021", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "responsable: Luís Souza\n\nLuís habla portugués con su casa matriz.", ATTR_ES, CONF_ES)
case("021-owner-responsable-by-name", eml, {
    "why": "The current owner hands the deal to another rep named by display name ('responsable: Luís Souza')",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("owner", "Luís Souza")]),
    "export": {"deals_by_id": {"1": {"owner": "luis@example.com"}},
               "events": {"contains": [{"deal": 1, "type": "owner", "by": "ana@example.com"}]},
               "outbox": confirmed("ana@example.com")}})

# --- 022 compartir
eml022, mid022 = gmail_rep("022", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                           "compartir: bob@example.com", ATTR_ES, CONF_ES)
case("022-compartir", eml022, {
    "why": "'compartir: bob@example.com' shares deal 1 with Bob",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("share", "bob@example.com")]),
    "export": {"deals_by_id": {"1": {"owner": "ana@example.com", "shared_with": ["bob@example.com"]}},
               "events": {"contains": [{"deal": 1, "type": "share", "by": "ana@example.com"}]},
               "outbox": confirmed("ana@example.com")}})

# --- 023 shared rep may update
eml, mid = gmail_rep("023", "Bob Smith", "bob@example.com", "Re: [deal #1] ACME renewal",
                     "stage: proposal\n\nSent the quote in English as requested.", ATTR_EN, "Deal #1 is in stage Demo.")
case("023-shared-rep-updates", eml, {
    "why": "Bob may update deal 1 once Ana shared it with him (the 'before' message)",
    "before": ["022-compartir.eml"],
    "explain": rep_apply_explain("bob@example.com", 1, "tag", [cmd("stage", "proposal")]),
    "export": {"deals_by_id": {"1": {"stage": "proposal", "owner": "ana@example.com"}},
               "events": {"contains": [stage_ev(1, "demo", "proposal", "bob@example.com", mid)]},
               "tasks": {"contains": [dict(PROPOSAL_TASK, deal=1)]},
               "outbox": {"count": [[{"kind": "confirmation", "to": "bob@example.com"}, 1]],
                          "not_contains": [{"kind": "error"}]}}})

# --- 024 puntos
eml, mid = gmail_rep("024", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "puntos: +5\n\nAsistieron 4 personas a la demo.", ATTR_ES, CONF_ES)
case("024-puntos", eml, {
    "why": "'puntos: +5' adjusts the lead score",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("score", "+5")]),
    "export": {"deals_by_id": {"1": {"score": 5, "stage": "demo"}}, "outbox": confirmed("ana@example.com")}})

# --- 025 line addressed to another deal
SETUP_ANA2 = [SETUP[0], ["deal", "add", "--title", "Umbrella expansion", "--contact", "it@umbrella.mx",
                         "--owner", "ana@example.com", "--stage", "qualify", "--value", "20000"]]
eml, mid = gmail_rep("025", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "etapa: propuesta\n#2 etapa: demo", ATTR_ES, CONF_ES)
case("025-deal-tag-line-other-deal", eml, {
    "why": "'#2 etapa: demo' addresses deal 2 from a reply about deal 1; both of Ana's deals change",
    "setup": SETUP_ANA2,
    "explain": {"class": "rep", "deal": 1, "outcome": "apply",
                "commands": [cmd("stage", "propuesta"), cmd("stage", "demo")]},
    "export": {"deals_by_id": {"1": {"stage": "proposal"}, "2": {"stage": "demo"}},
               "events": {"contains": [stage_ev(1, "demo", "proposal", "ana@example.com", mid),
                                       stage_ev(2, "qualify", "demo", "ana@example.com", mid)]},
               "outbox": confirmed("ana@example.com")}})

# --- 026 manager answers a digest with 3 deals
digest = ("Resumen del equipo norte — lunes 23 de noviembre de 2026\n\nOportunidades abiertas: 3\n"
          "  [deal #1] ACME renewal — Demo — 12,000\n  [deal #2] Globex rollout — Calificar — 8,000\n"
          "  [deal #3] Initech pilot — Demo — 5,000\n\nResponde con líneas como \"#12 etapa: propuesta\".")
eml, mid = gmail_rep("026", "María García", "maria@example.com",
                     "Re: Resumen diario del equipo norte - 23 nov 2026",
                     "#1 etapa: propuesta\n#2 lost: competitor\n[deal #3] valor: 9500\n\nGracias,\nMaría",
                     ["El lun, 23 nov 2026 a las 7:30, Asistente de ventas (<", "ventas@example.com>) escribió:"], digest)
case("026-manager-digest-reply-three-deals", eml, {
    "why": "A manager answers the digest with tagged lines for three deals; all apply in one transaction",
    "explain": {"class": "rep", "sender": "maria@example.com", "outcome": "apply",
                "commands": [cmd("stage", "propuesta"), cmd("lost", "competitor"), cmd("value", "9500")]},
    "export": {"deals_by_id": {"1": {"stage": "proposal"}, "2": {"stage": "lost", "status": "lost", "reason": "competitor"},
                               "3": {"stage": "demo", "value": 9500}},
               "events": {"contains": [stage_ev(1, "demo", "proposal", "maria@example.com", mid),
                                       stage_ev(2, "qualify", "lost", "maria@example.com", mid)]},
               "outbox": {"not_contains": [{"kind": "error"}], "contains": [{"kind": "confirmation", "to": "maria@example.com"}]}}})

# --- 027 commands only in quoted text
eml, mid = gmail_rep("027", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "Gracias, lo reviso mañana con el cliente.",
                     ATTR_ES, "Registré estos cambios en la oportunidad #1:\netapa: ganado\nvalor: 99000")
case("027-trap-commands-only-quoted", eml, {
    "why": "The only command lines are inside the '>' quote: nothing changes and nothing is confirmed",
    "explain": {"class": "rep", "deal": 1, "commands": {"len": 0}, "outcome": {"one_of": ["ignore", "log"]},
                "visible_text": {"contains_text": "Gracias", "not_contains_text": ["ganado", "99000"]}},
    "export": {"deals_by_id": unchanged("1"), "events": {"not_contains": [{"type": "stage", "message_id": mid}, {"type": "value", "message_id": mid}]},
               "outbox": {"not_contains": [{"kind": "confirmation"}, {"kind": "error"}]}}})

# --- 028 command-looking line in the signature
eml, mid = gmail_rep("028", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "Te confirmo que ya hablé con el cliente.\n\n-- \nAna López | Ejecutiva de ventas\n"
                     "Tel. +52 81 5555 0101\netapa: ganado\nNota: este mensaje es confidencial.",
                     ATTR_ES, CONF_ES)
case("028-trap-command-in-signature", eml, {
    "why": "Lines after the '-- ' signature separator ('etapa: ganado', 'Nota: …confidencial') are not commands",
    "explain": {"class": "rep", "commands": {"len": 0},
                "visible_text": {"contains_text": "hablé con el cliente", "not_contains_text": ["confidencial", "ganado"]}},
    "export": {"deals_by_id": unchanged("1"),
               "events": {"not_contains": [{"type": "stage", "message_id": mid}, {"type": "note", "message_id": mid}]},
               "outbox": {"not_contains": [{"kind": "confirmation"}, {"kind": "error"}]}}})

# --- 029-031 spoofing under require_auth = yes
eml, mid = gmail_rep("029", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: ganado",
                     ATTR_ES, CONF_ES, auth=False, envelope="bounce@mailer.spoof.example.net")
case("029-spoof-no-authentication-results", eml, {
    "why": "require_auth = yes and no Authentication-Results header: From: ana@example.com is not trusted; "
           "no command runs and no lead is created for a rep's own address",
    "config": "auth.conf",
    "explain": {"class": "unknown", "authenticated": False, "outcome": "ignore", "sender": "ana@example.com"},
    "export": {"deals": {"len": 3}, "deals_by_id": unchanged("1"), "contacts": {"len": 3},
               "events": nothing_from(mid), "outbox": {"not_contains": [{"kind": "confirmation"}]}}})

eml, mid = gmail_rep("030", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: ganado",
                     ATTR_ES, CONF_ES, auth=False,
                     extra_headers=auth_results(server="mx.attacker.example.net"))
case("030-spoof-foreign-authserv-id", eml, {
    "why": "require_auth = yes: the only Authentication-Results (dmarc=pass) was added by another authserv-id "
           "(mx.attacker.example.net), so it is ignored",
    "config": "auth.conf",
    "explain": {"class": "unknown", "authenticated": False, "outcome": "ignore"},
    "export": {"deals": {"len": 3}, "deals_by_id": unchanged("1"), "events": nothing_from(mid)}})

eml, mid = gmail_rep("031", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: ganado",
                     ATTR_ES, CONF_ES, auth=False,
                     extra_headers=auth_results(dmarc="pass"))
# topmost header from our server says fail; the forged pass header sits lower (added by the sender)
eml = eml.replace("Delivered-To: ventas@example.com\n",
                  "Delivered-To: ventas@example.com\n" +
                  auth_results(dmarc="fail", dkim_r="none", spf="softfail").replace("dmarc=fail (p=quarantine dis=none)",
                                                                                    "dmarc=fail (p=quarantine dis=quarantine)"), 1)
case("031-spoof-topmost-authresults-fail", eml, {
    "why": "require_auth = yes: the topmost Authentication-Results from mx.example.com says dmarc=fail; a lower "
           "(forged) one claiming pass is ignored",
    "config": "auth.conf",
    "explain": {"class": "unknown", "authenticated": False, "outcome": "ignore"},
    "export": {"deals": {"len": 3}, "deals_by_id": unchanged("1"), "events": nothing_from(mid)}})

eml, mid = gmail_rep("032", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: propuesta",
                     ATTR_ES, CONF_ES, auth=True)
case("032-authenticated-rep-dmarc-pass", eml, {
    "why": "require_auth = yes and Authentication-Results: mx.example.com; dmarc=pass → authenticated, applied",
    "config": "auth.conf",
    "explain": {"class": "rep", "authenticated": True, "deal": 1, "route": "tag", "outcome": "apply"},
    "export": {"deals_by_id": {"1": {"stage": "proposal"}},
               "events": {"contains": [stage_ev(1, "demo", "proposal", "ana@example.com", mid)]},
               "outbox": confirmed("ana@example.com")}})

# --- 033 Reply-To points at a rep, From is a stranger
eml, mid = gmail_rep("033", "Ana Lopez", "ana.lopez.ventas@gmail.com", "Re: [deal #1] ACME renewal",
                     "etapa: ganado\nvalor: 1", ATTR_ES, CONF_ES, auth=False,
                     extra_headers="Reply-To: Ana López <ana@example.com>\n")
case("033-trap-reply-to-rep-from-stranger", eml, {
    "why": "Reply-To never identifies anyone: a gmail.com sender with Reply-To ana@example.com is not a rep; "
           "no command runs on deal 1",
    "explain": {"class": "unknown", "sender": "ana.lopez.ventas@gmail.com",
                "commands": {"not_contains": [{"ok": True}]}},
    "export": {"deals_by_id": unchanged("1"),
               "events": {"not_contains": [{"deal": 1, "type": "stage"}, {"deal": 1, "type": "value"}]},
               "outbox": {"not_contains": [{"kind": "confirmation"}, {"to": "ana.lopez.ventas@gmail.com", "kind": "error"}]}}})

# --- 034 duplicate delivery
eml, mid = gmail_rep("034", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: propuesta",
                     ATTR_ES, CONF_ES)
case("034-duplicate-delivery", eml, {
    "why": "The same message delivered twice: exit 0 both times, applied once (one stage event, one task, "
           "one enrollment, one confirmation)",
    "ingest_times": 2,
    "exit": [0, 0],
    "export": {"deals_by_id": {"1": {"stage": "proposal"}},
               "events": {"count": [[{"type": "stage", "to": "proposal"}, 1]]},
               "tasks": {"count": [[{"deal": 1, "text": "Llamar para confirmar"}, 1]]},
               "enrollments": {"count": [[{"deal": 1, "sequence": "proposal-followup"}, 1]]},
               "outbox": confirmed("ana@example.com")}})

# --- 035 no Message-ID, ingested twice
eml, _ = gmail_rep("035", "Bob Smith", "bob@example.com", "Re: [deal #3] Initech pilot", "stage: negotiation",
                   ATTR_EN, "Deal #3 is in stage Demo.", msgid="none", html=False)
case("035-no-message-id-twice", eml, {
    "why": "A message without Message-ID delivered twice is recognised by the SHA-256 of its bytes: applied once",
    "ingest_times": 2,
    "explain": {"class": "rep", "deal": 3, "outcome": "apply"},
    "export": {"deals_by_id": {"3": {"stage": "negotiation"}},
               "events": {"count": [[{"type": "stage", "to": "negotiation"}, 1]]},
               "outbox": confirmed("bob@example.com")}})


# --- 036-041 auto-replies (unknown senders, so a lead would be visible)
def simple(seed, frm_hdr, env, subject, body, msgid, extra="", date="Mon, 23 Nov 2026 08:31:00 -0600",
           to="ventas@example.com", ctype='text/plain; charset="utf-8"', cte="8bit"):
    h = "Return-Path: <%s>\nDelivered-To: ventas@example.com\n" % env
    h += RCV_LMTP.format(lid=noise(seed + "l", 22), env=env or "", t="14:31:02")
    h += ("Received: from mail.%s (mail.%s [198.51.100.%d])\n\tby mx.example.com (Postfix) with ESMTPS id 4Ck1%s\n"
          "\tfor <ventas@example.com>; Mon, 23 Nov 2026 14:31:01 +0000 (UTC)\n"
          % (env.split("@")[-1] if env else "example.net", env.split("@")[-1] if env else "example.net",
             int(hexnoise(seed, 2), 16) % 200 + 10, hexnoise(seed + "q", 8)))
    h += extra
    h += "From: %s\nTo: %s\nSubject: %s\nDate: %s\n" % (frm_hdr, to, subject, date)
    if msgid:
        h += "Message-ID: %s\n" % msgid
    h += "MIME-Version: 1.0\nContent-Type: %s\nContent-Transfer-Encoding: %s\n\n" % (ctype, cte)
    return h + body


NO_NEW = {"deals": {"len": 3}, "contacts": {"len": 3}, "outbox": {"len": 0}}
AUTO_EXPLAIN = {"class": "auto-reply", "outcome": "ignore"}

case("036-autoreply-auto-submitted", simple(
    "036", "Pedro Ramírez <pedro@proveedora.mx>".replace("Pedro Ramírez", qword("Pedro Ramírez")), "pedro@proveedora.mx",
    qword("Respuesta automática: Cotización"),
    "Gracias por su mensaje. Estaré fuera hasta el 30 de noviembre.\netapa: ganado\n",
    "<auto.0036.1795444262@proveedora.mx>",
    extra="Auto-Submitted: auto-replied\nX-Auto-Response-Suppress: All\n"), {
    "why": "Auto-Submitted: auto-replied from an unknown sender: class auto-reply, no lead, nothing queued",
    "explain": AUTO_EXPLAIN, "export": NO_NEW})

case("037-autoreply-x-autoreply", simple(
    "037", "Joana Prado <joana@cliente-novo.com.br>", "joana@cliente-novo.com.br", "Re: Proposta comercial",
    "Estou em férias até 01/12. Em caso de urgência, ligue para (11) 5555-0100.\n",
    "<autoreply.0037@cliente-novo.com.br>", extra="X-Autoreply: yes\n"), {
    "why": "X-Autoreply header: class auto-reply, no lead",
    "explain": AUTO_EXPLAIN, "export": NO_NEW})

case("038-autoreply-precedence-bulk", simple(
    "038", "Newsletter Tech <news@boletin.example.org>", "bounce-0038@boletin.example.org",
    "Novedades de noviembre", "Las novedades del mes en tecnología para empresas.\n",
    "<0038.news@boletin.example.org>", extra="Precedence: bulk\n"), {
    "why": "Precedence: bulk: never answered, never a lead",
    "explain": {"class": {"one_of": ["auto-reply", "list"]}, "outcome": "ignore"}, "export": NO_NEW})

case("039-autoreply-subject-fuera-de-la-oficina", simple(
    "039", "Laura Vega <laura.vega@constructora-vega.mx>", "laura.vega@constructora-vega.mx",
    "Fuera de la oficina: Cotización de licencias",
    "Hola, estoy fuera de la oficina hasta el lunes 30 de noviembre con acceso limitado al correo.\n",
    "<0039.ooo@constructora-vega.mx>"), {
    "why": "Subject 'Fuera de la oficina' without any auto-reply header: still an auto-reply, no lead",
    "explain": AUTO_EXPLAIN, "export": NO_NEW})

case("040-autoreply-subject-resposta-automatica", simple(
    "040", "Carlos Lima <carlos.lima@logistica-lima.com.br>", "carlos.lima@logistica-lima.com.br",
    qword("Resposta automática: Proposta comercial"),
    "Olá! Estou ausente e retorno no dia 30/11.\n", "<0040.ar@logistica-lima.com.br>"), {
    "why": "Subject 'Resposta automática' (RFC 2047) without headers: auto-reply, no lead",
    "explain": AUTO_EXPLAIN, "export": NO_NEW})

case("041-autoreply-subject-out-of-office", simple(
    "041", "Tom Baker <tom@globalparts.example.com>", "tom@globalparts.example.com",
    "Out of Office: Pricing for 2027",
    "I am out of the office until December 1st with no access to email.\n", "<0041.oof@globalparts.example.com>"), {
    "why": "Subject 'Out of Office' without headers: auto-reply, no lead",
    "explain": AUTO_EXPLAIN, "export": NO_NEW})

# --- 042 DSN bounce
bnd = "4Ck3A01xyz.1795443129/mx.example.com"
dsn = ("Return-Path: <>\nDelivered-To: ventas@example.com\n" +
       RCV_LMTP.format(lid=noise("042", 22), env="", t="14:12:10") +
       "Received: by mx.example.com (Postfix)\n\tid 4Ck3A01xyz; Mon, 23 Nov 2026 14:12:09 +0000 (UTC)\n"
       "Date: Mon, 23 Nov 2026 14:12:09 +0000 (UTC)\nFrom: MAILER-DAEMON@mx.example.com (Mail Delivery System)\n"
       "Subject: Undelivered Mail Returned to Sender\nTo: ventas@example.com\nAuto-Submitted: auto-replied\n"
       "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"%s\"\n"
       "Content-Transfer-Encoding: 8bit\nMessage-Id: <20261123141209.4Ck3A01xyz@mx.example.com>\n\n"
       "This is a MIME-encapsulated message.\n\n--%s\nContent-Description: Notification\n"
       "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
       "This is the mail system at host mx.example.com.\n\nI'm sorry to have to inform you that your message could not\n"
       "be delivered to one or more recipients. It's attached below.\n\n"
       "For further assistance, please send mail to postmaster.\n\n"
       "If you do so, please include this problem report. You can\ndelete your own text from the attached returned message.\n\n"
       "                   The mail system\n\n<cliente@acme.mx>: host mx1.acme.mx[200.57.14.3] said: 550 5.1.1\n"
       "    <cliente@acme.mx>: Recipient address rejected: User unknown in virtual\n"
       "    mailbox table (in reply to RCPT TO command)\n\n"
       "--%s\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
       "Reporting-MTA: dns; mx.example.com\nX-Postfix-Queue-ID: 4Ck3A01xyz\nX-Postfix-Sender: rfc822; ventas@example.com\n"
       "Arrival-Date: Mon, 23 Nov 2026 14:12:07 +0000 (UTC)\n\n"
       "Final-Recipient: rfc822; cliente@acme.mx\nOriginal-Recipient: rfc822;cliente@acme.mx\nAction: failed\n"
       "Status: 5.1.1\nRemote-MTA: dns; mx1.acme.mx\nDiagnostic-Code: smtp; 550 5.1.1 <cliente@acme.mx>: Recipient\n"
       "    address rejected: User unknown in virtual mailbox table\n\n"
       "--%s\nContent-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n"
       "Content-Transfer-Encoding: 8bit\n\nReturn-Path: <ventas@example.com>\n"
       "Received: from localhost (localhost [127.0.0.1])\n\tby mx.example.com (Postfix) with ESMTP id 4Ck3A01xyz\n"
       "\tfor <cliente@acme.mx>; Mon, 23 Nov 2026 14:12:07 +0000 (UTC)\n"
       "From: Asistente de ventas <ventas@example.com>\nTo: cliente@acme.mx\n"
       "Subject: =?UTF-8?Q?Seguimiento_de_su_propuesta?=\nDate: Mon, 23 Nov 2026 08:12:06 -0600\n"
       "Message-ID: <dealmail.drip.7f3a9c1e@example.com>\nAuto-Submitted: auto-generated\n"
       "List-Unsubscribe: <mailto:ventas+u.Zm9vYmFy@example.com>\n\n--%s--\n" % (bnd, bnd, bnd, bnd, bnd))
case("042-dsn-bounce-contact", dsn, {
    "why": "Postfix DSN (Return-Path <>, multipart/report) for cliente@acme.mx: class bounce, the contact is "
           "marked bouncing, nothing is answered",
    "explain": {"class": "bounce", "outcome": {"one_of": ["log", "ignore"]}},
    "export": {"contacts": {"contains": [{"email": "cliente@acme.mx", "bouncing": True},
                                         {"email": "jane@initech.com", "bouncing": False}]},
               "deals": {"len": 3},
               "outbox": {"not_contains": [{"to": "MAILER-DAEMON@mx.example.com"}, {"to": "mailer-daemon@mx.example.com"},
                                           {"to": "cliente@acme.mx"}, {"kind": "confirmation"}, {"kind": "error"},
                                           {"kind": "reply"}]}}})

# --- 043 mailing list
case("043-mailing-list", simple(
    "043", "Rafael Torres <rafa@distribuidora-torres.mx>", "ventas-latam-bounces+ventas=example.com@lists.example.org",
    "[ventas-latam] =?UTF-8?Q?=C2=BFAlguien_usa_CRM_por_correo=3F?=",
    "Hola a todos, ¿alguien tiene experiencia con un CRM que se actualice por correo?\n\n"
    "_______________________________________________\nventas-latam mailing list\nventas-latam@lists.example.org\n"
    "https://lists.example.org/mailman/listinfo/ventas-latam\n",
    "<0043.list@distribuidora-torres.mx>", to="ventas-latam@lists.example.org",
    extra="List-Id: Ventas LATAM <ventas-latam.lists.example.org>\nList-Unsubscribe: <https://lists.example.org/mailman/options/ventas-latam>,\n <mailto:ventas-latam-request@lists.example.org?subject=unsubscribe>\n"
          "List-Post: <mailto:ventas-latam@lists.example.org>\nList-Help: <mailto:ventas-latam-request@lists.example.org?subject=help>\n"
          "Errors-To: ventas-latam-bounces+ventas=example.com@lists.example.org\nSender: \"ventas-latam\" <ventas-latam-bounces+ventas=example.com@lists.example.org>\n"), {
    "why": "Mailing-list message (List-Id): class list, never a lead, never answered",
    "explain": {"class": "list", "outcome": "ignore"}, "export": NO_NEW})

# --- 044 truncated MIME (no closing boundary)
eml, mid = gmail_rep("044", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: propuesta",
                     ATTR_ES, CONF_ES)
bnd = eml.split('boundary="')[1].split('"')[0]
eml = eml[:eml.index("--%s\nContent-Type: text/html" % bnd)] + "--%s\nContent-Type: text/html; charset=\"UTF-8\"\nContent-Transfer-Encoding: quoted-printable\n\n<div dir=3D\"ltr\">etapa: propuesta</div><br><div class=3D\"gmail_quote\"><div dir=3D\"ltr\" class=3D\"gmail_at" % bnd
case("044-truncated-mime-no-closing-boundary", eml, {
    "why": "multipart/alternative cut off inside the HTML part (no closing boundary): still parsed, the text "
           "part's command applies",
    "explain": {"class": "rep", "deal": 1, "outcome": "apply", "commands": [cmd("stage", "propuesta")]},
    "export": {"deals_by_id": {"1": {"stage": "proposal"}}, "quarantine": {"len": 0},
               "outbox": confirmed("ana@example.com")}})

# --- 045 2 MB PDF attachment
pdf = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
                b"4 0 obj\n<< /Length 2000000 >>\nstream\n")
line = b"0.12 0.34 0.56 rg 72 720 468 12 re f BT /F1 9 Tf 72 700 Td (Initech pilot SOW) Tj ET\n"  # 87 bytes
while len(pdf) < 2 * 1024 * 1024:
    pdf += line
pdf += b"endstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
bnd = "000000000000f00dcafe0045beef"
h = ("Return-Path: <bob@example.com>\nDelivered-To: ventas@example.com\n" + received_gmail("bob@example.com", "045") +
     auth_results() + dkim("example.com", "google", "045") +
     "MIME-Version: 1.0\nFrom: Bob Smith <bob@example.com>\nDate: Mon, 23 Nov 2026 08:50:00 -0600\n"
     "Message-ID: <CAbigPDF0045attachmentBob@mail.gmail.com>\nSubject: Re: [deal #3] Initech pilot - SOW attached\n"
     "To: Asistente de ventas <ventas@example.com>\nContent-Type: multipart/mixed; boundary=\"%s\"\n\n" % bnd)
alt = "000000000000abcd00450045alt0"
body = ("--%s\nContent-Type: multipart/alternative; boundary=\"%s\"\n\n--%s\n%s\n--%s\n%s\n--%s--\n"
        "--%s\nContent-Type: application/pdf; name=\"Initech_SOW_v3.pdf\"\nContent-Disposition: attachment; filename=\"Initech_SOW_v3.pdf\"\n"
        "Content-Transfer-Encoding: base64\nContent-ID: <f_m3x0045>\nX-Attachment-Id: f_m3x0045\n\n%s--%s--\n"
        % (bnd, alt, alt, part("text/plain", "stage: proposal\nvalue: 18000\n\nSOW attached.\n\nBob"), alt,
           part("text/html", '<div dir="ltr">stage: proposal<div>value: 18000</div><div><br></div><div>SOW attached.</div><div><br></div><div>Bob</div></div>'),
           alt, bnd, b64(bytes(pdf)), bnd))
case("045-big-pdf-attachment", h + body, {
    "why": "A 2 MB base64 PDF attachment next to the text part: the text part's commands apply",
    "explain": {"class": "rep", "deal": 3, "outcome": "apply", "commands": [cmd("stage", "proposal"), cmd("value", "18000")],
                "visible_text": {"not_contains_text": "JVBERi0"}},
    "export": {"deals_by_id": {"3": {"stage": "proposal", "value": 18000}}, "quarantine": {"len": 0},
               "outbox": confirmed("bob@example.com")}})

# --- 046 unknown sender → new lead
lead = simple("046", "%s <carlos@stark-industrias.mx>" % qword("Carlos Méndez"), "carlos@stark-industrias.mx",
              qword("Cotización de 40 licencias"),
              "Buenas tardes,\n\nNos interesa una cotización para 40 licencias anuales. ¿Pueden llamarme?\n\n"
              "Carlos Méndez\nGerente de TI, Stark Industrias\n", "<0046.lead@stark-industrias.mx>",
              extra="Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=stark-industrias.mx\n")
case("046-unknown-sender-new-lead", lead, {
    "why": "Mail from an unknown sender creates a contact and a deal in the default stage 'new', owned by a rep "
           "of team norte chosen by round-robin (never the manager)",
    "explain": {"class": "unknown", "sender": "carlos@stark-industrias.mx", "route": "new-lead", "outcome": "lead",
                "deal": None},
    "export": {"deals": {"len": 4},
               "deals_by_id": {"4": {"stage": "new", "status": "open", "contact": "carlos@stark-industrias.mx",
                                     "owner": {"one_of": ["ana@example.com", "luis@example.com", "bob@example.com"]}}},
               "contacts": {"contains": [{"email": "carlos@stark-industrias.mx"}], "len": 4},
               "outbox": {"not_contains": [{"kind": "confirmation"}, {"kind": "error"}]}}})

# --- 047 known contact writes a fresh mail (open active deal)
msg = simple("047", "Cliente ACME <cliente@acme.mx>", "cliente@acme.mx", "Otra consulta sobre licencias",
             "Hola Ana,\n\n¿Podemos agregar 10 usuarios más a la renovación?\n\nSaludos,\nRoberto\n",
             "<0047.contact@acme.mx>")
case("047-known-contact-no-second-deal", msg, {
    "why": "A contact with an open deal in an active stage (demo) writes without a tag: no second deal; the mail "
           "is logged on deal 1 (event email), the deal scores +2 and the owner is notified",
    "explain": {"class": "contact", "sender": "cliente@acme.mx", "deal": 1, "route": "contact", "outcome": "log",
                "commands": {"len": 0}},
    "export": {"deals": {"len": 3}, "deals_by_id": {"1": {"stage": "demo", "score": 2}},
               "events": {"contains": [{"deal": 1, "type": "email", "message_id": "<0047.contact@acme.mx>"}]},
               "outbox": {"contains": [{"kind": "notification", "to": "ana@example.com"}],
                          "not_contains": [{"to": "cliente@acme.mx"}, {"kind": "confirmation"}]}}})

# --- 048 contact replies on the deal thread (tagged subject)
body = ("Olá Luís,\n\nRecebemos a proposta. Vamos avaliar com a diretoria na quinta-feira.\n\nAtenciosamente,\n"
        "Fernanda Costa\nCompras - Globex Brasil\n\nEm seg., 23 de nov. de 2026 às 10:15, Luís Souza <luis@example.com> escreveu:\n"
        "> Fernanda, segue a proposta.\n")
msg = simple("048", "Fernanda Costa <compras@globex.com.br>", "compras@globex.com.br",
             "Re: [deal #2] Globex rollout", qp(body), "<0048.reply@globex.com.br>",
             ctype='text/plain; charset="UTF-8"', cte="quoted-printable",
             extra="In-Reply-To: <dealmail.0048@example.com>\n")
case("048-contact-reply-tagged", msg, {
    "why": "The deal's own contact replies with the [deal #2] tag: logged as an email event, score +2, the owner "
           "(luis) gets a notification, nothing is answered to the contact",
    "explain": {"class": "contact", "deal": 2, "route": "tag", "outcome": "log"},
    "export": {"deals": {"len": 3}, "deals_by_id": {"2": {"stage": "qualify", "score": 2}},
               "events": {"contains": [{"deal": 2, "type": "email", "message_id": "<0048.reply@globex.com.br>"}]},
               "outbox": {"contains": [{"kind": "notification", "to": "luis@example.com"}],
                          "not_contains": [{"to": "compras@globex.com.br"}]}}})

# --- 049 unknown sender with commands on a deal thread
msg = simple("049", "Competidor <sales@competidor.example.com>", "sales@competidor.example.com",
             "Re: [deal #1] ACME renewal", "etapa: perdido\nperdido: precio\nvalor: 1\n",
             "<0049.intruder@competidor.example.com>")
case("049-trap-unknown-sender-commands-on-thread", msg, {
    "why": "An unknown sender writing command lines with a deal tag: commands never run, deal 1 is untouched",
    "explain": {"class": "unknown", "commands": {"not_contains": [{"ok": True}]}},
    "export": {"deals_by_id": unchanged("1"),
               "events": {"not_contains": [{"deal": 1, "type": "stage"}, {"deal": 1, "type": "value"}]},
               "outbox": {"not_contains": [{"kind": "confirmation"}, {"kind": "error"}]}}})

# --- 050 stage → lost without reason
eml, mid = gmail_rep("050", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: perdido",
                     ATTR_ES, CONF_ES)
case("050-refuse-stage-lost-without-reason", eml, {
    "why": "Moving to the loss stage without a reason (required) is refused: exit 0, deal unchanged, one error "
           "reply to the rep",
    "explain": {"class": "rep", "deal": 1, "outcome": "refuse", "commands": [cmd("stage", "perdido", ok=False)]},
    "export": {"deals_by_id": unchanged("1"), "events": nothing_from(mid), "outbox": refused("ana@example.com")}})

eml, mid = gmail_rep("051", "Bob Smith", "bob@example.com", "Re: [deal #3] Initech pilot", "lost:\n\nThey went dark.",
                     ATTR_EN, "Deal #3 is in stage Demo.")
case("051-refuse-lost-empty-reason", eml, {
    "why": "'lost:' with no reason is refused (require_lost_reason): exit 0, deal unchanged, error to Bob",
    "explain": {"class": "rep", "deal": 3, "outcome": "refuse", "commands": [{"keyword": "lost", "ok": False}]},
    "export": {"deals_by_id": unchanged("3"), "events": nothing_from(mid), "outbox": refused("bob@example.com")}})

# --- 052 unknown stage
eml, mid = gmail_rep("052", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: propusta",
                     ATTR_ES, CONF_ES)
case("052-refuse-unknown-stage-typo", eml, {
    "why": "'etapa: propusta' is not a stage: refused, explain shows the command error, error reply queued",
    "explain": {"class": "rep", "deal": 1, "outcome": "refuse",
                "commands": [{"keyword": "stage", "value": "propusta", "ok": False}]},
    "export": {"deals_by_id": unchanged("1"), "events": nothing_from(mid), "enrollments": {"len": 0},
               "tasks": {"len": 0}, "outbox": refused("ana@example.com")}})

# --- 053 rep on another rep's deal
eml, mid = gmail_rep("053", "Bob Smith", "bob@example.com", "Re: [deal #1] ACME renewal", "stage: proposal",
                     ATTR_EN, "Deal #1 is in stage Demo.")
case("053-refuse-rep-not-owner", eml, {
    "why": "Bob tries to move Ana's deal (not shared with him): refused, error to Bob",
    "explain": {"class": "rep", "deal": 1, "outcome": "refuse", "commands": [{"keyword": "stage", "ok": False}]},
    "export": {"deals_by_id": unchanged("1"), "events": nothing_from(mid), "outbox": refused("bob@example.com")}})

eml, mid = gmail_rep("054", "María García", "maria@example.com", "Re: [deal #2] Globex rollout",
                     "etapa: negociación", ATTR_ES, "La oportunidad #2 está en Calificar.")
case("054-manager-moves-any-deal", eml, {
    "why": "The manager may move any deal: applied to Luís's deal 2",
    "explain": rep_apply_explain("maria@example.com", 2, "tag", [cmd("stage", "negociación")]),
    "export": {"deals_by_id": {"2": {"stage": "negotiation", "owner": "luis@example.com"}},
               "events": {"contains": [stage_ev(2, "qualify", "negotiation", "maria@example.com", mid)]},
               "outbox": confirmed("maria@example.com")}})

# --- 055 won + value together
eml, mid = gmail_rep("055", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "stage: won\nvalor: 50.000 EUR\n\n¡Firmado!", ATTR_ES, CONF_ES)
case("055-won-and-value-together", eml, {
    "why": "'stage: won' and 'valor: 50.000 EUR' in one message apply together",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("stage", "won"), cmd("value", "50.000 EUR")]),
    "export": {"deals_by_id": {"1": {"stage": "won", "status": "won", "value": 50000, "currency": "EUR"}},
               "events": {"contains": [stage_ev(1, "demo", "won", "ana@example.com", mid)]},
               "outbox": confirmed("ana@example.com")}})

# --- 056 one of two bad → nothing
eml, mid = gmail_rep("056", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "etapa: propuesta\nvalor: doce mil", ATTR_ES, CONF_ES)
case("056-all-or-nothing-one-bad", eml, {
    "why": "All-or-nothing: the stage line is fine but 'valor: doce mil' is unreadable, so neither applies",
    "explain": {"class": "rep", "outcome": "refuse",
                "commands": [cmd("stage", "propuesta", ok=True), {"keyword": "value", "ok": False}]},
    "export": {"deals_by_id": unchanged("1"), "events": nothing_from(mid), "tasks": {"len": 0},
               "enrollments": {"len": 0}, "outbox": refused("ana@example.com")}})

# --- 057 garbage bytes
g = bytearray()
i = 0
while len(g) < 4096:
    g += hashlib.sha512(b"garbage%d" % i).digest()
    i += 1
g = b"\x00\x89PNG\r\n\x1a\n\x00\x00" + bytes(g)
case("057-garbage-no-headers", bytes(g), {
    "why": "Binary garbage with no header: exit 65 (EX_DATAERR), kept in the quarantine table",
    "exit": 65,
    "explain": {"outcome": "quarantine"},
    "export": {"quarantine": {"len": 1}, "deals": {"len": 3}, "outbox": {"len": 0}}})

# --- 058 deal: line creates a deal
eml, mid = gmail_rep("058", "Ana López", "ana@example.com", "Nueva oportunidad",
                     "deal: Nuevo proyecto Globex\nvalor: 30000", None, "", html=True,
                     irt="<none-0058@example.com>")
eml = eml.replace("References: <none-0058@example.com>\nIn-Reply-To: <none-0058@example.com>\n", "")
case("058-deal-line-creates-deal", eml, {
    "why": "A rep's 'deal: Nuevo proyecto Globex' creates a deal owned by the rep (route deal-line)",
    "explain": {"class": "rep", "route": "deal-line", "outcome": "apply",
                "commands": {"contains": [{"keyword": "deal", "value": "Nuevo proyecto Globex", "ok": True}]}},
    "export": {"deals": {"len": 4},
               "deals_by_id": {"4": {"title": "Nuevo proyecto Globex", "owner": "ana@example.com", "status": "open",
                                     "value": 30000}},
               "outbox": confirmed("ana@example.com")}})

# --- 059 rep forwards a client conversation
fwd = ("etapa: negociación\n\n---------- Forwarded message ---------\n"
       "From: Roberto Díaz <cliente@acme.mx>\nDate: Mon, Nov 23, 2026 at 7:45 AM\n"
       "Subject: Re: Propuesta renovación ACME\nTo: Ana López <ana@example.com>\n\n\n"
       "Ana, revisamos la propuesta; queremos negociar el precio por volumen.\n\nRoberto\n")
eml, mid = gmail_rep("059", "Ana López", "ana@example.com", "Fwd: Re: Propuesta renovación ACME",
                     fwd.rstrip("\n"), None, "", irt="<none-0059@example.com>")
eml = eml.replace("References: <none-0059@example.com>\nIn-Reply-To: <none-0059@example.com>\n", "")
eml = eml.replace("Subject: Fwd: Re: Propuesta renovación ACME", "Subject: " + qword("Fwd: Re: Propuesta renovación ACME"))
case("059-rep-forwards-client-conversation", eml, {
    "why": "Ana forwards the client's mail (Gmail forwarded-message block, From: cliente@acme.mx) with "
           "'etapa: negociación' above: applied to the client's open deal 1 (route contact)",
    "explain": {"class": "rep", "deal": 1, "route": "contact", "outcome": "apply",
                "commands": [cmd("stage", "negociación")]},
    "export": {"deals": {"len": 3}, "deals_by_id": {"1": {"stage": "negotiation"}},
               "events": {"contains": [stage_ev(1, "demo", "negotiation", "ana@example.com", mid)]},
               "outbox": confirmed("ana@example.com")}})

# --- 060-062 subject tag variants
eml, mid = gmail_rep("060", "María García", "maria@example.com", "Re: [oportunidad #2] Globex rollout",
                     "probabilidad: 70%", ATTR_ES, "La oportunidad #2 está en Calificar.")
case("060-subject-tag-oportunidad", eml, {
    "why": "Subject tag '[oportunidad #2]' routes to deal 2",
    "explain": rep_apply_explain("maria@example.com", 2, "tag", [cmd("probability", "70%")]),
    "export": {"deals_by_id": {"2": {"probability": 70}}, "outbox": confirmed("maria@example.com")}})

eml, mid = gmail_rep("061", "Luís Souza", "luis@example.com", "Re: [#2] Globex rollout",
                     "probabilidade: 40%", ATTR_PT, "A oportunidade #2 está em Qualificar.")
case("061-subject-tag-hash-only", eml, {
    "why": "Subject tag '[#2]' routes to deal 2",
    "explain": rep_apply_explain("luis@example.com", 2, "tag", [cmd("probability", "40%")]),
    "export": {"deals_by_id": {"2": {"probability": 40}}, "outbox": confirmed("luis@example.com")}})

eml, mid = gmail_rep("062", "Luís Souza", "luis@example.com", "Re: [oportunidade #2] Globex rollout",
                     "tarefa: Enviar proposta revisada @ 30/11/2026", ATTR_PT, "A oportunidade #2 está em Qualificar.")
case("062-subject-tag-oportunidade-tarefa", eml, {
    "why": "Subject tag '[oportunidade #2]'; 'tarefa: … @ 30/11/2026' creates a task due 2026-11-30",
    "explain": rep_apply_explain("luis@example.com", 2, "tag", [cmd("task", "Enviar proposta revisada @ 30/11/2026")]),
    "export": {"tasks": {"contains": [{"deal": 2, "text": "Enviar proposta revisada", "due": "2026-11-30"}]},
               "outbox": confirmed("luis@example.com")}})

# --- 063 rep Bcc's the assistant on a mail to the client
eml, mid = gmail_rep("063", "Ana López", "ana@example.com", "Propuesta ACME 2027",
                     "Roberto,\n\nTe comparto la propuesta actualizada con el descuento por volumen.\n\nSaludos,\nAna",
                     None, "", to="Roberto Díaz <cliente@acme.mx>".replace("Roberto Díaz", qword("Roberto Díaz")),
                     irt="<none-0063@example.com>")
eml = eml.replace("References: <none-0063@example.com>\nIn-Reply-To: <none-0063@example.com>\n", "")
case("063-rep-bcc-conversation-logged", eml, {
    "why": "Ana writes to her client and Bcc's the assistant (To: is the client only): the conversation is "
           "logged on the client's open deal as an email event; no confirmation or error",
    "explain": {"class": "rep", "deal": 1, "route": "contact", "outcome": "log", "commands": {"len": 0}},
    "export": {"deals": {"len": 3}, "deals_by_id": {"1": {"stage": "demo"}},
               "events": {"contains": [{"deal": 1, "type": "email", "message_id": mid}]},
               "outbox": {"not_contains": [{"kind": "error"}, {"to": "cliente@acme.mx"}]}}})

# --- 064 mbox From_ line + CRLF
eml, mid = gmail_rep("064", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: propuesta",
                     ATTR_ES, CONF_ES)
case("064-mbox-from-line-crlf", "From ana@example.com  Mon Nov 23 14:58:03 2026\n" + eml, {
    "why": "A leading mbox 'From ' line and CRLF line ends (as some MTAs pipe it) are accepted",
    "explain": {"class": "rep", "deal": 1, "outcome": "apply"},
    "export": {"deals_by_id": {"1": {"stage": "proposal"}},
               "events": {"contains": [stage_ev(1, "demo", "proposal", "ana@example.com", mid)]},
               "outbox": confirmed("ana@example.com")}}, crlf=True)

# --- 065 nota
eml, mid = gmail_rep("065", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "nota: El cliente pide 15% de descuento por pago anual", ATTR_ES, CONF_ES)
case("065-nota", eml, {
    "why": "'nota: …' adds a note event; the deal's stage is unchanged",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("note", "El cliente pide 15% de descuento por pago anual")]),
    "export": {"deals_by_id": {"1": {"stage": "demo"}},
               "events": {"contains": [{"deal": 1, "type": "note", "by": "ana@example.com", "message_id": mid}]},
               "outbox": confirmed("ana@example.com")}})

# --- 066 same Message-ID redelivered with a different Received chain
eml1, mid = gmail_rep("066", "Bob Smith", "bob@example.com", "Re: [deal #3] Initech pilot", "stage: proposal",
                      ATTR_EN, "Deal #3 is in stage Demo.")
eml2 = eml1.replace("Delivered-To: ventas@example.com\n",
                    "Delivered-To: ventas@example.com\nX-Original-To: ventas@example.com\n"
                    "Received: from backup-mx.example.com (backup-mx.example.com [192.0.2.25])\n"
                    "\tby mx.example.com (Postfix) with ESMTPS id 4Ck9Zz0066\n"
                    "\tfor <ventas@example.com>; Mon, 23 Nov 2026 14:59:40 +0000 (UTC)\n", 1)
CASES.append(("066a-redelivery-first-copy", eml1.encode(), None))
case("066-redelivery-different-received", eml2, {
    "why": "The same message (same Message-ID) arrives again via the backup MX with different Received lines: "
           "not applied a second time",
    "before": ["066a-redelivery-first-copy.eml"],
    "explain": {"class": "rep", "deal": 3},
    "export": {"deals_by_id": {"3": {"stage": "proposal"}},
               "events": {"count": [[{"type": "stage", "to": "proposal"}, 1]]},
               "tasks": {"count": [[{"deal": 3}, 1]]},
               "outbox": confirmed("bob@example.com")}})

# --- 067 contact reply stops the sequence
eml, _ = gmail_rep("067a", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: propuesta",
                   ATTR_ES, CONF_ES)
CASES.append(("067a-ana-moves-to-proposal", eml.encode(), None))
msg = simple("067", "Cliente ACME <cliente@acme.mx>", "cliente@acme.mx", "Re: Seguimiento de su propuesta",
             "Gracias, la estamos revisando. Les confirmo el jueves.\n\nRoberto\n", "<0067.reply@acme.mx>")
case("067-contact-reply-stops-sequence", msg, {
    "why": "After the deal entered proposal (sequence active), the contact's reply stops the sequence and "
           "adds +2 score",
    "before": ["067a-ana-moves-to-proposal.eml"],
    "explain": {"class": "contact", "deal": 1, "outcome": "log"},
    "export": {"deals_by_id": {"1": {"stage": "proposal", "score": 2}},
               "enrollments": {"len": 1, "not_contains": [{"status": "active"}]},
               "events": {"contains": [{"deal": 1, "type": "email", "message_id": "<0067.reply@acme.mx>"}]}}})

# --- 068 bounce stops the sequence
CASES.append(("068-dsn-bounce-stops-sequence", dsn.encode(), {
    "why": "After the deal entered proposal, a DSN for the contact marks it bouncing and stops the sequence",
    "config": "dealmail.conf", "setup": SETUP,
    "before": ["067a-ana-moves-to-proposal.eml"],
    "explain": {"class": "bounce"},
    "export": {"contacts": {"contains": [{"email": "cliente@acme.mx", "bouncing": True}]},
               "enrollments": {"len": 1, "not_contains": [{"status": "active"}]}}}))

# --- 069 Outlook "De:/Enviado:" with a command and a wrapped attribution of Gmail es in HTML only? -> ganamos + compartir
eml, mid = gmail_rep("069", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "Ganamos: relationship\nCompartir: Luís Souza", ATTR_ES, CONF_ES)
case("069-ganamos-compartir-by-name", eml, {
    "why": "'Ganamos:' (won alias) with a reason and 'Compartir:' a rep by display name, capitalised keywords",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("won", "relationship"), cmd("share", "Luís Souza")]),
    "export": {"deals_by_id": {"1": {"stage": "won", "status": "won", "reason": "relationship",
                                     "shared_with": ["luis@example.com"]}},
               "outbox": confirmed("ana@example.com")}})


# --- 070 display name carries a rep's address, real address is a stranger
eml, mid = gmail_rep("070", "ana@example.com", "ventas.mx.2026@gmail.com", "Re: [deal #1] ACME renewal",
                     "etapa: ganado", ATTR_ES, CONF_ES, auth=False)
case("070-trap-display-name-is-rep-address", eml, {
    "why": "From: \"ana@example.com\" <ventas.mx.2026@gmail.com>: a rep is identified by address only, never by "
           "display name; no command runs",
    "explain": {"class": "unknown", "sender": "ventas.mx.2026@gmail.com",
                "commands": {"not_contains": [{"ok": True}]}},
    "export": {"deals_by_id": unchanged("1"),
               "events": {"not_contains": [{"deal": 1, "type": "stage"}]},
               "outbox": {"not_contains": [{"kind": "confirmation"}]}}})

# --- 071 latin-9 euro sign (0xA4)
body = "valor: 9.500 \u20ac\n\nAna\n"
h = ("Return-Path: <ana@example.com>\nDelivered-To: ventas@example.com\n" + received_gmail("ana@example.com", "071") +
     "From: =?ISO-8859-15?Q?Ana_L=F3pez?= <ana@example.com>\nTo: ventas@example.com\n"
     "Subject: Re: [deal #1] ACME renewal\nDate: Mon, 23 Nov 2026 08:35:00 -0600\n"
     "Message-ID: <20261123143500.0071.ana@portatil-ana.example.com>\nMIME-Version: 1.0\n"
     "User-Agent: Mutt/2.2.9 (2022-11-12)\n"
     'Content-Type: text/plain; charset=iso-8859-15\nContent-Disposition: inline\nContent-Transfer-Encoding: 8bit\n\n')
case("071-iso-8859-15-8bit-euro", h.encode("ascii") + body.encode("iso-8859-15"), {
    "why": "mutt, 8bit ISO-8859-15 body: the euro sign is byte 0xA4 (not the Latin-1 currency sign); "
           "'valor: 9.500 €' sets 9500 EUR",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("value", "9.500 \u20ac")]),
    "export": {"deals_by_id": {"1": {"value": 9500, "currency": "EUR"}}, "outbox": confirmed("ana@example.com")}})

# --- 072 Outlook with inline signature logo: mixed > related > alternative
png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
bm = "_006_SA1PR12MB6703072SA1PR12MB6703namp_"
br = "_005_SA1PR12MB6703072SA1PR12MB6703namp_"
ba = "_000_SA1PR12MB6703072SA1PR12MB6703namp_"
text = ("etapa: negociación\nvalor: 14.500\n\nSaludos,\n\nAna López\nEjecutiva de ventas | Example\n[cid:image001.png@01DB3D9A.5C2F1E20]\n\n"
        "De: Asistente de ventas <ventas@example.com>\nEnviado el: lunes, 23 de noviembre de 2026 08:02\n"
        "Para: Ana López <ana@example.com>\nAsunto: [deal #1] ACME renewal\n\nEtapa: Demo\n")
html = word_html(["etapa: negociación", "valor: 14.500", "", "Saludos,", "", "Ana López", "Ejecutiva de ventas | Example"],
                 [("De:", "Asistente de ventas <ventas@example.com>"), ("Enviado el:", "lunes, 23 de noviembre de 2026 08:02"),
                  ("Para:", "Ana López <ana@example.com>"), ("Asunto:", "[deal #1] ACME renewal")], ["Etapa: Demo"])
html = html.replace("Ejecutiva de ventas | Example<o:p></o:p></span></p>",
                    'Ejecutiva de ventas | Example<o:p></o:p></span></p>\n<p class="MsoNormal"><img width="120" height="40" '
                    'style="width:1.25in;height:.4166in" id="Imagen_x0020_1" src="cid:image001.png@01DB3D9A.5C2F1E20"></p>')
h = ("Return-Path: <ana@example.com>\nDelivered-To: ventas@example.com\n" + received_outlook("ana@example.com", "072") +
     auth_results() + dkim("example.com", "selector1", "072") +
     "From: %s\nTo: Asistente de ventas <ventas@example.com>\nSubject: RE: [deal #1] ACME renewal\n"
     "Thread-Topic: [deal #1] ACME renewal\nThread-Index: AQHbPZx%s\nDate: Mon, 23 Nov 2026 14:36:12 +0000\n"
     "Message-ID: <SA1PR12MB6703072LOGO@SA1PR12MB6703.namprd12.prod.outlook.com>\n"
     "References: <dealmail.0072@example.com>\nIn-Reply-To: <dealmail.0072@example.com>\n"
     "Accept-Language: es-MX, en-US\nContent-Language: es-MX\nX-MS-Has-Attach: yes\n"
     "Content-Type: multipart/related;\n\tboundary=\"%s\";\n\ttype=\"multipart/alternative\"\nMIME-Version: 1.0\n\n"
     % (name_addr("Ana López", "ana@example.com"), noise("072", 20), br))
body = ("--%s\nContent-Type: multipart/alternative;\n\tboundary=\"%s\"\n\n--%s\n%s\n--%s\n%s\n--%s--\n\n"
        "--%s\nContent-Type: image/png; name=\"image001.png\"\nContent-Description: image001.png\n"
        "Content-Disposition: inline; filename=\"image001.png\"; size=%d;\n\tcreation-date=\"Mon, 23 Nov 2026 14:36:11 GMT\";\n"
        "\tmodification-date=\"Mon, 23 Nov 2026 14:36:11 GMT\"\nContent-ID: <image001.png@01DB3D9A.5C2F1E20>\n"
        "Content-Transfer-Encoding: base64\n\n%s\n--%s--\n"
        % (br, ba, ba, part("text/plain", text, "qp", charset="utf-8"), ba, part("text/html", html, "qp", charset="utf-8"),
           ba, br, len(png), b64(png), br))
case("072-outlook-related-inline-logo", h + body, {
    "why": "Outlook reply with a signature logo: multipart/related around multipart/alternative plus an inline PNG; "
           "'valor: 14.500' (es thousands separator) and the stage apply",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("stage", "negociación"), cmd("value", "14.500")],
                                 None, ["Enviado el:", "iVBOR"]),
    "export": {"deals_by_id": {"1": {"stage": "negotiation", "value": 14500}}, "outbox": confirmed("ana@example.com")}},
    crlf=True)

# --- 073 a tagged line for a deal the sender may not change refuses the whole message
eml, mid = gmail_rep("073", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal",
                     "etapa: propuesta\n#3 etapa: ganado", ATTR_ES, CONF_ES)
case("073-refuse-tagged-line-foreign-deal", eml, {
    "why": "All-or-nothing across deals: '#3 etapa: ganado' targets Bob's deal, so Ana's whole message is refused "
           "(deal 1 not moved either)",
    "explain": {"class": "rep", "deal": 1, "outcome": "refuse",
                "commands": [cmd("stage", "propuesta", ok=True), {"keyword": "stage", "ok": False}]},
    "export": {"deals_by_id": unchanged("1", "3"), "events": nothing_from(mid), "outbox": refused("ana@example.com")}})

# --- 074/075 require_auth: dkim=pass aligned is enough; unaligned passes are not
eml, mid = gmail_rep("074", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: propuesta",
                     ATTR_ES, CONF_ES, auth=False,
                     extra_headers="Authentication-Results: mx.example.com;\n\tdkim=pass (2048-bit key) header.d=example.com header.i=@example.com header.b=Xk3vN2qP;\n"
                                   "\tspf=none smtp.mailfrom=ana@example.com;\n\tdmarc=none header.from=example.com\n")
case("074-auth-dkim-pass-aligned", eml, {
    "why": "require_auth = yes: no DMARC result, but dkim=pass with header.d = the From domain is aligned → authenticated",
    "config": "auth.conf",
    "explain": {"class": "rep", "authenticated": True, "deal": 1, "outcome": "apply"},
    "export": {"deals_by_id": {"1": {"stage": "proposal"}}, "outbox": confirmed("ana@example.com")}})

eml, mid = gmail_rep("075", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: ganado",
                     ATTR_ES, CONF_ES, auth=False, envelope="bounces+1234@em.sendgrid.example.net",
                     extra_headers="Authentication-Results: mx.example.com;\n\tdkim=pass (2048-bit key) header.d=sendgrid.example.net header.i=@sendgrid.example.net header.b=Qa1bC2dE;\n"
                                   "\tspf=pass (mx.example.com: domain of bounces+1234@em.sendgrid.example.net designates 167.89.0.1 as permitted sender) smtp.mailfrom=bounces+1234@em.sendgrid.example.net;\n"
                                   "\tdmarc=fail (p=none dis=none) header.from=example.com\n")
case("075-auth-unaligned-passes", eml, {
    "why": "require_auth = yes: dkim and spf pass only for a third-party domain (not aligned with example.com) and "
           "dmarc=fail → not authenticated, nothing runs",
    "config": "auth.conf",
    "explain": {"class": "unknown", "authenticated": False, "outcome": "ignore"},
    "export": {"deals": {"len": 3}, "deals_by_id": unchanged("1"), "events": nothing_from(mid)}})

# --- 076 deal: #2 picks the deal
eml, mid = gmail_rep("076", "Luís Souza", "luis@example.com", "Globex - atualização",
                     "oportunidade: #2\nestágio: demo", None, "", irt="<none-0076@example.com>")
eml = eml.replace("References: <none-0076@example.com>\nIn-Reply-To: <none-0076@example.com>\n", "")
eml = eml.replace("Subject: Globex - atualização", "Subject: " + qword("Globex - atualização"))
case("076-deal-line-picks-existing", eml, {
    "why": "A fresh (untagged) mail with 'oportunidade: #2' picks deal 2 (route deal-line)",
    "explain": {"class": "rep", "deal": 2, "route": "deal-line", "outcome": "apply"},
    "export": {"deals": {"len": 3}, "deals_by_id": {"2": {"stage": "demo"}},
               "events": {"contains": [stage_ev(2, "qualify", "demo", "luis@example.com", mid)]},
               "outbox": confirmed("luis@example.com")}})

# --- 077 folded subject splitting the tag
text = "stage: negotiation\n\nBob\n\nFrom: Asistente de ventas <ventas@example.com>\nSent: Monday, November 23, 2026 8:02 AM\nTo: Bob Smith <bob@example.com>\nSubject: [deal #3] Initech pilot\n\nDeal #3 is in stage Demo.\n"
html = "<html><body><div>stage: negotiation</div><div>&nbsp;</div><div>Bob</div></body></html>\n"
eml, mid = outlook_desktop("077", "Bob Smith", "bob@example.com",
                           "RE: Initech pilot - security questionnaire and revised SOW for the Denver office [deal\n #3]",
                           text, html, charset="us-ascii", lang="en-US", thread_topic="Initech pilot")
case("077-folded-subject-tag", eml, {
    "why": "A long Outlook subject folded inside the tag ('[deal' CRLF SP '#3]'): unfolded it is '[deal #3]'",
    "explain": rep_apply_explain("bob@example.com", 3, "tag", [cmd("stage", "negotiation")]),
    "export": {"deals_by_id": {"3": {"stage": "negotiation"}}, "outbox": confirmed("bob@example.com")}}, crlf=True)

# --- 078 Outlook mobile HTML-only with &nbsp; after the colon
html = ('<html><head>\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>\n'
        '<div dir="auto">Etapa:&nbsp;propuesta</div>\n<div dir="auto"><br></div>\n'
        '<div dir="auto">Obtener <a href="https://aka.ms/AAb9ysg">Outlook para Android</a></div>\n'
        '<hr style="display:inline-block;width:98%" tabindex="-1">\n<div id="divRplyFwdMsg" dir="ltr">'
        '<font face="Calibri, sans-serif" style="font-size:11pt" color="#000000"><b>De:</b> Asistente de ventas '
        '&lt;ventas@example.com&gt;<br><b>Enviado:</b> Monday, November 23, 2026 8:02:11 AM<br><b>Para:</b> '
        'Ana L&oacute;pez &lt;ana@example.com&gt;<br><b>Asunto:</b> [deal #1] ACME renewal</font>\n<div>&nbsp;</div></div>\n'
        '<div>etapa: perdido</div>\n</body></html>\n')
h = ("Return-Path: <ana@example.com>\nDelivered-To: ventas@example.com\n" + received_outlook("ana@example.com", "078") +
     auth_results() +
     "From: %s\nTo: Asistente de ventas <ventas@example.com>\nSubject: Re: [deal #1] ACME renewal\n"
     "Thread-Topic: [deal #1] ACME renewal\nDate: Mon, 23 Nov 2026 14:47:55 +0000\n"
     "Message-ID: <SA1PR12MB6703078ANDROID@SA1PR12MB6703.namprd12.prod.outlook.com>\n"
     "In-Reply-To: <dealmail.0078@example.com>\nContent-Language: es-MX\n"
     'Content-Type: text/html; charset="utf-8"\nContent-Transfer-Encoding: base64\nMIME-Version: 1.0\n\n'
     % name_addr("Ana López", "ana@example.com"))
case("078-outlook-android-html-nbsp", h + b64(html), {
    "why": "Outlook for Android, HTML-only and base64: 'Etapa:&nbsp;propuesta' (no-break space after the colon) "
           "still parses; 'Obtener Outlook para Android' and the quoted header block are not commands",
    "explain": {"class": "rep", "deal": 1, "outcome": "apply", "commands": [{"keyword": "stage", "ok": True}]},
    "export": {"deals_by_id": {"1": {"stage": "proposal"}}, "outbox": confirmed("ana@example.com")}})

# --- 079 Apple Mail (macOS) alternative with blockquote type=cite
bnd = "Apple-Mail=_5C1E2F3A-0079-4B6C-8D9E-0F1A2B3C4D5E"
text = ("cierre: 2026-12-18\nprobabilidad: 80%\n\nAna\n\n> El 23 nov 2026, a las 8:02, Asistente de ventas <ventas@example.com> escribió:\n"
        "> \n> Hola Ana,\n> \n> probabilidad: 10%\n> \n\n")
html = ('<html aria-label="cuerpo del mensaje"><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
        '<body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;">cierre: 2026-12-18'
        '<div>probabilidad: 80%</div><div><br></div><div>Ana<br id="lineBreakAtBeginningOfMessage"><div><br><blockquote type="cite">'
        '<div>El 23 nov 2026, a las 8:02, Asistente de ventas &lt;ventas@example.com&gt; escribió:</div><br class="Apple-interchange-newline">'
        '<div><div>Hola Ana,<br><br>probabilidad: 10%<br></div></div></blockquote></div><br></div></body></html>')
h = ("Return-Path: <ana@example.com>\nDelivered-To: ventas@example.com\n" + received_gmail("ana@example.com", "079") +
     auth_results() + dkim("example.com", "google", "079") +
     "From: %s\nContent-Type: multipart/alternative;\n\tboundary=\"%s\"\nMime-Version: 1.0 (Mac OS X Mail 16.0 \\(3826.200.121\\))\n"
     "Subject: Re: [deal #1] ACME renewal\nDate: Mon, 23 Nov 2026 08:33:10 -0600\nIn-Reply-To: <dealmail.0079@example.com>\n"
     "To: Asistente de ventas <ventas@example.com>\nReferences: <dealmail.0079@example.com>\n"
     "Message-Id: <A1B2C3D4-0079-4E5F-A6B7-C8D9E0F1A2B3@example.com>\nX-Mailer: Apple Mail (2.3826.200.121)\n\n"
     % (name_addr("Ana López", "ana@example.com"), bnd))
body = "\n--%s\nContent-Transfer-Encoding: quoted-printable\n%s\n--%s\nContent-Transfer-Encoding: quoted-printable\n%s\n--%s--\n" % (
    bnd, part("text/plain", text, "qp", charset="utf-8").replace("Content-Transfer-Encoding: quoted-printable\n", "", 1),
    bnd, part("text/html", html, "qp", charset="utf-8").replace("Content-Transfer-Encoding: quoted-printable\n", "", 1), bnd)
case("079-apple-mail-macos-alternative", h + body, {
    "why": "Apple Mail on macOS (text + html with blockquote type=cite): close date and probability apply, the "
           "quoted 'probabilidad: 10%' does not",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("close", "2026-12-18"), cmd("probability", "80%")],
                                 None, ["10%", "escribió"]),
    "export": {"deals_by_id": {"1": {"close_date": "2026-12-18", "probability": 80}}, "outbox": confirmed("ana@example.com")}})


# --- 080 a refused message delivered twice: one error reply only
eml, mid = gmail_rep("080", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", "etapa: propusta",
                     ATTR_ES, CONF_ES)
case("080-duplicate-refused-one-error", eml, {
    "why": "A refused message delivered twice: exit 0 both times and one error reply, not two",
    "ingest_times": 2, "exit": [0, 0],
    "export": {"deals_by_id": unchanged("1"), "outbox": refused("ana@example.com")}})

# --- 081 a new lead delivered twice: one deal
case("081-duplicate-new-lead", lead, {
    "why": "The unknown sender's first mail delivered twice creates one contact and one deal, not two",
    "ingest_times": 2, "exit": [0, 0],
    "export": {"deals": {"len": 4}, "contacts": {"len": 4}}})

# --- 082 a contact reply delivered twice: score +2 once
msg = simple("082", "Cliente ACME <cliente@acme.mx>", "cliente@acme.mx", "Re: [deal #1] ACME renewal",
             "Perfecto, nos vemos el jueves.\n\nRoberto\n", "<0082.reply@acme.mx>")
case("082-duplicate-contact-reply", msg, {
    "why": "A contact's reply delivered twice scores +2 once, logs one email event and one notification",
    "ingest_times": 2,
    "export": {"deals_by_id": {"1": {"score": 2}},
               "events": {"count": [[{"type": "email", "message_id": "<0082.reply@acme.mx>"}, 1]]},
               "outbox": {"count": [[{"kind": "notification", "to": "ana@example.com"}, 1]]}}})

# --- 083 rep address in upper case
eml, mid = gmail_rep("083", "ANA LOPEZ", "ANA@EXAMPLE.COM", "Re: [deal #1] ACME renewal", "etapa: propuesta",
                     ATTR_ES, CONF_ES)
case("083-rep-address-upper-case", eml, {
    "why": "Addresses compare without regard to case: ANA@EXAMPLE.COM is Ana",
    "explain": {"class": "rep", "deal": 1, "outcome": "apply"},
    "export": {"deals_by_id": {"1": {"stage": "proposal"}}}})

# --- 084 round-robin over three leads
l1 = simple("084a", "Compras Hooli <compras@hooli.example.mx>", "compras@hooli.example.mx", "Cotización",
            "Buen día, ¿nos envían precios?\n", "<0084a@hooli.example.mx>")
l2 = simple("084b", "Vendas Pied Piper <vendas@piedpiper.example.com.br>", "vendas@piedpiper.example.com.br",
            "Orçamento", "Bom dia, gostaríamos de um orçamento.\n", "<0084b@piedpiper.example.com.br>")
l3 = simple("084", "Dana Scully <dana@xfiles.example.com>", "dana@xfiles.example.com", "Pricing question",
            "Hi, could someone send me your pricing for 25 seats?\n", "<0084c@xfiles.example.com>")
CASES.append(("084a-lead-hooli", l1.encode(), None))
CASES.append(("084b-lead-piedpiper", l2.encode(), None))
case("084-round-robin-three-leads", l3, {
    "why": "Three unknown senders in a row: round-robin in team norte gives one lead each to ana, luis and bob, "
           "none to the manager",
    "setup": [],
    "before": ["084a-lead-hooli.eml", "084b-lead-piedpiper.eml"],
    "explain": {"class": "unknown", "route": "new-lead", "outcome": "lead"},
    "export": {"deals": {"len": 3, "contains": [{"owner": "ana@example.com", "stage": "new"},
                                                {"owner": "luis@example.com", "stage": "new"},
                                                {"owner": "bob@example.com", "stage": "new"}],
                         "not_contains": [{"owner": "maria@example.com"}]}}})

# --- 085 Portuguese stage display name
eml, mid = gmail_rep("085", "Luís Souza", "luis@example.com", "Re: [deal #2] Globex rollout",
                     "estágio: Proposta pendente", ATTR_PT, "A oportunidade #2 está em Qualificar.")
case("085-stage-by-portuguese-name", eml, {
    "why": "A stage may be named by its Portuguese display name ('Proposta pendente')",
    "explain": rep_apply_explain("luis@example.com", 2, "tag", [cmd("stage", "Proposta pendente")]),
    "export": {"deals_by_id": {"2": {"stage": "proposal"}}, "outbox": confirmed("luis@example.com")}})

# --- 086 Outlook for Mac es header block with "Fecha:" (also the close keyword)
text = ("puntos: +3\n\nAna\n\nDe: Asistente de ventas <ventas@example.com>\nFecha: lunes, 23 de noviembre de 2026, 8:02\n"
        "Para: Ana López <ana@example.com>\nAsunto: [deal #1] ACME renewal\n\nHola Ana,\n\nEtapa: Demo\n")
html = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>'
        '<div class="WordSection1"><p class="MsoNormal">puntos: +3</p><p class="MsoNormal">&nbsp;</p><p class="MsoNormal">Ana</p>'
        '<div id="mail-editor-reference-message-container"><div class="ms-outlook-mobile-reference-message">'
        '<div style="border:none;border-top:solid #B5C4DF 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal">'
        '<b>De: </b>Asistente de ventas &lt;ventas@example.com&gt;<br><b>Fecha: </b>lunes, 23 de noviembre de 2026, 8:02<br>'
        '<b>Para: </b>Ana López &lt;ana@example.com&gt;<br><b>Asunto: </b>[deal #1] ACME renewal</p></div>'
        '<p class="MsoNormal">Hola Ana,</p><p class="MsoNormal">Etapa: Demo</p></div></div></div></body></html>\n')
eml, mid = outlook_desktop("086", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", text, html)
eml = eml.replace("Thread-Index:", "User-Agent: Microsoft-MacOutlook/16.91.24111020\nThread-Index:")
case("086-outlook-mac-fecha-header-block", eml, {
    "why": "Outlook for Mac in Spanish quotes with 'De: / Fecha: / Para: / Asunto:'; 'Fecha:' is also the close "
           "keyword, so a cutter that misses this block would refuse the message over an unreadable date",
    "explain": rep_apply_explain("ana@example.com", 1, "tag", [cmd("score", "+3")], None, ["Fecha:", "Asunto:"]),
    "export": {"deals_by_id": {"1": {"score": 3, "close_date": None}}, "outbox": confirmed("ana@example.com")}})

# --- 087 Gmail forward localised in Portuguese
fwd = ("estágio: negociação\n\n---------- Mensagem encaminhada ---------\n"
       "De: Fernanda Costa <compras@globex.com.br>\nDate: seg., 23 de nov. de 2026 às 09:10\n"
       "Subject: Contraproposta Globex\nTo: Luís Souza <luis@example.com>\n\n\n"
       "Luís, segue nossa contraproposta com 12% de desconto.\n\nFernanda")
eml, mid = gmail_rep("087", "Luís Souza", "luis@example.com", "Fwd: Contraproposta Globex", fwd, None, "",
                     irt="<none-0087@example.com>")
eml = eml.replace("References: <none-0087@example.com>\nIn-Reply-To: <none-0087@example.com>\n", "")
case("087-gmail-pt-forward-contact", eml, {
    "why": "Gmail forward localised in Portuguese ('Mensagem encaminhada', 'De:'): the client in the forwarded "
           "block picks her open deal 2 (route contact)",
    "explain": {"class": "rep", "deal": 2, "route": "contact", "outcome": "apply",
                "commands": [cmd("stage", "negociação")]},
    "export": {"deals": {"len": 3}, "deals_by_id": {"2": {"stage": "negotiation"}}, "outbox": confirmed("luis@example.com")}})

# --- 088 iPhone forward in Spanish ("Inicio del mensaje reenviado:")
body = ("etapa: negociación\n\nEnviado desde mi iPhone\n\nInicio del mensaje reenviado:\n\n"
        "> De: Roberto Díaz <cliente@acme.mx>\n> Fecha: 23 de noviembre de 2026, 7:45:00 a.m. CST\n"
        "> Para: Ana López <ana@example.com>\n> Asunto: Contrapropuesta ACME\n>\n"
        "> \ufeffAna, les mandamos la contrapropuesta firmada.\n")
case("088-iphone-forward-es-contact", iphone("088", "Ana López", "ana@example.com", "Fwd: Contrapropuesta ACME", body,
                                             "Mon, 23 Nov 2026 08:20:00 -0600",
                                             "<9F8E7D6C-0088-4B5A-9C8D-7E6F5A4B3C2D@example.com>",
                                             "<0088.orig@acme.mx>").replace("References: <0088.orig@acme.mx>\nIn-Reply-To: <0088.orig@acme.mx>\n", ""), {
    "why": "An iPhone forward ('Inicio del mensaje reenviado:' with a '>'-quoted De:/Fecha: block): the client "
           "cliente@acme.mx picks deal 1 (route contact) and 'etapa: negociación' applies",
    "explain": {"class": "rep", "deal": 1, "route": "contact", "outcome": "apply",
                "commands": [cmd("stage", "negociación")]},
    "export": {"deals": {"len": 3}, "deals_by_id": {"1": {"stage": "negotiation"}}, "outbox": confirmed("ana@example.com")}})


# --- 089 the values people really type: an emoji after the stage, space-grouped thousands
body = "Etapa: Propuesta 👍\nvalor: 12 500 €\n\nEnviado desde mi iPhone\n"
case("089-iphone-emoji-stage-space-thousands", iphone("089", "Ana López", "ana@example.com", "Re: [deal #1] ACME renewal", body,
                                                      "Mon, 23 Nov 2026 09:20:00 -0600",
                                                      "<9F8E7D6C-0089-4B5A-9C8D-7E6F5A4B3C2D@example.com>",
                                                      "<0089.orig@acme.mx>"), {
    "why": "An emoji after the stage name and a space as the thousands separator (as typed on a phone in es/pt/fr): "
           "the stage and the value are read, nothing is refused",
    "explain": {"class": "rep", "deal": 1, "route": "tag", "outcome": "apply",
                "commands": [cmd("stage", "Propuesta 👍"), cmd("value", "12 500 €")]},
    "export": {"deals_by_id": {"1": {"stage": "proposal", "value": 12500, "currency": "EUR"}},
               "outbox": confirmed("ana@example.com")}})


# ---------------------------------------------------------------- write
def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        # 090 and later are kept as written (README: hand-made cases), not generated here
        if (f.endswith(".eml") or f.endswith(".json")) and not (f[:3].isdigit() and int(f[:3]) >= 90):
            os.unlink(os.path.join(OUT, f))
    n = 0
    for name, eml, spec in CASES:
        with open(os.path.join(OUT, name + ".eml"), "wb") as f:
            f.write(eml)
        if spec is None:
            continue
        n += 1
        ordered = {"why": spec.pop("why")}
        ordered.update(spec)
        with open(os.path.join(OUT, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(ordered, f, ensure_ascii=False, indent=1)
            f.write("\n")
    print("wrote %d cases (%d messages) to %s" % (n, len(CASES), OUT))


if __name__ == "__main__":
    main()
