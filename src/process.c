/* process.c — classify, route and validate one inbound message (read-only),
 * and the transaction around it.
 *
 * process_message() is the one entry point every source calls: it parses
 * (quarantining what cannot be parsed), skips what was already processed
 * (by Message-ID, or SHA-256 of the raw bytes), runs analyze() and then
 * apply_analysis() (apply.c), records the processed row and the source's
 * checkpoint, and commits; only then may the source acknowledge the
 * message.  explain_message() runs the same analyze() without writing. */
#include "process.h"
#include "compose.h"
#include "reply.h"
#include "template.h"
#include "text.h"
#include "util.h"
#include <ctype.h>
#include <nettle/sha2.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *cls_name(enum cls c)
{
	static const char *const n[] = {"rep", "contact", "unknown", "auto-reply", "bounce", "list"};
	return n[c];
}

const char *route_name(enum route r)
{
	static const char *const n[] = {"none", "token", "thread", "tag", "contact", "deal-line", "new-lead"};
	return n[r];
}

const char *outcome_name(enum outcome o)
{
	static const char *const n[] = {"apply", "refuse", "log", "lead", "ignore", "quarantine"};
	return n[o];
}

void analysis_free(struct analysis *a)
{
	for (size_t i = 0; a->res && i < a->cmds.n; i++) {
		free(a->res[i].error);
		free(a->res[i].choices);
	}
	free(a->res);
	if (!a->cmds_borrowed)
		commands_free(&a->cmds);
	free(a->sender);
	free(a->sender_name);
	free(a->contact);
	free(a->contact_name);
	free(a->visible);
	free(a->new_title);
	free(a->undo_of);
	free(a->bounce_addr);
	free(a->unsub_email);
	memset(a, 0, sizeof *a);
}

/* ---- classification ------------------------------------------------ */

static bool folded_has_prefix(const char *folded, const char *const *list)
{
	for (; *list; list++)
		if (!strncmp(folded, *list, strlen(*list)))
			return true;
	return false;
}

/* An automatic reply known by its subject alone ("Automatic reply: …",
 * "Fuera de la oficina", "Ausente: …").  The words a person also writes at
 * the start of a subject ("Vacaciones del cliente", "Ausencia de Roberto la
 * próxima semana", "Vacation rentals") count only as a responder writes
 * them, with a colon; "out of office" anywhere, but not "out of office
 * hours".  "Ausente" is one of SPEC's phrases: alone, as a prefix. */
static bool is_autoreply_subject(const char *subject)
{
	static const char *const prefixes[] = {
		"out of office", "out of the office", "automatic reply", "auto reply", "autoreply",
		"auto:", "fuera de la oficina",
		"fuera de oficina", "respuesta automatica", "resposta automatica", "fora do escritorio",
		"reponse automatique", "on vacation", "ausente", NULL,
	};
	static const char *const with_colon[] = {
		"ausencia", "absence", "abwesenheit", "vacation", "vacaciones", "ferias",
		"ausencia temporal", "ausencia temporaria", "auto-reply", "auto-response", "automatic response",
		NULL,
	};
	/* "Re: Ausente", "RE: Fuera de la oficina": the responder's subject
	 * quoted by a client */
	char *bare = compose_strip_prefixes(subject ? subject : "");
	char *f0 = text_fold(bare);
	free(bare);
	/* a gateway's tag ("[EXTERNO] Ausente: …", "[EXTERNAL] Automatic
	 * reply: …") and French Outlook's "RE :" before it */
	const char *f = f0;
	for (bool more = true; more;) {
		more = false;
		while (*f == ' ')
			f++;
		const char *close = *f == '[' ? strchr(f, ']') : NULL;
		if (close && close - f <= 32) {
			f = close + 1;
			more = true;
		} else if (!strncmp(f, "re :", 4) || !strncmp(f, "tr :", 4) || !strncmp(f, "re:", 3) ||
			   !strncmp(f, "fw :", 4) || !strncmp(f, "rv :", 4)) {
			f = strchr(f, ':') + 1;
			more = true;
		}
	}
	bool r = folded_has_prefix(f, prefixes) || strstr(f, "fuera de la oficina") ||
		 strstr(f, "respuesta automatica") || strstr(f, "resposta automatica") ||
		 strstr(f, "fora do escritorio");
	for (const char *const *w = with_colon; !r && *w; w++) {
		size_t n = strlen(*w);
		r = !strncmp(f, *w, n) && (f[n] == ':' || (f[n] == ' ' && f[n + 1] == ':'));
	}
	for (const char *p = f; !r && (p = strstr(p, "out of office")); p++)
		r = strncmp(p + 13, " hours", 6) != 0;
	free(f0);
	return r;
}

static bool local_part_is(const char *email, const char *const *names)
{
	size_t n = strcspn(email, "@");
	for (; *names; names++)
		if (strlen(*names) == n && !strncasecmp(email, *names, n))
			return true;
	return false;
}

/* A read receipt (RFC 8098: multipart/report; report-type=
 * disposition-notification, what Outlook's "Leído:" and Thunderbird's
 * "Return Receipt" are): machine mail, never a contact's reply. */
static bool is_read_receipt(const struct message *msg)
{
	const char *ct = message_header(msg, "Content-Type");
	return ct && strcasestr(ct, "multipart/report") && strcasestr(ct, "disposition-notification");
}

/* Exchange marks what its rules and its out-of-office assistant send: with
 * an automatic-reply subject, that settles it even for a rep ("Automatic
 * reply: …" whose text says "Note: for anything urgent write to Ana"). */
static bool exchange_generated(const struct message *msg)
{
	/* not X-Auto-Response-Suppress: Outlook puts it on a rep's own reply
	 * in an auto-reply's thread ("RE: Respuesta automática: …") */
	return message_header(msg, "X-MS-Exchange-Inbox-Rules-Loop") ||
	       message_header(msg, "X-MS-Exchange-Generated-Message-Source");
}

/* by_subject_r: an automatic reply only by its subject (no header says so) */
static enum cls classify_mail(const struct message *msg, bool *is_bounce_r, bool *by_subject_r)
{
	static const char *const daemons[] = {"mailer-daemon", "postmaster", NULL};
	const char *v;
	*is_bounce_r = false;
	*by_subject_r = false;
	bool null_path = msg->return_path && !*msg->return_path;
	if (msg->is_dsn || (msg->from.email && local_part_is(msg->from.email, daemons))) {
		*is_bounce_r = true;
		return C_BOUNCE;
	}
	if ((v = message_header(msg, "Auto-Submitted")) && strncasecmp(v, "no", 2) != 0)
		return C_AUTOREPLY;
	if (message_header(msg, "X-Autoreply") || message_header(msg, "X-Autorespond") ||
	    message_header(msg, "X-Autoresponse") || is_read_receipt(msg))
		return C_AUTOREPLY;
	/* a list's mail says so whatever its Precedence (bulk, as many do) */
	if (message_header(msg, "List-Id") || message_header(msg, "List-Post"))
		return C_LIST;
	if ((v = message_header(msg, "Precedence"))) {
		if (!strncasecmp(v, "list", 4))
			return C_LIST;
		if (!strncasecmp(v, "bulk", 4) || !strncasecmp(v, "junk", 4) || !strncasecmp(v, "auto_reply", 10))
			return C_AUTOREPLY;
	}
	if (is_autoreply_subject(msg->subject)) {
		*by_subject_r = true;
		return C_AUTOREPLY;
	}
	if (null_path) {
		*is_bounce_r = true;
		return C_BOUNCE;
	}
	return C_UNKNOWN;   /* decided by the sender */
}

static bool addr_sep(char c)
{
	return c == '-' || c == '_' || c == '.';
}

/* A no-reply sender: the local part (its sub-address left out), or its
 * pieces between - _ . from either end, joined, is one of the forms:
 * noreply, no-reply, do_not_reply, messages-noreply, noreply-dmarc-support,
 * nao-responda; not anoreply or bouncer.jones (a form inside a piece). */
static bool noreply_sender(const char *email)
{
	static const char *const forms[] = {
		"noreply", "donotreply", "notification", "notifications", "bounce", "bounces", "mailerdaemon",
		"noresponder", "noresponda", "naoresponda", "naoresponder", "notificaciones", "notificacoes", NULL,
	};
	char l[128], sq[128];
	size_t n = email ? strcspn(email, "@+") : 0;
	if (!n || n >= sizeof l || !strchr(email, '@'))
		return false;
	for (size_t i = 0; i < n; i++)
		l[i] = (char)tolower((unsigned char)email[i]);
	/* [b, e): from the start to each separator (and the end), from each
	 * separator (and the start) to the end */
	for (int from_end = 0; from_end < 2; from_end++)
		for (size_t cut = 0; cut <= n; cut++) {
			if (cut != (from_end ? 0 : n) && !(cut < n && addr_sep(l[cut])))
				continue;
			size_t b = from_end ? cut : 0, e = from_end ? n : cut, k = 0;
			for (size_t i = b; i < e; i++)
				if (!addr_sep(l[i]))
					sq[k++] = l[i];
			sq[k] = '\0';
			for (const char *const *f = forms; k && *f; f++)
				if (!strcmp(sq, *f))
					return true;
		}
	return false;
}

/* The signs of automatic mail that count only for a sender who is not a
 * rep (a rep's message never loses its commands to a header a gateway or
 * an add-on put on it): a List-Unsubscribe without List-Id (a newsletter,
 * a service's notification: class list), a no-reply sender, an
 * X-Auto-Response-Suppress of All (what Exchange and services put on
 * mail nobody answers: class auto-reply).  C_UNKNOWN when none; *why_r
 * says which for explain. */
static enum cls bulk_class(const struct message *msg, const char **why_r)
{
	const char *v;
	if (message_header(msg, "List-Unsubscribe")) {
		*why_r = "bulk mail (List-Unsubscribe) is never processed";
		return C_LIST;
	}
	if (msg->from.email && noreply_sender(msg->from.email)) {
		*why_r = "mail from a no-reply address is never processed";
		return C_AUTOREPLY;
	}
	if ((v = message_header(msg, "X-Auto-Response-Suppress")))
		for (const char *p = v; *p;) {
			p += strspn(p, " \t,;");
			size_t k = strcspn(p, " \t,;");
			/* "All" only: Outlook puts "DR, RN, NRN, OOF, AutoReply" on
			 * people's own replies too (it asks others not to answer
			 * automatically; it does not say the message is automatic) */
			if (k == 3 && !strncasecmp(p, "All", 3)) {
				*why_r = "automatic mail (X-Auto-Response-Suppress) is never processed";
				return C_AUTOREPLY;
			}
			p += k;
		}
	return C_UNKNOWN;
}

static const char *domain_of(const char *email)
{
	const char *at = email ? strrchr(email, '@') : NULL;
	return at ? at + 1 : "";
}

/* Relaxed alignment: equal, or one is a subdomain of the other. */
static bool aligned(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (!la || !lb)
		return false;
	if (la == lb)
		return !strcasecmp(a, b);
	if (la > lb)
		return a[la - lb - 1] == '.' && !strcasecmp(a + la - lb, b);
	return b[lb - la - 1] == '.' && !strcasecmp(b + lb - la, a);
}

/* Copy of s without (comments). */
static char *strip_comments(const char *s)
{
	struct buf b;
	int depth = 0;
	buf_init(&b);
	for (; *s; s++) {
		if (*s == '(')
			depth++;
		else if (*s == ')' && depth)
			depth--;
		else if (!depth)
			buf_addc(&b, *s);
	}
	return buf_detach(&b);
}

/* Value of "prop=" in a resinfo, into out. */
static bool prop_value(const char *resinfo, const char *prop, char *out, size_t n)
{
	size_t pl = strlen(prop);
	for (const char *p = resinfo; (p = strcasestr(p, prop)); p += pl) {
		if (p != resinfo && !isspace((unsigned char)p[-1]))
			continue;
		const char *v = p + pl;
		size_t k;
		if (*v == '"') {   /* RFC 8601 allows a quoted-string: header.d="example.com" */
			v++;
			k = strcspn(v, "\"");
			if (v[k] != '"')
				return false;
		} else
			k = strcspn(v, " \t;");
		if (k >= n)
			k = n - 1;
		memcpy(out, v, k);
		out[k] = '\0';
		return true;
	}
	return false;
}

/* 1 when the topmost Authentication-Results of our authserv-id vouches for
 * the From domain, else 0. */
static int check_auth(const struct config *cfg, const struct message *msg)
{
	const char *fromdom = domain_of(msg->from.email);
	size_t pos = 0;
	const char *v;
	if (!cfg->authserv_id || !*cfg->authserv_id)
		return 0;
	while ((v = message_header_next(msg, "Authentication-Results", &pos))) {
		char *s = strip_comments(v);
		char *p = s;
		while (isspace((unsigned char)*p))
			p++;
		size_t idlen = strcspn(p, " \t;");
		bool ours = idlen == strlen(cfg->authserv_id) && !strncasecmp(p, cfg->authserv_id, idlen);
		if (!ours) {
			free(s);
			continue;
		}
		int ok = 0;
		bool dmarc_fail = false;
		char *save = NULL;
		/* a ';' inside a quoted-string (reason="good; signature") does
		 * not end a resinfo */
		bool inq = false;
		for (char *q = p; *q; q++) {
			if (*q == '"')
				inq = !inq;
			else if (*q == ';' && inq)
				*q = ',';
		}
		char *rest = strchr(p, ';');
		for (char *r = rest ? strtok_r(rest + 1, ";", &save) : NULL; r; r = strtok_r(NULL, ";", &save)) {
			while (isspace((unsigned char)*r))
				r++;
			char val[256];
			if (!strncasecmp(r, "dmarc=fail", 10)) {
				/* the domain's own policy said no (strict alignment, a
				 * subdomain's signature): an aligned-looking dkim or
				 * spf pass below does not overrule it */
				if (!prop_value(r, "header.from=", val, sizeof val) || aligned(val, fromdom))
					dmarc_fail = true;
			} else if (!strncasecmp(r, "dmarc=pass", 10)) {
				if (!prop_value(r, "header.from=", val, sizeof val) || aligned(val, fromdom))
					ok = 1;
			} else if (!strncasecmp(r, "dkim=pass", 9)) {
				if (prop_value(r, "header.d=", val, sizeof val) && aligned(val, fromdom))
					ok = 1;
				else if (prop_value(r, "header.i=", val, sizeof val) &&
					 aligned(val[0] == '@' ? val + 1 : domain_of(val), fromdom))
					ok = 1;
			} else if (!strncasecmp(r, "spf=pass", 8)) {
				/* smtp.mailfrom=<ana@example.com>, as some servers write it */
				char *mf = val;
				if (prop_value(r, "smtp.mailfrom=", val, sizeof val)) {
					if (*mf == '<')
						mf++;
					size_t ml = strlen(mf);
					if (ml && mf[ml - 1] == '>')
						mf[ml - 1] = '\0';
					if (aligned(strchr(mf, '@') ? domain_of(mf) : mf, fromdom))
						ok = 1;
				}
			}
		}
		free(s);
		return ok && !dmarc_fail;  /* only the topmost header of our authserv-id counts */
	}
	return 0;
}

/* ---- addresses ------------------------------------------------------- */

static bool is_our_address(const struct config *cfg, const char *email, char **suffix_r)
{
	const char *at = strrchr(cfg->address, '@');
	const char *eat = strrchr(email, '@');
	if (suffix_r)
		*suffix_r = NULL;
	if (!at || !eat || strcasecmp(at, eat))
		return !strcasecmp(email, cfg->address);
	size_t ll = (size_t)(at - cfg->address);
	if (strncasecmp(email, cfg->address, ll))
		return false;
	if (email + ll == eat)
		return true;
	if (email[ll] != '+')
		return false;
	if (suffix_r)
		*suffix_r = xstrndup(email + ll + 1, (size_t)(eat - email - ll - 1));
	return true;
}

static void recipients(const struct message *msg, struct addrlist *out)
{
	static const char *const hdrs[] = {"Delivered-To", "X-Original-To", "Envelope-To", NULL};
	for (size_t i = 0; i < msg->to.n; i++)
		addrlist_parse(msg->to.v[i].email, out);
	for (size_t i = 0; i < msg->cc.n; i++)
		addrlist_parse(msg->cc.v[i].email, out);
	for (const char *const *h = hdrs; *h; h++) {
		size_t pos = 0;
		const char *v;
		while ((v = message_header_next(msg, *h, &pos)))
			addrlist_parse(v, out);
	}
}

/* ---- deals ----------------------------------------------------------- */

static bool deal_exists(struct app *app, int64_t id)
{
	if (app->rows_on)   /* the row the message's next checks read */
		return deal_row(app, id) != NULL;
	return db_int(app->db, 0, "SELECT COUNT(*) FROM deals WHERE id = ?", "i", id) > 0;
}

/* Most recently active open deal of a contact; *count_r open deals. */
static int64_t contact_open_deal(struct app *app, const char *email, int *count_r)
{
	int64_t id = 0;
	int n = 0;
	struct dbq *q = db_query(app->db, "SELECT d.id FROM deals d JOIN contacts c ON c.id = d.contact_id "
				 "WHERE c.email = ? AND d.status = 'open' ORDER BY d.last_activity DESC, d.id DESC",
				 "t", email);
	while (db_next(q)) {
		if (!n)
			id = db_col_int(q, 0);
		n++;
	}
	db_done(q);
	if (count_r)
		*count_r = n;
	return id;
}

/* p past the blanks at it: spaces, tabs and the Unicode spaces a client
 * may write in a subject (U+00A0, U+1680, U+2000 to U+200A, U+202F, U+205F,
 * U+3000: those a body line's tag matches as \h) */
static const char *skip_hspace(const char *p)
{
	for (const unsigned char *u = (const unsigned char *)p;; u = (const unsigned char *)p) {
		if (u[0] == ' ' || u[0] == '\t')
			p += 1;
		else if (u[0] == 0xC2 && u[1] == 0xA0)
			p += 2;
		else if ((u[0] == 0xE1 && u[1] == 0x9A && u[2] == 0x80) ||
			 (u[0] == 0xE2 && u[1] == 0x80 && ((u[2] >= 0x80 && u[2] <= 0x8A) || u[2] == 0xAF)) ||
			 (u[0] == 0xE2 && u[1] == 0x81 && u[2] == 0x9F) || (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80))
			p += 3;
		else
			return p;
	}
}

/* A deal tag starting at p ('['): "[deal #12]", "[#12]", "[oportunidad #12]",
 * "[oportunidade #12]", with any blanks skip_hspace() skips around its
 * words.  Its number, and in *end_r the byte after its ']'; 0 when p starts
 * no tag. */
static int64_t tag_at(const char *p, const char **end_r)
{
	const char *q = skip_hspace(p + 1);
	static const char *const words[] = {"oportunidade", "oportunidad", "deal", NULL};
	for (const char *const *w = words; *w; w++)
		if (!strncasecmp(q, *w, strlen(*w))) {
			q += strlen(*w);
			break;
		}
	q = skip_hspace(q);
	if (*q != '#' || !isdigit((unsigned char)q[1]))
		return 0;
	char *end;
	long long n = strtoll(q + 1, &end, 10);
	const char *e = skip_hspace(end);
	if (*e != ']' || n <= 0)
		return 0;
	*end_r = e + 1;
	return n;
}

static int64_t subject_tag(const char *subject)
{
	const char *end;
	for (const char *p = subject ? strchr(subject, '[') : NULL; p; p = strchr(p + 1, '[')) {
		int64_t n = tag_at(p, &end);
		if (n > 0)
			return n;
	}
	return 0;
}

static int64_t thread_deal(struct app *app, const struct message *msg)
{
	const char *ids[66];
	size_t n = 0;
	if (msg->in_reply_to)
		ids[n++] = msg->in_reply_to;
	for (size_t i = msg->nreferences; i > 0 && n < 66; i--)
		ids[n++] = msg->references[i - 1];
	for (size_t i = 0; i < n; i++) {
		int64_t d = db_int(app->db, 0, "SELECT deal_id FROM outbox WHERE message_id = ? AND deal_id IS NOT NULL",
				   "t", ids[i]);
		if (d <= 0)
			d = db_int(app->db, 0, "SELECT deal_id FROM processed WHERE message_id = ? AND deal_id IS NOT NULL",
				   "t", ids[i]);
		if (d > 0 && deal_exists(app, d))
			return d;
	}
	return 0;
}

/* 1: `rep` may change `deal`; 0: may not; -1: there is no such deal. */
static int deal_access(struct app *app, const struct rep *rep, int64_t deal)
{
	if (app->rows_on) {
		/* the message's row answers for a manager and the owner (the
		 * SQL below compares the owner with '=': byte for byte) */
		const struct deal_row *d = deal_row(app, deal);
		if (!d)
			return -1;
		if (rep->manager || (d->owner && !strcmp(d->owner, rep->email)))
			return 1;
	}
	/* never NULL for a deal that exists (a deal may have no owner) */
	return (int)db_int(app->db, -1, "SELECT ?3 OR COALESCE(owner = ?1, 0) OR EXISTS(SELECT 1 FROM deal_shares s "
			   "WHERE s.deal_id = ?2 AND s.rep = ?1) FROM deals WHERE id = ?2", "tiI", rep->email, deal,
			   (int)rep->manager);
}

static bool may_change(struct app *app, const struct rep *rep, int64_t deal)
{
	return rep->manager || deal_access(app, rep, deal) > 0;
}

bool rep_may_change(struct app *app, const struct rep *rep, int64_t deal)
{
	return may_change(app, rep, deal);
}

/* An undo must leave something to revert (an undo is not undone, a message
 * is undone once), and every deal it reverts must be one the sender may
 * change, as for any other command. */
static void validate_undo(struct app *app, const struct rep *rep, const char *undo_of, struct cmdres *r);

/* ---- unsubscribe ----------------------------------------------------- */

/* A line that asks to be unsubscribed and says nothing else, as a client
 * answers a drip's "Responda «baja»": "Baja", "Baja, gracias.", "Por
 * favor, denme de baja", "Descadastrar, obrigado" (folded). */
static bool unsubscribe_line(const char *f, size_t n)
{
	static const char *const asks[] = {
		"baja", "de baja", "darme de baja", "dar de baja", "denme de baja", "deme de baja",
		"me den de baja", "quiero darme de baja", "cancelar suscripcion", "unsubscribe",
		"unsubscribe me", "remove me", "stop", "descadastrar", "descadastre", "descadastre me",
		"me descadastre", "quero me descadastrar", "cancelar inscricao", "cancelar subscricao", NULL,
	};
	static const char *const polite[] = {
		"por favor", "porfavor", "favor", "gracias", "muchas gracias", "obrigado", "obrigada",
		"please", "thanks", "thank you", NULL,
	};
	char w[128];
	size_t m = 0;
	/* words only: punctuation and symbols are blanks, blanks collapse */
	for (size_t i = 0; i < n && m + 1 < sizeof w; i++) {
		unsigned char c = (unsigned char)f[i];
		bool word = isalnum(c) || c >= 0x80;
		if (c == 0xC2 && i + 1 < n && strchr("\xA1\xBF\xA0", f[i + 1])) {
			word = false;   /* '¡', '¿', a no-break space */
			i++;
		} else if (c == 0xC2 || c == 0xE2 || c == 0xF0 || c == 0xEF)
			return false;   /* a symbol or emoji the fold kept: not a plain request */
		if (word)
			w[m++] = (char)c;
		else if (m && w[m - 1] != ' ')
			w[m++] = ' ';
	}
	if (m + 1 >= sizeof w)
		return false;
	while (m && w[m - 1] == ' ')
		m--;
	w[m] = '\0';
	char *s = w;
	for (bool again = true; again;) {
		again = false;
		for (const char *const *p = polite; *p; p++) {
			size_t k = strlen(*p), len = strlen(s);
			if (len > k && !strncmp(s, *p, k) && s[k] == ' ') {
				s += k + 1;
				again = true;
			} else if (len > k && !strcmp(s + len - k, *p) && s[len - k - 1] == ' ') {
				s[len - k - 1] = '\0';
				again = true;
			}
		}
	}
	for (const char *const *a = asks; *a; a++)
		if (!strcmp(s, *a))
			return true;
	return false;
}

static bool wants_unsubscribe(const char *subject, const char *visible)
{
	static const char *const words[] = {"unsubscribe", "baja", "darme de baja", "dar de baja",
					    "descadastrar", "descadastre", "cancelar inscricao",
					    "remove me", "stop", NULL};
	char *fs = text_fold(subject ? subject : "");
	char *fv = text_fold(visible ? visible : "");
	bool r = false;
	for (const char *const *w = words; *w && !r; w++)
		if (!strcmp(fs, *w) || !strcmp(fv, *w))
			r = true;
	if (!r && strlen(fv) < 160)
		r = strstr(fv, "unsubscribe") || strstr(fv, "darme de baja") || strstr(fv, "descadastrar") ||
		    strstr(fs, "unsubscribe") || strstr(fs, "descadastrar");
	/* "Baja" above a greeting's sign-off or the signature a client's
	 * mail program adds ("Baja\n\nJuan Pérez\nDirector de compras"):
	 * one of the first lines of a short reply asks for it alone */
	if (!r && visible && strlen(visible) < 400) {
		int lines = 0;
		for (const char *p = visible; *p && lines < 3 && !r;) {
			const char *e = strchr(p, '\n');
			size_t n = e ? (size_t)(e - p) : strlen(p);
			char *line = xstrndup(p, n);
			char *f = text_fold(line);
			if (*f) {
				lines++;
				r = unsubscribe_line(f, strlen(f));
			}
			free(f);
			free(line);
			p += n + (e != NULL);
		}
	}
	free(fs);
	free(fv);
	return r;
}

/* ---- command validation --------------------------------------------- */

static char *join_reasons(char **v, size_t n)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", v[i]);
	return buf_detach(&b);
}

/* A value without what people add after it: trailing spaces, punctuation,
 * symbols and emoji ("Propuesta 👍", "precio!!", "demo ✓").  malloc'd. */
static char *trim_symbols(const char *s)
{
	size_t n = strlen(s);
	for (;;) {
		if (n && (isspace((unsigned char)s[n - 1]) || strchr("!.,;:?-*_~", s[n - 1])))
			n--;
		else if (n >= 4 && (unsigned char)s[n - 4] == 0xF0)                 /* emoji, U+10000.. */
			n -= 4;
		else if (n >= 3 && ((unsigned char)s[n - 3] == 0xE2 ||              /* U+2000..U+2FFF symbols */
				    ((unsigned char)s[n - 3] == 0xEF && (unsigned char)s[n - 2] == 0xB8)))  /* U+FE0x selectors */
			n -= 3;
		else if (n >= 2 && (unsigned char)s[n - 2] == 0xC2 && (unsigned char)s[n - 1] == 0xA0)  /* NBSP */
			n -= 2;
		else
			break;
	}
	return xstrndup(s, n);
}

/* "a, b, c" of one string field of each element of an array */
static char *join_field(const void *base, size_t n, size_t size, size_t offset)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", *(char *const *)((const char *)base + i * size + offset));
	return buf_detach(&b);
}

static char *stage_choices(const struct config *cfg)
{
	return join_field(cfg->stages, cfg->nstages, sizeof *cfg->stages, offsetof(struct stage, key));
}

static char *rep_choices(const struct config *cfg)
{
	return join_field(cfg->reps, cfg->nreps, sizeof *cfg->reps, offsetof(struct rep, email));
}

static void fail(struct cmdres *r, enum err_code e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct cmdres *r, enum err_code e, const char *fmt, ...)
{
	va_list ap;
	struct buf b;
	if (r->err)
		return;
	r->err = e;
	buf_init(&b);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	r->error = buf_detach(&b);
}

static const char *value_error(enum cmd_error e)
{
	switch (e) {
	case CMDERR_EMPTY: return "a value is required";
	case CMDERR_AMOUNT: return "not an amount (e.g. 12000, 12.000,50 EUR, $12,000.50)";
	case CMDERR_DATE: return "not a date (e.g. 2026-12-15, 15/12/2026, +14d)";
	case CMDERR_PERCENT: return "not a percentage from 0 to 100";
	case CMDERR_SCORE: return "not a score change (e.g. +5, -10)";
	case CMDERR_DEAL: return "not a deal number (e.g. #12) or a title";
	case CMDERR_DRIP: return "use `stop` or `start NAME`";
	case CMDERR_AMOUNT_M: return "\"m\" after a number is ambiguous (thousand or million?): write 15k or 15 mil, 15M or 15 millones";
	case CMDERR_WEEKDAY: return "the day of the week is not that date's: write the date alone (e.g. 27/11)";
	default: return "cannot read the value";
	}
}

/* `list` with a stage: the stage, -1 when none matches */
static int list_stage(const struct config *cfg, const char *text)
{
	int s = config_stage_find(cfg, text);
	if (s < 0) {
		char *t = trim_symbols(text);
		s = config_stage_find(cfg, t);
		free(t);
	}
	return s;
}

/* `list: all` in the three languages: no filter */
static bool list_all_word(const char *text)
{
	static const char *const all[] = {"all", "todas", "todos", "todo", "tudo", NULL};
	char *f = text_fold(text);
	bool r = false;
	for (const char *const *w = all; *w && !r; w++)
		r = !strcmp(f, *w);
	free(f);
	return r;
}

static void validate(struct app *app, struct analysis *a, const struct message *msg)
{
	const struct config *cfg = app->cfg;
	const struct rep *rep = a->rep;
	a->res = xcalloc(a->cmds.n ? a->cmds.n : 1, sizeof *a->res);
	for (size_t i = 0; i < a->cmds.n; i++) {
		struct command *c = &a->cmds.v[i];
		struct cmdres *r = &a->res[i];
		r->stage = -1;
		r->deal = c->deal_tag > 0 ? c->deal_tag : a->deal;
		if (c->error != CMDERR_NONE) {
			fail(r, E_VALUE, "%s", value_error(c->error));
			continue;
		}
		switch (c->kind) {
		case CMD_HELP:
			continue;
		case CMD_LIST:
			/* the optional stage filter is checked like a stage: a typo is
			 * answered with the choices, not with every deal unfiltered */
			if (c->text && *c->text && !list_all_word(c->text) && list_stage(cfg, c->text) < 0) {
				r->choices = stage_choices(cfg);
				r->suggest = config_suggest(cfg, 0, c->text);
				fail(r, E_UNKNOWN_STAGE, "unknown stage \"%s\"", c->text);
			}
			continue;
		case CMD_DEAL:
			if (c->deal_ref > 0 && !deal_exists(app, c->deal_ref)) {
				r->deal = c->deal_ref;
				fail(r, E_UNKNOWN_DEAL, "deal #%lld does not exist", (long long)c->deal_ref);
			}
			continue;
		case CMD_UNDO:
			if (!a->undo_of)
				fail(r, E_UNDO_NOTHING, "undo works in a reply to a dealmail confirmation");
			else if (a->undo_of[0] == '\0')
				fail(r, E_UNDO_EXPIRED, "too late to undo (more than %d minutes)", cfg->undo_minutes);
			else
				validate_undo(app, rep, a->undo_of, r);
			continue;
		default:
			break;
		}
		if (r->deal == 0 && !a->create_deal) {
			fail(r, E_NO_DEAL, "no deal: reply to a dealmail message, put [deal #N] in the subject, "
			     "or add a line `deal: #N`");
			continue;
		}
		int access = r->deal > 0 ? deal_access(app, rep, r->deal) : 1;
		if (access < 0) {
			fail(r, E_UNKNOWN_DEAL, "deal #%lld does not exist", (long long)r->deal);
			continue;
		}
		if (access == 0) {
			char *owner = deal_owner(app, r->deal);
			fail(r, E_NO_PERMISSION, "you may not change deal #%lld (owner: %s)", (long long)r->deal,
			     owner ? owner : "nobody");
			free(owner);
			continue;
		}
		switch (c->kind) {
		case CMD_STAGE: {
			int s = config_stage_find(cfg, c->text);
			if (s < 0) {
				char *t = trim_symbols(c->text);
				s = config_stage_find(cfg, t);
				free(t);
			}
			if (s < 0) {
				r->choices = stage_choices(cfg);
				r->suggest = config_suggest(cfg, 0, c->text);
				fail(r, E_UNKNOWN_STAGE, "unknown stage \"%s\"", c->text);
				break;
			}
			r->stage = s;
			if ((s == cfg->lost_stage && cfg->require_lost_reason) ||
			    (s == cfg->won_stage && cfg->require_won_reason)) {
				/* a reason may come from a won:/lost: line of the same message */
				bool has = false;
				for (size_t j = 0; j < a->cmds.n; j++) {
					const struct command *o = &a->cmds.v[j];
					if (o->deal_tag == c->deal_tag && o->text && *o->text &&
					    ((s == cfg->lost_stage && o->kind == CMD_LOST) ||
					     (s == cfg->won_stage && o->kind == CMD_WON)))
						has = true;
				}
				if (!has) {
					r->choices = join_reasons(s == cfg->lost_stage ? cfg->lost_reasons : cfg->won_reasons,
								  s == cfg->lost_stage ? cfg->nlost_reasons : cfg->nwon_reasons);
					fail(r, E_STAGE_NEEDS_REASON, "a reason is required: write `%s: REASON`",
					     s == cfg->lost_stage ? "lost" : "won");
				}
			}
			break;
		}
		case CMD_WON:
		case CMD_LOST: {
			bool won = c->kind == CMD_WON;
			r->stage = won ? cfg->won_stage : cfg->lost_stage;
			bool required = won ? cfg->require_won_reason : cfg->require_lost_reason;
			if ((!c->text || !*c->text) && c->aside) {
				/* "¡Perdimos! Se fueron con la competencia": a reason
				 * when the sentence names one, else none */
				const char *canon = config_reason_find(cfg, won, c->aside);
				if (canon) {
					r->reason = canon;
					break;
				}
			}
			if (!c->text || !*c->text) {
				if (required) {
					r->choices = join_reasons(won ? cfg->won_reasons : cfg->lost_reasons,
								  won ? cfg->nwon_reasons : cfg->nlost_reasons);
					fail(r, E_REASON_REQUIRED, "a reason is required to mark the deal %s",
					     won ? "won" : "lost");
				}
				r->reason = NULL;
				break;
			}
			char *t = trim_symbols(c->text);
			if (*t && strcmp(t, c->text)) {   /* keep what the rep meant, not the emoji */
				free(c->text);
				c->text = t;
			} else
				free(t);
			const char *canon = config_reason_find(cfg, won, c->text);
			if (!canon && cfg->strict_reasons) {
				r->choices = join_reasons(won ? cfg->won_reasons : cfg->lost_reasons,
							  won ? cfg->nwon_reasons : cfg->nlost_reasons);
				r->suggest = config_suggest(cfg, won ? 1 : 2, c->text);
				fail(r, E_UNKNOWN_REASON, "unknown reason \"%s\"", c->text);
				break;
			}
			r->reason = canon ? canon : c->text;
			break;
		}
		case CMD_OWNER:
		case CMD_SHARE: {
			const struct rep *who = config_rep_find(cfg, c->text);
			if (!who) {
				char *amb = config_rep_ambiguous(cfg, c->text);
				if (amb) {
					r->choices = amb;
					fail(r, E_AMBIGUOUS_REP, "\"%s\" names more than one rep", c->text);
					break;
				}
				r->choices = rep_choices(cfg);
				r->suggest = config_suggest(cfg, 3, c->text);
				fail(r, E_UNKNOWN_REP, "\"%s\" is not a rep", c->text);
				break;
			}
			r->rep = who;
			if (c->kind == CMD_OWNER && !rep->manager && r->deal > 0 &&
			    db_int(app->db, 0, "SELECT owner = ? FROM deals WHERE id = ?", "ti", rep->email, r->deal) != 1)
				fail(r, E_OWNER_PERM, "only the deal's owner or a manager can reassign it");
			break;
		}
		case CMD_DRIP:
			if (!c->drip_stop) {
				r->seq = config_sequence_find(cfg, c->text);
				if (!r->seq) {
					r->choices = join_field(cfg->sequences, cfg->nsequences, sizeof *cfg->sequences,
								offsetof(struct sequence, name));
					fail(r, E_UNKNOWN_SEQUENCE, "unknown sequence \"%s\"", c->text);
				}
			}
			break;
		case CMD_HISTORY:
			break;
		default:
			break;
		}
	}
	(void)msg;
}

/* ---- the analysis ------------------------------------------------------ */

static void validate_undo(struct app *app, const struct rep *rep, const char *undo_of, struct cmdres *r)
{
	int64_t left = db_int(app->db, 0, "SELECT (SELECT COUNT(*) FROM events WHERE message_id = ?1 AND undone = 0 "
			      "AND type <> 'undo') + (SELECT COUNT(*) FROM tasks WHERE message_id = ?1 AND done = 0) + "
			      "(SELECT COUNT(*) FROM enrollments WHERE message_id = ?1 AND status = 'active')", "t",
			      undo_of);
	if (left == 0) {
		fail(r, E_UNDO_DONE, "nothing left to undo");
		return;
	}
	/* the confirmation went to the message's sender: another rep who got
	 * hold of it (forwarded, or a shared deal's colleague) does not take
	 * back someone else's changes, a manager may */
	char *author = db_text(app->db, "SELECT sender FROM processed WHERE message_id = ? AND sender IS NOT NULL",
			       "t", undo_of);
	if (author && !rep->manager && strcasecmp(author, rep->email)) {
		fail(r, E_UNDO_NOT_YOURS, "that message was %s's: only its sender or a manager can undo it", author);
		free(author);
		return;
	}
	free(author);
	/* a field changed again since: reverting it would silently overwrite
	 * the newer change (someone else's, perhaps).  Not a probability the
	 * message's stage move cleared (to_val NULL): a side effect the rep
	 * never wrote; a newer estimate is kept and the rest undone */
	struct dbq *q = db_query(app->db, "SELECT e2.deal_id, e2.type, e2.by FROM events e1 JOIN events e2 ON "
				 "e2.deal_id = e1.deal_id AND e2.type = e1.type AND e2.id > e1.id AND e2.undone = 0 "
				 "WHERE e1.message_id = ? AND e1.undone = 0 AND e2.message_id IS NOT e1.message_id AND "
				 "e1.type IN ('stage', 'value', 'close', 'probability', 'owner', 'score') AND "
				 "NOT (e1.type = 'probability' AND e1.to_val IS NULL) LIMIT 1",
				 "t", undo_of);
	if (db_next(q)) {
		r->deal = db_col_int(q, 0);
		fail(r, E_UNDO_LATER, "changed again since that message (#%lld %s by %s)", (long long)r->deal,
		     db_col_text(q, 1), db_col_text(q, 2) ? db_col_text(q, 2) : "dealmail");
		db_done(q);
		return;
	}
	db_done(q);
	q = db_query(app->db, "SELECT DISTINCT deal_id FROM events WHERE message_id = ? AND undone = 0 "
		     "AND deal_id IS NOT NULL", "t", undo_of);
	while (db_next(q)) {
		int64_t d = db_col_int(q, 0);
		/* a rep who handed her own deal away in that message may take it
		 * back (her confirmation offered the undo) */
		if (!may_change(app, rep, d) &&
		    !db_int(app->db, 0, "SELECT EXISTS(SELECT 1 FROM events WHERE message_id = ? AND deal_id = ? AND "
			    "type = 'owner' AND undone = 0 AND from_val = ? COLLATE NOCASE AND by = ? COLLATE NOCASE)",
			    "titt", undo_of, d, rep->email, rep->email)) {
			char *owner = db_text(app->db, "SELECT owner FROM deals WHERE id = ?", "i", d);
			r->deal = d;
			fail(r, E_NO_PERMISSION, "you may not change deal #%lld (owner: %s)", (long long)d,
			     owner ? owner : "nobody");
			free(owner);
			break;
		}
	}
	db_done(q);
}

/* A subject as a deal's title: no Re:/Fwd: prefixes, and no deal tags
 * ("[deal #1]", "[#1]", "[oportunidad #1]": another deal's, when a lead
 * writes in a thread it was copied on) */
static void strip_subject(const char *s, struct buf *b)
{
	char *t = compose_strip_prefixes(s);
	for (const char *p = t; *p;) {
		const char *end;
		if (*p == '[' && tag_at(p, &end) > 0) {   /* the tags subject_tag() reads */
			p = skip_hspace(end);
			continue;
		}
		buf_addc(b, *p++);
	}
	while (b->len && b->s[b->len - 1] == ' ')
		b->s[--b->len] = '\0';
	free(t);
}

/* A client address this message is about: forwarded From, then To/Cc. */
static void rep_context_contact(struct app *app, const struct message *msg, struct analysis *a)
{
	struct addrlist cand = {0};
	struct fwd_block fb = {0};
	if (msg->has_forwarded && msg->fwd_from.email[0]) {
		addrlist_parse(msg->fwd_from.email, &cand);
		for (size_t i = 0; i < msg->fwd_to.n; i++)
			addrlist_parse(msg->fwd_to.v[i].email, &cand);
		for (size_t i = 0; i < msg->fwd_cc.n; i++)
			addrlist_parse(msg->fwd_cc.v[i].email, &cand);
		a->forwarded = true;
	}
	const struct fwd_block *f = msg->inline_fwd;
	if (!msg->inline_fwd_done && reply_forwarded(msg->text, &fb))
		f = &fb;
	if (f) {
		if (f->from)
			addrlist_parse(f->from, &cand);
		if (f->to)
			addrlist_parse(f->to, &cand);
		if (f->cc)
			addrlist_parse(f->cc, &cand);
		a->forwarded = true;
	}
	fwd_block_free(&fb);
	for (size_t i = 0; i < msg->to.n + msg->cc.n; i++) {
		const struct addr *r = i < msg->to.n ? &msg->to.v[i] : &msg->cc.v[i - msg->to.n];
		addrlist_parse(r->email, &cand);
		if (*r->email && !is_our_address(app->cfg, r->email, NULL) && !config_rep_find(app->cfg, r->email) &&
		    !config_rep_by_address(app->cfg, r->email))
			a->external = true;
	}
	const char *first = NULL, *first_name = NULL;
	for (size_t i = 0; i < cand.n; i++) {
		const char *e = cand.v[i].email;
		if (!*e || is_our_address(app->cfg, e, NULL) || config_rep_find(app->cfg, e) ||
		    config_rep_by_address(app->cfg, e))
			continue;
		int count = 0;
		int64_t d = contact_open_deal(app, e, &count);
		if (d > 0 && !a->deal) {
			a->deal = d;
			a->route = R_CONTACT;
			a->picked = count > 1;
			a->ncandidates = count;
			free(a->contact);
			a->contact = xstrdup(e);
			break;
		}
		if (!first) {
			first = e;
			first_name = cand.v[i].name;
		}
	}
	if (!a->contact && first) {
		a->contact = xstrdup(first);
		a->contact_name = xstrdup(first_name);
	}
	addrlist_free(&cand);
}

/* The first three routes of SPEC §3.3, in order: a reply token, the thread
 * (In-Reply-To/References naming a message we sent or processed), a subject
 * tag.  From anyone but a rep (`tag_from_contact`), a tag is trusted only when
 * the sender is that deal's own contact: a stranger cannot pick a deal by
 * guessing its number. */
static void route_by_headers(struct app *app, const struct message *msg, struct analysis *a,
			     int64_t token_deal, bool tag_from_contact)
{
	if (token_deal > 0 && deal_exists(app, token_deal)) {
		a->deal = token_deal;
		a->route = R_TOKEN;
		return;
	}
	if ((a->deal = thread_deal(app, msg)) > 0) {
		a->route = R_THREAD;
		return;
	}
	int64_t t = subject_tag(msg->subject);
	if (t <= 0 || !deal_exists(app, t))
		return;
	if (tag_from_contact &&
	    db_int(app->db, 0, "SELECT COUNT(*) FROM deals d JOIN contacts c ON c.id = d.contact_id "
		   "WHERE d.id = ? AND c.email = ?", "it", t, a->sender) == 0)
		return;
	a->deal = t;
	a->route = R_TAG;
}

/* The sender is a rep (by address, and authenticated where that is asked
 * for) and the visible text has at least one command line. */
static bool rep_with_commands(const struct config *cfg, const struct analysis *a, const struct message *msg)
{
	const struct rep *rep = config_rep_by_address(cfg, a->sender);
	if (!rep || (cfg->require_auth && a->auth != 1))
		return false;
	if (msg->cmds)   /* parsed ahead (a batch) */
		return msg->cmds->n > 0;
	char today[11];
	app_today(today);
	char *vis = msg->visible ? NULL : reply_visible(msg->text ? msg->text : "");
	struct command_list cl = {0};
	commands_parse_wrapped(msg->visible ? msg->visible : vis, today, msg->text_wrapped, &cl);
	bool any = cl.n > 0;
	commands_free(&cl);
	free(vis);
	return any;
}

/* The outbox row a bounce is about: its recipient is the address that
 * failed, its deal the bounce's. */
static void bounce_of_outbox(struct app *app, struct analysis *a, int64_t ob)
{
	a->bounce_outbox = ob;
	a->bounce_addr = db_text(app->db, "SELECT rcpt FROM outbox WHERE id = ?", "i", ob);
	a->deal = db_int(app->db, 0, "SELECT deal_id FROM outbox WHERE id = ?", "i", ob);
}

/* A failure report in plain text (qmail, Yahoo, many appliances): the
 * address on a line of its own as "<x@y>:" before the copy of the message,
 * or, in the copy, the Message-ID of one of our messages. */
static void plain_bounce_scan(struct app *app, const struct message *msg, struct analysis *a)
{
	const char *t = msg->text;
	if (!t)
		return;
	bool in_copy = false;
	for (const char *p = t; *p && !a->bounce_addr;) {
		size_t n = strcspn(p, "\n");
		size_t m = n && p[n - 1] == '\r' ? n - 1 : n;
		if (m >= 10 && !strncmp(p, "--- Below this line", 19))
			in_copy = true;
		else if (!in_copy && m > 4 && p[0] == '<' && p[m - 1] == ':' && p[m - 2] == '>' &&
			 memchr(p, '@', m) && !memchr(p, ' ', m)) {
			char *addr = xstrndup(p + 1, m - 3);
			a->bounce_addr = addr;
		} else if (m > 12 && !strncasecmp(p, "Message-ID:", 11) && a->bounce_outbox <= 0) {
			char *id = text_trim(xstrndup(p + 11, m - 11));
			int64_t ob = db_int(app->db, 0, "SELECT id FROM outbox WHERE message_id = ?", "t", id);
			free(id);
			if (ob > 0)
				bounce_of_outbox(app, a, ob);
		}
		p += n + (p[n] == '\n');
	}
}

/* A report without a DSN part that says delivery is only delayed (Exim's
 * "Warning: message … delayed 24 hours", "Delayed Mail (still being
 * retried)", "… (Delay)"): not a failure. */
static bool plain_delay_notice(const struct message *msg)
{
	static const char *const subj[] = {"delay", "retrasad", "atrasad", "demorad", "retardad", NULL};
	static const char *const body[] = {"no action is required", "will continue trying", "still trying",
					   "has not yet been delivered", "have not yet been delivered",
					   "not yet been delivered", "this is a warning message only",
					   "no es necesario que haga nada", "nao e necessario fazer nada", NULL};
	bool r = false;
	char *f = text_fold(msg->subject ? msg->subject : "");
	for (const char *const *w = subj; !r && *w; w++)
		r = strstr(f, *w) != NULL;
	free(f);
	if (r || !msg->text)
		return r;
	size_t n = strlen(msg->text);
	char *head = xstrndup(msg->text, n > 4096 ? 4096 : n);
	f = text_fold(head);
	free(head);
	for (const char *const *w = body; !r && *w; w++)
		r = strstr(f, *w) != NULL;
	free(f);
	return r;
}

/* What the recipients say: one of ours among To and Cc, and the signed
 * tokens of our plus-addresses among every recipient (a bounce's outbox
 * row, a drip's unsubscribe, a deal).  Reads the message, the (read-only)
 * config and the secret only: a batch works it out in its read-ahead
 * threads (message_parse_for()). */
static void scan_recipients(const struct app *app, const struct message *msg, struct rcpt_scan *r)
{
	const struct config *cfg = app->cfg;
	*r = (struct rcpt_scan){0};
	for (size_t i = 0; i < msg->to.n + msg->cc.n && !r->addressed; i++) {
		const char *e = i < msg->to.n ? msg->to.v[i].email : msg->cc.v[i - msg->to.n].email;
		r->addressed = is_our_address(cfg, e, NULL);
	}
	struct addrlist rcpt = {0};
	recipients(msg, &rcpt);
	for (size_t i = 0; i < rcpt.n; i++) {
		char *suffix = NULL;
		if (!is_our_address(cfg, rcpt.v[i].email, &suffix))
			continue;
		if (!suffix)
			continue;
		if (!strncasecmp(suffix, "b.", 2)) {
			int64_t ob = token_verify(app->secret, app->secret_len, 'b', suffix + 2);
			if (ob > 0)
				r->bounce_outbox = ob;
		} else if (!strncasecmp(suffix, "u.", 2)) {
			/* the List-Unsubscribe mailto of a drip: signed contact id */
			int64_t cid = token_verify(app->secret, app->secret_len, 'u', suffix + 2);
			if (cid > 0)
				r->unsubscribe_contact = cid;
		} else if (!r->token_deal) {
			r->token_deal = token_verify(app->secret, app->secret_len, 'd', suffix);
		}
		free(suffix);
	}
	addrlist_free(&rcpt);
}

int analyze(struct app *app, const struct message *msg, struct analysis *a)
{
	const struct config *cfg = app->cfg;
	bool bounce, by_subject;
	char today[11];
	a->auth = -1;
	a->sender = xstrdup(msg->from.email ? msg->from.email : "");
	a->sender_name = xstrdup(msg->from.name);
	if (msg->cls_done) {
		a->cls = (enum cls)msg->cls;
		bounce = msg->cls_bounce;
		by_subject = msg->cls_by_subject;
	} else
		a->cls = classify_mail(msg, &bounce, &by_subject);
	if (cfg->require_auth)
		a->auth = check_auth(cfg, msg);

	struct rcpt_scan scanned;
	const struct rcpt_scan *rs = &msg->rcpt;
	if (!msg->rcpt_done) {
		scan_recipients(app, msg, &scanned);
		rs = &scanned;
	}
	a->addressed = rs->addressed;
	if (rs->bounce_outbox > 0)
		a->bounce_outbox = rs->bounce_outbox;
	if (rs->unsubscribe_contact > 0)
		a->unsubscribe_contact = rs->unsubscribe_contact;
	int64_t token_deal = rs->token_deal;

	if (a->cls == C_BOUNCE) {
		if (a->bounce_outbox <= 0 && msg->dsn_original_id)
			a->bounce_outbox = db_int(app->db, 0, "SELECT id FROM outbox WHERE message_id = ?", "t",
						  msg->dsn_original_id);
		if (a->bounce_outbox <= 0 && msg->in_reply_to)
			a->bounce_outbox = db_int(app->db, 0, "SELECT id FROM outbox WHERE message_id = ?", "t",
						  msg->in_reply_to);
		if (a->bounce_outbox > 0)
			bounce_of_outbox(app, a, a->bounce_outbox);
		/* a DSN whose recipients were only delayed or delivered is not a
		 * bounce, even when it is about one of our messages */
		bool failure = msg->is_dsn ? msg->dsn_failed.n > 0 : !plain_delay_notice(msg);
		if (!a->bounce_addr && msg->dsn_failed.n)
			a->bounce_addr = xstrdup(msg->dsn_failed.v[0].email);
		/* Exim's plain failure report names the address in a header */
		const char *xf = message_header(msg, "X-Failed-Recipients");
		if (!a->bounce_addr && xf && !msg->is_dsn) {
			struct addrlist l = {0};
			addrlist_parse(xf, &l);
			if (l.n)
				a->bounce_addr = xstrdup(l.v[0].email);
			addrlist_free(&l);
		}
		if (!a->bounce_addr && !msg->is_dsn)
			plain_bounce_scan(app, msg, a);
		bool known = a->bounce_addr &&
			     db_int(app->db, 0, "SELECT COUNT(*) FROM contacts WHERE email = ?", "t", a->bounce_addr) > 0;
		/* a bounce of one of our messages to someone who is not a
		 * contact (a rep's confirmation, a manager's digest) still
		 * marks that delivery failed: the digest lists it */
		bool ours = failure && !known && a->bounce_outbox > 0;
		a->outcome = failure && (known || ours) ? O_LOG : O_IGNORE;
		a->note = !failure ? "a delivery report that is not a failure (delayed or delivered)"
			  : known  ? "bounce of mail to a contact"
			  : ours   ? "bounce of our message to an address that is not a contact: that delivery is failed"
				   : "bounce for an address we do not know";
		if (a->deal > 0)
			a->route = R_THREAD;
		return db_error(app->db) ? -1 : 0;
	}
	/* The subject is a guess, there so that an automatic reply never makes a
	 * lead: a rep's message that carries commands is the rep's, whatever its
	 * subject says ("Vacaciones: cubrir a Luis" and a `stage:` line). */
	if (by_subject && rep_with_commands(cfg, a, msg) && !exchange_generated(msg))
		a->cls = C_UNKNOWN;
	if (a->cls == C_AUTOREPLY || a->cls == C_LIST) {
		a->outcome = O_IGNORE;
		a->note = a->cls == C_LIST ? "mailing-list mail is never processed" : "automatic replies are never processed";
		return 0;
	}
	if (!a->sender[0] || is_our_address(cfg, a->sender, NULL)) {
		a->cls = C_UNKNOWN;
		a->outcome = O_IGNORE;
		a->note = a->sender[0] ? "mail from our own address (loop)" : "no sender address";
		return 0;
	}

	/* reps are identified by address only (or a sub-address of it,
	 * "ana+crm@"), never by name */
	const struct rep *rep = config_rep_by_address(cfg, a->sender);
	a->visible = msg->visible ? xstrdup(msg->visible) : reply_visible(msg->text ? msg->text : "");
	app_today(today);

	if (rep) {
		if (cfg->require_auth && a->auth != 1) {
			a->cls = C_UNKNOWN;
			a->outcome = O_IGNORE;
			a->note = "a rep's address without authentication: no command runs";
			return 0;
		}
		/* SPEC §3.2: where authentication is required, a reply token must
		 * also name a deal the sender may change */
		if (cfg->require_auth && token_deal > 0 && !may_change(app, rep, token_deal)) {
			a->cls = C_UNKNOWN;
			a->outcome = O_IGNORE;
			a->note = "a reply token for a deal this rep may not change: no command runs";
			return db_error(app->db) ? -1 : 0;
		}
		a->cls = C_REP;
		a->rep = rep;
		if (strcasecmp(a->sender, rep->email)) {   /* a sub-address: the rep's changes, the rep's answers */
			free(a->sender);
			a->sender = xstrdup(rep->email);
		}
		route_by_headers(app, msg, a, token_deal, false);
		rep_context_contact(app, msg, a);
		if (msg->cmds && !strcmp(msg->cmds_today, today)) {   /* of msg->visible, which a->visible copies */
			a->cmds = *msg->cmds;   /* parsed ahead: borrowed, msg outlives a */
			a->cmds_borrowed = true;
		} else
			commands_parse_wrapped(a->visible, today, msg->text_wrapped, &a->cmds);
		for (size_t i = 0; i < a->cmds.n; i++) {
			const struct command *c = &a->cmds.v[i];
			if (c->kind != CMD_DEAL || c->error || c->deal_tag)
				continue;
			if (c->deal_ref > 0) {
				a->deal = c->deal_ref;
				a->route = R_DEAL_LINE;
				a->picked = false;
			} else {
				a->deal = 0;
				a->create_deal = true;
				a->route = R_DEAL_LINE;
				free(a->new_title);
				a->new_title = xstrdup(c->text);
			}
		}
		/* a message without a deal of its own (a digest's reply): an
		 * untagged line right under a tagged one is for that line's deal
		 * ("#4 etapa: negociación" / "valor: 24.000 USD") */
		for (size_t i = 1; !a->deal && !a->create_deal && i < a->cmds.n; i++) {
			struct command *c = &a->cmds.v[i];
			const struct command *above = &a->cmds.v[i - 1];
			if (!c->deal_tag && above->deal_tag && c->line_no == above->line_no + 1 &&
			    c->kind != CMD_HELP && c->kind != CMD_LIST && c->kind != CMD_UNDO && c->kind != CMD_DEAL)
				c->deal_tag = above->deal_tag;
		}
		/* undo: the rep answers one of our confirmations */
		bool wants_undo = false;
		for (size_t i = 0; i < a->cmds.n; i++)
			wants_undo |= a->cmds.v[i].kind == CMD_UNDO;
		if (wants_undo && msg->in_reply_to) {
			struct dbq *q = db_query(app->db, "SELECT cause_message_id, created_at FROM outbox WHERE "
						 "message_id = ? AND kind = 'confirmation'", "t", msg->in_reply_to);
			if (db_next(q) && db_col_text(q, 0)) {
				time_t at = iso_parse(db_col_text(q, 1));
				bool fresh = at > 0 && clock_now() - at <= (time_t)cfg->undo_minutes * 60;
				a->undo_of = xstrdup(fresh ? db_col_text(q, 0) : "");
			}
			db_done(q);
		}
		bool needs_deal = false, any_cmd = a->cmds.n > 0;
		for (size_t i = 0; i < a->cmds.n; i++) {
			enum cmd_kind k = a->cmds.v[i].kind;
			if (!a->cmds.v[i].deal_tag && k != CMD_HELP && k != CMD_LIST && k != CMD_UNDO && k != CMD_DEAL)
				needs_deal = true;
		}
		/* a conversation with a client (Bcc'd, Cc'd or forwarded to us) who
		 * has no open deal yet: the deal is created for the rep */
		bool conversation = !a->addressed || a->forwarded || a->external;
		if (!a->deal && !a->create_deal && a->contact && (needs_deal || conversation) &&
		    (needs_deal || !any_cmd)) {
			struct buf t;
			buf_init(&t);
			strip_subject(msg->fwd_subject && !*msg->subject ? msg->fwd_subject : msg->subject, &t);
			if (!t.len)
				buf_adds(&t, a->contact);
			a->create_deal = true;
			a->route = R_NEW_LEAD;
			a->new_title = buf_detach(&t);
		}
		validate(app, a, msg);
		bool bad = false;
		for (size_t i = 0; i < a->cmds.n; i++)
			bad |= a->res[i].err != E_NONE;
		/* a rep's mail to a client with us in Bcc: the client reads every
		 * line of it, so when a line that reads as a command is none (a
		 * quotation's "Fase: piloto en 2 sucursales") the lines were
		 * written for the client, and none is taken for a command: the
		 * conversation is logged, with no error to the rep.  When they
		 * all are commands, they apply (SPEC 3.3 routes a Bcc'd
		 * conversation to the contact's deal, and the confirmation says
		 * which). */
		/* ... unless a failing line is a near miss of a valid one (a
		 * typo: "etapa: propuestaa"): that was meant for us, and the rep
		 * is told, as anywhere */
		bool typo = false;
		for (size_t i = 0; i < a->cmds.n; i++)
			typo |= a->res[i].err != E_NONE && a->res[i].suggest;
		if (bad && !typo && !a->addressed && a->external) {
			for (size_t i = 0; i < a->cmds.n; i++) {
				free(a->res[i].error);
				free(a->res[i].choices);
				memset(&a->res[i], 0, sizeof a->res[i]);
			}
			if (!a->cmds_borrowed)
				commands_free(&a->cmds);
			memset(&a->cmds, 0, sizeof a->cmds);
			a->cmds_borrowed = false;
			bad = any_cmd = false;
		}
		if (bad)
			a->outcome = O_REFUSE;
		else if (any_cmd)
			a->outcome = O_APPLY;
		else if (a->deal && conversation)
			a->outcome = O_LOG;
		else if (a->create_deal)
			a->outcome = O_LEAD;
		else {
			a->outcome = O_IGNORE;
			/* apply_rep() answers it with the usage */
			a->note = a->addressed && a->visible[0] && cfg->confirm != CONFIRM_NEVER
					  ? "no command in the visible text: the rep is answered with the usage (help)"
					  : "no command in the visible text";
		}
		return db_error(app->db) ? -1 : 0;
	}

	/* a contact or an unknown sender: never runs commands, and its
	 * automatic mail is neither a lead nor a contact's reply (except at
	 * the signed List-Unsubscribe address of a drip, honoured whoever
	 * sends to it) */
	enum cls bulk = a->unsubscribe_contact > 0 ? C_UNKNOWN : bulk_class(msg, &a->note);
	if (bulk != C_UNKNOWN) {
		a->cls = bulk;
		a->outcome = O_IGNORE;
		return 0;
	}
	bool known = db_int(app->db, 0, "SELECT COUNT(*) FROM contacts WHERE email = ?", "t", a->sender) > 0;
	a->cls = known ? C_CONTACT : C_UNKNOWN;
	a->contact = xstrdup(a->sender);
	a->contact_name = xstrdup(msg->from.name);
	route_by_headers(app, msg, a, token_deal, true);
	if (!a->deal) {
		int count = 0;
		a->deal = contact_open_deal(app, a->sender, &count);
		if (a->deal > 0) {
			a->route = R_CONTACT;
			a->picked = count > 1;
		}
	}
	a->unsubscribe = wants_unsubscribe(msg->subject, a->visible);
	if (a->unsubscribe_contact > 0) {
		/* the signed List-Unsubscribe address of a drip: it names the
		 * contact, whoever sends to it (the client's alias, a colleague
		 * the drip was forwarded to, a mail client's unsubscribe button) */
		char *email = db_text(app->db, "SELECT email FROM contacts WHERE id = ?", "i", a->unsubscribe_contact);
		if (email && strcasecmp(email, a->sender)) {
			a->unsub_email = email;
			email = NULL;
		}
		free(email);
		a->unsubscribe = true;
	}
	if (a->unsub_email) {
		a->outcome = O_LOG;
		a->note = "unsubscribe request for another address, by its signed List-Unsubscribe address";
		if (!known)
			a->deal = 0;   /* nothing of the stranger's to log, and no lead */
	} else if (a->deal > 0) {
		a->outcome = O_LOG;
	} else if (a->unsubscribe && known) {
		a->outcome = O_LOG;
	} else if (a->unsubscribe) {
		/* "unsubscribe" from an address we never wrote to: not a lead */
		a->outcome = O_IGNORE;
		a->note = "an unsubscribe request from an address we do not know";
	} else if (msg->calendar_reply && !known) {
		/* what a calendar sends when a guest answers an invitation
		 * ("Aceptado: Demo ACME @ mié 25 nov…"): the rep's meeting, not
		 * someone asking to buy */
		a->outcome = O_IGNORE;
		a->note = "a calendar reply from an unknown sender is not a lead";
	} else {
		a->outcome = O_LEAD;
		a->route = R_NEW_LEAD;
		a->create_deal = true;
		struct buf t;
		buf_init(&t);
		strip_subject(msg->subject, &t);
		if (!t.len)
			buf_addf(&t, "%s", msg->from.name && *msg->from.name ? msg->from.name : a->sender);
		a->new_title = buf_detach(&t);
	}
	return db_error(app->db) ? -1 : 0;
}

/* ---- the transaction around it ----------------------------------------- */

/* ---- which message this is ------------------------------------------------
 * By its Message-ID; a message without one is known by the SHA-256 of its
 * bytes as delivered, without the framing a source puts around them, so
 * that it has one key whichever way it arrives:
 *   - a leading mbox "From " envelope line (the MTA's pipe with Postfix's
 *     flags=F, procmail, an mbox) is not hashed, nor a byte order mark
 *     before the headers (normalise() in message.c drops both too);
 *   - the run of CR and LF at its end is replaced by one line end (CRLF
 *     when its lines end in CRLF, else LF): an mbox's blank separator line,
 *     or a copy re-fetched over IMAP, read from a Maildir or piped that
 *     differs only in its final newline(s), makes no new key.
 * A message that ends in exactly one line end (most do) so keeps the key
 * it had before this rule: the digest of its raw bytes.
 * The same message with LF and with CRLF line ends (by the MTA's pipe, then
 * fetched over IMAP) must still apply once, so the digest of its other form
 * is looked up too; and, for a database written before the rule, the keys
 * it had then: the digest of the raw bytes as given (with an envelope line,
 * or with no or several final newlines) and of their other form, and the
 * digest with the mbox separator line (an mbox read again). */
#define KEY_ALTS 5

struct msg_keys {
	char key[MESSAGE_KEY_MAX];   /* what the processed row records */
	char alt[KEY_ALTS][65];      /* other keys it may be recorded under */
	int nalt;
	char content[65];            /* without Message-ID: the digest without trace fields, or "" */
};

static bool has_key_id(const struct message *msg)
{
	return msg && msg->message_id && msg->message_id[0] && strlen(msg->message_id) < MESSAGE_KEY_MAX;
}

static void keys_alt(struct msg_keys *k, const char *h)
{
	if (!strcmp(k->key, h))
		return;
	for (int i = 0; i < k->nalt; i++)
		if (!strcmp(k->alt[i], h))
			return;
	if (k->nalt < KEY_ALTS)
		snprintf(k->alt[k->nalt++], sizeof k->alt[0], "%s", h);
}

/* Hash s in its other form: CRLF -> LF when crlf, else LF -> CRLF (a line
 * at a time: no copy of a message of tens of megabytes). */
static void sha256_other_form(struct sha256_ctx *c, const char *s, size_t n, bool crlf)
{
	const char *p = s, *e = s + n, *nl;
	while ((nl = memchr(p, '\n', (size_t)(e - p)))) {
		size_t k = (size_t)(nl - p);
		if (crlf && k && nl[-1] == '\r')
			k--;
		sha256_update(c, k, (const uint8_t *)p);
		if (crlf)
			sha256_update(c, 1, (const uint8_t *)"\n");
		else
			sha256_update(c, 2, (const uint8_t *)"\r\n");
		p = nl + 1;
	}
	sha256_update(c, (size_t)(e - p), (const uint8_t *)p);
}

/* Whether s has a CRLF (memchr() for the CR: memmem() reads a message of
 * tens of megabytes several times slower). */
static bool has_crlf(const char *s, size_t n)
{
	for (const char *p = s, *e = s + n; (p = memchr(p, '\r', (size_t)(e - p))); p++)
		if (p + 1 < e && p[1] == '\n')
			return true;
	return false;
}

/* The hex digest of what c has seen followed by n bytes of tail (c is
 * left as it was). */
static void sha256_then(const struct sha256_ctx *c, const char *tail, size_t n, char out[65])
{
	static const char digits[] = "0123456789abcdef";
	struct sha256_ctx d = *c;
	uint8_t md[SHA256_DIGEST_SIZE];
	sha256_update(&d, n, (const uint8_t *)tail);
	sha256_digest(&d, sizeof md, md);
	for (size_t i = 0; i < sizeof md; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
}

/* Header fields a relay or a delivery agent adds or rewrites on the way in
 * (and mail readers' status fields): the same message delivered by another
 * path, or fetched again, differs in them only. */
static bool trace_field(const char *name, size_t n)
{
	static const char *const exact[] = {
		"Received", "Return-Path", "Delivered-To", "X-Original-To", "X-Delivered-To", "Envelope-To",
		"Authentication-Results", "Received-SPF", "X-Original-Authentication-Results", "Status",
		"X-Status", "X-Keywords", "X-UID", "Content-Length", "Lines", "X-Virus-Scanned",
	};
	static const char *const prefix[] = { "ARC-", "X-Spam-", "X-Rspamd-", "X-Envelope-", "X-Amavis-" };
	for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
		if (strlen(exact[i]) == n && !strncasecmp(name, exact[i], n))
			return true;
	for (size_t i = 0; i < sizeof prefix / sizeof *prefix; i++)
		if (n > strlen(prefix[i]) && !strncasecmp(name, prefix[i], strlen(prefix[i])))
			return true;
	return false;
}

/* The digest of the message body[0, n) without its trace fields, with LF
 * line ends and without the line ends at its end: one key for a copy that
 * came by another relay or was delivered again with new Received lines. */
static void content_key(const char *body, size_t n, char out[65])
{
	struct sha256_ctx c;
	const char *p = body, *e = body + n;
	bool in_head = true, skip = false;
	sha256_init(&c);
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *end = nl ? nl : e;
		size_t k = (size_t)(end - p);
		if (k && p[k - 1] == '\r')
			k--;
		if (in_head) {
			if (!k) {
				in_head = false;
			} else if (*p == ' ' || *p == '\t') {
				if (skip)   /* a continuation of a skipped field */
					goto next;
			} else {
				const char *colon = memchr(p, ':', k);
				size_t nl2 = colon ? (size_t)(colon - p) : 0;
				while (nl2 && (p[nl2 - 1] == ' ' || p[nl2 - 1] == '\t'))
					nl2--;
				skip = colon && trace_field(p, nl2);
				if (skip)
					goto next;
			}
		}
		sha256_update(&c, k, (const uint8_t *)p);
		sha256_update(&c, 1, (const uint8_t *)"\n");
	next:
		p = nl ? nl + 1 : e;
	}
	sha256_then(&c, "", 0, out);
}

static void message_keys(const struct message *msg, const char *raw, size_t len, struct msg_keys *k)
{
	k->nalt = 0;
	k->content[0] = '\0';
	if (has_key_id(msg)) {
		snprintf(k->key, sizeof k->key, "%s", msg->message_id);
		return;
	}
	/* the message without its framing: body[0, n) */
	size_t i = 0;
	if (len >= 3 && !memcmp(raw, "\xEF\xBB\xBF", 3))
		i = 3;
	if (len - i >= 5 && !memcmp(raw + i, "From ", 5)) {
		const char *e = memchr(raw + i, '\n', len - i);
		i = e ? (size_t)(e - raw) + 1 : len;
	}
	size_t end = len;
	while (end > i && (raw[end - 1] == '\n' || raw[end - 1] == '\r'))
		end--;
	const char *body = raw + i;
	size_t n = end - i;
	/* its line ends: CRLF when its lines end so (a one-line message: its
	 * final line end says) */
	content_key(body, n, k->content);
	bool crlf = memchr(body, '\n', n) ? has_crlf(body, n) : has_crlf(raw + end, len - end);
	const char *eol = crlf ? "\r\n\r\n" : "\n\n", *oeol = crlf ? "\n\n" : "\r\n\r\n";
	size_t el = crlf ? 2 : 1, oel = crlf ? 1 : 2;
	char h[65];
	struct sha256_ctx c, o;
	sha256_init(&c);
	sha256_update(&c, n, (const uint8_t *)body);
	sha256_then(&c, eol, el, h);
	snprintf(k->key, sizeof k->key, "%s", h);
	sha256_init(&o);
	sha256_other_form(&o, body, n, crlf);
	sha256_then(&o, oeol, oel, h);
	keys_alt(k, h);
	/* before: the raw bytes as given, and their other form (read again
	 * only when they do not start with the message) */
	if (i || len - end != el) {
		bool rcrlf = has_crlf(raw, len);
		struct sha256_ctx r = c, ro = o;
		if (i) {
			sha256_init(&r);
			sha256_update(&r, end, (const uint8_t *)raw);
		}
		sha256_then(&r, raw + end, len - end, h);
		keys_alt(k, h);
		if (i || rcrlf != crlf) {
			sha256_init(&ro);
			sha256_other_form(&ro, raw, end, rcrlf);
		}
		sha256_other_form(&ro, raw + end, len - end, rcrlf);
		sha256_then(&ro, "", 0, h);
		keys_alt(k, h);
	}
	/* before: an mbox's message with its separator line */
	sha256_then(&c, eol, 2 * el, h);
	keys_alt(k, h);
	sha256_then(&o, oeol, 2 * oel, h);
	keys_alt(k, h);
}

/* Whether the message was processed already, under any of its keys. */
static bool keys_seen(struct app *app, const struct msg_keys *k)
{
	if (db_int(app->db, 0, "SELECT COUNT(*) FROM processed WHERE message_id = ?", "t", k->key) > 0)
		return true;
	for (int i = 0; i < k->nalt; i++)
		if (db_int(app->db, 0, "SELECT COUNT(*) FROM processed WHERE message_id = ?", "t", k->alt[i]) > 0)
			return true;
	if (k->content[0] &&
	    db_int(app->db, 0, "SELECT COUNT(*) FROM processed WHERE message_id = ?", "t", k->content) > 0)
		return true;
	return false;
}

/* Record the trace-free key beside the processed row of key (a message
 * without Message-ID): the copy that comes again by another path finds it. */
static void keys_record_content(struct app *app, const struct msg_keys *k, const char *at, const char *outcome)
{
	if (!k->content[0] || !strcmp(k->content, k->key))
		return;
	db_exec(app->db, "INSERT OR IGNORE INTO processed(message_id, at, outcome) VALUES(?, ?, ?)", "ttt",
		k->content, at, outcome);
}

static int tx_code(struct app *app)
{
	if (!db_error(app->db))
		return EXIT_OK;
	if (db_tempfail(app->db)) {
		printf("4.3.0 dealmail: temporary failure: %s\n", db_error(app->db));
		log_error("temporary failure: %s", db_error(app->db));
		return EXIT_TEMPFAIL;
	}
	log_error("%s", db_error(app->db));
	return EXIT_IOERR;
}

/* Start one message's unit of work: a transaction, or a savepoint inside the
 * batch's transaction, or nothing when the batch is all-or-nothing. */
static int unit_begin(struct app *app)
{
	if (app->in_batch_tx && app->batch_whole)
		return 0;
	return app->in_batch_tx ? db_savepoint(app->db) : db_begin(app->db);
}

static int finish(struct app *app)
{
	if (app->in_batch_tx && app->batch_whole) {
		/* the caller rolls the batch back (batch_abort) on this code */
		int code = tx_code(app);
		db_clear_error(app->db);
		return code;
	}
	if (app->in_batch_tx) {
		if (db_error(app->db) || db_release(app->db) < 0) {
			int code = tx_code(app);
			db_clear_error(app->db);
			db_rollback_to(app->db);
			return code;
		}
		return EXIT_OK;
	}
	if (!db_error(app->db) && app->before_commit && !app->before_commit(app->before_commit_arg)) {
		db_rollback(app->db);
		return EXIT_TEMPFAIL;
	}
	if (db_error(app->db) || db_commit(app->db) < 0) {
		int code = tx_code(app);
		db_rollback(app->db);
		db_clear_error(app->db);
		return code;
	}
	return EXIT_OK;
}

int batch_begin(struct app *app)
{
	if (db_begin(app->db) < 0) {
		int code = tx_code(app);
		db_clear_error(app->db);
		return code;
	}
	app->in_batch_tx = true;
	return 0;
}

int batch_commit(struct app *app)
{
	app->in_batch_tx = false;
	if (db_commit(app->db) < 0) {
		int code = tx_code(app);
		db_rollback(app->db);
		db_clear_error(app->db);
		return code;
	}
	return 0;
}

void batch_abort(struct app *app)
{
	app->in_batch_tx = false;
	db_rollback(app->db);
	db_clear_error(app->db);
}

static int save_checkpoint(struct app *app, const struct source_ack *src)
{
	if (!src || !src->mailbox)
		return 0;
	return db_exec(app->db, "INSERT INTO mailboxes(name, uidvalidity, last_uid) VALUES(?, ?, ?) "
		       "ON CONFLICT(name) DO UPDATE SET uidvalidity = excluded.uidvalidity, "
		       "last_uid = MAX(CASE WHEN mailboxes.uidvalidity = excluded.uidvalidity THEN "
		       "mailboxes.last_uid ELSE 0 END, excluded.last_uid)",
		       "tii", src->mailbox, (int64_t)src->uidvalidity, (int64_t)src->uid);
}

int quarantine_message(struct app *app, const char *raw, size_t len, size_t total, const char *why,
		       const struct source_ack *src)
{
	struct msg_keys k;
	char now[21];
	const char *key = k.key;
	/* all of it, up to what the quarantine keeps of one message (and what
	 * SQLite stores in one value, with room for the row's other columns);
	 * a message cut is said so, loudly, never silently */
	size_t cap = config_quarantine_max(app->cfg), dbmax = db_max_value(app->db);
	if (dbmax > ((size_t)1 << 20) && cap > dbmax - ((size_t)1 << 20))
		cap = dbmax - ((size_t)1 << 20);
	if (total < len)
		total = len;
	if (len > cap)
		len = cap;
	char *cut = NULL;
	if (len < total) {
		cut = xasprintf("%s; CUT: only the first %zu of its %zu bytes are kept (the quarantine keeps %zu "
				"bytes of a message: [limits] max_quarantine_bytes)", why, len, total, cap);
		log_error("a message of %zu bytes is larger than the quarantine keeps (%zu bytes, [limits] "
			  "max_quarantine_bytes): ONLY ITS FIRST %zu BYTES ARE KEPT", total, cap, len);
		why = cut;
	}
	message_keys(NULL, raw, len, &k);
	app_now_iso(now);
	int code;
	if (unit_begin(app) < 0) {
		code = tx_code(app);
		db_clear_error(app->db);
		free(cut);
		return code;
	}
	if (!keys_seen(app, &k)) {
		db_exec(app->db, "INSERT INTO quarantine(reason, raw, bytes, sha256, source, at) VALUES(?, ?, ?, ?, ?, ?)",
			"tbitt" "t", why, raw, len, (int64_t)len, key, src && src->mailbox ? src->mailbox : NULL, now);
		db_exec(app->db, "INSERT INTO processed(message_id, at, outcome) VALUES(?, ?, 'quarantine')", "tt",
			key, now);
		keys_record_content(app, &k, now, "quarantine");
	}
	save_checkpoint(app, src);
	code = finish(app);
	if (code == EXIT_OK) {
		log_info("message quarantined: %s", why);
		code = EXIT_DATAERR;
	}
	free(cut);
	return code;
}

struct message *message_parse_for(const struct app *app, const char *raw, size_t len, const char **why_r)
{
	struct message_limits lim;
	struct message *msg = NULL;
	message_limits_default(&lim);
	if (app->cfg->max_message_bytes)
		lim.max_bytes = app->cfg->max_message_bytes;
	if (app->cfg->max_mime_depth)
		lim.max_depth = app->cfg->max_mime_depth;
	if (app->cfg->max_mime_parts)
		lim.max_parts = app->cfg->max_mime_parts;
	*why_r = NULL;
	if (message_parse(raw, len, &lim, &msg, why_r) != MESSAGE_OK) {
		if (!*why_r)
			*why_r = "cannot parse the message";
		return NULL;
	}
	/* needs no database: in a Maildir batch this runs in the read-ahead
	 * thread, off the thread that applies (which was the busier one); so
	 * does the classification, which reads only the message */
	msg->cls = classify_mail(msg, &msg->cls_bounce, &msg->cls_by_subject);
	msg->cls_done = true;
	scan_recipients(app, msg, &msg->rcpt);
	msg->rcpt_done = true;
	/* a forwarded block names the client only in a rep's message (the
	 * config is read-only here: safe to look in from this thread); the
	 * text is split into lines once for both */
	bool from_rep = msg->from.email && config_rep_by_address(app->cfg, msg->from.email);
	struct fwd_block fb = {0};
	bool fwd = false;
	msg->visible = from_rep ? reply_visible_forwarded(msg->text, &fb, &fwd) : reply_visible(msg->text ? msg->text : "");
	if (from_rep) {
		if (fwd) {
			msg->inline_fwd = xmalloc(sizeof fb);
			*msg->inline_fwd = fb;
		}
		msg->inline_fwd_done = true;
		/* and its commands (dates like "+14d" count from today: analyze()
		 * parses again if the day has changed by the time it runs) */
		app_today(msg->cmds_today);
		msg->cmds = xcalloc(1, sizeof *msg->cmds);
		commands_parse_wrapped(msg->visible, msg->cmds_today, msg->text_wrapped, msg->cmds);
	}
	return msg;
}

int process_message(struct app *app, const char *raw, size_t len, const struct source_ack *src)
{
	const char *why;
	struct message *msg = message_parse_for(app, raw, len, &why);
	int code = process_parsed(app, raw, len, msg, why, src);
	message_free(msg);
	return code;
}

int process_parsed(struct app *app, const char *raw, size_t len, struct message *msg, const char *why,
		   const struct source_ack *src)
{
	struct analysis a = {0};
	char now[21];
	if (!msg)
		return quarantine_message(app, raw, len, len, why, src);
	struct msg_keys k;
	message_keys(msg, raw, len, &k);
	memcpy(a.key, k.key, sizeof a.key);
	if (unit_begin(app) < 0) {
		int code = tx_code(app);
		db_clear_error(app->db);
		return code;
	}
	if (keys_seen(app, &k)) {
		log_verbose("%s: already processed", a.key);
		save_checkpoint(app, src);
		return finish(app);
	}
	deal_rows_begin(app);
	if (analyze(app, msg, &a) == 0 && apply_analysis(app, msg, &a) == 0) {
		app_now_iso(now);
		db_exec(app->db, "INSERT INTO processed(message_id, at, outcome, class, sender, deal_id) "
			"VALUES(?, ?, ?, ?, ?, NULLIF(?, 0))", "tttttI" , a.key, now, outcome_name(a.outcome),
			cls_name(a.cls), a.sender, (int)a.deal);
		keys_record_content(app, &k, now, outcome_name(a.outcome));
		save_checkpoint(app, src);
	}
	log_verbose("%s: %s from %s, deal %lld by %s: %s", a.key, cls_name(a.cls), a.sender,
		    (long long)a.deal, route_name(a.route), outcome_name(a.outcome));
	deal_rows_end(app);
	analysis_free(&a);
	return finish(app);
}

/* ---- explain ---------------------------------------------------------- */

int explain_message(struct app *app, const char *raw, size_t len, size_t total, bool json, struct buf *out)
{
	const char *why;
	char big[160];
	struct analysis a = {0};
	struct message *msg = message_parse_for(app, raw, len, &why);
	if (!msg && total > len) {   /* only its head was read: its size, not the head's */
		snprintf(big, sizeof big, "message of %zu bytes is over the %zu-byte limit ([limits] max_message_bytes)",
			 total, app->cfg->max_message_bytes);
		why = big;
	}
	if (!msg) {
		if (json) {
			buf_adds(out, "{\"class\":\"unknown\",\"sender\":null,\"authenticated\":null,\"deal\":null,"
				      "\"route\":\"none\",\"visible_text\":\"\",\"commands\":[],\"outcome\":\"quarantine\","
				      "\"reason\":");
			json_str(out, why);
			buf_adds(out, "}\n");
		} else
			buf_addf(out, "outcome: quarantine (%s)\n", why);
		return EXIT_DATAERR;
	}
	struct msg_keys k;
	message_keys(msg, raw, len, &k);
	memcpy(a.key, k.key, sizeof a.key);
	bool dup = keys_seen(app, &k);
	analyze(app, msg, &a);
	if (dup) {
		a.outcome = O_IGNORE;
		a.note = "already processed: a new delivery of it changes nothing";
	}
	/* The visible text of every message, and the command lines of one whose
	 * sender may not run them (a contact, a stranger, a rep's address that
	 * failed authentication), each with why: what an admin asks explain
	 * about when "my update did not apply". */
	if (!a.visible)   /* freed with the analysis */
		a.visible = msg->visible ? xstrdup(msg->visible) : reply_visible(msg->text ? msg->text : "");
	struct command_list foreign = {0};
	const char *foreign_why = NULL;
	if ((a.cls == C_UNKNOWN || a.cls == C_CONTACT) && !a.cmds.n) {
		char today[11];
		app_today(today);
		commands_parse_wrapped(a.visible, today, msg->text_wrapped, &foreign);
		const struct rep *rep = config_rep_by_address(app->cfg, a.sender);
		foreign_why = rep && a.note && strstr(a.note, "reply token")
				      ? "the reply token names a deal this rep may not change (require_auth): no "
					"command runs"
			      : rep
				      ? "the sender's address is a rep's but the message is not authenticated "
					"(require_auth): no command runs"
				      : "the sender is not a rep: commands run only for reps";
	}
	if (json) {
		buf_adds(out, "{\"class\":");
		json_str(out, cls_name(a.cls));
		buf_adds(out, ",\"sender\":");
		json_str(out, a.sender);
		buf_addf(out, ",\"authenticated\":%s", a.auth < 0 ? "null" : a.auth ? "true" : "false");
		if (a.deal > 0)
			buf_addf(out, ",\"deal\":%lld", (long long)a.deal);
		else
			buf_adds(out, ",\"deal\":null");
		buf_adds(out, ",\"route\":");
		json_str(out, route_name(a.route));
		buf_adds(out, ",\"visible_text\":");
		json_str(out, a.visible ? a.visible : "");
		buf_adds(out, ",\"commands\":[");
		for (size_t i = 0; i < a.cmds.n; i++) {
			const struct command *c = &a.cmds.v[i];
			const struct cmdres *r = &a.res[i];
			buf_adds(out, i ? ",{\"line\":" : "{\"line\":");
			json_str(out, c->line);
			buf_adds(out, ",\"keyword\":");
			json_str(out, command_keyword(c->kind));
			buf_adds(out, ",\"value\":");
			json_str(out, c->value);
			buf_addf(out, ",\"ok\":%s,\"error\":", r->err ? "false" : "true");
			json_str(out, r->error);
			if (r->deal > 0)
				buf_addf(out, ",\"deal\":%lld", (long long)r->deal);
			if (r->suggest) {
				buf_adds(out, ",\"suggestion\":");
				json_str(out, r->suggest);
			}
			if (r->choices) {
				buf_adds(out, ",\"choices\":");
				json_str(out, r->choices);
			}
			buf_addc(out, '}');
		}
		for (size_t i = 0; i < foreign.n; i++) {
			const struct command *c = &foreign.v[i];
			buf_adds(out, i || a.cmds.n ? ",{\"line\":" : "{\"line\":");
			json_str(out, c->line);
			buf_adds(out, ",\"keyword\":");
			json_str(out, command_keyword(c->kind));
			buf_adds(out, ",\"value\":");
			json_str(out, c->value);
			buf_adds(out, ",\"ok\":false,\"error\":");
			json_str(out, foreign_why);
			buf_addc(out, '}');
		}
		buf_adds(out, "]");
		/* lines one typo away from a keyword: not commands (so not in
		 * "commands"), but what an admin asked "why didn't it apply?"
		 * needs to see; the confirmation names them too */
		if (a.cmds.nnear) {
			buf_adds(out, ",\"unread\":[");
			for (size_t i = 0; i < a.cmds.nnear; i++) {
				buf_addf(out, "%s{\"line_no\":%d,\"line\":", i ? "," : "", a.cmds.near[i].line_no);
				json_str(out, a.cmds.near[i].line);
				buf_adds(out, ",\"suggestion\":");
				json_str(out, a.cmds.near[i].keyword);
				buf_adds(out, ",\"error\":\"not a command\"}");
			}
			buf_adds(out, "]");
		}
		buf_adds(out, ",\"outcome\":");
		json_str(out, outcome_name(a.outcome));
		buf_adds(out, ",\"message_id\":");
		json_str(out, a.key);
		buf_addf(out, ",\"duplicate\":%s", dup ? "true" : "false");
		if (a.note) {
			buf_adds(out, ",\"note\":");
			json_str(out, a.note);
		}
		buf_adds(out, "}\n");
	} else {
		buf_addf(out, "message:   %s%s\n", a.key, dup ? " (already processed: would be skipped)" : "");
		buf_addf(out, "class:     %s\n", cls_name(a.cls));
		buf_addf(out, "sender:    %s\n", a.sender);
		buf_addf(out, "auth:      %s\n", a.auth < 0 ? "not checked" : a.auth ? "pass" : "fail");
		if (a.deal > 0)
			buf_addf(out, "deal:      #%lld (by %s%s)\n", (long long)a.deal, route_name(a.route),
				 a.picked ? ", most recently active of several" : "");
		else
			buf_addf(out, "deal:      none (%s)\n", route_name(a.route));
		buf_adds(out, "visible text:\n");
		for (const char *p = a.visible ? a.visible : ""; *p;) {
			size_t n = strcspn(p, "\n");
			buf_addf(out, "  | %.*s\n", (int)n, p);
			p += n + (p[n] == '\n');
		}
		for (size_t i = 0; i < a.cmds.n; i++)
			buf_addf(out, "command:   %s  -> %s%s%s%s%s\n", a.cmds.v[i].line, a.res[i].err ? "ERROR: " : "ok",
				 a.res[i].error ? a.res[i].error : "", a.res[i].suggest ? " (did you mean \"" : "",
				 a.res[i].suggest ? a.res[i].suggest : "", a.res[i].suggest ? "\"?)" : "");
		for (size_t i = 0; i < foreign.n; i++)
			buf_addf(out, "command:   %s  -> not run: %s\n", foreign.v[i].line, foreign_why);
		for (size_t i = 0; i < a.cmds.nnear; i++)
			buf_addf(out, "not read:  line %d \"%s\": not a command (did you mean \"%s:\"?)\n",
				 a.cmds.near[i].line_no, a.cmds.near[i].line, a.cmds.near[i].keyword);
		buf_addf(out, "outcome:   %s%s%s\n", outcome_name(a.outcome), a.note ? " — " : "", a.note ? a.note : "");
	}
	commands_free(&foreign);
	analysis_free(&a);
	message_free(msg);
	return EXIT_OK;
}
