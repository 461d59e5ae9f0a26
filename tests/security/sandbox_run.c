/*
 * sandbox_run: runs a program under a system call allow list, the way
 * systemd's SystemCallFilter= does, for tests/security/test_units.py.
 *
 *   sandbox_run ALLOWED_FILE PROGRAM [ARG ...]
 *
 * ALLOWED_FILE names one system call per line (names this architecture does
 * not know are ignored); every other call fails with EPERM
 * (SystemCallErrorNumber=EPERM).  no_new_privs is set, as
 * NoNewPrivileges=yes does.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char line[128];
	scmp_filter_ctx ctx;
	FILE *f;
	int nr, n = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: sandbox_run ALLOWED_FILE PROGRAM [ARG ...]\n");
		return 2;
	}
	if ((f = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return 2;
	}
	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL) {
		fprintf(stderr, "sandbox_run: seccomp_init failed\n");
		return 2;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || (nr = seccomp_syscall_resolve_name(line)) == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) == 0)
			n++;
	}
	fclose(f);
	if (n == 0 || seccomp_load(ctx) != 0) {
		fprintf(stderr, "sandbox_run: cannot load the filter (%d calls)\n", n);
		return 2;
	}
	seccomp_release(ctx);
	execv(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}
