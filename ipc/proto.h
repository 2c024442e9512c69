/*
 * The control protocol shared by the CLI and the daemon: framing, message
 * shape and a blocking client.  docs/protocol.md is the specification.
 * Nothing here knows about cmd/ or core/.
 */
#ifndef IPC_PROTO_H
#define IPC_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <jansson.h>

#define IPC_VERSION 1
#define IPC_HEADER_SIZE 4
#define IPC_MAX_FRAME (8u * 1024 * 1024)

/* Error codes carried in replies (the "code" member). */
#define IPC_E_BAD_REQUEST "bad_request"
#define IPC_E_VERSION "version"
#define IPC_E_TOO_LARGE "too_large"
#define IPC_E_UNKNOWN_CMD "unknown_command"
#define IPC_E_NOT_FOUND "not_found"
#define IPC_E_EXISTS "exists"
#define IPC_E_EXEC "exec"
#define IPC_E_BUSY "busy"
#define IPC_E_TIMEOUT "timeout"
#define IPC_E_APP_FAILED "app_failed"
#define IPC_E_INTERNAL "internal"
#define IPC_E_DENIED "denied"
#define IPC_E_STATE "state"

/* An incremental frame decoder: feed bytes, take whole messages. */
struct ipc_decoder {
	char *buf;
	size_t len;
	size_t cap;
};

void ipc_decoder_init(struct ipc_decoder *);
void ipc_decoder_release(struct ipc_decoder *);
int ipc_decoder_feed(struct ipc_decoder *, const char *, size_t);
int ipc_decoder_next(struct ipc_decoder *, json_t **, char *, size_t);

int ipc_frame_encode(const json_t *, char **, size_t *);

json_t *ipc_request_new(uint32_t, const char *, json_t *);
int ipc_request_check(const json_t *, uint32_t *, const char **, json_t **,
    char *, size_t);
json_t *ipc_reply_ok(uint32_t, json_t *, int);
json_t *ipc_reply_error(uint32_t, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

int ipc_sockaddr(const char *, struct sockaddr_un *, socklen_t *, int *);

/* A blocking client for the CLI. */
struct ipc_client {
	int fd;
	uint32_t next_id;
	struct ipc_decoder dec;
};

int ipc_client_connect(struct ipc_client *, const char *);
void ipc_client_close(struct ipc_client *);
int ipc_client_send(struct ipc_client *, const char *, json_t *, uint32_t *);
int ipc_client_recv(struct ipc_client *, json_t **, int);

#endif
