/*
 * api_record: a whole FastCGI response written at once.
 *
 * libfcgi's output stream cuts a response into 8 KiB records and writes
 * each with its own write(); for a 25 KiB list that is four system calls
 * and four wake-ups of nginx per request.  api_record_respond() writes the
 * same protocol (FastCGI 1.0, the responder role) in one writev(): the
 * STDOUT records holding head and body (at most 65535 content bytes each,
 * padded to a multiple of 8 like libfcgi does), the empty STDOUT record
 * that ends the stream, and FCGI_END_REQUEST with application status 0.
 * Large bodies take more than one writev() (at most API_RECORD_IOV
 * vectors each); short writes are continued.
 *
 * After it, nothing more may be written for that request: the caller
 * tells libfcgi so (api_server.c marks the FCGX output stream closed).
 * Returns 0, or -1 with errno set (the peer went away, usually).
 */
#ifndef LS_API_RECORD_H
#define LS_API_RECORD_H

#include <stddef.h>

#define API_RECORD_IOV 64

int api_record_respond(
    int fd, int request_id, const char *head, size_t headlen, const char *body, size_t bodylen);

#endif
