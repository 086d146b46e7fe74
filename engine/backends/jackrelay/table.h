/* The compiled MIDI-only table (built by midi_table.py) and its lookup, shared by the JACK
 * callback and relay_table_eval (the tests' door). Part of relay.c. */
#pragma once
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ the compiled table */
enum { FORWARD = 0, BARRIER = 1, ANSWER = 2 };
enum { K_NOTE_ON = 0, K_NOTE_OFF = 1, K_CC = 2, KINDS = 3 };
#define KEYS_PER_MODE (KINDS * 16 * 128)
#define OTHER_PER_MODE 8 /* by status high nibble 0x8..0xF */
#define NO_LUT 0xFFFF

typedef struct { /* one key: what to do and, for ANSWER, which outputs */
    uint8_t what;
    uint8_t n;
    uint16_t pad;
    uint32_t first;
} entry_t;

typedef struct { /* one message out */
    uint16_t port;
    uint8_t len;     /* 2 or 3 */
    uint8_t dyn;     /* the byte (1 or 2) taken from lut[input's last data byte]; 0: none */
    uint8_t b[3];
    uint8_t lo, hi;  /* fires only when the input's last data byte is in lo..hi */
    uint8_t pad;
    uint16_t lut;
    uint16_t pad2;
} out_t;

typedef struct {
    uint32_t nmodes, nouts, nluts;
    _Atomic uint32_t mode; /* the engine's mode, as an index into this table's modes */
    entry_t *entries;      /* nmodes * KEYS_PER_MODE */
    uint8_t *other;        /* nmodes * OTHER_PER_MODE */
    out_t *outs;
    uint8_t *luts; /* nluts * 128 */
} table_t;

#define NO_MODE 0xFFFFFFFFu

table_t *relay_table_new(uint32_t nmodes, const entry_t *entries, const uint8_t *other, uint32_t nouts,
                         const out_t *outs, uint32_t nluts, const uint8_t *luts, uint32_t mode) {
    table_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->nmodes = nmodes, t->nouts = nouts, t->nluts = nluts;
    atomic_init(&t->mode, mode);
    t->entries = malloc(sizeof(entry_t) * KEYS_PER_MODE * (nmodes ? nmodes : 1));
    t->other = malloc(OTHER_PER_MODE * (nmodes ? nmodes : 1));
    t->outs = malloc(sizeof(out_t) * (nouts ? nouts : 1));
    t->luts = malloc(128 * (nluts ? nluts : 1));
    if (!t->entries || !t->other || !t->outs || !t->luts) goto fail;
    memcpy(t->entries, entries, sizeof(entry_t) * KEYS_PER_MODE * nmodes);
    memcpy(t->other, other, OTHER_PER_MODE * nmodes);
    memcpy(t->outs, outs, sizeof(out_t) * nouts);
    memcpy(t->luts, luts, 128 * (size_t)nluts);
    /* refuse a table that points outside itself: the callback trusts every index */
    for (size_t i = 0; i < (size_t)KEYS_PER_MODE * nmodes; i++)
        if (t->entries[i].what == ANSWER && (uint64_t)t->entries[i].first + t->entries[i].n > nouts) goto fail;
    for (uint32_t i = 0; i < nouts; i++)
        if ((t->outs[i].dyn && t->outs[i].lut >= nluts) || t->outs[i].dyn > 2 || t->outs[i].len < 2 ||
            t->outs[i].len > 3)
            goto fail;
    return t;
fail:
    free(t->entries), free(t->other), free(t->outs), free(t->luts), free(t);
    return NULL;
}

void relay_table_free(table_t *t) {
    if (!t) return;
    free(t->entries), free(t->other), free(t->outs), free(t->luts), free(t);
}

void relay_table_set_mode(table_t *t, uint32_t mode) { atomic_store_explicit(&t->mode, mode, memory_order_release); }

/* What the table says for one input message in mode `mode` (FORWARD, BARRIER, ANSWER), and for
 * ANSWER the entry. Shared by the callback and relay_table_eval (the tests' door). */
static int classify(const table_t *t, uint32_t mode, const unsigned char *m, size_t len, const entry_t **out) {
    *out = NULL;
    if (!t || mode >= t->nmodes || len < 1 || m[0] < 0x80 || m[0] >= 0xF0) return FORWARD;
    unsigned hi = m[0] & 0xF0, ch = m[0] & 0x0F;
    int kind = -1;
    if (len == 3 && hi == 0x90 && m[2] > 0) kind = K_NOTE_ON;
    else if (len == 3 && (hi == 0x80 || hi == 0x90)) kind = K_NOTE_OFF;
    else if (len == 3 && hi == 0xB0) kind = K_CC;
    if (kind < 0) return t->other[mode * OTHER_PER_MODE + ((hi >> 4) - 8)];
    const entry_t *e = &t->entries[(size_t)mode * KEYS_PER_MODE + ((size_t)kind * 16 + ch) * 128 + (m[1] & 0x7F)];
    *out = e;
    return e->what;
}

/* Build the i-th answer message of entry e for input m; 0 when its range does not match. */
static size_t answer_one(const table_t *t, const out_t *o, const unsigned char *m, unsigned char *dst) {
    unsigned v = m[2] & 0x7F;
    if (v < o->lo || v > o->hi) return 0;
    dst[0] = o->b[0], dst[1] = o->b[1], dst[2] = o->b[2];
    if (o->dyn) dst[o->dyn] = t->luts[(size_t)o->lut * 128 + v];
    return o->len;
}

/* Tests: what the table answers for one message. Writes (port, len, bytes[3]) quads into out;
 * returns -what-1 for FORWARD/BARRIER (nothing answered), else the number of messages. */
int relay_table_eval(const table_t *t, const unsigned char *m, uint32_t len, unsigned char *out, uint32_t cap) {
    const entry_t *e;
    int what = classify(t, atomic_load(&((table_t *)t)->mode), m, len, &e);
    if (what != ANSWER) return -what - 1;
    int n = 0;
    for (uint32_t i = 0; i < e->n && (uint32_t)(n + 1) * 5 <= cap; i++) {
        const out_t *o = &t->outs[e->first + i];
        unsigned char msg[3];
        size_t l = answer_one(t, o, m, msg);
        if (!l) continue;
        out[n * 5] = (unsigned char)o->port, out[n * 5 + 1] = (unsigned char)l;
        memcpy(out + n * 5 + 2, msg, 3);
        n++;
    }
    return n;
}

