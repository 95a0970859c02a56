/* SPDX-License-Identifier: Apache-2.0 */
/* response.h - the bytes a decision becomes (contract section 6).
 *
 * An allowed request gets "Status: 200" and one "Variable-NAME: value"
 * line per variable, nothing else: Apache copies any other header into the
 * client's response. A refusal gets its status, a JSON content type, the
 * RFC 6750 WWW-Authenticate challenge for 401 and 403, Retry-After for 503,
 * and a small JSON body. "Status:" always comes first, as lighttpd needs.
 */
#ifndef TOKENGATE_RESPONSE_H
#define TOKENGATE_RESPONSE_H

#include <stddef.h>

#include "tokengate/decision.h"

#define TG_RESPONSE_MAX (TG_DECISION_TEXT_MAX + 8192)

/* Writes the response for DECISION into OUT (SIZE bytes, at least
 * TG_RESPONSE_MAX to never fail). Returns its length, or 0 when it did not
 * fit. REALM goes into WWW-Authenticate. */
size_t tg_response_format(const struct tg_decision *decision, const char *realm, char *out,
                          size_t size);

#endif
