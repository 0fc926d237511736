/* apply.c — write what analyze() decided, inside the message's transaction:
 * deal changes with their history events, triggers, tasks, enrolments,
 * activities, leads, bounces, undo, and the answers to the sender (outbox
 * rows: confirmation, error, reply, notification).  Localised wording of
 * changes and errors lives here (es, pt, en). */
#include "compose.h"
#include "process.h"
#include "template.h"
#include "text.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define L3(en, es, pt) { en, es, pt }
struct l3 { const char *en, *es, *pt; };

/* The text in language l, of three given inline (en, es, pt)... */
static const char *L(enum lang l, const char *en, const char *es, const char *pt)
{
	return l == LANG_ES ? es : l == LANG_PT ? pt : en;
}

/* ... or of a table entry. */
static const char *tr(const struct l3 *s, enum lang l)
{
	return L(l, s->en, s->es, s->pt);
}

static const struct l3 err_msgs[] = {
	[E_NONE] = L3("", "", ""),
	[E_VALUE] = L3("cannot read the value: %s", "no se puede leer el valor: %s", "não foi possível ler o valor: %s"),
	[E_UNKNOWN_STAGE] = L3("unknown stage \"%s\"", "etapa desconocida \"%s\"", "etapa desconhecida \"%s\""),
	[E_REASON_REQUIRED] = L3("a reason is required (%s)", "hace falta un motivo (%s)", "é preciso um motivo (%s)"),
	[E_UNKNOWN_REASON] = L3("unknown reason \"%s\"", "motivo desconocido \"%s\"", "motivo desconhecido \"%s\""),
	[E_STAGE_NEEDS_REASON] = L3("this stage needs a reason: write \"%s: REASON\"",
				    "esta etapa necesita un motivo: escribe \"%s: MOTIVO\"",
				    "esta etapa precisa de um motivo: escreva \"%s: MOTIVO\""),
	[E_NO_PERMISSION] = L3("you may not change this deal (it belongs to %s)",
			       "no puedes modificar esta oportunidad (es de %s)",
			       "você não pode alterar esta oportunidade (é de %s)"),
	[E_NO_DEAL] = L3("which deal? Reply to a dealmail message, put [deal #N] in the subject or add a line \"deal: #N\"",
			 "¿qué oportunidad? Responde a un mensaje de dealmail, pon [deal #N] en el asunto o añade una línea \"oportunidad: #N\"",
			 "qual oportunidade? Responda a uma mensagem do dealmail, coloque [deal #N] no assunto ou adicione uma linha \"oportunidade: #N\""),
	[E_UNKNOWN_DEAL] = L3("deal #%s does not exist", "la oportunidad #%s no existe", "a oportunidade #%s não existe"),
	[E_UNKNOWN_REP] = L3("\"%s\" is not a rep", "\"%s\" no es un vendedor del equipo", "\"%s\" não é um vendedor da equipe"),
	[E_AMBIGUOUS_REP] = L3("\"%s\" names more than one rep: write the address",
			       "\"%s\" nombra a más de un vendedor: escribe la dirección",
			       "\"%s\" nomeia mais de um vendedor: escreva o endereço"),
	[E_OWNER_PERM] = L3("only the deal's owner or a manager can reassign it",
			    "solo el responsable de la oportunidad o un gerente puede reasignarla",
			    "só o responsável pela oportunidade ou um gerente pode reatribuí-la"),
	[E_UNKNOWN_SEQUENCE] = L3("unknown sequence \"%s\"", "secuencia desconocida \"%s\"", "sequência desconhecida \"%s\""),
	[E_UNDO_NOTHING] = L3("undo works in a reply to a dealmail confirmation",
			      "deshacer funciona respondiendo a una confirmación de dealmail",
			      "desfazer funciona respondendo a uma confirmação do dealmail"),
	[E_UNDO_EXPIRED] = L3("too late to undo (more than %s minutes)", "demasiado tarde para deshacer (más de %s minutos)",
			      "tarde demais para desfazer (mais de %s minutos)"),
	[E_PROBABILITY_STAGE] = L3("", "", ""),
	[E_UNDO_DONE] = L3("nothing left to undo: that message's changes are already undone (an undo is not undone: "
			   "write the change again)",
			   "no queda nada que deshacer: los cambios de ese mensaje ya se deshicieron (un deshacer no se "
			   "deshace: escribe el cambio de nuevo)",
			   "não há nada para desfazer: as alterações dessa mensagem já foram desfeitas (um desfazer não "
			   "se desfaz: escreva a alteração de novo)"),
	[E_UNDO_LATER] = L3("the deal was changed again after that message (%s): undoing it would overwrite the newer "
			    "change, so nothing was undone",
			    "la oportunidad cambió de nuevo después de ese mensaje (%s): deshacerlo borraría el cambio "
			    "más reciente, así que no se deshizo nada",
			    "a oportunidade foi alterada de novo depois dessa mensagem (%s): desfazê-la apagaria a "
			    "alteração mais recente, então nada foi desfeito"),
	[E_UNDO_NOT_YOURS] = L3("that message was %s's: only its sender or a manager can undo it (to change the deal, "
				"write the change)",
				"ese mensaje era de %s: solo quien lo envió o un gerente puede deshacerlo (para cambiar la "
				"oportunidad, escribe el cambio)",
				"essa mensagem era de %s: só quem a enviou ou um gerente pode desfazê-la (para alterar a "
				"oportunidade, escreva a alteração)"),
};

/* An event type as the rep's language names the field */
static const char *field_name(const char *type, enum lang l)
{
	static const struct {
		const char *type, *en, *es, *pt;
	} names[] = {
		{"stage", "stage", "etapa", "estágio"}, {"value", "value", "valor", "valor"},
		{"close", "close date", "fecha de cierre", "data de fechamento"},
		{"probability", "probability", "probabilidad", "probabilidade"},
		{"owner", "owner", "responsable", "responsável"}, {"score", "score", "puntos", "pontos"},
		{"share", "shared with", "compartida con", "compartilhada com"}, {"task", "task", "tarea", "tarefa"},
		{"note", "note", "nota", "nota"}, {"email", "email", "correo", "e-mail"},
		{"undo", "undo", "deshacer", "desfazer"},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(type, names[i].type))
			return L(l, names[i].en, names[i].es, names[i].pt);
	return type;
}

static const struct l3 value_msgs[] = {
	[CMDERR_NONE] = L3("", "", ""),
	[CMDERR_EMPTY] = L3("a value is required", "falta el valor", "falta o valor"),
	[CMDERR_AMOUNT] = L3("not an amount (e.g. 12000, 12.000,50 EUR, $12,000.50)",
			     "no es un importe (p. ej. 12000, 12.000,50 EUR, $12,000.50)",
			     "não é um valor (ex.: 12000, 12.000,50 EUR, R$ 3.200,00)"),
	[CMDERR_DATE] = L3("not a date (e.g. 2026-12-15, 15/12/2026, +14d)",
			   "no es una fecha (p. ej. 2026-12-15, 15/12/2026, +14d)",
			   "não é uma data (ex.: 2026-12-15, 15/12/2026, +14d)"),
	[CMDERR_PERCENT] = L3("not a percentage from 0 to 100", "no es un porcentaje de 0 a 100",
			      "não é uma porcentagem de 0 a 100"),
	[CMDERR_SCORE] = L3("not a score change (e.g. +5, -10)", "no es un cambio de puntos (p. ej. +5, -10)",
			    "não é uma mudança de pontos (ex.: +5, -10)"),
	[CMDERR_DEAL] = L3("not a deal number (#12) or a title", "no es un número de oportunidad (#12) ni un título",
			   "não é um número de oportunidade (#12) nem um título"),
	[CMDERR_DRIP] = L3("use \"stop\" or \"start NAME\"", "usa \"stop\" o \"start NOMBRE\"", "use \"stop\" ou \"start NOME\""),
	[CMDERR_AMOUNT_M] = L3("\"m\" after a number is ambiguous (thousand or million?): write 15k or 15 mil, 15M or 15 millones",
			       "\"m\" tras un número es ambiguo (¿miles o millones?): escribe 15k o 15 mil, 15M o 15 millones",
			       "\"m\" depois de um número é ambíguo (mil ou milhões?): escreva 15k ou 15 mil, 15M ou 15 milhões"),
	[CMDERR_WEEKDAY] = L3("the day of the week is not that date's: write the date alone (e.g. 27/11)",
			      "el día de la semana no es el de esa fecha: escribe solo la fecha (p. ej. 27/11)",
			      "o dia da semana não é o dessa data: escreva só a data (ex.: 27/11)"),
};

char *err_text(const struct cmdres *r, const struct command *c, enum lang l)
{
	const char *fmt = tr(&err_msgs[r->err], l);
	char num[32], paren[256];
	const char *arg = c->text ? c->text : c->value;
	switch (r->err) {
	case E_VALUE:
		arg = tr(&value_msgs[c->error], l);
		break;
	case E_REASON_REQUIRED:
		arg = r->stage >= 0 ? c->keyword : "";
		break;
	case E_STAGE_NEEDS_REASON: {
		/* validate() names the keyword in r->error: `won: REASON` or `lost: REASON` */
		bool won = r->error && strstr(r->error, "`won:");
		arg = won ? (l == LANG_EN ? "won" : l == LANG_ES ? "ganado" : "ganho")
			  : (l == LANG_EN ? "lost" : "perdido");
		break;
	}
	case E_UNKNOWN_DEAL:
		snprintf(num, sizeof num, "%lld", (long long)r->deal);
		arg = num;
		break;
	case E_UNDO_EXPIRED: {
		/* the configured minutes, as validate() wrote them into r->error */
		const char *d = r->error ? strpbrk(r->error, "0123456789") : NULL;
		snprintf(num, sizeof num, "%d", d ? atoi(d) : 60);
		arg = num;
		break;
	}
	case E_NO_PERMISSION:
		arg = r->error && strstr(r->error, "owner: ") ? strstr(r->error, "owner: ") + 7 : "";
		break;
	case E_UNDO_NOT_YOURS:
		/* validate() wrote "that message was WHO's: …" */
		if (r->error && !strncmp(r->error, "that message was ", 17)) {
			const char *p = r->error + 17, *q = strstr(p, "'s:");
			snprintf(paren, sizeof paren, "%.*s", q ? (int)(q - p) : (int)strlen(p), p);
			arg = paren;
		}
		break;
	case E_UNDO_LATER:
		/* validate() wrote "… (#N TYPE by WHO)": said again in the rep's
		 * language, "#1 etapa por luis@…" */
		if (r->error && strchr(r->error, '(')) {
			const char *p = strchr(r->error, '(') + 1;
			long long id = 0;
			char type[16] = "", who[160] = "";
			if (sscanf(p, "#%lld %15s by %159[^)]", &id, type, who) == 3)
				snprintf(paren, sizeof paren, "#%lld %s %s %s", id, field_name(type, l),
					 L(l, "by", "por", "por"), who);
			else
				snprintf(paren, sizeof paren, "%.*s", (int)strcspn(p, ")"), p);
			arg = paren;
		}
		break;
	default:
		break;
	}
	char *s = xasprintf(fmt, arg ? arg : "");
	/* "(owner: x)" leaves a trailing ')' from the English text: trim it */
	size_t n = strlen(s);
	if (r->err == E_NO_PERMISSION && n > 2 && s[n - 1] == ')' && s[n - 2] == ')')
		s[n - 1] = '\0';
	return s;
}

/* ---- change descriptions ------------------------------------------- */

struct changes {
	struct tvars *v;
	enum lang lang;
};

static void change(struct changes *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void change(struct changes *ch, const char *fmt, ...)
{
	va_list ap;
	struct buf b;
	buf_init(&b);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	struct tvars *e = tvars_push(ch->v, "changes");
	tvars_set(e, "text", b.s);
	tvars_set(ch->v, "any.changes", "yes");   /* the heading, shown once */
	buf_release(&b);
}

static int event(struct app *app, int64_t deal, const char *type, const char *from, const char *to,
		 const char *reason, const char *by, const char *mid)
{
	char now[21];
	app_now_iso(now);
	return db_exec(app->db, "INSERT INTO events(deal_id, type, from_val, to_val, reason, by, at, message_id) "
		       "VALUES(?, ?, ?, ?, ?, ?, ?, ?)", "ittttttt", deal, type, from, to, reason, by, now, mid);
}

static void touch(struct app *app, int64_t deal)
{
	char now[21];
	app_now_iso(now);
	/* a row rewritten with the same stamp (a stage move just set it, or a
	 * second command of the message) still rewrites its index entries;
	 * and when the message's row of the deal has that stamp already, not
	 * even the look is needed */
	struct deal_row *kept = deal_row_kept(app, deal);
	if (kept && !strcmp(kept->active, now))
		return;
	if (db_exec(app->db, "UPDATE deals SET last_activity = ?1 WHERE id = ?2 AND last_activity IS NOT ?1", "ti",
		    now, deal) == 0 && kept)
		memcpy(kept->active, now, sizeof kept->active);
}

static void activity(struct app *app, int64_t deal, const struct message *msg, const char *text,
		     const char *mid)
{
	char now[21];
	app_now_iso(now);
	db_exec(app->db, "INSERT INTO activities(deal_id, sender, subject, body, message_id, at) "
		"VALUES(NULLIF(?, 0), ?, ?, ?, ?, ?)", "itttt" "t", deal, msg->from.email, msg->subject,
		text, mid, now);
}

/* ---- one command ------------------------------------------------------ */

static int run_command(struct app *app, const struct analysis *a, const struct command *c,
		       const struct cmdres *r, int64_t deal, struct changes *ch)
{
	const struct config *cfg = app->cfg;
	const char *by = a->sender, *mid = a->key;
	enum lang l = ch->lang;
	char buf1[128], buf2[128];
	switch (c->kind) {
	case CMD_STAGE:
	case CMD_WON:
	case CMD_LOST: {
		char *from = deal_stage(app, deal);
		int fs = from ? config_stage_find(cfg, from) : -1;
		const char *reason = c->kind == CMD_STAGE ? NULL : r->reason;
		if (c->kind == CMD_STAGE && (r->stage == cfg->won_stage || r->stage == cfg->lost_stage)) {
			/* a reason from a won:/lost: line of the same message is used there */
		}
		int rc = deal_move(app, deal, r->stage, reason, by, mid, 0);
		/* the owner hears it when someone else (a manager, a rep it is
		 * shared with) wins or loses their deal; other moves are the
		 * digest's news */
		/* (the stage's own "notify owner" then stands aside: deal_fire()) */
		if (rc == 0 && fs != r->stage && (r->stage == cfg->won_stage || r->stage == cfg->lost_stage)) {
			char *owner = deal_owner(app, deal);
			rc = deal_notify_rep(app, deal, owner, "notify-closed", mid, by);
			free(owner);
		}
		if (fs == r->stage)
			change(ch, "#%lld %s: %s (%s)", (long long)deal, L(l, "stage", "etapa", "etapa"),
			       stage_name(cfg, r->stage, l), L(l, "unchanged", "sin cambios", "sem mudança"));
		else
			change(ch, "#%lld %s: %s → %s%s%s%s", (long long)deal, L(l, "stage", "etapa", "etapa"),
			       fs >= 0 ? stage_name(cfg, fs, l) : (from ? from : "?"), stage_name(cfg, r->stage, l),
			       reason ? " (" : "", reason ? config_reason_name(reason, l) : "", reason ? ")" : "");
		free(from);
		return rc;
	}
	case CMD_VALUE: {
		struct dbq *q = db_query(app->db, "SELECT value, currency FROM deals WHERE id = ?", "i", deal);
		buf1[0] = '\0';
		char cur[8] = "";
		if (db_next(q)) {
			if (!db_col_null(q, 0))
				fmt_amount(db_col_double(q, 0), db_col_text(q, 1), buf1, sizeof buf1);
			if (db_col_text(q, 1))
				snprintf(cur, sizeof cur, "%s", db_col_text(q, 1));
		}
		db_done(q);
		/* a bare "$" is the team's own currency when that is written "$" */
		const char *newcur = c->bare_dollar ? dollar_currency(cfg->currency)
				     : c->currency[0] ? c->currency : cur[0] ? cur : cfg->currency;
		fmt_amount(c->amount, newcur, buf2, sizeof buf2);
		if (db_exec(app->db, "UPDATE deals SET value = ?, currency = ? WHERE id = ?", "dti", c->amount,
			    newcur && *newcur ? newcur : NULL, deal) < 0 ||
		    event(app, deal, "value", buf1[0] ? buf1 : NULL, buf2, NULL, by, mid) < 0)
			return -1;
		/* buf2 is what the history keeps (undo reads it back); the rep
		 * reads the amount as their language writes it */
		change(ch, "#%lld %s: %s", (long long)deal, L(l, "value", "valor", "valor"),
		       fmt_amount_lang(c->amount, newcur, l, buf1, sizeof buf1));
		return 0;
	}
	case CMD_CLOSE: {
		char *from = db_text(app->db, "SELECT close_date FROM deals WHERE id = ?", "i", deal);
		int rc = db_exec(app->db, "UPDATE deals SET close_date = ? WHERE id = ?", "ti", c->date, deal);
		if (rc == 0)
			rc = event(app, deal, "close", from, c->date, NULL, by, mid);
		free(from);
		change(ch, "#%lld %s: %s", (long long)deal, L(l, "expected close", "cierre previsto", "fechamento previsto"),
		       c->date);
		return rc;
	}
	case CMD_PROBABILITY: {
		char *from = db_text(app->db, "SELECT probability FROM deals WHERE id = ?", "i", deal);
		snprintf(buf2, sizeof buf2, "%d", c->percent);
		int rc = db_exec(app->db, "UPDATE deals SET probability = ? WHERE id = ?", "Ii", c->percent, deal);
		if (rc == 0)
			rc = event(app, deal, "probability", from, buf2, NULL, by, mid);
		free(from);
		change(ch, "#%lld %s: %d%%", (long long)deal, L(l, "probability", "probabilidad", "probabilidade"),
		       c->percent);
		return rc;
	}
	case CMD_OWNER: {
		char *from = deal_owner(app, deal);
		int rc = db_exec(app->db, "UPDATE deals SET owner = ? WHERE id = ?", "ti", r->rep->email, deal);
		deal_row_forget(app, deal);
		if (rc == 0 && cfg->sync_contact_owner)
			rc = db_exec(app->db, "UPDATE contacts SET owner = ? WHERE id = (SELECT contact_id FROM deals "
				     "WHERE id = ?)", "ti", r->rep->email, deal);
		/* the open tasks the deal's owner had go with it (their reminders
		 * went to the previous owner) */
		if (rc == 0)
			rc = db_exec(app->db, "UPDATE tasks SET owner = ?1 WHERE deal_id = ?2 AND done = 0 AND owner IS ?3",
				     "tit", r->rep->email, deal, from);
		if (rc == 0)
			rc = event(app, deal, "owner", from, r->rep->email, NULL, by, mid);
		/* the new owner hears it from us, not days later from a reminder */
		if (rc == 0 && (!from || strcasecmp(from, r->rep->email)))
			rc = deal_notify_rep(app, deal, r->rep->email, "notify-owner", mid, by);
		/* ... and the previous owner, when someone else took it: who, and
		 * who has it now (no reply token: it is no longer theirs) */
		if (rc == 0 && from && strcasecmp(from, r->rep->email))
			rc = deal_notify_rep(app, deal, from, "notify-taken", mid, by);
		free(from);
		change(ch, "#%lld %s: %s", (long long)deal, L(l, "owner", "responsable", "responsável"), r->rep->name);
		return rc;
	}
	case CMD_SHARE: {
		/* the owner has the deal already: nothing to share with them */
		if (db_int(app->db, 0, "SELECT COUNT(*) FROM deals WHERE id = ? AND owner = ?", "it", deal,
			   r->rep->email) > 0) {
			change(ch, "#%lld %s: %s (%s)", (long long)deal, L(l, "shared with", "compartida con",
									  "compartilhada com"),
			       r->rep->name, L(l, "the owner", "el responsable", "o responsável"));
			return db_error(app->db) ? -1 : 0;
		}
		if (db_exec(app->db, "INSERT OR IGNORE INTO deal_shares(deal_id, rep) VALUES(?, ?)", "it", deal,
			    r->rep->email) < 0)
			return -1;
		if (db_changes(app->db) && (event(app, deal, "share", NULL, r->rep->email, NULL, by, mid) < 0 ||
					    deal_notify_rep(app, deal, r->rep->email, "notify-share", mid, by) < 0))
			return -1;
		change(ch, "#%lld %s: %s", (long long)deal, L(l, "shared with", "compartida con", "compartilhada com"),
		       r->rep->name);
		return 0;
	}
	case CMD_TASK: {
		char now[21];
		app_now_iso(now);
		char *owner = deal_owner(app, deal);
		app->scheduled++;
		int rc = db_exec(app->db, "INSERT INTO tasks(deal_id, owner, text, due, created_at, message_id) "
				 "VALUES(?, ?, ?, NULLIF(?, ''), ?, ?)", "ittttt", deal, owner ? owner : by, c->text,
				 c->date, now, mid);
		free(owner);
		if (rc == 0)
			rc = event(app, deal, "task", NULL, c->text, c->date[0] ? c->date : NULL, by, mid);
		/* not a "change" line: the confirmation lists it under what was
		 * scheduled, with the tasks the stage's triggers created */
		return rc;
	}
	case CMD_NOTE:
		change(ch, "#%lld %s: %s", (long long)deal, L(l, "note", "nota", "nota"), c->text);
		return event(app, deal, "note", NULL, c->text, NULL, by, mid);
	case CMD_SCORE:
		change(ch, "#%lld %s: %+d", (long long)deal, L(l, "score", "puntos", "pontos"), c->delta);
		return deal_add_score(app, deal, c->delta, by, mid);
	case CMD_DRIP:
		if (c->drip_stop) {
			stop_enrollments(app, deal, "rep");
			change(ch, "#%lld %s", (long long)deal, L(l, "follow-up emails stopped",
								  "correos de seguimiento detenidos",
								  "e-mails de acompanhamento parados"));
			return 0;
		}
		change(ch, "#%lld %s: %s", (long long)deal, L(l, "sequence started", "secuencia iniciada",
							      "sequência iniciada"), r->seq->name);
		return enroll(app, deal, r->seq, mid);
	default:
		return 0;
	}
}

/* ---- answers ------------------------------------------------------------ */

static void reply_base(struct app *app, const struct message *msg, const struct analysis *a,
		       struct outbox_item *it, struct tvars *v, enum lang l, char **refs_r)
{
	struct buf refs;
	buf_init(&refs);
	/* a long thread is trimmed as RFC 5322 §3.6.4 suggests: the first id
	 * (the thread's root) and the most recent ones (the parent last) */
	for (size_t i = 0; i < msg->nreferences; i++)
		if (i == 0 || i + 19 >= msg->nreferences)
			buf_addf(&refs, "%s%s", refs.len ? " " : "", msg->references[i]);
	if (msg->message_id)
		buf_addf(&refs, "%s%s", refs.len ? " " : "", msg->message_id);
	*refs_r = buf_detach(&refs);
	tvars_set(v, "rep.name", a->rep ? a->rep->name : a->sender);
	tvars_set(v, "rep.email", a->sender);
	char *subj = compose_strip_prefixes(msg->subject);
	tvars_set(v, "message.subject", *subj ? subj : "dealmail");
	free(subj);
	tvars_set(v, "assistant.address", app->cfg->address);
	tvars_set(v, "assistant.name", app->cfg->name);
	tvars_setf(v, "undo.minutes", "%d", app->cfg->undo_minutes);
	tvars_set(v, "lang", lang_code(l));
	memset(it, 0, sizeof *it);
	it->to_addr = a->sender;
	it->to_name = a->rep ? a->rep->name : a->sender_name;
	it->lang = lang_code(l);
	it->vars = v;
	it->in_reply_to = msg->message_id;
	it->references = *refs_r;
	it->cause_message_id = a->key;
	it->auto_replied = true;
}

static int send_error(struct app *app, const struct message *msg, const struct analysis *a)
{
	enum lang l = a->rep->lang;
	struct outbox_item it;
	char *refs;
	if (app->cfg->confirm == CONFIRM_NEVER || outbox_capped(app, "error", a->sender))
		return 0;
	struct tvars *v = tvars_new();
	reply_base(app, msg, a, &it, v, l, &refs);
	it.cap_checked = true;
	if (a->deal > 0)
		deal_vars(app, a->deal, v, l);
	tvars_set(v, "rep.name", a->rep->name);
	for (size_t i = 0; i < a->cmds.n; i++) {
		if (!a->res[i].err)
			continue;
		struct tvars *e = tvars_push(v, "errors");
		char *t = err_text(&a->res[i], &a->cmds.v[i], l);
		tvars_setf(e, "line", "%d", a->cmds.v[i].line_no);
		tvars_set(e, "text", a->cmds.v[i].line);
		tvars_set(e, "reason", t);
		if (a->res[i].err == E_UNKNOWN_STAGE && l != LANG_EN) {
			/* the stages as this rep reads them: "proposal (Propuesta
			 * pendiente)"; either is accepted */
			struct buf sc;
			buf_init(&sc);
			for (size_t k = 0; k < app->cfg->nstages; k++) {
				const char *key = app->cfg->stages[k].key, *nm = stage_name(app->cfg, (int)k, l);
				buf_addf(&sc, "%s%s", k ? ", " : "", key);
				if (nm && strcasecmp(nm, key))
					buf_addf(&sc, " (%s)", nm);
			}
			tvars_set(e, "choices", sc.s);
			buf_release(&sc);
		} else if ((a->res[i].err == E_REASON_REQUIRED || a->res[i].err == E_UNKNOWN_REASON ||
			    a->res[i].err == E_STAGE_NEEDS_REASON) && l != LANG_EN) {
			/* the reasons as this rep reads them: "price (precio)" */
			bool won = a->res[i].stage >= 0 && a->res[i].stage == app->cfg->won_stage;
			char **rs = won ? app->cfg->won_reasons : app->cfg->lost_reasons;
			size_t nr = won ? app->cfg->nwon_reasons : app->cfg->nlost_reasons;
			struct buf sc;
			buf_init(&sc);
			for (size_t k = 0; k < nr; k++) {
				const char *nm = config_reason_name(rs[k], l);
				buf_addf(&sc, "%s%s", k ? ", " : "", rs[k]);
				if (strcmp(nm, rs[k]))
					buf_addf(&sc, " (%s)", nm);
			}
			tvars_set(e, "choices", sc.len ? sc.s : a->res[i].choices);
			buf_release(&sc);
		} else
			tvars_set(e, "choices", a->res[i].choices);
		tvars_set(e, "suggestion", a->res[i].suggest);
		free(t);
	}
	/* an undo refused (too late, nothing left, changed since) has no line
	 * to fix and send again */
	bool only_undo = true;
	for (size_t i = 0; i < a->cmds.n; i++) {
		enum err_code e = a->res[i].err;
		if (e && e != E_UNDO_NOTHING && e != E_UNDO_EXPIRED && e != E_UNDO_DONE && e != E_UNDO_LATER &&
		    e != E_UNDO_NOT_YOURS)
			only_undo = false;
	}
	if (only_undo)
		tvars_set(v, "error.undo", "yes");
	it.kind = "error";
	it.deal_id = a->deal;
	it.tmpl = "error";
	int rc = outbox_queue(app, &it) < 0 ? -1 : 0;
	tvars_free(v);
	free(refs);
	return rc;
}

/* The open deals, or those of one stage, closed ones too (`lista: perdido`). */
static void list_deals(struct app *app, const struct analysis *a, const char *stage, struct tvars *v, enum lang l)
{
	int s = stage && *stage ? config_stage_find(app->cfg, stage) : -1;
	const char *key = s >= 0 ? app->cfg->stages[s].key : NULL;
	/* the heading says whose deals and which: "the team's deals in «Won»" */
	if (a->rep->manager)
		tvars_set(v, "list.team", "yes");
	if (s >= 0)
		tvars_set(v, "list.stage", stage_name(app->cfg, s, l));
	struct dbq *q = db_query(app->db,
				 "SELECT d.id, d.title, d.stage, d.value, d.currency, d.owner, "
				 "(SELECT COALESCE(NULLIF(c.name, ''), c.email) FROM contacts c WHERE c.id = d.contact_id) "
				 "FROM deals d "
				 "WHERE (?1 OR d.owner = ?2 OR EXISTS(SELECT 1 FROM deal_shares s "
				 "WHERE s.deal_id = d.id AND s.rep = ?2)) AND (?3 IS NULL AND d.status = 'open' OR d.stage = ?3) "
				 "ORDER BY d.last_activity DESC LIMIT 200", "Itt", (int)a->rep->manager, a->sender, key);
	while (db_next(q)) {
		struct tvars *e = tvars_push(v, "deals");
		char num[64] = "";
		tvars_setf(e, "tag", "[deal #%lld]", (long long)db_col_int(q, 0));
		tvars_set(e, "title", db_col_text(q, 1));
		int si = config_stage_find(app->cfg, db_col_text(q, 2));
		tvars_set(e, "stage", si >= 0 ? stage_name(app->cfg, si, l) : db_col_text(q, 2));
		if (!db_col_null(q, 3))
			fmt_amount_lang(db_col_double(q, 3), db_col_text(q, 4), l, num, sizeof num);
		tvars_set(e, "value", num[0] ? num : NULL);
		const struct rep *o = db_col_text(q, 5) ? config_rep_find(app->cfg, db_col_text(q, 5)) : NULL;
		tvars_set(e, "owner", o ? o->name : db_col_text(q, 5));
		tvars_set(e, "contact", db_col_text(q, 6));   /* the client, whom a rep knows the deal by */
	}
	db_done(q);
}

/* One side of a history line as the rep reads it: a stage by its name, an
 * amount ("48500 BRL" as stored) written the rep's way, a percentage. */
static void history_value(const struct config *cfg, const char *type, const char *val, enum lang l, struct buf *b)
{
	double v;
	char cur[8] = "", num[96];
	int s;
	if (!strcmp(type, "stage") && (s = config_stage_find(cfg, val)) >= 0)
		buf_adds(b, stage_name(cfg, s, l));
	else if (!strcmp(type, "value") && sscanf(val, "%lf %7s", &v, cur) >= 1)
		buf_adds(b, fmt_amount_lang(v, cur, l, num, sizeof num));
	else if (!strcmp(type, "probability"))
		buf_addf(b, "%s%%", val);
	else
		buf_adds(b, val);
}

static void history(struct app *app, int64_t deal, struct tvars *v, enum lang l)
{
	struct dbq *q = db_query(app->db, "SELECT at, by, type, from_val, to_val, reason, undone, message_id FROM events "
				 "WHERE deal_id = ? ORDER BY id", "i", deal);
	while (db_next(q)) {
		struct tvars *e = tvars_push(v, "events");
		const char *type = db_col_text(q, 2), *from = db_col_text(q, 3), *to = db_col_text(q, 4);
		const char *reason = db_col_text(q, 5);
		char when[20];
		struct buf t;
		/* the team's clock and the rep's words: "2026-11-23 09:13  luis@…
		 * estágio: Qualificar → Proposta pendente" */
		local_stamp(db_col_text(q, 0), when);
		tvars_set(e, "at", when);
		tvars_set(e, "by", db_col_text(q, 1));
		tvars_set(e, "source", db_col_text(q, 7));   /* the message that caused it */
		buf_init(&t);
		buf_addf(&t, "%s: ", type ? field_name(type, l) : "?");
		if (from) {
			history_value(app->cfg, type ? type : "", from, l, &t);
			buf_adds(&t, " → ");
		}
		if (to)
			history_value(app->cfg, type ? type : "", to, l, &t);
		else if (from)   /* cleared (a stage that leaves the estimate to its default) */
			buf_adds(&t, L(l, "(none)", "(sin valor)", "(sem valor)"));
		if (reason)
			buf_addf(&t, " (%s)", config_reason_name(reason, l));
		tvars_set(e, "text", t.s);
		buf_release(&t);
		if (db_col_int(q, 6))
			tvars_set(e, "undone", L(l, "undone", "deshecho", "desfeito"));
	}
	db_done(q);
}

/* Lines that look like a command and are not one (one typo away from a
 * keyword, "valr: 15.000 EUR", or a keyword with words after it, "Valor da
 * proposta: …"): applied they were not, and the rep should know. */
static void unread_vars(const struct analysis *a, struct tvars *v, enum lang l)
{
	for (size_t i = 0; i < a->cmds.nnear; i++) {
		struct tvars *e = tvars_push(v, "unread");
		tvars_setf(e, "text", L(l, "line %d \"%s\": not a command (did you mean \"%s:\"?)",
					"línea %d \"%s\": no es un comando (¿quisiste decir \"%s:\"?)",
					"linha %d \"%s\": não é um comando (você quis dizer \"%s:\"?)"),
			   a->cmds.near[i].line_no, a->cmds.near[i].line, a->cmds.near[i].keyword);
		tvars_set(v, "any.unread", "yes");
	}
}

static int query_reply(struct app *app, const struct message *msg, const struct analysis *a,
		       const struct command *c, const struct cmdres *r)
{
	enum lang l = a->rep->lang;
	struct outbox_item it;
	char *refs;
	if (outbox_capped(app, "reply", a->sender))
		return 0;
	struct tvars *v = tvars_new();
	reply_base(app, msg, a, &it, v, l, &refs);
	it.cap_checked = true;
	it.kind = "reply";
	int64_t deal = r->deal > 0 ? r->deal : a->deal;
	if (c->kind == CMD_HELP) {
		it.tmpl = "help";
		unread_vars(a, v, l);
	}
	else if (c->kind == CMD_LIST) {
		it.tmpl = "list";
		list_deals(app, a, c->text, v, l);
	} else {
		it.tmpl = "history";
		it.deal_id = deal;
		deal_vars(app, deal, v, l);
		history(app, deal, v, l);
	}
	int rc = outbox_queue(app, &it) < 0 ? -1 : 0;
	tvars_free(v);
	free(refs);
	return rc;
}

/* ---- undo ----------------------------------------------------------------- */

/* What undoing one event did, as a line of the undo's answer: "#1 stage
 * back to «Demo»", "#1 value back to 12000 EUR", "#1 task removed". */
static void undone_line(const struct config *cfg, struct changes *ch, int64_t d, const char *t, const char *f,
			const char *to)
{
	enum lang l = ch->lang;
	long long id = (long long)d;
	if (!strcmp(t, "stage")) {
		int s = f ? config_stage_find(cfg, f) : -1;
		change(ch, "#%lld %s «%s»", id, L(l, "stage back to", "etapa de vuelta a", "estágio de volta a"),
		       s >= 0 ? stage_name(cfg, s, l) : f ? f : "?");
	} else if (!strcmp(t, "value") || !strcmp(t, "close") || !strcmp(t, "probability") ||
		   !strcmp(t, "owner") || !strcmp(t, "score")) {
		const char *what = field_name(t, l);
		char shown[96];
		const char *fv = f;
		if (f && *f && !strcmp(t, "value")) {
			/* "12000.50 EUR" as the history keeps it, the rep's way:
			 * "12.000,50 EUR" */
			char *end;
			double v = strtod(f, &end);
			if (end != f) {
				while (*end == ' ')
					end++;
				fv = fmt_amount_lang(v, end, l, shown, sizeof shown);
			}
		} else if (f && *f && !strcmp(t, "owner")) {
			const struct rep *r = config_rep_find(cfg, f);
			if (r && r->name)
				fv = r->name;
		}
		if (f && *f)
			change(ch, "#%lld %s %s %s%s", id, what, L(l, "back to", "de vuelta a", "de volta a"), fv,
			       !strcmp(t, "probability") ? "%" : "");
		else   /* it had none before */
			change(ch, "#%lld %s %s", id, L(l, "no", "sin", "sem"), what);
	} else if (!strcmp(t, "share")) {
		change(ch, "#%lld %s %s", id, L(l, "no longer shared with", "ya no se comparte con", "não é mais compartilhada com"),
		       to ? to : "?");
	} else if (!strcmp(t, "task")) {
		change(ch, "#%lld %s: %s", id, L(l, "task removed", "tarea quitada", "tarefa removida"), to ? to : "");
	} else if (!strcmp(t, "note")) {
		change(ch, "#%lld %s", id, L(l, "note marked undone", "nota marcada como deshecha", "nota marcada como desfeita"));
	} else if (!strcmp(t, "drip") || !strcmp(t, "sequence")) {
		change(ch, "#%lld %s", id, L(l, "sequence stopped", "secuencia detenida", "sequência parada"));
	} else {
		change(ch, "#%lld %s (%s)", id, L(l, "change undone", "cambio deshecho", "alteração desfeita"), t);
	}
}

static int undo(struct app *app, const struct analysis *a, struct changes *ch)
{
	const struct config *cfg = app->cfg;
	int64_t ids[256], deals[256];
	char *types[256], *froms[256], *tos[256];
	size_t n = 0;
	struct dbq *q = db_query(app->db, "SELECT id, deal_id, type, from_val, to_val FROM events WHERE message_id = ? "
				 "AND undone = 0 ORDER BY id DESC", "t", a->undo_of);
	while (db_next(q) && n < 256) {
		ids[n] = db_col_int(q, 0);
		deals[n] = db_col_int(q, 1);
		types[n] = xstrdup(db_col_text(q, 2));
		froms[n] = xstrdup(db_col_text(q, 3));
		tos[n] = xstrdup(db_col_text(q, 4));
		n++;
	}
	db_done(q);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *t = types[i], *f = froms[i];
		int64_t d = deals[i];
		if (!strcmp(t, "stage") && f) {
			int s = config_stage_find(cfg, f);
			const char *st = s == cfg->won_stage ? "won" : s == cfg->lost_stage ? "lost" : "open";
			/* the deal as it was in that stage: the reason it was
			 * won or lost with, since when (the move into it) */
			char *reason = NULL, *since = NULL;
			struct dbq *pq = db_query(app->db, "SELECT reason, at FROM events WHERE deal_id = ? AND "
						  "type = 'stage' AND undone = 0 AND id < ? AND to_val = ? "
						  "ORDER BY id DESC LIMIT 1", "iit", d, ids[i], f);
			if (db_next(pq)) {
				reason = db_col_text(pq, 0) ? xstrdup(db_col_text(pq, 0)) : NULL;
				since = db_col_text(pq, 1) ? xstrdup(db_col_text(pq, 1)) : NULL;
			}
			db_done(pq);
			rc = db_exec(app->db, "UPDATE deals SET stage = ?1, status = ?2, reason = CASE WHEN ?2 = 'open' "
				     "THEN NULL ELSE ?3 END, stage_since = COALESCE(?4, created_at), closed_at = CASE "
				     "WHEN ?2 = 'open' THEN NULL ELSE COALESCE(?4, closed_at) END WHERE id = ?5",
				     "tttti", f, st, reason, since, d);
			deal_row_forget(app, d);
			free(reason);
			free(since);
			stop_enrollments(app, d, "undo");
		} else if (!strcmp(t, "value")) {
			char cur[8] = "";
			double v = 0;
			if (f)
				sscanf(f, "%lf %7s", &v, cur);
			rc = f ? db_exec(app->db, "UPDATE deals SET value = ?, currency = NULLIF(?, '') WHERE id = ?",
					 "dti", v, cur, d)
			       : db_exec(app->db, "UPDATE deals SET value = NULL WHERE id = ?", "i", d);
		} else if (!strcmp(t, "close"))
			rc = db_exec(app->db, "UPDATE deals SET close_date = ? WHERE id = ?", "ti", f, d);
		else if (!strcmp(t, "probability")) {
			/* an estimate the message's stage move cleared (to_val
			 * NULL) stays cleared when a later message gave a new one */
			bool newer = !tos[i] && db_int(app->db, 0, "SELECT COUNT(*) FROM events WHERE deal_id = ? AND "
						       "type = 'probability' AND id > ? AND undone = 0 AND "
						       "message_id IS NOT ?", "iit", d, ids[i], a->undo_of) > 0;
			if (newer) {
				rc = db_exec(app->db, "UPDATE events SET undone = 1 WHERE id = ?", "i", ids[i]);
				continue;
			}
			rc = db_exec(app->db, "UPDATE deals SET probability = ? WHERE id = ?", "ti", f, d);
		}
		else if (!strcmp(t, "owner")) {
			/* everything the reassignment moved goes back: the deal,
			 * its contact (sync_contact_owner) and its open tasks */
			rc = db_exec(app->db, "UPDATE deals SET owner = ? WHERE id = ?", "ti", f, d);
			deal_row_forget(app, d);
			if (rc == 0 && f && cfg->sync_contact_owner)
				rc = db_exec(app->db, "UPDATE contacts SET owner = ? WHERE id = (SELECT contact_id "
					     "FROM deals WHERE id = ?)", "ti", f, d);
			if (rc == 0 && f && tos[i])
				rc = db_exec(app->db, "UPDATE tasks SET owner = ? WHERE deal_id = ? AND done = 0 AND "
					     "owner = ?", "tit", f, d, tos[i]);
		}
		else if (!strcmp(t, "share"))
			rc = db_exec(app->db, "DELETE FROM deal_shares WHERE deal_id = ? AND rep = (SELECT to_val FROM "
				     "events WHERE id = ?)", "ii", d, ids[i]);
		else if (!strcmp(t, "score"))
			rc = db_exec(app->db, "UPDATE deals SET score = ? WHERE id = ?", "ii",
				     (int64_t)(f ? atoll(f) : 0), d);
		if (rc == 0)
			rc = db_exec(app->db, "UPDATE events SET undone = 1 WHERE id = ?", "i", ids[i]);
		if (rc == 0)
			undone_line(cfg, ch, d, t, f, tos[i]);
	}
	if (rc == 0)
		rc = db_exec(app->db, "DELETE FROM tasks WHERE message_id = ? AND done = 0", "t", a->undo_of);
	if (rc == 0)
		rc = db_exec(app->db, "UPDATE enrollments SET status = 'stopped', stopped_reason = 'undo', next_at = NULL "
			     "WHERE message_id = ? AND status = 'active'", "t", a->undo_of);
	/* one undo event per deal touched */
	for (size_t i = 0; i < n && rc == 0; i++) {
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= deals[j] == deals[i];
		if (!seen)
			rc = event(app, deals[i], "undo", NULL, a->undo_of, NULL, a->sender, a->key);
	}
	for (size_t i = 0; i < n; i++) {
		free(types[i]);
		free(froms[i]);
		free(tos[i]);
	}
	return rc;
}

/* ---- the rep's message ----------------------------------------------------- */

/* Does a command of this kind change its deal (what apply_rep() runs)? */
static bool changes_deal(enum cmd_kind k)
{
	return k != CMD_HELP && k != CMD_LIST && k != CMD_HISTORY && k != CMD_UNDO && k != CMD_DEAL;
}

static int apply_rep(struct app *app, const struct message *msg, struct analysis *a)
{
	const struct config *cfg = app->cfg;
	enum lang l = a->rep->lang;
	const char *err = NULL;
	unsigned scheduled_before = app->scheduled;
	if (a->outcome == O_REFUSE)
		return send_error(app, msg, a);
	if (a->outcome == O_IGNORE) {
		/* addressed to us without a command: answer with the usage */
		if (a->addressed && a->visible && *a->visible && cfg->confirm != CONFIRM_NEVER) {
			struct command help = {.kind = CMD_HELP};
			struct cmdres r = {0};
			return query_reply(app, msg, a, &help, &r);
		}
		return 0;
	}
	if (a->create_deal) {
		struct deal_new d = {
			.title = a->new_title && *a->new_title ? a->new_title : "(untitled)",
			.contact = a->contact, .contact_name = a->contact_name,
			.owner = a->rep->email, .source = "mail", .by = a->sender, .message_id = a->key,
		};
		int64_t id = deal_create(app, &d, &err);
		if (id < 0)
			return -1;
		a->deal = id;
		for (size_t i = 0; i < a->cmds.n; i++)
			if (a->res[i].deal == 0)
				a->res[i].deal = id;
	}
	struct changes ch = {.v = tvars_new(), .lang = l};
	int rc = 0;
	bool any_change = false, did_undo = false, own_changed = false, several = false;
	int64_t other = 0;   /* the deal of the first command, when it is not a->deal */
	if (a->create_deal)
		change(&ch, "#%lld %s: %s", (long long)a->deal, L(l, "new deal", "nueva oportunidad", "nova oportunidade"),
		       a->new_title ? a->new_title : "");
	for (size_t i = 0; i < a->cmds.n && rc == 0; i++) {
		const struct command *c = &a->cmds.v[i];
		const struct cmdres *r = &a->res[i];
		switch (c->kind) {
		case CMD_HELP:
		case CMD_LIST:
		case CMD_HISTORY:
			rc = query_reply(app, msg, a, c, r);
			break;
		case CMD_UNDO:
			rc = undo(app, a, &ch);
			any_change = did_undo = true;
			break;
		case CMD_DEAL:
			break;
		default:
			rc = run_command(app, a, c, r, r->deal, &ch);
			any_change = true;
			own_changed |= r->deal == a->deal;
			if (!other)
				other = r->deal;
			several |= r->deal != other;
			if (rc == 0)
				touch(app, r->deal);
		}
	}
	/* The confirmation's headline (and the thread its answers come back
	 * on) is the message's own deal, unless only tagged lines changed
	 * others ("#3 stage: negotiation" sent in deal 1's thread): then the
	 * first of those, not a deal that did not change. */
	int64_t head = a->create_deal || own_changed || did_undo || !other ? a->deal : other;
	/* a reply that changed several deals (lines "#2 …", "#3 …" answering a
	 * digest) is about each of them: no one deal's tag or reply token, and
	 * the headline names them all */
	if (several && !a->create_deal && !did_undo)
		head = 0;
	/* ... and so is the undo of one */
	if (did_undo && a->undo_of && db_int(app->db, 0, "SELECT COUNT(DISTINCT deal_id) FROM events WHERE "
					     "message_id = ? AND type <> 'undo'", "t", a->undo_of) > 1) {
		head = 0;
		several = true;
	}
	if (rc < 0)
		goto out;
	if (a->deal > 0) {
		activity(app, a->deal, msg, a->visible, a->key);
		if (a->outcome == O_LOG || a->outcome == O_LEAD) {
			rc = event(app, a->deal, "email", NULL, msg->subject, NULL, a->sender, a->key);
			touch(app, a->deal);
			any_change = a->forwarded || a->picked;   /* SPEC §3.3: the confirmation says which deal was picked */
			if (any_change)
				change(&ch, "#%lld %s", (long long)a->deal,
				       L(l, "conversation logged", "conversación registrada", "conversa registrada"));
		}
	}
	if (rc == 0 && (any_change || a->create_deal) && cfg->confirm == CONFIRM_ALWAYS &&
	    !outbox_capped(app, "confirmation", a->sender)) {
		struct outbox_item it;
		char *refs;
		reply_base(app, msg, a, &it, ch.v, l, &refs);
		it.cap_checked = true;
		if (head > 0)
			deal_vars(app, head, ch.v, l);
		else if (several) {
			struct buf names;
			buf_init(&names);
			struct dbq *uq = !did_undo ? NULL :
					 db_query(app->db, "SELECT d.id, d.title FROM deals d WHERE d.id IN (SELECT deal_id "
						  "FROM events WHERE message_id = ? AND type <> 'undo') ORDER BY d.id", "t",
						  a->undo_of);
			while (uq && db_next(uq))
				buf_addf(&names, "%s[deal #%lld] %s", names.len ? ", " : "", (long long)db_col_int(uq, 0),
					 db_col_text(uq, 1) ? db_col_text(uq, 1) : "");
			db_done(uq);
			for (size_t i = 0; i < a->cmds.n && !did_undo; i++) {
				int64_t d = a->res[i].deal;
				bool seen = !changes_deal(a->cmds.v[i].kind) || d <= 0;
				for (size_t j = 0; j < i && !seen; j++)
					seen = changes_deal(a->cmds.v[j].kind) && a->res[j].deal == d;
				if (seen)
					continue;
				char *title = db_text(app->db, "SELECT title FROM deals WHERE id = ?", "i", d);
				buf_addf(&names, "%s[deal #%lld] %s", names.len ? ", " : "", (long long)d, title ? title : "");
				free(title);
			}
			tvars_set(ch.v, "changed.deals", names.s);
			buf_release(&names);
		}
		tvars_set(ch.v, "rep.name", a->rep->name);
		if (a->picked) {
			tvars_set(ch.v, "deal.picked", "yes");
			/* the contact's other open deals, to pick from */
			struct buf others;
			buf_init(&others);
			struct dbq *o = db_query(app->db, "SELECT id, title FROM deals WHERE contact_id = (SELECT contact_id "
						 "FROM deals WHERE id = ?1) AND status = 'open' AND id <> ?1 "
						 "ORDER BY last_activity DESC, id DESC LIMIT 5", "i", a->deal);
			while (db_next(o))
				buf_addf(&others, "%s#%lld %s", others.len ? ", " : "", (long long)db_col_int(o, 0),
					 db_col_text(o, 1));
			db_done(o);
			if (others.len)
				tvars_set(ch.v, "deal.others", others.s);
			buf_release(&others);
		}
		/* what the triggers scheduled */
		bool scheduled = false;
		/* each line names its deal, as the changes do: a manager's answer
		 * to a digest schedules things on several (and a message that
		 * scheduled nothing needs no looking) */
		bool any = app->scheduled != scheduled_before;
		struct dbq *q = !any ? NULL :
				 db_query(app->db, "SELECT text, due, deal_id FROM tasks WHERE message_id = ? ORDER BY id",
					  "t", a->key);
		while (q && db_next(q)) {
			struct tvars *e = tvars_push(ch.v, "scheduled");
			scheduled = true;
			tvars_setf(e, "text", "#%lld %s: %s%s%s", (long long)db_col_int(q, 2),
				   L(l, "task", "tarea", "tarefa"), db_col_text(q, 0), db_col_text(q, 1) ? " @ " : "",
				   db_col_text(q, 1) ? db_col_text(q, 1) : "");
		}
		db_done(q);
		q = !any ? NULL :
		    db_query(app->db, "SELECT sequence, next_at, deal_id FROM enrollments WHERE message_id = ? AND "
			     "status = 'active' ORDER BY id", "t", a->key);
		while (q && db_next(q)) {
			struct tvars *e = tvars_push(ch.v, "scheduled");
			char when[20];
			local_stamp(db_col_text(q, 1), when);   /* the team's clock, not UTC */
			scheduled = true;
			tvars_setf(e, "text", "#%lld %s: %s (%s %s)", (long long)db_col_int(q, 2),
				   L(l, "sequence", "secuencia", "sequência"), db_col_text(q, 0),
				   L(l, "first email", "primer correo", "primeiro e-mail"), when);
		}
		db_done(q);
		if (scheduled)  /* the list's heading, shown once */
			tvars_set(ch.v, "any.scheduled", "yes");
		unread_vars(a, ch.v, l);
		it.kind = "confirmation";
		it.deal_id = head;
		/* an undo is answered with what it reverted, and no offer to undo
		 * it in turn (an undo is not undone: write the change again) */
		it.tmpl = did_undo ? "undo" : "confirmation";
		rc = outbox_queue(app, &it) < 0 ? -1 : 0;
		free(refs);
	}
out:
	tvars_free(ch.v);
	return rc < 0 || db_error(app->db) ? -1 : 0;
}

/* ---- contacts and strangers ----------------------------------------------- */

static int apply_contact(struct app *app, const struct message *msg, struct analysis *a)
{
	const struct config *cfg = app->cfg;
	char now[21];
	const char *err = NULL;
	app_now_iso(now);
	if (a->outcome == O_LEAD) {
		/* a returning contact stays with their owner */
		char *prev = db_text(app->db, "SELECT owner FROM contacts WHERE email = ?", "t", a->sender);
		const char *owner = prev && config_rep_find(cfg, prev) ? prev : distribution_pick(app);
		struct deal_new d = {
			.title = a->new_title, .contact = a->sender, .contact_name = msg->from.name,
			.owner = owner, .source = "mail", .by = a->sender, .message_id = a->key,
		};
		int64_t id = deal_create(app, &d, &err);
		free(prev);
		if (id < 0)
			return -1;
		a->deal = id;
		if (event(app, id, "email", NULL, msg->subject, NULL, a->sender, a->key) < 0)
			return -1;
		activity(app, id, msg, a->visible, a->key);
		db_exec(app->db, "UPDATE contacts SET last_activity = ?1 WHERE email = ?2 AND last_activity IS NOT ?1", "tt",
			now, a->sender);
		struct tvars *v = tvars_new();
		int rc = 0;
		char *o = deal_owner(app, id);
		if (o) {
			const struct rep *r = config_rep_find(cfg, o);
			enum lang l = r ? r->lang : cfg->language;
			deal_vars(app, id, v, l);
			tvars_set(v, "rep.name", r ? r->name : o);
			char *subj = compose_strip_prefixes(msg->subject);
			tvars_set(v, "message.subject", subj);
			free(subj);
			tvars_set(v, "message.excerpt", a->visible);
			struct outbox_item it = {.kind = "notification", .deal_id = id, .to_addr = o,
						 .to_name = r ? r->name : NULL, .tmpl = "notify-lead",
						 .lang = lang_code(l), .vars = v, .cause_message_id = a->key};
			rc = outbox_queue(app, &it) < 0 ? -1 : 0;
		}
		free(o);
		tvars_free(v);
		return rc;
	}
	if (a->unsubscribe &&
	    contact_unsubscribe(app, a->unsub_email ? a->unsub_email : a->sender, a->deal, a->sender, a->key) < 0)
		return -1;
	if (a->deal <= 0)
		return db_error(app->db) ? -1 : 0;
	/* a contact added by address alone gets the name they sign their mail
	 * with ({{contact.first_name}} in the drips) */
	if (msg->from.name && *msg->from.name && !strchr(msg->from.name, '@')) {
		char *nm = text_one_line(msg->from.name);   /* as deal_create() stores names */
		db_exec(app->db, "UPDATE contacts SET name = ? WHERE email = ? AND (name IS NULL OR name = '')", "tt",
			nm, a->sender);
		free(nm);
	}
	if (event(app, a->deal, "email", NULL, msg->subject, NULL, a->sender, a->key) < 0)
		return -1;
	activity(app, a->deal, msg, a->visible, a->key);
	touch(app, a->deal);
	db_exec(app->db, "UPDATE contacts SET last_activity = ?1 WHERE email = ?2 AND last_activity IS NOT ?1", "tt",
		now, a->sender);
	/* mail from the address proves it works again (a full mailbox, a
	 * server that refused for a day): it may be written to again */
	db_exec(app->db, "UPDATE contacts SET bouncing = 0 WHERE email = ? AND bouncing = 1", "t", a->sender);
	/* the owner is told the follow-ups stopped only when some were running */
	bool stopped = !a->unsubscribe &&
		       db_int(app->db, 0, "SELECT EXISTS(SELECT 1 FROM enrollments e JOIN deals d ON d.id = e.deal_id "
			      "LEFT JOIN contacts c ON c.id = d.contact_id WHERE e.status = 'active' AND (d.id = ? OR "
			      "c.email = ?))", "it", a->deal, a->sender) > 0;
	if (!a->unsubscribe) {
		/* SPEC §3.6: a reply stops *their* sequences, on every deal of
		 * theirs, not only the deal it is logged on (those `stopped`
		 * looked at: none to stop when it found none running) */
		if (stopped) {
			stop_enrollments(app, a->deal, "reply");
			contact_stop_sequences(app, a->sender, "reply");
		}
		if (cfg->score_reply && deal_add_score(app, a->deal, cfg->score_reply, a->sender, a->key) < 0)
			return -1;
		/* the contact accepted a meeting invitation (SPEC §1: meeting +5) */
		/* once per meeting: an acceptance of the same event again (moved,
		 * re-sent) earns nothing more */
		char *why = msg->meeting_uid ? xasprintf("meeting %s", msg->meeting_uid) : NULL;
		bool again = why && db_int(app->db, 0, "SELECT EXISTS(SELECT 1 FROM events WHERE deal_id = ? AND "
					   "type = 'score' AND reason = ?)", "it", a->deal, why) > 0;
		int rc = 0;
		if (msg->meeting_accepted && cfg->score_meeting && !again) {
			rc = deal_add_score(app, a->deal, cfg->score_meeting, a->sender, a->key);
			if (rc == 0 && why)
				rc = db_exec(app->db, "UPDATE events SET reason = ? WHERE id = (SELECT MAX(id) FROM events "
					     "WHERE deal_id = ? AND type = 'score' AND message_id = ?)", "tit", why,
					     a->deal, a->key);
		}
		free(why);
		if (rc < 0)
			return -1;
	}
	/* tell the owner */
	char *o = deal_owner(app, a->deal);
	int rc = 0;
	if (o) {
		const struct rep *r = config_rep_find(cfg, o);
		enum lang l = r ? r->lang : cfg->language;
		struct tvars *v = tvars_new();
		deal_vars(app, a->deal, v, l);
		tvars_set(v, "rep.name", r ? r->name : o);
		tvars_set(v, "contact.email", a->sender);
		if (msg->from.name && *msg->from.name && strcmp(msg->from.name, a->sender))
			tvars_setf(v, "contact.who", "%s <%s>", msg->from.name, a->sender);
		else
			tvars_set(v, "contact.who", a->sender);
		char *subj = compose_strip_prefixes(msg->subject);
		tvars_set(v, "message.subject", subj);
		free(subj);
		tvars_set(v, "message.excerpt", a->visible);
		if (stopped)
			tvars_set(v, "message.stopped", "yes");
		struct outbox_item it = {.kind = "notification", .deal_id = a->deal, .to_addr = o,
					 .to_name = r ? r->name : NULL, .tmpl = "notify-reply",
					 .lang = lang_code(l), .vars = v, .cause_message_id = a->key};
		rc = outbox_queue(app, &it) < 0 ? -1 : 0;
		tvars_free(v);
	}
	free(o);
	return rc < 0 || db_error(app->db) ? -1 : 0;
}

static int apply_bounce(struct app *app, const struct message *msg, struct analysis *a)
{
	if (a->outcome != O_LOG || (!a->bounce_addr && a->bounce_outbox <= 0))
		return 0;
	if (a->bounce_outbox > 0) {
		char now[21];
		app_now_iso(now);
		db_exec(app->db, "UPDATE outbox SET status = 'failed', last_error = ?, failed_at = ? WHERE id = ?", "tti",
			msg->dsn_status ? msg->dsn_status : "bounced", now, a->bounce_outbox);
	}
	if (!a->bounce_addr ||
	    db_int(app->db, 0, "SELECT COUNT(*) FROM contacts WHERE email = ?", "t", a->bounce_addr) == 0)
		return db_error(app->db) ? -1 : 0;   /* not a contact's address: nothing more to mark */
	return contact_bounced(app, a->bounce_addr, a->deal, a->key);
}

int apply_analysis(struct app *app, const struct message *msg, struct analysis *a)
{
	switch (a->cls) {
	case C_BOUNCE:
		return apply_bounce(app, msg, a);
	case C_REP:
		return apply_rep(app, msg, a);
	case C_CONTACT:
	case C_UNKNOWN:
		if (a->outcome == O_IGNORE)
			return 0;
		return apply_contact(app, msg, a);
	default:
		return 0;
	}
}
