/*
 * http: requests to warrend over its Unix socket with libcurl, and the
 * mapping of every outcome (cannot connect, transport failure, the
 * daemon's JSON error, a good answer) to one struct werr or a JSON value.
 *
 * The host part of the URL is a placeholder: libcurl connects to the
 * socket path, and warrend routes on the path alone.
 */
#include <string.h>

#include "cli/cli.h"

/* Bound on a collected answer; the largest expected is a console log,
 * which the daemon caps well below this. */
#define API_BODY_MAX (64u << 20)

int cli_buf_append(struct cli_buf *b, const char *data, size_t len, size_t max)
{
	if (len > max - b->len)
		return -EFBIG;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *n;

		while (cap < b->len + len + 1)
			cap *= 2;
		n = realloc(b->data, cap);
		if (!n)
			return -ENOMEM;
		b->data = n;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static size_t write_cb(char *data, size_t size, size_t n, void *userdata)
{
	struct api_xfer *x = userdata;
	size_t len = size * n;
	int r;

	if (x->on_data && x->status >= 200 && x->status < 300)
		r = x->on_data(x->userdata, data, len);
	else
		r = cli_buf_append(&x->body, data, len, API_BODY_MAX);
	if (r < 0) {
		x->write_error = r;
		return 0; /* a short count makes libcurl abort */
	}
	return len;
}

static size_t header_cb(char *data, size_t size, size_t n, void *userdata)
{
	struct api_xfer *x = userdata;
	size_t len = size * n;
	long status = 0;

	/* The empty line ends a block of headers. An informational (1xx) block
	 * is followed by the real one, so only a final status counts. */
	if (len <= 2 && (data[0] == '\r' || data[0] == '\n') &&
	    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	    status >= 200) {
		x->status = status;
		if (x->on_headers)
			x->on_headers(x->userdata, status);
	}
	return len;
}

int api_xfer_init(struct api_xfer *x, const struct cli *c, const char *method, const char *path)
{
	_cleanup_free_ char *url = NULL;
	CURL *e;

	*x = (struct api_xfer){.socket = c->socket};
	if (asprintf(&url, "http://warren%s", path) < 0)
		return -ENOMEM;
	e = x->easy = curl_easy_init();
	if (!e)
		return -ENOMEM;
	/* libcurl asks for "100 continue" before larger bodies and waits a
	 * second for it; warrend reads bodies at once, so skip the wait. */
	x->headers = curl_slist_append(NULL, "Expect:");
	if (!x->headers)
		return -ENOMEM;
	if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, c->socket) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, "warren/" WARREN_VERSION) != CURLE_OK)
		return -ENOMEM;
	/* No signals from libcurl: the console has its own handlers. */
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	if (strcmp(method, "POST") == 0) {
		/* An empty body unless one is set, so that libcurl never reads
		 * a body from stdin. */
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
	} else if (strcmp(method, "GET") != 0) {
		if (curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK)
			return -ENOMEM;
	}
	return 0;
}

int api_xfer_set_body(struct api_xfer *x, const char *content_type, const void *data, size_t len)
{
	_cleanup_free_ char *h = NULL;
	struct curl_slist *n;

	if (asprintf(&h, "Content-Type: %s", content_type) < 0)
		return -ENOMEM;
	n = curl_slist_append(x->headers, h);
	if (!n)
		return -ENOMEM;
	x->headers = n;
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	/* The size first: COPYPOSTFIELDS copies that many bytes, NULs included. */
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	if (curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, data) != CURLE_OK)
		return -ENOMEM;
	return 0;
}

static int transport_error(struct api_xfer *x, CURLcode res, struct werr *err)
{
	long os_errno = 0;

	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
	if (res == CURLE_COULDNT_CONNECT)
		return werr_set(err, -ECONNREFUSED, "connect", "",
				"cannot connect to warrend at %s: %s (is warrend running?)",
				x->socket,
				os_errno ? strerror((int)os_errno) : curl_easy_strerror(res));
	if (res == CURLE_WRITE_ERROR && x->write_error == -EFBIG)
		return werr_set(err, -EFBIG, "too_large", "",
				"the answer of warrend is larger than expected");
	if (res == CURLE_WRITE_ERROR && x->write_error < 0)
		return werr_set(err, x->write_error, "internal", "",
				"cannot take warrend's answer: %s", strerror(-x->write_error));
	return werr_set(err, -EIO, "transport", "", "request to warrend at %s failed: %s",
			x->socket, curl_easy_strerror(res));
}

/* The daemon's {"error": {...}}, or the start of whatever else came back
 * (a proxy or an older daemon might answer in plain text). */
static int http_error(struct api_xfer *x, json_t *body, struct werr *err)
{
	json_t *e = json_object_get(body, "error");
	const char *message = json_string_value(json_object_get(e, "message"));
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *field = json_string_value(json_object_get(e, "field"));

	if (message)
		return werr_set(err, -EREMOTEIO, code ? code : "internal", field, "%s", message);
	return werr_set(err, -EREMOTEIO, "internal", "", "warrend answered HTTP %ld%s%.200s",
			x->status, x->body.len ? ": " : "", x->body.data ? x->body.data : "");
}

int api_xfer_finish(struct api_xfer *x, CURLcode res, json_t **ret_json, struct werr *err)
{
	_cleanup_json_ json_t *body = NULL;
	json_error_t jerr;

	if (res != CURLE_OK)
		return transport_error(x, res, err);
	if (x->body.len > 0)
		body = json_loadb(x->body.data, x->body.len, 0, &jerr);
	if (x->status < 200 || x->status >= 300)
		return http_error(x, body, err);
	if (x->body.len > 0 && !body)
		return werr_set(err, -EBADMSG, "internal", "",
				"warrend sent an answer that is not JSON: %s", jerr.text);
	if (ret_json)
		*ret_json = TAKE_PTR(body);
	return 0;
}

void api_xfer_clear(struct api_xfer *x)
{
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->body.data);
	*x = (struct api_xfer){0};
}

/* A request with an optional JSON body, ready to perform. */
static int xfer_prepare(struct api_xfer *x, const struct cli *c, const char *method,
			const char *path, json_t *body, struct werr *err)
{
	_cleanup_free_ char *data = NULL;
	int r;

	r = api_xfer_init(x, c, method, path);
	if (r >= 0 && body) {
		data = json_dumps(body, JSON_COMPACT);
		r = data ? api_xfer_set_body(x, "application/json", data, strlen(data)) : -ENOMEM;
	}
	if (r < 0) {
		api_xfer_clear(x);
		return werr_set(err, r, "internal", "", "cannot prepare a request: %s",
				strerror(-r));
	}
	return 0;
}

int api_call(const struct cli *c, const char *method, const char *path, json_t *body,
	     long *ret_status, json_t **ret_json, struct werr *err)
{
	struct api_xfer x;
	int r;

	r = xfer_prepare(&x, c, method, path, body, err);
	if (r < 0)
		return r;
	r = api_xfer_finish(&x, curl_easy_perform(x.easy), ret_json, err);
	if (r >= 0 && ret_status)
		*ret_status = x.status;
	api_xfer_clear(&x);
	return r;
}

int api_stream(const struct cli *c, const char *path,
	       int (*on_data)(void *userdata, const char *data, size_t len), void *userdata,
	       struct werr *err)
{
	struct api_xfer x;
	int r;

	r = xfer_prepare(&x, c, "GET", path, NULL, err);
	if (r < 0)
		return r;
	x.on_data = on_data;
	x.userdata = userdata;
	r = api_xfer_finish(&x, curl_easy_perform(x.easy), NULL, err);
	api_xfer_clear(&x);
	return r;
}

char *api_escape(const char *s)
{
	/* curl_easy_escape takes a NULL handle since 7.82. */
	return curl_easy_escape(NULL, s, 0);
}

char *api_path(const char *prefix, const char *name, const char *suffix)
{
	_cleanup_curl_free_ char *esc = api_escape(name);
	char *path;

	if (!esc || asprintf(&path, "%s%s%s", prefix, esc, suffix) < 0)
		return NULL;
	return path;
}

char *api_vm_path(const char *name, const char *suffix)
{
	return api_path("/v1/vms/", name, suffix);
}
