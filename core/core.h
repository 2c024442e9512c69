/*
 * The daemon: apps, their instances, the instance state machine and the
 * control server.  The CLI does not include this: cmd/main.c reaches the
 * daemon's two entry points through core/daemon.h.
 */
#ifndef CORE_H
#define CORE_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "../ipc/proto.h"
#include "creds.h"
#include "daemon.h"
#include "fsm.h"
#include "logs.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                             \
	for ((var) = TAILQ_FIRST(head);                                        \
	     (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);            \
	     (var) = (tvar))
#endif

/*
 * Why an instance's process was started, shown by list and describe as
 * restart_reason (null for REASON_START).  New triggers add a value here
 * and a name in instance.c's reason_names, and go through inst_restart.
 */
enum inst_reason {
	REASON_START,	/* start, or an app's first start: not a restart */
	REASON_CRASH,	/* it exited on its own and autorestart is on */
	REASON_MANUAL,	/* restart or reset */
	REASON_RELOAD,	/* a reload's replacement */
	REASON_SCALE,	/* added by scale */
	REASON_WATCH,	/* a watched file changed */
	REASON_MEMORY,	/* over its memory limit */
	REASON_CRON,	/* its cron restart time came */
	REASON_UPGRADE, /* the daemon was upgraded */
	REASON_RESTORE, /* its daemon died; the next one restored it */
	REASON_COUNT
};

/* How the instances of an app get an address's connections. */
enum balance {
	BALANCE_SHARED,	   /* one socket, one accept queue for all */
	BALANCE_REUSEPORT, /* one SO_REUSEPORT socket per instance slot */
};

/* What the daemon knows of the preload library in an instance. */
enum preload_state {
	PRELOAD_UNKNOWN,
	PRELOAD_LOADED,	 /* it asked for a socket, or its maps show it */
	PRELOAD_STATIC,	 /* a static binary: no preload possible */
	PRELOAD_MISSING, /* a dynamic one without it (LD_PRELOAD cleared) */
};

struct app;

#define EXIT_HISTORY 10

/* One exit of an instance's process, for describe. */
struct exit_record {
	int64_t when; /* ms since the epoch */
	int code;     /* -1 when a signal ended it */
	int signal;   /* 0 when it exited */
	int64_t uptime_ms;
	int64_t delay_ms; /* the restart delay chosen, or -1: none */
};

struct instance {
	struct app *app;
	int index;
	enum inst_state fsm_state; /* core/fsm.c; inst_status() for list */

	uv_process_t proc;
	uv_pipe_t status; /* exec status from the __exec shim */
	uv_timer_t timer; /* backoff, kill timeout, stop polling */
	int nhandles;	  /* open handles; freed when 0 and dead */

	pid_t pid;
	int adopted;	     /* its process came with an upgrade: not a libuv
				handle, reaped on SIGCHLD (inst_reap_orphans) */
	char *pid_file;	     /* the pid file written for pid (pidfile.c) */
	int running;	     /* a process exists (exit not yet handled) */
	int exited;	     /* exit callback seen for the current process */
	int pgid_live;	     /* its group may still have members to reap */
	int status_done;     /* exec status pipe reached EOF */
	int exec_errno;	     /* the shim's exec failed with this */
	int64_t exit_status; /* from the exit callback, pending EV_EXIT */
	int exit_termsig;

	uint64_t started_mono;	/* uv_now at spawn */
	int64_t started_wall;	/* ms since the epoch at spawn */
	uint64_t stop_deadline; /* stopping: SIGKILL after this (uv_now) */

	int restarts;		 /* automatic restarts, for list */
	struct backoff backoff;	 /* instance.c's own */
	int64_t next_start_wall; /* when waiting: the next start */
	/* The last EXIT_HISTORY exits, allocated at the first one (a program
	 * that never exits does not carry its 320 bytes). */
	struct exit_record *exits;
	int nexits; /* how many exits ever; exits[] holds the last ones */
	int have_exit;
	int exit_code;	 /* of the last exit, when it exited */
	int exit_signal; /* of the last exit, when a signal ended it */
	char *error;	 /* why it is errored, for list and describe */

	int want_up;		      /* stopping: start again once stopped */
	enum inst_reason next_reason; /* why the next spawn happens */
	enum inst_reason reason;      /* why the current process started */
	int64_t reason_wall;	      /* when it was (re)started for reason */
	int dead;		      /* removed: free once nhandles is 0 */

	uint64_t cpu_ticks; /* for cpu%: the previous sample */
	uint64_t cpu_when;
	uint64_t restarts_by[REASON_COUNT]; /* for metrics: never reset */
	int stopped_by_exit; /* stopped: its program exited, not restarted */
	uint64_t cpu_base;   /* cpu ticks of its earlier processes */
	uint64_t cpu_seen;   /* the current process's, when last sampled */
	int statm_fd;	     /* its process's /proc statm, kept open while it
				runs (inst_sample); -1: none */
	int64_t ready_ms;    /* how long its process took to be online */

	/* Cluster mode (docs/cluster.md). */
	/* The pipes only some apps use, allocated at their first spawn and
	 * kept until the instance is freed (a thousand instances of a plain
	 * program do not carry them). */
	uv_pipe_t *channel; /* a Node IPC channel (every Node app) */
	int has_channel;
	uv_pipe_t *input; /* its stdin, for send (stdin_messages) */
	int has_input;
	char *chanline; /* an incomplete line read from the channel */
	size_t chanlen;
	int ready_timeout; /* became online because listen_timeout passed */
	char *status_text; /* the last STATUS= it sent */
	char *cgroup;	   /* its cgroup v2 (core/cgroup.c), or NULL */
	int retiring;	   /* in app->gone: never restarted */
	int refs;	   /* held by a reload: not freed while > 0 */
	enum preload_state preload; /* of its current process */

	TAILQ_ENTRY(instance) retired;
};

TAILQ_HEAD(instance_list, instance);

struct app {
	int id;
	char *name;
	json_t *spec; /* the normalised start request, for describe */

	/* The configuration, from the spec (app_build); app_update swaps
	 * each member, so a new one gets a line there too. */
	char *exec_path; /* what the shim executes */
	int shell;	 /* the script is a command line for /bin/sh -c */
	char **argv;	 /* its argv, argv[0] included */
	char **envp;	 /* the frozen environment, without instance vars */
	size_t nenv;
	char *cwd;
	struct creds creds; /* who the instances run as (--uid, --gid) */
	int kill_signal;
	int64_t kill_timeout_ms;
	int autorestart;
	/* Restart policy (see docs/supervision.md). */
	int64_t restart_delay_ms; /* fixed delay; -1: exponential backoff */
	int64_t backoff_base_ms;
	int64_t backoff_max_ms;
	int64_t backoff_reset_ms;
	int64_t min_uptime_ms;
	int max_restarts;
	int stop_exit_codes[32];
	int nstop_exit_codes;
	char *out_file; /* NULL: the default per-instance file */
	char *err_file;
	char *pid_file;	      /* pm2's --pid, as given; NULL: none */
	struct app_logs logs; /* core/logs.c */

	int ninst; /* the desired instance count */
	int instcap;
	struct instance **inst;	   /* by instance number */
	struct instance_list gone; /* removed instances still stopping */
	int deleting;

	/* Cluster mode (docs/cluster.md, core/share.c). */
	int share;		   /* instances get the preload library */
	int wait_ready;		   /* only a signal makes an instance ready */
	int stdin_messages;	   /* send writes JSON lines to stdin */
	int shutdown_with_message; /* stop by 'shutdown' on the channel */
	char *instance_var;	   /* NODE_APP_INSTANCE's name, or NULL */
	char *increment_var;	   /* VAR=base+N for instance N, or NULL */
	long long increment_base;  /* VAR's value in the app's environment */
	int node_channel;	   /* runs under Node: gets an IPC channel */
	int64_t listen_timeout_ms; /* ready anyway after this; 0: at exec */
	struct lsock *socks;	   /* --listen sockets first, then shared */
	int nlisten;		   /* how many of socks are --listen ones */
	int reloading;		   /* a reload is running */
	enum balance balance;	   /* shared queue, or one socket per slot */
	int sticky;		   /* slot chosen by the client's address */
	int64_t reload_ms;	   /* how long the last reload took; -1: none */
	int64_t max_memory;	   /* max_memory_restart in bytes; 0: none */
	struct watcher *watch;	   /* --watch (core/watch.c), or NULL */
	struct cronjob *cron;	   /* --cron-restart (core/schedule.c) */
	uint64_t memory_tried;	   /* uv_now of the last replacement asked */
	int64_t ready_ms;	   /* the last instance's time to online; -1 */

	TAILQ_ENTRY(app) entry;
};

TAILQ_HEAD(app_list, app);

/* An error to reply with: its protocol code (IPC_E_*) and its message. */
struct err {
	const char *code;
	char msg[512];
};

/* One resolved target: an app and one of its instances, or all of them. */
struct target {
	int app_id;
	int instance; /* -1: every instance of the app */
};

/* Resolved targets, in the order named, without duplicates. */
struct targets {
	struct target *v;
	size_t n;
};

/* Free what ts holds (a value type: any layer may release one). */
static inline void
targets_release(struct targets *ts)
{
	free(ts->v);
	ts->v = NULL;
	ts->n = 0;
}

/* A request being answered, possibly over several replies. */
struct client;
struct req {
	struct client *client; /* NULL once the client went away */
	uint32_t id;
	char *cmd;
	json_t *args;
	/* A waiting request: check() is called after state changes until
	 * it returns non-zero, having replied. */
	int (*check)(struct req *);
	json_t *wait;		/* what it waits for: baselines, names */
	struct targets targets; /* what it acts on (released with r) */
	TAILQ_ENTRY(req) centry;
	TAILQ_ENTRY(req) wentry;
	int waiting;
	int internal; /* the daemon's own (a trigger): failures logged */
	/* Called (and must free r, e.g. with req_reply) when the client
	 * goes away while r streams; r->client is NULL by then. */
	void (*on_close)(struct req *);
	/* A stream that waits for room: called when the client's queue is
	 * low again (see req_room). */
	void (*on_drain)(struct req *);
	void *ctx;   /* the holder's own state, freed by the holder */
	int ended;   /* a final (error) reply went out: the rest are dropped */
	int mutates; /* may change the desired state (core/state.c) */
	int warns;   /* its final reply carries the daemon's standing warning */
};

TAILQ_HEAD(req_list, req);

struct client {
	uv_pipe_t pipe;
	struct ipc_decoder dec;
	struct req_list reqs;
	uid_t uid;
	pid_t pid;
	int closing;
	int draining; /* a protocol error: no more requests */
	int door;     /* came through the door: may only ask "share" */
	int exit_after_flush;
	TAILQ_ENTRY(client) entry;
};

TAILQ_HEAD(client_list, client);

/* daemon.c */
extern uv_loop_t *loop;
extern struct app_list apps;
extern const char *home;
extern char self_exe[];
extern int quitting;
extern int daemon_foreground;
extern int (*daemon_exit_code)(void);
int daemon_setup(const char *, int);
void daemon_shutdown(const char *);
void daemon_quit(void);
void daemon_changed(void);
int64_t daemon_now_wall(void);
void daemon_loop_init(void);
long long daemon_nofile_orig(void);
int daemon_lock_fd(void);
void daemon_nofile_check(int);
long daemon_fd_count(int);
int daemon_fds_plenty(void);
const char *daemon_nofile_warning(void);

/* daemon-log.c: the daemon's own log */
int log_open(const char *);
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
extern void (*log_hook)(const char *, size_t);
int log_reopen(void);

/* server.c */
int server_listen(const char *, void (*)(struct req *));
void server_close(void);
int server_door_fd(void);
int server_door_fd_get(int);
struct ucred;
ssize_t server_recv_dgram(int, char *, size_t, struct ucred *, int *, int *,
    int, int *);
void req_reply(struct req *, json_t *);
void req_more(struct req *, json_t *);
int req_room(const struct req *);
void req_error(struct req *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
void req_fail(struct req *, const struct err *);
int req_args(struct req *, const char *, ...);
void req_wait(struct req *, int (*)(struct req *), json_t *);
void server_run_waiters(void);
int server_listen_fd(void);
int server_nwaiting(const struct req *);
int server_nsending(void);
json_t *server_handover(const struct req *);
struct req *server_adopt(const json_t *, const char *);

/* app.c */
struct app *app_find_name(const char *);
int app_count_name(const char *);
struct app *app_find_same(json_t *);
struct app *app_find_id(int);
int app_create(json_t *, struct app **, struct err *);
int app_check(json_t *, struct err *);
int app_update(struct app *, json_t *, int *, struct err *);
void app_free(struct app *);
int app_set_instances(struct app *, int);
void app_start(struct app *);
void app_stop(struct app *);
void app_reap(struct app *);
int app_all_stopped(const struct app *);
json_t *app_list_json(const struct app *);
json_t *app_describe_json(const struct app *);

/* target.c */
void err_set(struct err *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
int targets_resolve(const json_t *, struct targets *, struct err *);
int req_targets(struct req *, struct targets *);
struct app *target_app(const struct target *);
void target_range(const struct target *, const struct app *, int *, int *);
int target_has(const struct target *, int, int);
void targets_each(const struct targets *, void (*)(struct instance *));

/* instance.c */
struct instance *inst_new(struct app *, int);
void inst_event(struct instance *, enum inst_event);
void inst_start(struct instance *, enum inst_reason);
void inst_stop(struct instance *);
void inst_restart(struct instance *, enum inst_reason);
void inst_reset(struct instance *);
void inst_backoff_reset(struct instance *);
enum inst_status inst_status(const struct instance *);
int inst_wants_up(const struct instance *);
const char *inst_status_name(const struct instance *);
const char *inst_reason_name(enum inst_reason);
void inst_why_down(const struct instance *, char *, size_t);
void inst_retire(struct instance *);
int inst_idle(const struct instance *);
void inst_reap_orphans(struct instance *);
json_t *inst_json(struct instance *);
json_t *inst_handover(struct instance *, char *, size_t);
int inst_adopt(struct instance *, const json_t *);

/* console.c: stdout and stderr of a daemon in the foreground (run) */
int console_open(int, int);
int console_active(void);
void console_app_lines(const char *, int, int, const char *, const char *,
    size_t);
void console_daemon_line(const char *, size_t);
void console_error(const char *);
void console_close(void);
/* cgroup.c */
enum cgroup_kind {
	CGROUP_NONE,
	CGROUP_V2,
	CGROUP_V1_FREEZER,
	CGROUP_V1_PIDS,
};
int cgroup_mount_of(const char *, const char *, char *, size_t);
int cgroup_own_of(const char *, const char *, char *, size_t);
const char *cgroup_kind_name(void);
void cgroup_init(int);
const char *cgroup_base(void);
char *cgroup_instance(const struct app *, int);
int cgroup_signal(const char *, int, pid_t);
void cgroup_remove(const char *);
void cgroup_release(void);

/* handlers.c */
void handle_request(struct req *);
void handlers_shutdown(struct req *);

/* handlers-share.c */
void share_handle(struct req *);

/* server.c: a final reply carrying a descriptor (share) */
void req_reply_fd(struct req *, json_t *, int);
void req_error_errno(struct req *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A listening socket the daemon holds for an app (core/share.c): one
 * descriptor for all instances, or one per instance slot (reuseport).
 */
struct lsock {
	struct lsock *next;
	int *fds; /* fds[0], or fds[slot] for a slotted one */
	int nfds;
	int family;	/* AF_INET, AF_INET6, AF_UNIX */
	char addr[108]; /* numeric host, or the Unix path */
	int port;
	int v6only;
	int reuseport; /* the app asked for SO_REUSEPORT */
	char name[64]; /* LISTEN_FDNAMES entry (--listen) */
	int listen;    /* bound at start for --listen */
	dev_t pdev;    /* the Unix path's file, to see it replaced */
	ino_t pino;
	pid_t *askers; /* the instance processes that asked for it */
	int naskers;
	int askcap;
};

/* share.c */
int share_parse_listen(struct app *, const json_t *, char *, size_t);
void share_close_shared(struct app *);
void share_close_all(struct app *);
int share_is_unix(const struct app *, const char *);
int share_known(const struct app *, const struct lsock *);
int share_listen(struct instance *, const struct lsock *, char *, size_t);
json_t *share_sockets_json(const struct app *);
int share_fd(struct app *, struct lsock *, int);
int share_open_fd(struct lsock *, int, int, int *);
void share_close_slot(struct lsock *, int);
void share_inst_changed(struct instance *);
void share_inst_exec(struct instance *);
const char *share_preload_note(const struct instance *);
void share_inst_json(struct instance *, json_t *);
json_t *share_handover(const struct app *);
void share_adopt(struct app *, const json_t *);

/* balance.c: per-instance listeners and --sticky */
int balance_app_init(struct app *, const json_t *, char *, size_t);
int balance_slotted(const struct app *, const struct lsock *);
int balance_open(const struct app *, struct lsock *, int, int, int *);
int balance_resize(struct app *, struct lsock *, int);
int balance_attach(const struct app *, struct lsock *);
void balance_scaled(struct app *);
const char *balance_name(const struct app *);

/* state.c: the desired state on disk (docs/state.md) */
#define STATE_FORMAT_STATE "clusterctl-state"
#define STATE_FORMAT_DUMP "clusterctl-dump"
#define STATE_VERSION 1
#define STATE_KEEP_IDS 0x1 /* state_apply: apps get their old ids back */
#define STATE_RESTORE 0x2  /* ... their daemon died (REASON_RESTORE) */
void state_init(int);
void state_init_upgraded(int);
int state_create_app(const json_t *, const json_t *, int, struct app **,
    struct err *);
int state_sync(void);
int state_sync_all(void);
int state_sync_error(char *, size_t);
int state_check(const json_t *, char *, size_t);
json_t *state_read_file(const char *, char *, size_t);
json_t *state_dump_json(void);
json_t *state_apply(const json_t *, const json_t *, int);
const json_t *state_restored(void);
int state_generation(void);
char *state_take_notice(void);
void state_exit_clean(void);
void state_counters_shown(void);
void state_handle_dump(struct req *);
void state_handle_resurrect(struct req *);

/* keeper.c: the process that restarts a dead daemon (docs/architecture.md) */
void keeper_attach(void);
int keeper_attached(void);
int keeper_take(const char *);
void keeper_hold(const char *, int);
void keeper_drop(const char *);
void keeper_up(void);
void keeper_quitting(void);
void keeper_adopt(int);
void keeper_pool_put(const char *, int);
int keeper_channel(void);
void keeper_exe(const char *);

/* upgrade.c, adopt.c: the in-place upgrade (docs/state.md) */
#define UPGRADE_HANDOVER_VERSION 1
#define UPGRADE_ENV "CLUSTERCTL_UPGRADE_FD"
#define UPGRADE_FORMAT "clusterctl-upgrade"
void upgrade_handle(struct req *);
int upgrade_begin(void);
int upgrade_resuming(void);
long long upgrade_nofile_orig(void);
void upgrade_resume(void);
const json_t *upgrade_info(void);

/* spawn.c */
struct spawn_cbs {
	uv_exit_cb exited;  /* the process handle's */
	uv_close_cb closed; /* every handle's */
};
int spawn_process(struct instance *, const struct spawn_cbs *,
    struct logpipe *[2], int *);
/* The cluster-mode preload library (core/share-preload.c). */
#define SPAWN_PRELOAD_NAME "libclusterctl-share.so"
const char *spawn_preload_path(void);

/* pidfile.c: pm2's --pid, a file per instance */
char *pidfile_path(const struct app *, int);
void pidfile_write(struct instance *);
void pidfile_remove(struct instance *);

/* notify.c */
int notify_open(void (*)(pid_t, uid_t, const char *, size_t));
const char *notify_socket_path(int);
int notify_fd_get(int);

/* reload.c */
void reload_handle(struct req *);
void scale_handle(struct req *);

/* instance.c (cluster mode) */
void inst_ref(struct instance *);
void inst_unref(struct instance *);
void inst_notify(struct instance *, const char *, size_t);
int inst_signal(struct instance *, int);
void inst_usage(struct instance *, uint64_t *, int64_t *);
int inst_sample(struct instance *, int64_t *);
int inst_cpu_moved(void);
json_t *inst_counters_json(const struct instance *, int);
uint64_t inst_cpu_ms(const struct instance *);
struct exit_record *inst_last_exit(const struct instance *);
void inst_counters_restore(struct instance *, const json_t *);
void inst_inherit(struct instance *, struct instance *);
int inst_send(struct instance *, const json_t *, const char **);

/* metrics.c */
void metrics_handle(struct req *);
char *metrics_render(size_t *);

/* http.c: the HTTP endpoints, one address per role */
enum http_role {
	HTTP_METRICS, /* /metrics */
	HTTP_HEALTH,  /* /readyz, /livez */
	HTTP_NROLES
};
int http_serve(enum http_role, const char *, char *, size_t);
const char *http_address(enum http_role);
int http_from_spec(json_t *, char *, size_t);

/* health.c */
char *health_readyz(int *, size_t *);
char *health_livez(size_t *);

/* memlimit.c */
void memlimit_update(void);
int memlimit_parse(const json_t *, int64_t *, struct err *);

/* watch.c */
int watch_parse(const json_t *, struct err *);
void watch_start(struct app *);
void watch_stop(struct app *);
json_t *watch_describe(const struct app *);

/* schedule.c */
int schedule_parse(const json_t *, struct err *);
void schedule_start(struct app *);
void schedule_stop(struct app *);
int64_t schedule_next(const struct app *);

/* update.c: options changed on a running app */
void update_handle(struct req *);

/* server.c */
int server_nclients(void);
void server_self_request(const char *, json_t *);

/* deliver.c: signal and send */
void deliver_handle_signal(struct req *);
void deliver_handle_send(struct req *);

/* app.c (cluster mode) */
struct instance *app_instance_of_pid(pid_t);
void app_sweep_gone(void);
void app_retire_instance(struct app *, int);
void app_restore_id(struct app *, int);

#endif
