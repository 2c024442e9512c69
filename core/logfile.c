/*
 * The registry of open log files, keyed by path with reference counts:
 * every pipe writing to a path shares one fd, one size and one rotation,
 * and each writer appends whole lines in one write, so the lines of two
 * writers sharing a file never interleave.
 *
 * Nothing is lost while the daemon lives.  Writes are synchronous: while
 * the disk is slow the daemon does not read, the pipes fill and the apps
 * wait.  A write that fails for want of room (ENOSPC) keeps what it could
 * not write in the writer's sink, the sink's owner stops reading (the app
 * blocks on its full pipe), and a timer retries until there is room, then
 * tells the owner (drained).
 *
 * Rotation renames NAME.log to NAME.log.1 (older ones shift up) between
 * two writes; with compression a worker thread gzips NAME.log.1.
 *
 * The files of an app run as another user (--uid) are that user's: in a
 * directory only root controls (the home's logs/) the daemon creates
 * them and gives them to the user; in one the user controls, every call
 * on them (open, rotate, compress, flush) is made with the user's
 * file-system credentials (creds_fs_enter), so the kernel checks what
 * the user may do, and a link the user planted leads nowhere the user
 * could not go.  In any other directory a root daemon opens nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "gz.h"

/* How often a file that had no room is tried again. */
#define RETRY_MS 500

/* One open log file, shared by every sink writing to its path. */
struct logfile {
	char *path;
	int fd; /* -1: could not be opened (writes are dropped) */
	int refs;
	int64_t size;
	int64_t max_size;
	int retain;
	int compress;
	int compressing;     /* a worker gzips NAME.log.1: no rotation now */
	struct creds *owner; /* --uid: the files are this user's (a copy);
				NULL: the daemon's */
	int as_user;	     /* its directory is the user's: act as it */
	unsigned flushes;    /* how many times it was flushed */
	int full;	     /* writes wait for room */
	int err;	     /* why: the errno of the failed write or open */
	int64_t err_since;   /* ms since the epoch */
	TAILQ_HEAD(, logsink) waitq; /* sinks with bytes to write, in order */
	TAILQ_ENTRY(logfile) entry;
};

static TAILQ_HEAD(, logfile) files = TAILQ_HEAD_INITIALIZER(files);
static int ncompressing; /* gz jobs in the thread pool */
static uv_timer_t retry_timer;

void
logf_init(void)
{
	uv_timer_init(loop, &retry_timer);
	uv_unref((uv_handle_t *)&retry_timer);
}

/*
 * The directory that holds path, opened (O_PATH), its missing directories
 * created first (0755, as the daemon's user, as pm2 does): each one made
 * is entered without following a link, so nothing swapped in on the way
 * redirects the file.  *base is set to the file's name in it.  The fd, or
 * -1 and errno.
 */
static int
dir_open(const char *path, const char **base)
{
	char dir[PATH_MAX], *end, *comp, *slash;
	int dfd, nfd, err;

	if ((*base = strrchr(path, '/')) == NULL) {
		*base = path;
		return open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if ((size_t)(*base - path) >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, (size_t)(*base - path));
	dir[*base - path] = '\0';
	(*base)++;
	if (dir[0] == '\0')
		return open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if ((dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) != -1 ||
	    errno != ENOENT)
		return dfd;
	/* Back to the deepest directory that exists. */
	end = dir + strlen(dir);
	do {
		while (end > dir && end[-1] != '/')
			end--;
		while (end > dir && end[-1] == '/')
			end--;
		*end = '\0';
		dfd = end == dir ?
		    open(dir[0] == '/' || path[0] == '/' ? "/" : ".",
			O_PATH | O_DIRECTORY | O_CLOEXEC) :
		    open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	} while (dfd == -1 && errno == ENOENT && end > dir);
	if (dfd == -1)
		return -1;
	/* Then down again, making each missing one. */
	memcpy(dir, path, (size_t)(*base - 1 - path));
	dir[*base - 1 - path] = '\0';
	for (comp = end; *comp == '/'; comp++)
		;
	while (*comp != '\0') {
		if ((slash = strchr(comp, '/')) != NULL)
			*slash = '\0';
		if (mkdirat(dfd, comp, 0755) == -1 && errno != EEXIST) {
			err = errno;
			close(dfd);
			errno = err;
			return -1;
		}
		nfd = openat(dfd, comp,
		    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		err = errno;
		close(dfd);
		if ((dfd = nfd) == -1) {
			errno = err;
			return -1;
		}
		if (slash == NULL)
			break;
		for (comp = slash + 1; *comp == '/'; comp++)
			;
	}
	return dfd;
}

/* Why logf_open refused a path (beside an errno). */
#define ERR_NOT_REGULAR 10001
#define ERR_UNSAFE_DIR 10002
#define ERR_LINKED 10003

/* An errno, or one of logf_open's refusals, in words. */
const char *
logf_strerror(int err)
{
	switch (err) {
	case ELOOP:
		return "it is a symbolic link, which the daemon does not follow";
	case ERR_NOT_REGULAR:
		return "it is not a regular file";
	case ERR_UNSAFE_DIR:
		return "its directory may be changed by another user, and the "
		       "daemon runs as root";
	case ERR_LINKED:
		return "it has other hard links, and the daemon runs as root";
	default:
		return strerror(err);
	}
}

/* Whether logf_open refused the path for what it is (not for now). */
int
logf_refused(int err)
{
	return err == ELOOP || err == ERR_NOT_REGULAR ||
	    err == ERR_UNSAFE_DIR || err == ERR_LINKED;
}

/* Whether another user than root may add, remove or swap entries of a
 * directory (a sticky one lets them only touch their own). */
static int
dir_unsafe(const struct stat *st)
{
	return (st->st_uid != 0 && st->st_uid != geteuid()) ||
	    ((st->st_mode & S_IWGRP) && st->st_gid != 0 &&
		!(st->st_mode & S_ISVTX)) ||
	    ((st->st_mode & S_IWOTH) && !(st->st_mode & S_ISVTX));
}

/* How the daemon acts in a directory of an owner's files. */
#define AS_DAEMON 0 /* as itself: nobody else controls the directory */
#define AS_USER 1   /* with the owner's credentials: the owner may */

/*
 * How to act on files of owner (NULL, or unset: the daemon's own) in a
 * directory of status st: AS_DAEMON, AS_USER, or -1 when a root daemon
 * must not touch it (another user controls it).
 */
static int
dir_mode(const struct stat *st, const struct creds *owner)
{
	if (geteuid() != 0 || !dir_unsafe(st))
		return AS_DAEMON;
	return owner != NULL && owner->set ? AS_USER : -1;
}

/*
 * The directory of path for logf_open (made when missing): as owner
 * first, so that what it makes in its own directories is its own; as the
 * daemon where owner may not go (the home's logs/ of a root daemon).
 */
static int
dir_open_as(const char *path, const struct creds *owner, const char **base)
{
	struct creds_fs fs;
	int dfd, err;

	if (owner == NULL || !owner->set)
		return dir_open(path, base);
	if (creds_fs_enter(owner, &fs) == -1)
		return -1;
	dfd = dir_open(path, base);
	err = errno;
	creds_fs_leave(&fs);
	if (dfd == -1 && (err == EACCES || err == EPERM))
		return dir_open(path, base);
	errno = err;
	return dfd;
}

/*
 * openat as the daemon, or as owner (AS_USER); a file the daemon creates
 * for owner is given to it.  The fd, or -1 and errno.
 */
static int
open_in(int dfd, const char *base, int flags, const struct creds *owner,
    int mode)
{
	struct creds_fs fs;
	int fd, err, made = 0;

	flags |= O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	if (mode == AS_USER) {
		if (creds_fs_enter(owner, &fs) == -1)
			return -1;
		fd = openat(dfd, base, flags, 0644);
		err = errno;
		creds_fs_leave(&fs);
		errno = err;
		return fd;
	}
	if (owner == NULL || !owner->set || !(flags & O_CREAT))
		return openat(dfd, base, flags, 0644);
	/* Made here, or there already: only a new file changes owner. */
	if ((fd = openat(dfd, base, flags | O_EXCL, 0644)) != -1)
		made = 1;
	else if (errno == EEXIST)
		fd = openat(dfd, base, flags & ~O_CREAT, 0644);
	if (made && fchown(fd, owner->uid, owner->gid) == -1)
		log_warn("cannot give log file %s to uid %ld", base,
		    (long)owner->uid);
	return fd;
}

/*
 * The directory of path opened (O_PATH), made first when flags has
 * O_CREAT (as owner first: dir_open_as); *base is the file's name in it,
 * *mode how to act there for owner (dir_mode).  Running as root, a
 * directory another user controls is refused (ERR_UNSAFE_DIR), unless
 * owner's files are touched as owner there.  The fd, or -1 and errno.
 */
static int
parent_open(const char *path, int flags, const struct creds *owner,
    const char **base, int *mode)
{
	char dir[PATH_MAX];
	struct stat st;
	int dfd;

	*mode = AS_DAEMON;
	*base = strrchr(path, '/');
	if (flags & O_CREAT)
		dfd = dir_open_as(path, owner, base);
	else if (*base == NULL) {
		*base = path;
		dfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else if ((size_t)(*base - path) >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	} else {
		snprintf(dir, sizeof dir, "%.*s", (int)(*base - path), path);
		(*base)++;
		dfd = open(dir[0] != '\0' ? dir : "/",
		    O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (dfd == -1)
		return -1;
	if (geteuid() == 0 &&
	    (fstat(dfd, &st) == -1 || (*mode = dir_mode(&st, owner)) < 0)) {
		close(dfd);
		errno = ERR_UNSAFE_DIR;
		return -1;
	}
	return dfd;
}

/*
 * Open a log file at path with flags (O_WRONLY | O_APPEND | O_CREAT to
 * write, which also makes missing directories; O_WRONLY to empty it;
 * O_RDONLY to read it back): the one place the daemon opens a file an
 * app's spec names (its logs, its pid files: pidfile.c).  Never through a
 * symbolic link, never blocking (a FIFO, a device), only a regular file;
 * running as root, only in a directory that no other user controls and
 * not a file with other hard links (as logrotate and systemd do).  The
 * files of owner (an app's --uid, or NULL) are made for it, and opened as
 * it in a directory it controls; *as_user (unless NULL) says whether that
 * was so.  The fd, or -1 and errno (an errno, or ERR_*: logf_strerror
 * says it in words).
 */
int
logf_open(const char *path, int flags, const struct creds *owner, int *as_user)
{
	const char *base;
	struct stat st;
	int dfd, fd, err, mode;

	if (as_user != NULL)
		*as_user = 0;
	if ((dfd = parent_open(path, flags, owner, &base, &mode)) == -1)
		return -1;
	fd = open_in(dfd, base, flags, owner, mode);
	err = errno;
	close(dfd);
	if (fd == -1) {
		/* A FIFO without a reader, a directory. */
		errno = err == ENXIO || err == EISDIR ? ERR_NOT_REGULAR : err;
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = ERR_NOT_REGULAR;
		return -1;
	}
	if (geteuid() == 0 && mode == AS_DAEMON && st.st_nlink > 1) {
		close(fd);
		errno = ERR_LINKED;
		return -1;
	}
	if (as_user != NULL)
		*as_user = mode == AS_USER;
	return fd;
}

/*
 * Remove the file at path, with logf_open's care for its directory (as
 * owner where logf_open acts as it): 0, or -1 and errno.
 */
int
logf_unlink(const char *path, const struct creds *owner)
{
	struct creds_fs fs;
	const char *base;
	int dfd, rc, err, mode;

	if ((dfd = parent_open(path, 0, owner, &base, &mode)) == -1)
		return -1;
	memset(&fs, 0, sizeof fs);
	if (mode == AS_USER && creds_fs_enter(owner, &fs) == -1)
		rc = -1;
	else
		rc = unlinkat(dfd, base, 0);
	err = errno;
	creds_fs_leave(&fs);
	close(dfd);
	errno = err;
	return rc;
}

/* A shortage of the moment: writers wait and the open is tried again. */
static int
transient(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN;
}

static void file_set_full(struct logfile *, int);

static void
file_open_fd(struct logfile *f)
{
	struct stat st;

	f->fd = logf_open(f->path, O_WRONLY | O_APPEND | O_CREAT, f->owner,
	    &f->as_user);
	if (f->fd == -1 && transient(errno)) {
		file_set_full(f, errno);
		return;
	}
	if (f->fd == -1) {
		f->err = errno;
		f->err_since = daemon_now_wall();
		log_warnx("cannot open log file %s: %s; its lines are dropped",
		    f->path, logf_strerror(f->err));
		return;
	}
	if (!f->full)
		f->err = 0;
	f->size = fstat(f->fd, &st) == 0 ? (int64_t)st.st_size : 0;
}

static struct logfile *
file_find(const char *path)
{
	struct logfile *f;

	TAILQ_FOREACH(f, &files, entry)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}

/* The open file at path, opened on first use; the caller holds a ref. */
static struct logfile *
file_get(const char *path, const struct app_logs *l)
{
	struct logfile *f;

	if ((f = file_find(path)) != NULL) {
		f->refs++;
		return f;
	}
	if ((f = calloc(1, sizeof *f)) == NULL)
		return NULL;
	if ((f->path = strdup(path)) == NULL) {
		free(f);
		return NULL;
	}
	f->refs = 1;
	f->max_size = l->max_size;
	f->retain = l->retain;
	f->compress = l->compress;
	/* Not copied for the daemon's own files: there is one file (two)
	 * an instance, and struct creds is 208 bytes. */
	if (l->owner.set) {
		if ((f->owner = malloc(sizeof *f->owner)) == NULL) {
			free(f->path);
			free(f);
			return NULL;
		}
		*f->owner = l->owner;
	}
	TAILQ_INIT(&f->waitq);
	file_open_fd(f);
	TAILQ_INSERT_TAIL(&files, f, entry);
	return f;
}

static void
file_unref(struct logfile *f)
{
	if (f == NULL || --f->refs > 0)
		return;
	TAILQ_REMOVE(&files, f, entry);
	if (f->fd != -1)
		close(f->fd);
	free(f->owner);
	free(f->path);
	free(f);
}

/* Compress path into path.gz (then remove path); 0 or -1. */
static int
gzip_file(const char *path, const char *gzpath)
{
	char buf[65536], tmp[PATH_MAX];
	struct stat st;
	gzFile gz;
	ssize_t n;
	int fd, tfd, ok = 1;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", gzpath) >= sizeof tmp)
		return -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	/* Never through a link someone left at the temporary name. */
	(void)unlink(tmp);
	if ((tfd = open(tmp,
		 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) ==
	    -1) {
		close(fd);
		return -1;
	}
	/* The compressed file belongs to whom the rotated one did (an
	 * app's --uid user). */
	if (fstat(fd, &st) == 0 && geteuid() == 0 &&
	    fchown(tfd, st.st_uid, st.st_gid) == -1 && errno != EPERM) {
		close(tfd);
		close(fd);
		(void)unlink(tmp);
		return -1;
	}
	if ((gz = gz_dopen(tfd, "wb1")) == NULL) {
		close(tfd);
		close(fd);
		(void)unlink(tmp);
		return -1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (gz_write(gz, buf, (unsigned)n) != (int)n) {
			ok = 0;
			break;
		}
	if (n < 0)
		ok = 0;
	close(fd);
	if (gz_close(gz) != Z_OK)
		ok = 0;
	if (!ok || rename(tmp, gzpath) == -1) {
		(void)unlink(tmp);
		return -1;
	}
	(void)unlink(path);
	return 0;
}

/* A rotated file being compressed off the loop's thread. */
struct gzjob {
	uv_work_t work;
	struct logfile *file; /* holds a reference */
	char from[PATH_MAX];
	char to[PATH_MAX];
	unsigned flushes; /* the file's count when the job began */
	int rc;
};

static void file_rotate(struct logfile *);

/*
 * On this thread, act as f's user when its directory is the user's
 * (AS_USER); creds_fs_leave(fs) after.  0, or -1 and errno: then nothing
 * may be done to f's files.
 */
static int
file_enter(const struct logfile *f, struct creds_fs *fs)
{
	memset(fs, 0, sizeof *fs);
	return f->as_user ? creds_fs_enter(f->owner, fs) : 0;
}

static void
gz_work(uv_work_t *w)
{
	struct gzjob *j = w->data;
	struct creds_fs fs;

	/* file_enter and creds_fs_leave change this worker thread only */
	if (file_enter(j->file, &fs) == -1) {
		j->rc = -1;
		return;
	}
	j->rc = gzip_file(j->from, j->to);
	creds_fs_leave(&fs);
}

static void
gz_done(uv_work_t *w, int status)
{
	struct gzjob *j = w->data;
	struct logfile *f = j->file;
	struct creds_fs fs;
	char kept[PATH_MAX + 32];

	if (file_enter(f, &fs) == -1)
		log_warn("cannot act as uid %ld on %s", (long)f->owner->uid,
		    j->from);
	else {
		if (status != 0 || j->rc != 0) {
			/* Out of the way of the next rotation, which reuses
			 * .1. */
			snprintf(kept, sizeof kept, "%s.%lld", j->from,
			    (long long)daemon_now_wall());
			if (rename(j->from, kept) == -1)
				snprintf(kept, sizeof kept, "%s", j->from);
			log_warnx("cannot compress %s%s%s; kept as %s", j->from,
			    gz_error() != NULL ? ": " : "",
			    gz_error() != NULL ? gz_error() : "", kept);
		}
		if (j->rc == 0 && j->flushes != f->flushes)
			(void)unlink(j->to); /* flushed while compressed */
		creds_fs_leave(&fs);
	}
	f->compressing = 0;
	ncompressing--;
	if (f->refs > 1 && f->fd != -1 && !f->full && f->max_size > 0 &&
	    f->size >= f->max_size)
		file_rotate(f);
	file_unref(f);
	free(j);
}

/*
 * Rotate f: NAME.log.K becomes NAME.log.K+1 (the last one goes), NAME.log
 * becomes NAME.log.1 and a new NAME.log is opened.  The daemon holds the
 * only fd, and rotates between two writes: no line is lost or cut.
 */
static void
file_rotate(struct logfile *f)
{
	char from[PATH_MAX], to[PATH_MAX];
	const char *gz = f->compress ? ".gz" : "";
	struct creds_fs fs;
	struct gzjob *j;
	int k, rc;

	if (f->compressing)
		return; /* once NAME.log.1 is compressed */
	if (f->retain == 0) {
		if (ftruncate(f->fd, 0) == -1)
			log_warn("cannot empty %s", f->path);
		f->size = 0;
		return;
	}
	if (file_enter(f, &fs) == -1) {
		log_warn("cannot act as uid %ld to rotate %s",
		    (long)f->owner->uid, f->path);
		f->size = 0;
		return;
	}
	snprintf(to, sizeof to, "%s.%d%s", f->path, f->retain, gz);
	(void)unlink(to);
	for (k = f->retain - 1; k >= 1; k--) {
		snprintf(from, sizeof from, "%s.%d%s", f->path, k, gz);
		snprintf(to, sizeof to, "%s.%d%s", f->path, k + 1, gz);
		if (rename(from, to) == -1 && errno != ENOENT)
			log_warn("cannot rename %s", from);
	}
	snprintf(to, sizeof to, "%s.1", f->path);
	rc = rename(f->path, to);
	creds_fs_leave(&fs);
	if (rc == -1) {
		log_warn("cannot rotate %s", f->path);
		f->size = 0; /* try again after as much again */
		return;
	}
	close(f->fd);
	file_open_fd(f);
	log_debug("rotated %s", f->path);
	if (f->compress && (j = calloc(1, sizeof *j)) != NULL) {
		j->file = f;
		j->flushes = f->flushes;
		j->work.data = j;
		snprintf(j->from, sizeof j->from, "%s", to);
		snprintf(j->to, sizeof j->to, "%s.1.gz", f->path);
		if (uv_queue_work(loop, &j->work, gz_work, gz_done) != 0) {
			log_warnx("cannot compress %s; kept as it is", to);
			free(j);
			return;
		}
		f->refs++;
		f->compressing = 1;
		ncompressing++;
	}
}

static void retry_cb(uv_timer_t *);

/* How many rotated files are being compressed (an upgrade waits). */
int
logf_compressing(void)
{
	return ncompressing;
}

/* f has no room: writes wait, and a timer tries again. */
static void
file_set_full(struct logfile *f, int err)
{
	if (!f->full) {
		f->full = 1;
		f->err = err;
		f->err_since = daemon_now_wall();
		log_warnx("cannot write log file %s: %s; its apps wait until "
			  "it can be written",
		    f->path, strerror(err));
		daemon_changed();
	}
	if (!uv_is_active((uv_handle_t *)&retry_timer))
		uv_timer_start(&retry_timer, retry_cb, RETRY_MS, RETRY_MS);
}

/* What capture wrote and dropped, for metrics (core/metrics.c). */
struct logs_stats logs_stats;

/* The lines in buf (the newlines). */
uint64_t
logs_count_lines(const char *buf, size_t n)
{
	const char *p = buf, *end = buf + n;
	uint64_t k = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		k++;
		p++;
	}
	return k;
}

/* n bytes of lines for a file were lost. */
static void
count_dropped(const char *buf, size_t n)
{
	logs_stats.bytes_dropped += n;
	logs_stats.lines_dropped += logs_count_lines(buf, n);
}

/*
 * Write what can be written of buf to f: the bytes written; *err is set
 * when the write stopped short.
 */
static size_t
file_write(struct logfile *f, const char *buf, size_t n, int *err)
{
	size_t done = 0;
	ssize_t w;

	*err = 0;
	while (done < n) {
		w = write(f->fd, buf + done, n - done);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			*err = errno;
			break;
		}
		done += (size_t)w;
	}
	f->size += (int64_t)done;
	logs_stats.bytes_written += done;
	return done;
}

/* Whether a failed write should wait for the disk rather than drop. */
static int
worth_waiting(int err)
{
	return err == ENOSPC || err == EDQUOT || err == EIO || err == EAGAIN ||
	    err == EFBIG;
}

/* Keep bytes for when the disk has room: 0 or -ENOMEM. */
static int
sink_keep(struct logsink *s, const char *buf, size_t n)
{
	if (buf_add(&s->pend, buf, n, 4096) != 0)
		return -ENOMEM;
	if (!s->queued) {
		s->queued = 1;
		TAILQ_INSERT_TAIL(&s->file->waitq, s, wentry);
	}
	return 0;
}

/*
 * Write whole lines to a sink's file, or keep them until there is room:
 * 1 when bytes wait in the sink (its owner should stop reading), or 0.
 */
int
logf_sink_write(struct logsink *s, const char *buf, size_t n)
{
	struct logfile *f = s->file;
	size_t done;
	int err;

	if (n == 0 || (f->fd == -1 && !f->full))
		return s->queued; /* refused for good, said at the open */
	if (s->queued || f->full) {
		if (sink_keep(s, buf, n) != 0) {
			log_warnx("out of memory: lines for %s dropped",
			    f->path);
			count_dropped(buf, n);
		}
		return s->queued;
	}
	done = file_write(f, buf, n, &err);
	if (done < n) {
		if (!worth_waiting(err)) {
			errno = err;
			log_warn("cannot write log file %s; lines dropped",
			    f->path);
			count_dropped(buf + done, n - done);
			return 0;
		}
		if (sink_keep(s, buf + done, n - done) != 0) {
			log_warnx("out of memory: lines for %s dropped",
			    f->path);
			count_dropped(buf + done, n - done);
		}
		file_set_full(f, err);
		return s->queued;
	}
	if (f->max_size > 0 && f->size >= f->max_size)
		file_rotate(f);
	return 0;
}

/* A sink writing to path (the file opened on first use); 0 or -ENOMEM. */
int
logf_sink_init(struct logsink *s, const char *path, const struct app_logs *l)
{
	memset(s, 0, sizeof *s);
	if ((s->file = file_get(path, l)) == NULL)
		return -ENOMEM;
	return 0;
}

/* Drop what s still holds and its reference to the file. */
void
logf_sink_release(struct logsink *s)
{
	if (s->queued)
		TAILQ_REMOVE(&s->file->waitq, s, wentry);
	s->queued = 0;
	buf_release(&s->pend);
	file_unref(s->file);
	s->file = NULL;
}

/*
 * Whether name, in the directory of a log file called base, is one of its
 * rotated files: base.K, base.K.gz, or base.K.MS (kept when compressing
 * it failed).
 */
static int
rotated_name(const char *name, const char *base)
{
	size_t n = strlen(base);
	const char *p;

	if (strncmp(name, base, n) != 0 || name[n] != '.')
		return 0;
	p = name + n + 1;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '\0' || strcmp(p, ".gz") == 0)
		return 1;
	if (*p++ != '.' || *p == '\0')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0';
}

/*
 * Empty the file at path, open or not, and remove its rotated files
 * (flush).  How many rotated files went.
 */
int
logf_flush(const char *path, const struct creds *owner)
{
	struct logfile *f = file_find(path);
	char dir[PATH_MAX];
	const char *base = strrchr(path, '/');
	struct creds_fs fs;
	struct dirent *d;
	struct stat st;
	DIR *dp;
	int n = 0, fd;

	if (f != NULL && f->fd != -1) {
		if (ftruncate(f->fd, 0) == -1)
			log_warn("cannot empty %s", path);
		f->size = 0;
	} else if ((fd = logf_open(path, O_WRONLY, owner, NULL)) != -1) {
		if (ftruncate(fd, 0) == -1)
			log_warn("cannot empty %s", path);
		close(fd);
	} else if (errno != ENOENT) {
		/* Never through a link: refused, and said. */
		log_warnx("cannot empty %s: %s", path, logf_strerror(errno));
		return 0;
	}
	if (f != NULL)
		f->flushes++;
	if (base == NULL || (size_t)(base - path) >= sizeof dir)
		return 0;
	snprintf(dir, sizeof dir, "%.*s", (int)(base - path), path);
	if ((dp = opendir(dir[0] != '\0' ? dir : "/")) == NULL)
		return 0;
	/* In a directory of the app's user, removed as that user. */
	memset(&fs, 0, sizeof fs);
	if (fstat(dirfd(dp), &st) == -1 ||
	    (dir_mode(&st, owner) == AS_USER &&
		creds_fs_enter(owner, &fs) == -1)) {
		closedir(dp);
		return 0;
	}
	while ((d = readdir(dp)) != NULL)
		if (rotated_name(d->d_name, base + 1)) {
			if (unlinkat(dirfd(dp), d->d_name, 0) == 0)
				n++;
			else
				log_warn("cannot remove %s/%s", dir, d->d_name);
		}
	creds_fs_leave(&fs);
	closedir(dp);
	return n;
}

/* The trouble the file at path is in, for describe: 1 and msg, or 0. */
int
logf_error(const char *path, char *msg, size_t len)
{
	struct logfile *f = file_find(path);

	if (f == NULL || f->err == 0)
		return 0;
	snprintf(msg, len, "%s: %s%s", f->path, logf_strerror(f->err),
	    f->full ? " (the app waits)" : "");
	return 1;
}

/*
 * Reopen every log file by its path (after an external logrotate), the
 * daemon's own log first; how many apps' files there are.
 */
int
logf_reopen_all(void)
{
	struct logfile *f;
	int n = 0;

	(void)log_reopen();
	TAILQ_FOREACH(f, &files, entry) {
		if (f->fd != -1)
			close(f->fd);
		file_open_fd(f);
		n++;
	}
	return n;
}

/*
 * The daemon is about to exit: what its files could not take yet (a full
 * disk) is tried once more, and what is still left is lost.  Each loss is
 * said in daemon.log and returned ([{"file", "lines", "bytes", "error"}],
 * or NULL when nothing is lost) for the kill reply, for the CLI to say.
 */
json_t *
logs_drop_pending(void)
{
	struct logfile *f;
	struct logsink *s;
	json_t *lost = NULL;
	size_t done, bytes, k;
	int64_t lines;
	int err = 0;

	TAILQ_FOREACH(f, &files, entry) {
		lines = 0;
		bytes = 0;
		while ((s = TAILQ_FIRST(&f->waitq)) != NULL) {
			done = f->fd == -1 ?
			    0 :
			    file_write(f, s->pend.p, s->pend.len, &err);
			for (k = done; k < s->pend.len; k++)
				if (s->pend.p[k] == '\n')
					lines++;
			bytes += s->pend.len - done;
			s->pend.len = 0;
			TAILQ_REMOVE(&f->waitq, s, wentry);
			s->queued = 0;
		}
		if (bytes == 0)
			continue;
		log_warnx("%lld lines (%zu bytes) for %s are lost: %s, and the "
			  "daemon exits",
		    (long long)lines, bytes, f->path,
		    logf_strerror(f->err != 0 ? f->err : err));
		if (lost == NULL)
			lost = json_array();
		json_array_append_new(lost,
		    json_pack("{s:s, s:I, s:I, s:s}", "file", f->path, "lines",
			(json_int_t)lines, "bytes", (json_int_t)bytes, "error",
			logf_strerror(f->err != 0 ? f->err : err)));
	}
	return lost;
}

/* Try the files that had no room again, oldest waiting writer first. */
static void
retry_cb(uv_timer_t *t)
{
	struct logfile *f;
	struct logsink *s;
	size_t done;
	int err = 0, left = 0;

	(void)t;
	TAILQ_FOREACH(f, &files, entry) {
		if (!f->full)
			continue;
		if (f->fd == -1) {
			file_open_fd(f);
			if (f->fd == -1 && transient(f->err)) {
				left = 1;
				continue;
			}
		}
		while ((s = TAILQ_FIRST(&f->waitq)) != NULL) {
			done = f->fd == -1 ?
			    s->pend.len :
			    file_write(f, s->pend.p, s->pend.len, &err);
			memmove(s->pend.p, s->pend.p + done,
			    s->pend.len - done);
			s->pend.len -= done;
			if (s->pend.len > 0) {
				if (!worth_waiting(err)) {
					errno = err;
					log_warn("cannot write log file %s; "
						 "lines dropped",
					    f->path);
					count_dropped(s->pend.p, s->pend.len);
					s->pend.len = 0;
				} else
					break;
			}
			TAILQ_REMOVE(&f->waitq, s, wentry);
			s->queued = 0;
			if (s->drained != NULL)
				s->drained(s);
		}
		if (TAILQ_EMPTY(&f->waitq)) {
			f->full = 0;
			f->err = 0;
			log_info("log file %s can be written again", f->path);
			daemon_changed();
			if (f->max_size > 0 && f->size >= f->max_size)
				file_rotate(f);
		} else
			left = 1;
	}
	if (!left)
		uv_timer_stop(&retry_timer);
}
