/* SPDX-License-Identifier: Apache-2.0 */
/* revocations.c - the fleet's revocations, as an immutable set (see revocations.h). */
#include "tokengate/revocations.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sorted by kind, then id, so that a lookup is a binary search. */
struct tg_revocations {
    size_t count;
    struct tg_revocation *items;
};

static const char *const kind_names[] = {
    [TG_REVOKE_USER] = "user", [TG_REVOKE_API_KEY] = "api_key", [TG_REVOKE_ORG] = "org"};

const char *tg_revocation_kind_name(enum tg_revocation_kind kind)
{
    return kind <= TG_REVOKE_ORG ? kind_names[kind] : "?";
}

/* A decimal number of seconds, no sign, at most 12 digits. */
static bool seconds_read(const char **cursor, const char *end, time_t *out)
{
    const char *p = *cursor;
    long long value = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 12) {
        value = value * 10 + (*p - '0');
        p++, digits++;
    }
    if (digits == 0 || p >= end || *p != ' ')
        return false;
    *out = (time_t)value;
    *cursor = p + 1;
    return true;
}

bool tg_revocation_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > TG_REVOCATION_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)id[i] <= ' ' || id[i] == 127)
            return false;
    return true;
}

int tg_revocation_parse(const char *text, size_t len, struct tg_revocation *revocation)
{
    const char *end = text + len, *cursor = text;
    const char *space = memchr(text, ' ', len);
    if (!space)
        return -1;
    bool known = false;
    for (int kind = TG_REVOKE_USER; kind <= TG_REVOKE_ORG && !known; kind++)
        if ((size_t)(space - text) == strlen(kind_names[kind]) &&
            memcmp(text, kind_names[kind], (size_t)(space - text)) == 0) {
            revocation->kind = (enum tg_revocation_kind)kind;
            known = true;
        }
    cursor = space + 1;
    if (!known || !seconds_read(&cursor, end, &revocation->at) ||
        !seconds_read(&cursor, end, &revocation->until))
        return -1;
    size_t id_len = (size_t)(end - cursor);
    if (!tg_revocation_id_valid(cursor, id_len))
        return -1;
    memcpy(revocation->id, cursor, id_len);
    revocation->id[id_len] = '\0';
    return 0;
}

bool tg_revocation_format(const struct tg_revocation *revocation, struct tg_buffer *out)
{
    return tg_buffer_printf(out, "%s %" PRIdMAX " %" PRIdMAX " %s",
                            tg_revocation_kind_name(revocation->kind), (intmax_t)revocation->at,
                            (intmax_t)revocation->until, revocation->id);
}

struct tg_revocations *tg_revocations_new(void)
{
    return calloc(1, sizeof(struct tg_revocations));
}

void tg_revocations_free(struct tg_revocations *set)
{
    if (!set)
        return;
    free(set->items);
    free(set);
}

size_t tg_revocations_count(const struct tg_revocations *set)
{
    return set ? set->count : 0;
}

static int compare(enum tg_revocation_kind kind, const char *id, const struct tg_revocation *item)
{
    if (kind != item->kind)
        return kind < item->kind ? -1 : 1;
    return strcmp(id, item->id);
}

/* The index of KIND/ID in SET, or where it would go (*FOUND false). */
static size_t search(const struct tg_revocations *set, enum tg_revocation_kind kind,
                     const char *id, bool *found)
{
    size_t low = 0, high = set ? set->count : 0;
    *found = false;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = compare(kind, id, &set->items[middle]);
        if (order == 0) {
            *found = true;
            return middle;
        }
        if (order < 0)
            high = middle;
        else
            low = middle + 1;
    }
    return low;
}

struct tg_revocations *tg_revocations_with(const struct tg_revocations *set,
                                           const struct tg_revocation *revocation, time_t now)
{
    size_t count = set ? set->count : 0;
    struct tg_revocations *fresh = calloc(1, sizeof *fresh);
    if (!fresh || !(fresh->items = malloc((count + 1) * sizeof *fresh->items))) {
        free(fresh);
        return NULL;
    }
    /* The expired ones are left behind; the set stays sorted. */
    bool placed = revocation->until <= now;
    time_t oldest = 0;
    size_t oldest_index = 0;
    for (size_t i = 0; i <= count; i++) {
        const struct tg_revocation *item = i < count ? &set->items[i] : NULL;
        int order = item ? compare(revocation->kind, revocation->id, item) : -1;
        if (!placed && order <= 0) {
            struct tg_revocation *added = &fresh->items[fresh->count++];
            *added = *revocation;
            if (order == 0 && item->at > added->at) {
                added->at = item->at;
                added->until = item->until > added->until ? item->until : added->until;
            }
            placed = true;
            if (order == 0)
                continue;
        }
        if (item && item->until > now)
            fresh->items[fresh->count++] = *item;
    }
    /* Bounded: beyond the limit, the oldest revocation goes. */
    if (fresh->count > TG_REVOCATIONS_MAX) {
        for (size_t i = 0; i < fresh->count; i++)
            if (i == 0 || fresh->items[i].at < oldest) {
                oldest = fresh->items[i].at;
                oldest_index = i;
            }
        memmove(&fresh->items[oldest_index], &fresh->items[oldest_index + 1],
                (fresh->count - oldest_index - 1) * sizeof *fresh->items);
        fresh->count--;
    }
    return fresh;
}

static int order_by_name(const void *left, const void *right)
{
    const struct tg_revocation *a = left, *b = right;
    int order = compare(a->kind, a->id, b);
    /* For one name, the latest made last: it is the one kept. */
    if (order == 0)
        order = a->at < b->at ? -1 : a->at > b->at;
    return order;
}

static int order_by_age(const void *left, const void *right)
{
    const struct tg_revocation *a = left, *b = right;
    return a->at > b->at ? -1 : a->at < b->at;
}

struct tg_revocations *tg_revocations_from(const struct tg_revocation *items, size_t count,
                                           time_t now)
{
    struct tg_revocations *set = calloc(1, sizeof *set);
    if (!set || !(set->items = malloc((count ? count : 1) * sizeof *set->items))) {
        free(set);
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        if (items[i].until > now)
            set->items[set->count++] = items[i];
    qsort(set->items, set->count, sizeof *set->items, order_by_name);
    /* One per name: the latest made, holding as long as the longest, as
     * tg_revocations_with() merges them. */
    size_t kept = 0;
    time_t until = 0;
    for (size_t i = 0; i < set->count; i++) {
        if (set->items[i].until > until)
            until = set->items[i].until;
        bool last_of_name = i + 1 == set->count ||
                            compare(set->items[i].kind, set->items[i].id, &set->items[i + 1]) != 0;
        if (last_of_name) {
            set->items[kept] = set->items[i];
            set->items[kept++].until = until;
            until = 0;
        }
    }
    set->count = kept;
    if (set->count > TG_REVOCATIONS_MAX) {
        /* The latest made stay; then back in name order for the search. */
        qsort(set->items, set->count, sizeof *set->items, order_by_age);
        set->count = TG_REVOCATIONS_MAX;
        qsort(set->items, set->count, sizeof *set->items, order_by_name);
    }
    return set;
}

bool tg_revocations_cover(const struct tg_revocations *set, enum tg_revocation_kind kind,
                          const char *id, time_t issued_at, time_t now)
{
    if (!set || !set->count || !id)
        return false;
    bool found;
    size_t index = search(set, kind, id, &found);
    if (!found)
        return false;
    const struct tg_revocation *item = &set->items[index];
    return item->until > now && issued_at <= item->at;
}
