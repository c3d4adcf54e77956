/* filter.h - SNS subscription filter policies: compiled once, matched on
 * every publish.
 *
 * The control thread compiles a policy when a subscription's FilterPolicy
 * or FilterPolicyScope is set, and again when recovery reads the
 * subscription back; a policy that does not compile is refused with the
 * reason AWS gives (InvalidParameter). The compiled form is immutable: the
 * worker that publishes matches it against each message, reading nothing
 * but the policy and the message.
 *
 * Scope MessageAttributes matches the message attributes (String and
 * String.Array by their text, Number by value, Binary never); scope
 * MessageBody matches the message's JSON body, with nested policy objects
 * for nested keys. See filter.c for the operators and the limits.
 */
#ifndef SL_SNS_FILTER_H
#define SL_SNS_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/codec/doc.h"
#include "dataplane/services/sqs/msg.h"

enum sl_filter_scope {
	SL_FILTER_ATTRIBUTES = 0, /* FilterPolicyScope MessageAttributes (the default) */
	SL_FILTER_BODY,           /* MessageBody */
};

struct sl_filter;

/* Compile the policy text (JSON) for scope. NULL when it is not a valid
 * policy, with the reason in err (AWS's text after "Invalid parameter:
 * FilterPolicy: "), or when out of memory (err says so). */
struct sl_filter *sl_filter_compile(const char *text, size_t len, enum sl_filter_scope scope,
				    char *err, size_t errcap);
void sl_filter_free(struct sl_filter *f);
enum sl_filter_scope sl_filter_scope(const struct sl_filter *f);

/* A message as a filter reads it: its attributes, and for scope
 * MessageBody its body parsed as JSON (body_n tokens; body_n <= 0 or a
 * root that is not an object: the body is not a JSON object, and no
 * policy of that scope matches it). */
struct sl_filter_msg {
	const struct sl_sqs_attr *attrs;
	unsigned nattrs;
	const struct sl_doc_tok *body;
	int body_n;
};

bool sl_filter_match(const struct sl_filter *f, const struct sl_filter_msg *m);

#endif
