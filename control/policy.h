/* policy.h - resource policies (the IAM JSON an SQS queue's or an SNS
 * topic's Policy attribute holds), as AddPermission and RemovePermission
 * edit them. Control thread.
 *
 * sluice does not evaluate policies (without --credentials every request
 * is allowed); it keeps them, and shows the statements these operations
 * add and remove the way AWS writes them.
 */
#ifndef SL_CONTROL_POLICY_H
#define SL_CONTROL_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/* The statement AddPermission adds: {"Sid", "Effect":"Allow",
 * "Principal":{"AWS": account roots}, "Action": prefix + each action,
 * "Resource"}, a list written as a single string when it has one entry.
 * Malloc'd JSON, or NULL when out of memory. */
char *sl_policy_statement(const char *sid, const char *const *accounts, size_t naccounts,
			  const char *action_prefix, const char *const *actions, size_t nactions,
			  const char *resource);

/* The policy `old` (a JSON object; NULL or "": none) rebuilt with its
 * statements but the one whose Sid is `drop` (when given), then `add`
 * (when given), under its Version and Id or else def_version and def_id.
 * *found tells whether `drop` was there. Returns the malloc'd text, ""
 * when no statement is left, or NULL when it would be longer than max
 * bytes (or out of memory). */
char *sl_policy_rebuild(const char *old, const char *def_version, const char *def_id,
			const char *drop, const char *add, size_t max, bool *found);

#endif
