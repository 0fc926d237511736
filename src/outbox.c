/* outbox.c — queueing outgoing mail as outbox rows.
 *
 * A row holds a complete RFC 5322 message (raw), its recipient and envelope
 * sender; it is written in the transaction of the change that caused it and
 * delivered later by `send`/`tick`.  Automatic answers to one address are
 * capped per hour (RFC 3834: never flood, never loop). */
#include "app.h"
#include "compose.h"
#include "template.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "local+tag suffix@domain" from the assistant's address (two per queued
 * message: put together by hand, not by xasprintf). */
static char *plus_address(const char *address, const char *tag, const char *suffix)
{
	const char *at = strrchr(address, '@');
	size_t ll = at ? (size_t)(at - address) : strlen(address), tl = strlen(tag), sl = strlen(suffix);
	size_t dl = at ? strlen(at) : 0;
	char *s = xmalloc(ll + 1 + tl + sl + dl + 1), *p = s;
	memcpy(p, address, ll);
	p += ll;
	*p++ = '+';
	memcpy(p, tag, tl);
	p += tl;
	memcpy(p, suffix, sl);
	p += sl;
	if (at)
		memcpy(p, at, dl);
	p[dl] = '\0';
	return s;
}

/* Has `rcpt` had confirm_per_hour automatic replies in the hour before t?
 * The cap-th newest of them says until when the answer stays yes: rows are
 * only ever added (in a batch, by this process: it holds the write lock),
 * so until that row is an hour old nothing needs counting again; a
 * rollback (which can remove rows) forgets it all. */
static bool capped(struct app *app, const char *rcpt, time_t t)
{
	int cap = app->cfg->confirm_per_hour;
	size_t nslots = sizeof app->capped / sizeof app->capped[0];
	if (app->capped_gen != db_rollbacks(app->db)) {
		memset(app->capped, 0, sizeof app->capped);
		app->capped_gen = db_rollbacks(app->db);
	}
	for (size_t i = 0; i < nslots; i++)
		if (app->capped[i].rcpt[0] && !strcmp(app->capped[i].rcpt, rcpt)) {
			if (t < app->capped[i].until)
				return true;
			app->capped[i].rcpt[0] = '\0';
		}
	char since[21];
	iso_format(t - 3600, since);
	/* the cap-th newest automatic reply of the last hour, if there is one */
	char *at = db_text(app->db, "SELECT created_at FROM outbox WHERE rcpt = ? AND created_at > ? "
			   "AND kind IN ('confirmation','error','reply') ORDER BY created_at DESC LIMIT 1 OFFSET ?",
			   "ttI", rcpt, since, cap - 1);
	if (!at)
		return false;
	time_t until = iso_parse(at) + 3600;
	free(at);
	if (strlen(rcpt) < sizeof app->capped[0].rcpt) {
		size_t k = app->capped_next++ % nslots;
		snprintf(app->capped[k].rcpt, sizeof app->capped[k].rcpt, "%s", rcpt);
		app->capped[k].until = until;
	}
	return true;
}

bool outbox_capped(struct app *app, const char *kind, const char *rcpt)
{
	bool automatic = !strcmp(kind, "confirmation") || !strcmp(kind, "error") || !strcmp(kind, "reply");
	if (!automatic || app->cfg->confirm_per_hour <= 0 || !rcpt || !*rcpt || !capped(app, rcpt, clock_now()))
		return false;
	log_info("not answering %s: %d automatic replies in the last hour", rcpt, app->cfg->confirm_per_hour);
	return true;
}

int64_t outbox_queue(struct app *app, const struct outbox_item *it)
{
	const struct config *cfg = app->cfg;
	struct rendered r = {0};
	char *err = NULL, now[21], tok[48];
	int64_t id = -1;
	time_t t = clock_now();

	if (!it->to_addr || !*it->to_addr || !strcasecmp(it->to_addr, cfg->address))
		return 0;   /* never write to ourselves */
	iso_format(t, now);
	if (!it->cap_checked && outbox_capped(app, it->kind, it->to_addr))
		return 0;
	if (template_render(cfg->templates, it->lang, it->tmpl, it->vars, &r, &err) < 0) {
		/* a broken template must not block the change itself: say so loudly
		 * (`config check` finds these before they matter) and go on */
		log_error("template %s/%s: %s: the %s to %s is not queued", it->lang, it->tmpl,
			  err ? err : "cannot render", it->kind, it->to_addr);
		free(err);
		return 0;
	}
	char *mid = compose_message_id(cfg->address);
	/* the row's id signs the envelope sender (VERP), so it is chosen first:
	 * the one SQLite would give (we hold the write lock), and the row is
	 * written once, complete */
	id = db_int(app->db, -1, "SELECT COALESCE(MAX(id), 0) + 1 FROM outbox", "");
	if (id <= 0) {
		id = -1;
		goto out;
	}
	token_make(app->secret, app->secret_len, 'b', id, tok);
	char *envelope = plus_address(cfg->address, "b.", tok);
	char *reply_to = NULL;
	/* a rep who may not change the deal (refused on another's deal, or
	 * no longer its owner) gets no token for it: under require_auth a
	 * reply to it would count as an unknown sender's (SPEC §3.2) */
	const struct rep *rcpt_rep = config_rep_by_address(cfg, it->to_addr);
	if (it->deal_id > 0 && (!rcpt_rep || rep_may_change(app, rcpt_rep, it->deal_id))) {
		token_make(app->secret, app->secret_len, 'd', it->deal_id, tok);
		reply_to = plus_address(cfg->address, "", tok);
	}
	char deal_num[21];
	const char *deal_hdr = NULL;
	if (it->deal_id > 0) {
		dec_format(it->deal_id, deal_num);
		deal_hdr = deal_num;
	}
	struct outmsg m = {
		.from_name = it->from_name ? it->from_name : cfg->name,
		.from_addr = cfg->address,
		.to_name = it->to_name,
		.to_addr = it->to_addr,
		.reply_to = reply_to,
		.subject = r.subject,
		.message_id = mid,
		.in_reply_to = it->in_reply_to,
		.references = it->references ? it->references : it->in_reply_to,
		.auto_submitted = it->auto_replied ? "auto-replied" : "auto-generated",
		.list_unsubscribe = it->list_unsubscribe,
		.list_unsubscribe_post = it->list_unsubscribe_post,
		.text = r.text,
		.html = r.html,
		.extra_name = deal_hdr ? "X-Dealmail-Deal" : NULL,
		.extra_value = deal_hdr,
		.date = t,
	};
	size_t len;
	char *raw = compose_message(&m, &len);
	char when[21];
	iso_format(it->when ? it->when : t, when);
	if (db_exec(app->db, "INSERT INTO outbox(id, kind, deal_id, rcpt, envelope_from, subject, message_id, "
		    "cause_message_id, raw, status, created_at, next_attempt, enrollment_id, step) "
		    "VALUES(?, ?, NULLIF(?, 0), ?, ?, ?, ?, ?, ?, 'queued', ?, ?, NULLIF(?, 0), NULLIF(?, 0))",
		    "itittttt" "btt" "iI", id, it->kind, it->deal_id, it->to_addr, envelope, r.subject, mid,
		    it->cause_message_id, raw, len, now, when, it->enrollment_id, it->step) < 0)
		id = -1;
	free(raw);
	free(reply_to);
	free(envelope);
out:
	free(mid);
	rendered_free(&r);
	return id;
}
