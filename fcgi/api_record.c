/* api_record: FastCGI STDOUT and END_REQUEST records with writev(). */
#include "fcgi/api_record.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define FCGI_VERSION_1 1
#define FCGI_END_REQUEST 3
#define FCGI_STDOUT 6
#define FCGI_REQUEST_COMPLETE 0
#define FCGI_MAX_CONTENT 65535

/* Vectors pending for one writev(), and the record headers they point at. */
struct api_rw {
	int fd;
	int request_id;
	struct iovec iov[API_RECORD_IOV];
	int niov;
	unsigned char hdrs[API_RECORD_IOV][8];
	int nhdr;
};

static const unsigned char api_record_pad[8];

static int
api_rw_flush(struct api_rw *w)
{
	struct iovec *iov = w->iov;
	int n = w->niov;
	ssize_t done;

	while (n > 0) {
		done = writev(w->fd, iov, n);
		if (done < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)done >= iov->iov_len) {
			done -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + done;
			iov->iov_len -= (size_t)done;
		}
	}
	w->niov = 0;
	w->nhdr = 0;
	return 0;
}

static int
api_rw_add(struct api_rw *w, const void *p, size_t len)
{
	if (len == 0)
		return 0;
	if (w->niov == API_RECORD_IOV && api_rw_flush(w) < 0)
		return -1;
	w->iov[w->niov].iov_base = (void *)p;
	w->iov[w->niov].iov_len = len;
	w->niov++;
	return 0;
}

/* One record: header, content, padding (3 vectors and a header slot). */
static int
api_rw_record(struct api_rw *w, int type, const void *content, size_t len)
{
	unsigned char *h;
	size_t pad = (8 - len % 8) % 8;

	if ((w->niov + 3 > API_RECORD_IOV || w->nhdr == API_RECORD_IOV) && api_rw_flush(w) < 0)
		return -1;
	h = w->hdrs[w->nhdr++];
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(w->request_id >> 8);
	h[3] = (unsigned char)w->request_id;
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = (unsigned char)pad;
	h[7] = 0;
	if (api_rw_add(w, h, 8) < 0 || api_rw_add(w, content, len) < 0 ||
	    api_rw_add(w, api_record_pad, pad) < 0)
		return -1;
	return 0;
}

static int
api_rw_stream(struct api_rw *w, const char *p, size_t len)
{
	size_t n;

	while (len > 0) {
		n = len > FCGI_MAX_CONTENT ? FCGI_MAX_CONTENT : len;
		if (api_rw_record(w, FCGI_STDOUT, p, n) < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int
api_record_respond(
    int fd, int request_id, const char *head, size_t headlen, const char *body, size_t bodylen)
{
	static const unsigned char end_body[8] = { 0, 0, 0, 0, FCGI_REQUEST_COMPLETE, 0, 0, 0 };
	struct api_rw w;

	memset(&w, 0, sizeof(w));
	w.fd = fd;
	w.request_id = request_id;
	if (api_rw_stream(&w, head, headlen) < 0 || api_rw_stream(&w, body, bodylen) < 0 ||
	    api_rw_record(&w, FCGI_STDOUT, NULL, 0) < 0 ||
	    api_rw_record(&w, FCGI_END_REQUEST, end_body, sizeof(end_body)) < 0)
		return -1;
	return api_rw_flush(&w);
}
