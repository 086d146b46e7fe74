/* midimon's in-cycle JACK MIDI relay.
 *
 * One JACK client owns midimon's MIDI ports on JACK. Its process callback, pure C and never
 * touching Python or the GIL, does per cycle:
 *   1. reads released_upto (written by Python once the engine has handled every event that was
 *      forwarded during an order barrier) and lifts the barrier;
 *   2. drains the engine's output ring into the output ports (engine output first: it answers
 *      earlier events);
 *   3. answers each input event whose key (status kind, channel, number) the installed table
 *      marks as MIDI-only, writing to the output ports at the event's own frame, and forwards
 *      every input event (flagged "relayed" when answered) through a second ring to Python.
 * Everything it touches is fixed-size: no locks, no allocation, no system call but sem_post.
 *
 * libjack is opened with dlopen, so building needs only a C compiler, no JACK headers (the few
 * JACK types used are declared in jack_api.h). The headers are parts of this one translation
 * unit: one compiler call, one cached library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jack_api.h"
#include "ring.h"
#include "table.h"

/* ------------------------------------------------------------------ the client */
#define MAX_PORTS 64
#define FLAG_RELAYED 1
#define FLAG_RELEASE 2 /* forwarded during a barrier: Python reports when the engine has it */
#define FLAG_SENT 4    /* not an input: the output with this id left at this frame (benchmarks) */

enum { S_CYCLES, S_IN, S_RELAYED, S_OUT_ENGINE, S_OUT_RELAY, S_FWD_DROPPED, S_OUT_DROPPED, S_BARRIERS, S_XRUNS,
       S_MAX_EVENTS_CYCLE, NSTATS };

typedef struct {
    jack_port_t *port;
    _Atomic int state; /* 0 free, 1 live, 2 closing (the callback skips it) */
    int output;
} port_t;

typedef struct {
    jack_client_t *client;
    port_t ports[MAX_PORTS];
    _Atomic int nports;
    _Atomic(table_t *) table;
    ring_t fwd, out;
    sem_t ready;
    _Atomic uint64_t released_upto;
    _Atomic int shutdown;
    _Atomic int stamp_sent; /* report each drained output's frame (benchmarks measure in frames) */
    /* only the callback writes these */
    uint64_t seq;
    int barrier;
    uint64_t barrier_upto;
    _Atomic uint64_t stats[NSTATS];
} relay_t;

static void bump(relay_t *r, int which, uint64_t n) {
    atomic_fetch_add_explicit(&r->stats[which], n, memory_order_relaxed);
}

static int process(jack_nframes_t nframes, void *arg) {
    relay_t *r = arg;
    jack_nframes_t base = J.last_frame_time(r->client);
    int stamp = atomic_load_explicit(&r->stamp_sent, memory_order_relaxed);
    table_t *t = atomic_load_explicit(&r->table, memory_order_acquire);
    /* read the release before draining: every engine output written before it is then drained */
    uint64_t released = atomic_load_explicit(&r->released_upto, memory_order_acquire);
    if (r->barrier && released >= r->barrier_upto) r->barrier = 0;

    int nports = atomic_load_explicit(&r->nports, memory_order_acquire);
    void *buf[MAX_PORTS];
    jack_nframes_t last[MAX_PORTS];
    uint32_t count[MAX_PORTS], next[MAX_PORTS];
    for (int i = 0; i < nports; i++) {
        buf[i] = NULL, last[i] = 0, count[i] = 0, next[i] = 0;
        if (atomic_load_explicit(&r->ports[i].state, memory_order_acquire) != 1) continue;
        buf[i] = J.port_get_buffer(r->ports[i].port, nframes);
        if (!buf[i]) continue;
        if (r->ports[i].output) J.midi_clear_buffer(buf[i]);
        else count[i] = J.midi_get_event_count(buf[i]);
    }

    /* 1. the engine's output, in the order the engine wrote it */
    rec_t h;
    unsigned char data[4096];
    uint8_t wrote[MAX_PORTS] = {0};
    while (ring_peek(&r->out, &h)) {
        int p = h.port;
        if (p < nports && buf[p] && r->ports[p].output && h.len <= sizeof data) {
            ring_data(&r->out, &h, data, sizeof data);
            if (J.midi_event_write(buf[p], last[p], data, h.len) != 0) {
                if (wrote[p]) break; /* the port's buffer is full: the rest goes next cycle */
                bump(r, S_OUT_DROPPED, 1); /* too big for an empty buffer: it never fits */
            } else {
                wrote[p] = 1;
                bump(r, S_OUT_ENGINE, 1);
                if (stamp) {
                    rec_t s = {.len = 0, .port = h.port, .flags = FLAG_SENT, .frame = base + last[p], .seq = h.seq};
                    if (ring_push(&r->fwd, &s, data) == 0) sem_post(&r->ready);
                }
            }
        } else {
            bump(r, S_OUT_DROPPED, 1);
        }
        ring_pop(&r->out, &h);
    }

    /* engine output left for the next cycle (a full port): answering now would overtake it */
    int backlog = ring_peek(&r->out, &h);

    /* 2. the inputs, merged across ports by frame, in order */
    uint32_t mode = t ? atomic_load_explicit(&t->mode, memory_order_acquire) : NO_MODE;
    uint64_t handled = 0;
    int pushed = 0;
    for (;;) {
        int best = -1;
        jack_midi_event_t ev, bev = {0, 0, NULL};
        for (int i = 0; i < nports; i++) {
            if (!buf[i] || r->ports[i].output || next[i] >= count[i]) continue;
            if (J.midi_event_get(&ev, buf[i], next[i]) != 0) {
                next[i] = count[i];
                continue;
            }
            if (best < 0 || ev.time < bev.time) best = i, bev = ev;
        }
        if (best < 0) break;
        next[best]++;
        handled++;
        const entry_t *e;
        int what = classify(t, mode, bev.buffer, bev.size, &e);
        rec_t f = {.len = (uint32_t)bev.size, .port = (uint16_t)best, .flags = 0, .frame = base + bev.time,
                   .seq = ++r->seq};
        int answer = what == ANSWER && !r->barrier && !backlog;
        for (uint32_t k = 0; answer && k < e->n; k++) {
            /* every answer must fit, or none is written: the engine then answers it, in order */
            int p = t->outs[e->first + k].port;
            if (p < nports && buf[p] && r->ports[p].output && J.midi_max_event_size(buf[p]) < 16u * e->n) answer = 0;
        }
        if (answer) {
            for (uint32_t k = 0; k < e->n; k++) {
                const out_t *o = &t->outs[e->first + k];
                unsigned char msg[3];
                size_t l = answer_one(t, o, bev.buffer, msg);
                int p = o->port;
                if (!l) continue;
                if (p >= nports || !buf[p] || !r->ports[p].output) {
                    bump(r, S_OUT_DROPPED, 1);
                    continue;
                }
                jack_nframes_t at = bev.time > last[p] ? bev.time : last[p];
                if (J.midi_event_write(buf[p], at, msg, l) == 0) {
                    last[p] = at;
                    bump(r, S_OUT_RELAY, 1);
                } else {
                    bump(r, S_OUT_DROPPED, 1);
                }
            }
            f.flags |= FLAG_RELAYED;
        }
        /* forwarded with its MIDI still owed (or a mode change to come): later answers wait */
        int owed = what == BARRIER || (what == ANSWER && !answer);
        int starts = owed && !r->barrier;
        if (owed || r->barrier) f.flags |= FLAG_RELEASE;
        if (ring_push(&r->fwd, &f, bev.buffer) == 0) {
            pushed = 1;
            if (f.flags & FLAG_RELEASE) {
                r->barrier = 1;
                r->barrier_upto = f.seq;
                if (starts) bump(r, S_BARRIERS, 1);
            }
            if (f.flags & FLAG_RELAYED) bump(r, S_RELAYED, 1);
        } else {
            bump(r, S_FWD_DROPPED, 1); /* Python is far behind; a lost barrier event sets none */
        }
    }
    if (handled) {
        bump(r, S_IN, handled);
        if (handled > atomic_load_explicit(&r->stats[S_MAX_EVENTS_CYCLE], memory_order_relaxed))
            atomic_store_explicit(&r->stats[S_MAX_EVENTS_CYCLE], handled, memory_order_relaxed);
    }
    if (pushed) sem_post(&r->ready);
    bump(r, S_CYCLES, 1);
    return 0;
}

static void on_shutdown(void *arg) {
    relay_t *r = arg;
    atomic_store(&r->shutdown, 1);
    sem_post(&r->ready);
}

static int on_xrun(void *arg) {
    bump((relay_t *)arg, S_XRUNS, 1);
    return 0;
}

relay_t *relay_open(const char *libjack, const char *name, uint32_t ring_bytes) {
    if (load_jack(libjack) != 0) return NULL;
    relay_t *r = calloc(1, sizeof *r);
    if (!r) {
        set_error("out of memory", NULL);
        return NULL;
    }
    size_t size = 1;
    while (size < ring_bytes) size <<= 1;
    if (ring_init(&r->fwd, size) || ring_init(&r->out, size) || sem_init(&r->ready, 0, 0)) {
        set_error("out of memory", NULL);
        goto fail;
    }
    int status = 0;
    r->client = J.client_open(name, JackNoStartServer, &status);
    if (!r->client) {
        char detail[64];
        snprintf(detail, sizeof detail, "jack_client_open status 0x%x", status);
        set_error("no JACK server to connect to", detail);
        goto fail;
    }
    J.set_process_callback(r->client, process, r);
    J.on_shutdown(r->client, on_shutdown, r);
    J.set_xrun_callback(r->client, on_xrun, r);
    if (J.activate(r->client) != 0) {
        set_error("jack_activate failed", NULL);
        J.client_close(r->client);
        goto fail;
    }
    return r;
fail:
    free(r->fwd.buf), free(r->out.buf), free(r);
    return NULL;
}

const char *relay_client_name(relay_t *r) { return J.get_client_name(r->client); }
uint32_t relay_buffer_size(relay_t *r) { return J.get_buffer_size(r->client); }
uint32_t relay_sample_rate(relay_t *r) { return J.get_sample_rate(r->client); }

/* a new port; returns its index, -1 on failure. Ports are registered while active: the
 * callback sees a slot only after its state is published. */
int relay_add_port(relay_t *r, const char *name, int output) {
    int n = atomic_load(&r->nports), slot = -1;
    for (int i = 0; i < n; i++)
        if (atomic_load(&r->ports[i].state) == 0) slot = i;
    if (slot < 0) {
        if (n >= MAX_PORTS) {
            set_error("too many MIDI ports", NULL);
            return -1;
        }
        slot = n;
    }
    jack_port_t *p = J.port_register(r->client, name, MIDI_TYPE, output ? JackPortIsOutput : JackPortIsInput, 0);
    if (!p) {
        set_error("jack_port_register failed for", name);
        return -1;
    }
    r->ports[slot].port = p;
    r->ports[slot].output = output;
    atomic_store_explicit(&r->ports[slot].state, 1, memory_order_release);
    if (slot == n) atomic_store_explicit(&r->nports, n + 1, memory_order_release);
    return slot;
}

const char *relay_port_name(relay_t *r, int i) {
    if (i < 0 || i >= atomic_load(&r->nports) || atomic_load(&r->ports[i].state) != 1) return NULL;
    return J.port_name(r->ports[i].port);
}

int relay_port_connected(relay_t *r, int i) {
    if (i < 0 || i >= atomic_load(&r->nports) || atomic_load(&r->ports[i].state) != 1) return 0;
    return J.port_connected(r->ports[i].port);
}

int relay_connect(relay_t *r, const char *src, const char *dst) {
    int rc = J.connect(r->client, src, dst);
    return rc == EEXIST ? 0 : rc;
}

static void wait_cycles(relay_t *r, uint64_t n) {
    /* until the callback has run n more cycles (it may hold a pointer from before), at most 1 s */
    uint64_t start = atomic_load(&r->stats[S_CYCLES]);
    for (int i = 0; i < 1000 && !atomic_load(&r->shutdown); i++) {
        if (atomic_load(&r->stats[S_CYCLES]) >= start + n) return;
        usleep(1000);
    }
}

void relay_remove_port(relay_t *r, int i) {
    if (i < 0 || i >= atomic_load(&r->nports) || atomic_load(&r->ports[i].state) != 1) return;
    atomic_store(&r->ports[i].state, 2);
    wait_cycles(r, 2);
    J.port_unregister(r->client, r->ports[i].port);
    r->ports[i].port = NULL;
    atomic_store(&r->ports[i].state, 0);
}

/* Put a table in place by one pointer; returns the one it replaces (retire it next). Cheap:
 * the engine loop calls it between two events, so the mode it sets on `t` is current. */
table_t *relay_swap(relay_t *r, table_t *t) {
    return atomic_exchange_explicit(&r->table, t, memory_order_acq_rel);
}

/* Free a table swapped out, once the callback can no longer hold it. Returns 0, or -1 when the
 * callback did not move on within a second (the table is then kept: leaked, never freed early). */
int relay_retire(relay_t *r, table_t *old) {
    if (!old) return 0;
    uint64_t start = atomic_load(&r->stats[S_CYCLES]);
    wait_cycles(r, 2);
    if (atomic_load(&r->stats[S_CYCLES]) >= start + 2 || atomic_load(&r->shutdown)) {
        relay_table_free(old);
        return 0;
    }
    return -1;
}

void relay_set_mode(relay_t *r, uint32_t mode) {
    table_t *t = atomic_load(&r->table);
    if (t) relay_table_set_mode(t, mode);
}

void relay_release(relay_t *r, uint64_t seq) {
    uint64_t cur = atomic_load(&r->released_upto);
    while (seq > cur && !atomic_compare_exchange_weak(&r->released_upto, &cur, seq)) {
    }
}

/* The engine's MIDI out. One producer at a time (the Python side holds a lock). `id` comes
 * back with the frame the message left at when relay_stamp_sent is on. */
int relay_send(relay_t *r, int port, const unsigned char *data, uint32_t len, uint64_t id) {
    rec_t h = {.len = len, .port = (uint16_t)port, .seq = id};
    return ring_push(&r->out, &h, data);
}

void relay_stamp_sent(relay_t *r, int on) { atomic_store(&r->stamp_sent, on); }

/* Wait up to timeout_ms for forwarded events; 1 when there may be some, 0 on timeout, -1 when
 * the JACK server has gone. Called without the GIL (ctypes releases it). */
int relay_wait(relay_t *r, int timeout_ms) {
    if (atomic_load(&r->shutdown)) return -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    int rc;
    while ((rc = sem_timedwait(&r->ready, &ts)) != 0 && errno == EINTR) {
    }
    if (atomic_load(&r->shutdown)) return -1;
    return rc == 0;
}

/* Wake relay_wait (to stop the reader). */
void relay_wake(relay_t *r) { sem_post(&r->ready); }

/* The next forwarded event: its length (0 when there is none; larger than cap: truncated). */
/* The next forwarded record: 1 with its fields (and data, its length in *len; truncated when
 * larger than cap), or 0 when there is none. */
int relay_next(relay_t *r, uint64_t *seq, uint32_t *port, uint32_t *flags, uint32_t *frame, uint32_t *len,
               unsigned char *dst, uint32_t cap) {
    rec_t h;
    if (!ring_peek(&r->fwd, &h)) return 0;
    ring_data(&r->fwd, &h, dst, cap);
    ring_pop(&r->fwd, &h);
    *seq = h.seq, *port = h.port, *flags = h.flags, *frame = h.frame, *len = h.len;
    return 1;
}

void relay_stats(relay_t *r, uint64_t *out, uint32_t n) {
    for (uint32_t i = 0; i < n && i < NSTATS; i++) out[i] = atomic_load_explicit(&r->stats[i], memory_order_relaxed);
}

int relay_server_gone(relay_t *r) { return atomic_load(&r->shutdown); }

void relay_close(relay_t *r) {
    if (!r) return;
    if (!atomic_load(&r->shutdown)) J.deactivate(r->client);
    J.client_close(r->client); /* after a server shutdown too: it frees the client's side */
    relay_table_free(atomic_load(&r->table));
    sem_destroy(&r->ready);
    free(r->fwd.buf), free(r->out.buf), free(r);
}

uint32_t relay_sizeof_entry(void) { return sizeof(entry_t); }
uint32_t relay_sizeof_out(void) { return sizeof(out_t); }
