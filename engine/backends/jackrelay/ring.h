/* The two rings between the JACK callback and Python. Part of relay.c. */
#pragma once
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ a single-producer,
 * single-consumer byte ring of variable-length records. head and tail only grow; the ring
 * size is a power of two. The producer publishes with a release store of head, the consumer
 * with a release store of tail, so neither side ever waits for the other. */
typedef struct {
    uint32_t len;  /* bytes of MIDI data */
    uint16_t port; /* input port index (forward ring) or output port index (output ring) */
    uint8_t flags;
    uint8_t pad;
    uint32_t frame; /* the JACK frame it arrived at (forward ring) or left at (FLAG_SENT) */
    uint32_t pad2;
    uint64_t seq;
} rec_t;

typedef struct {
    unsigned char *buf;
    size_t size; /* power of two */
    _Atomic size_t head;
    _Atomic size_t tail;
} ring_t;

static size_t rec_bytes(uint32_t len) { return (sizeof(rec_t) + len + 7) & ~(size_t)7; }

static void ring_copy_in(ring_t *r, size_t at, const void *src, size_t n) {
    size_t i = at & (r->size - 1), first = r->size - i < n ? r->size - i : n;
    memcpy(r->buf + i, src, first);
    memcpy(r->buf, (const unsigned char *)src + first, n - first);
}

static void ring_copy_out(ring_t *r, size_t at, void *dst, size_t n) {
    size_t i = at & (r->size - 1), first = r->size - i < n ? r->size - i : n;
    memcpy(dst, r->buf + i, first);
    memcpy((unsigned char *)dst + first, r->buf, n - first);
}

static int ring_push(ring_t *r, const rec_t *h, const unsigned char *data) {
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t need = rec_bytes(h->len);
    if (r->size - (head - tail) < need) return -1;
    ring_copy_in(r, head, h, sizeof *h);
    ring_copy_in(r, head + sizeof *h, data, h->len);
    atomic_store_explicit(&r->head, head + need, memory_order_release);
    return 0;
}

/* the next record's header, without consuming it; 0 when the ring is empty */
static int ring_peek(ring_t *r, rec_t *h) {
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (head == tail) return 0;
    ring_copy_out(r, tail, h, sizeof *h);
    return 1;
}

static void ring_data(ring_t *r, const rec_t *h, unsigned char *dst, size_t cap) {
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    ring_copy_out(r, tail + sizeof *h, dst, h->len < cap ? h->len : cap);
}

static void ring_pop(ring_t *r, const rec_t *h) {
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    atomic_store_explicit(&r->tail, tail + rec_bytes(h->len), memory_order_release);
}

static int ring_init(ring_t *r, size_t size) {
    r->buf = calloc(1, size);
    r->size = size;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r->buf ? 0 : -1;
}

