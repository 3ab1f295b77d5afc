/*
 * store: opening and closing the database, and the plumbing every table
 * family shares: the statement cache and turning SQLite's results into
 * -errno with one log line naming SQLite's message.
 *
 * The daemon is single-threaded, so the connection is opened NOMUTEX and
 * nothing here locks. Durability: synchronous=NORMAL in WAL mode. Every
 * commit is in the WAL before the daemon acts on it, so a crash or kill of
 * warrend never loses or tears a change; only a power loss may drop the
 * last commits, and a power loss also ends every QEMU the store describes,
 * which the restart reconciles anyway. FULL would add an fsync per commit
 * (the define rate halves) for no state a restart could use.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store-private.h"

/* Only another process (an admin's sqlite3 shell, a backup) can hold the
 * lock; waiting this long for it beats failing a request. */
#define BUSY_TIMEOUT_MS 2000

int store_fail(struct store *s, int rc, const char *what)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		log_error("store: %s: %s (%s)", what, s && s->db ? sqlite3_errmsg(s->db) : "-",
			  sqlite3_errstr(rc));
		return -EIO;
	}
}

int store_stmt(struct store *s, enum store_stmt id, const char *sql, sqlite3_stmt **ret)
{
	if (!s->stmts[id]) {
		/* PERSISTENT: a hint that the statement lives long, so SQLite does
		 * not take its memory from the lookaside pool of short ones. */
		int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
					    &s->stmts[id], NULL);
		if (rc != SQLITE_OK)
			return store_fail(s, rc, "preparing a statement");
	}
	*ret = s->stmts[id];
	return 0;
}

int store_step_done(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	return rc == SQLITE_DONE ? 0 : store_fail(s, rc, what);
}

int store_bind_text(struct store *s, sqlite3_stmt *st, int idx, const char *text)
{
	int rc =
	    text ? sqlite3_bind_text(st, idx, text, -1, SQLITE_STATIC) : sqlite3_bind_null(st, idx);

	return rc == SQLITE_OK ? 0 : store_fail(s, rc, "binding a value");
}

int store_column_copy(sqlite3_stmt *st, int col, char *buf, size_t size, const char *what)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;

	if (n >= size || (t && strlen((const char *)t) != n)) {
		log_error("store: %s: column %d holds %zu bytes, more than the %zu expected; "
			  "the database is damaged or not Warren's",
			  what, col, n, size - 1);
		return -EIO;
	}
	memcpy(buf, t ? (const char *)t : "", n + 1);
	return 0;
}

int store_grow(void **array, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? 2 * *cap : 16;
	void *na = reallocarray(*array, ncap, elem);
	if (!na)
		return -ENOMEM;
	*array = na;
	*cap = ncap;
	return 0;
}

/* Run one statement that may return a row (PRAGMAs do), ignoring the row. */
static int exec_one(struct store *s, const char *sql, char *ret_text, size_t size)
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, sql);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && ret_text) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(ret_text, size, "%s", t ? (const char *)t : "");
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return store_fail(s, rc, sql);
	}
	return 0;
}

int store_begin(struct store *s, const char *what)
{
	int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_fail(s, rc, what);
}

/* Commit when r says all went well, else roll back; returns r or the
 * commit's failure. */
int store_commit(struct store *s, int r, const char *what)
{
	int rc;

	if (r < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return r;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return store_fail(s, rc, what);
}

/*
 * SQLite creates the file with the umask's mode; the database holds every
 * VM's configuration, so make it 0600 before SQLite opens it (the -wal and
 * -shm files then take the same mode). An existing file with a looser mode
 * is tightened.
 */
static int file_prepare(const char *path)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return log_error_errno(-errno, "store: cannot open %s", path);
	if (fstat(fd, &st) < 0)
		return log_error_errno(-errno, "store: cannot stat %s", path);
	if (!S_ISREG(st.st_mode)) {
		log_error("store: %s is not a regular file", path);
		return -EINVAL;
	}
	if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0)
		return log_error_errno(-errno, "store: cannot make %s mode 0600", path);
	/* Closing is safe only because SQLite has no lock on the file yet:
	 * closing any fd of a file drops the process's POSIX locks on it. */
	return 0;
}

static int connection_setup(struct store *s)
{
	char mode[16] = "";
	int r;

	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* Refuse SQL that could corrupt the file even if a bug let some through. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

	r = exec_one(s, "PRAGMA journal_mode=WAL", mode, sizeof(mode));
	if (r < 0)
		return r;
	if (strcmp(mode, "wal") != 0) {
		log_error("store: the database stays in journal mode '%s', not WAL", mode);
		return -EIO;
	}
	r = exec_one(s, "PRAGMA synchronous=NORMAL", NULL, 0);
	if (r < 0)
		return r;
	return exec_one(s, "PRAGMA foreign_keys=ON", NULL, 0);
}

int store_open(const char *path, struct store **ret)
{
	struct store *s;
	int rc, r;

	r = file_prepare(path);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	/* SQLite opens its files O_CLOEXEC on Linux, so QEMU inherits none. */
	rc = sqlite3_open_v2(
	    path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = store_fail(s, rc, path);
		store_close(s);
		return r;
	}
	r = connection_setup(s);
	if (r >= 0)
		r = store_migrate(s);
	if (r < 0) {
		store_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(s->stmts); i++)
		sqlite3_finalize(s->stmts[i]);
	/* All statements are finalized, so this cannot be left busy; a failure
	 * would be a leak in this folder. */
	if (sqlite3_close(s->db) != SQLITE_OK)
		log_error("store: closing the database: %s", sqlite3_errmsg(s->db));
	free(s);
}
