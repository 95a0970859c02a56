/* SPDX-License-Identifier: Apache-2.0 */
/* revocations.h - users, API keys and organisations an administrator has
 * locked out across the fleet (contract section 11).
 *
 * A revocation names what it covers (a user id, an API key's SHA-256 in
 * hex, an org id), when it was made and until when it holds, in whole
 * seconds. Nodes receive them as one line of text each ("user 1700000000
 * 1700086400 USER_ID"), from Redis at start and by subscription later, and
 * keep them in a set that the decision reads without any lock: a set is
 * never changed once a request may see it; a new revocation makes a new
 * set, which the server swaps in whole.
 */
#ifndef TOKENGATE_REVOCATIONS_H
#define TOKENGATE_REVOCATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tokengate/text.h"

#define TG_REVOCATION_ID_MAX 512       /* bytes of what a revocation names */
#define TG_REVOCATIONS_MAX 10000       /* held at once; beyond, the oldest go */
#define TG_REVOCATION_LINE_MAX (TG_REVOCATION_ID_MAX + 64)

enum tg_revocation_kind { TG_REVOKE_USER, TG_REVOKE_API_KEY, TG_REVOKE_ORG };

struct tg_revocation {
    enum tg_revocation_kind kind;
    time_t at;                         /* when it was made */
    time_t until;                      /* when it stops holding */
    char id[TG_REVOCATION_ID_MAX + 1]; /* single-line, no white space */
};

/* "user", "api_key", "org". */
const char *tg_revocation_kind_name(enum tg_revocation_kind kind);

/* Whether LEN bytes of ID may be what a revocation names: 1 to
 * TG_REVOCATION_ID_MAX bytes, none of them white space or a control. */
bool tg_revocation_id_valid(const char *id, size_t len);

/* Reads one line (LEN bytes of TEXT, no newline): KIND AT UNTIL ID. 0, or
 * -1 when it is not one (a node ignores what it cannot read). */
int tg_revocation_parse(const char *text, size_t len, struct tg_revocation *revocation);

/* Writes REVOCATION as that line into OUT. False when it does not fit. */
bool tg_revocation_format(const struct tg_revocation *revocation, struct tg_buffer *out);

struct tg_revocations;

/* An empty set. NULL when memory is short. */
struct tg_revocations *tg_revocations_new(void);

/* A new set: SET's revocations still holding at NOW, plus REVOCATION (one
 * for the same kind and id is replaced by the later of the two). NULL when
 * memory is short. SET is not changed. */
struct tg_revocations *tg_revocations_with(const struct tg_revocations *set,
                                           const struct tg_revocation *revocation, time_t now);

/* A new set of the COUNT revocations of ITEMS still holding at NOW (for one
 * kind and id, the latest), in one pass: loading what Redis holds. At most
 * TG_REVOCATIONS_MAX are kept, the latest made. NULL when memory is short. */
struct tg_revocations *tg_revocations_from(const struct tg_revocation *items, size_t count,
                                           time_t now);

void tg_revocations_free(struct tg_revocations *set);

size_t tg_revocations_count(const struct tg_revocations *set);

/* Whether a revocation of KIND for ID holds at NOW and was made at or
 * after ISSUED_AT (pass 0 for a credential with no issue time, which every
 * revocation covers). SET may be NULL (none). */
bool tg_revocations_cover(const struct tg_revocations *set, enum tg_revocation_kind kind,
                          const char *id, time_t issued_at, time_t now);

#endif
