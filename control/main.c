/* main.c - start-up, the control thread's loop, and shutdown.
 *
 * Order: settings; the data directory (locked, so two servers never share
 * it); DPDK EAL (workers become pinned lcores; the main lcore is the control
 * thread); the catalog; then the workers. The control thread then serves
 * metadata calls, status transitions and snapshot reclamation until SIGINT or
 * SIGTERM, when the workers flush, sync and stop.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>

#include "control/catalog.h"
#include "dataplane/net/service.h"
#include "dataplane/runtime/metrics.h"
#include "dataplane/services/services.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/log.h"
#include "dataplane/runtime/worker.h"
#include "dataplane/services/kinesis/kinesis.h"

#define SL_EAL_ARGS_MAX 64
#define SL_CONTROL_TICK_MS 100

static struct sl_config config;

static int prepare_data_dir(const char *dir)
{
	char path[PATH_MAX];

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "sluice: cannot create data directory %s: %s\n", dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/LOCK", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "sluice: data directory %s is in use by another sluice (%s)\n", dir,
			strerror(errno));
		return -1;
	}
	/* The lock lives as long as the process. Logs of every service live
	 * under logs/; before, Kinesis shards lived under kinesis/ (the same
	 * layout below it), so an older data directory is renamed once. */
	char old[PATH_MAX + 16];
	snprintf(old, sizeof(old), "%s/kinesis", dir);
	snprintf(path, sizeof(path), "%s/" SL_LOGS_DIR, dir);
	if (access(path, F_OK) < 0 && access(old, F_OK) == 0) {
		if (rename(old, path) < 0) {
			fprintf(stderr, "sluice: cannot rename %s to %s: %s\n", old, path,
				strerror(errno));
			return -1;
		}
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) < 0) {
			fprintf(stderr, "sluice: cannot sync %s: %s\n", dir, strerror(errno));
			return -1;
		}
		close(dfd);
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "sluice: cannot create %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/* Log directories of objects the catalog no longer has: a delete that
 * crashed between its durable catalog batch and removing the files. */
static void remove_orphan_logs(const char *data_dir)
{
	char path[PATH_MAX], sub[PATH_MAX + 300];
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/" SL_LOGS_DIR, data_dir);
	DIR *d = opendir(path);
	if (!d)
		return;
	const struct sl_catalog *c = sl_catalog_get();
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long uid = strtoull(de->d_name, &end, 16);
		if (de->d_name[0] == '.' || *end || sl_catalog_lookup_uid(c, uid))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		sl_warn("removing the logs of deleted object %s", de->d_name);
		if (nftw(sub, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
			sl_warn("could not remove %s: %s", sub, strerror(errno));
	}
	closedir(d);
}

/* The CPUs this process may run on (its affinity mask, as taskset or a
 * cgroup set it), in order. Returns how many, at least 1. */
static unsigned allowed_cpus(unsigned *cpus, unsigned cap)
{
	cpu_set_t set;
	unsigned n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0) {
		cpus[0] = 0;
		return 1;
	}
	for (unsigned c = 0; c < CPU_SETSIZE && n < cap; c++) {
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	}
	if (n == 0)
		cpus[n++] = 0;
	return n;
}

static bool hugepages_free(void)
{
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	long n = 0;

	if (!f)
		return false;
	if (fscanf(f, "%ld", &n) != 1)
		n = 0;
	fclose(f);
	return n >= SL_HUGEPAGES_MIN_FREE;
}

/* Build the EAL command line: no PCI probing; workers pinned round-robin to
 * the CPUs we may use, the control lcore free to float over all of them. */
static int eal_init(const struct sl_config *cfg, const char *argv0)
{
	static char lcores[1024], eal_copy[sizeof(cfg->eal_args)];
	char *args[SL_EAL_ARGS_MAX];
	int n = 0;
	unsigned cpus[SL_WORKERS_MAX];
	unsigned ncpu = allowed_cpus(cpus, SL_WORKERS_MAX);
	/* The control lcore floats over every allowed CPU; worker i is pinned
	 * to the i-th allowed CPU (round robin when there are more workers),
	 * never to a CPU the mask excludes. */
	int off = snprintf(lcores, sizeof(lcores), "0@(");
	for (unsigned i = 0; i < ncpu && off < (int)sizeof(lcores) - 16; i++)
		off += snprintf(lcores + off, sizeof(lcores) - (size_t)off, "%s%u", i ? "," : "", cpus[i]);
	off += snprintf(lcores + off, sizeof(lcores) - (size_t)off, ")");
	for (unsigned i = 1; i <= cfg->workers && off < (int)sizeof(lcores) - 16; i++)
		off += snprintf(lcores + off, sizeof(lcores) - (size_t)off, ",%u@%u", i,
				cpus[(i - 1) % ncpu]);
	args[n++] = (char *)argv0;
	args[n++] = "--no-pci";
	args[n++] = "--no-telemetry";
	args[n++] = "--lcores";
	args[n++] = lcores;
	args[n++] = "--log-level=lib.eal:error";
	if (hugepages_free()) {
		args[n++] = "--in-memory";
	} else {
		/* No shared config: nothing is left in /var/run/dpdk, even after a
		 * kill -9, and servers side by side cannot collide. */
		args[n++] = "--no-huge";
		args[n++] = "-m";
		args[n++] = SL_EAL_NO_HUGE_MB;
		args[n++] = "--no-shconf";
	}
	snprintf(eal_copy, sizeof(eal_copy), "%s", cfg->eal_args);
	for (char *tok = strtok(eal_copy, " "); tok && n < SL_EAL_ARGS_MAX - 1; tok = strtok(NULL, " "))
		args[n++] = tok;
	args[n] = NULL;
	if (rte_eal_init(n, args) < 0) {
		fprintf(stderr, "sluice: DPDK EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* After each control request: keep its catalog changes, or undo them when
 * it answered with an error. */
static void catalog_guard_end(bool failed)
{
	if (failed)
		sl_catalog_rollback();
	else
		sl_catalog_release();
}

static void control_loop(int sigfd)
{
	int64_t next_tick = sl_now_ms();

	for (;;) {
		struct pollfd pfd[2] = { { sl_control_eventfd(), POLLIN, 0 }, { sigfd, POLLIN, 0 } };
		if (sl_control_prepare_sleep()) {
			poll(pfd, 2, SL_CONTROL_TICK_MS);
			sl_control_woke();
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			ssize_t rc = read(sigfd, &si, sizeof(si));
			(void)rc;
			sl_info("signal %u: stopping", si.ssi_signo);
			return;
		}
		sl_control_poll();
		if (sl_now_ms() >= next_tick) {
			sl_router_control_tick();
			sl_control_commit();
			next_tick = sl_now_ms() + SL_CONTROL_TICK_MS;
		}
		sl_catalog_run_durable();
		sl_catalog_reclaim();
	}
}

int main(int argc, char **argv)
{
	sigset_t sigs;
	struct rlimit rl;

	int rc = sl_config_load(&config, argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	sl_cfg = &config;
	sl_log_thread_name("control");
	if (prepare_data_dir(config.data_dir) < 0)
		return 1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Every thread EAL starts inherits this mask: signals reach only the
	 * control thread's signalfd. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (eal_init(&config, argv[0]) < 0)
		return 1;
	rc = sl_catalog_init(config.data_dir);
	if (rc < 0) {
		fprintf(stderr, "sluice: cannot load the catalog: %s\n", strerror(-rc));
		return 1;
	}
	remove_orphan_logs(config.data_dir);
	sl_control_set_commit(sl_catalog_flush);
	sl_control_set_guard(sl_catalog_savepoint, catalog_guard_end);
	rc = sl_router_init(sl_services, sl_nservices);
	if (rc == 0)
		rc = sl_metrics_init();
	if (rc == 0)
		rc = sl_router_install_services();
	if (rc < 0) {
		fprintf(stderr, "sluice: cannot start the services: %s\n", strerror(-rc));
		return 1;
	}
	rc = sl_workers_recover(&config);
	if (rc < 0) {
		fprintf(stderr, "sluice: cannot recover from the journals: %s\n", strerror(-rc));
		return 1;
	}
	rc = sl_kin_udp_setup(&config, config.ingest_port_given);
	if (rc < 0) {
		fprintf(stderr, "sluice: cannot serve UDP ingest on %s:%u: %s (--ingest-port 0 "
			"turns it off)\n", config.listen_host, config.ingest_port, strerror(-rc));
		return 1;
	}
	rc = sl_workers_start(&config);
	if (rc < 0) {
		fprintf(stderr, "sluice: cannot start workers on %s:%u: %s\n", config.listen_host,
			config.listen_port, strerror(-rc));
		return 1;
	}
	char udp[16] = "off";
	if (config.ingest_port)
		snprintf(udp, sizeof(udp), "%u", config.ingest_port);
	printf("sluice: listening on http://%s:%u (workers=%u, data=%s, durability=%s, "
	       "udp=%s)\n", config.listen_host, config.listen_port, sl_worker_count(),
	       config.data_dir, config.durability == SL_DUR_SYNC ? "sync" :
	       config.durability == SL_DUR_BATCH ? "batch" : "memory", udp);
	fflush(stdout);
	control_loop(sigfd);
	sl_workers_stop();
	sl_router_stop_services();
	sl_catalog_fini();
	rte_eal_cleanup();
	sl_info("stopped cleanly");
	return 0;
}
