/*
 * hello_fcgi: the hello-world libfcgi responder bench_api.sh measures next
 * to livestatus-fcgi, as the yardstick ("a hello-world libfcgi
 * responder reaches about 0.40 of static nginx").
 *
 *   hello_fcgi SOCKET THREADS FILE
 *
 * Listens on the unix socket SOCKET (replacing a stale one), starts THREADS
 * threads that each loop FCGX_Accept_r / FCGX_PutStr / FCGX_Finish_r, the
 * way libfcgi's own threaded example does, and answers every request with
 * the bytes of FILE (read once at start) as application/json.  No routing,
 * no parsing, no store: what is left is libfcgi and the FastCGI hop, so the
 * payload can be the same bytes the real route and the static file send.
 * Stops on SIGTERM/SIGINT.
 *
 * Built by bench_api.sh: cc -O2 -o build/bench/hello_fcgi
 * tests/bench/hello_fcgi.c -lfcgi -lpthread
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int listen_fd;
static char *body;
static size_t body_len;
static char head[256];
static int head_len;

static void *
worker(void *arg)
{
	FCGX_Request r;

	(void)arg;
	if (FCGX_InitRequest(&r, listen_fd, 0) != 0)
		return NULL;
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutStr(head, head_len, r.out);
		FCGX_PutStr(body, (int)body_len, r.out);
		FCGX_Finish_r(&r);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	FILE *f;
	long n, i, threads;
	pthread_t *t;
	sigset_t set;
	int sig;

	if (argc != 4 || (threads = atol(argv[2])) < 1) {
		fprintf(stderr, "usage: hello_fcgi SOCKET THREADS FILE\n");
		return 2;
	}
	if ((f = fopen(argv[3], "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		perror(argv[3]);
		return 1;
	}
	body = malloc((size_t)n + 1);
	body_len = fread(body, 1, (size_t)n, f);
	fclose(f);
	head_len = snprintf(head, sizeof(head),
	    "Status: 200 OK\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n",
	    body_len);
	/* Stop signals go to sigwait below, not to libfcgi's handlers. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	unlink(argv[1]);
	if (FCGX_Init() != 0 || (listen_fd = FCGX_OpenSocket(argv[1], 1024)) < 0) {
		fprintf(stderr, "hello_fcgi: cannot listen on %s\n", argv[1]);
		return 1;
	}
	t = calloc((size_t)threads, sizeof(*t));
	for (i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	sigwait(&set, &sig);
	unlink(argv[1]);
	_exit(0);
}
