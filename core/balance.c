/*
 * How the connections to an app's address reach its instances (cluster
 * mode, docs/cluster.md):
 * - shared (the default): one listening socket; every instance accepts
 *   from its one queue;
 * - reuseport (--balance reuseport): one listening socket per instance
 *   slot, all bound to the address with SO_REUSEPORT, so the kernel
 *   spreads the connections evenly by a hash of the connection; instance
 *   N always gets slot N's socket, which the daemon keeps open while the
 *   instance restarts, crashes or is replaced;
 * - sticky (--sticky, reuseport's sockets): a classic BPF program on the
 *   group (SO_ATTACH_REUSEPORT_CBPF) picks the slot from a hash of the
 *   client's address, IPv4 or IPv6, so one client reaches one instance
 *   while the instance count does not change.
 * The kernel numbers a group's sockets in the order they listen and fills
 * a hole with the last one, so the slots are opened in order and closed
 * from the end; the program returns a slot number below the count.
 * Unix sockets have no SO_REUSEPORT: they are always shared.
 */
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

/* Read the app's balance (spec "balance") and sticky settings: 0, or
 * with err -1 (a bad value) or -2 (the kernel cannot do it). */
int
balance_app_init(struct app *a, const json_t *spec, char *err, size_t errlen)
{
	const char *b = util_json_str(spec, "balance", NULL);
	struct sockaddr_in sa;
	struct lsock probe;
	int fd, one = 1, e;

	a->sticky = util_json_bool(spec, "sticky", 0);
	if (b == NULL)
		a->balance = a->sticky ? BALANCE_REUSEPORT : BALANCE_SHARED;
	else if (strcmp(b, "shared") == 0)
		a->balance = BALANCE_SHARED;
	else if (strcmp(b, "reuseport") == 0)
		a->balance = BALANCE_REUSEPORT;
	else {
		snprintf(err, errlen,
		    "unknown balance '%s' (shared or "
		    "reuseport)",
		    b);
		return -1;
	}
	if (a->sticky && a->balance == BALANCE_SHARED) {
		snprintf(err, errlen,
		    "--sticky needs one socket per instance: "
		    "it cannot go with --balance shared");
		return -1;
	}
	if ((a->sticky || a->balance == BALANCE_REUSEPORT) && !a->share) {
		snprintf(err, errlen,
		    "--%s needs cluster mode (not "
		    "--no-share)",
		    a->sticky ? "sticky" : "balance");
		return -1;
	}
	if (!a->sticky)
		return 0;
	/* Missing kernel support or a filter that forbids it: say so now,
	 * rather than start an app that is not sticky. */
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		e = errno;
		snprintf(err, errlen, "--sticky: cannot make a socket: %s",
		    strerror(e));
		return -2;
	}
	e = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == -1)
		e = errno;
	else if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    listen(fd, 1) == -1)
		e = errno;
	else {
		memset(&probe, 0, sizeof probe);
		probe.fds = &fd;
		probe.nfds = 1;
		probe.family = AF_INET;
		if (balance_attach(a, &probe) != 0)
			e = errno;
	}
	close(fd);
	if (e != 0) {
		snprintf(err, errlen,
		    "--sticky needs SO_REUSEPORT and "
		    "SO_ATTACH_REUSEPORT_CBPF (Linux 4.5 or later, not "
		    "blocked by a seccomp filter): %s",
		    strerror(e));
		return -2;
	}
	return 0;
}

const char *
balance_name(const struct app *a)
{
	return a->balance == BALANCE_REUSEPORT ? "reuseport" : "shared";
}

/* Whether ls has one socket per instance slot. */
int
balance_slotted(const struct app *a, const struct lsock *ls)
{
	return a->balance == BALANCE_REUSEPORT && ls->family != AF_UNIX;
}

/*
 * Attach the sticky program to ls's group, for the app's instance count:
 * 0, or -1 (errno).  Nothing to do unless the app is sticky.
 */
int
balance_attach(const struct app *a, struct lsock *ls)
{
	int n = a->ninst > 0 ? a->ninst : 1, i;
	/* The source address (IPv4, or IPv6's four words xored) through a
	 * small integer hash, modulo the instance count.  A points at the
	 * network header with SKF_NET_OFF: the packet's own data starts
	 * after the TCP header here. */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF + 0),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 2, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12),
		BPF_JUMP(BPF_JMP | BPF_JA, 10, 0, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 8),
		BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12),
		BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
		BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 16),
		BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
		BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 20),
		BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
		/* hash: x ^= x >> 16; x *= 0x45d9f3b; x ^= x >> 16 */
		BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
		BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
		BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x45d9f3b),
		BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
		BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, (unsigned)n),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog = {
		.len = sizeof code / sizeof code[0],
		.filter = code,
	};

	if (!a->sticky)
		return 0;
	for (i = 0; i < ls->nfds; i++)
		if (ls->fds[i] != -1)
			return setsockopt(ls->fds[i], SOL_SOCKET,
			    SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog);
	return 0;
}

/*
 * Grow or shrink ls to n slots: new slots are opened in order (the
 * group's numbering), extra ones closed from the end (an instance still
 * using one keeps its own descriptor until it exits).  0, or a positive
 * errno (the slots opened so far stay).
 */
int
balance_resize(struct app *a, struct lsock *ls, int n)
{
	int *nf, e;

	if (n > ls->nfds) {
		if ((nf = realloc(ls->fds, (size_t)n * sizeof *nf)) == NULL)
			return ENOMEM;
		ls->fds = nf;
		while (ls->nfds < n) {
			if ((e = balance_open(a, ls, ls->nfds, 1,
				 &ls->fds[ls->nfds])) != 0)
				return e;
			ls->nfds++;
		}
	}
	(void)balance_attach(a, ls);
	while (ls->nfds > n && ls->nfds > 1) {
		share_close_slot(ls, ls->nfds - 1);
		ls->nfds--;
	}
	return 0;
}

/* A socket for ls's slot, bound and listening (SO_REUSEPORT when
 * slotted): 0 with *fdp, or a positive errno (share_open_fd, keep). */
int
balance_open(const struct app *a, struct lsock *ls, int slot, int keep,
    int *fdp)
{
	int want = ls->reuseport, e;

	if (balance_slotted(a, ls))
		ls->reuseport = 1;
	e = share_open_fd(ls, slot, keep, fdp);
	ls->reuseport = want;
	return e;
}

/* The instance count changed: every slotted socket follows it. */
void
balance_scaled(struct app *a)
{
	struct lsock *ls;
	int e;

	for (ls = a->socks; ls != NULL; ls = ls->next) {
		if (!balance_slotted(a, ls))
			continue;
		if ((e = balance_resize(a, ls, a->ninst)) != 0)
			log_warnx("%s: cannot open a socket for each of %d "
				  "instances: %s",
			    a->name, a->ninst, strerror(e));
	}
}
