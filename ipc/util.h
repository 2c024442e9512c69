/*
 * Small helpers both sides need: parsing durations, sizes and signal
 * names, reading JSON members with defaults, loading an optional library.
 */
#ifndef IPC_UTIL_H
#define IPC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

int64_t util_now_ms(void);
int util_parse_duration_ms(const char *, int64_t *);
int util_parse_size(const char *, int64_t *);
int util_signal_number(const char *);
const char *util_signal_name(int);

int64_t util_json_int(const json_t *, const char *, int64_t);
const char *util_json_str(const json_t *, const char *, const char *);
int util_json_bool(const json_t *, const char *, int);
json_t *util_json_hex(const void *, size_t);
char *util_hex_value(const json_t *, size_t *);

char *util_utf8_clean(const char *, size_t, size_t *);
size_t util_utf8_cut(const char *, size_t, size_t);
const char *util_clip(const char *, char *, size_t);
int util_write_atomic(const char *, const char *, size_t, int);
ssize_t util_send_fd(int, const void *, size_t, int, int);

/* A symbol util_dlopen looks up, and where its address goes. */
struct util_sym {
	const char *name;
	void **slot;
};
void *util_dlopen(const char *, const char *, const struct util_sym *, size_t,
    char *, size_t);

#endif
