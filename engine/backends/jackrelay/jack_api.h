/* JACK, declared by hand with the layout of jack/types.h and jack/midiport.h, and loaded with
 * dlopen: building the relay needs a C compiler, not JACK's headers. Part of relay.c (one
 * translation unit: one compiler call, one cached library). */
#pragma once
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ JACK, declared by hand */
typedef uint32_t jack_nframes_t;
typedef struct _jack_client jack_client_t;
typedef struct _jack_port jack_port_t;
typedef struct {
    jack_nframes_t time;
    size_t size;
    unsigned char *buffer;
} jack_midi_event_t;
typedef int (*JackProcessCallback)(jack_nframes_t, void *);
typedef void (*JackShutdownCallback)(void *);
typedef int (*JackXRunCallback)(void *);
enum { JackNoStartServer = 0x01 };
enum { JackPortIsInput = 0x1, JackPortIsOutput = 0x2 };
#define MIDI_TYPE "8 bit raw midi"

static struct {
    void *lib;
    jack_client_t *(*client_open)(const char *, int, int *, ...);
    int (*client_close)(jack_client_t *);
    int (*set_process_callback)(jack_client_t *, JackProcessCallback, void *);
    void (*on_shutdown)(jack_client_t *, JackShutdownCallback, void *);
    int (*set_xrun_callback)(jack_client_t *, JackXRunCallback, void *);
    int (*activate)(jack_client_t *);
    int (*deactivate)(jack_client_t *);
    jack_port_t *(*port_register)(jack_client_t *, const char *, const char *, unsigned long, unsigned long);
    int (*port_unregister)(jack_client_t *, jack_port_t *);
    void *(*port_get_buffer)(jack_port_t *, jack_nframes_t);
    const char *(*port_name)(const jack_port_t *);
    int (*port_connected)(const jack_port_t *);
    int (*connect)(jack_client_t *, const char *, const char *);
    char *(*get_client_name)(jack_client_t *);
    jack_nframes_t (*get_buffer_size)(jack_client_t *);
    jack_nframes_t (*get_sample_rate)(jack_client_t *);
    jack_nframes_t (*last_frame_time)(const jack_client_t *);
    uint32_t (*midi_get_event_count)(void *);
    int (*midi_event_get)(jack_midi_event_t *, void *, uint32_t);
    void (*midi_clear_buffer)(void *);
    int (*midi_event_write)(void *, jack_nframes_t, const unsigned char *, size_t);
    size_t (*midi_max_event_size)(void *);
} J;

static char last_error[512];

static const char *set_error(const char *msg, const char *detail) {
    snprintf(last_error, sizeof last_error, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
    return last_error;
}

const char *relay_error(void) { return last_error; }

static int load_jack(const char *path) {
    if (J.lib) return 0;
    void *lib = dlopen(path && *path ? path : "libjack.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        set_error("cannot load libjack", dlerror());
        return -1;
    }
#define SYM(field, name)                                   \
    do {                                                   \
        *(void **)(&J.field) = dlsym(lib, name);           \
        if (!J.field) {                                    \
            set_error("libjack lacks", name);              \
            dlclose(lib);                                  \
            memset(&J, 0, sizeof J);                       \
            return -1;                                     \
        }                                                  \
    } while (0)
    SYM(client_open, "jack_client_open");
    SYM(client_close, "jack_client_close");
    SYM(set_process_callback, "jack_set_process_callback");
    SYM(on_shutdown, "jack_on_shutdown");
    SYM(set_xrun_callback, "jack_set_xrun_callback");
    SYM(activate, "jack_activate");
    SYM(deactivate, "jack_deactivate");
    SYM(port_register, "jack_port_register");
    SYM(port_unregister, "jack_port_unregister");
    SYM(port_get_buffer, "jack_port_get_buffer");
    SYM(port_name, "jack_port_name");
    SYM(port_connected, "jack_port_connected");
    SYM(connect, "jack_connect");
    SYM(get_client_name, "jack_get_client_name");
    SYM(get_buffer_size, "jack_get_buffer_size");
    SYM(get_sample_rate, "jack_get_sample_rate");
    SYM(last_frame_time, "jack_last_frame_time");
    SYM(midi_get_event_count, "jack_midi_get_event_count");
    SYM(midi_event_get, "jack_midi_event_get");
    SYM(midi_clear_buffer, "jack_midi_clear_buffer");
    SYM(midi_event_write, "jack_midi_event_write");
    SYM(midi_max_event_size, "jack_midi_max_event_size");
#undef SYM
    J.lib = lib;
    return 0;
}

