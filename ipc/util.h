/*
 * Small helpers both sides need: parsing durations, sizes and signal
 * names, and reading JSON members with defaults.
 */
#ifndef IPC_UTIL_H
#define IPC_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

int64_t util_now_ms(void);
int util_parse_duration_ms(const char *, int64_t *);
int util_parse_size(const char *, int64_t *);
int util_signal_number(const char *);
const char *util_signal_name(int);

int64_t util_json_int(const json_t *, const char *, int64_t);
const char *util_json_str(const json_t *, const char *, const char *);
int util_json_bool(const json_t *, const char *, int);

int util_write_atomic(const char *, const char *, size_t, int);

#endif
