/*
 * Unit tests for store/: VM rows and the event log on a database in a
 * fresh temp directory per test, including what must survive a reopen and
 * how the file is opened (mode, WAL, CLOEXEC, schema version).
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"
#include "util/util.h"

struct fixture {
	char dir[64];
	char path[96];
	struct store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/warren-store-test-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/warren.db", f->dir);
	if (store_open(f->path, &f->s) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char p[128];

	store_close(f->s);
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct store_vm vm_make(const char *id, const char *name)
{
	struct store_vm vm = {
		.spec_json = (char *)"{\"name\": \"x\"}",
		.pid_start = 123456789012ULL,
		.created_ms = 1700000000000,
	};

	snprintf(vm.id, sizeof(vm.id), "%s", id);
	snprintf(vm.name, sizeof(vm.name), "%s", name);
	snprintf(vm.state, sizeof(vm.state), "stopped");
	return vm;
}

static void test_vm_insert_get(void **state)
{
	struct fixture *f = *state;
	struct store_vm in = vm_make("0123456789abcdef0123456789abcdef", "web1"), *out = NULL;

	in.pid = 4242;
	in.started_ms = 1700000000500;
	in.crash_log = (char *)"qemu: oops\nline 2";
	assert_int_equal(store_vm_insert(f->s, &in), 0);
	assert_int_equal(store_vm_get(f->s, "web1", &out), 0);
	assert_string_equal(out->id, in.id);
	assert_string_equal(out->name, "web1");
	assert_string_equal(out->spec_json, in.spec_json);
	assert_string_equal(out->state, "stopped");
	assert_int_equal(out->pid, 4242);
	assert_int_equal(out->pid_start, 123456789012ULL);
	assert_int_equal(out->created_ms, 1700000000000);
	assert_int_equal(out->started_ms, 1700000000500);
	assert_string_equal(out->crash_log, "qemu: oops\nline 2");
	store_vm_free(out);

	/* The same name or the same id again is refused by the database. */
	struct store_vm dup_name = vm_make("ffffffffffffffffffffffffffffffff", "web1");
	assert_int_equal(store_vm_insert(f->s, &dup_name), -EEXIST);
	struct store_vm dup_id = vm_make(in.id, "web2");
	assert_int_equal(store_vm_insert(f->s, &dup_id), -EEXIST);

	out = (struct store_vm *)f; /* must stay untouched */
	assert_int_equal(store_vm_get(f->s, "web2", &out), -ENOENT);
	assert_ptr_equal(out, f);
	store_vm_free(NULL);
}

static void test_vm_update_delete(void **state)
{
	struct fixture *f = *state;
	struct store_vm vm = vm_make("aa", "db1"), other = vm_make("bb", "db2"), *out;

	assert_int_equal(store_vm_insert(f->s, &vm), 0);
	assert_int_equal(store_vm_insert(f->s, &other), 0);

	snprintf(vm.state, sizeof(vm.state), "running");
	vm.pid = 99;
	vm.started_ms = 5;
	vm.created_ms = 1; /* immutable: ignored by update */
	vm.spec_json = (char *)"{\"name\": \"db1\", \"cpus\": 2}";
	vm.crash_log = NULL;
	assert_int_equal(store_vm_update(f->s, &vm), 0);
	assert_int_equal(store_vm_get(f->s, "db1", &out), 0);
	assert_string_equal(out->state, "running");
	assert_int_equal(out->pid, 99);
	assert_int_equal(out->started_ms, 5);
	assert_int_equal(out->created_ms, 1700000000000);
	assert_string_equal(out->spec_json, "{\"name\": \"db1\", \"cpus\": 2}");
	assert_null(out->crash_log);
	store_vm_free(out);

	/* Renaming onto a taken name, and updating a row that is not there. */
	snprintf(vm.name, sizeof(vm.name), "db2");
	assert_int_equal(store_vm_update(f->s, &vm), -EEXIST);
	struct store_vm ghost = vm_make("cc", "ghost");
	assert_int_equal(store_vm_update(f->s, &ghost), -ENOENT);

	assert_int_equal(store_vm_delete(f->s, "aa"), 0);
	assert_int_equal(store_vm_delete(f->s, "aa"), -ENOENT);
	assert_int_equal(store_vm_get(f->s, "db1", &out), -ENOENT);
	/* The name is free again. */
	struct store_vm again = vm_make("dd", "db1");
	assert_int_equal(store_vm_insert(f->s, &again), 0);
}

static void test_vm_list_count(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = {"mid", "zeta", "alpha", "beta-2", "beta"};
	static const char *const sorted[] = {"alpha", "beta", "beta-2", "mid", "zeta"};
	struct store_vm **list = (struct store_vm **)f;
	size_t n = 77;

	assert_int_equal(store_vm_list(f->s, &list, &n), 0);
	assert_int_equal(n, 0);
	store_vm_list_free(list, n);
	assert_int_equal(store_vm_count(f->s, &n), 0);
	assert_int_equal(n, 0);

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char id[8];
		snprintf(id, sizeof(id), "id%zu", i);
		struct store_vm vm = vm_make(id, names[i]);
		assert_int_equal(store_vm_insert(f->s, &vm), 0);
	}
	assert_int_equal(store_vm_list(f->s, &list, &n), 0);
	assert_int_equal(n, ARRAY_SIZE(sorted));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(list[i]->name, sorted[i]);
	store_vm_list_free(list, n);
	assert_int_equal(store_vm_count(f->s, &n), 0);
	assert_int_equal(n, ARRAY_SIZE(names));
	store_vm_list_free(NULL, 0);
}

static void test_reopen_persists(void **state)
{
	struct fixture *f = *state;
	struct store_vm vm = vm_make("aa", "keep"), *out;
	struct store_event ev = {.time_ms = 10, .vm = "keep", .action = "create", .result = "ok"};
	struct store *second;
	struct store_event *evs;
	size_t n;

	assert_int_equal(store_vm_insert(f->s, &vm), 0);
	assert_int_equal(store_event_append(f->s, &ev), 0);

	/* A second connection while the first is open: migrations are a no-op. */
	assert_int_equal(store_open(f->path, &second), 0);
	assert_int_equal(store_vm_get(second, "keep", &out), 0);
	store_vm_free(out);
	store_close(second);

	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, &f->s), 0);
	assert_int_equal(store_vm_get(f->s, "keep", &out), 0);
	assert_string_equal(out->id, "aa");
	store_vm_free(out);
	assert_int_equal(store_event_list(f->s, NULL, 0, 0, &evs, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(evs[0].action, "create");
	free(evs);
}

static int user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void test_schema_version(void **state)
{
	struct fixture *f = *state;
	struct store *other;
	sqlite3 *db;

	assert_int_equal(user_version(f->path), 5);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, &f->s), 0);
	assert_int_equal(user_version(f->path), 5);

	/* A database from a newer Warren is left alone. */
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	other = (struct store *)f;
	assert_int_equal(store_open(f->path, &other), -EPROTO);
	assert_ptr_equal(other, f);
	assert_int_equal(user_version(f->path), 99);
}

static struct store_snap snap_make(const char *id, const char *vm_id, const char *name,
				   const char *parent, int64_t t)
{
	struct store_snap s = {.created_ms = t, .memory = 1, .spec_json = (char *)"{}",
			       .memory_size = 1000, .disk_size = 24};

	snprintf(s.id, sizeof(s.id), "%s", id);
	snprintf(s.vm_id, sizeof(s.vm_id), "%s", vm_id);
	snprintf(s.name, sizeof(s.name), "%s", name);
	snprintf(s.parent, sizeof(s.parent), "%s", parent);
	snprintf(s.vm_state, sizeof(s.vm_state), "running");
	return s;
}

static void assert_current(struct store *s, const char *name, const char *want)
{
	struct store_vm *vm = NULL;

	assert_int_equal(store_vm_get(s, name, &vm), 0);
	assert_string_equal(vm->current_snap, want);
	store_vm_free(vm);
}

static void test_snapshots(void **state)
{
	struct fixture *f = *state;
	struct store_vm vm = vm_make("aa", "web1"), other = vm_make("bb", "web2");
	struct store_snap a = snap_make("1111111111111111", "aa", "a", "", 1);
	struct store_snap b = snap_make("2222222222222222", "aa", "b", a.id, 2);
	struct store_snap c = snap_make("3333333333333333", "aa", "c", b.id, 3);
	struct store_snap *list = NULL;
	size_t n = 0;

	snprintf(other.origin, sizeof(other.origin), "aa");
	other.fork_pending = 1;
	assert_int_equal(store_vm_insert(f->s, &vm), 0);
	assert_int_equal(store_vm_insert(f->s, &other), 0);
	assert_int_equal(store_snap_insert(f->s, &a), 0);
	assert_current(f->s, "web1", a.id);
	assert_int_equal(store_snap_insert(f->s, &b), 0);
	assert_int_equal(store_snap_insert(f->s, &c), 0);
	assert_current(f->s, "web1", c.id);
	assert_current(f->s, "web2", "");

	/* A name is unique per VM; the failed insert changes nothing. */
	struct store_snap dup = snap_make("4444444444444444", "aa", "b", c.id, 4);
	assert_int_equal(store_snap_insert(f->s, &dup), -EEXIST);
	assert_current(f->s, "web1", c.id);

	/* Deleting the middle one: its child takes its parent. */
	assert_int_equal(store_snap_delete(f->s, &b), 0);
	assert_int_equal(store_snap_list(f->s, "aa", &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "a");
	assert_string_equal(list[1].name, "c");
	assert_string_equal(list[1].parent, a.id);
	assert_int_equal(list[1].memory, 1);
	assert_int_equal(list[1].memory_size, 1000);
	assert_string_equal(list[1].vm_state, "running");
	store_snap_list_free(list, n);
	assert_current(f->s, "web1", c.id);
	assert_int_equal(store_snap_delete(f->s, &b), -ENOENT);

	/* Deleting the current one: the VM descends from its parent. */
	snprintf(c.parent, sizeof(c.parent), "%s", a.id);
	assert_int_equal(store_snap_delete(f->s, &c), 0);
	assert_current(f->s, "web1", a.id);

	struct store_vm *got = NULL;
	assert_int_equal(store_vm_get(f->s, "web2", &got), 0);
	assert_string_equal(got->origin, "aa");
	assert_int_equal(got->fork_pending, 1);
	store_vm_free(got);

	/* A VM's snapshots go with it. */
	assert_int_equal(store_vm_delete(f->s, "aa"), 0);
	assert_int_equal(store_snap_list(f->s, "aa", &list, &n), 0);
	assert_int_equal(n, 0);
	store_snap_list_free(list, n);
	assert_int_equal(store_vm_delete(f->s, "aa"), -ENOENT);
}

static void test_migrates_version_1(void **state)
{
	struct fixture *f = *state;
	struct store_vm *got = NULL;
	sqlite3 *db;

	/* A database as the first release left it, with one VM. */
	store_close(f->s);
	f->s = NULL;
	unlink(f->path);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db,
			     "CREATE TABLE vms (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, "
			     "spec TEXT NOT NULL, state TEXT NOT NULL, pid INTEGER, pid_start "
			     "INTEGER, created_ms INTEGER, started_ms INTEGER, crash_log TEXT);"
			     "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, time_ms "
			     "INTEGER NOT NULL, vm TEXT NOT NULL, action TEXT NOT NULL, result TEXT "
			     "NOT NULL, uid INTEGER NOT NULL);"
			     "INSERT INTO vms VALUES ('aa', 'old', '{}', 'stopped', 0, 0, 1, 0, NULL);"
			     "PRAGMA user_version = 1;",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &f->s), 0);
	assert_int_equal(user_version(f->path), 5);
	assert_int_equal(store_vm_get(f->s, "old", &got), 0);
	assert_string_equal(got->current_snap, "");
	assert_string_equal(got->origin, "");
	assert_int_equal(got->fork_pending, 0);
	store_vm_free(got);
}

static void assert_mode_0600(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_file_mode_wal_cloexec(void **state)
{
	struct fixture *f = *state;
	struct store_vm vm = vm_make("aa", "web1");
	char p[128], target[256];
	struct dirent *de;
	unsigned seen = 0;
	DIR *d;

	assert_int_equal(store_vm_insert(f->s, &vm), 0);
	assert_mode_0600(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	assert_mode_0600(p); /* exists only in WAL mode, takes the file's mode */

	/* Every fd the store holds on its files is close-on-exec. */
	d = opendir("/proc/self/fd");
	assert_non_null(d);
	while ((de = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, f->dir, strlen(f->dir)) != 0)
			continue;
		int flags = fcntl(atoi(de->d_name), F_GETFD);
		if (!(flags & FD_CLOEXEC))
			fail_msg("fd %s on %s lacks FD_CLOEXEC", de->d_name, target);
		seen++;
	}
	closedir(d);
	assert_true(seen >= 2);

	/* A database left with a loose mode is tightened on open. */
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(chmod(f->path, 0644), 0);
	assert_int_equal(store_open(f->path, &f->s), 0);
	assert_mode_0600(f->path);
}

static void event_add(struct store *s, int64_t time_ms, const char *vm, const char *action)
{
	struct store_event ev = {.time_ms = time_ms, .uid = 1000};

	snprintf(ev.vm, sizeof(ev.vm), "%s", vm);
	snprintf(ev.action, sizeof(ev.action), "%s", action);
	snprintf(ev.result, sizeof(ev.result), "ok");
	assert_int_equal(store_event_append(s, &ev), 0);
	assert_true(ev.seq > 0);
}

static void assert_actions(struct store_event *evs, size_t n, const char *const *want,
			   size_t n_want)
{
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(evs[i].action, want[i]);
	free(evs);
}

static void test_events(void **state)
{
	struct fixture *f = *state;
	struct store_event *evs = NULL, ev = {.uid = -1, .action = "boot", .result = "ok"};
	size_t n;

	assert_int_equal(store_event_list(f->s, NULL, 0, 10, &evs, &n), 0);
	assert_int_equal(n, 0);
	free(evs);

	event_add(f->s, 100, "a", "a1");
	event_add(f->s, 200, "b", "b1");
	event_add(f->s, 300, "a", "a2");
	event_add(f->s, 400, "", "host");
	event_add(f->s, 500, "a", "a3");
	/* Wall clock stepped back: order is still the order of record. */
	event_add(f->s, 450, "b", "b2");

	static const char *const all[] = {"a1", "b1", "a2", "host", "a3", "b2"};
	assert_int_equal(store_event_list(f->s, NULL, 0, 0, &evs, &n), 0);
	assert_int_equal(evs[0].time_ms, 100);
	assert_string_equal(evs[0].vm, "a");
	assert_string_equal(evs[0].result, "ok");
	assert_int_equal(evs[0].uid, 1000);
	for (size_t i = 1; i < n; i++)
		assert_true(evs[i].seq > evs[i - 1].seq);
	assert_actions(evs, n, all, ARRAY_SIZE(all));

	static const char *const only_a[] = {"a1", "a2", "a3"};
	assert_int_equal(store_event_list(f->s, "a", 0, 100, &evs, &n), 0);
	assert_actions(evs, n, only_a, ARRAY_SIZE(only_a));

	static const char *const last_two[] = {"a3", "b2"};
	assert_int_equal(store_event_list(f->s, NULL, 0, 2, &evs, &n), 0);
	assert_actions(evs, n, last_two, ARRAY_SIZE(last_two));

	static const char *const a_last[] = {"a3"};
	assert_int_equal(store_event_list(f->s, "a", 0, 1, &evs, &n), 0);
	assert_actions(evs, n, a_last, ARRAY_SIZE(a_last));

	static const char *const since[] = {"host", "a3", "b2"};
	assert_int_equal(store_event_list(f->s, NULL, 400, 0, &evs, &n), 0);
	assert_actions(evs, n, since, ARRAY_SIZE(since));

	static const char *const host[] = {"host"};
	assert_int_equal(store_event_list(f->s, "", 0, 0, &evs, &n), 0);
	assert_actions(evs, n, host, ARRAY_SIZE(host));

	assert_int_equal(store_event_list(f->s, "nobody", 0, 0, &evs, &n), 0);
	assert_int_equal(n, 0);
	free(evs);

	/* Prune drops strictly older events and says how many. */
	assert_int_equal(store_event_prune(f->s, 300), 2);
	assert_int_equal(store_event_prune(f->s, 300), 0);
	static const char *const kept[] = {"a2", "host", "a3", "b2"};
	assert_int_equal(store_event_list(f->s, NULL, 0, 0, &evs, &n), 0);
	assert_actions(evs, n, kept, ARRAY_SIZE(kept));

	/* time_ms 0 means now. */
	int64_t before = (int64_t)now_realtime_ms();
	assert_int_equal(store_event_append(f->s, &ev), 0);
	assert_true(ev.time_ms >= before && ev.time_ms <= (int64_t)now_realtime_ms());
	assert_int_equal(store_event_list(f->s, NULL, before, 0, &evs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(evs[0].uid, -1);
	assert_int_equal(evs[0].seq, ev.seq);
	free(evs);
}

/* A list longer than the cache's first allocation, capped by the maximum. */
static void test_events_many(void **state)
{
	struct fixture *f = *state;
	struct store_event *evs;
	char action[16];
	size_t n;

	for (int i = 0; i < 300; i++) {
		snprintf(action, sizeof(action), "e%d", i);
		event_add(f->s, 1000 + i, i % 2 ? "odd" : "even", action);
	}
	assert_int_equal(store_event_list(f->s, "odd", 0, 0, &evs, &n), 0);
	assert_int_equal(n, 150);
	assert_string_equal(evs[0].action, "e1");
	assert_string_equal(evs[149].action, "e299");
	free(evs);
	assert_int_equal(store_event_list(f->s, NULL, 0, STORE_EVENT_LIST_MAX + 1, &evs, &n), 0);
	assert_int_equal(n, 300);
	free(evs);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	struct store *s = (struct store *)f;
	char p[128];

	snprintf(p, sizeof(p), "%s/missing/warren.db", f->dir);
	assert_int_equal(store_open(p, &s), -ENOENT);
	assert_int_equal(store_open(f->dir, &s), -EISDIR);

	/* Not a database at all. */
	snprintf(p, sizeof(p), "%s/junk.db", f->dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "this is not sqlite, not at all, no.\n", 36), 36);
	for (int i = 0; i < 200; i++)
		assert_int_equal(write(fd, "junkjunkjunkjunk", 16), 16);
	close(fd);
	assert_int_equal(store_open(p, &s), -EIO);
	assert_ptr_equal(s, f);
	unlink(p);
	store_close(NULL);
}

static void test_settings(void **state)
{
	struct fixture *f = *state;
	char *v = NULL;

	assert_int_equal(store_setting_get(f->s, "cluster", &v), -ENOENT);
	assert_int_equal(store_setting_delete(f->s, "cluster"), -ENOENT);
	assert_int_equal(store_setting_put(f->s, "cluster", "{\"name\":\"a\"}"), 0);
	assert_int_equal(store_setting_put(f->s, "cluster", "{\"name\":\"b\"}"), 0);
	assert_int_equal(store_setting_get(f->s, "cluster", &v), 0);
	assert_string_equal(v, "{\"name\":\"b\"}");
	free(v);
	assert_int_equal(store_setting_delete(f->s, "cluster"), 0);
	assert_int_equal(store_setting_get(f->s, "cluster", &v), -ENOENT);
}

static void test_migrations(void **state)
{
	struct fixture *f = *state;
	struct store_mig m = {.id = "0123456789abcdef0123456789abcdef", .vm_id = "v1",
			      .vm_name = "web1", .role = "source", .peer = "unix:/run/b.sock",
			      .phase = "preparing", .info_json = "{\"mode\":\"live\"}",
			      .created_ms = 5};
	struct store_mig *list = NULL;
	size_t n = 0;

	assert_int_equal(store_mig_put(f->s, &m), 0);
	/* The next phase replaces the row; it survives a reopen. */
	snprintf(m.phase, sizeof(m.phase), "transferring");
	assert_int_equal(store_mig_put(f->s, &m), 0);
	store_close(f->s);
	assert_int_equal(store_open(f->path, &f->s), 0);
	assert_int_equal(store_mig_list(f->s, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].phase, "transferring");
	assert_string_equal(list[0].peer, "unix:/run/b.sock");
	assert_string_equal(list[0].info_json, "{\"mode\":\"live\"}");
	assert_int_equal(list[0].created_ms, 5);
	store_mig_list_free(list, n);
	assert_int_equal(store_mig_delete(f->s, m.id), 0);
	assert_int_equal(store_mig_delete(f->s, m.id), -ENOENT);
	assert_int_equal(store_mig_list(f->s, &list, &n), 0);
	assert_int_equal(n, 0);
	store_mig_list_free(list, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vm_insert_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm_update_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm_list_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_mode_wal_cloexec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrates_version_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
